//! epoll_create(2), epoll_create1(2), epoll_ctl(2), epoll_wait(2), epoll_pwait(2),
//! epoll_pwait2(2): https://man7.org/linux/man-pages/man7/epoll.7.html

use crate::poll::{read_sigmask, read_timespec_deadline};
use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::poll::EPOLL_CTL_DEL;
use uk_abi::sysno::{
    SYS_EPOLL_CREATE, SYS_EPOLL_CREATE1, SYS_EPOLL_CTL, SYS_EPOLL_PWAIT, SYS_EPOLL_PWAIT2,
    SYS_EPOLL_WAIT,
};
use uk_posix::epoll::{self, EpollEvent, EP_MAX_EVENTS};
use uk_posix::{poll, user};

pub fn sys_epoll_create(a: &Args) -> KResult<usize> {
    if a[0] as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    epoll::epoll_create_fd(0).map(|fd| fd as usize)
}

pub fn sys_epoll_create1(a: &Args) -> KResult<usize> {
    epoll::epoll_create_fd(a[0] as u32).map(|fd| fd as usize)
}

pub fn sys_epoll_ctl(a: &Args) -> KResult<usize> {
    let (epfd, op, fd, ev) = (a[0] as i32, a[1] as i32, a[2] as i32, a[3]);
    let event = if op != EPOLL_CTL_DEL {
        Some(user::read::<EpollEvent>(ev)?)
    } else {
        None
    };
    epoll::epoll_ctl(epfd, op, fd, event).map(|_| 0)
}

/// The shared body of the wait calls, with Linux's order of checks.
fn wait(a: &Args, deadline: Option<u64>, mask: Option<u64>) -> KResult<usize> {
    let (epfd, addr, max) = (a[0] as i32, a[1], a[2] as i32);
    if max <= 0 || max as usize > EP_MAX_EVENTS {
        return Err(Errno::EINVAL);
    }
    let max = max as usize;
    user::check(addr, max * core::mem::size_of::<EpollEvent>(), true)?;
    let f = epoll::from_fd(epfd)?;
    let ep = epoll::as_epoll(&*f).ok_or(Errno::EINVAL)?;
    let events = poll::with_sigmask(mask, || ep.wait(max, deadline))?;
    let out = user::UserPtr::<EpollEvent>::new(addr);
    for (i, e) in events.iter().enumerate() {
        out.at(i)?.write(e)?;
    }
    Ok(events.len())
}

fn ms_deadline(ms: i32) -> Option<u64> {
    (ms >= 0).then(|| poll::deadline_after(ms as u64 * 1_000_000))
}

pub fn sys_epoll_wait(a: &Args) -> KResult<usize> {
    wait(a, ms_deadline(a[3] as i32), None)
}

pub fn sys_epoll_pwait(a: &Args) -> KResult<usize> {
    let mask = read_sigmask(a[4], a[5])?;
    wait(a, ms_deadline(a[3] as i32), mask)
}

pub fn sys_epoll_pwait2(a: &Args) -> KResult<usize> {
    let deadline = read_timespec_deadline(a[3])?;
    let mask = read_sigmask(a[4], a[5])?;
    wait(a, deadline, mask)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_EPOLL_CREATE, sys_epoll_create),
    row(SYS_EPOLL_WAIT, sys_epoll_wait),
    row(SYS_EPOLL_CTL, sys_epoll_ctl),
    row(SYS_EPOLL_PWAIT, sys_epoll_pwait),
    row(SYS_EPOLL_CREATE1, sys_epoll_create1).shows(&[Arg::Hex, Arg::Hex]),
    row(SYS_EPOLL_PWAIT2, sys_epoll_pwait2),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::{
        SYS_CLOSE, SYS_EPOLL_CREATE, SYS_EPOLL_CREATE1, SYS_EPOLL_CTL, SYS_EPOLL_WAIT, SYS_PIPE2,
        SYS_WRITE,
    };
    use uk_abi::Errno;

    #[test]
    fn ctl_wait_and_errors() {
        let _g = uk_posix::testplat::serial();
        crate::table::tests::setup();
        let (v, a) = crate::poll::tests::user_buf(128);
        let ep = dispatch(SYS_EPOLL_CREATE1, &[0, 0, 0, 0, 0, 0]);
        assert!(ep >= 0);
        let ep = ep as usize;
        assert_eq!(dispatch(SYS_PIPE2, &[a, 0o4000, 0, 0, 0, 0]), 0);
        let fds: [i32; 2] = uk_posix::user::read(a).unwrap();
        let (r, w) = (fds[0] as usize, fds[1] as usize);
        // event {EPOLLIN|EPOLLET, data 0xdead_beef_0123_4567} at a+16 (packed).
        v[16..20].copy_from_slice(&(1u32 | 1 << 31).to_ne_bytes());
        v[20..28].copy_from_slice(&0xdead_beef_0123_4567u64.to_ne_bytes());
        assert_eq!(dispatch(SYS_EPOLL_CTL, &[ep, 1, r, a + 16, 0, 0]), 0);
        assert_eq!(
            dispatch(SYS_EPOLL_CTL, &[ep, 1, r, a + 16, 0, 0]),
            Errno::EEXIST.as_neg(),
            "EEXIST"
        );
        assert_eq!(
            dispatch(SYS_EPOLL_CTL, &[ep, 1, ep, a + 16, 0, 0]),
            Errno::EINVAL.as_neg(),
            "itself"
        );
        assert_eq!(
            dispatch(SYS_EPOLL_CTL, &[ep, 1, 999, a + 16, 0, 0]),
            Errno::EBADF.as_neg()
        );
        assert_eq!(
            dispatch(SYS_EPOLL_CTL, &[r, 1, w, a + 16, 0, 0]),
            Errno::EINVAL.as_neg(),
            "not an epoll"
        );
        assert_eq!(
            dispatch(SYS_EPOLL_CTL, &[ep, 3, w, a + 16, 0, 0]),
            Errno::ENOENT.as_neg(),
            "ENOENT"
        );
        assert_eq!(
            dispatch(SYS_EPOLL_CTL, &[ep, 1, w, 0x10, 0, 0]),
            Errno::EFAULT.as_neg()
        );
        assert_eq!(
            dispatch(SYS_EPOLL_WAIT, &[ep, a + 32, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg(),
            "maxevents 0"
        );
        assert_eq!(dispatch(SYS_EPOLL_WAIT, &[ep, a + 32, 4, 0, 0, 0]), 0);
        assert_eq!(dispatch(SYS_WRITE, &[w, a, 1, 0, 0, 0]), 1);
        assert_eq!(dispatch(SYS_EPOLL_WAIT, &[ep, a + 32, 4, 0, 0, 0]), 1);
        assert_eq!(&v[32..36], &1u32.to_ne_bytes());
        assert_eq!(&v[36..44], &0xdead_beef_0123_4567u64.to_ne_bytes());
        assert_eq!(
            dispatch(SYS_EPOLL_WAIT, &[ep, a + 32, 4, 0, 0, 0]),
            0,
            "edge reported once"
        );
        let t0 = std::time::Instant::now();
        assert_eq!(dispatch(SYS_EPOLL_WAIT, &[ep, a + 32, 4, 3, 0, 0]), 0);
        assert!(t0.elapsed().as_millis() >= 3);
        assert_eq!(dispatch(SYS_EPOLL_CTL, &[ep, 2, r, 0, 0, 0]), 0);
        assert_eq!(
            dispatch(SYS_EPOLL_CREATE, &[0, 0, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        for fd in [r, w, ep] {
            dispatch(SYS_CLOSE, &[fd, 0, 0, 0, 0, 0]);
        }
    }
}
