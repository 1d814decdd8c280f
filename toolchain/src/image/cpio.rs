//! Writing newc cpio archives: the initrd that carries a kvm image's root file system.
//!
//! A kvm guest has no host files; `ukport run --plat kvm --rootfs DIR` (and a recipe's
//! `[rootfs]`) packs the folder into a newc archive that QEMU hands over as the initrd
//! and the kernel unpacks into its ramfs root (lib/vfs/src/cpio.rs is the reader).
//!
//! Format: per member a 110-byte ASCII header (`070701` and 13 eight-digit hex fields:
//! ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
//! rdevminor, namesize, check), the NUL-terminated name padded to 4 bytes, then the
//! data padded to 4 bytes; a member named `TRAILER!!!` ends the archive.
//!
//! What goes in: directories (empty ones too), regular files, symlinks (the target is
//! the data) and hard links (one inode number, the data with the last name, as GNU cpio
//! does). Sockets, FIFOs and device nodes are left out and listed in [`Packed::skipped`]:
//! ramfs cannot hold them. Owners become 0: the image runs as uid 0 and the host's
//! numbers mean nothing inside it.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The name that ends an archive; no member may carry it.
const TRAILER: &[u8] = b"TRAILER!!!";

/// A newc archive being written, member by member.
pub struct Writer {
    out: Vec<u8>,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

/// One member's header fields (the ones that vary; devices and the checksum are 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub ino: u32,
    /// File type and permission bits, as `st_mode`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    /// Seconds since the epoch.
    pub mtime: u32,
}

impl Writer {
    pub fn new() -> Writer {
        Writer { out: Vec::new() }
    }

    /// Append one member. `name` is relative (no leading `/`), `data` the file's bytes
    /// or a symlink's target.
    pub fn add(&mut self, name: &[u8], h: &Header, data: &[u8]) -> Result<()> {
        if name.is_empty() || name.contains(&0) {
            bail!(
                "cpio member name {:?} is empty or contains a NUL byte",
                String::from_utf8_lossy(name)
            );
        }
        if name == TRAILER {
            bail!("a file named TRAILER!!! at the top of the folder would end the archive early; rename it");
        }
        let size = u32::try_from(data.len()).map_err(|_| {
            anyhow::anyhow!(
                "{} is {} bytes; newc archives hold at most 4 GiB per file",
                String::from_utf8_lossy(name),
                data.len()
            )
        })?;
        self.header(name, h, size);
        self.out.extend_from_slice(data);
        self.pad();
        Ok(())
    }

    fn header(&mut self, name: &[u8], h: &Header, size: u32) {
        let fields = [
            h.ino,
            h.mode,
            h.uid,
            h.gid,
            h.nlink,
            h.mtime,
            size,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name);
        self.out.push(0);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    /// End the archive with the trailer and return its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        let h = Header {
            nlink: 1,
            ..Header::default()
        };
        self.header(TRAILER, &h, 0);
        self.out
    }
}

/// The archive of a folder, with what was left out.
pub struct Packed {
    pub bytes: Vec<u8>,
    /// Members written (directories, files, symlinks; each hard link name counts).
    pub members: usize,
    /// Host paths that were not archived (sockets, FIFOs, device nodes).
    pub skipped: Vec<PathBuf>,
}

/// One path found in the walk, before writing.
struct Found {
    name: Vec<u8>,
    path: PathBuf,
    meta: fs::Metadata,
}

/// Every entry below `dir` (not `dir` itself), parents before children, names sorted so
/// that the same folder always gives the same archive.
fn walk(dir: &Path) -> Result<Vec<Found>> {
    let mut out = Vec::new();
    let mut stack: Vec<(PathBuf, Vec<u8>)> = vec![(dir.to_path_buf(), Vec::new())];
    while let Some((host, prefix)) = stack.pop() {
        let mut names: Vec<_> = fs::read_dir(&host)
            .with_context(|| format!("cannot read folder {}", host.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("cannot read folder {}", host.display()))?;
        names.sort();
        let mut subdirs = Vec::new();
        for n in names {
            let path = host.join(&n);
            let meta = fs::symlink_metadata(&path)
                .with_context(|| format!("cannot stat {}", path.display()))?;
            let mut name = prefix.clone();
            if !name.is_empty() {
                name.push(b'/');
            }
            name.extend_from_slice(OsStr::as_bytes(&n));
            if meta.is_dir() {
                subdirs.push((path.clone(), name.clone()));
            }
            out.push(Found { name, path, meta });
        }
        // Depth-first, in name order: push in reverse so the first name pops first.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(out)
}

/// Pack the folder `dir` into a newc archive whose root is `dir`.
pub fn pack_dir(dir: &Path) -> Result<Packed> {
    let meta =
        fs::metadata(dir).with_context(|| format!("rootfs folder {} not found", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a folder (a rootfs must be one)", dir.display());
    }
    let found = walk(dir)?;
    // Hard links: the number of names each multiply-linked host inode has *inside* the
    // folder, and the last of them (which carries the data).
    let mut links: HashMap<(u64, u64), (u32, usize)> = HashMap::new();
    for (i, f) in found.iter().enumerate() {
        if f.meta.is_file() && f.meta.nlink() > 1 {
            let e = links.entry((f.meta.dev(), f.meta.ino())).or_insert((0, i));
            e.0 += 1;
            e.1 = i;
        }
    }
    let mut inos: HashMap<(u64, u64), u32> = HashMap::new();
    let mut next_ino = 1u32;
    let mut w = Writer::new();
    let mut packed = Packed {
        bytes: Vec::new(),
        members: 0,
        skipped: Vec::new(),
    };
    for (i, f) in found.iter().enumerate() {
        let ft = f.meta.file_type();
        if !(ft.is_dir() || ft.is_file() || ft.is_symlink()) {
            packed.skipped.push(f.path.clone());
            continue;
        }
        let key = (f.meta.dev(), f.meta.ino());
        let ino = *inos.entry(key).or_insert_with(|| {
            next_ino += 1;
            next_ino - 1
        });
        let (nlink, data_here) = match links.get(&key) {
            Some(&(n, last)) if ft.is_file() => (n, last == i),
            _ => (if ft.is_dir() { 2 } else { 1 }, true),
        };
        let h = Header {
            ino,
            mode: f.meta.mode(),
            uid: 0,
            gid: 0,
            nlink,
            mtime: f.meta.mtime().clamp(0, u32::MAX as i64) as u32,
        };
        let data = if ft.is_symlink() {
            fs::read_link(&f.path)
                .with_context(|| format!("cannot read symlink {}", f.path.display()))?
                .into_os_string()
                .into_vec()
        } else if ft.is_file() && data_here {
            fs::read(&f.path).with_context(|| format!("cannot read {}", f.path.display()))?
        } else {
            Vec::new()
        };
        w.add(&f.name, &h, &data)
            .with_context(|| format!("archiving {}", f.path.display()))?;
        packed.members += 1;
    }
    packed.bytes = w.finish();
    Ok(packed)
}

/// Pack `dir` into the archive file `out` (written beside it, then renamed, so that a
/// VM starting meanwhile never reads half an archive).
pub fn write_dir_archive(dir: &Path, out: &Path) -> Result<Packed> {
    let packed = pack_dir(dir)?;
    if let Some(parent) = out.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    let mut f =
        fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(&packed.bytes)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    drop(f);
    fs::rename(&tmp, out).with_context(|| format!("cannot rename to {}", out.display()))?;
    Ok(packed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};
    use std::sync::Arc;
    use uk_vfs::path::{resolve, Loc};
    use uk_vfs::Node;

    /// A folder with files of several modes, a symlink, an empty dir, a hard link pair.
    fn sample() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let p = t.path();
        fs::create_dir_all(p.join("etc/app")).unwrap();
        fs::create_dir(p.join("empty")).unwrap();
        fs::write(p.join("etc/app/conf"), b"key = value\n").unwrap();
        fs::write(p.join("run.sh"), b"#!/bin/sh\n").unwrap();
        fs::set_permissions(p.join("run.sh"), fs::Permissions::from_mode(0o750)).unwrap();
        fs::write(p.join("secret"), b"s").unwrap();
        fs::set_permissions(p.join("secret"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(p.join("empty"), fs::Permissions::from_mode(0o1777)).unwrap();
        // Sizes that need padding: 0, 1, 3, 4, 5 bytes and one larger than a page.
        for (n, len) in [("z0", 0), ("z1", 1), ("z3", 3), ("z4", 4), ("z5", 5)] {
            fs::write(p.join(n), vec![b'a' + len as u8; len]).unwrap();
        }
        let big: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        fs::write(p.join("big.bin"), &big).unwrap();
        symlink("etc/app/conf", p.join("conf-link")).unwrap();
        symlink("/nowhere/at/all", p.join("dangling")).unwrap();
        fs::hard_link(p.join("run.sh"), p.join("etc/run-again.sh")).unwrap();
        t
    }

    #[test]
    fn parses_with_the_kernel_reader() {
        uk_vfs::testing::memory();
        let t = sample();
        let packed = pack_dir(t.path()).unwrap();
        let entries = uk_vfs::cpio::parse(&packed.bytes).unwrap();
        assert_eq!(entries.len(), packed.members);
        let get = |n: &str| {
            entries
                .iter()
                .find(|e| e.name == n.as_bytes())
                .unwrap_or_else(|| panic!("{n} missing"))
        };
        assert_eq!(get("etc/app/conf").data, b"key = value\n");
        assert_eq!(get("etc/app/conf").mode, 0o100644);
        assert_eq!(get("run.sh").mode & 0o7777, 0o750);
        assert_eq!(get("secret").mode, 0o100600);
        assert_eq!(get("empty").mode, 0o041777);
        assert_eq!(get("conf-link").mode & 0o170000, 0o120000);
        assert_eq!(get("conf-link").data, b"etc/app/conf");
        assert_eq!(get("dangling").data, b"/nowhere/at/all");
        assert_eq!(get("z5").data, b"fffff");
        assert_eq!(get("big.bin").data.len(), 10_000);
        // Hard links share an inode; only the last name carries the data.
        let (a, b) = (get("etc/run-again.sh"), get("run.sh"));
        assert_eq!((a.ino, a.nlink, b.nlink), (b.ino, 2, 2));
        assert_eq!(a.data.len() + b.data.len(), 10);
        // Parents come before their children.
        let pos = |n: &str| entries.iter().position(|e| e.name == n.as_bytes()).unwrap();
        assert!(pos("etc") < pos("etc/app") && pos("etc/app") < pos("etc/app/conf"));
        // Owners are root's.
        assert!(entries.iter().all(|e| e.uid == 0 && e.gid == 0));
    }

    fn read_all(n: &Arc<dyn Node>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let k = n.read_at(out.len() as u64, &mut &mut buf[..]).unwrap();
            if k == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..k]);
        }
    }

    #[test]
    fn round_trips_through_the_kernel_unpacker() {
        uk_vfs::testing::memory();
        let t = sample();
        let packed = pack_dir(t.path()).unwrap();
        let fs_ = uk_vfs::ramfs::RamFs::new();
        let root = fs_.root();
        let n = uk_vfs::cpio::unpack(&root, &packed.bytes).unwrap();
        assert_eq!(n, packed.members);
        let l = Loc::at_root(root);
        let node = |p: &str, follow: bool| {
            resolve(&l, p.as_bytes(), follow)
                .unwrap()
                .node
                .unwrap_or_else(|| panic!("{p} missing in the ramfs"))
        };
        // Every host file has the same bytes and permission bits inside.
        for name in [
            "etc/app/conf",
            "run.sh",
            "secret",
            "z0",
            "z1",
            "z3",
            "z4",
            "z5",
            "big.bin",
        ] {
            let host = t.path().join(name);
            let inside = node(&format!("/{name}"), true);
            assert_eq!(read_all(&inside), fs::read(&host).unwrap(), "{name}");
            assert_eq!(
                inside.attr().unwrap().st_mode,
                fs::metadata(&host).unwrap().mode(),
                "{name}"
            );
        }
        assert_eq!(read_all(&node("/etc/run-again.sh", true)), b"#!/bin/sh\n");
        assert_eq!(node("/run.sh", true).attr().unwrap().st_nlink, 2);
        // Symlinks resolve inside the ramfs.
        assert_eq!(read_all(&node("/conf-link", true)), b"key = value\n");
        assert_eq!(
            node("/dangling", false).readlink().unwrap(),
            b"/nowhere/at/all"
        );
        // The empty folder exists, with its mode (sticky bit included).
        let e = node("/empty", true);
        assert_eq!(e.attr().unwrap().st_mode, 0o041777);
        let mut names = 0;
        e.readdir(0, &mut |d, _| {
            names += (d.name != b"." && d.name != b"..") as usize;
            true
        })
        .unwrap();
        assert_eq!(names, 0);
    }

    #[test]
    fn same_folder_same_archive_and_special_files_skipped() {
        uk_vfs::testing::memory();
        let t = sample();
        let fifo = t.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { mkfifo(c.as_ptr(), 0o644) }, 0);
        let a = pack_dir(t.path()).unwrap();
        let b = pack_dir(t.path()).unwrap();
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.skipped, vec![fifo]);
        assert!(uk_vfs::cpio::parse(&a.bytes)
            .unwrap()
            .iter()
            .all(|e| e.name != b"fifo"));
    }

    extern "C" {
        fn mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
    }

    #[test]
    fn empty_folder_is_just_a_trailer_and_errors_are_clear() {
        uk_vfs::testing::memory();
        let t = tempfile::tempdir().unwrap();
        let a = pack_dir(t.path()).unwrap();
        assert_eq!(a.members, 0);
        assert_eq!(uk_vfs::cpio::parse(&a.bytes).unwrap().len(), 0);
        assert_eq!(a.bytes.len() % 4, 0);
        let e = pack_dir(&t.path().join("missing")).err().unwrap();
        assert!(format!("{e:#}").contains("not found"), "{e:#}");
        fs::write(t.path().join("f"), b"").unwrap();
        let e = pack_dir(&t.path().join("f")).err().unwrap();
        assert!(format!("{e:#}").contains("not a folder"), "{e:#}");
        fs::write(t.path().join("TRAILER!!!"), b"").unwrap();
        assert!(pack_dir(t.path()).is_err());
    }

    #[test]
    fn written_file_matches_and_leaves_no_temporary() {
        uk_vfs::testing::memory();
        let t = sample();
        let out = tempfile::tempdir().unwrap();
        let f = out.path().join("sub/root.cpio");
        let p = write_dir_archive(t.path(), &f).unwrap();
        assert_eq!(fs::read(&f).unwrap(), p.bytes);
        assert_eq!(fs::read_dir(out.path().join("sub")).unwrap().count(), 1);
    }
}
