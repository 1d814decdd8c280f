//! `<sys/uio.h>`: the iovec record, and the two traits through which kernel objects move
//! bytes from and to their callers' buffers.
//!
//! A pipe, socket or file reads into a [`Sink`] and writes from a [`Source`] without
//! knowing whether the buffer is kernel memory or program memory. Program-memory
//! buffers (posix's `user` module) check the program's memory map at the moment of each
//! copy and never hand out a reference, so an object that blocks before it copies (a
//! pipe read waiting for data) cannot write into memory another thread unmapped while it
//! slept. Kernel buffers (`[u8]`) are plain copies.

use crate::assert_size;
use crate::Errno;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `struct iovec`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Iovec {
    pub iov_base: u64,
    pub iov_len: u64,
}
assert_size!(Iovec, 16);

/// Most iovecs one vectored call takes (`UIO_MAXIOV`).
pub const IOV_MAX: usize = 1024;

/// Most bytes one read or write moves (Linux's `MAX_RW_COUNT`): larger requests are
/// shortened to it.
pub const MAX_RW_COUNT: usize = 0x7fff_f000;

/// preadv2/pwritev2 flags.
pub const RWF_HIPRI: u32 = 1;
pub const RWF_DSYNC: u32 = 2;
pub const RWF_SYNC: u32 = 4;
pub const RWF_NOWAIT: u32 = 8;
pub const RWF_APPEND: u32 = 16;

/// Where the bytes of a read go.
pub trait Sink {
    /// How many bytes the sink takes in all.
    fn len(&self) -> usize;

    /// True when the sink takes no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copy `src` to byte `off` of the sink: all of it, or nothing and EFAULT when any
    /// part of the destination is not writable now. `off + src.len()` must not pass
    /// [`Sink::len`] (EFAULT if it does).
    fn write_at(&mut self, off: usize, src: &[u8]) -> Result<(), Errno>;

    /// Copy as much of `src` to byte `off` as is writable from there on, and return how
    /// much that was: what a read that runs into an unmapped page reports (a short
    /// count). The default copies all or nothing.
    fn write_prefix(&mut self, off: usize, src: &[u8]) -> usize {
        match self.write_at(off, src) {
            Ok(()) => src.len(),
            Err(_) => 0,
        }
    }
}

/// Where the bytes of a write come from.
pub trait Source {
    /// How many bytes the source holds in all.
    fn len(&self) -> usize;

    /// True when the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copy bytes `[off, off + dst.len())` of the source into `dst`: all of them, or
    /// EFAULT when any part is not readable now (`dst` is then unspecified).
    fn read_at(&self, off: usize, dst: &mut [u8]) -> Result<(), Errno>;

    /// Copy as much of `[off, off + dst.len())` as is readable from `off` on into `dst`,
    /// and return how much that was (a write that runs into an unmapped page writes
    /// what came before it). The default copies all or nothing.
    fn read_prefix(&self, off: usize, dst: &mut [u8]) -> usize {
        match self.read_at(off, dst) {
            Ok(()) => dst.len(),
            Err(_) => 0,
        }
    }
}

/// A kernel buffer as a sink: `file.read(&mut &mut buf[..])`.
impl Sink for &mut [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    fn write_at(&mut self, off: usize, src: &[u8]) -> Result<(), Errno> {
        let end = off.checked_add(src.len()).ok_or(Errno::EFAULT)?;
        self.get_mut(off..end)
            .ok_or(Errno::EFAULT)?
            .copy_from_slice(src);
        Ok(())
    }
}

/// A kernel buffer as a source: `file.write(&&buf[..])`.
impl Source for &[u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    fn read_at(&self, off: usize, dst: &mut [u8]) -> Result<(), Errno> {
        let end = off.checked_add(dst.len()).ok_or(Errno::EFAULT)?;
        dst.copy_from_slice(self.get(off..end).ok_or(Errno::EFAULT)?);
        Ok(())
    }
}

/// The part of a source from byte `off` on (a stream send that continues after a short
/// one).
pub struct SourceFrom<'a> {
    pub src: &'a dyn Source,
    pub off: usize,
}

impl Source for SourceFrom<'_> {
    fn len(&self) -> usize {
        self.src.len().saturating_sub(self.off)
    }

    fn read_at(&self, off: usize, dst: &mut [u8]) -> Result<(), Errno> {
        self.src
            .read_at(self.off.checked_add(off).ok_or(Errno::EFAULT)?, dst)
    }

    fn read_prefix(&self, off: usize, dst: &mut [u8]) -> usize {
        self.off
            .checked_add(off)
            .map_or(0, |o| self.src.read_prefix(o, dst))
    }
}

/// The part of a sink from byte `off` on (MSG_WAITALL receives after a short one).
pub struct SinkFrom<'a> {
    pub sink: &'a mut dyn Sink,
    pub off: usize,
}

impl Sink for SinkFrom<'_> {
    fn len(&self) -> usize {
        self.sink.len().saturating_sub(self.off)
    }

    fn write_at(&mut self, off: usize, src: &[u8]) -> Result<(), Errno> {
        let o = self.off.checked_add(off).ok_or(Errno::EFAULT)?;
        self.sink.write_at(o, src)
    }

    fn write_prefix(&mut self, off: usize, src: &[u8]) -> usize {
        self.off
            .checked_add(off)
            .map_or(0, |o| self.sink.write_prefix(o, src))
    }
}

/// Give `data` to `sink` at byte `off`, as a regular file's read does: a short count
/// when the sink runs into memory it may not write, EFAULT when not one byte fits.
pub fn give(sink: &mut dyn Sink, off: usize, data: &[u8]) -> Result<usize, Errno> {
    let n = sink.write_prefix(off, data);
    if n == 0 && !data.is_empty() {
        return Err(Errno::EFAULT);
    }
    Ok(n)
}

/// Take bytes `[off, off + dst.len())` of `src` into `dst`, as a regular file's write
/// does: the count before the first byte it may not read, EFAULT when that is none.
pub fn take(src: &dyn Source, off: usize, dst: &mut [u8]) -> Result<usize, Errno> {
    let n = src.read_prefix(off, dst);
    if n == 0 && !dst.is_empty() {
        return Err(Errno::EFAULT);
    }
    Ok(n)
}

/// Copy all of `src` into `sink` from byte `off` on, through a small stack buffer: for
/// moving bytes between two buffers neither of which is a plain slice.
pub fn copy(
    src: &dyn Source,
    src_off: usize,
    sink: &mut dyn Sink,
    off: usize,
    len: usize,
) -> Result<(), Errno> {
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len());
        src.read_at(src_off + done, &mut chunk[..n])?;
        sink.write_at(off + done, &chunk[..n])?;
        done += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_buffers_copy_in_bounds_only() {
        let mut b = [0u8; 8];
        let mut k = &mut b[..];
        let s: &mut dyn Sink = &mut k;
        s.write_at(2, b"abc").unwrap();
        assert_eq!(s.write_at(6, b"abc"), Err(Errno::EFAULT));
        assert_eq!(s.write_prefix(6, b"abc"), 0);
        assert_eq!(&b, b"\0\0abc\0\0\0");
        let src: &dyn Source = &&b"hello"[..];
        let mut d = [0u8; 3];
        src.read_at(1, &mut d).unwrap();
        assert_eq!(&d, b"ell");
        assert_eq!(src.read_at(3, &mut d), Err(Errno::EFAULT));
        let mut out = [0u8; 5];
        copy(src, 0, &mut &mut out[..], 0, 5).unwrap();
        assert_eq!(&out, b"hello");
    }
}
