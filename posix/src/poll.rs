//! poll(2) and select(2): wait for readiness on many descriptors at once.
//!
//! Both scan the files' [`File::poll`] bits; when nothing is ready they put the thread
//! on every file's wait queue, block once until one of them notifies, a signal, or the
//! deadline (`uk_sched::wait_any`), and scan again. Files without a wait queue are
//! always ready, so they never need one.

use crate::file::File;
use crate::{Errno, KResult};
use alloc::sync::Arc;
use alloc::vec::Vec;
use uk_abi::poll::{POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI};
use uk_sched::{WaitQueue, Wake};

pub use uk_abi::poll::Pollfd;

/// POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR: what makes an fd readable for
/// select.
const SELECT_IN: u32 = 0x040 | 0x080 | POLLIN | POLLHUP | POLLERR;
/// POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR.
const SELECT_OUT: u32 = 0x200 | 0x100 | POLLOUT | POLLERR;
const SELECT_EX: u32 = POLLPRI;

fn deadline_passed(deadline: Option<u64>) -> bool {
    deadline.is_some_and(|d| uk_plat::get().monotonic_ns() >= d)
}

/// Block on all `files`' queues until one notifies, a signal (EINTR) or the deadline.
/// Returns false on timeout.
fn wait_files(files: &[Option<Arc<dyn File>>], deadline: Option<u64>) -> KResult<bool> {
    let queues: Vec<&WaitQueue> = files
        .iter()
        .flatten()
        .filter_map(|f| f.wait_queue())
        .collect();
    match uk_sched::wait_any(&queues, deadline) {
        Wake::Interrupted => Err(Errno::EINTR),
        Wake::Timeout => Ok(false),
        Wake::Woken => Ok(true),
    }
}

/// poll(2) over checked `fds`, until `deadline` (monotonic ns; None: forever). Fills
/// `revents` and returns how many entries have one. Negative fds are skipped; fds not
/// open report POLLNVAL. More entries than RLIMIT_NOFILE: EINVAL.
pub fn poll(fds: &mut [Pollfd], deadline: Option<u64>) -> KResult<usize> {
    if fds.len() > crate::process::current().limits.nofile() {
        return Err(Errno::EINVAL);
    }
    progress(deadline);
    loop {
        let files: Vec<Option<Arc<dyn File>>> = fds
            .iter()
            .map(|p| {
                if p.fd < 0 {
                    None
                } else {
                    crate::process::current().fds.get(p.fd).ok()
                }
            })
            .collect();
        let mut n = 0;
        for (p, f) in fds.iter_mut().zip(&files) {
            let bits = if p.fd < 0 {
                0
            } else {
                match f {
                    Some(f) => f.poll() & (p.events as u16 as u32 | POLLERR | POLLHUP),
                    None => POLLNVAL,
                }
            };
            p.revents = bits as u16 as i16;
            if bits != 0 {
                n += 1;
            }
        }
        if n > 0 || deadline_passed(deadline) {
            return Ok(n);
        }
        if !wait_files(&files, deadline)? {
            // Timed out: one last look (a notify may have raced the deadline).
            let mut n = 0;
            for (p, f) in fds.iter_mut().zip(&files) {
                if let Some(f) = f {
                    let bits = f.poll() & (p.events as u16 as u32 | POLLERR | POLLHUP);
                    p.revents = bits as u16 as i16;
                    n += usize::from(bits != 0);
                }
            }
            return Ok(n);
        }
    }
}

/// The three `fd_set`s of select(2), as 64-bit words (bit `fd % 64` of word `fd / 64`).
#[derive(Default)]
pub struct FdSets<'a> {
    pub read: Option<&'a mut [u64]>,
    pub write: Option<&'a mut [u64]>,
    pub except: Option<&'a mut [u64]>,
}

fn bit(set: &Option<&mut [u64]>, fd: usize) -> bool {
    set.as_ref()
        .is_some_and(|s| s.get(fd / 64).is_some_and(|w| w & (1 << (fd % 64)) != 0))
}

fn set_bit(set: &mut Option<&mut [u64]>, fd: usize, on: bool) {
    if let Some(s) = set.as_mut() {
        if let Some(w) = s.get_mut(fd / 64) {
            if on {
                *w |= 1 << (fd % 64);
            } else {
                *w &= !(1 << (fd % 64));
            }
        }
    }
}

/// select(2) over the first `n` descriptors until `deadline`. Every descriptor named in
/// a set must be open (EBADF). On return the sets hold the ready descriptors and the
/// result is the number of bits set. `n` above RLIMIT_NOFILE is clamped, as Linux
/// clamps it to the table size.
pub fn select(n: usize, sets: &mut FdSets<'_>, deadline: Option<u64>) -> KResult<usize> {
    let n = n.min(crate::process::current().limits.nofile());
    progress(deadline);
    // (fd, asked for read, write, except, file). The three sets are judged apart: a bit
    // shared by two of the masks (POLLERR is in both SELECT_IN and SELECT_OUT) must
    // only answer for the sets the program passed.
    let mut wanted: Vec<(usize, [bool; 3], Arc<dyn File>)> = Vec::new();
    for fd in 0..n {
        let asked = [
            bit(&sets.read, fd),
            bit(&sets.write, fd),
            bit(&sets.except, fd),
        ];
        if asked.contains(&true) {
            let f = crate::process::current().fds.get(fd as i32)?;
            wanted.push((fd, asked, f));
        }
    }
    let files: Vec<Option<Arc<dyn File>>> = wanted.iter().map(|w| Some(w.2.clone())).collect();
    let scan = |sets: &mut FdSets<'_>, commit: bool| -> usize {
        let mut count = 0;
        let mut results: Vec<(usize, bool, bool, bool)> = Vec::new();
        for (fd, asked, f) in &wanted {
            let r = f.poll();
            let rd = asked[0] && r & SELECT_IN != 0;
            let wr = asked[1] && r & SELECT_OUT != 0;
            let ex = asked[2] && r & SELECT_EX != 0;
            count += usize::from(rd) + usize::from(wr) + usize::from(ex);
            results.push((*fd, rd, wr, ex));
        }
        if commit || count > 0 {
            for (fd, rd, wr, ex) in results {
                set_bit(&mut sets.read, fd, rd);
                set_bit(&mut sets.write, fd, wr);
                set_bit(&mut sets.except, fd, ex);
            }
        }
        count
    };
    loop {
        let c = scan(sets, false);
        if c > 0 {
            return Ok(c);
        }
        if deadline_passed(deadline) || !wait_files(&files, deadline)? {
            return Ok(scan(sets, true));
        }
    }
}

/// Run `f` with the signal mask temporarily set to `mask` (ppoll, pselect6,
/// epoll_pwait), restoring the caller's mask afterwards. A signal already pending that
/// `mask` lets through makes the call EINTR at once, as on Linux.
///
/// Known gap: the caller's mask is restored before the shim delivers signals, so a
/// signal that only `mask` unblocks interrupts the wait (EINTR) but its handler runs
/// only once the caller's own mask allows it. Exact semantics need a "saved mask"
/// entry point in `crate::signal` (as rt_sigsuspend has).
pub fn with_sigmask<T>(mask: Option<u64>, f: impl FnOnce() -> KResult<T>) -> KResult<T> {
    let Some(m) = mask else { return f() };
    crate::process::current().signals.begin_temporary_mask(m);
    let r = if crate::process::current().signals.deliverable_now() {
        Err(Errno::EINTR)
    } else {
        f()
    };
    if !matches!(r, Err(Errno::EINTR)) {
        crate::process::current().signals.end_temporary_mask();
    }
    r
}

/// A poll, select or epoll_wait that will not block (timeout 0, or the deadline has
/// passed) lets the network make progress first: received frames, due TCP timers and
/// deferred output, bounded work done by the caller (`uk_net::progress`). Without it a
/// program that polls and never blocks would never see its input, since the net thread
/// only runs when the program blocks. Nothing to do costs a few atomic loads.
pub fn progress(deadline: Option<u64>) {
    #[cfg(feature = "net")]
    if deadline.is_some_and(|d| d <= uk_plat::get().monotonic_ns()) {
        uk_net::progress(true);
    }
    #[cfg(not(feature = "net"))]
    let _ = deadline;
}

/// A relative timeout in nanoseconds as a monotonic deadline.
pub fn deadline_after(ns: u64) -> u64 {
    uk_plat::get().monotonic_ns().saturating_add(ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipe::pipe;
    use uk_abi::fcntl::O_NONBLOCK;

    const MS: u64 = 1_000_000;

    #[test]
    fn poll_ready_nval_and_timeout() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let (r, w) = pipe(O_NONBLOCK).unwrap();
        let rfd = crate::process::current().install(r, false).unwrap();
        let wfd = crate::process::current().install(w.clone(), false).unwrap();
        let mut fds = [
            Pollfd {
                fd: rfd,
                events: POLLIN as i16,
                revents: 0,
            },
            Pollfd {
                fd: wfd,
                events: POLLOUT as i16,
                revents: 0,
            },
            Pollfd {
                fd: -1,
                events: POLLIN as i16,
                revents: 7,
            },
            Pollfd {
                fd: 999,
                events: POLLIN as i16,
                revents: 0,
            },
        ];
        assert_eq!(poll(&mut fds, Some(0)).unwrap(), 2);
        assert_eq!(fds[0].revents, 0);
        assert_eq!(fds[1].revents as u32, POLLOUT);
        assert_eq!(fds[2].revents, 0);
        assert_eq!(fds[3].revents as u32, POLLNVAL);
        // Only the read end: times out after ~5 ms with nothing ready.
        let t0 = uk_plat::get().monotonic_ns();
        assert_eq!(
            poll(&mut fds[..1], Some(deadline_after(5 * MS))).unwrap(),
            0
        );
        assert!(uk_plat::get().monotonic_ns() - t0 >= 5 * MS);
        w.write(&&b"x"[..]).unwrap();
        assert_eq!(poll(&mut fds[..1], None).unwrap(), 1);
        assert_eq!(fds[0].revents as u32, POLLIN);
        crate::process::current().fds.close(wfd).unwrap();
        drop(w);
        let mut b = [0u8; 4];
        crate::process::current()
            .fds
            .get(rfd)
            .unwrap()
            .read(&mut &mut b[..])
            .unwrap();
        assert_eq!(poll(&mut fds[..1], Some(0)).unwrap(), 1);
        assert_eq!(
            fds[0].revents as u32, POLLHUP,
            "POLLHUP is reported unasked"
        );
        crate::process::current().fds.close(rfd).unwrap();
    }

    #[test]
    fn poll_wakes_on_timer_driven_write() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let e = crate::eventfd::eventfd(0, 0).unwrap();
        let fd = crate::process::current().install(e.clone(), false).unwrap();
        static E: spin::Mutex<Option<Arc<crate::eventfd::EventFd>>> = spin::Mutex::new(None);
        *E.lock() = Some(e);
        fn fire(_: usize) {
            E.lock().take().unwrap().add(1).unwrap();
        }
        let t0 = uk_plat::get().monotonic_ns();
        uk_sched::add_timer(t0 + 3 * MS, fire, 0);
        let mut fds = [Pollfd {
            fd,
            events: POLLIN as i16,
            revents: 0,
        }];
        assert_eq!(poll(&mut fds, Some(deadline_after(1000 * MS))).unwrap(), 1);
        let dt = uk_plat::get().monotonic_ns() - t0;
        assert!((3 * MS..500 * MS).contains(&dt), "woke after {dt} ns");
        crate::process::current().fds.close(fd).unwrap();
    }

    #[test]
    fn select_sets_and_ebadf() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let (r, w) = pipe(O_NONBLOCK).unwrap();
        let rfd = crate::process::current().install(r, false).unwrap() as usize;
        let wfd = crate::process::current().install(w, false).unwrap() as usize;
        let mut rd = [1u64 << rfd | 1 << wfd];
        let mut wr = [1u64 << rfd | 1 << wfd];
        let mut sets = FdSets {
            read: Some(&mut rd),
            write: Some(&mut wr),
            except: None,
        };
        assert_eq!(select(64, &mut sets, Some(0)).unwrap(), 1);
        assert_eq!(rd[0], 0);
        assert_eq!(wr[0], 1 << wfd);
        let mut rd = [1u64 << 60];
        let mut sets = FdSets {
            read: Some(&mut rd),
            ..FdSets::default()
        };
        assert_eq!(select(64, &mut sets, Some(0)), Err(Errno::EBADF));
        // Timeout: sets come back empty.
        let mut rd = [1u64 << rfd];
        let mut sets = FdSets {
            read: Some(&mut rd),
            ..FdSets::default()
        };
        assert_eq!(
            select(64, &mut sets, Some(deadline_after(2 * MS))).unwrap(),
            0
        );
        assert_eq!(rd[0], 0);
        crate::process::current().fds.close(rfd as i32).unwrap();
        crate::process::current().fds.close(wfd as i32).unwrap();
    }
}
