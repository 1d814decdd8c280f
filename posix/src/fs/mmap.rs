//! Memory maps of files.
//!
//! MAP_SHARED of a regular file shows the file's page cache
//! ([`uk_vfs::pages::FilePages`]) in the program's address space: the map is a
//! [`FileMap`] backing handed to [`crate::mm::AddressSpace::mmap_shared`], which has
//! the platform alias the cache's frames. Stores through the map, read(2)/write(2) and
//! every other map of the file therefore meet in the same memory at once; msync(2) and
//! munmap(2) only carry the pages to where the file lives (nothing for ramfs, host
//! pwrite for hostfs). The kernel writes the file's frames at their own addresses,
//! never through a program's map, so a read-only map never stands in its way.
//!
//! MAP_PRIVATE (and any map of a device) is anonymous memory filled with the file's
//! bytes: later writes to the file are not seen through it (Linux shows them until
//! the first store into a page; programs cannot rely on that).

use uk_abi::fcntl::{F_SEAL_FUTURE_WRITE, F_SEAL_WRITE};
use uk_abi::mman::MAP_TYPE;
use uk_abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_WRITE};

use super::OpenFile;
use crate::mm::MapBacking;
use crate::{user, Errno, KResult};
use alloc::sync::Arc;
use alloc::vec::Vec;
use uk_vfs::pages::FilePages;
use uk_vfs::{Kind, Node};

const PAGE: usize = uk_abi::PAGE_SIZE;

/// What a shared map of a file shows: the file's page cache.
struct FileMap {
    node: Arc<dyn Node>,
    pages: Arc<FilePages>,
    path: Option<Vec<u8>>,
}

impl MapBacking for FileMap {
    fn frame(&self, idx: u64) -> KResult<usize> {
        if let Some(f) = self.pages.get(idx) {
            return Ok(f);
        }
        self.node.map_pages(idx, 1)?;
        self.pages.get(idx).ok_or(Errno::EIO)
    }
    fn sync(&self, first: u64, count: u64) -> KResult<()> {
        self.node.sync_pages(first, count)
    }
    fn map_added(&self) {
        self.pages.map_added();
    }
    fn map_removed(&self) {
        // Pages a truncate left for the maps go with the last one.
        let size = self.node.attr().ok().map(|a| a.st_size.max(0) as u64);
        self.pages.map_removed(size);
    }
    fn name(&self) -> Vec<u8> {
        self.path.clone().unwrap_or_default()
    }
    fn id(&self) -> usize {
        Arc::as_ptr(&self.pages) as *const u8 as usize
    }
}

/// mmap(2): anonymous memory comes from the caller's address space, file maps are made
/// here on top of it.
pub fn mmap(addr: usize, len: usize, prot: u32, flags: u32, fd_: i32, off: u64) -> KResult<usize> {
    let len = crate::mm::check_mmap(len, prot, flags, off)?;
    if flags & MAP_ANONYMOUS != 0 {
        return crate::process::current().mm.mmap(addr, len, prot, flags);
    }
    mmap_file(addr, len, prot, flags, fd_, off)
}

/// munmap(2): writable shared maps in the range carry their pages to the file first
/// (done by the address space, which owns the maps).
pub fn munmap(addr: usize, len: usize) -> KResult<()> {
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
    let space = &crate::process::current().mm;
    if shared && node.kind() == Kind::Reg {
        // A memfd sealed against writes takes no writable shared map (Linux's
        // memfd_check_seals_mmap).
        if prot & PROT_WRITE != 0
            && node
                .seals()
                .is_ok_and(|s| s & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0)
        {
            return Err(Errno::EPERM);
        }
        let (first, count) = (off / PAGE as u64, (len / PAGE) as u64);
        let pages = node.map_pages(first, count)?;
        let backing = Arc::new(FileMap {
            node,
            pages,
            path: of.path(),
        });
        return space.mmap_shared(addr, len, prot, flags, backing, first);
    }
    let anon_flags = (flags & !MAP_TYPE) | MAP_PRIVATE | MAP_ANONYMOUS;
    let a = space.mmap(addr, len, prot | PROT_WRITE, anon_flags)?;
    let filled = super::read_for_mmap(fd_, off, &mut user::UserBuf::new(a, len));
    if let Err(e) = filled {
        let _ = space.munmap(a, len);
        return Err(e);
    }
    if prot & PROT_WRITE == 0 {
        space.mprotect(a, len, prot)?;
    }
    Ok(a)
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
    crate::process::current().mm.msync(addr, len)
}
