//! AF_UNIX stream and datagram sockets, entirely inside the image.
//!
//! # Names
//! A filesystem name is a socket node in the VFS, as on Linux: bind makes one with
//! mknod (S_IFSOCK, mode 0777 less the umask; on ramfs, and on hostfs as a real socket
//! file of the host folder), EADDRINUSE when anything already has the path. The kernel
//! table of bound sockets is keyed by that node's identity (file system, st_dev,
//! st_ino), so connect resolves the path like any other (relative names, `..`,
//! symlinks) and finds the socket through the node it reaches: a path that is not a
//! socket node, or a node nobody is bound to, refuses (ECONNREFUSED). The node outlives
//! the socket until `unlink`, and `unlink` of a bound socket's node leaves the socket
//! bound but unreachable, as on Linux. Abstract names (leading NUL) are keyed by their
//! bytes and vanish with the socket. Where the file system cannot hold a socket node
//! (a kvm 9p share: QEMU's local backend refuses special files), the name is kept in
//! the table only, by absolute path, as a name without a file: connect reaches it,
//! `stat` does not see it, and it is released when the socket closes.
//!
//! # Data
//! Each socket owns its receive side (a byte queue for streams, a datagram queue), its
//! [`WaitQueue`], and a weak link to its peer. A writer copies into the peer's receive
//! side and notifies the peer's queue; a reader that frees space in a full queue
//! notifies the writer's queue, so poll/select/epoll on either end see every change.
//!
//! # Passed files (SCM_RIGHTS)
//! A sendmsg may carry open files ([`Rights`]). On a datagram socket they travel with
//! the datagram. On a stream they are attached to the bytes of that write, as a
//! [`Mark`] over a span of the byte queue: a read that reaches a marked span takes its
//! files and ends with that span's last byte, so files sent by two writes never arrive
//! in one read, and each batch comes with its own bytes (bytes without files before it
//! may come in the same read, as Linux glues them). A peek copies the files and leaves
//! them queued. Files that the reader does not take (read(2), a control buffer too
//! small) are dropped, which closes them. Files queued on a socket are dropped outside
//! its lock: the last reference to a passed socket may be in its own queue or its
//! peer's, and closing it takes those locks. A socket that is only reachable through
//! its own queue (sent to itself, or two ends holding each other) is never freed: Linux
//! collects such cycles, we do not; it is a leak, not a crash or a deadlock.
//!
//! SOCK_SEQPACKET and SCM_CREDENTIALS are not implemented.

use super::addr::{SockAddr, UnixAddr};
use super::{Proto, Recvd, Rights, Wait};
use crate::{Errno, KResult};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use litemap::LiteMap;
use uk_abi::poll::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRNORM};
use uk_abi::uio::{Sink, Source};
use uk_sched::{WaitQueue, Wake};

/// Bytes a stream socket's receive queue holds before writers wait.
pub const STREAM_CAP: usize = 256 * 1024;
/// Bytes of datagrams one socket queues.
pub const DGRAM_CAP: usize = 256 * 1024;
/// Datagrams one socket queues (Linux's net.unix.max_dgram_qlen).
pub const DGRAM_MAX_QUEUED: usize = 512;
/// Largest datagram (Linux: the send buffer size).
pub const DGRAM_MAX: usize = 212_992;

/// What the table of bound sockets is keyed by.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Abstract(Vec<u8>),
    /// A socket node: (file system instance, st_dev, st_ino).
    Node(usize, u64, u64),
    /// A name on a file system that cannot hold socket nodes (QEMU's 9p refuses special
    /// files): the absolute path, kept in this table only, released with the socket.
    Path(Vec<u8>),
}

/// The absolute form of a path name (relative names joined to the working directory;
/// `.`/`..` components are not folded): the key of a name without a node.
fn path_key(p: &[u8]) -> KResult<Key> {
    if p.first() == Some(&b'/') {
        return Ok(Key::Path(p.to_vec()));
    }
    let mut abs = crate::fs::getcwd()?;
    if abs.last() != Some(&b'/') {
        abs.push(b'/');
    }
    abs.extend_from_slice(p.strip_prefix(b"./").unwrap_or(p));
    Ok(Key::Path(abs))
}

#[derive(Default)]
struct St {
    /// Bound name as the program gave it (getsockname), and its table key.
    name: Option<UnixAddr>,
    key: Option<Key>,
    listening: bool,
    backlog: VecDeque<Arc<Shared>>,
    max_backlog: usize,
    /// Stream: connected (or accepted). Datagram: has a default destination.
    connected: bool,
    peer: Option<Weak<Shared>>,
    peer_name: Option<UnixAddr>,
    bytes: VecDeque<u8>,
    /// Stream offset of `bytes[0]` (bytes ever read), the origin of [`Mark`] spans.
    head: u64,
    /// Files attached to spans of `bytes`, in stream order, not overlapping.
    marks: VecDeque<Mark>,
    dgrams: VecDeque<(Vec<u8>, UnixAddr, Rights)>,
    dgram_bytes: usize,
    /// Nothing more will arrive (our SHUT_RD, the peer's SHUT_WR or close).
    rcv_shut: bool,
    /// Nothing more may be sent (our SHUT_WR, the peer's SHUT_RD or close).
    snd_shut: bool,
    /// The peer closed (stream): writes are EPIPE, and poll reports POLLHUP.
    peer_closed: bool,
    closed: bool,
}

/// Files sent with the stream bytes `start..end` (offsets counted like [`St::head`]).
struct Mark {
    start: u64,
    end: u64,
    rights: Rights,
}

struct Shared {
    stream: bool,
    wq: WaitQueue,
    st: spin::Mutex<St>,
}

impl Shared {
    fn new(stream: bool) -> Arc<Shared> {
        Arc::new(Shared {
            stream,
            wq: WaitQueue::new(),
            st: spin::Mutex::new(St::default()),
        })
    }
}

/// Bound names -> sockets.
static NAMES: spin::Mutex<LiteMap<Key, Weak<Shared>>> = spin::Mutex::new(LiteMap::new());
static AUTOBIND: AtomicU64 = AtomicU64::new(1);

/// The key of the socket node at `path` (symlinks followed, as connect does): ENOENT
/// when nothing is there, ECONNREFUSED when it is not a socket node.
fn node_key(path: &[u8]) -> KResult<Key> {
    let (kind, fs, dev, ino) = crate::fs::node_identity(uk_abi::fcntl::AT_FDCWD, path, true)?;
    if kind != uk_vfs::Kind::Sock {
        return Err(Errno::ECONNREFUSED);
    }
    Ok(Key::Node(fs, dev, ino))
}

fn lookup(a: &UnixAddr) -> KResult<Arc<Shared>> {
    let key = match a {
        UnixAddr::Path(p) => match node_key(p) {
            Err(Errno::ENOENT) => {
                // A name bound where no node could be made.
                let k = path_key(p)?;
                if let Some(s) = NAMES.lock().get(&k).and_then(Weak::upgrade) {
                    return Ok(s);
                }
                return Err(Errno::ENOENT);
            }
            r => r?,
        },
        UnixAddr::Abstract(b) => Key::Abstract(b.clone()),
        UnixAddr::Unnamed => return Err(Errno::ECONNREFUSED),
    };
    NAMES
        .lock()
        .get(&key)
        .and_then(Weak::upgrade)
        .ok_or(Errno::ECONNREFUSED)
}

fn block(wq: &WaitQueue, wait: Wait, ready: impl FnMut() -> bool) -> KResult<()> {
    match wait {
        Wait::NonBlocking => Err(Errno::EAGAIN),
        Wait::Until(d) => match wq.wait_until(d, ready) {
            Wake::Woken => Ok(()),
            Wake::Interrupted => Err(Errno::EINTR),
            Wake::Timeout => Err(Errno::EAGAIN),
        },
    }
}

/// Close one end: release the name, tell the peer, reset connections nobody accepted.
fn close(sh: &Arc<Shared>) {
    // Queued data, dropped after the lock: passed files may close sockets (this one's
    // peer, or this one itself through its peer).
    let queued;
    let (key, peer, backlog) = {
        let mut st = sh.st.lock();
        if st.closed {
            return;
        }
        st.closed = true;
        st.bytes = VecDeque::new();
        queued = (
            core::mem::take(&mut st.marks),
            core::mem::take(&mut st.dgrams),
        );
        st.dgram_bytes = 0;
        let backlog: Vec<Arc<Shared>> = st.backlog.drain(..).collect();
        let peer = if sh.stream { st.peer.take() } else { None };
        (st.key.take(), peer, backlog)
    };
    if let Some(k) = key {
        let mut names = NAMES.lock();
        if names
            .get(&k)
            .is_some_and(|w| core::ptr::eq(w.as_ptr(), Arc::as_ptr(sh)))
        {
            names.remove(&k);
        }
    }
    if let Some(p) = peer.and_then(|w| w.upgrade()) {
        {
            let mut ps = p.st.lock();
            ps.rcv_shut = true;
            ps.snd_shut = true;
            ps.peer_closed = true;
        }
        p.wq.notify(POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
    }
    for child in backlog {
        close(&child);
    }
    sh.wq.notify(POLLIN | POLLOUT | POLLHUP);
    drop(queued);
}

/// An AF_UNIX socket (one end).
pub struct UnixSock {
    sh: Arc<Shared>,
}

impl Drop for UnixSock {
    fn drop(&mut self) {
        close(&self.sh);
    }
}

fn unix_addr(a: SockAddr) -> KResult<UnixAddr> {
    match a {
        SockAddr::Unix(u) => Ok(u),
        _ => Err(Errno::EINVAL),
    }
}

impl UnixSock {
    pub fn new(stream: bool) -> UnixSock {
        UnixSock {
            sh: Shared::new(stream),
        }
    }

    /// socketpair(2): two connected ends.
    pub fn pair(stream: bool) -> (UnixSock, UnixSock) {
        let a = Shared::new(stream);
        let b = Shared::new(stream);
        for (x, y) in [(&a, &b), (&b, &a)] {
            let mut st = x.st.lock();
            st.connected = true;
            st.peer = Some(Arc::downgrade(y));
            st.peer_name = Some(UnixAddr::Unnamed);
        }
        (UnixSock { sh: a }, UnixSock { sh: b })
    }

    fn my_name(&self) -> UnixAddr {
        self.sh.st.lock().name.clone().unwrap_or(UnixAddr::Unnamed)
    }

    /// Sends part of `buf`; `rights` (taken when sent) go with the bytes of this write.
    fn stream_send(
        &self,
        buf: &dyn Source,
        wait: Wait,
        rights: &mut Option<Rights>,
    ) -> KResult<usize> {
        loop {
            let (peer, connected, snd_shut) = {
                let st = self.sh.st.lock();
                (
                    st.peer.as_ref().and_then(Weak::upgrade),
                    st.connected,
                    st.snd_shut,
                )
            };
            if !connected {
                return Err(Errno::ENOTCONN);
            }
            if snd_shut {
                return Err(Errno::EPIPE);
            }
            let Some(peer) = peer else {
                return Err(Errno::EPIPE);
            };
            {
                let mut ps = peer.st.lock();
                if ps.closed || ps.rcv_shut {
                    return Err(Errno::EPIPE);
                }
                let room = STREAM_CAP.saturating_sub(ps.bytes.len());
                if room > 0 {
                    let n = room.min(buf.len());
                    let start = ps.head + ps.bytes.len() as u64;
                    crate::bytes::push_from(&mut ps.bytes, buf, 0, n)?;
                    if let Some(r) = rights.take() {
                        ps.marks.push_back(Mark {
                            start,
                            end: start + n as u64,
                            rights: r,
                        });
                    }
                    drop(ps);
                    peer.wq.notify(POLLIN | POLLRDNORM);
                    return Ok(n);
                }
            }
            let p = peer.clone();
            block(&self.sh.wq, wait, || {
                let ps = p.st.lock();
                ps.closed || ps.rcv_shut || ps.bytes.len() < STREAM_CAP
            })?;
        }
    }

    fn stream_recv(&self, buf: &mut dyn Sink, peek: bool, wait: Wait) -> KResult<Recvd> {
        loop {
            {
                let mut st = self.sh.st.lock();
                if !st.bytes.is_empty() && !buf.is_empty() {
                    let before = st.bytes.len();
                    let mut n = buf.len().min(before);
                    // The first marked span this read reaches ends it, with its files.
                    let head = st.head;
                    let mark = st
                        .marks
                        .front()
                        .filter(|m| m.start < head + n as u64)
                        .map(|m| (m.end, m.rights.clone()));
                    let mut rights = Rights::default();
                    if let Some((end, r)) = mark {
                        n = n.min((end - head) as usize);
                        rights = r;
                    }
                    crate::bytes::copy_front(&st.bytes, n, buf)?;
                    if !peek {
                        if !rights.is_empty() {
                            st.marks.pop_front();
                        }
                        st.head += n as u64;
                        st.bytes.drain(..n);
                        if st.bytes.is_empty() {
                            st.bytes = VecDeque::new();
                        }
                        let peer = st.peer.as_ref().and_then(Weak::upgrade);
                        drop(st);
                        if before >= STREAM_CAP {
                            if let Some(p) = peer {
                                p.wq.notify(POLLOUT | POLLWRNORM);
                            }
                        }
                    }
                    return Ok(Recvd {
                        n,
                        full: n,
                        from: None,
                        rights,
                    });
                }
                if buf.is_empty() || st.rcv_shut {
                    return Ok(Recvd {
                        n: 0,
                        full: 0,
                        from: None,
                        rights: Rights::default(),
                    });
                }
                if !st.connected {
                    return Err(Errno::EINVAL);
                }
            }
            let sh = &self.sh;
            block(&sh.wq, wait, || {
                let st = sh.st.lock();
                !st.bytes.is_empty() || st.rcv_shut
            })?;
        }
    }

    /// Sends one datagram; `rights` go with it. Unsent, they are dropped by the caller
    /// (after our locks).
    fn dgram_send(
        &self,
        src: &dyn Source,
        to: Option<SockAddr>,
        wait: Wait,
        rights: &mut Option<Rights>,
    ) -> KResult<usize> {
        if src.len() > DGRAM_MAX {
            return Err(Errno::EMSGSIZE);
        }
        // A datagram is taken whole, now (program memory is checked at this copy).
        let mut data = alloc::vec::Vec::new();
        data.try_reserve_exact(src.len())
            .map_err(|_| Errno::ENOMEM)?;
        data.resize(src.len(), 0);
        src.read_at(0, &mut data)?;
        let len = data.len();
        if self.sh.st.lock().snd_shut {
            return Err(Errno::EPIPE);
        }
        let target = match to {
            Some(a) => lookup(&unix_addr(a)?)?,
            None => {
                let st = self.sh.st.lock();
                if !st.connected {
                    return Err(Errno::ENOTCONN);
                }
                st.peer
                    .as_ref()
                    .and_then(Weak::upgrade)
                    .ok_or(Errno::ECONNREFUSED)?
            }
        };
        if target.stream {
            return Err(Errno::EPROTOTYPE);
        }
        let from = self.my_name();
        loop {
            {
                let mut ts = target.st.lock();
                if ts.closed {
                    return Err(Errno::ECONNREFUSED);
                }
                if ts.dgrams.len() < DGRAM_MAX_QUEUED && ts.dgram_bytes + len <= DGRAM_CAP {
                    ts.dgram_bytes += len;
                    ts.dgrams.push_back((
                        core::mem::take(&mut data),
                        from.clone(),
                        rights.take().unwrap_or_default(),
                    ));
                    drop(ts);
                    target.wq.notify(POLLIN | POLLRDNORM);
                    return Ok(len);
                }
            }
            let t = &target;
            block(&target.wq, wait, || {
                let ts = t.st.lock();
                ts.closed
                    || (ts.dgrams.len() < DGRAM_MAX_QUEUED && ts.dgram_bytes + len <= DGRAM_CAP)
            })?;
        }
    }

    fn dgram_recv(&self, buf: &mut dyn Sink, peek: bool, wait: Wait) -> KResult<Recvd> {
        loop {
            {
                let mut st = self.sh.st.lock();
                if let Some((d, from, r)) = st.dgrams.front() {
                    let full = d.len();
                    let n = full.min(buf.len());
                    let copied = buf.write_at(0, &d[..n]);
                    let from = from.clone();
                    let mut rights = Rights::default();
                    if peek {
                        rights = r.clone();
                    } else {
                        let was_full = st.dgrams.len() >= DGRAM_MAX_QUEUED
                            || st.dgram_bytes + DGRAM_MAX > DGRAM_CAP;
                        if let Some((_, _, r)) = st.dgrams.pop_front() {
                            rights = r;
                        }
                        st.dgram_bytes -= full;
                        let peer = st.peer.as_ref().and_then(Weak::upgrade);
                        drop(st);
                        if was_full {
                            // Senders wait on our queue; a connected peer polls its own.
                            self.sh.wq.notify(POLLOUT);
                            if let Some(p) = peer {
                                p.wq.notify(POLLOUT | POLLWRNORM);
                            }
                        }
                    }
                    // As on Linux, the datagram is consumed even when the buffer was bad.
                    copied?;
                    return Ok(Recvd {
                        n,
                        full,
                        from: Some(SockAddr::Unix(from)),
                        rights,
                    });
                }
                if st.rcv_shut {
                    return Ok(Recvd {
                        n: 0,
                        full: 0,
                        from: None,
                        rights: Rights::default(),
                    });
                }
            }
            let sh = &self.sh;
            block(&sh.wq, wait, || {
                let st = sh.st.lock();
                !st.dgrams.is_empty() || st.rcv_shut
            })?;
        }
    }
}

impl Proto for UnixSock {
    fn stream(&self) -> bool {
        self.sh.stream
    }

    fn bind(&self, a: SockAddr) -> KResult<()> {
        let mut name = unix_addr(a)?;
        if self.sh.st.lock().name.is_some() {
            return Err(Errno::EINVAL);
        }
        if name == UnixAddr::Unnamed {
            // Autobind: Linux picks five hex digits in the abstract namespace.
            let n = AUTOBIND.fetch_add(1, Ordering::Relaxed);
            name = UnixAddr::Abstract(alloc::format!("{:05x}", n & 0xfffff).into_bytes());
        }
        let key = match &name {
            UnixAddr::Path(p) => {
                // The socket node; anything already at the path is in use.
                let mode = uk_abi::stat::S_IFSOCK | 0o777;
                match crate::fs::mknodat(uk_abi::fcntl::AT_FDCWD, p, mode) {
                    Err(Errno::EEXIST) => return Err(Errno::EADDRINUSE),
                    // The file system cannot hold a socket node: the name lives in the
                    // kernel table only (no file; released when the socket closes).
                    Err(Errno::EPERM | Errno::ENXIO | Errno::EOPNOTSUPP | Errno::ENOSYS) => {
                        path_key(p)?
                    }
                    Err(e) => return Err(e),
                    Ok(()) => {
                        let (_, fs, dev, ino) =
                            crate::fs::node_identity(uk_abi::fcntl::AT_FDCWD, p, false)?;
                        Key::Node(fs, dev, ino)
                    }
                }
            }
            UnixAddr::Abstract(b) => Key::Abstract(b.clone()),
            UnixAddr::Unnamed => return Err(Errno::EINVAL),
        };
        {
            let mut names = NAMES.lock();
            // A node key taken by a live socket means that socket's node was unlinked
            // and the file system reused the inode number for the node just made: the
            // old socket is unreachable by path, as on Linux, so the new one takes the
            // key. Abstract names stay taken while their socket lives.
            if !matches!(key, Key::Node(..))
                && names.get(&key).is_some_and(|w| w.strong_count() > 0)
            {
                return Err(Errno::EADDRINUSE);
            }
            names.insert(key.clone(), Arc::downgrade(&self.sh));
        }
        let mut st = self.sh.st.lock();
        st.name = Some(name);
        st.key = Some(key);
        Ok(())
    }

    fn listen(&self, backlog: i32) -> KResult<()> {
        if !self.sh.stream {
            return Err(Errno::EOPNOTSUPP);
        }
        if self.sh.st.lock().name.is_none() {
            // Linux: listen on an unbound AF_UNIX socket autobinds.
            self.bind(SockAddr::Unix(UnixAddr::Unnamed))?;
        }
        let mut st = self.sh.st.lock();
        if st.connected {
            return Err(Errno::EINVAL);
        }
        st.listening = true;
        st.max_backlog = backlog.clamp(1, 4096) as usize;
        Ok(())
    }

    fn accept(&self, wait: Wait) -> KResult<(Box<dyn Proto>, SockAddr)> {
        if !self.sh.stream {
            return Err(Errno::EOPNOTSUPP);
        }
        loop {
            let child = {
                let mut st = self.sh.st.lock();
                if !st.listening {
                    return Err(Errno::EINVAL);
                }
                st.backlog.pop_front()
            };
            if let Some(child) = child {
                // Connectors waiting for backlog room.
                self.sh.wq.notify(POLLOUT);
                let peer = child
                    .st
                    .lock()
                    .peer_name
                    .clone()
                    .unwrap_or(UnixAddr::Unnamed);
                return Ok((Box::new(UnixSock { sh: child }), SockAddr::Unix(peer)));
            }
            let sh = &self.sh;
            block(&sh.wq, wait, || {
                let st = sh.st.lock();
                !st.backlog.is_empty() || !st.listening
            })?;
        }
    }

    fn connect(&self, a: SockAddr, wait: Wait) -> KResult<()> {
        if !self.sh.stream {
            if a == SockAddr::Unspec {
                let mut st = self.sh.st.lock();
                st.connected = false;
                st.peer = None;
                st.peer_name = None;
                return Ok(());
            }
            let name = unix_addr(a)?;
            let target = lookup(&name)?;
            if target.stream {
                return Err(Errno::EPROTOTYPE);
            }
            let mut st = self.sh.st.lock();
            st.connected = true;
            st.peer = Some(Arc::downgrade(&target));
            st.peer_name = Some(name);
            return Ok(());
        }
        let name = unix_addr(a)?;
        {
            let st = self.sh.st.lock();
            if st.connected {
                return Err(Errno::EISCONN);
            }
            if st.listening {
                return Err(Errno::EINVAL);
            }
        }
        let target = lookup(&name)?;
        if !target.stream {
            return Err(Errno::EPROTOTYPE);
        }
        loop {
            {
                let mut ts = target.st.lock();
                if !ts.listening || ts.closed {
                    return Err(Errno::ECONNREFUSED);
                }
                if ts.backlog.len() < ts.max_backlog {
                    let child = Shared::new(true);
                    {
                        let mut cs = child.st.lock();
                        cs.connected = true;
                        cs.peer = Some(Arc::downgrade(&self.sh));
                        cs.peer_name = Some(self.my_name());
                        cs.name = ts.name.clone();
                    }
                    let listener_name = ts.name.clone();
                    ts.backlog.push_back(child.clone());
                    drop(ts);
                    {
                        let mut st = self.sh.st.lock();
                        st.connected = true;
                        st.peer = Some(Arc::downgrade(&child));
                        st.peer_name = listener_name;
                    }
                    target.wq.notify(POLLIN | POLLRDNORM);
                    self.sh.wq.notify(POLLOUT | POLLWRNORM);
                    return Ok(());
                }
            }
            let t = &target;
            block(&target.wq, wait, || {
                let ts = t.st.lock();
                ts.closed || !ts.listening || ts.backlog.len() < ts.max_backlog
            })?;
        }
    }

    fn send(&self, buf: &dyn Source, to: Option<SockAddr>, wait: Wait) -> KResult<usize> {
        self.send_rights(buf, to, wait, Rights::default())
    }

    fn send_rights(
        &self,
        buf: &dyn Source,
        to: Option<SockAddr>,
        wait: Wait,
        rights: Rights,
    ) -> KResult<usize> {
        let mut rights = Some(rights).filter(|r| !r.is_empty());
        if self.sh.stream {
            if to.is_some() {
                let st = self.sh.st.lock();
                return Err(if st.connected {
                    Errno::EISCONN
                } else {
                    Errno::EOPNOTSUPP
                });
            }
            self.stream_send(buf, wait, &mut rights)
        } else {
            self.dgram_send(buf, to, wait, &mut rights)
        }
    }

    fn recv(&self, buf: &mut dyn Sink, peek: bool, wait: Wait) -> KResult<Recvd> {
        if self.sh.stream {
            self.stream_recv(buf, peek, wait)
        } else {
            self.dgram_recv(buf, peek, wait)
        }
    }

    fn shutdown(&self, rd: bool, wr: bool) -> KResult<()> {
        let peer = {
            let mut st = self.sh.st.lock();
            if self.sh.stream && !st.connected {
                return Err(Errno::ENOTCONN);
            }
            if rd {
                st.rcv_shut = true;
            }
            if wr {
                st.snd_shut = true;
            }
            st.peer.as_ref().and_then(Weak::upgrade)
        };
        if let Some(p) = peer.filter(|_| self.sh.stream) {
            {
                let mut ps = p.st.lock();
                if wr {
                    ps.rcv_shut = true;
                }
                if rd {
                    ps.snd_shut = true;
                }
            }
            p.wq.notify(POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
        }
        self.sh.wq.notify(POLLIN | POLLOUT | POLLHUP);
        Ok(())
    }

    fn local(&self) -> KResult<SockAddr> {
        Ok(SockAddr::Unix(self.my_name()))
    }

    fn peer(&self) -> KResult<SockAddr> {
        let st = self.sh.st.lock();
        match (&st.peer_name, st.connected) {
            (Some(n), true) => Ok(SockAddr::Unix(n.clone())),
            _ => Err(Errno::ENOTCONN),
        }
    }

    fn poll(&self) -> u32 {
        let st = self.sh.st.lock();
        let mut r = 0;
        if self.sh.stream {
            if st.listening {
                return if st.backlog.is_empty() {
                    0
                } else {
                    POLLIN | POLLRDNORM
                };
            }
            if !st.bytes.is_empty() || st.rcv_shut {
                r |= POLLIN | POLLRDNORM;
            }
            if st.rcv_shut {
                r |= POLLRDHUP;
            }
            if (st.rcv_shut && st.snd_shut) || !st.connected {
                r |= POLLHUP;
            }
            let peer = st.peer.as_ref().and_then(Weak::upgrade);
            drop(st);
            let writable = match peer {
                Some(p) => {
                    let ps = p.st.lock();
                    ps.closed || ps.rcv_shut || ps.bytes.len() < STREAM_CAP
                }
                None => true,
            };
            if writable {
                r |= POLLOUT | POLLWRNORM;
            }
        } else {
            if !st.dgrams.is_empty() || st.rcv_shut {
                r |= POLLIN | POLLRDNORM;
            }
            if st.rcv_shut && st.snd_shut {
                r |= POLLHUP;
            }
            let peer = if st.connected {
                st.peer.as_ref().map(Weak::upgrade)
            } else {
                None
            };
            drop(st);
            let writable = match peer {
                Some(Some(p)) => {
                    let ps = p.st.lock();
                    ps.closed || (ps.dgrams.len() < DGRAM_MAX_QUEUED && ps.dgram_bytes < DGRAM_CAP)
                }
                Some(None) => {
                    r |= POLLERR;
                    true
                }
                None => true,
            };
            if writable {
                r |= POLLOUT | POLLWRNORM;
            }
        }
        r
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.sh.wq
    }

    fn rx_available(&self) -> usize {
        let st = self.sh.st.lock();
        if self.sh.stream {
            st.bytes.len()
        } else {
            st.dgrams.front().map_or(0, |d| d.0.len())
        }
    }

    fn listening(&self) -> bool {
        self.sh.st.lock().listening
    }

    fn peer_cred(&self) -> Option<(i32, u32, u32)> {
        // One process: the peer is always ourselves.
        self.sh
            .st
            .lock()
            .connected
            .then_some((crate::process::current().pid(), 0, 0))
    }
}
