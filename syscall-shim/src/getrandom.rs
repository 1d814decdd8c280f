//! getrandom(2): https://man7.org/linux/man-pages/man2/getrandom.2.html

use crate::table::{row, Row};
use crate::trace::Arg;
use crate::{Args, Errno, KResult};
use uk_abi::sysno::SYS_GETRANDOM;
use uk_posix::user;

use uk_abi::random::{GRND_INSECURE, GRND_NONBLOCK, GRND_RANDOM};

pub fn sys_getrandom(a: &Args) -> KResult<usize> {
    let flags = a[2] as u32;
    if a[2] > u32::MAX as usize {
        return Err(Errno::EINVAL);
    }
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == (GRND_RANDOM | GRND_INSECURE)
    {
        return Err(Errno::EINVAL);
    }
    // Linux caps one call at 32 MiB - 1 for the urandom source.
    let len = a[1].min(0x01ff_ffff);
    let mut out = user::UserBuf::new(a[0], len);
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len());
        uk_random::fill(&mut chunk[..n]);
        // A buffer that runs into memory it may not write gets a short count.
        let k = uk_abi::uio::Sink::write_prefix(&mut out, done, &chunk[..n]);
        done += k;
        if k < n {
            break;
        }
    }
    if done == 0 && len > 0 {
        return Err(Errno::EFAULT);
    }
    Ok(done)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] =
    &[row(SYS_GETRANDOM, sys_getrandom).shows(&[Arg::Hex, Arg::Int, Arg::Hex])];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use uk_abi::sysno::SYS_GETRANDOM;
    use uk_abi::Errno;

    #[test]
    fn fills_and_validates() {
        crate::table::tests::setup();
        let v: &'static mut [u8] = Box::leak(vec![0u8; 64].into_boxed_slice());
        let a = v.as_ptr() as usize;
        uk_posix::user::add_static_range(a, a + 64, true);
        assert_eq!(dispatch(SYS_GETRANDOM, &[a, 64, 0, 0, 0, 0]), 64);
        assert_ne!(
            uk_posix::user::UserSlice::new(a, 64).to_vec().unwrap(),
            &[0u8; 64][..]
        );
        assert_eq!(
            dispatch(SYS_GETRANDOM, &[a, 64, 8, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        assert_eq!(
            dispatch(SYS_GETRANDOM, &[a, 64, 6, 0, 0, 0]),
            Errno::EINVAL.as_neg()
        );
        // A buffer running into memory it may not write: a short count, as on Linux.
        assert_eq!(dispatch(SYS_GETRANDOM, &[a, 65, 0, 0, 0, 0]), 64);
        assert_eq!(
            dispatch(SYS_GETRANDOM, &[0x10, 8, 0, 0, 0, 0]),
            Errno::EFAULT.as_neg()
        );
    }
}
