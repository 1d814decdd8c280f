//! Identity and resources: the host name and uname (one per image, like a UTS
//! namespace), a process's resource limits ([`Limits`]), its ids and credentials, and
//! sysinfo.

use uk_abi::resource::{
    RLIMIT_CORE, RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_NLIMITS, RLIMIT_NOFILE,
    RLIMIT_RTPRIO, RLIMIT_SIGPENDING, RLIMIT_STACK, RLIM_INFINITY,
};
use uk_abi::utsname::{field, Utsname, UTS_LEN};

use crate::{Errno, KResult};
use core::sync::atomic::{AtomicUsize, Ordering};

/// The image's first process: pid 1 (the image's init), its main thread tid 1.
pub const INIT_PID: i32 = 1;

static NODENAME: spin::Mutex<[u8; UTS_LEN]> = spin::Mutex::new([0; UTS_LEN]);

/// Set the host name at boot.
pub(crate) fn init(nodename: &str) {
    *NODENAME.lock() = field(nodename.as_bytes());
}

/// `struct utsname`.
pub fn uname() -> Utsname {
    let plat = uk_plat::get().name();
    let mut version = [0u8; UTS_LEN];
    let v = b"#1 ukit ";
    version[..v.len()].copy_from_slice(v);
    let pn = plat.len().min(UTS_LEN - 1 - v.len());
    version[v.len()..v.len() + pn].copy_from_slice(&plat.as_bytes()[..pn]);
    Utsname {
        // Programs branch on sysname and release for Linux features: we implement the
        // Linux x86_64 ABI, so say Linux and a release whose features we follow.
        sysname: field(b"Linux"),
        nodename: *NODENAME.lock(),
        release: field(b"6.1.0-ukit"),
        version,
        machine: field(b"x86_64"),
        domainname: field(b"(none)"),
    }
}

/// sethostname(2).
pub fn set_nodename(name: &[u8]) -> KResult<()> {
    if name.len() > UTS_LEN - 1 {
        return Err(Errno::EINVAL);
    }
    *NODENAME.lock() = field(name);
    Ok(())
}

/// Linux's `fs.nr_open` default: no RLIMIT_NOFILE above this.
pub const NR_OPEN: u64 = 1 << 20;
/// The smallest RLIMIT_NOFILE a process starts with (the option `posix.max_fds` has
/// the same floor).
const NOFILE_MIN: u64 = 16;

/// RLIMIT_NOFILE (soft, hard) for the first process: what the platform says a native
/// program would get (linuxu: the host's limits at launch), kept within
/// [16, `NR_OPEN`] with soft <= hard since the values come from outside; without one,
/// `default` (the option `posix.max_fds`) for both.
pub fn start_nofile(platform: Option<(u64, u64)>, default: usize) -> (u64, u64) {
    match platform {
        Some((soft, hard)) => {
            let hard = hard.clamp(NOFILE_MIN, NR_OPEN);
            (soft.clamp(NOFILE_MIN, hard), hard)
        }
        None => {
            let d = (default as u64).clamp(NOFILE_MIN, NR_OPEN);
            (d, d)
        }
    }
}

/// A process's resource limits (getrlimit/setrlimit/prlimit64).
pub struct Limits {
    /// RLIMIT_NOFILE's soft value, read on every descriptor allocation.
    nofile: AtomicUsize,
    table: spin::Mutex<[(u64, u64); RLIMIT_NLIMITS]>,
}

impl Limits {
    /// The limits a process starts with: RLIMIT_NOFILE `nofile` (soft, hard; see
    /// [`start_nofile`]), a `stack`-byte main stack, everything else as a Linux root
    /// process has it.
    pub fn new(nofile: (u64, u64), stack: usize) -> Self {
        let mut r = [(RLIM_INFINITY, RLIM_INFINITY); RLIMIT_NLIMITS];
        r[RLIMIT_STACK] = (stack as u64, RLIM_INFINITY);
        r[RLIMIT_CORE] = (0, RLIM_INFINITY); // no core dumps
        r[RLIMIT_NOFILE] = nofile;
        r[RLIMIT_MEMLOCK] = (8 << 20, 8 << 20);
        r[RLIMIT_SIGPENDING] = (63_000, 63_000);
        r[RLIMIT_MSGQUEUE] = (819_200, 819_200);
        r[RLIMIT_NICE] = (0, 0);
        r[RLIMIT_RTPRIO] = (0, 0);
        Limits {
            nofile: AtomicUsize::new(nofile.0.min(NR_OPEN) as usize),
            table: spin::Mutex::new(r),
        }
    }

    /// A copy (fork: the child starts with the parent's limits).
    pub fn duplicate(&self) -> Self {
        Limits {
            nofile: AtomicUsize::new(self.nofile()),
            table: spin::Mutex::new(*self.table.lock()),
        }
    }

    /// The current RLIMIT_NOFILE soft limit.
    pub fn nofile(&self) -> usize {
        self.nofile.load(Ordering::Relaxed)
    }

    /// Limit `res`: returns the old value, sets the new one if given. A soft limit may
    /// rise up to the hard one; a hard limit may only be lowered or kept (raising it
    /// needs a privilege not modelled). RLIMIT_NOFILE above `NR_OPEN` is EPERM, as on
    /// Linux; the descriptor table grows on demand up to the soft limit.
    pub fn get_set(&self, res: u32, new: Option<(u64, u64)>) -> KResult<(u64, u64)> {
        let res = res as usize;
        if res >= RLIMIT_NLIMITS {
            return Err(Errno::EINVAL);
        }
        let mut r = self.table.lock();
        let old = r[res];
        if let Some((soft, hard)) = new {
            if soft > hard {
                return Err(Errno::EINVAL);
            }
            if hard > old.1 {
                return Err(Errno::EPERM);
            }
            if res == RLIMIT_NOFILE {
                if hard > NR_OPEN {
                    return Err(Errno::EPERM);
                }
                self.nofile.store(soft as usize, Ordering::Relaxed);
            }
            r[res] = (soft, hard);
        }
        Ok(old)
    }
}

/// A process's ids: its own, its parent's, its group's and session's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ids {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
}

/// A process's credentials (real, effective and saved user and group ids). Every
/// program in an image starts as root; setuid/setgid may give that up (nginx's
/// workers), and nothing else checks the ids yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
}

/// The fields of `struct sysinfo` we fill.
#[derive(Clone, Copy, Debug, Default)]
pub struct SysInfo {
    pub uptime_s: i64,
    pub totalram: u64,
    pub freeram: u64,
    pub procs: u16,
}

pub fn sysinfo() -> SysInfo {
    let s = uk_alloc::PAGES.lock().stats();
    SysInfo {
        uptime_s: (crate::time::uptime_ns() / 1_000_000_000) as i64,
        totalram: (s.total_pages * uk_alloc::PAGE_SIZE) as u64,
        freeram: (s.free_pages * uk_alloc::PAGE_SIZE) as u64,
        procs: uk_sched::thread_count() as u16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let _g = crate::testplat::serial();
        let l = Limits::new((256, 256), 8 << 20);
        let nofile = RLIMIT_NOFILE as u32;
        assert_eq!(l.get_set(nofile, None), Ok((256, 256)));
        assert_eq!(l.get_set(99, None), Err(Errno::EINVAL));
        assert_eq!(l.get_set(nofile, Some((300, 200))), Err(Errno::EINVAL));
        assert_eq!(l.get_set(nofile, Some((100, 512))), Err(Errno::EPERM));
        assert_eq!(l.get_set(nofile, Some((100, 256))), Ok((256, 256)));
        assert_eq!(l.nofile(), 100);
        assert_eq!(l.duplicate().nofile(), 100);
    }

    #[test]
    fn nofile_starts_from_the_platform_and_rises_to_the_hard_limit() {
        let _g = crate::testplat::serial();
        // linuxu: the host's limits, as a native program gets them.
        assert_eq!(start_nofile(Some((1024, 524_288)), 64), (1024, 524_288));
        // Values from outside are kept in range.
        assert_eq!(start_nofile(Some((5, 3)), 64), (16, 16));
        assert_eq!(
            start_nofile(Some((u64::MAX, u64::MAX)), 64),
            (NR_OPEN, NR_OPEN)
        );
        assert_eq!(start_nofile(Some((1 << 30, 4096)), 64), (4096, 4096));
        // No platform value: the option, for both.
        assert_eq!(start_nofile(None, 1024), (1024, 1024));
        let l = Limits::new(start_nofile(Some((1024, 8192)), 64), 8 << 20);
        let nofile = RLIMIT_NOFILE as u32;
        assert_eq!(l.nofile(), 1024);
        assert_eq!(l.get_set(nofile, Some((8192, 8192))), Ok((1024, 8192)));
        assert_eq!(l.nofile(), 8192);
        assert_eq!(l.get_set(nofile, Some((8193, 8193))), Err(Errno::EPERM));
        assert_eq!(l.get_set(nofile, Some((4000, 4000))), Ok((8192, 8192)));
        assert_eq!(l.nofile(), 4000);
        assert_eq!(l.get_set(nofile, Some((4001, 4001))), Err(Errno::EPERM));
    }

    #[test]
    fn names() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let u = uname();
        assert_eq!(&u.sysname[..6], b"Linux\0");
        assert_eq!(&u.nodename[..5], b"ukit\0");
        assert_eq!(set_nodename(&[b'a'; 65]), Err(Errno::EINVAL));
    }
}
