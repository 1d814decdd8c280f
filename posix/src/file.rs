//! The one trait every open file implements.
//!
//! Default methods return the errno Linux gives for an object that does not support the
//! operation, so each kind of file overrides only what it does.

use uk_abi::poll::{POLLIN, POLLOUT};

use crate::{Errno, KResult};
pub use uk_abi::uio::{Sink, Source};

pub use uk_abi::stat::Stat;

/// `fstat` of an object with no file behind it (eventfd, timerfd, epoll): Linux shows
/// these as anonymous inodes, mode 0600 with no type bits, on the anon-inode device.
pub fn anon_inode_stat() -> Stat {
    Stat {
        st_dev: 0x0e,
        st_mode: 0o600,
        st_nlink: 1,
        st_blksize: 4096,
        ..Stat::default()
    }
}

/// `whence` for [`File::seek`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    Set,
    Cur,
    End,
}

/// Every open file. Reads fill a [`Sink`] and writes drain a [`Source`]: the buffer may
/// be program memory, which the sink or source checks at the moment of each copy, so
/// an object that blocks before it copies never writes into memory that was unmapped
/// meanwhile (crate::user).
pub trait File: Send + Sync {
    /// read(2). Objects that cannot be read: EBADF (as for a write-only fd).
    fn read(&self, _buf: &mut dyn Sink) -> KResult<usize> {
        Err(Errno::EBADF)
    }
    /// write(2).
    fn write(&self, _buf: &dyn Source) -> KResult<usize> {
        Err(Errno::EBADF)
    }
    /// lseek(2). Streams: ESPIPE.
    fn seek(&self, _off: i64, _whence: Whence) -> KResult<u64> {
        Err(Errno::ESPIPE)
    }
    /// ioctl(2). Not a terminal or device: ENOTTY.
    fn ioctl(&self, _cmd: u32, _arg: usize) -> KResult<usize> {
        Err(Errno::ENOTTY)
    }
    /// fstat(2).
    fn stat(&self) -> KResult<Stat>;
    /// The O_* status flags (O_APPEND, O_NONBLOCK, access mode).
    fn status_flags(&self) -> u32 {
        0
    }
    /// Change the changeable status flags (O_APPEND, O_NONBLOCK, O_ASYNC, O_DIRECT,
    /// O_NOATIME) with F_SETFL. Objects without state for them ignore the request.
    fn set_status_flags(&self, _flags: u32) -> KResult<()> {
        Ok(())
    }
    /// pread(2). Streams: ESPIPE.
    fn pread(&self, _buf: &mut dyn Sink, _off: u64) -> KResult<usize> {
        Err(Errno::ESPIPE)
    }
    /// pwrite(2). Streams: ESPIPE.
    fn pwrite(&self, _buf: &dyn Source, _off: u64) -> KResult<usize> {
        Err(Errno::ESPIPE)
    }
    /// Current readiness as poll(2) bits (POLLIN, POLLOUT, POLLHUP, POLLERR, ...).
    /// Regular files are always ready.
    fn poll(&self) -> u32 {
        POLLIN | POLLOUT
    }
    /// Where this object signals readiness changes; pollers wait here. `None` for
    /// objects that are always ready.
    fn wait_queue(&self) -> Option<&uk_sched::WaitQueue> {
        None
    }
    /// The concrete object, for calls that only apply to one kind of file
    /// (timerfd_settime, epoll_ctl): they downcast and answer EINVAL otherwise.
    fn as_any(&self) -> Option<&dyn core::any::Any> {
        None
    }
    /// fcntl(F_GETPIPE_SZ): the capacity of a pipe. Other files: EBADF, as on Linux.
    fn pipe_size(&self) -> KResult<usize> {
        Err(Errno::EBADF)
    }
    /// fcntl(F_SETPIPE_SZ): resize a pipe to at least `size` bytes; returns the new
    /// capacity. Other files: EBADF.
    fn set_pipe_size(&self, _size: usize) -> KResult<usize> {
        Err(Errno::EBADF)
    }
}
