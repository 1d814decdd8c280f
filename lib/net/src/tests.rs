//! Host tests: the real lwIP (the installed port's liblwip.a) linked into the test
//! binary, driven without the scheduler: non-blocking calls and explicit service rounds.

use super::*;
use alloc::vec;
use std::sync::{Mutex, Once};
use std::time::Instant;
use uk_abi::Errno;
use uk_plat::{ConsoleStream, MemRegion, Platform, TtyInfo};

struct P(Instant);
impl Platform for P {
    fn name(&self) -> &'static str {
        "nettest"
    }
    fn console_write(&self, _: ConsoleStream, b: &[u8]) -> Result<usize, uk_abi::Errno> {
        Ok(b.len())
    }
    fn console_read(&self, _: &mut [u8]) -> Result<usize, uk_abi::Errno> {
        Ok(0)
    }
    fn console_tty(&self, _: u32) -> TtyInfo {
        TtyInfo::default()
    }
    fn monotonic_ns(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64 + 1
    }
    fn wall_ns(&self) -> i64 {
        0
    }
    fn wait(&self, _: Option<u64>) {}
    fn memory(&self) -> &[MemRegion] {
        &[]
    }
    fn release(&self, _: usize, _: usize) -> bool {
        false
    }
    fn entropy(&self, _: &mut [u8]) {}
    fn set_tls_base(&self, _: usize) {}
    fn exit(&self, s: i32) -> ! {
        panic!("exit {s}")
    }
}

/// lwIP is one global instance: tests take turns.
fn setup() -> std::sync::MutexGuard<'static, ()> {
    static ONCE: Once = Once::new();
    static SERIAL: Mutex<()> = Mutex::new(());
    ONCE.call_once(|| {
        let p: &'static P = Box::leak(Box::new(P(Instant::now())));
        let d: &'static &'static dyn Platform = Box::leak(Box::new(p as &dyn Platform));
        uk_plat::register(d);
    });
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn lo(port: u16) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)
}

#[test]
fn tcp_echo_one_mib_over_loopback() {
    let _g = setup();
    let l = TcpSocket::new(false).unwrap();
    l.set_reuseaddr(true);
    l.bind(lo(7007)).unwrap();
    l.listen(8).unwrap();
    assert!(l.is_listening());
    assert_eq!(l.accept(Wait::NonBlocking).err(), Some(Errno::EAGAIN));

    let c = TcpSocket::new(false).unwrap();
    c.set_nodelay(true);
    // EINPROGRESS, as Linux says for every non-blocking TCP connect, even though
    // loopback may answer inside the call; the next connect reports the success once.
    assert_eq!(
        c.connect(lo(7007), Wait::NonBlocking),
        Err(Errno::EINPROGRESS)
    );
    stack::service();
    assert!(c.is_connected());
    assert!(c.poll() & poll::POLLOUT != 0);
    assert_eq!(c.connect(lo(7007), Wait::NonBlocking), Ok(()));
    assert_eq!(c.connect(lo(7007), Wait::NonBlocking), Err(Errno::EISCONN));
    let s = l.accept(Wait::NonBlocking).unwrap();
    assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
    assert_eq!(s.local_addr().unwrap(), lo(7007));

    const TOTAL: usize = 1 << 20;
    let data: Vec<u8> = (0..TOTAL).map(|i| (i * 31 + (i >> 9)) as u8).collect();
    let (mut sent, mut echoed, mut got) = (0, 0, 0);
    let mut sbuf = vec![0u8; 100_000];
    let mut cbuf = vec![0u8; 70_000];
    let mut pending: Vec<u8> = Vec::new();
    let mut rounds = 0;
    while got < TOTAL {
        rounds += 1;
        assert!(
            rounds < 100_000,
            "stuck: sent {sent} echoed {echoed} got {got}"
        );
        if sent < TOTAL {
            if let Ok(n) = c.send(&&data[sent..], Wait::NonBlocking) {
                sent += n;
            }
        }
        if let Ok(n) = s.recv(&mut &mut sbuf[..], false, Wait::NonBlocking) {
            pending.extend_from_slice(&sbuf[..n]);
        }
        if !pending.is_empty() {
            if let Ok(n) = s.send(&&pending[..], Wait::NonBlocking) {
                pending.drain(..n);
                echoed += n;
            }
        }
        match c.recv(&mut &mut cbuf[..], false, Wait::NonBlocking) {
            Ok(n) => {
                assert!(n > 0);
                assert_eq!(&cbuf[..n], &data[got..got + n], "at byte {got}");
                got += n;
            }
            Err(e) => assert_eq!(e, Errno::EAGAIN),
        }
        stack::service();
    }
    assert_eq!(echoed, TOTAL);

    // Half-close: FIN from the client reaches the server as end of stream; the server
    // can still send.
    c.shutdown(false, true).unwrap();
    stack::service();
    assert_eq!(s.recv(&mut &mut sbuf[..], false, Wait::NonBlocking), Ok(0));
    assert!(s.poll() & poll::POLLRDHUP != 0);
    assert_eq!(c.send(&&b"x"[..], Wait::NonBlocking), Err(Errno::EPIPE));
    assert_eq!(s.send(&&b"late"[..], Wait::NonBlocking), Ok(4));
    stack::service();
    // MSG_PEEK leaves the data.
    assert_eq!(c.recv(&mut &mut cbuf[..2], true, Wait::NonBlocking), Ok(2));
    assert_eq!(c.rx_available(), 4);
    assert_eq!(c.recv(&mut &mut cbuf[..], false, Wait::NonBlocking), Ok(4));
    assert_eq!(&cbuf[..4], b"late");
    drop(s);
    stack::service();
    assert_eq!(c.recv(&mut &mut cbuf[..], false, Wait::NonBlocking), Ok(0));
}

/// A connected loopback pair on `port`: (client, server side).
fn pair(port: u16) -> (TcpSocket, TcpSocket, TcpSocket) {
    let l = TcpSocket::new(false).unwrap();
    l.set_reuseaddr(true);
    l.bind(lo(port)).unwrap();
    l.listen(8).unwrap();
    let c = TcpSocket::new(false).unwrap();
    c.set_nodelay(true);
    match c.connect(lo(port), Wait::NonBlocking) {
        Ok(()) | Err(Errno::EINPROGRESS) => {}
        e => panic!("{e:?}"),
    }
    stack::service();
    let s = l.accept(Wait::NonBlocking).unwrap();
    (l, c, s)
}

#[test]
fn small_sends_wait_for_the_net_thread_but_loopback_never_does() {
    let _g = setup();
    let (_l, c, s) = pair(7011);
    let mut buf = [0u8; 64];
    stack::tests_hooks::set_started(true);

    // Loopback peer: readable as soon as send returns, net thread or not (Linux does
    // the same; programs talking to themselves rely on it).
    assert_eq!(c.send(&&b"now"[..], Wait::NonBlocking), Ok(3));
    assert!(!stack::tests_hooks::tx_deferred());
    assert_eq!(s.recv(&mut &mut buf[..], false, Wait::NonBlocking), Ok(3));

    // A remote-like peer: two small sends stay queued until the net thread's round,
    // then leave together in the round.
    stack::tests_hooks::DEFER_LOCAL.store(true, core::sync::atomic::Ordering::Relaxed);
    assert_eq!(c.send(&&b"head "[..], Wait::NonBlocking), Ok(5));
    assert_eq!(c.send(&&b"body"[..], Wait::NonBlocking), Ok(4));
    assert!(stack::tests_hooks::tx_deferred());
    assert_eq!(
        s.recv(&mut &mut buf[..], false, Wait::NonBlocking),
        Err(Errno::EAGAIN)
    );
    stack::service();
    assert!(!stack::tests_hooks::tx_deferred());
    assert_eq!(s.recv(&mut &mut buf[..], false, Wait::NonBlocking), Ok(9));
    assert_eq!(&buf[..9], b"head body");

    // Past DEFER_MAX unsent bytes the data goes out at once (bulk transfers stream).
    let big = vec![7u8; 64 * 1024];
    let n = c.send(&&big[..], Wait::NonBlocking).unwrap();
    assert!(n > 16 * 1024, "{n}");
    let mut got = vec![0u8; 128 * 1024];
    assert!(s.recv(&mut &mut got[..], false, Wait::NonBlocking).unwrap() > 0);

    stack::tests_hooks::DEFER_LOCAL.store(false, core::sync::atomic::Ordering::Relaxed);
    stack::tests_hooks::set_started(false);
    stack::service();
}

/// What a poll with a zero timeout does for a program that never blocks: the output
/// deferred to the end of its burst leaves (a non-blocking receive does not flush it),
/// and lwIP's timers run when one is due; with nothing to do it does nothing.
#[test]
fn a_zero_timeout_poll_flushes_deferred_output_and_runs_due_timers() {
    let _g = setup();
    let (_l, c, s) = pair(7012);
    let mut buf = [0u8; 16];
    stack::tests_hooks::set_started(true);
    stack::tests_hooks::DEFER_LOCAL.store(true, core::sync::atomic::Ordering::Relaxed);
    stack::service();

    assert_eq!(c.send(&&b"ping"[..], Wait::NonBlocking), Ok(4));
    assert!(stack::tests_hooks::tx_deferred());
    // A non-blocking receive does progress once, without the burst's output.
    assert_eq!(
        s.recv(&mut &mut buf[..], false, Wait::NonBlocking),
        Err(Errno::EAGAIN)
    );
    assert!(stack::tests_hooks::tx_deferred());
    // A zero-timeout poll ends the burst.
    stack::progress(true);
    assert!(!stack::tests_hooks::tx_deferred());
    assert_eq!(s.recv(&mut &mut buf[..], false, Wait::NonBlocking), Ok(4));
    assert_eq!(&buf[..4], b"ping");

    // Due timers run (TCP's timer is armed while connections exist), and the next
    // deadline is in the future again.
    let armed = stack::tests_hooks::timer_due_now();
    assert_ne!(
        armed,
        u64::MAX,
        "lwIP's TCP timer is armed with connections open"
    );
    assert!(stack::progress(false));
    assert!(stack::tests_hooks::timer_due() > 0);
    // Nothing due, nothing deferred, no device: nothing done.
    assert!(!stack::progress(true));

    stack::tests_hooks::DEFER_LOCAL.store(false, core::sync::atomic::Ordering::Relaxed);
    stack::tests_hooks::set_started(false);
    stack::service();
}

/// listen(2)'s backlog as Linux takes it: `backlog + 1` connections wait for accept
/// (more than lwIP's own u8 allowed), a SYN beyond is dropped (the client keeps
/// trying), and accepting makes room.
#[test]
fn the_listen_backlog_holds_backlog_plus_one_connections() {
    let _g = setup();
    let l = TcpSocket::new(false).unwrap();
    l.set_reuseaddr(true);
    l.bind(lo(7013)).unwrap();
    l.listen(300).unwrap();
    let clients: Vec<TcpSocket> = (0..302)
        .map(|_| {
            let c = TcpSocket::new(false).unwrap();
            match c.connect(lo(7013), Wait::NonBlocking) {
                Ok(()) | Err(Errno::EINPROGRESS) => {}
                e => panic!("{e:?}"),
            }
            stack::service();
            c
        })
        .collect();
    let connected = clients.iter().filter(|c| c.is_connected()).count();
    assert_eq!(connected, 301);
    assert!(!clients[301].is_connected());
    let mut accepted = Vec::new();
    while let Ok(s) = l.accept(Wait::NonBlocking) {
        accepted.push(s);
    }
    assert_eq!(accepted.len(), 301);
    drop(accepted);
    drop(clients);
    stack::service();
}

#[test]
fn connect_to_closed_port_is_refused_and_rebind_needs_reuseaddr() {
    let _g = setup();
    let c = TcpSocket::new(false).unwrap();
    let r = c.connect(lo(7009), Wait::NonBlocking);
    stack::service();
    match r {
        Err(Errno::ECONNREFUSED) => {}
        Err(Errno::EINPROGRESS) => {
            assert!(c.poll() & poll::POLLERR != 0, "poll {:#x}", c.poll());
            assert_eq!(c.take_error(), Some(Errno::ECONNREFUSED));
        }
        other => panic!("{other:?}"),
    }

    let a = TcpSocket::new(false).unwrap();
    a.bind(lo(7010)).unwrap();
    a.listen(1).unwrap();
    let b = TcpSocket::new(false).unwrap();
    assert_eq!(b.bind(lo(7010)), Err(Errno::EADDRINUSE));
    assert_eq!(b.bind(lo(7010)), Err(Errno::EADDRINUSE));
    // SO_REUSEADDR does not bind over a listener either, on its address or any.
    b.set_reuseaddr(true);
    assert_eq!(b.bind(lo(7010)), Err(Errno::EADDRINUSE));
    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 7010);
    assert_eq!(b.bind(any), Err(Errno::EADDRINUSE));
    let port = {
        let e = TcpSocket::new(true).unwrap();
        e.listen(4).unwrap(); // auto-bind
        e.local_addr().unwrap().port()
    };
    assert_ne!(port, 0);
}

#[test]
fn udp_datagrams_keep_boundaries() {
    let _g = setup();
    let a = UdpSocket::new(false).unwrap();
    a.bind(lo(0)).unwrap();
    let to = a.local_addr().unwrap();
    assert_ne!(to.port(), 0);
    let b = UdpSocket::new(false).unwrap();
    assert_eq!(b.send_to(&&b"one"[..], None), Err(Errno::EDESTADDRREQ));
    b.send_to(&&b"one"[..], Some(to)).unwrap();
    b.send_to(&&b"second"[..], Some(to)).unwrap();
    stack::service();
    assert_eq!(a.next_len(), 3);
    let mut buf = [0u8; 4];
    let (n, full, from) = a
        .recv_from(&mut &mut buf[..], false, Wait::NonBlocking)
        .unwrap();
    assert_eq!((&buf[..n], full), (&b"one"[..], 3));
    // The sender was bound implicitly (to 0.0.0.0, as on Linux) by its first send.
    assert_eq!(from.port(), b.local_addr().unwrap().port());
    assert_eq!(from.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    // Truncated to the buffer, full length reported.
    let (n, full, _) = a
        .recv_from(&mut &mut buf[..], false, Wait::NonBlocking)
        .unwrap();
    assert_eq!((&buf[..n], full), (&b"seco"[..], 6));
    assert_eq!(
        a.recv_from(&mut &mut buf[..], false, Wait::NonBlocking)
            .err(),
        Some(Errno::EAGAIN)
    );
    assert_eq!(
        b.send_to(&&vec![0u8; 70_000][..], Some(to)),
        Err(Errno::EMSGSIZE)
    );
}

/// A connected UDP socket hears that its peer's port on this image is closed, once per
/// datagram, as Linux reports the ICMP port unreachable; a bound peer or an unconnected
/// sender hears nothing.
#[test]
fn udp_to_a_closed_local_port_is_refused_when_connected() {
    let _g = setup();
    let s = UdpSocket::new(false).unwrap();
    s.connect(lo(7031)).unwrap();
    s.send_to(&&b"x"[..], None).unwrap();
    assert!(s.poll() & poll::POLLERR != 0, "poll {:#x}", s.poll());
    let mut buf = [0u8; 4];
    assert_eq!(
        s.recv_from(&mut &mut buf[..], false, Wait::NonBlocking)
            .err(),
        Some(Errno::ECONNREFUSED)
    );
    assert_eq!(s.poll() & poll::POLLERR, 0);
    s.send_to(&&b"x"[..], None).unwrap();
    assert_eq!(s.send_to(&&b"x"[..], None), Err(Errno::ECONNREFUSED));
    s.send_to(&&b"x"[..], None).unwrap();
    assert_eq!(s.take_error(), Some(Errno::ECONNREFUSED));
    assert_eq!(s.take_error(), None);

    let u = UdpSocket::new(false).unwrap();
    u.send_to(&&b"x"[..], Some(lo(7031))).unwrap();
    assert_eq!(u.take_error(), None);

    let r = UdpSocket::new(false).unwrap();
    r.bind(lo(7031)).unwrap();
    s.send_to(&&b"y"[..], None).unwrap();
    stack::service();
    assert_eq!(s.take_error(), None);
    let (n, _, _) = r
        .recv_from(&mut &mut buf[..], false, Wait::NonBlocking)
        .unwrap();
    assert_eq!(&buf[..n], b"y");
}

#[test]
fn heap_functions_for_lwip() {
    let p = stack::uk_net_calloc(10, 10);
    assert!(!p.is_null());
    // SAFETY: 100 zeroed bytes.
    assert!(unsafe { core::slice::from_raw_parts(p as *const u8, 100) }
        .iter()
        .all(|&b| b == 0));
    // SAFETY: from uk_net_calloc.
    unsafe { stack::uk_net_free(p) };
    assert!(stack::uk_net_calloc(usize::MAX, 2).is_null());
    assert!(stack::uk_net_malloc(usize::MAX).is_null());
}

/// Connections this side closes first stay in TIME_WAIT, at most
/// `stack::TIME_WAIT_MAX` of them: past that the oldest end, and new connections
/// keep working.
#[test]
fn time_wait_is_kept_for_the_newest_connections_only() {
    let _g = setup();
    let l = TcpSocket::new(false).unwrap();
    l.set_reuseaddr(true);
    l.bind(lo(7031)).unwrap();
    l.listen(8).unwrap();
    let before = stack::time_wait_count();
    let n = stack::TIME_WAIT_MAX + 40;
    for i in 0..n {
        let c = TcpSocket::new(false).unwrap();
        match c.connect(lo(7031), Wait::NonBlocking) {
            Ok(()) | Err(Errno::EINPROGRESS) => {}
            e => panic!("connection {i}: {e:?}"),
        }
        stack::service();
        let s = l.accept(Wait::NonBlocking).unwrap();
        // The server closes first (it goes to TIME_WAIT), then the client.
        drop(s);
        stack::service();
        let mut b = [0u8; 4];
        assert_eq!(
            c.recv(&mut &mut b[..], false, Wait::NonBlocking),
            Ok(0),
            "EOF"
        );
        drop(c);
        stack::service();
        if before + i < stack::TIME_WAIT_MAX {
            assert_eq!(
                stack::time_wait_count(),
                before + i + 1,
                "TIME_WAIT after {i}"
            );
        }
    }
    let tw = stack::time_wait_count();
    assert_eq!(tw, stack::TIME_WAIT_MAX, "TIME_WAIT pcbs after {n} closes");
}
