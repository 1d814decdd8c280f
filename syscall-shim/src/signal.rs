//! rt_sigaction(2), rt_sigprocmask(2), rt_sigpending(2), rt_sigsuspend(2),
//! rt_sigtimedwait(2), sigaltstack(2), pause(2), rt_sigreturn(2):
//! https://man7.org/linux/man-pages/man2/rt_sigaction.2.html

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::signal::Siginfo;
use uk_abi::sysno::{
    SYS_PAUSE, SYS_RT_SIGACTION, SYS_RT_SIGPENDING, SYS_RT_SIGPROCMASK, SYS_RT_SIGRETURN,
    SYS_RT_SIGSUSPEND, SYS_RT_SIGTIMEDWAIT, SYS_SIGALTSTACK,
};
use uk_posix::process::current;
use uk_posix::signal::{KSigaction, StackT};
use uk_posix::user::UserPtr;
use uk_posix::{time, user};

/// The kernel's sigset size on x86_64; any other sigsetsize argument is EINVAL.
const SIGSET: usize = 8;

pub fn sys_rt_sigaction(a: &Args) -> KResult<usize> {
    if a[3] != SIGSET {
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
    let old = current().signals.sigaction(a[0], new)?;
    if a[2] != 0 {
        user::write(a[2], &old)?;
    }
    Ok(0)
}

pub fn sys_rt_sigprocmask(a: &Args) -> KResult<usize> {
    if a[3] != SIGSET {
        return Err(Errno::EINVAL);
    }
    let set = if a[1] != 0 {
        Some(user::read::<u64>(a[1])?)
    } else {
        None
    };
    if a[2] != 0 {
        user::check(a[2], SIGSET, true)?;
    }
    let old = current().signals.sigprocmask(a[0] as u32, set)?;
    if a[2] != 0 {
        user::write(a[2], &old)?;
    }
    Ok(0)
}

pub fn sys_rt_sigpending(a: &Args) -> KResult<usize> {
    if a[1] > SIGSET {
        return Err(Errno::EINVAL);
    }
    // Linux copies exactly `sigsetsize` bytes.
    let set = current().signals.sigpending().to_le_bytes();
    user::copy_out(a[0], &set[..a[1]])?;
    Ok(0)
}

pub fn sys_rt_sigsuspend(a: &Args) -> KResult<usize> {
    if a[1] != SIGSET {
        return Err(Errno::EINVAL);
    }
    let mask: u64 = user::read(a[0])?;
    current().signals.sigsuspend(mask)
}

pub fn sys_pause(_: &Args) -> KResult<usize> {
    current().signals.pause()
}

pub fn sys_rt_sigtimedwait(a: &Args) -> KResult<usize> {
    if a[3] != SIGSET {
        return Err(Errno::EINVAL);
    }
    let set: u64 = user::read(a[0])?;
    let info = UserPtr::<Siginfo>::nonnull(a[1]);
    if let Some(p) = info {
        p.check_writable()?;
    }
    let deadline = if a[2] != 0 {
        let ns = time::timespec_to_ns(&user::read(a[2])?)?;
        Some(uk_plat::get().monotonic_ns().saturating_add(ns))
    } else {
        None
    };
    let q = current().signals.sigtimedwait(set, deadline)?;
    if let Some(p) = info {
        p.write(&q.siginfo())?;
    }
    Ok(q.sig)
}

pub fn sys_sigaltstack(a: &Args) -> KResult<usize> {
    let new = if a[0] != 0 {
        Some(user::read::<StackT>(a[0])?)
    } else {
        None
    };
    if a[1] != 0 {
        user::check(a[1], core::mem::size_of::<StackT>(), true)?;
    }
    let old = current().signals.sigaltstack(new)?;
    if a[1] != 0 {
        user::write(a[1], &old)?;
    }
    Ok(0)
}

/// Handlers are plain calls that return to the kernel, so nothing ever needs
/// rt_sigreturn; a program calling it directly has no frame to return to.
pub fn sys_rt_sigreturn(_: &Args) -> KResult<usize> {
    uk_log::warn_once!("rt_sigreturn without a signal frame (ukit handlers return normally)");
    Err(Errno::ENOSYS)
}

/// System calls Linux never restarts after a handler, whatever SA_RESTART says
/// (signal(7), "Interruption of system calls and library functions").
pub fn never_restarted(n: usize) -> bool {
    matches!(
        n,
        // poll, select, pause, nanosleep, semop, msgsnd, msgrcv
        7 | 23 | 34 | 35 | 65 | 69 | 70
        // rt_sigtimedwait, rt_sigsuspend, io_getevents, semtimedop, clock_nanosleep
            | 128 | 130 | 208 | 220 | 230
        // epoll_wait, pselect6, ppoll, epoll_pwait, epoll_pwait2
            | 232 | 270 | 271 | 281 | 441
    )
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_RT_SIGACTION, sys_rt_sigaction).shows(&[Arg::Sig, Arg::Hex, Arg::Hex, Arg::Int]),
    row(SYS_RT_SIGPROCMASK, sys_rt_sigprocmask).shows(&[Arg::Sig, Arg::Hex, Arg::Hex, Arg::Int]),
    row(SYS_RT_SIGRETURN, sys_rt_sigreturn),
    row(SYS_PAUSE, sys_pause),
    row(SYS_RT_SIGPENDING, sys_rt_sigpending),
    row(SYS_RT_SIGTIMEDWAIT, sys_rt_sigtimedwait),
    row(SYS_RT_SIGSUSPEND, sys_rt_sigsuspend),
    row(SYS_SIGALTSTACK, sys_sigaltstack),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use core::sync::atomic::{AtomicI32, Ordering};
    use uk_abi::sysno::{
        SYS_MMAP, SYS_RT_SIGACTION, SYS_RT_SIGPENDING, SYS_RT_SIGPROCMASK, SYS_TKILL,
    };
    use uk_abi::Errno;

    static GOT: AtomicI32 = AtomicI32::new(0);

    extern "C" fn handler(sig: i32) {
        GOT.store(sig, Ordering::SeqCst);
    }

    #[test]
    fn handler_runs_when_the_sending_call_returns() {
        crate::table::tests::setup();
        let _g = uk_posix::testplat::serial();
        // Program memory from mmap (the static range table is small and shared).
        let a = dispatch(SYS_MMAP, &[0, 4096, 3, 0x22, usize::MAX, 0]) as usize;
        // SAFETY: a fresh private anonymous page of 4096 bytes, used only here.
        let buf = unsafe { &mut *(a as *mut [u64; 8]) };
        // struct k_sigaction {handler, flags, restorer, mask} for SIGWINCH (28).
        buf[..4].copy_from_slice(&[handler as *const () as u64, 0, 0, 0]);
        assert_eq!(dispatch(SYS_RT_SIGACTION, &[28, a, 0, 8, 0, 0]), 0);
        assert_eq!(
            dispatch(SYS_RT_SIGACTION, &[28, a, 0, 4, 0, 0]),
            Errno::EINVAL.as_neg(),
            "sigsetsize must be 8"
        );
        // Blocked: pending, visible through rt_sigpending, handler not run.
        buf[4] = 1 << 27;
        assert_eq!(dispatch(SYS_RT_SIGPROCMASK, &[0, a + 32, 0, 8, 0, 0]), 0);
        assert_eq!(dispatch(SYS_TKILL, &[1, 28, 0, 0, 0, 0]), 0);
        assert_eq!(GOT.load(Ordering::SeqCst), 0);
        assert_eq!(dispatch(SYS_RT_SIGPENDING, &[a + 40, 8, 0, 0, 0, 0]), 0);
        assert_eq!(buf[5], 1 << 27);
        // Unblocking delivers at the end of rt_sigprocmask itself.
        assert_eq!(dispatch(SYS_RT_SIGPROCMASK, &[1, a + 32, 0, 8, 0, 0]), 0);
        assert_eq!(GOT.load(Ordering::SeqCst), 28);
        // Restore the default action for other tests.
        buf[..4].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(dispatch(SYS_RT_SIGACTION, &[28, a, 0, 8, 0, 0]), 0);
    }
}
