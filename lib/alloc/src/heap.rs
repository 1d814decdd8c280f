//! The kernel heap: talc, growing in chunks taken from the page allocator.

use core::alloc::Layout;
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

/// The heap type the image installs as `#[global_allocator]`.
pub type Heap = Talck<spin::Mutex<()>, HeapOom>;

/// A heap with the given growth step; place it in a `static` with `#[global_allocator]`.
pub const fn new_heap(chunk: usize) -> Heap {
    Talc::new(HeapOom { chunk }).lock()
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::alloc::GlobalAlloc;

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
        // SAFETY: p came from h with layout l.
        unsafe { h.dealloc(p, l) };
    }
}
