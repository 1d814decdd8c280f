//! cpio "newc" archives (the initrd format): parsing and unpacking into a directory.
//!
//! Format: each entry is a 110-byte ASCII header (`070701` then 13 eight-digit hex
//! fields), the NUL-terminated name padded to 4 bytes, the data padded to 4 bytes; the
//! entry named `TRAILER!!!` ends the archive. Any malformed input is an error naming
//! the offset, never a panic: the archive comes from outside the kernel.

use crate::{Errno, Kind, Node, OpenReq, SetAttr};
use alloc::sync::Arc;
use alloc::vec::Vec;
use litemap::LiteMap;

const MAGIC: &[u8] = b"070701";
const MAGIC_CRC: &[u8] = b"070702";
const HEADER: usize = 110;

/// What is wrong with an archive, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpioError {
    /// Byte offset of the entry that is wrong.
    pub offset: usize,
    pub what: &'static str,
}

impl core::fmt::Display for CpioError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "bad cpio archive at byte {}: {}", self.offset, self.what)
    }
}

/// One archive member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub name: &'a [u8],
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub data: &'a [u8],
}

fn hex8(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        let d = (c as char).to_digit(16)?;
        v = v << 4 | d;
    }
    Some(v)
}

fn pad4(x: usize) -> usize {
    (x + 3) & !3
}

/// The members of `archive`, in order, up to the trailer.
pub fn parse(archive: &[u8]) -> Result<Vec<Entry<'_>>, CpioError> {
    let mut out = Vec::new();
    let mut off = 0;
    loop {
        let err = |what| CpioError { offset: off, what };
        if off == archive.len() {
            return Err(err("archive ends without a TRAILER!!! entry"));
        }
        let h = archive
            .get(off..off + HEADER)
            .ok_or(err("truncated header"))?;
        if &h[..6] != MAGIC && &h[..6] != MAGIC_CRC {
            return Err(err("not a newc header (magic 070701 expected)"));
        }
        let mut f = [0u32; 13];
        for (i, v) in f.iter_mut().enumerate() {
            *v = hex8(&h[6 + i * 8..14 + i * 8]).ok_or(err("header field is not hex"))?;
        }
        let [ino, mode, uid, gid, nlink, mtime, filesize, _, _, _, _, namesize, _] = f;
        let namesize = namesize as usize;
        if namesize == 0 {
            return Err(err("empty name"));
        }
        let name_start = off + HEADER;
        let name_end = name_start
            .checked_add(namesize)
            .ok_or(err("name size overflows"))?;
        let name = archive
            .get(name_start..name_end)
            .ok_or(err("truncated name"))?;
        if name[namesize - 1] != 0 {
            return Err(err("name is not NUL-terminated"));
        }
        let name = &name[..namesize - 1];
        let data_start = pad4(name_end);
        let data_end = data_start
            .checked_add(filesize as usize)
            .ok_or(err("file size overflows"))?;
        let data = archive
            .get(data_start..data_end)
            .ok_or(err("truncated file data"))?;
        if name == b"TRAILER!!!" {
            return Ok(out);
        }
        out.push(Entry {
            name,
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            data,
        });
        off = pad4(data_end).min(archive.len());
    }
}

/// Why unpacking stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnpackError {
    Format(CpioError),
    /// A file-system operation failed on the member at this index.
    Fs {
        index: usize,
        errno: Errno,
    },
}

/// Unpack `archive` below directory `root`; returns the number of members created.
/// Missing parent directories are created (0755). Device nodes, FIFOs and sockets are
/// skipped with a warning (ramfs cannot hold them).
pub fn unpack(root: &Arc<dyn Node>, archive: &[u8]) -> Result<usize, UnpackError> {
    let entries = parse(archive).map_err(UnpackError::Format)?;
    let mut by_ino: LiteMap<u32, Arc<dyn Node>> = LiteMap::new();
    let mut count = 0;
    for (index, e) in entries.iter().enumerate() {
        let fs = |errno| UnpackError::Fs { index, errno };
        let comps: Vec<&[u8]> = e
            .name
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .collect();
        if comps.iter().any(|c| *c == b"..") {
            return Err(fs(Errno::EINVAL)); // never write outside `root`
        }
        let Some((last, dirs)) = comps.split_last() else {
            continue; // "." itself
        };
        let mut dir = root.clone();
        for c in dirs {
            dir = match dir.lookup(c) {
                Ok(d) => d,
                Err(Errno::ENOENT) => {
                    dir.mkdir(c, 0o755).map_err(fs)?;
                    dir.lookup(c).map_err(fs)?
                }
                Err(er) => return Err(fs(er)),
            };
        }
        let kind = Kind::from_mode(e.mode);
        let node = match kind {
            Kind::Dir => {
                match dir.mkdir(last, e.mode & 0o7777) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(er) => return Err(fs(er)),
                }
                dir.lookup(last).map_err(fs)?
            }
            Kind::Symlink => {
                dir.symlink(last, e.data).map_err(fs)?;
                dir.lookup(last).map_err(fs)?
            }
            Kind::Reg => {
                let linked = if e.nlink > 1 {
                    by_ino.get(&e.ino).cloned()
                } else {
                    None
                };
                let n = match linked {
                    Some(n) => {
                        dir.link(last, &n).map_err(fs)?;
                        n
                    }
                    None => {
                        let req = OpenReq {
                            access: 1,
                            mode: e.mode & 0o7777,
                            ..OpenReq::default()
                        };
                        let n = match dir.create(last, &req) {
                            Ok(n) => n,
                            Err(Errno::EEXIST) => {
                                dir.unlink(last, false).map_err(fs)?;
                                dir.create(last, &req).map_err(fs)?
                            }
                            Err(er) => return Err(fs(er)),
                        };
                        if e.nlink > 1 {
                            by_ino.insert(e.ino, n.clone());
                        }
                        n
                    }
                };
                if !e.data.is_empty() {
                    let mut done = 0;
                    while done < e.data.len() {
                        let w = n.write_at(done as u64, &&e.data[done..]).map_err(fs)?;
                        if w == 0 {
                            return Err(fs(Errno::ENOSPC));
                        }
                        done += w;
                    }
                }
                n
            }
            _ => {
                uk_log::warn!(
                    "initrd: skipping special file {} (ramfs holds no device nodes)",
                    core::str::from_utf8(e.name).unwrap_or("?")
                );
                continue;
            }
        };
        let t = e.mtime as i64 * 1_000_000_000;
        let _ = node.setattr(&SetAttr {
            mode: if kind == Kind::Symlink {
                None
            } else {
                Some(e.mode & 0o7777)
            },
            uid: Some(e.uid),
            gid: Some(e.gid),
            atime_ns: Some(t),
            mtime_ns: Some(t),
        });
        count += 1;
    }
    Ok(count)
}

/// Build a newc archive (tests here and in other crates' tests; the host tools have
/// their own writer).
#[cfg(test)]
pub(crate) fn build(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut add = |name: &str, mode: u32, data: &[u8], ino: u32, nlink: u32| {
        let hdr = alloc::format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            ino,
            mode,
            0,
            0,
            nlink,
            1_700_000_000u32,
            data.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0
        );
        out.extend_from_slice(hdr.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    };
    for (i, (name, mode, data)) in entries.iter().enumerate() {
        add(name, *mode, data, i as u32 + 1, 1);
    }
    add("TRAILER!!!", 0, b"", 0, 1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::{resolve, Loc};
    use crate::ramfs::RamFs;

    #[test]
    fn unpack_tree() {
        crate::testing::memory();
        let a = build(&[
            (".", 0o040755, b""),
            ("etc", 0o040755, b""),
            ("etc/hosts", 0o100644, b"127.0.0.1 localhost\n"),
            ("deep/er/file", 0o100600, b"x"),
            ("link", 0o120777, b"etc/hosts"),
            ("dev/null", 0o020666, b""),
        ]);
        let fs = RamFs::new();
        let root = fs.root();
        assert_eq!(unpack(&root, &a).unwrap(), 4);
        let l = Loc::at_root(root);
        let r = resolve(&l, b"/link", true).unwrap().node.unwrap();
        let mut b = [0u8; 64];
        let n = r.read_at(0, &mut &mut b[..]).unwrap();
        assert_eq!(&b[..n], b"127.0.0.1 localhost\n");
        let at = r.attr().unwrap();
        assert_eq!(at.st_mode, 0o100644);
        assert_eq!(at.st_mtime.as_ns(), 1_700_000_000 * 1_000_000_000);
        let d = resolve(&l, b"/deep/er/file", true).unwrap().node.unwrap();
        assert_eq!(d.attr().unwrap().st_mode, 0o100600);
        assert!(resolve(&l, b"/dev/null", true).unwrap().node.is_none());
    }

    #[test]
    fn hard_links() {
        crate::testing::memory();
        let mut a = Vec::new();
        for (name, data) in [("a", &b""[..]), ("b", b"shared")] {
            let hdr = alloc::format!(
                "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
                7, 0o100644, 0, 0, 2, 0, data.len(), 0, 0, 0, 0, name.len() + 1, 0
            );
            a.extend_from_slice(hdr.as_bytes());
            a.extend_from_slice(name.as_bytes());
            a.push(0);
            while a.len() % 4 != 0 {
                a.push(0);
            }
            a.extend_from_slice(data);
            while a.len() % 4 != 0 {
                a.push(0);
            }
        }
        a.extend_from_slice(&build(&[])[..]);
        let fs = RamFs::new();
        let root = fs.root();
        assert_eq!(unpack(&root, &a).unwrap(), 2);
        let x = root.lookup(b"a").unwrap();
        assert_eq!(x.attr().unwrap().st_nlink, 2);
        assert_eq!(x.attr().unwrap().st_size, 6);
    }

    #[test]
    fn malformed_archives_are_errors() {
        crate::testing::memory();
        let good = build(&[("f", 0o100644, b"data")]);
        assert!(parse(&good).is_ok());
        // Every truncation is an error, never a panic.
        for n in 0..good.len() {
            assert!(parse(&good[..n]).is_err(), "prefix {n}");
        }
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(
            parse(&bad).unwrap_err().what,
            "not a newc header (magic 070701 expected)"
        );
        let mut bad = good.clone();
        bad[10] = b'z';
        assert_eq!(parse(&bad).unwrap_err().what, "header field is not hex");
        // A huge file size.
        let mut bad = good.clone();
        bad[54..62].copy_from_slice(b"ffffffff");
        assert_eq!(parse(&bad).unwrap_err().what, "truncated file data");
        // Name size 0 and names without NUL.
        let mut bad = good.clone();
        bad[94..102].copy_from_slice(b"00000000");
        assert!(parse(&bad).is_err());
        let mut bad = good.clone();
        bad[94..102].copy_from_slice(b"00000001");
        assert!(parse(&bad).is_err());
        // Random bytes.
        let mut x = 12345u32;
        for _ in 0..200 {
            let mut junk = good.clone();
            for _ in 0..4 {
                x = x.wrapping_mul(1103515245).wrapping_add(12345);
                let i = (x >> 8) as usize % junk.len();
                junk[i] = (x >> 24) as u8;
            }
            let _ = parse(&junk);
        }
        // `..` cannot climb out.
        let evil = build(&[("../escape", 0o100644, b"x")]);
        let fs = RamFs::new();
        assert!(matches!(
            unpack(&fs.root(), &evil),
            Err(UnpackError::Fs {
                errno: Errno::EINVAL,
                ..
            })
        ));
    }
}
