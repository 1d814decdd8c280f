//! copy_file_range(2), splice(2), tee(2) and vmsplice(2): moving bytes between
//! descriptors (or between a pipe and program memory) without a read and a write.
//!
//! Both copy through a kernel buffer (one address space: there are no pages to move
//! between a pipe and a page cache), one chunk at a time, and keep Linux's rules for
//! which descriptors each accepts and how the offsets move. A splice out of a pipe only
//! removes the bytes the other side took, so a short or refused write loses nothing.

use super::OpenFile;
use crate::file::File;
use crate::pipe::PipeEnd;
use crate::{Errno, KResult};
use alloc::sync::Arc;
use alloc::vec;
use uk_abi::fcntl::{O_APPEND, SPLICE_F_GIFT, SPLICE_F_MORE, SPLICE_F_MOVE, SPLICE_F_NONBLOCK};
use uk_vfs::Kind;

/// Bytes moved per step.
const CHUNK: usize = 64 * 1024;

fn as_pipe(f: &Arc<dyn File>) -> Option<&PipeEnd> {
    f.as_any().and_then(|a| a.downcast_ref::<PipeEnd>())
}

/// copy_file_range(2): up to `len` bytes from `fd_in` to `fd_out`, both regular files,
/// at `*off_in`/`*off_out` when given (advanced by the count; the descriptors' offsets
/// are then left alone), else at and advancing the descriptors' offsets. Stops early at
/// the end of the input. Flags must be 0. Ranges of one file that overlap: EINVAL.
pub fn copy_file_range(
    fd_in: i32,
    off_in: Option<&mut u64>,
    fd_out: i32,
    off_out: Option<&mut u64>,
    len: usize,
    flags: u32,
) -> KResult<usize> {
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let fin = crate::process::current().fds.get(fd_in)?;
    let fout = crate::process::current().fds.get(fd_out)?;
    let (Some(i), Some(o)) = (OpenFile::of(&fin), OpenFile::of(&fout)) else {
        return Err(Errno::EINVAL);
    };
    if !i.readable() || !o.writable() || o.flags() & O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    if i.node.kind() == Kind::Dir || o.node.kind() == Kind::Dir {
        return Err(Errno::EISDIR);
    }
    if i.node.kind() != Kind::Reg || o.node.kind() != Kind::Reg {
        return Err(Errno::EINVAL);
    }
    let mut pin = off_in.as_ref().map_or_else(|| i.pos(), |p| **p);
    let mut pout = off_out.as_ref().map_or_else(|| o.pos(), |p| **p);
    pin.checked_add(len as u64).ok_or(Errno::EOVERFLOW)?;
    pout.checked_add(len as u64).ok_or(Errno::EOVERFLOW)?;
    let (a, b) = (i.node.dev_ino()?, o.node.dev_ino()?);
    let same = a == b && i.node.fs_id() == o.node.fs_id();
    if same && pin < pout + len as u64 && pout < pin + len as u64 {
        return Err(Errno::EINVAL);
    }
    let mut buf = vec![0u8; len.clamp(1, CHUNK)];
    let mut done = 0usize;
    while done < len {
        let want = (len - done).min(buf.len());
        let n = match i.node.read_at(pin, &mut &mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let w = match o.node.write_at(pout, &&buf[..n]) {
            Ok(w) => w,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        done += w;
        pin += w as u64;
        pout += w as u64;
        if w < n {
            break;
        }
    }
    match off_in {
        Some(p) => *p = pin,
        None => i.set_pos(pin),
    }
    match off_out {
        Some(p) => *p = pout,
        None => o.set_pos(pout),
    }
    Ok(done)
}

/// splice(2): up to `len` bytes from `fd_in` to `fd_out`, one of which must be a pipe
/// (EINVAL otherwise, and for one pipe on both sides). An offset given for a pipe is
/// ESPIPE; for a file it is used and advanced instead of the descriptor's offset.
/// SPLICE_F_NONBLOCK makes the pipe side non-blocking; the other flags are hints.
/// Returns after one chunk has moved, as Linux returns after what was ready.
pub fn splice(
    fd_in: i32,
    off_in: Option<&mut u64>,
    fd_out: i32,
    off_out: Option<&mut u64>,
    len: usize,
    flags: u32,
) -> KResult<usize> {
    if flags & !(SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT) != 0 {
        return Err(Errno::EINVAL);
    }
    let nonblock = flags & SPLICE_F_NONBLOCK != 0;
    let fin = crate::process::current().fds.get(fd_in)?;
    let fout = crate::process::current().fds.get(fd_out)?;
    let (pin, pout) = (as_pipe(&fin), as_pipe(&fout));
    if pin.is_none() && pout.is_none() {
        return Err(Errno::EINVAL);
    }
    if (pin.is_some() && off_in.is_some()) || (pout.is_some() && off_out.is_some()) {
        return Err(Errno::ESPIPE);
    }
    if let (Some(a), Some(b)) = (pin, pout) {
        if core::ptr::eq(a.shared(), b.shared()) {
            return Err(Errno::EINVAL);
        }
    }
    if let Some(p) = pin {
        if !p.reads() {
            return Err(Errno::EBADF);
        }
    }
    if let Some(p) = pout {
        if !p.writes() {
            return Err(Errno::EBADF);
        }
    }
    if len == 0 {
        return Ok(0);
    }
    let max = len.min(CHUNK);
    if let Some(p) = pin {
        // Out of a pipe: the other side takes what it can; the rest stays queued.
        let of_out = OpenFile::of(&fout);
        if let Some(o) = of_out {
            if !o.writable() {
                return Err(Errno::EBADF);
            }
            if o.flags() & O_APPEND != 0 && off_out.is_some() {
                return Err(Errno::EINVAL);
            }
        }
        let mut at = off_out.as_ref().map(|o| **o);
        let n = p.splice_out(max, nonblock, &mut |bytes: &[u8]| match pout {
            Some(q) => q.splice_in(&bytes, nonblock),
            None => match (of_out, at.as_mut()) {
                (Some(o), Some(pos)) => {
                    let w = o.node.write_at(*pos, &bytes)?;
                    *pos += w as u64;
                    Ok(w)
                }
                _ => fout.write(&bytes),
            },
        })?;
        if let (Some(o), Some(p)) = (off_out, at) {
            *o = p;
        }
        return Ok(n);
    }
    // Into a pipe from a file or another stream: never take more than the pipe can
    // hold now, so that nothing read is left without a place to go.
    let q = pout.expect("one side is a pipe");
    let room = q.room();
    if room == 0 && (nonblock || fout.status_flags() & uk_abi::fcntl::O_NONBLOCK != 0) {
        return Err(Errno::EAGAIN);
    }
    let mut buf = vec![0u8; max.min(room.max(1))];
    let of_in = OpenFile::of(&fin);
    if let Some(i) = of_in {
        if !i.readable() {
            return Err(Errno::EBADF);
        }
        if i.node.kind() == Kind::Dir {
            return Err(Errno::EISDIR);
        }
    }
    match of_in {
        Some(i) if i.node.seekable() && !i.node.is_device() => {
            // A file: read at the offset, and advance it only by what the pipe took.
            let pos = off_in.as_ref().map_or_else(|| i.pos(), |p| **p);
            let n = i.node.read_at(pos, &mut &mut buf[..])?;
            if n == 0 {
                return Ok(0);
            }
            let w = q.splice_in(&&buf[..n], nonblock)?;
            match off_in {
                Some(p) => *p = pos + w as u64,
                None => i.set_pos(pos + w as u64),
            }
            Ok(w)
        }
        _ => {
            if off_in.is_some() {
                return Err(Errno::ESPIPE);
            }
            let n = fin.read(&mut &mut buf[..])?;
            if n == 0 {
                return Ok(0);
            }
            q.splice_in(&&buf[..n], false)
        }
    }
}

/// tee(2): copy up to `len` bytes from the pipe `fd_in` (a read end) into the pipe
/// `fd_out` (a write end) without consuming them. Linux's order of checks: unknown
/// flags EINVAL, `len` 0 returns 0 before the descriptors are looked at, EBADF for a
/// wrong direction, EINVAL unless both are pipes and different ones. SPLICE_F_NONBLOCK
/// (or O_NONBLOCK on either descriptor) turns waits into EAGAIN.
pub fn tee(fd_in: i32, fd_out: i32, len: usize, flags: u32) -> KResult<usize> {
    if flags & !(SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT) != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let fin = crate::process::current().fds.get(fd_in)?;
    let fout = crate::process::current().fds.get(fd_out)?;
    let readable = as_pipe(&fin).map_or_else(|| fin.status_flags() & 3 != 1, |p| p.reads());
    let writable = as_pipe(&fout).map_or_else(|| fout.status_flags() & 3 != 0, |p| p.writes());
    if !readable || !writable {
        return Err(Errno::EBADF);
    }
    let (Some(i), Some(o)) = (as_pipe(&fin), as_pipe(&fout)) else {
        return Err(Errno::EINVAL);
    };
    if core::ptr::eq(i.shared(), o.shared()) {
        return Err(Errno::EINVAL);
    }
    let nonblock = flags & SPLICE_F_NONBLOCK != 0
        || (fin.status_flags() | fout.status_flags()) & uk_abi::fcntl::O_NONBLOCK != 0;
    i.tee_to(o, len.min(CHUNK), nonblock)
}

/// vmsplice(2): the pipe end `fd` and the program memory of `buf` (the iovecs): a write
/// end takes the bytes as writev(2) would, a read end gives its bytes as readv(2)
/// would. An empty `buf` returns 0 for any descriptor; a descriptor that is no pipe is
/// EBADF (Linux's order). SPLICE_F_NONBLOCK turns waits into EAGAIN; SPLICE_F_GIFT is
/// a hint (the bytes are copied).
pub fn vmsplice(fd: i32, buf: &mut crate::user::UserBuf, flags: u32) -> KResult<usize> {
    use uk_abi::uio::{Sink, Source};
    if flags & !(SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT) != 0 {
        return Err(Errno::EINVAL);
    }
    let f = crate::process::current().fds.get(fd)?;
    if Source::is_empty(buf) {
        return Ok(0);
    }
    let p = as_pipe(&f).ok_or(Errno::EBADF)?;
    let nonblock = flags & SPLICE_F_NONBLOCK != 0;
    if p.writes() {
        return p.splice_in(buf, nonblock);
    }
    let max = Sink::len(buf);
    p.splice_out(max, nonblock, &mut |bytes: &[u8]| {
        let n = buf.write_prefix(0, bytes);
        if n == 0 {
            Err(Errno::EFAULT)
        } else {
            Ok(n)
        }
    })
}
