//! Interval timers (setitimer/getitimer/alarm) on lib/sched's one-shot timers.
//!
//! ITIMER_REAL counts monotonic time and sends SIGALRM. ITIMER_VIRTUAL and ITIMER_PROF
//! count the process's CPU time (`time::cpu_ns`: time not spent idle; there is no
//! user/system split in a unikernel, so both count the same clock) and send SIGVTALRM
//! and SIGPROF. CPU time never runs faster than wall time, so a CPU timer is a wall
//! timer at the earliest possible expiry that re-checks and re-arms itself.
//!
//! Timers fire from the scheduler (when a thread blocks or yields) or at the end of a
//! system call once due: a program that spins without system calls does not see them.

use uk_abi::signal::SI_KERNEL;
use uk_abi::time::{ITIMER_PROF, ITIMER_REAL, ITIMER_VIRTUAL};

use crate::signal::{self, Queued, Target};
use crate::{Errno, KResult};
use core::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Copy, Debug, Default)]
struct Itimer {
    /// lib/sched timer id while armed.
    timer: Option<u64>,
    /// Expiry on this timer's own clock (ns); 0 when disarmed.
    deadline: u64,
    interval: u64,
}

static TIMERS: spin::Mutex<[Itimer; 3]> = spin::Mutex::new(
    [Itimer {
        timer: None,
        deadline: 0,
        interval: 0,
    }; 3],
);

/// Earliest monotonic time at which an armed sched timer of ours is due (0: none): the
/// syscall exit path checks it so that timers fire even when nothing blocks.
static EARLIEST: AtomicU64 = AtomicU64::new(0);

fn clock(which: usize) -> u64 {
    match which {
        ITIMER_REAL => uk_plat::get().monotonic_ns(),
        _ => crate::time::cpu_ns(),
    }
}

fn signal_of(which: usize) -> usize {
    match which {
        ITIMER_REAL => uk_abi::signal::SIGALRM,
        ITIMER_VIRTUAL => uk_abi::signal::SIGVTALRM,
        _ => uk_abi::signal::SIGPROF,
    }
}

/// True when one of our timers is due (called after every system call).
#[inline]
pub fn due() -> bool {
    let e = EARLIEST.load(Ordering::Relaxed);
    e != 0 && uk_plat::get().monotonic_ns() >= e
}

fn recompute_earliest(t: &[Itimer; 3], mono_at: &[u64; 3]) {
    let e = (0..3)
        .filter(|i| t[*i].timer.is_some())
        .map(|i| mono_at[i])
        .min()
        .unwrap_or(0);
    EARLIEST.store(e, Ordering::Relaxed);
}

/// Monotonic time at which each armed timer's sched timer fires.
static MONO_AT: spin::Mutex<[u64; 3]> = spin::Mutex::new([0; 3]);

/// Arm the sched timer of `which` for expiry `deadline` on its clock.
fn arm(t: &mut [Itimer; 3], which: usize, deadline: u64) {
    let now_clock = clock(which);
    let mono = uk_plat::get().monotonic_ns() + deadline.saturating_sub(now_clock);
    t[which].deadline = deadline;
    t[which].timer = Some(uk_sched::add_timer(mono, fire, which));
    let mut m = MONO_AT.lock();
    m[which] = mono;
    recompute_earliest(t, &m);
}

fn disarm(t: &mut [Itimer; 3], which: usize) {
    if let Some(id) = t[which].timer.take() {
        uk_sched::cancel_timer(id);
    }
    t[which].deadline = 0;
    recompute_earliest(t, &MONO_AT.lock());
}

/// The sched timer callback: send the signal if the timer's clock reached its expiry,
/// then re-arm (interval, or a CPU clock that has not caught up yet).
fn fire(which: usize) {
    let send = {
        let mut t = TIMERS.lock();
        t[which].timer = None;
        if t[which].deadline == 0 {
            recompute_earliest(&t, &MONO_AT.lock());
            return;
        }
        let now = clock(which);
        if now < t[which].deadline {
            let d = t[which].deadline;
            arm(&mut t, which, d);
            false
        } else {
            // Skip periods missed while nobody ran (Linux forwards the same way); a
            // standard signal pends once anyway.
            let late = now - t[which].deadline;
            match late.checked_div(t[which].interval) {
                None => {
                    t[which].deadline = 0;
                    recompute_earliest(&t, &MONO_AT.lock());
                }
                Some(periods) => {
                    let next = t[which].deadline + (periods + 1) * t[which].interval;
                    arm(&mut t, which, next);
                }
            }
            true
        }
    };
    if send {
        let _ = signal::post(
            Target::Process,
            Queued {
                sig: signal_of(which),
                code: SI_KERNEL,
                pid: 0,
                value: 0,
            },
        );
    }
}

/// A timer's setting as (interval, value) in nanoseconds; value 0 means disarmed.
pub type Setting = (u64, u64);

fn current(t: &[Itimer; 3], which: usize) -> Setting {
    let it = t[which];
    if it.deadline == 0 {
        return (it.interval, 0);
    }
    // A due timer not yet fired still reports a tiny remaining time, never 0 (0 would
    // read as "disarmed").
    let left = it.deadline.saturating_sub(clock(which)).max(1);
    (it.interval, left)
}

/// getitimer(2).
pub fn getitimer(which: usize) -> KResult<Setting> {
    if which > ITIMER_PROF {
        return Err(Errno::EINVAL);
    }
    Ok(current(&TIMERS.lock(), which))
}

/// setitimer(2): returns the old setting. A zero value disarms.
pub fn setitimer(which: usize, new: Setting) -> KResult<Setting> {
    if which > ITIMER_PROF {
        return Err(Errno::EINVAL);
    }
    let mut t = TIMERS.lock();
    let old = current(&t, which);
    disarm(&mut t, which);
    let (interval, value) = new;
    t[which].interval = interval;
    if value != 0 {
        let d = clock(which).saturating_add(value);
        arm(&mut t, which, d);
    } else {
        t[which].interval = 0;
    }
    Ok(old)
}

/// alarm(2): arm ITIMER_REAL for `secs` seconds (0 cancels); returns the seconds that
/// were left, rounded as Linux does (to nearest, never 0 while armed).
pub fn alarm(secs: u32) -> u32 {
    let old = setitimer(ITIMER_REAL, (0, secs as u64 * 1_000_000_000)).unwrap_or((0, 0));
    let (s, ns) = (old.1 / 1_000_000_000, old.1 % 1_000_000_000);
    let usec = ns / 1000;
    let rounded = if (s == 0 && ns != 0) || usec >= 500_000 {
        s + 1
    } else {
        s
    };
    rounded.min(u32::MAX as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_and_alarm_rounding() {
        crate::testplat::setup();
        let _g = crate::testplat::serial();
        assert_eq!(getitimer(3), Err(Errno::EINVAL));
        assert_eq!(setitimer(7, (0, 1)), Err(Errno::EINVAL));
        // Arm 10 s with a 1 s interval; reading back gives about 10 s left.
        let old = setitimer(ITIMER_PROF, (1_000_000_000, 10_000_000_000)).unwrap();
        assert_eq!(old.1, 0);
        let (iv, left) = getitimer(ITIMER_PROF).unwrap();
        assert_eq!(iv, 1_000_000_000);
        assert!(left > 9_000_000_000 && left <= 10_000_000_000, "{left}");
        // Disarming returns the old setting and clears the interval.
        let old = setitimer(ITIMER_PROF, (5, 0)).unwrap();
        assert_eq!(old.0, 1_000_000_000);
        assert_eq!(getitimer(ITIMER_PROF).unwrap(), (0, 0));
        // alarm: the remaining seconds round to nearest (9.99 s -> 10).
        assert_eq!(alarm(10), 0);
        assert_eq!(alarm(0), 10);
        assert_eq!(getitimer(ITIMER_REAL).unwrap(), (0, 0));
        assert!(!due());
    }
}
