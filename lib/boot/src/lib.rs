//! The boot sequence's platform-neutral pieces.
//!
//! The image crate wires the sequence (it alone knows which libraries are selected);
//! this crate holds the steps: hand the platform's memory to the page allocator, read
//! the image's program headers, build the program's argv/envp/auxv block, and jump to
//! musl's `__libc_start_main` on a fresh stack.
#![cfg_attr(not(test), no_std)]

mod argblock;

pub use argblock::{build_arg_block, ArgBlock, AuxInfo};

/// A loaded segment of the image (PT_LOAD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub start: usize,
    pub end: usize,
    pub writable: bool,
}

use core::sync::atomic::{AtomicUsize, Ordering};
use uk_abi::elf::{PF_W, PT_LOAD, PT_PHDR};

/// Read the image's PT_LOAD segments from its program headers (64-bit ELF, 56-byte
/// entries), calling `f` for each. The load bias comes from PT_PHDR when present (a
/// non-PIE image has bias 0).
///
/// # Safety
/// `phdr` must point to `phnum` program headers of the running image.
pub unsafe fn for_each_segment(phdr: usize, phnum: usize, mut f: impl FnMut(Segment)) {
    let rd32 = |a: usize| {
        // SAFETY: inside the program header table (caller's guarantee).
        unsafe { core::ptr::read_unaligned(a as *const u32) }
    };
    let rd64 = |a: usize| {
        // SAFETY: as above.
        unsafe { core::ptr::read_unaligned(a as *const u64) as usize }
    };
    let mut bias = 0usize;
    for i in 0..phnum {
        let h = phdr + i * 56;
        if rd32(h) == PT_PHDR {
            bias = phdr.wrapping_sub(rd64(h + 16));
        }
    }
    for i in 0..phnum {
        let h = phdr + i * 56;
        if rd32(h) == PT_LOAD {
            let vaddr = rd64(h + 16).wrapping_add(bias);
            let memsz = rd64(h + 40);
            let page = uk_abi::PAGE_SIZE;
            f(Segment {
                start: vaddr & !(page - 1),
                end: (vaddr + memsz + page - 1) & !(page - 1),
                writable: rd32(h + 4) & PF_W != 0,
            });
        }
    }
}

/// Give every platform memory region to the page allocator.
pub fn init_memory() {
    let p = uk_plat::get();
    let mut pa = uk_alloc::PAGES.lock();
    pa.set_free_is_zero(p.memory_zeroed());
    for r in p.memory() {
        // SAFETY: the platform hands these regions to ukit exclusively.
        unsafe { pa.add_region(*r) };
    }
}

extern "C" {
    fn __libc_start_main(
        main: unsafe extern "C" fn(i32, *mut *mut u8, *mut *mut u8) -> i32,
        argc: i32,
        argv: *mut *mut u8,
        init: unsafe extern "C" fn(),
        fini: unsafe extern "C" fn(),
        ldso_fini: usize,
    ) -> i32;
    fn main(argc: i32, argv: *mut *mut u8, envp: *mut *mut u8) -> i32;
    fn _init();
    fn _fini();
}

/// argc and the argv block's address, from `start_program` to the code it runs on the
/// program's stack.
static START_ARGS: (AtomicUsize, AtomicUsize) = (AtomicUsize::new(0), AtomicUsize::new(0));

extern "C" fn start_on_new_stack(_: usize) -> ! {
    let (argc, argv) = (
        START_ARGS.0.load(Ordering::Acquire),
        START_ARGS.1.load(Ordering::Acquire),
    );
    // From here on the CPU runs the program (preemption may interrupt it).
    uk_plat::cpu::leave();
    // SAFETY: musl's documented start-up entry; argv points to a block laid out as the
    // Linux initial stack (argv, NULL, envp, NULL, auxv), in program memory.
    unsafe {
        __libc_start_main(main, argc as i32, argv as *mut *mut u8, _init, _fini, 0);
    }
    // __libc_start_main calls exit(); it never returns.
    uk_plat::get().exit(127)
}

// Where a process that runs the image's own program again starts (execve of the image
// file, posix/src/selfexec.rs): the stack pointer is on argc, as for any Linux program
// entry; musl's start-up takes it from there, as at boot.
// (Not in this crate's own unit-test binary: the entry calls `main`, which there is
// the test harness's.)
#[cfg(not(test))]
core::arch::global_asm!(
    ".global uk_boot_program_entry",
    ".type uk_boot_program_entry,@function",
    "uk_boot_program_entry:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {start}",
    "ud2",
    ".size uk_boot_program_entry, .-uk_boot_program_entry",
    start = sym start_from_stack,
);

#[cfg(not(test))]
extern "C" {
    fn uk_boot_program_entry();
}

/// The address a process running the image's program again enters at (stack pointer
/// on argc, the Linux initial stack layout above it); kernel code has already left.
#[cfg(not(test))]
pub fn program_entry() -> usize {
    uk_boot_program_entry as *const () as usize
}

/// (This crate's unit tests have no program to enter.)
#[cfg(test)]
pub fn program_entry() -> usize {
    0
}

#[cfg(not(test))]
extern "C" fn start_from_stack(sp: *const usize) -> ! {
    // SAFETY: `sp` is the initial stack the loader built: argc, then argv's pointers.
    let argc = unsafe { *sp };
    // SAFETY: argv follows argc on that stack.
    let argv = unsafe { sp.add(1) } as *mut *mut u8;
    // SAFETY: musl's documented start-up entry, as in `start_on_new_stack`.
    unsafe {
        __libc_start_main(main, argc as i32, argv, _init, _fini, 0);
    }
    uk_plat::get().exit(127)
}

/// Run the program: switch to its stack and enter libc. Never returns; the program
/// ends through exit_group.
pub fn start_program(stack_top: usize, block: &ArgBlock) -> ! {
    START_ARGS.0.store(block.argc, Ordering::Release);
    START_ARGS.1.store(block.argv, Ordering::Release);
    // SAFETY: stack_top is the top of a fresh program stack mapping.
    unsafe { uk_arch::call_on_stack(stack_top, start_on_new_stack, 0) }
}
