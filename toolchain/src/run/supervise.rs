//! Supervising what `ukport run` starts (an image, QEMU): signals sent to ukport are
//! passed on to it, it dies with ukport, and its exit status becomes ukport's. A helper
//! process that must outlive nothing (passt) is watched and stopped through
//! [`Companion`], so this module knows no particular helper.

use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

/// `si_code` of a signal the terminal driver raised for the whole foreground group.
const SI_KERNEL: i32 = 0x80;

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
    fn sigaction(sig: i32, act: *const SigAction, old: *mut SigAction) -> i32;
}

/// glibc's `struct sigaction` on x86_64 (handler, 1024-bit mask, flags, restorer).
#[repr(C)]
struct SigAction {
    handler: usize,
    mask: [u64; 16],
    flags: i32,
    restorer: usize,
}

const SA_SIGINFO: i32 = 4;
const SA_RESTART: i32 = 0x1000_0000;

/// The last signal to pass on to the image (0: none). One slot is enough: the loop
/// that forwards it runs every few milliseconds, and a repeated signal means the same.
static PENDING: AtomicI32 = AtomicI32::new(0);
/// The last signal caught at all, including a terminal's Ctrl-C that the image got by
/// itself (0: none): tells a run that ended on a signal from one that failed.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// The signal to pass on to the image, if one arrived since the last call (0: none).
pub fn take_pending_signal() -> i32 {
    PENDING.swap(0, Ordering::SeqCst)
}

/// The last signal ukport caught since [`catch_signals`] (0: none).
pub fn received_signal() -> i32 {
    RECEIVED.load(Ordering::SeqCst)
}

extern "C" fn on_signal(sig: i32, info: *const i32, _ctx: *const u8) {
    // A terminal's Ctrl-C (SI_KERNEL) already went to the image, which shares our
    // foreground process group; only signals sent to ukport alone are passed on.
    // siginfo_t starts with si_signo, si_errno, si_code (three ints).
    let code = if info.is_null() {
        0
    } else {
        // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t, whose third
        // int is si_code.
        unsafe { *info.add(2) }
    };
    RECEIVED.store(sig, Ordering::SeqCst);
    if code != SI_KERNEL {
        PENDING.store(sig, Ordering::SeqCst);
    }
}

/// Sends `sig` to process `pid` (one we started).
pub fn send_signal(pid: u32, sig: i32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    if pid <= 0 {
        return;
    }
    // SAFETY: kill(2) with a positive PID of a child we spawned and have not yet reaped
    // (so the PID cannot have been reused); no memory is involved.
    unsafe {
        kill(pid, sig);
    }
}

/// Catches SIGINT, SIGTERM and SIGHUP in ukport so they can be forwarded to the image
/// (or QEMU) instead of killing ukport, which must still stop passt or QEMU afterwards.
pub fn catch_signals() -> Result<()> {
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        let act = SigAction {
            handler: on_signal as extern "C" fn(i32, *const i32, *const u8) as usize,
            mask: [0; 16],
            flags: SA_SIGINFO | SA_RESTART,
            restorer: 0,
        };
        // SAFETY: `act` is a valid glibc x86_64 `struct sigaction` (repr(C), same field
        // order and sizes); the handler only stores to an atomic (async-signal-safe).
        // Caught signals are reset to their default in children at exec.
        let r = unsafe { sigaction(sig, &act, std::ptr::null_mut()) };
        if r != 0 {
            bail!(
                "cannot install a handler for signal {sig}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// The shell-style exit code of a finished process: its status, or 128 + the signal
/// that ended it.
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => 1,
    }
}

/// If ukport dies without forwarding a signal (SIGKILL, a crash), the child started
/// from `cmd` (an image, QEMU, passt) is killed by the kernel: SIGKILL, since nothing
/// is left to wait for a graceful stop, and a program that ignores or is too busy for
/// SIGTERM must not outlive ukport. (Signals ukport itself catches are forwarded
/// instead, so `kill -TERM` of ukport still stops the program through its handler.)
/// A child that changes its credentials loses this (passt, when started as root, drops
/// to `nobody`): such a helper needs its own way to end (passt: `--one-off`).
pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: the closure runs in the child between fork and exec and only makes the
    // async-signal-safe prctl and getppid system calls.
    unsafe {
        let parent = libc::getpid();
        std::os::unix::process::CommandExt::pre_exec(cmd, move || {
            const PR_SET_PDEATHSIG: libc::c_int = 1;
            if libc::prctl(PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // ukport died between fork and prctl: the signal would never come.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// A helper process that runs beside the image (passt) and is stopped after it.
pub trait Companion {
    /// `Some(warning)` when the helper has stopped on its own (asked about once).
    fn lost(&mut self) -> Option<String>;
    /// Stops the helper.
    fn stop(&mut self);
}

/// Runs `cmd` (the image) in the foreground with the console on this terminal,
/// forwarding SIGTERM/SIGHUP (and a SIGINT not raised by the terminal) to it, until it
/// exits; then stops the `companion`. Returns the image's exit code.
pub fn supervise(mut cmd: Command, mut companion: Option<&mut dyn Companion>) -> Result<i32> {
    die_with_parent(&mut cmd);
    catch_signals()?;
    let mut child = cmd.spawn().context("cannot start the image")?;
    let mut warned = false;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        let sig = take_pending_signal();
        if sig != 0 {
            send_signal(child.id(), sig);
        }
        if let Some(c) = companion.as_mut().filter(|_| !warned) {
            if let Some(w) = c.lost() {
                eprintln!("ukport: warning: {w}");
                warned = true;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if let Some(c) = companion {
        c.stop();
    }
    Ok(exit_code(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(SIGTERM)), 143);
    }
}
