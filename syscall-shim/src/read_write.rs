//! read(2), write(2), readv(2), writev(2), pread64(2), pwrite64(2), lseek(2), close(2),
//! fstat(2): https://man7.org/linux/man-pages/man2/read.2.html

use uk_abi::uio::IOV_MAX;

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use alloc::vec::Vec;
use uk_abi::sysno::{
    SYS_CLOSE, SYS_FSTAT, SYS_LSEEK, SYS_PREAD64, SYS_PREADV, SYS_PREADV2, SYS_PWRITE64,
    SYS_PWRITEV, SYS_PWRITEV2, SYS_READ, SYS_READV, SYS_WRITE, SYS_WRITEV,
};
use uk_posix::file::Whence;
use uk_posix::{fd, user};

/// Linux's cap on one read/write: MAX_RW_COUNT (INT_MAX rounded down to a page).
const MAX_RW: usize = 0x7fff_f000;

pub fn sys_read(a: &Args) -> KResult<usize> {
    let f = fd::get(a[0] as i32)?;
    let len = a[2].min(MAX_RW);
    let buf = user::slice_mut(a[1], len)?;
    f.read(buf)
}

pub fn sys_write(a: &Args) -> KResult<usize> {
    let f = fd::get(a[0] as i32)?;
    let len = a[2].min(MAX_RW);
    let buf = user::slice(a[1], len)?;
    f.write(buf)
}

/// Validate the iovec array: readable, at most IOV_MAX entries, lengths summing to at
/// most SSIZE_MAX (EINVAL otherwise, as Linux checks before transferring anything).
fn check_iovecs(addr: usize, cnt: usize) -> KResult<()> {
    if cnt > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    user::check(addr, cnt * 16, false)?;
    let mut total: usize = 0;
    for i in 0..cnt {
        let len: usize = user::read(addr + i * 16 + 8)?;
        total = total
            .checked_add(len)
            .filter(|t| *t <= isize::MAX as usize)
            .ok_or(Errno::EINVAL)?;
    }
    Ok(())
}

/// Walk the iovecs in order, stopping at the first short transfer.
fn each_iov(
    addr: usize,
    cnt: usize,
    mut f: impl FnMut(usize, usize) -> KResult<(usize, bool)>,
) -> KResult<usize> {
    check_iovecs(addr, cnt)?;
    let mut done = 0usize;
    for i in 0..cnt {
        let base: usize = user::read(addr + i * 16)?;
        let len: usize = user::read(addr + i * 16 + 8)?;
        if len == 0 {
            continue;
        }
        let len = len.min(MAX_RW - done);
        match f(base, len) {
            Ok((n, more)) => {
                done += n;
                if n < len || !more || done >= MAX_RW {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
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
    let f = fd::get(a[0] as i32)?;
    let off = offset(a[3])?;
    let buf = user::slice_mut(a[1], a[2].min(MAX_RW))?;
    f.pread(buf, off)
}

pub fn sys_pwrite64(a: &Args) -> KResult<usize> {
    let f = fd::get(a[0] as i32)?;
    let off = offset(a[3])?;
    let buf = user::slice(a[1], a[2].min(MAX_RW))?;
    f.pwrite(buf, off)
}

/// The vectored positioned calls: walk the iovecs, each one transferred by `io` at the
/// running position. `None` (offset -1 in the v2 calls) uses and moves the file offset
/// like readv/writev.
fn iov_at(
    a: &Args,
    off: Option<u64>,
    io: impl Fn(&dyn uk_posix::file::File, usize, usize, Option<u64>) -> KResult<usize>,
) -> KResult<usize> {
    let f = fd::get(a[0] as i32)?;
    let mut pos = off;
    each_iov(a[1], a[2], |base, len| {
        let n = io(&*f, base, len, pos)?;
        if let Some(p) = pos.as_mut() {
            *p += n as u64;
        }
        Ok((n, true))
    })
}

fn preadv_at(a: &Args, off: Option<u64>) -> KResult<usize> {
    iov_at(a, off, |f, base, len, pos| {
        let buf = user::slice_mut(base, len)?;
        match pos {
            Some(p) => f.pread(buf, p),
            None => f.read(buf),
        }
    })
}

/// Largest vectored write gathered into one buffer and written at once.
const GATHER_MAX: usize = 64 * 1024;

/// The iovecs of a small vectored write (2+ entries, at most [`GATHER_MAX`] bytes),
/// gathered so the file sees one write: one TCP segment for nginx's header and body
/// instead of two, one host write for printf's buffer and its new text, and one atomic
/// pipe write, as writev(2) is for Linux. `None` when the walk applies instead. An
/// unreadable iovec ends the gathering: the ones before it are written (a partial
/// write), or EFAULT when it is the first.
fn gathered(a: &Args) -> KResult<Option<Vec<u8>>> {
    let (addr, cnt) = (a[1], a[2]);
    if cnt < 2 {
        return Ok(None);
    }
    check_iovecs(addr, cnt)?;
    let mut total = 0usize;
    for i in 0..cnt {
        total += user::read::<usize>(addr + i * 16 + 8)?;
        if total > GATHER_MAX {
            return Ok(None);
        }
    }
    let mut data = Vec::with_capacity(total);
    for i in 0..cnt {
        let base: usize = user::read(addr + i * 16)?;
        let len: usize = user::read(addr + i * 16 + 8)?;
        if len == 0 {
            continue;
        }
        match user::slice(base, len) {
            Ok(s) => data.extend_from_slice(s),
            Err(e) if data.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    Ok(Some(data))
}

fn pwritev_at(a: &Args, off: Option<u64>) -> KResult<usize> {
    let f = fd::get(a[0] as i32)?;
    if let Some(data) = gathered(a)? {
        return match off {
            Some(p) => f.pwrite(&data, p),
            None => f.write(&data),
        };
    }
    iov_at(a, off, |f, base, len, pos| {
        let buf = user::slice(base, len)?;
        match pos {
            Some(p) => f.pwrite(buf, p),
            None => f.write(buf),
        }
    })
}

pub fn sys_preadv(a: &Args) -> KResult<usize> {
    preadv_at(a, Some(offset(a[3])?))
}

pub fn sys_pwritev(a: &Args) -> KResult<usize> {
    pwritev_at(a, Some(offset(a[3])?))
}

/// RWF_* flags are hints ukit can ignore except unknown bits (EOPNOTSUPP).
const RWF_ALL: usize = 0x1f;

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
    let f = fd::get(a[0] as i32)?;
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
    fd::close(a[0] as i32).map(|_| 0)
}

pub fn sys_fstat(a: &Args) -> KResult<usize> {
    let f = fd::get(a[0] as i32)?;
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

    #[test]
    fn write_paths_and_errors() {
        crate::table::tests::setup();
        let b = buf(64);
        assert_eq!(dispatch(1, &[1, b, 5, 0, 0, 0]), 5);
        assert_eq!(dispatch(1, &[99, b, 5, 0, 0, 0]), -9, "EBADF");
        assert_eq!(dispatch(1, &[1, 0x10, 5, 0, 0, 0]), -14, "EFAULT");
        assert_eq!(
            dispatch(1, &[1, b, 65, 0, 0, 0]),
            -14,
            "EFAULT past the end"
        );
        assert_eq!(
            dispatch(0, &[1, b, 5, 0, 0, 0]),
            -9,
            "stdout is not readable"
        );
        assert_eq!(dispatch(8, &[1, 0, 0, 0, 0, 0]), -29, "ESPIPE");
        assert_eq!(
            dispatch(17, &[1, b, 1, 0, 0, 0]),
            -29,
            "pread on a stream: ESPIPE"
        );
        assert_eq!(dispatch(8, &[1, 0, 7, 0, 0, 0]), -22);
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
        assert_eq!(dispatch(20, &[2, iov, 3, 0, 0, 0]), 10);
        assert_eq!(dispatch(20, &[2, iov, 1025, 0, 0, 0]), -22, "IOV_MAX");
        w(40, usize::MAX);
        assert_eq!(dispatch(20, &[2, iov, 3, 0, 0, 0]), -22, "length overflow");
        w(40, 7);
        w(32, 0x10);
        assert_eq!(
            dispatch(20, &[2, iov, 3, 0, 0, 0]),
            3,
            "stops at the bad buffer after progress"
        );
        assert_eq!(dispatch(20, &[2, 0x10, 1, 0, 0, 0]), -14);
    }

    #[test]
    fn fstat_console() {
        crate::table::tests::setup();
        let st = buf(144);
        assert_eq!(dispatch(5, &[1, st, 0, 0, 0, 0]), 0);
        let mode: u32 = uk_posix::user::read(st + 24).unwrap();
        assert_eq!(mode & 0o170000, 0o020000);
        assert_eq!(dispatch(5, &[1, 8, 0, 0, 0, 0]), -14);
    }
}
