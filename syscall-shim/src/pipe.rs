//! pipe(2), pipe2(2): https://man7.org/linux/man-pages/man2/pipe.2.html

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, KResult};
use uk_abi::sysno::{SYS_PIPE, SYS_PIPE2};
use uk_posix::process::current;
use uk_posix::{pipe, user};

/// Create the pipe and store `[read fd, write fd]` at `addr` (checked first, so a bad
/// pointer leaves no descriptors behind).
fn make(addr: usize, flags: u32) -> KResult<usize> {
    user::check(addr, 8, true)?;
    let (r, w) = pipe::pipe_fds(flags)?;
    if let Err(e) = user::write(addr, &[r, w]) {
        let _ = current().fds.close(r);
        let _ = current().fds.close(w);
        return Err(e);
    }
    Ok(0)
}

pub fn sys_pipe(a: &Args) -> KResult<usize> {
    make(a[0], 0)
}

pub fn sys_pipe2(a: &Args) -> KResult<usize> {
    make(a[0], a[1] as u32)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_PIPE, sys_pipe),
    row(SYS_PIPE2, sys_pipe2).shows(&[Arg::Hex, Arg::Hex]),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::{SYS_CLOSE, SYS_IOCTL, SYS_PIPE, SYS_PIPE2, SYS_READ, SYS_WRITE};
    use uk_abi::Errno;

    #[test]
    fn pipe_roundtrip_and_errors() {
        crate::table::tests::setup();
        let (v, a) = crate::poll::tests::user_buf(64);
        assert_eq!(dispatch(SYS_PIPE2, &[a, 0o4000, 0, 0, 0, 0]), 0);
        let fds: [i32; 2] = uk_posix::user::read(a).unwrap();
        uk_posix::user::write(a + 16, b"ping").unwrap();
        assert_eq!(
            dispatch(SYS_WRITE, &[fds[1] as usize, a + 16, 4, 0, 0, 0]),
            4
        );
        assert_eq!(
            dispatch(SYS_READ, &[fds[0] as usize, a + 32, 16, 0, 0, 0]),
            4
        );
        assert_eq!(&v[32..36], b"ping");
        assert_eq!(
            dispatch(SYS_READ, &[fds[0] as usize, a + 32, 16, 0, 0, 0]),
            Errno::EAGAIN.as_neg(),
            "EAGAIN"
        );
        // FIONREAD after a write.
        assert_eq!(
            dispatch(SYS_WRITE, &[fds[1] as usize, a + 16, 3, 0, 0, 0]),
            3
        );
        assert_eq!(
            dispatch(SYS_IOCTL, &[fds[0] as usize, 0x541B, a + 48, 0, 0, 0]),
            0
        );
        assert_eq!(uk_posix::user::read::<i32>(a + 48).unwrap(), 3);
        assert_eq!(dispatch(SYS_CLOSE, &[fds[0] as usize, 0, 0, 0, 0, 0]), 0);
        // SIGPIPE ignored: the write fails with EPIPE instead of ending the process.
        let ign = uk_posix::signal::KSigaction {
            handler: uk_abi::signal::SIG_IGN,
            ..Default::default()
        };
        let old = uk_posix::process::current()
            .signals
            .sigaction(13, Some(ign))
            .unwrap();
        assert_eq!(
            dispatch(SYS_WRITE, &[fds[1] as usize, a + 16, 1, 0, 0, 0]),
            Errno::EPIPE.as_neg(),
            "EPIPE"
        );
        uk_posix::process::current()
            .signals
            .sigaction(13, Some(old))
            .unwrap();
        assert_eq!(dispatch(SYS_CLOSE, &[fds[1] as usize, 0, 0, 0, 0, 0]), 0);
        assert_eq!(
            dispatch(SYS_PIPE, &[0x10, 0, 0, 0, 0, 0]),
            Errno::EFAULT.as_neg(),
            "EFAULT"
        );
        assert_eq!(
            dispatch(SYS_PIPE2, &[a, 0x1, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg(),
            "bad flag"
        );
    }
}
