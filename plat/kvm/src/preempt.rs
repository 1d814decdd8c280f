//! Preemption on kvm: the LAPIC timer (and the control line's and devices' interrupts)
//! stopping program code (docs/runtime.md, "Preemption").
//!
//! Interrupts are enabled once boot is done, in program and kernel code alike; every
//! handler runs on an IST stack (trap.rs) and does no kernel work. When one finds
//! **kernel code** it only asks for the work at the kernel's exit (`uk_plat::cpu`).
//! When it finds **program code** it moves the interrupted context onto the thread's
//! own stack, below the 128-byte red zone ([`redirect`]): the general registers and
//! the `iretq` frame, with room for the FPU state beneath. The handler's own `iretq`
//! then "returns" into [`uk_kvm_preempt_entry`] on that stack, with interrupts off and
//! the program's FPU/SSE/AVX registers still untouched in the CPU. The entry saves them
//! (XSAVE of every component XCR0 enables, or FXSAVE), calls the kernel's preemption
//! work ([`uk_kvm_preempted`], which may switch threads and run signal handlers), then
//! restores the FPU state and the registers and leaves with `iretq`, which puts back
//! RIP, RSP and RFLAGS in one instruction: the program resumes exactly where it was.

use crate::frame::TrapFrame;
use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use uk_abi::signal::{reg, Mcontext};

/// 1 when the CPU saves FPU state with XSAVE (XCR0 set up at boot), 0 for FXSAVE.
#[no_mangle]
static uk_kvm_use_xsave: AtomicU8 = AtomicU8::new(0);
/// Bytes of the FPU save area (a multiple of 64).
#[no_mangle]
static uk_kvm_fpu_size: AtomicUsize = AtomicUsize::new(512);
static READY: AtomicBool = AtomicBool::new(false);

/// The interrupted context as the handler leaves it on the thread's stack, just above
/// the FPU save area: the general registers in the order the entry pops them, then the
/// `iretq` frame.
#[repr(C)]
struct Saved {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rbp: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rbx: u64,
    rax: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

const IF: u64 = 1 << 9;
const TF: u64 = 1 << 8;
const DF: u64 = 1 << 10;
/// The flags a signal handler may change in `uc_mcontext` (the arithmetic flags and
/// DF, as Linux lets user code); never IF, IOPL or TF: the program runs in ring 0 here.
const USER_FLAGS: u64 = 0x0cd5;
/// The red zone below RSP that the System V ABI lets leaf code use without moving RSP.
const RED_ZONE: u64 = 128;

/// Learn how FPU state is saved (after XCR0 is set up). `xsave`: OSXSAVE was enabled.
pub fn init(xsave: bool) {
    let size = if xsave {
        // CPUID.(EAX=0DH, ECX=0):EBX: the XSAVE area size for the components XCR0 enables.
        let ebx = uk_arch::cpu::cpuid(0xd, 0).ebx as usize;
        ebx.max(576).next_multiple_of(64)
    } else {
        512
    };
    uk_kvm_fpu_size.store(size, Ordering::Relaxed);
    uk_kvm_use_xsave.store(xsave as u8, Ordering::Relaxed);
    READY.store(true, Ordering::Release);
}

global_asm!(
    ".text",
    ".global uk_kvm_preempt_entry",
    ".type uk_kvm_preempt_entry,@function",
    "uk_kvm_preempt_entry:",
    // RSP: the 64-byte aligned FPU area; IF clear; the program's FPU state in the CPU.
    "cmp byte ptr [rip + uk_kvm_use_xsave], 0",
    "je 1f",
    "mov eax, -1",
    "mov edx, -1",
    "xsave64 [rsp]",
    "jmp 2f",
    "1:",
    "fxsave64 [rsp]",
    "2:",
    "mov rdi, rsp",
    "sub rsp, 16",
    "call {preempted}",
    "mov rsp, rax",
    "cmp byte ptr [rip + uk_kvm_use_xsave], 0",
    "je 3f",
    "mov eax, -1",
    "mov edx, -1",
    "xrstor64 [rsp]",
    "jmp 4f",
    "3:",
    "fxrstor64 [rsp]",
    "4:",
    "add rsp, [rip + uk_kvm_fpu_size]",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop r11",
    "pop r10",
    "pop r9",
    "pop r8",
    "pop rbp",
    "pop rdi",
    "pop rsi",
    "pop rdx",
    "pop rcx",
    "pop rbx",
    "pop rax",
    "iretq",
    ".size uk_kvm_preempt_entry, .-uk_kvm_preempt_entry",
    preempted = sym uk_kvm_preempted,
);

extern "C" {
    fn uk_kvm_preempt_entry();
}

/// For an interrupt handler: `preempt` says the interrupt wants the kernel's preemption
/// work (the preemption timer, the control line, a device). Kernel code is left alone
/// and asked at its exit; program code is redirected to the preemption entry.
pub fn on_interrupt(f: &mut TrapFrame, preempt: bool) {
    if !preempt || !READY.load(Ordering::Acquire) {
        return;
    }
    if uk_plat::cpu::in_kernel() || f.rflags & IF == 0 {
        uk_plat::cpu::request();
        return;
    }
    redirect(f);
}

/// Move the interrupted program context onto its own stack and point the handler's
/// `iretq` at the preemption entry.
fn redirect(f: &mut TrapFrame) {
    let fpu = uk_kvm_fpu_size.load(Ordering::Relaxed) as u64;
    let saved_len = core::mem::size_of::<Saved>() as u64;
    let area = (f.rsp - RED_ZONE - saved_len - fpu) & !63;
    let saved = Saved {
        r15: f.r15,
        r14: f.r14,
        r13: f.r13,
        r12: f.r12,
        r11: f.r11,
        r10: f.r10,
        r9: f.r9,
        r8: f.r8,
        rbp: f.rbp,
        rdi: f.rdi,
        rsi: f.rsi,
        rdx: f.rdx,
        rcx: f.rcx,
        rbx: f.rbx,
        rax: f.rax,
        rip: f.rip,
        cs: f.cs,
        rflags: f.rflags,
        rsp: f.rsp,
        ss: f.ss,
    };
    // SAFETY: the interrupted code is a program thread, whose stack extends below its
    // RSP (red zone excluded) as a signal frame would; [area, area + fpu + saved) lies
    // there. The XSAVE header (bytes 512..576) must be zero before the first XSAVE.
    unsafe {
        core::ptr::write((area + fpu) as *mut Saved, saved);
        if fpu > 512 {
            core::ptr::write_bytes((area + 512) as *mut u8, 0, 64);
        }
    }
    f.rip = uk_kvm_preempt_entry as *const () as u64;
    f.rsp = area;
    f.rflags &= !(IF | TF | DF);
}

/// Rust side of the entry: the interrupted context as an `mcontext_t`, the kernel's
/// preemption work on it, the (possibly edited) context back. Returns `area`.
extern "C" fn uk_kvm_preempted(area: usize) -> usize {
    let fpu = uk_kvm_fpu_size.load(Ordering::Relaxed);
    // SAFETY: `redirect` wrote a Saved record right above the FPU area at `area`, on
    // this thread's stack above us; nothing else touches it until the entry pops it.
    let s = unsafe { &mut *((area + fpu) as *mut Saved) };
    let mut mc = Mcontext::default();
    let g = &mut mc.gregs;
    (g[reg::R8], g[reg::R9], g[reg::R10], g[reg::R11]) = (s.r8, s.r9, s.r10, s.r11);
    (g[reg::R12], g[reg::R13], g[reg::R14], g[reg::R15]) = (s.r12, s.r13, s.r14, s.r15);
    (g[reg::RDI], g[reg::RSI], g[reg::RBP], g[reg::RBX]) = (s.rdi, s.rsi, s.rbp, s.rbx);
    (g[reg::RDX], g[reg::RAX], g[reg::RCX]) = (s.rdx, s.rax, s.rcx);
    (g[reg::RSP], g[reg::RIP], g[reg::EFL]) = (s.rsp, s.rip, s.rflags);
    g[reg::CSGSFS] = s.cs;
    mc.fpregs = area as u64;
    // Kernel first, then interrupts: an interrupt now finds the kernel and only asks.
    uk_plat::cpu::enter();
    // SAFETY: ring 0; every handler is ready (boot finished before preemption starts).
    unsafe { uk_arch::ring0::sti() };
    uk_plat::cpu::preempted(&mut mc);
    // SAFETY: ring 0; the entry restores the interrupted RFLAGS (IF set) with iretq.
    unsafe { uk_arch::ring0::cli() };
    let g = &mc.gregs;
    (s.r8, s.r9, s.r10, s.r11) = (g[reg::R8], g[reg::R9], g[reg::R10], g[reg::R11]);
    (s.r12, s.r13, s.r14, s.r15) = (g[reg::R12], g[reg::R13], g[reg::R14], g[reg::R15]);
    (s.rdi, s.rsi, s.rbp, s.rbx) = (g[reg::RDI], g[reg::RSI], g[reg::RBP], g[reg::RBX]);
    (s.rdx, s.rax, s.rcx) = (g[reg::RDX], g[reg::RAX], g[reg::RCX]);
    (s.rsp, s.rip) = (g[reg::RSP], g[reg::RIP]);
    s.rflags = (s.rflags & !USER_FLAGS) | (g[reg::EFL] & USER_FLAGS) | IF;
    area
}
