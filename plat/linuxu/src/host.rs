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

/// Host system call numbers are the Linux ABI's (`uk_abi::sysno`): `nr::SYS_READ`.
pub use uk_abi::sysno as nr;

/// Every host system call a linuxu image makes, by name: at boot (before the filter
/// closes) and after. The seccomp filter allows [`RUNTIME_CALLS`] only.
pub const HOST_CALLS: &[&str] = &[
    "read",
    "write",
    "mmap",
    "mprotect",
    "sigaltstack",
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
    "prlimit64",
    "seccomp",
    "rt_sigreturn",
    "close",
    "fstat",
    "lseek",
    "pread64",
    "pwrite64",
    "fsync",
    "fdatasync",
    "ftruncate",
    "getcwd",
    "fstatfs",
    "getdents64",
    "openat",
    "mkdirat",
    "mknodat",
    "umask",
    "fchownat",
    "unlinkat",
    "linkat",
    "symlinkat",
    "readlinkat",
    "fchmodat",
    "utimensat",
    "renameat2",
    "socket",
    "connect",
    "memfd_create",
    "sysinfo",
    "setitimer",
];

/// The host calls allowed after boot: console, memory release, protection and
/// aliasing, idle wait, clock, TLS, exit, and the fault and SIGSYS reports' own return.
/// `mmap` is allowed with narrower arguments only (`crate::seccomp`), so it is not
/// in this list.
pub const RUNTIME_CALLS: &[usize] = &[
    nr::SYS_READ,
    nr::SYS_WRITE,
    nr::SYS_MADVISE,
    nr::SYS_MPROTECT,
    nr::SYS_ARCH_PRCTL,
    nr::SYS_CLOCK_GETTIME,
    nr::SYS_PPOLL,
    nr::SYS_EXIT,
    nr::SYS_EXIT_GROUP,
    nr::SYS_RT_SIGRETURN,
    // The preemption timer (interrupt.rs).
    nr::SYS_SETITIMER,
    // hostfs; getcwd is boot-only.
    nr::SYS_CLOSE,
    nr::SYS_FSTAT,
    nr::SYS_LSEEK,
    nr::SYS_PREAD64,
    nr::SYS_PWRITE64,
    nr::SYS_FSYNC,
    nr::SYS_FDATASYNC,
    nr::SYS_FTRUNCATE,
    nr::SYS_FSTATFS,
    nr::SYS_GETDENTS64,
    nr::SYS_OPENAT,
    nr::SYS_MKDIRAT,
    nr::SYS_MKNODAT,
    nr::SYS_FCHOWNAT,
    nr::SYS_UNLINKAT,
    nr::SYS_LINKAT,
    nr::SYS_SYMLINKAT,
    nr::SYS_READLINKAT,
    nr::SYS_FCHMODAT,
    nr::SYS_UTIMENSAT,
    nr::SYS_RENAMEAT2,
];

/// Make a host system call. Returns the raw result (negative errno on failure).
#[inline]
pub fn call(n: usize, a: [usize; 6]) -> isize {
    // SAFETY: the assembly routine follows the SysV ABI and only executes `syscall`;
    // each caller in this crate passes arguments valid for that host call.
    unsafe { uk_linuxu_hostcall(n, a[0], a[1], a[2], a[3], a[4], a[5]) }
}

pub fn write(fd: usize, buf: &[u8]) -> isize {
    call(
        nr::SYS_WRITE,
        [fd, buf.as_ptr() as usize, buf.len(), 0, 0, 0],
    )
}

/// End the image: every way out (exit, fatal signal, fault, panic) comes here, so the
/// host terminal's settings go back here too (`crate::console`).
pub fn exit_group(status: i32) -> ! {
    crate::console::restore_host_termios();
    call(nr::SYS_EXIT_GROUP, [status as usize, 0, 0, 0, 0, 0]);
    // exit_group cannot fail; if the filter were wrong we would still not return.
    loop {
        call(nr::SYS_EXIT, [status as usize, 0, 0, 0, 0, 0]);
    }
}
