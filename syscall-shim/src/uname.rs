//! uname(2), sethostname(2): https://man7.org/linux/man-pages/man2/uname.2.html

use crate::table::{row, Row};
use crate::{Args, Errno, KResult};
use uk_abi::sysno::{SYS_SETHOSTNAME, SYS_UNAME};
use uk_posix::{ident, user};

pub fn sys_uname(a: &Args) -> KResult<usize> {
    let u = ident::uname();
    let dst = user::slice_mut(a[0], 6 * 65)?;
    for (i, f) in u.iter().enumerate() {
        dst[i * 65..(i + 1) * 65].copy_from_slice(f);
    }
    Ok(0)
}

pub fn sys_sethostname(a: &Args) -> KResult<usize> {
    if a[1] > 64 {
        return Err(Errno::EINVAL);
    }
    ident::set_nodename(user::slice(a[0], a[1])?).map(|_| 0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_UNAME, sys_uname),
    row(SYS_SETHOSTNAME, sys_sethostname),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;

    #[test]
    fn uname_fields() {
        crate::table::tests::setup();
        let v: &'static mut [u8] = Box::leak(vec![0u8; 390].into_boxed_slice());
        let a = v.as_ptr() as usize;
        uk_posix::user::add_static_range(a, a + 390, true);
        assert_eq!(dispatch(63, &[a, 0, 0, 0, 0, 0]), 0);
        let s = uk_posix::user::slice(a, 390).unwrap();
        assert_eq!(&s[..6], b"Linux\0");
        assert_eq!(&s[4 * 65..4 * 65 + 7], b"x86_64\0");
        assert_eq!(dispatch(63, &[a + 1, 0, 0, 0, 0, 0]), -14);
    }
}
