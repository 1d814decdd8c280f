//! A drop-in compiler needs no flags for a program that uses sockets: `uk-cc -O2 -o srv
//! srv.c`, nothing else, links a kernel with networking because the program calls
//! `socket` (docs/config.md, "Options chosen by what the program uses"). A TCP echo
//! server and a UDP program (tests/c/tcp_echo.c, tests/c/udp_echo.c) are built that way
//! and with `musl-gcc -static`, then:
//!
//! - in-image loopback: each runs a server thread and a client over 127.0.0.1 inside
//!   one process; the image's stdout is byte-identical to the native program's;
//! - over `ukport run IMAGE -p HOST:GUEST[/udp]` (passt): this test is the client,
//!   every byte comes back as sent, and the server's stdout is byte-identical to the
//!   native server's serving the same client.
//!
//! All traffic is on the host's loopback; only processes this test starts are ended.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use uk_tests::server::{free_port, Server};
use uk_tests::{build_native, build_uk, c_source, run, text, tools, TempDir};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds `tests/c/<name>.c` both ways into `dir`: (image, native).
fn both(dir: &TempDir, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (uk, native) = (
        dir.join(format!("{name}.uk")),
        dir.join(format!("{name}.native")),
    );
    build_uk(&c_source(&format!("{name}.c")), &uk);
    build_native(&c_source(&format!("{name}.c")), &native);
    (uk, native)
}

/// The link's record says why networking is in: the program calls socket.
fn assert_chosen_for_socket(image: &Path) {
    let mut m = image.as_os_str().to_owned();
    m.push(".uklink");
    let manifest = std::fs::read_to_string(&m).expect("uk-cc records its links");
    assert!(
        manifest.contains("\"option\": \"lib.net\"") && manifest.contains("\"symbol\": \"socket\""),
        "the manifest does not say lib.net was chosen for socket:\n{manifest}"
    );
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Waits for `listening` on the server's stdout (`dir/stdout`).
fn wait_listening(server: &mut Server, dir: &Path) {
    let started = Instant::now();
    loop {
        if std::fs::read_to_string(dir.join("stdout")).is_ok_and(|s| s.contains("listening")) {
            return;
        }
        if let Some(st) = server.wait_exit(Duration::ZERO) {
            panic!(
                "the server exited ({st}) before listening\n{}",
                server.logs()
            );
        }
        assert!(
            started.elapsed() < READY_TIMEOUT,
            "no `listening` within {READY_TIMEOUT:?}\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One echo round trip per payload over TCP to 127.0.0.1:`port`, half-closing after
/// each; returns what came back.
fn tcp_client(port: u16, payloads: &[Vec<u8>]) -> Vec<Vec<u8>> {
    payloads
        .iter()
        .map(|p| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            let mut w = s.try_clone().unwrap();
            let data = p.clone();
            let writer = std::thread::spawn(move || {
                w.write_all(&data).unwrap();
                w.shutdown(std::net::Shutdown::Write).unwrap();
            });
            let mut back = Vec::new();
            s.read_to_end(&mut back).unwrap();
            writer.join().unwrap();
            back
        })
        .collect()
}

/// One datagram per payload to 127.0.0.1:`port`, each answer read before the next.
fn udp_client(port: u16, payloads: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    payloads
        .iter()
        .map(|p| {
            s.send_to(p, ("127.0.0.1", port)).unwrap();
            let mut buf = vec![0u8; 65536];
            let (n, from) = s.recv_from(&mut buf).unwrap();
            assert_eq!(
                from.port(),
                port,
                "the answer comes from the forwarded port"
            );
            buf.truncate(n);
            buf
        })
        .collect()
}

/// Runs `serve` once natively and once as `ukport run IMAGE -p`, with the same client,
/// and returns (native stdout, image stdout, native answers, image answers).
fn serve_both(
    name: &str,
    udp: bool,
    payloads: &[Vec<u8>],
) -> (String, String, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let dir = TempDir::new(name);
    let (image, native) = both(&dir, name);
    assert_chosen_for_socket(&image);
    let count = payloads.len().to_string();
    let client = |port| {
        if udp {
            udp_client(port, payloads)
        } else {
            tcp_client(port, payloads)
        }
    };

    let ndir = TempDir::new(&format!("{name}-native"));
    let nport = free_port();
    let mut cmd = Command::new(&native);
    cmd.args(["serve", &nport.to_string(), &count]);
    let mut nserver = Server::start(cmd, ndir.path());
    wait_listening(&mut nserver, ndir.path());
    let native_answers = client(nport);
    let st = nserver.wait_exit(IO_TIMEOUT).expect("native server exits");
    assert!(st.success(), "{}", nserver.logs());

    let udir = TempDir::new(&format!("{name}-ukit"));
    let hport = free_port();
    let guest = if udp { "53" } else { "7" };
    let spec = format!("{hport}:{guest}{}", if udp { "/udp" } else { "" });
    let mut cmd = Command::new(&tools().ukport);
    cmd.arg("run")
        .arg(&image)
        .args(["-p", &spec, "--", "serve", guest, &count]);
    let mut userver = Server::start(cmd, udir.path());
    wait_listening(&mut userver, udir.path());
    let image_answers = client(hport);
    let st = userver
        .wait_exit(IO_TIMEOUT)
        .unwrap_or_else(|| panic!("ukport run did not end\n{}", userver.logs()));
    assert!(st.success(), "{}", userver.logs());

    let read = |d: &TempDir| std::fs::read_to_string(d.join("stdout")).unwrap();
    (read(&ndir), read(&udir), native_answers, image_answers)
}

/// `NAME loop` (server and client in one process over 127.0.0.1) as an image and
/// natively: both succeed, and the image's stdout holds `expect` and is the native one.
fn loopback_as_native(name: &str, expect: &str) {
    let dir = TempDir::new(&format!("{name}-loop"));
    let (image, native) = both(&dir, name);
    let n = run(&native, &["loop"], &[]);
    let u = run(&image, &["loop"], &[]);
    assert!(n.status.success(), "native: {}", text(&n.stdout));
    assert!(
        u.status.success(),
        "image: {}{}",
        text(&u.stdout),
        text(&u.stderr)
    );
    assert!(text(&u.stdout).contains(expect), "{}", text(&u.stdout));
    assert_eq!(
        text(&u.stdout),
        text(&n.stdout),
        "in-image loopback differs"
    );
}

#[test]
fn tcp_echo_without_flags_over_loopback_and_passt() {
    loopback_as_native("tcp_echo", "300000 bytes, identical, eof yes");

    let payloads = vec![pseudo_random(1 << 20, 7), b"x".to_vec(), Vec::new()];
    let (nout, uout, nans, uans) = serve_both("tcp_echo", false, &payloads);
    assert_eq!(uans, payloads, "the image did not echo every byte");
    assert_eq!(nans, payloads);
    assert!(
        uout.contains("connection 1: 1048576 bytes echoed"),
        "{uout}"
    );
    assert_eq!(uout, nout, "server output differs from native");
}

#[test]
fn udp_without_flags_over_loopback_and_passt() {
    loopback_as_native("udp_echo", "30 of 30 answers exact");

    let payloads: Vec<Vec<u8>> = [0usize, 1, 512, 1400]
        .iter()
        .map(|&len| pseudo_random(len, len as u64 + 3))
        .collect();
    let want: Vec<Vec<u8>> = payloads
        .iter()
        .map(|p| [b"echo ".as_slice(), p].concat())
        .collect();
    let (nout, uout, nans, uans) = serve_both("udp_echo", true, &payloads);
    assert_eq!(uans, want, "the image's answers differ");
    assert_eq!(nans, want);
    assert!(uout.contains("done: 1913 bytes in 4 datagrams"), "{uout}");
    assert_eq!(uout, nout, "server output differs from native");
}

/// `uk-cc -v` says what it chose and why; `--uk-set lib.net=false` still wins.
#[test]
fn verbose_link_explains_the_choice() {
    let dir = TempDir::new("explain");
    let out = dir.join("tcp");
    let link = |extra: &[&str]| {
        let mut cmd = Command::new(&tools().uk_cc);
        cmd.args(extra)
            .arg("-O2")
            .arg("-o")
            .arg(&out)
            .arg(c_source("tcp_echo.c"));
        uk_tests::run_command(cmd, Duration::from_secs(600))
    };
    uk_tests::ensure_setup();
    let o = link(&["-v"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("uk-cc: kernel option lib.net = true: the program calls socket (")
            && err.contains("tcp_echo.c)"),
        "{err}"
    );
    let o = link(&["--uk-verbose", "--uk-set=lib.net=false"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("lib.net = false (--uk-set), although the program calls socket"),
        "{}",
        text(&o.stderr)
    );
    // That image really has no network: its socket(AF_INET) fails.
    let r = run(&out, &["loop"], &[]);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        text(&r.stdout).starts_with("socket: "),
        "{}",
        text(&r.stdout)
    );
}
