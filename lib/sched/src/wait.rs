//! Wait queues: threads waiting for a condition that another thread (or a timer)
//! signals.

use crate::{block, current, wake, Thread, Wake};
use alloc::collections::VecDeque;
use alloc::sync::Arc;

#[derive(Default)]
pub struct WaitQueue {
    q: spin::Mutex<VecDeque<Arc<Thread>>>,
}

impl WaitQueue {
    pub const fn new() -> Self {
        WaitQueue {
            q: spin::Mutex::new(VecDeque::new()),
        }
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
