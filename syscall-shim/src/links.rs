//! unlink(2), unlinkat(2), rename(2), renameat(2), renameat2(2), link(2), linkat(2),
//! symlink(2), symlinkat(2), readlink(2), readlinkat(2):
//! https://man7.org/linux/man-pages/man2/rename.2.html

use crate::open::path;
use crate::{Args, Errno, KResult};
use uk_posix::fs::{self, AT_FDCWD};
use uk_posix::user;

pub fn sys_unlink(a: &Args) -> KResult<usize> {
    fs::unlinkat(AT_FDCWD, path(a[0])?, 0).map(|_| 0)
}

pub fn sys_unlinkat(a: &Args) -> KResult<usize> {
    fs::unlinkat(a[0] as i32, path(a[1])?, a[2] as u32).map(|_| 0)
}

pub fn sys_rename(a: &Args) -> KResult<usize> {
    fs::renameat2(AT_FDCWD, path(a[0])?, AT_FDCWD, path(a[1])?, 0).map(|_| 0)
}

pub fn sys_renameat(a: &Args) -> KResult<usize> {
    fs::renameat2(a[0] as i32, path(a[1])?, a[2] as i32, path(a[3])?, 0).map(|_| 0)
}

pub fn sys_renameat2(a: &Args) -> KResult<usize> {
    fs::renameat2(
        a[0] as i32,
        path(a[1])?,
        a[2] as i32,
        path(a[3])?,
        a[4] as u32,
    )
    .map(|_| 0)
}

pub fn sys_link(a: &Args) -> KResult<usize> {
    fs::linkat(AT_FDCWD, path(a[0])?, AT_FDCWD, path(a[1])?, 0).map(|_| 0)
}

pub fn sys_linkat(a: &Args) -> KResult<usize> {
    fs::linkat(
        a[0] as i32,
        path(a[1])?,
        a[2] as i32,
        path(a[3])?,
        a[4] as u32,
    )
    .map(|_| 0)
}

pub fn sys_symlink(a: &Args) -> KResult<usize> {
    fs::symlinkat(path(a[0])?, AT_FDCWD, path(a[1])?).map(|_| 0)
}

pub fn sys_symlinkat(a: &Args) -> KResult<usize> {
    fs::symlinkat(path(a[0])?, a[1] as i32, path(a[2])?).map(|_| 0)
}

fn readlink_common(dirfd: i32, p: usize, buf: usize, size: usize) -> KResult<usize> {
    if (size as isize) <= 0 {
        return Err(Errno::EINVAL);
    }
    let t = fs::readlinkat(dirfd, path(p)?)?;
    let n = t.len().min(size);
    user::slice_mut(buf, n)?.copy_from_slice(&t[..n]);
    Ok(n)
}

pub fn sys_readlink(a: &Args) -> KResult<usize> {
    readlink_common(AT_FDCWD, a[0], a[1], a[2])
}

pub fn sys_readlinkat(a: &Args) -> KResult<usize> {
    readlink_common(a[0] as i32, a[1], a[2], a[3])
}

/// This family's rows of the system call table.
pub const ENTRIES: &[(usize, crate::Handler)] = &[
    (82, sys_rename),
    (86, sys_link),
    (87, sys_unlink),
    (88, sys_symlink),
    (89, sys_readlink),
    (263, sys_unlinkat),
    (264, sys_renameat),
    (265, sys_linkat),
    (266, sys_symlinkat),
    (267, sys_readlinkat),
    (316, sys_renameat2),
];
