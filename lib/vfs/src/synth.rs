//! A synthetic file system: directories, read-only files and symlinks whose contents
//! are produced on demand by callbacks that higher layers register (uk-posix builds
//! /proc with it; this crate knows nothing about processes).
//!
//! - A file's callback runs once per open: the bytes are kept by the open file, so a
//!   reader sees one consistent snapshot across several reads (Linux's seq_file
//!   gives the same guarantee). st_size is 0, as on Linux, and reads still return the
//!   content.
//! - A directory holds static children and may add entries listed on demand (one
//!   symlink per open descriptor for /proc/self/fd); such links can stand for a
//!   descriptor ([`Node::fd_alias`]), so that opening them reaches the descriptor's
//!   file as /dev/stdin does.
//! - A symlink's target comes from a callback (/proc/self → the pid).
//!
//! Changes are refused with the errors Linux's procfs gives when run as root (the
//! image's only user): creating anything is ENOENT, removing is EPERM, writing to a
//! file fails with the errno its [`Deny`] names. chmod and utimensat are accepted and
//! change nothing (Linux keeps such changes only in its inode cache).

use uk_abi::stat::PROC_SUPER_MAGIC;

use crate::{
    DirEnt, Errno, KResult, Kind, Node, OpenReq, SetAttr, Sink, Source, Stat, Statfs, NAME_MAX,
};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

/// Produces a file's bytes (at open) or a symlink's target (at readlink), given the
/// context word of the directory it is in (0, or what [`SynthDir::add_dir_for`] set:
/// /proc gives each process's directory its pid).
pub type GenFn = fn(usize) -> Vec<u8>;

/// A directory's entries listed on demand, given the directory's context word.
pub type ListFn = fn(usize) -> Vec<DynLink>;

/// How a write to a synthetic file fails (what Linux answers for that kind of file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deny {
    /// open(2) for writing fails (sysctl files under /proc/sys: EACCES).
    AtOpen(Errno),
    /// open(2) succeeds (root bypasses the mode bits) and write(2) fails (/proc/meminfo:
    /// EIO; /proc/PID/stat: EINVAL).
    AtWrite(Errno),
}

/// One entry a [`ListFn`] reports: a symlink called `name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynLink {
    pub name: Vec<u8>,
    pub target: Vec<u8>,
    /// Permission bits shown by lstat (Linux: 0500/0300/0700 by the fd's access mode).
    pub perm: u32,
    /// The descriptor this link stands for, if any: following it opens that descriptor.
    pub fd: Option<u32>,
}

/// What one file-system instance shares among its nodes.
struct Shared {
    id: usize,
    next_ino: AtomicU64,
}

impl Shared {
    fn ino(&self) -> u64 {
        self.next_ino.fetch_add(1, Ordering::Relaxed)
    }
}

/// One instance of a synthetic file system.
pub struct SynthFs {
    root: Arc<SynthDir>,
}

impl Default for SynthFs {
    fn default() -> Self {
        Self::new()
    }
}

impl SynthFs {
    /// An empty file system (its root has mode 0555, as /proc).
    pub fn new() -> SynthFs {
        let sh = Arc::new(Shared {
            id: crate::new_fs_id(),
            next_ino: AtomicU64::new(2),
        });
        SynthFs {
            root: Arc::new(SynthDir::new(sh, 1, 0o555, 0)),
        }
    }
    /// The root as a node (to mount).
    pub fn root(&self) -> Arc<dyn Node> {
        self.root.clone()
    }
    /// The root directory, to add children to.
    pub fn root_dir(&self) -> Arc<SynthDir> {
        self.root.clone()
    }
}

fn base_attr(fs: usize, ino: u64, mode: u32, nlink: u64) -> Stat {
    let now = crate::now_ns();
    Stat {
        st_dev: fs as u64,
        st_ino: ino,
        st_mode: mode,
        st_nlink: nlink,
        st_blksize: 4096,
        st_atime: uk_abi::time::Timespec::from_ns(now),
        st_mtime: uk_abi::time::Timespec::from_ns(now),
        st_ctime: uk_abi::time::Timespec::from_ns(now),
        ..Stat::default()
    }
}

fn statfs_of(fs: usize) -> KResult<Statfs> {
    Ok(Statfs {
        f_type: PROC_SUPER_MAGIC,
        f_bsize: 4096,
        f_frsize: 4096,
        f_namelen: NAME_MAX as i64,
        f_fsid: Statfs::fsid(fs as u64),
        ..Statfs::default()
    })
}

/// A directory's static children, in the order they were added.
type Children = Vec<(Vec<u8>, Arc<dyn Node>)>;

/// A directory with static children and optional listed-on-demand links.
pub struct SynthDir {
    sh: Arc<Shared>,
    ino: u64,
    perm: u32,
    /// Passed to the generators of what this directory holds.
    ctx: usize,
    children: spin::Mutex<Children>,
    list: spin::Mutex<Option<ListFn>>,
}

impl SynthDir {
    fn new(sh: Arc<Shared>, ino: u64, perm: u32, ctx: usize) -> SynthDir {
        SynthDir {
            sh,
            ino,
            perm,
            ctx,
            children: spin::Mutex::new(Vec::new()),
            list: spin::Mutex::new(None),
        }
    }

    fn attach(&self, name: &[u8], node: Arc<dyn Node>) -> KResult<()> {
        if name.is_empty() || name.len() > NAME_MAX || name.contains(&b'/') {
            return Err(Errno::EINVAL);
        }
        let mut c = self.children.lock();
        if c.iter().any(|(n, _)| n == name) {
            return Err(Errno::EEXIST);
        }
        c.push((name.to_vec(), node));
        Ok(())
    }

    /// Add a subdirectory (permission bits `perm`) and return it; it has this
    /// directory's context word.
    pub fn add_dir(&self, name: &[u8], perm: u32) -> KResult<Arc<SynthDir>> {
        self.add_dir_for(name, perm, self.ctx)
    }

    /// Add a subdirectory whose generators (and its subdirectories') get `ctx`.
    pub fn add_dir_for(&self, name: &[u8], perm: u32, ctx: usize) -> KResult<Arc<SynthDir>> {
        let d = Arc::new(SynthDir::new(
            self.sh.clone(),
            self.sh.ino(),
            perm & 0o7777,
            ctx,
        ));
        self.attach(name, d.clone())?;
        Ok(d)
    }

    /// Take the static child `name` away (a process's /proc directory once it is
    /// reaped). False when there was none. Open files of it keep their snapshot.
    pub fn remove(&self, name: &[u8]) -> bool {
        let mut c = self.children.lock();
        let before = c.len();
        c.retain(|(n, _)| n != name);
        c.len() != before
    }

    /// Add a read-only file whose bytes `gen` produces at each open.
    pub fn add_file(&self, name: &[u8], perm: u32, gen: GenFn, deny: Deny) -> KResult<()> {
        let f = SynthFile {
            fs: self.sh.id,
            ino: self.sh.ino(),
            perm: perm & 0o7777,
            gen,
            ctx: self.ctx,
            deny,
        };
        self.attach(name, Arc::new(f))
    }

    /// Add a symlink whose target `target` produces at each readlink.
    pub fn add_link(&self, name: &[u8], target: GenFn) -> KResult<()> {
        let l = SynthLink {
            fs: self.sh.id,
            ino: self.sh.ino(),
            perm: 0o777,
            target: Target::Gen(target, self.ctx),
            fd: None,
        };
        self.attach(name, Arc::new(l))
    }

    /// Entries added after the static children, listed by `f` at each lookup and
    /// readdir.
    pub fn set_list(&self, f: ListFn) {
        *self.list.lock() = Some(f);
    }

    fn listed(&self) -> Vec<DynLink> {
        let f = *self.list.lock();
        f.map(|f| f(self.ctx)).unwrap_or_default()
    }

    /// A stable inode number for a listed entry: the directory's number and the
    /// name, hashed (FNV-1a) into the upper half so it never meets a static node's.
    fn dyn_ino(&self, name: &[u8]) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ self.ino;
        for b in name {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h | (1 << 63)
    }

    fn dyn_node(&self, l: DynLink) -> Arc<dyn Node> {
        Arc::new(SynthLink {
            fs: self.sh.id,
            ino: self.dyn_ino(&l.name),
            perm: l.perm & 0o7777,
            target: Target::Fixed(l.target),
            fd: l.fd,
        })
    }
}

impl Node for SynthDir {
    fn kind(&self) -> Kind {
        Kind::Dir
    }
    fn attr(&self) -> KResult<Stat> {
        let subdirs = self
            .children
            .lock()
            .iter()
            .filter(|(_, n)| n.kind() == Kind::Dir)
            .count() as u64;
        Ok(base_attr(
            self.sh.id,
            self.ino,
            Kind::Dir.mode_bits() | self.perm,
            2 + subdirs,
        ))
    }
    fn fs_id(&self) -> usize {
        self.sh.id
    }
    fn dev_ino(&self) -> KResult<(u64, u64)> {
        Ok((self.sh.id as u64, self.ino))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn lookup(&self, name: &[u8]) -> KResult<Arc<dyn Node>> {
        if let Some((_, n)) = self.children.lock().iter().find(|(n, _)| n == name) {
            return Ok(n.clone());
        }
        self.listed()
            .into_iter()
            .find(|l| l.name == name)
            .map(|l| self.dyn_node(l))
            .ok_or(Errno::ENOENT)
    }
    fn create(&self, _name: &[u8], _req: &OpenReq) -> KResult<Arc<dyn Node>> {
        Err(Errno::ENOENT)
    }
    fn open(self: Arc<Self>, _req: &OpenReq) -> KResult<Arc<dyn Node>> {
        Ok(self)
    }
    fn mkdir(&self, name: &[u8], _mode: u32) -> KResult<()> {
        Err(match self.lookup(name) {
            Ok(_) => Errno::EEXIST,
            Err(_) => Errno::ENOENT,
        })
    }
    fn symlink(&self, name: &[u8], _target: &[u8]) -> KResult<()> {
        self.mkdir(name, 0)
    }
    fn link(&self, name: &[u8], _target: &Arc<dyn Node>) -> KResult<()> {
        self.mkdir(name, 0)
    }
    fn unlink(&self, name: &[u8], _dir: bool) -> KResult<()> {
        self.lookup(name)?;
        Err(Errno::EPERM)
    }
    fn rename(
        &self,
        _name: &[u8],
        _new_dir: &Arc<dyn Node>,
        _new_name: &[u8],
        _flags: u32,
    ) -> KResult<()> {
        Err(Errno::ENOENT)
    }
    fn readdir(&self, cookie: u64, f: &mut dyn FnMut(DirEnt<'_>, u64) -> bool) -> KResult<()> {
        // Cookies: 0 ".", 1 "..", then 2 + index over static children and listed links.
        let mut i = cookie;
        if i == 0 {
            let e = DirEnt {
                ino: self.ino,
                kind: Kind::Dir,
                name: b".",
            };
            if !f(e, 1) {
                return Ok(());
            }
            i = 1;
        }
        if i == 1 {
            let e = DirEnt {
                ino: 1,
                kind: Kind::Dir,
                name: b"..",
            };
            if !f(e, 2) {
                return Ok(());
            }
            i = 2;
        }
        let statics: Vec<(Vec<u8>, u64, Kind)> = self
            .children
            .lock()
            .iter()
            .map(|(n, node)| {
                let ino = node.dev_ino().map(|d| d.1).unwrap_or(0);
                (n.clone(), ino, node.kind())
            })
            .collect();
        let listed = self.listed();
        let all = statics.into_iter().chain(
            listed
                .into_iter()
                .map(|l| (l.name.clone(), self.dyn_ino(&l.name), Kind::Symlink)),
        );
        for (idx, (name, ino, kind)) in all.enumerate().skip((i - 2) as usize) {
            let e = DirEnt {
                ino,
                kind,
                name: &name,
            };
            if !f(e, idx as u64 + 3) {
                break;
            }
        }
        Ok(())
    }
    fn setattr(&self, _a: &SetAttr) -> KResult<()> {
        Ok(())
    }
    fn statfs(&self) -> KResult<Statfs> {
        statfs_of(self.sh.id)
    }
}

/// A read-only file produced by a callback.
struct SynthFile {
    fs: usize,
    ino: u64,
    perm: u32,
    gen: GenFn,
    ctx: usize,
    deny: Deny,
}

impl Node for SynthFile {
    fn kind(&self) -> Kind {
        Kind::Reg
    }
    fn attr(&self) -> KResult<Stat> {
        Ok(base_attr(
            self.fs,
            self.ino,
            Kind::Reg.mode_bits() | self.perm,
            1,
        ))
    }
    fn fs_id(&self) -> usize {
        self.fs
    }
    fn dev_ino(&self) -> KResult<(u64, u64)> {
        Ok((self.fs as u64, self.ino))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn open(self: Arc<Self>, req: &OpenReq) -> KResult<Arc<dyn Node>> {
        if let (true, Deny::AtOpen(e)) = (req.writable(), self.deny) {
            return Err(e);
        }
        // Write-only opens never read: do not run the generator for them.
        let data = if req.readable() {
            (self.gen)(self.ctx)
        } else {
            Vec::new()
        };
        Ok(Arc::new(Snapshot { file: self, data }))
    }
    fn read_at(&self, off: u64, buf: &mut dyn Sink) -> KResult<usize> {
        Snapshot::read_from(&(self.gen)(self.ctx), off, buf)
    }
    fn write_at(&self, _off: u64, _buf: &dyn Source) -> KResult<usize> {
        Err(self.write_errno())
    }
    fn truncate(&self, _len: u64) -> KResult<()> {
        Ok(()) // O_TRUNC and truncate(2) are accepted and change nothing, as on Linux
    }
    fn setattr(&self, _a: &SetAttr) -> KResult<()> {
        Ok(())
    }
    fn statfs(&self) -> KResult<Statfs> {
        statfs_of(self.fs)
    }
}

impl SynthFile {
    fn write_errno(&self) -> Errno {
        match self.deny {
            Deny::AtOpen(e) | Deny::AtWrite(e) => e,
        }
    }
}

/// An open synthetic file: the bytes its generator gave at open.
struct Snapshot {
    file: Arc<SynthFile>,
    data: Vec<u8>,
}

impl Snapshot {
    fn read_from(data: &[u8], off: u64, buf: &mut dyn Sink) -> KResult<usize> {
        let Ok(off) = usize::try_from(off) else {
            return Ok(0);
        };
        if off >= data.len() {
            return Ok(0);
        }
        let n = buf.len().min(data.len() - off);
        uk_abi::uio::give(buf, 0, &data[off..off + n])
    }
}

impl Node for Snapshot {
    fn kind(&self) -> Kind {
        Kind::Reg
    }
    fn attr(&self) -> KResult<Stat> {
        self.file.attr()
    }
    fn fs_id(&self) -> usize {
        self.file.fs
    }
    fn dev_ino(&self) -> KResult<(u64, u64)> {
        self.file.dev_ino()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn open(self: Arc<Self>, req: &OpenReq) -> KResult<Arc<dyn Node>> {
        self.file.clone().open(req)
    }
    fn read_at(&self, off: u64, buf: &mut dyn Sink) -> KResult<usize> {
        Self::read_from(&self.data, off, buf)
    }
    fn write_at(&self, _off: u64, _buf: &dyn Source) -> KResult<usize> {
        Err(self.file.write_errno())
    }
    fn append(&self, _buf: &dyn Source) -> KResult<(usize, u64)> {
        Err(self.file.write_errno())
    }
    fn truncate(&self, _len: u64) -> KResult<()> {
        Ok(())
    }
    fn setattr(&self, _a: &SetAttr) -> KResult<()> {
        Ok(())
    }
    fn statfs(&self) -> KResult<Statfs> {
        statfs_of(self.file.fs)
    }
}

enum Target {
    Gen(GenFn, usize),
    Fixed(Vec<u8>),
}

/// A symlink: a generated target, or a listed entry's (maybe a descriptor alias).
struct SynthLink {
    fs: usize,
    ino: u64,
    perm: u32,
    target: Target,
    fd: Option<u32>,
}

impl Node for SynthLink {
    fn kind(&self) -> Kind {
        Kind::Symlink
    }
    fn attr(&self) -> KResult<Stat> {
        // Linux reports st_size 0 for generated links and 64 for descriptor links.
        let mut a = base_attr(self.fs, self.ino, Kind::Symlink.mode_bits() | self.perm, 1);
        a.st_size = if self.fd.is_some() { 64 } else { 0 };
        Ok(a)
    }
    fn fs_id(&self) -> usize {
        self.fs
    }
    fn dev_ino(&self) -> KResult<(u64, u64)> {
        Ok((self.fs as u64, self.ino))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn open(self: Arc<Self>, _req: &OpenReq) -> KResult<Arc<dyn Node>> {
        Err(Errno::ELOOP)
    }
    fn readlink(&self) -> KResult<Vec<u8>> {
        Ok(match &self.target {
            Target::Gen(g, ctx) => g(*ctx),
            Target::Fixed(t) => t.clone(),
        })
    }
    fn fd_alias(&self) -> Option<u32> {
        self.fd
    }
    fn setattr(&self, _a: &SetAttr) -> KResult<()> {
        Ok(())
    }
    fn statfs(&self) -> KResult<Statfs> {
        statfs_of(self.fs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::{resolve, Loc};
    use core::sync::atomic::AtomicUsize;

    static COUNTER: AtomicUsize = AtomicUsize::new(0);

    fn counting(_: usize) -> Vec<u8> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        alloc::format!("call {n}\n").into_bytes()
    }
    fn hello(_: usize) -> Vec<u8> {
        b"hello\n".to_vec()
    }
    fn pid(_: usize) -> Vec<u8> {
        b"7".to_vec()
    }
    /// The context word of the directory, as its contents.
    fn ctx(c: usize) -> Vec<u8> {
        alloc::format!("{c}").into_bytes()
    }
    fn fds(c: usize) -> Vec<DynLink> {
        assert_eq!(c, 7, "the fd folder has its process's context");
        [0u32, 1, 5]
            .iter()
            .map(|&fd| DynLink {
                name: alloc::format!("{fd}").into_bytes(),
                target: alloc::format!("/dev/f{fd}").into_bytes(),
                perm: 0o500,
                fd: Some(fd),
            })
            .collect()
    }

    fn tree() -> SynthFs {
        let fs = SynthFs::new();
        let r = fs.root_dir();
        r.add_file(b"hello", 0o444, hello, Deny::AtWrite(Errno::EIO))
            .unwrap();
        r.add_file(b"count", 0o444, counting, Deny::AtOpen(Errno::EACCES))
            .unwrap();
        r.add_link(b"self", pid).unwrap();
        let p = r.add_dir_for(b"7", 0o555, 7).unwrap();
        p.add_file(b"ctx", 0o444, ctx, Deny::AtWrite(Errno::EINVAL))
            .unwrap();
        let fd = p.add_dir(b"fd", 0o500).unwrap();
        fd.set_list(fds);
        fs
    }

    fn names(d: &Arc<dyn Node>, from: u64) -> Vec<(Vec<u8>, u64)> {
        let mut v = Vec::new();
        d.readdir(from, &mut |e, next| {
            v.push((e.name.to_vec(), next));
            true
        })
        .unwrap();
        v
    }

    const RD: OpenReq = OpenReq {
        access: 0,
        trunc: false,
        append: false,
        mode: 0,
    };
    const WR: OpenReq = OpenReq {
        access: 1,
        trunc: false,
        append: false,
        mode: 0,
    };

    #[test]
    fn files_snapshot_at_open() {
        crate::testing::memory();
        let fs = tree();
        let f = fs.root().lookup(b"count").unwrap();
        let a = f.attr().unwrap();
        assert_eq!(a.st_mode, 0o100444);
        assert_eq!(a.st_size, 0, "generated files report size 0, as Linux");
        let o1 = f.clone().open(&RD).unwrap();
        let o2 = f.clone().open(&RD).unwrap();
        let mut b = [0u8; 32];
        let n1 = o1.read_at(0, &mut &mut b[..]).unwrap();
        let first = b[..n1].to_vec();
        // Reading again from the same open gives the same snapshot, in pieces too.
        let mut c = [0u8; 3];
        assert_eq!(o1.read_at(0, &mut &mut c[..]).unwrap(), 3);
        assert_eq!(&c, &first[..3]);
        assert_eq!(o1.read_at(3, &mut &mut b[..]).unwrap(), n1 - 3);
        assert_eq!(o1.read_at(100, &mut &mut b[..]).unwrap(), 0);
        // A second open ran the generator again.
        let n2 = o2.read_at(0, &mut &mut b[..]).unwrap();
        assert_ne!(&b[..n2], &first[..]);
    }

    #[test]
    fn writes_refused_as_linux() {
        crate::testing::memory();
        let fs = tree();
        let root = fs.root();
        let h = root.lookup(b"hello").unwrap();
        let o = h.clone().open(&WR).unwrap();
        assert_eq!(o.write_at(0, &&b"x"[..]).err(), Some(Errno::EIO));
        assert_eq!(o.append(&&b"x"[..]).err(), Some(Errno::EIO));
        assert_eq!(o.truncate(0), Ok(()));
        let c = root.lookup(b"count").unwrap();
        assert_eq!(c.open(&WR).err(), Some(Errno::EACCES));
        assert_eq!(root.mkdir(b"x", 0o755).err(), Some(Errno::ENOENT));
        assert_eq!(root.mkdir(b"hello", 0o755).err(), Some(Errno::EEXIST));
        assert_eq!(root.create(b"x", &WR).err(), Some(Errno::ENOENT));
        assert_eq!(root.symlink(b"y", b"t").err(), Some(Errno::ENOENT));
        assert_eq!(root.unlink(b"hello", false).err(), Some(Errno::EPERM));
        assert_eq!(root.unlink(b"nothing", false).err(), Some(Errno::ENOENT));
        assert_eq!(root.unlink(b"7", true).err(), Some(Errno::EPERM));
        assert_eq!(root.statfs().unwrap().f_type, PROC_SUPER_MAGIC);
        assert_eq!(h.statfs().unwrap().f_type, 0x9fa0);
    }

    #[test]
    fn links_and_listed_entries() {
        crate::testing::memory();
        let fs = tree();
        let l = Loc::at_root(fs.root());
        // /self -> "7" (relative): following it reaches the directory.
        let r = resolve(&l, b"/self/fd", true).unwrap();
        assert_eq!(r.node.as_ref().unwrap().kind(), Kind::Dir);
        let r = resolve(&l, b"/self", false).unwrap();
        assert_eq!(r.node.unwrap().readlink().unwrap(), b"7");
        // Listed fd links: alias when followed, a target for readlink.
        let r = resolve(&l, b"/self/fd/5", true).unwrap();
        assert_eq!(r.alias, Some(5));
        let r = resolve(&l, b"/self/fd/5", false).unwrap();
        let n = r.node.unwrap();
        assert_eq!(n.readlink().unwrap(), b"/dev/f5");
        assert_eq!(n.attr().unwrap().st_mode, 0o120500);
        assert!(resolve(&l, b"/7/fd/4", true).unwrap().node.is_none());
        let fd = fs.root().lookup(b"7").unwrap().lookup(b"fd").unwrap();
        let all = names(&fd, 0);
        let ns: Vec<&[u8]> = all.iter().map(|(n, _)| &n[..]).collect();
        assert_eq!(ns, [&b"."[..], b"..", b"0", b"1", b"5"]);
        // Resuming from a cookie continues after that entry.
        let rest = names(&fd, all[2].1);
        assert_eq!(rest[0].0, b"1");
        assert_eq!(rest.len(), 2);
        // Inode numbers are stable and distinct.
        let i1 = fd.lookup(b"1").unwrap().attr().unwrap().st_ino;
        assert_eq!(i1, fd.lookup(b"1").unwrap().attr().unwrap().st_ino);
        assert_ne!(i1, fd.lookup(b"0").unwrap().attr().unwrap().st_ino);
        let root_names = names(&fs.root(), 0);
        assert_eq!(root_names.len(), 2 + 4);
        assert_eq!(fs.root().attr().unwrap().st_nlink, 3);
    }

    #[test]
    fn directories_give_their_context_and_can_go_away() {
        let fs = tree();
        let r = fs.root_dir();
        let p = r.lookup(b"7").unwrap();
        let f = p.lookup(b"ctx").unwrap();
        let mut buf = [0u8; 8];
        let mut sink: &mut [u8] = &mut buf;
        assert_eq!(f.read_at(0, &mut sink).unwrap(), 1);
        assert_eq!(&buf[..1], b"7");
        assert!(r.remove(b"7"));
        assert!(!r.remove(b"7"));
        assert_eq!(r.lookup(b"7").err(), Some(Errno::ENOENT));
        assert!(r.lookup(b"hello").is_ok());
    }
}
