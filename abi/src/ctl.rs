//! ukport's control line to a VM (COM2 on kvm): the frame that carries a signal for one
//! process of the image, as ukport writes it (toolchain/src/run/qemu.rs) and the kernel
//! decodes it (plat/kvm/src/ctl.rs). Beside it the line carries plain signals, one byte
//! 1..=64 each; no byte of a frame is in that range, so the two never mix up.
//!
//! A frame: [`ESC`], then six bytes — the pid (i32, little-endian), the signal, and a
//! check byte (the XOR of those five) — each sent as two *nibble bytes*
//! `NIBBLE | nibble`, low nibble first: [`FRAME_LEN`] bytes in all.

/// The host signal that carries a signal for one process of the image rather than for
/// its first: queued (`sigqueue`) with the value `pid << 8 | sig`, to a linuxu image or
/// to a running `ukport run`, which passes it on (to a VM as a frame, below).
pub const TARGETED_SIGNAL: usize = 40;

/// The first byte of a targeted-signal frame (outside the plain signals 1..=64).
pub const ESC: u8 = 0x80;
/// The high nibble of the bytes that carry a frame's contents.
pub const NIBBLE: u8 = 0x90;
/// Bytes of a targeted-signal frame: the escape and six bytes as two nibbles each.
pub const FRAME_LEN: usize = 13;

/// The check byte of a frame's first five bytes.
pub fn check(body: &[u8]) -> u8 {
    body.iter().fold(0, |x, &y| x ^ y)
}

/// The frame for signal `sig` to process `pid`.
pub fn frame(pid: i32, sig: u8) -> [u8; FRAME_LEN] {
    let p = pid.to_le_bytes();
    let body = [
        p[0],
        p[1],
        p[2],
        p[3],
        sig,
        check(&[p[0], p[1], p[2], p[3], sig]),
    ];
    let mut f = [ESC; FRAME_LEN];
    for (i, b) in body.into_iter().enumerate() {
        f[1 + 2 * i] = NIBBLE | (b & 0xf);
        f[2 + 2 * i] = NIBBLE | (b >> 4);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_hold_no_plain_signal_byte() {
        // pid 3, SIGKILL.
        assert_eq!(
            frame(3, 9),
            [0x80, 0x93, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x99, 0x90, 0x9a, 0x90]
        );
        let f = frame(0x12_3456, 15);
        assert_eq!(f[1..9], [0x96, 0x95, 0x94, 0x93, 0x92, 0x91, 0x90, 0x90]);
        assert!(f.iter().all(|b| !(1..=64).contains(b)));
    }
}
