//! eventfd(2), eventfd2(2): https://man7.org/linux/man-pages/man2/eventfd.2.html

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, KResult};
use uk_abi::sysno::{SYS_EVENTFD, SYS_EVENTFD2};
use uk_posix::eventfd;

pub fn sys_eventfd(a: &Args) -> KResult<usize> {
    eventfd::eventfd_fd(a[0] as u32, 0).map(|fd| fd as usize)
}

pub fn sys_eventfd2(a: &Args) -> KResult<usize> {
    eventfd::eventfd_fd(a[0] as u32, a[1] as u32).map(|fd| fd as usize)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_EVENTFD, sys_eventfd),
    row(SYS_EVENTFD2, sys_eventfd2).shows(&[Arg::Hex, Arg::Hex]),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::{SYS_CLOSE, SYS_EVENTFD2, SYS_READ, SYS_WRITE};
    use uk_abi::Errno;

    #[test]
    fn eventfd_counts() {
        crate::table::tests::setup();
        let (_v, a) = crate::poll::tests::user_buf(16);
        let fd = dispatch(SYS_EVENTFD2, &[2, 0o4000 | 1, 0, 0, 0, 0]);
        assert!(fd >= 0);
        let fd = fd as usize;
        assert_eq!(dispatch(SYS_READ, &[fd, a, 8, 0, 0, 0]), 8);
        assert_eq!(uk_posix::user::read::<u64>(a).unwrap(), 1, "semaphore");
        assert_eq!(
            dispatch(SYS_READ, &[fd, a, 4, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        uk_posix::user::write(a, &5u64).unwrap();
        assert_eq!(dispatch(SYS_WRITE, &[fd, a, 8, 0, 0, 0]), 8);
        assert_eq!(dispatch(SYS_CLOSE, &[fd, 0, 0, 0, 0, 0]), 0);
        assert_eq!(
            dispatch(SYS_EVENTFD2, &[0, 0x40, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
    }
}
