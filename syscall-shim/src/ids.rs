//! getpid(2), getppid(2), gettid(2), get[e]uid(2), get[e]gid(2), getres[ug]id(2),
//! getgroups(2): https://man7.org/linux/man-pages/man2/getpid.2.html
//! setuid(2), setgid(2), setgroups(2): https://man7.org/linux/man-pages/man2/setuid.2.html
//! Every process of the image starts as root (uid 0). A process may give that up with
//! setuid/setgid, as nginx's workers do (`user nobody nogroup`): the ids are the
//! process's own (`Process::creds`), kept across fork and execve; nothing else checks
//! them yet (files, kill). None belongs to a supplementary group: setgroups is taken
//! from root but the list is not kept (getgroups answers an empty list).

use crate::table::{row, Row};
use crate::{Args, Errno, KResult};
use uk_abi::sysno::{
    SYS_GETEGID, SYS_GETEUID, SYS_GETGID, SYS_GETGROUPS, SYS_GETPID, SYS_GETPPID, SYS_GETRESGID,
    SYS_GETRESUID, SYS_GETTID, SYS_GETUID, SYS_SETGID, SYS_SETGROUPS, SYS_SETUID,
};
use uk_posix::ident::Creds;
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

fn creds() -> Creds {
    *uk_posix::process::current().creds.lock()
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

/// The three ids setuid/setgid leave: all three when the caller is root, else only the
/// effective one, to the real or saved id (Linux's rule without capabilities).
fn set_id(euid: u32, ids: [u32; 3], id: usize) -> KResult<[u32; 3]> {
    let id = u32::try_from(id).map_err(|_| Errno::EINVAL)?;
    if id == u32::MAX {
        return Err(Errno::EINVAL);
    }
    let [real, _, saved] = ids;
    if euid == 0 {
        Ok([id; 3])
    } else if id == real || id == saved {
        Ok([real, id, saved])
    } else {
        Err(Errno::EPERM)
    }
}

pub fn sys_setuid(a: &Args) -> KResult<usize> {
    let p = uk_posix::process::current();
    let mut c = p.creds.lock();
    [c.uid, c.euid, c.suid] = set_id(c.euid, [c.uid, c.euid, c.suid], a[0])?;
    Ok(0)
}

pub fn sys_setgid(a: &Args) -> KResult<usize> {
    let p = uk_posix::process::current();
    let mut c = p.creds.lock();
    [c.gid, c.egid, c.sgid] = set_id(c.euid, [c.gid, c.egid, c.sgid], a[0])?;
    Ok(0)
}

/// setgroups(size, list): root only (EPERM), at most 65536 groups (EINVAL), the list
/// readable (EFAULT); the list is not kept (see the module's comment).
pub fn sys_setgroups(a: &Args) -> KResult<usize> {
    if creds().euid != 0 {
        return Err(Errno::EPERM);
    }
    let n = a[0];
    if n > 65536 {
        return Err(Errno::EINVAL);
    }
    for i in 0..n {
        UserPtr::<u32>::new(a[1] + 4 * i).read()?;
    }
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
    row(SYS_SETUID, sys_setuid),
    row(SYS_SETGID, sys_setgid),
    row(SYS_SETGROUPS, sys_setgroups),
];

#[cfg(test)]
mod tests {
    use super::set_id;
    use uk_abi::Errno;

    #[test]
    fn root_sets_all_three_others_only_the_effective_id() {
        assert_eq!(set_id(0, [0, 0, 0], 65534), Ok([65534; 3]));
        assert_eq!(set_id(5, [5, 5, 7], 7), Ok([5, 7, 7]));
        assert_eq!(set_id(5, [5, 5, 7], 0), Err(Errno::EPERM));
        assert_eq!(set_id(0, [0, 0, 0], u32::MAX as usize), Err(Errno::EINVAL));
    }
}
