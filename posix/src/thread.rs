//! Program threads: clone(2) in its thread flavour, thread exit, and what musl tells
//! the kernel about a thread (TLS base, clear-child-tid address, robust list).
//!
//! A program thread is a lib/sched thread running on the stack musl allocated for it.
//! fork-style clones (without CLONE_VM|CLONE_THREAD) need a second address space and
//! are ENOSYS.

use uk_abi::sched::{
    CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_NEWNS, CLONE_PARENT_SETTID, CLONE_PIDFD,
    CLONE_PTRACE, CLONE_SETTLS, CLONE_SIGHAND, CLONE_THREAD, CLONE_VFORK, CLONE_VM,
};

use crate::{user, Errno, KResult};
use alloc::boxed::Box;
use litemap::LiteMap;

/// The main thread's id (equal to the pid).
pub const MAIN_TID: i32 = 1;

/// Per-thread facts the POSIX layer keeps, by tid.
#[derive(Clone, Copy, Debug, Default)]
struct PerThread {
    clear_child_tid: usize,
    robust_list: usize,
}

static THREADS: spin::Mutex<LiteMap<i32, PerThread>> = spin::Mutex::new(LiteMap::new());

/// The running thread's id.
pub fn current_tid() -> i32 {
    uk_sched::current_tid()
}

/// Number of threads (for sysinfo's `procs`).
pub fn count() -> usize {
    uk_sched::thread_count()
}

/// set_tid_address(2).
pub fn set_clear_child_tid(addr: usize) -> i32 {
    let tid = current_tid();
    THREADS.lock().entry(tid).or_default().clear_child_tid = addr;
    tid
}

/// set_robust_list(2): remember the head (the kernel walks it only when a thread dies
/// holding robust mutexes, which in one process means the process is ending).
pub fn set_robust_list(head: usize) {
    let tid = current_tid();
    THREADS.lock().entry(tid).or_default().robust_list = head;
}

pub fn robust_list(tid: i32) -> KResult<usize> {
    if tid != 0 && uk_sched::thread(tid).is_none() {
        return Err(Errno::ESRCH);
    }
    let tid = if tid == 0 { current_tid() } else { tid };
    Ok(THREADS.lock().get(&tid).map(|t| t.robust_list).unwrap_or(0))
}

/// arch_prctl(ARCH_SET_FS): remember and load the thread pointer.
pub fn set_fs(base: usize) {
    uk_sched::set_tls(&uk_sched::current(), base);
}

/// arch_prctl(ARCH_GET_FS).
pub fn fs() -> usize {
    uk_sched::current().tls()
}

struct Start {
    func: usize,
    arg: usize,
}

/// Calls the program's `int (*func)(void *)` with `arg` (musl's thread start routine,
/// or posix_spawn's child function), as program code, and returns what it returned.
///
/// # Safety
/// `func` must be the address of a function of that type, as the program gave it to
/// clone.
pub(crate) unsafe fn call_program(func: usize, arg: usize) -> i32 {
    // SAFETY: per the contract.
    let f: extern "C" fn(usize) -> i32 =
        unsafe { core::mem::transmute::<usize, extern "C" fn(usize) -> i32>(func) };
    uk_plat::cpu::leave();
    let code = f(arg);
    uk_plat::cpu::enter();
    code
}

extern "C" fn start(p: usize) -> ! {
    // SAFETY: `p` is the Box<Start> leaked by `clone` for this thread only.
    let s = unsafe { Box::from_raw(p as *mut Start) };
    let (func, arg) = (s.func, s.arg);
    drop(s);
    // SAFETY: musl passed `func` as `int (*)(void *)` to __clone.
    exit_thread(unsafe { call_program(func, arg) })
}

/// clone(2) for threads: start `func(arg)` on `stack` with the given TLS.
#[allow(clippy::too_many_arguments)]
pub fn clone(
    func: usize,
    stack: usize,
    flags: u64,
    arg: usize,
    ptid: usize,
    tls: usize,
    ctid: usize,
) -> KResult<i32> {
    let need = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND;
    if flags & need != need {
        uk_log::warn_once!(
            "clone without CLONE_VM|CLONE_THREAD (a new process) is not supported: ENOSYS"
        );
        return Err(Errno::ENOSYS);
    }
    if flags & (CLONE_VFORK | CLONE_NEWNS | CLONE_PIDFD | CLONE_PTRACE) != 0 {
        return Err(Errno::EINVAL);
    }
    if func == 0 || stack == 0 {
        return Err(Errno::EINVAL);
    }
    // The stack must be program memory: a bad one would make the new thread fault
    // inside the kernel's first switch.
    user::check(stack.saturating_sub(256), 256, true)?;
    if flags & CLONE_PARENT_SETTID != 0 {
        user::check(ptid, 4, true)?;
    }
    if flags & (CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID) != 0 {
        user::check(ctid, 4, true)?;
    }
    let tls = if flags & CLONE_SETTLS != 0 { tls } else { fs() };
    let boxed = Box::into_raw(Box::new(Start { func, arg })) as usize;
    let Some(t) = uk_sched::spawn(start, boxed, Some(stack & !15), tls) else {
        // SAFETY: the thread was not created, so the box is still ours.
        drop(unsafe { Box::from_raw(boxed as *mut Start) });
        return Err(Errno::EAGAIN);
    };
    let tid = t.tid;
    // The new thread belongs to the caller's process, and starts with the caller's
    // signal mask (it has not run yet: it is only queued).
    let proc = crate::process::current_arc();
    proc.signals.on_clone(tid);
    crate::process::adopt(&t, &proc);
    if flags & CLONE_PARENT_SETTID != 0 {
        user::write(ptid, &tid)?;
    }
    if flags & CLONE_CHILD_SETTID != 0 {
        user::write(ctid, &tid)?;
    }
    let mut pt = PerThread::default();
    if flags & CLONE_CHILD_CLEARTID != 0 {
        pt.clear_child_tid = ctid;
    }
    THREADS.lock().insert(tid, pt);
    Ok(tid)
}

/// Before a thread ends: clear its tid word and wake a joiner (CLONE_CHILD_CLEARTID).
fn thread_exit_cleanup() {
    let tid = current_tid();
    let pt = THREADS.lock().remove(&tid).unwrap_or_default();
    if pt.clear_child_tid != 0 && user::write(pt.clear_child_tid, &0i32).is_ok() {
        let _ = crate::futex::wake(pt.clear_child_tid, 1, u32::MAX);
    }
}

/// The running thread ends with its process (exit_group, a fatal signal, execve):
/// forget what this module kept for it. Its clear-child-tid word is not written: the
/// memory it is in goes away with the process.
pub fn forget_current() {
    THREADS.lock().remove(&current_tid());
}

/// exit(2): end the calling thread; the last thread's exit ends the image.
pub fn exit_thread(code: i32) -> ! {
    if count() == 1 {
        before_image_exit();
    }
    thread_exit_cleanup();
    uk_sched::exit_current(code & 0xff)
}

/// musl's __unmapself: end the calling (detached) thread and free its stack, which
/// it is still running on: the scheduler unmaps it after switching away.
pub fn exit_and_unmap(base: usize, size: usize) -> ! {
    thread_exit_cleanup();
    uk_sched::exit_current_unmapping(0, Some((base, size)))
}

/// exit_group(2).
pub fn exit_group(code: i32) -> ! {
    before_image_exit();
    uk_plat::get().exit(code & 0xff)
}

/// The image is about to stop: let the network deliver what the program sent (at most
/// one second, as a lingering close would).
fn before_image_exit() {
    #[cfg(feature = "net")]
    uk_net::drain(1_000_000_000);
}

/// The scheduler's hook to unmap a detached thread's stack.
/// The scheduler's hook to unmap a detached thread's stack, in the exited thread's
/// process (`owner` is its scheduler owner word, 0 for the first process).
pub(crate) fn unmap_hook(owner: usize, addr: usize, len: usize) {
    let _ = crate::process::of_owner(owner).mm.munmap(addr, len);
}
