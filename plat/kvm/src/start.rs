//! The image's first instructions: boot-protocol headers and the 32-bit entry.
//!
//! One entry point serves both protocols QEMU's `-kernel` speaks for an ELF that is not
//! a Linux kernel:
//! - **multiboot v1** (`EAX = 0x2BADB002`, `EBX` = multiboot info). QEMU refuses 64-bit
//!   ELF files through multiboot unless the header carries its own load addresses (the
//!   "a.out kludge", flag bit 16); with them it loads the file bytes `[0, _edata)` to
//!   1 MiB as a flat binary. The linker script keeps file offset = address - 1 MiB so
//!   that this is the same memory image as the ELF program headers describe.
//! - **PVH** (`EBX` = `hvm_start_info`), found through the `XEN_ELFNOTE_PHYS32_ENTRY`
//!   note. QEMU, Firecracker and Xen load the ELF segments themselves.
//!
//! Both enter in 32-bit protected mode with paging off and no stack. The entry records
//! the TSC, identity-maps the first 4 GiB with 2 MiB pages, turns on long mode (and NX
//! when the CPU has it) and calls [`crate::uk_kvm_entry64`] with the magic and info
//! pointer, which builds the real page tables.
#![cfg(not(test))]

use core::arch::global_asm;

/// Stacks in .bss, each with an unmapped guard page below it (see `crate::mm`): the
/// boot stack (the kernel's first thread) and the interrupt stacks (IST1-5).
pub const BOOT_STACK: usize = 64 << 10;
pub const IST_STACK: usize = 16 << 10;
pub const IST_COUNT: usize = 5;
pub const GUARD: usize = 4096;

extern "C" {
    static uk_kvm_stacks: u8;
}

/// The kernel's stacks as (bottom, top): the boot stack first, then the interrupt
/// stacks in IST order. Each has a guard page below it (left unmapped by `crate::mm`).
/// The layout lives here, with the block that reserves the stacks: memory setup and the
/// trap tables both read it from boot, neither from the other.
pub fn stacks() -> impl Iterator<Item = (usize, usize)> {
    let base = core::ptr::addr_of!(uk_kvm_stacks) as usize;
    let boot = (base + GUARD, base + GUARD + BOOT_STACK);
    let ist = (0..IST_COUNT).map(move |i| {
        let b = boot.1 + i * (GUARD + IST_STACK) + GUARD;
        (b, b + IST_STACK)
    });
    core::iter::once(boot).chain(ist)
}

global_asm!(
    // Multiboot v1 header: magic, flags (page-align modules, memory map, address
    // fields valid), checksum, then header/load/load_end/bss_end/entry addresses.
    ".section .multiboot, \"a\"",
    ".balign 4",
    "uk_kvm_mb_header:",
    ".long 0x1badb002",
    ".long 0x00010003",
    ".long -(0x1badb002 + 0x00010003)",
    ".long uk_kvm_mb_header",
    ".long __uk_image_start",
    ".long _edata",
    ".long _end",
    ".long _uk_start",
    // PVH entry note (type 18, name "Xen"): the 32-bit physical entry address. QEMU
    // reads the descriptor as a machine word, so it is 8 bytes.
    ".section .note.Xen, \"a\", @note",
    ".balign 4",
    ".long 4",
    ".long 8",
    ".long 18",
    ".asciz \"Xen\"",
    ".balign 4",
    ".quad _uk_start",
    // Boot page tables: PML4, one PDPT, four page directories (4 GiB of 2 MiB pages).
    ".section .bss.uk_kvm_boot, \"aw\", @nobits",
    ".balign 4096",
    "uk_kvm_boot_pml4: .skip 4096",
    "uk_kvm_boot_pdpt: .skip 4096",
    "uk_kvm_boot_pd: .skip 4 * 4096",
    ".global uk_kvm_stacks",
    "uk_kvm_stacks:",
    ".skip {guard}",
    ".skip {boot}",
    "uk_kvm_boot_stack_top:",
    ".rept {ist_n}",
    ".skip {guard}",
    ".skip {ist}",
    ".endr",
    ".global uk_kvm_stacks_end",
    "uk_kvm_stacks_end:",
    // GDT: null, 64-bit code (0x08), data (0x10), TSS (0x18, two slots, filled in
    // Rust). Accessed bits preset so the CPU never writes to the table.
    ".section .data.uk_kvm_gdt, \"aw\"",
    ".balign 16",
    ".global uk_kvm_gdt",
    "uk_kvm_gdt:",
    ".quad 0",
    ".quad 0x00af9b000000ffff",
    ".quad 0x00cf93000000ffff",
    ".quad 0",
    ".quad 0",
    ".global uk_kvm_gdt_ptr",
    "uk_kvm_gdt_ptr:",
    ".word 5 * 8 - 1",
    ".quad uk_kvm_gdt",
    // The entry, 32-bit.
    ".section .text.uk_kvm_boot, \"ax\"",
    ".code32",
    ".global _uk_start",
    ".type _uk_start, @function",
    "_uk_start:",
    "cli",
    "cld",
    "movl %eax, %edi",
    "movl %ebx, %esi",
    "rdtsc",
    "movl %eax, uk_kvm_tsc_entry",
    "movl %edx, uk_kvm_tsc_entry + 4",
    "movl $uk_kvm_boot_stack_top, %esp",
    // Long mode (CPUID 0x80000001 EDX bit 29) is required.
    "movl $0x80000000, %eax",
    "cpuid",
    "cmpl $0x80000001, %eax",
    "jb 9f",
    "movl $0x80000001, %eax",
    "cpuid",
    "btl $29, %edx",
    "jnc 9f",
    "movl %edx, %ebp",
    // PML4[0] -> PDPT; PDPT[0..4] -> PD[0..4]; PD[i] = i * 2 MiB, present+write+huge.
    "movl $uk_kvm_boot_pdpt + 3, %eax",
    "movl %eax, uk_kvm_boot_pml4",
    "xorl %ecx, %ecx",
    "1:",
    "movl %ecx, %eax",
    "shll $12, %eax",
    "addl $uk_kvm_boot_pd + 3, %eax",
    "movl %eax, uk_kvm_boot_pdpt(,%ecx,8)",
    "incl %ecx",
    "cmpl $4, %ecx",
    "jb 1b",
    "xorl %ecx, %ecx",
    "2:",
    "movl %ecx, %eax",
    "shll $21, %eax",
    "orl $0x83, %eax",
    "movl %eax, uk_kvm_boot_pd(,%ecx,8)",
    "incl %ecx",
    "cmpl $2048, %ecx",
    "jb 2b",
    // CR4.PAE, CR3, EFER.LME (+NXE when CPUID says so), CR0.PG.
    "movl %cr4, %eax",
    "orl $0x20, %eax",
    "movl %eax, %cr4",
    "movl $uk_kvm_boot_pml4, %eax",
    "movl %eax, %cr3",
    "movl $0xc0000080, %ecx",
    "rdmsr",
    "orl $0x100, %eax",
    "btl $20, %ebp",
    "jnc 3f",
    "orl $0x800, %eax",
    "3:",
    "wrmsr",
    "movl %cr0, %eax",
    "orl $0x80000001, %eax",
    "movl %eax, %cr0",
    "lgdt uk_kvm_gdt_ptr",
    "ljmp $0x08, $4f",
    // No long mode: say so on COM1 and stop.
    "9:",
    "movl $uk_kvm_no_lm_msg, %esi",
    "8:",
    "movb (%esi), %al",
    "testb %al, %al",
    "jz 7f",
    "movw $0x3f8, %dx",
    "outb %al, %dx",
    "incl %esi",
    "jmp 8b",
    "7:",
    "cli",
    "hlt",
    "jmp 7b",
    ".code64",
    "4:",
    "movl $0x10, %eax",
    "movw %ax, %ds",
    "movw %ax, %es",
    "movw %ax, %ss",
    "xorl %eax, %eax",
    "movw %ax, %fs",
    "movw %ax, %gs",
    // SSE on (the compiled Rust and C code uses it everywhere): CR0.EM off, CR0.MP
    // on, CR4.OSFXSR and OSXMMEXCPT on; x87 reset.
    "movq %cr0, %rax",
    "andq $~4, %rax",
    "orq $2, %rax",
    "movq %rax, %cr0",
    "movq %cr4, %rax",
    "orq $0x600, %rax",
    "movq %rax, %cr4",
    "fninit",
    "movq $uk_kvm_boot_stack_top, %rsp",
    "movl %edi, %edi",
    "movl %esi, %esi",
    "xorl %ebp, %ebp",
    "call uk_kvm_entry64",
    "ud2",
    ".size _uk_start, . - _uk_start",
    ".section .rodata.uk_kvm_boot, \"a\"",
    "uk_kvm_no_lm_msg: .asciz \"ukit: this CPU has no 64-bit long mode; cannot boot\\r\\n\"",
    ".text",
    guard = const GUARD,
    boot = const BOOT_STACK,
    ist = const IST_STACK,
    ist_n = const IST_COUNT,
    options(att_syntax)
);
