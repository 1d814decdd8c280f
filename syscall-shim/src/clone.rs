//! clone(2) as musl's thread layer calls it, thread exit, and the thread bookkeeping
//! calls: https://man7.org/linux/man-pages/man2/clone.2.html
//!
//! musl's `__clone` assembly is replaced by a jump to [`__uk_clone`] (same C
//! signature), and its `__unmapself` by [`__uk_unmapself`].

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::sched::{CLONE_THREAD, CLONE_VFORK, CLONE_VM, CSIGNAL};
use uk_abi::sysno::{
    SYS_CLONE, SYS_EXIT, SYS_EXIT_GROUP, SYS_GETCPU, SYS_GET_ROBUST_LIST, SYS_SCHED_GETAFFINITY,
    SYS_SCHED_SETAFFINITY, SYS_SCHED_YIELD, SYS_SET_ROBUST_LIST, SYS_SET_TID_ADDRESS,
};
use uk_posix::lifecycle;
use uk_posix::process::current;
use uk_posix::{thread, user};

/// `int __clone(int (*fn)(void *), void *stack, int flags, void *arg, pid_t *ptid,
/// void *tls, pid_t *ctid)`: the new thread's id, or -errno.
#[no_mangle]
pub extern "C" fn __uk_clone(
    f: usize,
    stack: usize,
    flags: i32,
    arg: usize,
    ptid: usize,
    tls: usize,
    ctid: usize,
) -> i32 {
    uk_plat::cpu::enter();
    let fl = flags as u32 as u64;
    let r = if fl & (CLONE_VM | CLONE_VFORK | CLONE_THREAD) == CLONE_VM | CLONE_VFORK {
        // A process that borrows the caller's memory until it execs (posix_spawn).
        lifecycle::clone_vfork(f, stack, arg, (fl & CSIGNAL) as usize)
    } else if fl & (CLONE_VM | CLONE_THREAD | CLONE_VFORK) == 0 && fl & !CSIGNAL == 0 {
        // A new process with a copy of the caller's memory (fork), running f(arg) on
        // `stack` there.
        lifecycle::fork(
            lifecycle::ForkStart::Call {
                func: f,
                arg,
                stack,
            },
            (fl & CSIGNAL) as usize,
        )
    } else {
        thread::clone(f, stack, fl, arg, ptid, tls, ctid)
    };
    if crate::trace::enabled() {
        let raw = match r {
            Ok(t) => t as isize,
            Err(e) => e.as_neg(),
        };
        crate::trace::print(SYS_CLONE, &[f, stack, flags as usize, arg, ptid, tls], raw);
    }
    let r = match r {
        Ok(tid) => tid,
        Err(e) => e.as_neg() as i32,
    };
    uk_plat::cpu::leave();
    r
}

/// `void __unmapself(void *base, size_t size)`: a detached thread frees its own stack
/// and ends.
#[no_mangle]
pub extern "C" fn __uk_unmapself(base: usize, size: usize) -> ! {
    uk_plat::cpu::enter();
    thread::exit_and_unmap(base, size)
}

/// clone(2) through syscall(): the raw call has no function pointer (the child would
/// return from the call on a new stack), which a library-OS cannot express: ENOSYS.
pub fn sys_clone(_a: &Args) -> KResult<usize> {
    uk_log::warn_once!("raw clone() without musl's thread entry is not supported: ENOSYS");
    Err(Errno::ENOSYS)
}

/// exit(2): the thread ends; the last thread of a process other than the first ends
/// the process (the image's last thread ends the image, as before).
pub fn sys_exit(a: &Args) -> KResult<usize> {
    if !lifecycle::caller_is_init() && lifecycle::threads_of_caller() == 1 {
        lifecycle::exit_process(lifecycle::exited(a[0] as i32))
    }
    thread::exit_thread(a[0] as i32)
}

/// exit_group(2): the first process's end ends the image; another process becomes a
/// zombie for its parent to reap.
pub fn sys_exit_group(a: &Args) -> KResult<usize> {
    if lifecycle::caller_is_init() {
        thread::exit_group(a[0] as i32)
    }
    lifecycle::exit_process(lifecycle::exited(a[0] as i32))
}

pub fn sys_set_tid_address(a: &Args) -> KResult<usize> {
    Ok(thread::set_clear_child_tid(a[0]) as usize)
}

pub fn sys_set_robust_list(a: &Args) -> KResult<usize> {
    if a[1] != 24 {
        return Err(Errno::EINVAL);
    }
    thread::set_robust_list(a[0]);
    Ok(0)
}

pub fn sys_get_robust_list(a: &Args) -> KResult<usize> {
    let head = thread::robust_list(a[0] as i32)?;
    user::write(a[1], &head)?;
    user::write(a[2], &24usize)?;
    Ok(0)
}

pub fn sys_sched_yield(_: &Args) -> KResult<usize> {
    uk_sched::yield_now();
    Ok(0)
}

fn check_pid(pid: usize) -> KResult<()> {
    let pid = pid as i32;
    if pid == 0 || pid == current().pid() || uk_sched::thread(pid).is_some() {
        Ok(())
    } else {
        Err(Errno::ESRCH)
    }
}

/// One CPU: the mask has bit 0. Returns the bytes written, as the raw call does.
pub fn sys_sched_getaffinity(a: &Args) -> KResult<usize> {
    check_pid(a[0])?;
    let len = a[1];
    if len < 8 || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    user::write(a[2], &1u64)?;
    Ok(8)
}

pub fn sys_sched_setaffinity(a: &Args) -> KResult<usize> {
    check_pid(a[0])?;
    if a[1] == 0 {
        return Err(Errno::EINVAL);
    }
    let first: u8 = user::read(a[2])?;
    if first & 1 == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

pub fn sys_getcpu(a: &Args) -> KResult<usize> {
    if a[0] != 0 {
        user::write(a[0], &0u32)?;
    }
    if a[1] != 0 {
        user::write(a[1], &0u32)?;
    }
    Ok(0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_SCHED_YIELD, sys_sched_yield),
    row(SYS_CLONE, sys_clone),
    row(SYS_EXIT, sys_exit).shows(&[Arg::Int]),
    row(SYS_SCHED_SETAFFINITY, sys_sched_setaffinity),
    row(SYS_SCHED_GETAFFINITY, sys_sched_getaffinity),
    row(SYS_SET_TID_ADDRESS, sys_set_tid_address).shows(&[Arg::Hex]),
    row(SYS_EXIT_GROUP, sys_exit_group).shows(&[Arg::Int]),
    row(SYS_SET_ROBUST_LIST, sys_set_robust_list),
    row(SYS_GET_ROBUST_LIST, sys_get_robust_list),
    row(SYS_GETCPU, sys_getcpu),
];
