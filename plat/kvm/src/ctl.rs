//! What ukport's control line (COM2, [`crate::serial`]) carries, decoded. Pure: the
//! bytes come from outside the VM and are never trusted, so the decoder only ever
//! produces plain signals 1..=64 and well-formed (pid, signal) pairs, whatever it is
//! fed.
//!
//! The line carries two kinds of message, mixed in any order:
//!
//! - **a plain signal**: one byte 1..=64, a signal for the program (pid 1). Byte 40
//!   ([`uk_plat::TARGETED_SIGNAL`]) is dropped, as a plain host signal 40 is on linuxu.
//! - **a targeted signal**, for one process of the image: [`FRAME_LEN`] bytes, [`ESC`]
//!   (0x80) and then six bytes, the pid (i32, little-endian), the signal, and a check
//!   byte (the XOR of those five), each sent as two *nibble bytes* `0x90 | nibble`, low
//!   nibble first. ukport sends it for `ukport kill` (toolchain/src/run/qemu.rs
//!   `targeted_frame`, which must agree with this).
//!
//! No byte of a frame is in 1..=64, so the two kinds cannot be confused: a plain byte
//! in the middle of a frame ends that frame (dropped) and is still a signal, another
//! escape starts a new frame, and an image that predates frames drops them whole.
//! Everything else is dropped: other bytes outside a frame, a frame cut by any byte
//! that is not a nibble byte, a frame whose check is wrong, whose pid is not positive
//! or whose signal is outside 1..=64.

use core::sync::atomic::{AtomicU64, Ordering};

pub use uk_abi::ctl::{frame, ESC, FRAME_LEN, NIBBLE};

/// What one byte completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Nothing yet (a byte inside a frame), or a byte dropped.
    None,
    /// A plain signal for the program.
    Signal(usize),
    /// A well-formed targeted signal: (pid, signal).
    Targeted(i32, usize),
}

/// The decoder's state, small enough to live in one atomic between reads of the line
/// (a frame may arrive in pieces): bits 0..48 the nibbles of the frame seen so far,
/// bits 56..64 how many (0 = not inside a frame, else 1 + that count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decoder(u64);

impl Decoder {
    pub const fn new() -> Self {
        Decoder(0)
    }

    /// The state as a word (to keep it in an atomic) and back.
    pub const fn to_bits(self) -> u64 {
        self.0
    }
    pub const fn from_bits(bits: u64) -> Self {
        Decoder(bits)
    }

    /// Inside a frame: the escape came, and not all of the frame yet.
    pub fn in_frame(&self) -> bool {
        self.0 >> 56 != 0
    }

    /// Take one byte from the line.
    pub fn push(&mut self, b: u8) -> Event {
        let state = (self.0 >> 56) as usize;
        if b == ESC {
            // A frame starts (one cut short before it is dropped).
            self.0 = 1 << 56;
            return Event::None;
        }
        if state != 0 && b & 0xf0 == NIBBLE {
            let have = state - 1; // nibbles so far
            let data = (self.0 & ((1 << 48) - 1)) | (u64::from(b & 0xf) << (4 * have));
            if have + 1 < FRAME_LEN - 1 {
                self.0 = ((have as u64 + 2) << 56) | data;
                return Event::None;
            }
            self.0 = 0;
            return Self::frame_event(data.to_le_bytes());
        }
        // Not part of a frame: whatever frame was under way is dropped.
        self.0 = 0;
        match b {
            s @ 1..=64 if usize::from(s) != uk_plat::TARGETED_SIGNAL => {
                Event::Signal(usize::from(s))
            }
            _ => Event::None,
        }
    }

    /// The event of a complete frame: its six bytes, checked.
    fn frame_event(d: [u8; 8]) -> Event {
        let check = uk_abi::ctl::check(&d[..5]);
        let pid = i32::from_le_bytes([d[0], d[1], d[2], d[3]]);
        let sig = usize::from(d[4]);
        if check == d[5] && pid > 0 && (1..=64).contains(&sig) {
            Event::Targeted(pid, sig)
        } else {
            Event::None
        }
    }
}

/// Targeted signals decoded and not yet taken by the kernel, at most [`Pending::CAP`]
/// (more are dropped). Each slot is 0 (free) or `1 << 63 | pid << 8 | sig`.
pub struct Pending {
    slots: [AtomicU64; Pending::CAP],
}

impl Default for Pending {
    fn default() -> Self {
        Self::new()
    }
}

impl Pending {
    pub const CAP: usize = 8;

    pub const fn new() -> Self {
        Pending {
            slots: [const { AtomicU64::new(0) }; Pending::CAP],
        }
    }

    /// Keep (pid, sig); false when full (it is dropped).
    pub fn push(&self, pid: i32, sig: usize) -> bool {
        let v = 1 << 63 | (pid as u32 as u64) << 8 | (sig as u64 & 0xff);
        self.slots.iter().any(|s| {
            s.compare_exchange(0, v, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        })
    }

    /// Take one (the kernel takes them all at once, so order matters little).
    pub fn pop(&self) -> Option<(i32, usize)> {
        self.slots.iter().find_map(|s| {
            let v = s.swap(0, Ordering::Relaxed);
            (v != 0).then_some((((v >> 8) & 0x7fff_ffff) as i32, (v & 0xff) as usize))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(d: &mut Decoder, bytes: &[u8]) -> Vec<Event> {
        bytes
            .iter()
            .map(|&b| d.push(b))
            .filter(|e| *e != Event::None)
            .collect()
    }

    #[test]
    fn a_good_frame_gives_its_pid_and_signal() {
        let mut d = Decoder::new();
        // pid 3, SIGKILL: bytes 3 0 0 0 9 and check 3^9 = 10, low nibble first.
        assert_eq!(
            frame(3, 9),
            [0x80, 0x93, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x99, 0x90, 0x9a, 0x90]
        );
        assert_eq!(feed(&mut d, &frame(3, 9)), [Event::Targeted(3, 9)]);
        assert!(!d.in_frame());
        for (pid, sig) in [(0x7fff_ffff, 64), (0x40_80_ff_01, 1), (128, 15), (40, 40)] {
            let f = frame(pid, sig);
            // No byte of a frame is a plain signal.
            assert!(f.iter().all(|b| !(1..=64).contains(b)), "{f:x?}");
            assert_eq!(feed(&mut d, &f), [Event::Targeted(pid, usize::from(sig))]);
        }
    }

    #[test]
    fn a_frame_split_across_reads_is_put_together() {
        let f = frame(1234, 10);
        for cut in 0..=FRAME_LEN {
            let mut d = Decoder::new();
            let mut got = feed(&mut d, &f[..cut]);
            // the state survives as a word, as it does in an atomic between reads
            let mut d = Decoder::from_bits(d.to_bits());
            assert_eq!(d.in_frame(), (1..FRAME_LEN).contains(&cut));
            got.extend(feed(&mut d, &f[cut..]));
            assert_eq!(got, [Event::Targeted(1234, 10)], "cut at {cut}");
        }
    }

    #[test]
    fn plain_signal_bytes_still_work_between_frames() {
        let mut d = Decoder::new();
        let mut bytes = vec![15];
        bytes.extend(frame(7, 9));
        bytes.extend([1, 2]);
        bytes.extend(frame(8, 15));
        bytes.push(64);
        assert_eq!(
            feed(&mut d, &bytes),
            [
                Event::Signal(15),
                Event::Targeted(7, 9),
                Event::Signal(1),
                Event::Signal(2),
                Event::Targeted(8, 15),
                Event::Signal(64),
            ]
        );
    }

    #[test]
    fn garbage_is_dropped() {
        let mut d = Decoder::new();
        // Bytes outside frames and outside 1..=64 (nibble bytes too), and plain 40 (the
        // targeted signal's own number, nothing by itself, as on linuxu).
        assert!(feed(&mut d, &[0, 65, 0x7f, 0xff, 0xc0, 0x93, 0x9f, 40]).is_empty());
        // A wrong check.
        let mut f = frame(3, 9);
        f[11] ^= 1;
        assert!(feed(&mut d, &f).is_empty());
        // A corrupted pid: the check no longer matches.
        let mut f = frame(3, 9);
        f[3] ^= 2;
        assert!(feed(&mut d, &f).is_empty());
        // Well-formed frames with a pid that is not positive or a signal out of range.
        for f in [
            frame(0, 9),
            frame(-1, 9),
            frame(i32::MIN, 9),
            frame(3, 0),
            frame(3, 65),
            frame(3, 0xff),
        ] {
            assert!(feed(&mut d, &f).is_empty(), "{f:x?}");
        }
        // A byte that is neither a nibble byte nor a signal inside a frame ends it.
        let mut f = frame(3, 9).to_vec();
        f.insert(5, 0xa0);
        assert!(feed(&mut d, &f).is_empty());
        // After all that the decoder is back in step.
        assert!(!d.in_frame());
        assert_eq!(feed(&mut d, &[15]), [Event::Signal(15)]);
        assert_eq!(feed(&mut d, &frame(2, 9)), [Event::Targeted(2, 9)]);
    }

    #[test]
    fn a_truncated_frame_is_dropped_and_takes_nothing_with_it() {
        let f = frame(3, 9);
        for cut in 1..FRAME_LEN {
            // Cut short and followed by another frame: the new escape starts afresh.
            let mut d = Decoder::new();
            let mut bytes = f[..cut].to_vec();
            bytes.extend(frame(5, 9));
            assert_eq!(
                feed(&mut d, &bytes),
                [Event::Targeted(5, 9)],
                "cut at {cut}"
            );
            // Cut short and followed by plain signals: they are signals.
            let mut d = Decoder::new();
            let mut bytes = f[..cut].to_vec();
            bytes.extend([15, 2]);
            assert_eq!(
                feed(&mut d, &bytes),
                [Event::Signal(15), Event::Signal(2)],
                "cut at {cut}"
            );
            // Cut short and then nothing: nothing comes of it.
            let mut d = Decoder::new();
            assert!(feed(&mut d, &f[..cut]).is_empty());
            assert!(d.in_frame());
        }
    }

    #[test]
    fn any_byte_sequence_gives_only_well_formed_events() {
        // A cheap deterministic fuzz, bytes drawn mostly from a frame's alphabet so
        // that many frames complete: whatever comes in, events are in range.
        let mut x: u32 = 0x1234_5678;
        let mut d = Decoder::new();
        for _ in 0..400_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let b = match x % 8 {
                0 => (x >> 8) as u8,
                1 => ESC,
                _ => NIBBLE | ((x >> 8) as u8 & 0xf),
            };
            match d.push(b) {
                Event::None => {}
                Event::Signal(s) => assert!((1..=64).contains(&s) && s != 40),
                Event::Targeted(p, s) => assert!(p > 0 && (1..=64).contains(&s)),
            }
        }
    }

    #[test]
    fn pending_keeps_a_few_and_drops_the_rest() {
        let p = Pending::new();
        assert_eq!(p.pop(), None);
        for i in 1..=Pending::CAP as i32 {
            assert!(p.push(i, 9));
        }
        assert!(!p.push(99, 9));
        for i in 1..=Pending::CAP as i32 {
            assert_eq!(p.pop(), Some((i, 9)));
        }
        assert_eq!(p.pop(), None);
        assert!(p.push(i32::MAX, 64));
        assert_eq!(p.pop(), Some((i32::MAX, 64)));
    }
}
