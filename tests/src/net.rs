//! Network plumbing for the tests that load a server image (tests/tests/net_*.rs,
//! redis.rs): a network namespace with a tap device that the test creates and deletes
//! (so traffic never leaves the machine's own namespaces), the native client tool
//! `tests/c/netload.c`, and what /proc says about a process (CPU time, children,
//! whether it still exists).
//!
//! Creating namespaces and tap devices needs root (CI runs as root): without it the
//! helpers panic saying so, as a missing tool does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{repo_root, require_tool, run_command, text};

/// A network namespace holding a tap device: the host side of the tap is
/// `10.<net>.1/24` inside the namespace, the image gets `10.<net>.2`. Deleted (with
/// its devices) on drop.
pub struct Netns {
    pub name: String,
    pub tap: String,
    /// The host side's address on the tap (`10.x.y.1`).
    pub host_ip: String,
    /// The address the image takes on the tap (`10.x.y.2`).
    pub guest_ip: String,
}

fn ip(args: &[&str]) {
    let out = run_command(
        {
            let mut c = Command::new(require_tool("ip"));
            c.args(args);
            c
        },
        Duration::from_secs(20),
    );
    assert!(
        out.status.success(),
        "ip {}: {}{}",
        args.join(" "),
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// True when this process may create namespaces and tap devices.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

impl Netns {
    /// A fresh namespace `ukt-<pid>-<n>` with loopback up and tap `ukt<pid%..><n>`.
    pub fn with_tap() -> Netns {
        assert!(
            is_root(),
            "network namespace and tap tests need root (CI runs as root)"
        );
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let name = format!("ukt-{pid}-{n}");
        let tap = format!("ukt{}t{n}", pid % 100_000);
        // 10.(100 + pid % 100).(n % 250).0/24: distinct per test in this process.
        let net = format!("10.{}.{}", 100 + pid % 100, n % 250);
        ip(&["netns", "add", &name]);
        let ns = Netns {
            host_ip: format!("{net}.1"),
            guest_ip: format!("{net}.2"),
            name,
            tap,
        };
        ns.ip(&["link", "set", "lo", "up"]);
        ns.ip(&["tuntap", "add", "dev", &ns.tap, "mode", "tap"]);
        ns.ip(&["addr", "add", &format!("{}/24", ns.host_ip), "dev", &ns.tap]);
        ns.ip(&["link", "set", &ns.tap, "up"]);
        ns
    }

    /// `ip ARGS` inside the namespace.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["netns", "exec", &self.name, "ip"];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// `prog` run inside the namespace (`ip netns exec`); `ip` execs it, so the child's
    /// PID is the program's.
    pub fn command(&self, prog: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(require_tool("ip"));
        c.args(["netns", "exec", &self.name]).arg(prog);
        c
    }

    /// `ukport run TARGET --net tap:TAP --ip GUEST/24` inside the namespace (the caller
    /// adds the rest: `--root`, `-- ARGS`).
    pub fn ukport_run(&self, target: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = self.command(&crate::tools().ukport);
        c.arg("run")
            .arg(target)
            .args(["--net", &format!("tap:{}", self.tap), "--ip"])
            .arg(format!("{}/24", self.guest_ip));
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// The native client `tests/c/netload.c` (built once per test binary with musl-gcc into
/// the cargo target folder).
pub fn netload() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| native_helper("netload"))
}

/// `tests/c/<name>.c` built natively (musl-gcc -static -O2) into the target folder,
/// rebuilt when the source is newer.
pub fn native_helper(name: &str) -> PathBuf {
    let src = repo_root().join("tests/c").join(format!("{name}.c"));
    let dir = crate::target_dir().join("uk-tests-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(name);
    let newer = |a: &Path, b: &Path| {
        let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        m(a) > m(b)
    };
    if !out.exists() || newer(&src, &out) {
        // Per-process temporary name, then rename: parallel test binaries never see a
        // half-written helper.
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        crate::build_native(&src, &tmp);
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

/// Runs `cmd` (a client), bounded by `timeout`, and returns its stdout; panics with its
/// output when it fails.
pub fn client(cmd: Command, timeout: Duration) -> String {
    let shown = format!("{cmd:?}");
    let out: Output = run_command(cmd, timeout);
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The numbers after each `key` in a line like `connclose 10 ok 10 timeouts 0`.
pub fn field(line: &str, key: &str) -> Option<u64> {
    let mut w = line.split_whitespace();
    while let Some(k) = w.next() {
        if k == key {
            return w.next()?.parse().ok();
        }
    }
    None
}

/// CPU time (user + system, in clock ticks of 10 ms) a live process has used.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // state is field 3, utime 14, stime 15 (1-based over the whole line).
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The share of one CPU (percent) each of `pids` uses over `window`.
pub fn cpu_percent(pids: &[u32], window: Duration) -> Vec<f64> {
    let before: Vec<Option<u64>> = pids.iter().map(|&p| cpu_ticks(p)).collect();
    let t = Instant::now();
    std::thread::sleep(window);
    let secs = t.elapsed().as_secs_f64();
    pids.iter()
        .zip(before)
        .map(|(&p, b)| match (b, cpu_ticks(p)) {
            // USER_HZ is 100 on Linux: one tick is 10 ms.
            (Some(b), Some(a)) => (a.saturating_sub(b)) as f64 / 100.0 / secs * 100.0,
            _ => f64::NAN,
        })
        .collect()
}

/// The children of `pid` (every thread's), from /proc.
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
            }
        }
    }
    out
}

/// The file name of a process's executable (`passt.avx2`, `nginx.linuxu`).
pub fn exe_name(pid: u32) -> String {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rfind(')')
            .and_then(|i| s[i + 2..].chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// Waits up to `timeout` for every one of `pids` to be gone; returns those still alive.
pub fn wait_gone(pids: &[u32], timeout: Duration) -> Vec<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The nginx recipe's root file system (recipes/nginx.toml `[rootfs]`) under `root`,
/// plus /tmp; with `worker_connections`, nginx.conf asks for that many connections
/// instead of the recipe's.
pub fn nginx_rootfs(root: &Path, worker_connections: Option<u32>) {
    let src = repo_root().join("recipes").join("nginx");
    for (guest, file) in [
        ("etc/nginx/nginx.conf", "nginx.conf"),
        ("etc/nginx/mime.types", "mime.types"),
        ("etc/nginx/conf.d/regex.conf", "regex.conf"),
        ("etc/passwd", "passwd"),
        ("etc/group", "group"),
        ("html/index.html", "index.html"),
        ("html/hello.txt", "hello.txt"),
    ] {
        let to = root.join(guest);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src.join(file), &to)
            .unwrap_or_else(|e| panic!("copy {file} into the rootfs: {e}"));
    }
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    if let Some(n) = worker_connections {
        let conf = root.join("etc/nginx/nginx.conf");
        let text = std::fs::read_to_string(&conf).unwrap();
        let changed = text.replace(
            "worker_connections 1024;",
            &format!("worker_connections {n};"),
        );
        assert_ne!(
            text, changed,
            "recipes/nginx/nginx.conf no longer says worker_connections 1024"
        );
        std::fs::write(conf, changed).unwrap();
    }
}
