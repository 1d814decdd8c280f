//! posix_fadvise(2) and fallocate(2): what a program says about a file's bytes and the
//! room they take.
//!
//! ukit's files live in page caches with no readahead or writeback to tune, so every
//! piece of fadvise advice is checked and then has nothing to change. fallocate's
//! default mode (0) makes the file at least `offset + len` bytes long (the new bytes read
//! as zeros); ramfs pages are made when first written and hostfs files are grown with
//! the host's ftruncate, so the room is not reserved in advance: a later write can still
//! meet ENOSPC where Linux would have failed at fallocate. FALLOC_FL_KEEP_SIZE alone
//! then does nothing, and FALLOC_FL_PUNCH_HOLE (with KEEP_SIZE, as Linux requires)
//! writes zeros over the range inside the file. The other modes (collapse, zero,
//! insert, unshare) are EOPNOTSUPP, as on a file system that lacks them.

use super::OpenFile;
use crate::{Errno, KResult};
use uk_abi::fcntl::{FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, POSIX_FADV_NOREUSE};
use uk_vfs::Kind;

/// fadvise64(2): EBADF for a descriptor that is not open (or O_PATH), ESPIPE for a pipe
/// or FIFO, EINVAL for a negative length, unknown advice, or an object with no file
/// data (sockets, eventfds); otherwise accepted.
pub fn fadvise(fd: i32, _off: i64, len: i64, advice: u32) -> KResult<()> {
    let f = crate::process::current().fds.get(fd)?;
    if f.as_any().is_some_and(|a| a.is::<crate::pipe::PipeEnd>()) {
        return Err(Errno::ESPIPE);
    }
    let of = OpenFile::of(&f).ok_or(Errno::EINVAL)?;
    if of.is_path() {
        return Err(Errno::EBADF);
    }
    if len < 0 || advice > POSIX_FADV_NOREUSE {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// fallocate(2) of `fd` (see the module documentation for what each mode does), with
/// Linux's order of checks: the range, the mode, the access mode, the kind of file.
pub fn fallocate(fd: i32, mode: u32, off: i64, len: i64) -> KResult<()> {
    let f = crate::process::current().fds.get(fd)?;
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    if mode != 0
        && mode != FALLOC_FL_KEEP_SIZE
        && mode != FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
    {
        return Err(Errno::EOPNOTSUPP);
    }
    if let Some(p) = f
        .as_any()
        .and_then(|a| a.downcast_ref::<crate::pipe::PipeEnd>())
    {
        return Err(if p.writes() {
            Errno::ESPIPE
        } else {
            Errno::EBADF
        });
    }
    let Some(of) = OpenFile::of(&f) else {
        return Err(if f.status_flags() & 3 == 0 {
            Errno::EBADF
        } else {
            Errno::ENODEV
        });
    };
    if !of.writable() {
        return Err(Errno::EBADF);
    }
    match of.node.kind() {
        Kind::Reg => {}
        Kind::Dir => return Err(Errno::EISDIR),
        Kind::Fifo => return Err(Errno::ESPIPE),
        _ => return Err(Errno::ENODEV),
    }
    let end = off.checked_add(len).ok_or(Errno::EFBIG)? as u64;
    let size = of.node.attr()?.st_size.max(0) as u64;
    if mode & FALLOC_FL_PUNCH_HOLE != 0 {
        let stop = end.min(size);
        let zeros = [0u8; 4096];
        let mut at = off as u64;
        while at < stop {
            let n = ((stop - at) as usize).min(zeros.len());
            let w = of.node.write_at(at, &&zeros[..n])?;
            if w == 0 {
                return Err(Errno::EIO);
            }
            at += w as u64;
        }
        return Ok(());
    }
    if mode == 0 && end > size {
        of.node.truncate(end)?;
    }
    Ok(())
}
