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

/// A process's credentials (real, effective and saved user and group ids, and its
/// supplementary groups). Every program in an image starts as root: nothing else
/// shares the machine. The set*id calls change them with Linux's rules (an effective
/// uid of 0 may set anything; otherwise only to ids the process already has), so a
/// program that drops privileges reads back what it set; ukit checks no file or signal
/// permission against them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    ngroups: usize,
    groups: [u32; NGROUPS],
}

/// Supplementary groups a process can hold here (Linux allows 65536): enough for the
/// initgroups of a user in a few groups; more is EINVAL.
pub const NGROUPS: usize = 32;

/// Linux's NGROUPS_MAX: a setgroups list longer than this is EINVAL on Linux too.
pub const NGROUPS_MAX: usize = 65536;

/// An id argument of -1: "leave this id as it is".
pub const KEEP_ID: u32 = u32::MAX;

impl Creds {
    /// CAP_SETUID and CAP_SETGID: root's effective uid.
    fn privileged(&self) -> bool {
        self.euid == 0
    }

    /// setresuid(2): each id that is not -1 is set; unprivileged, only to one of the
    /// current three.
    pub fn set_resuid(&mut self, r: u32, e: u32, s: u32) -> KResult<()> {
        let old = *self;
        let ok = |v: u32| v == KEEP_ID || v == old.uid || v == old.euid || v == old.suid;
        if !(old.privileged() || (ok(r) && ok(e) && ok(s))) {
            return Err(Errno::EPERM);
        }
        set_some(&mut self.uid, r);
        set_some(&mut self.euid, e);
        set_some(&mut self.suid, s);
        Ok(())
    }

    /// setresgid(2), as [`Creds::set_resuid`] for the group ids.
    pub fn set_resgid(&mut self, r: u32, e: u32, s: u32) -> KResult<()> {
        let old = *self;
        let ok = |v: u32| v == KEEP_ID || v == old.gid || v == old.egid || v == old.sgid;
        if !(old.privileged() || (ok(r) && ok(e) && ok(s))) {
            return Err(Errno::EPERM);
        }
        set_some(&mut self.gid, r);
        set_some(&mut self.egid, e);
        set_some(&mut self.sgid, s);
        Ok(())
    }

    /// setreuid(2): unprivileged, the real id may become the real or effective one,
    /// the effective id any of the three. The saved id follows the effective one when
    /// the real id is set or the effective one set to other than the old real id.
    pub fn set_reuid(&mut self, r: u32, e: u32) -> KResult<()> {
        let old = *self;
        if !old.privileged()
            && ((r != KEEP_ID && r != old.uid && r != old.euid)
                || (e != KEEP_ID && e != old.uid && e != old.euid && e != old.suid))
        {
            return Err(Errno::EPERM);
        }
        set_some(&mut self.uid, r);
        set_some(&mut self.euid, e);
        if r != KEEP_ID || (e != KEEP_ID && e != old.uid) {
            self.suid = self.euid;
        }
        Ok(())
    }

    /// setregid(2), as [`Creds::set_reuid`] for the group ids.
    pub fn set_regid(&mut self, r: u32, e: u32) -> KResult<()> {
        let old = *self;
        if !old.privileged()
            && ((r != KEEP_ID && r != old.gid && r != old.egid)
                || (e != KEEP_ID && e != old.gid && e != old.egid && e != old.sgid))
        {
            return Err(Errno::EPERM);
        }
        set_some(&mut self.gid, r);
        set_some(&mut self.egid, e);
        if r != KEEP_ID || (e != KEEP_ID && e != old.gid) {
            self.sgid = self.egid;
        }
        Ok(())
    }

    /// setuid(2): privileged, all three ids; otherwise the effective id, to the real or
    /// saved one. -1 is EINVAL.
    pub fn set_uid(&mut self, u: u32) -> KResult<()> {
        if u == KEEP_ID {
            return Err(Errno::EINVAL);
        }
        if self.privileged() {
            (self.uid, self.euid, self.suid) = (u, u, u);
        } else if u == self.uid || u == self.suid {
            self.euid = u;
        } else {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// setgid(2), as [`Creds::set_uid`] for the group ids.
    pub fn set_gid(&mut self, g: u32) -> KResult<()> {
        if g == KEEP_ID {
            return Err(Errno::EINVAL);
        }
        if self.privileged() {
            (self.gid, self.egid, self.sgid) = (g, g, g);
        } else if g == self.gid || g == self.sgid {
            self.egid = g;
        } else {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// setgroups(2): privileged only; at most [`NGROUPS`] here.
    pub fn set_groups(&mut self, list: &[u32]) -> KResult<()> {
        if !self.privileged() {
            return Err(Errno::EPERM);
        }
        if list.len() > NGROUPS_MAX {
            return Err(Errno::EINVAL);
        }
        if list.len() > NGROUPS {
            uk_log::warn_once!(
                "setgroups: more than {} supplementary groups are not kept here: EINVAL",
                NGROUPS
            );
            return Err(Errno::EINVAL);
        }
        self.groups[..list.len()].copy_from_slice(list);
        self.ngroups = list.len();
        Ok(())
    }

    /// The supplementary groups (getgroups(2)).
    pub fn groups(&self) -> &[u32] {
        &self.groups[..self.ngroups]
    }
}

fn set_some(id: &mut u32, v: u32) {
    if v != KEEP_ID {
        *id = v;
    }
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
    fn root_sets_any_id_and_an_unprivileged_process_only_its_own() {
        let mut c = Creds::default();
        assert_eq!(c.set_resuid(KEEP_ID, KEEP_ID, KEEP_ID), Ok(()));
        assert_eq!(c, Creds::default());
        assert_eq!(c.set_groups(&[5, 7]), Ok(()));
        assert_eq!(c.groups(), &[5, 7]);
        assert_eq!(c.set_groups(&[0; NGROUPS + 1]), Err(Errno::EINVAL));
        assert_eq!(c.set_uid(KEEP_ID), Err(Errno::EINVAL));
        // Root drops its effective uid, keeping 0 as the saved one: it may come back.
        assert_eq!(c.set_resuid(KEEP_ID, 1000, KEEP_ID), Ok(()));
        assert_eq!((c.uid, c.euid, c.suid), (0, 1000, 0));
        assert_eq!(c.set_groups(&[]), Err(Errno::EPERM));
        assert_eq!(c.set_resuid(KEEP_ID, KEEP_ID, 2000), Err(Errno::EPERM));
        assert_eq!(c.set_uid(2000), Err(Errno::EPERM));
        assert_eq!(c.set_gid(3), Err(Errno::EPERM));
        assert_eq!(c.set_resuid(KEEP_ID, 0, KEEP_ID), Ok(()));
        assert_eq!(c.euid, 0);
        // setreuid: setting the real id moves the saved one to the effective one.
        assert_eq!(c.set_reuid(1000, 1001), Ok(()));
        assert_eq!((c.uid, c.euid, c.suid), (1000, 1001, 1001));
        assert_eq!(c.set_reuid(KEEP_ID, 1000), Ok(()));
        assert_eq!((c.uid, c.euid, c.suid), (1000, 1000, 1001));
        assert_eq!(c.set_reuid(0, KEEP_ID), Err(Errno::EPERM));
        // setuid unprivileged: the effective id, to the real or saved one.
        assert_eq!(c.set_uid(1001), Ok(()));
        assert_eq!((c.uid, c.euid, c.suid), (1000, 1001, 1001));
        // Group ids: root's (effective uid 0) privilege is gone.
        assert_eq!(c.set_regid(KEEP_ID, KEEP_ID), Ok(()));
        assert_eq!(c.set_resgid(KEEP_ID, 9, KEEP_ID), Err(Errno::EPERM));
        let mut r = Creds::default();
        assert_eq!(r.set_uid(1000), Ok(()));
        assert_eq!((r.uid, r.euid, r.suid), (1000, 1000, 1000));
        assert_eq!(r.set_uid(0), Err(Errno::EPERM));
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
