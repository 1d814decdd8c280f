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

use crate::signal::{Queued, SignalState, Target};
use crate::{Errno, KResult};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Copy, Debug, Default)]
struct Itimer {
    /// lib/sched timer id while armed.
    timer: Option<u64>,
    /// Expiry on this timer's own clock (ns); 0 when disarmed.
    deadline: u64,
    interval: u64,
}

/// A process's three interval timers.
pub struct Itimers {
    timers: spin::Mutex<[Itimer; 3]>,
    /// Earliest monotonic time at which an armed sched timer of ours is due (0: none):
    /// the syscall exit path checks it so that timers fire even when nothing blocks.
    earliest: AtomicU64,
    /// Monotonic time at which each armed timer's sched timer fires.
    mono_at: spin::Mutex<[u64; 3]>,
    /// Where the timers' signals go: the process's signal state.
    signals: Arc<SignalState>,
}

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

/// The sched timer callback (see `arm`).
fn fire_word(word: usize) {
    let which = word & 3;
    // SAFETY: the word was made by `arm` from a live Itimers, whose Drop cancels every
    // armed timer: while this callback can run, the Itimers exists.
    let timers = unsafe { &*((word & !3) as *const Itimers) };
    timers.fire(which);
}

impl Drop for Itimers {
    fn drop(&mut self) {
        for t in self.timers.get_mut().iter_mut() {
            if let Some(id) = t.timer.take() {
                uk_sched::cancel_timer(id);
            }
        }
    }
}

const _: () = assert!(core::mem::align_of::<Itimers>() >= 4);

impl Itimers {
    /// Three disarmed timers whose signals go to `signals`.
    pub fn new(signals: Arc<SignalState>) -> Self {
        Itimers {
            timers: spin::Mutex::new(
                [Itimer {
                    timer: None,
                    deadline: 0,
                    interval: 0,
                }; 3],
            ),
            earliest: AtomicU64::new(0),
            mono_at: spin::Mutex::new([0; 3]),
            signals,
        }
    }

    /// True when one of our timers is due (called after every system call).
    #[inline]
    pub fn due(&self) -> bool {
        let e = self.earliest.load(Ordering::Relaxed);
        e != 0 && uk_plat::get().monotonic_ns() >= e
    }

    fn recompute_earliest(&self, t: &[Itimer; 3], mono_at: &[u64; 3]) {
        let e = (0..3)
            .filter(|i| t[*i].timer.is_some())
            .map(|i| mono_at[i])
            .min()
            .unwrap_or(0);
        self.earliest.store(e, Ordering::Relaxed);
    }

    /// Arm the sched timer of `which` for expiry `deadline` on its clock.
    fn arm(&self, t: &mut [Itimer; 3], which: usize, deadline: u64) {
        let now_clock = clock(which);
        let mono = uk_plat::get().monotonic_ns() + deadline.saturating_sub(now_clock);
        t[which].deadline = deadline;
        // The callback finds these timers through the word: their address with the
        // timer's index in the low bits (the struct is 8-aligned). Drop cancels armed
        // timers, so the address is valid whenever the callback runs.
        let word = self as *const Itimers as usize | which;
        t[which].timer = Some(uk_sched::add_timer(mono, fire_word, word));
        let mut m = self.mono_at.lock();
        m[which] = mono;
        self.recompute_earliest(t, &m);
    }

    fn disarm(&self, t: &mut [Itimer; 3], which: usize) {
        if let Some(id) = t[which].timer.take() {
            uk_sched::cancel_timer(id);
        }
        t[which].deadline = 0;
        self.recompute_earliest(t, &self.mono_at.lock());
    }

    /// The sched timer callback: send the signal if the timer's clock reached its expiry,
    /// then re-arm (interval, or a CPU clock that has not caught up yet).
    fn fire(&self, which: usize) {
        let send = {
            let mut t = self.timers.lock();
            t[which].timer = None;
            if t[which].deadline == 0 {
                self.recompute_earliest(&t, &self.mono_at.lock());
                return;
            }
            let now = clock(which);
            if now < t[which].deadline {
                let d = t[which].deadline;
                self.arm(&mut t, which, d);
                false
            } else {
                // Skip periods missed while nobody ran (Linux forwards the same way); a
                // standard signal pends once anyway.
                let late = now - t[which].deadline;
                match late.checked_div(t[which].interval) {
                    None => {
                        t[which].deadline = 0;
                        self.recompute_earliest(&t, &self.mono_at.lock());
                    }
                    Some(periods) => {
                        let next = t[which].deadline + (periods + 1) * t[which].interval;
                        self.arm(&mut t, which, next);
                    }
                }
                true
            }
        };
        if send {
            let _ = self.signals.post(
                Target::Process,
                Queued {
                    sig: signal_of(which),
                    code: SI_KERNEL,
                    pid: 0,
                    value: 0,
                    timer: None,
                },
            );
        }
    }

    /// self.getitimer(2).
    pub fn getitimer(&self, which: usize) -> KResult<Setting> {
        if which > ITIMER_PROF {
            return Err(Errno::EINVAL);
        }
        Ok(current(&self.timers.lock(), which))
    }

    /// self.setitimer(2): returns the old setting. A zero value disarms.
    pub fn setitimer(&self, which: usize, new: Setting) -> KResult<Setting> {
        if which > ITIMER_PROF {
            return Err(Errno::EINVAL);
        }
        let mut t = self.timers.lock();
        let old = current(&t, which);
        self.disarm(&mut t, which);
        let (interval, value) = new;
        t[which].interval = interval;
        if value != 0 {
            let d = clock(which).saturating_add(value);
            self.arm(&mut t, which, d);
        } else {
            t[which].interval = 0;
        }
        Ok(old)
    }

    /// self.alarm(2): arm ITIMER_REAL for `secs` seconds (0 cancels); returns the seconds that
    /// were left, rounded as Linux does (to nearest, never 0 while armed).
    pub fn alarm(&self, secs: u32) -> u32 {
        let old = self
            .setitimer(ITIMER_REAL, (0, secs as u64 * 1_000_000_000))
            .unwrap_or((0, 0));
        let (s, ns) = (old.1 / 1_000_000_000, old.1 % 1_000_000_000);
        let usec = ns / 1000;
        let rounded = if (s == 0 && ns != 0) || usec >= 500_000 {
            s + 1
        } else {
            s
        };
        rounded.min(u32::MAX as u64) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_and_alarm_rounding() {
        crate::testplat::setup();
        let _g = crate::testplat::serial();
        let it = Itimers::new(Arc::new(SignalState::new(99)));
        assert_eq!(it.getitimer(3), Err(Errno::EINVAL));
        assert_eq!(it.setitimer(7, (0, 1)), Err(Errno::EINVAL));
        // Arm 10 s with a 1 s interval; reading back gives about 10 s left.
        let old = it
            .setitimer(ITIMER_PROF, (1_000_000_000, 10_000_000_000))
            .unwrap();
        assert_eq!(old.1, 0);
        let (iv, left) = it.getitimer(ITIMER_PROF).unwrap();
        assert_eq!(iv, 1_000_000_000);
        assert!(left > 9_000_000_000 && left <= 10_000_000_000, "{left}");
        // Disarming returns the old setting and clears the interval.
        let old = it.setitimer(ITIMER_PROF, (5, 0)).unwrap();
        assert_eq!(old.0, 1_000_000_000);
        assert_eq!(it.getitimer(ITIMER_PROF).unwrap(), (0, 0));
        // alarm: the remaining seconds round to nearest (9.99 s -> 10).
        assert_eq!(it.alarm(10), 0);
        assert_eq!(it.alarm(0), 10);
        assert_eq!(it.getitimer(ITIMER_REAL).unwrap(), (0, 0));
        assert!(!it.due());
    }
}
