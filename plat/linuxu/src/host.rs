//! Host system calls: the only `syscall` instructions in a linuxu image.
//!
//! Two assembly routines hold them: `uk_linuxu_hostcall` (every host call) and
//! `uk_linuxu_sigreturn` (the restorer of the SIGSYS report handler). Tests check with
//! objdump that no other code in an image executes `syscall`, and with strace that the
//! image only uses [`HOST_CALLS`].

use core::arch::global_asm;

global_asm!(
    ".text",
    ".global uk_linuxu_hostcall",
    ".type uk_linuxu_hostcall,@function",
    // long uk_linuxu_hostcall(long n, long a1, ..., long a6): SysV in, Linux out.
    "uk_linuxu_hostcall:",
    "mov rax, rdi",
    "mov rdi, rsi",
    "mov rsi, rdx",
    "mov rdx, rcx",
    "mov r10, r8",
    "mov r8, r9",
    "mov r9, [rsp+8]",
    "syscall",
    "ret",
    ".size uk_linuxu_hostcall, .-uk_linuxu_hostcall",
    "",
    ".global uk_linuxu_sigreturn",
    ".type uk_linuxu_sigreturn,@function",
    "uk_linuxu_sigreturn:",
    "mov eax, 15",
    "syscall",
    "ud2",
    ".size uk_linuxu_sigreturn, .-uk_linuxu_sigreturn",
);

extern "C" {
    fn uk_linuxu_hostcall(
        n: usize,
        a1: usize,
        a2: usize,
        a3: usize,
        a4: usize,
        a5: usize,
        a6: usize,
    ) -> isize;
    pub(crate) fn uk_linuxu_sigreturn();
}

/// Host system call numbers the platform uses.
pub mod nr {
    pub const READ: usize = 0;
    pub const WRITE: usize = 1;
    pub const MMAP: usize = 9;
    pub const RT_SIGACTION: usize = 13;
    pub const IOCTL: usize = 16;
    pub const MADVISE: usize = 28;
    pub const EXIT: usize = 60;
    pub const PRCTL: usize = 157;
    pub const ARCH_PRCTL: usize = 158;
    pub const CLOCK_GETTIME: usize = 228;
    pub const EXIT_GROUP: usize = 231;
    pub const PPOLL: usize = 271;
    pub const GETRANDOM: usize = 318;
    pub const SECCOMP: usize = 317;
    pub const RT_SIGRETURN: usize = 15;
}

/// Every host system call a linuxu image makes, by name: at boot (before the filter
/// closes) and after. The seccomp filter allows [`RUNTIME_CALLS`] only.
pub const HOST_CALLS: &[&str] = &[
    "read",
    "write",
    "mmap",
    "rt_sigaction",
    "ioctl",
    "madvise",
    "exit",
    "prctl",
    "arch_prctl",
    "clock_gettime",
    "exit_group",
    "ppoll",
    "getrandom",
    "seccomp",
    "rt_sigreturn",
];

/// The host calls allowed after boot: console, memory release, idle wait, clock, TLS,
/// exit, and the SIGSYS report's own return.
pub const RUNTIME_CALLS: &[usize] = &[
    nr::READ,
    nr::WRITE,
    nr::MADVISE,
    nr::ARCH_PRCTL,
    nr::CLOCK_GETTIME,
    nr::PPOLL,
    nr::EXIT,
    nr::EXIT_GROUP,
    nr::RT_SIGRETURN,
];

/// Make a host system call. Returns the raw result (negative errno on failure).
#[inline]
pub fn call(n: usize, a: [usize; 6]) -> isize {
    // SAFETY: the assembly routine follows the SysV ABI and only executes `syscall`;
    // each caller in this crate passes arguments valid for that host call.
    unsafe { uk_linuxu_hostcall(n, a[0], a[1], a[2], a[3], a[4], a[5]) }
}

pub fn write(fd: usize, buf: &[u8]) -> isize {
    call(nr::WRITE, [fd, buf.as_ptr() as usize, buf.len(), 0, 0, 0])
}

pub fn exit_group(status: i32) -> ! {
    call(nr::EXIT_GROUP, [status as usize, 0, 0, 0, 0, 0]);
    // exit_group cannot fail; if the filter were wrong we would still not return.
    loop {
        call(nr::EXIT, [status as usize, 0, 0, 0, 0, 0]);
    }
}
