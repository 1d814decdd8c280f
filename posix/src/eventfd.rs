//! eventfd: a 64-bit counter as a file.
//!
//! A write adds to the counter (waiting while the sum would pass 2^64-2); a read takes
//! the whole counter, or 1 in semaphore mode, waiting while it is 0. Reads and writes
//! move exactly 8 bytes; shorter buffers are EINVAL.

use uk_abi::fcntl::O_NONBLOCK;
use uk_abi::fcntl::O_RDWR;
use uk_abi::ioctl::FIONBIO;
use uk_abi::poll::{EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE};
use uk_abi::poll::{POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};

use crate::file::{File, Sink, Source, Stat};
use crate::pipe::{fionbio, set_nonblock_from};
use crate::{Errno, KResult};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};
use uk_sched::{WaitQueue, Wake};

/// The counter never exceeds this.
pub const EFD_MAX: u64 = u64::MAX - 1;

pub struct EventFd {
    count: spin::Mutex<u64>,
    semaphore: bool,
    flags: AtomicU32,
    queue: WaitQueue,
}

/// eventfd2(2). Flags other than EFD_SEMAPHORE, EFD_CLOEXEC, EFD_NONBLOCK: EINVAL.
pub fn eventfd(initval: u32, flags: u32) -> KResult<Arc<EventFd>> {
    if flags & !(EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Arc::new(EventFd {
        count: spin::Mutex::new(initval as u64),
        semaphore: flags & EFD_SEMAPHORE != 0,
        flags: AtomicU32::new(O_RDWR | (flags & EFD_NONBLOCK)),
        queue: WaitQueue::new(),
    }))
}

/// eventfd2(2) into the descriptor table.
pub fn eventfd_fd(initval: u32, flags: u32) -> KResult<i32> {
    let e = eventfd(initval, flags)?;
    crate::process::current().install(e, flags & EFD_CLOEXEC != 0)
}

impl EventFd {
    fn nonblock(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & O_NONBLOCK != 0
    }

    /// Take from the counter (the typed read).
    pub fn take(&self) -> KResult<u64> {
        loop {
            {
                let mut c = self.count.lock();
                if *c > 0 {
                    let v = if self.semaphore { 1 } else { *c };
                    *c -= v;
                    drop(c);
                    self.queue.notify(POLLOUT);
                    return Ok(v);
                }
            }
            if self.nonblock() {
                return Err(Errno::EAGAIN);
            }
            if self.queue.wait(None) == Wake::Interrupted {
                return Err(Errno::EINTR);
            }
        }
    }

    /// Add to the counter (the typed write). u64::MAX: EINVAL.
    pub fn add(&self, v: u64) -> KResult<()> {
        if v == u64::MAX {
            return Err(Errno::EINVAL);
        }
        loop {
            {
                let mut c = self.count.lock();
                if EFD_MAX - *c >= v {
                    *c += v;
                    drop(c);
                    if v > 0 {
                        self.queue.notify(POLLIN);
                    }
                    return Ok(());
                }
            }
            if self.nonblock() {
                return Err(Errno::EAGAIN);
            }
            if self.queue.wait(None) == Wake::Interrupted {
                return Err(Errno::EINTR);
            }
        }
    }
}

impl File for EventFd {
    fn read(&self, buf: &mut dyn Sink) -> KResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let v = self.take()?;
        // As on Linux, a value taken for a buffer that turns out bad is gone.
        buf.write_at(0, &v.to_ne_bytes())?;
        Ok(8)
    }

    fn write(&self, buf: &dyn Source) -> KResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let mut b = [0u8; 8];
        buf.read_at(0, &mut b)?;
        self.add(u64::from_ne_bytes(b))?;
        Ok(8)
    }

    fn ioctl(&self, cmd: u32, arg: usize) -> KResult<usize> {
        match cmd {
            FIONBIO => fionbio(&self.flags, arg),
            _ => Err(Errno::ENOTTY),
        }
    }

    fn stat(&self) -> KResult<Stat> {
        Ok(crate::file::anon_inode_stat())
    }

    fn status_flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    fn set_status_flags(&self, flags: u32) -> KResult<()> {
        set_nonblock_from(&self.flags, flags);
        Ok(())
    }

    fn poll(&self) -> u32 {
        let c = *self.count.lock();
        let mut m = 0;
        if c > 0 {
            m |= POLLIN | POLLRDNORM;
        }
        if c < EFD_MAX {
            m |= POLLOUT | POLLWRNORM;
        }
        m
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

    fn rd(e: &EventFd) -> KResult<u64> {
        let mut b = [0u8; 8];
        e.read(&mut &mut b[..])?;
        Ok(u64::from_ne_bytes(b))
    }

    #[test]
    fn counter_and_semaphore() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let e = eventfd(3, EFD_NONBLOCK).unwrap();
        e.write(&&5u64.to_ne_bytes()[..]).unwrap();
        assert_eq!(rd(&e), Ok(8));
        assert_eq!(rd(&e), Err(Errno::EAGAIN));
        assert_eq!(e.poll() & POLLIN, 0);
        let s = eventfd(2, EFD_NONBLOCK | EFD_SEMAPHORE).unwrap();
        assert_eq!(rd(&s), Ok(1));
        assert_eq!(rd(&s), Ok(1));
        assert_eq!(rd(&s), Err(Errno::EAGAIN));
    }

    #[test]
    fn sizes_overflow_and_flags() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let e = eventfd(0, EFD_NONBLOCK).unwrap();
        assert_eq!(e.read(&mut &mut [0u8; 7][..]), Err(Errno::EINVAL));
        assert_eq!(e.write(&&[0u8; 4][..]), Err(Errno::EINVAL));
        assert_eq!(e.write(&&u64::MAX.to_ne_bytes()[..]), Err(Errno::EINVAL));
        e.write(&&(EFD_MAX - 1).to_ne_bytes()[..]).unwrap();
        e.write(&&1u64.to_ne_bytes()[..]).unwrap();
        assert_eq!(e.poll() & POLLOUT, 0, "full counter is not writable");
        assert_eq!(e.write(&&1u64.to_ne_bytes()[..]), Err(Errno::EAGAIN));
        assert_eq!(
            e.write(&&0u64.to_ne_bytes()[..]),
            Ok(8),
            "adding 0 always fits"
        );
        assert_eq!(rd(&e), Ok(EFD_MAX));
        assert_eq!(eventfd(0, 0x10).err(), Some(Errno::EINVAL));
        assert_eq!(e.status_flags(), O_RDWR | O_NONBLOCK);
    }

    #[test]
    fn blocking_read_woken_by_timer_write() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let e = eventfd(0, 0).unwrap();
        static E: spin::Mutex<Option<Arc<EventFd>>> = spin::Mutex::new(None);
        *E.lock() = Some(e.clone());
        fn fire(_: usize) {
            let e = E.lock().take().unwrap();
            e.add(42).unwrap();
        }
        let now = uk_plat::get().monotonic_ns();
        uk_sched::add_timer(now + 2_000_000, fire, 0);
        assert_eq!(e.take(), Ok(42));
        assert!(uk_plat::get().monotonic_ns() >= now + 2_000_000);
    }
}
