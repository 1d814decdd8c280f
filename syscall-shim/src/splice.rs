//! splice(2), tee(2), vmsplice(2), copy_file_range(2):
//! https://man7.org/linux/man-pages/man2/splice.2.html
//!
//! The optional offsets are `loff_t *` in program memory: read before the copy (EFAULT,
//! and EINVAL for a negative one) and written back after it.

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::sysno::{SYS_COPY_FILE_RANGE, SYS_SPLICE, SYS_TEE, SYS_VMSPLICE};
use uk_posix::fs::copy;
use uk_posix::user::UserPtr;

/// Reads an optional `loff_t *` (None for NULL).
fn read_off(addr: usize) -> KResult<Option<u64>> {
    let Some(p) = UserPtr::<i64>::nonnull(addr) else {
        return Ok(None);
    };
    let v = p.read()?;
    if v < 0 {
        return Err(Errno::EINVAL);
    }
    p.check_writable()?;
    Ok(Some(v as u64))
}

fn write_off(addr: usize, v: Option<u64>) -> KResult<()> {
    if let (Some(p), Some(v)) = (UserPtr::<i64>::nonnull(addr), v) {
        p.write(&(v as i64))?;
    }
    Ok(())
}

/// The typed call behind both rows: (fd_in, off_in, fd_out, off_out, len, flags).
type CopyCall = fn(i32, Option<&mut u64>, i32, Option<&mut u64>, usize, u32) -> KResult<usize>;

/// Both calls: (fd_in, off_in *, fd_out, off_out *, len, flags).
fn with_offsets(a: &Args, f: CopyCall) -> KResult<usize> {
    let mut oi = read_off(a[1])?;
    let mut oo = read_off(a[3])?;
    let len = a[4].min(0x7fff_f000);
    let n = f(
        a[0] as i32,
        oi.as_mut(),
        a[2] as i32,
        oo.as_mut(),
        len,
        a[5] as u32,
    )?;
    write_off(a[1], oi)?;
    write_off(a[3], oo)?;
    Ok(n)
}

pub fn sys_splice(a: &Args) -> KResult<usize> {
    with_offsets(a, copy::splice)
}

/// tee(fd_in, fd_out, len, flags).
pub fn sys_tee(a: &Args) -> KResult<usize> {
    copy::tee(a[0] as i32, a[1] as i32, a[2].min(0x7fff_f000), a[3] as u32)
}

/// vmsplice(fd, iov, nr_segs, flags): the iovecs are read (EFAULT, EINVAL past
/// IOV_MAX) before the pipe is looked at, as Linux does.
pub fn sys_vmsplice(a: &Args) -> KResult<usize> {
    let flags = a[3] as u32;
    if flags & !0xf != 0 {
        return Err(Errno::EINVAL);
    }
    uk_posix::process::current().fds.get(a[0] as i32)?;
    let mut buf = uk_posix::user::UserBuf::from_iovec(a[1], a[2])?;
    copy::vmsplice(a[0] as i32, &mut buf, flags)
}

pub fn sys_copy_file_range(a: &Args) -> KResult<usize> {
    with_offsets(a, copy::copy_file_range)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_SPLICE, sys_splice).shows(&[Arg::Fd, Arg::Hex, Arg::Fd, Arg::Hex, Arg::Int, Arg::Hex]),
    row(SYS_TEE, sys_tee).shows(&[Arg::Fd, Arg::Fd, Arg::Int, Arg::Hex]),
    row(SYS_VMSPLICE, sys_vmsplice).shows(&[Arg::Fd, Arg::Hex, Arg::Int, Arg::Hex]),
    row(SYS_COPY_FILE_RANGE, sys_copy_file_range).shows(&[
        Arg::Fd,
        Arg::Hex,
        Arg::Fd,
        Arg::Hex,
        Arg::Int,
        Arg::Hex,
    ]),
];
