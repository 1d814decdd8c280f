//! Supervising what `ukport run` starts (an image, QEMU): signals sent to ukport are
//! passed on to it, it dies with ukport, and its exit status becomes ukport's. A helper
//! process that must outlive nothing (passt) is watched and stopped through
//! [`Companion`], so this module knows no particular helper.
//!
//! A *targeted* signal, for one process inside the image rather than its first, is
//! host signal [`TARGETED_SIGNAL`] (40) queued with the value `pid << 8 | sig`
//! ([`targeted_value`]; `ukport kill` sends it). A running `ukport run` passes it on
//! the same way: to a linuxu image as that same queued signal, to a VM as a frame on
//! the control line (qemu.rs).

use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

/// The host signal that carries a signal for one process of the image (the kernel's
/// own constant, `uk_abi::ctl`).
pub const TARGETED_SIGNAL: i32 = uk_abi::ctl::TARGETED_SIGNAL as i32;

/// `si_code` of a signal the terminal driver raised for the whole foreground group.
const SI_KERNEL: i32 = 0x80;
/// `si_code` of a signal sent with sigqueue (it carries a value).
const SI_QUEUE: i32 = -1;

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
/// Targeted signals to pass on: each slot 0 (free) or `1 << 32 | value`. A few, so that
/// several sent in a burst (between two rounds of the forwarding loop) all get through.
static TARGETED: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];

/// The signal to pass on to the image, if one arrived since the last call (0: none).
pub fn take_pending_signal() -> i32 {
    PENDING.swap(0, Ordering::SeqCst)
}

/// The last signal ukport caught since [`catch_signals`] (0: none).
pub fn received_signal() -> i32 {
    RECEIVED.load(Ordering::SeqCst)
}

/// The targeted signals that arrived since the last call, taken: their values
/// (`pid << 8 | sig`).
pub fn take_targeted() -> Vec<u32> {
    TARGETED
        .iter()
        .filter_map(|s| {
            let v = s.swap(0, Ordering::SeqCst);
            (v != 0).then_some(v as u32)
        })
        .collect()
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
    if sig == TARGETED_SIGNAL {
        // Only a queued one carries a value; a plain `kill -40` means nothing (as for
        // a linuxu image). Not a stop request: RECEIVED is left alone.
        if code == SI_QUEUE {
            // SAFETY: for SI_QUEUE the siginfo holds si_pid and si_uid at ints 4 and
            // 5 and then si_value, whose low 32 bits are int 6.
            let v = unsafe { *info.add(6) } as u32;
            // A full set of slots drops it, as the image drops a flood of them.
            let _ = TARGETED.iter().any(|s| {
                s.compare_exchange(
                    0,
                    1 << 32 | u64::from(v),
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_ok()
            });
        }
        return;
    }
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

/// Queues [`TARGETED_SIGNAL`] with `value` (`pid << 8 | sig`) to process `pid`: an
/// image we started, or (`ukport kill`) a `ukport run`. The error is the host's.
pub fn send_targeted(pid: u32, value: u32) -> std::io::Result<()> {
    let pid = i32::try_from(pid)
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ESRCH))?;
    let val = libc::sigval {
        sival_ptr: value as usize as *mut libc::c_void,
    };
    // SAFETY: sigqueue(3) with a positive PID; the value is a plain number, no memory.
    if unsafe { libc::sigqueue(pid, TARGETED_SIGNAL, val) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The value of a targeted signal: `pid << 8 | sig`, for a pid inside the image
/// (1..=0xff_ffff, what 32 bits leave) and a signal 1..=64.
pub fn targeted_value(pid: u32, sig: i32) -> Result<u32> {
    if !(1..=0xff_ffff).contains(&pid) {
        bail!("pid {pid} is out of range (1 to {})", 0xff_ffff);
    }
    if !(1..=64).contains(&sig) {
        bail!("signal {sig} is out of range (1 to 64)");
    }
    Ok(pid << 8 | sig as u32)
}

/// A signal given by name or number: `KILL`, `SIGKILL`, `kill`, `9`, `RTMIN+2`.
pub fn parse_signal(s: &str) -> Result<i32> {
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    const RTMIN: i32 = 34;
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        bail!("signal {n} is out of range (1 to 64)");
    }
    let up = t.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let alias = match name {
        "IOT" => Some(6),
        "CLD" => Some(17),
        "POLL" => Some(29),
        "RTMIN" => Some(RTMIN),
        "RTMAX" => Some(64),
        _ => None,
    };
    let rt = || {
        let (base, off) = if let Some(o) = name.strip_prefix("RTMIN+") {
            (RTMIN, o.parse::<i32>().ok()?)
        } else {
            (64, -name.strip_prefix("RTMAX-")?.parse::<i32>().ok()?)
        };
        Some(base + off).filter(|n| (RTMIN..=64).contains(n))
    };
    NAMES
        .iter()
        .position(|&n| n == name)
        .map(|i| i as i32 + 1)
        .or(alias)
        .or_else(rt)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "unknown signal `{s}`: give a name such as TERM, KILL, HUP, USR1, \
                 RTMIN+1, or a number from 1 to 64"
            )
        })
}

/// Catches SIGINT, SIGTERM and SIGHUP in ukport so they can be forwarded to the image
/// (or QEMU) instead of killing ukport, which must still stop passt or QEMU afterwards;
/// and [`TARGETED_SIGNAL`], passed on as what it is (see [`take_targeted`]).
pub fn catch_signals() -> Result<()> {
    for sig in [SIGINT, SIGTERM, SIGHUP, TARGETED_SIGNAL] {
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

/// Passes the targeted signals that arrived on to `pid` (a child we started and have
/// not reaped: an image, or the `ukport run` of a background instance), as the same
/// queued signal.
pub fn forward_targeted(pid: u32) {
    for v in take_targeted() {
        if let Err(e) = send_targeted(pid, v) {
            eprintln!("ukport: cannot pass on the signal for pid {}: {e}", v >> 8);
        }
    }
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
        forward_targeted(child.id());
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

    #[test]
    fn signals_by_name_or_number() {
        for s in ["KILL", "SIGKILL", "kill", "SigKill", "9", " 9 "] {
            assert_eq!(parse_signal(s).unwrap(), SIGKILL, "{s}");
        }
        assert_eq!(parse_signal("TERM").unwrap(), SIGTERM);
        assert_eq!(parse_signal("HUP").unwrap(), SIGHUP);
        assert_eq!(parse_signal("USR1").unwrap(), 10);
        assert_eq!(parse_signal("SYS").unwrap(), 31);
        assert_eq!(parse_signal("SIGCHLD").unwrap(), 17);
        assert_eq!(parse_signal("IOT").unwrap(), 6);
        assert_eq!(parse_signal("RTMIN").unwrap(), 34);
        assert_eq!(parse_signal("RTMIN+2").unwrap(), 36);
        assert_eq!(parse_signal("SIGRTMAX-1").unwrap(), 63);
        assert_eq!(parse_signal("64").unwrap(), 64);
        for bad in [
            "", "FOO", "SIG", "0", "65", "-9", "RTMIN+31", "RTMAX-31", "9x",
        ] {
            let e = parse_signal(bad).unwrap_err().to_string();
            assert!(e.contains("signal"), "{bad}: {e}");
        }
        assert!(parse_signal("FOO")
            .unwrap_err()
            .to_string()
            .contains("unknown signal `FOO`"));
    }

    #[test]
    fn targeted_values_pack_pid_and_signal() {
        assert_eq!(targeted_value(3, 9).unwrap(), 3 << 8 | 9);
        assert_eq!(targeted_value(0xff_ffff, 64).unwrap(), 0xffff_ff40);
        assert!(targeted_value(0, 9).is_err());
        assert!(targeted_value(0x100_0000, 9).is_err());
        assert!(targeted_value(3, 0).is_err());
        assert!(targeted_value(3, 65).is_err());
    }

    #[test]
    fn a_queued_targeted_signal_is_caught_and_taken() {
        catch_signals().unwrap();
        let me = std::process::id();
        send_targeted(me, 5 << 8 | 9).unwrap();
        send_targeted(me, 6 << 8 | 15).unwrap();
        // Delivered to some thread of this process before sigqueue returns, or soon.
        let mut got = Vec::new();
        for _ in 0..100 {
            got.extend(take_targeted());
            if got.len() == 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        got.sort();
        assert_eq!(got, [5 << 8 | 9, 6 << 8 | 15]);
        // It is not a stop request.
        assert_eq!(take_pending_signal(), 0);
    }
}
