//! ramfs: files in memory. The usual root of an image, filled from the initrd.
//!
//! File data lives in page frames ([`FilePages`]) made on first write, so holes cost
//! nothing and `ftruncate` to a large size is cheap; shared file maps show the same
//! frames. Directory entries carry an insertion
//! sequence number that serves as the readdir cookie: removing entries while a program
//! walks a directory (the `rm -r` pattern) never makes it skip any.
//! Directories may hold nodes of other kinds (devfs attaches its devices here).

use crate::pages::FilePages;
use crate::{
    DirEnt, Errno, KResult, Kind, Node, OpenReq, SetAttr, Sink, Source, Stat, Statfs, NAME_MAX,
};
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};
use uk_abi::fcntl::{
    F_SEAL_EXEC, F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE,
};

const PAGE: usize = uk_abi::PAGE_SIZE;
/// Largest file ramfs holds (EFBIG past it).
const MAX_FILE: u64 = 1 << 40;

/// State shared by the nodes of one ramfs instance.
struct Shared {
    id: usize,
    next_ino: AtomicU64,
}

/// One ramfs instance.
pub struct RamFs {
    root: Arc<RamNode>,
}

impl RamFs {
    #[allow(clippy::new_without_default)]
    pub fn new() -> RamFs {
        let sh = Arc::new(Shared {
            id: crate::new_fs_id(),
            next_ino: AtomicU64::new(2),
        });
        let root = RamNode::new(&sh, 1, Kind::Dir, 0o755, Content::Dir(Dir::new(1)));
        RamFs { root }
    }

    /// The root directory.
    pub fn root(&self) -> Arc<dyn Node> {
        self.root.clone()
    }

    /// The root directory as a ramfs node (to attach foreign nodes).
    pub fn root_node(&self) -> Arc<RamNode> {
        self.root.clone()
    }
}

struct Dir {
    parent_ino: u64,
    by_name: BTreeMap<Vec<u8>, u64>,
    by_seq: BTreeMap<u64, (Vec<u8>, Arc<dyn Node>)>,
    next_seq: u64,
}

impl Dir {
    fn new(parent_ino: u64) -> Dir {
        Dir {
            parent_ino,
            by_name: BTreeMap::new(),
            by_seq: BTreeMap::new(),
            next_seq: 2,
        }
    }
    fn get(&self, name: &[u8]) -> Option<&Arc<dyn Node>> {
        let s = self.by_name.get(name)?;
        self.by_seq.get(s).map(|e| &e.1)
    }
    fn insert(&mut self, name: &[u8], node: Arc<dyn Node>) {
        if let Some(s) = self.by_name.get(name) {
            self.by_seq.insert(*s, (name.to_vec(), node));
            return;
        }
        let s = self.next_seq;
        self.next_seq += 1;
        self.by_name.insert(name.to_vec(), s);
        self.by_seq.insert(s, (name.to_vec(), node));
    }
    fn remove(&mut self, name: &[u8]) -> Option<Arc<dyn Node>> {
        let s = self.by_name.remove(name)?;
        self.by_seq.remove(&s).map(|e| e.1)
    }
    fn subdirs(&self) -> u64 {
        self.by_seq
            .values()
            .filter(|e| e.1.kind() == Kind::Dir)
            .count() as u64
    }
}

enum Content {
    File {
        /// The contents: shared file maps show these very pages.
        pages: Arc<FilePages>,
        size: u64,
    },
    Dir(Dir),
    Symlink(Vec<u8>),
    Empty,
}

struct Inner {
    perm: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    atime: i64,
    mtime: i64,
    ctime: i64,
    content: Content,
    /// File seals (memfd, fcntl F_ADD_SEALS): F_SEAL_SEAL from the start, as Linux's
    /// tmpfs files have, unless memfd_create asked for sealing
    /// ([`RamNode::allow_sealing`]).
    seals: u32,
}

/// A ramfs node.
pub struct RamNode {
    sh: Arc<Shared>,
    ino: u64,
    kind: Kind,
    inner: spin::Mutex<Inner>,
}

fn ramnode(n: &Arc<dyn Node>) -> Option<&RamNode> {
    n.as_any().downcast_ref::<RamNode>()
}

impl RamNode {
    fn new(sh: &Arc<Shared>, ino: u64, kind: Kind, perm: u32, content: Content) -> Arc<RamNode> {
        let t = crate::now_ns();
        Arc::new(RamNode {
            sh: sh.clone(),
            ino,
            kind,
            inner: spin::Mutex::new(Inner {
                perm: perm & 0o7777,
                uid: 0,
                gid: 0,
                nlink: 1,
                atime: t,
                mtime: t,
                ctime: t,
                content,
                seals: F_SEAL_SEAL,
            }),
        })
    }

    /// memfd_create(MFD_ALLOW_SEALING): the file takes seals (none yet).
    pub fn allow_sealing(&self) {
        self.inner.lock().seals = 0;
    }

    fn child(&self, kind: Kind, perm: u32, content: Content) -> Arc<RamNode> {
        let ino = self.sh.next_ino.fetch_add(1, Ordering::Relaxed);
        RamNode::new(&self.sh, ino, kind, perm, content)
    }

    /// Insert `name` -> `node` into this directory; EEXIST if taken.
    fn add(&self, name: &[u8], node: Arc<dyn Node>) -> KResult<()> {
        check_name(name)?;
        let mut i = self.inner.lock();
        let t = crate::now_ns();
        if i.nlink == 0 {
            return Err(Errno::ENOENT); // a removed directory takes no new entries
        }
        let Content::Dir(d) = &mut i.content else {
            return Err(Errno::ENOTDIR);
        };
        if d.get(name).is_some() {
            return Err(Errno::EEXIST);
        }
        d.insert(name, node);
        i.mtime = t;
        i.ctime = t;
        Ok(())
    }

    /// Attach a node of another kind (a device) under `name`.
    pub fn attach(&self, name: &[u8], node: Arc<dyn Node>) -> KResult<()> {
        self.add(name, node)
    }

    /// The file system instance id (for nodes attached to it).
    pub fn fs_id_of(&self) -> usize {
        self.sh.id
    }

    fn is_empty_dir(&self) -> bool {
        matches!(&self.inner.lock().content, Content::Dir(d) if d.by_seq.is_empty())
    }

    fn set_parent(&self, parent_ino: u64) {
        if let Content::Dir(d) = &mut self.inner.lock().content {
            d.parent_ino = parent_ino;
        }
    }

    fn touch_ctime(node: &Arc<dyn Node>, nlink_delta: i64) {
        if let Some(r) = ramnode(node) {
            let mut i = r.inner.lock();
            i.ctime = crate::now_ns();
            i.nlink = (i.nlink as i64 + nlink_delta).max(0) as u64;
        }
    }
}

fn check_name(name: &[u8]) -> KResult<()> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
        return Err(Errno::EINVAL);
    }
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

impl Node for RamNode {
    fn kind(&self) -> Kind {
        self.kind
    }

    fn attr(&self) -> KResult<Stat> {
        let i = self.inner.lock();
        let (size, nlink, blocks) = match &i.content {
            Content::File { pages, size } => {
                let used = pages.count() as i64;
                (*size as i64, i.nlink, used * (PAGE as i64 / 512))
            }
            Content::Dir(d) => (4096, if i.nlink == 0 { 0 } else { 2 + d.subdirs() }, 8),
            Content::Symlink(t) => (t.len() as i64, i.nlink, 0),
            Content::Empty => (0, i.nlink, 0),
        };
        Ok(Stat {
            st_dev: self.sh.id as u64,
            st_ino: self.ino,
            st_mode: self.kind.mode_bits() | i.perm,
            st_nlink: nlink,
            st_uid: i.uid,
            st_gid: i.gid,
            st_rdev: 0,
            st_size: size,
            st_blksize: PAGE as i64,
            st_blocks: blocks,
            st_atime: uk_abi::time::Timespec::from_ns(i.atime),
            st_mtime: uk_abi::time::Timespec::from_ns(i.mtime),
            st_ctime: uk_abi::time::Timespec::from_ns(i.ctime),
            ..Default::default()
        })
    }

    fn fs_id(&self) -> usize {
        self.sh.id
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn lookup(&self, name: &[u8]) -> KResult<Arc<dyn Node>> {
        let i = self.inner.lock();
        let Content::Dir(d) = &i.content else {
            return Err(Errno::ENOTDIR);
        };
        d.get(name).cloned().ok_or(Errno::ENOENT)
    }

    fn create(&self, name: &[u8], req: &OpenReq) -> KResult<Arc<dyn Node>> {
        let n = self.child(
            Kind::Reg,
            req.mode,
            Content::File {
                pages: Arc::new(FilePages::new()),
                size: 0,
            },
        );
        self.add(name, n.clone())?;
        Ok(n)
    }

    fn open(self: Arc<Self>, req: &OpenReq) -> KResult<Arc<dyn Node>> {
        if req.trunc && req.writable() && self.kind == Kind::Reg {
            self.truncate(0)?;
        }
        Ok(self)
    }

    fn mkdir(&self, name: &[u8], mode: u32) -> KResult<()> {
        let n = self.child(Kind::Dir, mode, Content::Dir(Dir::new(self.ino)));
        self.add(name, n)
    }

    fn mknod(&self, name: &[u8], kind: Kind, mode: u32) -> KResult<()> {
        if !matches!(kind, Kind::Fifo | Kind::Sock) {
            return Err(Errno::EPERM);
        }
        // The node holds no data: a FIFO's bytes live in the pipe its opens share, a
        // socket's in the socket bound to it (uk-posix keys both by the node).
        let n = self.child(kind, mode, Content::Empty);
        self.add(name, n)
    }

    fn symlink(&self, name: &[u8], target: &[u8]) -> KResult<()> {
        let n = self.child(Kind::Symlink, 0o777, Content::Symlink(target.to_vec()));
        self.add(name, n)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Node>) -> KResult<()> {
        if target.fs_id() != self.sh.id {
            return Err(Errno::EXDEV);
        }
        if target.kind() == Kind::Dir {
            return Err(Errno::EPERM);
        }
        if ramnode(target).is_some_and(|r| r.inner.lock().nlink == 0) {
            return Err(Errno::ENOENT);
        }
        self.add(name, target.clone())?;
        RamNode::touch_ctime(target, 1);
        Ok(())
    }

    fn unlink(&self, name: &[u8], dir: bool) -> KResult<()> {
        check_name(name)?;
        let victim = self.lookup(name)?;
        match (dir, victim.kind() == Kind::Dir) {
            (false, true) => return Err(Errno::EISDIR),
            (true, false) => return Err(Errno::ENOTDIR),
            (true, true) => {
                if crate::is_mount_root(&victim) {
                    return Err(Errno::EBUSY);
                }
                if let Some(r) = ramnode(&victim) {
                    if !r.is_empty_dir() {
                        return Err(Errno::ENOTEMPTY);
                    }
                }
            }
            _ => {}
        }
        let t = crate::now_ns();
        {
            let mut i = self.inner.lock();
            if let Content::Dir(d) = &mut i.content {
                d.remove(name);
            }
            i.mtime = t;
            i.ctime = t;
        }
        RamNode::touch_ctime(&victim, if dir { -2 } else { -1 });
        Ok(())
    }

    fn rename(
        &self,
        name: &[u8],
        new_dir: &Arc<dyn Node>,
        new_name: &[u8],
        flags: u32,
    ) -> KResult<()> {
        use uk_abi::fcntl::{RENAME_EXCHANGE as EXCHANGE, RENAME_NOREPLACE as NOREPLACE};
        check_name(new_name)?;
        let nd = ramnode(new_dir).ok_or(Errno::EXDEV)?;
        if nd.sh.id != self.sh.id {
            return Err(Errno::EXDEV);
        }
        let src = self.lookup(name)?;
        let dst = nd.lookup(new_name).ok();
        if flags & EXCHANGE != 0 {
            let dst = dst.ok_or(Errno::ENOENT)?;
            let same_dir = core::ptr::eq(self, nd);
            if same_dir {
                let mut i = self.inner.lock();
                if let Content::Dir(d) = &mut i.content {
                    d.insert(name, dst.clone());
                    d.insert(new_name, src.clone());
                }
            } else {
                if let Content::Dir(d) = &mut self.inner.lock().content {
                    d.insert(name, dst.clone());
                }
                if let Content::Dir(d) = &mut nd.inner.lock().content {
                    d.insert(new_name, src.clone());
                }
                if let Some(r) = ramnode(&src) {
                    r.set_parent(nd.ino);
                }
                if let Some(r) = ramnode(&dst) {
                    r.set_parent(self.ino);
                }
            }
            RamNode::touch_ctime(&src, 0);
            RamNode::touch_ctime(&dst, 0);
            return Ok(());
        }
        if let Some(dst) = &dst {
            if flags & NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            if Arc::as_ptr(dst) as *const u8 == Arc::as_ptr(&src) as *const u8 {
                return Ok(()); // the same file: nothing to do
            }
            match (src.kind() == Kind::Dir, dst.kind() == Kind::Dir) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) => {
                    if crate::is_mount_root(dst) {
                        return Err(Errno::EBUSY);
                    }
                    if ramnode(dst).is_some_and(|r| !r.is_empty_dir()) {
                        return Err(Errno::ENOTEMPTY);
                    }
                }
                _ => {}
            }
        }
        if crate::is_mount_root(&src) {
            return Err(Errno::EBUSY);
        }
        let t = crate::now_ns();
        if let Content::Dir(d) = &mut self.inner.lock().content {
            d.remove(name);
        }
        {
            let mut i = nd.inner.lock();
            if let Content::Dir(d) = &mut i.content {
                d.insert(new_name, src.clone());
            }
            i.mtime = t;
            i.ctime = t;
        }
        {
            let mut i = self.inner.lock();
            i.mtime = t;
            i.ctime = t;
        }
        if let Some(dst) = &dst {
            RamNode::touch_ctime(dst, if dst.kind() == Kind::Dir { -2 } else { -1 });
        }
        if let Some(r) = ramnode(&src) {
            r.set_parent(nd.ino);
        }
        RamNode::touch_ctime(&src, 0);
        Ok(())
    }

    fn readdir(&self, cookie: u64, f: &mut dyn FnMut(DirEnt<'_>, u64) -> bool) -> KResult<()> {
        // Snapshot the entries so that `f` runs without the lock held.
        type Row = (u64, Vec<u8>, u64, Kind);
        let (parent, list): (u64, Vec<Row>) = {
            let i = self.inner.lock();
            let Content::Dir(d) = &i.content else {
                return Err(Errno::ENOTDIR);
            };
            let from = cookie.max(2);
            let list = d
                .by_seq
                .range(from..)
                .map(|(s, (n, node))| {
                    let ino = node.attr().map(|a| a.st_ino).unwrap_or(0);
                    (*s, n.clone(), ino, node.kind())
                })
                .collect();
            (d.parent_ino, list)
        };
        if cookie == 0
            && !f(
                DirEnt {
                    ino: self.ino,
                    kind: Kind::Dir,
                    name: b".",
                },
                1,
            )
        {
            return Ok(());
        }
        if cookie <= 1
            && !f(
                DirEnt {
                    ino: parent,
                    kind: Kind::Dir,
                    name: b"..",
                },
                2,
            )
        {
            return Ok(());
        }
        for (s, name, ino, kind) in &list {
            if !f(
                DirEnt {
                    ino: *ino,
                    kind: *kind,
                    name,
                },
                s + 1,
            ) {
                break;
            }
        }
        Ok(())
    }

    fn readlink(&self) -> KResult<Vec<u8>> {
        match &self.inner.lock().content {
            Content::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn read_at(&self, off: u64, buf: &mut dyn Sink) -> KResult<usize> {
        let mut i = self.inner.lock();
        let Content::File { pages, size } = &i.content else {
            return Err(if self.kind == Kind::Dir {
                Errno::EISDIR
            } else {
                Errno::EINVAL
            });
        };
        if off >= *size {
            return Ok(0);
        }
        let n = buf.len().min((*size - off) as usize);
        let done = pages.read(off, n, buf, 0);
        if done == 0 && n > 0 {
            return Err(Errno::EFAULT);
        }
        i.atime = crate::now_ns();
        Ok(done)
    }

    fn write_at(&self, off: u64, buf: &dyn Source) -> KResult<usize> {
        let mut i = self.inner.lock();
        let seals = i.seals;
        let Content::File { pages, size } = &mut i.content else {
            return Err(if self.kind == Kind::Dir {
                Errno::EISDIR
            } else {
                Errno::EINVAL
            });
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let end = off.checked_add(buf.len() as u64).ok_or(Errno::EFBIG)?;
        if end > MAX_FILE {
            return Err(Errno::EFBIG);
        }
        // Seals (Linux's shmem_write_begin): no writes at all, or none past the end.
        if seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0
            || (seals & F_SEAL_GROW != 0 && end > *size)
        {
            return Err(Errno::EPERM);
        }
        let done = match pages.write(off, buf.len(), buf, 0) {
            Ok(n) => n,
            Err(Errno::ENOMEM) => return Err(Errno::ENOSPC),
            Err(e) => return Err(e),
        };
        if done == 0 {
            // The source could not be read at all: the file is unchanged (pages made
            // for the write past the end are dropped again).
            pages.trim(*size);
            return Err(Errno::EFAULT);
        }
        let new_end = off + done as u64;
        if new_end > *size {
            *size = new_end;
        }
        let t = crate::now_ns();
        i.mtime = t;
        i.ctime = t;
        Ok(done)
    }

    fn map_pages(&self, first: u64, count: u64) -> KResult<Arc<FilePages>> {
        let i = self.inner.lock();
        let Content::File { pages, .. } = &i.content else {
            return Err(Errno::ENODEV);
        };
        // The file's pages are its contents: make the ones the map covers (zeros).
        for idx in first..first.saturating_add(count) {
            pages.frame(idx).map_err(|_| Errno::ENOMEM)?;
        }
        Ok(pages.clone())
    }

    fn append(&self, buf: &dyn Source) -> KResult<(usize, u64)> {
        // One CPU and no waiting between the two steps: atomic with respect to others.
        let end = match &self.inner.lock().content {
            Content::File { size, .. } => *size,
            _ => return Err(Errno::EINVAL),
        };
        let n = self.write_at(end, buf)?;
        Ok((n, end + n as u64))
    }

    fn truncate(&self, len: u64) -> KResult<()> {
        let mut i = self.inner.lock();
        let seals = i.seals;
        let Content::File { pages, size } = &mut i.content else {
            return Err(if self.kind == Kind::Dir {
                Errno::EISDIR
            } else {
                Errno::EINVAL
            });
        };
        if len > MAX_FILE {
            return Err(Errno::EFBIG);
        }
        if (len < *size && seals & F_SEAL_SHRINK != 0) || (len > *size && seals & F_SEAL_GROW != 0)
        {
            return Err(Errno::EPERM);
        }
        // Bytes past the new end read as zeros, also after the file grows again.
        if len < *size {
            pages.truncate(len);
        }
        *size = len;
        let t = crate::now_ns();
        i.mtime = t;
        i.ctime = t;
        Ok(())
    }

    fn seals(&self) -> KResult<u32> {
        let i = self.inner.lock();
        match i.content {
            Content::File { .. } => Ok(i.seals),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Linux's memfd_add_seals: EPERM once F_SEAL_SEAL is set, EINVAL for unknown
    /// bits, EBUSY for F_SEAL_WRITE while a writable shared map exists.
    fn add_seals(&self, seals: u32, writably_mapped: &dyn Fn() -> bool) -> KResult<()> {
        let all = F_SEAL_SEAL
            | F_SEAL_SHRINK
            | F_SEAL_GROW
            | F_SEAL_WRITE
            | F_SEAL_FUTURE_WRITE
            | F_SEAL_EXEC;
        if !matches!(self.inner.lock().content, Content::File { .. }) {
            return Err(Errno::EINVAL);
        }
        if seals & !all != 0 {
            return Err(Errno::EINVAL);
        }
        if self.inner.lock().seals & F_SEAL_SEAL != 0 {
            return Err(Errno::EPERM);
        }
        // Asked without this node's lock: the question walks the processes' maps.
        if seals & F_SEAL_WRITE != 0
            && self.inner.lock().seals & F_SEAL_WRITE == 0
            && writably_mapped()
        {
            return Err(Errno::EBUSY);
        }
        self.inner.lock().seals |= seals;
        Ok(())
    }

    fn setattr(&self, a: &SetAttr) -> KResult<()> {
        let mut i = self.inner.lock();
        if let Some(m) = a.mode {
            i.perm = m & 0o7777;
        }
        if let Some(u) = a.uid {
            i.uid = u;
        }
        if let Some(g) = a.gid {
            i.gid = g;
        }
        if let Some(t) = a.atime_ns {
            i.atime = t;
        }
        if let Some(t) = a.mtime_ns {
            i.mtime = t;
        }
        i.ctime = crate::now_ns();
        Ok(())
    }

    fn statfs(&self) -> KResult<Statfs> {
        Ok(Statfs {
            f_type: uk_abi::stat::TMPFS_MAGIC,
            f_bsize: PAGE as i64,
            f_frsize: PAGE as i64,
            f_namelen: NAME_MAX as i64,
            f_fsid: Statfs::fsid(self.sh.id as u64),
            ..Statfs::default()
        })
    }
}

impl Drop for RamNode {
    fn drop(&mut self) {
        // Deep directory trees are freed iteratively, not by recursion through Drop.
        let mut stack: Vec<Arc<dyn Node>> = Vec::new();
        if let Content::Dir(d) =
            core::mem::replace(&mut self.inner.get_mut().content, Content::Empty)
        {
            stack.extend(d.by_seq.into_values().map(|e| e.1));
        }
        while let Some(n) = stack.pop() {
            if Arc::strong_count(&n) != 1 {
                continue; // still in use elsewhere (a working directory): not ours to empty
            }
            if let Some(r) = ramnode(&n) {
                if let Content::Dir(d) =
                    core::mem::replace(&mut r.inner.lock().content, Content::Empty)
                {
                    stack.extend(d.by_seq.into_values().map(|e| e.1));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw() -> OpenReq {
        OpenReq {
            access: 2,
            mode: 0o644,
            ..OpenReq::default()
        }
    }

    #[test]
    fn files_read_write_holes_truncate() {
        crate::testing::memory();
        let fs = RamFs::new();
        let root = fs.root();
        let f = root.create(b"f", &rw()).unwrap();
        assert_eq!(root.create(b"f", &rw()).err(), Some(Errno::EEXIST));
        assert_eq!(f.write_at(0, &&b"hello"[..]).unwrap(), 5);
        assert_eq!(f.write_at(10000, &&b"x"[..]).unwrap(), 1);
        assert_eq!(f.attr().unwrap().st_size, 10001);
        let mut b = [9u8; 16];
        assert_eq!(f.read_at(4, &mut &mut b[..]).unwrap(), 16);
        assert_eq!(&b[..2], b"o\0");
        assert_eq!(b[15], 0, "holes read as zero");
        assert_eq!(f.read_at(20000, &mut &mut b[..]).unwrap(), 0);
        f.truncate(3).unwrap();
        f.truncate(100).unwrap();
        let mut b = [9u8; 8];
        assert_eq!(f.read_at(0, &mut &mut b[..]).unwrap(), 8);
        assert_eq!(&b, b"hel\0\0\0\0\0", "truncate then grow reads zeros");
        assert_eq!(f.append(&&b"zz"[..]).unwrap(), (2, 102));
        assert_eq!(f.write_at(MAX_FILE, &&b"x"[..]).err(), Some(Errno::EFBIG));
        f.truncate(1 << 30).unwrap();
        assert_eq!(f.attr().unwrap().st_blocks, 8, "sparse: one page used");
        assert_eq!(root.read_at(0, &mut &mut b[..]).err(), Some(Errno::EISDIR));
    }

    #[test]
    fn seals_refuse_what_they_seal() {
        let fs = RamFs::new();
        let root = fs.root();
        let f = root.create(b"s", &rw()).unwrap();
        let no = || false;
        // A plain file has F_SEAL_SEAL: nothing more can be added.
        assert_eq!(f.seals(), Ok(F_SEAL_SEAL));
        assert_eq!(f.add_seals(F_SEAL_GROW, &no), Err(Errno::EPERM));
        let r = f.as_any().downcast_ref::<RamNode>().unwrap();
        r.allow_sealing();
        f.write_at(0, &&b"abcd"[..]).unwrap();
        f.add_seals(F_SEAL_SHRINK | F_SEAL_GROW, &no).unwrap();
        assert_eq!(f.truncate(2), Err(Errno::EPERM));
        assert_eq!(f.truncate(8), Err(Errno::EPERM));
        assert_eq!(f.write_at(3, &&b"xy"[..]), Err(Errno::EPERM));
        assert_eq!(f.write_at(0, &&b"xy"[..]), Ok(2));
        assert_eq!(f.add_seals(F_SEAL_WRITE, &|| true), Err(Errno::EBUSY));
        f.add_seals(F_SEAL_WRITE, &no).unwrap();
        assert_eq!(f.write_at(0, &&b"z"[..]), Err(Errno::EPERM));
        assert_eq!(f.add_seals(0x4000, &no), Err(Errno::EINVAL));
        assert_eq!(root.seals(), Err(Errno::EINVAL));
    }

    #[test]
    fn dirs_unlink_rmdir_nlink() {
        crate::testing::memory();
        let fs = RamFs::new();
        let root = fs.root();
        root.mkdir(b"d", 0o755).unwrap();
        assert_eq!(root.attr().unwrap().st_nlink, 3);
        let d = root.lookup(b"d").unwrap();
        d.create(b"x", &rw()).unwrap();
        assert_eq!(root.unlink(b"d", true).err(), Some(Errno::ENOTEMPTY));
        assert_eq!(root.unlink(b"d", false).err(), Some(Errno::EISDIR));
        assert_eq!(d.unlink(b"x", true).err(), Some(Errno::ENOTDIR));
        let x = d.lookup(b"x").unwrap();
        d.link(b"y", &x).unwrap();
        assert_eq!(x.attr().unwrap().st_nlink, 2);
        d.unlink(b"x", false).unwrap();
        assert_eq!(x.attr().unwrap().st_nlink, 1);
        assert_eq!(d.lookup(b"x").err(), Some(Errno::ENOENT));
        d.unlink(b"y", false).unwrap();
        root.unlink(b"d", true).unwrap();
        assert_eq!(d.create(b"z", &rw()).err(), Some(Errno::ENOENT));
        assert_eq!(root.link(b"r", &root).err(), Some(Errno::EPERM));
        let other = RamFs::new().root();
        let o = other.create(b"o", &rw()).unwrap();
        assert_eq!(root.link(b"o", &o).err(), Some(Errno::EXDEV));
        assert_eq!(root.mkdir(b"..", 0).err(), Some(Errno::EINVAL));
    }

    #[test]
    fn rename_rules() {
        crate::testing::memory();
        let fs = RamFs::new();
        let root = fs.root();
        root.mkdir(b"a", 0o755).unwrap();
        root.mkdir(b"b", 0o755).unwrap();
        root.create(b"f", &rw()).unwrap();
        root.create(b"g", &rw()).unwrap();
        let a = root.lookup(b"a").unwrap();
        assert_eq!(root.rename(b"f", &root, b"a", 0).err(), Some(Errno::EISDIR));
        assert_eq!(
            root.rename(b"a", &root, b"f", 0).err(),
            Some(Errno::ENOTDIR)
        );
        assert_eq!(root.rename(b"f", &root, b"g", 1).err(), Some(Errno::EEXIST));
        root.rename(b"f", &root, b"g", 0).unwrap();
        assert!(root.lookup(b"f").is_err());
        root.rename(b"g", &a, b"g2", 0).unwrap();
        assert!(a.lookup(b"g2").is_ok());
        root.rename(b"b", &root, b"a", 2).unwrap();
        assert!(
            root.lookup(b"b").unwrap().lookup(b"g2").is_ok(),
            "exchanged"
        );
        let b = root.lookup(b"b").unwrap();
        assert_eq!(
            root.rename(b"a", &root, b"b", 0).err(),
            Some(Errno::ENOTEMPTY)
        );
        b.unlink(b"g2", false).unwrap();
        root.rename(b"a", &root, b"b", 0).unwrap();
        assert_eq!(root.attr().unwrap().st_nlink, 3);
        assert_eq!(
            root.rename(b"nope", &root, b"x", 0).err(),
            Some(Errno::ENOENT)
        );
    }

    #[test]
    fn readdir_survives_removal() {
        crate::testing::memory();
        let fs = RamFs::new();
        let root = fs.root();
        for i in 0..10u8 {
            root.create(&[b'a' + i], &rw()).unwrap();
        }
        let mut seen = Vec::new();
        let mut cookie = 0;
        loop {
            let mut got = None;
            root.readdir(cookie, &mut |e, next| {
                got = Some((e.name.to_vec(), next));
                false
            })
            .unwrap();
            let Some((name, next)) = got else { break };
            if name != b"." && name != b".." {
                root.unlink(&name, false).unwrap();
            }
            seen.push(name);
            cookie = next;
        }
        assert_eq!(seen.len(), 12);
        assert_eq!(&seen[0], b".");
        assert_eq!(&seen[1], b"..");
    }

    #[test]
    fn deep_tree_drop_does_not_recurse() {
        crate::testing::memory();
        let fs = RamFs::new();
        let mut d = fs.root();
        for _ in 0..10000 {
            d.mkdir(b"d", 0o755).unwrap();
            d = d.lookup(b"d").unwrap();
        }
        drop(d);
        drop(fs);
    }
}
