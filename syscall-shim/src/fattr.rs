//! truncate(2), ftruncate(2), fsync(2), fdatasync(2), sync(2), syncfs(2), access(2),
//! faccessat(2), faccessat2(2), umask(2), chmod(2), fchmod(2), fchmodat(2), chown(2),
//! fchown(2), lchown(2), fchownat(2), utimensat(2):
//! https://man7.org/linux/man-pages/man2/chmod.2.html

use crate::open::path;
use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, KResult};
use uk_abi::fcntl::{AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW};
use uk_abi::sysno::{
    SYS_ACCESS, SYS_CHMOD, SYS_CHOWN, SYS_FACCESSAT, SYS_FACCESSAT2, SYS_FCHMOD, SYS_FCHMODAT,
    SYS_FCHOWN, SYS_FCHOWNAT, SYS_FDATASYNC, SYS_FSYNC, SYS_FTRUNCATE, SYS_LCHOWN, SYS_SYNC,
    SYS_SYNCFS, SYS_TRUNCATE, SYS_UMASK, SYS_UTIMENSAT,
};
use uk_abi::time::Timespec;
use uk_posix::fs::{self};
use uk_posix::process::current;
use uk_posix::user;

pub fn sys_truncate(a: &Args) -> KResult<usize> {
    fs::truncate(&path(a[0])?, a[1] as i64).map(|_| 0)
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
    current().fds.get(a[0] as i32).map(|_| 0)
}

pub fn sys_access(a: &Args) -> KResult<usize> {
    fs::faccessat(AT_FDCWD, &path(a[0])?, a[1] as u32, 0).map(|_| 0)
}

pub fn sys_faccessat(a: &Args) -> KResult<usize> {
    fs::faccessat(a[0] as i32, &path(a[1])?, a[2] as u32, 0).map(|_| 0)
}

pub fn sys_faccessat2(a: &Args) -> KResult<usize> {
    fs::faccessat(a[0] as i32, &path(a[1])?, a[2] as u32, a[3] as u32).map(|_| 0)
}

pub fn sys_umask(a: &Args) -> KResult<usize> {
    Ok(fs::umask(a[0] as u32) as usize)
}

pub fn sys_chmod(a: &Args) -> KResult<usize> {
    fs::fchmodat(AT_FDCWD, &path(a[0])?, a[1] as u32, 0).map(|_| 0)
}

pub fn sys_fchmod(a: &Args) -> KResult<usize> {
    fs::fchmod(a[0] as i32, a[1] as u32).map(|_| 0)
}

pub fn sys_fchmodat(a: &Args) -> KResult<usize> {
    // The system call has no flags argument (glibc/musl emulate AT_SYMLINK_NOFOLLOW).
    fs::fchmodat(a[0] as i32, &path(a[1])?, a[2] as u32, 0).map(|_| 0)
}

pub fn sys_chown(a: &Args) -> KResult<usize> {
    fs::fchownat(AT_FDCWD, &path(a[0])?, a[1] as u32, a[2] as u32, 0).map(|_| 0)
}

pub fn sys_lchown(a: &Args) -> KResult<usize> {
    fs::fchownat(
        AT_FDCWD,
        &path(a[0])?,
        a[1] as u32,
        a[2] as u32,
        AT_SYMLINK_NOFOLLOW,
    )
    .map(|_| 0)
}

pub fn sys_fchown(a: &Args) -> KResult<usize> {
    current().fds.get(a[0] as i32)?;
    fs::fchownat(a[0] as i32, b"", a[1] as u32, a[2] as u32, AT_EMPTY_PATH).map(|_| 0)
}

pub fn sys_fchownat(a: &Args) -> KResult<usize> {
    fs::fchownat(
        a[0] as i32,
        &path(a[1])?,
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
        let t: [Timespec; 2] = user::read(a[2])?;
        Some([(t[0].tv_sec, t[0].tv_nsec), (t[1].tv_sec, t[1].tv_nsec)])
    };
    fs::utimensat(a[0] as i32, p.as_deref(), times, a[3] as u32).map(|_| 0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_ACCESS, sys_access).shows(&[Arg::Path, Arg::Hex]),
    row(SYS_FSYNC, sys_fsync).shows(&[Arg::Fd]),
    row(SYS_FDATASYNC, sys_fdatasync).shows(&[Arg::Fd]),
    row(SYS_TRUNCATE, sys_truncate).shows(&[Arg::Path, Arg::Hex]),
    row(SYS_FTRUNCATE, sys_ftruncate).shows(&[Arg::Fd, Arg::Hex, Arg::Hex]),
    row(SYS_CHMOD, sys_chmod).shows(&[Arg::Path, Arg::Mode]),
    row(SYS_FCHMOD, sys_fchmod),
    row(SYS_CHOWN, sys_chown),
    row(SYS_FCHOWN, sys_fchown),
    row(SYS_LCHOWN, sys_lchown),
    row(SYS_UMASK, sys_umask),
    row(SYS_SYNC, sys_sync),
    row(SYS_FCHOWNAT, sys_fchownat),
    row(SYS_FCHMODAT, sys_fchmodat),
    row(SYS_FACCESSAT, sys_faccessat).shows(&[Arg::Fd, Arg::Path, Arg::Hex, Arg::Hex]),
    row(SYS_UTIMENSAT, sys_utimensat),
    row(SYS_SYNCFS, sys_syncfs),
    row(SYS_FACCESSAT2, sys_faccessat2).shows(&[Arg::Fd, Arg::Path, Arg::Hex, Arg::Hex]),
];
