//! Wait queues: threads waiting for a condition that another thread (or a timer)
//! signals.
//!
//! # Readiness (poll, select, epoll)
//!
//! A pollable object (pipe, eventfd, timerfd, epoll, socket) owns one `WaitQueue` and
//! calls [`WaitQueue::notify`] with the poll bits that may have changed whenever its
//! readiness changes. That one call serves three kinds of waiter:
//!
//! - threads blocked on the queue itself (`wait`, `wait_until`) are woken;
//! - threads waiting on *many* queues at once (poll/select) registered themselves on
//!   each with [`WaitQueue::register`], blocked once through [`wait_any`], and are woken
//!   by whichever queue notifies first; `wait_any` removes them from all queues after;
//! - *watchers* (an epoll instance's own queue, added with [`WaitQueue::add_watcher`])
//!   are notified in turn, so a thread in epoll_wait sleeps on the epoll's queue only
//!   and nested epolls propagate readiness upwards. Callers must not build cycles
//!   (epoll_ctl refuses them with ELOOP).
//!
//! Edge-triggered epoll needs to know that something *happened*, not only what the
//! state is: every `notify` bumps a change counter per readiness class (input-like bits
//! and output-like bits). [`WaitQueue::generation`] sums the counters of the classes an
//! interest cares about; an edge-triggered interest reports only when that sum moved
//! since its last report. A read that makes a pipe writable thus does not re-report an
//! EPOLLIN|EPOLLET interest, as on Linux.

use crate::{block, current, wake, Thread, Wake};
use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

/// Poll bits that belong to the input class of [`WaitQueue::notify`]
/// (POLLIN, POLLPRI, POLLERR, POLLHUP, POLLRDNORM, POLLRDBAND, POLLMSG, POLLRDHUP).
pub const NOTIFY_IN: u32 = 0x001 | 0x002 | 0x008 | 0x010 | 0x040 | 0x080 | 0x400 | 0x2000;
/// Poll bits of the output class (POLLOUT, POLLERR, POLLHUP, POLLWRNORM, POLLWRBAND).
pub const NOTIFY_OUT: u32 = 0x004 | 0x008 | 0x010 | 0x100 | 0x200;

#[derive(Default)]
pub struct WaitQueue {
    q: spin::Mutex<VecDeque<Arc<Thread>>>,
    /// Change counters for edge-triggered pollers: [input class, output class].
    gens: [AtomicU64; 2],
    /// Queues notified after this one (epoll instances watching this object).
    watchers: spin::Mutex<Vec<Weak<WaitQueue>>>,
}

impl WaitQueue {
    pub const fn new() -> Self {
        WaitQueue {
            q: spin::Mutex::new(VecDeque::new()),
            gens: [AtomicU64::new(0), AtomicU64::new(0)],
            watchers: spin::Mutex::new(Vec::new()),
        }
    }

    /// Readiness changed (`bits`: the poll bits that may have changed): bump the change
    /// counters, wake every waiter, and notify the watchers (with POLLIN: a watcher is
    /// an epoll instance, which becomes readable).
    pub fn notify(&self, bits: u32) {
        if bits & NOTIFY_IN != 0 {
            self.gens[0].fetch_add(1, Ordering::Relaxed);
        }
        if bits & NOTIFY_OUT != 0 {
            self.gens[1].fetch_add(1, Ordering::Relaxed);
        }
        self.wake_all();
        let watchers: Vec<Arc<WaitQueue>> = {
            let mut w = self.watchers.lock();
            w.retain(|x| x.strong_count() > 0);
            w.iter().filter_map(|x| x.upgrade()).collect()
        };
        for w in watchers {
            w.notify(0x001);
        }
    }

    /// The sum of the change counters of the classes `bits` belongs to; it moves on
    /// every [`notify`](Self::notify) that concerns `bits`.
    pub fn generation(&self, bits: u32) -> u64 {
        let mut g = 0u64;
        if bits & NOTIFY_IN != 0 {
            g = g.wrapping_add(self.gens[0].load(Ordering::Relaxed));
        }
        if bits & NOTIFY_OUT != 0 {
            g = g.wrapping_add(self.gens[1].load(Ordering::Relaxed));
        }
        g
    }

    /// Notify `w` whenever this queue is notified (one entry per call; remove with
    /// [`remove_watcher`](Self::remove_watcher)). Dead watchers are dropped lazily.
    pub fn add_watcher(&self, w: Weak<WaitQueue>) {
        self.watchers.lock().push(w);
    }

    /// Undo one [`add_watcher`](Self::add_watcher) of `w`.
    pub fn remove_watcher(&self, w: &Weak<WaitQueue>) {
        let mut v = self.watchers.lock();
        if let Some(i) = v.iter().position(|x| Weak::ptr_eq(x, w)) {
            v.swap_remove(i);
        }
    }

    /// Put `t` on this queue (once) without blocking: the first step of waiting on
    /// several queues ([`wait_any`]).
    pub fn register(&self, t: &Arc<Thread>) {
        let mut q = self.q.lock();
        if !q.iter().any(|x| x.tid == t.tid) {
            q.push_back(t.clone());
        }
    }

    /// Take thread `tid` off this queue if it is still there.
    pub fn unregister(&self, tid: i32) {
        self.remove(tid);
    }

    /// Block until woken through this queue, interrupted, or `deadline`.
    pub fn wait(&self, deadline: Option<u64>) -> Wake {
        let me = current();
        self.q.lock().push_back(me.clone());
        let r = block(deadline);
        // On timeout or interruption we are still queued: leave.
        self.q.lock().retain(|t| t.tid != me.tid);
        r
    }

    /// Block until `ready()` holds (checked before each wait), a signal interrupts, or
    /// the deadline passes.
    pub fn wait_until(&self, deadline: Option<u64>, mut ready: impl FnMut() -> bool) -> Wake {
        loop {
            if ready() {
                return Wake::Woken;
            }
            match self.wait(deadline) {
                Wake::Woken => continue,
                other => {
                    if ready() {
                        return Wake::Woken;
                    }
                    return other;
                }
            }
        }
    }

    /// Wake up to `n` waiters; returns how many were woken.
    pub fn wake(&self, n: usize) -> usize {
        let mut woken = 0;
        while woken < n {
            let Some(t) = self.q.lock().pop_front() else {
                break;
            };
            if wake(&t) {
                woken += 1;
            }
        }
        woken
    }

    pub fn wake_all(&self) -> usize {
        self.wake(usize::MAX)
    }

    /// Number of waiters.
    pub fn len(&self) -> usize {
        self.q.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Move up to `n` waiters to `other` without waking them (FUTEX_REQUEUE).
    pub fn requeue(&self, other: &WaitQueue, n: usize) -> usize {
        let mut moved = 0;
        while moved < n {
            let Some(t) = self.q.lock().pop_front() else {
                break;
            };
            other.q.lock().push_back(t);
            moved += 1;
        }
        moved
    }

    /// Remove a specific thread (used when a waiter gives up for its own reasons).
    pub fn remove(&self, tid: i32) {
        self.q.lock().retain(|t| t.tid != tid);
    }
}

/// Block the running thread on several queues at once until one of them wakes it, a
/// signal interrupts it, or `deadline` (monotonic ns) passes; then leave all of them.
/// The caller checks its conditions before and after (one CPU, no preemption: nothing
/// can change between the check and the block).
pub fn wait_any(queues: &[&WaitQueue], deadline: Option<u64>) -> Wake {
    let me = current();
    for q in queues {
        q.register(&me);
    }
    let r = block(deadline);
    for q in queues {
        q.unregister(me.tid);
    }
    r
}
