//! Byte queues (pipes, AF_UNIX streams) filled from a [`Source`] and read into a
//! [`Sink`]: the copies go straight between the queue and the caller's buffer, which
//! checks program memory at that moment.

use crate::KResult;
use alloc::collections::VecDeque;
use uk_abi::uio::{Sink, Source};

/// Append bytes `[from, from + n)` of `src` to `q`, read straight into its new space;
/// on a bad source nothing is appended.
pub(crate) fn push_from(
    q: &mut VecDeque<u8>,
    src: &dyn Source,
    from: usize,
    n: usize,
) -> KResult<()> {
    let old = q.len();
    q.try_reserve(n).map_err(|_| crate::Errno::ENOMEM)?;
    q.resize(old + n, 0);
    let (a, b) = q.as_mut_slices();
    let r = if old >= a.len() {
        src.read_at(from, &mut b[old - a.len()..old - a.len() + n])
    } else {
        let in_a = (a.len() - old).min(n);
        src.read_at(from, &mut a[old..old + in_a])
            .and_then(|_| src.read_at(from + in_a, &mut b[..n - in_a]))
    };
    if r.is_err() {
        q.truncate(old);
    }
    r
}

/// Copy the first `n` bytes of `q` into `sink` (all of them, or EFAULT); the queue is
/// left as it is.
pub(crate) fn copy_front(q: &VecDeque<u8>, n: usize, sink: &mut dyn Sink) -> KResult<()> {
    let (a, b) = q.as_slices();
    let na = n.min(a.len());
    sink.write_at(0, &a[..na])?;
    sink.write_at(na, &b[..n - na])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_and_copy_across_the_wrap() {
        let mut q: VecDeque<u8> = VecDeque::with_capacity(8);
        q.extend(b"abcdef");
        q.drain(..5); // the next pushes wrap around the ring
        push_from(&mut q, &&b"xyz1234"[..], 0, 7).unwrap();
        assert_eq!(
            q.iter().copied().collect::<alloc::vec::Vec<_>>(),
            b"fxyz1234"
        );
        let mut out = [0u8; 5];
        copy_front(&q, 5, &mut &mut out[..]).unwrap();
        assert_eq!(&out, b"fxyz1");
        // A short source appends nothing.
        assert!(push_from(&mut q, &&b"ab"[..], 0, 3).is_err());
        assert_eq!(q.len(), 8);
    }
}
