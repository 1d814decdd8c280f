//! exit(2), exit_group(2): https://man7.org/linux/man-pages/man2/exit.2.html
//! With one thread both end the image; the status is the low 8 bits, as a parent
//! would see it.

use crate::{Args, KResult};

pub fn sys_exit(a: &Args) -> KResult<usize> {
    uk_plat::get().exit((a[0] & 0xff) as i32)
}

pub fn sys_exit_group(a: &Args) -> KResult<usize> {
    uk_plat::get().exit((a[0] & 0xff) as i32)
}
