//! `<signal.h>`: signal numbers, sigaction flags, `si_code` values, the alternate stack
//! and the records rt_sigaction, sigaltstack and rt_sigtimedwait exchange.

use crate::assert_size;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Signals are numbered 1..=NSIG.
pub const NSIG: usize = 64;
pub const SIGHUP: usize = 1;
pub const SIGINT: usize = 2;
pub const SIGQUIT: usize = 3;
pub const SIGILL: usize = 4;
pub const SIGTRAP: usize = 5;
pub const SIGABRT: usize = 6;
pub const SIGBUS: usize = 7;
pub const SIGFPE: usize = 8;
pub const SIGKILL: usize = 9;
pub const SIGUSR1: usize = 10;
pub const SIGSEGV: usize = 11;
pub const SIGUSR2: usize = 12;
pub const SIGPIPE: usize = 13;
pub const SIGALRM: usize = 14;
pub const SIGTERM: usize = 15;
pub const SIGSTKFLT: usize = 16;
pub const SIGCHLD: usize = 17;
pub const SIGCONT: usize = 18;
pub const SIGSTOP: usize = 19;
pub const SIGTSTP: usize = 20;
pub const SIGTTIN: usize = 21;
pub const SIGTTOU: usize = 22;
pub const SIGURG: usize = 23;
pub const SIGXCPU: usize = 24;
pub const SIGXFSZ: usize = 25;
pub const SIGVTALRM: usize = 26;
pub const SIGPROF: usize = 27;
pub const SIGWINCH: usize = 28;
pub const SIGIO: usize = 29;
pub const SIGPWR: usize = 30;
pub const SIGSYS: usize = 31;
/// The first real-time signal.
pub const SIGRTMIN: usize = 32;
/// musl's thread-cancellation signal (SIGRTMIN + 1).
pub const SIGCANCEL: usize = 33;

/// Names of the standard signals, by number (index 0 is unused).
pub const SIGNAL_NAMES: [&str; 32] = [
    "0",
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// The bit of signal `sig` in a sigset (`1 << (sig - 1)`).
pub const fn sigbit(sig: usize) -> u64 {
    1 << (sig - 1)
}

/// The kernel's sigset size on x86_64 (`sigsetsize` arguments must say this).
pub const SIGSET_SIZE: usize = 8;

pub const SIG_BLOCK: u32 = 0;
pub const SIG_UNBLOCK: u32 = 1;
pub const SIG_SETMASK: u32 = 2;

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

pub const SA_NOCLDSTOP: u64 = 1;
pub const SA_NOCLDWAIT: u64 = 2;
pub const SA_SIGINFO: u64 = 4;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_QUEUE: i32 = -1;
pub const SI_TIMER: i32 = -2;
pub const SI_TKILL: i32 = -6;

/// `sigev_notify` of `struct sigevent`: send `sigev_signo` to the process.
pub const SIGEV_SIGNAL: i32 = 0;
/// No notification (the timer is only read with timer_gettime).
pub const SIGEV_NONE: i32 = 1;
/// Handled by libc with a helper thread; the kernel treats it as SIGEV_SIGNAL.
pub const SIGEV_THREAD: i32 = 2;
/// Send `sigev_signo` to the thread `sigev_notify_thread_id` (with SIGEV_SIGNAL).
pub const SIGEV_THREAD_ID: i32 = 4;
/// Largest `si_overrun` / timer_getoverrun value (Linux's DELAYTIMER_MAX, INT_MAX).
pub const DELAYTIMER_MAX: u32 = i32::MAX as u32;

/// `struct sigevent` as the kernel reads it (64 bytes): the value, the signal, how to
/// notify, then a union whose first int is the target thread of SIGEV_THREAD_ID.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Sigevent {
    pub sigev_value: u64,
    pub sigev_signo: i32,
    pub sigev_notify: i32,
    pub sigev_tid: i32,
    pub _pad: [u32; 11],
}
assert_size!(Sigevent, 64);
/// `si_code` of a SIGSEGV: no map at the address / the map forbids the access.
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
/// `si_code` of a SIGCHLD.
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;
pub const CLD_STOPPED: i32 = 5;
pub const CLD_CONTINUED: i32 = 6;

pub const SS_ONSTACK: i32 = 1;
pub const SS_DISABLE: i32 = 2;
pub const SS_AUTODISARM: i32 = 1 << 31;
pub const MINSIGSTKSZ: usize = 2048;

/// The kernel's `struct k_sigaction` (x86_64): handler, flags, restorer, mask.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct KSigaction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}
assert_size!(KSigaction, 32);

/// `stack_t` (sigaltstack).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct StackT {
    pub sp: u64,
    pub flags: i32,
    pub _pad: i32,
    pub size: u64,
}
assert_size!(StackT, 24);

/// pselect6's sixth argument: the signal mask and its size.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct SigsetArg {
    pub ss: u64,
    pub ss_len: u64,
}
assert_size!(SigsetArg, 16);

/// `siginfo_t` (128 bytes). The union after the first three words is laid out per
/// signal kind; the constructors fill the fields each kind has.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Siginfo {
    pub si_signo: i32,
    pub si_errno: i32,
    pub si_code: i32,
    pub _pad: i32,
    /// kill/rt/SIGCHLD: `si_pid`; timers: `si_tid`; faults: low half of `si_addr`.
    pub f0: u32,
    /// kill/rt/SIGCHLD: `si_uid`; timers: `si_overrun`; faults: high half of `si_addr`.
    pub f1: u32,
    /// rt and timers: `si_value`; SIGCHLD: `si_status`.
    pub f2: u64,
    /// SIGCHLD: `si_utime`.
    pub f3: u64,
    /// SIGCHLD: `si_stime`.
    pub f4: u64,
    pub _rest: [u64; 10],
}
assert_size!(Siginfo, 128);

impl Siginfo {
    /// A signal sent by a process (kill, sigqueue, tgkill) or the kernel, with the
    /// sender's pid and uid and a `si_value`.
    pub fn sent(sig: usize, code: i32, pid: i32, uid: u32, value: u64) -> Siginfo {
        Siginfo {
            si_signo: sig as i32,
            si_code: code,
            f0: pid as u32,
            f1: uid,
            f2: value,
            ..Siginfo::default()
        }
    }

    /// A SIGCHLD about `pid`, with `si_status` and CPU times in clock ticks.
    pub fn child(code: i32, pid: i32, uid: u32, status: i32, utime: u64, stime: u64) -> Siginfo {
        Siginfo {
            si_signo: SIGCHLD as i32,
            si_code: code,
            f0: pid as u32,
            f1: uid,
            f2: status as u32 as u64,
            f3: utime,
            f4: stime,
            ..Siginfo::default()
        }
    }

    /// A fault at `addr` (SIGSEGV, SIGBUS).
    pub fn fault(sig: usize, code: i32, addr: usize) -> Siginfo {
        Siginfo {
            si_signo: sig as i32,
            si_code: code,
            f0: addr as u32,
            f1: (addr >> 32) as u32,
            ..Siginfo::default()
        }
    }

    /// `si_pid` (kill, rt and SIGCHLD kinds).
    pub fn pid(&self) -> i32 {
        self.f0 as i32
    }

    /// `si_addr` (fault kinds).
    pub fn addr(&self) -> usize {
        self.f0 as usize | (self.f1 as usize) << 32
    }
}

/// Offsets in `ucontext_t` (x86_64), in 8-byte words: what a signal handler's third
/// argument holds.
/// `mcontext_t` (x86_64's `struct sigcontext`): the registers of an interrupted
/// context as a signal handler sees them in `uc_mcontext`, and as the host kernel saves
/// them in its own signal frames (linuxu) — 256 bytes.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Mcontext {
    /// Indexed by [`reg`].
    pub gregs: [u64; 23],
    /// Address of the FPU state (`struct _fpstate`: an FXSAVE image, XSAVE beyond it).
    pub fpregs: u64,
    pub reserved: [u64; 8],
}
assert_size!(Mcontext, 256);

/// Indices into [`Mcontext::gregs`] (`REG_*` of `<sys/ucontext.h>`).
pub mod reg {
    pub const R8: usize = 0;
    pub const R9: usize = 1;
    pub const R10: usize = 2;
    pub const R11: usize = 3;
    pub const R12: usize = 4;
    pub const R13: usize = 5;
    pub const R14: usize = 6;
    pub const R15: usize = 7;
    pub const RDI: usize = 8;
    pub const RSI: usize = 9;
    pub const RBP: usize = 10;
    pub const RBX: usize = 11;
    pub const RDX: usize = 12;
    pub const RAX: usize = 13;
    pub const RCX: usize = 14;
    pub const RSP: usize = 15;
    pub const RIP: usize = 16;
    pub const EFL: usize = 17;
    pub const CSGSFS: usize = 18;
    pub const ERR: usize = 19;
    pub const TRAPNO: usize = 20;
    pub const OLDMASK: usize = 21;
    pub const CR2: usize = 22;
}

pub mod ucontext {
    /// The whole `ucontext_t` with its FPU save area, in words.
    pub const WORDS: usize = 117;
    /// `uc_stack.ss_sp`, `.ss_flags`, `.ss_size`.
    pub const STACK_SP: usize = 2;
    pub const STACK_FLAGS: usize = 3;
    pub const STACK_SIZE: usize = 4;
    /// `uc_mcontext.gregs` starts at word 5 (23 registers), then `fpregs`.
    pub const GREGS: usize = 5;
    pub const FPREGS_PTR: usize = GREGS + 23;
    /// `uc_sigmask`.
    pub const SIGMASK: usize = 37;
    /// The FPU save area (`__fpregs_mem`) that `fpregs` points at.
    pub const FPREGS_MEM: usize = 53;
}
