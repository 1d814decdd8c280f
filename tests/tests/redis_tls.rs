//! Redis with TLS (recipes/redis-tls.toml) on linuxu: the host's `redis-cli --tls`
//! (Debian's redis-tools, built with TLS) verifies the server's chain against a root CA
//! and does SET/GET of a 100 KB value over TLS, plain RESP still answers on its own port,
//! a client speaking garbage to the TLS port gets an error in Redis's log while TLS
//! clients are served, and a missing certificate or a key that does not match stops
//! Redis at start with a clear message.
//!
//! Certificates are made by the `openssl` recipe's image (tests/src/tls.rs). All traffic
//! is on the host's loopback; only processes this test starts are signalled.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use uk_tests::server::{free_port, Server};
use uk_tests::tls::{app_image, recipe_rootfs, ukport_build, Pki};
use uk_tests::{require_tool, run_command, text, tools, TempDir};

fn root_with(root: &Path, cert: Option<&Path>, key: Option<&Path>) {
    recipe_rootfs("redis-tls", root);
    let tls = root.join("etc/redis/tls");
    std::fs::create_dir_all(&tls).unwrap();
    for (from, name) in [(cert, "cert.pem"), (key, "key.pem")] {
        if let Some(f) = from {
            std::fs::copy(f, tls.join(name)).unwrap();
        }
    }
}

/// `redis-cli -h 127.0.0.1 -p PORT [--tls --cacert CA] args...`.
fn cli(port: u16, ca: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(require_tool("redis-cli"));
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    if let Some(ca) = ca {
        cmd.args(["--tls", "--sni", "localhost", "--cacert"])
            .arg(ca);
    }
    cmd.args(args);
    run_command(cmd, Duration::from_secs(60))
}

#[test]
fn set_get_over_tls_and_bad_input() {
    ukport_build(&["redis-tls"]);
    let dir = TempDir::new("redis-tls");
    let pki = Pki::make(&app_image("openssl"), &dir.join("pki"));
    let root = dir.join("root");
    root_with(&root, Some(&pki.chain), Some(&pki.key));
    let (plain, tls) = (free_port(), free_port());
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["run", "redis-tls", "-p", &format!("{plain}:6379"), "-p"])
        .arg(format!("{tls}:6380"))
        .arg("--root")
        .arg(&root);
    let mut server = Server::start(cmd, dir.path());
    let started = Instant::now();
    loop {
        if let Some(st) = server.wait_exit(Duration::ZERO) {
            panic!("redis-tls exited ({st})\n{}", server.logs());
        }
        let out = cli(tls, Some(&pki.root), &["PING"]);
        if text(&out.stdout) == "PONG\n" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no PONG over TLS: {}{}\n{}",
            text(&out.stdout),
            text(&out.stderr),
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // SET/GET over TLS, a 100 KB value (hex text, so redis-cli prints it as it is).
    let value: String = (0..100 * 1024 / 16)
        .map(|i: u64| format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
        .collect();
    let out = cli(tls, Some(&pki.root), &["SET", "big", &value]);
    assert_eq!(text(&out.stdout), "OK\n", "{}", text(&out.stderr));
    let out = cli(tls, Some(&pki.root), &["GET", "big"]);
    assert!(
        text(&out.stdout) == format!("{value}\n"),
        "GET big over TLS differs"
    );
    let out = cli(tls, Some(&pki.root), &["SET", "k", "over-tls"]);
    assert_eq!(text(&out.stdout), "OK\n");
    // The same data through the plain port.
    let out = cli(plain, None, &["GET", "k"]);
    assert_eq!(text(&out.stdout), "over-tls\n", "{}", text(&out.stderr));
    let out = cli(plain, None, &["STRLEN", "big"]);
    assert_eq!(text(&out.stdout), format!("{}\n", value.len()));
    // Without the CA the chain does not verify.
    let mut bare = Command::new(require_tool("redis-cli"));
    bare.args(["-h", "127.0.0.1", "-p", &tls.to_string(), "--tls", "PING"]);
    let out = run_command(bare, Duration::from_secs(60));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(said.contains("certificate verify failed"), "{said}");

    // Garbage to the TLS port, the connection left open; TLS clients still served.
    let mut junk = TcpStream::connect(("127.0.0.1", tls)).unwrap();
    junk.write_all(b"\x16\x03\x01\x00\x2aUKIT-NOT-A-CLIENT-HELLO-just-some-garbage!!")
        .unwrap();
    for i in 0..3 {
        let out = cli(tls, Some(&pki.root), &["INCR", "n"]);
        assert_eq!(
            text(&out.stdout),
            format!("{}\n", i + 1),
            "{}",
            text(&out.stderr)
        );
    }
    junk.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 64];
    let n = junk.read(&mut buf).unwrap_or(0);
    assert!(n == 0 || buf[0] == 21, "garbage client got {:?}", &buf[..n]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server
        .output()
        .contains("Error accepting a client connection")
    {
        assert!(
            Instant::now() < deadline,
            "no TLS accept error in Redis's log:\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    server.signal("-TERM");
    let st = server.wait_exit(Duration::from_secs(15));
    assert!(
        st.is_some(),
        "redis-tls did not stop on SIGTERM\n{}",
        server.logs()
    );
}

#[test]
fn bad_certificates_are_clear_errors() {
    ukport_build(&["redis-tls"]);
    let dir = TempDir::new("redis-tls-bad");
    let pki = Pki::make(&app_image("openssl"), &dir.join("pki"));
    // (what, certificate, key, what the log must say); `None` leaves the file out, and
    // the folder case puts a directory where the certificate should be (unreadable as
    // a file, whatever the user: the tests run as root, for whom mode bits are no bar).
    let folder = dir.join("a-folder");
    std::fs::create_dir_all(&folder).unwrap();
    let cases: [(&str, Option<&Path>, Option<&Path>, &str); 3] = [
        (
            "missing certificate",
            None,
            Some(&pki.key),
            "Failed to load certificate: /etc/redis/tls/cert.pem",
        ),
        (
            "unreadable certificate (a folder)",
            Some(&folder),
            Some(&pki.key),
            "Failed to load certificate: /etc/redis/tls/cert.pem",
        ),
        (
            "key does not match",
            Some(&pki.chain),
            Some(&pki.other_key),
            "key values mismatch",
        ),
    ];
    for (i, (what, cert, key, want)) in cases.iter().enumerate() {
        let root = dir.join(format!("root{i}"));
        if *cert == Some(folder.as_path()) {
            root_with(&root, None, *key);
            std::fs::create_dir(root.join("etc/redis/tls/cert.pem")).unwrap();
        } else {
            root_with(&root, *cert, *key);
        }
        let mut cmd = Command::new(&tools().ukport);
        cmd.args([
            "run",
            "redis-tls",
            "-p",
            &format!("{}:6380", free_port()),
            "--root",
        ])
        .arg(&root);
        let out_dir = dir.join(format!("out{i}"));
        std::fs::create_dir_all(&out_dir).unwrap();
        let mut server = Server::start(cmd, &out_dir);
        let st = server.wait_exit(Duration::from_secs(120));
        let logs = server.output();
        let st = st.unwrap_or_else(|| panic!("{what}: redis-tls kept running\n{logs}"));
        assert_eq!(st.code(), Some(1), "{what}\n{logs}");
        assert!(logs.contains("Failed to configure TLS"), "{what}\n{logs}");
        assert!(
            logs.contains(want),
            "{what}: `{want}` not in the log\n{logs}"
        );
    }
}
