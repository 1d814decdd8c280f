//! The host's resource limits at launch, for the program to start with what a native
//! program started the same way would get (RLIMIT_NOFILE: docs/net.md, "Descriptors").
//! Read once on the boot path, before the host-call filter closes (`prlimit64` is a
//! boot-only host call).

use crate::host::{self, nr};
use core::sync::atomic::{AtomicU64, Ordering};
use uk_abi::resource::{Rlimit, RLIMIT_NOFILE};
use uk_abi::{FromZeros, IntoBytes};

/// (soft, hard); 0 until read (a host without the answer leaves the kernel's default).
static NOFILE: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Asks the host for this process's RLIMIT_NOFILE. Boot path only.
pub fn read_at_boot() {
    let mut r = Rlimit::new_zeroed();
    let rc = host::call(
        nr::SYS_PRLIMIT64,
        [
            0,
            RLIMIT_NOFILE,
            0,
            r.as_mut_bytes().as_mut_ptr() as usize,
            0,
            0,
        ],
    );
    if rc == 0 {
        NOFILE[0].store(r.rlim_cur, Ordering::Relaxed);
        NOFILE[1].store(r.rlim_max, Ordering::Relaxed);
    }
}

/// The limits read at boot, as the host reported them (the kernel bounds them).
pub fn nofile() -> Option<(u64, u64)> {
    let (soft, hard) = (
        NOFILE[0].load(Ordering::Relaxed),
        NOFILE[1].load(Ordering::Relaxed),
    );
    (hard != 0).then_some((soft, hard))
}
