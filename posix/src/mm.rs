//! The program's memory maps: mmap, munmap, mremap, mprotect, madvise, msync, brk.
//!
//! An anonymous map is a run of pages from the page allocator; a shared map shows the
//! frames of what backs it (a file's page cache, [`MapBacking`]) at addresses in the
//! platform's alias window (`uk_plat::Platform::alias`), so that every map of a file
//! and read(2)/write(2) meet in the same memory. Each map is recorded as a [`Vma`] so
//! that pointer checks ([`crate::user`]) know what the program owns and with which
//! protection; a map owns its backing object, which is how the file layer plugs in
//! without this module knowing files (docs/architecture.md, "Import cuts: posix"). Protection is enforced twice: on kernel access (a PROT_NONE page is
//! EFAULT to read(2)), and by the MMU through [`uk_plat::Platform::protect`] (host
//! mprotect on linuxu, the page tables on kvm), so that a thread running into musl's
//! stack guard page or storing into a read-only map faults instead of corrupting
//! memory. Pages are read+write while the allocator holds them; a map whose protection
//! differs is put back to read+write before its pages are freed or cleared.

use uk_abi::mman::{
    MADV_DONTNEED, MADV_FREE, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE,
    MAP_SHARED, MAP_SHARED_VALIDATE, MAP_TYPE, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE,
    PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_READ, PROT_WRITE,
};

use crate::{Errno, KResult};
use alloc::collections::BTreeMap;
use uk_alloc::{page_round_up, PAGES, PAGE_SIZE};

/// What backs a shared map: the frames it shows, and what happens to pages it stops
/// showing. `crate::fs::mmap` implements it for files.
pub trait MapBacking: Send + Sync {
    /// The frame of page `idx` of the backing object (made and filled when absent).
    fn frame(&self, idx: u64) -> KResult<usize>;
    /// Pages `[first, first + count)` were writable through a map: write them back to
    /// where the backing object lives (msync, munmap).
    fn sync(&self, first: u64, count: u64) -> KResult<()>;
    /// One more map (or piece of one, after a split) shows these frames.
    fn map_added(&self);
    /// A map (or a piece) stopped showing these frames.
    fn map_removed(&self);
    /// What /proc/PID/maps shows for the map (the file's path), when known.
    fn name(&self) -> alloc::vec::Vec<u8> {
        alloc::vec::Vec::new()
    }
    /// Which object's frames these are (a file's page cache address; 0: unknown), for
    /// [`AddressSpace::maps_writable`].
    fn id(&self) -> usize {
        0
    }
}

/// What a map is backed by.
#[derive(Clone)]
pub enum Kind {
    /// Pages owned by this map; freed with it.
    Anon,
    /// Pages owned by this map, MAP_SHARED: a forked child shares them (the same
    /// frames at the same address in both; freed with the last map of the family).
    SharedAnon,
    /// The brk area: pages reserved at its first use, owned by the brk state.
    Brk,
    /// Private pages of a fork family (crate::view): the range's pages of this space
    /// are the frames from `frame` on (the map's own address for the process that
    /// first mapped it), shown at the map's addresses while this space's view is.
    Copy { frame: usize },
    /// Frames of `backing`, from its page `first` on, shown at window addresses (or
    /// over pages this map owns, for a fixed map outside the window).
    Shared {
        backing: alloc::sync::Arc<dyn MapBacking>,
        first: u64,
        /// Writable at some point: munmap and msync write it back.
        wrote: bool,
    },
}

impl Kind {
    pub fn is_anon(&self) -> bool {
        matches!(self, Kind::Anon)
    }
    pub fn is_brk(&self) -> bool {
        matches!(self, Kind::Brk)
    }
    pub fn is_shared(&self) -> bool {
        matches!(self, Kind::Shared { .. })
    }
    pub fn is_copy(&self) -> bool {
        matches!(self, Kind::Copy { .. })
    }
}

impl core::fmt::Debug for Kind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Kind::Anon => f.write_str("Anon"),
            Kind::SharedAnon => f.write_str("SharedAnon"),
            Kind::Brk => f.write_str("Brk"),
            Kind::Copy { frame } => write!(f, "Copy {{ frame: {frame:#x} }}"),
            Kind::Shared { first, wrote, .. } => {
                write!(f, "Shared {{ first: {first}, wrote: {wrote} }}")
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct Vma {
    pub len: usize,
    pub prot: u32,
    pub kind: Kind,
}

impl Vma {
    /// The frame behind address `addr` of this map starting at `start` (private maps:
    /// the address itself unless the map is a fork copy).
    fn frame_at(&self, start: usize, addr: usize) -> usize {
        match self.kind {
            Kind::Copy { frame } => frame + (addr - start),
            _ => addr,
        }
    }
}

struct Mm {
    vmas: BTreeMap<usize, Vma>,
    brk_max: usize,
    /// Reserved brk area: start, reserved length, current break.
    brk: Option<(usize, usize, usize)>,
    /// Once the brk area is in a fork family: its first frame (`brk.0` itself for the
    /// space that reserved it).
    brk_frame: Option<usize>,
    window: Option<uk_plat::MemRegion>,
    /// The id of the address space these maps are (crate::cow keys by it).
    space: usize,
}

/// A range the program may access that is not a memory map: image segments, the
/// initial stack, the argument block.
#[derive(Clone, Copy, Debug)]
struct StaticRange {
    start: usize,
    end: usize,
    writable: bool,
}

/// The memory a program owns: its maps (mmap, brk) and the static ranges boot gave it
/// (the image's segments, its first stack). Pointer checks ([`crate::user`]) consult
/// the active one; a process holds its own (`crate::process::Process::mm`).
pub struct AddressSpace {
    maps: spin::Mutex<Mm>,
    statics: spin::Mutex<alloc::vec::Vec<StaticRange>>,
    /// Tells views apart ([`VIEW`]); never 0.
    id: usize,
    /// Some range of this space is in a fork family: its view must be shown before its
    /// program code runs.
    forked: core::sync::atomic::AtomicBool,
}

/// The id of the address space whose view of the family ranges is shown (0: none
/// yet).
static VIEW: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
static NEXT_ID: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(1);

static ACTIVE: core::sync::atomic::AtomicPtr<AddressSpace> =
    core::sync::atomic::AtomicPtr::new(core::ptr::null_mut());

/// Make `space` the address space program pointers refer to (what loading CR3 is for
/// hardware): the process layer calls this when the running process changes. The
/// caller keeps `space` alive while it is active (a process holds its own).
pub fn activate(space: &alloc::sync::Arc<AddressSpace>) {
    ACTIVE.store(
        alloc::sync::Arc::as_ptr(space) as *mut AddressSpace,
        core::sync::atomic::Ordering::Release,
    );
}

/// The active address space: the running thread's process's memory.
///
/// # Panics
/// Before boot activated one (a bug in the boot sequence).
pub fn active() -> &'static AddressSpace {
    let p = ACTIVE.load(core::sync::atomic::Ordering::Acquire);
    assert!(!p.is_null(), "ukit: no address space is active");
    // SAFETY: `activate` stores the address of an AddressSpace its process keeps alive
    // while any of its threads runs; the running thread's process is the active one.
    unsafe { &*p }
}

/// An address space that ends (a process reaped, an image replaced by execve) gives
/// every page back: its maps, and the brk area it reserved.
impl Drop for AddressSpace {
    fn drop(&mut self) {
        self.maps.get_mut().release_all();
    }
}

impl Mm {
    /// Unmap every map and free the brk area.
    fn release_all(&mut self) {
        let all: alloc::vec::Vec<(usize, usize)> =
            self.vmas.iter().map(|(&k, v)| (k, k + v.len)).collect();
        for (a, b) in all {
            self.unmap(a, b);
        }
        if let Some((start, reserved, _)) = self.brk.take() {
            crate::cow::unwithhold(self.space, start, start + reserved);
            match self.brk_frame.take() {
                Some(frame) => release_copy(start, reserved, frame),
                None => free_pages(start, reserved),
            }
        }
    }
}

impl AddressSpace {
    /// Give back every map and the brk area (the boot program's memory once it has
    /// replaced itself with execve and its threads are gone: the first process object
    /// itself stays, kernel threads act for it).
    pub fn clear(&self) {
        self.maps.lock().release_all();
    }

    /// The largest brk area of this space.
    pub fn brk_max(&self) -> usize {
        self.maps.lock().brk_max
    }

    /// An empty address space whose brk area may grow to `brk_max` bytes.
    pub fn new(brk_max: usize) -> Self {
        let id = NEXT_ID.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        AddressSpace {
            maps: spin::Mutex::new(Mm {
                vmas: BTreeMap::new(),
                brk_max: brk_max & !(PAGE_SIZE - 1),
                brk: None,
                brk_frame: None,
                window: None,
                space: id,
            }),
            statics: spin::Mutex::new(alloc::vec::Vec::new()),
            id,
            forked: core::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Declare `[start, end)` program memory that no map covers (boot does this for
    /// the image's PT_LOAD segments and the initial stack).
    pub fn add_static_range(&self, start: usize, end: usize, writable: bool) {
        if start < end {
            self.statics.lock().push(StaticRange {
                start,
                end,
                writable,
            });
        }
    }

    /// For pointer checks: the range containing `addr` as (its end, writable).
    /// PROT_NONE maps are not accessible at all.
    pub fn lookup(&self, addr: usize) -> Option<(usize, bool)> {
        for r in self.statics.lock().iter() {
            if addr >= r.start && addr < r.end {
                return Some((r.end, r.writable));
            }
        }
        let mm = self.maps.lock();
        let (&start, v) = mm.vmas.range(..=addr).next_back()?;
        if addr >= start + v.len || v.prot & (PROT_READ | PROT_WRITE | PROT_EXEC) == 0 {
            return None;
        }
        Some((start + v.len, v.prot & PROT_WRITE != 0))
    }
}

/// Release pages to the platform and the allocator; clear them if the platform does
/// not guarantee they come back as zero.
fn free_pages(start: usize, len: usize) {
    let zeroed = uk_plat::get().release(start, len);
    let mut pa = PAGES.lock();
    if !zeroed && pa.free_is_zero() {
        // SAFETY: the pages belonged to a map that is going away; nothing references
        // them once the map is removed.
        unsafe { core::ptr::write_bytes(start as *mut u8, 0, len) };
    }
    pa.free(start, len / PAGE_SIZE);
}

/// A fork family's range `[start, start+len)` of one address space, whose pages are
/// the frames from `frame` on, leaves that space: its own frames go back (unless they
/// are the range's identity pages, which go back with the last space), and the parts
/// no space has any more show their own pages again and go back (crate::view).
fn release_copy(start: usize, len: usize, frame: usize) {
    let view = VIEW.load(core::sync::atomic::Ordering::Acquire);
    if frame != start {
        let untouched = crate::cow::forget(frame, len, view);
        crate::view::unshow_frames(start, frame, len);
        // Frames that only ever borrowed were never written: they are as the allocator
        // gave them, so they go straight back (no host call to drop their contents).
        let mut at = frame;
        for (s, e) in untouched {
            if s > at {
                free_pages(at, s - at);
            }
            PAGES.lock().free(s, (e - s) / PAGE_SIZE);
            at = e;
        }
        if at < frame + len {
            free_pages(at, frame + len - at);
        }
    }
    let plat = uk_plat::get();
    for (a, b) in crate::view::sub(start, start + len) {
        crate::view::unshow(a, b);
        // Identity pages of allocator memory go back; the program's data range (the
        // image's own, not allocator memory) has none.
        plat.unalias(a, b - a);
        if plat.memory().iter().any(|r| a >= r.start && b <= r.end()) {
            // Identity frames are never borrowers: nothing comes back untouched.
            crate::cow::forget(a, b - a, view);
            free_pages(a, b - a);
        }
    }
}

/// The access bits the MMU can enforce.
const ACCESS: u32 = PROT_READ | PROT_WRITE | PROT_EXEC;

/// True for the protection pages have while the allocator holds them: nothing to
/// tell the MMU.
fn is_default(prot: u32) -> bool {
    prot & ACCESS == PROT_READ | PROT_WRITE
}

/// Have the MMU enforce `prot` on a page-aligned range, where the platform can (the
/// platform refuses ranges outside its memory; then only the record protects).
fn enforce(start: usize, len: usize, prot: u32) {
    crate::view::protect(start, len, prot & ACCESS);
}

/// Clear pages that stay mapped (MADV_DONTNEED, MAP_FIXED over an existing map).
fn zero_pages(start: usize, len: usize) {
    if !uk_plat::get().release(start, len) {
        // SAFETY: the range is mapped program memory that the program asked to clear.
        unsafe { core::ptr::write_bytes(start as *mut u8, 0, len) };
    }
}

impl Mm {
    /// Where a walk over the maps touching `[start, ..)` begins: the map containing or
    /// preceding `start`, else `start`.
    fn first_from(&self, start: usize) -> usize {
        self.vmas
            .range(..start)
            .next_back()
            .map(|(&k, _)| k)
            .unwrap_or(start)
    }

    /// The maps overlapping `[start, end)` whose protection is not the default, clipped
    /// to the range, with their protection.
    fn protected_in(&self, start: usize, end: usize) -> alloc::vec::Vec<(usize, usize, u32)> {
        let from = self.first_from(start);
        self.vmas
            .range(from..end)
            .filter(|(&k, v)| k + v.len > start && !is_default(v.prot))
            .map(|(&k, v)| (k.max(start), (k + v.len).min(end), v.prot))
            .collect()
    }

    /// Give `[start, end)` back read+write access in the MMU (before the kernel clears
    /// or frees its pages); the records are unchanged.
    fn open_up(&self, start: usize, end: usize) {
        for (a, b, _) in self.protected_in(start, end) {
            enforce(a, b - a, PROT_READ | PROT_WRITE);
        }
    }

    /// Enforce the recorded protections of `[start, end)` again (after [`Mm::open_up`]).
    fn reapply(&self, start: usize, end: usize) {
        for (a, b, prot) in self.protected_in(start, end) {
            enforce(a, b - a, prot);
        }
    }

    /// Split maps so that `at` is a map boundary (if it falls inside one).
    fn split_at(&mut self, at: usize) {
        let Some((&start, v)) = self.vmas.range(..at).next_back() else {
            return;
        };
        let v = v.clone();
        if at > start && at < start + v.len {
            let tail_kind = match &v.kind {
                Kind::Shared {
                    backing,
                    first,
                    wrote,
                } => {
                    backing.map_added();
                    Kind::Shared {
                        backing: backing.clone(),
                        first: first + ((at - start) / PAGE_SIZE) as u64,
                        wrote: *wrote,
                    }
                }
                Kind::Copy { frame } => Kind::Copy {
                    frame: frame + (at - start),
                },
                k => k.clone(),
            };
            self.vmas.insert(
                at,
                Vma {
                    len: start + v.len - at,
                    prot: v.prot,
                    kind: tail_kind,
                },
            );
            self.vmas.insert(
                start,
                Vma {
                    len: at - start,
                    ..v
                },
            );
        }
    }

    /// Merge neighbouring maps with the same protection and kind around `[start, end)`,
    /// as Linux does, so that a later mremap sees one map again.
    fn coalesce(&mut self, start: usize, end: usize) {
        let from = self.first_from(start);
        let keys: alloc::vec::Vec<usize> = self.vmas.range(from..=end).map(|(&k, _)| k).collect();
        let mut cur: Option<usize> = None;
        for k in keys {
            if let Some(c) = cur {
                let (cv, kv) = (&self.vmas[&c], &self.vmas[&k]);
                if c + cv.len == k
                    && cv.prot == kv.prot
                    && (cv.kind.is_anon() && kv.kind.is_anon()
                        || matches!((&cv.kind, &kv.kind), (Kind::SharedAnon, Kind::SharedAnon))
                            && !crate::view::in_family(c, k + kv.len))
                {
                    let (cv, kv) = (cv.clone(), kv.len);
                    self.vmas.remove(&k);
                    self.vmas.insert(
                        c,
                        Vma {
                            len: cv.len + kv,
                            ..cv
                        },
                    );
                    continue;
                }
            }
            cur = Some(k);
        }
    }

    /// Is `[start, end)` completely covered by maps (adjacent maps may differ)?
    fn covered(&self, start: usize, end: usize) -> bool {
        let mut a = start;
        loop {
            if a >= end {
                return true;
            }
            match self.vmas.range(..=a).next_back() {
                Some((&s, v)) if a < s + v.len => a = s + v.len,
                _ => return false,
            }
        }
    }

    fn overlaps(&self, start: usize, end: usize) -> bool {
        if let Some((&s, v)) = self.vmas.range(..start).next_back() {
            if s + v.len > start {
                return true;
            }
        }
        self.vmas.range(start..end).next().is_some()
    }

    /// Remove `[start, end)` from the maps, freeing anonymous pages; shared pieces are
    /// written back (when they were writable) and stop showing their frames.
    fn unmap(&mut self, start: usize, end: usize) {
        self.split_at(start);
        self.split_at(end);
        let keys: alloc::vec::Vec<usize> = self.vmas.range(start..end).map(|(&k, _)| k).collect();
        for k in keys {
            let Some(v) = self.vmas.remove(&k) else {
                continue;
            };
            match v.kind {
                Kind::Anon => {
                    if !is_default(v.prot) {
                        enforce(k, v.len, PROT_READ | PROT_WRITE);
                    }
                    free_pages(k, v.len);
                }
                Kind::SharedAnon => {
                    if !is_default(v.prot) {
                        enforce(k, v.len, PROT_READ | PROT_WRITE);
                    }
                    // Forked: the family's last map frees the pages.
                    if crate::view::in_family(k, k + v.len) {
                        release_copy(k, v.len, k);
                    } else {
                        free_pages(k, v.len);
                    }
                }
                Kind::Brk => {
                    if !is_default(v.prot) {
                        enforce(k, v.len, PROT_READ | PROT_WRITE);
                    }
                }
                // The protection of what is shown there is set by whichever view is
                // shown next (or reset when the pages go back).
                Kind::Copy { frame } => {
                    crate::cow::unwithhold(self.space, k, k + v.len);
                    release_copy(k, v.len, frame)
                }
                Kind::Shared {
                    backing,
                    first,
                    wrote,
                } => {
                    if wrote {
                        // Errors have no one to go to at munmap (Linux drops them too).
                        let _ = backing.sync(first, (v.len / PAGE_SIZE) as u64);
                    }
                    // Inherited by a fork: the addresses go with the family's last map.
                    for (a, b) in crate::view::sub(k, k + v.len) {
                        uk_plat::get().unalias(a, b - a);
                        self.release_va(a, b - a);
                    }
                    backing.map_removed();
                }
            }
        }
    }

    /// mremap(2) growing the shared piece `[old, old+old_len)` (inside the map at
    /// `start`; `first`: its first page in the backing) to `new_len`: in place when the
    /// addresses after the map are free, else (MREMAP_MAYMOVE) shown again elsewhere.
    #[allow(clippy::too_many_arguments)]
    fn grow_shared(
        &mut self,
        start: usize,
        old: usize,
        old_len: usize,
        new_len: usize,
        flags: u32,
        backing: alloc::sync::Arc<dyn MapBacking>,
        first: u64,
    ) -> KResult<usize> {
        let v = self.vmas[&start].clone();
        let old_end = old + old_len;
        let grow = new_len - old_len;
        let extra = first + (old_len / PAGE_SIZE) as u64;
        if old_end == start + v.len
            && old_end.checked_add(grow).is_some()
            && !self.overlaps(old_end, old_end + grow)
            && self.claim_va(old_end, grow)
        {
            match self.show(old_end, &*backing, extra, grow / PAGE_SIZE, v.prot) {
                Ok(()) => {
                    self.vmas.insert(
                        start,
                        Vma {
                            len: v.len + grow,
                            ..v
                        },
                    );
                    return Ok(old);
                }
                Err(e) => {
                    uk_plat::get().unalias(old_end, grow);
                    self.release_va(old_end, grow);
                    if e != Errno::ENOMEM {
                        return Err(e);
                    }
                }
            }
        }
        if flags & MREMAP_MAYMOVE == 0 {
            return Err(Errno::ENOMEM);
        }
        let n = self.take_va(new_len).ok_or(Errno::ENOMEM)?;
        if let Err(e) = self.show(n, &*backing, first, new_len / PAGE_SIZE, v.prot) {
            uk_plat::get().unalias(n, new_len);
            self.release_va(n, new_len);
            return Err(e);
        }
        backing.map_added();
        let wrote = matches!(v.kind, Kind::Shared { wrote: true, .. });
        self.unmap(old, old_end);
        self.vmas.insert(
            n,
            Vma {
                len: new_len,
                prot: v.prot,
                kind: Kind::Shared {
                    backing,
                    first,
                    wrote,
                },
            },
        );
        Ok(n)
    }

    /// Record the fresh anonymous pages `[at, at+len)` as a map with `prot`, and have
    /// the MMU enforce it.
    fn add_anon(&mut self, at: usize, len: usize, prot: u32, shared: bool) {
        self.vmas.insert(
            at,
            Vma {
                len,
                prot,
                kind: if shared { Kind::SharedAnon } else { Kind::Anon },
            },
        );
        if !is_default(prot) {
            enforce(at, len, prot);
        }
    }

    /// Unmap the shared maps overlapping `[start, end)` (their parts inside it).
    fn unmap_shared_in(&mut self, start: usize, end: usize) {
        let from = self.first_from(start);
        let pieces: alloc::vec::Vec<(usize, usize)> = self
            .vmas
            .range(from..end)
            .filter(|(&k, v)| k + v.len > start && v.kind.is_shared())
            .map(|(&k, v)| (k.max(start), (k + v.len).min(end)))
            .collect();
        for (a, b) in pieces {
            self.unmap(a, b);
        }
    }

    /// Give back the addresses of a shared map: window addresses return to the free
    /// list; pages of a fixed map outside the window (shown again as themselves by
    /// `unalias`) return to the allocator.
    fn release_va(&mut self, at: usize, len: usize) {
        if !self.in_window(at, len) {
            free_pages(at, len);
            return;
        }
        WINDOW_FREE.lock().release(at, len);
    }

    /// `len` bytes of free window addresses (first fit); None when the window is full
    /// or absent.
    fn take_va(&mut self, len: usize) -> Option<usize> {
        WINDOW_FREE.lock().take(len)
    }

    /// Take exactly `[at, at+len)` from the window's free addresses.
    fn take_va_at(&mut self, at: usize, len: usize) -> bool {
        WINDOW_FREE.lock().take_at(at, len)
    }

    /// Take `[at, at+len)` for a shared map at a fixed address: window addresses from
    /// the window's free list, anything else as pages from the allocator (which the
    /// map then covers with aliases, and gives back at unmap).
    fn claim_va(&mut self, at: usize, len: usize) -> bool {
        if self.in_window(at, len) {
            self.take_va_at(at, len)
        } else {
            PAGES.lock().alloc_at(at, len / PAGE_SIZE)
        }
    }

    fn in_window(&self, at: usize, len: usize) -> bool {
        self.window
            .is_some_and(|w| at >= w.start && at.saturating_add(len) <= w.end())
    }

    /// Show `n` pages of `backing` from its page `first` at `at` with `prot` (runs of
    /// neighbouring frames in one platform call). On error some pages may be shown:
    /// the caller unaliases the whole range.
    fn show(
        &self,
        at: usize,
        backing: &dyn MapBacking,
        first: u64,
        n: usize,
        prot: u32,
    ) -> KResult<()> {
        let mut frames = alloc::vec::Vec::new();
        frames.try_reserve_exact(n).map_err(|_| Errno::ENOMEM)?;
        for i in 0..n {
            frames.push(backing.frame(first + i as u64)?);
        }
        let mut table = || PAGES.lock().alloc_zeroed(1);
        let mut i = 0;
        while i < n {
            let mut run = 1;
            while i + run < n && frames[i + run] == frames[i] + run * PAGE_SIZE {
                run += 1;
            }
            uk_plat::get().alias(
                at + i * PAGE_SIZE,
                frames[i],
                run * PAGE_SIZE,
                prot & ACCESS,
                &mut table,
            )?;
            i += run;
        }
        Ok(())
    }

    /// The platform's alias window, learned on first use.
    fn window(&mut self) -> Option<uk_plat::MemRegion> {
        if self.window.is_none() {
            self.window = *WINDOW.call_once(|| {
                let w = uk_plat::get().alias_window();
                if let Some(w) = w {
                    WINDOW_FREE.lock().release(w.start, w.len);
                }
                w
            });
        }
        self.window
    }
}

/// The alias window, once learned.
static WINDOW: spin::Once<Option<uk_plat::MemRegion>> = spin::Once::new();

/// Free addresses of the alias window, for the shared maps of every address space: one
/// list for all, so that two processes' maps never get the same window address (a
/// fork child's inherited maps keep the parent's, counted as a family: crate::view).
static WINDOW_FREE: spin::Mutex<WindowFree> = spin::Mutex::new(WindowFree {
    free: litemap::LiteMap::new(),
});

/// Free address ranges (start -> length).
struct WindowFree {
    free: litemap::LiteMap<usize, usize>,
}

impl WindowFree {
    /// Insert `[at, at+len)` and merge it with its neighbours.
    fn release(&mut self, at: usize, len: usize) {
        let (mut s, mut e) = (at, at + len);
        if let Some((ps, pl)) = self.free_before(s, false) {
            if ps + pl == s {
                self.free.remove(&ps);
                s = ps;
            }
        }
        if let Some(&nl) = self.free.get(&e) {
            self.free.remove(&e);
            e += nl;
        }
        self.free.insert(s, e - s);
    }

    /// The free range starting last before `at` (or at `at`, with `inclusive`).
    fn free_before(&self, at: usize, inclusive: bool) -> Option<(usize, usize)> {
        let i = match self.free.find_index(&at) {
            Ok(i) if inclusive => i + 1,
            Ok(i) | Err(i) => i,
        };
        let (&s, &l) = self.free.get_indexed(i.checked_sub(1)?)?;
        Some((s, l))
    }

    /// `len` bytes (first fit).
    fn take(&mut self, len: usize) -> Option<usize> {
        let (&s, &l) = self.free.iter().find(|(_, &l)| l >= len)?;
        self.free.remove(&s);
        if l > len {
            self.free.insert(s + len, l - len);
        }
        Some(s)
    }

    /// Exactly `[at, at+len)`.
    fn take_at(&mut self, at: usize, len: usize) -> bool {
        let Some((s, l)) = self.free_before(at, true) else {
            return false;
        };
        if at + len > s + l {
            return false;
        }
        self.free.remove(&s);
        if at > s {
            self.free.insert(s, at - s);
        }
        if s + l > at + len {
            self.free.insert(at + len, s + l - at - len);
        }
        true
    }
}

/// The checks every mmap(2) makes, anonymous or not: returns the length rounded up to
/// whole pages.
pub fn check_mmap(len: usize, prot: u32, flags: u32, off: u64) -> KResult<usize> {
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    check_prot(prot)?;
    let len = page_round_up(len).ok_or(Errno::ENOMEM)?;
    match flags & MAP_TYPE {
        MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE => {}
        _ => return Err(Errno::EINVAL),
    }
    if !off.is_multiple_of(PAGE_SIZE as u64) {
        return Err(Errno::EINVAL);
    }
    Ok(len)
}

fn check_prot(prot: u32) -> KResult<()> {
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

impl AddressSpace {
    /// mmap(2) of anonymous memory. File maps are made by `crate::fs::mmap`, which
    /// calls this (a map owns what backs it: the file layer builds on the memory layer,
    /// never the reverse).
    pub fn mmap(&self, addr: usize, len: usize, prot: u32, flags: u32) -> KResult<usize> {
        let len = check_mmap(len, prot, flags, 0)?;
        if flags & MAP_ANONYMOUS == 0 {
            return Err(Errno::EINVAL);
        }
        if flags & MAP_TYPE == MAP_SHARED_VALIDATE {
            return Err(Errno::EINVAL); // anonymous maps are MAP_SHARED or MAP_PRIVATE only
        }
        let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
        let mut mm = self.maps.lock();
        if fixed {
            if !addr.is_multiple_of(PAGE_SIZE) {
                return Err(Errno::EINVAL);
            }
            let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
            if mm.overlaps(addr, end) {
                if flags & MAP_FIXED_NOREPLACE != 0 {
                    return Err(Errno::EEXIST);
                }
                // Shared maps go first (their pages are a file's: never cleared here).
                mm.unmap_shared_in(addr, end);
            }
            if mm.overlaps(addr, end) {
                if !mm.covered(addr, end) {
                    // Partly over existing maps and partly not: rare; refuse rather than
                    // half-succeed.
                    return Err(Errno::ENOMEM);
                }
                mm.split_at(addr);
                mm.split_at(end);
                mm.open_up(addr, end);
                let keys: alloc::vec::Vec<usize> =
                    mm.vmas.range(addr..end).map(|(&k, _)| k).collect();
                for k in keys {
                    if let Some(v) = mm.vmas.get_mut(&k) {
                        v.prot = prot;
                        zero_pages(v.frame_at(k, k), v.len);
                    }
                }
                mm.coalesce(addr, end);
                mm.reapply(addr, end);
                return Ok(addr);
            }
            if !PAGES.lock().alloc_at(addr, len / PAGE_SIZE) {
                return Err(Errno::ENOMEM);
            }
            let zero = PAGES.lock().free_is_zero();
            if !zero {
                // SAFETY: the pages were just allocated for this map.
                unsafe { core::ptr::write_bytes(addr as *mut u8, 0, len) };
            }
            mm.add_anon(addr, len, prot, flags & MAP_TYPE == MAP_SHARED);
            return Ok(addr);
        }
        let a = PAGES
            .lock()
            .alloc_zeroed(len / PAGE_SIZE)
            .ok_or(Errno::ENOMEM)?;
        mm.add_anon(a, len, prot, flags & MAP_TYPE == MAP_SHARED);
        Ok(a)
    }

    /// True when a map of this address space shows the frames of backing object `id`
    /// ([`MapBacking::id`]) writably, now (memfd's F_SEAL_WRITE is refused then).
    pub fn maps_writable(&self, id: usize) -> bool {
        id != 0
            && self.maps.lock().vmas.values().any(|v| {
                v.prot & PROT_WRITE != 0
                    && matches!(&v.kind, Kind::Shared { backing, .. } if backing.id() == id)
            })
    }

    /// mmap(2) of `backing`'s pages from page `first` on, shared: the map shows the
    /// backing's own frames, at addresses from the platform's alias window (or at a
    /// fixed address). `len` is page-rounded and the flags checked ([`check_mmap`]).
    /// ENODEV on a platform that cannot alias.
    pub fn mmap_shared(
        &self,
        addr: usize,
        len: usize,
        prot: u32,
        flags: u32,
        backing: alloc::sync::Arc<dyn MapBacking>,
        first: u64,
    ) -> KResult<usize> {
        let mut mm = self.maps.lock();
        if mm.window().is_none() {
            uk_log::warn_once!("this platform cannot alias pages: shared file maps are ENODEV");
            return Err(Errno::ENODEV);
        }
        let at = if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0 {
            if !addr.is_multiple_of(PAGE_SIZE) {
                return Err(Errno::EINVAL);
            }
            let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
            if mm.overlaps(addr, end) {
                if flags & MAP_FIXED_NOREPLACE != 0 {
                    return Err(Errno::EEXIST);
                }
                if mm.vmas.range(addr..end).any(|(_, v)| v.kind.is_brk()) {
                    return Err(Errno::ENOMEM); // the brk area keeps its pages
                }
                mm.unmap(addr, end);
            }
            if !mm.claim_va(addr, len) {
                return Err(Errno::ENOMEM);
            }
            addr
        } else {
            mm.take_va(len).ok_or(Errno::ENOMEM)?
        };
        if let Err(e) = mm.show(at, &*backing, first, len / PAGE_SIZE, prot) {
            uk_plat::get().unalias(at, len);
            mm.release_va(at, len);
            return Err(e);
        }
        backing.map_added();
        let wrote = prot & PROT_WRITE != 0;
        mm.vmas.insert(
            at,
            Vma {
                len,
                prot,
                kind: Kind::Shared {
                    backing,
                    first,
                    wrote,
                },
            },
        );
        Ok(at)
    }

    /// msync(2): write back the shared maps in `[addr, addr+len)` that were writable.
    /// Every page of the range must be mapped (ENOMEM). Maps and read(2) see the same
    /// frames, so MS_INVALIDATE has nothing to do.
    pub fn msync(&self, addr: usize, len: usize) -> KResult<()> {
        let len = page_round_up(len).ok_or(Errno::ENOMEM)?;
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        let mm = self.maps.lock();
        if !mm.covered(addr, end) {
            return Err(Errno::ENOMEM);
        }
        let from = mm.first_from(addr);
        let mut res = Ok(());
        for (&k, v) in mm.vmas.range(from..end) {
            if let Kind::Shared {
                backing,
                first,
                wrote: true,
            } = &v.kind
            {
                let (a, b) = (k.max(addr), (k + v.len).min(end));
                if a < b {
                    let r = backing.sync(
                        first + ((a - k) / PAGE_SIZE) as u64,
                        ((b - a) / PAGE_SIZE) as u64,
                    );
                    res = res.and(r);
                }
            }
        }
        res
    }

    /// munmap(2). Unmapping pages that are not mapped is not an error (as on Linux).
    pub fn munmap(&self, addr: usize, len: usize) -> KResult<()> {
        if !addr.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_round_up(len).ok_or(Errno::EINVAL)?;
        let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
        self.maps.lock().unmap(addr, end);
        Ok(())
    }

    /// mprotect(2): records the new protection (checked on kernel access) and has the MMU
    /// enforce it.
    pub fn mprotect(&self, addr: usize, len: usize, prot: u32) -> KResult<()> {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        check_prot(prot)?;
        let len = page_round_up(len).ok_or(Errno::ENOMEM)?;
        if len == 0 {
            return Ok(());
        }
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        let mut mm = self.maps.lock();
        if !mm.covered(addr, end) {
            return Err(Errno::ENOMEM);
        }
        // Copy-on-write pages become this space's own first: their withheld state
        // records the protection they had.
        crate::cow::settle(self.id, addr, end);
        mm.split_at(addr);
        mm.split_at(end);
        let mut changed = false;
        for (_, v) in mm.vmas.range_mut(addr..end) {
            let new = prot & !(PROT_GROWSDOWN | PROT_GROWSUP);
            changed |= (v.prot ^ new) & ACCESS != 0;
            v.prot = new;
            if let Kind::Shared { wrote, .. } = &mut v.kind {
                *wrote |= new & PROT_WRITE != 0;
            }
        }
        mm.coalesce(addr, end);
        if changed {
            enforce(addr, len, prot);
        }
        Ok(())
    }

    /// mremap(2) of anonymous maps: shrink in place, grow in place when the following
    /// pages are free, else move (with MREMAP_MAYMOVE).
    pub fn mremap(
        &self,
        old: usize,
        old_len: usize,
        new_len: usize,
        flags: u32,
        _new_addr: usize,
    ) -> KResult<usize> {
        if !old.is_multiple_of(PAGE_SIZE)
            || flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
        {
            return Err(Errno::EINVAL);
        }
        if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
            uk_log::warn_once!(
                "mremap with MREMAP_FIXED or MREMAP_DONTUNMAP is not supported: EINVAL"
            );
            return Err(Errno::EINVAL);
        }
        let old_len = page_round_up(old_len).ok_or(Errno::EINVAL)?;
        let new_len = page_round_up(new_len).ok_or(Errno::ENOMEM)?;
        if new_len == 0 || old_len == 0 {
            return Err(Errno::EINVAL);
        }
        let mut mm = self.maps.lock();
        let (&start, v) = mm.vmas.range(..=old).next_back().ok_or(Errno::EFAULT)?;
        let v = v.clone();
        let old_end = old.checked_add(old_len).ok_or(Errno::EFAULT)?;
        if old_end > start + v.len || v.kind.is_brk() {
            return Err(Errno::EFAULT);
        }
        if new_len <= old_len {
            mm.unmap(old + new_len, old_end);
            return Ok(old);
        }
        if let Kind::Shared { backing, first, .. } = &v.kind {
            let first = first + ((old - start) / PAGE_SIZE) as u64;
            return mm.grow_shared(start, old, old_len, new_len, flags, backing.clone(), first);
        }
        // Grow in place: only when the range is the end of its map and the pages after it
        // are free.
        if old_end == start + v.len
            && !v.kind.is_copy()
            && !crate::view::in_family(start, old_end)
            && PAGES
                .lock()
                .alloc_at(old_end, (new_len - old_len) / PAGE_SIZE)
        {
            if !PAGES.lock().free_is_zero() {
                // SAFETY: the pages were just allocated for this map.
                unsafe { core::ptr::write_bytes(old_end as *mut u8, 0, new_len - old_len) };
            }
            mm.vmas.insert(
                start,
                Vma {
                    len: v.len + new_len - old_len,
                    ..v
                },
            );
            if !is_default(v.prot) {
                enforce(old_end, new_len - old_len, v.prot);
            }
            return Ok(old);
        }
        if flags & MREMAP_MAYMOVE == 0 {
            return Err(Errno::ENOMEM);
        }
        let n = PAGES
            .lock()
            .alloc_zeroed(new_len / PAGE_SIZE)
            .ok_or(Errno::ENOMEM)?;
        if v.prot & PROT_READ == 0 {
            enforce(old, old_len, PROT_READ | PROT_WRITE); // the copy reads it
        }
        // SAFETY: [old, old+old_len) is mapped program memory readable by the MMU,
        // [n, n+new_len) fresh read+write pages.
        unsafe { core::ptr::copy_nonoverlapping(old as *const u8, n as *mut u8, old_len) };
        mm.unmap(old, old_end);
        mm.add_anon(n, new_len, v.prot, matches!(v.kind, Kind::SharedAnon));
        Ok(n)
    }

    /// madvise(2): DONTNEED and FREE clear the pages (and give them back to the host on
    /// linuxu); the other advice values are hints we accept and ignore.
    pub fn madvise(&self, addr: usize, len: usize, advice: u32) -> KResult<()> {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        let len = page_round_up(len).ok_or(Errno::EINVAL)?;
        let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
        match advice {
            0..=4 | 8..=21 | 100 | 101 => {}
            _ => return Err(Errno::EINVAL),
        }
        let mm = self.maps.lock();
        if len > 0 && !mm.covered(addr, end) {
            return Err(Errno::ENOMEM);
        }
        if advice == MADV_DONTNEED || advice == MADV_FREE {
            // Anonymous pages read as zeros afterwards; a shared map shows its file's
            // pages again, which it never stopped showing. Copy-on-write pages are
            // this space's own first (a lender's borrowers keep the old bytes).
            crate::cow::settle(self.id, addr, end);
            let from = mm.first_from(addr);
            let anon: alloc::vec::Vec<(usize, usize, usize)> = mm
                .vmas
                .range(from..end)
                .filter(|(&k, v)| k + v.len > addr && !v.kind.is_shared())
                .map(|(&k, v)| {
                    let a = k.max(addr);
                    let frame = match (&v.kind, mm.brk, mm.brk_frame) {
                        (Kind::Brk, Some((s, _, _)), Some(f)) => f + (a - s),
                        _ => v.frame_at(k, a),
                    };
                    (a, (k + v.len).min(end), frame)
                })
                .collect();
            for (a, b, frame) in anon {
                mm.open_up(a, b);
                zero_pages(frame, b - a);
                mm.reapply(a, b);
            }
        }
        Ok(())
    }

    /// brk(2). Returns the (possibly unchanged) break, as the raw syscall does: failure is
    /// signalled by returning the old break. The area is reserved at the first call.
    pub fn brk(&self, req: usize) -> usize {
        let mut mm = self.maps.lock();
        let (start, reserved, cur) = match mm.brk {
            Some(b) => b,
            None => {
                let want = {
                    let s = PAGES.lock().stats();
                    mm.brk_max.min(s.free_pages * PAGE_SIZE / 8) & !(PAGE_SIZE - 1)
                };
                if want == 0 {
                    return 0;
                }
                let Some(start) = PAGES.lock().alloc_zeroed(want / PAGE_SIZE) else {
                    return 0;
                };
                mm.brk = Some((start, want, start));
                (start, want, start)
            }
        };
        if req < start || req > start + reserved {
            return cur;
        }
        let old_top = page_round_up(cur).unwrap_or(cur);
        let new_top = page_round_up(req).unwrap_or(req);
        // Protections set inside the heap (musl's malloc maps a PROT_NONE guard page at
        // its start) end at the next brk:
        // the area is one read+write map again. Copy-on-write pages whose protection
        // changes so, and those given back, become this space's own first.
        for (a, b, _) in mm.protected_in(start, start + reserved) {
            crate::cow::settle(self.id, a, b);
        }
        if new_top < old_top {
            crate::cow::settle(self.id, new_top, old_top);
        }
        mm.open_up(start, start + reserved);
        if new_top < old_top {
            let frame = mm.brk_frame.map_or(new_top, |f| f + (new_top - start));
            zero_pages(frame, old_top - new_top);
        }
        // The map covers [start, new_top) so that pointer checks accept brk memory.
        let pieces: alloc::vec::Vec<usize> = mm
            .vmas
            .range(start..start + reserved)
            .filter(|(_, v)| v.kind.is_brk())
            .map(|(&k, _)| k)
            .collect();
        for k in pieces {
            mm.vmas.remove(&k);
        }
        if new_top > start {
            mm.vmas.insert(
                start,
                Vma {
                    len: new_top - start,
                    prot: PROT_READ | PROT_WRITE,
                    kind: Kind::Brk,
                },
            );
        }
        mm.brk = Some((start, reserved, req));
        req
    }

    /// Resident program memory in bytes (maps only; for getrusage/sysinfo).
    pub fn mapped_bytes(&self) -> usize {
        self.maps.lock().vmas.values().map(|v| v.len).sum()
    }

    /// Every map as (start, record), in address order (/proc/PID/maps).
    pub fn maps(&self) -> alloc::vec::Vec<(usize, Vma)> {
        self.maps
            .lock()
            .vmas
            .iter()
            .map(|(&k, v)| (k, v.clone()))
            .collect()
    }

    /// The brk area once reserved: (start, reserved length, current break).
    pub fn brk_area(&self) -> Option<(usize, usize, usize)> {
        self.maps.lock().brk
    }
}

/// A private range of the parent to copy at fork: (start, length, protection).
struct ForkRange {
    start: usize,
    len: usize,
    prot: u32,
}

impl AddressSpace {
    /// Must this space's view be shown before its program code runs? (Some range of it
    /// is in a fork family and another space's view is shown.)
    pub fn needs_view(&self) -> bool {
        self.forked.load(core::sync::atomic::Ordering::Acquire)
            && VIEW.load(core::sync::atomic::Ordering::Acquire) != self.id
    }

    /// Show this space's frames at its family ranges (on the scheduler's switch
    /// stack, between two threads: docs/processes.md, "fork").
    pub fn show_view(&self) {
        self.show_ranges(&self.maps.lock());
        VIEW.store(self.id, core::sync::atomic::Ordering::Release);
    }

    /// Show what this space's view holds at its family ranges, where something else is
    /// shown now: its frames (or, for copy-on-write pages, the lent ones), with the
    /// protection each page has in this space (crate::cow).
    fn show_ranges(&self, mm: &Mm) {
        let mut runs = alloc::vec::Vec::new();
        for (&k, v) in mm.vmas.iter() {
            if let Kind::Copy { frame } = v.kind {
                runs.extend(crate::cow::picture(
                    self.id,
                    k,
                    frame,
                    v.len,
                    v.prot & ACCESS,
                ));
            }
        }
        if let (Some((start, reserved, _)), Some(frame)) = (mm.brk, mm.brk_frame) {
            runs.extend(crate::cow::picture(
                self.id,
                start,
                frame,
                reserved,
                PROT_READ | PROT_WRITE,
            ));
        }
        // Neighbouring maps whose frames follow each other are one run (a program's many
        // arenas, mapped one after the other): one host call instead of one each.
        runs.sort_by_key(|r| r.0);
        let mut merged: alloc::vec::Vec<(usize, usize, usize, u32)> = alloc::vec::Vec::new();
        for r in runs {
            match merged.last_mut() {
                Some(m) if m.0 + m.2 == r.0 && m.1 + m.2 == r.1 && m.3 == r.3 => m.2 += r.2,
                _ => merged.push(r),
            }
        }
        for (at, frame, len, prot) in merged {
            if !crate::view::showing(at, frame, len, prot) {
                crate::view::show(at, frame, len, prot);
            }
        }
    }

    /// The kernel is about to write `[addr, addr+len)` of this (running) space's
    /// program memory: copy-on-write pages there become its own first (crate::cow).
    pub fn prepare_write(&self, addr: usize, len: usize) {
        crate::cow::prepare_write(self.id, addr, len);
    }

    /// What a futex word at `uaddr` is keyed by, as (space, address). A shared file
    /// map's word is the same memory in every process that maps the file, at whatever
    /// address: its key is the frame behind it (Linux keys it by file and offset); a
    /// shared anonymous map's is its address (a fork keeps it). Private memory is this
    /// space's: after a fork one address holds different memory in parent and child,
    /// so the key names the space (the threads of a process, and a vfork child, share
    /// their parent's space).
    pub fn futex_key(&self, uaddr: usize) -> (usize, usize) {
        let mm = self.maps.lock();
        let vma = mm
            .vmas
            .range(..=uaddr)
            .next_back()
            .filter(|(&k, v)| uaddr < k + v.len);
        if let Some((&k, v)) = vma {
            match &v.kind {
                Kind::Shared { backing, first, .. } => {
                    let page = first + ((uaddr - k) / PAGE_SIZE) as u64;
                    if let Ok(frame) = backing.frame(page) {
                        return (0, frame + uaddr % PAGE_SIZE);
                    }
                }
                Kind::SharedAnon => return (0, uaddr),
                _ => {}
            }
        }
        // Private memory: this space's, whether or not a fork has copied it yet (a
        // thread may wait before a fork and be woken after it, when the same address
        // is the parent's copy).
        (self.id, uaddr)
    }

    /// The program's own writable data `[start, end)` (the boot program's `.data` and
    /// `.bss`, linked apart from the kernel's) becomes a family range of this space:
    /// its bytes move to allocator frames shown at its addresses, so that a fork can
    /// give the child a copy. Done once, at the first fork.
    fn adopt_program_data(&self, mm: &mut Mm, start: usize, end: usize) -> KResult<()> {
        if start >= end || mm.vmas.range(start..end).next().is_some() {
            return Ok(());
        }
        let len = end - start;
        let frame = PAGES.lock().alloc(len / PAGE_SIZE).ok_or(Errno::ENOMEM)?;
        // SAFETY: [start, end) is the program's data, mapped read+write; the frames were
        // just allocated.
        unsafe { core::ptr::copy_nonoverlapping(start as *const u8, frame as *mut u8, len) };
        crate::view::add(start, end);
        crate::view::show(start, frame, len, PROT_READ | PROT_WRITE);
        mm.vmas.insert(
            start,
            Vma {
                len,
                prot: PROT_READ | PROT_WRITE,
                kind: Kind::Copy { frame },
            },
        );
        Ok(())
    }

    /// The boot program's data range `[start, end)` moves into frames of its own (as
    /// at its first fork), unless that happened already: before another process shows
    /// other frames there (execve of the image itself), which would hide it.
    pub fn adopt_program_data_of_boot(&self, start: usize, end: usize) -> KResult<()> {
        if crate::view::in_family(start, end)
            || !self
                .statics
                .lock()
                .iter()
                .any(|r| r.writable && r.start <= start && r.end >= end)
        {
            return Ok(());
        }
        let mut mm = self.maps.lock();
        self.adopt_program_data(&mut mm, start, end)?;
        drop(mm);
        self.forked
            .store(true, core::sync::atomic::Ordering::Release);
        VIEW.store(self.id, core::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// A fresh program data range `[start, end)` for this (new) space, its frames
    /// filled by `fill(first frame)` (zeros where it writes nothing): what a process
    /// running the image's program again starts with (crate::selfexec).
    pub fn new_program_data(
        &self,
        start: usize,
        end: usize,
        fill: impl FnOnce(usize) -> KResult<()>,
    ) -> KResult<()> {
        let len = end - start;
        let frame = PAGES
            .lock()
            .alloc_zeroed(len / PAGE_SIZE)
            .ok_or(Errno::ENOMEM)?;
        if let Err(e) = fill(frame) {
            free_pages(frame, len);
            return Err(e);
        }
        crate::view::add(start, end);
        self.maps.lock().vmas.insert(
            start,
            Vma {
                len,
                prot: PROT_READ | PROT_WRITE,
                kind: Kind::Copy { frame },
            },
        );
        self.forked
            .store(true, core::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// fork(2)'s memory: a new address space with this one's maps at the same
    /// addresses. Private ranges get fresh frames holding a copy (read now, through
    /// this space's view: the caller is this space's running thread); shared maps show
    /// the same frames; the ranges join (or stay in) a fork family on both sides.
    /// `program_data`: the boot program's writable data, when this space has it.
    pub fn fork(&self, program_data: Option<(usize, usize)>) -> KResult<AddressSpace> {
        let mut mm = self.maps.lock();
        // A space running the image's program again has its data range as a map
        // already; the boot program's is a static range until its first fork.
        let adopted = program_data.is_some_and(|(a, _)| mm.vmas.contains_key(&a));
        let data = !adopted && self.statics.lock().iter().any(|r| r.writable);
        match program_data {
            // The boot program: its writable data shares the image's segment with the
            // kernel's statics; only a link that keeps them apart can copy it.
            _ if !data => {}
            Some((a, b))
                if self
                    .statics
                    .lock()
                    .iter()
                    .any(|r| r.writable && r.start <= a && r.end >= b) =>
            {
                self.adopt_program_data(&mut mm, a, b)?;
            }
            _ => {
                uk_log::warn_once!(
                    "fork: the image's program data is not linked apart from the kernel's: ENOSYS"
                );
                return Err(Errno::ENOSYS);
            }
        }
        let ranges: alloc::vec::Vec<ForkRange> = mm
            .vmas
            .iter()
            .filter(|(_, v)| v.kind.is_anon() || v.kind.is_copy())
            .map(|(&k, v)| ForkRange {
                start: k,
                len: v.len,
                prot: v.prot,
            })
            .collect();
        // Every frame first, so that running out of memory changes nothing.
        let mut frames = alloc::vec::Vec::new();
        frames
            .try_reserve_exact(ranges.len())
            .map_err(|_| Errno::ENOMEM)?;
        // The child's brk area is what the parent's break covers now (its brk cannot
        // grow past that: musl's malloc then maps memory instead), so that a fork does
        // not take the parent's whole reserve.
        let brk_len = mm.brk.map_or(0, |(start, reserved, cur)| {
            page_round_up(cur).unwrap_or(cur).min(start + reserved) - start
        });
        let need = ranges.iter().map(|r| r.len).chain([brk_len]);
        for len in need.filter(|&l| l > 0) {
            match PAGES.lock().alloc(len / PAGE_SIZE) {
                Some(f) => frames.push((f, len)),
                None => {
                    for &(f, l) in &frames {
                        PAGES.lock().free(f, l / PAGE_SIZE);
                    }
                    return Err(Errno::ENOMEM);
                }
            }
        }
        let child = AddressSpace::new(mm.brk_max);
        *child.statics.lock() = self.statics.lock().clone();
        let mut cm = child.maps.lock();
        cm.window = mm.window;
        // Copy-on-write where the platform can withhold write permission (allocator
        // memory), except on stacks of this process's threads, on which the kernel
        // runs, and on pages that cannot be read, which the copy would read through the
        // view (crate::cow): those are copied now.
        let stacks = uk_sched::stack_pointers(uk_sched::current_owner());
        let plat = uk_plat::get();
        let lazy = |a: usize, len: usize, prot: u32| {
            prot & ACCESS != 0
                && plat
                    .memory()
                    .iter()
                    .any(|r| a >= r.start && a + len <= r.end())
                && !stacks.iter().any(|&sp| sp >= a && sp <= a + len)
        };
        let mut frames = frames.into_iter();
        for r in &ranges {
            let Some((frame, _)) = frames.next() else {
                break;
            };
            let v = mm.vmas.get_mut(&r.start).expect("range listed above");
            let from = v.frame_at(r.start, r.start);
            if lazy(r.start, r.len, r.prot) {
                crate::cow::lend(self.id, child.id, r.start, r.len, from, frame, r.prot);
            } else {
                copy_or_zero(from, frame, r.len, r.prot);
            }
            if v.kind.is_anon() {
                v.kind = Kind::Copy { frame: r.start };
                crate::view::add(r.start, r.start + r.len);
            }
            crate::view::add(r.start, r.start + r.len);
            cm.vmas.insert(
                r.start,
                Vma {
                    len: r.len,
                    prot: r.prot,
                    kind: Kind::Copy { frame },
                },
            );
        }
        if let (Some((start, reserved, cur)), true) = (mm.brk, brk_len > 0) {
            if let Some((frame, _)) = frames.next() {
                // The break's pages, each piece as the program protected it (musl's
                // malloc keeps a PROT_NONE page at the start).
                let src = mm.brk_frame.unwrap_or(start);
                for (&k, v) in mm.vmas.range(start..start + brk_len) {
                    if !v.kind.is_brk() {
                        continue;
                    }
                    let (from, to) = (src + (k - start), frame + (k - start));
                    if lazy(start, brk_len, v.prot) {
                        crate::cow::lend(self.id, child.id, k, v.len, from, to, v.prot);
                    } else {
                        copy_or_zero(from, to, v.len, v.prot);
                    }
                }
                if mm.brk_frame.is_none() {
                    mm.brk_frame = Some(start);
                    crate::view::add(start, start + reserved);
                }
                crate::view::add(start, start + brk_len);
                cm.brk = Some((start, brk_len, cur));
                cm.brk_frame = Some(frame);
            }
        }
        let shared_anon: alloc::vec::Vec<(usize, usize)> = mm
            .vmas
            .iter()
            .filter(|(_, v)| matches!(v.kind, Kind::SharedAnon))
            .map(|(&k, v)| (k, k + v.len))
            .collect();
        for (a, b) in shared_anon {
            // The same pages in both, counted so that the last map frees them.
            if !crate::view::in_family(a, b) {
                crate::view::add(a, b);
            }
            crate::view::add(a, b);
        }
        for (&k, v) in mm.vmas.iter() {
            match &v.kind {
                Kind::Brk | Kind::SharedAnon => {
                    cm.vmas.insert(k, v.clone());
                }
                Kind::Shared { backing, .. } => {
                    // The same frames at the same (window) addresses in both, counted
                    // so that the last map gives the addresses back.
                    if !crate::view::in_family(k, k + v.len) {
                        crate::view::add(k, k + v.len);
                    }
                    crate::view::add(k, k + v.len);
                    backing.map_added();
                    cm.vmas.insert(k, v.clone());
                }
                _ => {}
            }
        }
        drop(cm);
        // The running view withholds what was just lent.
        self.show_ranges(&mm);
        self.forked
            .store(true, core::sync::atomic::Ordering::Release);
        child
            .forked
            .store(true, core::sync::atomic::Ordering::Release);
        // This space's view is the one shown (its thread is running).
        VIEW.store(self.id, core::sync::atomic::Ordering::Release);
        Ok(child)
    }
}

/// The platform's write-fault hook (`uk_plat::cpu::WRITE_FAULT`): a copy-on-write page
/// of the space whose view is shown.
pub fn write_fault(addr: usize) -> bool {
    crate::cow::write_fault(VIEW.load(core::sync::atomic::Ordering::Acquire), addr)
}

/// Fill the fresh frames `[frame, frame+len)` with the bytes of the frames `[src,
/// src+len)` (the parent's: its own address for identity pages, which its running view
/// shows read as the map allows; zeros where the map cannot be read). Only the parts
/// the platform says may hold data are copied: fresh frames read as zero where the
/// allocator promises it, and untouched pages (most of a stack) stay free of cost.
fn copy_or_zero(src: usize, frame: usize, len: usize, prot: u32) {
    let zero = PAGES.lock().free_is_zero();
    if prot & ACCESS == 0 {
        if !zero {
            // SAFETY: fresh frames owned by the caller.
            unsafe { core::ptr::write_bytes(frame as *mut u8, 0, len) };
        }
        return;
    }
    let mut copy = |a: usize, b: usize| {
        // SAFETY: [a, b) lies in [src, src+len), readable (see above); the frames are
        // fresh and as long.
        unsafe {
            core::ptr::copy_nonoverlapping(a as *const u8, (frame + (a - src)) as *mut u8, b - a)
        };
    };
    if !zero || !uk_plat::get().populated(src, len, &mut copy) {
        copy(src, src + len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testplat;

    // The functions under test act on the test process's address space.
    fn space() -> &'static AddressSpace {
        &crate::process::current().mm
    }
    fn mmap(addr: usize, len: usize, prot: u32, flags: u32, fd: i32, off: u64) -> KResult<usize> {
        crate::fs::mmap::mmap(addr, len, prot, flags, fd, off)
    }
    fn munmap(addr: usize, len: usize) -> KResult<()> {
        space().munmap(addr, len)
    }
    fn mprotect(addr: usize, len: usize, prot: u32) -> KResult<()> {
        space().mprotect(addr, len, prot)
    }
    fn mremap(a: usize, o: usize, n: usize, f: u32, na: usize) -> KResult<usize> {
        space().mremap(a, o, n, f, na)
    }
    fn madvise(addr: usize, len: usize, advice: u32) -> KResult<()> {
        space().madvise(addr, len, advice)
    }
    fn brk(req: usize) -> usize {
        space().brk(req)
    }

    /// The alias window's free list: first fit, exact takes, and neighbours merging
    /// back into one range when given back.
    #[test]
    fn window_addresses_are_taken_and_merged_back() {
        const P: usize = PAGE_SIZE;
        let w = uk_plat::MemRegion {
            start: 0x100_0000,
            len: 16 * P,
        };
        let mut mm = WindowFree {
            free: litemap::LiteMap::new(),
        };
        mm.release(w.start, w.len);
        let a = mm.take(4 * P).unwrap();
        assert_eq!(a, w.start);
        assert!(mm.take_at(w.start + 8 * P, 2 * P));
        assert!(!mm.take_at(w.start + 9 * P, P), "already taken");
        assert!(!mm.take_at(w.start + 2 * P, P), "inside the first take");
        // Free: [4, 8) and [10, 16).
        assert_eq!(mm.take(5 * P), Some(w.start + 10 * P));
        assert_eq!(mm.take(5 * P), None);
        mm.release(w.start + 10 * P, 5 * P);
        mm.release(w.start + 8 * P, 2 * P);
        mm.release(a, 4 * P);
        // Everything merged back into one range.
        assert_eq!(mm.free.len(), 1);
        assert_eq!(mm.take(16 * P), Some(w.start));
    }

    #[test]
    fn anonymous_lifecycle() {
        // Every test that maps takes the one lock: a page this test unmaps could
        // otherwise be another test's fresh map before the next check.
        let _g = testplat::serial();
        testplat::setup();
        let a = mmap(
            0,
            10000,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        )
        .unwrap();
        assert_eq!(a % PAGE_SIZE, 0);
        assert!(crate::user::check(a, 12288, true).is_ok());
        assert!(crate::user::check(a, 12289, true).is_err());
        // SAFETY: a is a fresh 3-page map.
        let s = unsafe { core::slice::from_raw_parts_mut(a as *mut u8, 12288) };
        assert!(s.iter().all(|&b| b == 0));
        s.fill(1);
        // Unmap the middle page: the two ends stay.
        munmap(a + PAGE_SIZE, PAGE_SIZE).unwrap();
        assert!(crate::user::check(a, PAGE_SIZE, true).is_ok());
        assert!(crate::user::check(a + PAGE_SIZE, 1, false).is_err());
        assert!(crate::user::check(a + 2 * PAGE_SIZE, 1, false).is_ok());
        // mprotect to read-only, then PROT_NONE.
        mprotect(a, PAGE_SIZE, PROT_READ).unwrap();
        assert!(crate::user::check(a, 1, true).is_err());
        assert!(crate::user::check(a, 1, false).is_ok());
        mprotect(a, PAGE_SIZE, 0).unwrap();
        assert!(crate::user::check(a, 1, false).is_err());
        assert_eq!(
            mprotect(a + PAGE_SIZE, PAGE_SIZE, PROT_READ),
            Err(Errno::ENOMEM)
        );
        munmap(a, 3 * PAGE_SIZE).unwrap();
        assert!(crate::user::check(a + 2 * PAGE_SIZE, 1, false).is_err());
    }

    /// The MMU (the test platform's pretend one) holds what the records say, and pages
    /// go back to the allocator read+write whatever the map's protection was.
    #[test]
    fn the_mmu_follows_the_records() {
        // Every test that maps takes the one lock: a page this test unmaps could
        // otherwise be another test's fresh map before the next check.
        let _g = testplat::serial();
        testplat::setup();
        let anon = MAP_PRIVATE | MAP_ANONYMOUS;
        let rw = PROT_READ | PROT_WRITE;
        let mmu = testplat::mmu_prot;
        // A thread stack as musl makes one: all PROT_NONE, then all but the guard RW.
        let a = mmap(0, 4 * PAGE_SIZE, 0, anon, -1, 0).unwrap();
        assert!((0..4).all(|i| mmu(a + i * PAGE_SIZE) == 0));
        mprotect(a + PAGE_SIZE, 3 * PAGE_SIZE, rw).unwrap();
        assert_eq!(mmu(a), 0, "the guard page stays inaccessible");
        assert!((1..4).all(|i| mmu(a + i * PAGE_SIZE) == rw));
        mprotect(a + 3 * PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_EXEC).unwrap();
        assert_eq!(mmu(a + 3 * PAGE_SIZE), PROT_READ | PROT_EXEC);
        // Clearing a read-only page leaves it read-only (and zero).
        madvise(a + 3 * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED).unwrap();
        assert_eq!(mmu(a + 3 * PAGE_SIZE), PROT_READ | PROT_EXEC);
        munmap(a, 4 * PAGE_SIZE).unwrap();
        assert!(
            (0..4).all(|i| mmu(a + i * PAGE_SIZE) == rw),
            "freed pages are RW"
        );

        // mremap keeps the protection where the map goes and opens up where it was.
        let b = mmap(0, PAGE_SIZE, PROT_READ, anon, -1, 0).unwrap();
        let blocker = mmap(
            b + PAGE_SIZE,
            PAGE_SIZE,
            rw,
            anon | MAP_FIXED_NOREPLACE,
            -1,
            0,
        );
        let n = mremap(b, PAGE_SIZE, 3 * PAGE_SIZE, MREMAP_MAYMOVE, 0).unwrap();
        assert!((0..3).all(|i| mmu(n + i * PAGE_SIZE) == PROT_READ));
        if n != b {
            assert_eq!(mmu(b), rw);
        }
        munmap(n, 3 * PAGE_SIZE).unwrap();
        if let Ok(x) = blocker {
            munmap(x, PAGE_SIZE).unwrap();
        }
        assert!((0..3).all(|i| mmu(n + i * PAGE_SIZE) == rw));

        // MAP_FIXED over a PROT_NONE map takes the new protection.
        let c = mmap(0, 2 * PAGE_SIZE, 0, anon, -1, 0).unwrap();
        mmap(c, 2 * PAGE_SIZE, PROT_READ, anon | MAP_FIXED, -1, 0).unwrap();
        assert!((0..2).all(|i| mmu(c + i * PAGE_SIZE) == PROT_READ));
        munmap(c, 2 * PAGE_SIZE).unwrap();
        assert_eq!(mmu(c), rw);
    }

    #[test]
    fn bad_arguments() {
        // Every test that maps takes the one lock: a page this test unmaps could
        // otherwise be another test's fresh map before the next check.
        let _g = testplat::serial();
        testplat::setup();
        let anon = MAP_PRIVATE | MAP_ANONYMOUS;
        assert_eq!(mmap(0, 0, 3, anon, -1, 0), Err(Errno::EINVAL));
        assert_eq!(mmap(0, 4096, 3, MAP_ANONYMOUS, -1, 0), Err(Errno::EINVAL));
        assert_eq!(mmap(0, 4096, 0x80, anon, -1, 0), Err(Errno::EINVAL));
        assert_eq!(mmap(0, usize::MAX, 3, anon, -1, 0), Err(Errno::ENOMEM));
        assert_eq!(mmap(0, 1 << 40, 3, anon, -1, 0), Err(Errno::ENOMEM));
        assert_eq!(mmap(0, 4096, 3, anon, -1, 5), Err(Errno::EINVAL));
        assert_eq!(mmap(0, 4096, 3, MAP_PRIVATE, 999, 0), Err(Errno::EBADF));
        assert_eq!(
            mmap(123, 4096, 3, anon | MAP_FIXED, -1, 0),
            Err(Errno::EINVAL)
        );
        assert_eq!(munmap(1, 4096), Err(Errno::EINVAL));
        assert_eq!(munmap(4096, 0), Err(Errno::EINVAL));
        assert_eq!(madvise(4096, 4096, 9999), Err(Errno::EINVAL));
    }

    #[test]
    fn fixed_and_remap() {
        // Every test that maps takes the one lock: a page this test unmaps could
        // otherwise be another test's fresh map before the next check.
        let _g = testplat::serial();
        testplat::setup();
        let anon = MAP_PRIVATE | MAP_ANONYMOUS;
        let a = mmap(0, 4 * PAGE_SIZE, 3, anon, -1, 0).unwrap();
        // SAFETY: a is a fresh 4-page map.
        unsafe { core::ptr::write_bytes(a as *mut u8, 7, 4 * PAGE_SIZE) };
        assert_eq!(
            mmap(a, PAGE_SIZE, 3, anon | MAP_FIXED_NOREPLACE, -1, 0),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            mmap(a + PAGE_SIZE, PAGE_SIZE, 3, anon | MAP_FIXED, -1, 0),
            Ok(a + PAGE_SIZE)
        );
        // SAFETY: still mapped.
        let first = unsafe { *((a + PAGE_SIZE) as *const u8) };
        assert_eq!(first, 0, "MAP_FIXED over a map clears it");
        // SAFETY: still mapped.
        assert_eq!(unsafe { *(a as *const u8) }, 7);
        let b = mremap(a, 4 * PAGE_SIZE, 64 * PAGE_SIZE, MREMAP_MAYMOVE, 0).unwrap();
        // SAFETY: b is the moved or grown map.
        assert_eq!(unsafe { *(b as *const u8) }, 7, "contents survive the move");
        assert!(crate::user::check(b, 64 * PAGE_SIZE, true).is_ok());
        let c = mremap(b, 64 * PAGE_SIZE, PAGE_SIZE, 0, 0).unwrap();
        assert_eq!(c, b);
        assert!(crate::user::check(b + PAGE_SIZE, 1, false).is_err());
        assert_eq!(
            mremap(b + 8 * PAGE_SIZE, PAGE_SIZE, 2 * PAGE_SIZE, 1, 0),
            Err(Errno::EFAULT)
        );
        munmap(b, PAGE_SIZE).unwrap();
    }

    #[test]
    fn brk_grows_and_shrinks() {
        // Every test that maps takes the one lock: a page this test unmaps could
        // otherwise be another test's fresh map before the next check.
        let _g = testplat::serial();
        testplat::setup();
        let b0 = brk(0);
        assert_ne!(b0, 0);
        assert_eq!(brk(b0), b0);
        assert_eq!(brk(b0 + 10000), b0 + 10000);
        assert!(crate::user::check(b0, 10000, true).is_ok());
        assert_eq!(brk(b0 - 1), b0 + 10000, "below the start: unchanged");
        assert_eq!(
            brk(usize::MAX),
            b0 + 10000,
            "beyond the reservation: unchanged"
        );
        assert_eq!(brk(b0 + 100), b0 + 100);
        assert!(crate::user::check(b0 + PAGE_SIZE, 1, false).is_err());
    }
}
