//! seccomp(2) and classic BPF values, for the linuxu platform's host-call filter.

pub const SECCOMP_SET_MODE_FILTER: u32 = 1;
pub const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
pub const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
/// `AUDIT_ARCH_X86_64`: the `arch` word of `struct seccomp_data` on x86_64.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// Set in x32 system call numbers.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// Offsets in `struct seccomp_data`.
pub const SECCOMP_DATA_NR: u32 = 0;
pub const SECCOMP_DATA_ARCH: u32 = 4;
pub const SECCOMP_DATA_ARGS: u32 = 16;

/// BPF instruction classes and modes used by the filter.
pub const BPF_LD_W_ABS: u16 = 0x20;
pub const BPF_JEQ_K: u16 = 0x15;
pub const BPF_JGE_K: u16 = 0x35;
pub const BPF_JSET_K: u16 = 0x45;
pub const BPF_RET_K: u16 = 0x06;
