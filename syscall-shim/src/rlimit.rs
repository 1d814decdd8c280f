//! prlimit64(2), getrlimit(2), setrlimit(2): https://man7.org/linux/man-pages/man2/getrlimit.2.html

use crate::table::{row, Row};
use crate::{Args, KResult};
use uk_abi::resource::Rlimit;
use uk_abi::sysno::{SYS_GETRLIMIT, SYS_PRLIMIT64, SYS_SETRLIMIT};
use uk_posix::user;
use uk_posix::user::UserPtr;

pub fn sys_prlimit64(a: &Args) -> KResult<usize> {
    let new = if a[2] != 0 {
        let r: Rlimit = user::read(a[2])?;
        Some((r.rlim_cur, r.rlim_max))
    } else {
        None
    };
    let out = UserPtr::<Rlimit>::nonnull(a[3]);
    if let Some(o) = out {
        o.check_writable()?;
    }
    let old = uk_posix::process::current().prlimit(a[0] as i32, a[1] as u32, new)?;
    if let Some(o) = out {
        o.write(&rlimit(old))?;
    }
    Ok(0)
}

pub fn sys_getrlimit(a: &Args) -> KResult<usize> {
    let old = uk_posix::process::current().prlimit(0, a[0] as u32, None)?;
    user::write(a[1], &rlimit(old))?;
    Ok(0)
}

pub fn sys_setrlimit(a: &Args) -> KResult<usize> {
    let r: Rlimit = user::read(a[1])?;
    uk_posix::process::current()
        .prlimit(0, a[0] as u32, Some((r.rlim_cur, r.rlim_max)))
        .map(|_| 0)
}

fn rlimit((cur, max): (u64, u64)) -> Rlimit {
    Rlimit {
        rlim_cur: cur,
        rlim_max: max,
    }
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_GETRLIMIT, sys_getrlimit),
    row(SYS_SETRLIMIT, sys_setrlimit),
    row(SYS_PRLIMIT64, sys_prlimit64),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::{SYS_GETRLIMIT, SYS_PRLIMIT64};
    use uk_abi::Errno;

    #[test]
    fn nofile() {
        crate::table::tests::setup();
        let v: &'static mut [u8] = Box::leak(vec![0u8; 16].into_boxed_slice());
        let a = v.as_ptr() as usize;
        uk_posix::user::add_static_range(a, a + 16, true);
        assert_eq!(dispatch(SYS_PRLIMIT64, &[0, 7, 0, a, 0, 0]), 0);
        let r: [u64; 2] = uk_posix::user::read(a).unwrap();
        assert!(r[0] >= 16 && r[0] <= r[1]);
        assert_eq!(
            dispatch(SYS_GETRLIMIT, &[3, a, 0, 0, 0, 0]),
            0,
            "RLIMIT_STACK"
        );
        assert_eq!(
            dispatch(SYS_GETRLIMIT, &[100, a, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        assert_eq!(
            dispatch(SYS_PRLIMIT64, &[55, 7, 0, a, 0, 0]),
            Errno::ESRCH.as_neg(),
            "ESRCH"
        );
        assert_eq!(
            dispatch(SYS_PRLIMIT64, &[0, 7, 0, 0x30, 0, 0]),
            Errno::EFAULT.as_neg()
        );
    }
}
