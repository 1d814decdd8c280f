//! The virtual file system: vnodes, mounts and path resolution, with the file systems
//! an image needs: ramfs (the usual root), devfs (/dev), cpio (the initrd, unpacked into
//! ramfs at boot) and hostfs (host directories on platforms that offer them).
//!
//! A file system is a graph of [`Node`]s. The namespace is the root node plus a mount
//! table that maps covered directories to the roots mounted on them. Path resolution
//! ([`path`]) walks it one component at a time, keeping the chain of directories it
//! came through ([`Loc`]) so that `..` never asks a file system for a parent: this is
//! also what keeps `..` from leaving a hostfs mount.
//!
//! Nothing here knows about descriptors or processes; uk-posix builds open files,
//! the working directory and the system call semantics on top.
#![cfg_attr(not(any(test, feature = "testing")), no_std)]

extern crate alloc;

pub mod cpio;
pub mod devfs;
pub mod hostfs;
pub mod pages;
pub mod path;
pub mod ramfs;
pub mod synth;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicUsize, Ordering};
pub use path::{Loc, Resolved};
use uk_abi::stat::TMPFS_MAGIC;
pub use uk_abi::stat::{Stat, Statfs, NAME_MAX, PATH_MAX};
use uk_abi::stat::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK};
pub use uk_abi::uio::{Sink, Source};
pub use uk_abi::{Errno, KResult};

/// Symlinks followed in one resolution before ELOOP (Linux's MAXSYMLINKS).
pub const MAX_SYMLINKS: usize = 40;

/// What kind of object a node is (the S_IFMT part of its mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Reg,
    Dir,
    Symlink,
    Chr,
    Blk,
    Fifo,
    Sock,
}

impl Kind {
    /// The S_IF* bits.
    pub fn mode_bits(self) -> u32 {
        match self {
            Kind::Reg => S_IFREG,
            Kind::Dir => S_IFDIR,
            Kind::Symlink => S_IFLNK,
            Kind::Chr => S_IFCHR,
            Kind::Blk => S_IFBLK,
            Kind::Fifo => S_IFIFO,
            Kind::Sock => S_IFSOCK,
        }
    }
    /// From S_IF* bits; unknown types read as regular files.
    pub fn from_mode(mode: u32) -> Kind {
        match mode & S_IFMT {
            S_IFDIR => Kind::Dir,
            S_IFLNK => Kind::Symlink,
            S_IFCHR => Kind::Chr,
            S_IFBLK => Kind::Blk,
            S_IFIFO => Kind::Fifo,
            S_IFSOCK => Kind::Sock,
            _ => Kind::Reg,
        }
    }
    /// The `d_type` of a directory entry (DT_*).
    pub fn dtype(self) -> u8 {
        uk_abi::stat::dtype_of(self.mode_bits())
    }
}

/// Attribute changes (chmod, chown, utimensat). `None` leaves a field alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// Permission bits only (07777).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub atime_ns: Option<i64>,
    pub mtime_ns: Option<i64>,
}

/// How a node is opened. `access` is O_RDONLY (0), O_WRONLY (1) or O_RDWR (2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenReq {
    pub access: u32,
    pub trunc: bool,
    pub append: bool,
    /// Permission bits for a created file (umask already applied).
    pub mode: u32,
}

impl OpenReq {
    pub fn readable(&self) -> bool {
        self.access & 3 != 1
    }
    pub fn writable(&self) -> bool {
        matches!(self.access & 3, 1 | 2)
    }
}

/// One directory entry as readdir reports it.
#[derive(Clone, Copy, Debug)]
pub struct DirEnt<'a> {
    pub ino: u64,
    pub kind: Kind,
    pub name: &'a [u8],
}

/// A vnode. Default methods give the errno Linux gives for an object of the wrong
/// kind, so each file system overrides what its nodes support.
///
/// Names passed to directory operations are single components: never empty, `.`, `..`
/// or containing `/` (path resolution guarantees it).
pub trait Node: Send + Sync + Any {
    /// What this node is. Cheap (no I/O).
    fn kind(&self) -> Kind;
    /// stat(2) attributes.
    fn attr(&self) -> KResult<Stat>;
    /// Identity of the file system instance (mount table key with [`Stat::ino`]).
    fn fs_id(&self) -> usize;
    /// (st_dev, st_ino), which never change for a node: file systems whose attr() costs
    /// I/O override this with cached values (mount-point checks call it on every lookup).
    fn dev_ino(&self) -> KResult<(u64, u64)> {
        self.attr().map(|a| (a.st_dev, a.st_ino))
    }
    /// For downcasting between nodes of one file system (link, rename).
    fn as_any(&self) -> &dyn Any;

    /// The child called `name`; ENOENT when there is none.
    fn lookup(&self, _name: &[u8]) -> KResult<Arc<dyn Node>> {
        Err(Errno::ENOTDIR)
    }
    /// Create the regular file `name` (EEXIST if anything has that name) and open it.
    fn create(&self, _name: &[u8], _req: &OpenReq) -> KResult<Arc<dyn Node>> {
        Err(Errno::ENOTDIR)
    }
    /// Open this node for I/O. Returns the node to read and write through (file systems
    /// whose open state is per-open, like hostfs, return a new one). O_TRUNC happens here.
    fn open(self: Arc<Self>, req: &OpenReq) -> KResult<Arc<dyn Node>>;
    /// mkdir(2) of a child.
    fn mkdir(&self, _name: &[u8], _mode: u32) -> KResult<()> {
        Err(Errno::ENOTDIR)
    }
    /// mknod(2) of a special child: a FIFO or a socket node (`kind`), with permission
    /// bits `mode` (umask applied). EEXIST when the name is taken. Regular files are
    /// made through [`Node::create`]; device nodes are refused above the VFS.
    fn mknod(&self, _name: &[u8], _kind: Kind, _mode: u32) -> KResult<()> {
        Err(Errno::ENOTDIR)
    }
    /// symlink(2) of a child.
    fn symlink(&self, _name: &[u8], _target: &[u8]) -> KResult<()> {
        Err(Errno::ENOTDIR)
    }
    /// link(2): a new name for `target` (a node of this file system, not a directory).
    fn link(&self, _name: &[u8], _target: &Arc<dyn Node>) -> KResult<()> {
        Err(Errno::ENOTDIR)
    }
    /// unlink(2) (`dir` false) or rmdir(2) (`dir` true) of a child.
    fn unlink(&self, _name: &[u8], _dir: bool) -> KResult<()> {
        Err(Errno::ENOTDIR)
    }
    /// rename(2) of child `name` to `new_name` in `new_dir` (same file system).
    /// `flags`: RENAME_NOREPLACE (1), RENAME_EXCHANGE (2).
    fn rename(
        &self,
        _name: &[u8],
        _new_dir: &Arc<dyn Node>,
        _new_name: &[u8],
        _flags: u32,
    ) -> KResult<()> {
        Err(Errno::ENOTDIR)
    }
    /// Directory entries from position `cookie` (0 = the start, including `.` and `..`).
    /// `f` gets each entry and the cookie of the entry after it, and returns false to stop.
    fn readdir(&self, _cookie: u64, _f: &mut dyn FnMut(DirEnt<'_>, u64) -> bool) -> KResult<()> {
        Err(Errno::ENOTDIR)
    }
    /// readlink(2).
    fn readlink(&self) -> KResult<Vec<u8>> {
        Err(Errno::EINVAL)
    }
    /// For devfs aliases of the process's descriptors (/dev/stdin and friends): the
    /// descriptor this symlink stands for.
    fn fd_alias(&self) -> Option<u32> {
        None
    }
    /// Read at `off` into `buf` (program memory or a kernel buffer: a [`Sink`] checks
    /// at each copy). As for a regular file on Linux, a buffer that runs into memory it
    /// may not write gives a short count, or EFAULT when not one byte fits. Devices
    /// ignore the offset.
    fn read_at(&self, _off: u64, _buf: &mut dyn Sink) -> KResult<usize> {
        Err(Errno::EISDIR)
    }
    /// Write `buf` at `off`: a short count (or EFAULT) when the source runs into memory
    /// it may not read. Devices ignore the offset.
    fn write_at(&self, _off: u64, _buf: &dyn Source) -> KResult<usize> {
        Err(Errno::EISDIR)
    }
    /// The page cache a shared map of this file shows, with the pages
    /// `[first, first + count)` present (filled with the file's bytes; zeros past its
    /// end). Every node of one file answers with the same cache. ENODEV: the file
    /// cannot be mapped shared.
    fn map_pages(&self, _first: u64, _count: u64) -> KResult<Arc<pages::FilePages>> {
        Err(Errno::ENODEV)
    }
    /// Write the cached pages `[first, first + count)` back to where the file lives
    /// (msync, munmap of a writable shared map), never past the file's end. Files that
    /// live in their page cache (ramfs) have nothing to do.
    fn sync_pages(&self, _first: u64, _count: u64) -> KResult<()> {
        Ok(())
    }
    /// Append atomically at the end; returns bytes written and the new end.
    fn append(&self, buf: &dyn Source) -> KResult<(usize, u64)> {
        let end = self.attr()?.st_size.max(0) as u64;
        let n = self.write_at(end, buf)?;
        Ok((n, end + n as u64))
    }
    /// truncate(2).
    fn truncate(&self, _len: u64) -> KResult<()> {
        Err(Errno::EISDIR)
    }
    /// fcntl(F_GET_SEALS): the file's seals. EINVAL for files that cannot have any (as
    /// on Linux outside tmpfs/memfd).
    fn seals(&self) -> KResult<u32> {
        Err(Errno::EINVAL)
    }
    /// fcntl(F_ADD_SEALS): add `seals`; `writably_mapped` tells whether a writable
    /// shared map of the file exists (F_SEAL_WRITE is EBUSY then).
    fn add_seals(&self, _seals: u32, _writably_mapped: &dyn Fn() -> bool) -> KResult<()> {
        Err(Errno::EINVAL)
    }
    /// fsync(2)/fdatasync(2).
    fn sync(&self, _data_only: bool) -> KResult<()> {
        Ok(())
    }
    /// chmod, chown, utimensat.
    fn setattr(&self, _a: &SetAttr) -> KResult<()> {
        Err(Errno::EPERM)
    }
    /// statfs(2).
    fn statfs(&self) -> KResult<Statfs> {
        Ok(Statfs {
            f_type: TMPFS_MAGIC,
            f_bsize: 4096,
            f_frsize: 4096,
            f_namelen: NAME_MAX as i64,
            f_fsid: Statfs::fsid(self.fs_id() as u64),
            ..Statfs::default()
        })
    }
    /// True for device nodes whose offset means nothing (reads ignore it; lseek
    /// succeeds and returns 0, as for /dev/null on Linux).
    fn is_device(&self) -> bool {
        false
    }
    /// False for streams that have no position at all (terminals): lseek, pread and
    /// pwrite give ESPIPE, as Linux's tty driver does.
    fn seekable(&self) -> bool {
        true
    }
}

/// Wall time for timestamps (ns since the epoch): the platform's clock, or 0 before a
/// platform is registered (host unit tests).
pub fn now_ns() -> i64 {
    uk_plat::try_get().map_or(0, |p| p.wall_ns())
}

/// A fresh file-system instance number (fs_id and a synthetic st_dev).
pub fn new_fs_id() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A mounted file system: the directory it covers and its root.
struct Mount {
    covered_fs: usize,
    covered_dev: u64,
    covered_ino: u64,
    root: Arc<dyn Node>,
}

static ROOT: spin::Mutex<Option<Arc<dyn Node>>> = spin::Mutex::new(None);
static MOUNTS: spin::Mutex<Vec<Mount>> = spin::Mutex::new(Vec::new());

/// Make `root` the root of the namespace (and forget earlier mounts).
pub fn set_root(root: Arc<dyn Node>) {
    *ROOT.lock() = Some(root);
    MOUNTS.lock().clear();
}

/// The root of the namespace; ENOENT before boot mounted one.
pub fn root() -> KResult<Arc<dyn Node>> {
    ROOT.lock().clone().ok_or(Errno::ENOENT)
}

/// Mount `fs_root` on the directory at absolute `path` (resolved from the root).
pub fn mount(path: &[u8], fs_root: Arc<dyn Node>) -> KResult<()> {
    let start = Loc::root()?;
    let r = path::resolve(&start, path, true)?;
    let node = r.node.ok_or(Errno::ENOENT)?;
    if node.kind() != Kind::Dir {
        return Err(Errno::ENOTDIR);
    }
    let a = node.attr()?;
    MOUNTS.lock().push(Mount {
        covered_fs: node.fs_id(),
        covered_dev: a.st_dev,
        covered_ino: a.st_ino,
        root: fs_root,
    });
    Ok(())
}

/// The root mounted on `node`, if it is a covered directory (the last mount wins).
pub(crate) fn mounted_on(node: &Arc<dyn Node>) -> Option<Arc<dyn Node>> {
    if node.kind() != Kind::Dir {
        return None;
    }
    let m = MOUNTS.lock();
    if m.is_empty() {
        return None;
    }
    let fs = node.fs_id();
    if !m.iter().any(|x| x.covered_fs == fs) {
        return None;
    }
    let (dev, ino) = node.dev_ino().ok()?;
    m.iter()
        .rev()
        .find(|x| x.covered_fs == fs && x.covered_ino == ino && x.covered_dev == dev)
        .map(|x| x.root.clone())
}

/// True when `node` is the root of a mount (or of the namespace): rename/rmdir of a
/// mount point is EBUSY.
pub fn is_mount_root(node: &Arc<dyn Node>) -> bool {
    let same = |r: &Arc<dyn Node>| Arc::as_ptr(r) as *const u8 == Arc::as_ptr(node) as *const u8;
    if ROOT.lock().as_ref().is_some_and(same) {
        return true;
    }
    MOUNTS.lock().iter().any(|m| same(&m.root))
}

/// Serialises tests that replace the global namespace.
#[cfg(test)]
pub(crate) static TEST_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Memory for host-run tests of code that makes files (here, and through the `testing`
/// feature in crates above): file contents are page frames from lib/alloc, which needs
/// a region; this gives it one (16 MiB of leaked heap), once per process.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    pub fn memory() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let v: &'static mut [u8] = Box::leak(vec![0u8; 16 << 20].into_boxed_slice());
            let start = (v.as_ptr() as usize + 4095) & !4095;
            // SAFETY: a leaked buffer nothing else uses.
            unsafe {
                uk_alloc::PAGES.lock().add_region(uk_plat::MemRegion {
                    start,
                    len: (16 << 20) - 4096,
                })
            };
        });
    }
}
