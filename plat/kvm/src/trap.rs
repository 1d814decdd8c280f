//! Interrupts and exceptions: the IDT, the TSS with its interrupt stacks, 256 entry
//! stubs and the fault report.
//!
//! Every vector runs on an IST stack, never on the interrupted stack: the prebuilt
//! `core` and the C program assume a 128-byte red zone below RSP that an interrupt frame
//! pushed in place would destroy. IST1: exceptions; IST2: double fault; IST3: NMI;
//! IST4: machine check; IST5: device interrupts (taken only inside `sti; hlt`, with
//! IF clear in the handler, so it never nests).
//!
//! Device interrupts do no kernel work: the handler acknowledges the LAPIC and returns,
//! which ends the `hlt` in `Platform::wait`, or, when it stopped program code, hands it
//! to the kernel's preemption work on the program thread's own stack (preempt.rs); the
//! kernel looks at the devices outside interrupt context (its locks may be held by the
//! interrupted code). An exception is fatal: it prints a report on the serial console
//! and stops the VM with a non-zero status.
#![cfg(not(test))]

use core::arch::global_asm;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

use uk_arch::desc::{self, TablePtr, Tss};

use crate::serial::Raw;
use crate::start::{stacks, GUARD, IST_COUNT};

/// The vector of the LAPIC timer.
pub const TIMER_VECTOR: u8 = 0x40;
/// The LAPIC spurious vector.
pub const SPURIOUS_VECTOR: u8 = 0xff;
/// The control line's (COM2) interrupt.
pub const CTL_VECTOR: u8 = 0x42;

pub use crate::frame::TrapFrame;

// 256 stubs, 16 bytes apart: push a zero error code where the CPU pushes none, push the
// vector, go to the common path, which saves the general registers and the SSE state
// (Rust code in the handler may use XMM registers), calls `uk_kvm_trap`, restores.
global_asm!(
    ".section .text.uk_kvm_isr, \"ax\"",
    ".balign 16",
    ".global uk_kvm_isr_table",
    "uk_kvm_isr_table:",
    ".set uk_kvm_v, 0",
    ".rept 256",
    ".balign 16",
    ".if (uk_kvm_v > 31) || ((({mask} >> (uk_kvm_v & 31)) & 1) == 0)",
    "pushq $0",
    ".endif",
    "pushq $uk_kvm_v",
    "jmp uk_kvm_isr_common",
    ".set uk_kvm_v, uk_kvm_v + 1",
    ".endr",
    "uk_kvm_isr_common:",
    "cld",
    "pushq %rax",
    "pushq %rbx",
    "pushq %rcx",
    "pushq %rdx",
    "pushq %rsi",
    "pushq %rdi",
    "pushq %rbp",
    "pushq %r8",
    "pushq %r9",
    "pushq %r10",
    "pushq %r11",
    "pushq %r12",
    "pushq %r13",
    "pushq %r14",
    "pushq %r15",
    "movq %rsp, %rdi",
    "movq %rsp, %rbx",
    "subq $512, %rsp",
    "andq $-64, %rsp",
    "fxsave64 (%rsp)",
    "call uk_kvm_trap",
    "fxrstor64 (%rsp)",
    "movq %rbx, %rsp",
    "popq %r15",
    "popq %r14",
    "popq %r13",
    "popq %r12",
    "popq %r11",
    "popq %r10",
    "popq %r9",
    "popq %r8",
    "popq %rbp",
    "popq %rdi",
    "popq %rsi",
    "popq %rdx",
    "popq %rcx",
    "popq %rbx",
    "popq %rax",
    "addq $16, %rsp",
    "iretq",
    ".text",
    mask = const desc::ERROR_CODE_VECTORS,
    options(att_syntax)
);

extern "C" {
    static uk_kvm_isr_table: u8;
    static mut uk_kvm_gdt: [u64; 5];
    static uk_kvm_gdt_ptr: u8;
}

#[repr(C, align(16))]
struct Idt([[u64; 2]; 256]);

static mut IDT: Idt = Idt([[0; 2]; 256]);
static mut TSS: Tss = Tss::new();

/// Install GDT (with the TSS), TSS and IDT.
pub fn init() {
    let mut tops = [0u64; IST_COUNT];
    for (i, (_, top)) in stacks().skip(1).enumerate() {
        tops[i] = top as u64;
    }
    // SAFETY: boot path, single CPU, interrupts off: nothing else touches these tables.
    unsafe {
        let tss = &mut *core::ptr::addr_of_mut!(TSS);
        let mut ist = [0u64; 7];
        ist[..IST_COUNT].copy_from_slice(&tops);
        tss.ist = ist;
        let [lo, hi] = desc::tss_descriptor(core::ptr::addr_of!(TSS) as u64);
        let gdt = &mut *core::ptr::addr_of_mut!(uk_kvm_gdt);
        gdt[3] = lo;
        gdt[4] = hi;
        desc::lgdt(&*(core::ptr::addr_of!(uk_kvm_gdt_ptr) as *const TablePtr));
        desc::ltr(0x18);

        let base = core::ptr::addr_of!(uk_kvm_isr_table) as u64;
        let idt = &mut *core::ptr::addr_of_mut!(IDT);
        for (v, gate) in idt.0.iter_mut().enumerate() {
            let ist = match v {
                2 => 3,
                8 => 2,
                18 => 4,
                0..=31 => 1,
                _ => 5,
            };
            *gate = desc::interrupt_gate(base + 16 * v as u64, 0x08, ist);
        }
        let p = TablePtr {
            limit: (core::mem::size_of::<Idt>() - 1) as u16,
            base: core::ptr::addr_of!(IDT) as u64,
        };
        desc::lidt(&p);
    }
}

/// Mask the legacy 8259 PICs after moving them off the exception vectors (a BIOS
/// leaves them at 8-15, where a stray timer tick would look like a double fault).
pub fn disable_pic() {
    use uk_arch::ring0::outb;
    // SAFETY: the PIC command/data ports; ring 0. Absent PICs ignore the writes.
    unsafe {
        outb(0x20, 0x11);
        outb(0xa0, 0x11);
        outb(0x21, 0x20);
        outb(0xa1, 0x28);
        outb(0x21, 4);
        outb(0xa1, 2);
        outb(0x21, 1);
        outb(0xa1, 1);
        outb(0x21, 0xff);
        outb(0xa1, 0xff);
    }
}

static IN_FAULT: AtomicBool = AtomicBool::new(false);

#[no_mangle]
extern "C" fn uk_kvm_trap(f: &mut TrapFrame) {
    let v = f.vector;
    if v >= 32 {
        if v != SPURIOUS_VECTOR as u64 && !(0x20..0x30).contains(&v) {
            crate::lapic_eoi();
        }
        let preempt = match v as u8 {
            TIMER_VECTOR => crate::preempt_tick(),
            CTL_VECTOR => {
                crate::ctl_ready();
                true
            }
            crate::virtio::VECTOR => true,
            _ => false,
        };
        crate::preempt::on_interrupt(f, preempt);
        return;
    }
    // A write to a present page: perhaps one the kernel withholds for copy-on-write
    // (error code: bit 0 present, bit 1 write); then the store is simply repeated.
    if v == 14 && f.error & 3 == 3 && uk_plat::cpu::write_fault(uk_arch::ring0::cr2() as usize) {
        return;
    }
    if end_process(f) {
        return;
    }
    fault(f)
}

/// The stack the kernel ends a faulting process on (64 KiB). One CPU: the next fault of
/// program code can only come once the thread that used it has been switched away from
/// for good.
static mut EXIT_STACK: [u128; 4096] = [0; 4096];

extern "C" fn exit_process(sig: usize) -> ! {
    uk_plat::cpu::program_fault(sig)
}

/// A page fault or general protection fault (SIGSEGV), an alignment check (SIGBUS), a
/// divide error (SIGFPE) or an invalid opcode (SIGILL) of program code in a process
/// other than the image's first ends that process only
/// (docs/processes.md): report it in one line and return from the trap into the
/// kernel's `program_fault` on the exit stack. False for any other fault.
fn end_process(f: &mut TrapFrame) -> bool {
    let (sig, name) = match f.vector {
        13 | 14 => (uk_abi::signal::SIGSEGV, "SIGSEGV"),
        17 => (uk_abi::signal::SIGBUS, "SIGBUS"),
        0 => (uk_abi::signal::SIGFPE, "SIGFPE"),
        6 => (uk_abi::signal::SIGILL, "SIGILL"),
        _ => return false,
    };
    if !uk_plat::cpu::fault_ends_process() {
        return false;
    }
    let _ = writeln!(
        Raw,
        "ukit: process killed by {}: {} (vector {}) at rip {:#x}, address {:#x}",
        name,
        desc::exception_name(f.vector),
        f.vector,
        f.rip,
        uk_arch::ring0::cr2()
    );
    let top =
        (core::ptr::addr_of_mut!(EXIT_STACK) as usize + core::mem::size_of::<[u128; 4096]>()) & !15;
    f.rip = exit_process as *const () as usize as u64;
    f.rsp = (top - 8) as u64;
    f.rdi = sig as u64;
    // The direction flag clear, as the ABI wants for the kernel's code.
    f.rflags &= !(1 << 10);
    true
}

/// Print the report of an exception and stop.
fn fault(f: &TrapFrame) -> ! {
    let mut out = Raw;
    if IN_FAULT.swap(true, Ordering::SeqCst) {
        let _ = write!(
            out,
            "\nukit: fault while reporting a fault: vector {} at rip {:#x}\n",
            f.vector, f.rip
        );
        crate::exit_now(crate::FAULT_STATUS);
    }
    let cr2 = uk_arch::ring0::cr2();
    let _ = write!(
        out,
        "\nukit: fatal exception: {} (vector {}), error code {:#x}\n",
        desc::exception_name(f.vector),
        f.vector,
        f.error
    );
    if f.vector == 14 {
        let e = f.error;
        let _ = writeln!(
            out,
            "ukit:   page fault at address {cr2:#018x}: {} {}{}{}",
            if e & 1 != 0 {
                "protection violation on"
            } else {
                "not-present page on"
            },
            if e & 16 != 0 {
                "instruction fetch"
            } else if e & 2 != 0 {
                "write"
            } else {
                "read"
            },
            if cr2 < 4096 { " (NULL pointer)" } else { "" },
            guard_hit(cr2).unwrap_or_default(),
        );
        if crate::mm::regions()
            .iter()
            .any(|r| (r.start..r.end()).contains(&(cr2 as usize)))
        {
            let _ = writeln!(
                out,
                "ukit:   page fault at {cr2:#x}: {}",
                crate::mm::fault_kind(e, cr2, f.rsp)
            );
        }
    }
    let _ = writeln!(
        out,
        "ukit:   rip {:#018x}  rsp {:#018x}  rflags {:#010x}  cr2 {:#018x}",
        f.rip, f.rsp, f.rflags, cr2
    );
    let regs = [
        ("rax", f.rax),
        ("rbx", f.rbx),
        ("rcx", f.rcx),
        ("rdx", f.rdx),
        ("rsi", f.rsi),
        ("rdi", f.rdi),
        ("rbp", f.rbp),
        ("r8", f.r8),
        ("r9", f.r9),
        ("r10", f.r10),
        ("r11", f.r11),
        ("r12", f.r12),
        ("r13", f.r13),
        ("r14", f.r14),
        ("r15", f.r15),
    ];
    for row in regs.chunks(4) {
        let _ = write!(out, "ukit:  ");
        for (n, v) in row {
            let _ = write!(out, " {n:>3} {v:#018x}");
        }
        let _ = writeln!(out);
    }
    backtrace(&mut out, f.rip, f.rbp, f.rsp);
    crate::exit_now(crate::FAULT_STATUS)
}

/// Name the guard page an address falls in, for stack overflows.
fn guard_hit(addr: u64) -> Option<&'static str> {
    let a = addr as usize;
    for (i, (bottom, _)) in stacks().enumerate() {
        if a < bottom && a >= bottom - GUARD {
            return Some(if i == 0 {
                " (kernel boot stack overflow)"
            } else {
                " (interrupt stack overflow)"
            });
        }
    }
    let pool = crate::mm::pool_guard();
    if a >= pool && a < pool + GUARD {
        return Some(" (stack overflow: below all allocated memory)");
    }
    None
}

/// Print return addresses: by walking frame pointers while they look sane, else by
/// scanning the stack for words that point into .text (marked `?`: a scan finds stale
/// return addresses too). `ukport run` turns the `ukit: bt` lines into function names and
/// source lines with addr2line.
pub fn backtrace(out: &mut impl Write, rip: u64, rbp: u64, rsp: u64) {
    let (ts, te) = crate::mm::text_range();
    let in_text = |a: u64| (ts as u64..te as u64).contains(&a);
    let mapped = |a: u64| crate::mm::is_ram(a as usize, 16);
    let _ = writeln!(out, "ukit: backtrace (ukport run symbolises these lines):");
    let _ = writeln!(out, "ukit: bt #0 {rip:#x}");
    let mut n = 1;
    let mut fp = rbp;
    let mut prev = rsp;
    while n < 32 && fp >= prev && fp & 7 == 0 && mapped(fp) {
        // SAFETY: `fp` is 8-aligned and inside RAM the kernel mapped.
        let ret = unsafe { uk_arch::ring0::peek_u64(fp as usize + 8) };
        if !in_text(ret) {
            break;
        }
        let _ = writeln!(out, "ukit: bt #{n} {:#x}", ret - 1);
        n += 1;
        prev = fp;
        // SAFETY: as above.
        fp = unsafe { uk_arch::ring0::peek_u64(fp as usize) };
    }
    if n == 1 {
        // No frame pointers (the default for optimised C and Rust): scan.
        let mut a = rsp & !7;
        // RSP inside a guard page (a stack overflow; musl's guard is two pages, and a
        // big frame can jump into the lower one): the frames start above it.
        while !mapped(a) && a < rsp.saturating_add(16 * 4096) {
            a = (a | 4095) + 1;
        }
        let top = a.saturating_add(8192);
        let mut found = 0;
        while found < 24 && a < top && mapped(a) {
            // SAFETY: `a` is 8-aligned and inside RAM the kernel mapped.
            let w = unsafe { uk_arch::ring0::peek_u64(a as usize) };
            if in_text(w) {
                let _ = writeln!(out, "ukit: bt ?{n} {:#x}", w - 1);
                n += 1;
                found += 1;
            }
            a += 8;
        }
    }
    let _ = writeln!(out, "ukit: end of backtrace");
}
