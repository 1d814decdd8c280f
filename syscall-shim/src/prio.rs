//! Process groups, sessions and scheduling priority of the one process: getpgid(2),
//! getsid(2), setpgid(2), setsid(2), getpriority(2), setpriority(2),
//! sched_getscheduler(2), sched_rr_get_interval(2) and friends:
//! https://man7.org/linux/man-pages/man2/setpgid.2.html
//!
//! The image's process is pid 1, leader of group 1 and session 1 (like init), so
//! setpgid and setsid answer EPERM as Linux does for a session leader. There is one
//! scheduling policy, SCHED_OTHER.

use uk_abi::sched::{
    SCHED_BATCH, SCHED_FIFO, SCHED_IDLE, SCHED_OTHER, SCHED_RESET_ON_FORK, SCHED_RR,
};

use crate::table::{row, Row};
use crate::{Args, Errno, KResult};
use uk_abi::sched::SchedParam;
use uk_abi::sysno::{
    SYS_GETPGID, SYS_GETPGRP, SYS_GETPRIORITY, SYS_GETSID, SYS_SCHED_GETPARAM,
    SYS_SCHED_GETSCHEDULER, SYS_SCHED_GET_PRIORITY_MAX, SYS_SCHED_GET_PRIORITY_MIN,
    SYS_SCHED_RR_GET_INTERVAL, SYS_SCHED_SETPARAM, SYS_SCHED_SETSCHEDULER, SYS_SETPGID,
    SYS_SETPRIORITY, SYS_SETSID,
};
use uk_posix::process::current;
use uk_posix::user;

/// The process itself (0 or its pid) or one of its threads (Linux accepts a tid).
fn own(pid: usize) -> KResult<()> {
    let pid = pid as i32;
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid == 0 || pid == current().pid() || uk_sched::thread(pid).is_some() {
        Ok(())
    } else {
        Err(Errno::ESRCH)
    }
}

pub fn sys_getpgid(a: &Args) -> KResult<usize> {
    own(a[0]).map_err(|_| Errno::ESRCH)?;
    Ok(current().pid() as usize)
}

pub fn sys_getpgrp(_: &Args) -> KResult<usize> {
    Ok(current().pid() as usize)
}

pub fn sys_getsid(a: &Args) -> KResult<usize> {
    own(a[0]).map_err(|_| Errno::ESRCH)?;
    Ok(current().pid() as usize)
}

pub fn sys_setpgid(a: &Args) -> KResult<usize> {
    if (a[1] as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    own(a[0]).map_err(|_| Errno::ESRCH)?;
    Err(Errno::EPERM)
}

pub fn sys_setsid(_: &Args) -> KResult<usize> {
    Err(Errno::EPERM)
}

/// The raw call returns 20 - nice (1..=40) so that it is never negative; libc converts.
pub fn sys_getpriority(a: &Args) -> KResult<usize> {
    let p = current();
    let nice = p.info.getpriority(p.pid(), a[0] as i32, a[1] as i32)?;
    Ok((20 - nice) as usize)
}

pub fn sys_setpriority(a: &Args) -> KResult<usize> {
    let p = current();
    p.info
        .setpriority(p.pid(), a[0] as i32, a[1] as i32, a[2] as i32)
        .map(|_| 0)
}

/// The (min, max) static priority of a policy; EINVAL for an unknown one.
fn prio_range(policy: i32) -> KResult<(i32, i32)> {
    match policy {
        SCHED_FIFO | SCHED_RR => Ok((1, 99)),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE => Ok((0, 0)),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sys_sched_get_priority_max(a: &Args) -> KResult<usize> {
    Ok(prio_range(a[0] as i32)?.1 as usize)
}

pub fn sys_sched_get_priority_min(a: &Args) -> KResult<usize> {
    Ok(prio_range(a[0] as i32)?.0 as usize)
}

pub fn sys_sched_getscheduler(a: &Args) -> KResult<usize> {
    own(a[0])?;
    Ok(SCHED_OTHER as usize)
}

/// sched_rr_get_interval: the scheduler's time slice (`sched.timeslice_us`), which is
/// how long a thread runs before another runnable one takes the CPU; 0 when preemption
/// is off. Linux answers its own slice for SCHED_OTHER too.
pub fn sys_sched_rr_get_interval(a: &Args) -> KResult<usize> {
    own(a[0])?;
    let ts = uk_abi::time::Timespec::from_ns(uk_sched::timeslice_ns() as i64);
    user::write(a[1], &ts)?;
    Ok(0)
}

pub fn sys_sched_getparam(a: &Args) -> KResult<usize> {
    if a[1] == 0 {
        return Err(Errno::EINVAL);
    }
    own(a[0])?;
    user::write(a[1], &0i32)?;
    Ok(0)
}

/// SCHED_OTHER (and BATCH/IDLE) with priority 0 are accepted: they are what every
/// thread gets. Real-time policies would promise preemption that a cooperative
/// scheduler cannot give: EPERM, as for an unprivileged caller.
fn set_policy(pid: usize, policy: i32, param: usize) -> KResult<usize> {
    if param == 0 {
        return Err(Errno::EINVAL);
    }
    own(pid)?;
    let prio = user::read::<SchedParam>(param)?.sched_priority;
    let (lo, hi) = prio_range(policy & !SCHED_RESET_ON_FORK)?;
    if prio < lo || prio > hi {
        return Err(Errno::EINVAL);
    }
    if hi != 0 {
        uk_log::warn_once!("real-time scheduling policies are not supported: EPERM");
        return Err(Errno::EPERM);
    }
    Ok(0)
}

pub fn sys_sched_setscheduler(a: &Args) -> KResult<usize> {
    set_policy(a[0], a[1] as i32, a[2])
}

pub fn sys_sched_setparam(a: &Args) -> KResult<usize> {
    set_policy(a[0], SCHED_OTHER, a[1])
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_SETPGID, sys_setpgid),
    row(SYS_GETPGRP, sys_getpgrp),
    row(SYS_SETSID, sys_setsid),
    row(SYS_GETPGID, sys_getpgid),
    row(SYS_GETSID, sys_getsid),
    row(SYS_GETPRIORITY, sys_getpriority),
    row(SYS_SETPRIORITY, sys_setpriority),
    row(SYS_SCHED_SETPARAM, sys_sched_setparam),
    row(SYS_SCHED_GETPARAM, sys_sched_getparam),
    row(SYS_SCHED_RR_GET_INTERVAL, sys_sched_rr_get_interval),
    row(SYS_SCHED_SETSCHEDULER, sys_sched_setscheduler),
    row(SYS_SCHED_GETSCHEDULER, sys_sched_getscheduler),
    row(SYS_SCHED_GET_PRIORITY_MAX, sys_sched_get_priority_max),
    row(SYS_SCHED_GET_PRIORITY_MIN, sys_sched_get_priority_min),
];

#[cfg(test)]
mod tests {
    use super::*;
    use uk_abi::sysno::SYS_MMAP;

    #[test]
    fn groups_and_policies() {
        crate::table::tests::setup();
        assert_eq!(sys_getpgid(&[0; 6]), Ok(1));
        assert_eq!(sys_getsid(&[77, 0, 0, 0, 0, 0]), Err(Errno::ESRCH));
        assert_eq!(sys_setsid(&[0; 6]), Err(Errno::EPERM));
        assert_eq!(sys_sched_get_priority_max(&[1, 0, 0, 0, 0, 0]), Ok(99));
        assert_eq!(sys_sched_get_priority_min(&[0; 6]), Ok(0));
        assert_eq!(
            sys_sched_get_priority_max(&[999, 0, 0, 0, 0, 0]),
            Err(Errno::EINVAL)
        );
        assert_eq!(sys_sched_getscheduler(&[0; 6]), Ok(0));
        assert_eq!(
            sys_sched_getscheduler(&[usize::MAX, 0, 0, 0, 0, 0]),
            Err(Errno::EINVAL)
        );
        let a = crate::dispatch(SYS_MMAP, &[0, 4096, 3, 0x22, usize::MAX, 0]) as usize;
        // SAFETY: a fresh private anonymous page, used only here.
        let p = unsafe { &mut *(a as *mut [i32; 1]) };
        p[0] = 5;
        assert_eq!(
            sys_sched_setscheduler(&[0, 1, a, 0, 0, 0]),
            Err(Errno::EPERM)
        );
        assert_eq!(
            sys_sched_setscheduler(&[0, 0, a, 0, 0, 0]),
            Err(Errno::EINVAL)
        );
        p[0] = 0;
        assert_eq!(sys_sched_setscheduler(&[0, 0, a, 0, 0, 0]), Ok(0));
        assert_eq!(sys_getpriority(&[0; 6]).map(|v| v <= 40), Ok(true));
    }
}
