//! Files and directories: POSIX semantics over lib/vfs.
//!
//! Path-taking calls resolve relative paths from the working directory or a directory
//! descriptor (`dirfd`, AT_FDCWD), then act on the vnode. Descriptors from open(2) are
//! [`OpenFile`]s. Permissions are not enforced by ukit itself (one program, one
//! user); on hostfs the host enforces its own.

use uk_abi::fcntl::{
    AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_REMOVEDIR, AT_SYMLINK_FOLLOW,
    AT_SYMLINK_NOFOLLOW, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW,
    O_PATH, O_RDONLY, O_TMPFILE, O_TRUNC, O_WRONLY,
};
use uk_abi::fcntl::{UTIME_NOW, UTIME_OMIT};

pub mod copy;
pub mod dnotify;
pub mod lock;
pub mod memfd;
pub mod mmap;
mod mount;
mod open_file;
pub mod proc;
pub mod space;

pub use mount::{boot_mount, boot_option, RootSpec};
pub use open_file::OpenFile;

use crate::file::{File, Sink, Stat};
use crate::{Errno, KResult};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use uk_abi::uio::SinkFrom;
use uk_vfs::{path, Kind, Loc, Node, OpenReq, Resolved, SetAttr};

/// The working directory (the root until boot or chdir sets another).
pub fn cwd() -> KResult<Loc> {
    if let Some(l) = crate::process::current().fs.cwd.lock().clone() {
        return Ok(l);
    }
    root()
}

/// Where the process's absolute paths start: the namespace root, or the directory
/// chroot(2) chose.
pub fn root() -> KResult<Loc> {
    if let Some(l) = crate::process::current().fs.root.lock().clone() {
        return Ok(l);
    }
    Loc::root()
}

/// chroot(2): absolute paths start at directory `path` from now on. As on Linux the
/// working directory is left where it is (a program that wants confinement chdirs
/// into the new root itself), and `..` from a working directory outside the new root
/// still climbs the namespace. The image runs as root, so the call is allowed.
/// Limit: an absolute symlink met while resolving a path relative to a working
/// directory outside the new root starts from the namespace root.
pub fn chroot(path: &[u8]) -> KResult<()> {
    let r = resolve_at(AT_FDCWD, path, true)?;
    let node = r.node.clone().ok_or(Errno::ENOENT)?;
    if node.kind() != Kind::Dir {
        return Err(Errno::ENOTDIR);
    }
    *crate::process::current().fs.root.lock() = Some(Loc::at_root(node));
    Ok(())
}

/// Set the working directory without checks (boot).
pub fn set_cwd(l: Loc) {
    *crate::process::current().fs.cwd.lock() = Some(l);
}

/// Where a path given with `dirfd` starts.
fn start(dirfd: i32, path: &[u8]) -> KResult<Loc> {
    if path.first() == Some(&b'/') {
        return root();
    }
    if dirfd == AT_FDCWD {
        return cwd();
    }
    let f = crate::process::current().fds.get(dirfd)?;
    let of = OpenFile::of(&f).ok_or(Errno::ENOTDIR)?;
    of.loc.clone().ok_or(Errno::ENOTDIR)
}

/// Resolve `path` relative to `dirfd`.
pub fn resolve_at(dirfd: i32, path: &[u8], follow: bool) -> KResult<Resolved> {
    let s = start(dirfd, path)?;
    path::resolve(&s, path, follow)
}

/// The node a `(dirfd, path, flags)` triple names, honouring AT_EMPTY_PATH and
/// AT_SYMLINK_NOFOLLOW; descriptor aliases (/dev/stdout) give that descriptor's file.
enum Target {
    Node(Arc<dyn Node>),
    File(Arc<dyn File>),
}

fn target_at(dirfd: i32, path: &[u8], flags: u32) -> KResult<Target> {
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        if dirfd == AT_FDCWD {
            return Ok(Target::Node(cwd()?.node().clone()));
        }
        let f = crate::process::current().fds.get(dirfd)?;
        return Ok(match OpenFile::of(&f) {
            Some(of) => Target::Node(of.node.clone()),
            None => Target::File(f),
        });
    }
    let r = resolve_at(dirfd, path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    if let Some(fdn) = r.alias {
        let f = crate::process::current().fds.get(fdn as i32)?;
        return Ok(match OpenFile::of(&f) {
            Some(of) => Target::Node(of.node.clone()),
            None => Target::File(f),
        });
    }
    r.node.map(Target::Node).ok_or(Errno::ENOENT)
}

/// stat(2), lstat(2), newfstatat(2).
pub fn stat_at(dirfd: i32, path: &[u8], flags: u32) -> KResult<Stat> {
    if flags
        & !(AT_SYMLINK_NOFOLLOW
            | AT_EMPTY_PATH
            | AT_NO_AUTOMOUNT
            | uk_abi::fcntl::AT_STATX_SYNC_TYPE)
        != 0
    {
        return Err(Errno::EINVAL);
    }
    match target_at(dirfd, path, flags)? {
        Target::Node(n) => Ok(open_file::to_stat(&n.attr()?)),
        Target::File(f) => f.stat(),
    }
}

fn req_of(flags: u32, mode: u32) -> OpenReq {
    OpenReq {
        access: flags & O_ACCMODE,
        trunc: flags & O_TRUNC != 0,
        append: flags & O_APPEND != 0,
        mode: mode & 0o7777 & !crate::process::current().fs.umask(),
    }
}

/// Open an already-resolved node as a new description.
fn open_node(node: Arc<dyn Node>, loc: Option<Loc>, flags: u32) -> KResult<OpenFile> {
    let kind = node.kind();
    if flags & O_PATH != 0 {
        let loc = if kind == Kind::Dir { loc } else { None };
        let keep = O_PATH | (flags & (O_DIRECTORY | O_NOFOLLOW));
        return Ok(OpenFile::new(node, loc, keep));
    }
    if flags & O_DIRECTORY != 0 && kind != Kind::Dir {
        return Err(Errno::ENOTDIR);
    }
    match kind {
        Kind::Dir if flags & O_ACCMODE != O_RDONLY || flags & O_CREAT != 0 => {
            return Err(Errno::EISDIR)
        }
        Kind::Symlink => return Err(Errno::ELOOP),
        Kind::Sock => return Err(Errno::ENXIO),
        Kind::Fifo | Kind::Blk => return Err(Errno::EOPNOTSUPP),
        _ => {}
    }
    if flags & O_ACCMODE == 3 {
        return Err(Errno::EINVAL);
    }
    let opened = node.open(&req_of(flags, 0))?;
    let loc = if kind == Kind::Dir { loc } else { None };
    Ok(OpenFile::new(opened, loc, flags))
}

/// open(2)/openat(2): returns the new descriptor.
pub fn openat(dirfd: i32, path: &[u8], flags: u32, mode: u32) -> KResult<i32> {
    let cloexec = flags & O_CLOEXEC != 0;
    let f = open_file_at(dirfd, path, flags, mode)?;
    crate::process::current().install(f, cloexec)
}

/// The open file open(2) would install.
pub fn open_file_at(dirfd: i32, path: &[u8], flags: u32, mode: u32) -> KResult<Arc<dyn File>> {
    if flags & O_TMPFILE == O_TMPFILE {
        return Err(Errno::EOPNOTSUPP);
    }
    let creat = flags & O_CREAT != 0 && flags & O_PATH == 0;
    let excl = creat && flags & O_EXCL != 0;
    let follow = flags & O_NOFOLLOW == 0 && !excl;
    let r = resolve_at(dirfd, path, follow)?;
    if let Some(n) = r.alias {
        let f = crate::process::current().fds.get(n as i32)?;
        return match OpenFile::of(&f) {
            Some(of) => Ok(Arc::new(
                open_node(of.node.clone(), of.loc.clone(), flags)?.with_path(of.path()),
            )),
            None => Ok(f),
        };
    }
    match r.node.clone() {
        None => {
            if !creat {
                return Err(Errno::ENOENT);
            }
            if r.trailing_slash {
                return Err(Errno::EISDIR);
            }
            if flags & O_DIRECTORY != 0 {
                return Err(Errno::EINVAL);
            }
            let name = r.name.as_deref().ok_or(Errno::EISDIR)?;
            let node = r.parent.node().create(name, &req_of(flags, mode))?;
            dnotify::event(r.parent.node(), uk_abi::fcntl::DN_CREATE);
            let path = Some(r.path());
            Ok(Arc::new(OpenFile::new(node, None, flags).with_path(path)))
        }
        Some(node) => {
            if excl {
                return Err(Errno::EEXIST);
            }
            if node.kind() == Kind::Symlink && flags & O_PATH == 0 {
                return Err(Errno::ELOOP);
            }
            if node.kind() == Kind::Chr && flags & O_PATH == 0 {
                // Pseudo-terminals: /dev/ptmx makes a pair, /dev/pts/N is a slave.
                if let Some(f) = crate::pty::open_device(&node, flags)? {
                    return Ok(f);
                }
                // /dev/tty on a console that is a terminal (devfs's open says ENXIO
                // otherwise): the console itself, with its terminal ioctls.
                if node.attr()?.st_rdev == 5 << 8 && node.is_device() {
                    node.clone().open(&req_of(flags, 0))?;
                    return Ok(Arc::new(crate::console::Console::controlling()));
                }
            }
            if node.kind() == Kind::Fifo && flags & O_PATH == 0 {
                if flags & O_DIRECTORY != 0 {
                    return Err(Errno::ENOTDIR);
                }
                return Ok(crate::pipe::open_fifo(node, flags)?);
            }
            let loc = r.loc();
            Ok(Arc::new(
                open_node(node, loc, flags)?.with_path(Some(r.path())),
            ))
        }
    }
}

/// The open file behind `fd`, for calls that need one (EBADF otherwise).
pub fn open_file(fd_: i32) -> KResult<(Arc<dyn File>, bool)> {
    let f = crate::process::current().fds.get(fd_)?;
    let is = OpenFile::of(&f).is_some();
    Ok((f, is))
}

/// lseek(2) with SEEK_DATA (`hole` false) or SEEK_HOLE: ramfs and hostfs files are
/// reported as all data (holes read as zeros either way); ENXIO at or past the end.
pub fn seek_data_hole(fd_: i32, off: i64, hole: bool) -> KResult<u64> {
    let f = crate::process::current().fds.get(fd_)?;
    let Some(of) = OpenFile::of(&f) else {
        return Err(Errno::ESPIPE);
    };
    if of.is_path() {
        return Err(Errno::EBADF);
    }
    if of.node.kind() != Kind::Reg {
        return Err(Errno::EINVAL);
    }
    let size = of.node.attr()?.st_size.max(0) as u64;
    if off < 0 || off as u64 >= size {
        return Err(Errno::ENXIO);
    }
    let at = if hole { size } else { off as u64 };
    of.set_pos(at);
    Ok(at)
}

/// mkdirat(2).
pub fn mkdirat(dirfd: i32, path: &[u8], mode: u32) -> KResult<()> {
    let r = resolve_at(dirfd, path, false)?;
    if r.node.is_some() {
        return Err(Errno::EEXIST);
    }
    let name = r.name.as_deref().ok_or(Errno::EEXIST)?;
    let mode = mode & 0o7777 & !crate::process::current().fs.umask();
    r.parent.node().mkdir(name, mode)?;
    dnotify::event(r.parent.node(), uk_abi::fcntl::DN_CREATE);
    Ok(())
}

/// What a path names, for keying kernel objects by node (AF_UNIX sockets): its kind,
/// file system instance, st_dev and st_ino. `follow`: follow a final symlink.
pub fn node_identity(dirfd: i32, path: &[u8], follow: bool) -> KResult<(Kind, usize, u64, u64)> {
    let flags = if follow { 0 } else { AT_SYMLINK_NOFOLLOW };
    match target_at(dirfd, path, flags)? {
        Target::Node(n) => {
            let (dev, ino) = n.dev_ino()?;
            Ok((n.kind(), n.fs_id(), dev, ino))
        }
        // A descriptor alias that is not a file of the VFS (a pipe, a socket).
        Target::File(_) => Err(Errno::ECONNREFUSED),
    }
}

/// mknodat(2): a regular file, a FIFO or a socket node at `path`, with the permission
/// bits of `mode` less the umask. Device nodes are EPERM: ukit has no drivers behind
/// device numbers (the devices it has are in /dev), so it refuses them as Linux refuses
/// an unprivileged caller. A directory type is EPERM and an unknown type EINVAL, as on
/// Linux.
pub fn mknodat(dirfd: i32, path: &[u8], mode: u32) -> KResult<()> {
    use uk_abi::stat::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK};
    let kind = match mode & S_IFMT {
        0 | S_IFREG => Kind::Reg,
        S_IFIFO => Kind::Fifo,
        S_IFSOCK => Kind::Sock,
        S_IFCHR | S_IFBLK | S_IFDIR => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    };
    let r = resolve_at(dirfd, path, false)?;
    if r.node.is_some() || r.alias.is_some() {
        return Err(Errno::EEXIST);
    }
    let name = r.name.as_deref().ok_or(Errno::EEXIST)?;
    let perm = mode & 0o7777 & !crate::process::current().fs.umask();
    if kind == Kind::Reg {
        let req = OpenReq {
            mode: perm,
            ..OpenReq::default()
        };
        r.parent.node().create(name, &req)?;
    } else {
        r.parent.node().mknod(name, kind, perm)?;
    }
    dnotify::event(r.parent.node(), uk_abi::fcntl::DN_CREATE);
    Ok(())
}

/// The literal last component of a path (trailing slashes ignored).
fn last_component(path: &[u8]) -> &[u8] {
    let t = path.len() - path.iter().rev().take_while(|b| **b == b'/').count();
    let p = &path[..t];
    match p.iter().rposition(|b| *b == b'/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

/// unlinkat(2) (AT_REMOVEDIR: rmdir).
pub fn unlinkat(dirfd: i32, path: &[u8], flags: u32) -> KResult<()> {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let dir = flags & AT_REMOVEDIR != 0;
    let r = resolve_at(dirfd, path, false)?;
    let Some(name) = r.name.as_deref() else {
        return Err(if !dir {
            Errno::EISDIR
        } else {
            match last_component(path) {
                b"." => Errno::EINVAL,
                b".." => Errno::ENOTEMPTY,
                _ => Errno::EBUSY,
            }
        });
    };
    let node = r.node.as_ref().ok_or(Errno::ENOENT)?;
    if !dir && r.trailing_slash {
        return Err(if node.kind() == Kind::Dir {
            Errno::EISDIR
        } else {
            Errno::ENOTDIR
        });
    }
    r.parent.node().unlink(name, dir)?;
    dnotify::event(r.parent.node(), uk_abi::fcntl::DN_DELETE);
    Ok(())
}

/// renameat2(2).
pub fn renameat2(olddirfd: i32, old: &[u8], newdirfd: i32, new: &[u8], flags: u32) -> KResult<()> {
    use uk_abi::fcntl::{RENAME_EXCHANGE as EXCHANGE, RENAME_NOREPLACE as NOREPLACE};
    if flags & !(NOREPLACE | EXCHANGE) != 0 || flags == NOREPLACE | EXCHANGE {
        return Err(Errno::EINVAL);
    }
    let ro = resolve_at(olddirfd, old, false)?;
    let rn = resolve_at(newdirfd, new, false)?;
    let (Some(oname), Some(nname)) = (ro.name.as_deref(), rn.name.as_deref()) else {
        if flags & NOREPLACE != 0 && ro.name.is_some() {
            return Err(Errno::EEXIST);
        }
        return Err(Errno::EBUSY);
    };
    let src = ro.node.clone().ok_or(Errno::ENOENT)?;
    if flags & EXCHANGE != 0 && rn.node.is_none() {
        return Err(Errno::ENOENT);
    }
    if src.kind() != Kind::Dir && (ro.trailing_slash || rn.trailing_slash) {
        return Err(Errno::ENOTDIR);
    }
    let (od, nd) = (ro.parent.node(), rn.parent.node());
    if od.fs_id() != nd.fs_id() {
        return Err(Errno::EXDEV);
    }
    let same = |a: &Arc<dyn Node>, b: &Arc<dyn Node>| {
        Arc::as_ptr(a) as *const u8 == Arc::as_ptr(b) as *const u8
    };
    // A directory cannot move below itself.
    if src.kind() == Kind::Dir && rn.parent.contains(&|n| same(n, &src)) {
        return Err(Errno::EINVAL);
    }
    if let (Some(dst), true) = (&rn.node, flags & EXCHANGE != 0) {
        if dst.kind() == Kind::Dir && ro.parent.contains(&|n| same(n, dst)) {
            return Err(Errno::EINVAL);
        }
    }
    od.rename(oname, nd, nname, flags)?;
    dnotify::event(od, uk_abi::fcntl::DN_RENAME);
    if !same(od, nd) {
        dnotify::event(nd, uk_abi::fcntl::DN_RENAME);
    }
    Ok(())
}

/// linkat(2).
pub fn linkat(olddirfd: i32, old: &[u8], newdirfd: i32, new: &[u8], flags: u32) -> KResult<()> {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let target = if old.is_empty() && flags & AT_EMPTY_PATH != 0 {
        match target_at(olddirfd, old, AT_EMPTY_PATH)? {
            Target::Node(n) => n,
            Target::File(_) => return Err(Errno::EXDEV),
        }
    } else {
        let ro = resolve_at(olddirfd, old, flags & AT_SYMLINK_FOLLOW != 0)?;
        if ro.trailing_slash {
            return Err(Errno::ENOTDIR);
        }
        ro.node.ok_or(Errno::ENOENT)?
    };
    if target.kind() == Kind::Dir {
        return Err(Errno::EPERM);
    }
    let rn = resolve_at(newdirfd, new, false)?;
    if rn.node.is_some() {
        return Err(Errno::EEXIST);
    }
    let name = rn.name.as_deref().ok_or(Errno::EEXIST)?;
    if rn.trailing_slash {
        return Err(Errno::ENOENT);
    }
    if rn.parent.node().fs_id() != target.fs_id() {
        return Err(Errno::EXDEV);
    }
    rn.parent.node().link(name, &target)?;
    dnotify::event(rn.parent.node(), uk_abi::fcntl::DN_CREATE);
    Ok(())
}

/// symlinkat(2).
pub fn symlinkat(target: &[u8], newdirfd: i32, path: &[u8]) -> KResult<()> {
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let r = resolve_at(newdirfd, path, false)?;
    if r.node.is_some() {
        return Err(Errno::EEXIST);
    }
    let name = r.name.as_deref().ok_or(Errno::EEXIST)?;
    if r.trailing_slash {
        return Err(Errno::ENOENT);
    }
    r.parent.node().symlink(name, target)?;
    dnotify::event(r.parent.node(), uk_abi::fcntl::DN_CREATE);
    Ok(())
}

/// readlinkat(2): the target (the caller truncates to its buffer).
pub fn readlinkat(dirfd: i32, path: &[u8]) -> KResult<Vec<u8>> {
    let node = match target_at(dirfd, path, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)? {
        Target::Node(n) => n,
        Target::File(_) => return Err(Errno::EINVAL),
    };
    if node.kind() != Kind::Symlink {
        return Err(if path.is_empty() {
            Errno::ENOENT
        } else {
            Errno::EINVAL
        });
    }
    node.readlink()
}

/// truncate(2).
pub fn truncate(path: &[u8], len: i64) -> KResult<()> {
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let r = resolve_at(AT_FDCWD, path, true)?;
    let node = r.node.ok_or(Errno::ENOENT)?;
    match node.kind() {
        Kind::Dir => return Err(Errno::EISDIR),
        Kind::Reg => {}
        _ => return Err(Errno::EINVAL),
    }
    let req = OpenReq {
        access: O_WRONLY,
        ..OpenReq::default()
    };
    node.open(&req)?.truncate(len as u64)
}

/// ftruncate(2).
pub fn ftruncate(fd_: i32, len: i64) -> KResult<()> {
    let f = crate::process::current().fds.get(fd_)?;
    let of = OpenFile::of(&f).ok_or(Errno::EINVAL)?;
    if of.is_path() {
        return Err(Errno::EBADF);
    }
    if len < 0 || !of.writable() || of.node.kind() != Kind::Reg {
        return Err(Errno::EINVAL);
    }
    of.node.truncate(len as u64)
}

/// fsync(2), fdatasync(2).
pub fn fsync(fd_: i32, data_only: bool) -> KResult<()> {
    let f = crate::process::current().fds.get(fd_)?;
    match OpenFile::of(&f) {
        Some(of) if of.is_path() => Err(Errno::EBADF),
        Some(of) => of.node.sync(data_only),
        None => Err(Errno::EINVAL),
    }
}

/// chdir(2).
pub fn chdir(path: &[u8]) -> KResult<()> {
    let r = resolve_at(AT_FDCWD, path, true)?;
    let node = r.node.as_ref().ok_or(Errno::ENOENT)?;
    if node.kind() != Kind::Dir {
        return Err(Errno::ENOTDIR);
    }
    set_cwd(r.loc().ok_or(Errno::ENOENT)?);
    Ok(())
}

/// fchdir(2).
pub fn fchdir(fd_: i32) -> KResult<()> {
    let f = crate::process::current().fds.get(fd_)?;
    let of = OpenFile::of(&f).ok_or(Errno::ENOTDIR)?;
    set_cwd(of.loc.clone().ok_or(Errno::ENOTDIR)?);
    Ok(())
}

/// getcwd(2): the path, without the NUL.
pub fn getcwd() -> KResult<Vec<u8>> {
    let c = cwd()?;
    if c.node().attr().map(|a| a.st_nlink).unwrap_or(1) == 0 {
        return Err(Errno::ENOENT); // removed: Linux says "(unreachable)"; musl wants ENOENT
    }
    Ok(c.path())
}

/// faccessat2(2). The image runs as root (see ids.rs): read and write are always
/// granted, execute when any execute bit is set (or on a directory).
pub fn faccessat(dirfd: i32, path: &[u8], mode: u32, flags: u32) -> KResult<()> {
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let node = match target_at(dirfd, path, flags)? {
        Target::Node(n) => n,
        Target::File(_) => return Ok(()),
    };
    let a = node.attr()?;
    if mode & 1 != 0 && a.st_mode & 0o111 == 0 && node.kind() != Kind::Dir {
        return Err(Errno::EACCES);
    }
    Ok(())
}

/// umask(2): set the mask, return the old one.
pub fn umask(mask: u32) -> u32 {
    crate::process::current()
        .fs
        .umask
        .swap(mask & 0o777, Ordering::Relaxed)
}

fn setattr_at(dirfd: i32, path: &[u8], flags: u32, a: &SetAttr) -> KResult<()> {
    match target_at(dirfd, path, flags)? {
        Target::Node(n) => n.setattr(a)?,
        Target::File(_) => return Ok(()),
    }
    attrib_event(dirfd, path, flags);
    Ok(())
}

/// DN_ATTRIB for the directory holding `path` (a child's attributes changed by path).
/// Resolved again only while some directory is watched.
fn attrib_event(dirfd: i32, path: &[u8], flags: u32) {
    if path.is_empty() || !dnotify::active() {
        return;
    }
    if let Ok(r) = resolve_at(dirfd, path, flags & AT_SYMLINK_NOFOLLOW == 0) {
        if r.name.is_some() {
            dnotify::event(r.parent.node(), uk_abi::fcntl::DN_ATTRIB);
        }
    }
}

/// fchmodat(2) (flags: AT_SYMLINK_NOFOLLOW is EOPNOTSUPP on a symlink, as on Linux).
pub fn fchmodat(dirfd: i32, path: &[u8], mode: u32, flags: u32) -> KResult<()> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if let Target::Node(n) = target_at(dirfd, path, flags)? {
        if n.kind() == Kind::Symlink {
            return Err(Errno::EOPNOTSUPP);
        }
        n.setattr(&SetAttr {
            mode: Some(mode & 0o7777),
            ..SetAttr::default()
        })?;
        attrib_event(dirfd, path, flags);
    }
    Ok(())
}

/// fchmod(2).
pub fn fchmod(fd_: i32, mode: u32) -> KResult<()> {
    let f = crate::process::current().fds.get(fd_)?;
    if OpenFile::of(&f).is_some_and(|o| o.is_path()) {
        return Err(Errno::EBADF);
    }
    fchmodat(fd_, b"", mode, AT_EMPTY_PATH)
}

/// fchownat(2); -1 leaves an id unchanged.
pub fn fchownat(dirfd: i32, path: &[u8], uid: u32, gid: u32, flags: u32) -> KResult<()> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let a = SetAttr {
        uid: (uid != u32::MAX).then_some(uid),
        gid: (gid != u32::MAX).then_some(gid),
        ..SetAttr::default()
    };
    setattr_at(dirfd, path, flags, &a)
}

/// utimensat(2). `times`: None = both now; `path` None = the descriptor itself.
pub fn utimensat(
    dirfd: i32,
    path: Option<&[u8]>,
    times: Option<[(i64, i64); 2]>,
    flags: u32,
) -> KResult<()> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let now = uk_plat::get().wall_ns();
    let conv = |t: (i64, i64)| -> KResult<Option<i64>> {
        match t.1 {
            UTIME_OMIT => Ok(None),
            UTIME_NOW => Ok(Some(now)),
            n if (0..1_000_000_000).contains(&n) => {
                Ok(Some(t.0.saturating_mul(1_000_000_000).saturating_add(n)))
            }
            _ => Err(Errno::EINVAL),
        }
    };
    let (at, mt) = match times {
        None => (Some(now), Some(now)),
        Some([a, m]) => (conv(a)?, conv(m)?),
    };
    let sa = SetAttr {
        atime_ns: at,
        mtime_ns: mt,
        ..SetAttr::default()
    };
    match path {
        None => {
            if dirfd == AT_FDCWD {
                return Err(Errno::EFAULT);
            }
            setattr_at(dirfd, b"", AT_EMPTY_PATH, &sa)
        }
        Some(p) => {
            if at.is_none() && mt.is_none() {
                // Linux still resolves the path (ENOENT) but changes nothing.
                target_at(dirfd, p, flags)?;
                return Ok(());
            }
            setattr_at(dirfd, p, flags, &sa)
        }
    }
}

/// statfs(2) / fstatfs(2) facts.
pub fn statfs_at(dirfd: i32, path: &[u8], flags: u32) -> KResult<uk_vfs::Statfs> {
    match target_at(dirfd, path, flags)? {
        Target::Node(n) => n.statfs(),
        Target::File(_) => Ok(uk_vfs::Statfs {
            f_type: 0x1cd1, // devpts / anonymous
            f_bsize: 4096,
            f_frsize: 4096,
            f_namelen: 255,
            ..uk_vfs::Statfs::default()
        }),
    }
}

/// getdents64(2): fill `out` (at most `max` bytes) with `linux_dirent64` records.
pub fn getdents64(fd_: i32, max: usize) -> KResult<Vec<u8>> {
    let f = crate::process::current().fds.get(fd_)?;
    let of = OpenFile::of(&f).ok_or(Errno::ENOTDIR)?;
    if of.is_path() {
        return Err(Errno::EBADF);
    }
    if of.node.kind() != Kind::Dir {
        return Err(Errno::ENOTDIR);
    }
    let mut out = Vec::new();
    let mut pos = of.pos();
    let mut too_small = false;
    of.node.readdir(pos, &mut |e, next| {
        use uk_abi::stat::Dirent64Head;
        use uk_abi::IntoBytes;
        const HEAD: usize = core::mem::size_of::<Dirent64Head>();
        // The head, the name, its NUL, padding to 8 bytes.
        let reclen = (HEAD + e.name.len() + 1).next_multiple_of(8);
        if out.len() + reclen > max {
            too_small = out.is_empty();
            return false;
        }
        let head = Dirent64Head {
            d_ino: e.ino,
            d_off: next as i64,
            d_reclen: reclen as u16,
            d_type: e.kind.dtype(),
        };
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(e.name);
        out.resize(out.len() + reclen - HEAD - e.name.len(), 0);
        pos = next;
        true
    })?;
    if too_small {
        return Err(Errno::EINVAL);
    }
    of.set_pos(pos);
    Ok(out)
}

/// sendfile(2) between files: copy up to `count` bytes from `in_fd` (at `*off` when
/// given, advancing it; else at the descriptor's offset) to `out_fd`.
pub fn sendfile(out_fd: i32, in_fd: i32, off: Option<&mut u64>, count: usize) -> KResult<usize> {
    let inf = crate::process::current().fds.get(in_fd)?;
    let outf = crate::process::current().fds.get(out_fd)?;
    if let Some(o) = OpenFile::of(&inf) {
        if !o.readable() {
            return Err(Errno::EBADF);
        }
        if o.node.kind() == Kind::Dir {
            return Err(Errno::EINVAL);
        }
    }
    if let Some(o) = OpenFile::of(&outf) {
        if !o.writable() {
            return Err(Errno::EBADF);
        }
        if o.flags() & O_APPEND != 0 {
            return Err(Errno::EINVAL);
        }
    }
    let mut buf = alloc::vec![0u8; count.clamp(1, 64 * 1024)];
    let mut done = 0usize;
    let mut pos = off.as_ref().map(|o| **o);
    while done < count {
        let want = (count - done).min(buf.len());
        let r = match pos {
            Some(p) => inf.pread(&mut &mut buf[..want], p),
            None => inf.read(&mut &mut buf[..want]),
        };
        let n = match r {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let w = match outf.write(&&buf[..n]) {
            Ok(w) => w,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        done += w;
        if let Some(p) = pos.as_mut() {
            *p += w as u64;
        } else if w < n {
            // Give back what was read but not written.
            let _ = inf.seek(-((n - w) as i64), crate::file::Whence::Cur);
        }
        if w < n {
            break;
        }
    }
    if let (Some(o), Some(p)) = (off, pos) {
        *o = p;
    }
    Ok(done)
}

/// Copy file bytes for a file mapping: `buf` (a fresh, zeroed map) gets the file's bytes
/// from `off`. EACCES when the descriptor is not readable, ENODEV when it is not a
/// mappable file.
pub fn read_for_mmap(fd_: i32, off: u64, buf: &mut dyn Sink) -> KResult<()> {
    let f = crate::process::current().fds.get(fd_)?;
    let of = OpenFile::of(&f).ok_or(Errno::ENODEV)?;
    if of.is_path() {
        return Err(Errno::EBADF);
    }
    if !of.readable() {
        return Err(Errno::EACCES);
    }
    match of.node.kind() {
        Kind::Reg => {}
        Kind::Chr if of.node.is_device() => return Ok(()), // /dev/zero: already zero
        _ => return Err(Errno::ENODEV),
    }
    let mut done = 0;
    while done < buf.len() {
        let mut rest = SinkFrom {
            sink: &mut *buf,
            off: done,
        };
        let n = of.node.read_at(off + done as u64, &mut rest)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
