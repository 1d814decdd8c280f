//! UDP sockets on lwIP's raw API: datagrams wait as (pbuf, sender) pairs.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::ffi::c_void;
use core::net::{IpAddr, SocketAddr};
use uk_abi::uio::{Sink, Source};
use uk_abi::Errno;
use uk_lwip_sys as sys;
use uk_sched::{WaitQueue, Wake};

use crate::poll::*;
use crate::{addr, locked, Wait};

const OK: sys::err_t = sys::err_enum_t::ERR_OK as sys::err_t;
/// Datagrams a socket queues before dropping new ones (as a full SO_RCVBUF does).
const RX_MAX_DATAGRAMS: usize = 512;
/// Largest UDP payload over IPv4.
const MAX_PAYLOAD: usize = 65507;

struct State {
    pcb: *mut sys::udp_pcb,
    v6: bool,
    rx: VecDeque<(*mut sys::pbuf, SocketAddr)>,
    dropped: u64,
    /// The error an ICMP message would have left on a connected socket (Linux's
    /// sk_err): ECONNREFUSED after a datagram to a port of this image that no socket
    /// is bound to. Reported once, by the next send, recv or SO_ERROR; poll shows POLLERR.
    error: Option<Errno>,
}

// SAFETY: the raw pointers are only used under the core lock, on the one CPU.
unsafe impl Send for State {}

struct Inner {
    st: spin::Mutex<State>,
    wq: WaitQueue,
}

unsafe extern "C" fn recv_cb(
    arg: *mut c_void,
    _pcb: *mut sys::udp_pcb,
    p: *mut sys::pbuf,
    from: *const sys::ip_addr_t,
    port: u16,
) {
    if p.is_null() {
        return;
    }
    if arg.is_null() || from.is_null() {
        // SAFETY: p is ours.
        unsafe { sys::pbuf_free(p) };
        return;
    }
    // SAFETY: arg is the reference UdpSocket::new gave lwIP; from is valid for the call.
    let (inner, from) = unsafe { (&*(arg as *const Inner), addr::sockaddr(&*from, port)) };
    {
        let mut st = inner.st.lock();
        if st.rx.len() >= RX_MAX_DATAGRAMS {
            st.dropped += 1;
            // SAFETY: p is ours.
            unsafe { sys::pbuf_free(p) };
            return;
        }
        st.rx.push_back((p, from));
    }
    inner.wq.notify(POLLIN);
}

/// A UDP socket. Dropping it closes it.
pub struct UdpSocket {
    inner: Arc<Inner>,
}

impl UdpSocket {
    /// A new socket: IPv4 only, or `v6` (dual stack).
    pub fn new(v6: bool) -> Result<UdpSocket, Errno> {
        let inner = Arc::new(Inner {
            st: spin::Mutex::new(State {
                pcb: core::ptr::null_mut(),
                v6,
                rx: VecDeque::new(),
                dropped: 0,
                error: None,
            }),
            wq: WaitQueue::new(),
        });
        locked(|| {
            crate::stack::lwip_init_once();
            let ty = if v6 {
                sys::lwip_ip_addr_type_IPADDR_TYPE_ANY
            } else {
                sys::lwip_ip_addr_type_IPADDR_TYPE_V4
            };
            // SAFETY: core lock held.
            let pcb = unsafe { sys::udp_new_ip_type(ty as u8) };
            if pcb.is_null() {
                return Err(Errno::ENOMEM);
            }
            inner.st.lock().pcb = pcb;
            let arg = Arc::into_raw(inner.clone()) as *mut c_void;
            // SAFETY: fresh pcb; lwIP keeps the reference until close.
            unsafe { sys::udp_recv(pcb, Some(recv_cb), arg) };
            Ok(())
        })?;
        Ok(UdpSocket { inner })
    }

    fn pcb(&self) -> Result<*mut sys::udp_pcb, Errno> {
        let p = self.inner.st.lock().pcb;
        if p.is_null() {
            Err(Errno::EBADF)
        } else {
            Ok(p)
        }
    }

    fn lwip_addr(&self, a: SocketAddr) -> Result<sys::ip_addr_t, Errno> {
        let v6 = self.inner.st.lock().v6;
        if a.is_ipv6() && !v6 {
            return Err(Errno::EAFNOSUPPORT);
        }
        Ok(if v6 && a.ip().is_unspecified() {
            // SAFETY: lwIP's constant.
            unsafe { sys::ip_addr_any_type }
        } else {
            addr::to_lwip(a.ip())
        })
    }

    /// bind(2); port 0 picks a free one.
    pub fn bind(&self, local: SocketAddr) -> Result<(), Errno> {
        let ip = self.lwip_addr(local)?;
        locked(|| {
            let pcb = self.pcb()?;
            // SAFETY: core lock held; live pcb.
            match unsafe { sys::udp_bind(pcb, &ip, local.port()) } {
                OK => Ok(()),
                e if e == sys::err_enum_t::ERR_USE as sys::err_t => Err(Errno::EADDRINUSE),
                _ => Err(Errno::EINVAL),
            }
        })
    }

    /// connect(2): the default destination, and only datagrams from it are received.
    pub fn connect(&self, remote: SocketAddr) -> Result<(), Errno> {
        let ip = self.lwip_addr(remote)?;
        locked(|| {
            let pcb = self.pcb()?;
            // SAFETY: core lock held; live pcb (binds to a free port if unbound).
            match unsafe { sys::udp_connect(pcb, &ip, remote.port()) } {
                OK => Ok(()),
                _ => Err(Errno::EINVAL),
            }
        })
    }

    /// Sends one datagram to `to`, or to the connected peer when `None`.
    pub fn send_to(&self, buf: &dyn Source, to: Option<SocketAddr>) -> Result<usize, Errno> {
        if buf.len() > MAX_PAYLOAD {
            return Err(Errno::EMSGSIZE);
        }
        let dest = to
            .map(|a| self.lwip_addr(a).map(|ip| (ip, a.port())))
            .transpose()?;
        locked(|| {
            let pcb = self.pcb()?;
            if let Some(e) = self.inner.st.lock().error.take() {
                return Err(e);
            }
            // SAFETY: core lock held; the pbuf is filled and freed here.
            unsafe {
                let connected = (*pcb).flags & UDP_FLAGS_CONNECTED != 0;
                let (ip, port) = match dest {
                    Some(d) => d,
                    None => {
                        if !connected {
                            return Err(Errno::EDESTADDRREQ);
                        }
                        ((*pcb).remote_ip, (*pcb).remote_port)
                    }
                };
                let p = sys::pbuf_alloc(
                    sys::pbuf_layer_PBUF_TRANSPORT,
                    buf.len() as u16,
                    sys::pbuf_type_PBUF_RAM,
                );
                if p.is_null() {
                    return Err(Errno::ENOBUFS);
                }
                // A PBUF_RAM pbuf is one contiguous payload: the datagram is read from
                // its source straight into it (program memory is checked at this copy).
                let payload = core::slice::from_raw_parts_mut((*p).payload as *mut u8, buf.len());
                if let Err(e) = buf.read_at(0, payload) {
                    sys::pbuf_free(p);
                    return Err(e);
                }
                let e = sys::udp_sendto(pcb, p, &ip, port);
                sys::pbuf_free(p);
                match e {
                    OK => {
                        // Linux tells a connected socket that its peer's port is closed
                        // (the ICMP port unreachable the datagram causes); lwIP does not
                        // pass ICMP errors up, so for this image's own addresses, where
                        // the answer is known now, the error is left here.
                        let to_peer = ip_eq(&ip, &(*pcb).remote_ip) && port == (*pcb).remote_port;
                        if connected && to_peer {
                            let to = addr::from_lwip(&ip);
                            if is_local(to) && !has_receiver(to, port) {
                                self.inner.st.lock().error = Some(Errno::ECONNREFUSED);
                                self.inner.wq.notify(POLLERR);
                            }
                        }
                        Ok(buf.len())
                    }
                    e if e == sys::err_enum_t::ERR_RTE as sys::err_t => Err(Errno::ENETUNREACH),
                    e if e == sys::err_enum_t::ERR_MEM as sys::err_t => Err(Errno::ENOBUFS),
                    _ => Err(Errno::EINVAL),
                }
            }
        })
    }

    /// Receives one datagram: (bytes copied, the datagram's full length, sender). A
    /// datagram longer than `buf` is truncated (the rest is lost unless `peek`).
    pub fn recv_from(
        &self,
        buf: &mut dyn Sink,
        peek: bool,
        wait: Wait,
    ) -> Result<(usize, usize, SocketAddr), Errno> {
        let mut progressed = false;
        loop {
            let r = locked(|| {
                let mut st = self.inner.st.lock();
                if let Some(e) = st.error.take() {
                    return Some(Err(e));
                }
                let &(p, from) = st.rx.front()?;
                // SAFETY: queued pbuf, ours.
                let full = unsafe { (*p).tot_len } as usize;
                let n = full.min(buf.len());
                let copied = copy_chain(p, buf, n);
                if !peek {
                    // Consumed even when the buffer was bad (EFAULT), as on Linux.
                    st.rx.pop_front();
                    // SAFETY: taken off the queue, freed once.
                    unsafe { sys::pbuf_free(p) };
                }
                Some(copied.map(|()| (n, full, from)))
            });
            if let Some(r) = r {
                return r;
            }
            match wait {
                // Nothing queued: look at the devices once (see stack::progress).
                Wait::NonBlocking if !progressed => {
                    progressed = true;
                    if !crate::stack::progress(false) {
                        return Err(Errno::EAGAIN);
                    }
                }
                Wait::NonBlocking => return Err(Errno::EAGAIN),
                Wait::Until(d) => {
                    match self.inner.wq.wait_until(d, || {
                        let st = self.inner.st.lock();
                        !st.rx.is_empty() || st.error.is_some()
                    }) {
                        Wake::Woken => {}
                        Wake::Interrupted => return Err(Errno::EINTR),
                        _ => return Err(Errno::EAGAIN),
                    }
                }
            }
        }
    }

    /// POLLIN when a datagram waits, POLLERR when an error does; always writable.
    pub fn poll(&self) -> u32 {
        let mut r = POLLOUT | POLLWRNORM;
        let st = self.inner.st.lock();
        if !st.rx.is_empty() {
            r |= POLLIN | POLLRDNORM;
        }
        if st.error.is_some() {
            r |= POLLERR;
        }
        r
    }

    /// SO_ERROR: the pending error, cleared.
    pub fn take_error(&self) -> Option<Errno> {
        self.inner.st.lock().error.take()
    }

    pub fn wait_queue(&self) -> &WaitQueue {
        &self.inner.wq
    }

    /// FIONREAD: the size of the next datagram.
    pub fn next_len(&self) -> usize {
        let st = self.inner.st.lock();
        // SAFETY: queued pbuf.
        st.rx
            .front()
            .map_or(0, |(p, _)| unsafe { (**p).tot_len } as usize)
    }

    /// Datagrams dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.inner.st.lock().dropped
    }

    /// getsockname(2).
    pub fn local_addr(&self) -> Result<SocketAddr, Errno> {
        locked(|| {
            let pcb = self.pcb()?;
            // SAFETY: live pcb.
            Ok(unsafe { addr::sockaddr(&(*pcb).local_ip, (*pcb).local_port) })
        })
    }

    /// Closes; queued datagrams are dropped. Also done on drop.
    pub fn close(&self) {
        locked(|| {
            let mut st = self.inner.st.lock();
            let pcb = core::mem::replace(&mut st.pcb, core::ptr::null_mut());
            for (p, _) in st.rx.drain(..) {
                // SAFETY: queued pbufs are ours.
                unsafe { sys::pbuf_free(p) };
            }
            drop(st);
            if !pcb.is_null() {
                // SAFETY: live pcb; take back lwIP's reference after unhooking.
                unsafe {
                    let arg = (*pcb).recv_arg;
                    sys::udp_recv(pcb, None, core::ptr::null_mut());
                    sys::udp_remove(pcb);
                    if !arg.is_null() {
                        drop(Arc::from_raw(arg as *const Inner));
                    }
                }
            }
        });
        self.inner.wq.notify(POLLIN | POLLOUT | POLLHUP);
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.close();
    }
}

/// lwIP's `UDP_FLAGS_CONNECTED` (udp.h, a macro bindgen does not carry).
const UDP_FLAGS_CONNECTED: u8 = 0x04;

fn ip_eq(a: &sys::ip_addr_t, b: &sys::ip_addr_t) -> bool {
    addr::from_lwip(a) == addr::from_lwip(b)
}

/// True when `ip` is this image itself: loopback, or an address of one of its netifs
/// (lwIP delivers those through loopback too). Core lock held.
fn is_local(ip: IpAddr) -> bool {
    if ip.is_loopback() {
        return true;
    }
    // SAFETY: core lock held by the caller; walks lwIP's list of live netifs.
    unsafe {
        let mut n = sys::netif_list;
        while !n.is_null() {
            let own = addr::from_lwip(&(*n).ip_addr);
            if !own.is_unspecified() && own == ip {
                return true;
            }
            if (*n).ip6_addr.iter().any(|a| addr::from_lwip(a) == ip) {
                return true;
            }
            n = (*n).next;
        }
    }
    false
}

/// True when some UDP socket of this image would take a datagram for `ip`:`port` (bound
/// to that port on that address or on any). Core lock held.
fn has_receiver(ip: IpAddr, port: u16) -> bool {
    // SAFETY: core lock held by the caller; walks lwIP's list of live UDP pcbs.
    unsafe {
        let mut pcb = sys::udp_pcbs;
        while !pcb.is_null() {
            let local = addr::from_lwip(&(*pcb).local_ip);
            if (*pcb).local_port == port && (local.is_unspecified() || local == ip) {
                return true;
            }
            pcb = (*pcb).next;
        }
    }
    false
}

/// Copy the first `n` bytes of a pbuf chain into `buf`: all of them, or EFAULT.
fn copy_chain(p: *mut sys::pbuf, buf: &mut dyn Sink, n: usize) -> Result<(), Errno> {
    let mut q = p;
    let mut done = 0;
    while !q.is_null() && done < n {
        // SAFETY: a pbuf of a queued chain (core lock held); its payload holds `len` bytes.
        let (len, payload, next) = unsafe { ((*q).len as usize, (*q).payload, (*q).next) };
        let k = len.min(n - done);
        // SAFETY: the first k bytes of this pbuf's payload.
        let src = unsafe { core::slice::from_raw_parts(payload as *const u8, k) };
        buf.write_at(done, src)?;
        done += k;
        q = next;
    }
    Ok(())
}
