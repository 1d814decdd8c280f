//! The split virtqueue (virtio 1.x §2.7; the same layout legacy devices use).
//!
//! One contiguous, page-aligned block holds the descriptor table, the driver ("avail")
//! ring and, on the next page boundary, the device ("used") ring. That is the layout a
//! legacy transport requires (it only learns one page frame number) and a valid layout
//! for modern transports too, so one allocation serves both.
//!
//! The device is not trusted: [`Virtq::pop_used`] reports an entry whose descriptor id is
//! out of range as [`Used::Bad`], and a used index that runs ahead of what the driver
//! ever made available resynchronises instead of walking off the ring. Lengths are the
//! caller's to check against its own buffer sizes (it knows them; the queue does not).

use core::sync::atomic::{fence, Ordering};

/// Descriptor flags.
pub const DESC_F_NEXT: u16 = 1;
pub const DESC_F_WRITE: u16 = 2;
/// Driver-ring flag: do not interrupt when buffers are used.
pub const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// Device-ring flag: the device does not need to be notified.
pub const USED_F_NO_NOTIFY: u16 = 1;

const PAGE: usize = uk_abi::PAGE_SIZE;

fn align(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

/// Where the parts of a queue of `size` entries lie inside its block, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub avail: usize,
    pub used: usize,
    pub total: usize,
}

impl Layout {
    pub fn new(size: u16) -> Layout {
        let n = size as usize;
        let avail = 16 * n;
        // flags, idx, ring[n], used_event
        let used = align(avail + 6 + 2 * n, PAGE);
        // flags, idx, ring[n] of (id u32, len u32), avail_event
        let total = align(used + 6 + 8 * n, PAGE);
        Layout { avail, used, total }
    }
}

/// What [`Virtq::pop_used`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Used {
    /// Descriptor chain `id` came back with `len` bytes written by the device.
    Ok { id: u16, len: u32 },
    /// The device returned an id outside the descriptor table, or moved its index by
    /// more than the ring holds; the entry is skipped.
    Bad,
}

/// One split virtqueue over memory the driver owns.
pub struct Virtq {
    base: usize,
    size: u16,
    layout: Layout,
    /// The driver ring's index as the driver last published it.
    avail_idx: u16,
    /// How far the driver has consumed the device ring.
    last_used: u16,
}

impl Virtq {
    /// A queue over the zeroed block at `base` (`Layout::new(size).total` bytes,
    /// 4 KiB aligned). `size` must be a power of two (legacy devices require it).
    ///
    /// # Safety
    /// The block must be valid, exclusively owned by this queue (and the device) and
    /// outlive it.
    pub unsafe fn new(base: usize, size: u16) -> Virtq {
        debug_assert!(size.is_power_of_two() && base.is_multiple_of(PAGE));
        Virtq {
            base,
            size,
            layout: Layout::new(size),
            avail_idx: 0,
            last_used: 0,
        }
    }

    pub fn size(&self) -> u16 {
        self.size
    }

    /// Addresses of the descriptor table, driver ring and device ring (identity mapping:
    /// these are also the physical addresses the device uses).
    pub fn addrs(&self) -> (u64, u64, u64) {
        (
            self.base as u64,
            (self.base + self.layout.avail) as u64,
            (self.base + self.layout.used) as u64,
        )
    }

    fn w16(&self, off: usize, v: u16) {
        // SAFETY: `off` lies inside the block (callers index with `% size` or fixed
        // header offsets); the block is owned by this queue (`new`'s contract).
        unsafe { core::ptr::write_volatile((self.base + off) as *mut u16, v.to_le()) }
    }

    fn r16(&self, off: usize) -> u16 {
        // SAFETY: as for `w16`.
        u16::from_le(unsafe { core::ptr::read_volatile((self.base + off) as *const u16) })
    }

    fn r32(&self, off: usize) -> u32 {
        // SAFETY: as for `w16`.
        u32::from_le(unsafe { core::ptr::read_volatile((self.base + off) as *const u32) })
    }

    /// Fill descriptor `i` (a single buffer, no chaining).
    pub fn set_desc(&mut self, i: u16, addr: u64, len: u32, flags: u16) {
        let i = (i % self.size) as usize;
        let p = self.base + 16 * i;
        // SAFETY: descriptor `i` lies inside the table (index reduced modulo size).
        unsafe {
            core::ptr::write_volatile(p as *mut u64, addr.to_le());
            core::ptr::write_volatile((p + 8) as *mut u32, len.to_le());
            core::ptr::write_volatile((p + 12) as *mut u16, flags.to_le());
            core::ptr::write_volatile((p + 14) as *mut u16, 0);
        }
    }

    /// Set or clear the "no interrupt" hint in the driver ring.
    pub fn set_no_interrupt(&mut self, on: bool) {
        self.w16(self.layout.avail, if on { AVAIL_F_NO_INTERRUPT } else { 0 });
    }

    /// Make descriptor `id` available to the device. The caller notifies the device
    /// afterwards (see [`Virtq::needs_notify`]).
    pub fn push_avail(&mut self, id: u16) {
        let slot = (self.avail_idx % self.size) as usize;
        self.w16(self.layout.avail + 4 + 2 * slot, id);
        // The ring entry must be visible before the index that publishes it.
        fence(Ordering::SeqCst);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.w16(self.layout.avail + 2, self.avail_idx);
        fence(Ordering::SeqCst);
    }

    /// Whether the device asked to be notified of new buffers.
    pub fn needs_notify(&self) -> bool {
        self.r16(self.layout.used) & USED_F_NO_NOTIFY == 0
    }

    /// True when the device has returned buffers not yet popped.
    pub fn has_used(&self) -> bool {
        self.r16(self.layout.used + 2) != self.last_used
    }

    /// The next buffer the device returned, if any.
    pub fn pop_used(&mut self) -> Option<Used> {
        let idx = self.r16(self.layout.used + 2);
        if idx == self.last_used {
            return None;
        }
        // Read the entry only after seeing the index that published it.
        fence(Ordering::SeqCst);
        let outstanding = self.avail_idx.wrapping_sub(self.last_used);
        if idx.wrapping_sub(self.last_used) > outstanding {
            // The device claims more than the driver ever handed it: resynchronise
            // instead of reading entries it never wrote.
            self.last_used = idx;
            return Some(Used::Bad);
        }
        let slot = (self.last_used % self.size) as usize;
        let e = self.layout.used + 4 + 8 * slot;
        let (id, len) = (self.r32(e), self.r32(e + 4));
        self.last_used = self.last_used.wrapping_add(1);
        if id >= self.size as u32 {
            return Some(Used::Bad);
        }
        Some(Used::Ok { id: id as u16, len })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A page-aligned, zeroed block on the host heap.
    pub struct Block {
        _mem: Vec<u8>,
        pub base: usize,
    }
    impl Block {
        pub fn new(len: usize) -> Block {
            let v = vec![0u8; len + PAGE];
            let base = align(v.as_ptr() as usize, PAGE);
            Block { _mem: v, base }
        }
    }

    /// The device's side of a queue, for tests: reads the driver ring and writes used
    /// entries.
    pub struct FakeDevice {
        pub base: usize,
        pub size: u16,
        pub seen: u16,
        pub used_idx: u16,
    }
    impl FakeDevice {
        pub fn new(q: &Virtq) -> FakeDevice {
            FakeDevice {
                base: q.base,
                size: q.size,
                seen: 0,
                used_idx: 0,
            }
        }
        fn l(&self) -> Layout {
            Layout::new(self.size)
        }
        /// The next available descriptor: (id, addr, len, flags).
        pub fn take(&mut self) -> Option<(u16, u64, u32, u16)> {
            let l = self.l();
            // SAFETY: test memory owned by the Block.
            unsafe {
                let idx = *((self.base + l.avail + 2) as *const u16);
                if idx == self.seen {
                    return None;
                }
                let slot = (self.seen % self.size) as usize;
                let id = *((self.base + l.avail + 4 + 2 * slot) as *const u16);
                self.seen = self.seen.wrapping_add(1);
                let d = self.base + 16 * id as usize;
                Some((
                    id,
                    *(d as *const u64),
                    *((d + 8) as *const u32),
                    *((d + 12) as *const u16),
                ))
            }
        }
        /// Publish a used entry with any id and length (well-formed or not).
        pub fn give(&mut self, id: u32, len: u32) {
            let l = self.l();
            let slot = (self.used_idx % self.size) as usize;
            // SAFETY: test memory owned by the Block.
            unsafe {
                let e = self.base + l.used + 4 + 8 * slot;
                *(e as *mut u32) = id;
                *((e + 4) as *mut u32) = len;
                self.used_idx = self.used_idx.wrapping_add(1);
                *((self.base + l.used + 2) as *mut u16) = self.used_idx;
            }
        }
        /// Move the used index without writing entries (a misbehaving device).
        pub fn jump(&mut self, by: u16) {
            self.used_idx = self.used_idx.wrapping_add(by);
            // SAFETY: test memory owned by the Block.
            unsafe { *((self.base + self.l().used + 2) as *mut u16) = self.used_idx };
        }
    }

    #[test]
    fn layout_matches_the_legacy_formula() {
        let l = Layout::new(256);
        assert_eq!(l.avail, 4096);
        assert_eq!(l.used, 8192, "used ring on the page after desc + avail");
        assert_eq!(l.total, 12288);
        let l = Layout::new(8);
        assert_eq!((l.avail, l.used, l.total), (128, 4096, 8192));
    }

    #[test]
    fn round_trip_and_wraparound() {
        let b = Block::new(Layout::new(4).total);
        // SAFETY: the block is page-aligned, zeroed, and outlives the queue.
        let mut q = unsafe { Virtq::new(b.base, 4) };
        let mut dev = FakeDevice::new(&q);
        for round in 0..10u32 {
            for i in 0..4u16 {
                q.set_desc(i, 0x1000 * i as u64, 100, DESC_F_WRITE);
                q.push_avail(i);
            }
            for _ in 0..4 {
                let (id, addr, len, flags) = dev.take().unwrap();
                assert_eq!((addr, len, flags), (0x1000 * id as u64, 100, DESC_F_WRITE));
                dev.give(id as u32, 60 + round);
            }
            assert!(dev.take().is_none());
            assert!(q.has_used());
            for i in 0..4u16 {
                assert_eq!(
                    q.pop_used(),
                    Some(Used::Ok {
                        id: i,
                        len: 60 + round
                    })
                );
            }
            assert_eq!(q.pop_used(), None);
            assert!(!q.has_used());
        }
    }

    #[test]
    fn bad_ids_and_runaway_indices_are_reported_not_followed() {
        let b = Block::new(Layout::new(8).total);
        // SAFETY: as above.
        let mut q = unsafe { Virtq::new(b.base, 8) };
        let mut dev = FakeDevice::new(&q);
        q.push_avail(0);
        q.push_avail(1);
        dev.give(8, 10); // id out of range
        dev.give(1, 10);
        assert_eq!(q.pop_used(), Some(Used::Bad));
        assert_eq!(q.pop_used(), Some(Used::Ok { id: 1, len: 10 }));
        // The device claims 100 more buffers than it was ever given.
        dev.jump(100);
        assert_eq!(q.pop_used(), Some(Used::Bad));
        assert_eq!(q.pop_used(), None, "resynchronised to the device's index");
    }
}
