//! getpid(2), getppid(2), gettid(2), get[e]uid(2), get[e]gid(2), set_tid_address(2):
//! https://man7.org/linux/man-pages/man2/getpid.2.html
//! Every process of the image runs as root (uid 0): there is no one else.

use crate::table::{row, Row};
use crate::{Args, KResult};
use uk_abi::sysno::{
    SYS_GETEGID, SYS_GETEUID, SYS_GETGID, SYS_GETPID, SYS_GETPPID, SYS_GETTID, SYS_GETUID,
};
use uk_posix::thread;

pub fn sys_getpid(_: &Args) -> KResult<usize> {
    Ok(uk_posix::process::current().pid() as usize)
}

pub fn sys_getppid(_: &Args) -> KResult<usize> {
    Ok(uk_posix::lifecycle::getppid() as usize)
}

pub fn sys_gettid(_: &Args) -> KResult<usize> {
    Ok(thread::current_tid() as usize)
}

pub fn sys_getuid(_: &Args) -> KResult<usize> {
    Ok(0)
}

pub fn sys_geteuid(_: &Args) -> KResult<usize> {
    Ok(0)
}

pub fn sys_getgid(_: &Args) -> KResult<usize> {
    Ok(0)
}

pub fn sys_getegid(_: &Args) -> KResult<usize> {
    Ok(0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_GETPID, sys_getpid),
    row(SYS_GETUID, sys_getuid),
    row(SYS_GETGID, sys_getgid),
    row(SYS_GETEUID, sys_geteuid),
    row(SYS_GETEGID, sys_getegid),
    row(SYS_GETPPID, sys_getppid),
    row(SYS_GETTID, sys_gettid),
];
