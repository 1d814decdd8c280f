//! 4-level x86_64 page tables for an identity-mapped kernel (kvm).
//!
//! The builder is separate from the hardware: it gets table frames from a [`Frames`]
//! implementation, so the kvm platform hands it physical pages while unit tests hand it
//! heap memory and check the result with [`Mapper::translate`].

/// Page-table entry bits.
pub mod pte {
    pub const PRESENT: u64 = 1 << 0;
    pub const WRITE: u64 = 1 << 1;
    pub const PWT: u64 = 1 << 3;
    pub const PCD: u64 = 1 << 4;
    pub const HUGE: u64 = 1 << 7;
    pub const GLOBAL: u64 = 1 << 8;
    pub const NX: u64 = 1 << 63;
    /// Physical address bits of an entry (bits 12..51).
    pub const ADDR: u64 = 0x000f_ffff_ffff_f000;
}

pub const PAGE: u64 = 4096;
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
    /// Range not 4 KiB aligned, or overlapping an earlier mapping.
    BadRange,
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

    #[test]
    fn reports_running_out_of_frames() {
        let mut m = Mapper::new(frames(2), true).unwrap();
        assert_eq!(m.map(0x1000, 0x2000, Prot::RW), Err(MapError::OutOfFrames));
    }
}
