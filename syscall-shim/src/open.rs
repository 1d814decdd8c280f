//! open(2), openat(2), creat(2), openat2(2): https://man7.org/linux/man-pages/man2/open.2.html

use crate::{Args, Errno, KResult};
use uk_posix::fs::{self, AT_FDCWD, O_CREAT, O_TRUNC, O_WRONLY};
use uk_posix::user;

/// A path argument: at most PATH_MAX - 1 bytes.
pub(crate) fn path<'a>(addr: usize) -> KResult<&'a [u8]> {
    user::cstr(addr, uk_vfs::PATH_MAX - 1)
}

pub fn sys_open(a: &Args) -> KResult<usize> {
    fs::openat(AT_FDCWD, path(a[0])?, a[1] as u32, a[2] as u32).map(|f| f as usize)
}

pub fn sys_openat(a: &Args) -> KResult<usize> {
    fs::openat(a[0] as i32, path(a[1])?, a[2] as u32, a[3] as u32).map(|f| f as usize)
}

pub fn sys_creat(a: &Args) -> KResult<usize> {
    fs::openat(AT_FDCWD, path(a[0])?, O_CREAT | O_WRONLY | O_TRUNC, a[1] as u32)
        .map(|f| f as usize)
}

/// openat2: `struct open_how { u64 flags; u64 mode; u64 resolve; }`. RESOLVE_* flags
/// other than none are refused (EINVAL would mislead: say they are not supported).
pub fn sys_openat2(a: &Args) -> KResult<usize> {
    let size = a[3];
    if size < 24 {
        return Err(Errno::EINVAL);
    }
    let how: [u64; 3] = user::read(a[2])?;
    if how[0] > u32::MAX as u64 || how[1] & !0o7777 != 0 {
        return Err(Errno::EINVAL);
    }
    if how[2] != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    fs::openat(a[0] as i32, path(a[1])?, how[0] as u32, how[1] as u32).map(|f| f as usize)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[(usize, crate::Handler)] = &[
    (2, sys_open),
    (85, sys_creat),
    (257, sys_openat),
    (437, sys_openat2),
];
