//! dup(2), dup2(2), dup3(2), fcntl(2), flock(2):
//! https://man7.org/linux/man-pages/man2/fcntl.2.html

use uk_abi::fcntl::{
    Flock, FD_CLOEXEC, F_ADD_SEALS, F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_GETLK, F_GETOWN,
    F_GETPIPE_SZ, F_GET_SEALS, F_NOTIFY, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_SETFD, F_SETFL,
    F_SETLK, F_SETLKW, F_SETOWN, F_SETPIPE_SZ,
};

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::fcntl::O_CLOEXEC;
use uk_abi::sysno::{SYS_DUP, SYS_DUP2, SYS_DUP3, SYS_FCNTL, SYS_FLOCK};
use uk_posix::fs::lock::{self, RecordLock};
use uk_posix::process::current;
use uk_posix::user;

pub fn sys_dup(a: &Args) -> KResult<usize> {
    current()
        .dup_min(a[0] as i32, 0, false)
        .map_err(|e| if e == Errno::EINVAL { Errno::EMFILE } else { e })
        .map(|f| f as usize)
}

pub fn sys_dup2(a: &Args) -> KResult<usize> {
    let (old, new) = (a[0] as i32, a[1] as i32);
    if old == new {
        current().fds.get(old)?;
        return Ok(new as usize);
    }
    current().dup_to(old, new, false).map(|f| f as usize)
}

pub fn sys_dup3(a: &Args) -> KResult<usize> {
    let (old, new, flags) = (a[0] as i32, a[1] as i32, a[2] as u32);
    if flags & !O_CLOEXEC != 0 || old == new {
        return Err(Errno::EINVAL);
    }
    current()
        .dup_to(old, new, flags & O_CLOEXEC != 0)
        .map(|f| f as usize)
}

/// F_GETLK/F_SETLK/F_SETLKW and their open-file-description forms, on `struct flock`.
fn record(fdn: i32, cmd: u32, arg: usize) -> KResult<usize> {
    let raw: Flock = user::read(arg)?;
    let l = RecordLock {
        ltype: raw.l_type,
        whence: raw.l_whence,
        start: raw.l_start,
        len: raw.l_len,
    };
    let ofd = matches!(cmd, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW);
    if ofd && raw.l_pid != 0 {
        return Err(Errno::EINVAL);
    }
    let get = matches!(cmd, F_GETLK | F_OFD_GETLK);
    let r = lock::record_lock(fdn, get, &l)?;
    if get {
        let out = Flock {
            l_type: r.ltype,
            ..raw
        };
        user::write(arg, &out)?;
    }
    Ok(0)
}

pub fn sys_fcntl(a: &Args) -> KResult<usize> {
    // The command is an `unsigned int`: Linux ignores the upper half of the register.
    let (fdn, cmd, arg) = (a[0] as i32, a[1] as u32, a[2]);
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => current()
            .dup_min(fdn, arg as i32, cmd == F_DUPFD_CLOEXEC)
            .map(|f| f as usize),
        F_GETFD => current()
            .fds
            .cloexec(fdn)
            .map(|c| if c { FD_CLOEXEC as usize } else { 0 }),
        F_SETFD => current()
            .fds
            .set_cloexec(fdn, arg as u32 & FD_CLOEXEC != 0)
            .map(|_| 0),
        F_GETFL => Ok(current().fds.get(fdn)?.status_flags() as usize),
        F_SETFL => current()
            .fds
            .get(fdn)?
            .set_status_flags(arg as u32)
            .map(|_| 0),
        F_GETLK | F_SETLK | F_SETLKW | F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW => {
            record(fdn, cmd, arg)
        }
        F_SETOWN => current().fds.get(fdn).map(|_| 0),
        F_GETOWN => current().fds.get(fdn).map(|_| 0),
        F_GETPIPE_SZ => current().fds.get(fdn)?.pipe_size(),
        F_NOTIFY => uk_posix::fs::dnotify::notify(fdn, arg as u32).map(|_| 0),
        F_SETPIPE_SZ => current().fds.get(fdn)?.set_pipe_size(arg),
        F_ADD_SEALS => uk_posix::fs::memfd::add_seals(fdn, arg as u32).map(|_| 0),
        F_GET_SEALS => uk_posix::fs::memfd::get_seals(fdn).map(|s| s as usize),
        _ => {
            current().fds.get(fdn)?;
            Err(Errno::EINVAL)
        }
    }
}

pub fn sys_flock(a: &Args) -> KResult<usize> {
    lock::flock(a[0] as i32, a[1] as u32).map(|_| 0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_DUP, sys_dup).shows(&[Arg::Fd]),
    row(SYS_DUP2, sys_dup2).shows(&[Arg::Fd, Arg::Fd, Arg::Hex]),
    row(SYS_FCNTL, sys_fcntl).shows(&[Arg::Fd, Arg::Hex, Arg::Hex]),
    row(SYS_FLOCK, sys_flock),
    row(SYS_DUP3, sys_dup3).shows(&[Arg::Fd, Arg::Fd, Arg::Hex]),
];
