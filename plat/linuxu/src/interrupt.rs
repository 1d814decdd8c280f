//! Host signals are this platform's interrupts: the preemption timer (`setitimer`,
//! SIGALRM) and the signals sent to the image from outside (SIGTERM, SIGINT, ...).
//!
//! The handler runs on the interrupted thread's own stack (no `SA_ONSTACK`), where the
//! host has saved the interrupted registers and FPU state in its signal frame.
//!
//! - Kernel code was interrupted (`uk_plat::cpu::in_kernel`): it may hold locks, so the
//!   handler only records the signal and asks for the work at the kernel's exit
//!   (`cpu::request`); the idle `ppoll` returns with EINTR.
//! - Program code was interrupted: the handler points the frame's saved instruction
//!   pointer at [`uk_linuxu_preempt_entry`] and returns. The host's `rt_sigreturn` then
//!   "resumes" into that entry, on the same stack just below the frame, with the
//!   program's registers saved in the frame: an ordinary kernel context, no longer a
//!   signal handler, where the kernel may switch threads and run the program's signal
//!   handlers (`cpu::preempted`). When it is done the entry puts the original
//!   instruction pointer back and calls `rt_sigreturn` on the very same frame, and the
//!   host restores every register, the FPU/AVX state, the flags and the signal mask
//!   exactly as they were.
//!
//! The handler writes what the entry needs (the original RIP, RSP, RDI, flags and the
//! context's address) into the frame's `siginfo`, which `rt_sigreturn` never reads.

use crate::host::{self, nr};
use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};
use uk_abi::signal::{reg, Mcontext};
use uk_abi::signal::{
    SA_RESTART, SA_RESTORER, SA_SIGINFO, SIGALRM, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1,
    SIGUSR2, SIGWINCH,
};

/// Host signals that arrived and are not yet taken by the kernel (bit n-1 = signal n).
static HOST_SIGNALS: AtomicU64 = AtomicU64::new(0);
/// A targeted signal from outside not yet taken: bit 63 set, `pid << 8 | sig` below.
static TARGETED: AtomicU64 = AtomicU64::new(0);
/// The monotonic deadline the host timer is armed for (0: not armed).
static ARMED: AtomicU64 = AtomicU64::new(0);

/// Signals from outside that the program should see as its own: termination requests,
/// hang-up, the user signals, window size changes.
pub const FORWARDED_SIGNALS: [usize; 7] =
    [SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH];

/// The outside signals that arrived since the last call, taken.
pub fn take_signals() -> u64 {
    if HOST_SIGNALS.load(Ordering::Relaxed) == 0 {
        return 0;
    }
    HOST_SIGNALS.swap(0, Ordering::Relaxed)
}

/// The targeted signal that arrived (host signal [`uk_plat::TARGETED_SIGNAL`] queued
/// with the value `pid << 8 | sig`), taken: (pid, sig).
pub fn take_targeted() -> Option<(i32, usize)> {
    let v = TARGETED.swap(0, Ordering::Relaxed);
    (v >> 63 != 0).then_some((((v >> 8) & 0x7fff_ffff) as i32, (v & 0xff) as usize))
}

/// Whether outside signals wait to be taken (a host call interrupted by one returns
/// EINTR to the kernel instead of being retried).
pub fn signals_waiting() -> bool {
    HOST_SIGNALS.load(Ordering::Relaxed) != 0
}

/// `Platform::set_preempt_timer`: one host `setitimer(ITIMER_REAL)`, skipped when the
/// timer is already due no later than `deadline`.
pub fn set_timer(deadline: Option<u64>, now: impl FnOnce() -> u64) {
    let Some(d) = deadline else {
        return; // an armed timer fires once for nothing: cheaper than a host call
    };
    let armed = ARMED.load(Ordering::Relaxed);
    if armed != 0 && armed <= d {
        return;
    }
    // At least 10 µs: a zero value would disarm the timer.
    let rel = d.saturating_sub(now()).max(10_000);
    let us = rel / 1000;
    let it = uk_abi::time::Itimerval {
        it_interval: uk_abi::time::Timeval::default(),
        it_value: uk_abi::time::Timeval {
            tv_sec: (us / 1_000_000) as i64,
            tv_usec: (us % 1_000_000) as i64,
        },
    };
    ARMED.store(d, Ordering::Relaxed);
    host::call(
        nr::SYS_SETITIMER,
        [
            uk_abi::time::ITIMER_REAL,
            &it as *const _ as usize,
            0,
            0,
            0,
            0,
        ],
    );
}

// The preemption entry: RDI holds the frame's siginfo (see `on_interrupt`); the stack
// lies below the host's signal frame. Rust does the work and returns the address of
// the frame's ucontext, which is where `rt_sigreturn` wants the stack pointer (the
// host reads the frame at RSP - 8, as after a handler's `ret`).
global_asm!(
    ".text",
    ".global uk_linuxu_preempt_entry",
    ".type uk_linuxu_preempt_entry,@function",
    "uk_linuxu_preempt_entry:",
    "and rsp, -16",
    "call {preempted}",
    "mov rsp, rax",
    // The platform's one rt_sigreturn (host.rs): no other `syscall` instruction.
    "jmp uk_linuxu_sigreturn",
    ".size uk_linuxu_preempt_entry, .-uk_linuxu_preempt_entry",
    preempted = sym preempted,
);

extern "C" {
    fn uk_linuxu_preempt_entry();
}

/// Words the handler leaves in the frame's siginfo for the entry.
const SAVED_RIP: usize = 0;
const SAVED_RSP: usize = 1;
const SAVED_RDI: usize = 2;
const SAVED_EFL: usize = 3;
const SAVED_UC: usize = 4;

/// Offset of `uc_mcontext` in the host's `ucontext_t`.
const MCONTEXT: usize = 40;
/// RFLAGS' direction flag: the ABI wants it clear when Rust code runs.
const DF: u64 = 1 << 10;

/// Rust side of [`uk_linuxu_preempt_entry`]: put the program's context back into the
/// frame, let the kernel do its preemption work on it, return the ucontext's address.
extern "C" fn preempted(info: *mut u64) -> usize {
    // SAFETY: `on_interrupt` passed the siginfo of a live host signal frame on this
    // stack (above us) and left these words in it; the frame is ours until the
    // `rt_sigreturn` that consumes it.
    let (saved, uc) = unsafe {
        let s = core::slice::from_raw_parts(info, 5);
        (
            [s[SAVED_RIP], s[SAVED_RSP], s[SAVED_RDI], s[SAVED_EFL]],
            s[SAVED_UC] as usize,
        )
    };
    // SAFETY: `uc` is that frame's ucontext; its mcontext is 256 bytes at offset 40.
    let mc = unsafe { &mut *((uc + MCONTEXT) as *mut Mcontext) };
    mc.gregs[reg::RIP] = saved[0];
    mc.gregs[reg::RSP] = saved[1];
    mc.gregs[reg::RDI] = saved[2];
    mc.gregs[reg::EFL] = saved[3];
    uk_plat::cpu::preempted(mc);
    uc
}

/// The host signal handler for SIGALRM (the preemption timer) and the forwarded
/// signals.
extern "C" fn on_interrupt(sig: i32, info: *mut u64, uc: *mut u8) {
    if sig == SIGALRM as i32 {
        ARMED.store(0, Ordering::Relaxed);
    } else if sig == uk_plat::TARGETED_SIGNAL as i32 {
        // SAFETY: the host's siginfo for this frame: si_code at byte 8, and for a
        // sigqueue (SI_QUEUE, -1) the value's low 32 bits at byte 24.
        let (code, value) = unsafe { (*(info as *const i32).add(2), *(info as *const u32).add(6)) };
        if code == -1 {
            TARGETED.store(1 << 63 | u64::from(value), Ordering::Relaxed);
            HOST_SIGNALS.fetch_or(1 << (sig - 1), Ordering::Relaxed);
        }
    } else if (1..=64).contains(&sig) {
        HOST_SIGNALS.fetch_or(1 << (sig - 1), Ordering::Relaxed);
    }
    if uk_plat::cpu::in_kernel() {
        uk_plat::cpu::request();
        return;
    }
    // SAFETY: the host passes its frame's ucontext and siginfo; both are ours to edit
    // until this handler returns (the siginfo is not read back by rt_sigreturn).
    unsafe {
        let mc = &mut *(uc.add(MCONTEXT) as *mut Mcontext);
        let s = core::slice::from_raw_parts_mut(info, 5);
        s[SAVED_RIP] = mc.gregs[reg::RIP];
        s[SAVED_RSP] = mc.gregs[reg::RSP];
        s[SAVED_RDI] = mc.gregs[reg::RDI];
        s[SAVED_EFL] = mc.gregs[reg::EFL];
        s[SAVED_UC] = uc as u64;
        // Resume below the frame (uc - 8 is its start), away from the red zone the
        // program may use below its own stack pointer.
        mc.gregs[reg::RIP] = uk_linuxu_preempt_entry as *const () as u64;
        mc.gregs[reg::RSP] = ((uc as u64 - 8) & !15) - 16;
        mc.gregs[reg::RDI] = info as u64;
        mc.gregs[reg::EFL] &= !DF;
    }
}

/// Install the handler (boot, before the host-call filter closes).
pub fn install() {
    let act = [
        on_interrupt as *const () as usize,
        (SA_SIGINFO | SA_RESTORER) as usize,
        host::uk_linuxu_sigreturn as *const () as usize,
        0,
    ];
    for sig in FORWARDED_SIGNALS
        .into_iter()
        .chain([uk_plat::TARGETED_SIGNAL])
    {
        host::call(
            nr::SYS_RT_SIGACTION,
            [sig, act.as_ptr() as usize, 0, 8, 0, 0],
        );
    }
    // The timer restarts the host calls it interrupts (hostfs reads, console writes);
    // the idle ppoll is never restarted, it returns to the scheduler.
    let timer = [act[0], act[1] | SA_RESTART as usize, act[2], 0];
    host::call(
        nr::SYS_RT_SIGACTION,
        [SIGALRM, timer.as_ptr() as usize, 0, 8, 0, 0],
    );
}
