//! alarm(2), getitimer(2), setitimer(2): https://man7.org/linux/man-pages/man2/setitimer.2.html

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, KResult};
use uk_abi::sysno::{SYS_ALARM, SYS_GETITIMER, SYS_SETITIMER};
use uk_abi::time::{Itimerval, Timeval};
use uk_posix::process::current;
use uk_posix::time;
use uk_posix::user::UserPtr;
use uk_posix::{itimer, user};

/// Nanoseconds as a `struct timeval`, rounded up to whole microseconds so that an
/// armed timer never reads as zero.
fn ns_timeval(ns: u64) -> Timeval {
    let us = ns.div_ceil(1000);
    Timeval {
        tv_sec: (us / 1_000_000) as i64,
        tv_usec: (us % 1_000_000) as i64,
    }
}

fn itimerval(s: itimer::Setting) -> Itimerval {
    Itimerval {
        it_interval: ns_timeval(s.0),
        it_value: ns_timeval(s.1),
    }
}

pub fn sys_getitimer(a: &Args) -> KResult<usize> {
    let s = current().itimers.getitimer(a[0] as i32 as u32 as usize)?;
    user::write(a[1], &itimerval(s))?;
    Ok(0)
}

pub fn sys_setitimer(a: &Args) -> KResult<usize> {
    let which = a[0] as i32 as u32 as usize;
    // Linux treats a NULL new value as "disarm" (with a warning); do the same.
    let new = if a[1] != 0 {
        let v: Itimerval = user::read(a[1])?;
        (
            time::timeval_to_ns(&v.it_interval)?,
            time::timeval_to_ns(&v.it_value)?,
        )
    } else {
        (0, 0)
    };
    if let Some(old) = UserPtr::<Itimerval>::nonnull(a[2]) {
        old.check_writable()?;
    }
    let old = current().itimers.setitimer(which, new)?;
    if a[2] != 0 {
        user::write(a[2], &itimerval(old))?;
    }
    Ok(0)
}

pub fn sys_alarm(a: &Args) -> KResult<usize> {
    Ok(current().itimers.alarm(a[0] as u32) as usize)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_GETITIMER, sys_getitimer),
    row(SYS_ALARM, sys_alarm).shows(&[Arg::Int]),
    row(SYS_SETITIMER, sys_setitimer),
];

#[cfg(test)]
mod tests {
    use super::*;
    use uk_abi::sysno::SYS_MMAP;
    use uk_abi::Errno;

    #[test]
    fn timeval_conversions() {
        let tv = |tv_sec, tv_usec| Timeval { tv_sec, tv_usec };
        assert_eq!(time::timeval_to_ns(&tv(1, 500_000)), Ok(1_500_000_000));
        assert_eq!(time::timeval_to_ns(&tv(0, 1_000_000)), Err(Errno::EINVAL));
        assert_eq!(time::timeval_to_ns(&tv(-1, 0)), Err(Errno::EINVAL));
        assert_eq!(ns_timeval(1), tv(0, 1));
        assert_eq!(ns_timeval(2_000_001_000), tv(2, 1));
    }

    #[test]
    fn raw_calls_roundtrip() {
        crate::table::tests::setup();
        let _g = uk_posix::testplat::serial();
        let a = crate::dispatch(SYS_MMAP, &[0, 4096, 3, 0x22, usize::MAX, 0]) as usize;
        // SAFETY: a fresh private anonymous page of 4096 bytes, used only here.
        let buf = unsafe { &mut *(a as *mut [i64; 8]) };
        buf[..4].copy_from_slice(&[0, 250_000, 3, 0]);
        assert_eq!(sys_setitimer(&[2, a, a + 32, 0, 0, 0]), Ok(0));
        assert_eq!(&buf[4..], &[0, 0, 0, 0]);
        assert_eq!(sys_getitimer(&[2, a + 32, 0, 0, 0, 0]), Ok(0));
        assert_eq!(buf[4..6], [0, 250_000]);
        assert!(
            buf[6] == 2 || buf[6] == 3,
            "about 3 s left: {:?}",
            &buf[4..]
        );
        assert_eq!(sys_setitimer(&[2, 0, 0, 0, 0, 0]), Ok(0));
        assert_eq!(sys_getitimer(&[9, a, 0, 0, 0, 0]), Err(Errno::EINVAL));
        buf[1] = 1_000_000;
        assert_eq!(sys_setitimer(&[0, a, 0, 0, 0, 0]), Err(Errno::EINVAL));
        assert_eq!(sys_getitimer(&[0, 8, 0, 0, 0, 0]), Err(Errno::EFAULT));
    }
}
