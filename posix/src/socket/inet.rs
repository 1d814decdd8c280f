//! AF_INET and AF_INET6 sockets over lib/net (lwIP).
//!
//! lib/net works with `core::net` addresses; this layer checks families the way Linux
//! does, unmaps `::ffff:a.b.c.d` (lwIP's dual-stack pcbs want the IPv4 address), and
//! remembers the addresses lwIP forgets once a connection is gone (getsockname after a
//! reset) or never tracks (the peer of a connected UDP socket).

use super::addr::SockAddr;
use super::{Opts, Proto, Recvd, Wait};
use super::{IPPROTO_TCP, SOL_SOCKET, SO_KEEPALIVE, SO_REUSEADDR, TCP_KEEPCNT, TCP_KEEPIDLE};
use super::{TCP_KEEPINTVL, TCP_NODELAY};
use crate::{Errno, KResult};
use alloc::boxed::Box;
use core::net::{IpAddr, SocketAddr, SocketAddrV4};
use uk_abi::uio::{Sink, Source};
use uk_net::{TcpSocket, UdpSocket};
use uk_sched::WaitQueue;

fn wait(w: Wait) -> uk_net::Wait {
    match w {
        Wait::NonBlocking => uk_net::Wait::NonBlocking,
        Wait::Until(d) => uk_net::Wait::Until(d),
    }
}

/// The address lib/net should see for `a` on a socket of family `v6`, with Linux's
/// errors for the wrong family.
fn inet_addr(a: SockAddr, v6: bool) -> KResult<SocketAddr> {
    let SockAddr::Inet(sa) = a else {
        return Err(if v6 {
            Errno::EINVAL
        } else {
            Errno::EAFNOSUPPORT
        });
    };
    match sa {
        SocketAddr::V4(_) if v6 => Err(Errno::EINVAL),
        SocketAddr::V6(_) if !v6 => Err(Errno::EAFNOSUPPORT),
        SocketAddr::V6(s) => Ok(match s.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, s.port())),
            None => sa,
        }),
        v4 => Ok(v4),
    }
}

fn unspecified(v6: bool) -> SockAddr {
    let ip: IpAddr = if v6 {
        core::net::Ipv6Addr::UNSPECIFIED.into()
    } else {
        core::net::Ipv4Addr::UNSPECIFIED.into()
    };
    SockAddr::Inet(SocketAddr::new(ip, 0))
}

/// A TCP socket.
pub struct Tcp {
    s: TcpSocket,
    v6: bool,
    /// Last known local address (lwIP forgets it with the pcb).
    local: spin::Mutex<Option<SocketAddr>>,
}

impl Tcp {
    pub fn new(v6: bool) -> KResult<Tcp> {
        Ok(Tcp {
            s: TcpSocket::new(v6)?,
            v6,
            local: spin::Mutex::new(None),
        })
    }

    fn remember_local(&self) {
        if let Ok(a) = self.s.local_addr() {
            *self.local.lock() = Some(a);
        }
    }
}

impl Proto for Tcp {
    fn stream(&self) -> bool {
        true
    }

    fn bind(&self, a: SockAddr) -> KResult<()> {
        let a = inet_addr(a, self.v6)?;
        self.s.bind(a)?;
        self.remember_local();
        Ok(())
    }

    fn listen(&self, backlog: i32) -> KResult<()> {
        if self.s.is_connected() {
            return Err(Errno::EINVAL);
        }
        // As Linux: the backlog is taken unsigned, so a negative one means somaxconn.
        self.s.listen(backlog as u32)?;
        self.remember_local();
        Ok(())
    }

    fn accept(&self, w: Wait) -> KResult<(Box<dyn Proto>, SockAddr)> {
        let c = self.s.accept(wait(w))?;
        let peer = c
            .peer_addr()
            .unwrap_or(SocketAddr::new(core::net::Ipv4Addr::UNSPECIFIED.into(), 0));
        let t = Tcp {
            s: c,
            v6: self.v6,
            local: spin::Mutex::new(None),
        };
        t.remember_local();
        Ok((Box::new(t), SockAddr::Inet(peer)))
    }

    fn connect(&self, a: SockAddr, w: Wait) -> KResult<()> {
        if a == SockAddr::Unspec {
            // Linux: AF_UNSPEC on a TCP socket disconnects; lwIP cannot reuse the pcb.
            return Err(Errno::EOPNOTSUPP);
        }
        let a = inet_addr(a, self.v6)?;
        let r = self.s.connect(a, wait(w));
        self.remember_local();
        r
    }

    fn send(&self, buf: &dyn Source, _to: Option<SockAddr>, w: Wait) -> KResult<usize> {
        self.s.send(buf, wait(w))
    }

    fn recv(&self, buf: &mut dyn Sink, peek: bool, w: Wait) -> KResult<Recvd> {
        let n = self.s.recv(buf, peek, wait(w))?;
        Ok(Recvd {
            n,
            full: n,
            from: None,
            rights: Default::default(),
        })
    }

    fn shutdown(&self, rd: bool, wr: bool) -> KResult<()> {
        self.s.shutdown(rd, wr)
    }

    fn local(&self) -> KResult<SockAddr> {
        match self.s.local_addr() {
            Ok(a) => Ok(SockAddr::Inet(a)),
            Err(_) => Ok(self
                .local
                .lock()
                .map(SockAddr::Inet)
                .unwrap_or_else(|| unspecified(self.v6))),
        }
    }

    fn peer(&self) -> KResult<SockAddr> {
        Ok(SockAddr::Inet(self.s.peer_addr()?))
    }

    fn poll(&self) -> u32 {
        self.s.poll()
    }

    fn wait_queue(&self) -> &WaitQueue {
        self.s.wait_queue()
    }

    fn take_error(&self) -> Option<Errno> {
        self.s.take_error()
    }

    fn rx_available(&self) -> usize {
        self.s.rx_available()
    }

    fn listening(&self) -> bool {
        self.s.is_listening()
    }

    fn apply(&self, o: &Opts, level: i32, name: i32) {
        match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR) => self.s.set_reuseaddr(o.reuseaddr),
            (IPPROTO_TCP, TCP_NODELAY) => self.s.set_nodelay(o.nodelay),
            (SOL_SOCKET, SO_KEEPALIVE)
            | (IPPROTO_TCP, TCP_KEEPIDLE | TCP_KEEPINTVL | TCP_KEEPCNT) => self.s.set_keepalive(
                o.keepalive,
                Some((o.keepidle as u32, o.keepintvl as u32, o.keepcnt as u32)),
            ),
            _ => {}
        }
    }
}

/// A UDP socket.
pub struct Udp {
    s: UdpSocket,
    v6: bool,
    peer: spin::Mutex<Option<SocketAddr>>,
}

impl Udp {
    pub fn new(v6: bool) -> KResult<Udp> {
        Ok(Udp {
            s: UdpSocket::new(v6)?,
            v6,
            peer: spin::Mutex::new(None),
        })
    }
}

impl Proto for Udp {
    fn stream(&self) -> bool {
        false
    }

    fn bind(&self, a: SockAddr) -> KResult<()> {
        let a = inet_addr(a, self.v6)?;
        if self.s.local_addr().is_ok_and(|l| l.port() != 0) {
            return Err(Errno::EINVAL);
        }
        self.s.bind(a)
    }

    fn connect(&self, a: SockAddr, _w: Wait) -> KResult<()> {
        if a == SockAddr::Unspec {
            uk_log::warn_once!(
                "connect(AF_UNSPEC) on a UDP socket: dissolving the association is not supported by lib/net"
            );
            return Err(Errno::EOPNOTSUPP);
        }
        let a = inet_addr(a, self.v6)?;
        self.s.connect(a)?;
        *self.peer.lock() = Some(a);
        Ok(())
    }

    fn send(&self, buf: &dyn Source, to: Option<SockAddr>, _w: Wait) -> KResult<usize> {
        let to = to.map(|a| inet_addr(a, self.v6)).transpose()?;
        if to.is_none() && self.peer.lock().is_none() {
            return Err(Errno::EDESTADDRREQ);
        }
        self.s.send_to(buf, to)
    }

    fn recv(&self, buf: &mut dyn Sink, peek: bool, w: Wait) -> KResult<Recvd> {
        let (n, full, from) = self.s.recv_from(buf, peek, wait(w))?;
        Ok(Recvd {
            n,
            full,
            from: Some(SockAddr::Inet(from)),
            rights: Default::default(),
        })
    }

    fn shutdown(&self, _rd: bool, _wr: bool) -> KResult<()> {
        if self.peer.lock().is_none() {
            return Err(Errno::ENOTCONN);
        }
        uk_log::warn_once!("shutdown on a UDP socket: accepted, without effect");
        Ok(())
    }

    fn local(&self) -> KResult<SockAddr> {
        Ok(self
            .s
            .local_addr()
            .map(SockAddr::Inet)
            .unwrap_or_else(|_| unspecified(self.v6)))
    }

    fn peer(&self) -> KResult<SockAddr> {
        self.peer.lock().map(SockAddr::Inet).ok_or(Errno::ENOTCONN)
    }

    fn take_error(&self) -> Option<Errno> {
        self.s.take_error()
    }

    fn poll(&self) -> u32 {
        self.s.poll()
    }

    fn wait_queue(&self) -> &WaitQueue {
        self.s.wait_queue()
    }

    fn rx_available(&self) -> usize {
        self.s.next_len()
    }

    fn listening(&self) -> bool {
        false
    }
}
