//! mknod(2), mknodat(2): https://man7.org/linux/man-pages/man2/mknod.2.html
//!
//! Regular files, FIFOs (mkfifo) and socket nodes; device nodes are EPERM (see
//! `uk_posix::fs::mknodat`). The device number argument is only read for devices, so it
//! is ignored here.

use crate::open::path;
use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, KResult};
use uk_abi::fcntl::AT_FDCWD;
use uk_abi::sysno::{SYS_MKNOD, SYS_MKNODAT};
use uk_posix::fs;

pub fn sys_mknod(a: &Args) -> KResult<usize> {
    fs::mknodat(AT_FDCWD, &path(a[0])?, a[1] as u32).map(|_| 0)
}

pub fn sys_mknodat(a: &Args) -> KResult<usize> {
    fs::mknodat(a[0] as i32, &path(a[1])?, a[2] as u32).map(|_| 0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_MKNOD, sys_mknod).shows(&[Arg::Path, Arg::Mode, Arg::Hex]),
    row(SYS_MKNODAT, sys_mknodat).shows(&[Arg::Fd, Arg::Path, Arg::Mode, Arg::Hex]),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::{SYS_MKNOD, SYS_NEWFSTATAT, SYS_UNLINK};
    use uk_abi::Errno;

    #[test]
    fn fifo_socket_and_refused_devices() {
        let _g = uk_posix::testplat::serial();
        crate::open::tests::setup();
        let a = crate::table::tests::buf(4096);
        let name = b"/mknod-test-node\0";
        uk_posix::user::copy_out(a, name).unwrap();
        let st = a + 256;
        let _ = dispatch(SYS_UNLINK, &[a, 0, 0, 0, 0, 0]);
        assert_eq!(dispatch(SYS_MKNOD, &[a, 0o010644, 0, 0, 0, 0]), 0);
        assert_eq!(
            dispatch(SYS_MKNOD, &[a, 0o010644, 0, 0, 0, 0]),
            Errno::EEXIST.as_neg()
        );
        let at_fdcwd = uk_abi::fcntl::AT_FDCWD as isize as usize;
        assert_eq!(dispatch(SYS_NEWFSTATAT, &[at_fdcwd, a, st, 0, 0, 0]), 0);
        let s: uk_abi::stat::Stat = uk_posix::user::read(st).unwrap();
        assert_eq!(s.st_mode & 0o170000, 0o010000);
        assert_eq!(dispatch(SYS_UNLINK, &[a, 0, 0, 0, 0, 0]), 0);
        assert_eq!(dispatch(SYS_MKNOD, &[a, 0o140600, 0, 0, 0, 0]), 0);
        assert_eq!(dispatch(SYS_NEWFSTATAT, &[at_fdcwd, a, st, 0, 0, 0]), 0);
        let s: uk_abi::stat::Stat = uk_posix::user::read(st).unwrap();
        assert_eq!(s.st_mode & 0o170000, 0o140000);
        assert_eq!(dispatch(SYS_UNLINK, &[a, 0, 0, 0, 0, 0]), 0);
        // Devices: EPERM; an unknown type: EINVAL; a bad path pointer: EFAULT.
        assert_eq!(
            dispatch(SYS_MKNOD, &[a, 0o020644, 0x103, 0, 0, 0]),
            Errno::EPERM.as_neg()
        );
        assert_eq!(
            dispatch(SYS_MKNOD, &[a, 0o170644, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        assert_eq!(
            dispatch(SYS_MKNOD, &[8, 0o010644, 0, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
    }
}
