//! hostfs: a host directory mounted into the image, through the platform's
//! [`uk_plat::HostFs`] capability (linuxu).
//!
//! Each node holds a host descriptor: a path-only one (O_PATH) for nodes found by
//! lookup, a readable/writable one for opened files. Every host operation names one
//! component relative to a held directory descriptor, with O_NOFOLLOW; `..` and
//! symlinks are handled by path resolution in the image's own namespace. So nothing
//! the program does can reach a host file outside the mounted directory.

use uk_abi::fcntl::UTIME_OMIT;
use uk_abi::fcntl::{O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_PATH, O_RDONLY, O_TRUNC};

use crate::pages::FilePages;
use crate::{DirEnt, Errno, KResult, Kind, Node, OpenReq, SetAttr, Sink, Source, Stat, Statfs};
use alloc::sync::{Arc, Weak};
use alloc::vec;
use alloc::vec::Vec;
use core::any::Any;
use litemap::LiteMap;
use uk_plat::HostFs;

/// A host descriptor, closed when the last node using it goes away.
struct HostFd {
    host: &'static dyn HostFs,
    fd: i32,
}

impl Drop for HostFd {
    fn drop(&mut self) {
        self.host.close(self.fd);
    }
}

/// A hostfs node.
pub struct HostNode {
    host: &'static dyn HostFs,
    fs: usize,
    fd: Arc<HostFd>,
    /// Opened for I/O (not O_PATH).
    io: bool,
    kind: Kind,
    /// Host (st_dev, st_ino), fixed for the node's life.
    id: (u64, u64),
    /// The directory holding this node and its name there (None for the mount root):
    /// operations that must not go through a path-only descriptor use them.
    parent: Option<(Arc<HostFd>, Vec<u8>)>,
}

/// The page caches of host files that some program maps shared, by (file system,
/// st_dev, st_ino): every node of one file finds the same cache. A cache lives as long
/// as a map shows it; while it does, reads see its pages (stores through a map are
/// newer than the host file until written back) and writes update them.
#[allow(clippy::type_complexity)]
static CACHES: spin::Mutex<LiteMap<(usize, u64, u64), Weak<FilePages>>> =
    spin::Mutex::new(LiteMap::new());

/// Most bytes one host read or write moves (a larger request takes several).
const IO_CHUNK: usize = 256 * 1024;

fn kind_of(st: &Stat) -> Kind {
    Kind::from_mode(st.st_mode)
}

fn hnode(n: &Arc<dyn Node>) -> Option<&HostNode> {
    n.as_any().downcast_ref::<HostNode>()
}

/// Mount the host directory `host_path`: returns the root node of a new hostfs.
pub fn mount_dir(host: &'static dyn HostFs, host_path: &[u8]) -> KResult<Arc<dyn Node>> {
    let fd = host.open_dir(host_path)?;
    let fd = Arc::new(HostFd { host, fd });
    let st = host.fstat(fd.fd)?;
    if kind_of(&st) != Kind::Dir {
        return Err(Errno::ENOTDIR);
    }
    Ok(Arc::new(HostNode {
        host,
        fs: crate::new_fs_id(),
        fd,
        io: false,
        kind: Kind::Dir,
        id: (st.st_dev, st.st_ino),
        parent: None,
    }))
}

impl HostNode {
    fn cache_key(&self) -> (usize, u64, u64) {
        (self.fs, self.id.0, self.id.1)
    }

    /// The live page cache of this file, if a map shows one.
    fn cache(&self) -> Option<Arc<FilePages>> {
        let mut c = CACHES.lock();
        let key = self.cache_key();
        let live = c.get(&key).and_then(Weak::upgrade);
        if live.is_none() {
            c.remove(&key);
        }
        live
    }

    fn child(&self, fd: i32, name: &[u8], io: bool) -> KResult<Arc<HostNode>> {
        let fd = Arc::new(HostFd {
            host: self.host,
            fd,
        });
        let st = self.host.fstat(fd.fd)?;
        Ok(Arc::new(HostNode {
            host: self.host,
            fs: self.fs,
            fd,
            io,
            kind: kind_of(&st),
            id: (st.st_dev, st.st_ino),
            parent: Some((self.fd.clone(), name.to_vec())),
        }))
    }

    fn same_fs<'a>(&self, other: &'a Arc<dyn Node>) -> KResult<&'a HostNode> {
        match hnode(other) {
            Some(h) if h.fs == self.fs => Ok(h),
            _ => Err(Errno::EXDEV),
        }
    }

    fn io_fd(&self) -> KResult<i32> {
        if self.io {
            Ok(self.fd.fd)
        } else {
            Err(Errno::EBADF)
        }
    }

    /// (directory descriptor, name) addressing this node for *at() calls.
    fn at(&self) -> (i32, &[u8]) {
        let dot: &'static [u8] = b".";
        match &self.parent {
            Some((p, n)) => (p.fd, n),
            None => (self.fd.fd, dot),
        }
    }
}

impl Node for HostNode {
    fn kind(&self) -> Kind {
        self.kind
    }

    fn attr(&self) -> KResult<Stat> {
        self.host.fstat(self.fd.fd)
    }

    fn fs_id(&self) -> usize {
        self.fs
    }

    fn dev_ino(&self) -> KResult<(u64, u64)> {
        Ok(self.id)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn lookup(&self, name: &[u8]) -> KResult<Arc<dyn Node>> {
        if self.kind != Kind::Dir {
            return Err(Errno::ENOTDIR);
        }
        let fd = self.host.openat(self.fd.fd, name, O_PATH | O_CLOEXEC, 0)?;
        Ok(self.child(fd, name, false)?)
    }

    fn create(&self, name: &[u8], req: &OpenReq) -> KResult<Arc<dyn Node>> {
        let mut flags = O_CREAT | O_EXCL | O_CLOEXEC | (req.access & 3);
        if req.append {
            flags |= O_APPEND;
        }
        let fd = self.host.openat(self.fd.fd, name, flags, req.mode)?;
        Ok(self.child(fd, name, true)?)
    }

    fn open(self: Arc<Self>, req: &OpenReq) -> KResult<Arc<dyn Node>> {
        let mut flags = O_CLOEXEC | (req.access & 3);
        if req.trunc {
            flags |= O_TRUNC;
        }
        if req.append {
            flags |= O_APPEND;
        }
        let (dir, name): (i32, &[u8]) = if self.kind == Kind::Dir {
            flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
            (self.fd.fd, b".")
        } else {
            match &self.parent {
                Some((p, n)) => (p.fd, n),
                None => return Err(Errno::EIO),
            }
        };
        let fd = self.host.openat(dir, name, flags, 0)?;
        let fd = Arc::new(HostFd {
            host: self.host,
            fd,
        });
        Ok(Arc::new(HostNode {
            host: self.host,
            fs: self.fs,
            fd,
            io: true,
            kind: self.kind,
            id: self.id,
            parent: self.parent.clone(),
        }))
    }

    fn mkdir(&self, name: &[u8], mode: u32) -> KResult<()> {
        self.host.mkdirat(self.fd.fd, name, mode)
    }

    fn mknod(&self, name: &[u8], kind: Kind, mode: u32) -> KResult<()> {
        if !matches!(kind, Kind::Fifo | Kind::Sock) {
            return Err(Errno::EPERM);
        }
        self.host
            .mknodat(self.fd.fd, name, kind.mode_bits() | (mode & 0o7777))
    }

    fn symlink(&self, name: &[u8], target: &[u8]) -> KResult<()> {
        self.host.symlinkat(target, self.fd.fd, name)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Node>) -> KResult<()> {
        let t = self.same_fs(target)?;
        let Some((pdir, pname)) = &t.parent else {
            return Err(Errno::EPERM);
        };
        self.host.linkat(pdir.fd, pname, self.fd.fd, name)
    }

    fn unlink(&self, name: &[u8], dir: bool) -> KResult<()> {
        self.host.unlinkat(self.fd.fd, name, dir)
    }

    fn rename(
        &self,
        name: &[u8],
        new_dir: &Arc<dyn Node>,
        new_name: &[u8],
        flags: u32,
    ) -> KResult<()> {
        let nd = self.same_fs(new_dir)?;
        self.host
            .renameat(self.fd.fd, name, nd.fd.fd, new_name, flags)
    }

    fn readdir(&self, cookie: u64, f: &mut dyn FnMut(DirEnt<'_>, u64) -> bool) -> KResult<()> {
        if self.kind != Kind::Dir {
            return Err(Errno::ENOTDIR);
        }
        let fd = self
            .host
            .openat(self.fd.fd, b".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)?;
        let fd = HostFd {
            host: self.host,
            fd,
        };
        let mut buf = vec![0u8; 4096];
        let mut pos = cookie;
        loop {
            let n = self.host.getdents64(fd.fd, pos, &mut buf)?;
            if n == 0 {
                return Ok(());
            }
            let mut off = 0;
            while off + 19 <= n {
                let ino = u64::from_le_bytes(buf[off..off + 8].try_into().unwrap_or([0; 8]));
                let next = u64::from_le_bytes(buf[off + 8..off + 16].try_into().unwrap_or([0; 8]));
                let reclen = u16::from_le_bytes([buf[off + 16], buf[off + 17]]) as usize;
                let dtype = buf[off + 18];
                if reclen < 19 || off + reclen > n {
                    return Err(Errno::EIO);
                }
                let name = &buf[off + 19..off + reclen];
                let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())];
                let kind = match dtype {
                    1 => Kind::Fifo,
                    2 => Kind::Chr,
                    4 => Kind::Dir,
                    6 => Kind::Blk,
                    10 => Kind::Symlink,
                    12 => Kind::Sock,
                    _ => Kind::Reg,
                };
                if !f(DirEnt { ino, kind, name }, next) {
                    return Ok(());
                }
                pos = next;
                off += reclen;
            }
        }
    }

    fn readlink(&self) -> KResult<Vec<u8>> {
        if self.kind != Kind::Symlink {
            return Err(Errno::EINVAL);
        }
        let mut buf = vec![0u8; crate::PATH_MAX];
        let n = self.host.readlink(self.fd.fd, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn read_at(&self, off: u64, buf: &mut dyn Sink) -> KResult<usize> {
        if self.kind == Kind::Dir {
            return Err(Errno::EISDIR);
        }
        let fd = self.io_fd()?;
        let cache = self.cache();
        // The host reads into a kernel buffer; the program's buffer is only written
        // through the sink, which checks it at that moment.
        let mut chunk = vec![0u8; buf.len().min(IO_CHUNK)];
        let mut done = 0;
        while done < buf.len() {
            let want = (buf.len() - done).min(chunk.len());
            let at = off.checked_add(done as u64).ok_or(Errno::EINVAL)?;
            let n = match self.host.pread(fd, &mut chunk[..want], at) {
                Ok(n) => n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            if let Some(c) = &cache {
                c.overlay(at, &mut chunk[..n]);
            }
            let k = if done == 0 {
                uk_abi::uio::give(buf, 0, &chunk[..n])?
            } else {
                buf.write_prefix(done, &chunk[..n])
            };
            done += k;
            if n < want || k < n {
                break;
            }
        }
        Ok(done)
    }

    fn write_at(&self, off: u64, buf: &dyn Source) -> KResult<usize> {
        if self.kind == Kind::Dir {
            return Err(Errno::EISDIR);
        }
        let fd = self.io_fd()?;
        let cache = self.cache();
        let mut chunk = vec![0u8; buf.len().min(IO_CHUNK)];
        let mut done = 0;
        while done < buf.len() {
            let want = (buf.len() - done).min(chunk.len());
            let k = buf.read_prefix(done, &mut chunk[..want]);
            if k == 0 {
                return if done == 0 {
                    Err(Errno::EFAULT)
                } else {
                    Ok(done)
                };
            }
            let at = off.checked_add(done as u64).ok_or(Errno::EINVAL)?;
            let n = match self.host.pwrite(fd, &chunk[..k], at) {
                Ok(n) => n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            if let Some(c) = &cache {
                c.update(at, &chunk[..n]);
            }
            done += n;
            if n < k || k < want {
                break;
            }
        }
        Ok(done)
    }

    fn append(&self, buf: &dyn Source) -> KResult<(usize, u64)> {
        // One host write: the host's O_APPEND keeps it atomic against other writers.
        let mut data = vec![0u8; buf.len()];
        let k = uk_abi::uio::take(buf, 0, &mut data)?;
        let n = self.host.write(self.io_fd()?, &data[..k])?;
        let end = self.host.fstat(self.fd.fd)?.st_size.max(0) as u64;
        if let Some(c) = self.cache() {
            c.update(end - n as u64, &data[..n]);
        }
        Ok((n, end))
    }

    fn map_pages(&self, first: u64, count: u64) -> KResult<Arc<FilePages>> {
        if self.kind != Kind::Reg {
            return Err(Errno::ENODEV);
        }
        let fd = self.io_fd()?;
        let cache = {
            let mut c = CACHES.lock();
            let key = self.cache_key();
            match c.get(&key).and_then(Weak::upgrade) {
                Some(p) => p,
                None => {
                    let p = Arc::new(FilePages::new());
                    c.insert(key, Arc::downgrade(&p));
                    p
                }
            }
        };
        let page = uk_abi::PAGE_SIZE;
        for idx in first..first.saturating_add(count) {
            cache.frame_with(idx, |frame| {
                // SAFETY: a fresh, zeroed kernel frame of PAGE_SIZE bytes.
                let buf = unsafe { core::slice::from_raw_parts_mut(frame as *mut u8, page) };
                let at = idx.checked_mul(page as u64).ok_or(Errno::EINVAL)?;
                // Short reads near the end leave zeros, as past the end of a file.
                self.host.pread(fd, buf, at).map(|_| ())
            })?;
        }
        Ok(cache)
    }

    fn sync_pages(&self, first: u64, count: u64) -> KResult<()> {
        let Some(cache) = self.cache() else {
            return Ok(());
        };
        let fd = self.io_fd()?;
        let size = self.host.fstat(self.fd.fd)?.st_size.max(0) as u64;
        let page = uk_abi::PAGE_SIZE as u64;
        for (idx, frame) in cache.present(first, count) {
            let at = idx * page;
            if at >= size {
                break;
            }
            let n = (size - at).min(page) as usize;
            // SAFETY: a frame of the cache, at least `n` bytes.
            let data = unsafe { core::slice::from_raw_parts(frame as *const u8, n) };
            self.host.pwrite(fd, data, at)?;
        }
        Ok(())
    }

    fn truncate(&self, len: u64) -> KResult<()> {
        if self.kind == Kind::Dir {
            return Err(Errno::EISDIR);
        }
        self.host.ftruncate(self.io_fd()?, len)?;
        if let Some(c) = self.cache() {
            c.truncate(len);
        }
        Ok(())
    }

    fn sync(&self, data_only: bool) -> KResult<()> {
        if !self.io {
            return Ok(());
        }
        self.host.fsync(self.fd.fd, data_only)
    }

    fn setattr(&self, a: &SetAttr) -> KResult<()> {
        let (dir, name) = self.at();
        if let Some(m) = a.mode {
            if self.kind == Kind::Symlink {
                return Err(Errno::EOPNOTSUPP);
            }
            self.host.fchmodat(dir, name, m & 0o7777)?;
        }
        if a.uid.is_some() || a.gid.is_some() {
            self.host.fchown(
                self.fd.fd,
                a.uid.unwrap_or(u32::MAX),
                a.gid.unwrap_or(u32::MAX),
            )?;
        }
        if a.atime_ns.is_some() || a.mtime_ns.is_some() {
            let ts = |t: Option<i64>| match t {
                Some(ns) => [ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000)],
                None => [0, UTIME_OMIT],
            };
            self.host
                .utimensat(dir, name, &[ts(a.atime_ns), ts(a.mtime_ns)])?;
        }
        Ok(())
    }

    fn statfs(&self) -> KResult<Statfs> {
        // The host's figures, under this mount's own file-system id.
        let s = self.host.fstatfs(self.fd.fd)?;
        Ok(Statfs {
            f_fsid: Statfs::fsid(self.fs as u64),
            ..s
        })
    }
}

#[cfg(test)]
mod tests {
    //! A mock host that records every name it is asked about, to prove that hostfs
    //! only ever passes single components and never `..`.
    use super::*;
    use crate::path::{resolve, Loc};
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Mock {
        /// fd -> host path
        fds: Mutex<BTreeMap<i32, String>>,
        names: Mutex<Vec<Vec<u8>>>,
        /// host path -> (mode, symlink target)
        files: Mutex<BTreeMap<String, (u32, Vec<u8>)>>,
    }

    impl Mock {
        fn path(&self, fd: i32) -> Result<String, Errno> {
            self.fds
                .lock()
                .unwrap()
                .get(&fd)
                .cloned()
                .ok_or(Errno::EBADF)
        }
        fn new_fd(&self, p: String) -> i32 {
            let mut f = self.fds.lock().unwrap();
            let n = f.keys().last().copied().unwrap_or(2) + 1;
            f.insert(n, p);
            n
        }
    }

    impl HostFs for Mock {
        fn open_dir(&self, host_path: &[u8]) -> Result<i32, Errno> {
            Ok(self.new_fd(String::from_utf8(host_path.to_vec()).unwrap()))
        }
        fn initial_cwd(&self) -> &[u8] {
            b"/"
        }
        fn openat(&self, dirfd: i32, name: &[u8], _flags: u32, _mode: u32) -> Result<i32, Errno> {
            self.names.lock().unwrap().push(name.to_vec());
            assert!(
                name != b".." && !name.contains(&b'/'),
                "hostfs passed {name:?}"
            );
            let base = self.path(dirfd)?;
            let p = if name == b"." {
                base
            } else {
                format!("{base}/{}", String::from_utf8_lossy(name))
            };
            if !self.files.lock().unwrap().contains_key(&p) {
                return Err(Errno::ENOENT);
            }
            Ok(self.new_fd(p))
        }
        fn close(&self, fd: i32) {
            self.fds.lock().unwrap().remove(&fd);
        }
        fn pread(&self, _: i32, _: &mut [u8], _: u64) -> Result<usize, uk_abi::Errno> {
            Ok(0)
        }
        fn pwrite(&self, _: i32, b: &[u8], _: u64) -> Result<usize, uk_abi::Errno> {
            Ok(b.len())
        }
        fn write(&self, _: i32, b: &[u8]) -> Result<usize, uk_abi::Errno> {
            Ok(b.len())
        }
        fn fstat(&self, fd: i32) -> Result<Stat, Errno> {
            let p = self.path(fd)?;
            let mode = self
                .files
                .lock()
                .unwrap()
                .get(&p)
                .map(|f| f.0)
                .unwrap_or(0o40755);
            Ok(Stat {
                st_mode: mode,
                st_ino: p.len() as u64,
                ..Stat::default()
            })
        }
        fn fstatfs(&self, _: i32) -> Result<Statfs, Errno> {
            Ok(Default::default())
        }
        fn getdents64(&self, _: i32, _: u64, _: &mut [u8]) -> Result<usize, uk_abi::Errno> {
            Ok(0)
        }
        fn mkdirat(&self, _: i32, _: &[u8], _: u32) -> Result<(), Errno> {
            Ok(())
        }
        fn unlinkat(&self, _: i32, _: &[u8], _: bool) -> Result<(), Errno> {
            Ok(())
        }
        fn renameat(&self, _: i32, _: &[u8], _: i32, _: &[u8], _: u32) -> Result<(), Errno> {
            Ok(())
        }
        fn symlinkat(&self, _: &[u8], _: i32, _: &[u8]) -> Result<(), Errno> {
            Ok(())
        }
        fn readlink(&self, fd: i32, buf: &mut [u8]) -> Result<usize, uk_abi::Errno> {
            let p = self.path(fd)?;
            let t = self.files.lock().unwrap().get(&p).unwrap().1.clone();
            buf[..t.len()].copy_from_slice(&t);
            Ok(t.len())
        }
        fn linkat(&self, _: i32, _: &[u8], _: i32, _: &[u8]) -> Result<(), Errno> {
            Ok(())
        }
        fn ftruncate(&self, _: i32, _: u64) -> Result<(), Errno> {
            Ok(())
        }
        fn fsync(&self, _: i32, _: bool) -> Result<(), Errno> {
            Ok(())
        }
        fn fchmodat(&self, _: i32, _: &[u8], _: u32) -> Result<(), Errno> {
            Ok(())
        }
        fn fchown(&self, _: i32, _: u32, _: u32) -> Result<(), Errno> {
            Ok(())
        }
        fn utimensat(&self, _: i32, _: &[u8], _: &[[i64; 2]; 2]) -> Result<(), Errno> {
            Ok(())
        }
    }

    #[test]
    fn confinement() {
        crate::testing::memory();
        let m: &'static Mock = Box::leak(Box::default());
        {
            let mut f = m.files.lock().unwrap();
            f.insert("/srv/root/a".into(), (0o40755, vec![]));
            f.insert("/srv/root/a/f".into(), (0o100644, vec![]));
            f.insert(
                "/srv/root/a/esc".into(),
                (0o120777, b"../../../../etc".to_vec()),
            );
            f.insert("/srv/root/a/abs".into(), (0o120777, b"/a/f".to_vec()));
            f.insert("/srv/root/etc".into(), (0o40755, vec![]));
        }
        {
            let root = mount_dir(m, b"/srv/root").unwrap();
            let l = Loc::at_root(root);
            let r = resolve(&l, b"/a/../../../a/f", true).unwrap();
            assert!(r.node.is_some());
            // The escaping symlink lands on the mount's own /etc, not the host's.
            let r = resolve(&l, b"/a/esc", true).unwrap();
            assert_eq!(r.loc().unwrap().path(), b"/etc");
            let r = resolve(&l, b"/a/abs", true).unwrap();
            assert_eq!(r.node.as_ref().unwrap().kind(), Kind::Reg);
            for n in m.names.lock().unwrap().iter() {
                assert!(n != b".." && !n.contains(&b'/') && !n.is_empty());
            }
        }
        // Every descriptor of a dropped chain is closed again.
        assert!(
            m.fds.lock().unwrap().is_empty(),
            "{:?}",
            m.fds.lock().unwrap()
        );
    }
}
