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
    pub const MPROTECT: usize = 10;
    pub const SIGALTSTACK: usize = 131;
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
    // hostfs (host directories mounted into the image).
    pub const CLOSE: usize = 3;
    pub const FSTAT: usize = 5;
    pub const LSEEK: usize = 8;
    pub const PREAD64: usize = 17;
    pub const PWRITE64: usize = 18;
    pub const FSYNC: usize = 74;
    pub const FDATASYNC: usize = 75;
    pub const FTRUNCATE: usize = 77;
    pub const GETCWD: usize = 79;
    pub const FSTATFS: usize = 138;
    pub const GETDENTS64: usize = 217;
    pub const OPENAT: usize = 257;
    pub const MKDIRAT: usize = 258;
    pub const FCHOWNAT: usize = 260;
    pub const UNLINKAT: usize = 263;
    pub const LINKAT: usize = 265;
    pub const SYMLINKAT: usize = 266;
    pub const READLINKAT: usize = 267;
    pub const FCHMODAT: usize = 268;
    pub const UTIMENSAT: usize = 280;
    pub const RENAMEAT2: usize = 316;
    // Network devices (net.rs), at boot only: passt's UNIX socket.
    pub const SOCKET: usize = 41;
    pub const CONNECT: usize = 42;
}

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
];

/// The host calls allowed after boot: console, memory release and protection, idle
/// wait, clock, TLS, exit, and the fault and SIGSYS reports' own return.
pub const RUNTIME_CALLS: &[usize] = &[
    nr::READ,
    nr::WRITE,
    nr::MADVISE,
    nr::MPROTECT,
    nr::ARCH_PRCTL,
    nr::CLOCK_GETTIME,
    nr::PPOLL,
    nr::EXIT,
    nr::EXIT_GROUP,
    nr::RT_SIGRETURN,
    // hostfs; getcwd is boot-only.
    nr::CLOSE,
    nr::FSTAT,
    nr::LSEEK,
    nr::PREAD64,
    nr::PWRITE64,
    nr::FSYNC,
    nr::FDATASYNC,
    nr::FTRUNCATE,
    nr::FSTATFS,
    nr::GETDENTS64,
    nr::OPENAT,
    nr::MKDIRAT,
    nr::FCHOWNAT,
    nr::UNLINKAT,
    nr::LINKAT,
    nr::SYMLINKAT,
    nr::READLINKAT,
    nr::FCHMODAT,
    nr::UTIMENSAT,
    nr::RENAMEAT2,
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
