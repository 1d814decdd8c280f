//! Physical memory on kvm: which RAM ukit may manage, and the page tables.
//!
//! RAM comes from the boot loader's memory map. The allocator gets RAM above 1 MiB minus
//! the image, the loader's structures, the initrd and the page-table frames; the first
//! page of every allocator region is left unmapped, so a stack that overflows downwards
//! out of the allocator faults instead of writing over whatever lies below.
//!
//! The page tables identity-map RAM (2 MiB pages where possible): image text
//! read+execute, headers and rodata read-only, everything else no-execute, page 0 and
//! the guard pages (below every kernel stack and allocator region) unmapped; plus the
//! local APIC and I/O APIC pages, uncached.

pub const PAGE: u64 = 4096;
pub const MAX_FREE: usize = 32;

fn up(a: u64) -> u64 {
    (a + PAGE - 1) & !(PAGE - 1)
}
fn down(a: u64) -> u64 {
    a & !(PAGE - 1)
}

/// `ram` minus `holes` (any order, any overlap), page-aligned inward, each piece at
/// least `min` bytes long; written to `out`, returns the count.
pub fn subtract(
    ram: &[(u64, u64)],
    holes: &[(u64, u64)],
    min: u64,
    out: &mut [(u64, u64)],
) -> usize {
    let mut n = 0;
    for &(s, e) in ram {
        let (mut s, e) = (up(s), down(e));
        while s < e {
            // The first hole that intersects [s, e) and starts lowest.
            let mut cut: Option<(u64, u64)> = None;
            for &(hs, he) in holes {
                let (hs, he) = (down(hs), up(he));
                if he > s && hs < e && cut.is_none_or(|c| hs < c.0) {
                    cut = Some((hs, he));
                }
            }
            let piece_end = cut.map_or(e, |c| c.0.max(s));
            if piece_end > s && piece_end - s >= min && n < out.len() {
                out[n] = (s, piece_end);
                n += 1;
            }
            s = cut.map_or(e, |c| c.1.max(s));
        }
    }
    n
}

#[cfg(not(test))]
pub use hw::*;

#[cfg(not(test))]
mod hw {
    use super::*;
    use crate::bootinfo::BootInfo;
    use core::sync::atomic::{AtomicUsize, Ordering};
    use uk_arch::paging::{Frames, MapError, Mapper, Prot};
    use uk_plat::MemRegion;

    extern "C" {
        static __uk_image_start: u8;
        static __uk_text_start: u8;
        static __uk_text_end: u8;
        static __uk_rodata_start: u8;
        static __uk_data_start: u8;
        static _end: u8;
    }

    fn sym(p: *const u8) -> u64 {
        p as u64
    }

    static TEXT: (AtomicUsize, AtomicUsize) = (AtomicUsize::new(0), AtomicUsize::new(0));
    static POOL_GUARD: AtomicUsize = AtomicUsize::new(usize::MAX - PAGE as usize);
    static mut REGIONS: [MemRegion; MAX_FREE] = [MemRegion { start: 0, len: 0 }; MAX_FREE];
    static N_REGIONS: AtomicUsize = AtomicUsize::new(0);
    static DATA: (AtomicUsize, AtomicUsize) = (AtomicUsize::new(0), AtomicUsize::new(0));

    /// The image's executable range (for backtraces).
    pub fn text_range() -> (usize, usize) {
        (
            TEXT.0.load(Ordering::Relaxed),
            TEXT.1.load(Ordering::Relaxed),
        )
    }

    /// The guard page below the first allocator region.
    pub fn pool_guard() -> usize {
        POOL_GUARD.load(Ordering::Relaxed)
    }

    /// The allocator's regions.
    pub fn regions() -> &'static [MemRegion] {
        let n = N_REGIONS.load(Ordering::Acquire);
        // SAFETY: written once in `init` before N_REGIONS is published.
        unsafe { &(&*core::ptr::addr_of!(REGIONS))[..n] }
    }

    /// True when `[a, a+len)` lies in mapped, writable RAM the kernel owns (allocator
    /// regions or the image's data): safe to read in a fault report.
    pub fn is_ram(a: usize, len: usize) -> bool {
        let end = a.saturating_add(len);
        let (ds, de) = (
            DATA.0.load(Ordering::Relaxed),
            DATA.1.load(Ordering::Relaxed),
        );
        if a >= ds && end <= de {
            return !crate::trap::stacks().any(|(b, _)| a < b && end > b - crate::start::GUARD);
        }
        regions().iter().any(|r| a >= r.start && end <= r.end())
    }

    struct Bump {
        next: u64,
        end: u64,
    }
    impl Frames for Bump {
        fn alloc(&mut self) -> Option<u64> {
            if self.next >= self.end {
                return None;
            }
            let f = self.next;
            self.next += PAGE;
            // SAFETY: the frame lies in RAM reserved for page tables and is mapped by the
            // boot tables (below 4 GiB).
            unsafe { core::ptr::write_bytes(f as *mut u8, 0, PAGE as usize) };
            Some(f)
        }
        fn table(&mut self, phys: u64) -> &mut [u64; 512] {
            // SAFETY: `phys` is a frame handed out by `alloc` (identity-mapped).
            unsafe { &mut *(phys as *mut [u64; 512]) }
        }
    }

    /// Why memory setup failed.
    pub fn error_text(e: MapError) -> &'static str {
        match e {
            MapError::OutOfFrames => "ran out of page-table frames",
            MapError::BadRange => "overlapping or unaligned mappings (a bug in the kvm platform)",
        }
    }

    /// Build the page tables, switch to them and record the allocator's regions.
    pub fn init(b: &BootInfo, nx: bool, lapic: u64) -> Result<(), &'static str> {
        let (img, ts, te, rs, ds, end) = (
            sym(core::ptr::addr_of!(__uk_image_start)),
            sym(core::ptr::addr_of!(__uk_text_start)),
            sym(core::ptr::addr_of!(__uk_text_end)),
            sym(core::ptr::addr_of!(__uk_rodata_start)),
            sym(core::ptr::addr_of!(__uk_data_start)),
            sym(core::ptr::addr_of!(_end)),
        );
        let end = up(end);
        TEXT.0.store(ts as usize, Ordering::Relaxed);
        TEXT.1.store(te as usize, Ordering::Relaxed);
        DATA.0.store(ds as usize, Ordering::Relaxed);
        DATA.1.store(end as usize, Ordering::Relaxed);

        // Free RAM: above 1 MiB, minus the image, the loader's data and the initrd.
        let mut holes = [(0u64, 0u64); 8];
        holes[0] = (0, 1 << 20);
        holes[1] = (img, end);
        holes[2..6].copy_from_slice(&b.used);
        if let Some((s, l)) = b.initrd {
            holes[6] = (s, s + l);
        }
        let mut free = [(0u64, 0u64); MAX_FREE];
        let n = subtract(b.ram(), &holes, 4 * PAGE, &mut free);
        let max_end = b.ram().iter().map(|r| r.1).max().unwrap_or(0);
        // Frames: PML4 + PDPTs + one PD per GiB + PTs for the 4 KiB-mapped edges.
        let frames =
            8 + max_end.div_ceil(1 << 30) + (end - img).div_ceil(2 << 20) + 4 * n as u64 + 8;
        let Some(pt_idx) = (0..n)
            .find(|&i| free[i].1 <= (4 << 30) && free[i].1 - free[i].0 >= (frames + 64) * PAGE)
        else {
            return Err("no RAM below 4 GiB for the page tables; give the VM more memory");
        };
        let pt_start = free[pt_idx].0;
        free[pt_idx].0 += frames * PAGE;

        let mut m = Mapper::new(
            Bump {
                next: pt_start,
                end: pt_start + frames * PAGE,
            },
            nx,
        )
        .map_err(error_text)?;
        let mut map = |s: u64, e: u64, p: Prot| -> Result<(), &'static str> {
            if e > s {
                m.map(s, e, p).map_err(error_text)
            } else {
                Ok(())
            }
        };
        // Low memory (BIOS data, PVH start info) stays reachable, page 0 does not.
        for &(s, e) in b.ram() {
            let (s, e) = (up(s.max(PAGE)), down(e.min(1 << 20)));
            map(s, e, Prot::RW)?;
        }
        map(img, ts, Prot::R)?;
        // The linker script page-aligns the starts of rodata and data.
        map(ts, rs, Prot::RX)?;
        map(rs, ds, Prot::R)?;
        // Data and bss without the stack guard pages.
        let mut at = ds;
        for (bottom, _) in crate::trap::stacks() {
            let g = bottom as u64 - crate::start::GUARD as u64;
            map(at, g, Prot::RW)?;
            at = bottom as u64;
        }
        map(at, end, Prot::RW)?;
        // The loader's structures and the initrd: readable and writable, not executable.
        let mut kept = [(0u64, 0u64); 5];
        kept[..4].copy_from_slice(&b.used);
        if let Some((s, l)) = b.initrd {
            kept[4] = (s, s + l);
        }
        // Page-table frames themselves.
        map(pt_start, pt_start + frames * PAGE, Prot::RW)?;
        let mut regions = 0;
        let mut mapped_kept = [false; 5];
        for (i, &(s, e)) in free[..n].iter().enumerate() {
            // Guard page first, then the region.
            let (s, e) = (s + PAGE, e);
            if i == pt_idx {
                POOL_GUARD.store((s - PAGE) as usize, Ordering::Relaxed);
            }
            map(s, e, Prot::RW)?;
            // SAFETY: boot path, before N_REGIONS is published.
            unsafe {
                (*core::ptr::addr_of_mut!(REGIONS))[regions] = MemRegion {
                    start: s as usize,
                    len: (e - s) as usize,
                };
            }
            regions += 1;
        }
        // Map the kept ranges page by page where nothing maps them yet (they may share
        // pages with each other).
        for (i, &(s, e)) in kept.iter().enumerate() {
            if e <= s || mapped_kept[i] {
                continue;
            }
            let mut a = down(s);
            while a < up(e) {
                if m.translate(a).is_none() {
                    m.map(a, a + PAGE, Prot::RW).map_err(error_text)?;
                }
                a += PAGE;
            }
            mapped_kept[i] = true;
        }
        // Local APIC and I/O APIC registers.
        for mmio in [lapic & !(PAGE - 1), 0xfec0_0000] {
            if m.translate(mmio).is_none() {
                m.map(mmio, mmio + PAGE, Prot::MMIO).map_err(error_text)?;
            }
        }
        let root = m.root();
        N_REGIONS.store(regions, Ordering::Release);
        // SAFETY: the new tables map the running code (text), this stack (bss), the
        // boot info, the IDT/GDT/TSS (data) and every RAM region the kernel uses.
        unsafe {
            uk_arch::ring0::set_cr3(root);
            let cr0 = uk_arch::ring0::cr0();
            uk_arch::ring0::set_cr0(cr0 | uk_arch::ring0::cr::CR0_WP);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtract_holes() {
        let ram = [(0, 0x9fc00), (0x10_0000, 0x800_0000)];
        let holes = [
            (0, 0x10_0000),
            (0x10_0000, 0x25_0123),
            (0x700_0000, 0x710_0000),
            (0x26_0000, 0x26_0800),
        ];
        let mut out = [(0, 0); 8];
        let n = subtract(&ram, &holes, 4 * PAGE, &mut out);
        assert_eq!(
            &out[..n],
            &[
                (0x25_1000, 0x26_0000),
                (0x26_1000, 0x700_0000),
                (0x710_0000, 0x800_0000)
            ]
        );
    }

    #[test]
    fn subtract_drops_small_pieces_and_unaligned_edges() {
        let ram = [(0x10_0800, 0x10_5800)];
        let mut out = [(0, 0); 4];
        let n = subtract(&ram, &[(0x10_2000, 0x10_2001)], 2 * PAGE, &mut out);
        // [0x101000,0x102000) is one page (< min), [0x103000,0x105000) is two.
        assert_eq!(&out[..n], &[(0x10_3000, 0x10_5000)]);
        assert_eq!(subtract(&ram, &[(0, u64::MAX / 2)], 1, &mut out), 0);
    }
}
