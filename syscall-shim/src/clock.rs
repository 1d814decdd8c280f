//! clock_gettime(2), clock_getres(2), clock_settime(2), gettimeofday(2), time(2):
//! https://man7.org/linux/man-pages/man2/clock_gettime.2.html

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::sysno::{
    SYS_CLOCK_GETRES, SYS_CLOCK_GETTIME, SYS_CLOCK_SETTIME, SYS_GETTIMEOFDAY, SYS_TIME,
};
use uk_abi::time::{Timespec, Timeval, Timezone};
use uk_posix::process::own_clock;
use uk_posix::{time, user};

fn put_timespec(addr: usize, ns: i64) -> KResult<()> {
    user::write(addr, &Timespec::from_ns(ns))
}

pub fn sys_clock_gettime(a: &Args) -> KResult<usize> {
    let ns = time::clock_ns(own_clock(a[0] as i32))?;
    put_timespec(a[1], ns)?;
    Ok(0)
}

pub fn sys_clock_getres(a: &Args) -> KResult<usize> {
    let ns = time::clock_res_ns(own_clock(a[0] as i32))?;
    if a[1] != 0 {
        put_timespec(a[1], ns)?;
    }
    Ok(0)
}

/// clock_settime: the arguments are checked in Linux's order (a clock that cannot be
/// set: EINVAL; the timespec: EFAULT, then EINVAL), then the change is refused with
/// EPERM, as for a process without CAP_SYS_TIME: the image's wall clock is the
/// platform's (the host's, or the VM's), not the program's to move.
pub fn sys_clock_settime(a: &Args) -> KResult<usize> {
    let clock = own_clock(a[0] as i32);
    time::clock_settable(clock)?;
    time::clock_settime(clock, &user::read(a[1])?)?;
    Ok(0)
}

pub fn sys_gettimeofday(a: &Args) -> KResult<usize> {
    let ns = time::clock_ns(uk_abi::time::CLOCK_REALTIME)?;
    if a[0] != 0 {
        user::write(a[0], &Timeval::from_ns(ns))?;
    }
    if a[1] != 0 {
        // Always UTC, no DST.
        user::write(a[1], &Timezone::default())?;
    }
    Ok(0)
}

pub fn sys_time(a: &Args) -> KResult<usize> {
    let s = Timespec::from_ns(time::clock_ns(uk_abi::time::CLOCK_REALTIME)?).tv_sec;
    if a[0] != 0 {
        user::write(a[0], &s).map_err(|_| Errno::EFAULT)?;
    }
    Ok(s as usize)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_GETTIMEOFDAY, sys_gettimeofday),
    row(SYS_TIME, sys_time),
    row(SYS_CLOCK_GETTIME, sys_clock_gettime).shows(&[Arg::Clock, Arg::Hex]),
    row(SYS_CLOCK_GETRES, sys_clock_getres).shows(&[Arg::Clock, Arg::Hex]),
    row(SYS_CLOCK_SETTIME, sys_clock_settime).shows(&[Arg::Clock, Arg::Hex]),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::{
        SYS_CLOCK_GETRES, SYS_CLOCK_GETTIME, SYS_CLOCK_SETTIME, SYS_GETTIMEOFDAY, SYS_TIME,
    };
    use uk_abi::Errno;

    #[test]
    fn clocks() {
        crate::table::tests::setup();
        let v: &'static mut [u8] = Box::leak(vec![0u8; 32].into_boxed_slice());
        let a = v.as_ptr() as usize;
        uk_posix::user::add_static_range(a, a + 32, true);
        assert_eq!(dispatch(SYS_CLOCK_GETTIME, &[1, a, 0, 0, 0, 0]), 0);
        let ts: [i64; 2] = uk_posix::user::read(a).unwrap();
        assert!(ts[0] > 0 && (0..1_000_000_000).contains(&ts[1]));
        assert_eq!(
            dispatch(SYS_CLOCK_GETTIME, &[77, a, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        assert_eq!(
            dispatch(SYS_CLOCK_GETTIME, &[0, 0x20, 0, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
        let t = dispatch(SYS_TIME, &[0, 0, 0, 0, 0, 0]);
        assert!(t > 1_600_000_000);
        assert_eq!(dispatch(SYS_GETTIMEOFDAY, &[a, 0, 0, 0, 0, 0]), 0);
        assert_eq!(dispatch(SYS_CLOCK_GETRES, &[1, 0, 0, 0, 0, 0]), 0);
        // clock_getcpuclockid(getpid()) names this process; another pid does not.
        let own = (-(uk_posix::process::current().pid() as i64) - 1) * 8 + 2;
        assert_eq!(
            dispatch(SYS_CLOCK_GETTIME, &[own as usize, a, 0, 0, 0, 0]),
            0
        );
        let other = (-(4242i64) - 1) * 8 + 2;
        assert_eq!(
            dispatch(SYS_CLOCK_GETTIME, &[other as usize, a, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        // clock_settime: a clock that cannot be set before the pointer, then EPERM.
        assert_eq!(
            dispatch(SYS_CLOCK_SETTIME, &[1, 0, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        assert_eq!(
            dispatch(SYS_CLOCK_SETTIME, &[0, 0, 0, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
        uk_posix::user::write(a, &[5i64, 0]).unwrap();
        assert_eq!(
            dispatch(SYS_CLOCK_SETTIME, &[0, a, 0, 0, 0, 0]),
            Errno::EPERM.as_neg()
        );
    }
}
