//! kvm networking: virtio-net (mmio on QEMU `microvm`, modern PCI with MSI-X on `pc`)
//! on QEMU user-mode networking, under TCG.
//!
//! - With a NIC attached, the image brings the device up (`net: virtio-net0 up` at
//!   `log=info`) and the in-kernel `net.selftest` still passes.
//! - A C program listening on a TCP port inside the VM is reached from the host through
//!   `ukport run --plat kvm -p HOST:GUEST` (QEMU `hostfwd` on 127.0.0.1 only): the
//!   request travels host -> QEMU -> virtio rx -> lwIP -> the program, and the answer
//!   back through virtio tx. The answer carries a per-run token, so nothing canned passes.
//!
//! Every VM runs in its own process group, killed by that id on timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use uk_tests::{ensure_setup, exit_code, run_command, text, tools, TempDir};

const TIMEOUT: Duration = Duration::from_secs(120);

/// The TCP echo-once server the VM runs: listens on argv\[1\], answers one request with
/// `ukit-kvm-echo N: <request>`, exits 0.
const ECHO_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) { perror("socket"); return 10; }
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 11; }
    if (listen(s, 4) < 0) { perror("listen"); return 12; }
    printf("listening on %d\n", port); fflush(stdout);
    int c = accept(s, 0, 0);
    if (c < 0) { perror("accept"); return 13; }
    char buf[4096]; size_t n = 0;
    while (n < sizeof buf - 1) {
        ssize_t r = read(c, buf + n, sizeof buf - 1 - n);
        if (r <= 0) break;
        n += r;
        if (memchr(buf, '\n', n)) break;
    }
    char out[4200];
    int m = snprintf(out, sizeof out, "ukit-kvm-echo %zu: %.*s", n, (int)n, buf);
    write(c, out, m);
    close(c);
    close(s);
    printf("served %zu bytes\n", n);
    return 0;
}
"#;

const HELLO_C: &str = "int main(void) { return 0; }\n";

/// `uk-cc --uk-plat=kvm --uk-set=lib.net=true -O2` of `src`.
fn build_net_image(dir: &TempDir, name: &str, src: &str) -> PathBuf {
    ensure_setup();
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let out = dir.join(format!("{name}.kvm"));
    let mut cmd = Command::new(&tools().uk_cc);
    cmd.args(["--uk-plat=kvm", "--uk-set=lib.net=true", "-O2", "-o"])
        .arg(&out)
        .arg(&c);
    let o = run_command(cmd, Duration::from_secs(900));
    assert!(
        o.status.success(),
        "uk-cc failed:\n{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    out
}

/// A TCP port on 127.0.0.1 that is free right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// QEMU directly (ukport has no flag for arbitrary boot options), with the same device
/// arguments `ukport run -p` uses; returns (console, exit status from the debug console).
fn qemu_with_nic(dir: &TempDir, image: &Path, machine: &str, append: &str) -> (String, i32) {
    let dc = dir.join(format!("debugcon-{machine}"));
    let device = if machine == "pc" {
        "virtio-net-pci,netdev=n0,disable-legacy=on"
    } else {
        "virtio-net-device,netdev=n0"
    };
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(["-M", machine, "-accel", "tcg", "-cpu", "max", "-m", "128M"])
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .args(["-serial", "stdio", "-no-reboot"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .arg("-debugcon")
        .arg(format!("file:{}", dc.display()))
        .args(["-netdev", "user,id=n0", "-device", device])
        .arg("-kernel")
        .arg(image)
        .args(["-append", append]);
    let o = run_command(cmd, TIMEOUT);
    let console = text(&o.stdout) + &text(&o.stderr);
    let status = std::fs::read_to_string(&dc)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("ukit-exit-status ")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no exit status on the debug console:\n{console}"));
    (console, status)
}

#[test]
fn virtio_net_comes_up_and_the_selftest_passes_on_microvm_and_pc() {
    let dir = TempDir::new("kvm-net-selftest");
    let image = build_net_image(&dir, "hello", HELLO_C);
    for machine in ["microvm", "pc"] {
        let (console, status) = qemu_with_nic(
            &dir,
            &image,
            machine,
            "log=info ip=10.0.2.15/24 gw=10.0.2.2 net.selftest -- hello",
        );
        let ctx = format!("{machine}:\n{console}");
        assert!(console.contains("net: virtio-net0 up, mac"), "{ctx}");
        assert!(!console.contains("refused to start"), "{ctx}");
        assert!(console.contains("net.selftest: ok"), "{ctx}");
        assert_eq!(status, 0, "{ctx}");
    }
}

/// `ukport run --plat kvm --machine M -p HOST:GUEST IMAGE -- GUEST`, talking to the
/// program once it listens. Returns (answer, console, exit code).
fn echo_through_hostfwd(image: &Path, machine: &str, token: &str) -> (String, String, i32) {
    let (host, guest) = (free_port(), 7000 + (std::process::id() % 1000) as u16);
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["run", "--plat", "kvm", "--machine", machine, "-p"])
        .arg(format!("{host}:{guest}"))
        .arg(image)
        .arg("--")
        .arg(guest.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("start ukport");
    let pgid = child.id();
    let kill = move || {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
    };
    let (tx, rx) = mpsc::channel::<String>();
    let out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    let mut err_pipe = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + TIMEOUT;
    let mut answer = String::new();
    let mut listening = false;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) if l.starts_with("listening on") => {
                listening = true;
                break;
            }
            Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if listening {
        let mut s = TcpStream::connect(("127.0.0.1", host)).expect("connect to the forward");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(format!("{token}\n").as_bytes()).unwrap();
        let _ = s.read_to_string(&mut answer);
    }
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    kill();
    let _ = child.wait();
    let console = reader.join().unwrap_or_default() + &err_reader.join().unwrap_or_default();
    let code = status.map_or(-1, |s| exit_code(&s));
    (answer, console, code)
}

#[test]
fn a_guest_tcp_listener_answers_through_the_host_forward_on_microvm_and_pc() {
    let dir = TempDir::new("kvm-net-echo");
    let image = build_net_image(&dir, "echo", ECHO_C);
    for machine in ["microvm", "pc"] {
        let token = format!("token-{}-{machine}", std::process::id());
        let (answer, console, code) = echo_through_hostfwd(&image, machine, &token);
        let ctx = format!("{machine}: answer {answer:?}\nconsole:\n{console}");
        assert_eq!(
            answer,
            format!("ukit-kvm-echo {}: {token}\n", token.len() + 1),
            "{ctx}"
        );
        assert!(
            console.contains(&format!("served {} bytes", token.len() + 1)),
            "{ctx}"
        );
        assert_eq!(code, 0, "{ctx}");
    }
}
