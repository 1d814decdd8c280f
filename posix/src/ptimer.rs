//! POSIX per-process timers (timer_create, timer_settime, timer_gettime,
//! timer_getoverrun, timer_delete) on lib/sched's one-shot timers.
//!
//! Each timer counts one clock (REALTIME, MONOTONIC, BOOTTIME, or the process's CPU
//! time) and on expiry sends a signal to the process or to one thread
//! (SIGEV_THREAD_ID: how musl runs SIGEV_THREAD timers, with a helper thread waiting
//! in sigwaitinfo), or nothing (SIGEV_NONE). A timer has at most one signal pending:
//! expirations while it waits, and periods missed while the program was busy, become
//! its overrun count (`signal::TimerSignal`), as on Linux.
//!
//! Wall-clock deadlines become monotonic ones when armed (no clock_settime moves the
//! wall clock under them). A CPU-time timer is a wall timer at the earliest possible
//! expiry that re-checks its clock and re-arms, as the interval timers do
//! (`crate::itimer`). Timers fire from the scheduler, which a preemption reaches
//! within one time slice even when the program never makes a system call
//! (docs/runtime.md, "Preemption").

use uk_abi::signal::{
    Sigevent, NSIG, SIGALRM, SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD_ID, SI_TIMER,
};
use uk_abi::time::{
    CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
    CLOCK_REALTIME, CLOCK_REALTIME_ALARM, TIMER_ABSTIME,
};

use crate::signal::{Queued, SignalState, Target, TimerSignal};
use crate::time::ItimerNs;
use crate::time::{clock_ns, cpu_ns};
use crate::{Errno, KResult};
use alloc::sync::{Arc, Weak};
use core::sync::atomic::{AtomicUsize, Ordering};
use litemap::LiteMap;

/// Timers one process may hold (Linux bounds them by RLIMIT_SIGPENDING; this is a
/// fixed bound of the same size as Linux's default).
pub const MAX_TIMERS: usize = 63_000;

/// Where an expiry goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Notify {
    None,
    Signal { sig: usize, value: u64, to: Target },
}

struct State {
    /// Next expiry on the timer's own clock (monotonic, or CPU time); 0: disarmed.
    deadline: u64,
    interval: u64,
    /// The scheduler timer armed for `deadline`.
    sched: Option<u64>,
}

/// One timer.
pub struct Ptimer {
    /// Its id in the process (`timer_t` as the kernel gives it, and `si_tid`).
    id: i32,
    /// Its key in [`REGISTRY`] (the word the scheduler's callback carries).
    key: usize,
    cpu_clock: bool,
    /// The clock a TIMER_ABSTIME value is read on.
    clock: i32,
    notify: Notify,
    state: spin::Mutex<State>,
    signals: Weak<SignalState>,
}

/// Live timers by key: the scheduler's callback finds its timer through one word.
static REGISTRY: spin::Mutex<LiteMap<usize, Weak<Ptimer>>> = spin::Mutex::new(LiteMap::new());
static NEXT_KEY: AtomicUsize = AtomicUsize::new(1);

fn now_mono() -> u64 {
    uk_plat::get().monotonic_ns()
}

impl Ptimer {
    /// The current time on the timer's base clock (what `deadline` is measured on).
    fn base_now(&self) -> u64 {
        if self.cpu_clock {
            cpu_ns()
        } else {
            now_mono()
        }
    }

    fn current(&self, s: &State) -> ItimerNs {
        ItimerNs {
            interval: s.interval,
            value: if s.deadline == 0 {
                0
            } else {
                // Due but not yet fired still reads as armed.
                s.deadline.saturating_sub(self.base_now()).max(1)
            },
        }
    }

    /// Arm the scheduler timer for `s.deadline` (already set, non-zero).
    fn arm(&self, s: &mut State) {
        // CPU time never runs faster than wall time: its earliest expiry.
        let at = now_mono().saturating_add(s.deadline.saturating_sub(self.base_now()));
        s.sched = Some(uk_sched::add_timer(at, fired, self.key));
    }

    /// timer_settime(2): returns the old setting. `new.value` 0 disarms; with
    /// TIMER_ABSTIME it is a time on the timer's clock, else relative. Other flag bits
    /// are ignored, as Linux ignores them.
    pub fn settime(&self, flags: u32, new: ItimerNs) -> KResult<ItimerNs> {
        let base = self.base_now();
        let deadline = if new.value == 0 {
            0
        } else if flags & TIMER_ABSTIME != 0 {
            let now_clock = clock_ns(self.clock)?;
            let rel = (new.value as i64).saturating_sub(now_clock).max(0) as u64;
            base.saturating_add(rel).max(1)
        } else {
            base.saturating_add(new.value)
        };
        let (old, cancel) = {
            let mut s = self.state.lock();
            let old = self.current(&s);
            let cancel = s.sched.take();
            s.deadline = deadline;
            s.interval = if deadline == 0 { 0 } else { new.interval };
            if deadline != 0 {
                self.arm(&mut s);
            }
            (old, cancel)
        };
        if let Some(c) = cancel {
            uk_sched::cancel_timer(c);
        }
        // A signal of the previous setting still pending is dropped, as Linux (6.13 and
        // later) drops it on delivery: it belongs to a setting that no longer exists.
        if let Some(signals) = self.signals.upgrade() {
            signals.forget_timer(self.id);
        }
        Ok(old)
    }

    /// timer_gettime(2): time to the next expiry and the interval.
    pub fn gettime(&self) -> ItimerNs {
        self.current(&self.state.lock())
    }

    /// The scheduler timer fired: send the signal if the clock reached the expiry, and
    /// re-arm (the interval, or a CPU clock that has not caught up yet).
    fn expire(&self) {
        let missed = {
            let mut s = self.state.lock();
            s.sched = None;
            if s.deadline == 0 {
                return;
            }
            let now = self.base_now();
            if now < s.deadline {
                self.arm(&mut s);
                return;
            }
            match (now - s.deadline).checked_div(s.interval) {
                None => {
                    s.deadline = 0;
                    0
                }
                Some(missed) => {
                    s.deadline = s
                        .deadline
                        .saturating_add(missed.saturating_add(1).saturating_mul(s.interval));
                    self.arm(&mut s);
                    missed
                }
            }
        };
        let (Notify::Signal { sig, value, to }, Some(signals)) =
            (self.notify, self.signals.upgrade())
        else {
            return;
        };
        // A target thread that has exited loses the signal, as on Linux.
        let _ = signals.post(
            to,
            Queued {
                sig,
                code: SI_TIMER,
                pid: 0,
                value,
                timer: Some(TimerSignal {
                    id: self.id,
                    overrun: missed.min(uk_abi::signal::DELAYTIMER_MAX as u64) as u32,
                }),
            },
        );
    }
}

impl Drop for Ptimer {
    fn drop(&mut self) {
        if let Some(c) = self.state.get_mut().sched.take() {
            uk_sched::cancel_timer(c);
        }
        REGISTRY.lock().remove(&self.key);
    }
}

/// The scheduler's callback for the timer registered under `key`.
fn fired(key: usize) {
    let t = REGISTRY.lock().get(&key).and_then(|w| w.upgrade());
    if let Some(t) = t {
        t.expire();
    }
}

/// A process's POSIX timers.
pub struct Ptimers {
    timers: spin::Mutex<LiteMap<i32, Arc<Ptimer>>>,
    signals: Arc<SignalState>,
}

impl Ptimers {
    /// No timers; their signals go to `signals`.
    pub fn new(signals: Arc<SignalState>) -> Self {
        Ptimers {
            timers: spin::Mutex::new(LiteMap::new()),
            signals,
        }
    }

    /// timer_create(2): a disarmed timer on `clock` notifying as `ev` says (None:
    /// SIGALRM with the timer's id as value). `thread_exists` tells whether a tid is a
    /// thread of this process (SIGEV_THREAD_ID). Returns the new timer's id.
    pub fn create(
        &self,
        clock: i32,
        ev: Option<&Sigevent>,
        thread_exists: impl Fn(i32) -> bool,
    ) -> KResult<i32> {
        let cpu_clock = match clock {
            CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME => false,
            CLOCK_PROCESS_CPUTIME_ID => true,
            // Waking a suspended machine needs CAP_WAKE_ALARM, which no process has.
            CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM => return Err(Errno::EPERM),
            // Per-thread CPU clocks and the rest: not timers here.
            _ => return Err(Errno::EINVAL),
        };
        let mut timers = self.timers.lock();
        if timers.len() >= MAX_TIMERS {
            return Err(Errno::EAGAIN);
        }
        // The lowest free id, as Linux hands them out for a new process.
        let id = (0..)
            .find(|i| !timers.contains_key(i))
            .expect("fewer than MAX_TIMERS in use");
        let notify = match ev {
            None => Notify::Signal {
                sig: SIGALRM,
                value: id as u64,
                to: Target::Process,
            },
            Some(ev) => {
                let sig = ev.sigev_signo;
                let valid_sig = (1..=NSIG as i32).contains(&sig);
                match ev.sigev_notify {
                    SIGEV_NONE => Notify::None,
                    SIGEV_SIGNAL | SIGEV_THREAD if valid_sig => Notify::Signal {
                        sig: sig as usize,
                        value: ev.sigev_value,
                        to: Target::Process,
                    },
                    n if n == SIGEV_SIGNAL | SIGEV_THREAD_ID
                        && valid_sig
                        && thread_exists(ev.sigev_tid) =>
                    {
                        Notify::Signal {
                            sig: sig as usize,
                            value: ev.sigev_value,
                            to: Target::Thread(ev.sigev_tid),
                        }
                    }
                    _ => return Err(Errno::EINVAL),
                }
            }
        };
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        let t = Arc::new(Ptimer {
            id,
            key,
            cpu_clock,
            clock,
            notify,
            state: spin::Mutex::new(State {
                deadline: 0,
                interval: 0,
                sched: None,
            }),
            signals: Arc::downgrade(&self.signals),
        });
        REGISTRY.lock().insert(key, Arc::downgrade(&t));
        timers.insert(id, t);
        Ok(id)
    }

    /// The timer `id` (EINVAL when there is none, as Linux answers).
    pub fn get(&self, id: i32) -> KResult<Arc<Ptimer>> {
        self.timers.lock().get(&id).cloned().ok_or(Errno::EINVAL)
    }

    /// timer_getoverrun(2).
    pub fn overrun(&self, id: i32) -> KResult<u32> {
        self.get(id)?;
        Ok(self.signals.timer_overrun(id))
    }

    /// timer_delete(2): disarm and forget the timer, and drop its pending signal.
    pub fn delete(&self, id: i32) -> KResult<()> {
        let t = self.timers.lock().remove(&id).ok_or(Errno::EINVAL)?;
        if let Some(c) = t.state.lock().sched.take() {
            uk_sched::cancel_timer(c);
        }
        self.signals.forget_timer(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(notify: i32, signo: i32, tid: i32) -> Sigevent {
        Sigevent {
            sigev_value: 77,
            sigev_signo: signo,
            sigev_notify: notify,
            sigev_tid: tid,
            ..Sigevent::default()
        }
    }

    #[test]
    fn create_set_get_delete() {
        crate::testplat::setup();
        let _g = crate::testplat::serial();
        let p = Ptimers::new(Arc::new(SignalState::new(99)));
        let none = |_| false;
        assert_eq!(p.create(CLOCK_MONOTONIC, None, none), Ok(0));
        assert_eq!(
            p.create(CLOCK_REALTIME, Some(&ev(SIGEV_NONE, 0, 0)), none),
            Ok(1)
        );
        assert_eq!(
            p.create(CLOCK_REALTIME_ALARM, None, none),
            Err(Errno::EPERM)
        );
        assert_eq!(p.create(12345, None, none), Err(Errno::EINVAL));
        assert_eq!(
            p.create(CLOCK_MONOTONIC, Some(&ev(SIGEV_SIGNAL, 0, 0)), none),
            Err(Errno::EINVAL),
            "signal 0"
        );
        assert_eq!(
            p.create(
                CLOCK_MONOTONIC,
                Some(&ev(SIGEV_THREAD_ID | SIGEV_SIGNAL, 10, 7)),
                none
            ),
            Err(Errno::EINVAL),
            "no such thread"
        );
        assert_eq!(
            p.create(CLOCK_MONOTONIC, Some(&ev(9, 10, 0)), none),
            Err(Errno::EINVAL)
        );
        let t = p.get(1).unwrap();
        assert_eq!(t.gettime(), ItimerNs::default());
        let old = t
            .settime(
                0,
                ItimerNs {
                    interval: 5_000_000,
                    value: 10_000_000_000,
                },
            )
            .unwrap();
        assert_eq!(old, ItimerNs::default());
        let now = t.gettime();
        assert_eq!(now.interval, 5_000_000);
        assert!(now.value > 9_000_000_000 && now.value <= 10_000_000_000);
        t.settime(0, ItimerNs::default()).unwrap();
        assert_eq!(t.gettime(), ItimerNs::default());
        assert_eq!(p.overrun(1), Ok(0));
        assert_eq!(p.delete(1), Ok(()));
        assert_eq!(p.delete(1), Err(Errno::EINVAL));
        assert_eq!(p.overrun(1), Err(Errno::EINVAL));
        // The freed id is given again.
        assert_eq!(p.create(CLOCK_BOOTTIME, None, none), Ok(1));
    }

    #[test]
    fn pending_signal_counts_overruns() {
        crate::testplat::setup();
        let _g = crate::testplat::serial();
        let s = Arc::new(SignalState::new(99));
        let q = |overrun| Queued {
            sig: 40,
            code: SI_TIMER,
            pid: 0,
            value: 5,
            timer: Some(TimerSignal { id: 3, overrun }),
        };
        // Block the signal so that it stays pending.
        s.sigprocmask(uk_abi::signal::SIG_BLOCK, Some(1 << 39))
            .unwrap();
        s.post(Target::Process, q(0)).unwrap();
        s.post(Target::Process, q(2)).unwrap();
        assert_eq!(s.sigpending() & (1 << 39), 1 << 39);
        let got = s.sigtimedwait(1 << 39, Some(0)).unwrap();
        // One instance: the second expiry and its two missed periods are overruns.
        assert_eq!(got.timer, Some(TimerSignal { id: 3, overrun: 3 }));
        assert_eq!(got.siginfo().f0, 3, "si_tid");
        assert_eq!(got.siginfo().f1, 3, "si_overrun");
        assert_eq!(got.siginfo().f2, 5, "si_value");
        assert_eq!(s.timer_overrun(3), 3);
        assert_eq!(s.sigtimedwait(1 << 39, Some(0)), Err(Errno::EAGAIN));
        // Deleting a timer drops its pending signal.
        s.post(Target::Process, q(0)).unwrap();
        s.forget_timer(3);
        assert_eq!(s.sigpending() & (1 << 39), 0);
        assert_eq!(s.timer_overrun(3), 0);
    }
}
