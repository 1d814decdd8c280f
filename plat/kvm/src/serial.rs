//! The 16550 UART at COM1 (I/O port 0x3f8): the kvm console. Polled: output waits for
//! the transmit holding register, input is read when the line-status register says a
//! byte is there. Interrupts stay off (the idle loop wakes on its timer instead).
#![cfg(not(test))]

use uk_arch::ring0::{inb, outb};

const COM1: u16 = 0x3f8;
const DATA: u16 = COM1;
const IER: u16 = COM1 + 1;
const FCR: u16 = COM1 + 2;
const LCR: u16 = COM1 + 3;
const MCR: u16 = COM1 + 4;
const LSR: u16 = COM1 + 5;
const LSR_DATA_READY: u8 = 1;
const LSR_THR_EMPTY: u8 = 1 << 5;

/// Program 115200 8N1 with FIFOs.
pub fn init() {
    // SAFETY: COM1's registers; ring 0. Writes to an absent UART are ignored.
    unsafe {
        outb(IER, 0);
        outb(LCR, 0x80); // divisor latch
        outb(DATA, 1); // 115200 baud
        outb(IER, 0);
        outb(LCR, 0x03); // 8 bits, no parity, one stop bit
        outb(FCR, 0xc7); // enable and clear FIFOs
        outb(MCR, 0x03); // DTR, RTS
    }
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
    // SAFETY: COM1's line status; ring 0.
    let lsr = unsafe { inb(LSR) };
    if lsr != 0xff && lsr & LSR_DATA_READY != 0 {
        // SAFETY: COM1's data register; ring 0.
        Some(unsafe { inb(DATA) })
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
