//! Networking for ukit: lwIP (raw API, `NO_SYS`) under one core lock, one lwIP netif per
//! network device from lib/netdev plus loopback, a kernel thread "net" that feeds
//! received frames to lwIP and runs its timers, and the TCP and UDP sockets the BSD
//! socket layer builds on ([`TcpSocket`], [`UdpSocket`]).
//!
//! # Concurrency
//! ukit is cooperative on one CPU, so lwIP needs no OS layer: every lwIP call happens
//! under [`CORE`] (a spin lock that is never held across a wait), and lwIP's callbacks run
//! inside it, touching only per-socket state behind each socket's own small lock. A thread
//! that must wait (data, connection, buffer space) leaves the core lock and sleeps on its
//! socket's [`WaitQueue`](uk_sched::WaitQueue), which the callbacks notify; the same queue
//! serves poll/select/epoll. Why not lwIP's threaded mode: docs/net.md.
//!
//! # Where packets move
//! - Received frames: the "net" thread sleeps on the devices' input queues (woken by the
//!   platform's idle wait when a device has input) and on lwIP's next timer; it drains the
//!   devices into lwIP and runs `sys_check_timeouts`.
//! - Sent frames leave in the caller's own context (tcp_output -> netif linkoutput ->
//!   device). Loopback packets are delivered right after each socket call by
//!   `netif_poll_all`, still in the caller's context, so traffic between two sockets of
//!   one image needs no thread switch to the net thread.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod addr;
pub mod config;
mod stack;
mod tcp;
mod udp;

pub mod selftest;

pub use config::{boot_option, NetConfig};
pub use stack::{drain, init, interface_stats, progress, tcp_output_pending};
pub use tcp::TcpSocket;
pub use udp::UdpSocket;

pub use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// How a socket call may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Return EAGAIN (EINPROGRESS for connect) instead of waiting (O_NONBLOCK,
    /// MSG_DONTWAIT).
    NonBlocking,
    /// Wait until the call can complete, a signal arrives (EINTR) or the deadline
    /// (monotonic ns; `None`: forever) passes (EAGAIN, as SO_RCVTIMEO/SO_SNDTIMEO do).
    Until(Option<u64>),
}

/// Poll bits (Linux values) that [`TcpSocket::poll`] and [`UdpSocket::poll`] report.
pub use uk_abi::poll;

pub(crate) use stack::locked;

#[cfg(test)]
mod tests;
