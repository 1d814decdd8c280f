use super::addr::{encode, parse, SockAddr, UnixAddr};
use super::*;

fn un(path: &[u8]) -> Vec<u8> {
    let a = if path.first() == Some(&0) {
        UnixAddr::Abstract(path[1..].to_vec())
    } else {
        UnixAddr::Path(path.to_vec())
    };
    encode(&SockAddr::Unix(a), false)
}

fn sock(domain: i32, ty: u32) -> Socket {
    crate::testplat::setup();
    socket(domain, ty, 0).unwrap().0
}

const NB: u32 = SOCK_NONBLOCK;

#[test]
fn unix_stream_named_connect_accept_echo() {
    let _g = crate::testplat::serial();
    let srv = sock(1, SOCK_STREAM | NB);
    srv.bind(&un(b"\0ukit-test-stream")).unwrap();
    srv.listen(4).unwrap();
    assert_eq!(srv.proto.poll() & 1, 0, "nothing to accept yet");
    let cli = sock(1, SOCK_STREAM | NB);
    cli.connect(&un(b"\0ukit-test-stream")).unwrap();
    assert_eq!(cli.connect(&un(b"\0ukit-test-stream")), Err(Errno::EISCONN));
    assert_ne!(srv.proto.poll() & 1, 0, "a connection waits");
    let (conn, peer) = srv.accept(NB).unwrap();
    assert_eq!(parse(&peer).unwrap(), SockAddr::Unix(UnixAddr::Unnamed));
    assert_eq!(
        parse(&cli.peer_addr().unwrap()).unwrap(),
        SockAddr::Unix(UnixAddr::Abstract(b"ukit-test-stream".to_vec()))
    );
    assert_eq!(cli.send(&&b"ping"[..], None, 0), Ok(4));
    let mut b = [0u8; 16];
    assert_eq!(conn.recv(&mut &mut b[..], 0).map(|r| r.0), Ok(4));
    assert_eq!(&b[..4], b"ping");
    assert_eq!(conn.recv(&mut &mut b[..], 0), Err(Errno::EAGAIN));
    // Half close: the server reads EOF but can still answer.
    cli.shutdown(1).unwrap();
    assert_eq!(conn.recv(&mut &mut b[..], 0).map(|r| r.0), Ok(0));
    assert_eq!(conn.send(&&b"pong"[..], None, 0), Ok(4));
    assert_eq!(cli.recv(&mut &mut b[..], 0).map(|r| r.0), Ok(4));
    assert_eq!(cli.send(&&b"x"[..], None, MSG_NOSIGNAL), Err(Errno::EPIPE));
    // Closing the listener frees the name.
    drop(srv);
    let again = sock(1, SOCK_STREAM);
    again.bind(&un(b"\0ukit-test-stream")).unwrap();
    let dup = sock(1, SOCK_STREAM);
    assert_eq!(dup.bind(&un(b"\0ukit-test-stream")), Err(Errno::EADDRINUSE));
}

#[test]
fn unix_refusals() {
    let _g = crate::testplat::serial();
    let cli = sock(1, SOCK_STREAM | NB);
    assert_eq!(cli.connect(&un(b"\0ukit-nobody")), Err(Errno::ECONNREFUSED));
    let bound = sock(1, SOCK_STREAM);
    bound.bind(&un(b"\0ukit-not-listening")).unwrap();
    assert_eq!(
        cli.connect(&un(b"\0ukit-not-listening")),
        Err(Errno::ECONNREFUSED)
    );
    let dg = sock(1, SOCK_DGRAM);
    dg.bind(&un(b"\0ukit-dgram-only")).unwrap();
    assert_eq!(
        cli.connect(&un(b"\0ukit-dgram-only")),
        Err(Errno::EPROTOTYPE)
    );
    assert_eq!(
        bound.bind(&un(b"\0other")),
        Err(Errno::EINVAL),
        "bound twice"
    );
    let mut b = [0u8; 4];
    assert_eq!(cli.recv(&mut &mut b[..], 0), Err(Errno::EINVAL));
    assert_eq!(cli.send(&&b"x"[..], None, 0), Err(Errno::ENOTCONN));
    assert_eq!(cli.peer_addr(), Err(Errno::ENOTCONN));
}

#[test]
fn unix_dgram_sender_address_and_truncation() {
    let _g = crate::testplat::serial();
    let a = sock(1, SOCK_DGRAM | NB);
    a.bind(&un(b"\0ukit-dg-a")).unwrap();
    let b = sock(1, SOCK_DGRAM | NB);
    b.bind(&un(b"\0ukit-dg-b")).unwrap();
    assert_eq!(b.send(&&b"hello"[..], Some(&un(b"\0ukit-dg-a")), 0), Ok(5));
    assert_eq!(a.proto.rx_available(), 5);
    let mut buf = [0u8; 3];
    let (n, from, fl, _) = a.recv(&mut &mut buf[..], MSG_PEEK).unwrap();
    assert_eq!((n, fl), (3, MSG_TRUNC));
    assert_eq!(from.unwrap(), un(b"\0ukit-dg-b"));
    assert_eq!(
        a.recv(&mut &mut buf[..], MSG_TRUNC).unwrap().0,
        5,
        "MSG_TRUNC: full length"
    );
    assert_eq!(a.recv(&mut &mut buf[..], 0), Err(Errno::EAGAIN));
    assert_eq!(a.send(&&b"x"[..], None, 0), Err(Errno::ENOTCONN));
    assert_eq!(
        a.send(&&b"x"[..], Some(&un(b"\0ukit-dg-none")), 0),
        Err(Errno::ECONNREFUSED)
    );
}

#[test]
fn options_round_trip() {
    let _g = crate::testplat::serial();
    let s = sock(1, SOCK_STREAM);
    s.setsockopt(SOL_SOCKET, SO_RCVBUF, &4096i32.to_ne_bytes())
        .unwrap();
    assert_eq!(
        s.getsockopt(SOL_SOCKET, SO_RCVBUF).unwrap(),
        8192i32.to_ne_bytes()
    );
    assert_eq!(
        s.getsockopt(SOL_SOCKET, SO_TYPE).unwrap(),
        1i32.to_ne_bytes()
    );
    assert_eq!(
        s.getsockopt(SOL_SOCKET, SO_ERROR).unwrap(),
        0i32.to_ne_bytes()
    );
    assert_eq!(
        s.setsockopt(SOL_SOCKET, SO_REUSEADDR, &[1, 0]),
        Err(Errno::EINVAL)
    );
    let mut tv = 2i64.to_ne_bytes().to_vec();
    tv.extend_from_slice(&500_000i64.to_ne_bytes());
    s.setsockopt(SOL_SOCKET, SO_RCVTIMEO, &tv).unwrap();
    assert_eq!(s.getsockopt(SOL_SOCKET, SO_RCVTIMEO).unwrap(), tv);
    assert_eq!(
        s.setsockopt(IPPROTO_TCP, TCP_NODELAY, &1i32.to_ne_bytes()),
        Err(Errno::EOPNOTSUPP),
        "TCP option on AF_UNIX"
    );
    assert_eq!(s.getsockopt(SOL_SOCKET, 999), Err(Errno::ENOPROTOOPT));
}

#[test]
fn socket_argument_errors() {
    let _g = crate::testplat::serial();
    crate::testplat::setup();
    assert!(matches!(
        socket(1, 0x80000 | 0x1000_0000 | 1, 0),
        Err(Errno::EINVAL)
    ));
    assert!(matches!(socket(1, 99, 0), Err(Errno::EINVAL)));
    assert!(matches!(socket(1, 1, 6), Err(Errno::EPROTONOSUPPORT)));
    assert!(matches!(socket(4242, 1, 0), Err(Errno::EAFNOSUPPORT)));
    assert_eq!(socketpair_fds(2, 1, 0), Err(Errno::EOPNOTSUPP));
    #[cfg(not(feature = "net"))]
    assert!(matches!(socket(2, 1, 0), Err(Errno::EAFNOSUPPORT)));
}

#[test]
fn unix_stream_rights_split_reads_and_close_when_dropped() {
    let _g = crate::testplat::serial();
    crate::testplat::setup();
    let (a, b) = super::unix::UnixSock::pair(true);
    let file = |_: u8| -> Arc<dyn File> { Arc::new(sock(1, SOCK_STREAM)) };
    let (f, g) = (file(0), file(1));
    let (wf, wg) = (Arc::downgrade(&f), Arc::downgrade(&g));
    let nb = Wait::NonBlocking;
    assert_eq!(a.send_rights(&&b"ab"[..], None, nb, Rights(vec![f])), Ok(2));
    assert_eq!(a.send_rights(&&b"cd"[..], None, nb, Rights(vec![g])), Ok(2));
    let mut buf = [0u8; 8];
    let r = b.recv(&mut &mut buf[..], true, nb).unwrap();
    assert_eq!(
        (r.n, r.rights.0.len()),
        (2, 1),
        "a peek stops at the batch's end"
    );
    drop(r);
    let r = b.recv(&mut &mut buf[..], false, nb).unwrap();
    assert_eq!((r.n, &buf[..2]), (2, &b"ab"[..]));
    assert!(core::ptr::addr_eq(Arc::as_ptr(&r.rights.0[0]), wf.as_ptr()));
    drop(r);
    assert!(wf.upgrade().is_none(), "received and dropped: closed");
    // Still in flight when the receiving end closes: closed with it.
    drop(b);
    assert!(wg.upgrade().is_none(), "queued files close with the socket");
    drop(a);
}
