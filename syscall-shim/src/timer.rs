//! timer_create(2), timer_settime(2), timer_gettime(2), timer_getoverrun(2),
//! timer_delete(2): https://man7.org/linux/man-pages/man2/timer_create.2.html

use crate::table::{row, Row};
use crate::timerfd::{read_itimerspec, write_itimerspec};
use crate::trace::Arg;
use crate::{Args, KResult};
use uk_abi::signal::Sigevent;
use uk_abi::sysno::{
    SYS_TIMER_CREATE, SYS_TIMER_DELETE, SYS_TIMER_GETOVERRUN, SYS_TIMER_GETTIME, SYS_TIMER_SETTIME,
};
use uk_abi::time::Itimerspec;
use uk_posix::process::current;
use uk_posix::user::{self, UserPtr};

/// A program thread of this process (a SIGEV_THREAD_ID target).
fn program_thread(tid: i32) -> bool {
    uk_sched::thread(tid).is_some_and(|t| !t.is_kernel())
}

pub fn sys_timer_create(a: &Args) -> KResult<usize> {
    let ev: Option<Sigevent> = match a[1] {
        0 => None,
        p => Some(user::read(p)?),
    };
    // The id is written after the timer exists: check the place first so that a bad
    // pointer leaves no timer behind.
    let out = UserPtr::<i32>::new(a[2]);
    out.check_writable()?;
    let timers = &current().ptimers;
    let id = timers.create(a[0] as i32, ev.as_ref(), program_thread)?;
    if let Err(e) = out.write(&id) {
        let _ = timers.delete(id);
        return Err(e);
    }
    Ok(0)
}

pub fn sys_timer_settime(a: &Args) -> KResult<usize> {
    // Linux reads the new setting before it looks the timer up.
    let new = read_itimerspec(a[2])?;
    let t = current().ptimers.get(a[0] as i32)?;
    if let Some(old) = UserPtr::<Itimerspec>::nonnull(a[3]) {
        old.check_writable()?;
    }
    let old = t.settime(a[1] as u32, new)?;
    if a[3] != 0 {
        write_itimerspec(a[3], old)?;
    }
    Ok(0)
}

pub fn sys_timer_gettime(a: &Args) -> KResult<usize> {
    let t = current().ptimers.get(a[0] as i32)?;
    write_itimerspec(a[1], t.gettime())?;
    Ok(0)
}

pub fn sys_timer_getoverrun(a: &Args) -> KResult<usize> {
    current().ptimers.overrun(a[0] as i32).map(|n| n as usize)
}

pub fn sys_timer_delete(a: &Args) -> KResult<usize> {
    current().ptimers.delete(a[0] as i32).map(|()| 0)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_TIMER_CREATE, sys_timer_create).shows(&[Arg::Int]),
    row(SYS_TIMER_SETTIME, sys_timer_settime).shows(&[Arg::Int, Arg::Int]),
    row(SYS_TIMER_GETTIME, sys_timer_gettime).shows(&[Arg::Int]),
    row(SYS_TIMER_GETOVERRUN, sys_timer_getoverrun).shows(&[Arg::Int]),
    row(SYS_TIMER_DELETE, sys_timer_delete).shows(&[Arg::Int]),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::{SYS_TIMER_CREATE, SYS_TIMER_DELETE, SYS_TIMER_GETTIME, SYS_TIMER_SETTIME};
    use uk_abi::Errno;

    #[test]
    fn create_arm_read_delete_and_bad_pointers() {
        let _g = uk_posix::testplat::serial();
        crate::table::tests::setup();
        let (_v, a) = crate::poll::tests::user_buf(128);
        // SIGEV_NONE on CLOCK_MONOTONIC; the id lands at a + 64.
        uk_posix::user::write(a, &[0u64, 1 << 32]).unwrap();
        assert_eq!(dispatch(SYS_TIMER_CREATE, &[1, a, a + 64, 0, 0, 0]), 0);
        let id: i32 = uk_posix::user::read(a + 64).unwrap();
        // 5 s one-shot, then read back.
        uk_posix::user::write(a, &[0i64, 0, 5, 0]).unwrap();
        assert_eq!(
            dispatch(SYS_TIMER_SETTIME, &[id as usize, 0, a, 0, 0, 0]),
            0
        );
        assert_eq!(
            dispatch(SYS_TIMER_GETTIME, &[id as usize, a + 32, 0, 0, 0, 0]),
            0
        );
        let left: [i64; 4] = uk_posix::user::read(a + 32).unwrap();
        assert!(left[2] == 4 || left[2] == 5, "{left:?}");
        // Bad pointers: EFAULT, and no timer is left behind by a failed create.
        assert_eq!(
            dispatch(SYS_TIMER_CREATE, &[1, 8, a + 64, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
        assert_eq!(
            dispatch(SYS_TIMER_CREATE, &[1, 0, 8, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
        assert_eq!(
            dispatch(SYS_TIMER_GETTIME, &[id as usize, 8, 0, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
        assert_eq!(dispatch(SYS_TIMER_DELETE, &[id as usize, 0, 0, 0, 0, 0]), 0);
        assert_eq!(
            dispatch(SYS_TIMER_DELETE, &[id as usize, 0, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
    }
}
