//! `<poll.h>`, `<sys/epoll.h>`, `<sys/select.h>`, eventfd: readiness bits and records.

use crate::assert_size;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub const POLLIN: u32 = 0x001;
pub const POLLPRI: u32 = 0x002;
pub const POLLOUT: u32 = 0x004;
pub const POLLERR: u32 = 0x008;
pub const POLLHUP: u32 = 0x010;
pub const POLLNVAL: u32 = 0x020;
pub const POLLRDNORM: u32 = 0x040;
pub const POLLRDBAND: u32 = 0x080;
pub const POLLWRNORM: u32 = 0x100;
pub const POLLWRBAND: u32 = 0x200;
pub const POLLRDHUP: u32 = 0x2000;

/// `struct pollfd`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Pollfd {
    pub fd: i32,
    pub events: i16,
    pub revents: i16,
}
assert_size!(Pollfd, 8);

/// Largest descriptor count of an `fd_set` (select).
pub const FD_SETSIZE: usize = 1024;

pub const EPOLL_CLOEXEC: u32 = crate::fcntl::O_CLOEXEC;
pub const EPOLL_CTL_ADD: i32 = 1;
pub const EPOLL_CTL_DEL: i32 = 2;
pub const EPOLL_CTL_MOD: i32 = 3;
pub const EPOLLIN: u32 = POLLIN;
pub const EPOLLPRI: u32 = POLLPRI;
pub const EPOLLOUT: u32 = POLLOUT;
pub const EPOLLERR: u32 = POLLERR;
pub const EPOLLHUP: u32 = POLLHUP;
pub const EPOLLRDNORM: u32 = POLLRDNORM;
pub const EPOLLWRNORM: u32 = POLLWRNORM;
pub const EPOLLRDHUP: u32 = POLLRDHUP;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;

/// `struct epoll_event`: packed on x86_64 (12 bytes).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C, packed)]
pub struct EpollEvent {
    pub events: u32,
    pub data: u64,
}
assert_size!(EpollEvent, 12);

pub const EFD_SEMAPHORE: u32 = 1;
pub const EFD_CLOEXEC: u32 = crate::fcntl::O_CLOEXEC;
pub const EFD_NONBLOCK: u32 = crate::fcntl::O_NONBLOCK;
