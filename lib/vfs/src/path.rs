//! Path resolution.
//!
//! A [`Loc`] is the chain of directories from the root to a directory, with the name
//! each was reached by. `..` pops the chain instead of asking a file system for a
//! parent, so it works the same on every file system, crosses mount points back to the
//! covered directory, stops at the root, and can never climb out of a hostfs mount.
//! Symlinks are read and their targets resolved here, in the image's namespace (an
//! absolute target starts again from the image's root), at most [`MAX_SYMLINKS`] times.

use crate::{mounted_on, Errno, KResult, Kind, Node, MAX_SYMLINKS, NAME_MAX, PATH_MAX};
use alloc::sync::Arc;
use alloc::vec::Vec;

/// A directory and how it was reached from the root.
#[derive(Clone)]
pub struct Loc {
    /// `stack[0]` is the root (empty name); the last entry is the directory itself.
    stack: Vec<(Vec<u8>, Arc<dyn Node>)>,
}

impl Loc {
    /// The namespace root.
    pub fn root() -> KResult<Loc> {
        Ok(Loc::at_root(crate::root()?))
    }

    /// A chain that starts (and ends) at `root`.
    pub fn at_root(root: Arc<dyn Node>) -> Loc {
        Loc {
            stack: alloc::vec![(Vec::new(), root)],
        }
    }

    /// The directory itself.
    pub fn node(&self) -> &Arc<dyn Node> {
        &self.stack[self.stack.len() - 1].1
    }

    /// Step into child `node` reached by `name`.
    pub fn push(&mut self, name: Vec<u8>, node: Arc<dyn Node>) {
        self.stack.push((name, node));
    }

    fn up(&mut self) {
        if self.stack.len() > 1 {
            self.stack.pop();
        }
    }

    fn go_root(&mut self) {
        self.stack.truncate(1);
    }

    /// The absolute path this chain spells ("/" for the root).
    pub fn path(&self) -> Vec<u8> {
        let mut p = Vec::new();
        for (name, _) in &self.stack[1..] {
            p.push(b'/');
            p.extend_from_slice(name);
        }
        if p.is_empty() {
            p.push(b'/');
        }
        p
    }

    /// True when any directory of the chain satisfies `f` (rename: a directory may
    /// not move below itself).
    pub fn contains(&self, f: &dyn Fn(&Arc<dyn Node>) -> bool) -> bool {
        self.stack.iter().any(|(_, n)| f(n))
    }

    /// True when this is the root.
    pub fn is_root(&self) -> bool {
        self.stack.len() == 1
    }
}

/// The outcome of resolving a path.
pub struct Resolved {
    /// The directory holding the last component; when `name` is `None`, the chain of
    /// the final node itself.
    pub parent: Loc,
    /// The last component; `None` when the path ended in `.`, `..` or was `/`.
    pub name: Option<Vec<u8>>,
    /// The final node; `None` when the last component does not exist (the parent does).
    pub node: Option<Arc<dyn Node>>,
    /// The path named a descriptor alias (/dev/stdout) and it was followed.
    pub alias: Option<u32>,
    /// The path ended in `/`: the final object must be a directory.
    pub trailing_slash: bool,
}

impl Resolved {
    /// The absolute path the resolution reached (symlinks followed): what Linux shows
    /// in /proc/PID/fd and getcwd.
    pub fn path(&self) -> Vec<u8> {
        let mut p = self.parent.path();
        if let Some(n) = &self.name {
            if p != b"/" {
                p.push(b'/');
            }
            p.extend_from_slice(n);
        }
        p
    }

    /// The chain of the final node when it is a directory (chdir, a dirfd).
    pub fn loc(&self) -> Option<Loc> {
        let node = self.node.clone()?;
        match &self.name {
            None => Some(self.parent.clone()),
            Some(n) => {
                let mut l = self.parent.clone();
                l.push(n.clone(), node);
                Some(l)
            }
        }
    }
}

/// Resolve `path` from `start` (used for relative paths). `follow`: follow a symlink in
/// the last component (a trailing slash always does).
///
/// Errors: ENOENT (empty path, or a missing directory on the way), ENOTDIR (a
/// non-directory on the way, or before a trailing slash), ENAMETOOLONG, ELOOP.
pub fn resolve(start: &Loc, path: &[u8], follow: bool) -> KResult<Resolved> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let mut loc = start.clone();
    if path[0] == b'/' {
        loc.go_root();
    }
    let trailing = path.len() > 1 && path[path.len() - 1] == b'/';
    // Components still to walk, the next one last.
    let mut work: Vec<Vec<u8>> = Vec::new();
    push_components(&mut work, path)?;
    let mut links = 0;
    loop {
        let Some(c) = work.pop() else {
            let node = loc.node().clone();
            return Ok(Resolved {
                parent: loc,
                name: None,
                node: Some(node),
                alias: None,
                trailing_slash: trailing,
            });
        };
        let last = work.is_empty();
        if loc.node().kind() != Kind::Dir {
            return Err(Errno::ENOTDIR);
        }
        if c == b"." {
            continue;
        }
        if c == b".." {
            loc.up();
            continue;
        }
        let child = match loc.node().lookup(&c) {
            Ok(ch) => ch,
            Err(Errno::ENOENT) if last => {
                return Ok(Resolved {
                    parent: loc,
                    name: Some(c),
                    node: None,
                    alias: None,
                    trailing_slash: trailing,
                })
            }
            Err(e) => return Err(e),
        };
        let child = mounted_on(&child).unwrap_or(child);
        if child.kind() == Kind::Symlink && (!last || follow || trailing) {
            if let Some(fd) = child.fd_alias() {
                if !last {
                    return Err(Errno::ENOTDIR);
                }
                return Ok(Resolved {
                    parent: loc,
                    name: Some(c),
                    node: Some(child),
                    alias: Some(fd),
                    trailing_slash: trailing,
                });
            }
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(Errno::ELOOP);
            }
            let target = child.readlink()?;
            if target.is_empty() {
                return Err(Errno::ENOENT);
            }
            if target[0] == b'/' {
                loc.go_root();
            }
            push_components(&mut work, &target)?;
            continue;
        }
        if last {
            if trailing && child.kind() != Kind::Dir {
                return Err(Errno::ENOTDIR);
            }
            return Ok(Resolved {
                parent: loc,
                name: Some(c),
                node: Some(child),
                alias: None,
                trailing_slash: trailing,
            });
        }
        loc.push(c, child);
    }
}

/// Push the components of `path` onto `work` so that the first is popped first.
fn push_components(work: &mut Vec<Vec<u8>>, path: &[u8]) -> KResult<()> {
    let at = work.len();
    for c in path.split(|b| *b == b'/').filter(|c| !c.is_empty()) {
        if c.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        work.insert(at, c.to_vec());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ramfs::RamFs;
    use crate::OpenReq;

    fn tree() -> Loc {
        let fs = RamFs::new();
        let root = fs.root();
        root.mkdir(b"a", 0o755).unwrap();
        let a = root.lookup(b"a").unwrap();
        a.mkdir(b"b", 0o755).unwrap();
        a.create(b"f", &OpenReq::default()).unwrap();
        a.symlink(b"up", b"..").unwrap();
        a.symlink(b"abs", b"/a/b").unwrap();
        a.symlink(b"dangling", b"nowhere").unwrap();
        a.symlink(b"loop", b"loop").unwrap();
        a.symlink(b"tofile", b"f").unwrap();
        Loc::at_root(root)
    }

    #[test]
    fn absolute_relative_dot_dotdot() {
        crate::testing::memory();
        let root = tree();
        let r = resolve(&root, b"/a/b", true).unwrap();
        assert_eq!(r.path(), b"/a/b");
        assert_eq!(r.node.as_ref().unwrap().kind(), Kind::Dir);
        let b = r.loc().unwrap();
        assert_eq!(b.path(), b"/a/b");
        let r = resolve(&b, b"../f", true).unwrap();
        assert_eq!(r.path(), b"/a/f");
        let r = resolve(&b, b"../../../..", true).unwrap();
        assert!(r.name.is_none());
        assert!(r.parent.is_root(), ".. stops at the root");
        let r = resolve(&root, b"/a/./b/.", true).unwrap();
        assert_eq!(r.parent.path(), b"/a/b");
        let r = resolve(&root, b"//a//b//", true).unwrap();
        assert!(r.trailing_slash);
        assert_eq!(r.path(), b"/a/b");
    }

    #[test]
    fn errors() {
        crate::testing::memory();
        let root = tree();
        assert_eq!(resolve(&root, b"", true).err(), Some(Errno::ENOENT));
        assert_eq!(resolve(&root, b"/x/y", true).err(), Some(Errno::ENOENT));
        let r = resolve(&root, b"/a/missing", true).unwrap();
        assert!(r.node.is_none());
        assert_eq!(r.name.as_deref(), Some(&b"missing"[..]));
        assert_eq!(resolve(&root, b"/a/f/x", true).err(), Some(Errno::ENOTDIR));
        assert_eq!(resolve(&root, b"/a/f/", true).err(), Some(Errno::ENOTDIR));
        assert_eq!(resolve(&root, b"/a/f/.", true).err(), Some(Errno::ENOTDIR));
        assert_eq!(resolve(&root, b"/a/loop", true).err(), Some(Errno::ELOOP));
        assert_eq!(
            resolve(&root, b"/a/loop/x", false).err(),
            Some(Errno::ELOOP)
        );
        let long = [b'x'; 256];
        assert_eq!(resolve(&root, &long, true).err(), Some(Errno::ENAMETOOLONG));
        let mut p = Vec::new();
        while p.len() < PATH_MAX {
            p.extend_from_slice(b"a/");
        }
        assert_eq!(resolve(&root, &p, true).err(), Some(Errno::ENAMETOOLONG));
    }

    #[test]
    fn symlinks() {
        crate::testing::memory();
        let root = tree();
        let r = resolve(&root, b"/a/up/a/b", true).unwrap();
        assert_eq!(r.path(), b"/a/b");
        let r = resolve(&root, b"/a/abs", true).unwrap();
        assert_eq!(r.path(), b"/a/b");
        let r = resolve(&root, b"/a/abs", false).unwrap();
        assert_eq!(
            r.node.unwrap().kind(),
            Kind::Symlink,
            "NOFOLLOW keeps the link"
        );
        let r = resolve(&root, b"/a/abs/", false).unwrap();
        assert_eq!(
            r.node.unwrap().kind(),
            Kind::Dir,
            "a trailing slash follows"
        );
        let r = resolve(&root, b"/a/dangling", true).unwrap();
        assert!(r.node.is_none());
        assert_eq!(
            r.path(),
            b"/a/nowhere",
            "creation goes to the link's target"
        );
        let r = resolve(&root, b"/a/tofile", true).unwrap();
        assert_eq!(r.node.unwrap().kind(), Kind::Reg);
        assert_eq!(
            resolve(&root, b"/a/tofile/", true).err(),
            Some(Errno::ENOTDIR)
        );
    }

    #[test]
    fn forty_links_ok_forty_one_eloop() {
        crate::testing::memory();
        let fs = RamFs::new();
        let root = fs.root();
        root.mkdir(b"d", 0o755).unwrap();
        for i in 0..41u32 {
            let name = alloc::format!("l{i}");
            let target = alloc::format!("l{}", i + 1);
            root.symlink(name.as_bytes(), target.as_bytes()).unwrap();
        }
        root.symlink(b"l41", b"d").unwrap();
        let r = Loc::at_root(root);
        assert!(
            resolve(&r, b"/l2", true).unwrap().node.is_some(),
            "40 links"
        );
        assert_eq!(
            resolve(&r, b"/l1", true).err(),
            Some(Errno::ELOOP),
            "41 links"
        );
    }

    #[test]
    fn mounts_and_dotdot_across_them() {
        crate::testing::memory();
        let _g = crate::TEST_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let fs = RamFs::new();
        let root = fs.root();
        root.mkdir(b"mnt", 0o755).unwrap();
        root.create(b"top", &OpenReq::default()).unwrap();
        crate::set_root(root);
        let other = RamFs::new().root();
        other.create(b"inner", &OpenReq::default()).unwrap();
        crate::mount(b"/mnt", other).unwrap();
        let start = Loc::root().unwrap();
        let r = resolve(&start, b"/mnt/inner", true).unwrap();
        assert!(r.node.is_some());
        let mnt = resolve(&start, b"/mnt", true).unwrap().loc().unwrap();
        assert!(crate::is_mount_root(mnt.node()));
        let r = resolve(&mnt, b"../top", true).unwrap();
        assert!(
            r.node.is_some(),
            ".. from a mount root is the covered dir's parent"
        );
        assert_eq!(
            crate::mount(b"/top", RamFs::new().root()),
            Err(Errno::ENOTDIR)
        );
    }
}
