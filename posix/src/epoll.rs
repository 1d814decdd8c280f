//! epoll: a set of interests in other files, waited on as one file.
//!
//! An interest holds a weak reference to its file (closing the last descriptor of a file
//! drops the interest, as on Linux) and registers the epoll's own wait queue as a
//! *watcher* of the file's queue, so a thread in `epoll_wait` sleeps on that one queue
//! and any member's `notify` wakes it (see `uk_sched::WaitQueue`).
//!
//! Readiness is computed by scanning members' `poll()` bits:
//! - level-triggered interests are reported on every wait while ready;
//! - edge-triggered ones (EPOLLET) only when the member's change counter for the
//!   interest's event classes moved since the last report
//!   (`WaitQueue::generation`), i.e. after a new write/expiry/close;
//! - EPOLLONESHOT interests are disabled after one report until EPOLL_CTL_MOD.
//!
//! A scan starts after the last interest reported, so a small `maxevents` still visits
//! every ready interest in turn.

use uk_abi::ioctl::FIONBIO;
use uk_abi::poll::{
    EPOLLERR, EPOLLET, EPOLLEXCLUSIVE, EPOLLHUP, EPOLLIN, EPOLLONESHOT, EPOLLOUT, EPOLLWAKEUP,
    EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD,
};
use uk_abi::poll::{POLLERR, POLLHUP, POLLIN, POLLRDNORM};
use uk_abi::stat::{S_IFDIR, S_IFMT, S_IFREG};

use crate::file::File;
use crate::pipe::{fionbio, set_nonblock_from};
use crate::{Errno, KResult};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use uk_sched::{WaitQueue, Wake};

/// Flags that are not events.
const CONTROL: u32 = EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET;
/// What may accompany EPOLLEXCLUSIVE.
const EXCLUSIVE_OK: u32 =
    EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
/// Linux's EP_MAX_NESTS: deepest chain of epolls inside epolls.
const MAX_NESTS: usize = 4;
/// Largest maxevents: INT_MAX / sizeof(struct epoll_event).
pub const EP_MAX_EVENTS: usize = (i32::MAX as usize) / 12;

/// One reported event: the ABI record itself (`struct epoll_event`, packed on x86_64).
pub use uk_abi::poll::EpollEvent;

struct Item {
    fd: i32,
    /// Address of the file object: with `fd`, the interest's identity.
    key: usize,
    file: Weak<dyn File>,
    events: u32,
    data: u64,
    /// Member change counter at the last edge-triggered report (None: never reported).
    last_gen: Option<u64>,
    /// EPOLLONESHOT fired: silent until EPOLL_CTL_MOD.
    disabled: bool,
}

pub struct Epoll {
    queue: Arc<WaitQueue>,
    items: spin::Mutex<Vec<Item>>,
    /// Where the next scan starts.
    next: spin::Mutex<usize>,
    flags: AtomicU32,
}

fn key_of(f: &Arc<dyn File>) -> usize {
    Arc::as_ptr(f) as *const () as usize
}

/// The epoll inside `f`, if it is one.
pub fn as_epoll(f: &dyn File) -> Option<&Epoll> {
    f.as_any().and_then(|a| a.downcast_ref::<Epoll>())
}

/// epoll_create1(2). Flags other than EPOLL_CLOEXEC: EINVAL.
pub fn epoll_create(flags: u32) -> KResult<Arc<Epoll>> {
    if flags & !EPOLL_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Arc::new(Epoll {
        queue: Arc::new(WaitQueue::new()),
        items: spin::Mutex::new(Vec::new()),
        next: spin::Mutex::new(0),
        flags: AtomicU32::new(2),
    }))
}

/// epoll_create1(2) into the descriptor table.
pub fn epoll_create_fd(flags: u32) -> KResult<i32> {
    let e = epoll_create(flags)?;
    crate::process::current().install(e, flags & EPOLL_CLOEXEC != 0)
}

/// epoll_ctl(2) on descriptors, with Linux's order of checks: EBADF for either fd,
/// EPERM for a file that cannot be polled, EINVAL when `epfd` is not an epoll or is
/// `fd` itself, then the operation's own errors.
pub fn epoll_ctl(epfd: i32, op: i32, fd: i32, ev: Option<EpollEvent>) -> KResult<()> {
    let ef = crate::process::current().fds.get(epfd)?;
    let tf = crate::process::current().fds.get(fd)?;
    if as_epoll(&*tf).is_none() {
        if let Ok(st) = tf.stat() {
            let t = st.st_mode & S_IFMT;
            if t == S_IFREG || t == S_IFDIR {
                return Err(Errno::EPERM);
            }
        }
    }
    let ep = ef
        .as_any()
        .and_then(|a| a.downcast_ref::<Epoll>())
        .ok_or(Errno::EINVAL)?;
    ep.ctl(op, fd, &tf, ev)
}

/// The epoll behind `epfd`: EBADF if not open, EINVAL if not an epoll.
pub fn from_fd(epfd: i32) -> KResult<Arc<dyn File>> {
    let f = crate::process::current().fds.get(epfd)?;
    if as_epoll(&*f).is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

/// Does `from` contain `target` (directly or through nested epolls)? Also reports the
/// depth of epolls below `from`.
fn reaches(from: &Epoll, target: *const Epoll, depth: usize) -> (bool, usize) {
    if core::ptr::eq(from, target) {
        return (true, depth);
    }
    if depth > MAX_NESTS {
        return (false, depth);
    }
    let members: Vec<Arc<dyn File>> = from
        .items
        .lock()
        .iter()
        .filter_map(|i| i.file.upgrade())
        .collect();
    let mut deepest = depth;
    for m in members {
        if let Some(e) = as_epoll(&*m) {
            let (hit, d) = reaches(e, target, depth + 1);
            if hit {
                return (true, d);
            }
            deepest = deepest.max(d);
        }
    }
    (false, deepest)
}

/// Is `ev` worth reporting for `item` right now? Returns the bits.
fn ready_bits(item: &Item, f: &dyn File) -> u32 {
    if item.disabled {
        return 0;
    }
    let want = (item.events & !CONTROL) | POLLERR | POLLHUP;
    let bits = f.poll() & want;
    if bits == 0 {
        return 0;
    }
    if item.events & EPOLLET != 0 {
        let gen = f.wait_queue().map(|q| q.generation(want)).unwrap_or(0);
        if item.last_gen == Some(gen) {
            return 0;
        }
    }
    bits
}

impl Epoll {
    /// epoll_ctl(2) with the files already looked up. `ev` is required for ADD and MOD.
    pub fn ctl(
        &self,
        op: i32,
        fd: i32,
        file: &Arc<dyn File>,
        ev: Option<EpollEvent>,
    ) -> KResult<()> {
        // Regular files and directories are always ready: Linux refuses them.
        if let Ok(st) = file.stat() {
            let t = st.st_mode & S_IFMT;
            if as_epoll(&**file).is_none() && (t == S_IFREG || t == S_IFDIR) {
                return Err(Errno::EPERM);
            }
        }
        if key_of(file) == self as *const Epoll as usize {
            return Err(Errno::EINVAL);
        }
        let target_epoll = as_epoll(&**file);
        if let Some(ev) = ev.filter(|e| e.events & EPOLLEXCLUSIVE != 0) {
            if op == EPOLL_CTL_MOD || ev.events & !EXCLUSIVE_OK != 0 || target_epoll.is_some() {
                return Err(Errno::EINVAL);
            }
        }
        if op == EPOLL_CTL_ADD {
            if let Some(inner) = target_epoll {
                // Adding `inner` to self: a loop if inner reaches self; too deep if the
                // chain below inner plus self's own nesting passes EP_MAX_NESTS.
                let (hit, depth) = reaches(inner, self as *const Epoll, 0);
                if hit || depth >= MAX_NESTS {
                    return Err(Errno::ELOOP);
                }
            }
        }
        let key = key_of(file);
        let mut items = self.items.lock();
        items.retain(|i| i.file.strong_count() > 0);
        let pos = items.iter().position(|i| i.fd == fd && i.key == key);
        match op {
            EPOLL_CTL_ADD => {
                if pos.is_some() {
                    return Err(Errno::EEXIST);
                }
                let ev = ev.ok_or(Errno::EFAULT)?;
                items.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
                items.push(Item {
                    fd,
                    key,
                    file: Arc::downgrade(file),
                    events: ev.events,
                    data: ev.data,
                    last_gen: None,
                    disabled: false,
                });
                drop(items);
                if let Some(q) = file.wait_queue() {
                    q.add_watcher(Arc::downgrade(&self.queue));
                }
            }
            EPOLL_CTL_MOD => {
                let i = pos.ok_or(Errno::ENOENT)?;
                let ev = ev.ok_or(Errno::EFAULT)?;
                if items[i].events & EPOLLEXCLUSIVE != 0 {
                    return Err(Errno::EINVAL);
                }
                items[i].events = ev.events;
                items[i].data = ev.data;
                items[i].last_gen = None;
                items[i].disabled = false;
            }
            EPOLL_CTL_DEL => {
                let i = pos.ok_or(Errno::ENOENT)?;
                items.remove(i);
                drop(items);
                if let Some(q) = file.wait_queue() {
                    q.remove_watcher(&Arc::downgrade(&self.queue));
                }
            }
            _ => return Err(Errno::EINVAL),
        }
        // Waiters re-scan: a new or modified interest may already be ready.
        self.queue.notify(POLLIN);
        Ok(())
    }

    /// Collect up to `max` events (marking edge-triggered and one-shot interests as
    /// reported).
    fn collect(&self, max: usize, out: &mut Vec<EpollEvent>) -> usize {
        let mut items = self.items.lock();
        items.retain(|i| i.file.strong_count() > 0);
        let len = items.len();
        if len == 0 {
            return 0;
        }
        let mut next = self.next.lock();
        let start = *next % len;
        let mut last = None;
        for k in 0..len {
            if out.len() >= max {
                break;
            }
            let idx = (start + k) % len;
            let item = &mut items[idx];
            let Some(f) = item.file.upgrade() else {
                continue;
            };
            let bits = ready_bits(item, &*f);
            if bits == 0 {
                continue;
            }
            out.push(EpollEvent {
                events: bits,
                data: item.data,
            });
            if item.events & EPOLLET != 0 {
                let want = (item.events & !CONTROL) | POLLERR | POLLHUP;
                item.last_gen = Some(f.wait_queue().map(|q| q.generation(want)).unwrap_or(0));
            }
            if item.events & EPOLLONESHOT != 0 {
                item.disabled = true;
            }
            last = Some(idx);
        }
        if let Some(l) = last {
            *next = l + 1;
        }
        out.len()
    }

    /// epoll_wait(2): up to `max` events, waiting until `deadline` (None: forever).
    /// EINTR when a signal interrupts the wait.
    pub fn wait(&self, max: usize, deadline: Option<u64>) -> KResult<Vec<EpollEvent>> {
        if max == 0 || max > EP_MAX_EVENTS {
            return Err(Errno::EINVAL);
        }
        let mut out = Vec::new();
        crate::poll::progress(deadline);
        loop {
            if self.collect(max, &mut out) > 0 {
                return Ok(out);
            }
            match self.queue.wait(deadline) {
                Wake::Woken => continue,
                Wake::Timeout => {
                    self.collect(max, &mut out);
                    return Ok(out);
                }
                Wake::Interrupted => return Err(Errno::EINTR),
            }
        }
    }

    /// Number of interests (live members).
    pub fn len(&self) -> usize {
        self.items
            .lock()
            .iter()
            .filter(|i| i.file.strong_count() > 0)
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl File for Epoll {
    fn read(&self, _buf: &mut dyn crate::file::Sink) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    fn write(&self, _buf: &dyn crate::file::Source) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    fn ioctl(&self, cmd: u32, arg: usize) -> KResult<usize> {
        match cmd {
            FIONBIO => fionbio(&self.flags, arg),
            _ => Err(Errno::ENOTTY),
        }
    }

    fn stat(&self) -> KResult<crate::file::Stat> {
        Ok(crate::file::anon_inode_stat())
    }

    fn status_flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    fn set_status_flags(&self, flags: u32) -> KResult<()> {
        set_nonblock_from(&self.flags, flags);
        Ok(())
    }

    /// Readable when some interest would be reported (without consuming it).
    fn poll(&self) -> u32 {
        let items = self.items.lock();
        for item in items.iter() {
            if let Some(f) = item.file.upgrade() {
                if ready_bits(item, &*f) != 0 {
                    return POLLIN | POLLRDNORM;
                }
            }
        }
        0
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
    use crate::pipe::pipe;
    use uk_abi::fcntl::O_NONBLOCK;

    fn ev(events: u32, data: u64) -> Option<EpollEvent> {
        Some(EpollEvent { events, data })
    }

    fn now() -> u64 {
        uk_plat::get().monotonic_ns()
    }

    #[test]
    fn level_vs_edge_and_oneshot() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let ep = epoll_create(0).unwrap();
        let (r1, w1) = pipe(O_NONBLOCK).unwrap();
        let (r2, w2) = pipe(O_NONBLOCK).unwrap();
        let r1f: Arc<dyn File> = r1.clone();
        let r2f: Arc<dyn File> = r2.clone();
        ep.ctl(EPOLL_CTL_ADD, 10, &r1f, ev(EPOLLIN, 0x1111_2222_3333_4444))
            .unwrap();
        ep.ctl(EPOLL_CTL_ADD, 11, &r2f, ev(EPOLLIN | EPOLLET, 7))
            .unwrap();
        assert!(ep.wait(8, Some(0)).unwrap().is_empty());
        w1.write(&&b"a"[..]).unwrap();
        w2.write(&&b"b"[..]).unwrap();
        let e = ep.wait(8, Some(0)).unwrap();
        assert_eq!(e.len(), 2);
        assert!(e.contains(&EpollEvent {
            events: EPOLLIN,
            data: 0x1111_2222_3333_4444
        }));
        assert!(e.contains(&EpollEvent {
            events: EPOLLIN,
            data: 7
        }));
        // Level-triggered reports again; edge-triggered does not until new data.
        let e = ep.wait(8, Some(0)).unwrap();
        assert_eq!(
            e,
            alloc::vec![EpollEvent {
                events: EPOLLIN,
                data: 0x1111_2222_3333_4444
            }]
        );
        w2.write(&&b"c"[..]).unwrap();
        let e = ep.wait(8, Some(0)).unwrap();
        assert_eq!(e.len(), 2);
        // One-shot: reported once, then silent until MOD re-arms it.
        ep.ctl(EPOLL_CTL_MOD, 10, &r1f, ev(EPOLLIN | EPOLLONESHOT, 5))
            .unwrap();
        let e = ep.wait(8, Some(0)).unwrap();
        assert_eq!(
            e,
            alloc::vec![EpollEvent {
                events: EPOLLIN,
                data: 5
            }]
        );
        assert!(ep.wait(8, Some(0)).unwrap().is_empty());
        ep.ctl(EPOLL_CTL_MOD, 10, &r1f, ev(EPOLLIN, 6)).unwrap();
        assert_eq!(ep.wait(8, Some(0)).unwrap().len(), 1);
        // Errors.
        assert_eq!(
            ep.ctl(EPOLL_CTL_ADD, 10, &r1f, ev(EPOLLIN, 0)),
            Err(Errno::EEXIST)
        );
        assert_eq!(ep.ctl(EPOLL_CTL_DEL, 12, &r1f, None), Err(Errno::ENOENT));
        assert_eq!(
            ep.ctl(EPOLL_CTL_MOD, 12, &r1f, ev(EPOLLIN, 0)),
            Err(Errno::ENOENT)
        );
        assert_eq!(ep.ctl(9, 10, &r1f, ev(EPOLLIN, 0)), Err(Errno::EINVAL));
        assert_eq!(
            ep.ctl(EPOLL_CTL_MOD, 10, &r1f, ev(EPOLLIN | EPOLLEXCLUSIVE, 0)),
            Err(Errno::EINVAL)
        );
        assert_eq!(ep.wait(0, Some(0)), Err(Errno::EINVAL));
        ep.ctl(EPOLL_CTL_DEL, 10, &r1f, None).unwrap();
        assert_eq!(ep.len(), 1);
        // Closing the last reference drops the interest.
        drop((r2f, r2, w2, w1));
        assert_eq!(ep.len(), 0);
        drop(r1f);
        drop(r1);
    }

    #[test]
    fn loops_rotation_and_blocking() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let a = epoll_create(0).unwrap();
        let b = epoll_create(0).unwrap();
        let af: Arc<dyn File> = a.clone();
        let bf: Arc<dyn File> = b.clone();
        assert_eq!(
            a.ctl(EPOLL_CTL_ADD, 3, &af, ev(EPOLLIN, 0)),
            Err(Errno::EINVAL)
        );
        a.ctl(EPOLL_CTL_ADD, 4, &bf, ev(EPOLLIN, 0)).unwrap();
        assert_eq!(
            b.ctl(EPOLL_CTL_ADD, 3, &af, ev(EPOLLIN, 0)),
            Err(Errno::ELOOP)
        );
        // Readiness propagates through the nested epoll.
        let e = crate::eventfd::eventfd(0, 0).unwrap();
        let ef: Arc<dyn File> = e.clone();
        b.ctl(EPOLL_CTL_ADD, 5, &ef, ev(EPOLLIN, 9)).unwrap();
        assert_eq!(a.poll(), 0);
        static E: spin::Mutex<Option<Arc<crate::eventfd::EventFd>>> = spin::Mutex::new(None);
        *E.lock() = Some(e.clone());
        fn fire(_: usize) {
            E.lock().take().unwrap().add(1).unwrap();
        }
        let t0 = now();
        uk_sched::add_timer(t0 + 3_000_000, fire, 0);
        let got = a.wait(4, Some(t0 + 1_000_000_000)).unwrap();
        assert_eq!(
            got,
            alloc::vec![EpollEvent {
                events: EPOLLIN,
                data: 0
            }]
        );
        assert!(now() - t0 >= 3_000_000);
        // maxevents 1 with two ready interests alternates between them.
        let c = epoll_create(0).unwrap();
        let e2 = crate::eventfd::eventfd(1, 0).unwrap();
        let e2f: Arc<dyn File> = e2.clone();
        c.ctl(EPOLL_CTL_ADD, 5, &ef, ev(EPOLLIN, 1)).unwrap();
        c.ctl(EPOLL_CTL_ADD, 6, &e2f, ev(EPOLLIN, 2)).unwrap();
        let x = c.wait(1, Some(0)).unwrap()[0].data;
        let y = c.wait(1, Some(0)).unwrap()[0].data;
        assert_ne!(x, y);
        // Timeout with nothing ready.
        let d = epoll_create(0).unwrap();
        let t0 = now();
        assert!(d.wait(1, Some(t0 + 2_000_000)).unwrap().is_empty());
        assert!(now() - t0 >= 2_000_000);
    }
}
