//! Helpers for ukit's integration tests: find (or build) the host tools, build a C program
//! twice (with `uk-cc` and with `musl-gcc -static`), and run programs with a time limit.
//!
//! The acceptance tests compare a ukit image against the same program linked natively
//! against musl: both use the same libc code, so any difference in output comes from the
//! kernel underneath. That is why the helpers only spawn processes and hand back their
//! output; the tests decide what must match.

pub mod net;
pub mod server;
pub mod suite;
pub mod tls;

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long any one program may run before it is killed. Generous: an image boots in
/// milliseconds, but CI machines are slow and a few tests sleep on purpose.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// `ukport setup` builds musl from source the first time, which takes minutes.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(900);

/// The cache `ukport` and `uk-cc` use: `$UKIT_CACHE`, else `$XDG_CACHE_HOME/ukit`, else
/// `~/.cache/ukit` (the toolchain's `paths::cache_dir` rule).
pub fn ukit_cache() -> PathBuf {
    if let Some(p) = std::env::var_os("UKIT_CACHE") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(p).join("ukit");
    }
    PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
        .join(".cache")
        .join("ukit")
}

/// The ukit repository root (the parent of this crate's folder).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A C program of the test suite: `tests/c/<name>`.
pub fn c_source(name: &str) -> PathBuf {
    repo_root().join("tests").join("c").join(name)
}

/// The host tools under test.
#[derive(Debug, Clone)]
pub struct Tools {
    /// The drop-in C compiler.
    pub uk_cc: PathBuf,
    /// The recipe tool.
    pub ukport: PathBuf,
}

/// The cargo target folder that holds this test binary, so that the tools are built
/// next to it and reused by every test binary of the run (not rebuilt from scratch).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // <target>/<profile>/deps/<test binary>
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.ancestors().nth(3) {
            if exe.parent().and_then(Path::file_name) == Some(OsStr::new("deps")) {
                return dir.to_path_buf();
            }
        }
    }
    repo_root().join("target")
}

/// The tools under test: `$UK_CC` / `$UKPORT` when set, else built once per test binary
/// with `cargo build -p uk-toolchain --bins` into the current target folder.
pub fn tools() -> &'static Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let from_env = |var: &str| std::env::var_os(var).map(PathBuf::from);
        let (uk_cc, ukport) = (from_env("UK_CC"), from_env("UKPORT"));
        if let (Some(uk_cc), Some(ukport)) = (&uk_cc, &ukport) {
            return Tools {
                uk_cc: uk_cc.clone(),
                ukport: ukport.clone(),
            };
        }
        let target = target_dir();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(repo_root())
            .args([
                "build",
                "--quiet",
                "-p",
                "uk-toolchain",
                "--bins",
                "--target-dir",
            ])
            .arg(&target);
        let out = run_command(cmd, Duration::from_secs(600));
        assert!(
            out.status.success(),
            "building the host tools failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = target.join("debug");
        Tools {
            uk_cc: uk_cc.unwrap_or_else(|| bin.join("uk-cc")),
            ukport: ukport.unwrap_or_else(|| bin.join("ukport")),
        }
    })
}

/// Runs `ukport setup` (builds the musl port into the cache) once per test binary.
/// `setup` is idempotent, so calling it from every test binary costs one quick check.
pub fn ensure_setup() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let mut cmd = Command::new(&tools().ukport);
        cmd.arg("setup");
        stdout_ok(&run_command(cmd, SETUP_TIMEOUT), "`ukport setup`");
    });
}

/// `ukport build APP` once per test binary (tests of one binary run in parallel and must
/// not relink the same image at the same time); how long the build took. A cold build
/// (fetch, the app's own build system, the kernel) on a busy machine may take 25 minutes.
pub fn ukport_build_once(app: &str) -> Duration {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    static BUILT: Mutex<BTreeMap<String, Duration>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = built.get(app) {
        return *t;
    }
    ensure_setup();
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["build", app]);
    let t = Instant::now();
    expect_success(
        &format!("ukport build {app}"),
        run_command(cmd, Duration::from_secs(1500)),
    );
    built.insert(app.to_string(), t.elapsed());
    t.elapsed()
}

/// Compiles and links `c_file` into the linuxu image `out` with `uk-cc -O2`; panics with
/// the compiler's messages on failure.
pub fn build_uk(c_file: &Path, out: &Path) {
    build_uk_with(c_file, out, &[]);
}

/// [`build_uk`] with extra uk-cc options first (e.g. `--uk-set=lib.net=true`).
pub fn build_uk_with(c_file: &Path, out: &Path, opts: &[&str]) {
    ensure_setup();
    let mut cmd = Command::new(&tools().uk_cc);
    cmd.args(opts).arg("-O2").arg("-o").arg(out).arg(c_file);
    expect_success("uk-cc", run_command(cmd, Duration::from_secs(300)));
}

/// Compiles and links `c_file` into a static native program with `musl-gcc -static -O2`:
/// the same libc as the image, without ukit underneath.
pub fn build_native(c_file: &Path, out: &Path) {
    let mut cmd = Command::new(require_tool("musl-gcc"));
    cmd.args(["-static", "-O2", "-o"]).arg(out).arg(c_file);
    expect_success("musl-gcc", run_command(cmd, Duration::from_secs(120)));
}

/// The stdout of a command that must have succeeded; panics with its status, stdout and
/// stderr otherwise.
pub fn stdout_ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text(&out.stdout)
}

fn expect_success(what: &str, out: Output) {
    stdout_ok(&out, what);
}

/// Runs `path args...` with `env` added to the inherited environment, killed after
/// [`DEFAULT_TIMEOUT`].
pub fn run(path: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(path);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_command(cmd, DEFAULT_TIMEOUT)
}

/// Runs `cmd` with stdin closed and stdout/stderr captured. On timeout the whole process
/// group the command was started in (its own) is killed by id and the test panics, so
/// a hung image never hangs the suite.
pub fn run_command(mut cmd: Command, timeout: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = reader(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = reader(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                kill_group(child.id());
                let _ = child.wait();
                let out = stdout.join().unwrap_or_default();
                let err = stderr.join().unwrap_or_default();
                panic!(
                    "{shown} did not finish within {timeout:?} and was killed\nstdout:\n{}\nstderr:\n{}",
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&err)
                );
            }
            Err(e) => panic!("waiting for {shown}: {e}"),
        }
    };
    // The group may still hold the pipes open (a forked helper); do not wait forever.
    kill_group(child.id());
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Sends SIGKILL to the process group `pgid` (a group this crate created for one child).
fn kill_group(pgid: u32) {
    // `kill` the command keeps this crate free of unsafe FFI; "-- -PGID" names the group.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// The exit code of a finished program, or a panic that names the signal that killed it.
pub fn exit_code(status: &ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => panic!("program was killed by signal {sig}"),
        _ => panic!("program ended in an unknown way: {status:?}"),
    }
}

/// The path of `name` found on `$PATH`; panics saying what to install when it is absent
/// (CI installs every tool the tests use, so a missing one is a failure, not a skip).
pub fn require_tool(name: &str) -> PathBuf {
    find_on_path(name).unwrap_or_else(|| {
        panic!(
            "`{name}` is not on PATH; install it (see .ci/prerequisites; `.ci/prereqs --install`)"
        )
    })
}

/// The path of `name` found on `$PATH`, if any.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A fresh folder under the system temp dir, removed (with its contents) on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `<tmp>/uk-tests-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("uk-tests-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        TempDir(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside the folder.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("UK_TESTS_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Lossy UTF-8 of captured output, for messages and comparisons.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One `syscall`-like instruction found in a disassembly: the function holding it and the
/// instruction's address and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrapSite {
    /// The symbol of the enclosing function (`<name>:` header), or "" before any header.
    pub function: String,
    /// The address as objdump prints it (hex, no 0x).
    pub address: String,
    /// The instruction (`syscall`, `sysenter`, `int $0x80`).
    pub instruction: String,
}

/// Every instruction that enters the host kernel (`syscall`, `sysenter`, `int $0x80`) in
/// the output of `objdump -d --no-show-raw-insn`, with its enclosing function.
pub fn trap_sites(objdump: &str) -> Vec<TrapSite> {
    let mut function = String::new();
    let mut sites = Vec::new();
    for line in objdump.lines() {
        // Function header: "0000000000401000 <name>:"
        if let Some(rest) = line.strip_suffix(">:") {
            if let Some((addr, name)) = rest.split_once(" <") {
                if !addr.is_empty() && addr.chars().all(|c| c.is_ascii_hexdigit()) {
                    function = name.to_string();
                    continue;
                }
            }
        }
        // Instruction: "  401373:\tsyscall"
        let Some((addr, insn)) = line.split_once(":\t") else {
            continue;
        };
        let addr = addr.trim();
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        let insn = insn.split('#').next().unwrap_or("").trim();
        let mut words = insn.split_whitespace();
        let mnemonic = words.next().unwrap_or("");
        let is_trap = match mnemonic {
            "syscall" | "sysenter" => true,
            "int" => words.next() == Some("$0x80"),
            _ => false,
        };
        if is_trap {
            sites.push(TrapSite {
                function: function.clone(),
                address: addr.to_string(),
                instruction: insn.split_whitespace().collect::<Vec<_>>().join(" "),
            });
        }
    }
    sites
}

/// What `strace -f -qq -o FILE` recorded: system call names in order, and signal lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StraceLog {
    /// Names of the system calls made, in order (an unknown number shows as
    /// `syscall_0x3e7`, as strace prints it).
    pub calls: Vec<String>,
    /// `--- SIGxxx ... ---` and `+++ killed by ... +++` lines.
    pub signals: Vec<String>,
}

/// Parses an strace log written with `-f -o FILE` (each line starts with a pid).
pub fn parse_strace(log: &str) -> StraceLog {
    let mut out = StraceLog::default();
    for line in log.lines() {
        let line = line.trim();
        // Drop the leading pid (present with -f), if any.
        let body = match line.split_once(' ') {
            Some((pid, rest)) if pid.chars().all(|c| c.is_ascii_digit()) => rest.trim_start(),
            _ => line,
        };
        if body.starts_with("---") || body.starts_with("+++") {
            out.signals.push(body.to_string());
            continue;
        }
        // "<... read resumed>" continues a call already counted.
        if body.starts_with("<...") || body.is_empty() {
            continue;
        }
        if let Some((name, _)) = body.split_once('(') {
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                out.calls.push(name.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_captures_output_and_status() {
        let out = run(
            Path::new("/bin/sh"),
            &["-c", "echo out; echo err >&2; echo $UK_X; exit 7"],
            &[("UK_X", "val")],
        );
        assert_eq!(text(&out.stdout), "out\nval\n");
        assert_eq!(text(&out.stderr), "err\n");
        assert_eq!(exit_code(&out.status), 7);
    }

    #[test]
    #[should_panic(expected = "did not finish")]
    fn run_kills_on_timeout() {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "sleep 30"]);
        run_command(cmd, Duration::from_millis(200));
    }

    #[test]
    fn temp_dir_is_removed_on_drop() {
        let t = TempDir::new("self");
        let p = t.path().to_path_buf();
        std::fs::write(t.join("f"), b"x").unwrap();
        assert!(p.is_dir());
        drop(t);
        assert!(!p.exists() || std::env::var_os("UK_TESTS_KEEP").is_some());
    }

    #[test]
    fn trap_sites_finds_syscalls_with_their_function() {
        let dump = "\
0000000000401000 <uk_linuxu_host_syscall3>:
  401000:\tmov    %rdi,%rax
  401003:\tsyscall
  401005:\tret

0000000000401010 <memcpy>:
  401010:\tint    $0x80
  401012:\tint    $0x3
  401014:\tcall   401000 <uk_linuxu_host_syscall3>
  401019:\tsysenter
";
        let sites = trap_sites(dump);
        let got: Vec<(&str, &str, &str)> = sites
            .iter()
            .map(|s| {
                (
                    s.function.as_str(),
                    s.address.as_str(),
                    s.instruction.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("uk_linuxu_host_syscall3", "401003", "syscall"),
                ("memcpy", "401010", "int $0x80"),
                ("memcpy", "401019", "sysenter"),
            ]
        );
    }

    #[test]
    fn parse_strace_reads_names_and_signals() {
        let log = "\
100 execve(\"./x\", [\"./x\"], 0x7ffd /* 3 vars */) = 0
100 mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f00
100 ppoll([{fd=0, events=POLLIN}], 1, NULL, NULL, 8 <unfinished ...>
101 write(2, \"x\", 1) = 1
100 <... ppoll resumed>) = 1
100 syscall_0x3e7(0x1) = -1 ENOSYS (Function not implemented)
100 --- SIGSYS {si_signo=SIGSYS} ---
100 +++ killed by SIGSYS +++
";
        let p = parse_strace(log);
        assert_eq!(
            p.calls,
            ["execve", "mmap", "ppoll", "write", "syscall_0x3e7"]
        );
        assert_eq!(p.signals.len(), 2);
        assert!(p.signals[0].starts_with("--- SIGSYS"));
    }
}
