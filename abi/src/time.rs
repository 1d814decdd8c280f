//! `<time.h>`, `<sys/time.h>`, timerfd: clocks and time records.

use crate::assert_size;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub const CLOCK_REALTIME: i32 = 0;
pub const CLOCK_MONOTONIC: i32 = 1;
pub const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
pub const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
pub const CLOCK_MONOTONIC_RAW: i32 = 4;
pub const CLOCK_REALTIME_COARSE: i32 = 5;
pub const CLOCK_MONOTONIC_COARSE: i32 = 6;
pub const CLOCK_BOOTTIME: i32 = 7;
pub const CLOCK_REALTIME_ALARM: i32 = 8;
pub const CLOCK_BOOTTIME_ALARM: i32 = 9;
pub const CLOCK_TAI: i32 = 11;

/// clock_nanosleep / timer_settime: the time is absolute.
pub const TIMER_ABSTIME: u32 = 1;

pub const ITIMER_REAL: usize = 0;
pub const ITIMER_VIRTUAL: usize = 1;
pub const ITIMER_PROF: usize = 2;

pub const TFD_TIMER_ABSTIME: u32 = 1;
pub const TFD_TIMER_CANCEL_ON_SET: u32 = 2;
pub const TFD_CLOEXEC: u32 = crate::fcntl::O_CLOEXEC;
pub const TFD_NONBLOCK: u32 = crate::fcntl::O_NONBLOCK;

/// Clock ticks per second as times(2) and /proc count them (`AT_CLKTCK`).
pub const CLK_TCK: u64 = 100;

pub const NSEC_PER_SEC: i64 = 1_000_000_000;

/// `struct timespec`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Timespec {
    pub tv_sec: i64,
    pub tv_nsec: i64,
}
assert_size!(Timespec, 16);

impl Timespec {
    /// Nanoseconds as a timespec, flooring toward minus infinity (so that `tv_nsec` is
    /// always in `0..1e9`, also for times before the epoch).
    pub const fn from_ns(ns: i64) -> Timespec {
        Timespec {
            tv_sec: ns.div_euclid(NSEC_PER_SEC),
            tv_nsec: ns.rem_euclid(NSEC_PER_SEC),
        }
    }

    /// As nanoseconds (saturating at the ends of `i64`).
    pub const fn as_ns(&self) -> i64 {
        self.tv_sec
            .saturating_mul(NSEC_PER_SEC)
            .saturating_add(self.tv_nsec)
    }
}

/// `struct timeval`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Timeval {
    pub tv_sec: i64,
    pub tv_usec: i64,
}
assert_size!(Timeval, 16);

impl Timeval {
    /// Nanoseconds as a timeval (microseconds floored).
    pub const fn from_ns(ns: i64) -> Timeval {
        Timeval {
            tv_sec: ns.div_euclid(NSEC_PER_SEC),
            tv_usec: ns.rem_euclid(NSEC_PER_SEC) / 1000,
        }
    }
}

/// `struct itimerspec` (timerfd, POSIX timers).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Itimerspec {
    pub it_interval: Timespec,
    pub it_value: Timespec,
}
assert_size!(Itimerspec, 32);

/// `struct itimerval` (setitimer).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Itimerval {
    pub it_interval: Timeval,
    pub it_value: Timeval,
}
assert_size!(Itimerval, 32);

/// `struct timezone` (gettimeofday).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Timezone {
    pub tz_minuteswest: i32,
    pub tz_dsttime: i32,
}

/// `struct tms` (times).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Tms {
    pub tms_utime: i64,
    pub tms_stime: i64,
    pub tms_cutime: i64,
    pub tms_cstime: i64,
}
assert_size!(Tms, 32);
