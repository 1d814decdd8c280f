//! Host directories for lib/vfs's hostfs: the [`uk_plat::HostFs`] capability on linuxu.
//!
//! Confinement: every call names one component relative to a descriptor lib/vfs holds.
//! Names are checked here (non-empty, no `/`, never `..`; `.` only for reopening a
//! directory), and O_NOFOLLOW is always added, so the host never follows a symlink or
//! climbs above a mounted directory on the image's behalf. *at() calls that could follow
//! a final symlink get AT_SYMLINK_NOFOLLOW.

use crate::host::{call, nr};
use uk_abi::fcntl::{
    AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW, O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW,
    O_PATH,
};
use uk_abi::stat::{Stat, Statfs};
use uk_abi::{Errno, FromZeros, IntoBytes};
use uk_plat::HostFs;

/// `AT_FDCWD` as a host-call argument.
const FDCWD: usize = AT_FDCWD as isize as usize;

/// The host's working directory at boot (NUL-free, absolute).
static mut CWD: [u8; 4096] = [0; 4096];
static mut CWD_LEN: usize = 0;

pub struct LinuxHostFs;
pub static HOSTFS: LinuxHostFs = LinuxHostFs;

/// Ask the host for its working directory, and clear the host's umask (boot, before
/// the filter closes). The program's umask is ukit's (posix applies it to every mode it
/// passes down), so the host must not mask the result a second time: with the host's
/// 022 left in place, `umask(0)` then `creat(f, 0666)` would make a 0644 file.
pub fn init() {
    call(nr::SYS_UMASK, [0, 0, 0, 0, 0, 0]);
    let mut buf = [0u8; 4096];
    let r = call(
        nr::SYS_GETCWD,
        [buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0, 0],
    );
    // getcwd returns the length including the NUL; an unreachable cwd starts with '('.
    let n = if r > 1 && buf[0] == b'/' {
        r as usize - 1
    } else {
        buf[0] = b'/';
        1
    };
    // SAFETY: boot runs single-threaded before anything reads CWD.
    unsafe {
        (&mut *core::ptr::addr_of_mut!(CWD))[..n].copy_from_slice(&buf[..n]);
        *core::ptr::addr_of_mut!(CWD_LEN) = n;
    }
}

/// Retry a host call interrupted by a host signal.
fn sys(n: usize, a: [usize; 6]) -> Result<usize, Errno> {
    loop {
        let r = call(n, a);
        return match Errno::from_neg(r) {
            Some(Errno::EINTR) => continue,
            Some(e) => Err(e),
            None => Ok(r as usize),
        };
    }
}

/// A NUL-terminated copy of one checked component.
struct Name([u8; 256]);

impl Name {
    fn new(name: &[u8], allow_dot: bool) -> Result<Name, Errno> {
        if name.is_empty()
            || name == b".."
            || (name == b"." && !allow_dot)
            || name.contains(&b'/')
            || name.contains(&0)
        {
            return Err(Errno::EINVAL);
        }
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut b = [0u8; 256];
        b[..name.len()].copy_from_slice(name);
        Ok(Name(b))
    }
    fn ptr(&self) -> usize {
        self.0.as_ptr() as usize
    }
}

/// A NUL-terminated copy of a whole path (boot options and symlink targets).
fn cpath(p: &[u8], out: &mut [u8; 4096]) -> Result<usize, Errno> {
    if p.len() >= out.len() {
        return Err(Errno::ENAMETOOLONG);
    }
    if p.contains(&0) {
        return Err(Errno::EINVAL);
    }
    out[..p.len()].copy_from_slice(p);
    out[p.len()] = 0;
    Ok(out.as_ptr() as usize)
}

impl HostFs for LinuxHostFs {
    fn open_dir(&self, host_path: &[u8]) -> Result<i32, Errno> {
        if host_path.first() != Some(&b'/') {
            return Err(Errno::EINVAL);
        }
        let mut b = [0u8; 4096];
        let p = cpath(host_path, &mut b)?;
        let flags = (O_PATH | O_DIRECTORY | O_CLOEXEC) as usize;
        sys(nr::SYS_OPENAT, [FDCWD, p, flags, 0, 0, 0]).map(|fd| fd as i32)
    }

    fn initial_cwd(&self) -> &[u8] {
        // SAFETY: written once at boot (init), read-only afterwards.
        unsafe {
            let n = *core::ptr::addr_of!(CWD_LEN);
            &(&*core::ptr::addr_of!(CWD))[..n.max(1)]
        }
    }

    fn openat(&self, dirfd: i32, name: &[u8], flags: u32, mode: u32) -> Result<i32, Errno> {
        let n = Name::new(name, true)?;
        let flags = flags | O_NOFOLLOW | O_CLOEXEC;
        sys(
            nr::SYS_OPENAT,
            [dirfd as usize, n.ptr(), flags as usize, mode as usize, 0, 0],
        )
        .map(|fd| fd as i32)
    }

    fn close(&self, fd: i32) {
        let _ = call(nr::SYS_CLOSE, [fd as usize, 0, 0, 0, 0, 0]);
    }

    fn pread(&self, fd: i32, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        sys(
            nr::SYS_PREAD64,
            [
                fd as usize,
                buf.as_mut_ptr() as usize,
                buf.len(),
                off as usize,
                0,
                0,
            ],
        )
    }

    fn pwrite(&self, fd: i32, buf: &[u8], off: u64) -> Result<usize, Errno> {
        sys(
            nr::SYS_PWRITE64,
            [
                fd as usize,
                buf.as_ptr() as usize,
                buf.len(),
                off as usize,
                0,
                0,
            ],
        )
    }

    fn write(&self, fd: i32, buf: &[u8]) -> Result<usize, Errno> {
        sys(
            nr::SYS_WRITE,
            [fd as usize, buf.as_ptr() as usize, buf.len(), 0, 0, 0],
        )
    }

    fn fstat(&self, fd: i32) -> Result<Stat, Errno> {
        let mut st = Stat::new_zeroed();
        sys(
            nr::SYS_FSTAT,
            [
                fd as usize,
                st.as_mut_bytes().as_mut_ptr() as usize,
                0,
                0,
                0,
                0,
            ],
        )?;
        Ok(st)
    }

    fn fstatfs(&self, fd: i32) -> Result<Statfs, Errno> {
        let mut st = Statfs::new_zeroed();
        sys(
            nr::SYS_FSTATFS,
            [
                fd as usize,
                st.as_mut_bytes().as_mut_ptr() as usize,
                0,
                0,
                0,
                0,
            ],
        )?;
        Ok(st)
    }

    fn getdents64(&self, fd: i32, cookie: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        sys(nr::SYS_LSEEK, [fd as usize, cookie as usize, 0, 0, 0, 0])?;
        sys(
            nr::SYS_GETDENTS64,
            [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
        )
    }

    fn mkdirat(&self, dirfd: i32, name: &[u8], mode: u32) -> Result<(), Errno> {
        let n = Name::new(name, false)?;
        sys(
            nr::SYS_MKDIRAT,
            [dirfd as usize, n.ptr(), mode as usize, 0, 0, 0],
        )
        .map(|_| ())
    }

    fn mknodat(&self, dirfd: i32, name: &[u8], mode: u32) -> Result<(), Errno> {
        let n = Name::new(name, false)?;
        // Only FIFOs and socket nodes: device numbers are never passed to the host.
        let kind = mode & uk_abi::stat::S_IFMT;
        if kind != uk_abi::stat::S_IFIFO && kind != uk_abi::stat::S_IFSOCK {
            return Err(Errno::EPERM);
        }
        sys(
            nr::SYS_MKNODAT,
            [dirfd as usize, n.ptr(), mode as usize, 0, 0, 0],
        )
        .map(|_| ())
    }

    fn unlinkat(&self, dirfd: i32, name: &[u8], dir: bool) -> Result<(), Errno> {
        let n = Name::new(name, false)?;
        let f = if dir { AT_REMOVEDIR as usize } else { 0 };
        sys(nr::SYS_UNLINKAT, [dirfd as usize, n.ptr(), f, 0, 0, 0]).map(|_| ())
    }

    fn renameat(
        &self,
        olddir: i32,
        old: &[u8],
        newdir: i32,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        let o = Name::new(old, false)?;
        let n = Name::new(new, false)?;
        sys(
            nr::SYS_RENAMEAT2,
            [
                olddir as usize,
                o.ptr(),
                newdir as usize,
                n.ptr(),
                flags as usize,
                0,
            ],
        )
        .map(|_| ())
    }

    fn symlinkat(&self, target: &[u8], dirfd: i32, name: &[u8]) -> Result<(), Errno> {
        let n = Name::new(name, false)?;
        let mut b = [0u8; 4096];
        let t = cpath(target, &mut b)?;
        sys(nr::SYS_SYMLINKAT, [t, dirfd as usize, n.ptr(), 0, 0, 0]).map(|_| ())
    }

    fn readlink(&self, fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
        let empty = [0u8; 1];
        sys(
            nr::SYS_READLINKAT,
            [
                fd as usize,
                empty.as_ptr() as usize,
                buf.as_mut_ptr() as usize,
                buf.len(),
                0,
                0,
            ],
        )
    }

    fn linkat(&self, olddir: i32, old: &[u8], newdir: i32, new: &[u8]) -> Result<(), Errno> {
        let o = Name::new(old, false)?;
        let n = Name::new(new, false)?;
        // No AT_SYMLINK_FOLLOW: a link to a symlink names the symlink itself.
        sys(
            nr::SYS_LINKAT,
            [olddir as usize, o.ptr(), newdir as usize, n.ptr(), 0, 0],
        )
        .map(|_| ())
    }

    fn ftruncate(&self, fd: i32, len: u64) -> Result<(), Errno> {
        sys(nr::SYS_FTRUNCATE, [fd as usize, len as usize, 0, 0, 0, 0]).map(|_| ())
    }

    fn fsync(&self, fd: i32, data_only: bool) -> Result<(), Errno> {
        let n = if data_only {
            nr::SYS_FDATASYNC
        } else {
            nr::SYS_FSYNC
        };
        sys(n, [fd as usize, 0, 0, 0, 0, 0]).map(|_| ())
    }

    fn fchmodat(&self, dirfd: i32, name: &[u8], mode: u32) -> Result<(), Errno> {
        // fchmodat(2) follows a final symlink and has no flag against it; lib/vfs only
        // calls this for nodes it found not to be symlinks.
        let n = Name::new(name, true)?;
        sys(
            nr::SYS_FCHMODAT,
            [dirfd as usize, n.ptr(), mode as usize, 0, 0, 0],
        )
        .map(|_| ())
    }

    fn fchown(&self, fd: i32, uid: u32, gid: u32) -> Result<(), Errno> {
        let empty = [0u8; 1];
        sys(
            nr::SYS_FCHOWNAT,
            [
                fd as usize,
                empty.as_ptr() as usize,
                uid as usize,
                gid as usize,
                (AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) as usize,
                0,
            ],
        )
        .map(|_| ())
    }

    fn utimensat(&self, dirfd: i32, name: &[u8], times: &[[i64; 2]; 2]) -> Result<(), Errno> {
        let n = Name::new(name, true)?;
        sys(
            nr::SYS_UTIMENSAT,
            [
                dirfd as usize,
                n.ptr(),
                times.as_ptr() as usize,
                AT_SYMLINK_NOFOLLOW as usize,
                0,
                0,
            ],
        )
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    //! These run real host calls against a scratch directory.
    use super::*;

    fn scratch() -> (std::path::PathBuf, i32) {
        let d = std::env::temp_dir().join(format!("ukit-hostfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("inside/sub")).unwrap();
        std::fs::write(d.join("secret"), b"outside").unwrap();
        std::fs::write(d.join("inside/f"), b"hello").unwrap();
        std::os::unix::fs::symlink("../secret", d.join("inside/esc")).unwrap();
        let root = d.join("inside");
        let fd = HOSTFS.open_dir(root.to_str().unwrap().as_bytes()).unwrap();
        (d, fd)
    }

    #[test]
    fn confinement_and_io() {
        let (d, root) = scratch();
        let h = &HOSTFS;
        assert_eq!(h.openat(root, b"..", O_PATH, 0), Err(Errno::EINVAL));
        assert_eq!(
            h.openat(root, b"sub/../../secret", O_PATH, 0),
            Err(Errno::EINVAL)
        );
        assert_eq!(h.openat(root, b"", O_PATH, 0), Err(Errno::EINVAL));
        // The symlink is opened as itself (O_PATH|O_NOFOLLOW), never followed...
        let l = h.openat(root, b"esc", O_PATH, 0).unwrap();
        assert_eq!(h.fstat(l).unwrap().st_mode & 0o170000, 0o120000);
        let mut b = [0u8; 64];
        let n = h.readlink(l, &mut b).unwrap();
        assert_eq!(&b[..n], b"../secret");
        h.close(l);
        // ...and opening it for reading fails (ELOOP) instead of reading the outside file.
        assert_eq!(h.openat(root, b"esc", 0, 0), Err(Errno::ELOOP));
        let f = h.openat(root, b"f", 2, 0).unwrap();
        assert_eq!(h.pread(f, &mut b, 1).unwrap(), 4);
        assert_eq!(&b[..4], b"ello");
        assert_eq!(h.pwrite(f, b"J", 0).unwrap(), 1);
        h.ftruncate(f, 3).unwrap();
        assert_eq!(h.fstat(f).unwrap().st_size, 3);
        h.close(f);
        assert_eq!(std::fs::read(d.join("inside/f")).unwrap(), b"Jel");
        h.mkdirat(root, b"new", 0o700).unwrap();
        h.renameat(root, b"new", root, b"new2", 0).unwrap();
        h.symlinkat(b"target", root, b"ln").unwrap();
        h.linkat(root, b"f", root, b"f2").unwrap();
        assert_eq!(std::fs::metadata(d.join("inside/f")).unwrap().len(), 3);
        h.unlinkat(root, b"new2", true).unwrap();
        h.unlinkat(root, b"ln", false).unwrap();
        // getdents64 from the start and from a cookie.
        let dfd = h.openat(root, b".", O_DIRECTORY, 0).unwrap();
        let n = h.getdents64(dfd, 0, &mut [0u8; 4096]).unwrap();
        assert!(n > 0);
        h.close(dfd);
        assert_eq!(h.fstatfs(root).map(|s| s.f_bsize > 0), Ok(true));
        assert!(HOSTFS.open_dir(b"relative").is_err());
        h.close(root);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
