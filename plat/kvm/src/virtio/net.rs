//! virtio-net: one receive and one transmit queue, no offloads, no mergeable buffers.
//!
//! Discovery (before the heap exists) only records the transport; the queues and their
//! buffers are set up from the kernel heap on first use ([`VirtioNet::bring_up`]), which
//! lib/net's start-up reaches through the `NetDevice` methods. Every receive buffer is
//! one descriptor of [`BUF`] bytes (header + the largest frame); descriptor `i` always
//! owns buffer `i`, so a used entry names its buffer by id alone.
//!
//! Receive is interrupt-driven in the kvm sense: the device's interrupt only ends the
//! `hlt` in `Platform::wait`; [`VirtioNet::poll_event`] then runs there, outside
//! interrupt context, acknowledges the device and reports whether frames wait, and the
//! platform calls `uk_plat::net_event()` so lib/netdev wakes the receiving thread, which
//! calls [`NetDevice::receive`].
//!
//! The device is not trusted: a used entry with an id outside the ring or not currently
//! owned by the device, or a length shorter than the header or longer than the buffer,
//! drops the frame and counts it ([`VirtioNet::dropped`]).

extern crate alloc;

use super::queue::{Layout, Used, Virtq, DESC_F_WRITE};
use super::transport::{
    Transport, F_ANY_LAYOUT, F_VERSION_1, S_ACKNOWLEDGE, S_DRIVER, S_DRIVER_OK, S_FAILED,
    S_FEATURES_OK,
};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use uk_plat::NetDevice;

/// Feature bits of the network device.
pub const F_MAC: u64 = 1 << 5;
pub const F_STATUS: u64 = 1 << 16;

/// Bytes per buffer: the 12-byte header and a VLAN-tagged 1500-byte frame fit easily.
pub const BUF: usize = 2048;
/// Largest frame accepted for sending: Ethernet + one VLAN tag + 1500.
pub const MAX_FRAME: usize = 14 + 4 + 1500;
const RX_SIZE: u16 = 128;
const TX_SIZE: u16 = 64;
const RXQ: u16 = 0;
const TXQ: u16 = 1;

use uk_abi::Errno;

const DOWN: u8 = 0;
const UP: u8 = 1;
const FAILED: u8 = 2;

struct Queues {
    rx: Virtq,
    tx: Virtq,
    rx_mem: usize,
    tx_mem: usize,
    /// Which descriptors the device owns.
    rx_posted: [bool; RX_SIZE as usize],
    tx_busy: [bool; TX_SIZE as usize],
}

/// One virtio network device.
pub struct VirtioNet {
    transport: UnsafeCell<Option<Transport>>,
    name: UnsafeCell<[u8; 16]>,
    state: AtomicU8,
    lock: AtomicBool,
    q: UnsafeCell<Option<Queues>>,
    hdr_len: UnsafeCell<usize>,
    features: AtomicU64,
    dropped: AtomicU64,
}

// SAFETY: `transport` and `name` are written once on the boot path before the device is
// registered; `q` and `hdr_len` only while `lock` is held (single CPU, never across a
// wait).
unsafe impl Sync for VirtioNet {}

/// A spin guard (uncontended on one CPU; it keeps re-entry out).
struct Guard<'a>(&'a AtomicBool);
impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl VirtioNet {
    pub const fn new() -> VirtioNet {
        VirtioNet {
            transport: UnsafeCell::new(None),
            name: UnsafeCell::new(*b"virtio-net0\0\0\0\0\0"),
            state: AtomicU8::new(DOWN),
            lock: AtomicBool::new(false),
            q: UnsafeCell::new(None),
            hdr_len: UnsafeCell::new(12),
            features: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Boot path, before registration: attach the transport of device number `index`.
    ///
    /// # Safety
    /// Called once per device, before the device is registered or used.
    pub unsafe fn attach(&self, t: Transport, index: u8) {
        // SAFETY: the caller guarantees nothing else looks at the device yet.
        unsafe {
            *self.transport.get() = Some(t);
            (*self.name.get())[10] = b'0' + index % 10;
        }
    }

    fn transport(&self) -> Option<&Transport> {
        // SAFETY: written once before registration, read-only afterwards.
        unsafe { (*self.transport.get()).as_ref() }
    }

    fn try_lock(&self) -> Option<Guard<'_>> {
        self.lock
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            .then_some(Guard(&self.lock))
    }

    /// Frames dropped because the device handed back something malformed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Reset, negotiate, set up both queues with their buffers, post every receive
    /// buffer and start the device. Runs once, on first use (the heap exists by then).
    fn bring_up(&self, g: &Guard<'_>) -> bool {
        let _ = g;
        match self.state.load(Ordering::Acquire) {
            UP => return true,
            FAILED => return false,
            _ => {}
        }
        let ok = self.try_bring_up();
        self.state
            .store(if ok { UP } else { FAILED }, Ordering::Release);
        if !ok {
            if let Some(t) = self.transport() {
                t.set_status(t.status() | S_FAILED);
            }
            crate::serial::write(
                b"ukit: virtio-net: the device refused to start; no network on it\n",
            );
        }
        ok
    }

    fn try_bring_up(&self) -> bool {
        let Some(t) = self.transport() else {
            return false;
        };
        if !t.reset() {
            return false;
        }
        t.set_status(S_ACKNOWLEDGE);
        t.set_status(S_ACKNOWLEDGE | S_DRIVER);
        let offered = t.device_features();
        let mut want = F_MAC | F_STATUS;
        if t.is_modern() {
            if offered & F_VERSION_1 == 0 {
                return false;
            }
            want |= F_VERSION_1;
        } else {
            want |= F_ANY_LAYOUT;
        }
        let f = offered & want;
        t.set_driver_features(f);
        self.features.store(f, Ordering::Relaxed);
        if t.is_modern() {
            t.set_status(S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
            if t.status() & S_FEATURES_OK == 0 {
                return false;
            }
        }
        // The header has `num_buffers` only with VERSION_1 (or mergeable buffers, which
        // are not negotiated).
        let hdr = if f & F_VERSION_1 != 0 { 12 } else { 10 };
        if t.queue_max(RXQ) < RX_SIZE || t.queue_max(TXQ) < TX_SIZE {
            return false;
        }
        let (Some(rxm), Some(txm)) = (
            alloc_pages(Layout::new(RX_SIZE).total),
            alloc_pages(Layout::new(TX_SIZE).total),
        ) else {
            return false;
        };
        let (Some(rx_mem), Some(tx_mem)) = (
            alloc_pages(RX_SIZE as usize * BUF),
            alloc_pages(TX_SIZE as usize * BUF),
        ) else {
            return false;
        };
        // SAFETY: fresh, zeroed, page-aligned blocks of the right size, never freed.
        let (mut rx, mut tx) = unsafe { (Virtq::new(rxm, RX_SIZE), Virtq::new(txm, TX_SIZE)) };
        tx.set_no_interrupt(true);
        if !t.setup_queue(RXQ, RX_SIZE, rx.addrs(), true)
            || !t.setup_queue(TXQ, TX_SIZE, tx.addrs(), false)
        {
            return false;
        }
        for i in 0..RX_SIZE {
            rx.set_desc(
                i,
                (rx_mem + i as usize * BUF) as u64,
                BUF as u32,
                DESC_F_WRITE,
            );
            rx.push_avail(i);
        }
        // SAFETY: the lock is held (the caller's guard).
        unsafe {
            *self.hdr_len.get() = hdr;
            *self.q.get() = Some(Queues {
                rx,
                tx,
                rx_mem,
                tx_mem,
                rx_posted: [true; RX_SIZE as usize],
                tx_busy: [false; TX_SIZE as usize],
            });
        }
        let s = t.status();
        t.set_status(s | S_DRIVER_OK);
        t.notify(RXQ);
        true
    }

    /// With the lock held and the device up: the queues and the header length.
    #[allow(clippy::mut_from_ref)]
    fn queues<'a>(&'a self, g: &Guard<'_>) -> Option<(&'a mut Queues, usize)> {
        let _ = g;
        // SAFETY: the guard proves the lock is held; the reference does not outlive it
        // (callers keep it inside the guard's scope).
        unsafe { Some(((*self.q.get()).as_mut()?, *self.hdr_len.get())) }
    }

    /// After a wake-up from `hlt`: acknowledge the device's interrupt; true when
    /// received frames wait (or the device cannot be checked right now).
    pub fn poll_event(&self) -> bool {
        let Some(t) = self.transport() else {
            return false;
        };
        let acked = t.ack_interrupt();
        if self.state.load(Ordering::Acquire) != UP {
            return false;
        }
        let Some(g) = self.try_lock() else {
            return true;
        };
        let _ = acked;
        match self.queues(&g) {
            Some((q, _)) => q.rx.has_used(),
            None => false,
        }
    }

    fn reclaim_tx(&self, q: &mut Queues) {
        while let Some(u) = q.tx.pop_used() {
            match u {
                Used::Ok { id, .. } if q.tx_busy[id as usize] => q.tx_busy[id as usize] = false,
                _ => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

impl Default for VirtioNet {
    fn default() -> Self {
        Self::new()
    }
}

/// Zeroed, page-aligned memory from the kernel heap, kept for the life of the image
/// (identity mapping: its address is what the device uses).
fn alloc_pages(len: usize) -> Option<usize> {
    let l = core::alloc::Layout::from_size_align(len, 4096).ok()?;
    // SAFETY: `l` has a non-zero size.
    let p = unsafe { alloc::alloc::alloc_zeroed(l) };
    (!p.is_null()).then_some(p as usize)
}

impl NetDevice for VirtioNet {
    fn name(&self) -> &str {
        // SAFETY: written before registration only.
        let n = unsafe { &*self.name.get() };
        core::str::from_utf8(&n[..11]).unwrap_or("virtio-net")
    }

    fn mac(&self) -> [u8; 6] {
        let mut m = [0u8; 6];
        if let Some(g) = self.try_lock() {
            self.bring_up(&g);
        }
        if let Some(t) = self.transport() {
            if self.features.load(Ordering::Relaxed) & F_MAC != 0 {
                for (i, b) in m.iter_mut().enumerate() {
                    *b = t.config8(i);
                }
                return m;
            }
        }
        // No address from the device: a fixed locally administered one.
        [0x02, 0x75, 0x6b, 0x69, 0x74, 0x01]
    }

    fn mtu(&self) -> u16 {
        1500
    }

    fn link_up(&self) -> bool {
        if let Some(g) = self.try_lock() {
            if !self.bring_up(&g) {
                return false;
            }
        }
        match self.transport() {
            Some(t) if self.features.load(Ordering::Relaxed) & F_STATUS != 0 => {
                t.config8(6) & 1 != 0
            }
            Some(_) => self.state.load(Ordering::Acquire) == UP,
            None => false,
        }
    }

    fn transmit(&self, frame: &[u8]) -> Result<(), Errno> {
        if frame.len() > MAX_FRAME {
            return Err(Errno::EMSGSIZE);
        }
        let g = self.try_lock().ok_or(Errno::EAGAIN)?;
        if !self.bring_up(&g) {
            return Err(Errno::EIO);
        }
        let (q, hdr) = self.queues(&g).ok_or(Errno::EIO)?;
        self.reclaim_tx(q);
        let Some(id) = q.tx_busy.iter().position(|b| !b) else {
            return Err(Errno::EAGAIN);
        };
        let buf = q.tx_mem + id * BUF;
        // SAFETY: buffer `id` is BUF bytes inside tx_mem and not owned by the device
        // (tx_busy[id] is false); hdr + MAX_FRAME < BUF.
        unsafe {
            core::ptr::write_bytes(buf as *mut u8, 0, hdr);
            core::ptr::copy_nonoverlapping(frame.as_ptr(), (buf + hdr) as *mut u8, frame.len());
        }
        q.tx_busy[id] = true;
        q.tx.set_desc(id as u16, buf as u64, (hdr + frame.len()) as u32, 0);
        q.tx.push_avail(id as u16);
        let notify = q.tx.needs_notify();
        drop(g);
        if notify {
            if let Some(t) = self.transport() {
                t.notify(TXQ);
            }
        }
        Ok(())
    }

    fn receive(&self, out: &mut [u8]) -> Option<usize> {
        let g = self.try_lock()?;
        if !self.bring_up(&g) {
            return None;
        }
        let (q, hdr) = self.queues(&g)?;
        let mut reposted = false;
        let mut result = None;
        while let Some(u) = q.rx.pop_used() {
            let Used::Ok { id, len } = u else {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let i = id as usize;
            if !q.rx_posted[i] {
                // The device returned a buffer it does not own.
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            q.rx_posted[i] = false;
            let len = len as usize;
            let buf = q.rx_mem + i * BUF;
            if len >= hdr && len <= BUF {
                let n = len - hdr;
                let k = n.min(out.len());
                // SAFETY: `hdr + k <= len <= BUF` bytes of buffer `i`, which the device
                // gave back (rx_posted cleared above).
                unsafe {
                    core::ptr::copy_nonoverlapping((buf + hdr) as *const u8, out.as_mut_ptr(), k)
                };
                result = Some(n);
            } else {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            q.rx.set_desc(id, buf as u64, BUF as u32, DESC_F_WRITE);
            q.rx.push_avail(id);
            q.rx_posted[i] = true;
            reposted = true;
            if result.is_some() {
                break;
            }
        }
        let notify = reposted && q.rx.needs_notify();
        drop(g);
        if notify {
            if let Some(t) = self.transport() {
                t.notify(RXQ);
            }
        }
        result
    }
}
