//! 4-level x86_64 page tables for an identity-mapped kernel (kvm).
//!
//! The builder is separate from the hardware: it gets table frames from a [`Frames`]
//! implementation, so the kvm platform hands it physical pages while unit tests hand it
//! heap memory and check the result with [`Mapper::translate`].
//!
//! At run time [`Mapper::attach`] picks up the live tables again and
//! [`Mapper::protect`] changes the protection of identity-mapped pages, splitting a
//! 2 MiB page into 512 4 KiB entries first when only part of it changes. Tables are
//! never merged back: a split costs one frame, once per 2 MiB page.
//!
//! [`Mapper::alias`] maps frames at other addresses (4 KiB entries marked
//! [`pte::ALIAS`]): where nothing was mapped (the platform's alias window), or over
//! identity-mapped RAM, which [`Mapper::unalias`] restores.

/// Page-table entry bits.
pub mod pte {
    pub const PRESENT: u64 = 1 << 0;
    pub const WRITE: u64 = 1 << 1;
    pub const PWT: u64 = 1 << 3;
    pub const PCD: u64 = 1 << 4;
    pub const HUGE: u64 = 1 << 7;
    pub const GLOBAL: u64 = 1 << 8;
    pub const NX: u64 = 1 << 63;
    /// Software bit (the CPU ignores bits 9-11, and every bit of a not-present entry):
    /// set on an entry that [`super::Mapper::protect`] made not present on purpose. The
    /// entry keeps its identity address and page size, so protecting the page again
    /// restores it, while an entry that was never mapped (0) stays off limits.
    pub const KEPT: u64 = 1 << 9;
    /// Software bit: a 4 KiB entry made by [`super::Mapper::alias`], which maps a frame
    /// at an address other than its own (a shared file map). [`super::Mapper::protect`]
    /// keeps such an entry's address; [`super::Mapper::unalias`] undoes it.
    pub const ALIAS: u64 = 1 << 10;
    /// Physical address bits of an entry (bits 12..51).
    pub const ADDR: u64 = 0x000f_ffff_ffff_f000;
}

pub const PAGE: u64 = uk_abi::PAGE_SIZE as u64;
pub const HUGE_PAGE: u64 = 2 << 20;

/// How a range is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prot {
    pub write: bool,
    pub exec: bool,
    /// Device memory: caching off (PCD|PWT).
    pub uncached: bool,
}

impl Prot {
    pub const RX: Prot = Prot {
        write: false,
        exec: true,
        uncached: false,
    };
    pub const R: Prot = Prot {
        write: false,
        exec: false,
        uncached: false,
    };
    pub const RW: Prot = Prot {
        write: true,
        exec: false,
        uncached: false,
    };
    pub const MMIO: Prot = Prot {
        write: true,
        exec: false,
        uncached: true,
    };

    /// Leaf-entry bits for this protection. `nx` says whether the CPU supports
    /// EFER.NXE (bit 63 is reserved, and faults, without it).
    pub fn bits(self, nx: bool) -> u64 {
        let mut b = pte::PRESENT;
        if self.write {
            b |= pte::WRITE;
        }
        if !self.exec && nx {
            b |= pte::NX;
        }
        if self.uncached {
            b |= pte::PCD | pte::PWT;
        }
        b
    }
}

/// Where page-table frames come from.
pub trait Frames {
    /// A zeroed, 4 KiB-aligned frame; its physical address. `None` when out of frames.
    fn alloc(&mut self) -> Option<u64>;
    /// The table stored in the frame at `phys`.
    fn table(&mut self, phys: u64) -> &mut [u64; 512];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The frame source ran dry.
    OutOfFrames,
    /// Range not 4 KiB aligned, or overlapping an earlier mapping; for
    /// [`Mapper::protect`]: a page in the range is not identity-mapped RAM.
    BadRange,
}

/// Where the leaf entry of an address lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// A 2 MiB entry: entry `i` of the page directory at `pd`.
    Huge { pd: u64, i: usize },
    /// A 4 KiB entry: entry `i` of the page table at `pt`.
    Small { pt: u64, i: usize },
}

/// Builds one address space.
pub struct Mapper<F: Frames> {
    root: u64,
    frames: F,
    nx: bool,
    /// Use 2 MiB pages where a whole aligned 2 MiB chunk has one protection.
    pub huge: bool,
}

fn index(addr: u64, level: u32) -> usize {
    ((addr >> (12 + 9 * level)) & 511) as usize
}

impl<F: Frames> Mapper<F> {
    /// A new, empty address space. `nx`: the CPU supports no-execute.
    pub fn new(mut frames: F, nx: bool) -> Result<Self, MapError> {
        let root = frames.alloc().ok_or(MapError::OutOfFrames)?;
        Ok(Mapper {
            root,
            frames,
            nx,
            huge: true,
        })
    }

    /// Pick up tables built earlier by [`Mapper::new`] and [`Mapper::map`] (e.g. the
    /// live ones, from CR3); `frames` must reach the same table frames and supplies
    /// new ones for splits.
    pub fn attach(frames: F, root: u64, nx: bool) -> Self {
        Mapper {
            root,
            frames,
            nx,
            huge: true,
        }
    }

    /// Give back the frame source (to keep what is left of it for the next call).
    pub fn into_frames(self) -> F {
        self.frames
    }

    /// Physical address of the root (for CR3).
    pub fn root(&self) -> u64 {
        self.root
    }

    /// The frame source (to learn how much it handed out).
    pub fn frames(&self) -> &F {
        &self.frames
    }

    /// The next-level table under entry `i` of `table`, created when absent.
    fn next(&mut self, table: u64, i: usize) -> Result<u64, MapError> {
        let e = self.frames.table(table)[i];
        if e & pte::PRESENT != 0 {
            if e & pte::HUGE != 0 {
                return Err(MapError::BadRange);
            }
            return Ok(e & pte::ADDR);
        }
        let f = self.frames.alloc().ok_or(MapError::OutOfFrames)?;
        // Intermediate entries allow everything; the leaf decides.
        self.frames.table(table)[i] = f | pte::PRESENT | pte::WRITE;
        Ok(f)
    }

    /// Identity-map `[start, end)` with `prot`. Both ends must be 4 KiB aligned and the
    /// range must not overlap anything mapped before.
    pub fn map(&mut self, start: u64, end: u64, prot: Prot) -> Result<(), MapError> {
        if start & (PAGE - 1) != 0 || end & (PAGE - 1) != 0 || end < start {
            return Err(MapError::BadRange);
        }
        let bits = prot.bits(self.nx);
        let mut a = start;
        while a < end {
            let pdpt = self.next(self.root, index(a, 3))?;
            let pd = self.next(pdpt, index(a, 2))?;
            if self.huge && a & (HUGE_PAGE - 1) == 0 && end - a >= HUGE_PAGE {
                let slot = &mut self.frames.table(pd)[index(a, 1)];
                if *slot & pte::PRESENT != 0 {
                    return Err(MapError::BadRange);
                }
                *slot = a | bits | pte::HUGE;
                a += HUGE_PAGE;
                continue;
            }
            let pt = self.next(pd, index(a, 1))?;
            let slot = &mut self.frames.table(pt)[index(a, 0)];
            if *slot & pte::PRESENT != 0 {
                return Err(MapError::BadRange);
            }
            *slot = a | bits;
            a += PAGE;
        }
        Ok(())
    }

    /// The leaf slot mapping page `a` and its entry, when `a` is identity-mapped,
    /// cacheable RAM, present or made not present by [`Mapper::protect`].
    fn slot(&mut self, a: u64) -> Result<(Slot, u64), MapError> {
        let mut t = self.root;
        for level in [3, 2] {
            let e = self.frames.table(t)[index(a, level)];
            if e & pte::PRESENT == 0 || e & pte::HUGE != 0 {
                return Err(MapError::BadRange);
            }
            t = e & pte::ADDR;
        }
        let i = index(a, 1);
        let e = self.frames.table(t)[i];
        let (slot, e, base) = if e & pte::HUGE != 0 && e & (pte::PRESENT | pte::KEPT) != 0 {
            let base = e & pte::ADDR & !(HUGE_PAGE - 1);
            (Slot::Huge { pd: t, i }, e, (base, a & !(HUGE_PAGE - 1)))
        } else if e & pte::PRESENT != 0 {
            let pt = e & pte::ADDR;
            let j = index(a, 0);
            let e = self.frames.table(pt)[j];
            if e & (pte::PRESENT | pte::KEPT) == 0 {
                return Err(MapError::BadRange);
            }
            (
                Slot::Small { pt, i: j },
                e,
                (e & pte::ADDR, a & !(PAGE - 1)),
            )
        } else {
            return Err(MapError::BadRange);
        };
        // Only identity-mapped (or aliased), cacheable memory, never device registers.
        let aliased = matches!(slot, Slot::Small { .. }) && e & pte::ALIAS != 0;
        if (base.0 != base.1 && !aliased) || e & (pte::PCD | pte::PWT) != 0 {
            return Err(MapError::BadRange);
        }
        Ok((slot, e))
    }

    /// The leaf 4 KiB slot of page `a` and its entry, making tables (and splitting a
    /// 2 MiB identity page of RAM) as needed. `flush` gets the 2 MiB page of a split.
    fn small_slot(&mut self, a: u64, flush: &mut dyn FnMut(u64)) -> Result<(u64, usize), MapError> {
        let pdpt = self.next(self.root, index(a, 3))?;
        let pd = self.next(pdpt, index(a, 2))?;
        let i = index(a, 1);
        let e = self.frames.table(pd)[i];
        if e & pte::HUGE != 0 {
            let (slot, e) = self.slot(a)?;
            if let Slot::Huge { pd, i } = slot {
                self.split(pd, i, e)?;
                flush(a & !(HUGE_PAGE - 1));
            }
        }
        let pt = self.next(pd, i)?;
        Ok((pt, index(a, 0)))
    }

    /// Map the 4 KiB pages `[va, va + len)` to the frames `[pa, pa + len)` with `prot`
    /// (`None`: not present until protected again). Each page must be unmapped,
    /// identity-mapped cacheable RAM, or an earlier alias; `BadRange` otherwise (with
    /// the pages before it already changed: the caller undoes the whole range with
    /// [`Mapper::unalias`]). `flush` gets every address whose translation changed.
    pub fn alias(
        &mut self,
        va: u64,
        pa: u64,
        len: u64,
        prot: Option<Prot>,
        flush: &mut dyn FnMut(u64),
    ) -> Result<(), MapError> {
        if (va | pa | len) & (PAGE - 1) != 0 || prot.is_some_and(|p| p.uncached) {
            return Err(MapError::BadRange);
        }
        let bits = prot.map_or(pte::KEPT, |p| p.bits(self.nx)) | pte::ALIAS;
        for off in (0..len).step_by(PAGE as usize) {
            let a = va + off;
            let (pt, j) = self.small_slot(a, flush)?;
            let old = self.frames.table(pt)[j];
            let identity = old & (pte::PRESENT | pte::KEPT) != 0
                && old & pte::ADDR == a
                && old & (pte::PCD | pte::PWT) == 0;
            if old != 0 && old & pte::ALIAS == 0 && !identity {
                return Err(MapError::BadRange);
            }
            self.frames.table(pt)[j] = (pa + off) | bits;
            if old & pte::PRESENT != 0 {
                flush(a);
            }
        }
        Ok(())
    }

    /// Undo [`Mapper::alias`] on `[va, va + len)`: aliased pages become identity-mapped
    /// read+write again (`identity`: the range is RAM) or unmapped. Other pages are left
    /// alone; no table is made.
    pub fn unalias(&mut self, va: u64, len: u64, identity: bool, flush: &mut dyn FnMut(u64)) {
        let mut a = va & !(PAGE - 1);
        while a < va.saturating_add(len) {
            let mut t = self.root;
            let mut leaf = None;
            for level in [3, 2, 1] {
                let e = self.frames.table(t)[index(a, level)];
                if e & pte::PRESENT == 0 || e & pte::HUGE != 0 {
                    break;
                }
                t = e & pte::ADDR;
                if level == 1 {
                    leaf = Some(t);
                }
            }
            if let Some(pt) = leaf {
                let j = index(a, 0);
                let old = self.frames.table(pt)[j];
                if old & pte::ALIAS != 0 {
                    self.frames.table(pt)[j] = if identity {
                        a | Prot::RW.bits(self.nx)
                    } else {
                        0
                    };
                    if old & pte::PRESENT != 0 {
                        flush(a);
                    }
                }
            }
            a += PAGE;
        }
    }

    /// Replace the 2 MiB entry `e` (slot `i` of `pd`) by a 4 KiB table with the same
    /// flags in all 512 entries: every address keeps its translation.
    fn split(&mut self, pd: u64, i: usize, e: u64) -> Result<(), MapError> {
        let f = self.frames.alloc().ok_or(MapError::OutOfFrames)?;
        let base = e & pte::ADDR & !(HUGE_PAGE - 1);
        // Bit 12 of a 2 MiB entry is PAT (never set here) and falls inside ADDR.
        let flags = e & !pte::ADDR & !pte::HUGE;
        for (j, s) in self.frames.table(f).iter_mut().enumerate() {
            *s = (base + j as u64 * PAGE) | flags;
        }
        self.frames.table(pd)[i] = f | pte::PRESENT | pte::WRITE;
        Ok(())
    }

    /// Give the identity-mapped pages `[start, end)` protection `prot` (`None`: not
    /// present, so any access faults). Every page must already be mapped RAM (present,
    /// or made not present by an earlier call); else nothing changes and the result is
    /// `BadRange`. A 2 MiB page the range covers only in part is split first (one
    /// frame; only the first and the last 2 MiB page of a range can be partial). With
    /// `OutOfFrames`, at most a split happened, which changes no translation.
    ///
    /// `flush` gets the address of every entry that changed (a 4 KiB or 2 MiB page,
    /// for `invlpg`), including the 2 MiB page of each split: the CPU may hold the old
    /// large translation.
    pub fn protect(
        &mut self,
        start: u64,
        end: u64,
        prot: Option<Prot>,
        flush: &mut dyn FnMut(u64),
    ) -> Result<(), MapError> {
        if start & (PAGE - 1) != 0 || end & (PAGE - 1) != 0 || end < start {
            return Err(MapError::BadRange);
        }
        if prot.is_some_and(|p| p.uncached) {
            return Err(MapError::BadRange);
        }
        if end == start {
            return Ok(());
        }
        // 1: every page must be ours before anything changes.
        let mut a = start;
        while a < end {
            a = match self.slot(a)?.0 {
                Slot::Huge { .. } => (a | (HUGE_PAGE - 1)) + 1,
                Slot::Small { .. } => a + PAGE,
            };
        }
        // 2: split the partly covered 2 MiB pages at the ends.
        for a in [start, end - PAGE] {
            if let (Slot::Huge { pd, i }, e) = self.slot(a)? {
                let base = a & !(HUGE_PAGE - 1);
                if start > base || end < base + HUGE_PAGE {
                    self.split(pd, i, e)?;
                    flush(base);
                }
            }
        }
        // 3: rewrite the entries.
        let bits = prot.map_or(pte::KEPT, |p| p.bits(self.nx));
        let mut a = start;
        while a < end {
            let (slot, old) = self.slot(a)?;
            let (table, i, new, size) = match slot {
                Slot::Huge { pd, i } => (pd, i, a | bits | pte::HUGE, HUGE_PAGE),
                Slot::Small { pt, i } if old & pte::ALIAS != 0 => {
                    (pt, i, (old & pte::ADDR) | bits | pte::ALIAS, PAGE)
                }
                Slot::Small { pt, i } => (pt, i, a | bits, PAGE),
            };
            if new != old {
                self.frames.table(table)[i] = new;
                flush(a);
            }
            a += size;
        }
        Ok(())
    }

    /// Walk the tables: the physical address `addr` maps to and the leaf entry's bits,
    /// or `None` when unmapped.
    pub fn translate(&mut self, addr: u64) -> Option<(u64, u64)> {
        let mut t = self.root;
        for level in (0..4).rev() {
            let e = self.frames.table(t)[index(addr, level)];
            if e & pte::PRESENT == 0 {
                return None;
            }
            if level == 0 || (level < 3 && e & pte::HUGE != 0) {
                let size = 1u64 << (12 + 9 * level);
                let base = e & pte::ADDR & !(size - 1);
                return Some((base + (addr & (size - 1)), e));
            }
            t = e & pte::ADDR;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Frames in a hash map keyed by a fake physical address.
    struct HeapFrames {
        next: u64,
        tables: HashMap<u64, Box<[u64; 512]>>,
        limit: usize,
    }
    impl Frames for HeapFrames {
        fn alloc(&mut self) -> Option<u64> {
            if self.tables.len() == self.limit {
                return None;
            }
            let p = self.next;
            self.next += PAGE;
            self.tables.insert(p, Box::new([0; 512]));
            Some(p)
        }
        fn table(&mut self, phys: u64) -> &mut [u64; 512] {
            self.tables.get_mut(&phys).expect("table frame")
        }
    }
    fn frames(limit: usize) -> HeapFrames {
        HeapFrames {
            next: 0x1000_0000,
            tables: HashMap::new(),
            limit,
        }
    }

    #[test]
    fn identity_with_protections() {
        let mut m = Mapper::new(frames(64), true).unwrap();
        m.map(0x1000, 0x10_0000, Prot::RW).unwrap();
        m.map(0x10_0000, 0x10_3000, Prot::RX).unwrap();
        m.map(0x10_3000, 0x10_4000, Prot::R).unwrap();
        m.map(0x40_0000, 0x80_0000, Prot::RW).unwrap();
        m.map(0xfee0_0000, 0xfee0_1000, Prot::MMIO).unwrap();

        assert_eq!(m.translate(0), None, "page 0 stays unmapped");
        assert_eq!(m.translate(0xfff), None);
        let (pa, e) = m.translate(0x1234).unwrap();
        assert_eq!(pa, 0x1234);
        assert!(e & pte::WRITE != 0 && e & pte::NX != 0);
        let (_, e) = m.translate(0x10_0010).unwrap();
        assert!(
            e & pte::WRITE == 0 && e & pte::NX == 0,
            "text: read+execute"
        );
        let (_, e) = m.translate(0x10_3000).unwrap();
        assert!(e & pte::WRITE == 0 && e & pte::NX != 0, "rodata: read only");
        assert_eq!(m.translate(0x10_4000), None, "gap stays unmapped");
        let (pa, e) = m.translate(0x40_1234).unwrap();
        assert_eq!(pa, 0x40_1234);
        assert!(e & pte::HUGE != 0, "aligned 2 MiB chunks use huge pages");
        let (_, e) = m.translate(0xfee0_0020).unwrap();
        assert!(e & pte::PCD != 0);
    }

    #[test]
    fn no_nx_bit_without_cpu_support() {
        let mut m = Mapper::new(frames(8), false).unwrap();
        m.map(0x20_0000, 0x40_0000, Prot::RW).unwrap();
        let (_, e) = m.translate(0x20_0000).unwrap();
        assert_eq!(e & pte::NX, 0);
    }

    #[test]
    fn rejects_overlap_and_misalignment() {
        let mut m = Mapper::new(frames(16), true).unwrap();
        m.map(0x20_0000, 0x40_0000, Prot::RW).unwrap();
        assert_eq!(
            m.map(0x20_1000, 0x20_2000, Prot::RW),
            Err(MapError::BadRange)
        );
        assert_eq!(m.map(0x1001, 0x2000, Prot::RW), Err(MapError::BadRange));
        m.map(0x1000, 0x2000, Prot::RW).unwrap();
        assert_eq!(m.map(0x1000, 0x2000, Prot::R), Err(MapError::BadRange));
    }

    /// RAM from 1 MiB to 8 MiB (4 KiB pages up to 2 MiB, then three 2 MiB pages), a
    /// never-mapped hole at 0x10_0000 and an uncached MMIO page; returns frames used.
    fn ram(limit: usize) -> (Mapper<HeapFrames>, usize) {
        let mut m = Mapper::new(frames(limit), true).unwrap();
        m.map(0x10_1000, 0x80_0000, Prot::RW).unwrap();
        m.map(0xfee0_0000, 0xfee0_1000, Prot::MMIO).unwrap();
        let used = m.frames().tables.len();
        (m, used)
    }

    fn bits_at(m: &mut Mapper<HeapFrames>, a: u64) -> Option<u64> {
        m.translate(a).map(|(pa, e)| {
            assert_eq!(pa, a, "identity");
            e
        })
    }

    fn is_rw(e: Option<u64>) -> bool {
        e.is_some_and(|e| e & pte::WRITE != 0 && e & pte::NX != 0)
    }

    #[test]
    fn protect_splits_a_huge_page_and_changes_only_the_range() {
        let (mut m, used) = ram(64);
        assert!(bits_at(&mut m, 0x20_0000).unwrap() & pte::HUGE != 0);
        let mut flushed = Vec::new();
        m.protect(0x20_1000, 0x20_3000, Some(Prot::R), &mut |a| {
            flushed.push(a)
        })
        .unwrap();
        assert_eq!(m.frames().tables.len(), used + 1, "one split, one frame");
        assert_eq!(flushed, vec![0x20_0000, 0x20_1000, 0x20_2000]);
        for a in [0x20_1000, 0x20_2fff] {
            let e = bits_at(&mut m, a).unwrap();
            assert!(e & pte::WRITE == 0 && e & pte::NX != 0, "{a:#x} read-only");
            assert_eq!(e & pte::HUGE, 0);
        }
        // The rest of the split page keeps its old flags, neighbours stay huge.
        for a in [0x20_0000, 0x20_3000, 0x3f_f000] {
            assert!(is_rw(bits_at(&mut m, a)), "{a:#x}");
        }
        assert!(bits_at(&mut m, 0x40_0000).unwrap() & pte::HUGE != 0);
        // Protecting inside the split page again needs no new frame.
        m.protect(0x20_5000, 0x20_6000, None, &mut |_| {}).unwrap();
        assert_eq!(m.frames().tables.len(), used + 1);
        assert_eq!(bits_at(&mut m, 0x20_5000), None);
    }

    #[test]
    fn protect_none_then_back_restores_the_same_entries() {
        let (mut m, _) = ram(64);
        let before = bits_at(&mut m, 0x10_5000).unwrap();
        m.protect(0x10_4000, 0x10_6000, None, &mut |_| {}).unwrap();
        assert_eq!(bits_at(&mut m, 0x10_4000), None);
        assert_eq!(bits_at(&mut m, 0x10_5fff), None);
        assert!(is_rw(bits_at(&mut m, 0x10_6000)));
        let mut flushed = Vec::new();
        m.protect(0x10_4000, 0x10_6000, Some(Prot::RW), &mut |a| {
            flushed.push(a)
        })
        .unwrap();
        assert_eq!(bits_at(&mut m, 0x10_5000), Some(before));
        assert_eq!(flushed, vec![0x10_4000, 0x10_5000]);
        // Unchanged entries are not flushed.
        flushed.clear();
        m.protect(0x10_4000, 0x10_6000, Some(Prot::RW), &mut |a| {
            flushed.push(a)
        })
        .unwrap();
        assert!(flushed.is_empty());
    }

    #[test]
    fn protect_whole_huge_pages_in_place() {
        let (mut m, used) = ram(64);
        let mut flushed = Vec::new();
        m.protect(0x40_0000, 0x80_0000, None, &mut |a| flushed.push(a))
            .unwrap();
        assert_eq!(m.frames().tables.len(), used, "no split needed");
        assert_eq!(flushed, vec![0x40_0000, 0x60_0000]);
        assert_eq!(bits_at(&mut m, 0x40_0000), None);
        assert_eq!(bits_at(&mut m, 0x7f_ffff), None);
        // A page inside a not-present 2 MiB page can be given back alone.
        m.protect(0x61_0000, 0x61_1000, Some(Prot::RW), &mut |_| {})
            .unwrap();
        assert_eq!(m.frames().tables.len(), used + 1);
        assert!(is_rw(bits_at(&mut m, 0x61_0000)));
        assert_eq!(bits_at(&mut m, 0x61_1000), None);
        assert_eq!(bits_at(&mut m, 0x60_f000), None);
        m.protect(0x40_0000, 0x60_0000, Some(Prot::RW), &mut |_| {})
            .unwrap();
        let e = bits_at(&mut m, 0x40_0000).unwrap();
        assert!(e & pte::HUGE != 0 && is_rw(Some(e)));
    }

    #[test]
    fn protect_across_a_huge_boundary_splits_both_ends() {
        let (mut m, used) = ram(64);
        m.protect(0x3f_f000, 0x60_1000, Some(Prot::RX), &mut |_| {})
            .unwrap();
        assert_eq!(m.frames().tables.len(), used + 2);
        for a in [0x3f_f000, 0x40_0000, 0x5f_f000, 0x60_0000] {
            let e = bits_at(&mut m, a).unwrap();
            assert!(e & pte::NX == 0 && e & pte::WRITE == 0, "{a:#x} r-x");
        }
        // The middle 2 MiB page was covered whole: rewritten, still huge.
        assert!(bits_at(&mut m, 0x40_0000).unwrap() & pte::HUGE != 0);
        assert!(is_rw(bits_at(&mut m, 0x3f_e000)));
        assert!(is_rw(bits_at(&mut m, 0x60_1000)));
    }

    #[test]
    fn protect_refuses_what_is_not_mapped_ram_and_changes_nothing() {
        let (mut m, used) = ram(64);
        let mut flushed = Vec::new();
        let mut f = |a| flushed.push(a);
        // Ranges touching the never-mapped page at 1 MiB, unmapped space, MMIO.
        for (s, e) in [
            (0x10_0000, 0x10_2000),
            (0x7f_f000, 0x80_1000),
            (0x1_0000_0000, 0x1_0000_1000),
            (0xfee0_0000, 0xfee0_1000),
        ] {
            assert_eq!(m.protect(s, e, None, &mut f), Err(MapError::BadRange));
        }
        // Misaligned or reversed.
        assert_eq!(
            m.protect(0x10_1001, 0x10_2000, None, &mut f),
            Err(MapError::BadRange)
        );
        assert_eq!(
            m.protect(0x10_2000, 0x10_1000, None, &mut f),
            Err(MapError::BadRange)
        );
        assert_eq!(
            m.protect(0x10_1000, 0x10_2000, Some(Prot::MMIO), &mut f),
            Err(MapError::BadRange)
        );
        assert!(flushed.is_empty());
        assert_eq!(m.frames().tables.len(), used);
        assert!(is_rw(bits_at(&mut m, 0x10_1000)));
        assert!(is_rw(bits_at(&mut m, 0x7f_f000)));
        assert_eq!(m.protect(0x10_1000, 0x10_1000, None, &mut |_| {}), Ok(()));
    }

    #[test]
    fn protect_out_of_frames_keeps_every_translation() {
        let (m, used) = ram(64);
        // Same tables, but the frame source is now full.
        let root = m.root();
        let mut fr = m.into_frames();
        fr.limit = used;
        let mut m = Mapper::attach(fr, root, true);
        assert_eq!(
            m.protect(0x20_1000, 0x20_2000, None, &mut |_| {}),
            Err(MapError::OutOfFrames)
        );
        assert!(is_rw(bits_at(&mut m, 0x20_1000)));
        // Whole 2 MiB pages need no frame.
        m.protect(0x20_0000, 0x40_0000, Some(Prot::R), &mut |_| {})
            .unwrap();
        assert!(bits_at(&mut m, 0x20_1000).unwrap() & pte::WRITE == 0);
    }

    #[test]
    fn protect_without_nx_support_sets_no_nx_bit() {
        let mut m = Mapper::new(frames(16), false).unwrap();
        m.map(0x20_0000, 0x40_0000, Prot::RW).unwrap();
        m.protect(0x20_0000, 0x20_1000, Some(Prot::R), &mut |_| {})
            .unwrap();
        let e = bits_at(&mut m, 0x20_0000).unwrap();
        assert_eq!(e & (pte::NX | pte::WRITE), 0);
    }

    #[test]
    fn alias_shows_frames_elsewhere_and_unalias_undoes_it() {
        let (mut m, used) = ram(64);
        let window = 0x100_0000_0000u64;
        let mut flushed = Vec::new();
        // Into empty space: tables are made; the frames show at the window.
        m.alias(window, 0x20_3000, 0x2000, Some(Prot::R), &mut |a| {
            flushed.push(a)
        })
        .unwrap();
        assert!(m.frames().tables.len() > used);
        assert!(flushed.is_empty(), "nothing was mapped there before");
        let (pa, e) = m.translate(window + 0x1008).unwrap();
        assert_eq!(pa, 0x20_4008);
        assert!(e & pte::WRITE == 0 && e & pte::ALIAS != 0);
        // protect keeps the alias's frame, through not-present and back.
        m.protect(window, window + 0x1000, None, &mut |_| {})
            .unwrap();
        assert_eq!(m.translate(window), None);
        m.protect(window, window + 0x1000, Some(Prot::RW), &mut |_| {})
            .unwrap();
        let (pa, e) = m.translate(window).unwrap();
        assert_eq!(pa, 0x20_3000);
        assert!(e & pte::WRITE != 0);
        // Over identity RAM inside a 2 MiB page: split, alias, then restore.
        m.alias(0x50_0000, 0x20_3000, 0x1000, Some(Prot::RW), &mut |a| {
            flushed.push(a)
        })
        .unwrap();
        assert_eq!(flushed, vec![0x40_0000, 0x50_0000]);
        assert_eq!(m.translate(0x50_0010).unwrap().0, 0x20_3010);
        assert!(is_rw(bits_at(&mut m, 0x50_1000)), "the neighbour is itself");
        m.unalias(0x50_0000, 0x1000, true, &mut |_| {});
        assert!(is_rw(bits_at(&mut m, 0x50_0000)));
        m.unalias(window, 0x2000, false, &mut |_| {});
        assert_eq!(m.translate(window), None);
        assert_eq!(m.translate(window + 0x1000), None);
        // Never over device memory, never misaligned.
        assert_eq!(
            m.alias(0xfee0_0000, 0x20_3000, 0x1000, Some(Prot::RW), &mut |_| {}),
            Err(MapError::BadRange)
        );
        assert_eq!(
            m.alias(window + 1, 0x20_3000, 0x1000, Some(Prot::RW), &mut |_| {}),
            Err(MapError::BadRange)
        );
    }

    #[test]
    fn reports_running_out_of_frames() {
        let mut m = Mapper::new(frames(2), true).unwrap();
        assert_eq!(m.map(0x1000, 0x2000, Prot::RW), Err(MapError::OutOfFrames));
    }
}
