//! What ukport's control line (COM2, [`crate::serial`]) carries, decoded. Pure: the
//! bytes come from outside the VM and are never trusted, so the decoder only ever
//! produces a signal mask and well-formed (pid, signal) pairs, whatever it is fed.
//!
//! The line carries two kinds of message, mixed in any order:
//!
//! - **a plain signal**: one byte 1..=64, a signal for the program (pid 1). Byte 40
//!   ([`uk_plat::TARGETED_SIGNAL`]) is dropped, as a plain host signal 40 is on linuxu.
//! - **a targeted signal**, for one process of the image: seven bytes,
//!   `[ESC, pid (i32, little-endian, 4 bytes), sig, check]` with [`ESC`] = 0x80 and
//!   `check` = the XOR of the six bytes before it. ukport sends it for `ukport kill`
//!   (toolchain/src/run/qemu.rs `targeted_frame`, which must agree with this).
//!
//! Everything else is dropped: other bytes outside a frame, a frame whose check byte is
//! wrong, whose pid is not positive or whose signal is outside 1..=64. A frame cut short
//! swallows the bytes that follow until seven have come (then its check almost surely
//! fails); [`Decoder::reset`] drops a partial frame that waited too long, so that a
//! sender that died mid-frame costs at most that wait.

use core::sync::atomic::{AtomicU64, Ordering};

/// The first byte of a targeted-signal frame (outside the plain signals 1..=64).
pub const ESC: u8 = 0x80;
/// Bytes of a targeted-signal frame, the escape included.
pub const FRAME_LEN: usize = 7;

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

/// The decoder's state, small enough to live in one atomic between reads of the line:
/// bits 0..48 the frame bytes after the escape seen so far, bits 56..64 how many
/// (0 = not inside a frame, else 1 + that count).
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

    /// Drop a partial frame.
    pub fn reset(&mut self) {
        self.0 = 0;
    }

    /// Take one byte from the line.
    pub fn push(&mut self, b: u8) -> Event {
        let state = (self.0 >> 56) as usize;
        if state == 0 {
            return match b {
                ESC => {
                    self.0 = 1 << 56;
                    Event::None
                }
                s @ 1..=64 if usize::from(s) != uk_plat::TARGETED_SIGNAL => {
                    Event::Signal(usize::from(s))
                }
                _ => Event::None,
            };
        }
        let have = state - 1; // frame bytes after the escape so far
        if have + 1 < FRAME_LEN - 1 {
            let data = self.0 & ((1 << 48) - 1);
            self.0 = ((have as u64 + 2) << 56) | data | (u64::from(b) << (8 * have));
            return Event::None;
        }
        // `b` is the check byte.
        let data = self.0.to_le_bytes();
        self.0 = 0;
        let body = [data[0], data[1], data[2], data[3], data[4]];
        let check = body.iter().fold(ESC, |x, &y| x ^ y);
        let pid = i32::from_le_bytes([body[0], body[1], body[2], body[3]]);
        let sig = usize::from(body[4]);
        if check == b && pid > 0 && (1..=64).contains(&sig) {
            Event::Targeted(pid, sig)
        } else {
            Event::None
        }
    }
}

/// The frame for a targeted signal (what ukport writes; here for the tests and as the
/// reference).
pub fn frame(pid: i32, sig: u8) -> [u8; FRAME_LEN] {
    let p = pid.to_le_bytes();
    let mut f = [ESC, p[0], p[1], p[2], p[3], sig, 0];
    f[6] = f[..6].iter().fold(0, |x, &y| x ^ y);
    f
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
        assert_eq!(frame(3, 9), [0x80, 3, 0, 0, 0, 9, 0x80 ^ 3 ^ 9]);
        assert_eq!(feed(&mut d, &frame(3, 9)), [Event::Targeted(3, 9)]);
        assert!(!d.in_frame());
        // Every byte value may appear inside a frame: the escape, signal numbers, 0xff.
        let f = frame(0x40_80_ff_01, 64);
        assert_eq!(feed(&mut d, &f), [Event::Targeted(0x40_80_ff_01, 64)]);
        let f = frame(128, 15);
        assert_eq!(feed(&mut d, &f), [Event::Targeted(128, 15)]);
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
        // Bytes outside frames and outside 1..=64, and plain 40 (the targeted signal's
        // own number, nothing by itself, as on linuxu).
        assert!(feed(&mut d, &[0, 65, 0x7f, 0xff, 0xc0, 40]).is_empty());
        // A wrong check byte.
        let mut f = frame(3, 9);
        f[6] ^= 1;
        assert!(feed(&mut d, &f).is_empty());
        // A corrupted pid: the check no longer matches.
        let mut f = frame(3, 9);
        f[2] = 1;
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
            assert!(feed(&mut d, &f).is_empty(), "{f:?}");
        }
        // After all that the decoder is back in step.
        assert!(!d.in_frame());
        assert_eq!(feed(&mut d, &[15]), [Event::Signal(15)]);
        assert_eq!(feed(&mut d, &frame(2, 9)), [Event::Targeted(2, 9)]);
    }

    #[test]
    fn a_truncated_frame_is_dropped() {
        let f = frame(3, 9);
        // Cut short and followed by another frame: the partial one takes the next
        // bytes as its own and fails its check; the decoder is back in step after.
        let mut d = Decoder::new();
        let mut bytes = f[..4].to_vec();
        bytes.extend(frame(5, 9));
        bytes.extend(frame(6, 9));
        let got = feed(&mut d, &bytes);
        assert!(!got.contains(&Event::Targeted(3, 9)), "{got:?}");
        assert!(got.ends_with(&[Event::Targeted(6, 9)]), "{got:?}");
        // Cut short and then nothing for a while: reset drops it and the next plain
        // signal is a signal again.
        let mut d = Decoder::new();
        assert!(feed(&mut d, &f[..5]).is_empty());
        assert!(d.in_frame());
        d.reset();
        assert_eq!(feed(&mut d, &[15]), [Event::Signal(15)]);
        // Only the escape, then the line goes quiet: nothing comes out of it.
        let mut d = Decoder::new();
        assert!(feed(&mut d, &[ESC]).is_empty());
        d.reset();
        assert!(!d.in_frame());
    }

    #[test]
    fn any_byte_sequence_gives_only_well_formed_events() {
        // A cheap deterministic fuzz: whatever comes in, events are in range.
        let mut x: u32 = 0x1234_5678;
        let mut d = Decoder::new();
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            match d.push((x >> 7) as u8) {
                Event::None => {}
                Event::Signal(s) => assert!((1..=64).contains(&s) && s != 40),
                Event::Targeted(p, s) => assert!(p > 0 && (1..=64).contains(&s)),
            }
        }
    }

    #[test]
    fn pending_keeps_a_few_in_order_and_drops_the_rest() {
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
