//! sendfile(2): https://man7.org/linux/man-pages/man2/sendfile.2.html

use crate::table::{row, Row};
use crate::{Args, Errno, KResult};
use uk_abi::sysno::SYS_SENDFILE;
use uk_posix::{fs, user};

pub fn sys_sendfile(a: &Args) -> KResult<usize> {
    let count = a[3].min(0x7fff_f000);
    if a[2] == 0 {
        return fs::sendfile(a[0] as i32, a[1] as i32, None, count);
    }
    let off: i64 = user::read(a[2])?;
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    let mut o = off as u64;
    let n = fs::sendfile(a[0] as i32, a[1] as i32, Some(&mut o), count)?;
    user::write(a[2], &(o as i64))?;
    Ok(n)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[row(SYS_SENDFILE, sys_sendfile)];
