//! A 9P2000.L client with the shape of the platform's `HostFs` capability: every host
//! "descriptor" is a fid. A lookup (`O_PATH`) is a one-name Twalk; an open is a walk
//! then Tlopen (or, for a missing name with `O_CREAT`, a clone of the directory fid
//! then Tlcreate); the `*at` calls map onto Tmkdir/Tunlinkat/Trenameat/Tsymlink/Tlink
//! with the directory fid. 9P walks never follow symlinks and never leave the attached
//! tree (the server refuses `..` above it; this client never sends `..` at all), so the
//! confinement `HostFs` promises holds.
//!
//! The client is generic over the [`Chan`] that carries one request and its reply, so
//! the protocol logic is tested on the host against a scripted server; on kvm the
//! channel is the virtio-9p queue (`super::VirtioChan`).

extern crate alloc;

use super::wire::*;
use alloc::vec;
use alloc::vec::Vec;
use uk_abi::fcntl::{
    AT_REMOVEDIR, O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_DSYNC, O_EXCL, O_NONBLOCK, O_PATH,
    O_SYNC, O_TRUNC, RENAME_NOREPLACE, UTIME_NOW, UTIME_OMIT,
};
use uk_abi::stat::{Stat, Statfs, S_IFDIR};
use uk_abi::time::Timespec;
use uk_abi::Errno;

/// `st_dev` of every file of the share (9P has no device numbers).
pub const DEV: u64 = 0x9009;
/// The one tag in flight (requests are synchronous).
const TAG: u16 = 1;
/// The protocol this client speaks.
pub const VERSION: &[u8] = b"9P2000.L";
/// Most names one Twalk may carry.
const MAXWELEM: usize = 16;

/// Carries one request to the server and its reply back.
pub trait Chan {
    /// Send `req` and let the server write its reply into `reply`; returns the bytes
    /// the server says it wrote (checked by the caller). An error here (the device
    /// stopped answering) is final: the client refuses everything afterwards.
    fn exchange(&mut self, req: &[u8], reply: &mut [u8]) -> Result<usize, Errno>;
}

/// One attached 9P session.
pub struct Client<C> {
    chan: C,
    req: Vec<u8>,
    rep: Vec<u8>,
    msize: usize,
    root: u32,
    next_fid: u32,
    free: Vec<u32>,
    dead: bool,
}

fn valid_name(name: &[u8]) -> Result<(), Errno> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// The names a walk to `name` below a directory takes: none for `.`.
fn walk_names(name: &[u8]) -> Result<&[u8], Errno> {
    if name == b"." {
        return Ok(b"");
    }
    valid_name(name)?;
    Ok(name)
}

fn lopen_flags(flags: u32) -> u32 {
    flags & (O_ACCMODE | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECTORY)
}

impl<C: Chan> Client<C> {
    /// A client whose messages are at most `msize` bytes (buffers allocated here; the
    /// server may lower it in [`Client::connect`]).
    pub fn new(chan: C, msize: usize) -> Client<C> {
        Client {
            chan,
            req: vec![0; msize],
            rep: vec![0; msize],
            msize,
            root: 0,
            next_fid: 1,
            free: Vec::new(),
            dead: false,
        }
    }

    pub fn msize(&self) -> usize {
        self.msize
    }

    /// The channel (the virtio driver needs its buffers' addresses).
    pub fn chan(&self) -> &C {
        &self.chan
    }

    /// One request/reply. `build` writes the body, `parse` reads the reply's body.
    fn rpc<R>(
        &mut self,
        ty: u8,
        tag: u16,
        build: impl FnOnce(&mut Writer<'_>),
        parse: impl FnOnce(Reader<'_>) -> Result<R, Errno>,
    ) -> Result<R, Errno> {
        if self.dead {
            return Err(Errno::EIO);
        }
        let mut w = Writer::new(&mut self.req[..self.msize], ty, tag);
        build(&mut w);
        let n = w.finish().ok_or(Errno::ENAMETOOLONG)?;
        let len = match self
            .chan
            .exchange(&self.req[..n], &mut self.rep[..self.msize])
        {
            Ok(l) => l,
            Err(e) => {
                self.dead = true;
                return Err(e);
            }
        };
        let r = open_reply(&self.rep[..self.msize], len, tag, ty + 1)?;
        parse(r)
    }

    /// Tversion + Tattach: negotiate the message size and attach fid 0 to the share.
    pub fn connect(&mut self) -> Result<(), Errno> {
        let ours = self.msize as u32;
        let theirs = self.rpc(
            TVERSION,
            NOTAG,
            |w| {
                w.u32(ours);
                w.str(VERSION);
            },
            |mut r| {
                let m = r.u32()?;
                if r.str()? != VERSION {
                    return Err(Errno::EIO);
                }
                Ok(m)
            },
        )?;
        if theirs < 4096 || theirs > ours {
            return Err(Errno::EIO);
        }
        self.msize = theirs as usize;
        self.rpc(
            TATTACH,
            TAG,
            |w| {
                w.u32(0);
                w.u32(NOFID);
                w.str(b"root");
                w.str(b"");
                w.u32(0);
            },
            |mut r| r.qid(),
        )?;
        self.root = 0;
        Ok(())
    }

    fn alloc_fid(&mut self) -> Result<u32, Errno> {
        if let Some(f) = self.free.pop() {
            return Ok(f);
        }
        if self.next_fid > i32::MAX as u32 {
            return Err(Errno::EMFILE);
        }
        self.next_fid += 1;
        Ok(self.next_fid - 1)
    }

    fn release_fid(&mut self, fid: u32) {
        if fid != self.root {
            self.free.push(fid);
        }
    }

    fn fid(fd: i32) -> Result<u32, Errno> {
        u32::try_from(fd).map_err(|_| Errno::EBADF)
    }

    /// Twalk from `from` through `names` to a new fid (no names: a clone). A walk that
    /// stops early is ENOENT.
    fn walk(&mut self, from: u32, names: &[&[u8]]) -> Result<u32, Errno> {
        if names.len() > MAXWELEM {
            return Err(Errno::ENAMETOOLONG);
        }
        let fid = self.alloc_fid()?;
        let want = names.len();
        let res = self.rpc(
            TWALK,
            TAG,
            |w| {
                w.u32(from);
                w.u32(fid);
                w.u16(want as u16);
                for n in names {
                    w.str(n);
                }
            },
            |mut r| {
                let n = r.u16()? as usize;
                if n > want {
                    return Err(Errno::EIO);
                }
                for _ in 0..n {
                    r.qid()?;
                }
                Ok(n)
            },
        );
        match res {
            Ok(n) if n == want => Ok(fid),
            Ok(_) => {
                // A partial walk does not create the new fid.
                self.release_fid(fid);
                Err(Errno::ENOENT)
            }
            Err(e) => {
                self.release_fid(fid);
                Err(e)
            }
        }
    }

    fn walk_one(&mut self, from: u32, name: &[u8]) -> Result<u32, Errno> {
        let n = walk_names(name)?;
        if n.is_empty() {
            self.walk(from, &[])
        } else {
            self.walk(from, &[n])
        }
    }

    pub fn clunk(&mut self, fid: u32) {
        let _ = self.rpc(TCLUNK, TAG, |w| w.u32(fid), |_| Ok(()));
        // The fid is gone even when the server reports an error.
        self.release_fid(fid);
    }

    /// Run `f` on a temporary fid for `name` below `dir`, clunked afterwards.
    fn with_walked<R>(
        &mut self,
        dir: u32,
        name: &[u8],
        f: impl FnOnce(&mut Self, u32) -> Result<R, Errno>,
    ) -> Result<R, Errno> {
        let fid = self.walk_one(dir, name)?;
        let r = f(self, fid);
        self.clunk(fid);
        r
    }

    /// `open_dir`: a fid for the share's directory `path` ("/" = the share itself).
    pub fn open_dir(&mut self, path: &[u8]) -> Result<i32, Errno> {
        let mut names: Vec<&[u8]> = Vec::new();
        for c in path.split(|&b| b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => return Err(Errno::EINVAL),
                c => names.push(c),
            }
        }
        let root = self.root;
        let fid = self.walk(root, &names)?;
        Ok(fid as i32)
    }

    pub fn openat(&mut self, dirfd: i32, name: &[u8], flags: u32, mode: u32) -> Result<i32, Errno> {
        let dir = Self::fid(dirfd)?;
        walk_names(name)?;
        match self.walk_one(dir, name) {
            Ok(fid) => {
                if flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL {
                    self.clunk(fid);
                    return Err(Errno::EEXIST);
                }
                if flags & O_PATH != 0 {
                    return Ok(fid as i32);
                }
                let lf = lopen_flags(flags);
                match self.rpc(
                    TLOPEN,
                    TAG,
                    |w| {
                        w.u32(fid);
                        w.u32(lf);
                    },
                    |mut r| {
                        r.qid()?;
                        r.u32()
                    },
                ) {
                    Ok(_) => Ok(fid as i32),
                    Err(e) => {
                        self.clunk(fid);
                        Err(e)
                    }
                }
            }
            Err(Errno::ENOENT) if flags & O_CREAT != 0 && name != b"." => {
                let fid = self.walk(dir, &[])?;
                let lf = lopen_flags(flags) & !O_TRUNC;
                let res = self.rpc(
                    TLCREATE,
                    TAG,
                    |w| {
                        w.u32(fid);
                        w.str(name);
                        w.u32(lf);
                        w.u32(mode & 0o7777);
                        w.u32(0);
                    },
                    |mut r| {
                        r.qid()?;
                        r.u32()
                    },
                );
                match res {
                    Ok(_) => Ok(fid as i32),
                    Err(e) => {
                        self.clunk(fid);
                        Err(e)
                    }
                }
            }
            Err(e) => Err(e),
        }
    }

    pub fn close(&mut self, fd: i32) {
        if let Ok(fid) = Self::fid(fd) {
            self.clunk(fid);
        }
    }

    pub fn pread(&mut self, fd: i32, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        let fid = Self::fid(fd)?;
        let max = self.msize - IOHDRSZ;
        in_chunks(buf.len(), max, off, |done, chunk, at| {
            let dst = &mut buf[done..done + chunk];
            self.rpc(
                TREAD,
                TAG,
                |w| {
                    w.u32(fid);
                    w.u64(at);
                    w.u32(chunk as u32);
                },
                |mut r| {
                    let n = r.u32()? as usize;
                    if n > dst.len() {
                        return Err(Errno::EIO);
                    }
                    dst[..n].copy_from_slice(r.bytes(n)?);
                    Ok(n)
                },
            )
        })
    }

    pub fn pwrite(&mut self, fd: i32, buf: &[u8], off: u64) -> Result<usize, Errno> {
        let fid = Self::fid(fd)?;
        let max = self.msize - IOHDRSZ;
        in_chunks(buf.len(), max, off, |done, chunk, at| {
            let src = &buf[done..done + chunk];
            self.rpc(
                TWRITE,
                TAG,
                |w| {
                    w.u32(fid);
                    w.u64(at);
                    w.u32(chunk as u32);
                    w.bytes(src);
                },
                |mut r| {
                    let n = r.u32()? as usize;
                    if n > chunk {
                        return Err(Errno::EIO);
                    }
                    Ok(n)
                },
            )
        })
    }

    /// write(2) on an O_APPEND fid: the server's descriptor appends whatever the offset.
    pub fn write(&mut self, fd: i32, buf: &[u8]) -> Result<usize, Errno> {
        self.pwrite(fd, buf, 0)
    }

    pub fn fstat(&mut self, fd: i32) -> Result<Stat, Errno> {
        let fid = Self::fid(fd)?;
        self.rpc(
            TGETATTR,
            TAG,
            |w| {
                w.u32(fid);
                w.u64(GETATTR_BASIC);
            },
            |mut r| {
                let _valid = r.u64()?;
                let qid = r.qid()?;
                let mode = r.u32()?;
                let uid = r.u32()?;
                let gid = r.u32()?;
                let nlink = r.u64()?;
                let rdev = r.u64()?;
                let size = r.u64()? as i64;
                let blksize = r.u64()? as i64;
                let blocks = r.u64()? as i64;
                let mut t = [Timespec::default(); 3];
                for v in &mut t {
                    v.tv_sec = r.u64()? as i64;
                    v.tv_nsec = r.u64()? as i64;
                }
                Ok(Stat {
                    st_dev: DEV,
                    st_ino: qid.path,
                    st_mode: mode,
                    st_nlink: nlink,
                    st_uid: uid,
                    st_gid: gid,
                    st_rdev: rdev,
                    st_size: size,
                    st_blksize: blksize,
                    st_blocks: blocks,
                    st_atime: t[0],
                    st_mtime: t[1],
                    st_ctime: t[2],
                    ..Stat::default()
                })
            },
        )
    }

    pub fn fstatfs(&mut self, fd: i32) -> Result<Statfs, Errno> {
        let fid = Self::fid(fd)?;
        self.rpc(
            TSTATFS,
            TAG,
            |w| w.u32(fid),
            |mut r| {
                let fs_type = r.u32()? as i64;
                let bsize = r.u32()? as i64;
                let blocks = r.u64()?;
                let bfree = r.u64()?;
                let bavail = r.u64()?;
                let files = r.u64()?;
                let ffree = r.u64()?;
                let _fsid = r.u64()?;
                let namelen = r.u32()? as i64;
                Ok(Statfs {
                    f_type: fs_type,
                    f_bsize: bsize,
                    f_blocks: blocks,
                    f_bfree: bfree,
                    f_bavail: bavail,
                    f_files: files,
                    f_ffree: ffree,
                    f_namelen: namelen,
                    f_frsize: bsize,
                    ..Statfs::default()
                })
            },
        )
    }

    pub fn getdents64(&mut self, fd: i32, cookie: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let fid = Self::fid(fd)?;
        let count = buf.len().min(self.msize - IOHDRSZ) as u32;
        self.rpc(
            TREADDIR,
            TAG,
            |w| {
                w.u32(fid);
                w.u64(cookie);
                w.u32(count);
            },
            |mut r| {
                let n = r.u32()?;
                if n > count {
                    return Err(Errno::EIO);
                }
                let data = r.bytes(n as usize)?;
                to_dirent64(Reader::new(data), buf)
            },
        )
    }

    pub fn mkdirat(&mut self, dirfd: i32, name: &[u8], mode: u32) -> Result<(), Errno> {
        let dir = Self::fid(dirfd)?;
        valid_name(name)?;
        self.rpc(
            TMKDIR,
            TAG,
            |w| {
                w.u32(dir);
                w.str(name);
                w.u32(mode & 0o7777 | S_IFDIR);
                w.u32(0);
            },
            |mut r| r.qid().map(|_| ()),
        )
    }

    pub fn unlinkat(&mut self, dirfd: i32, name: &[u8], dir: bool) -> Result<(), Errno> {
        let d = Self::fid(dirfd)?;
        valid_name(name)?;
        let flags = if dir { AT_REMOVEDIR } else { 0 };
        self.rpc(
            TUNLINKAT,
            TAG,
            |w| {
                w.u32(d);
                w.str(name);
                w.u32(flags);
            },
            |_| Ok(()),
        )
    }

    pub fn renameat(
        &mut self,
        olddir: i32,
        old: &[u8],
        newdir: i32,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        let (od, nd) = (Self::fid(olddir)?, Self::fid(newdir)?);
        valid_name(old)?;
        valid_name(new)?;
        match flags {
            0 => {}
            RENAME_NOREPLACE => {
                // 9P has no such flag: refuse when the target exists (the image is the
                // only writer it knows of).
                match self.walk(nd, &[new]) {
                    Ok(f) => {
                        self.clunk(f);
                        return Err(Errno::EEXIST);
                    }
                    Err(Errno::ENOENT) => {}
                    Err(e) => return Err(e),
                }
            }
            _ => return Err(Errno::EINVAL),
        }
        self.rpc(
            TRENAMEAT,
            TAG,
            |w| {
                w.u32(od);
                w.str(old);
                w.u32(nd);
                w.str(new);
            },
            |_| Ok(()),
        )
    }

    pub fn symlinkat(&mut self, target: &[u8], dirfd: i32, name: &[u8]) -> Result<(), Errno> {
        let d = Self::fid(dirfd)?;
        valid_name(name)?;
        self.rpc(
            TSYMLINK,
            TAG,
            |w| {
                w.u32(d);
                w.str(name);
                w.str(target);
                w.u32(0);
            },
            |mut r| r.qid().map(|_| ()),
        )
    }

    pub fn readlink(&mut self, fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
        let fid = Self::fid(fd)?;
        self.rpc(
            TREADLINK,
            TAG,
            |w| w.u32(fid),
            |mut r| {
                let t = r.str()?;
                let n = t.len().min(buf.len());
                buf[..n].copy_from_slice(&t[..n]);
                Ok(n)
            },
        )
    }

    pub fn linkat(
        &mut self,
        olddir: i32,
        old: &[u8],
        newdir: i32,
        new: &[u8],
    ) -> Result<(), Errno> {
        let (od, nd) = (Self::fid(olddir)?, Self::fid(newdir)?);
        valid_name(old)?;
        valid_name(new)?;
        self.with_walked(od, old, |c, fid| {
            c.rpc(
                TLINK,
                TAG,
                |w| {
                    w.u32(nd);
                    w.u32(fid);
                    w.str(new);
                },
                |_| Ok(()),
            )
        })
    }

    /// Tsetattr: `times` are (sec, nsec) for atime and mtime, used when the SET bits
    /// are in `valid`.
    #[allow(clippy::too_many_arguments)]
    fn setattr(
        &mut self,
        fid: u32,
        valid: u32,
        mode: u32,
        uid: u32,
        gid: u32,
        size: u64,
        times: [[i64; 2]; 2],
    ) -> Result<(), Errno> {
        self.rpc(
            TSETATTR,
            TAG,
            |w| {
                w.u32(fid);
                w.u32(valid);
                w.u32(mode);
                w.u32(uid);
                w.u32(gid);
                w.u64(size);
                for t in times {
                    w.u64(t[0] as u64);
                    w.u64(t[1] as u64);
                }
            },
            |_| Ok(()),
        )
    }

    pub fn ftruncate(&mut self, fd: i32, len: u64) -> Result<(), Errno> {
        let fid = Self::fid(fd)?;
        self.setattr(fid, SETATTR_SIZE, 0, 0, 0, len, [[0; 2]; 2])
    }

    pub fn fsync(&mut self, fd: i32, data_only: bool) -> Result<(), Errno> {
        let fid = Self::fid(fd)?;
        self.rpc(
            TFSYNC,
            TAG,
            |w| {
                w.u32(fid);
                w.u32(data_only as u32);
            },
            |_| Ok(()),
        )
    }

    pub fn fchmodat(&mut self, dirfd: i32, name: &[u8], mode: u32) -> Result<(), Errno> {
        let d = Self::fid(dirfd)?;
        self.with_walked(d, name, |c, fid| {
            c.setattr(fid, SETATTR_MODE, mode & 0o7777, 0, 0, 0, [[0; 2]; 2])
        })
    }

    pub fn fchown(&mut self, fd: i32, uid: u32, gid: u32) -> Result<(), Errno> {
        let fid = Self::fid(fd)?;
        let mut valid = 0;
        if uid != u32::MAX {
            valid |= SETATTR_UID;
        }
        if gid != u32::MAX {
            valid |= SETATTR_GID;
        }
        if valid == 0 {
            return Ok(());
        }
        self.setattr(fid, valid, 0, uid, gid, 0, [[0; 2]; 2])
    }

    pub fn utimensat(
        &mut self,
        dirfd: i32,
        name: &[u8],
        times: &[[i64; 2]; 2],
    ) -> Result<(), Errno> {
        let d = Self::fid(dirfd)?;
        let mut valid = 0;
        let mut t = [[0i64; 2]; 2];
        for (i, (now, set)) in [
            (SETATTR_ATIME, SETATTR_ATIME_SET),
            (SETATTR_MTIME, SETATTR_MTIME_SET),
        ]
        .into_iter()
        .enumerate()
        {
            match times[i][1] {
                UTIME_OMIT => {}
                UTIME_NOW => valid |= now,
                ns if (0..1_000_000_000).contains(&ns) => {
                    valid |= now | set;
                    t[i] = times[i];
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        if valid == 0 {
            return Ok(());
        }
        self.with_walked(d, name, |c, fid| c.setattr(fid, valid, 0, 0, 0, 0, t))
    }
}

/// A transfer of `len` bytes at offset `off` in requests of at most `max` bytes:
/// `io(done, chunk, at)` moves one and returns how much it moved. Stops at a short
/// transfer; an error after some bytes moved ends it with what was done (as read(2)
/// and write(2) report partial transfers).
fn in_chunks(
    len: usize,
    max: usize,
    off: u64,
    mut io: impl FnMut(usize, usize, u64) -> Result<usize, Errno>,
) -> Result<usize, Errno> {
    let mut done = 0;
    while done < len {
        let chunk = (len - done).min(max);
        let at = off.checked_add(done as u64).ok_or(Errno::EINVAL)?;
        match io(done, chunk, at) {
            Ok(n) => {
                done += n;
                if n < chunk {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A server that checks each request's type and answers from a script.
    struct Script {
        steps: VecDeque<(u8, Vec<u8>)>,
        seen: Vec<Vec<u8>>,
    }

    fn msg(ty: u8, tag: u16, body: &[u8]) -> Vec<u8> {
        let mut v = ((7 + body.len()) as u32).to_le_bytes().to_vec();
        v.push(ty);
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    impl Chan for Script {
        fn exchange(&mut self, req: &[u8], reply: &mut [u8]) -> Result<usize, Errno> {
            self.seen.push(req.to_vec());
            let Some((ty, r)) = self.steps.pop_front() else {
                return Err(Errno::EIO); // "the device stopped answering"
            };
            assert_eq!(req[4], ty, "request type");
            assert_eq!(
                u32::from_le_bytes(req[..4].try_into().unwrap()) as usize,
                req.len()
            );
            reply[..r.len()].copy_from_slice(&r);
            Ok(r.len())
        }
    }

    fn client(steps: Vec<(u8, Vec<u8>)>) -> Client<Script> {
        let mut attach = vec![
            (TVERSION, {
                let mut b = 8192u32.to_le_bytes().to_vec();
                b.extend_from_slice(&(VERSION.len() as u16).to_le_bytes());
                b.extend_from_slice(VERSION);
                msg(TVERSION + 1, NOTAG, &b)
            }),
            (TATTACH, msg(TATTACH + 1, TAG, &[0; 13])),
        ];
        attach.extend(steps);
        let mut c = Client::new(
            Script {
                steps: attach.into(),
                seen: Vec::new(),
            },
            65536,
        );
        c.connect().unwrap();
        c
    }

    fn rwalk(n: u16) -> Vec<u8> {
        let mut b = n.to_le_bytes().to_vec();
        b.extend(vec![0u8; 13 * n as usize]);
        msg(TWALK + 1, TAG, &b)
    }
    fn lerror(e: u32) -> Vec<u8> {
        msg(RLERROR, TAG, &e.to_le_bytes())
    }

    #[test]
    fn connect_takes_the_servers_smaller_msize() {
        let c = client(vec![]);
        assert_eq!(c.msize(), 8192);
        let t = &c.chan.seen[1];
        assert_eq!(u32::from_le_bytes(t[7..11].try_into().unwrap()), 0, "fid 0");
    }

    #[test]
    fn connect_refuses_another_protocol_or_a_bigger_msize() {
        for (m, v) in [
            (8192u32, &b"9P2000.u"[..]),
            (1 << 20, VERSION),
            (100, VERSION),
        ] {
            let mut b = m.to_le_bytes().to_vec();
            b.extend_from_slice(&(v.len() as u16).to_le_bytes());
            b.extend_from_slice(v);
            let mut c = Client::new(
                Script {
                    steps: vec![(TVERSION, msg(TVERSION + 1, NOTAG, &b))].into(),
                    seen: Vec::new(),
                },
                65536,
            );
            assert_eq!(c.connect(), Err(Errno::EIO));
        }
    }

    #[test]
    fn open_creates_a_missing_file_through_a_clone_of_the_directory() {
        let mut c = client(vec![
            (TWALK, lerror(2)),
            (TWALK, rwalk(0)),
            (TLCREATE, msg(TLCREATE + 1, TAG, &[0; 17])),
        ]);
        let fd = c.openat(0, b"new.txt", O_CREAT | 1, 0o644).unwrap();
        assert!(fd > 0);
        let create = &c.chan.seen[4];
        assert_eq!(
            u32::from_le_bytes(create[7..11].try_into().unwrap()),
            fd as u32
        );
        assert_eq!(&create[13..20], b"new.txt");
        // O_EXCL on an existing name: EEXIST, and the walked fid is clunked.
        let mut c = client(vec![(TWALK, rwalk(1)), (TCLUNK, msg(TCLUNK + 1, TAG, &[]))]);
        assert_eq!(
            c.openat(0, b"x", O_CREAT | O_EXCL | 1, 0),
            Err(Errno::EEXIST)
        );
        assert!(c.chan.steps.is_empty());
    }

    #[test]
    fn names_that_could_escape_are_refused_before_any_request() {
        let mut c = client(vec![]);
        for bad in [&b".."[..], b"a/b", b""] {
            assert_eq!(c.openat(0, bad, O_PATH, 0), Err(Errno::EINVAL));
            assert_eq!(c.mkdirat(0, bad, 0o755), Err(Errno::EINVAL));
            assert_eq!(c.unlinkat(0, bad, false), Err(Errno::EINVAL));
        }
        assert_eq!(c.open_dir(b"/a/../b"), Err(Errno::EINVAL));
        assert_eq!(c.chan.seen.len(), 2, "only version + attach went out");
    }

    #[test]
    fn a_partial_walk_is_enoent_and_the_fid_is_reused() {
        let mut c = client(vec![(TWALK, rwalk(1)), (TWALK, rwalk(1))]);
        assert_eq!(c.open_dir(b"/a/b"), Err(Errno::ENOENT));
        let fd = c.openat(0, b"a", O_PATH, 0).unwrap();
        assert_eq!(fd, 1, "the fid of the failed walk was given back");
    }

    #[test]
    fn malformed_replies_are_eio() {
        // Rread claiming more bytes than asked for.
        let mut big = 100u32.to_le_bytes().to_vec();
        big.extend(vec![0u8; 100]);
        // Rwalk with more qids than names.
        let mut c = client(vec![
            (TREAD, msg(TREAD + 1, TAG, &big)),
            (TWALK, rwalk(2)),
            (TGETATTR, msg(TGETATTR + 1, TAG, &[0; 40])),
            (TREADDIR, msg(TREADDIR + 1, TAG, &50u32.to_le_bytes())),
        ]);
        let mut buf = [0u8; 10];
        assert_eq!(c.pread(1, &mut buf, 0), Err(Errno::EIO));
        assert_eq!(c.openat(0, b"a", O_PATH, 0), Err(Errno::EIO));
        assert_eq!(c.fstat(0).err(), Some(Errno::EIO), "truncated Rgetattr");
        let mut d = [0u8; 512];
        assert_eq!(
            c.getdents64(1, 0, &mut d),
            Err(Errno::EIO),
            "count past the message"
        );
        // The device stops answering: that error is final.
        assert_eq!(c.fstat(0).err(), Some(Errno::EIO));
        assert_eq!(c.fstat(0).err(), Some(Errno::EIO));
        assert!(c.dead);
    }

    #[test]
    fn reads_split_at_msize_and_stop_at_a_short_reply() {
        let full = 8192 - IOHDRSZ;
        let mut first = (full as u32).to_le_bytes().to_vec();
        first.extend(vec![7u8; full]);
        let mut second = 5u32.to_le_bytes().to_vec();
        second.extend(vec![8u8; 5]);
        let mut c = client(vec![
            (TREAD, msg(TREAD + 1, TAG, &first)),
            (TREAD, msg(TREAD + 1, TAG, &second)),
        ]);
        let mut buf = vec![0u8; 20000];
        assert_eq!(c.pread(3, &mut buf, 100), Ok(full + 5));
        assert_eq!(buf[full - 1], 7);
        assert_eq!(&buf[full..full + 6], &[8, 8, 8, 8, 8, 0]);
        let off = u64::from_le_bytes(c.chan.seen[3][11..19].try_into().unwrap());
        assert_eq!(off, 100 + full as u64);
    }

    #[test]
    fn getattr_fills_the_stat() {
        let mut b = GETATTR_BASIC.to_le_bytes().to_vec();
        b.extend_from_slice(&[0, 0, 0, 0, 0]);
        b.extend_from_slice(&42u64.to_le_bytes()); // qid path
        b.extend_from_slice(&0o100644u32.to_le_bytes());
        b.extend_from_slice(&1000u32.to_le_bytes());
        b.extend_from_slice(&1001u32.to_le_bytes());
        for v in [1u64, 0, 12345, 4096, 32, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let mut c = client(vec![(TGETATTR, msg(TGETATTR + 1, TAG, &b))]);
        let st = c.fstat(5).unwrap();
        assert_eq!(
            (st.st_ino, st.st_mode, st.st_uid, st.st_gid),
            (42, 0o100644, 1000, 1001)
        );
        assert_eq!((st.st_size, st.st_blksize, st.st_blocks), (12345, 4096, 32));
        assert_eq!((st.st_atime.tv_sec, st.st_atime.tv_nsec), (1, 2));
        assert_eq!((st.st_ctime.tv_sec, st.st_ctime.tv_nsec), (5, 6));
        assert_eq!(st.st_dev, DEV);
    }

    #[test]
    fn utimensat_maps_now_and_omit() {
        let mut c = client(vec![
            (TWALK, rwalk(1)),
            (TSETATTR, msg(TSETATTR + 1, TAG, &[])),
            (TCLUNK, msg(TCLUNK + 1, TAG, &[])),
        ]);
        c.utimensat(0, b"f", &[[0, UTIME_NOW], [7, 9]]).unwrap();
        let s = &c.chan.seen[3];
        let valid = u32::from_le_bytes(s[11..15].try_into().unwrap());
        assert_eq!(valid, SETATTR_ATIME | SETATTR_MTIME | SETATTR_MTIME_SET);
        assert_eq!(u64::from_le_bytes(s[51..59].try_into().unwrap()), 7);
        assert_eq!(
            c.utimensat(0, b"f", &[[0, UTIME_OMIT], [0, UTIME_OMIT]]),
            Ok(())
        );
        assert_eq!(c.chan.seen.len(), 5, "nothing to change: no request");
    }
}
