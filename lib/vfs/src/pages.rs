//! The page cache of one file: its contents as whole page frames.
//!
//! A shared file map shows these very frames in the program's address space (the
//! platform aliases them, `uk_plat::Platform::alias`), so stores through a map,
//! read(2)/write(2) and every other map of the file meet in the same memory, without
//! copies or write-back races. The kernel reads and writes the frames at their own
//! addresses (read+write for the kernel), never through a program's map, so a map's
//! protection never stands in the kernel's way.
//!
//! ramfs keeps its files' contents here directly; hostfs keeps a cache of a host file
//! here while it is mapped (docs/filesystems.md).

use crate::{Errno, KResult, Sink, Source};
use alloc::collections::BTreeMap;
use core::sync::atomic::{AtomicUsize, Ordering};
use uk_abi::PAGE_SIZE;

const PAGE: u64 = PAGE_SIZE as u64;

/// A file's pages, by page index. Absent pages read as zeros.
pub struct FilePages {
    frames: spin::Mutex<BTreeMap<u64, usize>>,
    /// How many program maps show these frames: while any does, frames are never
    /// freed (a truncate zeroes them instead), because a map may still reach them.
    maps: AtomicUsize,
}

impl Default for FilePages {
    fn default() -> Self {
        Self::new()
    }
}

/// A zeroed frame from the page allocator.
fn new_frame() -> KResult<usize> {
    uk_alloc::PAGES.lock().alloc_zeroed(1).ok_or(Errno::ENOMEM)
}

fn free_frame(f: usize) {
    let zeroed = uk_plat::try_get().is_some_and(|p| p.release(f, PAGE_SIZE));
    let mut pa = uk_alloc::PAGES.lock();
    if !zeroed && pa.free_is_zero() {
        // SAFETY: the frame belonged to this cache and nothing maps it any more.
        unsafe { core::ptr::write_bytes(f as *mut u8, 0, PAGE_SIZE) };
    }
    pa.free(f, 1);
}

impl FilePages {
    pub const fn new() -> Self {
        FilePages {
            frames: spin::Mutex::new(BTreeMap::new()),
            maps: AtomicUsize::new(0),
        }
    }

    /// The frame of page `idx`, when the page exists.
    pub fn get(&self, idx: u64) -> Option<usize> {
        self.frames.lock().get(&idx).copied()
    }

    /// The frame of page `idx`, made (zeroed) when absent. ENOMEM when no memory is left.
    pub fn frame(&self, idx: u64) -> KResult<usize> {
        let mut f = self.frames.lock();
        if let Some(&a) = f.get(&idx) {
            return Ok(a);
        }
        let a = new_frame()?;
        f.insert(idx, a);
        Ok(a)
    }

    /// The frame of page `idx`; a page made now is first filled by `fill` (with the
    /// file's bytes, from where the file lives) and dropped again when that fails.
    pub fn frame_with(&self, idx: u64, fill: impl FnOnce(usize) -> KResult<()>) -> KResult<usize> {
        if let Some(a) = self.get(idx) {
            return Ok(a);
        }
        let a = new_frame()?;
        if let Err(e) = fill(a) {
            free_frame(a);
            return Err(e);
        }
        // One CPU and no waiting since `get`: nobody made the page meanwhile.
        self.frames.lock().insert(idx, a);
        Ok(a)
    }

    /// For each present page overlapping `[off, off + len)`: the address of the
    /// overlapping bytes in the frame and their place in the range (start, end).
    fn overlaps(&self, off: u64, len: usize, mut f: impl FnMut(usize, usize, usize)) {
        let end = off + len as u64;
        let frames = self.frames.lock();
        for (&idx, &a) in frames.range(off / PAGE..end.div_ceil(PAGE)) {
            let (p0, p1) = (idx * PAGE, idx * PAGE + PAGE);
            let (s, e) = (p0.max(off), p1.min(end));
            f(
                a + (s - p0) as usize,
                (s - off) as usize,
                (e - off) as usize,
            );
        }
    }

    /// Copy the present pages' bytes over `buf`, which holds the file's bytes from
    /// `off` as read from where the file lives (hostfs): cached pages are newer.
    pub fn overlay(&self, off: u64, buf: &mut [u8]) {
        self.overlaps(off, buf.len(), |at, s, e| {
            // SAFETY: a frame of this cache; `overlaps` keeps [at, at + e - s) inside it.
            let src = unsafe { core::slice::from_raw_parts(at as *const u8, e - s) };
            buf[s..e].copy_from_slice(src);
        });
    }

    /// `data` was written at `off` where the file lives: copy it into the present pages
    /// so that maps see it.
    pub fn update(&self, off: u64, data: &[u8]) {
        self.overlaps(off, data.len(), |at, s, e| {
            // SAFETY: as in `overlay`, writable kernel memory.
            let dst = unsafe { core::slice::from_raw_parts_mut(at as *mut u8, e - s) };
            dst.copy_from_slice(&data[s..e]);
        });
    }

    /// The present pages among `[first, first + count)`, as (index, frame).
    pub fn present(&self, first: u64, count: u64) -> alloc::vec::Vec<(u64, usize)> {
        self.frames
            .lock()
            .range(first..first.saturating_add(count))
            .map(|(&k, &v)| (k, v))
            .collect()
    }

    /// Number of pages present (for st_blocks).
    pub fn count(&self) -> usize {
        self.frames.lock().len()
    }

    /// Copy `[off, off + n)` into `sink` from byte `at` of the sink; absent pages read
    /// as zeros. Returns how much was copied: less than `n` when the sink runs into
    /// memory it may not write.
    pub fn read(&self, off: u64, n: usize, sink: &mut dyn Sink, at: usize) -> usize {
        const ZEROS: [u8; PAGE_SIZE] = [0; PAGE_SIZE];
        let mut done = 0;
        while done < n {
            let pos = off + done as u64;
            let (pg, po) = (pos / PAGE, (pos % PAGE) as usize);
            let k = (PAGE_SIZE - po).min(n - done);
            let w = match self.get(pg) {
                Some(f) => {
                    // SAFETY: a frame of this cache, PAGE_SIZE bytes of kernel memory;
                    // [po, po+k) lies inside it. Concurrent stores through a map are
                    // plain memory races the program itself could have.
                    let src = unsafe { core::slice::from_raw_parts((f + po) as *const u8, k) };
                    sink.write_prefix(at + done, src)
                }
                None => sink.write_prefix(at + done, &ZEROS[..k]),
            };
            done += w;
            if w < k {
                break;
            }
        }
        done
    }

    /// Copy `n` bytes of `src` (from byte `from`) to `[off, off + n)`, making pages as
    /// needed. Returns how much was written: less than `n` when the source runs into
    /// memory it may not read, or memory ran out (ENOMEM when nothing was written).
    pub fn write(&self, off: u64, n: usize, src: &dyn Source, from: usize) -> KResult<usize> {
        let mut done = 0;
        while done < n {
            let pos = off + done as u64;
            let (pg, po) = (pos / PAGE, (pos % PAGE) as usize);
            let k = (PAGE_SIZE - po).min(n - done);
            let f = match self.frame(pg) {
                Ok(f) => f,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            // SAFETY: as in `read`, writable kernel memory.
            let dst = unsafe { core::slice::from_raw_parts_mut((f + po) as *mut u8, k) };
            let r = src.read_prefix(from + done, dst);
            done += r;
            if r < k {
                break;
            }
        }
        Ok(done)
    }

    /// The file shrank to `len` bytes: the bytes past it read as zeros from now on
    /// (the tail of the last page is cleared), and the pages past it are freed unless
    /// a map still shows them (then they are cleared and freed at [`FilePages::trim`]).
    pub fn truncate(&self, len: u64) {
        let first_gone = len.div_ceil(PAGE);
        let mut f = self.frames.lock();
        if !len.is_multiple_of(PAGE) {
            if let Some(&a) = f.get(&(len / PAGE)) {
                let po = (len % PAGE) as usize;
                // SAFETY: a frame of this cache; clearing its tail.
                unsafe { core::ptr::write_bytes((a + po) as *mut u8, 0, PAGE_SIZE - po) };
            }
        }
        let gone: alloc::vec::Vec<(u64, usize)> =
            f.range(first_gone..).map(|(&k, &v)| (k, v)).collect();
        if self.maps.load(Ordering::Acquire) > 0 {
            for (_, a) in gone {
                // SAFETY: a frame of this cache, still shown by a map: cleared in place.
                unsafe { core::ptr::write_bytes(a as *mut u8, 0, PAGE_SIZE) };
            }
            return;
        }
        for (k, a) in gone {
            f.remove(&k);
            free_frame(a);
        }
    }

    /// A map started showing these frames.
    pub fn map_added(&self) {
        self.maps.fetch_add(1, Ordering::AcqRel);
    }

    /// A map stopped showing these frames; with `len`, free the pages past it that a
    /// truncate kept for the maps.
    pub fn map_removed(&self, len: Option<u64>) {
        if self.maps.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(len) = len {
                self.trim(len);
            }
        }
    }

    /// Free the pages wholly past `len` when no map shows them.
    pub fn trim(&self, len: u64) {
        if self.maps.load(Ordering::Acquire) > 0 {
            return;
        }
        let first_gone = len.div_ceil(PAGE);
        let mut f = self.frames.lock();
        let gone: alloc::vec::Vec<(u64, usize)> =
            f.range(first_gone..).map(|(&k, &v)| (k, v)).collect();
        for (k, a) in gone {
            f.remove(&k);
            free_frame(a);
        }
    }
}

impl Drop for FilePages {
    fn drop(&mut self) {
        for (_, a) in core::mem::take(self.frames.get_mut()) {
            free_frame(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_write_across_pages_and_truncate() {
        crate::testing::memory();
        let p = FilePages::new();
        assert_eq!(p.write(4090, 12, &&b"hello, world"[..], 0), Ok(12));
        assert_eq!(p.count(), 2);
        let mut out = [7u8; 20];
        assert_eq!(p.read(4086, 20, &mut &mut out[..], 0), 20);
        assert_eq!(&out, b"\0\0\0\0hello, world\0\0\0\0");
        // A page nobody wrote reads as zeros without being made.
        assert_eq!(p.read(PAGE * 9, 4, &mut &mut out[..4], 0), 4);
        assert_eq!(&out[..4], b"\0\0\0\0");
        assert_eq!(p.count(), 2);
        // Truncate inside the first page: its tail and the second page are gone.
        p.truncate(4092);
        assert_eq!(p.count(), 1);
        assert_eq!(p.read(4090, 4, &mut &mut out[..4], 0), 4);
        assert_eq!(&out[..4], b"he\0\0");
        // While mapped, pages past the end are kept (cleared) until the map goes.
        p.write(PAGE * 3, 1, &&b"x"[..], 0).unwrap();
        p.map_added();
        p.truncate(PAGE);
        assert_eq!(p.count(), 2);
        assert_eq!(p.read(PAGE * 3, 1, &mut &mut out[..1], 0), 1);
        assert_eq!(out[0], 0);
        p.map_removed(Some(PAGE));
        assert_eq!(p.count(), 1);
    }
}
