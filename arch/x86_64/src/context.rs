//! Cooperative context switch.
//!
//! ukit switches threads only at function-call boundaries (a thread blocks inside a
//! system call, which is a plain call from musl), so only the registers the SysV ABI
//! calls callee-saved must survive a switch: rbx, rbp, r12-r15, rsp, and the control
//! parts of the FPU state (MXCSR and the x87 control word). XMM/YMM data registers are
//! caller-saved and already spilled by the compiler around the call. A future
//! preemptive switch (an interrupt taking a thread off the CPU) saves the whole vector
//! state with [`crate::fpu`].

use core::arch::global_asm;

/// A suspended thread: just its saved stack pointer; everything else is on its stack.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Context {
    pub rsp: usize,
}

/// MXCSR after reset with all exceptions masked, as Linux starts programs.
pub const MXCSR_DEFAULT: u32 = 0x1f80;
/// x87 control word after FNINIT.
pub const FCW_DEFAULT: u16 = 0x037f;

// Frame pushed by uk_arch_switch, from the saved rsp upwards:
//   [rsp+0] MXCSR (4 bytes) + x87 CW (2 bytes) + pad
//   [rsp+8]  r15, r14, r13, r12, rbx, rbp
//   [rsp+56] return address
global_asm!(
    ".text",
    // What a switch keeps on the outgoing stack (callee-saved registers, MXCSR and the
    // x87 control word) and takes back from the incoming one.
    ".macro uk_ctx_save",
    "push rbp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "sub rsp, 8",
    "stmxcsr [rsp]",
    "fnstcw [rsp+4]",
    ".endm",
    ".macro uk_ctx_load",
    "ldmxcsr [rsp]",
    "fldcw [rsp+4]",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    ".endm",
    ".global uk_arch_switch",
    ".type uk_arch_switch,@function",
    "uk_arch_switch:",
    "uk_ctx_save",
    "mov [rdi], rsp",
    "mov rsp, rsi",
    "uk_ctx_load",
    "ret",
    ".size uk_arch_switch, .-uk_arch_switch",
    "",
    ".global uk_arch_thread_trampoline",
    ".type uk_arch_thread_trampoline,@function",
    "uk_arch_thread_trampoline:",
    "xor ebp, ebp",
    "mov rdi, r13",
    "and rsp, -16",
    "call r12",
    "ud2",
    ".size uk_arch_thread_trampoline, .-uk_arch_thread_trampoline",
    ".global uk_arch_switch_via",
    ".type uk_arch_switch_via,@function",
    "uk_arch_switch_via:",
    "uk_ctx_save",
    "mov [rdi], rsp",
    "mov rsp, rdx",
    "and rsp, -16",
    "mov rbx, rsi",
    "mov rdi, r8",
    "call rcx",
    "mov rsp, rbx",
    "uk_ctx_load",
    "ret",
    ".size uk_arch_switch_via, .-uk_arch_switch_via",
);

global_asm!(
    ".global uk_arch_call_on_stack",
    ".type uk_arch_call_on_stack,@function",
    // uk_arch_call_on_stack(top, f, arg): f(arg) on the stack ending at top; no return.
    "uk_arch_call_on_stack:",
    "mov rsp, rdi",
    "and rsp, -16",
    "xor ebp, ebp",
    "mov rdi, rdx",
    "call rsi",
    "ud2",
    ".size uk_arch_call_on_stack, .-uk_arch_call_on_stack",
);

extern "C" {
    fn uk_arch_call_on_stack(top: usize, f: extern "C" fn(usize) -> !, arg: usize) -> !;
}

/// Leave the current stack for good: call `f(arg)` on the stack whose top is `top`.
///
/// # Safety
/// `[top - some KiB, top)` must be writable memory that lives as long as `f` runs.
pub unsafe fn call_on_stack(top: usize, f: extern "C" fn(usize) -> !, arg: usize) -> ! {
    // SAFETY: guaranteed by the caller.
    unsafe { uk_arch_call_on_stack(top, f, arg) }
}

extern "C" {
    fn uk_arch_switch(save_rsp: *mut usize, load_rsp: usize);
    fn uk_arch_switch_via(
        save_rsp: *mut usize,
        load_rsp: usize,
        mid: usize,
        f: extern "C" fn(usize),
        arg: usize,
    );
    fn uk_arch_thread_trampoline();
}

/// [`switch`], calling `f(arg)` on the stack whose top is `mid` once `from` is saved
/// and before `to` is loaded: the outgoing thread's registers go onto its own stack,
/// `f` runs on a third stack (outside every program range), then the incoming thread
/// is loaded. This is where a process's view of the program ranges changes
/// (docs/processes.md, "fork"): the outgoing stack may stop being visible, and the
/// incoming one become visible, only while neither is in use.
///
/// # Safety
/// As for [`switch`]; `mid` must be the top of a stack that nothing else uses while
/// `f` runs, and `f` must return.
#[inline]
pub unsafe fn switch_via(
    from: &mut Context,
    to: &Context,
    mid: usize,
    f: extern "C" fn(usize),
    arg: usize,
) {
    // SAFETY: the caller keeps the contexts and the middle stack valid (see above).
    unsafe { uk_arch_switch_via(&mut from.rsp, to.rsp, mid, f, arg) }
}

/// Save the running thread into `from` and resume `to`.
///
/// # Safety
/// `to` must hold a context made by [`Context::new_thread`] or saved by an earlier
/// `switch`, whose stack is still alive; `from` must stay valid until it is resumed.
#[inline]
pub unsafe fn switch(from: &mut Context, to: &Context) {
    // SAFETY: guaranteed by the caller; uk_arch_switch follows the SysV ABI.
    unsafe { uk_arch_switch(&mut from.rsp, to.rsp) }
}

impl Context {
    /// Prepare a context that, when first switched to, calls `entry(arg)` on the stack
    /// whose highest address is `stack_top`. `entry` must never return.
    ///
    /// # Safety
    /// `stack_top` must be the top of writable memory of at least 128 bytes that lives
    /// as long as the thread.
    pub unsafe fn new_thread(
        stack_top: usize,
        entry: extern "C" fn(usize) -> !,
        arg: usize,
    ) -> Self {
        let top = stack_top & !15;
        let words: [usize; 9] = [
            (MXCSR_DEFAULT as usize) | ((FCW_DEFAULT as usize) << 32),
            0,                                               // r15
            0,                                               // r14
            arg,                                             // r13
            entry as usize,                                  // r12
            0,                                               // rbx
            0,                                               // rbp
            uk_arch_thread_trampoline as *const () as usize, // return address
            0,                                               // alignment pad
        ];
        let base = top - words.len() * 8;
        for (i, w) in words.iter().enumerate() {
            // SAFETY: the caller guarantees [base, top) is writable stack memory.
            unsafe { core::ptr::write((base + i * 8) as *mut usize, *w) };
        }
        Context { rsp: base }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static mut MAIN: Context = Context { rsp: 0 };
    static mut CHILD: Context = Context { rsp: 0 };
    static STEPS: AtomicUsize = AtomicUsize::new(0);

    extern "C" fn child(arg: usize) -> ! {
        STEPS.fetch_add(arg, Ordering::SeqCst);
        // Floating point must work on the new stack (alignment) and MXCSR is default.
        let x = std::hint::black_box(2.5f64) * 4.0;
        assert_eq!(x, 10.0);
        loop {
            STEPS.fetch_add(1, Ordering::SeqCst);
            // SAFETY: both contexts live in statics; MAIN was saved by the switch below.
            unsafe {
                switch(
                    &mut *core::ptr::addr_of_mut!(CHILD),
                    &*core::ptr::addr_of!(MAIN),
                )
            };
        }
    }

    #[test]
    fn ping_pong_keeps_callee_saved_state() {
        let stack = vec![0u8; 64 * 1024];
        let top = stack.as_ptr() as usize + stack.len();
        // SAFETY: the stack outlives every switch into the child in this test.
        unsafe {
            CHILD = Context::new_thread(top, child, 100);
        }
        let mut local = 7u64;
        for i in 0..5 {
            // SAFETY: CHILD was made above and resumes on `stack`.
            unsafe {
                switch(
                    &mut *core::ptr::addr_of_mut!(MAIN),
                    &*core::ptr::addr_of!(CHILD),
                )
            };
            local = std::hint::black_box(local) + i;
        }
        assert_eq!(local, 7 + 10);
        assert_eq!(STEPS.load(Ordering::SeqCst), 100 + 5);
    }

    static mut VIA_MAIN: Context = Context { rsp: 0 };
    static mut VIA_CHILD: Context = Context { rsp: 0 };
    static MIDDLE: AtomicUsize = AtomicUsize::new(0);

    /// Runs between the save and the load: on the middle stack, not on either thread's.
    extern "C" fn in_between(arg: usize) {
        let here = &arg as *const usize as usize;
        MIDDLE.store(here ^ arg, Ordering::SeqCst);
    }

    extern "C" fn via_child(_: usize) -> ! {
        // SAFETY: both contexts live in statics; VIA_MAIN was saved by switch_via.
        unsafe {
            switch(
                &mut *core::ptr::addr_of_mut!(VIA_CHILD),
                &*core::ptr::addr_of!(VIA_MAIN),
            )
        };
        unreachable!("the test does not come back to the child");
    }

    #[test]
    fn switch_via_calls_on_the_middle_stack() {
        let stack = vec![0u8; 64 * 1024];
        let mid = vec![0u8; 16 * 1024];
        let (lo, hi) = (mid.as_ptr() as usize, mid.as_ptr() as usize + mid.len());
        // SAFETY: the stack outlives the switch into the child.
        unsafe {
            VIA_CHILD = Context::new_thread(stack.as_ptr() as usize + stack.len(), via_child, 0)
        };
        let keep = std::hint::black_box(41u64);
        // SAFETY: VIA_CHILD was made above; `mid` is a stack nobody else uses.
        unsafe {
            switch_via(
                &mut *core::ptr::addr_of_mut!(VIA_MAIN),
                &*core::ptr::addr_of!(VIA_CHILD),
                hi,
                in_between,
                0x55,
            )
        };
        let at = MIDDLE.load(Ordering::SeqCst) ^ 0x55;
        assert!(
            at >= lo && at < hi,
            "f ran at {at:#x}, not on [{lo:#x}, {hi:#x})"
        );
        assert_eq!(keep + 1, 42);
    }
}
