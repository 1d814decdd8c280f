//! fadvise64(2), fallocate(2): https://man7.org/linux/man-pages/man2/fallocate.2.html

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, KResult};
use uk_abi::sysno::{SYS_FADVISE64, SYS_FALLOCATE};
use uk_posix::fs::space;

pub fn sys_fadvise64(a: &Args) -> KResult<usize> {
    space::fadvise(a[0] as i32, a[1] as i64, a[2] as i64, a[3] as u32).map(|_| 0)
}

pub fn sys_fallocate(a: &Args) -> KResult<usize> {
    space::fallocate(a[0] as i32, a[1] as u32, a[2] as i64, a[3] as i64).map(|_| 0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_FADVISE64, sys_fadvise64).shows(&[Arg::Fd, Arg::Int, Arg::Int, Arg::Int]),
    row(SYS_FALLOCATE, sys_fallocate).shows(&[Arg::Fd, Arg::Hex, Arg::Int, Arg::Int]),
];
