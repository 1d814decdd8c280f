//! `net.selftest`: proves the stack inside a booted image, over loopback: a TCP echo
//! server on 127.0.0.1:7 in a kernel thread, a client that sends 1 MiB and checks every
//! byte that comes back, a connect to a closed port (ECONNREFUSED), and a UDP datagram
//! round trip. The image prints the result and exits with 0 (pass) or 1.

use alloc::string::String;
use alloc::vec;
use core::net::{Ipv4Addr, SocketAddr};
use uk_abi::Errno;

use crate::{poll::*, TcpSocket, UdpSocket, Wait};

/// `format!` without `alloc::fmt::format`, whose precompiled code references the
/// unwinder (the kernel links none).
macro_rules! format {
    ($($a:tt)*) => {{
        let mut s = String::new();
        let _ = core::fmt::Write::write_fmt(&mut s, format_args!($($a)*));
        s
    }};
}

const TOTAL: usize = 1 << 20;

fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(7) ^ (i >> 11)) as u8
}

extern "C" fn echo_server(arg: usize) -> ! {
    // SAFETY: arg is the Box<TcpSocket> leaked by run(); this thread owns it now.
    let listener = unsafe { alloc::boxed::Box::from_raw(arg as *mut TcpSocket) };
    if let Ok(conn) = listener.accept(Wait::Until(None)) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match conn.recv(&mut &mut buf[..], false, Wait::Until(None)) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut off = 0;
                    while off < n {
                        match conn.send(&&buf[off..n], Wait::Until(None)) {
                            Ok(m) => off += m,
                            Err(_) => break,
                        }
                    }
                }
            }
        }
    }
    drop(listener);
    uk_sched::exit_current(0)
}

/// The TCP echo of [`TOTAL`] bytes; returns the bytes checked.
fn tcp_echo(port: u16) -> Result<usize, String> {
    let listener = TcpSocket::new(false).map_err(|e| format!("socket: {e:?}"))?;
    listener.set_reuseaddr(true);
    let local = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
    listener
        .bind(local)
        .map_err(|e| format!("bind {local}: {e:?}"))?;
    listener.listen(16).map_err(|e| format!("listen: {e:?}"))?;
    let boxed = alloc::boxed::Box::into_raw(alloc::boxed::Box::new(listener));
    if uk_sched::spawn(echo_server, boxed as usize, None, 0).is_none() {
        // SAFETY: the thread did not start; take the socket back.
        drop(unsafe { alloc::boxed::Box::from_raw(boxed) });
        return Err("cannot start the echo thread".into());
    }
    let c = TcpSocket::new(false).map_err(|e| format!("socket: {e:?}"))?;
    c.set_nodelay(true);
    c.connect(local, Wait::Until(None))
        .map_err(|e| format!("connect {local}: {e:?}"))?;
    let out: alloc::vec::Vec<u8> = (0..TOTAL).map(pattern).collect();
    let mut buf = vec![0u8; 64 * 1024];
    let (mut sent, mut got) = (0, 0);
    while got < TOTAL {
        let mut progress = false;
        if sent < TOTAL {
            match c.send(&&out[sent..], Wait::NonBlocking) {
                Ok(n) => {
                    sent += n;
                    progress = true;
                    if sent == TOTAL {
                        c.shutdown(false, true)
                            .map_err(|e| format!("shutdown: {e:?}"))?;
                    }
                }
                Err(Errno::EAGAIN) => {}
                Err(e) => return Err(format!("send after {sent} bytes: {e:?}")),
            }
        }
        match c.recv(&mut &mut buf[..], false, Wait::NonBlocking) {
            Ok(0) => return Err(format!("early end of stream after {got} bytes")),
            Ok(n) => {
                if let Some(i) = (0..n).find(|&i| buf[i] != pattern(got + i)) {
                    return Err(format!("byte {} differs", got + i));
                }
                got += n;
                progress = true;
            }
            Err(Errno::EAGAIN) => {}
            Err(e) => return Err(format!("recv after {got} bytes: {e:?}")),
        }
        if !progress {
            let want = if sent < TOTAL {
                POLLIN | POLLOUT
            } else {
                POLLIN
            };
            let w = c
                .wait_queue()
                .wait_until(None, || c.poll() & (want | POLLERR | POLLHUP) != 0);
            if w == uk_sched::Wake::Interrupted {
                return Err("interrupted".into());
            }
        }
    }
    // The server closes after our FIN: end of stream.
    match c.recv(&mut &mut buf[..], false, Wait::Until(None)) {
        Ok(0) => Ok(got),
        other => Err(format!("expected end of stream, got {other:?}")),
    }
}

fn refused(port: u16) -> Result<(), String> {
    let c = TcpSocket::new(false).map_err(|e| format!("socket: {e:?}"))?;
    match c.connect(
        SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
        Wait::Until(None),
    ) {
        Err(Errno::ECONNREFUSED) => Ok(()),
        other => Err(format!(
            "connect to a closed port: {other:?}, want ECONNREFUSED"
        )),
    }
}

fn udp_round_trip() -> Result<(), String> {
    let a = UdpSocket::new(false).map_err(|e| format!("udp: {e:?}"))?;
    let b = UdpSocket::new(false).map_err(|e| format!("udp: {e:?}"))?;
    a.bind(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0))
        .map_err(|e| format!("udp bind: {e:?}"))?;
    let to = a.local_addr().map_err(|e| format!("{e:?}"))?;
    b.send_to(&&b"ukit-udp"[..], Some(to))
        .map_err(|e| format!("sendto: {e:?}"))?;
    let mut buf = [0u8; 64];
    let (n, full, _from) = a
        .recv_from(&mut &mut buf[..], false, Wait::Until(None))
        .map_err(|e| format!("recvfrom: {e:?}"))?;
    if &buf[..n] != b"ukit-udp" || full != 8 {
        return Err(format!("udp got {:?}", &buf[..n]));
    }
    Ok(())
}

/// Runs the self-test on the calling thread; Ok carries a one-line summary.
pub fn run() -> Result<String, String> {
    let t0 = uk_plat::get().monotonic_ns();
    let n = tcp_echo(7)?;
    let ms = (uk_plat::get().monotonic_ns() - t0) / 1_000_000;
    refused(9)?;
    udp_round_trip()?;
    Ok(format!(
        "tcp echo of {n} bytes over 127.0.0.1:7 in {ms} ms, connect to :9 refused, udp round trip ok"
    ))
}
