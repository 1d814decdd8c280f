//! Memory for ukit: a page allocator over the regions the platform hands over at boot,
//! and the kernel heap on top of it.
//!
//! The page allocator serves the program's mmap/brk and the kernel heap. It is a bitmap
//! (one bit per 4 KiB page, stored at the start of each region) because the program's
//! large allocations need long contiguous runs (a 100 MB malloc is one mmap), because it
//! needs no heap itself (the heap grows from it), and because its cost is one bit per
//! page: 32 KiB of bitmap per GiB.
#![cfg_attr(not(test), no_std)]

mod heap;
mod pages;

pub use heap::{heap_in_use, new_heap, Heap, HeapOom};
pub use pages::{PageAlloc, PageStats, MAX_REGIONS};

/// 4 KiB pages everywhere.
pub use uk_abi::PAGE_SIZE;

/// Round `n` up to a whole number of pages; `None` on overflow (a size that came from
/// the program can be anything).
pub fn page_round_up(n: usize) -> Option<usize> {
    n.checked_add(PAGE_SIZE - 1).map(|v| v & !(PAGE_SIZE - 1))
}

/// The kernel's one page allocator.
pub static PAGES: spin::Mutex<PageAlloc> = spin::Mutex::new(PageAlloc::empty());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_up() {
        assert_eq!(page_round_up(0), Some(0));
        assert_eq!(page_round_up(1), Some(4096));
        assert_eq!(page_round_up(4096), Some(4096));
        assert_eq!(page_round_up(usize::MAX), None);
    }
}
