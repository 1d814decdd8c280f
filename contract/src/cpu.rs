//! Who has the CPU: ukit's kernel or the program (docs/runtime.md, "Preemption").
//!
//! Program code and kernel code share one address space, and a program thread runs
//! kernel code on its own stack (a system call is a function call), so nothing in the
//! machine says which of the two runs. The kernel says it: [`enter`] when it is called
//! (a system call, a thread's first instructions), [`leave`] when it hands the CPU back
//! to program code. The platform's preemption timer and the signals that reach the image
//! from outside look at it ([`in_kernel`]):
//!
//! - program code is interrupted at once: the platform saves its whole register and
//!   FPU state and runs [`preempted`] on the same thread's stack, which may switch to
//!   another thread or run the program's signal handlers before the platform resumes
//!   the interrupted instructions exactly as they were;
//! - kernel code, which may hold locks or be half way through a switch, is left alone:
//!   the platform only calls [`request`], and the work is done when the kernel next
//!   leaves ([`leave`] runs the [`PREEMPT`] hook first).
//!
//! One CPU: the interrupt runs on the interrupted thread itself, so plain atomics with
//! compiler fences order the flag against the code around it.

use crate::Hook;
use core::sync::atomic::{compiler_fence, AtomicBool, Ordering};
use uk_abi::signal::Mcontext;

/// Kernel code runs (boot starts in the kernel).
static KERNEL: AtomicBool = AtomicBool::new(true);
/// A preemption or an outside signal arrived while kernel code ran.
static PENDING: AtomicBool = AtomicBool::new(false);

/// What the kernel does at a preemption point, given the interrupted program context
/// when there is one (a timer or signal interrupt) and `None` at [`leave`]: take the
/// signals that arrived from outside, let other runnable threads run, deliver the
/// program's pending signals. Set at boot by the layer that knows threads and signals.
pub static PREEMPT: Hook<fn(Option<&mut Mcontext>)> = Hook::new();

/// Whether a synchronous fault (SIGSEGV, SIGBUS) in the running program code ends
/// only its process (true: not the image's first process) or the image. Set at boot
/// by the layer that knows processes; without it every fault ends the image.
pub static FAULT_ENDS_PROCESS: Hook<fn() -> bool> = Hook::new();

/// Ends the running process with signal `sig` as its wait status (as on Linux) and
/// runs another thread; never returns. The platform calls it, on a stack of its own
/// (the faulting one may be the one that overflowed), only after
/// [`FAULT_ENDS_PROCESS`] said so for a fault in program code.
pub static FAULT: Hook<fn(usize) -> !> = Hook::new();

/// A write to a page whose write permission the kernel withholds for copy-on-write
/// after a fork (docs/processes.md, "Copy-on-write"): the layer that knows address
/// spaces gives the writer its own copy of the page, makes it writable and returns
/// true; false when the page is not one of those (a real fault). Called by the
/// platform's fault handler for write faults of program and kernel code alike (the
/// kernel writes program memory too); it must take no lock a faulting kernel path may
/// hold, so it gives up (false) rather than wait.
pub static WRITE_FAULT: Hook<fn(usize) -> bool> = Hook::new();

/// For the platform, in its fault handler: a write at `addr` faulted on a present
/// page. True when the access can simply be repeated ([`WRITE_FAULT`]).
pub fn write_fault(addr: usize) -> bool {
    WRITE_FAULT.get().is_some_and(|f| f(addr))
}

/// For the platform, in its fault handler: true when a fault of program code ends
/// only the running process (then it continues at [`program_fault`]).
pub fn fault_ends_process() -> bool {
    !in_kernel() && FAULT.get().is_some() && FAULT_ENDS_PROCESS.get().is_some_and(|f| f())
}

/// For the platform: program code faulted with `sig` and [`fault_ends_process`]
/// said yes; runs on the platform's fault stack.
pub fn program_fault(sig: usize) -> ! {
    enter();
    match FAULT.get() {
        Some(f) => f(sig),
        None => unreachable!("fault_ends_process checked the hook"),
    }
}

/// True while kernel code runs.
#[inline]
pub fn in_kernel() -> bool {
    compiler_fence(Ordering::SeqCst);
    KERNEL.load(Ordering::Relaxed)
}

/// The kernel starts running (a system call, or any other way in from program code).
#[inline]
pub fn enter() {
    KERNEL.store(true, Ordering::Relaxed);
    compiler_fence(Ordering::SeqCst);
}

/// The kernel hands the CPU back to program code. Work requested meanwhile
/// ([`request`]) is done first, in the kernel; a request that arrives after the flag is
/// down finds program code and preempts it directly, so none is lost.
#[inline]
pub fn leave() {
    loop {
        compiler_fence(Ordering::SeqCst);
        KERNEL.store(false, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        if !PENDING.load(Ordering::Relaxed) {
            return;
        }
        KERNEL.store(true, Ordering::Relaxed);
        PENDING.store(false, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        run_hook(None);
    }
}

/// For the platform's interrupt: kernel code was interrupted, so ask for the work at
/// the next [`leave`].
#[inline]
pub fn request() {
    PENDING.store(true, Ordering::Relaxed);
}

/// For the platform: program code was interrupted (timer or outside signal) and its
/// context `mc` is saved; run the kernel's preemption work now, on the interrupted
/// thread's stack, then return to the platform, which resumes `mc` (handlers the
/// program runs here may change it, as they may on Linux).
pub fn preempted(mc: &mut Mcontext) {
    enter();
    PENDING.store(false, Ordering::Relaxed);
    run_hook(Some(mc));
    leave();
}

fn run_hook(mc: Option<&mut Mcontext>) {
    if let Some(f) = PREEMPT.get() {
        f(mc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::AtomicUsize;

    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static WITH_CONTEXT: AtomicUsize = AtomicUsize::new(0);

    fn hook(mc: Option<&mut Mcontext>) {
        CALLS.fetch_add(1, Ordering::SeqCst);
        assert!(in_kernel(), "the hook runs as kernel code");
        if let Some(mc) = mc {
            WITH_CONTEXT.fetch_add(1, Ordering::SeqCst);
            mc.gregs[uk_abi::signal::reg::RAX] = 7;
        }
    }

    /// One test: the flags are process-wide.
    #[test]
    fn requests_wait_for_the_kernel_to_leave() {
        PREEMPT.set(hook);
        assert!(in_kernel(), "boot starts in the kernel");
        leave();
        assert!(!in_kernel());
        assert_eq!(CALLS.load(Ordering::SeqCst), 0, "nothing was requested");
        enter();
        request();
        request();
        assert_eq!(
            CALLS.load(Ordering::SeqCst),
            0,
            "never while the kernel runs"
        );
        leave();
        assert_eq!(CALLS.load(Ordering::SeqCst), 1, "once, at leave");
        assert!(!in_kernel());
        let mut mc = Mcontext::default();
        preempted(&mut mc);
        assert_eq!(CALLS.load(Ordering::SeqCst), 2);
        assert_eq!(WITH_CONTEXT.load(Ordering::SeqCst), 1);
        assert_eq!(
            mc.gregs[uk_abi::signal::reg::RAX],
            7,
            "the hook may edit the context"
        );
        assert!(!in_kernel(), "back to the program");
        enter();
    }
}
