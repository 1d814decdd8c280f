//! nginx with TLS (recipes/nginx-tls.toml) end to end: HTTPS and HTTP/2 that the host's
//! curl verifies against a root CA (server certificate + intermediate served by nginx), a
//! 10 MB file byte-exact, on linuxu (passt) and on kvm (QEMU, TCG here); clients speaking
//! garbage or plain HTTP to the TLS port get an error in the log while others are served;
//! a missing, unreadable or malformed certificate and a key that does not match stop
//! nginx at start with a clear message; and with no certificate at all, the first
//! `ukport run` makes a self-signed one and says so loudly.
//!
//! Certificates are made by the `openssl` recipe's image (tests/src/tls.rs). All traffic
//! is on the host's loopback; only processes this test starts are signalled.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use uk_tests::server::{free_port, Server};
use uk_tests::tls::{app_image, curl, recipe_rootfs, ukport_build, Pki};
use uk_tests::{text, tools, ukit_cache, TempDir};

const START_TIMEOUT: Duration = Duration::from_secs(300);
const BIG_SIZE: usize = 10 * 1024 * 1024;

/// Builds nginx-tls (linuxu) and the openssl image once for all tests of this binary
/// (tests run in parallel threads; two builds of one recipe must not race), then makes a
/// certificate chain in `dir` for the calling test.
fn setup(dir: &Path) -> Pki {
    static OPENSSL: OnceLock<PathBuf> = OnceLock::new();
    let openssl = OPENSSL.get_or_init(|| {
        ukport_build(&["nginx-tls"]);
        app_image("openssl")
    });
    Pki::make(openssl, &dir.join("pki"))
}

/// The recipe's rootfs under `root`, with `cert` and `key` (when given) as the server's
/// certificate and key, and a 10 MB pseudo-random file; returns that file's bytes.
fn make_root(root: &Path, cert: Option<&Path>, key: Option<&Path>) -> Vec<u8> {
    recipe_rootfs("nginx-tls", root);
    let tls = root.join("etc/nginx/tls");
    std::fs::create_dir_all(&tls).unwrap();
    if let Some(c) = cert {
        std::fs::copy(c, tls.join("cert.pem")).unwrap();
    }
    if let Some(k) = key {
        std::fs::copy(k, tls.join("key.pem")).unwrap();
    }
    let mut x = 0x2545_F491_4F6C_DD1Du64 ^ u64::from(std::process::id());
    let mut big = Vec::with_capacity(BIG_SIZE);
    while big.len() < BIG_SIZE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(root.join("html/big.bin"), &big).unwrap();
    big
}

/// curl against `https://localhost:PORT{path}` (localhost pinned to 127.0.0.1), trusting
/// `ca`; returns (status line of curl's -w, body).
fn get(port: u16, ca: &Path, path: &str, extra: &[&str]) -> Result<(String, Vec<u8>), String> {
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = format!("https://localhost:{port}{path}");
    let tmp = tempfile_path();
    let mut args = vec![
        "-sS",
        "--max-time",
        "120",
        "--cacert",
        ca.to_str().unwrap(),
        "--resolve",
        &resolve,
        "-o",
        tmp.to_str().unwrap(),
        "-w",
        "%{http_code} %{http_version} %{ssl_verify_result}",
    ];
    args.extend(extra);
    args.push(&url);
    let out = curl(&args, Duration::from_secs(180));
    let body = std::fs::read(&tmp).unwrap_or_default();
    let _ = std::fs::remove_file(&tmp);
    if out.status.success() {
        Ok((text(&out.stdout), body))
    } else {
        Err(format!("curl {url}: {} {}", out.status, text(&out.stderr)))
    }
}

fn tempfile_path() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "uk-nginx-tls-{}-{}.body",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Starts `ukport run [--plat P] nginx-tls -p PORT:443 --root ROOT` and waits until GET /
/// over HTTPS answers; returns the server and the port.
fn start(plat: &str, root: &Path, ca: &Path, dir: &Path) -> (Server, u16) {
    let port = free_port();
    let mut cmd = Command::new(&tools().ukport);
    cmd.args([
        "run",
        "--plat",
        plat,
        "nginx-tls",
        "-p",
        &format!("{port}:443"),
        "--root",
    ])
    .arg(root);
    let mut server = Server::start(cmd, dir);
    let started = Instant::now();
    loop {
        if let Some(status) = server.wait_exit(Duration::ZERO) {
            panic!(
                "ukport run nginx-tls exited ({status}) before serving\n{}",
                server.logs()
            );
        }
        if get(port, ca, "/", &[]).is_ok() {
            return (server, port);
        }
        assert!(
            started.elapsed() < START_TIMEOUT,
            "nginx-tls did not answer on {port} within {START_TIMEOUT:?}\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// HTTPS and HTTP/2, verified; the index page and the 10 MB file byte-exact.
fn check_https_and_h2(port: u16, pki: &Pki, root: &Path, big: &[u8], server: &Server) {
    let index = std::fs::read(root.join("html/index.html")).unwrap();
    let (w, body) = get(port, &pki.root, "/", &["--http1.1"])
        .unwrap_or_else(|e| panic!("{e}\n{}", server.logs()));
    assert_eq!(w, "200 1.1 0", "HTTP/1.1 over TLS, chain verified (0 = ok)");
    assert_eq!(body, index);
    let (w, body) = get(port, &pki.root, "/", &["--http2"])
        .unwrap_or_else(|e| panic!("{e}\n{}", server.logs()));
    assert_eq!(w, "200 2 0", "HTTP/2 negotiated with ALPN");
    assert_eq!(body, index);
    let t = Instant::now();
    let (w, body) = get(port, &pki.root, "/big.bin", &["--http2"])
        .unwrap_or_else(|e| panic!("{e}\n{}", server.logs()));
    let took = t.elapsed();
    assert_eq!(w, "200 2 0");
    assert_eq!(body.len(), big.len());
    assert!(body == big, "the 10 MB file differs from what was served");
    let (w, _) = get(port, &pki.root, "/no-such-file", &[]).unwrap();
    assert!(w.starts_with("404 "), "{w}");
    // Without the root CA the chain does not verify: curl refuses (exit 60).
    let resolve = format!("localhost:{port}:127.0.0.1");
    let out = curl(
        &[
            "-sS",
            "--resolve",
            &resolve,
            &format!("https://localhost:{port}/"),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(60), "{}", text(&out.stderr));
    eprintln!(
        "nginx-tls: 10 MB over HTTP/2 in {took:?} ({:.1} MB/s)",
        BIG_SIZE as f64 / took.as_secs_f64() / 1e6
    );
}

#[test]
fn https_h2_and_bad_clients_on_linuxu() {
    let dir = TempDir::new("nginx-tls-linuxu");
    let pki = &setup(dir.path());
    let root = dir.join("root");
    let big = make_root(&root, Some(&pki.chain), Some(&pki.key));
    let (mut server, port) = start("linuxu", &root, &pki.root, dir.path());
    check_https_and_h2(port, pki, &root, &big, &server);

    // A client that sends garbage that looks like a TLS record, and keeps its
    // connection open, while others are served.
    let mut junk = TcpStream::connect(("127.0.0.1", port)).unwrap();
    junk.write_all(b"\x16\x03\x01\x00\x2aUKIT-NOT-A-CLIENT-HELLO-just-some-garbage!!")
        .unwrap();
    // Plain HTTP to the TLS port: nginx answers 400 and says why.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    let _ = plain.read_to_end(&mut reply);
    let reply = text(&reply);
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(
        reply.contains("The plain HTTP request was sent to HTTPS port"),
        "{reply}"
    );
    for _ in 0..3 {
        let (w, _) = get(port, &pki.root, "/", &["--http2"])
            .unwrap_or_else(|e| panic!("{e}\n{}", server.logs()));
        assert_eq!(w, "200 2 0");
    }
    let mut buf = [0u8; 64];
    junk.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let n = junk.read(&mut buf).unwrap_or(0);
    // nginx drops the connection (at most a TLS alert: content type 21).
    assert!(n == 0 || buf[0] == 21, "garbage client got {:?}", &buf[..n]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let logs = loop {
        let logs = server.output();
        if logs.contains("SSL_do_handshake() failed") || Instant::now() > deadline {
            break logs;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        logs.contains("SSL_do_handshake() failed") && logs.contains("while SSL handshaking"),
        "no handshake error for the garbage client in the log:\n{logs}"
    );
    assert!(
        logs.contains("client sent plain HTTP request to HTTPS port"),
        "no plain-HTTP error in the log:\n{logs}"
    );
    // Still serving after both.
    let (w, _) = get(port, &pki.root, "/hello.txt", &["--http1.1"]).unwrap();
    assert_eq!(w, "200 1.1 0");

    server.signal("-TERM");
    let status = server.wait_exit(Duration::from_secs(15));
    assert!(
        status.is_some(),
        "nginx-tls did not stop on SIGTERM\n{}",
        server.logs()
    );
}

#[test]
fn https_and_h2_on_kvm() {
    let dir = TempDir::new("nginx-tls-kvm");
    let pki = &setup(dir.path());
    ukport_build(&["nginx-tls", "--plat", "kvm"]);
    let root = dir.join("root");
    let big = make_root(&root, Some(&pki.chain), Some(&pki.key));
    let (server, port) = start("kvm", &root, &pki.root, dir.path());
    check_https_and_h2(port, pki, &root, &big, &server);
    drop(server);
}

/// `ukport run` on a root whose certificate or key is wrong: nginx stops at start with
/// its own message naming the file and OpenSSL's reason, and ukport exits non-zero.
#[test]
fn bad_certificates_are_clear_errors() {
    let dir = TempDir::new("nginx-tls-bad");
    let pki = &setup(dir.path());
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    // What goes at /etc/nginx/tls/cert.pem and key.pem, and what the log must say.
    enum File<'a> {
        Missing,
        Folder,
        Copy(&'a Path),
    }
    let cases = [
        (
            "missing certificate",
            File::Missing,
            File::Copy(&pki.key),
            &[
                "cannot load certificate \"/etc/nginx/tls/cert.pem\"",
                "No such file or directory",
            ][..],
        ),
        (
            "unreadable certificate (a folder)",
            File::Folder,
            File::Copy(&pki.key),
            &["cannot load certificate \"/etc/nginx/tls/cert.pem\""][..],
        ),
        (
            "not a certificate",
            File::Copy(&garbage),
            File::Copy(&pki.key),
            &["cannot load certificate \"/etc/nginx/tls/cert.pem\"", "PEM"][..],
        ),
        (
            "key does not match",
            File::Copy(&pki.chain),
            File::Copy(&pki.other_key),
            &[
                "SSL_CTX_use_PrivateKey(\"/etc/nginx/tls/key.pem\") failed",
                "key values mismatch",
            ][..],
        ),
        (
            "missing key",
            File::Copy(&pki.chain),
            File::Missing,
            &["cannot load certificate key \"/etc/nginx/tls/key.pem\""][..],
        ),
    ];
    for (i, (what, cert, key, want)) in cases.iter().enumerate() {
        let root = dir.join(format!("root{i}"));
        recipe_rootfs("nginx-tls", &root);
        let tls = root.join("etc/nginx/tls");
        std::fs::create_dir_all(&tls).unwrap();
        for (file, name) in [(cert, "cert.pem"), (key, "key.pem")] {
            match file {
                File::Missing => {}
                File::Folder => std::fs::create_dir(tls.join(name)).unwrap(),
                File::Copy(from) => {
                    std::fs::copy(from, tls.join(name)).unwrap();
                }
            }
        }
        let port = free_port();
        let mut cmd = Command::new(&tools().ukport);
        cmd.args(["run", "nginx-tls", "-p", &format!("{port}:443"), "--root"])
            .arg(&root);
        let case_dir = dir.join(format!("out{i}"));
        std::fs::create_dir_all(&case_dir).unwrap();
        let mut server = Server::start(cmd, &case_dir);
        let status = server.wait_exit(Duration::from_secs(120));
        let logs = server.output();
        let status = status.unwrap_or_else(|| panic!("{what}: nginx-tls kept running\n{logs}"));
        assert_eq!(status.code(), Some(1), "{what}: exit status\n{logs}");
        assert!(logs.contains("[emerg]"), "{what}: no [emerg] line\n{logs}");
        for w in *want {
            assert!(logs.contains(w), "{what}: `{w}` not in the log\n{logs}");
        }
    }
}

/// No certificate anywhere: the first `ukport run` (on the recipe's own root) has the
/// openssl image make a self-signed pair, says so with the path to trust, and serves.
#[test]
fn first_run_makes_a_self_signed_certificate() {
    let pki_dir = TempDir::new("nginx-tls-first-pki");
    setup(pki_dir.path());
    let rootfs = ukit_cache().join("build/nginx-tls-1.22.1/rootfs");
    let _ = std::fs::remove_dir_all(rootfs.join("etc/nginx/tls"));
    let dir = TempDir::new("nginx-tls-first");
    let port = free_port();
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["run", "nginx-tls", "-p", &format!("{port}:443")]);
    let mut server = Server::start(cmd, dir.path());
    let started = Instant::now();
    let ca = loop {
        let logs = server.output();
        if let Some(at) = logs.find("curl --cacert ") {
            let path = logs[at + "curl --cacert ".len()..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
            break PathBuf::from(path);
        }
        if let Some(status) = server.wait_exit(Duration::ZERO) {
            panic!("ukport run nginx-tls exited ({status})\n{logs}");
        }
        assert!(
            started.elapsed() < START_TIMEOUT,
            "no certificate banner\n{logs}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let logs = server.output();
    assert!(logs.contains("NO CERTIFICATE WAS GIVEN"), "{logs}");
    assert!(logs.contains("SELF-SIGNED"), "{logs}");
    assert_eq!(ca, rootfs.join("etc/nginx/tls/cert.pem"));
    loop {
        match get(port, &ca, "/", &["--http2"]) {
            Ok((w, _)) => {
                assert_eq!(w, "200 2 0");
                break;
            }
            Err(e) => assert!(started.elapsed() < START_TIMEOUT, "{e}\n{}", server.logs()),
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    server.signal("-TERM");
    server.wait_exit(Duration::from_secs(15));

    // A second run keeps the pair it made: no new banner.
    let port = free_port();
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["run", "nginx-tls", "-p", &format!("{port}:443")]);
    let dir2 = TempDir::new("nginx-tls-second");
    let server = Server::start(cmd, dir2.path());
    let started = Instant::now();
    while get(port, &ca, "/", &[]).is_err() {
        assert!(started.elapsed() < START_TIMEOUT, "{}", server.logs());
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        !server.output().contains("NO CERTIFICATE WAS GIVEN"),
        "{}",
        server.logs()
    );
}
