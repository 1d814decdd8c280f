//! prctl(2) options and arch_prctl(2) codes.

pub const PR_SET_PDEATHSIG: i32 = 1;
pub const PR_GET_PDEATHSIG: i32 = 2;
pub const PR_GET_DUMPABLE: i32 = 3;
pub const PR_SET_DUMPABLE: i32 = 4;
pub const PR_SET_NAME: i32 = 15;
pub const PR_GET_NAME: i32 = 16;
pub const PR_SET_CHILD_SUBREAPER: i32 = 36;
pub const PR_GET_CHILD_SUBREAPER: i32 = 37;
pub const PR_SET_NO_NEW_PRIVS: i32 = 38;
/// Bytes of a thread name with its NUL (PR_SET_NAME, /proc/PID/comm).
pub const TASK_COMM_LEN: usize = 16;

pub const ARCH_SET_GS: u32 = 0x1001;
pub const ARCH_SET_FS: u32 = 0x1002;
pub const ARCH_GET_FS: u32 = 0x1003;
pub const ARCH_GET_GS: u32 = 0x1004;

/// The top of the x86_64 user address range (47-bit canonical, less one guard page):
/// FS/GS bases at or above it are refused.
pub const TASK_SIZE: usize = 0x0000_7fff_ffff_f000;
