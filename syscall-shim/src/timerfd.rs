//! timerfd_create(2), timerfd_settime(2), timerfd_gettime(2):
//! https://man7.org/linux/man-pages/man2/timerfd_create.2.html

use crate::table::{row, Row};
use crate::{Args, Errno, KResult};
use uk_abi::sysno::{SYS_TIMERFD_CREATE, SYS_TIMERFD_GETTIME, SYS_TIMERFD_SETTIME};
use uk_abi::time::{Itimerspec, Timespec};
use uk_abi::time::{TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET};
use uk_posix::timerfd::{self, ItimerNs};
use uk_posix::{time, user};

pub fn sys_timerfd_create(a: &Args) -> KResult<usize> {
    timerfd::timerfd_create_fd(a[0] as i32, a[1] as u32).map(|fd| fd as usize)
}

/// `struct itimerspec` {interval, value} -> nanoseconds (EINVAL on a bad timespec).
pub(crate) fn read_itimerspec(addr: usize) -> KResult<ItimerNs> {
    let v: Itimerspec = user::read(addr)?;
    Ok(ItimerNs {
        interval: time::timespec_to_ns(&v.it_interval)?,
        value: time::timespec_to_ns(&v.it_value)?,
    })
}

pub(crate) fn write_itimerspec(addr: usize, t: ItimerNs) -> KResult<()> {
    user::write(
        addr,
        &Itimerspec {
            it_interval: Timespec::from_ns(t.interval as i64),
            it_value: Timespec::from_ns(t.value as i64),
        },
    )
}

pub fn sys_timerfd_settime(a: &Args) -> KResult<usize> {
    let (fd, flags, new, old) = (a[0] as i32, a[1] as u32, a[2], a[3]);
    let v = read_itimerspec(new)?;
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let f = timerfd::from_fd(fd)?;
    let prev = timerfd::as_timerfd(&*f)?.settime(flags, v)?;
    if old != 0 {
        write_itimerspec(old, prev)?;
    }
    Ok(0)
}

pub fn sys_timerfd_gettime(a: &Args) -> KResult<usize> {
    let f = timerfd::from_fd(a[0] as i32)?;
    let cur = timerfd::as_timerfd(&*f)?.gettime();
    write_itimerspec(a[1], cur)?;
    Ok(0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_TIMERFD_CREATE, sys_timerfd_create),
    row(SYS_TIMERFD_SETTIME, sys_timerfd_settime),
    row(SYS_TIMERFD_GETTIME, sys_timerfd_gettime),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::{
        SYS_CLOSE, SYS_READ, SYS_TIMERFD_CREATE, SYS_TIMERFD_GETTIME, SYS_TIMERFD_SETTIME,
    };
    use uk_abi::Errno;

    #[test]
    fn arm_read_and_errors() {
        let _g = uk_posix::testplat::serial();
        crate::table::tests::setup();
        let (_v, a) = crate::poll::tests::user_buf(96);
        let fd = dispatch(SYS_TIMERFD_CREATE, &[1, 0, 0, 0, 0, 0]);
        assert!(fd >= 0);
        let fd = fd as usize;
        // 2 ms one-shot.
        uk_posix::user::write(a, &[0i64, 0, 0, 2_000_000]).unwrap();
        assert_eq!(dispatch(SYS_TIMERFD_SETTIME, &[fd, 0, a, a + 32, 0, 0]), 0);
        assert_eq!(uk_posix::user::read::<[i64; 4]>(a + 32).unwrap(), [0; 4]);
        assert_eq!(dispatch(SYS_TIMERFD_GETTIME, &[fd, a + 32, 0, 0, 0, 0]), 0);
        let cur: [i64; 4] = uk_posix::user::read(a + 32).unwrap();
        assert!(cur[3] > 0 && cur[3] <= 2_000_000);
        assert_eq!(dispatch(SYS_READ, &[fd, a + 64, 8, 0, 0, 0]), 8);
        assert_eq!(uk_posix::user::read::<u64>(a + 64).unwrap(), 1);
        // Errors: bad nsec, bad flags, not a timerfd, bad fd.
        uk_posix::user::write(a, &[0i64, 0, 0, 1_000_000_000]).unwrap();
        assert_eq!(
            dispatch(SYS_TIMERFD_SETTIME, &[fd, 0, a, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        uk_posix::user::write(a, &[0i64, 0, 0, 0]).unwrap();
        assert_eq!(
            dispatch(SYS_TIMERFD_SETTIME, &[fd, 8, a, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        assert_eq!(
            dispatch(SYS_TIMERFD_SETTIME, &[1, 0, a, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        assert_eq!(
            dispatch(SYS_TIMERFD_SETTIME, &[900, 0, a, 0, 0, 0]),
            Errno::EBADF.as_neg()
        );
        assert_eq!(
            dispatch(SYS_TIMERFD_SETTIME, &[fd, 0, 0x10, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
        assert_eq!(
            dispatch(SYS_TIMERFD_CREATE, &[77, 0, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        assert_eq!(dispatch(SYS_CLOSE, &[fd, 0, 0, 0, 0, 0]), 0);
    }
}
