//! Process identity and resources: ids, uname, rlimits, sysinfo.

use uk_abi::resource::{RLIMIT_NLIMITS, RLIMIT_NOFILE, RLIMIT_STACK, RLIM_INFINITY};

use crate::{Errno, KResult};
use core::sync::atomic::{AtomicUsize, Ordering};

/// The one process is pid 1 (it is the image's init), its main thread tid 1.
pub const PID: i32 = 1;

static NODENAME: spin::Mutex<[u8; 65]> = spin::Mutex::new([0; 65]);
static NOFILE: AtomicUsize = AtomicUsize::new(1024);

static RLIMITS: spin::Mutex<[(u64, u64); RLIMIT_NLIMITS]> =
    spin::Mutex::new([(RLIM_INFINITY, RLIM_INFINITY); RLIMIT_NLIMITS]);

pub(crate) fn init(nodename: &str, max_fds: usize, stack: usize) {
    let mut n = NODENAME.lock();
    *n = [0; 65];
    let b = nodename.as_bytes();
    let len = b.len().min(64);
    n[..len].copy_from_slice(&b[..len]);
    NOFILE.store(max_fds, Ordering::Relaxed);
    let mut r = RLIMITS.lock();
    *r = [(RLIM_INFINITY, RLIM_INFINITY); RLIMIT_NLIMITS];
    r[RLIMIT_STACK] = (stack as u64, RLIM_INFINITY);
    r[4] = (0, RLIM_INFINITY); // CORE: no core dumps
    r[6] = (1, 1); // NPROC: one process
    r[RLIMIT_NOFILE] = (max_fds as u64, max_fds as u64);
    r[8] = (8 << 20, 8 << 20); // MEMLOCK
    r[11] = (63_000, 63_000); // SIGPENDING
    r[12] = (819_200, 819_200); // MSGQUEUE
    r[13] = (0, 0); // NICE
    r[14] = (0, 0); // RTPRIO
}

/// The current RLIMIT_NOFILE soft limit.
pub fn nofile_limit() -> usize {
    NOFILE.load(Ordering::Relaxed)
}

/// `struct utsname`: six 65-byte fields.
pub fn uname() -> [[u8; 65]; 6] {
    fn field(s: &[u8]) -> [u8; 65] {
        let mut f = [0u8; 65];
        let n = s.len().min(64);
        f[..n].copy_from_slice(&s[..n]);
        f
    }
    let plat = uk_plat::get().name();
    let mut version = [0u8; 65];
    let v = b"#1 ukit ";
    version[..v.len()].copy_from_slice(v);
    let pn = plat.len().min(64 - v.len());
    version[v.len()..v.len() + pn].copy_from_slice(&plat.as_bytes()[..pn]);
    [
        // Programs branch on sysname and release for Linux features: we implement the
        // Linux x86_64 ABI, so say Linux and a release whose features we follow.
        field(b"Linux"),
        *NODENAME.lock(),
        field(b"6.1.0-ukit"),
        version,
        field(b"x86_64"),
        field(b"(none)"),
    ]
}

/// sethostname(2).
pub fn set_nodename(name: &[u8]) -> KResult<()> {
    if name.len() > 64 {
        return Err(Errno::EINVAL);
    }
    let mut n = NODENAME.lock();
    *n = [0; 65];
    n[..name.len()].copy_from_slice(name);
    Ok(())
}

/// prlimit64(2) on our own process: returns the old limit, sets the new one if given.
pub fn prlimit(pid: i32, res: u32, new: Option<(u64, u64)>) -> KResult<(u64, u64)> {
    if pid != 0 && pid != PID {
        return Err(Errno::ESRCH);
    }
    let res = res as usize;
    if res >= RLIMIT_NLIMITS {
        return Err(Errno::EINVAL);
    }
    let mut r = RLIMITS.lock();
    let old = r[res];
    if let Some((soft, hard)) = new {
        if soft > hard {
            return Err(Errno::EINVAL);
        }
        // Raising a hard limit needs privilege we do not model: only lowering or keeping.
        if hard > old.1 {
            return Err(Errno::EPERM);
        }
        if res == RLIMIT_NOFILE {
            NOFILE.store(soft.min(1 << 20) as usize, Ordering::Relaxed);
        }
        r[res] = (soft, hard);
    }
    Ok(old)
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
        procs: crate::thread::count() as u16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        crate::testplat::setup();
        init("box", 256, 8 << 20);
        assert_eq!(prlimit(0, RLIMIT_NOFILE as u32, None), Ok((256, 256)));
        assert_eq!(prlimit(0, 99, None), Err(Errno::EINVAL));
        assert_eq!(prlimit(42, 0, None), Err(Errno::ESRCH));
        assert_eq!(
            prlimit(0, RLIMIT_NOFILE as u32, Some((300, 200))),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            prlimit(0, RLIMIT_NOFILE as u32, Some((100, 512))),
            Err(Errno::EPERM)
        );
        assert_eq!(
            prlimit(1, RLIMIT_NOFILE as u32, Some((100, 256))),
            Ok((256, 256))
        );
        assert_eq!(nofile_limit(), 100);
        let u = uname();
        assert_eq!(&u[0][..6], b"Linux\0");
        assert_eq!(&u[1][..4], b"box\0");
        assert_eq!(set_nodename(&[b'a'; 65]), Err(Errno::EINVAL));
        init("box", 1024, 8 << 20);
    }
}
