//! Saved callee-saved registers, to return a second time from a call: what vfork needs
//! in a kernel whose system calls are function calls (docs/processes.md, "vfork").
//!
//! [`call_saving`] records where its caller continues and runs a function on another
//! stack; [`resume`] later returns from that `call_saving` (or from any call whose
//! registers were recorded the same way) with a chosen value, abandoning whatever ran
//! in between. That is setjmp/longjmp with the registers the SysV ABI says a callee
//! keeps: rbx, rbp, r12-r15, the stack pointer after the return, and the return address.

use core::arch::global_asm;

/// Where a call returns to, and the registers it must find there.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resume {
    pub rbx: usize,
    pub rbp: usize,
    pub r12: usize,
    pub r13: usize,
    pub r14: usize,
    pub r15: usize,
    /// The stack pointer after the return (the return address popped).
    pub rsp: usize,
    /// The return address.
    pub rip: usize,
}

const _: () = assert!(core::mem::size_of::<Resume>() == 64);

global_asm!(
    ".global uk_arch_call_saving",
    ".type uk_arch_call_saving,@function",
    // uk_arch_call_saving(save, f, arg, top): record the caller's continuation in
    // *save, then f(arg) on the stack ending at top. f never returns; the call returns
    // when uk_arch_resume(save, value) runs.
    "uk_arch_call_saving:",
    "mov [rdi], rbx",
    "mov [rdi + 8], rbp",
    "mov [rdi + 16], r12",
    "mov [rdi + 24], r13",
    "mov [rdi + 32], r14",
    "mov [rdi + 40], r15",
    "lea rax, [rsp + 8]",
    "mov [rdi + 48], rax",
    "mov rax, [rsp]",
    "mov [rdi + 56], rax",
    "mov rsp, rcx",
    "and rsp, -16",
    "xor ebp, ebp",
    "mov rdi, rdx",
    "call rsi",
    "ud2",
    ".size uk_arch_call_saving, .-uk_arch_call_saving",
    ".global uk_arch_resume",
    ".type uk_arch_resume,@function",
    // uk_arch_resume(save, value): return value from the call *save recorded.
    "uk_arch_resume:",
    "mov rax, rsi",
    "mov rbx, [rdi]",
    "mov rbp, [rdi + 8]",
    "mov r12, [rdi + 16]",
    "mov r13, [rdi + 24]",
    "mov r14, [rdi + 32]",
    "mov r15, [rdi + 40]",
    "mov rsp, [rdi + 48]",
    "jmp qword ptr [rdi + 56]",
    ".size uk_arch_resume, .-uk_arch_resume",
    ".global uk_arch_enter_program",
    ".type uk_arch_enter_program,@function",
    // uk_arch_enter_program(entry, sp): jump to entry with rsp = sp and the other
    // registers zero, as a process starts on Linux (rdx 0: no exit function).
    "uk_arch_enter_program:",
    "mov rsp, rsi",
    "xor eax, eax",
    "xor ebx, ebx",
    "xor ecx, ecx",
    "xor edx, edx",
    "xor esi, esi",
    "xor ebp, ebp",
    "xor r8d, r8d",
    "xor r9d, r9d",
    "xor r10d, r10d",
    "xor r11d, r11d",
    "xor r12d, r12d",
    "xor r13d, r13d",
    "xor r14d, r14d",
    "xor r15d, r15d",
    "mov rax, rdi",
    "xor edi, edi",
    "jmp rax",
    ".size uk_arch_enter_program, .-uk_arch_enter_program",
);

extern "C" {
    fn uk_arch_call_saving(
        save: *mut Resume,
        f: extern "C" fn(usize) -> !,
        arg: usize,
        top: usize,
    ) -> isize;
    fn uk_arch_resume(save: *const Resume, value: isize) -> !;
    fn uk_arch_enter_program(entry: usize, sp: usize) -> !;
}

/// Start a loaded program: jump to `entry` with the stack pointer at `sp` (its argc,
/// as the Linux initial stack lays it out) and the other registers zero.
///
/// # Safety
/// `entry` must be the entry point of a program mapped executable, and `sp` the
/// initial stack built for it; the running stack is abandoned.
pub unsafe fn enter_program(entry: usize, sp: usize) -> ! {
    // SAFETY: guaranteed by the caller.
    unsafe { uk_arch_enter_program(entry, sp) }
}

/// Record in `*save` where this call returns, then run `f(arg)` on the stack whose top
/// is `top`. Returns the value a later [`resume`] of `*save` passes.
///
/// # Safety
/// `save` must stay valid until it is resumed; `[top - some KiB, top)` must be
/// writable memory while `f` runs; the frames of the caller must still be intact when
/// [`resume`] runs (nothing may have unwound them: `f` runs on another stack).
pub unsafe fn call_saving(
    save: *mut Resume,
    f: extern "C" fn(usize) -> !,
    arg: usize,
    top: usize,
) -> isize {
    // SAFETY: guaranteed by the caller; the routine follows the SysV ABI for its caller.
    unsafe { uk_arch_call_saving(save, f, arg, top) }
}

/// Return `value` from the call `save` recorded, abandoning the running stack.
///
/// # Safety
/// `save` must describe a call whose frames are intact (see [`call_saving`]); nothing
/// the abandoned code holds (locks, owned values) may be needed again.
pub unsafe fn resume(save: &Resume, value: isize) -> ! {
    // SAFETY: guaranteed by the caller.
    unsafe { uk_arch_resume(save, value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs on the other stack and makes the test's `call_saving` return 42 through
    /// `resume`, never by returning itself.
    extern "C" fn body(arg: usize) -> ! {
        // SAFETY: `arg` is the Resume the test passed, filled by call_saving before it
        // called us; the test's frame is intact (we run on another stack).
        unsafe { resume(&*(arg as *const Resume), 42) }
    }

    #[test]
    fn call_saving_returns_what_resume_passes_with_callee_saved_intact() {
        let mut stack = vec![0u128; 4096];
        let top = stack.as_mut_ptr() as usize + stack.len() * 16;
        let mut save = Resume::default();
        let p = &mut save as *mut Resume;
        let kept = core::hint::black_box(0x1234_5678_u64);
        // SAFETY: `save` and `stack` outlive the call; `body` never returns.
        let r = unsafe { call_saving(p, body, p as usize, top) };
        assert_eq!(r, 42);
        assert_eq!(core::hint::black_box(kept), 0x1234_5678);
        assert!(save.rsp != 0 && save.rip != 0);
    }
}
