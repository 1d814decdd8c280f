//! Views: which frames the platform shows at program addresses that several address
//! spaces use at once (docs/processes.md, "fork").
//!
//! fork gives the child a copy of the parent's private memory *at the same addresses*.
//! One address space cannot hold two things at one address, so each process has its
//! own frames for such a range and the platform shows the running process's frames
//! there ([`uk_plat::Platform::alias`]: a host mapping of the memfd on linuxu, page
//! table entries on kvm). A range forked at least once is a *family* range; its pages
//! are counted here by how many address spaces have them ([`add`], [`sub`]).
//!
//! Program addresses are page-allocator addresses (an anonymous map's pages are
//! shown at their own address), and the kernel reaches every frame at its own
//! address. Two rules keep the kernel's memory out of reach of the views:
//! - A family address stays allocated while any address space has it: the pages of
//!   the process that first mapped them (its *identity* frames) go back only when the
//!   count reaches zero, even if that process unmapped them long before.
//! - Every frame shown somewhere other than its own address is recorded in [`SHOWN`];
//!   before such a frame, or a family address, goes back to the allocator, the
//!   address shows its own page again ([`uk_plat::Platform::unalias`]).
//!
//! Frames a fork made for a child are fresh allocator pages: they are never program
//! addresses themselves, so the kernel can always read and free them at their own
//! address.

use crate::runmap::{keep, split, RunMap};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Family ranges: start -> (end, how many address spaces have the range).
static FAMILY: spin::Mutex<RunMap<u32>> = spin::Mutex::new(BTreeMap::new());

/// What the platform shows at program addresses other than their own pages read+write:
/// start -> (end, first frame, protection).
static SHOWN: spin::Mutex<RunMap<Shown>> = spin::Mutex::new(BTreeMap::new());

/// A shown run's first frame and protection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shown {
    frame: usize,
    prot: u32,
}

fn advance(v: Shown, by: usize) -> Shown {
    Shown {
        frame: v.frame + by,
        prot: v.prot,
    }
}

/// Read+write, what pages have at their own address while nothing else is shown.
const RW: u32 = uk_abi::mman::PROT_READ | uk_abi::mman::PROT_WRITE;

/// One more address space has `[a, b)`.
pub fn add(a: usize, b: usize) {
    let mut f = FAMILY.lock();
    split(&mut f, a, keep);
    split(&mut f, b, keep);
    let mut at = a;
    let inside: Vec<(usize, usize)> = f.range(a..b).map(|(&s, &(e, _))| (s, e)).collect();
    for (s, e) in inside {
        if s > at {
            f.insert(at, (s, 1));
        }
        if let Some(x) = f.get_mut(&s) {
            x.1 += 1;
        }
        at = e;
    }
    if at < b {
        f.insert(at, (b, 1));
    }
}

/// One address space less has `[a, b)`; returns the parts no address space has any
/// more (they leave the family), and the parts that were in none (a shared map grown
/// after a fork).
pub fn sub(a: usize, b: usize) -> Vec<(usize, usize)> {
    let mut f = FAMILY.lock();
    split(&mut f, a, keep);
    split(&mut f, b, keep);
    let mut gone = Vec::new();
    let mut at = a;
    let inside: Vec<usize> = f.range(a..b).map(|(&s, _)| s).collect();
    for s in inside {
        let Some(x) = f.get_mut(&s) else { continue };
        if s > at {
            gone.push((at, s));
        }
        at = x.0;
        x.1 = x.1.saturating_sub(1);
        if x.1 == 0 {
            let e = x.0;
            f.remove(&s);
            gone.push((s, e));
        }
    }
    if at < b {
        gone.push((at, b));
    }
    gone
}

/// Is any part of `[a, b)` a family range?
pub fn in_family(a: usize, b: usize) -> bool {
    let f = FAMILY.lock();
    f.range(..b).next_back().is_some_and(|(_, &(e, _))| e > a)
}

/// Remove `[a, b)` from [`SHOWN`] (trimming entries that stick out); returns what was
/// there, clipped, as (start, end, what).
fn carve(a: usize, b: usize) -> Vec<(usize, usize, Shown)> {
    crate::runmap::carve(&mut SHOWN.lock(), a, b, advance)
}

/// Record that `[at, end)` shows `v`, merged with the runs it continues.
fn record(at: usize, end: usize, v: Shown) {
    let mut s = SHOWN.lock();
    let (mut at, mut end) = (at, end);
    let mut v = v;
    if let Some((&k, &(e, w))) = s.range(..at).next_back() {
        if e == at && w.prot == v.prot && w.frame + (at - k) == v.frame {
            s.remove(&k);
            at = k;
            v = w;
        }
    }
    if let Some(&(e, w)) = s.get(&end) {
        if w.prot == v.prot && v.frame + (end - at) == w.frame {
            s.remove(&end);
            end = e;
        }
    }
    s.insert(at, (end, v));
}

/// Does `[at, at+len)` show the frames from `frame` on now, whatever their protection?
fn shows_frames(at: usize, frame: usize, len: usize) -> bool {
    let s = SHOWN.lock();
    let end = at + len;
    let mut x = at;
    let first = s
        .range(..at)
        .next_back()
        .filter(|(_, &(e, _))| e > at)
        .map_or(at, |(&k, _)| k);
    for (&k, &(e, v)) in s.range(first..end) {
        let a = k.max(at);
        // A gap shows the addresses' own pages.
        if a > x && frame != at {
            return false;
        }
        if v.frame + (a - k) != frame + (a - at) {
            return false;
        }
        x = e.min(end);
    }
    x >= end || frame == at
}

/// Record `prot` over `[at, end)`, which keeps the frames it shows.
fn reprotect(at: usize, end: usize, prot: u32) {
    let mut pieces = carve(at, end);
    pieces.sort_by_key(|p| p.0);
    let mut x = at;
    let mut runs = Vec::new();
    for (s, e, v) in pieces {
        if s > x {
            runs.push((x, s, x));
        }
        runs.push((s, e, v.frame));
        x = e;
    }
    if x < end {
        runs.push((x, end, x));
    }
    for (s, e, frame) in runs {
        if frame != s || prot != RW {
            record(s, e, Shown { frame, prot });
        }
    }
}

/// Have the MMU enforce `prot` on `[at, at+len)` of program memory, keeping what it
/// shows (`Platform::protect`), and record it; false where the platform cannot.
pub fn protect(at: usize, len: usize, prot: u32) -> bool {
    if len == 0 || !uk_plat::get().protect(at, len, prot) {
        return false;
    }
    reprotect(at, at + len, prot);
    true
}

/// Show frames `[frame, frame+len)` at `[at, at+len)` with `prot` (identity when
/// `frame == at`). Frames already shown there only change protection (their page
/// table entries stay). Runs on the switch stack too: allocates only small records.
pub fn show(at: usize, frame: usize, len: usize, prot: u32) {
    if shows_frames(at, frame, len) && protect(at, len, prot) {
        return;
    }
    let mut tables = || uk_alloc::PAGES.lock().alloc_zeroed(1);
    // The family's addresses and frames are allocator pages (or the program's data
    // range, which the platform accepts): an error here is a kernel bug.
    if let Err(e) = uk_plat::get().alias(at, frame, len, prot, &mut tables) {
        panic!("ukit: cannot show frames {frame:#x} at {at:#x}+{len:#x}: {e:?}");
    }
    carve(at, at + len);
    if frame != at || prot != RW {
        record(at, at + len, Shown { frame, prot });
    }
}

/// Is `[at, at+len)` already showing `[frame, ...)` with `prot`? (Identity read+write:
/// nothing recorded over it.)
pub fn showing(at: usize, frame: usize, len: usize, prot: u32) -> bool {
    let s = SHOWN.lock();
    let end = at + len;
    if frame == at && prot == RW {
        return s
            .range(..end)
            .next_back()
            .is_none_or(|(_, &(e, _))| e <= at);
    }
    // One entry covering the whole range, with the right frames.
    match s.range(..=at).next_back() {
        Some((&k, &(e, v))) => k <= at && e >= end && v.frame + (at - k) == frame && v.prot == prot,
        None => false,
    }
}

/// What `[s, e)` showed (recorded as `v`) ends: its own pages again, read+write. A
/// page that showed itself with another protection (`Platform::protect`, which kvm
/// does not mark as an alias) gets read+write back the same way.
fn restore(s: usize, e: usize, v: Shown) {
    let plat = uk_plat::get();
    if v.frame == s {
        plat.protect(s, e - s, RW);
    } else {
        plat.unalias(s, e - s);
    }
}

/// `[a, b)` shows its own pages again wherever it showed other frames.
pub fn unshow(a: usize, b: usize) {
    for (s, e, v) in carve(a, b) {
        restore(s, e, v);
    }
}

/// Frames `[frame, frame+len)` are about to go back to the allocator: wherever
/// `[at, at+len)` shows them, it shows its own pages again.
pub fn unshow_frames(at: usize, frame: usize, len: usize) {
    for (s, e, v) in carve(at, at + len) {
        if v.frame == frame + (s - at) {
            restore(s, e, v);
        } else {
            // Another space's frames: keep them recorded.
            record(s, e, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Addresses far from anything the test process maps: only the bookkeeping runs.
    const B: usize = 0x7000_0000_0000;
    const P: usize = 4096;

    #[test]
    fn family_counts_split_and_end() {
        let _g = crate::testplat::serial();
        add(B, B + 4 * P);
        add(B + 2 * P, B + 6 * P);
        assert!(in_family(B + 5 * P, B + 7 * P));
        assert!(!in_family(B + 6 * P, B + 8 * P));
        // [B, 2P) count 1, [2P, 4P) 2, [4P, 6P) 1.
        assert_eq!(
            sub(B, B + 6 * P),
            vec![(B, B + 2 * P), (B + 4 * P, B + 6 * P)]
        );
        assert_eq!(sub(B + 3 * P, B + 4 * P), vec![(B + 3 * P, B + 4 * P)]);
        assert_eq!(sub(B + 2 * P, B + 3 * P), vec![(B + 2 * P, B + 3 * P)]);
        assert!(!in_family(B, B + 8 * P));
        // A range partly in a family: the outside parts go at once, the rest with
        // the family's last user.
        add(B + 2 * P, B + 3 * P);
        add(B + 2 * P, B + 3 * P);
        assert_eq!(
            sub(B, B + 4 * P),
            vec![(B, B + 2 * P), (B + 3 * P, B + 4 * P)]
        );
        assert_eq!(sub(B + 2 * P, B + 3 * P), vec![(B + 2 * P, B + 3 * P)]);
    }
}
