//! open(2), openat(2), creat(2), openat2(2): https://man7.org/linux/man-pages/man2/open.2.html

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::fcntl::OpenHow;
use uk_abi::fcntl::{AT_FDCWD, O_CREAT, O_TRUNC, O_WRONLY};
use uk_abi::sysno::{SYS_CREAT, SYS_OPEN, SYS_OPENAT, SYS_OPENAT2};
use uk_posix::fs::{self};
use uk_posix::user;

/// A path argument, copied: at most PATH_MAX - 1 bytes.
pub(crate) fn path(addr: usize) -> KResult<alloc::vec::Vec<u8>> {
    user::cstr(addr, uk_vfs::PATH_MAX - 1)
}

pub fn sys_open(a: &Args) -> KResult<usize> {
    fs::openat(AT_FDCWD, &path(a[0])?, a[1] as u32, a[2] as u32).map(|f| f as usize)
}

pub fn sys_openat(a: &Args) -> KResult<usize> {
    fs::openat(a[0] as i32, &path(a[1])?, a[2] as u32, a[3] as u32).map(|f| f as usize)
}

pub fn sys_creat(a: &Args) -> KResult<usize> {
    fs::openat(
        AT_FDCWD,
        &path(a[0])?,
        O_CREAT | O_WRONLY | O_TRUNC,
        a[1] as u32,
    )
    .map(|f| f as usize)
}

/// openat2: `struct open_how { u64 flags; u64 mode; u64 resolve; }`. RESOLVE_* flags
/// other than none are refused (EINVAL would mislead: say they are not supported).
pub fn sys_openat2(a: &Args) -> KResult<usize> {
    let size = a[3];
    if size < core::mem::size_of::<OpenHow>() {
        return Err(Errno::EINVAL);
    }
    let how: OpenHow = user::read(a[2])?;
    if how.flags > u32::MAX as u64 || how.mode & !0o7777 != 0 {
        return Err(Errno::EINVAL);
    }
    if how.resolve != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    fs::openat(a[0] as i32, &path(a[1])?, how.flags as u32, how.mode as u32).map(|f| f as usize)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_OPEN, sys_open).shows(&[Arg::Path, Arg::OFlags, Arg::Mode]),
    row(SYS_CREAT, sys_creat),
    row(SYS_OPENAT, sys_openat).shows(&[Arg::Fd, Arg::Path, Arg::OFlags, Arg::Mode]),
    row(SYS_OPENAT2, sys_openat2),
];

#[cfg(test)]
pub(crate) mod tests {
    //! The file families end to end through `dispatch`, on a ramfs root.
    use crate::dispatch;
    use uk_abi::sysno::{
        SYS_ACCESS, SYS_CHDIR, SYS_CLOSE, SYS_DUP2, SYS_DUP3, SYS_FCHDIR, SYS_FCNTL, SYS_FSTAT,
        SYS_GETCWD, SYS_GETDENTS64, SYS_LSEEK, SYS_MKDIR, SYS_OPEN, SYS_OPENAT, SYS_PREAD64,
        SYS_PWRITE64, SYS_READLINK, SYS_RMDIR, SYS_STAT, SYS_SYMLINK, SYS_UMASK, SYS_UNLINK,
        SYS_WRITE,
    };
    use uk_abi::Errno;

    /// A ramfs root with /dev, made once for the shim's tests that need files.
    pub(crate) fn setup() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        crate::table::tests::setup();
        ONCE.call_once(|| {
            let root = uk_vfs::ramfs::RamFs::new().root();
            root.mkdir(b"dev", 0o755).unwrap();
            uk_vfs::set_root(root);
            uk_vfs::mount(b"/dev", uk_vfs::devfs::new().unwrap().root()).unwrap();
        });
    }

    /// Program memory holding `bytes` (plus room), registered for pointer checks.
    fn mem(bytes: &[u8], room: usize) -> usize {
        let v: &'static mut [u8] = Box::leak(vec![0u8; bytes.len() + room].into_boxed_slice());
        v[..bytes.len()].copy_from_slice(bytes);
        let a = v.as_ptr() as usize;
        uk_posix::user::add_static_range(a, a + v.len(), true);
        a
    }

    #[test]
    fn open_write_stat_dup_fcntl_getdents() {
        setup();
        let dir = mem(b"/shim\0", 0);
        assert_eq!(dispatch(SYS_MKDIR, &[dir, 0o755, 0, 0, 0, 0]), 0, "mkdir");
        assert_eq!(
            dispatch(SYS_MKDIR, &[dir, 0o755, 0, 0, 0, 0]),
            Errno::EEXIST.as_neg(),
            "EEXIST"
        );
        let p = mem(b"/shim/f\0", 0);
        let fd = dispatch(SYS_OPEN, &[p, 0o102, 0o600, 0, 0, 0]); // O_CREAT|O_RDWR
        assert!(fd >= 3, "{fd}");
        let fd = fd as usize;
        let data = mem(b"0123456789", 0);
        assert_eq!(dispatch(SYS_WRITE, &[fd, data, 10, 0, 0, 0]), 10);
        let buf = mem(b"", 256);
        assert_eq!(dispatch(SYS_PREAD64, &[fd, buf, 4, 3, 0, 0]), 4, "pread64");
        assert_eq!(
            uk_posix::user::UserSlice::new(buf, 4).to_vec().unwrap(),
            b"3456"
        );
        assert_eq!(
            dispatch(SYS_PREAD64, &[fd, buf, 4, usize::MAX, 0, 0]),
            Errno::EINVAL.as_neg(),
            "negative offset"
        );
        assert_eq!(
            dispatch(SYS_PWRITE64, &[fd, data, 2, 20, 0, 0]),
            2,
            "pwrite64 past the end"
        );
        assert_eq!(dispatch(SYS_STAT, &[p, buf, 0, 0, 0, 0]), 0, "stat");
        let size: i64 = uk_posix::user::read(buf + 48).unwrap();
        assert_eq!(size, 22);
        assert_eq!(
            dispatch(SYS_STAT, &[p, 0x10, 0, 0, 0, 0]),
            Errno::EFAULT.as_neg(),
            "EFAULT"
        );
        assert_eq!(dispatch(SYS_LSEEK, &[fd, 0, 3, 0, 0, 0]), 0, "SEEK_DATA");
        assert_eq!(dispatch(SYS_LSEEK, &[fd, 0, 4, 0, 0, 0]), 22, "SEEK_HOLE");
        let d = dispatch(SYS_FCNTL, &[fd, 1030, 10, 0, 0, 0]);
        assert_eq!(d, 10, "F_DUPFD_CLOEXEC from 10");
        assert_eq!(
            dispatch(SYS_FCNTL, &[10, 1, 0, 0, 0, 0]),
            1,
            "FD_CLOEXEC set"
        );
        assert_eq!(dispatch(SYS_DUP2, &[fd, 12, 0, 0, 0, 0]), 12, "dup2");
        assert_eq!(dispatch(SYS_FCNTL, &[12, 1, 0, 0, 0, 0]), 0);
        assert_eq!(
            dispatch(SYS_DUP3, &[fd, fd, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg(),
            "dup3 same fd"
        );
        assert_eq!(
            dispatch(SYS_FCNTL, &[fd, 3, 0, 0, 0, 0]),
            2,
            "F_GETFL: O_RDWR"
        );
        assert_eq!(
            dispatch(SYS_FCNTL, &[fd, 4, 0o4000, 0, 0, 0]),
            0,
            "F_SETFL O_NONBLOCK"
        );
        assert_eq!(
            dispatch(SYS_FCNTL, &[12, 3, 0, 0, 0, 0]),
            0o4002,
            "shared description"
        );
        for x in [10, 12] {
            assert_eq!(dispatch(SYS_CLOSE, &[x, 0, 0, 0, 0, 0]), 0);
        }
        let dfd = dispatch(SYS_OPENAT, &[-100isize as usize, dir, 0o200000, 0, 0, 0]);
        assert!(dfd >= 0);
        let n = dispatch(SYS_GETDENTS64, &[dfd as usize, buf, 256, 0, 0, 0]);
        assert_eq!(n, 24 * 3, ". .. f: three 24-byte records");
        assert_eq!(
            dispatch(SYS_GETDENTS64, &[fd, buf, 256, 0, 0, 0]),
            Errno::ENOTDIR.as_neg(),
            "ENOTDIR"
        );
        let cwd = mem(b"", 64);
        assert_eq!(
            dispatch(SYS_FCHDIR, &[dfd as usize, 0, 0, 0, 0, 0]),
            0,
            "fchdir"
        );
        assert_eq!(dispatch(SYS_GETCWD, &[cwd, 64, 0, 0, 0, 0]), 6, "getcwd");
        assert_eq!(
            uk_posix::user::UserSlice::new(cwd, 6).to_vec().unwrap(),
            b"/shim\0"
        );
        assert_eq!(
            dispatch(SYS_GETCWD, &[cwd, 3, 0, 0, 0, 0]),
            Errno::ERANGE.as_neg(),
            "ERANGE"
        );
        let rel = mem(b"f\0", 0);
        let lnk = mem(b"l\0", 0);
        assert_eq!(dispatch(SYS_SYMLINK, &[rel, lnk, 0, 0, 0, 0]), 0, "symlink");
        assert_eq!(
            dispatch(SYS_READLINK, &[lnk, buf, 1, 0, 0, 0]),
            1,
            "readlink truncates"
        );
        assert_eq!(
            dispatch(SYS_READLINK, &[lnk, buf, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        assert_eq!(dispatch(SYS_UNLINK, &[lnk, 0, 0, 0, 0, 0]), 0, "unlink");
        let root = mem(b"/\0", 0);
        assert_eq!(dispatch(SYS_CHDIR, &[root, 0, 0, 0, 0, 0]), 0, "chdir /");
        assert_eq!(
            dispatch(SYS_RMDIR, &[dir, 0, 0, 0, 0, 0]),
            Errno::ENOTEMPTY.as_neg(),
            "ENOTEMPTY"
        );
        assert_eq!(dispatch(SYS_UNLINK, &[p, 0, 0, 0, 0, 0]), 0);
        assert_eq!(dispatch(SYS_RMDIR, &[dir, 0, 0, 0, 0, 0]), 0, "rmdir");
        assert_eq!(
            dispatch(SYS_FSTAT, &[fd, buf, 0, 0, 0, 0]),
            0,
            "fstat of an unlinked file"
        );
        for x in [fd, dfd as usize] {
            assert_eq!(dispatch(SYS_CLOSE, &[x, 0, 0, 0, 0, 0]), 0);
        }
        let null = mem(b"/dev/null\0", 0);
        assert_eq!(dispatch(SYS_ACCESS, &[null, 6, 0, 0, 0, 0]), 0, "access");
        assert_eq!(
            dispatch(SYS_ACCESS, &[null, 1, 0, 0, 0, 0]),
            Errno::EACCES.as_neg(),
            "not executable"
        );
        assert_eq!(dispatch(SYS_UMASK, &[0o27, 0, 0, 0, 0, 0]), 0o22, "umask");
        assert_eq!(dispatch(SYS_UMASK, &[0o22, 0, 0, 0, 0, 0]), 0o27);
    }
}
