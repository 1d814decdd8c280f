//! truncate(2), ftruncate(2), fsync(2), fdatasync(2), sync(2), syncfs(2), access(2),
//! faccessat(2), faccessat2(2), umask(2), chmod(2), fchmod(2), fchmodat(2), chown(2),
//! fchown(2), lchown(2), fchownat(2), utimensat(2):
//! https://man7.org/linux/man-pages/man2/chmod.2.html

use crate::open::path;
use crate::{Args, KResult};
use uk_posix::fs::{self, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW};
use uk_posix::{fd, user};

pub fn sys_truncate(a: &Args) -> KResult<usize> {
    fs::truncate(path(a[0])?, a[1] as i64).map(|_| 0)
}

pub fn sys_ftruncate(a: &Args) -> KResult<usize> {
    fs::ftruncate(a[0] as i32, a[1] as i64).map(|_| 0)
}

pub fn sys_fsync(a: &Args) -> KResult<usize> {
    fs::fsync(a[0] as i32, false).map(|_| 0)
}

pub fn sys_fdatasync(a: &Args) -> KResult<usize> {
    fs::fsync(a[0] as i32, true).map(|_| 0)
}

pub fn sys_sync(_: &Args) -> KResult<usize> {
    Ok(0)
}

pub fn sys_syncfs(a: &Args) -> KResult<usize> {
    fd::get(a[0] as i32).map(|_| 0)
}

pub fn sys_access(a: &Args) -> KResult<usize> {
    fs::faccessat(AT_FDCWD, path(a[0])?, a[1] as u32, 0).map(|_| 0)
}

pub fn sys_faccessat(a: &Args) -> KResult<usize> {
    fs::faccessat(a[0] as i32, path(a[1])?, a[2] as u32, 0).map(|_| 0)
}

pub fn sys_faccessat2(a: &Args) -> KResult<usize> {
    fs::faccessat(a[0] as i32, path(a[1])?, a[2] as u32, a[3] as u32).map(|_| 0)
}

pub fn sys_umask(a: &Args) -> KResult<usize> {
    Ok(fs::umask(a[0] as u32) as usize)
}

pub fn sys_chmod(a: &Args) -> KResult<usize> {
    fs::fchmodat(AT_FDCWD, path(a[0])?, a[1] as u32, 0).map(|_| 0)
}

pub fn sys_fchmod(a: &Args) -> KResult<usize> {
    fs::fchmod(a[0] as i32, a[1] as u32).map(|_| 0)
}

pub fn sys_fchmodat(a: &Args) -> KResult<usize> {
    // The system call has no flags argument (glibc/musl emulate AT_SYMLINK_NOFOLLOW).
    fs::fchmodat(a[0] as i32, path(a[1])?, a[2] as u32, 0).map(|_| 0)
}

pub fn sys_chown(a: &Args) -> KResult<usize> {
    fs::fchownat(AT_FDCWD, path(a[0])?, a[1] as u32, a[2] as u32, 0).map(|_| 0)
}

pub fn sys_lchown(a: &Args) -> KResult<usize> {
    fs::fchownat(
        AT_FDCWD,
        path(a[0])?,
        a[1] as u32,
        a[2] as u32,
        AT_SYMLINK_NOFOLLOW,
    )
    .map(|_| 0)
}

pub fn sys_fchown(a: &Args) -> KResult<usize> {
    fd::get(a[0] as i32)?;
    fs::fchownat(a[0] as i32, b"", a[1] as u32, a[2] as u32, AT_EMPTY_PATH).map(|_| 0)
}

pub fn sys_fchownat(a: &Args) -> KResult<usize> {
    fs::fchownat(
        a[0] as i32,
        path(a[1])?,
        a[2] as u32,
        a[3] as u32,
        a[4] as u32,
    )
    .map(|_| 0)
}

pub fn sys_utimensat(a: &Args) -> KResult<usize> {
    let p = if a[1] == 0 { None } else { Some(path(a[1])?) };
    let times = if a[2] == 0 {
        None
    } else {
        let t: [i64; 4] = user::read(a[2])?;
        Some([(t[0], t[1]), (t[2], t[3])])
    };
    fs::utimensat(a[0] as i32, p, times, a[3] as u32).map(|_| 0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[(usize, crate::Handler)] = &[
    (21, sys_access),
    (74, sys_fsync),
    (75, sys_fdatasync),
    (76, sys_truncate),
    (77, sys_ftruncate),
    (90, sys_chmod),
    (91, sys_fchmod),
    (92, sys_chown),
    (93, sys_fchown),
    (94, sys_lchown),
    (95, sys_umask),
    (162, sys_sync),
    (260, sys_fchownat),
    (268, sys_fchmodat),
    (269, sys_faccessat),
    (280, sys_utimensat),
    (306, sys_syncfs),
    (439, sys_faccessat2),
];
