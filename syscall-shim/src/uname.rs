//! uname(2), sethostname(2): https://man7.org/linux/man-pages/man2/uname.2.html

use crate::table::{row, Row};
use crate::{Args, Errno, KResult};
use uk_abi::sysno::{SYS_SETHOSTNAME, SYS_UNAME};
use uk_posix::{ident, user};

pub fn sys_uname(a: &Args) -> KResult<usize> {
    user::write(a[0], &ident::uname())?;
    Ok(0)
}

pub fn sys_sethostname(a: &Args) -> KResult<usize> {
    if a[1] > 64 {
        return Err(Errno::EINVAL);
    }
    let name = user::UserSlice::new(a[0], a[1]).to_vec()?;
    ident::set_nodename(&name).map(|_| 0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_UNAME, sys_uname),
    row(SYS_SETHOSTNAME, sys_sethostname),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::SYS_UNAME;
    use uk_abi::Errno;

    #[test]
    fn uname_fields() {
        crate::table::tests::setup();
        let v: &'static mut [u8] = Box::leak(vec![0u8; 390].into_boxed_slice());
        let a = v.as_ptr() as usize;
        uk_posix::user::add_static_range(a, a + 390, true);
        assert_eq!(dispatch(SYS_UNAME, &[a, 0, 0, 0, 0, 0]), 0);
        let s = uk_posix::user::UserSlice::new(a, 390).to_vec().unwrap();
        assert_eq!(&s[..6], b"Linux\0");
        assert_eq!(&s[4 * 65..4 * 65 + 7], b"x86_64\0");
        assert_eq!(
            dispatch(SYS_UNAME, &[a + 1, 0, 0, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
    }
}
