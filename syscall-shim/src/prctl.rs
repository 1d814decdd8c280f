//! prctl(2): https://man7.org/linux/man-pages/man2/prctl.2.html
//!
//! Thread names, the dumpable flag, the parent-death signal and the child subreaper
//! flag; every other option is EINVAL (what Linux answers for an option it does not
//! know).

use crate::table::{row, Row};
use crate::{Args, Errno, KResult};
use uk_abi::prctl::{
    PR_GET_CHILD_SUBREAPER, PR_GET_DUMPABLE, PR_GET_NAME, PR_GET_PDEATHSIG, PR_SET_CHILD_SUBREAPER,
    PR_SET_DUMPABLE, PR_SET_NAME, PR_SET_PDEATHSIG,
};
use uk_abi::sysno::SYS_PRCTL;
use uk_posix::process::current;
use uk_posix::rusage;
use uk_posix::user;

pub fn sys_prctl(a: &Args) -> KResult<usize> {
    match a[0] as i32 {
        PR_SET_NAME => {
            // Linux copies 16 bytes and terminates; read up to the NUL within them.
            let mut name = [0u8; 16];
            for (i, b) in name.iter_mut().enumerate().take(15) {
                *b = user::read::<u8>(a[1] + i)?;
                if *b == 0 {
                    break;
                }
            }
            rusage::set_name(&name);
            Ok(0)
        }
        PR_GET_NAME => {
            user::write(a[1], &current().info.name())?;
            Ok(0)
        }
        PR_SET_DUMPABLE => current().info.set_dumpable(a[1] as u64).map(|_| 0),
        PR_GET_DUMPABLE => Ok(current().info.dumpable() as usize),
        PR_SET_PDEATHSIG => rusage::set_pdeathsig(a[1] as u64).map(|_| 0),
        PR_GET_PDEATHSIG => {
            user::write(a[1], &rusage::pdeathsig())?;
            Ok(0)
        }
        PR_SET_CHILD_SUBREAPER => {
            uk_posix::lifecycle::set_child_subreaper(a[1] != 0);
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => {
            user::write(a[1], &(uk_posix::lifecycle::child_subreaper() as i32))?;
            Ok(0)
        }
        other => {
            uk_log::warn_once!("prctl option {other} is not supported: EINVAL");
            Err(Errno::EINVAL)
        }
    }
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[row(SYS_PRCTL, sys_prctl)];
