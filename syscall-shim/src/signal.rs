//! rt_sigaction(2), rt_sigprocmask(2): https://man7.org/linux/man-pages/man2/rt_sigaction.2.html

use crate::{Args, Errno, KResult};
use uk_posix::signal::{self, KSigaction};
use uk_posix::user;

pub fn sys_rt_sigaction(a: &Args) -> KResult<usize> {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let new = if a[1] != 0 {
        Some(user::read::<KSigaction>(a[1])?)
    } else {
        None
    };
    if a[2] != 0 {
        user::check(a[2], core::mem::size_of::<KSigaction>(), true)?;
    }
    let old = signal::sigaction(a[0], new)?;
    if a[2] != 0 {
        user::write(a[2], &old)?;
    }
    Ok(0)
}

pub fn sys_rt_sigprocmask(a: &Args) -> KResult<usize> {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let set = if a[1] != 0 {
        Some(user::read::<u64>(a[1])?)
    } else {
        None
    };
    if a[2] != 0 {
        user::check(a[2], 8, true)?;
    }
    let old = signal::sigprocmask(a[0] as u32, set)?;
    if a[2] != 0 {
        user::write(a[2], &old)?;
    }
    Ok(0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[(usize, crate::Handler)] = &[(13, sys_rt_sigaction), (14, sys_rt_sigprocmask)];
