//! The kernel heap: talc, growing in chunks taken from the page allocator.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};
use talc::{OomHandler, Span, Talc, Talck};

/// Grows the heap from [`crate::PAGES`] when talc runs out.
pub struct HeapOom {
    /// Smallest growth step in bytes (`alloc.heap_chunk`).
    pub chunk: usize,
}

impl OomHandler for HeapOom {
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        // Room for the request, talc's per-span overhead and alignment slack.
        let want = layout
            .size()
            .checked_add(layout.align())
            .and_then(|v| v.checked_add(256))
            .ok_or(())?;
        let size = crate::page_round_up(want.max(talc.oom_handler.chunk)).ok_or(())?;
        let base = crate::PAGES
            .lock()
            .alloc(size / crate::PAGE_SIZE)
            .ok_or(())?;
        // SAFETY: the pages were just allocated for the heap and are never freed.
        unsafe { talc.claim(Span::from_base_size(base as *mut u8, size)) }.map(|_| ())
    }
}

/// The heap type the image installs as `#[global_allocator]`: talc, counting the bytes
/// in use ([`heap_in_use`]).
pub struct Heap {
    talc: Talck<spin::Mutex<()>, HeapOom>,
}

/// Bytes the kernel heap has handed out and not had back (requested sizes).
static IN_USE: AtomicUsize = AtomicUsize::new(0);

/// Bytes of kernel heap in use: /proc/meminfo shows it as `Slab`, and tests check that
/// repeated work (a process started and reaped) does not make it grow.
pub fn heap_in_use() -> usize {
    IN_USE.load(Ordering::Relaxed)
}

/// A heap with the given growth step; place it in a `static` with `#[global_allocator]`.
pub const fn new_heap(chunk: usize) -> Heap {
    Heap {
        talc: Talc::new(HeapOom { chunk }).lock(),
    }
}

// SAFETY: every call is forwarded to talc's GlobalAlloc with the caller's arguments;
// the counter is bookkeeping only.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received (the caller upholds GlobalAlloc's contract).
        let p = unsafe { self.talc.alloc(layout) };
        if !p.is_null() {
            IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { self.talc.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received.
        let p = unsafe { self.talc.alloc_zeroed(layout) };
        if !p.is_null() {
            IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as received.
        let p = unsafe { self.talc.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            IN_USE.fetch_add(new_size, Ordering::Relaxed);
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_from_pages() {
        let v = vec![0u8; 2 << 20];
        let start = (v.as_ptr() as usize + 4095) & !4095;
        // SAFETY: the vector outlives the heap use in this test (the static allocator
        // keeps pointers into it only for this test's allocations).
        unsafe {
            crate::PAGES.lock().add_region(uk_plat::MemRegion {
                start,
                len: (1 << 20) + 65536,
            })
        };
        let h = new_heap(64 * 1024);
        let l = Layout::from_size_align(1000, 8).unwrap();
        // SAFETY: layout is non-zero sized.
        let p = unsafe { h.alloc(l) };
        assert!(!p.is_null());
        assert!(p as usize >= start && (p as usize) < start + (2 << 20));
        // A request far larger than the region fails cleanly (null, no panic).
        let huge = Layout::from_size_align(64 << 20, 8).unwrap();
        // SAFETY: non-zero layout.
        assert!(unsafe { h.alloc(huge) }.is_null());
        let used = heap_in_use();
        // SAFETY: p came from h with layout l.
        unsafe { h.dealloc(p, l) };
        assert!(used >= 1000, "counted while held");
        assert_eq!(heap_in_use(), used - 1000, "and given back");
    }
}
