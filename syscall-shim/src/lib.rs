//! The Linux x86_64 system call ABI, served by function call.
//!
//! musl's syscall layer calls [`uk_syscall`] instead of executing `syscall`. The number
//! indexes one declarative table ([`table`], built from each family file's rows); each
//! handler is a thin raw-ABI function (registers in, pointers checked through
//! `uk_posix::user`) over a typed function in uk-posix. The sign of an errno flips in exactly one place: [`dispatch`].
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod arch_prctl;
mod clock;
mod clone;
mod dirs;
mod epoll;
mod eventfd;
mod execve;
mod fattr;
mod fcntl;
mod futex;
mod getrandom;
mod ids;
mod ioctl;
mod itimer;
mod kill;
mod links;
mod memfd;
mod mknod;
mod mman;
mod msync;
mod open;
mod pipe;
mod poll;
mod prctl;
mod prio;
mod read_write;
mod rlimit;
mod rusage;
mod select;
mod sendfile;
mod signal;
mod sleep;
mod socket;
mod space;
mod splice;
mod stat;
mod sysinfo;
mod table;
mod timer;
mod timerfd;
pub mod trace;
mod uname;
mod vfork;
mod wait;

pub use clone::{__uk_clone, __uk_unmapself};

extern "C" {
    /// The entry musl (and every program file, through its `.uk_entries` slot) calls
    /// for a system call: assembly in vfork.rs, which sends vfork to its own path and
    /// everything else to [`uk_syscall_dispatch`].
    pub fn uk_syscall(n: i64, a1: i64, a2: i64, a3: i64, a4: i64, a5: i64, a6: i64) -> i64;
}
pub use uk_abi::{Errno, KResult};

/// The six argument registers of a system call.
pub type Args = [usize; 6];

/// A raw handler: arguments in, value or errno out.
pub type Handler = fn(&Args) -> KResult<usize>;

/// Logged-once bitmap for numbers without a handler.
static LOGGED: [core::sync::atomic::AtomicU64; 8] =
    [const { core::sync::atomic::AtomicU64::new(0) }; 8];
static LOGGED_OUT_OF_RANGE: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// Log an unsupported number the first time it is seen. Returns true when it logged.
fn log_unsupported(n: usize) -> bool {
    use core::sync::atomic::Ordering;
    let first = if n < 512 {
        let bit = 1u64 << (n % 64);
        LOGGED[n / 64].fetch_or(bit, Ordering::Relaxed) & bit == 0
    } else {
        !LOGGED_OUT_OF_RANGE.swap(true, Ordering::Relaxed)
    };
    if first {
        match uk_abi::sysno::name(n) {
            Some(name) => uk_log::warn!("unsupported system call {name} ({n}): returning ENOSYS"),
            None if n < 512 => uk_log::warn!("unknown system call number {n}: returning ENOSYS"),
            None => uk_log::warn!("unknown system call number {n} (further numbers above 511 are not logged): returning ENOSYS"),
        }
    }
    first
}

/// Run system call `n`. Returns the raw Linux return value (negative errno on error).
pub fn dispatch(n: usize, a: &Args) -> isize {
    uk_plat::cpu::enter();
    let r = dispatch_in_kernel(n, a);
    // Preemption and outside signals that arrived during the call are handled here.
    uk_plat::cpu::leave();
    r
}

fn dispatch_in_kernel(n: usize, a: &Args) -> isize {
    let handler = table::TABLE.get(n).copied().flatten();
    loop {
        let r = match handler {
            Some(h) => h(a),
            None => {
                log_unsupported(n);
                Err(Errno::ENOSYS)
            }
        };
        let raw = match r {
            Ok(v) => v as isize,
            Err(e) => e.as_neg(),
        };
        if trace::enabled() {
            trace::print(n, a, raw);
        }
        // Signals are delivered when a system call returns: handlers run here, and a
        // call a signal interrupted runs again when its handler asked for SA_RESTART.
        let eintr = r == Err(Errno::EINTR);
        // Signals from outside the image (host signals on linuxu) become the program's.
        uk_posix::take_platform_signals();
        // A stopped process takes its signals once it is continued.
        uk_posix::lifecycle::park_if_stopped();
        let p = uk_posix::process::current();
        let timers = p.itimers.due();
        if eintr || timers || p.signals.work_pending() {
            if timers {
                // Expired timers fire from the scheduler: let it run them now.
                uk_sched::yield_now();
            }
            if p.signals.syscall_exit(!signal::never_restarted(n), eintr) {
                continue;
            }
        }
        // A thread whose process ended meanwhile (another thread's exit_group, a fatal
        // signal) ends here instead of going back to the program; one whose process is
        // stopped parks here until SIGCONT.
        uk_posix::lifecycle::way_out();
        return raw;
    }
}

/// The kernel's work at a preemption point (`uk_plat::cpu::PREEMPT`, set at boot): the
/// platform interrupted program code (`mc`: its context) or kernel code asked for it
/// on its way out. Signals from outside become the program's, other runnable threads
/// get the CPU (timers due meanwhile fire), and the pending signals of the thread that
/// runs on are delivered, their handlers seeing the interrupted context.
pub fn preempt(mc: Option<&mut uk_abi::signal::Mcontext>) {
    uk_plat::get().poll_devices();
    uk_posix::take_platform_signals();
    uk_sched::yield_now();
    uk_posix::lifecycle::park_if_stopped();
    let p = uk_posix::process::current();
    if p.signals.work_pending() {
        p.signals.deliver_async(mc);
    }
    uk_posix::lifecycle::way_out();
}

/// Every system call but vfork: `uk_syscall` (assembly in vfork.rs, the entry musl
/// calls) jumps here.
pub extern "C" fn uk_syscall_dispatch(
    n: i64,
    a1: i64,
    a2: i64,
    a3: i64,
    a4: i64,
    a5: i64,
    a6: i64,
) -> i64 {
    let args = [
        a1 as usize,
        a2 as usize,
        a3 as usize,
        a4 as usize,
        a5 as usize,
        a6 as usize,
    ];
    // Negative numbers (from a bad `syscall(-1)`) map past the table: ENOSYS.
    dispatch(n as usize, &args) as i64
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use uk_abi::sysno::SYS_NFSSERVCTL;

    #[test]
    fn unknown_numbers_are_enosys_and_logged_once() {
        uk_posix_test_setup();
        assert_eq!(dispatch(999, &[0; 6]), -38);
        assert_eq!(dispatch(usize::MAX, &[0; 6]), -38);
        // 335 is a gap in the table; 180 (nfsservctl) has no handler.
        assert!(log_unsupported(335));
        assert!(!log_unsupported(335));
        assert_eq!(dispatch(SYS_NFSSERVCTL, &[0; 6]), -38);
        assert!(!log_unsupported(180), "dispatch already logged it");
    }

    /// Bring up uk-posix on its test platform (shared with its own unit tests through a
    /// public helper would leak test code into the kernel; a tiny platform here instead).
    pub(crate) fn uk_posix_test_setup() {
        crate::table::tests::setup();
    }
}
