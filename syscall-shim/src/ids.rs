//! getpid(2), getppid(2), gettid(2), get[e]uid(2), get[e]gid(2), getres[ug]id(2),
//! getgroups(2), and their setters set[e][ug]id, setre[ug]id, setres[ug]id, setgroups:
//! https://man7.org/linux/man-pages/man2/getpid.2.html
//! Every process of the image starts as root (uid 0), in no supplementary group; the
//! setters change its credentials with Linux's rules (uk_posix::ident::Creds), which
//! ukit records and reports but checks no permission against.

use crate::table::{row, Row};
use crate::{Args, Errno, KResult};
use uk_abi::sysno::{
    SYS_GETEGID, SYS_GETEUID, SYS_GETGID, SYS_GETGROUPS, SYS_GETPID, SYS_GETPPID, SYS_GETRESGID,
    SYS_GETRESUID, SYS_GETTID, SYS_GETUID, SYS_SETGID, SYS_SETGROUPS, SYS_SETREGID, SYS_SETRESGID,
    SYS_SETRESUID, SYS_SETREUID, SYS_SETUID,
};
use uk_posix::ident::{Creds, NGROUPS_MAX};
use uk_posix::thread;
use uk_posix::user::UserPtr;

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
    Ok(creds().uid as usize)
}

pub fn sys_geteuid(_: &Args) -> KResult<usize> {
    Ok(creds().euid as usize)
}

pub fn sys_getgid(_: &Args) -> KResult<usize> {
    Ok(creds().gid as usize)
}

pub fn sys_getegid(_: &Args) -> KResult<usize> {
    Ok(creds().egid as usize)
}

fn creds() -> Creds {
    *uk_posix::process::current().creds.lock()
}

/// Applies `f` to the calling process's credentials.
fn change(f: impl FnOnce(&mut Creds) -> KResult<()>) -> KResult<usize> {
    f(&mut uk_posix::process::current().creds.lock()).map(|()| 0)
}

/// Writes the three ids to the three program pointers (each checked: EFAULT).
fn put_three(a: &Args, ids: [u32; 3]) -> KResult<usize> {
    for (addr, id) in a[..3].iter().zip(ids) {
        UserPtr::<u32>::new(*addr).write(&id)?;
    }
    Ok(0)
}

pub fn sys_getresuid(a: &Args) -> KResult<usize> {
    let c = creds();
    put_three(a, [c.uid, c.euid, c.suid])
}

pub fn sys_getresgid(a: &Args) -> KResult<usize> {
    let c = creds();
    put_three(a, [c.gid, c.egid, c.sgid])
}

/// getgroups(size, list): size 0 asks for the count; a list too small is EINVAL.
pub fn sys_getgroups(a: &Args) -> KResult<usize> {
    let size = a[0] as i32;
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    let c = creds();
    let groups = c.groups();
    if size == 0 {
        return Ok(groups.len());
    }
    if (size as usize) < groups.len() {
        return Err(Errno::EINVAL);
    }
    let list = UserPtr::<u32>::new(a[1]);
    for (i, g) in groups.iter().enumerate() {
        list.at(i)?.write(g)?;
    }
    Ok(groups.len())
}

/// setgroups(size, list): root only. EPERM comes before EINVAL, as Linux checks the
/// capability before the size.
pub fn sys_setgroups(a: &Args) -> KResult<usize> {
    if creds().euid != 0 {
        return Err(Errno::EPERM);
    }
    let size = a[0] as i32;
    if size < 0 || size as usize > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    let list = UserPtr::<u32>::new(a[1]);
    let mut groups = alloc::vec::Vec::with_capacity(size as usize);
    for i in 0..size as usize {
        groups.push(list.at(i)?.read()?);
    }
    change(|c| c.set_groups(&groups))
}

/// An id argument: the low 32 bits (-1 is "keep").
fn id(v: usize) -> u32 {
    v as u32
}

pub fn sys_setuid(a: &Args) -> KResult<usize> {
    change(|c| c.set_uid(id(a[0])))
}

pub fn sys_setgid(a: &Args) -> KResult<usize> {
    change(|c| c.set_gid(id(a[0])))
}

pub fn sys_setreuid(a: &Args) -> KResult<usize> {
    change(|c| c.set_reuid(id(a[0]), id(a[1])))
}

pub fn sys_setregid(a: &Args) -> KResult<usize> {
    change(|c| c.set_regid(id(a[0]), id(a[1])))
}

pub fn sys_setresuid(a: &Args) -> KResult<usize> {
    change(|c| c.set_resuid(id(a[0]), id(a[1]), id(a[2])))
}

pub fn sys_setresgid(a: &Args) -> KResult<usize> {
    change(|c| c.set_resgid(id(a[0]), id(a[1]), id(a[2])))
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
    row(SYS_SETGROUPS, sys_setgroups),
    row(SYS_SETUID, sys_setuid),
    row(SYS_SETGID, sys_setgid),
    row(SYS_SETREUID, sys_setreuid),
    row(SYS_SETREGID, sys_setregid),
    row(SYS_SETRESUID, sys_setresuid),
    row(SYS_SETRESGID, sys_setresgid),
];
