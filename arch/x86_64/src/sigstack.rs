//! Running a signal handler on the program's alternate signal stack (sigaltstack(2)).
//!
//! Handlers are plain function calls made by the kernel; with SA_ONSTACK the call is
//! made on another stack and returns to the kernel's frame on the original one.

core::arch::global_asm!(
    ".global uk_arch_call_handler_on_stack",
    ".type uk_arch_call_handler_on_stack,@function",
    // uk_arch_call_handler_on_stack(a0, a1, a2, f, top): f(a0, a1, a2) on the stack
    // ending at top (16-byte aligned), then back on the caller's stack.
    "uk_arch_call_handler_on_stack:",
    "push rbp",
    "mov rbp, rsp",
    "mov rsp, r8",
    "and rsp, -16",
    "call rcx",
    "mov rsp, rbp",
    "pop rbp",
    "ret",
    ".size uk_arch_call_handler_on_stack, .-uk_arch_call_handler_on_stack",
);

extern "C" {
    fn uk_arch_call_handler_on_stack(a0: usize, a1: usize, a2: usize, f: usize, top: usize);
}

/// Call `f(sig, info, uc)` (a C signal handler) with the stack pointer at `top`, and
/// return when it returns.
///
/// # Safety
/// `f` must be a C function taking three pointer-sized arguments; `[top - n, top)` must
/// be writable memory big enough for the handler (the program sized it).
pub unsafe fn call_handler_on_stack(f: usize, sig: usize, info: usize, uc: usize, top: usize) {
    // SAFETY: guaranteed by the caller; the helper saves and restores rbp/rsp and
    // follows the SysV ABI (rbp is callee-saved, so the handler preserves it).
    unsafe { uk_arch_call_handler_on_stack(sig, info, uc, f, top) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::{AtomicUsize, Ordering};

    static SEEN: AtomicUsize = AtomicUsize::new(0);
    static SUM: AtomicUsize = AtomicUsize::new(0);

    extern "C" fn handler(a: usize, b: usize, c: usize) {
        let x = 0u8;
        SEEN.store(
            core::hint::black_box(&x) as *const u8 as usize,
            Ordering::SeqCst,
        );
        SUM.store(a + b + c, Ordering::SeqCst);
    }

    #[test]
    fn runs_on_the_given_stack_and_returns() {
        let stack = vec![0u8; 64 * 1024];
        let lo = stack.as_ptr() as usize;
        let top = lo + stack.len();
        // SAFETY: `handler` takes three words; the stack is a live 64 KiB buffer.
        unsafe { call_handler_on_stack(handler as *const () as usize, 1, 2, 3, top) };
        let sp = SEEN.load(Ordering::SeqCst);
        assert!(
            sp > lo && sp < top,
            "handler ran on {sp:#x}, stack {lo:#x}..{top:#x}"
        );
        assert_eq!(SUM.load(Ordering::SeqCst), 6);
    }
}
