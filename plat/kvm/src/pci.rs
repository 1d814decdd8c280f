//! PCI: enumeration through configuration mechanism #1 (ports 0xcf8/0xcfc, which QEMU
//! `pc` and `q35` both have), capability lists, memory BARs, MSI-X, and mapping device
//! memory into the kernel's page tables.
//!
//! Enumeration walks bus 0 and every bus behind a PCI-to-PCI bridge, instead of probing
//! all 256 buses: each configuration access is a VM exit, and the boot should not pay
//! 8192 of them for nothing. `microvm` has no PCI; its config ports read all-ones, so
//! the walk ends after bus 0's empty slots.
//!
//! The parsing (capabilities, BARs) is written against [`ConfigSpace`] so the host unit
//! tests can feed it a fake configuration space.

/// Bus/device/function of one PCI function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bdf {
    pub bus: u8,
    pub dev: u8,
    pub func: u8,
}

/// 32-bit access to configuration space. Offsets are 4-byte aligned.
pub trait ConfigSpace {
    fn read32(&self, at: Bdf, off: u8) -> u32;
    fn write32(&self, at: Bdf, off: u8, v: u32);

    fn read16(&self, at: Bdf, off: u8) -> u16 {
        (self.read32(at, off & !3) >> ((off & 2) * 8)) as u16
    }
    fn read8(&self, at: Bdf, off: u8) -> u8 {
        (self.read32(at, off & !3) >> ((off & 3) * 8)) as u8
    }
    /// Writes 16 bits, keeping the other half of the dword.
    fn write16(&self, at: Bdf, off: u8, v: u16) {
        let sh = (off & 2) * 8;
        let old = self.read32(at, off & !3) & !(0xffff << sh);
        self.write32(at, off & !3, old | (v as u32) << sh);
    }
}

pub const CMD_MEMORY: u16 = 1 << 1;
pub const CMD_BUS_MASTER: u16 = 1 << 2;
pub const CMD_INTX_DISABLE: u16 = 1 << 10;
pub const CAP_VENDOR: u8 = 0x09;
pub const CAP_MSIX: u8 = 0x11;

/// One entry of a capability list: its id and offset in configuration space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap {
    pub id: u8,
    pub off: u8,
}

/// The capability list of a function (at most 48 entries: a loop in a bad list ends).
pub fn capabilities<C: ConfigSpace>(c: &C, at: Bdf) -> impl Iterator<Item = Cap> + '_ {
    let has_list = c.read16(at, 0x06) & (1 << 4) != 0;
    let mut next = if has_list { c.read8(at, 0x34) & !3 } else { 0 };
    let mut left = 48;
    core::iter::from_fn(move || {
        if next < 0x40 || left == 0 {
            return None;
        }
        left -= 1;
        let off = next;
        let id = c.read8(at, off);
        next = c.read8(at, off + 1) & !3;
        Some(Cap { id, off })
    })
}

/// The address of memory BAR `i` (0..6), following 64-bit BARs into their upper half;
/// `None` for an I/O BAR, an unassigned BAR or a bad index.
pub fn bar_address<C: ConfigSpace>(c: &C, at: Bdf, i: u8) -> Option<u64> {
    if i > 5 {
        return None;
    }
    let lo = c.read32(at, 0x10 + 4 * i);
    if lo & 1 != 0 {
        return None;
    }
    let mut a = (lo & !0xf) as u64;
    if (lo >> 1) & 3 == 2 {
        if i == 5 {
            return None;
        }
        a |= (c.read32(at, 0x10 + 4 * (i + 1)) as u64) << 32;
    }
    (a != 0).then_some(a)
}

/// Where a function's MSI-X table is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsixInfo {
    pub cap: u8,
    pub entries: u16,
    pub table: u64,
}

/// The MSI-X capability of a function, with its table's address.
pub fn msix<C: ConfigSpace>(c: &C, at: Bdf) -> Option<MsixInfo> {
    let cap = capabilities(c, at).find(|k| k.id == CAP_MSIX)?;
    let ctrl = c.read16(at, cap.off + 2);
    let t = c.read32(at, cap.off + 4);
    let table = bar_address(c, at, (t & 7) as u8)? + (t & !7) as u64;
    Some(MsixInfo {
        cap: cap.off,
        entries: (ctrl & 0x7ff) + 1,
        table,
    })
}

#[cfg(not(test))]
pub use hw::*;

#[cfg(not(test))]
mod hw {
    use super::*;
    use core::arch::asm;

    /// Configuration mechanism #1.
    pub struct Ports;

    fn addr(at: Bdf, off: u8) -> u32 {
        0x8000_0000
            | (at.bus as u32) << 16
            | ((at.dev & 31) as u32) << 11
            | ((at.func & 7) as u32) << 8
            | (off & 0xfc) as u32
    }

    impl ConfigSpace for Ports {
        fn read32(&self, at: Bdf, off: u8) -> u32 {
            let v: u32;
            // SAFETY: ring 0; 0xcf8/0xcfc are the PCI configuration ports (absent
            // hardware reads all-ones). Single CPU, interrupts off outside `hlt`: the
            // address/data pair is not interleaved with another access.
            unsafe {
                asm!("out dx, eax", in("dx") 0xcf8u16, in("eax") addr(at, off), options(nomem, nostack, preserves_flags));
                asm!("in eax, dx", in("dx") 0xcfcu16, out("eax") v, options(nomem, nostack, preserves_flags));
            }
            v
        }
        fn write32(&self, at: Bdf, off: u8, v: u32) {
            // SAFETY: as for `read32`.
            unsafe {
                asm!("out dx, eax", in("dx") 0xcf8u16, in("eax") addr(at, off), options(nomem, nostack, preserves_flags));
                asm!("out dx, eax", in("dx") 0xcfcu16, in("eax") v, options(nomem, nostack, preserves_flags));
            }
        }
    }

    /// Calls `f(bdf, vendor, device)` for every function on bus 0 and behind bridges.
    pub fn for_each_function(mut f: impl FnMut(Bdf, u16, u16)) {
        let c = Ports;
        let mut buses = [0u8; 16];
        let mut n = 1;
        let mut i = 0;
        while i < n {
            let bus = buses[i];
            i += 1;
            for dev in 0..32 {
                let at0 = Bdf { bus, dev, func: 0 };
                if c.read16(at0, 0) == 0xffff {
                    continue;
                }
                let multi = c.read8(at0, 0x0e) & 0x80 != 0;
                for func in 0..if multi { 8 } else { 1 } {
                    let at = Bdf { bus, dev, func };
                    let id = c.read32(at, 0);
                    if id & 0xffff == 0xffff {
                        continue;
                    }
                    // A PCI-to-PCI bridge: walk its secondary bus too.
                    if c.read16(at, 0x0a) == 0x0604 && (c.read8(at, 0x0e) & 0x7f) == 1 {
                        let sec = c.read8(at, 0x19);
                        if sec != 0 && n < buses.len() && !buses[..n].contains(&sec) {
                            buses[n] = sec;
                            n += 1;
                        }
                    }
                    f(at, id as u16, (id >> 16) as u16);
                }
            }
        }
    }

    /// Point MSI-X entry `entry` of a function at `vector` on the boot CPU (fixed
    /// delivery, edge) and enable MSI-X with INTx off. The table must be mapped.
    pub fn msix_route(at: Bdf, m: &MsixInfo, entry: u16, vector: u8, apic_id: u32) {
        let c = Ports;
        if entry >= m.entries {
            return;
        }
        let e = (m.table + 16 * entry as u64) as usize;
        // SAFETY: the caller mapped the MSI-X table (uncached); entry < table size.
        unsafe {
            core::ptr::write_volatile(e as *mut u32, 0xfee0_0000 | (apic_id & 0xff) << 12);
            core::ptr::write_volatile((e + 4) as *mut u32, 0);
            core::ptr::write_volatile((e + 8) as *mut u32, vector as u32);
            core::ptr::write_volatile((e + 12) as *mut u32, 0);
        }
        let ctrl = c.read16(at, m.cap + 2);
        c.write16(at, m.cap + 2, (ctrl | 1 << 15) & !(1 << 14));
        let cmd = c.read16(at, 0x04);
        c.write16(at, 0x04, cmd | CMD_INTX_DISABLE);
    }

    // ---- mapping device memory ----

    use core::sync::atomic::{AtomicUsize, Ordering};
    use uk_arch::paging::pte;

    /// Page-table frames for device mappings (the boot tables have no room reserved for
    /// them): one per 2 MiB of device memory touched, plus intermediate tables.
    const POOL: usize = 8;
    #[repr(C, align(4096))]
    struct Frames([[u64; 512]; POOL]);
    static mut FRAMES: Frames = Frames([[0; 512]; POOL]);
    static USED: AtomicUsize = AtomicUsize::new(0);

    fn frame() -> Option<u64> {
        let i = USED.fetch_add(1, Ordering::Relaxed);
        if i >= POOL {
            return None;
        }
        // SAFETY: frame `i` is handed out once (counter); bss is identity-mapped RW.
        Some(unsafe { core::ptr::addr_of_mut!(FRAMES.0[i]) } as u64)
    }

    /// Identity-map `[phys, phys+len)` uncached, no-execute, 4 KiB pages, where it is not
    /// mapped yet. False when the frame pool ran dry or the range hits a huge page that
    /// maps something else (RAM).
    pub fn map_mmio(phys: u64, len: u64) -> bool {
        const P: u64 = 4096;
        let nx = if uk_arch::features().nx { pte::NX } else { 0 };
        let mut a = phys & !(P - 1);
        let end = (phys + len).div_ceil(P) * P;
        while a < end {
            let mut table = uk_arch::ring0::cr3() & pte::ADDR;
            for level in (1..4).rev() {
                let i = ((a >> (12 + 9 * level)) & 511) as usize;
                let slot = (table + 8 * i as u64) as *mut u64;
                // SAFETY: `table` is a page-table frame (the root from CR3 or an entry's
                // address), identity-mapped and writable (mm maps its frames RW; ours
                // live in bss).
                let e = unsafe { core::ptr::read_volatile(slot) };
                if e & pte::PRESENT == 0 {
                    let Some(f) = frame() else { return false };
                    // SAFETY: as above; the new frame is zeroed bss.
                    unsafe { core::ptr::write_volatile(slot, f | pte::PRESENT | pte::WRITE) };
                    table = f;
                } else if e & pte::HUGE != 0 {
                    return false;
                } else {
                    table = e & pte::ADDR;
                }
            }
            let slot = (table + 8 * ((a >> 12) & 511)) as *mut u64;
            // SAFETY: as above, a leaf table.
            unsafe {
                if core::ptr::read_volatile(slot) & pte::PRESENT == 0 {
                    core::ptr::write_volatile(
                        slot,
                        a | pte::PRESENT | pte::WRITE | pte::PCD | pte::PWT | nx,
                    );
                    asm!("invlpg [{}]", in(reg) a, options(nostack, preserves_flags));
                }
            }
            a += P;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// One function's 256-byte configuration space.
    struct Fake(RefCell<[u8; 256]>);
    impl ConfigSpace for Fake {
        fn read32(&self, _: Bdf, off: u8) -> u32 {
            let s = self.0.borrow();
            let o = off as usize;
            u32::from_le_bytes(s[o..o + 4].try_into().unwrap())
        }
        fn write32(&self, _: Bdf, off: u8, v: u32) {
            let o = off as usize;
            self.0.borrow_mut()[o..o + 4].copy_from_slice(&v.to_le_bytes());
        }
    }
    const AT: Bdf = Bdf {
        bus: 0,
        dev: 3,
        func: 0,
    };

    fn fake() -> Fake {
        let f = Fake(RefCell::new([0; 256]));
        f.write16(AT, 0x06, 1 << 4);
        f.write32(AT, 0x34, 0x40);
        // 0x40: MSI-X (3 entries, table in BAR1 at 0x800), next 0x50.
        f.write32(AT, 0x40, 0x0002_5011);
        f.write32(AT, 0x44, 0x800 | 1);
        // 0x50: vendor cap, next 0x50 again (a loop).
        f.write32(AT, 0x50, 0x0010_5009);
        // BAR1: 32-bit memory; BAR4/5: 64-bit memory.
        f.write32(AT, 0x14, 0xfeb0_0000);
        f.write32(AT, 0x20, 0x0000_000c);
        f.write32(AT, 0x24, 0x1);
        // BAR0: I/O.
        f.write32(AT, 0x10, 0xc001);
        f
    }

    #[test]
    fn capability_list_ends_even_when_it_loops() {
        let f = fake();
        let caps: Vec<Cap> = capabilities(&f, AT).collect();
        assert_eq!(
            caps[0],
            Cap {
                id: 0x11,
                off: 0x40
            }
        );
        assert!(caps[1..].iter().all(|c| *c == Cap { id: 9, off: 0x50 }));
        assert_eq!(caps.len(), 48);
        f.write16(AT, 0x06, 0);
        assert_eq!(capabilities(&f, AT).count(), 0);
    }

    #[test]
    fn bars_and_msix() {
        let f = fake();
        assert_eq!(bar_address(&f, AT, 0), None, "I/O BAR");
        assert_eq!(bar_address(&f, AT, 1), Some(0xfeb0_0000));
        assert_eq!(bar_address(&f, AT, 4), Some(0x1_0000_0000), "64-bit BAR");
        assert_eq!(bar_address(&f, AT, 2), None, "unassigned");
        assert_eq!(bar_address(&f, AT, 6), None);
        assert_eq!(
            msix(&f, AT),
            Some(MsixInfo {
                cap: 0x40,
                entries: 3,
                table: 0xfeb0_0800
            })
        );
        f.write16(AT, 0x4a, 0);
        f.write16(AT, 0x48, 0xbeef);
        assert_eq!(
            f.read32(AT, 0x48),
            0xbeef,
            "16-bit write keeps the other half"
        );
    }
}
