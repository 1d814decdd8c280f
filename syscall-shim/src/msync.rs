//! msync(2): https://man7.org/linux/man-pages/man2/msync.2.html
//! Shared file maps show the file's page cache (uk_posix::fs::mmap); msync carries the
//! pages of maps that were writable to where the file lives.

use crate::table::{row, Row};
use crate::{Args, KResult};
use uk_abi::sysno::SYS_MSYNC;

pub fn sys_msync(a: &Args) -> KResult<usize> {
    uk_posix::fs::mmap::msync(a[0], a[1], a[2] as u32).map(|_| 0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[row(SYS_MSYNC, sys_msync)];
