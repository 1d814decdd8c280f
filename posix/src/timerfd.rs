//! timerfd: a timer whose expirations are read from a file.
//!
//! The timer runs on the scheduler's one-shot timers (`uk_sched::add_timer`). Each
//! firing adds the expirations since the last one (more than one when the process was
//! busy past several intervals), re-arms for the next interval, and wakes readers. A
//! read returns the count as 8 bytes and resets it. CLOCK_REALTIME deadlines are turned
//! into monotonic ones when armed (a later change of the wall clock does not move them).

use uk_abi::fcntl::O_NONBLOCK;
use uk_abi::fcntl::O_RDWR;
use uk_abi::ioctl::FIONBIO;
use uk_abi::poll::{POLLIN, POLLRDNORM};
use uk_abi::time::{
    CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM, CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_REALTIME_ALARM,
};
use uk_abi::time::{TFD_CLOEXEC, TFD_NONBLOCK, TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET};

use crate::file::{File, Sink, Source, Stat};
use crate::pipe::{fionbio, set_nonblock_from};
use crate::time::clock_ns;
use crate::{Errno, KResult};
use alloc::sync::{Arc, Weak};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use litemap::LiteMap;
use uk_sched::{WaitQueue, Wake};

pub use crate::time::ItimerNs;

struct State {
    /// Monotonic deadline of the next expiration; 0: disarmed.
    deadline: u64,
    interval: u64,
    /// Expirations not yet read.
    ticks: u64,
    /// The scheduler timer that fires at `deadline`.
    timer: Option<u64>,
}

pub struct TimerFd {
    clock: i32,
    id: usize,
    state: spin::Mutex<State>,
    flags: AtomicU32,
    queue: WaitQueue,
}

/// Live timerfds by id: the scheduler's timer callback carries one word.
static REGISTRY: spin::Mutex<LiteMap<usize, Weak<TimerFd>>> = spin::Mutex::new(LiteMap::new());
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// timerfd_create(2). Clocks: REALTIME, MONOTONIC, BOOTTIME and the two _ALARM ones;
/// others EINVAL. Flags other than TFD_NONBLOCK and TFD_CLOEXEC: EINVAL.
pub fn timerfd_create(clock: i32, flags: u32) -> KResult<Arc<TimerFd>> {
    if !matches!(
        clock,
        CLOCK_REALTIME
            | CLOCK_MONOTONIC
            | CLOCK_BOOTTIME
            | CLOCK_REALTIME_ALARM
            | CLOCK_BOOTTIME_ALARM
    ) {
        return Err(Errno::EINVAL);
    }
    if flags & !(TFD_CLOEXEC | TFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let t = Arc::new(TimerFd {
        clock,
        id,
        state: spin::Mutex::new(State {
            deadline: 0,
            interval: 0,
            ticks: 0,
            timer: None,
        }),
        flags: AtomicU32::new(O_RDWR | (flags & TFD_NONBLOCK)),
        queue: WaitQueue::new(),
    });
    REGISTRY.lock().insert(id, Arc::downgrade(&t));
    Ok(t)
}

/// timerfd_create(2) into the descriptor table.
pub fn timerfd_create_fd(clock: i32, flags: u32) -> KResult<i32> {
    let t = timerfd_create(clock, flags)?;
    crate::process::current().install(t, flags & TFD_CLOEXEC != 0)
}

/// The timerfd behind `fd`: EBADF if not open, EINVAL if not a timerfd.
pub fn from_fd(fd: i32) -> KResult<Arc<dyn File>> {
    let f = crate::process::current().fds.get(fd)?;
    if f.as_any()
        .and_then(|a| a.downcast_ref::<TimerFd>())
        .is_none()
    {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

/// Downcast a file known to be a timerfd (see [`from_fd`]).
pub fn as_timerfd(f: &dyn File) -> KResult<&TimerFd> {
    f.as_any()
        .and_then(|a| a.downcast_ref::<TimerFd>())
        .ok_or(Errno::EINVAL)
}

fn now_mono() -> u64 {
    uk_plat::get().monotonic_ns()
}

/// The scheduler timer fired for timerfd `id`.
fn fired(id: usize) {
    let t = REGISTRY.lock().get(&id).and_then(|w| w.upgrade());
    let Some(t) = t else { return };
    {
        let mut s = t.state.lock();
        s.timer = None;
        if s.deadline == 0 {
            return;
        }
        let now = now_mono();
        if now < s.deadline {
            // Early (should not happen): re-arm for the rest.
            s.timer = Some(uk_sched::add_timer(s.deadline, fired, id));
            return;
        }
        if let Some(missed) = (now - s.deadline).checked_div(s.interval) {
            s.ticks = s.ticks.saturating_add(1 + missed);
            s.deadline = s
                .deadline
                .saturating_add((missed + 1).saturating_mul(s.interval));
            s.timer = Some(uk_sched::add_timer(s.deadline, fired, id));
        } else {
            s.ticks = s.ticks.saturating_add(1);
            s.deadline = 0;
        }
    }
    t.queue.notify(POLLIN);
}

impl TimerFd {
    fn nonblock(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & O_NONBLOCK != 0
    }

    fn current(s: &State) -> ItimerNs {
        ItimerNs {
            interval: s.interval,
            value: if s.deadline == 0 {
                0
            } else {
                s.deadline.saturating_sub(now_mono()).max(1)
            },
        }
    }

    /// timerfd_gettime(2): time to the next expiration and the interval.
    pub fn gettime(&self) -> ItimerNs {
        Self::current(&self.state.lock())
    }

    /// timerfd_settime(2): arm (value != 0) or disarm; returns the old setting.
    /// `new.value` is absolute in the timer's clock with TFD_TIMER_ABSTIME, else
    /// relative. Pending expirations are discarded, as on Linux.
    pub fn settime(&self, flags: u32, new: ItimerNs) -> KResult<ItimerNs> {
        if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
            return Err(Errno::EINVAL);
        }
        let deadline = if new.value == 0 {
            0
        } else if flags & TFD_TIMER_ABSTIME != 0 {
            let now_clock = clock_ns(self.clock)?;
            let rel = (new.value as i64).saturating_sub(now_clock).max(0) as u64;
            now_mono().saturating_add(rel).max(1)
        } else {
            now_mono().saturating_add(new.value)
        };
        let (old, cancel) = {
            let mut s = self.state.lock();
            let old = Self::current(&s);
            let cancel = s.timer.take();
            s.deadline = deadline;
            s.interval = if deadline == 0 { 0 } else { new.interval };
            s.ticks = 0;
            if deadline != 0 {
                s.timer = Some(uk_sched::add_timer(deadline, fired, self.id));
            }
            (old, cancel)
        };
        if let Some(c) = cancel {
            uk_sched::cancel_timer(c);
        }
        Ok(old)
    }

    /// Take the expirations (the typed read): waits while there are none.
    pub fn take(&self) -> KResult<u64> {
        loop {
            {
                let mut s = self.state.lock();
                if s.ticks > 0 {
                    let v = s.ticks;
                    s.ticks = 0;
                    return Ok(v);
                }
            }
            if self.nonblock() {
                return Err(Errno::EAGAIN);
            }
            if self.queue.wait(None) == Wake::Interrupted {
                return Err(Errno::EINTR);
            }
        }
    }
}

impl Drop for TimerFd {
    fn drop(&mut self) {
        if let Some(c) = self.state.get_mut().timer.take() {
            uk_sched::cancel_timer(c);
        }
        REGISTRY.lock().remove(&self.id);
    }
}

impl File for TimerFd {
    fn read(&self, buf: &mut dyn Sink) -> KResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let v = self.take()?;
        // As on Linux, a value taken for a buffer that turns out bad is gone.
        buf.write_at(0, &v.to_ne_bytes())?;
        Ok(8)
    }

    /// Writing is not supported (Linux: EINVAL for a timerfd).
    fn write(&self, _buf: &dyn Source) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    fn ioctl(&self, cmd: u32, arg: usize) -> KResult<usize> {
        match cmd {
            FIONBIO => fionbio(&self.flags, arg),
            _ => Err(Errno::ENOTTY),
        }
    }

    fn stat(&self) -> KResult<Stat> {
        Ok(crate::file::anon_inode_stat())
    }

    fn status_flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    fn set_status_flags(&self, flags: u32) -> KResult<()> {
        set_nonblock_from(&self.flags, flags);
        Ok(())
    }

    fn poll(&self) -> u32 {
        if self.state.lock().ticks > 0 {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }

    fn as_any(&self) -> Option<&dyn core::any::Any> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn one_shot_and_interval_expirations() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let t = timerfd_create(CLOCK_MONOTONIC, 0).unwrap();
        assert_eq!(t.gettime(), ItimerNs::default());
        let t0 = now_mono();
        t.settime(
            0,
            ItimerNs {
                interval: 0,
                value: 3 * MS,
            },
        )
        .unwrap();
        let g = t.gettime();
        assert!(g.value > 0 && g.value <= 3 * MS);
        assert_eq!(t.take(), Ok(1));
        assert!(now_mono() - t0 >= 3 * MS);
        assert_eq!(t.gettime(), ItimerNs::default(), "one-shot disarms");
        // Interval: sleep past several periods, then read them all at once.
        t.settime(
            0,
            ItimerNs {
                interval: 2 * MS,
                value: 2 * MS,
            },
        )
        .unwrap();
        let armed = now_mono();
        crate::time::sleep_until_mono(armed + 9 * MS).unwrap();
        // Four periods passed in the sleep; more if this thread woke late (a loaded
        // machine), but never more than have passed when the read returns.
        let n = t.take().unwrap();
        let passed = (now_mono() - armed) / (2 * MS) + 1;
        assert!(
            (4..=passed).contains(&n),
            "expirations {n}, at most {passed}"
        );
        assert_eq!(t.gettime().interval, 2 * MS);
        // Disarm: nothing more arrives.
        t.settime(0, ItimerNs::default()).unwrap();
        t.set_status_flags(O_NONBLOCK).unwrap();
        crate::time::sleep_until_mono(now_mono() + 5 * MS).unwrap();
        assert_eq!(t.take(), Err(Errno::EAGAIN));
    }

    #[test]
    fn absolute_realtime_and_errors() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let t = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK).unwrap();
        let now = clock_ns(CLOCK_REALTIME).unwrap() as u64;
        t.settime(
            TFD_TIMER_ABSTIME,
            ItimerNs {
                interval: 0,
                value: now + 2 * MS,
            },
        )
        .unwrap();
        assert_eq!(t.take(), Err(Errno::EAGAIN));
        assert_eq!(t.poll(), 0);
        crate::time::sleep_until_mono(now_mono() + 4 * MS).unwrap();
        assert_ne!(t.poll() & POLLIN, 0);
        assert_eq!(t.read(&mut &mut [0u8; 4][..]), Err(Errno::EINVAL));
        assert_eq!(t.take(), Ok(1));
        // An absolute time in the past expires at once.
        t.settime(
            TFD_TIMER_ABSTIME,
            ItimerNs {
                interval: 0,
                value: 1,
            },
        )
        .unwrap();
        crate::time::sleep_until_mono(now_mono() + MS).unwrap();
        assert_eq!(t.take(), Ok(1));
        assert_eq!(t.settime(4, ItimerNs::default()), Err(Errno::EINVAL));
        assert_eq!(timerfd_create(99, 0).err(), Some(Errno::EINVAL));
        assert_eq!(
            timerfd_create(CLOCK_MONOTONIC, 1).err(),
            Some(Errno::EINVAL)
        );
    }
}
