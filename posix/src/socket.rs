//! BSD sockets: AF_INET and AF_INET6 over lib/net (lwIP; kernel feature `net`, option
//! `lib.net`) and AF_UNIX entirely inside the image ([`unix`]).
//!
//! A socket is one open file ([`Socket`]) around a protocol object ([`Proto`]): TCP,
//! UDP, or an AF_UNIX stream/datagram socket. What is common to every family lives
//! here: blocking rules (O_NONBLOCK, MSG_DONTWAIT, SO_RCVTIMEO/SO_SNDTIMEO), the
//! "write everything" loop of blocking stream sends, MSG_WAITALL, EPIPE + SIGPIPE
//! (unless MSG_NOSIGNAL), socket options, and the file-side view (read/write, FIONREAD,
//! FIONBIO, poll readiness and the wait queue that poll/select/epoll watch).
//!
//! The raw ABI (user pointers, `msghdr`, `socklen_t` in/out) is syscall-shim's; the
//! functions here take decoded bytes and return typed results.

use uk_abi::fcntl::O_NONBLOCK;
use uk_abi::ioctl::{FIOASYNC, FIONBIO, FIONREAD};
use uk_abi::socket::{AF_INET, AF_INET6, AF_UNIX};
use uk_abi::socket::{
    IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, IPV6_RECVERR, IPV6_TCLASS, IPV6_UNICAST_HOPS,
    IPV6_V6ONLY, IP_MTU_DISCOVER, IP_RECVERR, IP_TOS, IP_TTL, MSG_DONTWAIT, MSG_NOSIGNAL, MSG_OOB,
    MSG_PEEK, MSG_TRUNC, MSG_WAITALL, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_SEQPACKET,
    SOCK_STREAM, SOL_SOCKET, SO_ACCEPTCONN, SO_BROADCAST, SO_DEBUG, SO_DOMAIN, SO_DONTROUTE,
    SO_ERROR, SO_KEEPALIVE, SO_LINGER, SO_OOBINLINE, SO_PASSCRED, SO_PEERCRED, SO_PRIORITY,
    SO_PROTOCOL, SO_RCVBUF, SO_RCVBUFFORCE, SO_RCVLOWAT, SO_RCVTIMEO, SO_REUSEADDR, SO_REUSEPORT,
    SO_SNDBUF, SO_SNDBUFFORCE, SO_SNDLOWAT, SO_SNDTIMEO, SO_TYPE, TCP_CORK, TCP_DEFER_ACCEPT,
    TCP_FASTOPEN, TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_MAXSEG, TCP_NODELAY,
    TCP_NOTSENT_LOWAT, TCP_QUICKACK, TCP_USER_TIMEOUT,
};

pub mod addr;
#[cfg(feature = "net")]
mod inet;
pub mod unix;

use crate::file::{File, Sink, Source, Stat};
use crate::pipe::{fionbio, set_nonblock_from};
use crate::{Errno, KResult};
use addr::SockAddr;
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use litemap::LiteMap;
use uk_abi::socket::{Linger, Ucred};
use uk_abi::time::Timeval;
use uk_abi::uio::{SinkFrom, SourceFrom};
use uk_sched::WaitQueue;

// SOL_SOCKET options (Linux x86_64 numbers).

// IPPROTO_TCP options.

// IPPROTO_IP / IPPROTO_IPV6 options.

/// SO_SNDBUF/SO_RCVBUF as reported before the program sets them (Linux's
/// net.core.[rw]mem_default). A value the program sets is stored and reported doubled,
/// as Linux does; the stacks' real buffers do not change (lwIP's windows are fixed at
/// build time, docs/net.md).
const DEFAULT_BUF: i32 = 212_992;

/// How a socket call may wait (the family-independent twin of `uk_net::Wait`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// EAGAIN (EINPROGRESS for connect) instead of waiting.
    NonBlocking,
    /// Until done, a signal (EINTR) or the monotonic deadline (EAGAIN).
    Until(Option<u64>),
}

/// What a receive returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recvd {
    /// Bytes copied into the buffer.
    pub n: usize,
    /// The datagram's full length (= `n` for streams).
    pub full: usize,
    /// The sender (datagram sockets), else `None`.
    pub from: Option<SockAddr>,
    /// Open files passed with the data (AF_UNIX SCM_RIGHTS). Dropping them unreceived
    /// closes them, which is what Linux does for a plain read of such bytes.
    pub rights: Rights,
}

/// Most descriptors one message may carry (Linux's SCM_MAX_FD).
pub const SCM_MAX_FD: usize = 253;

/// Open file descriptions in flight (SCM_RIGHTS): taken from the sender's table at
/// sendmsg, installed as new descriptors by the receiver. All processes of an image share
/// one kernel, so passing a descriptor is passing the same `Arc`.
#[derive(Clone, Default)]
pub struct Rights(pub Vec<Arc<dyn File>>);

impl Rights {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl core::fmt::Debug for Rights {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Rights({} files)", self.0.len())
    }
}

/// Equal when they hold the same files in the same order.
impl PartialEq for Rights {
    fn eq(&self, o: &Self) -> bool {
        self.0.len() == o.0.len()
            && self
                .0
                .iter()
                .zip(&o.0)
                .all(|(a, b)| core::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b)))
    }
}

impl Eq for Rights {}

/// One protocol's socket. Default methods give Linux's errno for a protocol that does
/// not support the call.
pub trait Proto: Send + Sync {
    /// SOCK_STREAM (byte stream: writes are completed in a loop, EPIPE raises SIGPIPE)
    /// or SOCK_DGRAM.
    fn stream(&self) -> bool;
    fn bind(&self, a: SockAddr) -> KResult<()>;
    fn listen(&self, _backlog: i32) -> KResult<()> {
        Err(Errno::EOPNOTSUPP)
    }
    /// The next connection and its peer's address.
    fn accept(&self, _wait: Wait) -> KResult<(Box<dyn Proto>, SockAddr)> {
        Err(Errno::EOPNOTSUPP)
    }
    fn connect(&self, a: SockAddr, wait: Wait) -> KResult<()>;
    /// Sends part of `buf` (at least one byte for streams, all of it for datagrams).
    fn send(&self, buf: &dyn Source, to: Option<SockAddr>, wait: Wait) -> KResult<usize>;
    /// [`Proto::send`] with open files attached to the data sent (SCM_RIGHTS). Only
    /// AF_UNIX carries them; Linux refuses them elsewhere with EINVAL.
    fn send_rights(
        &self,
        _buf: &dyn Source,
        _to: Option<SockAddr>,
        _wait: Wait,
        _rights: Rights,
    ) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn recv(&self, buf: &mut dyn Sink, peek: bool, wait: Wait) -> KResult<Recvd>;
    fn shutdown(&self, rd: bool, wr: bool) -> KResult<()>;
    fn local(&self) -> KResult<SockAddr>;
    fn peer(&self) -> KResult<SockAddr>;
    fn poll(&self) -> u32;
    fn wait_queue(&self) -> &WaitQueue;
    /// SO_ERROR: the pending error, cleared.
    fn take_error(&self) -> Option<Errno> {
        None
    }
    /// FIONREAD.
    fn rx_available(&self) -> usize;
    fn listening(&self) -> bool;
    /// Options the protocol acts on (SO_REUSEADDR, SO_KEEPALIVE + TCP_KEEP*,
    /// TCP_NODELAY). Called after the value is stored in [`Opts`].
    fn apply(&self, _opts: &Opts, _level: i32, _name: i32) {}
    /// SO_PEERCRED (AF_UNIX): (pid, uid, gid) of the peer.
    fn peer_cred(&self) -> Option<(i32, u32, u32)> {
        None
    }
}

/// Socket options as the program set them.
#[derive(Clone, Debug)]
pub struct Opts {
    pub reuseaddr: bool,
    pub reuseport: bool,
    pub keepalive: bool,
    pub nodelay: bool,
    pub keepidle: i32,
    pub keepintvl: i32,
    pub keepcnt: i32,
    pub v6only: bool,
    pub sndbuf: i32,
    pub rcvbuf: i32,
    /// (l_onoff, l_linger). Stored and reported; close never waits (lwIP finishes
    /// sending queued data in the background).
    pub linger: (i32, i32),
    pub rcvtimeo_ns: u64,
    pub sndtimeo_ns: u64,
    /// Options accepted without effect on this stack (TCP_DEFER_ACCEPT, TCP_FASTOPEN,
    /// IP_TOS, ...): stored so getsockopt reports what was set.
    pub other: LiteMap<(i32, i32), i32>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            reuseaddr: false,
            reuseport: false,
            keepalive: false,
            nodelay: false,
            keepidle: 7200,
            keepintvl: 75,
            keepcnt: 9,
            v6only: false,
            sndbuf: DEFAULT_BUF,
            rcvbuf: DEFAULT_BUF,
            linger: (0, 0),
            rcvtimeo_ns: 0,
            sndtimeo_ns: 0,
            other: LiteMap::new(),
        }
    }
}

static NEXT_INO: AtomicU64 = AtomicU64::new(1);

/// A socket: one open file description.
pub struct Socket {
    domain: u16,
    ty: u32,
    protocol: i32,
    flags: AtomicU32,
    ino: u64,
    opts: spin::Mutex<Opts>,
    proto: Box<dyn Proto>,
}

impl Socket {
    fn new(domain: u16, ty: u32, protocol: i32, nonblock: bool, proto: Box<dyn Proto>) -> Self {
        Socket {
            domain,
            ty,
            protocol,
            flags: AtomicU32::new(2 /* O_RDWR */ | if nonblock { O_NONBLOCK } else { 0 }),
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            opts: spin::Mutex::new(Opts::default()),
            proto,
        }
    }

    fn nonblock(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & O_NONBLOCK != 0
    }

    fn v6(&self) -> bool {
        self.domain == AF_INET6
    }

    fn wait(&self, msg_flags: u32, timeo_ns: u64) -> Wait {
        if self.nonblock() || msg_flags & MSG_DONTWAIT != 0 {
            Wait::NonBlocking
        } else if timeo_ns == 0 {
            Wait::Until(None)
        } else {
            Wait::Until(Some(crate::poll::deadline_after(timeo_ns)))
        }
    }

    /// The socket behind `f`, or ENOTSOCK.
    pub fn of(f: &Arc<dyn File>) -> KResult<&Socket> {
        f.as_any()
            .and_then(|a| a.downcast_ref::<Socket>())
            .ok_or(Errno::ENOTSOCK)
    }

    pub fn bind(&self, a: &[u8]) -> KResult<()> {
        let a = addr::parse(a)?;
        self.proto.bind(a)
    }

    pub fn listen(&self, backlog: i32) -> KResult<()> {
        self.proto.listen(backlog)
    }

    /// accept4(2): the new socket (O_NONBLOCK from `flags`) and the peer's address.
    pub fn accept(&self, flags: u32) -> KResult<(Socket, Vec<u8>)> {
        let (p, peer) = self.proto.accept(self.wait(0, 0))?;
        let s = Socket::new(
            self.domain,
            self.ty,
            self.protocol,
            flags & SOCK_NONBLOCK != 0,
            p,
        );
        // Linux: accepted sockets inherit the listener's options.
        *s.opts.lock() = self.opts.lock().clone();
        Ok((s, addr::encode(&peer, self.v6())))
    }

    pub fn connect(&self, a: &[u8]) -> KResult<()> {
        let a = addr::parse(a)?;
        let timeo = self.opts.lock().sndtimeo_ns;
        match self.proto.connect(a, self.wait(0, timeo)) {
            // A timed-out blocking connect is EINPROGRESS on Linux, not EAGAIN.
            Err(Errno::EAGAIN) if !self.nonblock() => Err(Errno::EINPROGRESS),
            r => r,
        }
    }

    pub fn local_addr(&self) -> KResult<Vec<u8>> {
        Ok(addr::encode(&self.proto.local()?, self.v6()))
    }

    pub fn peer_addr(&self) -> KResult<Vec<u8>> {
        Ok(addr::encode(&self.proto.peer()?, self.v6()))
    }

    /// shutdown(2): `how` is SHUT_RD (0), SHUT_WR (1) or SHUT_RDWR (2).
    pub fn shutdown(&self, how: i32) -> KResult<()> {
        let (rd, wr) = match how {
            0 => (true, false),
            1 => (false, true),
            2 => (true, true),
            _ => return Err(Errno::EINVAL),
        };
        self.proto.shutdown(rd, wr)
    }

    /// sendmsg(2) of `data` (one buffer or the iovecs). Blocking stream sockets send
    /// everything (or stop early on a signal or a timeout, returning the count so far).
    pub fn send(&self, data: &dyn Source, to: Option<&[u8]>, flags: u32) -> KResult<usize> {
        self.send_msg(data, to, flags, Rights::default())
    }

    /// [`Socket::send`] with open files (SCM_RIGHTS) attached to the first part sent,
    /// as Linux attaches them to the first buffer of a stream write.
    pub fn send_msg(
        &self,
        data: &dyn Source,
        to: Option<&[u8]>,
        flags: u32,
        rights: Rights,
    ) -> KResult<usize> {
        let mut rights = Some(rights).filter(|r| !r.is_empty());
        if rights.is_some() && self.domain != AF_UNIX {
            return Err(Errno::EINVAL);
        }
        let to = to.map(addr::parse).transpose()?;
        let timeo = self.opts.lock().sndtimeo_ns;
        let wait = self.wait(flags, timeo);
        let stream = self.proto.stream();
        if stream && data.is_empty() {
            return Ok(0);
        }
        let mut done = 0;
        loop {
            let rest = SourceFrom {
                src: data,
                off: done,
            };
            let sent = match rights.take() {
                Some(r) => self.proto.send_rights(&rest, to.clone(), wait, r),
                None => self.proto.send(&rest, to.clone(), wait),
            };
            match sent {
                Ok(n) => {
                    done += n;
                    if !stream || done >= data.len() || wait == Wait::NonBlocking {
                        return Ok(done);
                    }
                }
                Err(_) if done > 0 => return Ok(done),
                Err(Errno::EPIPE) => {
                    if flags & MSG_NOSIGNAL == 0 {
                        crate::process::current()
                            .signals
                            .send_to_thread(uk_sched::current_tid(), uk_abi::signal::SIGPIPE);
                    }
                    return Err(Errno::EPIPE);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// recvmsg(2) into `buf` (one buffer or the iovecs): (what was received, MSG_TRUNC
    /// when a datagram did not fit). With MSG_TRUNC in `flags` a datagram socket returns
    /// the full length.
    /// Files passed with the data come back too (dropping them closes them).
    pub fn recv(
        &self,
        buf: &mut dyn Sink,
        flags: u32,
    ) -> KResult<(usize, Option<Vec<u8>>, u32, Rights)> {
        if flags & MSG_OOB != 0 {
            return Err(Errno::EINVAL);
        }
        let timeo = self.opts.lock().rcvtimeo_ns;
        let wait = self.wait(flags, timeo);
        let peek = flags & MSG_PEEK != 0;
        if buf.is_empty() && self.proto.stream() {
            // Linux returns at once; lib/net would wait for data it cannot hand over.
            return Ok((0, None, 0, Rights::default()));
        }
        let mut r = self.proto.recv(buf, peek, wait)?;
        if self.proto.stream() && flags & MSG_WAITALL != 0 && !peek && r.n > 0 {
            // A read ends with the bytes that brought files, as on Linux.
            while r.n < buf.len() && r.rights.is_empty() {
                let mut rest = SinkFrom {
                    sink: &mut *buf,
                    off: r.n,
                };
                match self.proto.recv(&mut rest, false, wait) {
                    Ok(x) if x.n > 0 => {
                        r.n += x.n;
                        r.rights = x.rights;
                    }
                    _ => break,
                }
            }
            r.full = r.n;
        }
        let mut out_flags = 0;
        if r.full > r.n {
            out_flags |= MSG_TRUNC;
        }
        let n = if !self.proto.stream() && flags & MSG_TRUNC != 0 {
            r.full
        } else {
            r.n
        };
        let from = r.from.map(|a| addr::encode(&a, self.v6()));
        Ok((n, from, out_flags, r.rights))
    }

    /// setsockopt(2).
    pub fn setsockopt(&self, level: i32, name: i32, val: &[u8]) -> KResult<()> {
        // The option value as a record; shorter than the record: EINVAL.
        fn rec<T: uk_abi::Record>(val: &[u8]) -> KResult<T> {
            T::read_from_prefix(val)
                .map(|(v, _)| v)
                .map_err(|_| Errno::EINVAL)
        }
        let int = || rec::<i32>(val);
        let timeval = || -> KResult<u64> {
            let tv: Timeval = rec(val)?;
            if !(0..1_000_000).contains(&tv.tv_usec) {
                return Err(Errno::EDOM);
            }
            if tv.tv_sec < 0 {
                return Ok(0);
            }
            Ok((tv.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(tv.tv_usec as u64 * 1000))
        };
        let tcp = self.is_tcp();
        let mut o = self.opts.lock();
        match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR) => o.reuseaddr = int()? != 0,
            (SOL_SOCKET, SO_REUSEPORT) => o.reuseport = int()? != 0,
            (SOL_SOCKET, SO_KEEPALIVE) => o.keepalive = int()? != 0,
            (SOL_SOCKET, SO_SNDBUF | SO_SNDBUFFORCE) => {
                o.sndbuf = int()?.clamp(2304, i32::MAX / 2) * 2
            }
            (SOL_SOCKET, SO_RCVBUF | SO_RCVBUFFORCE) => {
                o.rcvbuf = int()?.clamp(1152, i32::MAX / 2) * 2
            }
            (SOL_SOCKET, SO_LINGER) => {
                let l: Linger = rec(val)?;
                o.linger = ((l.l_onoff != 0) as i32, l.l_linger);
            }
            (SOL_SOCKET, SO_RCVTIMEO) => o.rcvtimeo_ns = timeval()?,
            (SOL_SOCKET, SO_SNDTIMEO) => o.sndtimeo_ns = timeval()?,
            (SOL_SOCKET, SO_TYPE | SO_ERROR | SO_ACCEPTCONN | SO_PROTOCOL | SO_DOMAIN) => {
                return Err(Errno::ENOPROTOOPT)
            }
            (
                SOL_SOCKET,
                SO_DEBUG | SO_DONTROUTE | SO_BROADCAST | SO_OOBINLINE | SO_PRIORITY | SO_PASSCRED
                | SO_RCVLOWAT | SO_SNDLOWAT,
            ) => {
                o.other.insert((level, name), int()?);
            }
            (IPPROTO_TCP, _) if !tcp => return Err(Errno::EOPNOTSUPP),
            (IPPROTO_TCP, TCP_NODELAY) => o.nodelay = int()? != 0,
            (IPPROTO_TCP, TCP_KEEPIDLE | TCP_KEEPINTVL | TCP_KEEPCNT) => {
                let v = int()?;
                if !(1..=32767).contains(&v) || (name == TCP_KEEPCNT && v > 127) {
                    return Err(Errno::EINVAL);
                }
                match name {
                    TCP_KEEPIDLE => o.keepidle = v,
                    TCP_KEEPINTVL => o.keepintvl = v,
                    _ => o.keepcnt = v,
                }
            }
            (
                IPPROTO_TCP,
                TCP_MAXSEG | TCP_CORK | TCP_DEFER_ACCEPT | TCP_QUICKACK | TCP_USER_TIMEOUT
                | TCP_FASTOPEN | TCP_NOTSENT_LOWAT,
            ) => {
                o.other.insert((level, name), int()?);
            }
            (IPPROTO_IPV6, IPV6_V6ONLY) if self.domain == AF_INET6 => {
                // lwIP's IPv6 pcbs are dual stack; IPv4 peers still reach a V6ONLY socket.
                o.v6only = int()? != 0
            }
            (IPPROTO_IPV6, IPV6_TCLASS | IPV6_UNICAST_HOPS | IPV6_RECVERR)
                if self.domain == AF_INET6 =>
            {
                o.other.insert((level, name), int()?);
            }
            (IPPROTO_IP, IP_TOS | IP_TTL | IP_MTU_DISCOVER | IP_RECVERR)
                if self.domain != AF_UNIX =>
            {
                o.other.insert((level, name), int()?);
            }
            _ => {
                uk_log::warn_once!(
                    "setsockopt: an option ukit does not know was refused with ENOPROTOOPT (first: level {} name {})",
                    level,
                    name
                );
                return Err(Errno::ENOPROTOOPT);
            }
        }
        let snapshot = o.clone();
        drop(o);
        self.proto.apply(&snapshot, level, name);
        Ok(())
    }

    fn is_tcp(&self) -> bool {
        self.domain != AF_UNIX && self.ty == SOCK_STREAM
    }

    /// getsockopt(2): the option's bytes (the shim copies at most the caller's length).
    pub fn getsockopt(&self, level: i32, name: i32) -> KResult<Vec<u8>> {
        fn bytes<T: uk_abi::Record>(v: &T) -> KResult<Vec<u8>> {
            Ok(v.as_bytes().to_vec())
        }
        let int = |v: i32| bytes(&v);
        let timeval = |ns: u64| bytes(&Timeval::from_ns(ns as i64));
        let o = self.opts.lock();
        match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR) => int(o.reuseaddr as i32),
            (SOL_SOCKET, SO_REUSEPORT) => int(o.reuseport as i32),
            (SOL_SOCKET, SO_KEEPALIVE) => int(o.keepalive as i32),
            (SOL_SOCKET, SO_TYPE) => int(self.ty as i32),
            (SOL_SOCKET, SO_DOMAIN) => int(self.domain as i32),
            (SOL_SOCKET, SO_PROTOCOL) => int(self.protocol),
            (SOL_SOCKET, SO_ACCEPTCONN) => int(self.proto.listening() as i32),
            (SOL_SOCKET, SO_ERROR) => int(self.proto.take_error().map_or(0, |e| e.0)),
            (SOL_SOCKET, SO_SNDBUF | SO_SNDBUFFORCE) => int(o.sndbuf),
            (SOL_SOCKET, SO_RCVBUF | SO_RCVBUFFORCE) => int(o.rcvbuf),
            (SOL_SOCKET, SO_LINGER) => bytes(&Linger {
                l_onoff: o.linger.0,
                l_linger: o.linger.1,
            }),
            (SOL_SOCKET, SO_RCVTIMEO) => timeval(o.rcvtimeo_ns),
            (SOL_SOCKET, SO_SNDTIMEO) => timeval(o.sndtimeo_ns),
            (SOL_SOCKET, SO_PEERCRED) if self.domain == AF_UNIX => {
                let (pid, uid, gid) = self.proto.peer_cred().unwrap_or((0, u32::MAX, u32::MAX));
                bytes(&Ucred { pid, uid, gid })
            }
            (IPPROTO_TCP, _) if !self.is_tcp() => Err(Errno::EOPNOTSUPP),
            (IPPROTO_TCP, TCP_NODELAY) => int(o.nodelay as i32),
            (IPPROTO_TCP, TCP_KEEPIDLE) => int(o.keepidle),
            (IPPROTO_TCP, TCP_KEEPINTVL) => int(o.keepintvl),
            (IPPROTO_TCP, TCP_KEEPCNT) => int(o.keepcnt),
            (IPPROTO_TCP, TCP_MAXSEG) => int(*o.other.get(&(level, name)).unwrap_or(&1460)),
            (IPPROTO_IPV6, IPV6_V6ONLY) if self.domain == AF_INET6 => int(o.v6only as i32),
            (IPPROTO_IP, IP_TTL) if self.domain != AF_UNIX => {
                int(*o.other.get(&(level, name)).unwrap_or(&64))
            }
            (SOL_SOCKET | IPPROTO_TCP | IPPROTO_IP | IPPROTO_IPV6, _) => {
                match o.other.get(&(level, name)) {
                    Some(&v) => int(v),
                    None if matches!(
                        (level, name),
                        (
                            SOL_SOCKET,
                            SO_DEBUG
                                | SO_DONTROUTE
                                | SO_BROADCAST
                                | SO_OOBINLINE
                                | SO_PRIORITY
                                | SO_PASSCRED
                                | SO_SNDLOWAT
                        ) | (
                            IPPROTO_TCP,
                            TCP_CORK
                                | TCP_DEFER_ACCEPT
                                | TCP_QUICKACK
                                | TCP_USER_TIMEOUT
                                | TCP_FASTOPEN
                                | TCP_NOTSENT_LOWAT
                        ) | (IPPROTO_IP, IP_TOS | IP_MTU_DISCOVER | IP_RECVERR)
                            | (IPPROTO_IPV6, IPV6_TCLASS | IPV6_RECVERR)
                    ) =>
                    {
                        int(0)
                    }
                    None if (level, name) == (SOL_SOCKET, SO_RCVLOWAT) => int(1),
                    None => Err(Errno::ENOPROTOOPT),
                }
            }
            _ => Err(Errno::ENOPROTOOPT),
        }
    }
}

impl File for Socket {
    fn read(&self, buf: &mut dyn Sink) -> KResult<usize> {
        self.recv(buf, 0).map(|r| r.0)
    }

    fn write(&self, buf: &dyn Source) -> KResult<usize> {
        self.send(buf, None, 0)
    }

    fn ioctl(&self, cmd: u32, arg: usize) -> KResult<usize> {
        match cmd {
            FIONBIO => fionbio(&self.flags, arg),
            FIOASYNC => crate::pipe::fioasync(arg),
            FIONREAD => {
                if self.proto.listening() {
                    return Err(Errno::EINVAL);
                }
                let n = self.proto.rx_available().min(i32::MAX as usize) as i32;
                crate::user::write(arg, &n)?;
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn stat(&self) -> KResult<Stat> {
        Ok(Stat {
            st_dev: 0x08,
            st_ino: self.ino,
            st_mode: 0o140777,
            st_nlink: 1,
            st_blksize: 4096,
            ..Stat::default()
        })
    }

    fn status_flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    fn set_status_flags(&self, flags: u32) -> KResult<()> {
        set_nonblock_from(&self.flags, flags);
        Ok(())
    }

    fn poll(&self) -> u32 {
        self.proto.poll()
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(self.proto.wait_queue())
    }

    fn as_any(&self) -> Option<&dyn core::any::Any> {
        Some(self)
    }
}

/// The socket behind descriptor `fd` (EBADF, ENOTSOCK).
pub fn get(fd_: i32) -> KResult<Arc<dyn File>> {
    let f = crate::process::current().fds.get(fd_)?;
    Socket::of(&f)?;
    Ok(f)
}

/// Split `type` into (SOCK_* type, nonblock, cloexec); unknown flag bits: EINVAL.
fn split_type(ty: u32) -> KResult<(u32, bool, bool)> {
    let base = ty & 0xf;
    if ty & !(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok((base, ty & SOCK_NONBLOCK != 0, ty & SOCK_CLOEXEC != 0))
}

/// A new socket object (not yet in the descriptor table).
pub fn socket(domain: i32, ty: u32, protocol: i32) -> KResult<(Socket, bool)> {
    let (base, nonblock, cloexec) = split_type(ty)?;
    if !(1..=10).contains(&base) {
        return Err(Errno::EINVAL);
    }
    let domain = u16::try_from(domain).map_err(|_| Errno::EAFNOSUPPORT)?;
    let (proto, protocol): (Box<dyn Proto>, i32) = match domain {
        AF_UNIX => {
            if protocol != 0 {
                return Err(Errno::EPROTONOSUPPORT);
            }
            match base {
                SOCK_STREAM | SOCK_DGRAM => (Box::new(unix::UnixSock::new(base == SOCK_STREAM)), 0),
                SOCK_SEQPACKET => {
                    uk_log::warn_once!("socket(AF_UNIX, SOCK_SEQPACKET): not supported by ukit");
                    return Err(Errno::ESOCKTNOSUPPORT);
                }
                _ => return Err(Errno::ESOCKTNOSUPPORT),
            }
        }
        AF_INET | AF_INET6 => inet_socket(domain == AF_INET6, base, protocol)?,
        _ => return Err(Errno::EAFNOSUPPORT),
    };
    Ok((
        Socket::new(domain, base, protocol, nonblock, proto),
        cloexec,
    ))
}

#[cfg(feature = "net")]
fn inet_socket(v6: bool, base: u32, protocol: i32) -> KResult<(Box<dyn Proto>, i32)> {
    match (base, protocol) {
        (SOCK_STREAM, 0 | IPPROTO_TCP) => Ok((Box::new(inet::Tcp::new(v6)?), IPPROTO_TCP)),
        (SOCK_DGRAM, 0 | uk_abi::socket::IPPROTO_UDP) => {
            Ok((Box::new(inet::Udp::new(v6)?), uk_abi::socket::IPPROTO_UDP))
        }
        (SOCK_STREAM | SOCK_DGRAM, _) => Err(Errno::EPROTONOSUPPORT),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

#[cfg(not(feature = "net"))]
fn inet_socket(_v6: bool, _base: u32, _protocol: i32) -> KResult<(Box<dyn Proto>, i32)> {
    uk_log::warn_once!(
        "socket(AF_INET/AF_INET6): this kernel was built without networking; enable the option lib.net (uk-cc --uk-set lib.net=true, or UK_CONFIG_SET=lib.net=true) to get TCP/IP"
    );
    Err(Errno::EAFNOSUPPORT)
}

/// socket(2) into the descriptor table.
pub fn socket_fd(domain: i32, ty: u32, protocol: i32) -> KResult<i32> {
    let (s, cloexec) = socket(domain, ty, protocol)?;
    crate::process::current().install(Arc::new(s), cloexec)
}

/// socketpair(2): AF_UNIX only; returns both descriptors.
pub fn socketpair_fds(domain: i32, ty: u32, protocol: i32) -> KResult<(i32, i32)> {
    let (base, nonblock, cloexec) = split_type(ty)?;
    if domain != AF_UNIX as i32 {
        return Err(if domain == AF_INET as i32 || domain == AF_INET6 as i32 {
            Errno::EOPNOTSUPP
        } else {
            Errno::EAFNOSUPPORT
        });
    }
    if protocol != 0 {
        return Err(Errno::EPROTONOSUPPORT);
    }
    if base != SOCK_STREAM && base != SOCK_DGRAM {
        return Err(if base == SOCK_SEQPACKET {
            Errno::EOPNOTSUPP
        } else {
            Errno::ESOCKTNOSUPPORT
        });
    }
    let (a, b) = unix::UnixSock::pair(base == SOCK_STREAM);
    let a = Socket::new(AF_UNIX, base, 0, nonblock, Box::new(a));
    let b = Socket::new(AF_UNIX, base, 0, nonblock, Box::new(b));
    let fa = crate::process::current().install(Arc::new(a), cloexec)?;
    match crate::process::current().install(Arc::new(b), cloexec) {
        Ok(fb) => Ok((fa, fb)),
        Err(e) => {
            let _ = crate::process::current().fds.close(fa);
            Err(e)
        }
    }
}

/// accept4(2) into the descriptor table: (new fd, peer address bytes).
pub fn accept_fd(fd_: i32, flags: u32) -> KResult<(i32, Vec<u8>)> {
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let f = get(fd_)?;
    let (s, peer) = Socket::of(&f)?.accept(flags)?;
    let nfd = crate::process::current().install(Arc::new(s), flags & SOCK_CLOEXEC != 0)?;
    Ok((nfd, peer))
}

#[cfg(test)]
mod tests;
