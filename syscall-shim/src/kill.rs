//! kill(2), tkill(2), tgkill(2), rt_sigqueueinfo(2), rt_tgsigqueueinfo(2):
//! https://man7.org/linux/man-pages/man2/kill.2.html

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::signal::Siginfo;
use uk_abi::sysno::{SYS_KILL, SYS_RT_SIGQUEUEINFO, SYS_RT_TGSIGQUEUEINFO, SYS_TGKILL, SYS_TKILL};
use uk_posix::process::current;
use uk_posix::signal::{Queued, Target};
use uk_posix::user;

/// The sender's `siginfo_t` as the queued signal keeps it (si_code, si_pid, si_value);
/// the signal number comes from the call, as on Linux.
fn queued_from(sig: usize, addr: usize) -> KResult<Queued> {
    let info: Siginfo = user::read(addr)?;
    Ok(Queued {
        sig,
        code: info.si_code,
        pid: info.pid(),
        value: info.f2,
        timer: None,
    })
}

fn sig_arg(a: usize) -> KResult<usize> {
    let s = a as i32;
    if !(0..=uk_abi::signal::NSIG as i32).contains(&s) {
        return Err(Errno::EINVAL);
    }
    Ok(s as usize)
}

/// rt_sigqueueinfo(2) (musl's sigqueue): to the process only.
pub fn sys_rt_sigqueueinfo(a: &Args) -> KResult<usize> {
    let sig = sig_arg(a[1])?;
    let q = queued_from(sig, a[2])?;
    if a[0] as i32 != current().pid() {
        return Err(Errno::ESRCH);
    }
    if sig == 0 {
        return Ok(0);
    }
    current().signals.post(Target::Process, q).map(|_| 0)
}

/// rt_tgsigqueueinfo(2): to one thread of the process.
pub fn sys_rt_tgsigqueueinfo(a: &Args) -> KResult<usize> {
    let sig = sig_arg(a[2])?;
    let q = queued_from(sig, a[3])?;
    let (tgid, tid) = (a[0] as i32, a[1] as i32);
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    if tgid != current().pid() || uk_sched::thread(tid).is_none() {
        return Err(Errno::ESRCH);
    }
    if sig == 0 {
        return Ok(0);
    }
    current().signals.post(Target::Thread(tid), q).map(|_| 0)
}

pub fn sys_kill(a: &Args) -> KResult<usize> {
    current()
        .signals
        .kill(a[0] as i32, a[1] as i32 as u32 as usize)
        .map(|_| 0)
}

pub fn sys_tkill(a: &Args) -> KResult<usize> {
    current()
        .signals
        .tkill(a[0] as i32, a[1] as i32 as u32 as usize)
        .map(|_| 0)
}

pub fn sys_tgkill(a: &Args) -> KResult<usize> {
    current()
        .signals
        .tgkill(a[0] as i32, a[1] as i32, a[2] as i32 as u32 as usize)
        .map(|_| 0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_KILL, sys_kill).shows(&[Arg::Int, Arg::Sig]),
    row(SYS_RT_SIGQUEUEINFO, sys_rt_sigqueueinfo),
    row(SYS_TKILL, sys_tkill).shows(&[Arg::Int, Arg::Sig]),
    row(SYS_TGKILL, sys_tgkill).shows(&[Arg::Int, Arg::Int, Arg::Sig]),
    row(SYS_RT_TGSIGQUEUEINFO, sys_rt_tgsigqueueinfo),
];
