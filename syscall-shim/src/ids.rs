//! getpid(2), getppid(2), gettid(2), get[e]uid(2), get[e]gid(2), set_tid_address(2):
//! https://man7.org/linux/man-pages/man2/getpid.2.html
//! The image is one process, pid 1, running as root (uid 0): there is no one else.

use crate::{Args, KResult};
use uk_posix::{ident, thread};

pub fn sys_getpid(_: &Args) -> KResult<usize> {
    Ok(ident::PID as usize)
}

pub fn sys_getppid(_: &Args) -> KResult<usize> {
    Ok(0)
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
pub const ENTRIES: &[(usize, crate::Handler)] = &[
    (39, sys_getpid),
    (102, sys_getuid),
    (104, sys_getgid),
    (107, sys_geteuid),
    (108, sys_getegid),
    (110, sys_getppid),
    (186, sys_gettid),
];
