//! unlink(2), unlinkat(2), rename(2), renameat(2), renameat2(2), link(2), linkat(2),
//! symlink(2), symlinkat(2), readlink(2), readlinkat(2):
//! https://man7.org/linux/man-pages/man2/rename.2.html

use crate::open::path;
use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::fcntl::AT_FDCWD;
use uk_abi::sysno::{
    SYS_LINK, SYS_LINKAT, SYS_READLINK, SYS_READLINKAT, SYS_RENAME, SYS_RENAMEAT, SYS_RENAMEAT2,
    SYS_SYMLINK, SYS_SYMLINKAT, SYS_UNLINK, SYS_UNLINKAT,
};
use uk_posix::fs::{self};
use uk_posix::user;

pub fn sys_unlink(a: &Args) -> KResult<usize> {
    fs::unlinkat(AT_FDCWD, &path(a[0])?, 0).map(|_| 0)
}

pub fn sys_unlinkat(a: &Args) -> KResult<usize> {
    fs::unlinkat(a[0] as i32, &path(a[1])?, a[2] as u32).map(|_| 0)
}

pub fn sys_rename(a: &Args) -> KResult<usize> {
    fs::renameat2(AT_FDCWD, &path(a[0])?, AT_FDCWD, &path(a[1])?, 0).map(|_| 0)
}

pub fn sys_renameat(a: &Args) -> KResult<usize> {
    fs::renameat2(a[0] as i32, &path(a[1])?, a[2] as i32, &path(a[3])?, 0).map(|_| 0)
}

pub fn sys_renameat2(a: &Args) -> KResult<usize> {
    fs::renameat2(
        a[0] as i32,
        &path(a[1])?,
        a[2] as i32,
        &path(a[3])?,
        a[4] as u32,
    )
    .map(|_| 0)
}

pub fn sys_link(a: &Args) -> KResult<usize> {
    fs::linkat(AT_FDCWD, &path(a[0])?, AT_FDCWD, &path(a[1])?, 0).map(|_| 0)
}

pub fn sys_linkat(a: &Args) -> KResult<usize> {
    fs::linkat(
        a[0] as i32,
        &path(a[1])?,
        a[2] as i32,
        &path(a[3])?,
        a[4] as u32,
    )
    .map(|_| 0)
}

pub fn sys_symlink(a: &Args) -> KResult<usize> {
    fs::symlinkat(&path(a[0])?, AT_FDCWD, &path(a[1])?).map(|_| 0)
}

pub fn sys_symlinkat(a: &Args) -> KResult<usize> {
    fs::symlinkat(&path(a[0])?, a[1] as i32, &path(a[2])?).map(|_| 0)
}

fn readlink_common(dirfd: i32, p: usize, buf: usize, size: usize) -> KResult<usize> {
    if (size as isize) <= 0 {
        return Err(Errno::EINVAL);
    }
    let t = fs::readlinkat(dirfd, &path(p)?)?;
    let n = t.len().min(size);
    user::copy_out(buf, &t[..n])?;
    Ok(n)
}

pub fn sys_readlink(a: &Args) -> KResult<usize> {
    readlink_common(AT_FDCWD, a[0], a[1], a[2])
}

pub fn sys_readlinkat(a: &Args) -> KResult<usize> {
    readlink_common(a[0] as i32, a[1], a[2], a[3])
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_RENAME, sys_rename).shows(&[Arg::Path, Arg::Path]),
    row(SYS_LINK, sys_link).shows(&[Arg::Path, Arg::Path]),
    row(SYS_UNLINK, sys_unlink).shows(&[Arg::Path, Arg::Hex]),
    row(SYS_SYMLINK, sys_symlink).shows(&[Arg::Path, Arg::Path]),
    row(SYS_READLINK, sys_readlink),
    row(SYS_UNLINKAT, sys_unlinkat).shows(&[Arg::Fd, Arg::Path, Arg::Hex, Arg::Hex]),
    row(SYS_RENAMEAT, sys_renameat).shows(&[Arg::Fd, Arg::Path, Arg::Fd, Arg::Path, Arg::Hex]),
    row(SYS_LINKAT, sys_linkat).shows(&[Arg::Fd, Arg::Path, Arg::Fd, Arg::Path, Arg::Hex]),
    row(SYS_SYMLINKAT, sys_symlinkat),
    row(SYS_READLINKAT, sys_readlinkat).shows(&[Arg::Fd, Arg::Path, Arg::Hex, Arg::Hex]),
    row(SYS_RENAMEAT2, sys_renameat2).shows(&[Arg::Fd, Arg::Path, Arg::Fd, Arg::Path, Arg::Hex]),
];
