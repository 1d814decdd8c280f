//! ioctl(2): https://man7.org/linux/man-pages/man2/ioctl.2.html
//! The request goes to the open file; terminals answer TCGETS/TIOCGWINSZ, other files
//! ENOTTY, as on Linux.

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, KResult};
use uk_abi::sysno::SYS_IOCTL;
use uk_posix::process::current;

pub fn sys_ioctl(a: &Args) -> KResult<usize> {
    let f = current().fds.get(a[0] as i32)?;
    f.ioctl(a[1] as u32, a[2])
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[row(SYS_IOCTL, sys_ioctl).shows(&[Arg::Fd, Arg::Hex, Arg::Hex])];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::SYS_IOCTL;
    use uk_abi::Errno;

    #[test]
    fn tty_and_non_tty() {
        crate::table::tests::setup();
        let v: &'static mut [u8] = Box::leak(vec![0u8; 64].into_boxed_slice());
        let a = v.as_ptr() as usize;
        uk_posix::user::add_static_range(a, a + 64, true);
        // Test platform: fd 1 is not a terminal, fd 2 is.
        assert_eq!(
            dispatch(SYS_IOCTL, &[1, 0x5413, a, 0, 0, 0]),
            Errno::ENOTTY.as_neg(),
            "ENOTTY"
        );
        assert_eq!(dispatch(SYS_IOCTL, &[2, 0x5413, a, 0, 0, 0]), 0);
        assert_eq!(dispatch(SYS_IOCTL, &[2, 0x5401, a, 0, 0, 0]), 0, "TCGETS");
        assert_eq!(
            dispatch(SYS_IOCTL, &[2, 0x5401, 0, 0, 0, 0]),
            Errno::EFAULT.as_neg(),
            "EFAULT"
        );
        assert_eq!(
            dispatch(SYS_IOCTL, &[42, 0x5413, a, 0, 0, 0]),
            Errno::EBADF.as_neg(),
            "EBADF"
        );
    }
}
