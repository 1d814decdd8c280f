//! stat(2), lstat(2), newfstatat(2), statx(2), statfs(2), fstatfs(2):
//! https://man7.org/linux/man-pages/man2/stat.2.html

use crate::open::path;
use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::fcntl::{AT_EMPTY_PATH, AT_FDCWD, AT_STATX_SYNC_TYPE, AT_SYMLINK_NOFOLLOW};
use uk_abi::stat::{
    dev_major, dev_minor, Statfs, Statx, StatxTimestamp, STATX_BASIC_STATS, STATX_RESERVED,
};
use uk_abi::sysno::{SYS_FSTATFS, SYS_LSTAT, SYS_NEWFSTATAT, SYS_STAT, SYS_STATFS, SYS_STATX};
use uk_posix::file::Stat;
use uk_posix::fs;
use uk_posix::user;

fn put_stat(addr: usize, st: &Stat) -> KResult<usize> {
    user::write(addr, st)?;
    Ok(0)
}

pub fn sys_stat(a: &Args) -> KResult<usize> {
    put_stat(a[1], &fs::stat_at(AT_FDCWD, &path(a[0])?, 0)?)
}

pub fn sys_lstat(a: &Args) -> KResult<usize> {
    put_stat(
        a[1],
        &fs::stat_at(AT_FDCWD, &path(a[0])?, AT_SYMLINK_NOFOLLOW)?,
    )
}

pub fn sys_newfstatat(a: &Args) -> KResult<usize> {
    put_stat(a[2], &fs::stat_at(a[0] as i32, &path(a[1])?, a[3] as u32)?)
}

/// The `struct statx` of a file: everything `struct stat` has (STATX_BASIC_STATS),
/// whatever the caller's mask asked for; no birth time.
fn statx_of(s: &Stat) -> Statx {
    let ts = |t: &uk_abi::time::Timespec| StatxTimestamp {
        tv_sec: t.tv_sec,
        tv_nsec: t.tv_nsec as u32,
        ..Default::default()
    };
    Statx {
        stx_mask: STATX_BASIC_STATS,
        stx_blksize: s.st_blksize as u32,
        stx_nlink: s.st_nlink as u32,
        stx_uid: s.st_uid,
        stx_gid: s.st_gid,
        stx_mode: s.st_mode as u16,
        stx_ino: s.st_ino,
        stx_size: s.st_size as u64,
        stx_blocks: s.st_blocks as u64,
        stx_atime: ts(&s.st_atime),
        stx_ctime: ts(&s.st_ctime),
        stx_mtime: ts(&s.st_mtime),
        stx_rdev_major: dev_major(s.st_rdev),
        stx_rdev_minor: dev_minor(s.st_rdev),
        stx_dev_major: dev_major(s.st_dev),
        stx_dev_minor: dev_minor(s.st_dev),
        ..Default::default()
    }
}

pub fn sys_statx(a: &Args) -> KResult<usize> {
    let (dirfd, flags, mask) = (a[0] as i32, a[2] as u32, a[3] as u32);
    if mask & STATX_RESERVED != 0 {
        return Err(Errno::EINVAL);
    }
    // AT_STATX_FORCE_SYNC and AT_STATX_DONT_SYNC together are invalid.
    if flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE {
        return Err(Errno::EINVAL);
    }
    let p = &path(a[1])?;
    let st = fs::stat_at(dirfd, p, flags)?;
    user::write(a[4], &statx_of(&st))?;
    Ok(0)
}

fn put_statfs(addr: usize, s: &Statfs) -> KResult<usize> {
    user::write(addr, s)?;
    Ok(0)
}

pub fn sys_statfs(a: &Args) -> KResult<usize> {
    put_statfs(a[1], &fs::statfs_at(AT_FDCWD, &path(a[0])?, 0)?)
}

pub fn sys_fstatfs(a: &Args) -> KResult<usize> {
    put_statfs(a[1], &fs::statfs_at(a[0] as i32, b"", AT_EMPTY_PATH)?)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_STAT, sys_stat).shows(&[Arg::Path, Arg::Hex]),
    row(SYS_LSTAT, sys_lstat).shows(&[Arg::Path, Arg::Hex]),
    row(SYS_STATFS, sys_statfs),
    row(SYS_FSTATFS, sys_fstatfs),
    row(SYS_NEWFSTATAT, sys_newfstatat).shows(&[Arg::Fd, Arg::Path, Arg::Hex, Arg::Hex]),
    row(SYS_STATX, sys_statx).shows(&[Arg::Fd, Arg::Path, Arg::Hex, Arg::Hex]),
];
