//! nanosleep(2), clock_nanosleep(2): https://man7.org/linux/man-pages/man2/nanosleep.2.html

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, KResult};
use uk_abi::sysno::{SYS_CLOCK_NANOSLEEP, SYS_NANOSLEEP};
use uk_abi::time::Timespec;
use uk_posix::user::UserPtr;
use uk_posix::{time, user};

fn read_ns(addr: usize) -> KResult<u64> {
    time::timespec_to_ns(&user::read(addr)?)
}

pub fn sys_nanosleep(a: &Args) -> KResult<usize> {
    let ns = read_ns(a[0])?;
    if let Some(rem) = UserPtr::<Timespec>::nonnull(a[1]) {
        rem.check_writable()?;
    }
    let t0 = uk_plat::get().monotonic_ns();
    let r = time::clock_nanosleep(uk_abi::time::CLOCK_MONOTONIC, false, ns);
    write_remaining(r, a[1], t0, ns)
}

/// On EINTR a relative sleep reports the time it had left in `rem` (if given).
fn write_remaining(r: KResult<()>, rem: usize, t0: u64, ns: u64) -> KResult<usize> {
    if r == Err(uk_abi::Errno::EINTR) && rem != 0 {
        let slept = uk_plat::get().monotonic_ns().saturating_sub(t0);
        let left = ns.saturating_sub(slept) as i64;
        user::write(rem, &Timespec::from_ns(left))?;
    }
    r.map(|_| 0)
}

/// Note: returns a positive errno on failure in libc, but the raw call returns -errno
/// like every other; musl converts.
pub fn sys_clock_nanosleep(a: &Args) -> KResult<usize> {
    let flags = a[1] as u32;
    if flags & !uk_abi::time::TIMER_ABSTIME != 0 {
        return Err(uk_abi::Errno::EINVAL);
    }
    let ns = read_ns(a[2])?;
    let abs = flags & uk_abi::time::TIMER_ABSTIME != 0;
    let t0 = uk_plat::get().monotonic_ns();
    let r = time::clock_nanosleep(a[0] as i32, abs, ns);
    write_remaining(r, if abs { 0 } else { a[3] }, t0, ns)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_NANOSLEEP, sys_nanosleep).shows(&[Arg::Hex, Arg::Hex]),
    row(SYS_CLOCK_NANOSLEEP, sys_clock_nanosleep).shows(&[
        Arg::Clock,
        Arg::Hex,
        Arg::Hex,
        Arg::Hex,
    ]),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::{SYS_CLOCK_NANOSLEEP, SYS_NANOSLEEP};
    use uk_abi::Errno;

    #[test]
    fn sleeps_and_validates() {
        crate::table::tests::setup();
        let v: &'static mut [u8] = Box::leak(vec![0u8; 16].into_boxed_slice());
        let a = v.as_ptr() as usize;
        uk_posix::user::add_static_range(a, a + 16, true);
        uk_posix::user::write(a, &[0i64, 1_000_000]).unwrap();
        let t0 = std::time::Instant::now();
        assert_eq!(dispatch(SYS_NANOSLEEP, &[a, 0, 0, 0, 0, 0]), 0);
        assert!(t0.elapsed().as_micros() >= 1000);
        uk_posix::user::write(a, &[0i64, 1_000_000_000]).unwrap();
        assert_eq!(
            dispatch(SYS_NANOSLEEP, &[a, 0, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        assert_eq!(
            dispatch(SYS_NANOSLEEP, &[0x40, 0, 0, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
        uk_posix::user::write(a, &[0i64, 0]).unwrap();
        assert_eq!(
            dispatch(SYS_CLOCK_NANOSLEEP, &[1, 2, a, 0, 0, 0]),
            Errno::EINVAL.as_neg(),
            "unknown flag"
        );
        assert_eq!(
            dispatch(SYS_CLOCK_NANOSLEEP, &[1, 1, a, 0, 0, 0]),
            0,
            "absolute time in the past"
        );
    }
}
