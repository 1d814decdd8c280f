//! wait4(2), waitid(2) (musl's wait and waitpid are wait4):
//! https://man7.org/linux/man-pages/man2/wait4.2.html
//!
//! Children that ended are reported and reaped, stopped ones (WUNTRACED/WSTOPPED) and
//! continued ones (WCONTINUED) reported once each (uk_posix::lifecycle::wait).

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::resource::Rusage;
use uk_abi::sched::{P_ALL, P_PGID, P_PID, WCONTINUED, WEXITED, WNOHANG, WNOWAIT, WUNTRACED};
use uk_abi::signal::Siginfo;
use uk_abi::sysno::{SYS_WAIT4, SYS_WAITID};
use uk_posix::lifecycle::{self, Which};
use uk_posix::user;

/// Linux's __WNOTHREAD, __WALL and __WCLONE: accepted (every child is a process).
const WAIT_LINUX_FLAGS: u32 = 0x2000_0000 | 0x4000_0000 | 0x8000_0000;

pub fn sys_wait4(a: &Args) -> KResult<usize> {
    let (pid, status, options, rusage) = (a[0] as i32, a[1], a[2] as u32, a[3]);
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WAIT_LINUX_FLAGS) != 0 {
        return Err(Errno::EINVAL);
    }
    if pid == i32::MIN {
        return Err(Errno::ESRCH);
    }
    // Check the pointers before anything is reaped: a bad one must not lose a child.
    if status != 0 {
        user::check(status, 4, true)?;
    }
    if rusage != 0 {
        user::check(rusage, core::mem::size_of::<Rusage>(), true)?;
    }
    match lifecycle::wait(Which::from_wait4(pid), options | WEXITED)? {
        None => Ok(0),
        Some(w) => {
            if status != 0 {
                user::write(status, &w.status)?;
            }
            if rusage != 0 {
                user::write(rusage, &Rusage::default())?;
            }
            Ok(w.pid as usize)
        }
    }
}

pub fn sys_waitid(a: &Args) -> KResult<usize> {
    let (idtype, id, infop, options, rusage) = (a[0] as u32, a[1] as i32, a[2], a[3] as u32, a[4]);
    if options & !(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WAIT_LINUX_FLAGS) != 0 {
        return Err(Errno::EINVAL);
    }
    lifecycle::check_waitid_options(options)?;
    let which = match idtype {
        P_ALL => Which::Any,
        P_PID if id > 0 => Which::Pid(id),
        P_PGID if id > 0 => Which::Group(id),
        P_PGID if id == 0 => Which::from_wait4(0),
        _ => return Err(Errno::EINVAL),
    };
    if infop != 0 {
        user::check(infop, core::mem::size_of::<Siginfo>(), true)?;
    }
    if rusage != 0 {
        user::check(rusage, core::mem::size_of::<Rusage>(), true)?;
    }
    let w = lifecycle::wait(which, options)?;
    if infop != 0 {
        // WNOHANG with nothing to report: a zeroed siginfo (si_pid 0), as Linux writes.
        let info = match w {
            Some(w) => {
                let (code, st) = w.code_status();
                Siginfo::child(code, w.pid, 0, st, 0, 0)
            }
            None => Siginfo::default(),
        };
        user::write(infop, &info)?;
    }
    if rusage != 0 {
        user::write(rusage, &Rusage::default())?;
    }
    Ok(0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_WAIT4, sys_wait4).shows(&[Arg::Int, Arg::Hex, Arg::Hex, Arg::Hex]),
    row(SYS_WAITID, sys_waitid),
];
