//! The one table from system call number to handler (Linux x86_64 numbering).

use crate::names::NR_MAX;
use crate::Handler;
use crate::{
    arch_prctl, clock, exit, getrandom, ids, ioctl, mman, read_write, rlimit, signal, sleep,
    sysinfo, uname,
};

macro_rules! syscall_table {
    ($($nr:literal => $h:path),* $(,)?) => {{
        let mut t: [Option<Handler>; NR_MAX] = [None; NR_MAX];
        $( t[$nr] = Some($h); )*
        t
    }};
}

/// `TABLE[n]` serves system call `n`; `None` is ENOSYS (logged once by name).
pub static TABLE: [Option<Handler>; NR_MAX] = syscall_table! {
    0 => read_write::sys_read,
    1 => read_write::sys_write,
    3 => read_write::sys_close,
    5 => read_write::sys_fstat,
    8 => read_write::sys_lseek,
    9 => mman::sys_mmap,
    10 => mman::sys_mprotect,
    11 => mman::sys_munmap,
    12 => mman::sys_brk,
    13 => signal::sys_rt_sigaction,
    14 => signal::sys_rt_sigprocmask,
    16 => ioctl::sys_ioctl,
    17 => read_write::sys_pread64,
    18 => read_write::sys_pwrite64,
    19 => read_write::sys_readv,
    20 => read_write::sys_writev,
    25 => mman::sys_mremap,
    28 => mman::sys_madvise,
    35 => sleep::sys_nanosleep,
    39 => ids::sys_getpid,
    60 => exit::sys_exit,
    63 => uname::sys_uname,
    96 => clock::sys_gettimeofday,
    97 => rlimit::sys_getrlimit,
    99 => sysinfo::sys_sysinfo,
    102 => ids::sys_getuid,
    104 => ids::sys_getgid,
    107 => ids::sys_geteuid,
    108 => ids::sys_getegid,
    110 => ids::sys_getppid,
    160 => rlimit::sys_setrlimit,
    170 => uname::sys_sethostname,
    158 => arch_prctl::sys_arch_prctl,
    186 => ids::sys_gettid,
    201 => clock::sys_time,
    218 => ids::sys_set_tid_address,
    228 => clock::sys_clock_gettime,
    229 => clock::sys_clock_getres,
    230 => sleep::sys_clock_nanosleep,
    231 => exit::sys_exit_group,
    302 => rlimit::sys_prlimit64,
    318 => getrandom::sys_getrandom,
};

#[cfg(test)]
pub(crate) mod tests {
    pub(crate) fn setup() {
        uk_posix::testplat::setup();
    }

    #[test]
    fn handlers_match_names() {
        use crate::names::name;
        let expect = [
            (0, "read"),
            (1, "write"),
            (9, "mmap"),
            (12, "brk"),
            (158, "arch_prctl"),
            (218, "set_tid_address"),
            (302, "prlimit64"),
            (318, "getrandom"),
        ];
        for (n, nm) in expect {
            assert_eq!(name(n), Some(nm));
            assert!(super::TABLE[n].is_some(), "{nm} has a handler");
        }
        // Every handler sits at a number Linux defines.
        for (n, h) in super::TABLE.iter().enumerate() {
            if h.is_some() {
                assert!(name(n).is_some(), "handler at undefined number {n}");
            }
        }
    }
}
