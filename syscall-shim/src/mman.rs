//! brk(2), mmap(2), munmap(2), mremap(2), mprotect(2), madvise(2):
//! https://man7.org/linux/man-pages/man2/mmap.2.html

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, KResult};
use uk_abi::sysno::{SYS_BRK, SYS_MADVISE, SYS_MMAP, SYS_MPROTECT, SYS_MREMAP, SYS_MUNMAP};
use uk_posix::fs::mmap;

pub fn sys_brk(a: &Args) -> KResult<usize> {
    Ok(uk_posix::process::current().mm.brk(a[0]))
}

pub fn sys_mmap(a: &Args) -> KResult<usize> {
    mmap::mmap(
        a[0],
        a[1],
        a[2] as u32,
        a[3] as u32,
        a[4] as i32,
        a[5] as u64,
    )
}

pub fn sys_munmap(a: &Args) -> KResult<usize> {
    mmap::munmap(a[0], a[1]).map(|_| 0)
}

pub fn sys_mremap(a: &Args) -> KResult<usize> {
    uk_posix::process::current()
        .mm
        .mremap(a[0], a[1], a[2], a[3] as u32, a[4])
}

pub fn sys_mprotect(a: &Args) -> KResult<usize> {
    uk_posix::process::current()
        .mm
        .mprotect(a[0], a[1], a[2] as u32)
        .map(|_| 0)
}

pub fn sys_madvise(a: &Args) -> KResult<usize> {
    uk_posix::process::current()
        .mm
        .madvise(a[0], a[1], a[2] as u32)
        .map(|_| 0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_MMAP, sys_mmap).shows(&[
        Arg::Hex,
        Arg::Int,
        Arg::Prot,
        Arg::MFlags,
        Arg::Fd,
        Arg::Hex,
    ]),
    row(SYS_MPROTECT, sys_mprotect).shows(&[Arg::Hex, Arg::Int, Arg::Hex]),
    row(SYS_MUNMAP, sys_munmap).shows(&[Arg::Hex, Arg::Int, Arg::Hex]),
    row(SYS_BRK, sys_brk).shows(&[Arg::Hex]),
    row(SYS_MREMAP, sys_mremap),
    row(SYS_MADVISE, sys_madvise).shows(&[Arg::Hex, Arg::Int, Arg::Hex]),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::{SYS_MMAP, SYS_MUNMAP, SYS_WRITE};
    use uk_abi::Errno;

    #[test]
    fn map_write_unmap() {
        crate::table::tests::setup();
        let a = dispatch(SYS_MMAP, &[0, 8192, 3, 0x22, usize::MAX, 0]);
        assert!(a > 0);
        // write(1, a, 8192) from the new map is accepted: the map is program memory.
        assert_eq!(dispatch(SYS_WRITE, &[1, a as usize, 8192, 0, 0, 0]), 8192);
        assert_eq!(dispatch(SYS_MUNMAP, &[a as usize, 8192, 0, 0, 0, 0]), 0);
        assert_eq!(
            dispatch(SYS_WRITE, &[1, a as usize, 1, 0, 0, 0]),
            Errno::EFAULT.as_neg(),
            "unmapped: EFAULT"
        );
        assert_eq!(
            dispatch(SYS_MMAP, &[0, 0, 3, 0x22, usize::MAX, 0]),
            Errno::EINVAL.as_neg()
        );
    }
}
