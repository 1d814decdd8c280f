//! clone(2) as musl's thread layer calls it: https://man7.org/linux/man-pages/man2/clone.2.html
//!
//! musl's `__clone` assembly is replaced by a jump to [`__uk_clone`], and its
//! `__unmapself` (a detached thread freeing its own stack, then exiting) by
//! [`__uk_unmapself`]. Threads arrive with the scheduler; until then creating one fails
//! with ENOSYS (pthread_create returns EAGAIN), logged once.

use uk_errno::Errno;

/// `int __clone(int (*fn)(void *), void *stack, int flags, void *arg, pid_t *ptid,
/// void *tls, pid_t *ctid)`.
#[no_mangle]
pub extern "C" fn __uk_clone(
    _f: usize,
    _stack: usize,
    _flags: i32,
    _arg: usize,
    _ptid: usize,
    _tls: usize,
    _ctid: usize,
) -> i32 {
    uk_log::warn_once!("clone: threads are not supported yet: ENOSYS");
    Errno::ENOSYS.as_neg() as i32
}

/// `void __unmapself(void *base, size_t size)`: unmap the calling thread's stack and
/// exit the thread. Only a thread could call it, and none can exist yet.
#[no_mangle]
pub extern "C" fn __uk_unmapself(_base: usize, _size: usize) -> ! {
    uk_log::error!("__unmapself called without threads");
    uk_plat::get().exit(127)
}
