//! read(2), write(2), readv(2), writev(2), pread64(2), pwrite64(2), lseek(2), close(2),
//! fstat(2): https://man7.org/linux/man-pages/man2/read.2.html

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::sysno::{
    SYS_CLOSE, SYS_FSTAT, SYS_LSEEK, SYS_PREAD64, SYS_PREADV, SYS_PREADV2, SYS_PWRITE64,
    SYS_PWRITEV, SYS_PWRITEV2, SYS_READ, SYS_READV, SYS_WRITE, SYS_WRITEV,
};
use uk_abi::uio::{RWF_APPEND, RWF_DSYNC, RWF_HIPRI, RWF_NOWAIT, RWF_SYNC};
use uk_posix::file::Whence;
use uk_posix::process::current;
use uk_posix::user;
use uk_posix::user::UserBuf;

// The buffer is program memory reached through a `UserBuf`: it is checked when the
// file copies into or out of it (after any wait), never before and never by reference.

pub fn sys_read(a: &Args) -> KResult<usize> {
    let f = current().fds.get(a[0] as i32)?;
    f.read(&mut UserBuf::new(a[1], a[2]))
}

pub fn sys_write(a: &Args) -> KResult<usize> {
    let f = current().fds.get(a[0] as i32)?;
    f.write(&UserBuf::new(a[1], a[2]))
}

pub fn sys_readv(a: &Args) -> KResult<usize> {
    preadv_at(a, None)
}

pub fn sys_writev(a: &Args) -> KResult<usize> {
    pwritev_at(a, None)
}

/// Positioned I/O: negative offsets are EINVAL; streams answer ESPIPE.
fn offset(v: usize) -> KResult<u64> {
    if (v as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(v as u64)
}

pub fn sys_pread64(a: &Args) -> KResult<usize> {
    let f = current().fds.get(a[0] as i32)?;
    let off = offset(a[3])?;
    f.pread(&mut UserBuf::new(a[1], a[2]), off)
}

pub fn sys_pwrite64(a: &Args) -> KResult<usize> {
    let f = current().fds.get(a[0] as i32)?;
    let off = offset(a[3])?;
    f.pwrite(&UserBuf::new(a[1], a[2]), off)
}

/// The vectored calls: the iovecs are one buffer, so the file sees one read or write
/// (one TCP segment for nginx's header and body, one atomic pipe write, a datagram
/// scattered across the iovecs), as on Linux. `None` (offset -1 in the v2 calls) uses
/// and moves the file offset like readv/writev.
fn preadv_at(a: &Args, off: Option<u64>) -> KResult<usize> {
    let f = current().fds.get(a[0] as i32)?;
    let mut buf = UserBuf::from_iovec(a[1], a[2])?;
    match off {
        Some(p) => f.pread(&mut buf, p),
        None => f.read(&mut buf),
    }
}

fn pwritev_at(a: &Args, off: Option<u64>) -> KResult<usize> {
    let f = current().fds.get(a[0] as i32)?;
    let buf = UserBuf::from_iovec(a[1], a[2])?;
    match off {
        Some(p) => f.pwrite(&buf, p),
        None => f.write(&buf),
    }
}

pub fn sys_preadv(a: &Args) -> KResult<usize> {
    preadv_at(a, Some(offset(a[3])?))
}

pub fn sys_pwritev(a: &Args) -> KResult<usize> {
    pwritev_at(a, Some(offset(a[3])?))
}

/// RWF_* flags are hints ukit can ignore except unknown bits (EOPNOTSUPP).
const RWF_ALL: usize = (RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND) as usize;

pub fn sys_preadv2(a: &Args) -> KResult<usize> {
    if a[5] & !RWF_ALL != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let off = if a[3] as i64 == -1 {
        None
    } else {
        Some(offset(a[3])?)
    };
    preadv_at(a, off)
}

pub fn sys_pwritev2(a: &Args) -> KResult<usize> {
    if a[5] & !RWF_ALL != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let off = if a[3] as i64 == -1 {
        None
    } else {
        Some(offset(a[3])?)
    };
    pwritev_at(a, off)
}

pub fn sys_lseek(a: &Args) -> KResult<usize> {
    let f = current().fds.get(a[0] as i32)?;
    let whence = match a[2] {
        0 => Whence::Set,
        1 => Whence::Cur,
        2 => Whence::End,
        // SEEK_DATA, SEEK_HOLE: files only.
        3 | 4 => {
            return uk_posix::fs::seek_data_hole(a[0] as i32, a[1] as i64, a[2] == 4)
                .map(|v| v as usize)
        }
        _ => return Err(Errno::EINVAL),
    };
    f.seek(a[1] as i64, whence).map(|v| v as usize)
}

pub fn sys_close(a: &Args) -> KResult<usize> {
    current().fds.close(a[0] as i32).map(|_| 0)
}

pub fn sys_fstat(a: &Args) -> KResult<usize> {
    let f = current().fds.get(a[0] as i32)?;
    let st = f.stat()?;
    user::write(a[1], &st)?;
    Ok(0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_READ, sys_read).shows(&[Arg::Fd, Arg::Buf(2), Arg::Int]),
    row(SYS_WRITE, sys_write).shows(&[Arg::Fd, Arg::Buf(2), Arg::Int]),
    row(SYS_CLOSE, sys_close).shows(&[Arg::Fd]),
    row(SYS_FSTAT, sys_fstat).shows(&[Arg::Fd, Arg::Hex, Arg::Hex]),
    row(SYS_LSEEK, sys_lseek).shows(&[Arg::Fd, Arg::Hex, Arg::Hex]),
    row(SYS_PREAD64, sys_pread64).shows(&[Arg::Fd, Arg::Buf(2), Arg::Int, Arg::Int]),
    row(SYS_PWRITE64, sys_pwrite64).shows(&[Arg::Fd, Arg::Buf(2), Arg::Int, Arg::Int]),
    row(SYS_READV, sys_readv).shows(&[Arg::Fd, Arg::Hex, Arg::Int]),
    row(SYS_WRITEV, sys_writev).shows(&[Arg::Fd, Arg::Hex, Arg::Int]),
    row(SYS_PREADV, sys_preadv),
    row(SYS_PWRITEV, sys_pwritev),
    row(SYS_PREADV2, sys_preadv2),
    row(SYS_PWRITEV2, sys_pwritev2),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use crate::table::tests::buf;
    use uk_abi::sysno::{SYS_FSTAT, SYS_LSEEK, SYS_PREAD64, SYS_READ, SYS_WRITE, SYS_WRITEV};
    use uk_abi::Errno;

    #[test]
    fn write_paths_and_errors() {
        crate::table::tests::setup();
        let b = buf(64);
        assert_eq!(dispatch(SYS_WRITE, &[1, b, 5, 0, 0, 0]), 5);
        assert_eq!(
            dispatch(SYS_WRITE, &[99, b, 5, 0, 0, 0]),
            Errno::EBADF.as_neg(),
            "EBADF"
        );
        assert_eq!(
            dispatch(SYS_WRITE, &[1, 0x10, 5, 0, 0, 0]),
            Errno::EFAULT.as_neg(),
            "EFAULT"
        );
        assert_eq!(
            dispatch(SYS_WRITE, &[1, b, 65, 0, 0, 0]),
            Errno::EFAULT.as_neg(),
            "EFAULT past the end"
        );
        assert_eq!(
            dispatch(SYS_READ, &[1, b, 5, 0, 0, 0]),
            Errno::EBADF.as_neg(),
            "stdout is not readable"
        );
        assert_eq!(
            dispatch(SYS_LSEEK, &[1, 0, 0, 0, 0, 0]),
            Errno::ESPIPE.as_neg(),
            "ESPIPE"
        );
        assert_eq!(
            dispatch(SYS_PREAD64, &[1, b, 1, 0, 0, 0]),
            Errno::ESPIPE.as_neg(),
            "pread on a stream: ESPIPE"
        );
        assert_eq!(
            dispatch(SYS_LSEEK, &[1, 0, 7, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
    }

    #[test]
    fn writev_sums_and_validates() {
        crate::table::tests::setup();
        let data = buf(16);
        let iov = buf(64);
        let w = |off: usize, v: usize| uk_posix::user::write(iov + off, &v).unwrap();
        w(0, data);
        w(8, 3);
        w(16, data + 3);
        w(24, 0);
        w(32, data + 4);
        w(40, 7);
        assert_eq!(dispatch(SYS_WRITEV, &[2, iov, 3, 0, 0, 0]), 10);
        assert_eq!(
            dispatch(SYS_WRITEV, &[2, iov, 1025, 0, 0, 0]),
            Errno::EINVAL.as_neg(),
            "IOV_MAX"
        );
        w(40, usize::MAX);
        assert_eq!(
            dispatch(SYS_WRITEV, &[2, iov, 3, 0, 0, 0]),
            Errno::EINVAL.as_neg(),
            "length overflow"
        );
        w(40, 7);
        w(32, 0x10);
        assert_eq!(
            dispatch(SYS_WRITEV, &[2, iov, 3, 0, 0, 0]),
            Errno::EFAULT.as_neg(),
            "a terminal takes a write whole or not at all (a regular file writes the \
             part before the bad buffer: tests/conformance/files_rw.c)"
        );
        assert_eq!(
            dispatch(SYS_WRITEV, &[2, 0x10, 1, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
    }

    #[test]
    fn fstat_console() {
        crate::table::tests::setup();
        let st = buf(144);
        assert_eq!(dispatch(SYS_FSTAT, &[1, st, 0, 0, 0, 0]), 0);
        let mode: u32 = uk_posix::user::read(st + 24).unwrap();
        assert_eq!(mode & 0o170000, 0o020000);
        assert_eq!(
            dispatch(SYS_FSTAT, &[1, 8, 0, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
    }
}
