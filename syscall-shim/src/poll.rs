//! poll(2), ppoll(2): https://man7.org/linux/man-pages/man2/poll.2.html

use crate::table::{row, Row};
use crate::{Args, Errno, KResult};
use alloc::vec::Vec;
use uk_abi::sysno::{SYS_POLL, SYS_PPOLL};
use uk_abi::time::{Timespec, Timeval};
use uk_posix::poll::{self, Pollfd};
use uk_posix::process::current;
use uk_posix::{time, user};

/// Read the pollfd array, run `poll`, and write every `revents` back (also on EINTR, as
/// Linux does).
fn run(addr: usize, nfds: usize, deadline: Option<u64>, mask: Option<u64>) -> KResult<usize> {
    if nfds > current().limits.nofile() {
        return Err(Errno::EINVAL);
    }
    let len = nfds.checked_mul(8).ok_or(Errno::EINVAL)?;
    user::check(addr, len, true)?;
    let mut fds: Vec<Pollfd> = Vec::new();
    fds.try_reserve_exact(nfds).map_err(|_| Errno::ENOMEM)?;
    for i in 0..nfds {
        fds.push(user::read(addr + i * 8)?);
    }
    let r = poll::with_sigmask(mask, || poll::poll(&mut fds, deadline));
    // Only `revents` is written back, as on Linux.
    let revents = core::mem::offset_of!(Pollfd, revents);
    for (i, p) in fds.iter().enumerate() {
        user::write(addr + i * 8 + revents, &p.revents)?;
    }
    r
}

/// Read a sigset argument: NULL is none; a size other than 8 is EINVAL.
pub(crate) fn read_sigmask(addr: usize, size: usize) -> KResult<Option<u64>> {
    if addr == 0 {
        return Ok(None);
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    Ok(Some(user::read(addr)?))
}

/// Read a `struct timespec` timeout: NULL is forever.
pub(crate) fn read_timespec_deadline(addr: usize) -> KResult<Option<u64>> {
    if addr == 0 {
        return Ok(None);
    }
    let ns = time::timespec_to_ns(&user::read::<Timespec>(addr)?)?;
    Ok(Some(poll::deadline_after(ns)))
}

/// Write the time left before `deadline` back (Linux updates the timeout of ppoll,
/// pselect6 and select; a read-only timeout is silently left alone).
pub(crate) fn write_remaining(addr: usize, deadline: Option<u64>, usec: bool) {
    let (Some(d), true) = (deadline, addr != 0) else {
        return;
    };
    let left = d.saturating_sub(uk_plat::get().monotonic_ns()) as i64;
    let _ = if usec {
        user::write(addr, &Timeval::from_ns(left))
    } else {
        user::write(addr, &Timespec::from_ns(left))
    };
}

pub fn sys_poll(a: &Args) -> KResult<usize> {
    let ms = a[2] as i32;
    let deadline = (ms >= 0).then(|| poll::deadline_after(ms as u64 * 1_000_000));
    run(a[0], a[1], deadline, None)
}

pub fn sys_ppoll(a: &Args) -> KResult<usize> {
    let deadline = read_timespec_deadline(a[2])?;
    let mask = read_sigmask(a[3], a[4])?;
    let r = run(a[0], a[1], deadline, mask);
    write_remaining(a[2], deadline, false);
    r
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[row(SYS_POLL, sys_poll), row(SYS_PPOLL, sys_ppoll)];

#[cfg(test)]
pub(crate) mod tests {
    use crate::dispatch;
    use uk_abi::sysno::{SYS_CLOSE, SYS_PIPE2, SYS_POLL, SYS_PPOLL, SYS_WRITE};
    use uk_abi::Errno;

    /// Program memory for the readiness families' tests, carved from one registered
    /// range (the static range table is small and shared by every test).
    pub(crate) fn user_buf(len: usize) -> (&'static mut [u8], usize) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::OnceLock;
        const SIZE: usize = 64 * 1024;
        static BASE: OnceLock<usize> = OnceLock::new();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let base = *BASE.get_or_init(|| {
            let v: &'static mut [u8] = Box::leak(vec![0u8; SIZE].into_boxed_slice());
            let a = v.as_ptr() as usize;
            uk_posix::user::add_static_range(a, a + SIZE, true);
            a
        });
        let off = NEXT.fetch_add(len.next_multiple_of(64), Ordering::Relaxed);
        assert!(off + len <= SIZE, "test buffer exhausted");
        let a = base + off;
        // SAFETY: each call hands out a distinct chunk of the leaked buffer.
        (
            unsafe { core::slice::from_raw_parts_mut(a as *mut u8, len) },
            a,
        )
    }

    #[test]
    fn poll_pipe_and_timeout() {
        let _g = uk_posix::testplat::serial();
        crate::table::tests::setup();
        let (v, a) = crate::poll::tests::user_buf(64);
        assert_eq!(dispatch(SYS_PIPE2, &[a, 0, 0, 0, 0, 0]), 0);
        let fds: [i32; 2] = uk_posix::user::read(a).unwrap();
        // pollfd[0] = read end POLLIN, pollfd[1] = bad fd.
        uk_posix::user::write(a + 16, &[fds[0], 1, 555, 1]).unwrap();
        let t0 = std::time::Instant::now();
        assert_eq!(dispatch(SYS_POLL, &[a + 16, 1, 3, 0, 0, 0]), 0, "times out");
        assert!(t0.elapsed().as_millis() >= 3);
        assert_eq!(dispatch(SYS_POLL, &[a + 16, 2, 0, 0, 0, 0]), 1);
        assert_eq!(i16::from_ne_bytes([v[30], v[31]]), 0x20, "POLLNVAL");
        assert_eq!(dispatch(SYS_WRITE, &[fds[1] as usize, a, 1, 0, 0, 0]), 1);
        assert_eq!(dispatch(SYS_POLL, &[a + 16, 1, usize::MAX, 0, 0, 0]), 1);
        assert_eq!(i16::from_ne_bytes([v[22], v[23]]), 1, "POLLIN");
        // ppoll: timespec {0, 0}, sigset size must be 8.
        uk_posix::user::write(a + 48, &[0i64, 0]).unwrap();
        assert_eq!(
            dispatch(SYS_PPOLL, &[a + 16, 1, a + 48, a + 40, 4, 0]),
            Errno::EINVAL.as_neg()
        );
        assert_eq!(dispatch(SYS_PPOLL, &[a + 16, 1, a + 48, 0, 0, 0]), 1);
        assert_eq!(
            dispatch(SYS_POLL, &[a + 16, 1 << 30, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg(),
            "nfds too large"
        );
        assert_eq!(
            dispatch(SYS_POLL, &[0x10, 1, 0, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
        dispatch(SYS_CLOSE, &[fds[0] as usize, 0, 0, 0, 0, 0]);
        dispatch(SYS_CLOSE, &[fds[1] as usize, 0, 0, 0, 0, 0]);
    }
}
