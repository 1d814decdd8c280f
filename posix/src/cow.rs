//! Copy-on-write for fork (docs/processes.md, "Copy-on-write").
//!
//! fork gives the child fresh frames for its private ranges but copies nothing into
//! them: the child's frames *borrow* the parent's ([`lend`]). Until one of them writes,
//! both processes' views show the parent's frames at those addresses, and both withhold
//! the pages' write permission. The first write to such a page (a program store that
//! faults, [`write_fault`]; the kernel about to copy into program memory,
//! [`prepare_write`]) settles it for the writer: a borrower copies the lent bytes into
//! its own frame and shows that; a lender first copies its page into every frame that
//! borrows it. Either way the page is the writer's own and writable again.
//!
//! Frames that go back to the allocator pay their debts first ([`forget`]): a lending
//! frame is copied into its borrowers, a borrowing one is dropped (and a lender left
//! with no borrower gets its write permission back). A range's identity frames (the
//! pages of the process that first mapped it) stay allocated while any space has the
//! range (crate::view), so they stay lent after their process has gone.
//!
//! The kernel runs on program threads' stacks, so fork copies a range holding a
//! thread's stack at once instead (crate::mm): kernel code never writes a withheld page
//! except through [`prepare_write`] or the fault path. All state is behind one lock,
//! never held while program memory is written other than frames at their own address;
//! the fault path only tries it.
//!
//! Frames are reached at their own address. A borrowed identity frame is a program
//! address: it is read only while the running view shows it there (the borrower's, which
//! shows the lent frame, or the lender's own).

use crate::runmap::{advance, carve, RunMap};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use uk_abi::mman::{PROT_EXEC, PROT_READ, PROT_WRITE};
use uk_alloc::PAGE_SIZE;

const ACCESS: u32 = PROT_READ | PROT_WRITE | PROT_EXEC;

/// More runs than this split off by write faults in one space (each settled block in
/// the middle of a withheld range splits it) and the space's remaining pages are all
/// settled at once: each run costs a host mapping on linuxu, and the host allows a
/// bounded number. The runs a fork makes (one per private map) do not count.
const MAX_SPLITS: usize = 64;

/// A write fault settles the writable withheld pages of this aligned block around the
/// faulting one, not that page alone: a program writing through a buffer takes one
/// fault per block instead of one per page (each costs a host signal on linuxu).
const FAULT_BLOCK: usize = 16 * PAGE_SIZE;

struct State {
    /// Borrowing frames: first frame -> (end, first lent frame).
    borrows: RunMap<usize>,
    /// Pages whose write permission a space's view withholds: (space, first address)
    /// -> (end, the space's first frame there, the map's protection).
    withheld: BTreeMap<usize, RunMap<Held>>,
    /// Runs write faults have split off, per space ([`MAX_SPLITS`]).
    splits: BTreeMap<usize, usize>,
}

static STATE: spin::Mutex<State> = spin::Mutex::new(State {
    borrows: BTreeMap::new(),
    withheld: BTreeMap::new(),
    splits: BTreeMap::new(),
});

/// Some page is withheld somewhere: without that, the write paths skip the lock.
static ANY: AtomicBool = AtomicBool::new(false);

/// A piece of program memory: address, end, frame, protection.
type Piece = (usize, usize, usize, u32);

/// A withheld run's payload: the space's first frame there, the map's protection.
type Held = (usize, u32);

fn advance_held((frame, prot): Held, by: usize) -> Held {
    (frame + by, prot)
}

impl State {
    fn update_any(&mut self) {
        // A space with nothing withheld any more is forgotten, and starts counting its
        // splits afresh.
        self.withheld.retain(|_, runs| !runs.is_empty());
        let withheld = &self.withheld;
        self.splits.retain(|sp, _| withheld.contains_key(sp));
        ANY.store(!self.withheld.is_empty(), Ordering::Release);
    }

    /// Remove the borrows of frames `[a, b)`: (first frame, end, first lent frame).
    fn carve_borrows(&mut self, a: usize, b: usize) -> Vec<(usize, usize, usize)> {
        carve(&mut self.borrows, a, b, advance)
    }

    /// Frames `[frame, frame+len)` as pieces: (offset, length, the lent frame when that
    /// piece borrows).
    fn pieces(&self, frame: usize, len: usize) -> Vec<(usize, usize, Option<usize>)> {
        let end = frame + len;
        let mut out = Vec::new();
        let mut at = frame;
        let first = self
            .borrows
            .range(..frame)
            .next_back()
            .filter(|(_, &(e, _))| e > frame)
            .map(|(&k, _)| k)
            .unwrap_or(frame);
        for (&s, &(e, src)) in self.borrows.range(first..end) {
            let (a, b) = (s.max(frame), e.min(end));
            if a >= b {
                continue;
            }
            if a > at {
                out.push((at - frame, a - at, None));
            }
            out.push((a - frame, b - a, Some(src + (a - s))));
            at = b;
        }
        if at < end {
            out.push((at - frame, end - at, None));
        }
        out
    }

    /// The frames borrowing from `[a, b)`: (first borrowing frame, end, first lent
    /// frame).
    fn borrowers(&self, a: usize, b: usize) -> Vec<(usize, usize, usize)> {
        self.borrows
            .iter()
            .filter_map(|(&s, &(e, src))| {
                let (x, y) = (src.max(a), (src + (e - s)).min(b));
                (x < y).then(|| (s + (x - src), s + (y - src), x))
            })
            .collect()
    }

    /// Remove `space`'s withheld pages in `[a, b)`; returns them.
    fn carve_withheld(&mut self, space: usize, a: usize, b: usize) -> Vec<Piece> {
        let Some(runs) = self.withheld.get_mut(&space) else {
            return Vec::new();
        };
        carve(runs, a, b, advance_held)
            .into_iter()
            .map(|(s, e, (f, p))| (s, e, f, p))
            .collect()
    }

    /// Withhold `space`'s pages `[a, b)`, its frames from `frame` on, with `prot`.
    fn withhold(&mut self, space: usize, a: usize, b: usize, frame: usize, prot: u32) {
        self.withheld
            .entry(space)
            .or_default()
            .insert(a, (b, (frame, prot)));
    }

    /// Where frames `[a, b)` are withheld: (space, address, end, frame, protection).
    fn withheld_frames(&self, a: usize, b: usize) -> Vec<(usize, Piece)> {
        self.withheld
            .iter()
            .flat_map(|(&sp, runs)| runs.iter().map(move |(&s, &(e, h))| (sp, s, e, h)))
            .filter_map(|(sp, s, e, (f, p))| {
                let (x, y) = (f.max(a), (f + (e - s)).min(b));
                (x < y).then(|| (sp, (s + (x - f), s + (y - f), x, p)))
            })
            .collect()
    }

    /// The protection of `space`'s withheld page at `addr`, if it is one.
    fn withheld_at(&self, space: usize, addr: usize) -> Option<u32> {
        self.withheld
            .get(&space)?
            .range(..=addr)
            .next_back()
            .filter(|(_, &(e, _))| e > addr)
            .map(|(_, &(_, (_, p)))| p)
    }

    /// Settle `space`'s withheld pages in `[a, b)` (the running space's): each becomes
    /// the space's own, shown with its map's protection. `writable`: only the pieces
    /// whose map is writable (for a write fault; the others stay withheld).
    fn settle(&mut self, space: usize, a: usize, b: usize, writable: bool) {
        for (pa, pe, frame, prot) in self.carve_withheld(space, a, b) {
            if writable && prot & PROT_WRITE == 0 {
                self.withhold(space, pa, pe, frame, prot);
                continue;
            }
            let len = pe - pa;
            // This space's frames that borrow: the lent bytes come in.
            for (s, e, src) in self.carve_borrows(frame, frame + len) {
                copy(src, s, e - s);
            }
            // Frames borrowing this space's: they get their bytes now.
            for (s, e, src) in self.borrowers(frame, frame + len) {
                copy(src, s, e - s);
                self.carve_borrows(s, e);
            }
            crate::view::show(pa, frame, len, prot & ACCESS);
        }
    }

    /// The count of `space`'s withheld runs.
    fn runs(&self, space: usize) -> usize {
        self.withheld.get(&space).map_or(0, |r| r.len())
    }
}

/// Copy `len` bytes of frames (see the module docs for why both ends can be read and
/// written here).
fn copy(src: usize, dst: usize, len: usize) {
    // SAFETY: `dst` is a borrowing frame run (fresh allocator pages of a fork, never a
    // program address), `src` a lent run readable at its own address; both `len` long.
    unsafe { core::ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, len) };
}

/// fork: the child's range `[at, at+len)` of space `child`, frames from `cframe` on,
/// borrows what the parent's frames from `pframe` on hold (or, where those borrow
/// themselves, what they borrow); both spaces withhold the range's write permission
/// (the parent's view is the one shown: show its ranges again afterwards).
#[allow(clippy::too_many_arguments)]
pub fn lend(
    parent: usize,
    child: usize,
    at: usize,
    len: usize,
    pframe: usize,
    cframe: usize,
    prot: u32,
) {
    let mut st = STATE.lock();
    for (off, l, src) in st.pieces(pframe, len) {
        let from = src.unwrap_or(pframe + off);
        st.borrows.insert(cframe + off, (cframe + off + l, from));
    }
    st.carve_withheld(parent, at, at + len);
    st.withhold(parent, at, at + len, pframe, prot);
    st.carve_withheld(child, at, at + len);
    st.withhold(child, at, at + len, cframe, prot);
    st.update_any();
}

/// What `space`'s view shows at its range `[at, at+len)` (its frames from `frame` on,
/// with `prot`): runs of (address, first frame, length, protection). Withheld pages are
/// read-only, and those that borrow show the lent frames.
pub fn picture(
    space: usize,
    at: usize,
    frame: usize,
    len: usize,
    prot: u32,
) -> Vec<(usize, usize, usize, u32)> {
    let end = at + len;
    if !ANY.load(Ordering::Acquire) {
        return alloc::vec![(at, frame, len, prot)];
    }
    let st = STATE.lock();
    let mut out = Vec::new();
    let mut x = at;
    let none = RunMap::new();
    let runs = st.withheld.get(&space).unwrap_or(&none);
    let first = runs
        .range(..at)
        .next_back()
        .filter(|(_, &(e, _))| e > at)
        .map_or(at, |(&k, _)| k);
    for (&k, &(e, (_, p))) in runs.range(first..end) {
        let (a, b) = (k.max(at), e.min(end));
        if a >= b {
            continue;
        }
        if a > x {
            out.push((x, frame + (x - at), a - x, prot));
        }
        let ro = p & ACCESS & !PROT_WRITE;
        for (off, l, src) in st.pieces(frame + (a - at), b - a) {
            let f = src.unwrap_or(frame + (a - at) + off);
            out.push((a + off, f, l, ro));
        }
        x = b;
    }
    if x < end {
        out.push((x, frame + (x - at), end - x, prot));
    }
    out
}

/// A write at `addr` faulted in the running space `space`: settle the page if it is
/// withheld and its map writable. Only tries the lock (module docs).
pub fn write_fault(space: usize, addr: usize) -> bool {
    if !ANY.load(Ordering::Acquire) {
        return false;
    }
    let Some(mut st) = STATE.try_lock() else {
        return false;
    };
    // Not withheld, or withheld on a map that may not be written: a real fault.
    if st
        .withheld_at(space, addr)
        .is_none_or(|prot| prot & PROT_WRITE == 0)
    {
        return false;
    }
    let block = addr & !(FAULT_BLOCK - 1);
    let before = st.runs(space);
    st.settle(space, block, block + FAULT_BLOCK, true);
    let after = st.runs(space);
    let splits = st.splits.entry(space).or_insert(0);
    *splits += after.saturating_sub(before);
    if *splits > MAX_SPLITS {
        st.splits.remove(&space);
        st.settle(space, 0, usize::MAX, false);
    }
    st.update_any();
    true
}

/// The kernel is about to write `[addr, addr+len)` of the running space `space`'s
/// program memory (checked writable): settle its withheld pages first.
pub fn prepare_write(space: usize, addr: usize, len: usize) {
    if len == 0 || !ANY.load(Ordering::Acquire) {
        return;
    }
    let a = addr & !(PAGE_SIZE - 1);
    let b = addr.saturating_add(len).div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let mut st = STATE.lock();
    st.settle(space, a, b, false);
    st.update_any();
}

/// `[a, b)` of the running space `space` is about to change in a way the withheld
/// state does not follow (mprotect, madvise, brk): settle it.
pub fn settle(space: usize, a: usize, b: usize) {
    prepare_write(space, a, b.saturating_sub(a));
}

/// `space` stops having `[a, b)` (munmap, exit, exec): its withheld pages there are
/// forgotten (its frames pay their debts in [`forget`]).
pub fn unwithhold(space: usize, a: usize, b: usize) {
    if !ANY.load(Ordering::Acquire) {
        return;
    }
    let mut st = STATE.lock();
    st.carve_withheld(space, a, b);
    st.update_any();
}

/// Frames `[frame, frame+len)` go back to the allocator. Those lent give their bytes to
/// their borrowers now (shown there at once when `view`, the space shown, is one); those
/// borrowing are dropped, and a lender left with no borrower gets its write permission
/// back. Returns the runs that still borrowed: nothing ever wrote them since the fork
/// allocated them.
pub fn forget(frame: usize, len: usize, view: usize) -> Vec<(usize, usize)> {
    if !ANY.load(Ordering::Acquire) {
        return Vec::new();
    }
    let mut st = STATE.lock();
    let end = frame + len;
    let dropped = st.carve_borrows(frame, end);
    let untouched: Vec<(usize, usize)> = dropped.iter().map(|&(s, e, _)| (s, e)).collect();
    for (s, e, src) in st.borrowers(frame, end) {
        copy(src, s, e - s);
        st.carve_borrows(s, e);
        release(&mut st, s, e, view);
    }
    for (s, e, src) in dropped {
        let lent = src + (e - s);
        // The parts of the lent run that no other frame borrows.
        let mut free = Vec::new();
        let mut at = src;
        let mut still = st.borrowers(src, lent);
        still.sort_by_key(|&(_, _, x)| x);
        for (bs, be, x) in still {
            if x > at {
                free.push((at, x));
            }
            at = at.max(x + (be - bs));
        }
        if at < lent {
            free.push((at, lent));
        }
        for (x, y) in free {
            release(&mut st, x, y, view);
        }
    }
    st.update_any();
    untouched
}

/// Frames `[a, b)` are their space's own again, with nothing owed either way: wherever
/// they were withheld, they no longer are (shown at once when that space's view is).
fn release(st: &mut State, a: usize, b: usize, view: usize) {
    for (space, (pa, pe, frame, prot)) in st.withheld_frames(a, b) {
        st.carve_withheld(space, pa, pe);
        if space == view {
            crate::view::show(pa, frame, pe - pa, prot & ACCESS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: usize = PAGE_SIZE;

    fn state() -> State {
        State {
            borrows: BTreeMap::new(),
            withheld: BTreeMap::new(),
            splits: BTreeMap::new(),
        }
    }

    #[test]
    fn pieces_follow_borrows() {
        let mut st = state();
        st.borrows.insert(0x10 * P, (0x12 * P, 0x50 * P));
        st.borrows.insert(0x13 * P, (0x14 * P, 0x60 * P));
        assert_eq!(
            st.pieces(0x11 * P, 4 * P),
            vec![
                (0, P, Some(0x51 * P)),
                (P, P, None),
                (2 * P, P, Some(0x60 * P)),
                (3 * P, P, None)
            ]
        );
        assert_eq!(
            st.borrowers(0x51 * P, 0x70 * P),
            vec![
                (0x11 * P, 0x12 * P, 0x51 * P),
                (0x13 * P, 0x14 * P, 0x60 * P)
            ]
        );
        assert_eq!(st.carve_borrows(0x11 * P, 0x14 * P).len(), 2);
        assert_eq!(
            st.borrows.into_iter().collect::<Vec<_>>(),
            vec![(0x10 * P, (0x11 * P, 0x50 * P))]
        );
    }

    #[test]
    fn withheld_runs_split_and_are_found_by_frame() {
        let mut st = state();
        st.withhold(7, 0x100 * P, 0x104 * P, 0x900 * P, 3);
        st.withhold(8, 0x100 * P, 0x104 * P, 0x100 * P, 3);
        assert_eq!(
            st.carve_withheld(7, 0x101 * P, 0x102 * P),
            vec![(0x101 * P, 0x102 * P, 0x901 * P, 3)]
        );
        assert_eq!(st.runs(7), 2);
        assert_eq!(st.withheld_at(7, 0x100 * P + 5), Some(3));
        assert_eq!(st.withheld_at(7, 0x101 * P), None);
        assert_eq!(st.withheld_at(7, 0x104 * P), None);
        assert_eq!(st.withheld_at(9, 0x100 * P), None);
        assert_eq!(st.runs(8), 1);
        assert_eq!(
            st.withheld_frames(0x902 * P, 0x903 * P),
            vec![(7, (0x102 * P, 0x103 * P, 0x902 * P, 3))]
        );
        assert_eq!(
            st.withheld_frames(0x100 * P, 0x101 * P),
            vec![(8, (0x100 * P, 0x101 * P, 0x100 * P, 3))]
        );
    }
}
