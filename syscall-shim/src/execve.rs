//! execve(2): https://man7.org/linux/man-pages/man2/execve.2.html
//!
//! The program file comes from the image's file system (uk_posix::exec, the loader).
//! execveat(2) and fork(2) have no row: ENOSYS, logged once.

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, KResult};
use uk_abi::sysno::SYS_EXECVE;

pub fn sys_execve(a: &Args) -> KResult<usize> {
    uk_posix::exec::execve(a[0], a[1], a[2])
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[row(SYS_EXECVE, sys_execve).shows(&[Arg::Path, Arg::Hex, Arg::Hex])];
