//! x86_64 architecture support for ukit.
//!
//! Everything here is platform-neutral: it runs the same in ring 3 (linuxu) and ring 0
//! (kvm). Privileged pieces (page tables, IDT, MSRs) come with the kvm platform.
#![cfg_attr(not(test), no_std)]

pub mod context;
pub mod cpu;
pub mod fpu;
pub mod resume;
pub mod sigstack;

pub use context::{call_on_stack, switch, switch_via, Context};
pub use cpu::{features, Features};
pub use resume::Resume;

/// Read the time-stamp counter.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no memory effects; it is available on every x86_64 CPU (CR4.TSD
    // is clear on Linux and on our kvm platform).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Hint to the CPU that we are spinning.
#[inline]
pub fn spin_hint() {
    core::hint::spin_loop();
}

// Ring-0 pieces used by the kvm platform only (they fault in ring 3).
pub mod desc;
pub mod lapic;
pub mod paging;
pub mod ring0;
