//! stat(2), lstat(2), newfstatat(2), statx(2), statfs(2), fstatfs(2):
//! https://man7.org/linux/man-pages/man2/stat.2.html

use crate::open::path;
use crate::read_write::encode_stat;
use crate::{Args, Errno, KResult};
use uk_posix::file::Stat;
use uk_posix::fs::{self, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW};
use uk_posix::user;

fn put_stat(addr: usize, st: &Stat) -> KResult<usize> {
    user::write(addr, &encode_stat(st))?;
    Ok(0)
}

pub fn sys_stat(a: &Args) -> KResult<usize> {
    put_stat(a[1], &fs::stat_at(AT_FDCWD, path(a[0])?, 0)?)
}

pub fn sys_lstat(a: &Args) -> KResult<usize> {
    put_stat(
        a[1],
        &fs::stat_at(AT_FDCWD, path(a[0])?, AT_SYMLINK_NOFOLLOW)?,
    )
}

pub fn sys_newfstatat(a: &Args) -> KResult<usize> {
    put_stat(a[2], &fs::stat_at(a[0] as i32, path(a[1])?, a[3] as u32)?)
}

/// `struct statx` (256 bytes).
fn encode_statx(s: &Stat, mask: u32) -> [u8; 256] {
    let mut b = [0u8; 256];
    let mut put = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
    // STATX_BASIC_STATS: everything struct stat has; no birth time.
    let _ = mask;
    put(0, &0x7ffu32.to_le_bytes());
    put(4, &(s.blksize as u32).to_le_bytes());
    put(16, &(s.nlink as u32).to_le_bytes());
    put(20, &s.uid.to_le_bytes());
    put(24, &s.gid.to_le_bytes());
    put(28, &(s.mode as u16).to_le_bytes());
    put(32, &s.ino.to_le_bytes());
    put(40, &(s.size as u64).to_le_bytes());
    put(48, &(s.blocks as u64).to_le_bytes());
    let ts = |put: &mut dyn FnMut(usize, &[u8]), off: usize, ns: i64| {
        let (sec, nsec) = uk_posix::time::ns_to_timespec(ns);
        put(off, &sec.to_le_bytes());
        put(off + 8, &(nsec as u32).to_le_bytes());
    };
    ts(&mut put, 64, s.atime_ns);
    ts(&mut put, 96, s.ctime_ns);
    ts(&mut put, 112, s.mtime_ns);
    put(128, &((s.rdev >> 8) as u32 & 0xfff).to_le_bytes());
    put(132, &(s.rdev as u32 & 0xff).to_le_bytes());
    put(136, &((s.dev >> 8) as u32 & 0xfff).to_le_bytes());
    put(140, &(s.dev as u32 & 0xff).to_le_bytes());
    b
}

pub fn sys_statx(a: &Args) -> KResult<usize> {
    const STATX_RESERVED: u32 = 0x8000_0000;
    let (dirfd, flags, mask) = (a[0] as i32, a[2] as u32, a[3] as u32);
    if mask & STATX_RESERVED != 0 {
        return Err(Errno::EINVAL);
    }
    // AT_STATX_SYNC_TYPE both bits set is invalid.
    if flags & 0x6000 == 0x6000 {
        return Err(Errno::EINVAL);
    }
    let p = path(a[1])?;
    let st = fs::stat_at(dirfd, p, flags)?;
    user::write(a[4], &encode_statx(&st, mask))?;
    Ok(0)
}

/// `struct statfs` (120 bytes).
fn put_statfs(addr: usize, s: &uk_vfs::StatFs) -> KResult<usize> {
    let mut b = [0u8; 120];
    let vals: [u64; 10] = [
        s.fs_type as u64,
        s.bsize as u64,
        s.blocks,
        s.bfree,
        s.bavail,
        s.files,
        s.ffree,
        s.fsid,
        s.namelen as u64,
        s.frsize as u64,
    ];
    for (i, v) in vals.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    user::write(addr, &b)?;
    Ok(0)
}

pub fn sys_statfs(a: &Args) -> KResult<usize> {
    put_statfs(a[1], &fs::statfs_at(AT_FDCWD, path(a[0])?, 0)?)
}

pub fn sys_fstatfs(a: &Args) -> KResult<usize> {
    put_statfs(a[1], &fs::statfs_at(a[0] as i32, b"", AT_EMPTY_PATH)?)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[(usize, crate::Handler)] = &[
    (4, sys_stat),
    (6, sys_lstat),
    (137, sys_statfs),
    (138, sys_fstatfs),
    (262, sys_newfstatat),
    (332, sys_statx),
];
