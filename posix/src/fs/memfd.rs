//! memfd_create(2): an anonymous regular file in memory.
//!
//! The file is a ramfs file that no directory holds: it is made in a private ramfs
//! instance and unlinked at once, so it lives exactly as long as descriptors (and
//! shared maps) refer to it. It behaves as any ramfs file (read, write, ftruncate,
//! mmap MAP_SHARED of its page cache); /proc/self/fd shows `/memfd:NAME (deleted)` as on
//! Linux. File seals: with MFD_ALLOW_SEALING the file starts with none and takes
//! them with fcntl(F_ADD_SEALS) ([`add_seals`]); without it, it has F_SEAL_SEAL from
//! the start, as Linux's. The ramfs node enforces them (writes, truncates); shared
//! writable maps are refused here and in posix/src/fs/mmap.rs.

use super::OpenFile;
use crate::{Errno, KResult};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use uk_abi::fcntl::{O_LARGEFILE, O_RDWR};
use uk_abi::mman::{MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_HUGETLB, MFD_NAME_MAX};
use uk_vfs::{Node, OpenReq};

/// The directory memfd files are made in (and unlinked from at once).
static DIR: spin::Mutex<Option<Arc<dyn Node>>> = spin::Mutex::new(None);
static NEXT: AtomicU64 = AtomicU64::new(1);

/// memfd_create(2): a new descriptor on a fresh anonymous file named `name` (shown in
/// /proc/self/fd only). EINVAL for unknown flags or a name longer than Linux allows.
/// MFD_HUGETLB is EINVAL too (no huge pages), as on a kernel without hugetlbfs.
pub fn memfd_create(name: &[u8], flags: u32) -> KResult<i32> {
    if flags & !(MFD_CLOEXEC | MFD_ALLOW_SEALING) != 0 || flags & MFD_HUGETLB != 0 {
        return Err(Errno::EINVAL);
    }
    if name.len() > MFD_NAME_MAX {
        return Err(Errno::EINVAL);
    }
    let dir = DIR
        .lock()
        .get_or_insert_with(|| uk_vfs::ramfs::RamFs::new().root())
        .clone();
    let mut tmp = Vec::from(&b"memfd-"[..]);
    let mut n = NEXT.fetch_add(1, Ordering::Relaxed);
    loop {
        tmp.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let req = OpenReq {
        access: O_RDWR,
        mode: 0o777,
        ..OpenReq::default()
    };
    let node = dir.create(&tmp, &req)?;
    dir.unlink(&tmp, false)?;
    if flags & MFD_ALLOW_SEALING != 0 {
        if let Some(r) = node.as_any().downcast_ref::<uk_vfs::ramfs::RamNode>() {
            r.allow_sealing();
        }
    }
    let mut path = Vec::from(&b"/memfd:"[..]);
    path.extend_from_slice(name);
    path.extend_from_slice(b" (deleted)");
    let f = OpenFile::new(node, None, O_RDWR | O_LARGEFILE).with_path(Some(path));
    crate::process::current().install(Arc::new(f), flags & MFD_CLOEXEC != 0)
}

/// fcntl(F_GET_SEALS) of `fd`: EINVAL for a file that takes no seals.
pub fn get_seals(fd: i32) -> KResult<u32> {
    let f = crate::process::current().fds.get(fd)?;
    let of = OpenFile::of(&f).ok_or(Errno::EINVAL)?;
    of.node.seals()
}

/// fcntl(F_ADD_SEALS) of `fd`, with Linux's errors: EINVAL for a file that takes no
/// seals or unknown bits, EPERM when the descriptor is not open for writing or the
/// file has F_SEAL_SEAL, EBUSY for F_SEAL_WRITE while a writable shared map of the
/// file exists in any process.
pub fn add_seals(fd: i32, seals: u32) -> KResult<()> {
    let f = crate::process::current().fds.get(fd)?;
    let of = OpenFile::of(&f).ok_or(Errno::EINVAL)?;
    of.node.seals()?;
    if !of.writable() {
        return Err(Errno::EPERM);
    }
    let pages = of.node.map_pages(0, 0)?;
    let id = Arc::as_ptr(&pages) as *const u8 as usize;
    let mapped = || crate::process::all().iter().any(|p| p.mm.maps_writable(id));
    of.node.add_seals(seals, &mapped)
}
