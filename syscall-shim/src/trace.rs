//! strace-like tracing of system calls (boot option `trace`, config `syscall.trace`).
//! This first version prints names and raw arguments; decoding per call comes with
//! the tracer issue.

use core::sync::atomic::{AtomicBool, Ordering};

static ON: AtomicBool = AtomicBool::new(false);

pub fn set(on: bool) {
    ON.store(on, Ordering::Relaxed);
}

#[inline]
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Print `name(a0, a1, ...) = ret` on the kernel log.
pub fn print(n: usize, a: &crate::Args, ret: isize) {
    let name = crate::names::name(n).unwrap_or("?");
    if (-4095..0).contains(&ret) {
        let e = uk_errno::Errno(-ret as i32);
        uk_log::log(
            uk_log::Level::Error,
            format_args!(
                "trace: {name}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x}) = -1 {:?}",
                a[0], a[1], a[2], a[3], a[4], a[5], e
            ),
        );
    } else {
        uk_log::log(
            uk_log::Level::Error,
            format_args!(
                "trace: {name}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x}) = {ret:#x}",
                a[0], a[1], a[2], a[3], a[4], a[5]
            ),
        );
    }
}
