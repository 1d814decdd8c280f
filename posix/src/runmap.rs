//! Maps of address runs, `start -> (end, payload)`, cut at any address: what the fork
//! bookkeeping keeps (crate::view's families and shown frames, crate::cow's borrows and
//! withheld pages). `shift(payload, by)` says how a payload moves with its run's start
//! (a frame number advances, a count stays).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

pub type RunMap<T> = BTreeMap<usize, (usize, T)>;

/// Split the run containing `at` (if any) so that `at` starts a run.
pub fn split<T: Copy>(map: &mut RunMap<T>, at: usize, shift: fn(T, usize) -> T) {
    let Some((&s, &(e, v))) = map.range(..at).next_back() else {
        return;
    };
    if at > s && at < e {
        map.insert(s, (at, v));
        map.insert(at, (e, shift(v, at - s)));
    }
}

/// Remove `[a, b)` from `map` (trimming runs that stick out); returns what was there,
/// clipped, as (start, end, payload), in address order.
pub fn carve<T: Copy>(
    map: &mut RunMap<T>,
    a: usize,
    b: usize,
    shift: fn(T, usize) -> T,
) -> Vec<(usize, usize, T)> {
    split(map, a, shift);
    split(map, b, shift);
    let keys: Vec<usize> = map.range(a..b).map(|(&k, _)| k).collect();
    keys.into_iter()
        .filter_map(|k| map.remove(&k).map(|(e, v)| (k, e, v)))
        .collect()
}

/// A payload that does not move with its run's start.
pub fn keep<T>(v: T, _: usize) -> T {
    v
}

/// A frame number, which advances with its run's start.
pub fn advance(frame: usize, by: usize) -> usize {
    frame + by
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carving_trims_runs_and_moves_frames() {
        let mut m: RunMap<usize> = BTreeMap::new();
        m.insert(10, (20, 100));
        m.insert(20, (30, 500));
        assert_eq!(
            carve(&mut m, 15, 25, advance),
            vec![(15, 20, 105), (20, 25, 500)]
        );
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            vec![(10, (15, 100)), (25, (30, 505))]
        );
        let mut c: RunMap<u32> = BTreeMap::new();
        c.insert(0, (8, 2));
        split(&mut c, 4, keep);
        assert_eq!(
            c.into_iter().collect::<Vec<_>>(),
            vec![(0, (4, 2)), (4, (8, 2))]
        );
    }
}
