//! select(2), pselect6(2): https://man7.org/linux/man-pages/man2/select.2.html

use crate::poll::{read_sigmask, read_timespec_deadline, write_remaining};
use crate::table::{row, Row};
use crate::{Args, Errno, KResult};
use alloc::vec::Vec;
use uk_abi::signal::SigsetArg;
use uk_abi::sysno::{SYS_PSELECT6, SYS_SELECT};
use uk_posix::poll::{self, FdSets};
use uk_posix::process::current;
use uk_posix::time;
use uk_posix::user;

/// Read one fd_set of `words` 64-bit words (None for a NULL pointer).
fn read_set(addr: usize, words: usize) -> KResult<Option<Vec<u64>>> {
    if addr == 0 {
        return Ok(None);
    }
    user::check(addr, words * 8, true)?;
    let mut v = Vec::new();
    v.try_reserve_exact(words).map_err(|_| Errno::ENOMEM)?;
    for i in 0..words {
        v.push(user::read(addr + i * 8)?);
    }
    Ok(Some(v))
}

fn write_set(addr: usize, set: &Option<Vec<u64>>) -> KResult<()> {
    if let Some(s) = set {
        for (i, w) in s.iter().enumerate() {
            user::write(addr + i * 8, w)?;
        }
    }
    Ok(())
}

fn run(a: &Args, deadline: Option<u64>, mask: Option<u64>) -> KResult<usize> {
    let n = a[0] as i32;
    if n < 0 {
        return Err(Errno::EINVAL);
    }
    // Linux clamps n to the size of the descriptor table.
    let n = (n as usize).min(current().limits.nofile());
    let words = n.div_ceil(64);
    let mut r = read_set(a[1], words)?;
    let mut w = read_set(a[2], words)?;
    let mut e = read_set(a[3], words)?;
    let res = {
        let mut sets = FdSets {
            read: r.as_deref_mut(),
            write: w.as_deref_mut(),
            except: e.as_deref_mut(),
        };
        poll::with_sigmask(mask, || poll::select(n, &mut sets, deadline))
    };
    if res.is_ok() {
        write_set(a[1], &r)?;
        write_set(a[2], &w)?;
        write_set(a[3], &e)?;
    }
    res
}

pub fn sys_select(a: &Args) -> KResult<usize> {
    let deadline = if a[4] == 0 {
        None
    } else {
        let ns = time::timeval_to_ns(&user::read(a[4])?)?;
        Some(poll::deadline_after(ns))
    };
    let r = run(a, deadline, None);
    write_remaining(a[4], deadline, true);
    r
}

pub fn sys_pselect6(a: &Args) -> KResult<usize> {
    let deadline = read_timespec_deadline(a[4])?;
    let mask = if a[5] == 0 {
        None
    } else {
        // pselect6's sixth argument: { const sigset_t *ss; size_t ss_len; }.
        let arg: SigsetArg = user::read(a[5])?;
        read_sigmask(arg.ss as usize, arg.ss_len as usize)?
    };
    let r = run(a, deadline, mask);
    write_remaining(a[4], deadline, false);
    r
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[row(SYS_SELECT, sys_select), row(SYS_PSELECT6, sys_pselect6)];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::{SYS_CLOSE, SYS_PIPE2, SYS_PSELECT6, SYS_SELECT};
    use uk_abi::Errno;

    #[test]
    fn select_pipe() {
        let _g = uk_posix::testplat::serial();
        crate::table::tests::setup();
        let (_v, a) = crate::poll::tests::user_buf(128);
        assert_eq!(dispatch(SYS_PIPE2, &[a, 0, 0, 0, 0, 0]), 0);
        let fds: [i32; 2] = uk_posix::user::read(a).unwrap();
        let (r, w) = (fds[0] as usize, fds[1] as usize);
        let (rs, ws, tv) = (a + 16, a + 32, a + 48);
        uk_posix::user::write(rs, &(1u64 << r)).unwrap();
        uk_posix::user::write(ws, &(1u64 << w)).unwrap();
        uk_posix::user::write(tv, &[0i64, 2000]).unwrap();
        assert_eq!(dispatch(SYS_SELECT, &[64, rs, ws, 0, tv, 0]), 1);
        assert_eq!(uk_posix::user::read::<u64>(rs).unwrap(), 0);
        assert_eq!(uk_posix::user::read::<u64>(ws).unwrap(), 1 << w);
        // Read side only, times out: the set comes back empty.
        uk_posix::user::write(rs, &(1u64 << r)).unwrap();
        uk_posix::user::write(tv, &[0i64, 2000]).unwrap();
        assert_eq!(dispatch(SYS_SELECT, &[64, rs, 0, 0, tv, 0]), 0);
        assert_eq!(uk_posix::user::read::<u64>(rs).unwrap(), 0);
        assert_eq!(uk_posix::user::read::<[i64; 2]>(tv).unwrap(), [0, 0]);
        // A writable descriptor in the read set alone is not ready: the sets answer
        // apart (POLLERR is in both masks, but only the sets passed may count).
        uk_posix::user::write(rs, &(1u64 << w)).unwrap();
        uk_posix::user::write(tv, &[0i64, 0]).unwrap();
        assert_eq!(dispatch(SYS_SELECT, &[64, rs, 0, 0, tv, 0]), 0);
        assert_eq!(uk_posix::user::read::<u64>(rs).unwrap(), 0);
        uk_posix::user::write(rs, &(1u64 << w)).unwrap();
        uk_posix::user::write(ws, &(1u64 << w)).unwrap();
        assert_eq!(dispatch(SYS_SELECT, &[64, rs, ws, 0, tv, 0]), 1);
        assert_eq!(uk_posix::user::read::<u64>(rs).unwrap(), 0);
        assert_eq!(uk_posix::user::read::<u64>(ws).unwrap(), 1 << w);
        // EBADF, EINVAL.
        uk_posix::user::write(rs, &(1u64 << 50)).unwrap();
        assert_eq!(
            dispatch(SYS_SELECT, &[64, rs, 0, 0, 0, 0]),
            Errno::EBADF.as_neg()
        );
        assert_eq!(
            dispatch(SYS_SELECT, &[(-1i64) as usize, 0, 0, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        uk_posix::user::write(tv, &[0i64, 1_000_000]).unwrap();
        assert_eq!(
            dispatch(SYS_SELECT, &[1, 0, 0, 0, tv, 0]),
            Errno::EINVAL.as_neg()
        );
        // pselect6 with a bad sigset size.
        uk_posix::user::write(tv, &[0i64, 0]).unwrap();
        uk_posix::user::write(a + 64, &[a + 80, 4usize]).unwrap();
        assert_eq!(
            dispatch(SYS_PSELECT6, &[1, 0, 0, 0, tv, a + 64]),
            Errno::EINVAL.as_neg()
        );
        dispatch(SYS_CLOSE, &[r, 0, 0, 0, 0, 0]);
        dispatch(SYS_CLOSE, &[w, 0, 0, 0, 0, 0]);
    }
}
