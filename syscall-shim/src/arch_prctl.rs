//! arch_prctl(2): https://man7.org/linux/man-pages/man2/arch_prctl.2.html
//! musl sets its thread pointer with ARCH_SET_FS at start-up and for each thread.

use crate::{Args, Errno, KResult};
use uk_posix::{thread, user};

const ARCH_SET_GS: usize = 0x1001;
const ARCH_SET_FS: usize = 0x1002;
const ARCH_GET_FS: usize = 0x1003;
const ARCH_GET_GS: usize = 0x1004;

/// Highest user address + 1 on x86_64 with 4-level paging. Loading a non-canonical
/// base would fault in the kernel (WRFSBASE raises #GP), so it is refused as Linux does.
const TASK_SIZE: usize = 0x0000_7fff_ffff_f000;

pub fn sys_arch_prctl(a: &Args) -> KResult<usize> {
    match a[0] {
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
pub const ENTRIES: &[(usize, crate::Handler)] = &[(158, sys_arch_prctl)];

#[cfg(test)]
mod tests {
    use crate::dispatch;

    #[test]
    fn set_get_fs() {
        crate::table::tests::setup();
        let v: &'static mut [u8] = Box::leak(vec![0u8; 8].into_boxed_slice());
        let a = v.as_ptr() as usize;
        uk_posix::user::add_static_range(a, a + 8, true);
        assert_eq!(dispatch(158, &[0x1002, 0x1234_5000, 0, 0, 0, 0]), 0);
        assert_eq!(dispatch(158, &[0x1003, a, 0, 0, 0, 0]), 0);
        assert_eq!(uk_posix::user::read::<usize>(a).unwrap(), 0x1234_5000);
        assert_eq!(
            dispatch(158, &[0x1002, 0xffff_8000_0000_0000, 0, 0, 0, 0]),
            -1,
            "EPERM"
        );
        assert_eq!(dispatch(158, &[0x1003, 0x10, 0, 0, 0, 0]), -14);
        assert_eq!(dispatch(158, &[0x9999, 0, 0, 0, 0, 0]), -22);
    }
}
