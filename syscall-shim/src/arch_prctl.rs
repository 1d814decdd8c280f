//! arch_prctl(2): https://man7.org/linux/man-pages/man2/arch_prctl.2.html
//! musl sets its thread pointer with ARCH_SET_FS at start-up and for each thread.

use uk_abi::prctl::{ARCH_GET_FS, ARCH_GET_GS, ARCH_SET_FS, ARCH_SET_GS, TASK_SIZE};

use crate::table::{row, Row};
use crate::{Args, Errno, KResult};
use uk_abi::sysno::SYS_ARCH_PRCTL;
use uk_posix::{thread, user};

pub fn sys_arch_prctl(a: &Args) -> KResult<usize> {
    // The option is an `int`: Linux ignores the upper half of the register.
    match a[0] as u32 {
        ARCH_SET_FS => {
            if a[1] >= TASK_SIZE {
                return Err(Errno::EPERM);
            }
            thread::set_fs(a[1]);
            Ok(0)
        }
        ARCH_GET_FS => {
            user::write(a[1], &thread::fs())?;
            Ok(0)
        }
        ARCH_SET_GS | ARCH_GET_GS => {
            uk_log::warn_once!("arch_prctl: %gs is reserved for the kernel: EINVAL");
            Err(Errno::EINVAL)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[row(SYS_ARCH_PRCTL, sys_arch_prctl)];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::SYS_ARCH_PRCTL;
    use uk_abi::Errno;

    #[test]
    fn set_get_fs() {
        crate::table::tests::setup();
        let v: &'static mut [u8] = Box::leak(vec![0u8; 8].into_boxed_slice());
        let a = v.as_ptr() as usize;
        uk_posix::user::add_static_range(a, a + 8, true);
        assert_eq!(
            dispatch(SYS_ARCH_PRCTL, &[0x1002, 0x1234_5000, 0, 0, 0, 0]),
            0
        );
        assert_eq!(dispatch(SYS_ARCH_PRCTL, &[0x1003, a, 0, 0, 0, 0]), 0);
        assert_eq!(uk_posix::user::read::<usize>(a).unwrap(), 0x1234_5000);
        assert_eq!(
            dispatch(SYS_ARCH_PRCTL, &[0x1002, 0xffff_8000_0000_0000, 0, 0, 0, 0]),
            Errno::EPERM.as_neg(),
            "EPERM"
        );
        assert_eq!(
            dispatch(SYS_ARCH_PRCTL, &[0x1003, 0x10, 0, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
        assert_eq!(
            dispatch(SYS_ARCH_PRCTL, &[0x9999, 0, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
    }
}
