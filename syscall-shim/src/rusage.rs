//! getrusage(2), times(2): https://man7.org/linux/man-pages/man2/getrusage.2.html

use crate::table::{row, Row};
use crate::{Args, KResult};
use uk_abi::sysno::{SYS_GETRUSAGE, SYS_TIMES};
use uk_posix::{rusage, user};

pub fn sys_getrusage(a: &Args) -> KResult<usize> {
    let r = uk_posix::process::current().info.getrusage(a[0] as i32)?;
    user::write(a[1], &r)?;
    Ok(0)
}

/// The buffer may be NULL; the result is the elapsed ticks.
pub fn sys_times(a: &Args) -> KResult<usize> {
    let (t, elapsed) = rusage::times();
    if a[0] != 0 {
        user::write(a[0], &t)?;
    }
    Ok(elapsed as usize)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[row(SYS_GETRUSAGE, sys_getrusage), row(SYS_TIMES, sys_times)];
