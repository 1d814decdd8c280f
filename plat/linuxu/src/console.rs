//! The host terminal's settings: a program that changes its console's termios (a REPL
//! going to raw mode with tcsetattr) changes the host terminal's, through the host's
//! TCSETS; the settings boot found are put back when the image ends, however it ends
//! through the platform (exit, a fatal signal's default action, a fault, a kernel
//! panic: every way out goes through `host::exit_group`), so the user's shell never
//! inherits a raw terminal. SIGKILL from the host is the exception, as for any Linux
//! program.

use crate::host::{self, nr};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use uk_abi::ioctl::{Termios, TCGETS, TCSETS};

/// `struct termios` as words, for storing it in atomics.
type Words = [u32; 9];

/// The terminal settings before the program changed any, and the console stream they
/// were read from (`NONE`: nothing changed yet).
static SAVED: [AtomicU32; 9] = [const { AtomicU32::new(0) }; 9];
static SAVED_FD: AtomicUsize = AtomicUsize::new(NONE);
const NONE: usize = usize::MAX;

fn to_words(t: Termios) -> Words {
    // SAFETY: Termios is a repr(C) struct of plain integers, 36 bytes like [u32; 9]
    // (transmute checks the sizes); every bit pattern is valid for both.
    unsafe { core::mem::transmute::<Termios, Words>(t) }
}

fn from_words(w: Words) -> Termios {
    // SAFETY: as in `to_words`.
    unsafe { core::mem::transmute::<Words, Termios>(w) }
}

/// Before the first change: keep the settings of console stream `fd`'s terminal (the
/// streams of a terminal session share one).
pub fn remember_host_termios(fd: usize) {
    if SAVED_FD.load(Ordering::Acquire) != NONE {
        return;
    }
    let mut t = Termios::default();
    let r = host::call(
        nr::SYS_IOCTL,
        [fd, TCGETS as usize, &mut t as *mut _ as usize, 0, 0, 0],
    );
    if r == 0 {
        for (slot, w) in SAVED.iter().zip(to_words(t)) {
            slot.store(w, Ordering::Relaxed);
        }
        SAVED_FD.store(fd, Ordering::Release);
    }
}

/// At exit: put back what [`remember_host_termios`] kept, if a program changed the
/// settings.
pub fn restore_host_termios() {
    let fd = SAVED_FD.swap(NONE, Ordering::AcqRel);
    if fd == NONE {
        return;
    }
    let mut w: Words = [0; 9];
    for (v, slot) in w.iter_mut().zip(SAVED.iter()) {
        *v = slot.load(Ordering::Relaxed);
    }
    let t = from_words(w);
    host::call(
        nr::SYS_IOCTL,
        [fd, TCSETS as usize, &t as *const _ as usize, 0, 0, 0],
    );
}
