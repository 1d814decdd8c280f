//! A program that never blocks still has a network: `tests/c/spin_accept.c` spins on
//! `poll(.., 0)` over its listening socket, accepts one connection, reads a line with
//! MSG_DONTWAIT and answers it, then spins again until the peer closes. In ukit the
//! net thread only runs when the program blocks, so every step here (the handshake,
//! the request, the answer leaving, the peer's FIN) depends on the zero-timeout polls
//! doing the network's work themselves (docs/net.md, "Progress without blocking").
//!
//! The same source runs natively (musl-gcc) on the host's loopback, and as a linuxu
//! image reached through passt (`ukport run -p`) and over a tap device in a network
//! namespace this test creates; all three must answer the same. A per-run token keeps
//! a canned answer from passing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use uk_tests::net::{client, netload, Netns};
use uk_tests::server::free_port;
use uk_tests::{build_native, build_uk_with, c_source, exit_code, tools, TempDir};

const TIMEOUT: Duration = Duration::from_secs(60);

/// `cmd` started in its own process group with its stdout read line by line; returns
/// once it printed "listening on", with the child and the rest of its stdout to come.
fn start_listening(mut cmd: Command) -> (Child, mpsc::Receiver<String>) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().expect("start the server");
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(l) if l.starts_with("listening on") => return (child, rx),
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(e) => {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "{cmd:?} never said it was listening ({e:?}):\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

/// The answer the client got, and the server's exit code and "served" line.
fn serve_once(server: Command, client_cmd: Command, token: &str) -> (String, i32, String) {
    let (mut child, lines) = start_listening(server);
    let answer = client(client_cmd, TIMEOUT);
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            // Its own group (ukport and the image, or the native program).
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!("the server did not finish after answering {token}: {answer:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let served: String = lines
        .try_iter()
        .filter(|l| l.starts_with("served"))
        .collect();
    (answer, exit_code(&status), served)
}

fn check(name: &str, (answer, code, served): (String, i32, String), token: &str) {
    assert_eq!(answer, format!("echo: {token}\n"), "{name}");
    assert_eq!(code, 0, "{name}: exit status; served: {served:?}");
    assert!(
        served.starts_with(&format!("served {} bytes", token.len() + 1)),
        "{name}: {served:?}"
    );
}

fn echo(netload_cmd: Command, host: &str, port: u16, token: &str) -> Command {
    let mut c = netload_cmd;
    c.args(["echo", host, &port.to_string(), token, "20000"]);
    c
}

#[test]
fn a_program_spinning_on_poll_accepts_and_answers_natively_through_passt_and_over_tap() {
    let dir = TempDir::new("spin-accept");
    let src = c_source("spin_accept.c");
    let native = dir.join("spin_accept.native");
    build_native(&src, &native);
    let image = dir.join("spin_accept.linuxu");
    build_uk_with(&src, &image, &["--uk-set=lib.net=true"]);
    let tag = std::process::id();

    // Native, on the host's loopback.
    let token = format!("native-{tag}");
    let port = free_port();
    let mut server = Command::new(&native);
    server.arg(port.to_string());
    let got = serve_once(
        server,
        echo(Command::new(netload()), "127.0.0.1", port, &token),
        &token,
    );
    check("native", got, &token);

    // The image through passt.
    let token = format!("passt-{tag}");
    let (host, guest) = (free_port(), 7000);
    let mut server = Command::new(&tools().ukport);
    server
        .args(["run", "-p", &format!("{host}:{guest}")])
        .arg(&image)
        .args(["--", &guest.to_string()]);
    let got = serve_once(
        server,
        echo(Command::new(netload()), "127.0.0.1", host, &token),
        &token,
    );
    check("passt", got, &token);

    // The image on a tap device, the client in the namespace.
    let token = format!("tap-{tag}");
    let ns = Netns::with_tap();
    let mut server = ns.ukport_run(&image);
    server.args(["--", "7000"]);
    let got = serve_once(
        server,
        echo(ns.command(netload()), &ns.guest_ip, 7000, &token),
        &token,
    );
    check("tap", got, &token);
}
