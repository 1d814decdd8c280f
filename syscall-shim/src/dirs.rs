//! getdents64(2), mkdir(2), mkdirat(2), rmdir(2), chdir(2), fchdir(2), getcwd(2),
//! chroot(2): https://man7.org/linux/man-pages/man2/getdents.2.html

use crate::open::path;
use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::fcntl::{AT_FDCWD, AT_REMOVEDIR};
use uk_abi::sysno::{
    SYS_CHDIR, SYS_CHROOT, SYS_FCHDIR, SYS_GETCWD, SYS_GETDENTS64, SYS_MKDIR, SYS_MKDIRAT,
    SYS_RMDIR,
};
use uk_posix::fs::{self};
use uk_posix::user;

pub fn sys_getdents64(a: &Args) -> KResult<usize> {
    let len = a[2].min(i32::MAX as usize);
    // Records go out while they fit in the part of the buffer the program may write,
    // as on Linux: a buffer that runs into unmapped memory gets the records before it,
    // and EFAULT only when not even one fits there.
    let room = user::writable_prefix(a[1], len);
    let recs = match fs::getdents64(a[0] as i32, room) {
        Err(Errno::EINVAL) if room < len => return Err(Errno::EFAULT),
        r => r?,
    };
    user::copy_out(a[1], &recs)?;
    Ok(recs.len())
}

pub fn sys_mkdir(a: &Args) -> KResult<usize> {
    fs::mkdirat(AT_FDCWD, &path(a[0])?, a[1] as u32).map(|_| 0)
}

pub fn sys_mkdirat(a: &Args) -> KResult<usize> {
    fs::mkdirat(a[0] as i32, &path(a[1])?, a[2] as u32).map(|_| 0)
}

pub fn sys_rmdir(a: &Args) -> KResult<usize> {
    fs::unlinkat(AT_FDCWD, &path(a[0])?, AT_REMOVEDIR).map(|_| 0)
}

pub fn sys_chdir(a: &Args) -> KResult<usize> {
    fs::chdir(&path(a[0])?).map(|_| 0)
}

pub fn sys_chroot(a: &Args) -> KResult<usize> {
    fs::chroot(&path(a[0])?).map(|_| 0)
}

pub fn sys_fchdir(a: &Args) -> KResult<usize> {
    fs::fchdir(a[0] as i32).map(|_| 0)
}

/// getcwd: returns the length including the NUL, ERANGE when it does not fit.
pub fn sys_getcwd(a: &Args) -> KResult<usize> {
    let p = fs::getcwd()?;
    if a[1] == 0 {
        return Err(Errno::ERANGE);
    }
    if p.len() + 1 > a[1] {
        return Err(Errno::ERANGE);
    }
    let mut out = p;
    out.push(0);
    user::copy_out(a[0], &out)?;
    Ok(out.len())
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_GETCWD, sys_getcwd),
    row(SYS_CHDIR, sys_chdir).shows(&[Arg::Path, Arg::Hex]),
    row(SYS_FCHDIR, sys_fchdir).shows(&[Arg::Fd]),
    row(SYS_CHROOT, sys_chroot).shows(&[Arg::Path]),
    row(SYS_MKDIR, sys_mkdir).shows(&[Arg::Path, Arg::Mode]),
    row(SYS_RMDIR, sys_rmdir).shows(&[Arg::Path, Arg::Hex]),
    row(SYS_GETDENTS64, sys_getdents64).shows(&[Arg::Fd, Arg::Hex, Arg::Hex]),
    row(SYS_MKDIRAT, sys_mkdirat).shows(&[Arg::Fd, Arg::Path, Arg::Hex, Arg::Hex]),
];
