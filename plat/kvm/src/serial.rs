//! The 16550 UART at COM1 (I/O port 0x3f8): the kvm console. Polled: output waits for
//! the transmit holding register, input is read when the line-status register says a
//! byte is there. Its interrupts stay off (the idle loop wakes on its timer instead).
//!
//! A second UART at COM2 (0x2f8), when the VM has one, is ukport's control line: a
//! byte 1..=64 is a signal for the program (`ukport run --plat kvm` sends SIGTERM
//! there, so a server shuts down through its own handler), and a short frame carries a
//! signal for one process of the image (`ukport kill`; the format and its checks are
//! in [`crate::ctl`]). Its "data received"
//! interrupt is wired ([`enable_ctl_irq`]), so a signal reaches even a program that
//! computes without system calls (docs/runtime.md, "Preemption").
#![cfg(not(test))]

use core::sync::atomic::{AtomicU64, Ordering};

use uk_arch::ring0::{inb, outb};

use crate::ctl::{Decoder, Event};

const COM1: u16 = 0x3f8;
const DATA: u16 = COM1;
const LSR: u16 = COM1 + 5;
const LSR_DATA_READY: u8 = 1;
const LSR_THR_EMPTY: u8 = 1 << 5;

const COM2: u16 = 0x2f8;

/// Program a UART at `base` for 115200 8N1 with FIFOs.
fn setup(base: u16) {
    // SAFETY: the UART's registers; ring 0. Writes to an absent UART are ignored.
    unsafe {
        outb(base + 1, 0); // IER
        outb(base + 3, 0x80); // LCR: divisor latch
        outb(base, 1); // 115200 baud
        outb(base + 1, 0);
        outb(base + 3, 0x03); // 8 bits, no parity, one stop bit
        outb(base + 2, 0xc7); // FCR: enable and clear FIFOs
        outb(base + 4, 0x03); // MCR: DTR, RTS
    }
}

/// Program COM1, and COM2 when present.
pub fn init() {
    setup(COM1);
    // SAFETY: COM2's line status; an absent UART reads 0xff.
    if unsafe { inb(COM2 + 5) } != 0xff {
        setup(COM2);
        CTL.store(true, core::sync::atomic::Ordering::Relaxed);
    }
}

/// COM2 is there: ukport's control line.
static CTL: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// True when the VM has the control line (COM2).
pub fn has_ctl() -> bool {
    CTL.load(core::sync::atomic::Ordering::Relaxed)
}

/// COM2's interrupt line (ISA IRQ 3).
pub const CTL_IRQ: u32 = 3;

/// Have COM2 raise its interrupt when a byte arrives (IER: data received; MCR: OUT2,
/// which gates the interrupt line on PC UARTs).
pub fn enable_ctl_irq() {
    if has_ctl() {
        // SAFETY: COM2's registers; ring 0.
        unsafe {
            outb(COM2 + 1, 0x01);
            outb(COM2 + 4, 0x0b);
        }
    }
}

/// The control line's decoder between reads (a frame may arrive in pieces: COM2's
/// FIFO holds 16 bytes).
static CTL_DECODER: AtomicU64 = AtomicU64::new(0);
/// Targeted signals decoded from the line, for [`take_targeted`].
static CTL_TARGETED: crate::ctl::Pending = crate::ctl::Pending::new();

/// The signals waiting on the control line, as a mask (bit n-1 = signal n). Targeted
/// signals ([`crate::ctl`]) are kept for [`take_targeted`] and show as bit
/// [`uk_plat::TARGETED_SIGNAL`]-1; bytes that are neither are dropped.
pub fn take_ctl_signals() -> u64 {
    if !has_ctl() {
        return 0;
    }
    let mut d = Decoder::from_bits(CTL_DECODER.load(Ordering::Relaxed));
    let mut mask = 0u64;
    for _ in 0..64 {
        let Some(b) = read_at(COM2) else { break };
        match d.push(b) {
            Event::None => {}
            Event::Signal(s) => mask |= 1 << (s - 1),
            Event::Targeted(pid, sig) => {
                // A full queue drops it, as a flood of host signals would be.
                if CTL_TARGETED.push(pid, sig) {
                    mask |= 1 << (uk_plat::TARGETED_SIGNAL - 1);
                }
            }
        }
    }
    CTL_DECODER.store(d.to_bits(), Ordering::Relaxed);
    mask
}

/// A targeted signal that came over the control line, taken: (pid, signal).
pub fn take_targeted() -> Option<(i32, usize)> {
    CTL_TARGETED.pop()
}

/// Send bytes, waiting for room (bounded, so a missing UART cannot hang the kernel).
pub fn write(buf: &[u8]) {
    for &b in buf {
        for _ in 0..100_000 {
            // SAFETY: reading COM1's line status; ring 0.
            if unsafe { inb(LSR) } & LSR_THR_EMPTY != 0 {
                break;
            }
            core::hint::spin_loop();
        }
        // SAFETY: COM1's data register; ring 0.
        unsafe { outb(DATA, b) };
    }
}

/// One received byte, if any. An absent UART reads 0xff everywhere, so "data ready"
/// with all line-status bits set means "no UART".
pub fn read() -> Option<u8> {
    read_at(COM1)
}

fn read_at(base: u16) -> Option<u8> {
    // SAFETY: the UART's line status; ring 0.
    let lsr = unsafe { inb(base + 5) };
    if lsr != 0xff && lsr & LSR_DATA_READY != 0 {
        // SAFETY: the UART's data register; ring 0.
        Some(unsafe { inb(base) })
    } else {
        None
    }
}

/// A `core::fmt::Write` sink for reports written straight to the UART (fault reports:
/// no locks, no allocation).
pub struct Raw;

impl core::fmt::Write for Raw {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        write(s.as_bytes());
        Ok(())
    }
}
