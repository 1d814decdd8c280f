//! Resource usage (getrusage, times) and per-thread process-control facts (prctl).
//!
//! A unikernel has no user/system split: all time the image did not spend idle is
//! reported as user time. There is no per-thread CPU accounting in the scheduler, so
//! RUSAGE_THREAD reports the process's figures. There are no child processes.

use uk_abi::resource::{PRIO_PROCESS, PRIO_USER, RUSAGE_CHILDREN, RUSAGE_SELF, RUSAGE_THREAD};
use uk_abi::time::CLK_TCK;

use crate::{Errno, KResult};
use core::sync::atomic::{AtomicBool, Ordering};
use litemap::LiteMap;

pub use uk_abi::resource::Rusage;
pub use uk_abi::time::Tms;

/// The per-process facts getrusage and prctl report: the program's name (what unnamed
/// threads are called), dumpability, the nice value and the memory high-water mark.
pub struct ProcInfo {
    /// Highest number of pages in use seen so far (maxrss is a high-water mark).
    max_used_pages: spin::Mutex<usize>,
    /// The name a thread has before it sets one. Linux uses the executable's base name:
    /// boot sets it from argv[0] ([`ProcInfo::set_program_name`]); "ukit" until then.
    default_name: spin::Mutex<[u8; 16]>,
    dumpable: AtomicBool,
    /// The nice value (getpriority/setpriority). Stored only: the scheduler runs every
    /// thread alike.
    nice: spin::Mutex<i32>,
}

impl Default for ProcInfo {
    fn default() -> Self {
        Self::new()
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
static NAMES: spin::Mutex<LiteMap<i32, [u8; 16]>> = spin::Mutex::new(LiteMap::new());
static PDEATHSIG: spin::Mutex<LiteMap<i32, i32>> = spin::Mutex::new(LiteMap::new());

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

/// prctl(PR_SET_PDEATHSIG): stored per thread; the parent (the host) dying ends the
/// image anyway, so it never fires.
pub fn set_pdeathsig(sig: u64) -> KResult<()> {
    if sig > uk_abi::signal::NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    PDEATHSIG.lock().insert(uk_sched::current_tid(), sig as i32);
    Ok(())
}

/// The parent-death signal thread `tid` asked for (0: none).
pub fn pdeathsig_of(tid: i32) -> i32 {
    PDEATHSIG.lock().get(&tid).copied().unwrap_or(0)
}

pub fn pdeathsig() -> i32 {
    PDEATHSIG
        .lock()
        .get(&uk_sched::current_tid())
        .copied()
        .unwrap_or(0)
}

/// A process answers to its pid, its group and its user (uid 0), or 0 for "me".
fn prio_target(pid: i32, which: i32, who: i32) -> KResult<()> {
    if !(PRIO_PROCESS..=PRIO_USER).contains(&which) {
        return Err(Errno::EINVAL);
    }
    let ok = match which {
        PRIO_USER => who == 0,
        _ => who == 0 || who == pid,
    };
    if ok {
        Ok(())
    } else {
        Err(Errno::ESRCH)
    }
}

impl ProcInfo {
    pub fn new() -> Self {
        ProcInfo {
            max_used_pages: spin::Mutex::new(0),
            default_name: spin::Mutex::new(*b"ukit\0\0\0\0\0\0\0\0\0\0\0\0"),
            dumpable: AtomicBool::new(true),
            nice: spin::Mutex::new(0),
        }
    }

    fn used_kib(&self) -> i64 {
        let st = uk_alloc::PAGES.lock().stats();
        let used = st.total_pages.saturating_sub(st.free_pages);
        let mut m = self.max_used_pages.lock();
        *m = (*m).max(used);
        (*m * uk_alloc::PAGE_SIZE / 1024) as i64
    }

    /// self.getrusage(2).
    pub fn getrusage(&self, who: i32) -> KResult<Rusage> {
        match who {
            RUSAGE_CHILDREN => Ok(Rusage::default()),
            RUSAGE_SELF | RUSAGE_THREAD => {
                let cpu = crate::time::cpu_ns();
                Ok(Rusage {
                    ru_utime: uk_abi::time::Timeval::from_ns(cpu as i64),
                    ru_maxrss: self.used_kib(),
                    ru_nvcsw: uk_sched::switches() as i64,
                    ..Rusage::default()
                })
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// The default thread name: the first 15 bytes of `name` (the program's base name).
    pub fn set_program_name(&self, name: &[u8]) {
        let mut n = [0u8; 16];
        let len = name.len().min(15);
        n[..len].copy_from_slice(&name[..len]);
        *self.default_name.lock() = n;
    }

    /// The name of thread `tid` (NUL-padded), as PR_GET_NAME would give it.
    pub fn thread_name(&self, tid: i32) -> [u8; 16] {
        NAMES
            .lock()
            .get(&tid)
            .copied()
            .unwrap_or_else(|| *self.default_name.lock())
    }

    /// prctl(PR_GET_NAME) for the calling thread (NUL-padded, 16 bytes).
    pub fn name(&self) -> [u8; 16] {
        self.thread_name(uk_sched::current_tid())
    }

    /// prctl(PR_SET_self.dumpable): 0 or 1 (2, "root only", is refused by Linux too).
    pub fn set_dumpable(&self, v: u64) -> KResult<()> {
        match v {
            0 | 1 => {
                self.dumpable.store(v == 1, Ordering::Relaxed);
                Ok(())
            }
            _ => Err(Errno::EINVAL),
        }
    }

    pub fn dumpable(&self) -> bool {
        self.dumpable.load(Ordering::Relaxed)
    }

    /// self.getpriority(2): the nice value (-20..=19).
    pub fn getpriority(&self, pid: i32, which: i32, who: i32) -> KResult<i32> {
        prio_target(pid, which, who)?;
        Ok(*self.nice.lock())
    }

    /// self.setpriority(2): clamped to -20..=19 as Linux does.
    pub fn setpriority(&self, pid: i32, which: i32, who: i32, nice: i32) -> KResult<()> {
        prio_target(pid, which, who)?;
        *self.nice.lock() = nice.clamp(-20, 19);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uk_abi::resource::PRIO_PGRP;

    #[test]
    fn rusage_and_times() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let pi = ProcInfo::new();
        assert_eq!(pi.getrusage(5), Err(Errno::EINVAL));
        assert_eq!(pi.getrusage(RUSAGE_CHILDREN).unwrap(), Rusage::default());
        // Use some pages so that maxrss is above zero, then check it never drops.
        let p = uk_alloc::PAGES.lock().alloc(4).unwrap();
        let r = pi.getrusage(RUSAGE_SELF).unwrap();
        uk_alloc::PAGES.lock().free(p, 4);
        assert!(r.ru_maxrss >= 16, "{}", r.ru_maxrss);
        assert!(pi.getrusage(RUSAGE_THREAD).unwrap().ru_maxrss >= r.ru_maxrss);
        assert!(r.ru_utime.tv_usec < 1_000_000);
        let (t, elapsed) = times();
        assert!(t.tms_utime as u64 <= elapsed + 1);
        assert_eq!(core::mem::size_of::<Rusage>(), 144);
    }

    #[test]
    fn names_and_flags() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let pi = ProcInfo::new();
        set_name(b"a-very-long-thread-name\0");
        assert_eq!(&pi.name(), b"a-very-long-thr\0");
        set_name(b"w\0junk");
        assert_eq!(&pi.name()[..2], b"w\0");
        assert_eq!(pi.set_dumpable(2), Err(Errno::EINVAL));
        pi.set_dumpable(0).unwrap();
        assert!(!pi.dumpable());
        pi.set_dumpable(1).unwrap();
        assert!(pi.dumpable());
        assert_eq!(set_pdeathsig(65), Err(Errno::EINVAL));
        set_pdeathsig(9).unwrap();
        assert_eq!(pdeathsig(), 9);
    }

    #[test]
    fn priorities() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let pi = ProcInfo::new();
        assert_eq!(pi.getpriority(1, 3, 0), Err(Errno::EINVAL));
        assert_eq!(pi.getpriority(1, PRIO_PROCESS, 7), Err(Errno::ESRCH));
        pi.setpriority(1, PRIO_PROCESS, 0, 40).unwrap();
        assert_eq!(pi.getpriority(1, PRIO_PROCESS, 1), Ok(19));
        pi.setpriority(1, PRIO_PGRP, 0, 0).unwrap();
        assert_eq!(pi.getpriority(1, PRIO_USER, 0), Ok(0));
    }
}
