//! dup(2), dup2(2), dup3(2), fcntl(2), flock(2):
//! https://man7.org/linux/man-pages/man2/fcntl.2.html

use crate::{Args, Errno, KResult};
use uk_posix::fs::lock::{self, RecordLock};
use uk_posix::fs::O_CLOEXEC;
use uk_posix::{fd, user};

const F_DUPFD: usize = 0;
const F_GETFD: usize = 1;
const F_SETFD: usize = 2;
const F_GETFL: usize = 3;
const F_SETFL: usize = 4;
const F_GETLK: usize = 5;
const F_SETLK: usize = 6;
const F_SETLKW: usize = 7;
const F_SETOWN: usize = 8;
const F_GETOWN: usize = 9;
const F_OFD_GETLK: usize = 36;
const F_OFD_SETLK: usize = 37;
const F_OFD_SETLKW: usize = 38;
const F_DUPFD_CLOEXEC: usize = 1030;
const F_SETPIPE_SZ: usize = 1031;
const F_GETPIPE_SZ: usize = 1032;
const FD_CLOEXEC: usize = 1;

pub fn sys_dup(a: &Args) -> KResult<usize> {
    fd::dup_min(a[0] as i32, 0, false)
        .map_err(|e| if e == Errno::EINVAL { Errno::EMFILE } else { e })
        .map(|f| f as usize)
}

pub fn sys_dup2(a: &Args) -> KResult<usize> {
    let (old, new) = (a[0] as i32, a[1] as i32);
    if old == new {
        fd::get(old)?;
        return Ok(new as usize);
    }
    fd::dup_to(old, new, false).map(|f| f as usize)
}

pub fn sys_dup3(a: &Args) -> KResult<usize> {
    let (old, new, flags) = (a[0] as i32, a[1] as i32, a[2] as u32);
    if flags & !O_CLOEXEC != 0 || old == new {
        return Err(Errno::EINVAL);
    }
    fd::dup_to(old, new, flags & O_CLOEXEC != 0).map(|f| f as usize)
}

/// `struct flock`: l_type (i16), l_whence (i16), l_start (i64 at 8), l_len (i64 at 16),
/// l_pid (i32 at 24); 32 bytes.
fn record(fdn: i32, cmd: usize, arg: usize) -> KResult<usize> {
    let raw: [u8; 32] = user::read(arg)?;
    let l = RecordLock {
        ltype: i16::from_le_bytes([raw[0], raw[1]]),
        whence: i16::from_le_bytes([raw[2], raw[3]]),
        start: i64::from_le_bytes(raw[8..16].try_into().unwrap_or([0; 8])),
        len: i64::from_le_bytes(raw[16..24].try_into().unwrap_or([0; 8])),
    };
    let ofd = matches!(cmd, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW);
    if ofd && i32::from_le_bytes(raw[24..28].try_into().unwrap_or([0; 4])) != 0 {
        return Err(Errno::EINVAL);
    }
    let get = matches!(cmd, F_GETLK | F_OFD_GETLK);
    let r = lock::record_lock(fdn, get, &l)?;
    if get {
        let mut out = raw;
        out[0..2].copy_from_slice(&r.ltype.to_le_bytes());
        user::write(arg, &out)?;
    }
    Ok(0)
}

pub fn sys_fcntl(a: &Args) -> KResult<usize> {
    let (fdn, cmd, arg) = (a[0] as i32, a[1], a[2]);
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            fd::dup_min(fdn, arg as i32, cmd == F_DUPFD_CLOEXEC).map(|f| f as usize)
        }
        F_GETFD => fd::cloexec(fdn).map(|c| if c { FD_CLOEXEC } else { 0 }),
        F_SETFD => fd::set_cloexec(fdn, arg & FD_CLOEXEC != 0).map(|_| 0),
        F_GETFL => Ok(fd::get(fdn)?.status_flags() as usize),
        F_SETFL => fd::get(fdn)?.set_status_flags(arg as u32).map(|_| 0),
        F_GETLK | F_SETLK | F_SETLKW | F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW => {
            record(fdn, cmd, arg)
        }
        F_SETOWN => fd::get(fdn).map(|_| 0),
        F_GETOWN => fd::get(fdn).map(|_| 0),
        F_GETPIPE_SZ => fd::get(fdn)?.pipe_size(),
        F_SETPIPE_SZ => fd::get(fdn)?.set_pipe_size(arg),
        _ => {
            fd::get(fdn)?;
            Err(Errno::EINVAL)
        }
    }
}

pub fn sys_flock(a: &Args) -> KResult<usize> {
    lock::flock(a[0] as i32, a[1] as u32).map(|_| 0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[(usize, crate::Handler)] = &[
    (32, sys_dup),
    (33, sys_dup2),
    (72, sys_fcntl),
    (73, sys_flock),
    (292, sys_dup3),
];
