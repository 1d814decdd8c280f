//! nginx as a virtual machine: the same objects as the linuxu build, relinked for kvm,
//! booted on QEMU (TCG here) with virtio-net and a user-mode forward bound to
//! 127.0.0.1, serve the recipe's index page byte-exact.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use uk_tests::{ensure_setup, repo_root, text, tools};

const TIMEOUT: Duration = Duration::from_secs(180);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.0 GET; None while nothing answers yet.
fn get(port: u16, path: &str) -> Option<Vec<u8>> {
    let mut s =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    (!buf.is_empty()).then_some(buf)
}

#[test]
fn nginx_serves_from_a_kvm_image_through_the_host_forward() {
    ensure_setup();
    let t = tools();
    let build = Command::new(&t.ukport)
        .args(["build", "nginx", "--plat", "kvm"])
        .env("UK_CC", &t.uk_cc)
        .output()
        .expect("run ukport build");
    assert!(
        build.status.success(),
        "ukport build nginx --plat kvm failed:\n{}{}",
        text(&build.stdout),
        text(&build.stderr)
    );

    let port = free_port();
    let log = std::env::temp_dir().join(format!("ukit-kvm-nginx-{}.log", std::process::id()));
    let mut child = Command::new(&t.ukport)
        .args(["run", "--plat", "kvm", "-p"])
        .arg(format!("{port}:80"))
        .arg("nginx")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start ukport run");
    let pgid = child.id();
    let deadline = Instant::now() + TIMEOUT;
    let mut reply = None;
    while Instant::now() < deadline {
        if let Some(r) = get(port, "/") {
            reply = Some(r);
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let missing = get(port, "/no-such-page");
    // Stop QEMU and ukport: the whole process group we started, by its id.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let console = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);

    let reply = reply.unwrap_or_else(|| {
        panic!("nginx on kvm never answered on 127.0.0.1:{port}\nconsole:\n{console}")
    });
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP header");
    let (head, body) = (text(&reply[..split]), &reply[split + 4..]);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("Server: nginx/1.22.1"), "{head}");
    let page = std::fs::read(repo_root().join("recipes/nginx/index.html")).unwrap();
    assert_eq!(
        body,
        &page[..],
        "the body is the recipe's index.html, byte for byte"
    );
    let missing = missing.expect("a second request is answered too");
    assert!(
        text(&missing).starts_with("HTTP/1.1 404"),
        "{}",
        text(&missing)
    );
}
