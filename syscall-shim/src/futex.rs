//! futex(2): https://man7.org/linux/man-pages/man2/futex.2.html

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::sysno::SYS_FUTEX;
use uk_posix::futex::{self, Timeout};
use uk_posix::{time, user};

fn timespec_ns(addr: usize) -> KResult<u64> {
    time::timespec_to_ns(&user::read(addr)?)
}

pub fn sys_futex(a: &Args) -> KResult<usize> {
    let (uaddr, op, val, utime, uaddr2, val3) =
        (a[0], a[1] as u32, a[2] as u32, a[3], a[4], a[5] as u32);
    let cmd = op & !(uk_abi::sched::FUTEX_PRIVATE_FLAG | uk_abi::sched::FUTEX_CLOCK_REALTIME);
    let realtime = op & uk_abi::sched::FUTEX_CLOCK_REALTIME != 0;
    if realtime && cmd != uk_abi::sched::FUTEX_WAIT_BITSET && cmd != uk_abi::sched::FUTEX_WAIT {
        return Err(Errno::ENOSYS);
    }
    match cmd {
        uk_abi::sched::FUTEX_WAIT => {
            let t = if utime == 0 {
                Timeout::None
            } else if realtime {
                Timeout::Absolute {
                    ns: timespec_ns(utime)?,
                    realtime: true,
                }
            } else {
                Timeout::Relative(timespec_ns(utime)?)
            };
            futex::wait(uaddr, val, t, uk_abi::sched::FUTEX_BITSET_MATCH_ANY).map(|_| 0)
        }
        uk_abi::sched::FUTEX_WAIT_BITSET => {
            let t = if utime == 0 {
                Timeout::None
            } else {
                Timeout::Absolute {
                    ns: timespec_ns(utime)?,
                    realtime,
                }
            };
            futex::wait(uaddr, val, t, val3).map(|_| 0)
        }
        uk_abi::sched::FUTEX_WAKE => futex::wake(uaddr, val, uk_abi::sched::FUTEX_BITSET_MATCH_ANY),
        uk_abi::sched::FUTEX_WAKE_BITSET => futex::wake(uaddr, val, val3),
        // For the requeue ops the 4th argument is a count, not a pointer.
        uk_abi::sched::FUTEX_REQUEUE => futex::requeue(uaddr, val, utime as u32, uaddr2, None),
        uk_abi::sched::FUTEX_CMP_REQUEUE => {
            futex::requeue(uaddr, val, utime as u32, uaddr2, Some(val3))
        }
        _ => {
            uk_log::warn_once!(
                "futex: operation {cmd} is not supported (PI and WAKE_OP futexes): ENOSYS"
            );
            Err(Errno::ENOSYS)
        }
    }
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[row(SYS_FUTEX, sys_futex).shows(&[
    Arg::Hex,
    Arg::Int,
    Arg::Int,
    Arg::Hex,
    Arg::Hex,
    Arg::Hex,
])];
