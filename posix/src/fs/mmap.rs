//! Memory maps of files.
//!
//! A file map is anonymous memory filled with the file's bytes. MAP_PRIVATE is exactly
//! that. MAP_SHARED additionally remembers the file and writes the map's bytes back on
//! msync(2) and munmap(2) (clipped to the file's size: a map never grows a file).
//! Limit (documented in docs/filesystems.md): a shared map is a copy, so write(2) to the
//! file after mmap is not seen through the map, and two shared maps of one file do not
//! see each other's stores until written back and mapped again.

use uk_abi::mman::MAP_TYPE;
use uk_abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_WRITE};

use super::OpenFile;
use crate::{user, Errno, KResult};
use alloc::sync::Arc;
use alloc::vec::Vec;
use uk_vfs::{Kind, Node};

const PAGE: usize = uk_abi::PAGE_SIZE;

struct Shared {
    start: usize,
    len: usize,
    node: Arc<dyn Node>,
    off: u64,
    /// (fs, dev, ino): hostfs opens make new node objects for one file.
    key: Key,
}

type Key = (usize, u64, u64);

fn key_of(node: &Arc<dyn Node>) -> Option<Key> {
    let (dev, ino) = node.dev_ino().ok()?;
    Some((node.fs_id(), dev, ino))
}

/// A write of `len` bytes at `off` reached the file through a descriptor (or a
/// write-back): copy those bytes (read back from the file) into the shared maps of that
/// file, so that the maps see writes as on Linux.
pub(crate) fn file_written(node: &Arc<dyn Node>, off: u64, len: usize) {
    if SHARED.lock().is_empty() || len == 0 {
        return;
    }
    let Some(key) = key_of(node) else { return };
    let mut data = alloc::vec![0u8; len];
    let Ok(n) = node.read_at(off, &mut &mut data[..]) else {
        return;
    };
    let data = &data[..n];
    let end = off + data.len() as u64;
    // (address in the map, length, offset within `data`) of each overlap.
    let targets: Vec<(usize, usize, usize)> = SHARED
        .lock()
        .iter()
        .filter(|s| s.key == key && s.off < end && off < s.off + s.len as u64)
        .map(|s| {
            let a = off.max(s.off);
            let b = end.min(s.off + s.len as u64);
            (
                s.start + (a - s.off) as usize,
                (b - a) as usize,
                (a - off) as usize,
            )
        })
        .collect();
    for (addr, len, from) in targets {
        if crate::mm::active().lookup(addr).is_none()
            || crate::mm::active().lookup(addr + len - 1).is_none()
        {
            continue;
        }
        // SAFETY: [addr, addr+len) lies inside a live map of this process (checked just
        // above; one CPU, nothing unmaps it meanwhile); `copy` allows the source to be
        // this very map (write-back). Maps may be read-only to the
        // program, which is why this does not go through user::slice_mut.
        unsafe { core::ptr::copy(data[from..from + len].as_ptr(), addr as *mut u8, len) };
    }
}

static SHARED: spin::Mutex<Vec<Shared>> = spin::Mutex::new(Vec::new());

/// mmap(2): anonymous memory comes from the caller's address space, file maps are made
/// here on top of it.
pub fn mmap(addr: usize, len: usize, prot: u32, flags: u32, fd_: i32, off: u64) -> KResult<usize> {
    let len = crate::mm::check_mmap(len, prot, flags, off)?;
    if flags & MAP_ANONYMOUS != 0 {
        return crate::process::current().mm.mmap(addr, len, prot, flags);
    }
    mmap_file(addr, len, prot, flags, fd_, off)
}

/// munmap(2): shared file maps in the range are written back first.
pub fn munmap(addr: usize, len: usize) -> KResult<()> {
    before_unmap(addr, len);
    crate::process::current().mm.munmap(addr, len)
}

/// mmap(2) of a descriptor (`len` is already page-rounded and `off` page-aligned).
pub fn mmap_file(
    addr: usize,
    len: usize,
    prot: u32,
    flags: u32,
    fd_: i32,
    off: u64,
) -> KResult<usize> {
    let f = crate::process::current().fds.get(fd_)?;
    let Some(of) = OpenFile::of(&f) else {
        return Err(Errno::ENODEV);
    };
    if of.is_path() {
        return Err(Errno::EBADF);
    }
    if !of.readable() {
        return Err(Errno::EACCES);
    }
    let shared = flags & MAP_TYPE != MAP_PRIVATE;
    if shared && prot & PROT_WRITE != 0 && !of.writable() {
        return Err(Errno::EACCES);
    }
    let node = of.node.clone();
    match node.kind() {
        Kind::Reg => {}
        Kind::Chr if node.is_device() => {}
        Kind::Dir => return Err(Errno::ENODEV),
        _ => return Err(Errno::EACCES),
    }
    off.checked_add(len as u64).ok_or(Errno::EOVERFLOW)?;
    let anon_flags = (flags & !MAP_TYPE) | MAP_PRIVATE | MAP_ANONYMOUS;
    let space = &crate::process::current().mm;
    let a = space.mmap(addr, len, prot | PROT_WRITE, anon_flags)?;
    let filled = super::read_for_mmap(fd_, off, &mut user::UserBuf::new(a, len));
    if let Err(e) = filled {
        let _ = space.munmap(a, len);
        return Err(e);
    }
    if prot & PROT_WRITE == 0 {
        space.mprotect(a, len, prot)?;
    }
    if shared && node.kind() == Kind::Reg {
        // A fixed map may replace (part of) an older shared map: forget that part.
        forget(a, a + len, false);
        let key = key_of(&node).ok_or(Errno::ENODEV)?;
        SHARED.lock().push(Shared {
            start: a,
            len,
            node,
            off,
            key,
        });
    }
    let _ = MAP_SHARED;
    Ok(a)
}

/// Write back the shared maps overlapping [start, end), and forget them when
/// `unmap`. Returns EINVAL-free; write-back errors are reported to msync only.
fn write_back(start: usize, end: usize) -> KResult<()> {
    let list: Vec<(usize, usize, Arc<dyn Node>, u64)> = SHARED
        .lock()
        .iter()
        .filter(|s| s.start < end && start < s.start + s.len)
        .map(|s| (s.start, s.len, s.node.clone(), s.off))
        .collect();
    let mut res = Ok(());
    for (s, l, node, off) in list {
        let a = s.max(start);
        let b = (s + l).min(end);
        let data = match user::UserSlice::new(a, b - a).to_vec() {
            Ok(d) => d,
            Err(_) => continue, // unmapped meanwhile
        };
        if let Err(e) = super::write_back_mmap(&node, off + (a - s) as u64, &data) {
            res = Err(e);
        }
    }
    res
}

fn forget(start: usize, end: usize, write: bool) {
    if write {
        let _ = write_back(start, end);
    }
    let mut l = SHARED.lock();
    let mut keep = Vec::new();
    for s in l.drain(..) {
        let (s0, s1) = (s.start, s.start + s.len);
        if s1 <= start || end <= s0 {
            keep.push(s);
            continue;
        }
        if s0 < start {
            keep.push(Shared {
                start: s0,
                len: start - s0,
                node: s.node.clone(),
                off: s.off,
                key: s.key,
            });
        }
        if end < s1 {
            keep.push(Shared {
                start: end,
                len: s1 - end,
                node: s.node.clone(),
                off: s.off + (end - s0) as u64,
                key: s.key,
            });
        }
    }
    *l = keep;
}

/// munmap(2) hook: shared file maps in the range are written back first.
pub fn before_unmap(start: usize, len: usize) {
    if SHARED.lock().is_empty() {
        return;
    }
    forget(start, start.saturating_add(len), true);
}

/// msync(2).
pub fn msync(addr: usize, len: usize, flags: u32) -> KResult<()> {
    use uk_abi::mman::{MS_ASYNC, MS_INVALIDATE, MS_SYNC};
    if !addr.is_multiple_of(PAGE) || flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MS_ASYNC != 0 && flags & MS_SYNC != 0 {
        return Err(Errno::EINVAL);
    }
    let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
    // Every page of the range must be mapped.
    let mut a = addr;
    while a < end {
        if crate::mm::active().lookup(a).is_none() {
            return Err(Errno::ENOMEM);
        }
        a += PAGE;
    }
    write_back(addr, end)
}
