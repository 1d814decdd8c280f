//! Instances end to end: `ukport run -d`, `ps`, `logs [-f]`, `stop`, `rm` for a linuxu
//! nginx (served over passt while it runs) and kvm images (hello, which ends by itself,
//! and a waiter that stops on SIGTERM through its own handler), plus a program that
//! ignores SIGTERM, which `stop` ends with SIGKILL after its timeout. After `stop` no
//! process of the instance is left, and after `rm` no state. The state lives under a
//! runtime directory this test creates ($XDG_RUNTIME_DIR).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use uk_tests::server::free_port;
use uk_tests::{build_uk, c_source, ensure_setup, run_command, text, tools, TempDir};

const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

struct Ukport {
    runtime: TempDir,
}

impl Ukport {
    fn new(tag: &str) -> Ukport {
        ensure_setup();
        Ukport {
            runtime: TempDir::new(tag),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&tools().ukport);
        c.args(args).env("XDG_RUNTIME_DIR", self.runtime.path());
        c
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        run_command(self.cmd(args), BUILD_TIMEOUT)
    }

    fn ok(&self, args: &[&str]) -> String {
        uk_tests::stdout_ok(&self.run(args), &format!("ukport {args:?}"))
    }

    fn state_dir(&self, name: &str) -> PathBuf {
        self.runtime.join("ukit/instances").join(name)
    }

    /// `ukport ps --json`'s entry for `name`.
    fn ps(&self, name: &str) -> Option<String> {
        let all = self.ok(&["ps", "--json"]);
        // One object per instance; find ours by its name line.
        all.split("\n  },")
            .find(|o| o.contains(&format!("\"name\": \"{name}\"")))
            .map(str::to_string)
    }

    fn wait_status(&self, name: &str, want: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let e = self.ps(name).unwrap_or_default();
            if e.contains(&format!("\"status\": \"{want}\"")) {
                return e;
            }
            assert!(
                start.elapsed() < timeout,
                "{name} never became {want}: {e}\nlog:\n{}",
                self.logs(name)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn logs(&self, name: &str) -> String {
        text(&self.run(&["logs", name]).stdout)
    }

    fn pid(&self, name: &str) -> u32 {
        let e = self.ps(name).unwrap();
        let p = e.split("\"pid\": ").nth(1).unwrap();
        p[..p.find(',').unwrap()].parse().unwrap()
    }

    /// After `stop` and `rm`: nothing in the instance's process group, no state.
    fn assert_gone(&self, name: &str, pgid: u32) {
        let left = group_members(pgid);
        assert!(left.is_empty(), "{name}: processes left: {left:?}");
        assert!(!self.state_dir(name).exists(), "{name}: state left");
        assert!(self.ps(name).is_none());
    }
}

impl Drop for Ukport {
    /// A test that failed half-way leaves no instance running: every one under this
    /// test's runtime directory is stopped and removed (`rm -f`), by ukport itself.
    fn drop(&mut self) {
        let Ok(rd) = std::fs::read_dir(self.runtime.join("ukit/instances")) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let _ = run_command(self.cmd(&["rm", "-f", "-t", "2", &name]), BUILD_TIMEOUT);
        }
    }
}

/// Processes whose process group is `pgid` (the supervisor's, which is every process
/// of the instance but passt).
fn group_members(pgid: u32) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            (f.get(2)? == &pgid.to_string() && f[0] != "Z").then(|| format!("{pid} {stat}"))
        })
        .collect()
}

fn field(entry: &str, key: &str) -> String {
    let v = entry
        .split(&format!("\"{key}\": "))
        .nth(1)
        .unwrap_or_else(|| panic!("no {key} in {entry}"));
    v[..v.find([',', '\n']).unwrap_or(v.len())]
        .trim_matches('"')
        .to_string()
}

fn http_get(port: u16) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut r = String::new();
    s.read_to_string(&mut r)?;
    Ok(r)
}

#[test]
fn linuxu_nginx_in_the_background() {
    let u = Ukport::new("inst-nginx");
    let port = free_port();
    let spec = format!("{port}:80");
    let out = u.ok(&["run", "-d", "--name", "web", "nginx", "-p", &spec]);
    assert_eq!(out, "web\n");
    let e = u.wait_status("web", "running", Duration::from_secs(60));
    assert_eq!(field(&e, "platform"), "linuxu");
    assert!(field(&e, "image").ends_with("images/nginx.linuxu"), "{e}");
    assert!(e.contains(&format!("\"{spec}\"")), "ports: {e}");

    // It serves while it runs in the background.
    let start = Instant::now();
    let page = loop {
        match http_get(port) {
            Ok(r) if r.starts_with("HTTP/1.1 200") => break r,
            _ if start.elapsed() > Duration::from_secs(60) => {
                panic!("nginx did not answer:\n{}", u.logs("web"))
            }
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    assert!(page.contains("Server: nginx/1.22.1"), "{page}");
    let e = u.ps("web").unwrap();
    let mem: u64 = field(&e, "memory_bytes").parse().unwrap();
    assert!(mem > 256 * 1024, "the image's resident memory: {mem}");
    let table = u.ok(&["ps"]);
    let row = table.lines().find(|l| l.starts_with("web ")).unwrap();
    for col in ["nginx.linuxu", "linuxu", &spec, "running", "MiB"] {
        assert!(row.contains(col), "{col} not in: {row}");
    }

    // logs -f follows until the instance stops.
    let mut follow = u.cmd(&["logs", "-f", "web"]);
    follow.stdout(std::process::Stdio::piped());
    let follower = follow.spawn().unwrap();
    let pgid = u.pid("web");
    let stopped = u.ok(&["stop", "web"]);
    assert_eq!(stopped, "web: exited (0)\n");
    let followed = follower.wait_with_output().unwrap();
    let followed = text(&followed.stdout);
    assert!(followed.contains("nginx/1.22.1"), "{followed}");
    assert!(
        followed.contains("signal 15 (SIGTERM) received, exiting"),
        "{followed}"
    );
    assert!(group_members(pgid).is_empty(), "{:?}", group_members(pgid));
    assert!(
        http_get(port).is_err(),
        "the port is closed once it stopped"
    );
    // Stopped, its record stays (status, logs) until rm.
    let e = u.ps("web").unwrap();
    assert_eq!(field(&e, "status"), "exited (0)");
    assert_eq!(field(&e, "memory_bytes"), "null");
    assert!(u.logs("web").contains("exit"));
    let e = u.run(&["run", "-d", "--name", "web", "nginx", "-p", &spec]);
    assert!(!e.status.success() && text(&e.stderr).contains("ukport rm web"));
    u.ok(&["rm", "web"]);
    u.assert_gone("web", pgid);
    let e = u.run(&["logs", "web"]);
    assert!(text(&e.stderr).contains("no instance `web`"));
}

#[test]
fn kvm_hello_and_waiter_in_the_background() {
    let u = Ukport::new("inst-kvm");
    // hello ends by itself; its record says how, and its log has its line.
    assert_eq!(u.ok(&["run", "-d", "--plat", "kvm", "hello"]), "hello\n");
    // A second one gets a numbered name.
    assert_eq!(u.ok(&["run", "-d", "--plat", "kvm", "hello"]), "hello-2\n");
    for name in ["hello", "hello-2"] {
        let e = u.wait_status(name, "exited (0)", Duration::from_secs(120));
        assert_eq!(field(&e, "platform"), "kvm");
        assert!(field(&e, "image").ends_with("images/hello.kvm"));
        assert!(
            u.logs(name).contains("Hello from ukit!"),
            "{}",
            u.logs(name)
        );
        assert_eq!(u.ok(&["stop", name]), format!("{name}: exited (0)\n"));
        let pgid = u.pid(name);
        u.ok(&["rm", name]);
        u.assert_gone(name, pgid);
    }

    // A waiter runs until stopped: SIGTERM reaches its handler inside the VM.
    let dir = TempDir::new("inst-waiter");
    let image = dir.join("waiter.kvm");
    let mut cc = Command::new(&tools().uk_cc);
    cc.args(["--uk-plat=kvm", "-O2", "-o"])
        .arg(&image)
        .arg(uk_tests::repo_root().join("tests/kvm/waiter.c"));
    let out = run_command(cc, BUILD_TIMEOUT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let img = image.to_str().unwrap();
    u.ok(&[
        "run", "-d", "--plat", "kvm", "--name", "w", img, "--", "handler",
    ]);
    let start = Instant::now();
    while !u.logs("w").contains("ready") {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no ready:\n{}",
            u.logs("w")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let e = u.ps("w").unwrap();
    assert_eq!(field(&e, "status"), "running");
    let mem: u64 = field(&e, "memory_bytes").parse().unwrap();
    assert!(mem > 1 << 20, "QEMU's resident memory: {mem}");
    let pgid = u.pid("w");
    assert!(!group_members(pgid).is_empty());
    assert_eq!(u.ok(&["stop", "w"]), "w: exited (7)\n");
    assert!(
        u.logs("w").contains("stopping on SIGTERM"),
        "{}",
        u.logs("w")
    );
    assert!(group_members(pgid).is_empty(), "{:?}", group_members(pgid));
    u.ok(&["rm", "w"]);
    u.assert_gone("w", pgid);
}

/// A program that ignores SIGTERM is killed after the timeout, with everything in its
/// group; `rm -f` stops and removes a running one in one go.
#[test]
fn stop_kills_after_the_timeout() {
    let u = Ukport::new("inst-kill");
    let dir = TempDir::new("inst-kill-build");
    let image = dir.join("ignore_term");
    build_uk(&c_source("ignore_term.c"), &image);
    let img = image.to_str().unwrap();
    u.ok(&["run", "-d", "--name", "stubborn", img]);
    let start = Instant::now();
    while !u.logs("stubborn").contains("ignoring SIGTERM") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{}",
            u.logs("stubborn")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pgid = u.pid("stubborn");
    let t = Instant::now();
    assert_eq!(
        u.ok(&["stop", "-t", "1", "stubborn"]),
        "stubborn: exited (137)\n"
    );
    let took = t.elapsed();
    assert!(
        took >= Duration::from_secs(1),
        "SIGKILL came before the timeout: {took:?}"
    );
    assert!(group_members(pgid).is_empty(), "{:?}", group_members(pgid));
    u.ok(&["rm", "stubborn"]);
    u.assert_gone("stubborn", pgid);

    u.ok(&["run", "-d", "--name", "again", img]);
    u.wait_status("again", "running", Duration::from_secs(30));
    let pgid = u.pid("again");
    let e = u.run(&["rm", "again"]);
    assert!(!e.status.success() && text(&e.stderr).contains("is running"));
    u.ok(&["rm", "-f", "again"]);
    u.assert_gone("again", pgid);
    assert!(Path::new(&u.runtime.join("ukit/instances"))
        .read_dir()
        .unwrap()
        .next()
        .is_none());
}
