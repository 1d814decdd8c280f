//! Futexes: the one blocking primitive under musl's mutexes, condition variables,
//! barriers, semaphores, rwlocks and pthread_join.
//!
//! Waiters are kept per address (one address space: the address is the key, PRIVATE
//! or not), each with its bitset for FUTEX_WAIT_BITSET/FUTEX_WAKE_BITSET. Addresses a
//! fork family shares hold different memory in each process: there the key also names
//! the caller's address space; a shared file map's word is keyed by the frame behind
//! it, the same for every process that maps the file
//! ([`crate::mm::AddressSpace::futex_key`]).

use uk_abi::sched::FUTEX_BITSET_MATCH_ANY;

use crate::{user, Errno, KResult};
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use uk_sched::{Thread, Wake};

struct Waiter {
    thread: Arc<Thread>,
    bitset: u32,
}

/// (address space or 0, address or frame): crate::mm::AddressSpace::futex_key.
type Key = (usize, usize);

static WAITERS: spin::Mutex<BTreeMap<Key, Vec<Waiter>>> = spin::Mutex::new(BTreeMap::new());

/// The queue a futex word of the caller's memory waits in.
fn key(uaddr: usize) -> Key {
    crate::mm::active().futex_key(uaddr)
}

/// The timeout of a futex call: relative (FUTEX_WAIT) or absolute on a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    None,
    /// Relative nanoseconds.
    Relative(u64),
    /// Absolute nanoseconds on CLOCK_MONOTONIC (realtime=false) or CLOCK_REALTIME.
    Absolute {
        ns: u64,
        realtime: bool,
    },
}

fn check_addr(uaddr: usize) -> KResult<()> {
    if !uaddr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    user::check(uaddr, 4, false)
}

/// FUTEX_WAIT / FUTEX_WAIT_BITSET.
pub fn wait(uaddr: usize, val: u32, timeout: Timeout, bitset: u32) -> KResult<()> {
    check_addr(uaddr)?;
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let cur: u32 = user::read(uaddr)?;
    if cur != val {
        return Err(Errno::EAGAIN);
    }
    let p = uk_plat::get();
    let deadline = match timeout {
        Timeout::None => None,
        Timeout::Relative(ns) => Some(p.monotonic_ns().saturating_add(ns)),
        Timeout::Absolute {
            ns,
            realtime: false,
        } => Some(ns),
        Timeout::Absolute { ns, realtime: true } => {
            let now = p.wall_ns().max(0) as u64;
            Some(p.monotonic_ns().saturating_add(ns.saturating_sub(now)))
        }
    };
    let me = uk_sched::current();
    let k = key(uaddr);
    WAITERS.lock().entry(k).or_default().push(Waiter {
        thread: me.clone(),
        bitset,
    });
    let r = uk_sched::block(deadline);
    // Still queued unless a waker removed us.
    let mut w = WAITERS.lock();
    let mut queued = false;
    if let Some(v) = w.get_mut(&k) {
        let before = v.len();
        v.retain(|x| x.thread.tid != me.tid);
        queued = v.len() != before;
        if v.is_empty() {
            w.remove(&k);
        }
    }
    drop(w);
    match r {
        Wake::Woken if !queued => Ok(()),
        Wake::Woken => Ok(()),
        Wake::Timeout => Err(Errno::ETIMEDOUT),
        Wake::Interrupted => Err(Errno::EINTR),
    }
}

/// FUTEX_WAKE / FUTEX_WAKE_BITSET: wake up to `n` waiters whose bitset matches.
pub fn wake(uaddr: usize, n: u32, bitset: u32) -> KResult<usize> {
    if !uaddr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let mut woken = 0usize;
    let k = key(uaddr);
    let mut w = WAITERS.lock();
    if let Some(v) = w.get_mut(&k) {
        let mut i = 0;
        while i < v.len() && woken < n as usize {
            if v[i].bitset & bitset != 0 {
                let x = v.remove(i);
                if uk_sched::wake(&x.thread) {
                    woken += 1;
                }
            } else {
                i += 1;
            }
        }
        if v.is_empty() {
            w.remove(&k);
        }
    }
    Ok(woken)
}

/// FUTEX_REQUEUE / FUTEX_CMP_REQUEUE: wake `n` waiters of `uaddr`, move up to `n2` of
/// the rest to `uaddr2`. With `cmp`, first check `*uaddr == cmp` (EAGAIN otherwise).
pub fn requeue(uaddr: usize, n: u32, n2: u32, uaddr2: usize, cmp: Option<u32>) -> KResult<usize> {
    check_addr(uaddr)?;
    check_addr(uaddr2)?;
    if (n as i32) < 0 || (n2 as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    if let Some(c) = cmp {
        let cur: u32 = user::read(uaddr)?;
        if cur != c {
            return Err(Errno::EAGAIN);
        }
    }
    let woken = wake(uaddr, n, FUTEX_BITSET_MATCH_ANY)?;
    let mut moved = 0usize;
    if uaddr != uaddr2 {
        let (k1, k2) = (key(uaddr), key(uaddr2));
        let mut w = WAITERS.lock();
        let mut take: Vec<Waiter> = Vec::new();
        if let Some(v) = w.get_mut(&k1) {
            let k = (n2 as usize).min(v.len());
            take.extend(v.drain(..k));
            if v.is_empty() {
                w.remove(&k1);
            }
        }
        moved = take.len();
        if moved > 0 {
            w.entry(k2).or_default().extend(take);
        }
    }
    // Linux returns woken + requeued for both REQUEUE and CMP_REQUEUE.
    Ok(woken + moved)
}

/// Waiters on an address (tests, debugging).
pub fn waiters(uaddr: usize) -> usize {
    let k = key(uaddr);
    WAITERS.lock().get(&k).map(|v| v.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_mismatch_and_bad_args() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let a = crate::user::tests::user_buf(16, true);
        crate::user::write(a, &5u32).unwrap();
        assert_eq!(wait(a, 6, Timeout::None, u32::MAX), Err(Errno::EAGAIN));
        assert_eq!(wait(a + 1, 5, Timeout::None, u32::MAX), Err(Errno::EINVAL));
        assert_eq!(wait(a, 5, Timeout::None, 0), Err(Errno::EINVAL));
        assert_eq!(wait(8, 5, Timeout::None, u32::MAX), Err(Errno::EFAULT));
        assert_eq!(wake(a, 1, u32::MAX), Ok(0));
        assert_eq!(requeue(a, 1, 1, a + 4, Some(9)), Err(Errno::EAGAIN));
    }

    #[test]
    fn timeout_expires() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let a = crate::user::tests::user_buf(4, true);
        crate::user::write(a, &0u32).unwrap();
        let t0 = std::time::Instant::now();
        assert_eq!(
            wait(a, 0, Timeout::Relative(3_000_000), u32::MAX),
            Err(Errno::ETIMEDOUT)
        );
        assert!(t0.elapsed().as_micros() >= 3000);
        assert_eq!(waiters(a), 0);
    }
}
