//! getpid(2), getppid(2), gettid(2), get[e]uid(2), get[e]gid(2), getres[ug]id(2),
//! getgroups(2): https://man7.org/linux/man-pages/man2/getpid.2.html
//! The image is one process, pid 1, running as root (uid 0): there is no one else.
//! It belongs to no supplementary group (getgroups answers an empty list).

use crate::table::{row, Row};
use crate::{Args, Errno, KResult};
use uk_abi::sysno::{
    SYS_GETEGID, SYS_GETEUID, SYS_GETGID, SYS_GETGROUPS, SYS_GETPID, SYS_GETPPID, SYS_GETRESGID,
    SYS_GETRESUID, SYS_GETTID, SYS_GETUID,
};
use uk_posix::thread;
use uk_posix::user::UserPtr;

pub fn sys_getpid(_: &Args) -> KResult<usize> {
    Ok(uk_posix::process::current().pid() as usize)
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

/// Writes the three ids to the three program pointers (each checked: EFAULT).
fn put_three(a: &Args, ids: [u32; 3]) -> KResult<usize> {
    for (addr, id) in a[..3].iter().zip(ids) {
        UserPtr::<u32>::new(*addr).write(&id)?;
    }
    Ok(0)
}

pub fn sys_getresuid(a: &Args) -> KResult<usize> {
    let c = *uk_posix::process::current().creds.lock();
    put_three(a, [c.uid, c.euid, c.suid])
}

pub fn sys_getresgid(a: &Args) -> KResult<usize> {
    let c = *uk_posix::process::current().creds.lock();
    put_three(a, [c.gid, c.egid, c.sgid])
}

/// getgroups(size, list): the process has no supplementary groups, so the answer is 0
/// for any size that is not negative, and nothing is written.
pub fn sys_getgroups(a: &Args) -> KResult<usize> {
    if (a[0] as i32) < 0 {
        return Err(Errno::EINVAL);
    }
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
    row(SYS_GETRESUID, sys_getresuid),
    row(SYS_GETRESGID, sys_getresgid),
    row(SYS_GETGROUPS, sys_getgroups),
];
