//! Privileged instructions for ring 0 (the kvm platform): I/O ports, MSRs, control
//! registers, interrupt flag, halt. Each wrapper is `unsafe` because the instruction
//! faults in ring 3 (linuxu) and can change how every later instruction behaves.

use core::arch::asm;

/// Write a byte to an I/O port.
///
/// # Safety
/// Ring 0 only; the port must belong to a device the caller drives.
#[inline]
pub unsafe fn outb(port: u16, v: u8) {
    // SAFETY: the caller guarantees ring 0 and the port's meaning.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") v, options(nomem, nostack, preserves_flags))
    };
}

/// Read a byte from an I/O port.
///
/// # Safety
/// As for [`outb`].
#[inline]
pub unsafe fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: the caller guarantees ring 0 and the port's meaning.
    unsafe {
        asm!("in al, dx", in("dx") port, out("al") v, options(nomem, nostack, preserves_flags))
    };
    v
}

/// Write a 32-bit value to an I/O port.
///
/// # Safety
/// As for [`outb`].
#[inline]
pub unsafe fn outl(port: u16, v: u32) {
    // SAFETY: the caller guarantees ring 0 and the port's meaning.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") v, options(nomem, nostack, preserves_flags))
    };
}

/// Read a model-specific register.
///
/// # Safety
/// Ring 0; the MSR must exist on this CPU (else #GP).
#[inline]
pub unsafe fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: the caller guarantees the MSR exists.
    unsafe {
        asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    (hi as u64) << 32 | lo as u64
}

/// Write a model-specific register.
///
/// # Safety
/// Ring 0; the MSR must exist and the value must be valid for it.
#[inline]
pub unsafe fn wrmsr(msr: u32, v: u64) {
    // SAFETY: the caller guarantees the MSR and value.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") v as u32, in("edx") (v >> 32) as u32,
             options(nostack, preserves_flags))
    };
}

/// Well-known MSR numbers.
pub mod msr {
    pub const APIC_BASE: u32 = 0x1b;
    pub const TSC_DEADLINE: u32 = 0x6e0;
    pub const EFER: u32 = 0xc000_0080;
    pub const FS_BASE: u32 = 0xc000_0100;
    pub const GS_BASE: u32 = 0xc000_0101;
}

/// Read CR0.
#[inline]
pub fn cr0() -> u64 {
    let v: u64;
    // SAFETY: reading CR0 has no side effects (ring 0; kvm only).
    unsafe { asm!("mov {}, cr0", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Write CR0.
///
/// # Safety
/// Ring 0; the new value must keep paging and protected mode consistent.
#[inline]
pub unsafe fn set_cr0(v: u64) {
    // SAFETY: the caller guarantees a consistent value.
    unsafe { asm!("mov cr0, {}", in(reg) v, options(nostack, preserves_flags)) };
}

/// Read CR2 (the faulting address of the last page fault).
#[inline]
pub fn cr2() -> u64 {
    let v: u64;
    // SAFETY: reading CR2 has no side effects (ring 0; kvm only).
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Read CR3 (the page-table root).
#[inline]
pub fn cr3() -> u64 {
    let v: u64;
    // SAFETY: reading CR3 has no side effects (ring 0; kvm only).
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Load CR3: switch page tables (flushes non-global TLB entries).
///
/// # Safety
/// Ring 0; `v` must be the physical address of a page-table root that maps the running
/// code, its stack and everything the caller touches next.
#[inline]
pub unsafe fn set_cr3(v: u64) {
    // SAFETY: the caller guarantees the new tables map what runs next.
    unsafe { asm!("mov cr3, {}", in(reg) v, options(nostack, preserves_flags)) };
}

/// Drop the TLB entries (of any page size) that translate `addr`, on this CPU.
///
/// # Safety
/// Ring 0 (kvm only); `invlpg` itself cannot fault on any address.
#[inline]
pub unsafe fn invlpg(addr: u64) {
    // SAFETY: the caller guarantees ring 0.
    unsafe { asm!("invlpg [{}]", in(reg) addr, options(nostack, preserves_flags)) };
}

/// Read CR4.
#[inline]
pub fn cr4() -> u64 {
    let v: u64;
    // SAFETY: reading CR4 has no side effects (ring 0; kvm only).
    unsafe { asm!("mov {}, cr4", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Write CR4.
///
/// # Safety
/// Ring 0; only set bits the CPU supports (else #GP).
#[inline]
pub unsafe fn set_cr4(v: u64) {
    // SAFETY: the caller guarantees the bits are supported.
    unsafe { asm!("mov cr4, {}", in(reg) v, options(nostack, preserves_flags)) };
}

/// CR0 and CR4 bits ukit uses.
pub mod cr {
    pub const CR0_MP: u64 = 1 << 1;
    pub const CR0_EM: u64 = 1 << 2;
    pub const CR0_WP: u64 = 1 << 16;
    pub const CR4_OSFXSR: u64 = 1 << 9;
    pub const CR4_OSXMMEXCPT: u64 = 1 << 10;
    pub const CR4_FSGSBASE: u64 = 1 << 16;
    pub const CR4_OSXSAVE: u64 = 1 << 18;
}

/// Enable interrupts and halt until one arrives, atomically: `sti` delays interrupt
/// delivery by one instruction, so an interrupt pending at `sti` wakes the `hlt` instead
/// of being taken before it. Interrupts are disabled again on return.
///
/// # Safety
/// Ring 0, with an IDT whose handlers for every enabled source return normally.
#[inline]
pub unsafe fn sti_hlt_cli() {
    // SAFETY: the caller guarantees the IDT is ready.
    unsafe { asm!("sti", "hlt", "cli", options(nomem, nostack)) };
}

/// Enable interrupts and halt until one arrives, atomically (see [`sti_hlt_cli`]);
/// interrupts stay enabled on return.
///
/// # Safety
/// Ring 0, with an IDT whose handlers for every enabled source return normally.
#[inline]
pub unsafe fn sti_hlt() {
    // SAFETY: the caller guarantees the IDT is ready.
    unsafe { asm!("sti", "hlt", options(nomem, nostack)) };
}

/// Enable interrupts.
///
/// # Safety
/// Ring 0, with an IDT whose handlers for every enabled source return normally.
#[inline]
pub unsafe fn sti() {
    // SAFETY: ring 0 and a ready IDT (caller).
    unsafe { asm!("sti", options(nomem, nostack)) };
}

/// Disable interrupts.
///
/// # Safety
/// Ring 0.
#[inline]
pub unsafe fn cli() {
    // SAFETY: ring 0 (caller).
    unsafe { asm!("cli", options(nomem, nostack)) };
}

/// Stop this CPU for good (interrupts off, halt in a loop).
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: ring 0 on kvm; with IF clear only NMI/SMI wake the CPU, and we halt again.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

/// Read the 8-byte value at `addr` if it is 8-aligned (no check of the mapping: the
/// caller keeps `addr` inside memory it knows is mapped).
///
/// # Safety
/// `addr` must be mapped and readable.
#[inline]
pub unsafe fn peek_u64(addr: usize) -> u64 {
    // SAFETY: the caller guarantees the address is mapped.
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}
