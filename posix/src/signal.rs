//! Signal dispositions and masks. This first slice stores them (so that programs that
//! install handlers at start-up run); delivery comes with the scheduler.

use crate::{Errno, KResult};

pub const NSIG: usize = 64;
pub const SIGKILL: usize = 9;
pub const SIGSTOP: usize = 19;

pub const SIG_BLOCK: u32 = 0;
pub const SIG_UNBLOCK: u32 = 1;
pub const SIG_SETMASK: u32 = 2;

/// The kernel's `struct k_sigaction` (x86_64): handler, flags, restorer, mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct KSigaction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

// SAFETY: four u64s: no padding, any bit pattern valid.
unsafe impl crate::user::Pod for KSigaction {}

struct Sig {
    actions: [KSigaction; NSIG],
    mask: u64,
}

static SIG: spin::Mutex<Sig> = spin::Mutex::new(Sig {
    actions: [KSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    }; NSIG],
    mask: 0,
});

const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

/// rt_sigaction(2): returns the old action; installs `new` if given.
pub fn sigaction(sig: usize, new: Option<KSigaction>) -> KResult<KSigaction> {
    if sig == 0 || sig > NSIG {
        return Err(Errno::EINVAL);
    }
    if new.is_some() && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let mut s = SIG.lock();
    let old = s.actions[sig - 1];
    if let Some(mut n) = new {
        n.mask &= !UNBLOCKABLE;
        s.actions[sig - 1] = n;
    }
    Ok(old)
}

/// rt_sigprocmask(2): returns the old mask.
pub fn sigprocmask(how: u32, set: Option<u64>) -> KResult<u64> {
    let mut s = SIG.lock();
    let old = s.mask;
    if let Some(set) = set {
        let new = match how {
            SIG_BLOCK => old | set,
            SIG_UNBLOCK => old & !set,
            SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        };
        s.mask = new & !UNBLOCKABLE;
    }
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_actions_and_masks() {
        let a = KSigaction {
            handler: 0x1234,
            flags: 4,
            restorer: 0,
            mask: u64::MAX,
        };
        assert_eq!(sigaction(0, None), Err(Errno::EINVAL));
        assert_eq!(sigaction(65, None), Err(Errno::EINVAL));
        assert_eq!(sigaction(SIGKILL, Some(a)), Err(Errno::EINVAL));
        sigaction(10, Some(a)).unwrap();
        let back = sigaction(10, None).unwrap();
        assert_eq!(back.handler, 0x1234);
        assert_eq!(back.mask & UNBLOCKABLE, 0);
        let old = sigprocmask(SIG_SETMASK, Some(u64::MAX)).unwrap();
        assert_eq!(sigprocmask(SIG_BLOCK, None).unwrap(), !UNBLOCKABLE);
        assert_eq!(sigprocmask(7, Some(0)), Err(Errno::EINVAL));
        sigprocmask(SIG_SETMASK, Some(old)).unwrap();
    }
}
