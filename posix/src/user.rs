//! Program memory, reached only through checked copies.
//!
//! In one address space a bad pointer would not trap into a kernel: it would make the
//! kernel read or write the wrong memory, or fault inside it. So every address the
//! program passes is checked against what the program owns (the image's loaded segments
//! and initial stack, registered at boot as static ranges, and its memory maps, see
//! [`crate::mm`]) at the moment of each copy, and a failed check is EFAULT.
//!
//! Nothing here hands out a reference into program memory. A check and the copy it
//! guards run without a context switch in between (kernel code is never preempted, and
//! neither may block), so the memory cannot be unmapped between them; a call that
//! blocks (a pipe read waiting for data) copies after it wakes, through a [`UserBuf`]
//! that checks again. The types:
//!
//! - [`UserPtr<T>`]: one ABI record (`uk_abi` structs, integers) at an address;
//! - [`UserSlice`]: a byte range;
//! - [`UserBuf`]: the buffer of read/write or the iovec array of readv/writev, which
//!   implements the `Sink`/`Source` traits kernel objects read into and write from.

use crate::{Errno, KResult};
use alloc::vec::Vec;
use core::marker::PhantomData;
use core::mem::size_of;
use uk_abi::uio::{Iovec, Sink, Source, IOV_MAX, MAX_RW_COUNT};
use uk_abi::Record;

/// Declare `[start, end)` accessible to the program in the active address space (boot
/// does this for the image's PT_LOAD segments and the initial stack).
pub fn add_static_range(start: usize, end: usize, writable: bool) {
    crate::mm::active().add_static_range(start, end, writable);
}

/// The range containing `addr` in the active address space: (end, writable).
fn find(addr: usize) -> Option<(usize, bool)> {
    crate::mm::active().lookup(addr)
}

/// How many bytes from `addr` on (at most `len`) are program memory, writable if
/// `write`: the prefix a copy may touch.
fn accessible(addr: usize, len: usize, write: bool) -> usize {
    if addr == 0 {
        return 0;
    }
    let end = addr.saturating_add(len);
    let mut a = addr;
    while a < end {
        match find(a) {
            Some((rend, w)) if w || !write => a = rend,
            _ => break,
        }
    }
    a.min(end) - addr
}

/// How many bytes from `addr` on (at most `len`) the program could have written
/// itself: for calls that fill a buffer record by record and stop where it runs into
/// memory the program may not write (getdents64).
pub fn writable_prefix(addr: usize, len: usize) -> usize {
    accessible(addr, len, true)
}

/// Check that `[addr, addr+len)` is program memory, writable if `write`. For calls that
/// must refuse a bad pointer before they do anything irreversible; the copies check
/// again themselves.
pub fn check(addr: usize, len: usize, write: bool) -> KResult<()> {
    if len == 0 {
        return Ok(());
    }
    addr.checked_add(len).ok_or(Errno::EFAULT)?;
    if accessible(addr, len, write) == len {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

/// Copy `dst.len()` bytes from program memory at `addr` (checked now).
pub fn copy_in(addr: usize, dst: &mut [u8]) -> KResult<()> {
    check(addr, dst.len(), false)?;
    if !dst.is_empty() {
        // SAFETY: check() proved [addr, addr+len) is readable program memory, and nothing
        // can unmap it before this copy (no context switch in between; module docs).
        unsafe { core::ptr::copy(addr as *const u8, dst.as_mut_ptr(), dst.len()) };
    }
    Ok(())
}

/// Copy `src` into program memory at `addr` (checked now).
pub fn copy_out(addr: usize, src: &[u8]) -> KResult<()> {
    check(addr, src.len(), true)?;
    if !src.is_empty() {
        crate::mm::active().prepare_write(addr, src.len());
        // SAFETY: check() proved [addr, addr+len) is writable program memory, as above.
        unsafe { core::ptr::copy(src.as_ptr(), addr as *mut u8, src.len()) };
    }
    Ok(())
}

/// Copy as much of `src` to `addr` as is writable from there on; returns how much.
fn copy_out_prefix(addr: usize, src: &[u8]) -> usize {
    let n = accessible(addr, src.len(), true);
    // Cannot fail: the first n bytes were just found writable.
    let _ = copy_out(addr, &src[..n]);
    n
}

/// Copy as much of `[addr, addr + dst.len())` as is readable into `dst`; returns how
/// much.
fn copy_in_prefix(addr: usize, dst: &mut [u8]) -> usize {
    let n = accessible(addr, dst.len(), false);
    let _ = copy_in(addr, &mut dst[..n]);
    n
}

/// The address of a `T` in program memory: nothing is read or written until
/// [`UserPtr::read`] or [`UserPtr::write`], each of which checks at that moment.
pub struct UserPtr<T> {
    addr: usize,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for UserPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for UserPtr<T> {}

impl<T: Record> UserPtr<T> {
    pub const fn new(addr: usize) -> Self {
        UserPtr {
            addr,
            _t: PhantomData,
        }
    }

    pub const fn addr(&self) -> usize {
        self.addr
    }

    pub const fn is_null(&self) -> bool {
        self.addr == 0
    }

    /// `None` for a NULL pointer (the calls whose pointer arguments are optional).
    pub fn nonnull(addr: usize) -> Option<Self> {
        (addr != 0).then(|| Self::new(addr))
    }

    /// The `i`th `T` of an array starting here (EFAULT on overflow).
    pub fn at(&self, i: usize) -> KResult<Self> {
        let off = i.checked_mul(size_of::<T>()).ok_or(Errno::EFAULT)?;
        Ok(Self::new(self.addr.checked_add(off).ok_or(Errno::EFAULT)?))
    }

    /// Copy the `T` in (any alignment).
    pub fn read(&self) -> KResult<T> {
        let mut v = T::new_zeroed();
        copy_in(self.addr, v.as_mut_bytes())?;
        Ok(v)
    }

    /// Copy `v` out (any alignment).
    pub fn write(&self, v: &T) -> KResult<()> {
        copy_out(self.addr, v.as_bytes())
    }

    /// EFAULT unless a `T` could be written here now (before work that cannot be undone).
    pub fn check_writable(&self) -> KResult<()> {
        check(self.addr, size_of::<T>(), true)
    }
}

/// Copy a `T` from program memory at `addr` (any alignment).
pub fn read<T: Record>(addr: usize) -> KResult<T> {
    UserPtr::<T>::new(addr).read()
}

/// Copy `v` into program memory at `addr` (any alignment).
pub fn write<T: Record>(addr: usize, v: &T) -> KResult<()> {
    UserPtr::<T>::new(addr).write(v)
}

/// A byte range of program memory, checked at each copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserSlice {
    pub addr: usize,
    pub len: usize,
}

impl UserSlice {
    pub const fn new(addr: usize, len: usize) -> Self {
        UserSlice { addr, len }
    }

    /// Copy all of it into a new vector.
    pub fn to_vec(&self) -> KResult<Vec<u8>> {
        let mut v = Vec::new();
        v.try_reserve_exact(self.len).map_err(|_| Errno::ENOMEM)?;
        v.resize(self.len, 0);
        copy_in(self.addr, &mut v)?;
        Ok(v)
    }

    /// Copy `src` to byte `off` of the range.
    pub fn write_at(&self, off: usize, src: &[u8]) -> KResult<()> {
        let end = off.checked_add(src.len()).ok_or(Errno::EFAULT)?;
        if end > self.len {
            return Err(Errno::EFAULT);
        }
        copy_out(self.addr + off, src)
    }
}

/// A NUL-terminated string from program memory, at most `max` bytes (without the NUL),
/// copied: ENAMETOOLONG past that, EFAULT when it runs off program memory.
pub fn cstr(addr: usize, max: usize) -> KResult<Vec<u8>> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    let mut out = Vec::new();
    let mut a = addr;
    let mut chunk = [0u8; 256];
    loop {
        // Read up to the end of the current range or the chunk, whichever is first.
        let (rend, _) = find(a).ok_or(Errno::EFAULT)?;
        let n = (rend - a).min(chunk.len());
        copy_in(a, &mut chunk[..n])?;
        if let Some(i) = chunk[..n].iter().position(|&b| b == 0) {
            if out.len() + i > max {
                return Err(Errno::ENAMETOOLONG);
            }
            out.try_reserve(i).map_err(|_| Errno::ENOMEM)?;
            out.extend_from_slice(&chunk[..i]);
            return Ok(out);
        }
        if out.len() + n > max {
            return Err(Errno::ENAMETOOLONG);
        }
        out.try_reserve(n).map_err(|_| Errno::ENOMEM)?;
        out.extend_from_slice(&chunk[..n]);
        a += n;
    }
}

/// The buffer of a read or write: one range (read, write, recv) or the ranges of an
/// iovec array (readv, writev, recvmsg). It implements [`Sink`] and [`Source`], checking
/// program memory at each copy.
#[derive(Clone, Debug)]
pub struct UserBuf {
    segs: Segs,
    len: usize,
}

#[derive(Clone, Debug)]
enum Segs {
    One(UserSlice),
    Many(Vec<UserSlice>),
}

impl UserBuf {
    /// One range, shortened to [`MAX_RW_COUNT`] as Linux does.
    pub fn new(addr: usize, len: usize) -> Self {
        let len = len.min(MAX_RW_COUNT);
        UserBuf {
            segs: Segs::One(UserSlice::new(addr, len)),
            len,
        }
    }

    /// The ranges of the `count` iovecs at `iov`: EINVAL past [`IOV_MAX`] or when the
    /// lengths overflow `ssize_t`, EFAULT when the array itself is not readable. The
    /// ranges are not checked here (a call may fill the first before it reaches a bad
    /// one); the total is shortened to [`MAX_RW_COUNT`] as Linux does.
    pub fn from_iovec(iov: usize, count: usize) -> KResult<Self> {
        if count > IOV_MAX {
            return Err(Errno::EINVAL);
        }
        let base = UserPtr::<Iovec>::new(iov);
        let mut segs = Vec::new();
        segs.try_reserve_exact(count).map_err(|_| Errno::ENOMEM)?;
        let mut total = 0usize;
        for i in 0..count {
            let v = base.at(i)?.read()?;
            let len = usize::try_from(v.iov_len).map_err(|_| Errno::EINVAL)?;
            if len > isize::MAX as usize - total {
                return Err(Errno::EINVAL);
            }
            let len = len.min(MAX_RW_COUNT - total.min(MAX_RW_COUNT));
            total += len;
            if len > 0 {
                segs.push(UserSlice::new(v.iov_base as usize, len));
            }
        }
        Ok(UserBuf {
            segs: Segs::Many(segs),
            len: total,
        })
    }

    fn segs(&self) -> &[UserSlice] {
        match &self.segs {
            Segs::One(s) => core::slice::from_ref(s),
            Segs::Many(v) => v,
        }
    }

    /// The pieces of `[off, off+len)` as (address, length), in order; `None` when the
    /// range passes the end of the buffer.
    fn pieces(&self, off: usize, len: usize) -> Option<impl Iterator<Item = (usize, usize)> + '_> {
        let end = off.checked_add(len)?;
        if end > self.len {
            return None;
        }
        let mut at = 0usize;
        Some(self.segs().iter().filter_map(move |s| {
            let (s0, s1) = (at, at + s.len);
            at = s1;
            let (a, b) = (off.max(s0), end.min(s1));
            (a < b).then(|| (s.addr + (a - s0), b - a))
        }))
    }

    /// Whether this buffer could take or give all of `[off, off+len)` now.
    fn check(&self, off: usize, len: usize, write: bool) -> KResult<()> {
        for (a, n) in self.pieces(off, len).ok_or(Errno::EFAULT)? {
            check(a, n, write)?;
        }
        Ok(())
    }
}

impl Sink for UserBuf {
    fn len(&self) -> usize {
        self.len
    }

    fn write_at(&mut self, off: usize, src: &[u8]) -> KResult<()> {
        // All or nothing: check every piece first.
        self.check(off, src.len(), true)?;
        let mut done = 0;
        for (a, n) in self.pieces(off, src.len()).ok_or(Errno::EFAULT)? {
            copy_out(a, &src[done..done + n])?;
            done += n;
        }
        Ok(())
    }

    fn write_prefix(&mut self, off: usize, src: &[u8]) -> usize {
        let Some(pieces) = self.pieces(off, src.len()) else {
            return 0;
        };
        let mut done = 0;
        for (a, n) in pieces {
            let k = copy_out_prefix(a, &src[done..done + n]);
            done += k;
            if k < n {
                break;
            }
        }
        done
    }
}

impl Source for UserBuf {
    fn len(&self) -> usize {
        self.len
    }

    fn read_at(&self, off: usize, dst: &mut [u8]) -> KResult<()> {
        let mut done = 0;
        for (a, n) in self.pieces(off, dst.len()).ok_or(Errno::EFAULT)? {
            copy_in(a, &mut dst[done..done + n])?;
            done += n;
        }
        Ok(())
    }

    fn read_prefix(&self, off: usize, dst: &mut [u8]) -> usize {
        let Some(pieces) = self.pieces(off, dst.len()) else {
            return 0;
        };
        let mut done = 0;
        for (a, n) in pieces {
            let k = copy_in_prefix(a, &mut dst[done..done + n]);
            done += k;
            if k < n {
                break;
            }
        }
        done
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Make a leaked buffer and register it as program memory.
    pub(crate) fn user_buf(len: usize, writable: bool) -> usize {
        let v: &'static mut [u8] = Box::leak(vec![0u8; len].into_boxed_slice());
        let a = v.as_ptr() as usize;
        add_static_range(a, a + len, writable);
        a
    }

    /// The bytes at a leaked test buffer (test code may look directly).
    pub(crate) fn peek(addr: usize, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        copy_in(addr, &mut v).unwrap();
        v
    }

    #[test]
    fn checks_ranges() {
        let a = user_buf(64, true);
        let ro = user_buf(64, false);
        assert!(check(a, 64, true).is_ok());
        assert_eq!(check(a, 65, true), Err(Errno::EFAULT));
        assert_eq!(check(0, 1, false), Err(Errno::EFAULT));
        assert_eq!(check(usize::MAX - 2, 8, false), Err(Errno::EFAULT));
        assert!(check(ro, 64, false).is_ok());
        assert_eq!(check(ro, 1, true), Err(Errno::EFAULT));
        assert!(check(12345, 0, true).is_ok(), "empty ranges are fine");
        let stack_local = 5u64;
        assert_eq!(
            read::<u64>(&stack_local as *const u64 as usize),
            Err(Errno::EFAULT)
        );
    }

    #[test]
    fn records_and_strings() {
        let a = user_buf(32, true);
        write(a + 3, &0x1122_3344_5566_7788u64).unwrap();
        assert_eq!(read::<u64>(a + 3).unwrap(), 0x1122_3344_5566_7788);
        let ts = UserPtr::<uk_abi::time::Timespec>::new(a + 8);
        ts.write(&uk_abi::time::Timespec {
            tv_sec: 5,
            tv_nsec: 6,
        })
        .unwrap();
        assert_eq!(ts.read().unwrap().tv_nsec, 6);
        copy_out(a, b"hello\0").unwrap();
        assert_eq!(cstr(a, 100).unwrap(), b"hello");
        assert_eq!(cstr(a, 3), Err(Errno::ENAMETOOLONG));
        // No NUL before the end of program memory: EFAULT, not a read past it.
        let b = user_buf(4, true);
        copy_out(b, b"abcd").unwrap();
        assert_eq!(cstr(b, 100), Err(Errno::EFAULT));
        // A string longer than one copy chunk.
        let long = user_buf(1000, true);
        copy_out(long, &[b'x'; 999]).unwrap();
        assert_eq!(cstr(long, 4096).unwrap().len(), 999);
    }

    #[test]
    fn iovec_buffers_scatter_and_stop_at_bad_ranges() {
        let a = user_buf(8, true);
        let b = user_buf(8, true);
        let iov = user_buf(48, true);
        let v = [
            Iovec {
                iov_base: a as u64,
                iov_len: 3,
            },
            Iovec {
                iov_base: b as u64,
                iov_len: 5,
            },
            Iovec {
                iov_base: 16, // not program memory
                iov_len: 4,
            },
        ];
        for (i, x) in v.iter().enumerate() {
            write(iov + i * 16, x).unwrap();
        }
        let mut buf = UserBuf::from_iovec(iov, 3).unwrap();
        assert_eq!(Sink::len(&buf), 12);
        buf.write_at(1, b"abcdef").unwrap();
        assert_eq!(peek(a, 3), b"\0ab");
        assert_eq!(peek(b, 5), b"cdef\0");
        assert_eq!(buf.write_at(6, b"zzzz"), Err(Errno::EFAULT));
        assert_eq!(peek(b, 5), b"cdef\0", "all or nothing");
        assert_eq!(buf.write_prefix(6, b"123456"), 2);
        assert_eq!(peek(b, 5), b"cde12");
        let mut got = [0u8; 8];
        assert_eq!(buf.read_prefix(0, &mut got), 8);
        assert_eq!(&got, b"\0abcde12");
        assert_eq!(buf.read_at(4, &mut got), Err(Errno::EFAULT));
        assert_eq!(
            UserBuf::from_iovec(iov, IOV_MAX + 1).err(),
            Some(Errno::EINVAL)
        );
        assert_eq!(UserBuf::from_iovec(16, 1).err(), Some(Errno::EFAULT));
    }
}
