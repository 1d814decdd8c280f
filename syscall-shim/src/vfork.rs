//! vfork(2) and clone(2) with CLONE_VM|CLONE_VFORK, and the entry every system call
//! takes: https://man7.org/linux/man-pages/man2/vfork.2.html
//!
//! A vfork child borrows its parent's memory and runs on the parent's thread until it
//! execs or exits; then the parent's call returns the child's pid (docs/processes.md,
//! "vfork"). System calls are function calls here, so "returns twice" means: the
//! registers the call must return with are recorded, the child returns 0 through the
//! ordinary path, and when it is done [`uk_posix::lifecycle::resume_parent`] returns
//! from the same call a second time.
//!
//! musl's `vfork` is `uk_syscall(SYS_vfork)` (ports/musl/0006-vfork-uk-syscall.patch),
//! which needs the registers of its caller: `uk_syscall` is therefore a few
//! instructions of assembly that send number 58 to [`vfork_entry`] and every other
//! number to [`uk_syscall_dispatch`](crate::uk_syscall_dispatch).

use crate::{Errno, KResult};
use core::arch::global_asm;
use uk_abi::signal::SIGCHLD;
use uk_posix::lifecycle::Resume;
use uk_posix::{lifecycle, user};

global_asm!(
    // A Resume on the stack (72 bytes, the callee-saved registers first; the caller
    // fills in the stack pointer and return address it resumes with).
    ".macro uk_save_callee",
    "sub rsp, 72",
    "mov [rsp], rbx",
    "mov [rsp + 8], rbp",
    "mov [rsp + 16], r12",
    "mov [rsp + 24], r13",
    "mov [rsp + 32], r14",
    "mov [rsp + 40], r15",
    ".endm",
    ".global uk_syscall",
    ".type uk_syscall,@function",
    "uk_syscall:",
    "cmp rdi, 58",
    "je 2f",
    "cmp rdi, 57",
    "je 3f",
    "jmp {dispatch}",
    // fork: the child returns from this very call (uk_syscall's own caller, musl's
    // _Fork) with 0: record the callee-saved registers, the return address and the
    // stack pointer after the return, in a Resume on the stack.
    "3:",
    "uk_save_callee",
    "lea rax, [rsp + 72 + 8]",
    "mov [rsp + 48], rax",
    "mov rax, [rsp + 72]",
    "mov [rsp + 56], rax",
    "mov rdi, rsp",
    "call {fork}",
    "add rsp, 72",
    "ret",
    // vfork: musl's stub pushed a zero (the 7th argument) and called us, so [rsp] is
    // the return into the stub, [rsp+8] the zero, [rsp+16] the return address of
    // vfork's caller, and rsp+24 its stack pointer once vfork has returned. Record
    // the callee-saved registers and that continuation in a Resume on the stack.
    "2:",
    "uk_save_callee",
    "lea rax, [rsp + 72 + 24]",
    "mov [rsp + 48], rax",
    "mov rax, [rsp + 72 + 16]",
    "mov [rsp + 56], rax",
    "mov rdi, rsp",
    "lea rsi, [rsp + 72]",
    "call {vfork}",
    "add rsp, 72",
    "ret",
    ".size uk_syscall, .-uk_syscall",
    dispatch = sym crate::uk_syscall_dispatch,
    vfork = sym vfork_entry,
    fork = sym fork_entry,
);

/// fork from `uk_syscall(SYS_fork)` (musl's _Fork): `save` holds how the call returns.
/// Returns the child's pid, or -errno; the child returns 0 from the same call.
extern "C" fn fork_entry(save: *const Resume) -> isize {
    uk_plat::cpu::enter();
    // SAFETY: `save` points at the Resume the assembly above built on this stack.
    let resume = unsafe { *save };
    let raw = match lifecycle::fork(lifecycle::ForkStart::Return(resume), SIGCHLD) {
        Ok(pid) => pid as isize,
        Err(e) => e.as_neg(),
    };
    if crate::trace::enabled() {
        crate::trace::print(uk_abi::sysno::SYS_FORK, &[0; 6], raw);
    }
    uk_plat::cpu::leave();
    raw
}

/// The instructions musl's vfork stub runs after `call uk_syscall` (`add $8,%rsp;
/// mov %rax,%rdi`): how the entry knows that the stack holds what it expects.
const STUB_AFTER_CALL: [u8; 7] = [0x48, 0x83, 0xc4, 0x08, 0x48, 0x89, 0xc7];

/// vfork from musl's stub: `save` holds the caller's registers, `slot` is where the
/// return into the stub is. Returns 0 (in the child) or -errno.
extern "C" fn vfork_entry(save: *const Resume, slot: usize) -> isize {
    uk_plat::cpu::enter();
    // SAFETY: `save` points at the Resume the assembly above built on this stack.
    let resume = unsafe { *save };
    let r = vfork(resume, slot);
    let raw = match r {
        Ok(()) => 0,
        Err(e) => e.as_neg(),
    };
    if crate::trace::enabled() {
        crate::trace::print(uk_abi::sysno::SYS_VFORK, &[0; 6], raw);
    }
    uk_plat::cpu::leave();
    raw
}

fn vfork(resume: Resume, slot: usize) -> KResult<()> {
    // Only musl's stub lays the stack out as the entry assumed; any other caller
    // (syscall(SYS_vfork) from C) gets ENOSYS rather than a wrong return address.
    let ret: usize = user::read(slot)?;
    let pad: usize = user::read(slot + 8)?;
    let mut code = [0u8; 7];
    user::copy_in(ret, &mut code)?;
    if pad != 0 || code != STUB_AFTER_CALL {
        uk_log::warn_once!("vfork through syscall() is not supported (use vfork()): ENOSYS");
        return Err(Errno::ENOSYS);
    }
    lifecycle::vfork(resume, SIGCHLD)
}
