//! memfd_create(2): https://man7.org/linux/man-pages/man2/memfd_create.2.html

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::mman::MFD_NAME_MAX;
use uk_abi::sysno::SYS_MEMFD_CREATE;
use uk_posix::{fs::memfd, user};

pub fn sys_memfd_create(a: &Args) -> KResult<usize> {
    // A name longer than Linux takes is EINVAL, not truncated.
    let name = match user::cstr(a[0], MFD_NAME_MAX) {
        Err(Errno::ENAMETOOLONG) => return Err(Errno::EINVAL),
        r => r?,
    };
    memfd::memfd_create(&name, a[1] as u32).map(|fd| fd as usize)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] =
    &[row(SYS_MEMFD_CREATE, sys_memfd_create).shows(&[Arg::Path, Arg::Hex])];
