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
//!
//! At run time [`protect`] (`Platform::protect`) changes the protection of pages inside
//! the allocator regions, and nothing else: a 2 MiB page is split into a 4 KiB table the
//! first time part of it changes. The frames for those tables come from a pool reserved
//! at boot next to the page-table frames, out of the allocator's reach: one frame per
//! 2 MiB page of allocator RAM, so every large page can be split once (tables are never
//! merged back) and the pool cannot run dry. Its frames are only zeroed when used.
//!
//! Shared file maps show page-cache frames a second time (`Platform::alias`): at
//! addresses of the alias window ([`WINDOW`], above anything RAM or devices use), or
//! over allocator pages the caller owns. Those entries are 4 KiB, marked as aliases,
//! and their tables come from the caller (the page allocator), so the window costs
//! nothing until used.

pub use uk_arch::paging::PAGE;
pub const MAX_FREE: usize = 32;

/// The alias window: 64 GiB of addresses from 1 TiB (no RAM or device is that high on
/// the machines we boot; the boot tables map nothing there).
pub const WINDOW: uk_plat::MemRegion = uk_plat::MemRegion {
    start: 1 << 40,
    len: 64 << 30,
};

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

/// The page protection for Linux `PROT_*` bits (`None`: no access), or `Err` for bits
/// that are not protection bits. x86 pages cannot be write-only or execute-only, so
/// WRITE implies READ and EXEC implies READ, as on Linux.
#[allow(clippy::result_unit_err)]
pub fn prot_for(prot: u32) -> Result<Option<uk_arch::paging::Prot>, ()> {
    use uk_abi::mman::{PROT_EXEC as EXEC, PROT_READ as READ, PROT_WRITE as WRITE};
    if prot & !(READ | WRITE | EXEC) != 0 {
        return Err(());
    }
    if prot == 0 {
        return Ok(None);
    }
    Ok(Some(uk_arch::paging::Prot {
        write: prot & WRITE != 0,
        exec: prot & EXEC != 0,
        uncached: false,
    }))
}

/// `[start, start+len)` as a page-aligned range inside one of `regions`, or `None`
/// (misaligned, overflowing, or touching anything outside allocator RAM: the image,
/// page tables, guard pages, device memory).
pub fn check_range(regions: &[uk_plat::MemRegion], start: usize, len: usize) -> Option<(u64, u64)> {
    let page = PAGE as usize;
    if !start.is_multiple_of(page) || !len.is_multiple_of(page) {
        return None;
    }
    let end = start.checked_add(len)?;
    regions
        .iter()
        .any(|r| start >= r.start && end <= r.start.saturating_add(r.len))
        .then_some((start as u64, end as u64))
}

/// How many whole, aligned 2 MiB pages `ranges` hold: the most 2 MiB pages the
/// allocator regions can be mapped with, so the most splits `protect` can ever need.
pub fn huge_pages(ranges: &[(u64, u64)]) -> u64 {
    const HUGE: u64 = 2 << 20;
    ranges
        .iter()
        .map(|&(s, e)| {
            let (s, e) = (s.div_ceil(HUGE) * HUGE, e / HUGE * HUGE);
            e.saturating_sub(s) / HUGE
        })
        .sum()
}

/// What a page fault on allocator RAM hit, in words, from the CPU's error code, the
/// faulting address and the interrupted stack pointer. Pages there are only ever not
/// present or read-only because `protect` made them so (a guard page below a thread
/// stack, a `PROT_NONE` or read-only map).
pub fn fault_kind(error: u64, addr: u64, rsp: u64) -> &'static str {
    const PRESENT: u64 = 1;
    const WRITE: u64 = 2;
    const RESERVED: u64 = 8;
    const FETCH: u64 = 16;
    // A stack that runs into its guard page faults a little below or above RSP (a
    // push, or a store into a frame just allocated with `sub rsp`).
    let near_stack = addr < rsp.saturating_add(64 << 10) && addr >= rsp.saturating_sub(64 << 10);
    if error & RESERVED != 0 {
        "reserved bit set in a page-table entry (a bug in the kvm platform)"
    } else if error & PRESENT == 0 {
        if near_stack {
            "access to an unmapped page (guard page or PROT_NONE map): stack overflow into a guard page"
        } else {
            "access to an unmapped page (guard page or PROT_NONE map)"
        }
    } else if error & FETCH != 0 {
        "instruction fetch from a no-execute page (map without PROT_EXEC)"
    } else if error & WRITE != 0 {
        "write to a read-only page"
    } else {
        "read of a page without read access"
    }
}

#[cfg(not(test))]
pub use hw::*;

#[cfg(not(test))]
mod hw {
    use super::*;
    use crate::bootinfo::BootInfo;
    use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use uk_arch::paging::{Frames, MapError, Mapper, Prot};
    use uk_plat::MemRegion;

    extern "C" {
        static __uk_image_start: u8;
        static __uk_text_start: u8;
        static __uk_text_end: u8;
        static __uk_rodata_start: u8;
        static __uk_data_start: u8;
        static __uk_kernel_data_end: u8;
        static _end: u8;
    }

    /// `Platform::program_data`: the program's own writable data, which kvm.ld links
    /// after the kernel's, in whole pages.
    pub fn program_data() -> Option<MemRegion> {
        // Linker-defined symbols: only their addresses are taken.
        let (s, e) = (
            sym(core::ptr::addr_of!(__uk_kernel_data_end)) as usize,
            sym(core::ptr::addr_of!(_end)) as usize,
        );
        let e = (e + PAGE as usize - 1) & !(PAGE as usize - 1);
        (s != 0 && e > s && s.is_multiple_of(PAGE as usize)).then_some(MemRegion {
            start: s,
            len: e - s,
        })
    }

    fn sym(p: *const u8) -> u64 {
        p as u64
    }

    static TEXT: (AtomicUsize, AtomicUsize) = (AtomicUsize::new(0), AtomicUsize::new(0));
    static POOL_GUARD: AtomicUsize = AtomicUsize::new(usize::MAX - PAGE as usize);
    static mut REGIONS: [MemRegion; MAX_FREE] = [MemRegion { start: 0, len: 0 }; MAX_FREE];
    static N_REGIONS: AtomicUsize = AtomicUsize::new(0);
    static DATA: (AtomicUsize, AtomicUsize) = (AtomicUsize::new(0), AtomicUsize::new(0));
    /// The live page tables' root and whether NX is on (0 until `init` switched).
    static ROOT: AtomicU64 = AtomicU64::new(0);
    static NX: AtomicBool = AtomicBool::new(false);
    /// The split pool: unused table frames `[next, end)`.
    static POOL: (AtomicU64, AtomicU64) = (AtomicU64::new(0), AtomicU64::new(0));
    static POOL_SIZE: AtomicU64 = AtomicU64::new(0);
    /// Held while `protect` edits the tables (one CPU, but a nested call must not).
    static EDITING: AtomicBool = AtomicBool::new(false);
    /// Above this many changed entries one CR3 reload is cheaper than `invlpg`s.
    const INVLPG_MAX: usize = 32;

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
            return !crate::start::stacks().any(|(b, _)| a < b && end > b - crate::start::GUARD);
        }
        regions().iter().any(|r| a >= r.start && end <= r.end())
            && (down(a as u64)..end as u64)
                .step_by(PAGE as usize)
                .all(present)
    }

    /// The live tables over the split pool.
    fn live() -> Option<Mapper<Bump>> {
        let root = ROOT.load(Ordering::Acquire);
        (root != 0).then(|| {
            let pool = Bump {
                next: POOL.0.load(Ordering::Relaxed),
                end: POOL.1.load(Ordering::Relaxed),
            };
            Mapper::attach(pool, root, NX.load(Ordering::Relaxed))
        })
    }

    /// True when the page at `a` is mapped in the live tables (a range inside the
    /// allocator may have been protected to no access).
    fn present(a: u64) -> bool {
        if EDITING.load(Ordering::Acquire) {
            // A fault while `protect` was editing: do not trust the tables.
            return false;
        }
        live().is_some_and(|mut m| m.translate(a).is_some())
    }

    /// `Platform::protect`: have the MMU enforce Linux `PROT_*` bits `prot` on the
    /// page-aligned range `[start, start+len)`, which must lie inside one allocator
    /// region or the alias window. Returns false, with nothing changed, for anything
    /// else.
    pub fn protect(start: usize, len: usize, prot: u32) -> bool {
        let range = check_range(regions(), start, len).or(check_range(&[WINDOW], start, len));
        let (Ok(p), Some((s, e))) = (prot_for(prot), range) else {
            return false;
        };
        let pool = Bump {
            next: POOL.0.load(Ordering::Relaxed),
            end: POOL.1.load(Ordering::Relaxed),
        };
        let r = edit(
            pool,
            |pool| POOL.0.store(pool.next, Ordering::Relaxed),
            |m, flush| m.protect(s, e, p, flush),
        );
        matches!(r, Some(Ok(())))
    }

    /// Page-table frames handed out by the caller of `alias` (identity-mapped RAM).
    struct Given<'a>(&'a mut dyn FnMut() -> Option<usize>);
    impl Frames for Given<'_> {
        fn alloc(&mut self) -> Option<u64> {
            (self.0)().map(|f| f as u64)
        }
        fn table(&mut self, phys: u64) -> &mut [u64; 512] {
            // SAFETY: table frames are identity-mapped RAM: the boot tables' own, the
            // split pool's, or allocator pages given to `alias`.
            unsafe { &mut *(phys as *mut [u64; 512]) }
        }
    }

    /// Run `edit` on the live tables with `frames`, flushing what it changed. False
    /// when the tables are busy (a nested call) or not set up yet.
    fn edit<F: Frames, R>(
        frames: F,
        done: impl FnOnce(F),
        edit: impl FnOnce(&mut Mapper<F>, &mut dyn FnMut(u64)) -> R,
    ) -> Option<R> {
        let root = ROOT.load(Ordering::Acquire);
        if root == 0 || EDITING.swap(true, Ordering::Acquire) {
            return None;
        }
        let mut m = Mapper::attach(frames, root, NX.load(Ordering::Relaxed));
        let mut changed = 0usize;
        let r = edit(&mut m, &mut |a| {
            changed += 1;
            if changed <= INVLPG_MAX {
                // SAFETY: ring 0; invalidating a translation is always allowed.
                unsafe { uk_arch::ring0::invlpg(a) };
            }
        });
        if changed > INVLPG_MAX {
            // SAFETY: reloading the same root only flushes the TLB (no global pages).
            unsafe { uk_arch::ring0::set_cr3(uk_arch::ring0::cr3()) };
        }
        done(m.into_frames());
        EDITING.store(false, Ordering::Release);
        Some(r)
    }

    /// `Platform::alias`: show the allocator frames `[frame, frame+len)` at `at` (in
    /// [`WINDOW`] or in allocator RAM), tables from `tables`.
    pub fn alias(
        at: usize,
        frame: usize,
        len: usize,
        prot: u32,
        tables: &mut dyn FnMut() -> Option<usize>,
    ) -> Result<(), uk_abi::Errno> {
        use uk_abi::Errno;
        let data = program_data().map(|r| [r]);
        let ok_at = check_range(&[WINDOW], at, len).is_some()
            || check_range(regions(), at, len).is_some()
            || data.is_some_and(|d| check_range(&d, at, len).is_some());
        let (Ok(p), Some(_), true) = (prot_for(prot), check_range(regions(), frame, len), ok_at)
        else {
            return Err(Errno::EINVAL);
        };
        let r = edit(
            Given(tables),
            |_| {},
            |m, flush| m.alias(at as u64, frame as u64, len as u64, p, flush),
        );
        match r {
            Some(Ok(())) => Ok(()),
            Some(Err(MapError::OutOfFrames)) => Err(Errno::ENOMEM),
            Some(Err(MapError::BadRange)) => Err(Errno::EINVAL),
            None => Err(Errno::EBUSY),
        }
    }

    /// `Platform::unalias`.
    pub fn unalias(at: usize, len: usize) {
        let ram = check_range(regions(), at, len).is_some();
        let data = program_data().is_some_and(|d| check_range(&[d], at, len).is_some());
        if !ram && !data && check_range(&[WINDOW], at, len).is_none() {
            return;
        }
        let mut none = || None;
        edit(
            Given(&mut none),
            |_| {},
            |m, flush| m.unalias(at as u64, len as u64, ram, flush),
        );
    }

    /// Split-pool frames (4 KiB each): (left, reserved at boot).
    pub fn pool_frames() -> (u64, u64) {
        let (next, end) = (
            POOL.0.load(Ordering::Relaxed),
            POOL.1.load(Ordering::Relaxed),
        );
        (
            end.saturating_sub(next) / PAGE,
            POOL_SIZE.load(Ordering::Relaxed) / PAGE,
        )
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
        let boot_frames =
            8 + max_end.div_ceil(1 << 30) + (end - img).div_ceil(2 << 20) + 4 * n as u64 + 8;
        // Plus the split pool: one frame per 2 MiB page the regions could be mapped
        // with (carving the tables out of a region only lowers that count).
        let frames = boot_frames + huge_pages(&free[..n]);
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
        for (bottom, _) in crate::start::stacks() {
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
        let pool_start = m.frames().next;
        let pool_end = pt_start + frames * PAGE;
        POOL.0.store(pool_start, Ordering::Relaxed);
        POOL.1.store(pool_end, Ordering::Relaxed);
        POOL_SIZE.store(pool_end - pool_start, Ordering::Relaxed);
        NX.store(nx, Ordering::Relaxed);
        N_REGIONS.store(regions, Ordering::Release);
        // SAFETY: the new tables map the running code (text), this stack (bss), the
        // boot info, the IDT/GDT/TSS (data) and every RAM region the kernel uses.
        unsafe {
            uk_arch::ring0::set_cr3(root);
            let cr0 = uk_arch::ring0::cr0();
            uk_arch::ring0::set_cr0(cr0 | uk_arch::ring0::cr::CR0_WP);
        }
        ROOT.store(root, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use uk_arch::paging::Prot;
    use uk_plat::MemRegion;

    #[test]
    fn prot_bits_choose_page_flags() {
        assert_eq!(prot_for(0), Ok(None));
        assert_eq!(prot_for(1), Ok(Some(Prot::R)));
        assert_eq!(prot_for(3), Ok(Some(Prot::RW)));
        // Write-only cannot exist on x86: it is read+write.
        assert_eq!(prot_for(2), Ok(Some(Prot::RW)));
        assert_eq!(prot_for(5), Ok(Some(Prot::RX)));
        let rwx = prot_for(7).unwrap().unwrap();
        assert!(rwx.write && rwx.exec && !rwx.uncached);
        assert_eq!(prot_for(8), Err(()));
        assert_eq!(
            prot_for(0x0100_0000 | 1),
            Err(()),
            "PROT_GROWSDOWN is not ours"
        );
    }

    #[test]
    fn ranges_must_be_aligned_and_inside_one_region() {
        let regions = [
            MemRegion {
                start: 0x20_1000,
                len: 0x10_0000,
            },
            MemRegion {
                start: 0x40_0000,
                len: 0x2000,
            },
        ];
        let r = |s, l| check_range(&regions, s, l);
        assert_eq!(r(0x20_1000, 0x1000), Some((0x20_1000, 0x20_2000)));
        assert_eq!(r(0x20_1000, 0x10_0000), Some((0x20_1000, 0x30_1000)));
        assert_eq!(r(0x40_1000, 0x1000), Some((0x40_1000, 0x40_2000)));
        assert_eq!(r(0x20_1000, 0), Some((0x20_1000, 0x20_1000)));
        // The guard page below a region, past its end, across two regions.
        assert_eq!(r(0x20_0000, 0x2000), None);
        assert_eq!(r(0x30_0000, 0x2000), None);
        assert_eq!(r(0x30_0000, 0x10_2000), None);
        // Unaligned, overflowing, outside everything (the image, MMIO).
        assert_eq!(r(0x20_1800, 0x1000), None);
        assert_eq!(r(0x20_1000, 0x800), None);
        assert_eq!(r(usize::MAX & !0xfff, 0x2000), None);
        assert_eq!(r(0x10_0000, 0x1000), None);
        assert_eq!(r(0xfee0_0000, 0x1000), None);
        assert_eq!(check_range(&[], 0x20_1000, 0x1000), None);
    }

    #[test]
    fn pool_holds_one_frame_per_huge_page() {
        // 128 MiB guest: free RAM from just above the image to below 128 MiB.
        // 6 MiB .. 126 MiB: 60 whole 2 MiB pages.
        assert_eq!(huge_pages(&[(0x52_3000, 0x7fe_0000)]), 60);
        assert_eq!(huge_pages(&[(0x20_0000, 0x40_0000)]), 1);
        assert_eq!(huge_pages(&[(0x20_1000, 0x40_0000)]), 0);
        assert_eq!(huge_pages(&[(0x20_1000, 0x3f_f000), (0, 0x60_0000)]), 3);
        assert_eq!(huge_pages(&[]), 0);
    }

    #[test]
    fn fault_kinds_name_what_was_hit() {
        let rsp = 0x80_0000;
        assert_eq!(
            fault_kind(0b11, 0x90_0000, rsp),
            "write to a read-only page"
        );
        assert!(fault_kind(0b10, 0x90_0000, rsp).starts_with("access to an unmapped page"));
        assert!(!fault_kind(0b10, 0x90_0000, rsp).contains("stack overflow"));
        assert!(fault_kind(0b10, rsp - 8, rsp).contains("stack overflow"));
        assert!(fault_kind(0b00, rsp + 0x400, rsp).contains("stack overflow"));
        assert!(fault_kind(0b1_0001, 0x90_0000, rsp).contains("no-execute"));
        assert!(fault_kind(0b1001, 0x90_0000, rsp).contains("reserved bit"));
        assert_eq!(
            fault_kind(0b01, 0x90_0000, rsp),
            "read of a page without read access"
        );
    }

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
