//! Clocks and sleeping.

use uk_abi::time::{
    CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE,
    CLOCK_MONOTONIC_RAW, CLOCK_PROCESS_CPUTIME_ID, CLOCK_REALTIME, CLOCK_REALTIME_ALARM,
    CLOCK_REALTIME_COARSE, CLOCK_TAI, CLOCK_THREAD_CPUTIME_ID,
};

use crate::{Errno, KResult};
use core::sync::atomic::{AtomicU64, Ordering};
use uk_abi::time::{Timespec, Timeval};

/// Monotonic time at boot, for uptime and CPU time.
static BOOT_NS: AtomicU64 = AtomicU64::new(0);

pub(crate) fn init() {
    BOOT_NS.store(uk_plat::get().monotonic_ns(), Ordering::Relaxed);
}

/// A timer setting in nanoseconds (`struct itimerspec`): `value` 0 means disarmed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ItimerNs {
    pub interval: u64,
    pub value: u64,
}

/// Nanoseconds since boot.
pub fn uptime_ns() -> u64 {
    uk_plat::get()
        .monotonic_ns()
        .saturating_sub(BOOT_NS.load(Ordering::Relaxed))
}

/// CPU time of the process: the platform's count when it has one, else the time it
/// was not idle.
pub fn cpu_ns() -> u64 {
    match uk_plat::get().cpu_time_ns() {
        Some(ns) => ns,
        None => uptime_ns().saturating_sub(uk_sched::idle_ns()),
    }
}

/// The value of `clock` in nanoseconds (signed: CLOCK_REALTIME may be before 1970).
pub fn clock_ns(clock: i32) -> KResult<i64> {
    let p = uk_plat::get();
    Ok(match clock {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE | CLOCK_REALTIME_ALARM => p.wall_ns(),
        CLOCK_TAI => p.wall_ns() + 37_000_000_000,
        CLOCK_MONOTONIC
        | CLOCK_MONOTONIC_RAW
        | CLOCK_MONOTONIC_COARSE
        | CLOCK_BOOTTIME
        | CLOCK_BOOTTIME_ALARM => p.monotonic_ns() as i64,
        CLOCK_PROCESS_CPUTIME_ID => cpu_ns() as i64,
        CLOCK_THREAD_CPUTIME_ID => thread_cpu_ns(uk_sched::current_tid())? as i64,
        c if c < 0 => cpu_clock_ns(c)?,
        _ => return Err(Errno::EINVAL),
    })
}

/// The first check of clock_settime(2), made before the timespec is read (Linux's
/// order): EINVAL for a clock that cannot be set at all. CLOCK_REALTIME and the CPU-time
/// clocks can be, given the privilege.
pub fn clock_settable(clock: i32) -> KResult<()> {
    if clock == CLOCK_REALTIME || (clock < 0 && clock_ns(clock).is_ok()) {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

/// clock_settime(2) of a settable clock: EINVAL for a timespec out of range, then
/// EPERM: the wall clock belongs to the platform (the host's clock, the VM's), as it
/// does for a Linux process without CAP_SYS_TIME.
pub fn clock_settime(clock: i32, ts: &Timespec) -> KResult<()> {
    clock_settable(clock)?;
    timespec_to_ns(ts)?;
    Err(Errno::EPERM)
}

/// CPU time of one thread (ns): EINVAL when there is no such thread.
fn thread_cpu_ns(tid: i32) -> KResult<u64> {
    uk_sched::thread_cpu_ns(tid).ok_or(Errno::EINVAL)
}

/// A CPU-time clock named by a process or thread id, as clock_getcpuclockid(3) and
/// pthread_getcpuclockid(3) make them: the id is `!(clock >> 3)` (0: the caller), bit 2
/// says thread, the low two bits pick PROF (0), VIRT (1) or SCHED (2). ukit has no
/// user/system split, so the three read the same time. An id that names no thread is
/// EINVAL, as on Linux; a process clock must name the caller as 0 here (the system
/// call rewrites the caller's own pid first: `process::own_clock`), any other is EINVAL.
fn cpu_clock_ns(clock: i32) -> KResult<i64> {
    if clock & 3 == 3 {
        return Err(Errno::EINVAL);
    }
    let id = !(clock >> 3);
    let ns = if clock & 4 != 0 {
        let tid = if id == 0 { uk_sched::current_tid() } else { id };
        thread_cpu_ns(tid)?
    } else if id == 0 {
        cpu_ns()
    } else {
        return Err(Errno::EINVAL);
    };
    Ok(ns as i64)
}

/// Resolution of `clock` in nanoseconds.
pub fn clock_res_ns(clock: i32) -> KResult<i64> {
    clock_ns(clock)?;
    Ok(match clock {
        CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE => 4_000_000,
        _ => 1,
    })
}

/// A `struct timespec` as the program gave it; validated into nanoseconds.
pub fn timespec_to_ns(ts: &Timespec) -> KResult<u64> {
    let (sec, nsec) = (ts.tv_sec, ts.tv_nsec);
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(nsec as u64))
}

/// A `struct timeval` duration in nanoseconds: EINVAL outside Linux's accepted range.
pub fn timeval_to_ns(tv: &Timeval) -> KResult<u64> {
    if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
        return Err(Errno::EINVAL);
    }
    Ok((tv.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(tv.tv_usec as u64 * 1000))
}

/// Block the calling thread until monotonic time `deadline`. EINTR when a signal
/// interrupts the sleep.
pub fn sleep_until_mono(deadline: u64) -> KResult<()> {
    loop {
        match uk_sched::block(Some(deadline)) {
            uk_sched::Wake::Timeout => return Ok(()),
            uk_sched::Wake::Interrupted => return Err(Errno::EINTR),
            // Nobody else holds a sleeping thread, but a stray wake must not cut the
            // sleep short.
            uk_sched::Wake::Woken => {
                if uk_plat::get().monotonic_ns() >= deadline {
                    return Ok(());
                }
            }
        }
    }
}

/// clock_nanosleep(2): sleep on `clock` for `ns`, or until `ns` if `abs`.
pub fn clock_nanosleep(clock: i32, abs: bool, ns: u64) -> KResult<()> {
    let p = uk_plat::get();
    let mono_deadline = match clock {
        CLOCK_THREAD_CPUTIME_ID => return Err(Errno::EINVAL),
        CLOCK_PROCESS_CPUTIME_ID => {
            uk_log::warn_once!(
                "clock_nanosleep on CLOCK_PROCESS_CPUTIME_ID is not supported: EOPNOTSUPP"
            );
            return Err(Errno::EOPNOTSUPP);
        }
        CLOCK_REALTIME | CLOCK_TAI | CLOCK_REALTIME_ALARM if abs => {
            let now = clock_ns(clock)?;
            let rel = (ns as i64).saturating_sub(now).max(0) as u64;
            p.monotonic_ns().saturating_add(rel)
        }
        CLOCK_REALTIME | CLOCK_TAI | CLOCK_REALTIME_ALARM | CLOCK_MONOTONIC | CLOCK_BOOTTIME
        | CLOCK_BOOTTIME_ALARM => {
            if abs {
                ns
            } else {
                p.monotonic_ns().saturating_add(ns)
            }
        }
        _ => return Err(Errno::EINVAL),
    };
    sleep_until_mono(mono_deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_clock_ids() {
        crate::testplat::setup();
        let _g = crate::testplat::serial();
        let tid = uk_sched::current_tid();
        // pthread_getcpuclockid's encoding: (-tid - 1) * 8 + 6.
        let mine = (-tid - 1) * 8 + 6;
        let a = clock_ns(mine).unwrap();
        assert!(a >= 0);
        assert!(clock_ns(CLOCK_THREAD_CPUTIME_ID).unwrap() >= a);
        // The caller's own (id 0) thread and process clocks.
        assert!(clock_ns(-2).is_ok() && clock_ns(-6).is_ok());
        assert_eq!(clock_ns(-1), Err(Errno::EINVAL)); // low bits 3: no such clock
        assert_eq!(clock_ns((-123_456 - 1) * 8 + 6), Err(Errno::EINVAL));
        assert_eq!(clock_ns((-77 - 1) * 8 + 2), Err(Errno::EINVAL));
        assert_eq!(clock_settable(CLOCK_MONOTONIC), Err(Errno::EINVAL));
        let ts = Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        assert_eq!(clock_settime(CLOCK_REALTIME, &ts), Err(Errno::EPERM));
        let bad = Timespec {
            tv_sec: 1,
            tv_nsec: 1_000_000_000,
        };
        assert_eq!(clock_settime(CLOCK_REALTIME, &bad), Err(Errno::EINVAL));
    }

    #[test]
    fn clocks_and_sleep() {
        crate::testplat::setup();
        let _g = crate::testplat::serial();
        init();
        assert!(clock_ns(CLOCK_REALTIME).unwrap() > 1_600_000_000_000_000_000);
        let a = clock_ns(CLOCK_MONOTONIC).unwrap();
        clock_nanosleep(CLOCK_MONOTONIC, false, 2_000_000).unwrap();
        let b = clock_ns(CLOCK_MONOTONIC).unwrap();
        assert!(b - a >= 2_000_000);
        assert_eq!(clock_ns(99), Err(Errno::EINVAL));
        assert_eq!(clock_ns(-1), Err(Errno::EINVAL));
        assert_eq!(clock_res_ns(CLOCK_MONOTONIC), Ok(1));
        assert_eq!(
            clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, false, 1),
            Err(Errno::EINVAL)
        );
        // An absolute deadline in the past returns at once.
        clock_nanosleep(CLOCK_MONOTONIC, true, 0).unwrap();
    }

    #[test]
    fn timespec_validation() {
        let ts = |tv_sec, tv_nsec| Timespec { tv_sec, tv_nsec };
        assert_eq!(timespec_to_ns(&ts(1, 5)), Ok(1_000_000_005));
        assert_eq!(timespec_to_ns(&ts(-1, 0)), Err(Errno::EINVAL));
        assert_eq!(timespec_to_ns(&ts(0, 1_000_000_000)), Err(Errno::EINVAL));
        assert_eq!(timespec_to_ns(&ts(i64::MAX, 0)), Ok(u64::MAX));
        assert_eq!(Timespec::from_ns(-1), ts(-1, 999_999_999));
    }
}
