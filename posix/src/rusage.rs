//! Resource usage (getrusage, times) and per-thread process-control facts (prctl).
//!
//! A unikernel has no user/system split: all time the image did not spend idle is
//! reported as user time. There is no per-thread CPU accounting in the scheduler, so
//! RUSAGE_THREAD reports the process's figures. There are no child processes.

use uk_abi::resource::{PRIO_PROCESS, PRIO_USER, RUSAGE_CHILDREN, RUSAGE_SELF, RUSAGE_THREAD};
use uk_abi::time::CLK_TCK;

use crate::{Errno, KResult};
use alloc::collections::BTreeMap;
use core::sync::atomic::{AtomicBool, Ordering};

pub use uk_abi::resource::Rusage;
pub use uk_abi::time::Tms;

/// Highest number of pages in use seen so far (maxrss is a high-water mark).
static MAX_USED_PAGES: spin::Mutex<usize> = spin::Mutex::new(0);

fn used_kib() -> i64 {
    let st = uk_alloc::PAGES.lock().stats();
    let used = st.total_pages.saturating_sub(st.free_pages);
    let mut m = MAX_USED_PAGES.lock();
    *m = (*m).max(used);
    (*m * uk_alloc::PAGE_SIZE / 1024) as i64
}

/// getrusage(2).
pub fn getrusage(who: i32) -> KResult<Rusage> {
    match who {
        RUSAGE_CHILDREN => Ok(Rusage::default()),
        RUSAGE_SELF | RUSAGE_THREAD => {
            let cpu = crate::time::cpu_ns();
            Ok(Rusage {
                ru_utime: uk_abi::time::Timeval::from_ns(cpu as i64),
                ru_maxrss: used_kib(),
                ru_nvcsw: uk_sched::switches() as i64,
                ..Rusage::default()
            })
        }
        _ => Err(Errno::EINVAL),
    }
}

/// times(2): process times in clock ticks, and the elapsed ticks since boot (the
/// return value, "since an arbitrary point in the past").
pub fn times() -> (Tms, u64) {
    let per_tick = 1_000_000_000 / CLK_TCK;
    let t = Tms {
        tms_utime: (crate::time::cpu_ns() / per_tick) as i64,
        ..Tms::default()
    };
    (t, crate::time::uptime_ns() / per_tick)
}

/// Thread names (`comm`, 15 bytes + NUL), by tid; unnamed threads read as the default.
static NAMES: spin::Mutex<BTreeMap<i32, [u8; 16]>> = spin::Mutex::new(BTreeMap::new());
static DUMPABLE: AtomicBool = AtomicBool::new(true);
static PDEATHSIG: spin::Mutex<BTreeMap<i32, i32>> = spin::Mutex::new(BTreeMap::new());

/// The name a thread has before it sets one. Linux uses the executable's base name:
/// boot sets it from argv[0] ([`set_program_name`]); "ukit" until then.
static DEFAULT_NAME: spin::Mutex<[u8; 16]> =
    spin::Mutex::new([b'u', b'k', b'i', b't', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/// The default thread name: the first 15 bytes of `name` (the program's base name).
pub fn set_program_name(name: &[u8]) {
    let mut n = [0u8; 16];
    let len = name.len().min(15);
    n[..len].copy_from_slice(&name[..len]);
    *DEFAULT_NAME.lock() = n;
}

/// The name of thread `tid` (NUL-padded), as PR_GET_NAME would give it.
pub fn thread_name(tid: i32) -> [u8; 16] {
    NAMES
        .lock()
        .get(&tid)
        .copied()
        .unwrap_or_else(|| *DEFAULT_NAME.lock())
}

/// prctl(PR_SET_NAME) for the calling thread: the first 15 bytes of `name` (up to
/// its NUL).
pub fn set_name(name: &[u8]) {
    let mut n = [0u8; 16];
    let len = name
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(name.len())
        .min(15);
    n[..len].copy_from_slice(&name[..len]);
    let tid = uk_sched::current_tid();
    let mut m = NAMES.lock();
    let live = uk_sched::thread_ids();
    m.retain(|t, _| live.contains(t));
    m.insert(tid, n);
}

/// prctl(PR_GET_NAME) for the calling thread (NUL-padded, 16 bytes).
pub fn name() -> [u8; 16] {
    thread_name(uk_sched::current_tid())
}

/// prctl(PR_SET_DUMPABLE): 0 or 1 (2, "root only", is refused by Linux too).
pub fn set_dumpable(v: u64) -> KResult<()> {
    match v {
        0 | 1 => {
            DUMPABLE.store(v == 1, Ordering::Relaxed);
            Ok(())
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn dumpable() -> bool {
    DUMPABLE.load(Ordering::Relaxed)
}

/// prctl(PR_SET_PDEATHSIG): stored per thread; the parent (the host) dying ends the
/// image anyway, so it never fires.
pub fn set_pdeathsig(sig: u64) -> KResult<()> {
    if sig > uk_abi::signal::NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    PDEATHSIG.lock().insert(uk_sched::current_tid(), sig as i32);
    Ok(())
}

pub fn pdeathsig() -> i32 {
    PDEATHSIG
        .lock()
        .get(&uk_sched::current_tid())
        .copied()
        .unwrap_or(0)
}

/// The process's nice value (getpriority/setpriority). Stored only: one cooperative
/// scheduler runs every thread alike.
static NICE: spin::Mutex<i32> = spin::Mutex::new(0);

/// The one process answers to its pid, its group and its user (uid 0), or 0 for "me".
fn prio_target(which: i32, who: i32) -> KResult<()> {
    if !(PRIO_PROCESS..=PRIO_USER).contains(&which) {
        return Err(Errno::EINVAL);
    }
    let ok = match which {
        PRIO_USER => who == 0,
        _ => who == 0 || who == crate::ident::PID,
    };
    if ok {
        Ok(())
    } else {
        Err(Errno::ESRCH)
    }
}

/// getpriority(2): the nice value (-20..=19).
pub fn getpriority(which: i32, who: i32) -> KResult<i32> {
    prio_target(which, who)?;
    Ok(*NICE.lock())
}

/// setpriority(2): clamped to -20..=19 as Linux does.
pub fn setpriority(which: i32, who: i32, nice: i32) -> KResult<()> {
    prio_target(which, who)?;
    *NICE.lock() = nice.clamp(-20, 19);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uk_abi::resource::PRIO_PGRP;

    #[test]
    fn rusage_and_times() {
        crate::testplat::setup();
        assert_eq!(getrusage(5), Err(Errno::EINVAL));
        assert_eq!(getrusage(RUSAGE_CHILDREN).unwrap(), Rusage::default());
        // Use some pages so that maxrss is above zero, then check it never drops.
        let p = uk_alloc::PAGES.lock().alloc(4).unwrap();
        let r = getrusage(RUSAGE_SELF).unwrap();
        uk_alloc::PAGES.lock().free(p, 4);
        assert!(r.ru_maxrss >= 16, "{}", r.ru_maxrss);
        assert!(getrusage(RUSAGE_THREAD).unwrap().ru_maxrss >= r.ru_maxrss);
        assert!(r.ru_utime.tv_usec < 1_000_000);
        let (t, elapsed) = times();
        assert!(t.tms_utime as u64 <= elapsed + 1);
        assert_eq!(core::mem::size_of::<Rusage>(), 144);
    }

    #[test]
    fn names_and_flags() {
        crate::testplat::setup();
        set_name(b"a-very-long-thread-name\0");
        assert_eq!(&name(), b"a-very-long-thr\0");
        set_name(b"w\0junk");
        assert_eq!(&name()[..2], b"w\0");
        assert_eq!(set_dumpable(2), Err(Errno::EINVAL));
        set_dumpable(0).unwrap();
        assert!(!dumpable());
        set_dumpable(1).unwrap();
        assert!(dumpable());
        assert_eq!(set_pdeathsig(65), Err(Errno::EINVAL));
        set_pdeathsig(9).unwrap();
        assert_eq!(pdeathsig(), 9);
    }

    #[test]
    fn priorities() {
        crate::testplat::setup();
        assert_eq!(getpriority(3, 0), Err(Errno::EINVAL));
        assert_eq!(getpriority(PRIO_PROCESS, 7), Err(Errno::ESRCH));
        setpriority(PRIO_PROCESS, 0, 40).unwrap();
        assert_eq!(getpriority(PRIO_PROCESS, 1), Ok(19));
        setpriority(PRIO_PGRP, 0, 0).unwrap();
        assert_eq!(getpriority(PRIO_USER, 0), Ok(0));
    }
}
