//! Thread state. One thread for now (the scheduler brings more); what musl tells the
//! kernel about its thread (TLS base, clear-child-tid address) is kept here.

use core::sync::atomic::{AtomicUsize, Ordering};

/// The main thread's id (equal to the pid).
pub const MAIN_TID: i32 = 1;

static TLS_BASE: AtomicUsize = AtomicUsize::new(0);
static CLEAR_CHILD_TID: AtomicUsize = AtomicUsize::new(0);

/// The running thread's id.
pub fn current_tid() -> i32 {
    MAIN_TID
}

/// Number of threads (for sysinfo's `procs`).
pub fn count() -> usize {
    1
}

/// set_tid_address(2).
pub fn set_clear_child_tid(addr: usize) -> i32 {
    CLEAR_CHILD_TID.store(addr, Ordering::Relaxed);
    current_tid()
}

/// arch_prctl(ARCH_SET_FS): remember and load the thread pointer.
pub fn set_fs(base: usize) {
    TLS_BASE.store(base, Ordering::Relaxed);
    uk_plat::get().set_tls_base(base);
}

/// arch_prctl(ARCH_GET_FS).
pub fn fs() -> usize {
    TLS_BASE.load(Ordering::Relaxed)
}
