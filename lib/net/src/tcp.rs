//! TCP sockets on lwIP's raw API.
//!
//! Ownership: a socket's state is an `Arc<Inner>`. The user handle ([`TcpSocket`]) holds
//! one reference; while lwIP has a pcb for the socket, lwIP holds another (as the pcb's
//! callback argument), given back when lwIP reports the pcb gone (`err` callback) or when
//! the socket detaches from its pcb (close). Received data waits as a queue of pbufs and
//! the window opens (`tcp_recved`) only as the program reads, so a slow reader throttles
//! its peer instead of filling memory.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::ffi::c_void;
use core::net::SocketAddr;
use uk_abi::uio::{Sink, Source};
use uk_abi::Errno;
use uk_lwip_sys as sys;
use uk_sched::{WaitQueue, Wake};

use crate::poll::*;
use crate::{addr, locked, Wait};

const OK: sys::err_t = sys::err_enum_t::ERR_OK as sys::err_t;
/// What the input hook returns to have lwIP drop a segment.
const DROP: sys::err_t = sys::err_enum_t::ERR_VAL as sys::err_t;

/// Linux's default `net.core.somaxconn`: a listen backlog above it (or negative) is
/// this. As on Linux, a backlog of `n` lets `n + 1` connections wait for accept.
pub const SOMAXCONN: u32 = 4096;
/// Connections half-open (SYN received, handshake not finished) for all listeners
/// together: a SYN beyond it is dropped and the peer sends it again, as when Linux's
/// SYN queue (`tcp_max_syn_backlog`) overflows without syncookies. It bounds what a
/// flood of SYNs can take (a pcb each, for lwIP's 20 s SYN_RCVD timeout) while a
/// burst of thousands of real clients gets through.
const HALF_OPEN_MAX: u64 = 4096;
/// After a count found [`HALF_OPEN_MAX`] reached, SYNs are dropped without counting
/// again for this long (monotonic ns): a flood costs one list walk per interval.
const HALF_OPEN_RECHECK_NS: u64 = 100_000_000;

/// The half-open bound's bookkeeping (core lock held: lwIP's input runs under it).
/// SYNs let through minus handshakes finished is an upper bound on the connections
/// half-open (a half-open connection that dies unseen only makes it higher); when it
/// reaches the bound, lwIP's list is counted for the true number.
struct HalfOpen {
    admitted: u64,
    finished: u64,
    /// No SYN gets through before this (monotonic ns).
    full_until: u64,
}

static HALF_OPEN: spin::Mutex<HalfOpen> = spin::Mutex::new(HalfOpen {
    admitted: 0,
    finished: 0,
    full_until: 0,
});

/// Connections in SYN_RCVD now. Core lock held.
fn count_half_open() -> u64 {
    let mut n = 0;
    // SAFETY: core lock held; lwIP's active list is a NULL-terminated chain of live
    // pcbs.
    unsafe {
        let mut pcb = sys::tcp_active_pcbs;
        let mut budget = 1 << 20; // a corrupt list must not loop for ever
        while !pcb.is_null() && budget > 0 {
            if (*pcb).state == sys::tcp_state_SYN_RCVD {
                n += 1;
            }
            pcb = (*pcb).next;
            budget -= 1;
        }
    }
    n
}

/// Whether one more SYN may start a half-open connection now (see [`HALF_OPEN_MAX`]).
fn admit_syn() -> bool {
    let mut h = HALF_OPEN.lock();
    if h.admitted.saturating_sub(h.finished) >= HALF_OPEN_MAX {
        let now = uk_plat::get().monotonic_ns();
        if now < h.full_until {
            return false;
        }
        let real = count_half_open();
        h.admitted = h.finished + real;
        if real >= HALF_OPEN_MAX {
            h.full_until = now + HALF_OPEN_RECHECK_NS;
            return false;
        }
    }
    h.admitted += 1;
    true
}

// TCP header flags (the low bits of byte 13).
const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

/// lwIP error -> errno, for calls (not for the err callback).
/// True when a listening socket holds `port` on `ip`, or on any address, or `ip` is the
/// any address. Core lock held.
fn listener_on(ip: core::net::IpAddr, port: u16) -> bool {
    // SAFETY: core lock held by the caller; walks lwIP's list of listening pcbs.
    unsafe {
        let mut l = sys::tcp_listen_pcbs.listen_pcbs;
        while !l.is_null() {
            let at = addr::from_lwip(&(*l).local_ip);
            if (*l).local_port == port && (at.is_unspecified() || ip.is_unspecified() || at == ip) {
                return true;
            }
            l = (*l).next;
        }
    }
    false
}

fn errno_of(e: sys::err_t) -> Errno {
    use sys::err_enum_t as E;
    match e as i32 {
        x if x == E::ERR_MEM as i32 || x == E::ERR_BUF as i32 => Errno::ENOMEM,
        x if x == E::ERR_TIMEOUT as i32 => Errno::ETIMEDOUT,
        x if x == E::ERR_RTE as i32 => Errno::ENETUNREACH,
        x if x == E::ERR_INPROGRESS as i32 => Errno::EINPROGRESS,
        x if x == E::ERR_WOULDBLOCK as i32 => Errno::EAGAIN,
        x if x == E::ERR_USE as i32 => Errno::EADDRINUSE,
        x if x == E::ERR_ALREADY as i32 => Errno::EALREADY,
        x if x == E::ERR_ISCONN as i32 => Errno::EISCONN,
        x if x == E::ERR_CONN as i32 => Errno::ENOTCONN,
        x if x == E::ERR_IF as i32 => Errno::EHOSTUNREACH,
        x if x == E::ERR_ABRT as i32 => Errno::ECONNABORTED,
        x if x == E::ERR_RST as i32 => Errno::ECONNRESET,
        x if x == E::ERR_CLSD as i32 => Errno::ENOTCONN,
        _ => Errno::EINVAL,
    }
}

/// A pbuf owned by a socket's receive queue.
struct Pbuf(*mut sys::pbuf);

#[derive(Default)]
struct State {
    pcb: *mut sys::tcp_pcb,
    v6: bool,
    listening: bool,
    connecting: bool,
    connected: bool,
    /// A non-blocking connect answered EINPROGRESS and no later connect has reported
    /// its success yet: Linux's next connect then returns 0 once, later ones EISCONN.
    unreported: bool,
    /// The peer sent FIN.
    rd_eof: bool,
    rd_shut: bool,
    wr_shut: bool,
    /// lwIP dropped the pcb (reset, abort, timeout).
    dead: bool,
    /// Pending error for the next call or SO_ERROR.
    error: Option<Errno>,
    rx: VecDeque<Pbuf>,
    /// Bytes of the front pbuf already read.
    rx_off: usize,
    rx_len: usize,
    accept_q: VecDeque<Arc<Inner>>,
    /// Established connections that may wait for accept (the listen backlog + 1).
    backlog: usize,
    nodelay: bool,
    reuseaddr: bool,
    keepalive: bool,
    /// (idle, interval) in ms and count, for keepalive probes.
    keep: Option<(u32, u32, u32)>,
}

// SAFETY: the raw pointers in State (pcb, pbufs) are only used under the core lock, on
// the one CPU; the state moves between threads only as data behind the socket's lock.
unsafe impl Send for State {}

struct Inner {
    st: spin::Mutex<State>,
    wq: WaitQueue,
}

impl Inner {
    fn new(v6: bool) -> Arc<Inner> {
        Arc::new(Inner {
            st: spin::Mutex::new(State {
                v6,
                ..Default::default()
            }),
            wq: WaitQueue::new(),
        })
    }

    fn notify(&self, bits: u32) {
        self.wq.notify(bits);
    }
}

/// Gives lwIP its reference and our callbacks for `pcb`. Core lock held.
unsafe fn attach(inner: &Arc<Inner>, pcb: *mut sys::tcp_pcb) {
    let arg = Arc::into_raw(inner.clone()) as *mut c_void;
    // SAFETY: pcb is a live pcb; the callbacks match lwIP's signatures.
    unsafe {
        sys::tcp_arg(pcb, arg);
        sys::tcp_recv(pcb, Some(recv_cb));
        sys::tcp_sent(pcb, Some(sent_cb));
        sys::tcp_err(pcb, Some(err_cb));
    }
}

/// Takes our callbacks and lwIP's reference off `pcb` (which stays alive, e.g. to finish
/// a close). Core lock held.
unsafe fn detach(pcb: *mut sys::tcp_pcb, listening: bool) {
    // SAFETY: pcb is live; callback_arg was set by attach (a leaked Arc<Inner>).
    unsafe {
        let arg = (*pcb).callback_arg;
        sys::tcp_arg(pcb, core::ptr::null_mut());
        if listening {
            sys::tcp_accept(pcb, None);
        } else {
            sys::tcp_recv(pcb, None);
            sys::tcp_sent(pcb, None);
            sys::tcp_err(pcb, None);
        }
        if !arg.is_null() {
            drop(Arc::from_raw(arg as *const Inner));
        }
    }
}

/// # Safety
/// `arg` is a callback argument set by [`attach`]: a live `Arc<Inner>` lwIP holds.
unsafe fn inner_of<'a>(arg: *mut c_void) -> Option<&'a Inner> {
    // SAFETY: per the contract.
    (!arg.is_null()).then(|| unsafe { &*(arg as *const Inner) })
}

unsafe extern "C" fn recv_cb(
    arg: *mut c_void,
    pcb: *mut sys::tcp_pcb,
    p: *mut sys::pbuf,
    _err: sys::err_t,
) -> sys::err_t {
    // SAFETY: lwIP passes back what attach set.
    let Some(inner) = (unsafe { inner_of(arg) }) else {
        if !p.is_null() {
            // SAFETY: we own p now; nobody wants it.
            unsafe { sys::pbuf_free(p) };
        }
        return OK;
    };
    {
        let mut st = inner.st.lock();
        if p.is_null() {
            st.rd_eof = true;
        } else if st.rd_shut {
            // Read side shut: discard, but keep the window open.
            // SAFETY: p is ours; pcb is live during the callback.
            unsafe {
                recved(pcb, (*p).tot_len as usize);
                sys::pbuf_free(p);
            }
        } else {
            // SAFETY: p is a valid pbuf handed to us.
            st.rx_len += unsafe { (*p).tot_len } as usize;
            st.rx.push_back(Pbuf(p));
        }
    }
    inner.notify(POLLIN | POLLRDHUP);
    OK
}

unsafe extern "C" fn sent_cb(arg: *mut c_void, _pcb: *mut sys::tcp_pcb, _len: u16) -> sys::err_t {
    // SAFETY: lwIP passes back what attach set.
    if let Some(inner) = unsafe { inner_of(arg) } {
        inner.notify(POLLOUT);
    }
    OK
}

unsafe extern "C" fn connected_cb(
    arg: *mut c_void,
    _pcb: *mut sys::tcp_pcb,
    _err: sys::err_t,
) -> sys::err_t {
    // SAFETY: lwIP passes back what attach set.
    if let Some(inner) = unsafe { inner_of(arg) } {
        {
            let mut st = inner.st.lock();
            st.connecting = false;
            st.connected = true;
        }
        inner.notify(POLLOUT);
    }
    OK
}

/// The pcb is gone (lwIP freed it): record why and give back lwIP's reference.
unsafe extern "C" fn err_cb(arg: *mut c_void, err: sys::err_t) {
    if arg.is_null() {
        return;
    }
    // SAFETY: arg is lwIP's reference from attach; lwIP will not use it again.
    let inner = unsafe { Arc::from_raw(arg as *const Inner) };
    {
        let mut st = inner.st.lock();
        st.pcb = core::ptr::null_mut();
        st.dead = true;
        let e = if st.connecting && err == sys::err_enum_t::ERR_RST as sys::err_t {
            Errno::ECONNREFUSED
        } else if st.connecting && err == sys::err_enum_t::ERR_ABRT as sys::err_t {
            Errno::ETIMEDOUT
        } else {
            errno_of(err)
        };
        st.connecting = false;
        st.error = Some(e);
        free_rx(&mut st);
    }
    inner.notify(POLLIN | POLLOUT | POLLERR | POLLHUP);
}

unsafe extern "C" fn accept_cb(
    arg: *mut c_void,
    newpcb: *mut sys::tcp_pcb,
    err: sys::err_t,
) -> sys::err_t {
    // A SYN the hook admitted is done with (established, or lwIP had no memory for it).
    HALF_OPEN.lock().finished += 1;
    // SAFETY: lwIP passes back what attach/listen set.
    let Some(listener) = (unsafe { inner_of(arg) }) else {
        return sys::err_enum_t::ERR_VAL as sys::err_t;
    };
    if newpcb.is_null() || err != OK {
        return sys::err_enum_t::ERR_VAL as sys::err_t;
    }
    let (v6, nodelay) = {
        let st = listener.st.lock();
        // SYNs stop at a full queue (`listen_input`), so only handshakes already under
        // way when it filled find it full: those still get in. Linux would leave them
        // half-open and have the peer send its last ACK again; lwIP can only take or
        // abort (a reset the client sees), and a batch of frames handed over at once
        // (the net thread after a preemption) finishes hundreds of handshakes before
        // the program accepts one. They are bounded by the half-open limit.
        if st.accept_q.len() >= st.backlog + HALF_OPEN_MAX as usize {
            return sys::err_enum_t::ERR_MEM as sys::err_t;
        }
        (st.v6, st.nodelay)
    };
    let child = Inner::new(v6);
    {
        let mut st = child.st.lock();
        st.pcb = newpcb;
        st.connected = true;
        st.nodelay = nodelay;
    }
    // SAFETY: newpcb is live; core lock held (we are inside lwIP).
    unsafe {
        attach(&child, newpcb);
        if nodelay {
            (*newpcb).flags |= sys::TF_NODELAY as u16;
        }
    }
    listener.st.lock().accept_q.push_back(child);
    listener.notify(POLLIN);
    OK
}

/// Opens the receive window by `n` bytes. Core lock held, pcb live.
unsafe fn recved(pcb: *mut sys::tcp_pcb, mut n: usize) {
    while n > 0 {
        let c = n.min(0xffff);
        // SAFETY: per the contract.
        unsafe { sys::tcp_recved(pcb, c as u16) };
        n -= c;
    }
}

fn free_rx(st: &mut State) {
    for p in st.rx.drain(..) {
        // SAFETY: each queued pbuf is ours, freed once.
        unsafe { sys::pbuf_free(p.0) };
    }
    st.rx_off = 0;
    st.rx_len = 0;
}

/// The TCP input hook (lwipopts.h: `LWIP_HOOK_TCP_INPACKET_PCB`): lwIP matched `pcb`
/// (a listen pcb when its state says LISTEN) to a segment with header `hdr`. ERR_OK
/// lets lwIP go on; anything else drops the segment. It must not change lwIP's state
/// (lwIP is walking its lists), so a TIME_WAIT connection is ended after the segment
/// (`stack::request_time_wait_end`). What it does, as Linux does (docs/net.md):
/// - LISTEN: a SYN while the accept queue is full is parked until the program accepts
///   (device input; docs/net.md, "A full accept queue"), or dropped (loopback).
/// - TIME_WAIT: a SYN with a sequence number above the old connection's next one starts
///   a new connection (lwIP would answer with an ACK for the old one, and ignore the
///   peer's RST: the connect hangs until TIME_WAIT ends); an RST exactly at that
///   sequence number ends the TIME_WAIT (Linux's default, `tcp_rfc1337 = 0`).
///
/// # Safety
/// Called by lwIP's tcp_input with the core lock held, a live pcb and the segment's
/// header (contiguous: tcp_input checked the first pbuf holds it). tcp_input has
/// already turned the header's ports and sequence numbers into host order (in place);
/// the flags word is still as received.
#[no_mangle]
pub unsafe extern "C" fn uk_net_tcp_inpacket(
    pcb: *mut sys::tcp_pcb,
    hdr: *const sys::tcp_hdr,
    _p: *mut sys::pbuf,
) -> sys::err_t {
    if pcb.is_null() || hdr.is_null() {
        return OK;
    }
    // SAFETY: per the contract (tcp_hdr is packed: unaligned reads). A listen pcb
    // (struct tcp_pcb_listen) has `state` at the same place (lwIP's TCP_PCB_COMMON),
    // so it is read without assuming the rest.
    let (state, seq, flags) = unsafe {
        (
            core::ptr::addr_of!((*pcb).state).read(),
            core::ptr::addr_of!((*hdr).seqno).read_unaligned(),
            u16::from_be(core::ptr::addr_of!((*hdr)._hdrlen_rsvd_flags).read_unaligned()),
        )
    };
    let flags = (flags & 0x3f) as u8;
    match state {
        // SAFETY: a LISTEN pcb is a struct tcp_pcb_listen.
        sys::tcp_state_LISTEN => unsafe { listen_input(pcb as *mut sys::tcp_pcb_listen, flags) },
        // SAFETY: a live full pcb in TIME_WAIT.
        sys::tcp_state_TIME_WAIT => time_wait_input(pcb, unsafe { (*pcb).rcv_nxt }, flags, seq),
        _ => OK,
    }
}

/// A segment for a listener: park (or drop) a SYN that would find the accept queue
/// full, and drop one that would take the half-open connections past
/// [`HALF_OPEN_MAX`].
///
/// # Safety
/// Core lock held; `lpcb` is a live listen pcb.
unsafe fn listen_input(lpcb: *mut sys::tcp_pcb_listen, flags: u8) -> sys::err_t {
    if flags & (TCP_SYN | TCP_ACK | TCP_RST) != TCP_SYN {
        return OK;
    }
    // SAFETY: a listener's callback_arg is its Inner (attach), alive while lwIP holds it.
    let Some(l) = (unsafe { inner_of((*lpcb).callback_arg) }) else {
        return OK;
    };
    let full = {
        let st = l.st.lock();
        st.accept_q.len() >= st.backlog
    };
    if full {
        // Kept and handed over again when the program accepts (a loopback SYN is
        // dropped; our own connect sends it again).
        crate::stack::request_park();
        DROP
    } else if !admit_syn() {
        DROP
    } else {
        OK
    }
}

/// What to do with a segment for a connection in TIME_WAIT whose next expected
/// sequence number is `rcv_nxt` (see [`uk_net_tcp_inpacket`]).
fn time_wait_action(rcv_nxt: u32, flags: u8, seq: u32) -> TimeWait {
    let above = (seq.wrapping_sub(rcv_nxt) as i32) > 0;
    if flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN) == TCP_SYN && above {
        TimeWait::NewConnection
    } else if flags & TCP_RST != 0 && seq == rcv_nxt {
        TimeWait::End
    } else {
        TimeWait::Keep
    }
}

#[derive(Debug, PartialEq, Eq)]
enum TimeWait {
    /// lwIP's handling (an ACK, or nothing).
    Keep,
    /// End it; the segment needs nothing else.
    End,
    /// End it and hand the SYN over again, to the listener.
    NewConnection,
}

fn time_wait_input(pcb: *mut sys::tcp_pcb, rcv_nxt: u32, flags: u8, seq: u32) -> sys::err_t {
    let refeed = match time_wait_action(rcv_nxt, flags, seq) {
        TimeWait::Keep => return OK,
        TimeWait::End => false,
        TimeWait::NewConnection => true,
    };
    if crate::stack::request_time_wait_end(pcb, refeed) {
        DROP
    } else {
        OK
    }
}

fn ready(inner: &Inner, bits: u32) -> impl FnMut() -> bool + '_ {
    move || TcpSocket::poll_inner(inner) & (bits | POLLERR | POLLHUP) != 0
}

/// Waits per `wait` until `bits` are ready. Ok(()) to retry the call. A non-blocking
/// call that would fail with EAGAIN first does network progress itself once
/// (`stack::progress`: the net thread may not have run since the frames it waits for
/// arrived) and retries if that did anything; `progressed` records that it did.
fn block(inner: &Inner, wait: Wait, bits: u32, progressed: &mut bool) -> Result<(), Errno> {
    match wait {
        Wait::NonBlocking => {
            if !*progressed {
                *progressed = true;
                if crate::stack::progress(false) {
                    return Ok(());
                }
            }
            Err(Errno::EAGAIN)
        }
        Wait::Until(deadline) => match inner.wq.wait_until(deadline, ready(inner, bits)) {
            Wake::Woken => Ok(()),
            Wake::Interrupted => Err(Errno::EINTR),
            _ => Err(Errno::EAGAIN),
        },
    }
}

/// A TCP socket (listening or connected). Dropping it closes it.
pub struct TcpSocket {
    inner: Arc<Inner>,
}

impl TcpSocket {
    /// A new socket: IPv4 only, or `v6` (dual stack: IPv6 and IPv4 peers).
    pub fn new(v6: bool) -> Result<TcpSocket, Errno> {
        let inner = Inner::new(v6);
        locked(|| {
            crate::stack::lwip_init_once();
            let ty = if v6 {
                sys::lwip_ip_addr_type_IPADDR_TYPE_ANY
            } else {
                sys::lwip_ip_addr_type_IPADDR_TYPE_V4
            };
            // SAFETY: core lock held.
            let pcb = unsafe { sys::tcp_new_ip_type(ty as u8) };
            if pcb.is_null() {
                return Err(Errno::ENOMEM);
            }
            inner.st.lock().pcb = pcb;
            // SAFETY: fresh pcb.
            unsafe { attach(&inner, pcb) };
            Ok(())
        })?;
        Ok(TcpSocket { inner })
    }

    /// The pcb, or the pending error / `none` when there is none.
    fn pcb(st: &State, none: Errno) -> Result<*mut sys::tcp_pcb, Errno> {
        if st.pcb.is_null() {
            Err(if st.dead { Errno::EPIPE } else { none })
        } else {
            Ok(st.pcb)
        }
    }

    /// Binds to a local address; port 0 picks a free one. The unspecified address of
    /// an IPv6 socket accepts IPv4 peers too.
    pub fn bind(&self, local: SocketAddr) -> Result<(), Errno> {
        locked(|| {
            let st = self.inner.st.lock();
            let pcb = Self::pcb(&st, Errno::EINVAL)?;
            if local.is_ipv6() && !st.v6 {
                return Err(Errno::EAFNOSUPPORT);
            }
            // SAFETY: live non-listening pcb (bind after listen is refused below).
            if st.listening || unsafe { (*pcb).local_port } != 0 {
                return Err(Errno::EINVAL);
            }
            let ip = if st.v6 && local.ip().is_unspecified() {
                // SAFETY: lwIP's constant.
                unsafe { sys::ip_addr_any_type }
            } else {
                addr::to_lwip(local.ip())
            };
            if st.reuseaddr {
                // SO_REUSEADDR lets Linux bind over connections that linger, never over
                // a listener; lwIP lets both bind and fails the second listen instead.
                if listener_on(local.ip(), local.port()) {
                    return Err(Errno::EADDRINUSE);
                }
                // SAFETY: live pcb.
                unsafe { (*pcb).so_options |= sys::SOF_REUSEADDR as u8 };
            }
            drop(st);
            // SAFETY: core lock held; live pcb.
            let e = unsafe { sys::tcp_bind(pcb, &ip, local.port()) };
            if e == OK {
                Ok(())
            } else {
                Err(errno_of(e))
            }
        })
    }

    /// Starts listening (binding to a free port first if unbound). `backlog` (as
    /// listen(2) gets it, negative values wrapped) bounds the connections waiting for
    /// [`accept`](Self::accept) as on Linux: `min(backlog, SOMAXCONN) + 1` of them.
    /// Listening again changes it.
    pub fn listen(&self, backlog: u32) -> Result<(), Errno> {
        let backlog = backlog.min(SOMAXCONN) as usize + 1;
        locked(|| {
            let mut st = self.inner.st.lock();
            if st.listening {
                st.backlog = backlog;
                return Ok(());
            }
            let pcb = Self::pcb(&st, Errno::EINVAL)?;
            if st.connected || st.connecting {
                return Err(Errno::EINVAL);
            }
            drop(st);
            // SAFETY: core lock held; live pcb.
            unsafe {
                if (*pcb).local_port == 0 {
                    let any = if self.inner.st.lock().v6 {
                        sys::ip_addr_any_type
                    } else {
                        sys::ip_addr_any
                    };
                    let e = sys::tcp_bind(pcb, &any, 0);
                    if e != OK {
                        return Err(errno_of(e));
                    }
                }
                // lwIP keeps no backlog of its own (TCP_LISTEN_BACKLOG 0): the value
                // is unused.
                let mut err = OK;
                let lpcb = sys::tcp_listen_with_backlog_and_err(pcb, u8::MAX, &mut err);
                if lpcb.is_null() {
                    return Err(errno_of(err));
                }
                // The listen pcb took over callback_arg (our reference); pcb is freed.
                sys::tcp_accept(lpcb, Some(accept_cb));
                let mut st = self.inner.st.lock();
                st.pcb = lpcb;
                st.listening = true;
                st.backlog = backlog;
            }
            Ok(())
        })
    }

    /// Takes the next established connection.
    pub fn accept(&self, wait: Wait) -> Result<TcpSocket, Errno> {
        let mut progressed = false;
        loop {
            let r = {
                let mut st = self.inner.st.lock();
                if !st.listening {
                    return Err(Errno::EINVAL);
                }
                st.accept_q.pop_front()
            };
            match r {
                Some(child) => {
                    crate::stack::accepted();
                    return Ok(TcpSocket { inner: child });
                }
                None => block(&self.inner, wait, POLLIN, &mut progressed)?,
            }
        }
    }

    /// Connects. Non-blocking: EINPROGRESS, then POLLOUT and [`take_error`]
    /// (Self::take_error) tell the outcome.
    pub fn connect(&self, remote: SocketAddr, wait: Wait) -> Result<(), Errno> {
        // Ok(true): connected before this call (its success reported now).
        let reported = locked(|| {
            let mut st = self.inner.st.lock();
            if st.connected {
                return if core::mem::take(&mut st.unreported) {
                    Ok(true)
                } else {
                    Err(Errno::EISCONN)
                };
            }
            if st.connecting {
                return Err(Errno::EALREADY);
            }
            if st.listening {
                return Err(Errno::EINVAL);
            }
            if remote.is_ipv6() && !st.v6 {
                return Err(Errno::EAFNOSUPPORT);
            }
            if let Some(e) = st.error.take() {
                return Err(e);
            }
            let pcb = Self::pcb(&st, Errno::EINVAL)?;
            let ip = addr::to_lwip(remote.ip());
            st.connecting = true;
            drop(st);
            // SAFETY: core lock held; live pcb with our callbacks.
            let e = unsafe { sys::tcp_connect(pcb, &ip, remote.port(), Some(connected_cb)) };
            if e != OK {
                self.inner.st.lock().connecting = false;
                return Err(errno_of(e));
            }
            Ok(false)
        })?;
        if reported {
            return Ok(());
        }
        if wait == Wait::NonBlocking {
            // EINPROGRESS even when a loopback peer has already answered inside the call:
            // Linux always says so for a non-blocking TCP connect (programs such as
            // CPython's tests count on it); POLLOUT and SO_ERROR tell the outcome.
            self.inner.st.lock().unreported = true;
            return Err(Errno::EINPROGRESS);
        }
        loop {
            {
                let mut st = self.inner.st.lock();
                if st.connected {
                    return Ok(());
                }
                if let Some(e) = st.error.take() {
                    return Err(e);
                }
            }
            match block(&self.inner, wait, POLLOUT, &mut true) {
                Ok(()) => {}
                // An interrupted connect goes on in the background (Linux: EINTR, then
                // EALREADY / POLLOUT).
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends from `buf`; returns how much was queued (at least one byte, or an error).
    pub fn send(&self, buf: &dyn Source, wait: Wait) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut progressed = false;
        loop {
            let r = locked(|| {
                let mut st = self.inner.st.lock();
                if let Some(e) = st.error.take() {
                    return Some(Err(e));
                }
                if st.wr_shut || st.dead {
                    return Some(Err(Errno::EPIPE));
                }
                if !st.connected {
                    return Some(Err(if st.connecting {
                        Errno::EAGAIN
                    } else {
                        Errno::ENOTCONN
                    }));
                }
                let pcb = st.pcb;
                drop(st);
                let stage = crate::stack::stage();
                let mut done = 0;
                while done < buf.len() {
                    // SAFETY: core lock held; live connected pcb.
                    let room = unsafe { (*pcb).snd_buf } as usize;
                    let n = (buf.len() - done).min(room).min(stage.len());
                    if n == 0 {
                        break;
                    }
                    // The source is read now (program memory is checked at this copy).
                    let k = buf.read_prefix(done, &mut stage[..n]);
                    if k == 0 {
                        if done == 0 {
                            return Some(Err(Errno::EFAULT));
                        }
                        break;
                    }
                    // SAFETY: stage[..k] holds the bytes; COPY makes lwIP keep its own.
                    let e = unsafe {
                        sys::tcp_write(
                            pcb,
                            stage.as_ptr() as *const c_void,
                            k as u16,
                            sys::TCP_WRITE_FLAG_COPY as u8,
                        )
                    };
                    if e != OK {
                        break; // ERR_MEM: segment queue full, wait for ACKs
                    }
                    done += k;
                    if k < n {
                        break; // the source ran into memory it may not read
                    }
                }
                if done > 0 {
                    // SAFETY: as above.
                    unsafe { crate::stack::output(pcb) };
                    return Some(Ok(done));
                }
                // No room: send what is queued (a deferred output included) before
                // waiting for the peer's ACKs.
                // SAFETY: as above.
                unsafe { sys::tcp_output(pcb) };
                None
            });
            match r {
                Some(r) => return r,
                None => block(&self.inner, wait, POLLOUT, &mut progressed)?,
            }
        }
    }

    /// Receives into `buf`; Ok(0) at end of stream. `peek` leaves the data queued.
    pub fn recv(&self, buf: &mut dyn Sink, peek: bool, wait: Wait) -> Result<usize, Errno> {
        let mut progressed = false;
        loop {
            let r = locked(|| {
                let mut st = self.inner.st.lock();
                if st.rx_len > 0 && !buf.is_empty() {
                    return Some(match Self::copy_out(&mut st, buf, peek) {
                        0 => Err(Errno::EFAULT),
                        n => Ok(n),
                    });
                }
                if buf.is_empty() && st.rx_len > 0 {
                    return Some(Ok(0));
                }
                if let Some(e) = st.error.take() {
                    return Some(Err(e));
                }
                if st.rd_eof || st.rd_shut || st.dead {
                    return Some(Ok(0));
                }
                if st.listening || (!st.connected && !st.connecting) {
                    return Some(Err(Errno::ENOTCONN));
                }
                None
            });
            match r {
                Some(r) => return r,
                None => block(&self.inner, wait, POLLIN, &mut progressed)?,
            }
        }
    }

    /// Copies queued data out; consumes what was copied (and opens the window) unless
    /// `peek`. Stops early where the sink runs into memory it may not write (0: none
    /// fitted). Core lock held.
    fn copy_out(st: &mut State, buf: &mut dyn Sink, peek: bool) -> usize {
        let mut done = 0;
        let mut off = st.rx_off;
        let mut idx = 0;
        'queue: while done < buf.len() && idx < st.rx.len() {
            let p = st.rx[idx].0;
            // SAFETY: queued pbufs are valid until freed below.
            let tot = unsafe { (*p).tot_len } as usize;
            // Walk the chain to `off`, then copy piece by piece.
            let mut q = p;
            let mut skip = off;
            while !q.is_null() && done < buf.len() {
                // SAFETY: a pbuf of the queued chain; its payload holds `len` bytes.
                let (len, payload, next) = unsafe { ((*q).len as usize, (*q).payload, (*q).next) };
                if skip >= len {
                    skip -= len;
                    q = next;
                    continue;
                }
                let n = (len - skip).min(buf.len() - done);
                // SAFETY: [skip, skip+n) lies inside this pbuf's payload.
                let src =
                    unsafe { core::slice::from_raw_parts((payload as *const u8).add(skip), n) };
                let k = buf.write_prefix(done, src);
                done += k;
                off += k;
                if k < n {
                    break 'queue;
                }
                skip = 0;
                q = next;
            }
            if off == tot {
                idx += 1;
                off = 0;
            }
        }
        if !peek {
            for _ in 0..idx {
                if let Some(p) = st.rx.pop_front() {
                    // SAFETY: fully read, ours.
                    unsafe { sys::pbuf_free(p.0) };
                }
            }
            st.rx_off = off;
            st.rx_len -= done;
            if !st.pcb.is_null() {
                // SAFETY: live pcb, core lock held.
                unsafe { recved(st.pcb, done) };
            }
        }
        done
    }

    /// shutdown(2): `read` discards further input; `write` sends FIN after queued data.
    pub fn shutdown(&self, read: bool, write: bool) -> Result<(), Errno> {
        locked(|| {
            let mut st = self.inner.st.lock();
            if st.listening {
                return Err(Errno::ENOTCONN);
            }
            if !st.connected {
                return Err(Errno::ENOTCONN);
            }
            if read && !st.rd_shut {
                st.rd_shut = true;
                let n = st.rx_len;
                free_rx(&mut st);
                if !st.pcb.is_null() {
                    // SAFETY: live pcb, core lock held.
                    unsafe { recved(st.pcb, n) };
                }
            }
            if write && !st.wr_shut {
                st.wr_shut = true;
                if !st.pcb.is_null() {
                    let pcb = st.pcb;
                    drop(st);
                    // SAFETY: live pcb; shut_tx only, so lwIP keeps the pcb.
                    let e = unsafe { sys::tcp_shutdown(pcb, 0, 1) };
                    if e != OK {
                        return Err(errno_of(e));
                    }
                }
            }
            Ok(())
        })?;
        self.inner.notify(POLLIN | POLLOUT | POLLHUP);
        Ok(())
    }

    /// Readiness: POLLIN/POLLRDNORM (data, end of stream or a connection to accept),
    /// POLLOUT/POLLWRNORM (send buffer room), POLLRDHUP, POLLHUP, POLLERR.
    pub fn poll(&self) -> u32 {
        Self::poll_inner(&self.inner)
    }

    fn poll_inner(inner: &Inner) -> u32 {
        let st = inner.st.lock();
        let mut r = 0;
        if st.rx_len > 0 || st.rd_eof || st.rd_shut || !st.accept_q.is_empty() || st.dead {
            r |= POLLIN | POLLRDNORM;
        }
        if st.rd_eof {
            r |= POLLRDHUP;
        }
        if st.connected && !st.wr_shut && !st.pcb.is_null() {
            // SAFETY: reading two fields of a live pcb; single CPU.
            let (room, q) = unsafe { ((*st.pcb).snd_buf, (*st.pcb).snd_queuelen) };
            // lwIP's own rule for "writable": room above the low-water mark and the
            // segment queue not close to full.
            if room > sys::TCP_SNDLOWAT && (q as u32) < sys::TCP_SND_QUEUELEN / 2 {
                r |= POLLOUT | POLLWRNORM;
            }
        }
        if st.dead || (st.rd_eof && st.wr_shut) {
            r |= POLLHUP;
        }
        if st.dead && !st.connected {
            r |= POLLOUT | POLLWRNORM;
        }
        if st.error.is_some() {
            r |= POLLERR;
        }
        r
    }

    /// The queue notified on every readiness change (for blocking callers and epoll).
    pub fn wait_queue(&self) -> &WaitQueue {
        &self.inner.wq
    }

    /// SO_ERROR: the pending error, cleared.
    pub fn take_error(&self) -> Option<Errno> {
        self.inner.st.lock().error.take()
    }

    /// FIONREAD: bytes ready to read.
    pub fn rx_available(&self) -> usize {
        self.inner.st.lock().rx_len
    }

    /// Whether a connection is established (accepted or connected, not yet reset).
    pub fn is_connected(&self) -> bool {
        let st = self.inner.st.lock();
        st.connected && !st.dead
    }

    pub fn is_listening(&self) -> bool {
        self.inner.st.lock().listening
    }

    /// getsockname(2).
    pub fn local_addr(&self) -> Result<SocketAddr, Errno> {
        locked(|| {
            let st = self.inner.st.lock();
            let pcb = Self::pcb(&st, Errno::EINVAL)?;
            // SAFETY: live pcb; local_ip/local_port are in the part listen pcbs share.
            Ok(unsafe { addr::sockaddr(&(*pcb).local_ip, (*pcb).local_port) })
        })
    }

    /// getpeername(2).
    pub fn peer_addr(&self) -> Result<SocketAddr, Errno> {
        locked(|| {
            let st = self.inner.st.lock();
            if !st.connected || st.listening {
                return Err(Errno::ENOTCONN);
            }
            let pcb = Self::pcb(&st, Errno::ENOTCONN)?;
            // SAFETY: live connected pcb.
            Ok(unsafe { addr::sockaddr(&(*pcb).remote_ip, (*pcb).remote_port) })
        })
    }

    /// TCP_NODELAY.
    pub fn set_nodelay(&self, on: bool) {
        locked(|| {
            let mut st = self.inner.st.lock();
            st.nodelay = on;
            if !st.pcb.is_null() && !st.listening {
                // SAFETY: live full pcb (listen pcbs have no flags).
                unsafe {
                    if on {
                        (*st.pcb).flags |= sys::TF_NODELAY as u16;
                    } else {
                        (*st.pcb).flags &= !(sys::TF_NODELAY as u16);
                    }
                }
            }
        })
    }

    pub fn nodelay(&self) -> bool {
        self.inner.st.lock().nodelay
    }

    /// SO_REUSEADDR (takes effect at bind).
    pub fn set_reuseaddr(&self, on: bool) {
        locked(|| {
            let mut st = self.inner.st.lock();
            st.reuseaddr = on;
            if !st.pcb.is_null() {
                // SAFETY: so_options is in the part all pcbs share.
                unsafe {
                    if on {
                        (*st.pcb).so_options |= sys::SOF_REUSEADDR as u8;
                    } else {
                        (*st.pcb).so_options &= !(sys::SOF_REUSEADDR as u8);
                    }
                }
            }
        })
    }

    pub fn reuseaddr(&self) -> bool {
        self.inner.st.lock().reuseaddr
    }

    /// SO_KEEPALIVE, and optionally TCP_KEEPIDLE/TCP_KEEPINTVL (seconds) and
    /// TCP_KEEPCNT.
    pub fn set_keepalive(&self, on: bool, params: Option<(u32, u32, u32)>) {
        locked(|| {
            let mut st = self.inner.st.lock();
            st.keepalive = on;
            if let Some((idle, intvl, cnt)) = params {
                st.keep = Some((idle.saturating_mul(1000), intvl.saturating_mul(1000), cnt));
            }
            if !st.pcb.is_null() && !st.listening {
                // SAFETY: live full pcb.
                unsafe {
                    let p = &mut *st.pcb;
                    if on {
                        p.so_options |= sys::SOF_KEEPALIVE as u8;
                    } else {
                        p.so_options &= !(sys::SOF_KEEPALIVE as u8);
                    }
                    if let Some((idle, intvl, cnt)) = st.keep {
                        p.keep_idle = idle;
                        p.keep_intvl = intvl;
                        p.keep_cnt = cnt;
                    }
                }
            }
        })
    }

    pub fn keepalive(&self) -> bool {
        self.inner.st.lock().keepalive
    }

    /// Closes: queued data is still sent, then FIN (lwIP finishes the close without
    /// us). Unaccepted connections of a listener are reset. Also done on drop.
    pub fn close(&self) {
        locked(|| {
            let mut st = self.inner.st.lock();
            let pcb = core::mem::replace(&mut st.pcb, core::ptr::null_mut());
            let listening = st.listening;
            let pending: VecDeque<Arc<Inner>> = core::mem::take(&mut st.accept_q);
            free_rx(&mut st);
            st.dead = true;
            drop(st);
            for child in pending {
                let cpcb = core::mem::replace(&mut child.st.lock().pcb, core::ptr::null_mut());
                if !cpcb.is_null() {
                    // SAFETY: live child pcb; detach first so no callback runs.
                    unsafe {
                        detach(cpcb, false);
                        sys::tcp_abort(cpcb);
                    }
                }
            }
            if pcb.is_null() {
                return;
            }
            // SAFETY: live pcb, core lock held; after detach lwIP owns it alone.
            unsafe {
                detach(pcb, listening);
                if sys::tcp_close(pcb) != OK {
                    sys::tcp_abort(pcb);
                }
            }
        });
        self.inner.notify(POLLIN | POLLOUT | POLLHUP);
    }
}

impl Drop for TcpSocket {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod hook_tests {
    use super::*;

    #[test]
    fn time_wait_takes_a_newer_syn_and_an_exact_rst_as_linux_does() {
        let nxt = 1_000_000;
        // A new SYN above the old connection's sequence space: a new connection.
        assert_eq!(
            time_wait_action(nxt, TCP_SYN, nxt + 1),
            TimeWait::NewConnection
        );
        assert_eq!(
            time_wait_action(nxt, TCP_SYN, nxt.wrapping_add(1 << 30)),
            TimeWait::NewConnection
        );
        // Across the wrap of the sequence numbers.
        assert_eq!(
            time_wait_action(u32::MAX - 5, TCP_SYN, 10),
            TimeWait::NewConnection
        );
        // An old duplicate (at or below): lwIP's challenge ACK.
        assert_eq!(time_wait_action(nxt, TCP_SYN, nxt), TimeWait::Keep);
        assert_eq!(time_wait_action(nxt, TCP_SYN, nxt - 1), TimeWait::Keep);
        // Not a bare SYN.
        assert_eq!(
            time_wait_action(nxt, TCP_SYN | TCP_ACK, nxt + 9),
            TimeWait::Keep
        );
        assert_eq!(
            time_wait_action(nxt, TCP_SYN | TCP_FIN, nxt + 9),
            TimeWait::Keep
        );
        // The peer's RST answering that ACK (its sequence number is our ACK number).
        assert_eq!(time_wait_action(nxt, TCP_RST, nxt), TimeWait::End);
        assert_eq!(time_wait_action(nxt, TCP_RST | TCP_ACK, nxt), TimeWait::End);
        assert_eq!(time_wait_action(nxt, TCP_RST, nxt + 1), TimeWait::Keep);
        assert_eq!(time_wait_action(nxt, TCP_ACK, nxt), TimeWait::Keep);
        assert_eq!(
            time_wait_action(nxt, TCP_FIN | TCP_ACK, nxt),
            TimeWait::Keep
        );
    }
}
