//! Bitmap page allocator.

use crate::PAGE_SIZE;
use uk_plat::MemRegion;

/// Regions beyond this many are ignored (a platform reporting more is unusual: the
/// kvm memory map has one or two usable ranges, linuxu has one).
pub const MAX_REGIONS: usize = 8;

#[derive(Clone, Copy, Debug, Default)]
struct Arena {
    /// First allocatable page (after the bitmap).
    base: usize,
    /// Allocatable pages.
    pages: usize,
    /// The bitmap: one bit per page, 1 = in use.
    bitmap: *mut u64,
    /// Search hint: no free page below this index... probably (next-fit).
    hint: usize,
    free: usize,
}

// SAFETY: an Arena's bitmap pointer refers to memory owned exclusively by the allocator;
// access is serialized by the Mutex around PageAlloc.
unsafe impl Send for Arena {}

/// Counters for sysinfo and /proc-like reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageStats {
    pub total_pages: usize,
    pub free_pages: usize,
}

/// The page allocator. Create with [`PageAlloc::empty`], then [`PageAlloc::add_region`].
pub struct PageAlloc {
    arenas: [Arena; MAX_REGIONS],
    n: usize,
    /// True when pages that are free read as zero (linuxu returns freed pages to the
    /// host, which zeroes them; fresh anonymous memory is zero too).
    free_is_zero: bool,
}

impl PageAlloc {
    pub const fn empty() -> Self {
        PageAlloc {
            arenas: [Arena {
                base: 0,
                pages: 0,
                bitmap: core::ptr::null_mut(),
                hint: 0,
                free: 0,
            }; MAX_REGIONS],
            n: 0,
            free_is_zero: false,
        }
    }

    /// Declare whether free pages are known to read as zero.
    pub fn set_free_is_zero(&mut self, z: bool) {
        self.free_is_zero = z;
    }

    /// Whether callers must clear pages they get.
    pub fn free_is_zero(&self) -> bool {
        self.free_is_zero
    }

    /// Hand a region to the allocator. Its first pages hold the bitmap. Regions too
    /// small to hold a bitmap and one page are ignored.
    ///
    /// # Safety
    /// The region must be writable memory that nothing else uses, for ever.
    pub unsafe fn add_region(&mut self, r: MemRegion) {
        if self.n == MAX_REGIONS {
            return;
        }
        let start = (r.start + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
        let end = r.end() & !(PAGE_SIZE - 1);
        if end <= start {
            return;
        }
        let total = (end - start) / PAGE_SIZE;
        // Pages needed for the bitmap of `total` pages (slightly more than needed, since
        // the bitmap pages themselves need no bits).
        let words = total.div_ceil(64);
        let bm_pages = (words * 8).div_ceil(PAGE_SIZE);
        if total <= bm_pages {
            return;
        }
        let pages = total - bm_pages;
        let bitmap = start as *mut u64;
        if !self.free_is_zero {
            // SAFETY: the caller gives us the region; the bitmap fits in its first pages.
            unsafe { core::ptr::write_bytes(bitmap, 0, words) };
        }
        // (Memory the platform hands over zeroed is not written: on linuxu that keeps the
        // bitmap's pages untouched, so a 1 GiB region costs no page faults at boot.)
        // Bits past `pages` in the last word are marked used so they are never found.
        let tail = pages % 64;
        let used_words = pages.div_ceil(64);
        if tail != 0 {
            // SAFETY: used_words - 1 < words.
            unsafe { *bitmap.add(used_words - 1) = !0u64 << tail };
        }
        for w in used_words..words {
            // SAFETY: w < words.
            unsafe { *bitmap.add(w) = !0 };
        }
        self.arenas[self.n] = Arena {
            base: start + bm_pages * PAGE_SIZE,
            pages,
            bitmap,
            hint: 0,
            free: pages,
        };
        self.n += 1;
    }

    pub fn stats(&self) -> PageStats {
        let mut s = PageStats::default();
        for a in &self.arenas[..self.n] {
            s.total_pages += a.pages;
            s.free_pages += a.free;
        }
        s
    }

    /// Allocate `n` contiguous pages; `None` when no run that long is free.
    pub fn alloc(&mut self, n: usize) -> Option<usize> {
        if n == 0 {
            return None;
        }
        for i in 0..self.n {
            let a = &mut self.arenas[i];
            if a.free < n {
                continue;
            }
            let found = find_run(a, a.hint, n).or_else(|| find_run(a, 0, n));
            if let Some(first) = found {
                set_bits(a, first, n, true);
                a.free -= n;
                a.hint = first + n;
                return Some(a.base + first * PAGE_SIZE);
            }
        }
        None
    }

    /// Allocate `n` pages that read as zero.
    pub fn alloc_zeroed(&mut self, n: usize) -> Option<usize> {
        let p = self.alloc(n)?;
        if !self.free_is_zero {
            // SAFETY: the pages were just allocated to us.
            unsafe { core::ptr::write_bytes(p as *mut u8, 0, n * PAGE_SIZE) };
        }
        Some(p)
    }

    /// Allocate exactly the pages `[addr, addr + n pages)`, for MAP_FIXED. False when any
    /// of them is in use or outside the allocator.
    pub fn alloc_at(&mut self, addr: usize, n: usize) -> bool {
        if n == 0 || !addr.is_multiple_of(PAGE_SIZE) {
            return false;
        }
        let Some(i) = self.arena_of(addr) else {
            return false;
        };
        let a = &mut self.arenas[i];
        let first = (addr - a.base) / PAGE_SIZE;
        if first.checked_add(n).is_none_or(|e| e > a.pages)
            || (first..first + n).any(|p| get_bit(a, p))
        {
            return false;
        }
        set_bits(a, first, n, true);
        a.free -= n;
        true
    }

    /// Try to extend the allocation `[addr, addr + old pages)` in place to `new` pages.
    pub fn grow_in_place(&mut self, addr: usize, old: usize, new: usize) -> bool {
        if new <= old {
            return true;
        }
        let Some(i) = self.arena_of(addr) else {
            return false;
        };
        let a = &mut self.arenas[i];
        let first = (addr - a.base) / PAGE_SIZE + old;
        let extra = new - old;
        if first + extra > a.pages {
            return false;
        }
        if (first..first + extra).any(|p| get_bit(a, p)) {
            return false;
        }
        set_bits(a, first, extra, true);
        a.free -= extra;
        true
    }

    /// Free `n` pages at `addr`. Returns false (and frees nothing) when the range is not
    /// fully allocated memory of this allocator: a double free or a stray pointer must
    /// not corrupt the bitmap.
    pub fn free(&mut self, addr: usize, n: usize) -> bool {
        if n == 0 || !addr.is_multiple_of(PAGE_SIZE) {
            return false;
        }
        let Some(i) = self.arena_of(addr) else {
            return false;
        };
        let a = &mut self.arenas[i];
        let first = (addr - a.base) / PAGE_SIZE;
        if first.checked_add(n).is_none_or(|e| e > a.pages) {
            return false;
        }
        if !(first..first + n).all(|p| get_bit(a, p)) {
            return false;
        }
        set_bits(a, first, n, false);
        a.free += n;
        if first < a.hint {
            a.hint = first;
        }
        true
    }

    /// Is `[addr, addr+len)` allocated memory of this allocator?
    pub fn is_allocated(&self, addr: usize, len: usize) -> bool {
        let Some(i) = self.arena_of(addr) else {
            return false;
        };
        let a = &self.arenas[i];
        let first = (addr - a.base) / PAGE_SIZE;
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        let last = (end.saturating_sub(1) - a.base) / PAGE_SIZE;
        last < a.pages && (first..=last).all(|p| get_bit(a, p))
    }

    fn arena_of(&self, addr: usize) -> Option<usize> {
        self.arenas[..self.n]
            .iter()
            .position(|a| addr >= a.base && addr < a.base + a.pages * PAGE_SIZE)
    }
}

fn get_bit(a: &Arena, p: usize) -> bool {
    // SAFETY: p < a.pages, so the word is inside the bitmap.
    unsafe { *a.bitmap.add(p / 64) & (1 << (p % 64)) != 0 }
}

fn set_bits(a: &mut Arena, first: usize, n: usize, used: bool) {
    let mut p = first;
    let end = first + n;
    while p < end {
        let w = p / 64;
        let bit = p % 64;
        let take = (64 - bit).min(end - p);
        let mask = if take == 64 {
            !0u64
        } else {
            ((1u64 << take) - 1) << bit
        };
        // SAFETY: p < a.pages so w is inside the bitmap.
        unsafe {
            let word = a.bitmap.add(w);
            if used {
                *word |= mask;
            } else {
                *word &= !mask;
            }
        }
        p += take;
    }
}

/// First-fit search for `n` clear bits starting at page `from`; skips full words.
fn find_run(a: &Arena, from: usize, n: usize) -> Option<usize> {
    let mut p = from;
    let mut run_start = p;
    let mut run = 0usize;
    while p < a.pages {
        if p.is_multiple_of(64) && run == 0 {
            // SAFETY: p < a.pages, word in bitmap.
            let word = unsafe { *a.bitmap.add(p / 64) };
            if word == !0 {
                p += 64;
                run_start = p;
                continue;
            }
        }
        if p.is_multiple_of(64) && run > 0 {
            // SAFETY: as above.
            let word = unsafe { *a.bitmap.add(p / 64) };
            if word == 0 && p + 64 <= a.pages {
                run += 64;
                p += 64;
                if run >= n {
                    return Some(run_start);
                }
                continue;
            }
        }
        if get_bit(a, p) {
            run = 0;
            run_start = p + 1;
        } else {
            run += 1;
            if run >= n {
                return Some(run_start);
            }
        }
        p += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(pages: usize) -> (Vec<u8>, MemRegion) {
        let v = vec![0u8; (pages + 1) * PAGE_SIZE];
        let start = (v.as_ptr() as usize + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
        (
            v,
            MemRegion {
                start,
                len: pages * PAGE_SIZE,
            },
        )
    }

    #[test]
    fn alloc_free_contiguous() {
        let (_mem, r) = region(1000);
        let mut pa = PageAlloc::empty();
        // SAFETY: the vector outlives the allocator in this test.
        unsafe { pa.add_region(r) };
        let total = pa.stats().total_pages;
        assert!(total > 990 && total < 1000);
        let a = pa.alloc(10).unwrap();
        let b = pa.alloc(100).unwrap();
        assert_eq!(b, a + 10 * PAGE_SIZE);
        assert!(pa.is_allocated(a, 10 * PAGE_SIZE));
        assert!(pa.free(a, 10));
        assert!(!pa.free(a, 10), "double free refused");
        assert!(!pa.free(a + 1, 1), "unaligned refused");
        assert!(!pa.free(b, 101), "over-long free refused");
        assert_eq!(pa.stats().free_pages, total - 100);
        // The hole at the start is reused for a fitting request.
        assert_eq!(pa.alloc(5), Some(a));
        // A request larger than what is left fails cleanly.
        assert_eq!(pa.alloc(total), None);
        assert_eq!(pa.alloc(0), None);
    }

    #[test]
    fn long_runs_cross_words_and_fill_exactly() {
        let (_mem, r) = region(4096);
        let mut pa = PageAlloc::empty();
        // SAFETY: as above.
        unsafe { pa.add_region(r) };
        let total = pa.stats().total_pages;
        let x = pa.alloc(3).unwrap();
        let big = pa.alloc(total - 3).unwrap();
        assert_eq!(big, x + 3 * PAGE_SIZE);
        assert_eq!(pa.alloc(1), None);
        assert!(pa.free(x, 3));
        assert!(pa.free(big + 64 * PAGE_SIZE, 200));
        assert_eq!(pa.alloc(200), Some(big + 64 * PAGE_SIZE));
    }

    #[test]
    fn grow_in_place() {
        let (_mem, r) = region(256);
        let mut pa = PageAlloc::empty();
        // SAFETY: as above.
        unsafe { pa.add_region(r) };
        let a = pa.alloc(4).unwrap();
        assert!(pa.grow_in_place(a, 4, 8));
        let b = pa.alloc(1).unwrap();
        assert_eq!(b, a + 8 * PAGE_SIZE);
        assert!(!pa.grow_in_place(a, 8, 9));
        assert!(!pa.alloc_at(b, 1));
        assert!(pa.alloc_at(b + PAGE_SIZE, 2));
        assert!(pa.is_allocated(b + PAGE_SIZE, 2 * PAGE_SIZE));
    }

    #[test]
    fn zeroing_when_platform_does_not() {
        let (_mem, r) = region(16);
        let mut pa = PageAlloc::empty();
        // SAFETY: as above.
        unsafe { pa.add_region(r) };
        let a = pa.alloc(1).unwrap();
        // SAFETY: we own the page.
        unsafe { core::ptr::write_bytes(a as *mut u8, 0xaa, PAGE_SIZE) };
        assert!(pa.free(a, 1));
        let b = pa.alloc_zeroed(1).unwrap();
        assert_eq!(a, b);
        // SAFETY: we own the page.
        let s = unsafe { core::slice::from_raw_parts(b as *const u8, PAGE_SIZE) };
        assert!(s.iter().all(|&x| x == 0));
    }

    #[test]
    fn tiny_region_ignored() {
        let (_mem, r) = region(1);
        let mut pa = PageAlloc::empty();
        // SAFETY: as above.
        unsafe { pa.add_region(r) };
        assert_eq!(pa.stats().total_pages, 0);
        assert_eq!(pa.alloc(1), None);
    }
}
