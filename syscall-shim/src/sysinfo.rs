//! sysinfo(2): https://man7.org/linux/man-pages/man2/sysinfo.2.html

use crate::table::{row, Row};
use crate::{Args, KResult};
use uk_abi::resource::Sysinfo;
use uk_abi::sysno::SYS_SYSINFO;
use uk_posix::{ident, user};

pub fn sys_sysinfo(a: &Args) -> KResult<usize> {
    let s = ident::sysinfo();
    // Loads, swap and high memory are zero.
    user::write(
        a[0],
        &Sysinfo {
            uptime: s.uptime_s,
            totalram: s.totalram,
            freeram: s.freeram,
            procs: s.procs,
            mem_unit: 1,
            ..Sysinfo::default()
        },
    )?;
    Ok(0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[row(SYS_SYSINFO, sys_sysinfo)];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::SYS_SYSINFO;
    use uk_abi::Errno;

    #[test]
    fn reports_memory() {
        crate::table::tests::setup();
        let v: &'static mut [u8] = Box::leak(vec![0u8; 112].into_boxed_slice());
        let a = v.as_ptr() as usize;
        uk_posix::user::add_static_range(a, a + 112, true);
        assert_eq!(dispatch(SYS_SYSINFO, &[a, 0, 0, 0, 0, 0]), 0);
        let total: u64 = uk_posix::user::read(a + 32).unwrap();
        let free: u64 = uk_posix::user::read(a + 40).unwrap();
        assert!(total > 0 && free <= total);
        assert_eq!(
            dispatch(SYS_SYSINFO, &[0, 0, 0, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
    }
}
