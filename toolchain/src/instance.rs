//! Instances: images started in the background (`ukport run -d`) and found again
//! (`ukport ps`, `logs`, `stop`, `rm`).
//!
//! Each instance is a folder under the user's runtime directory
//! (`$XDG_RUNTIME_DIR/ukit/instances/NAME`, else `/tmp/ukit-UID/instances/NAME`): its
//! `state.json`, its `log` (console and ukport's messages) and, once it has ended, its
//! `exit` status. A small supervisor (`ukport` itself, in a session of its own) starts
//! the ordinary `ukport run` as its child, passes SIGTERM/SIGINT/SIGHUP on, and writes
//! the exit status when the child ends, so an instance that stopped by itself still says
//! how. Its process group holds everything the instance runs (ukport, the image or
//! QEMU); passt has a group of its own and quits when the image's connection ends.
//! `ukport rm` removes the folder; nothing of an instance outlives it.

use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// The folder all instances live in.
pub fn root() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join("ukit").join("instances"),
        None => std::env::temp_dir()
            .join(format!("ukit-{}", nix::unistd::getuid()))
            .join("instances"),
    }
}

/// What `ukport run -d` recorded about an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub name: String,
    /// The recipe or image file given to `ukport run`.
    pub target: String,
    /// The image file that runs.
    pub image: PathBuf,
    pub platform: String,
    /// Port forwards, as `-p` writes them.
    pub ports: Vec<String>,
    /// Seconds since the epoch.
    pub started: u64,
    /// The supervisor's process id, which is also the instance's process group.
    pub pid: u32,
    /// The supervisor's start time in clock ticks since boot (/proc/PID/stat field 22):
    /// a process with the same id and another start time is not ours.
    pub pid_start: u64,
}

/// Whether an instance runs, or how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Running,
    /// Exit status (shell-style: 128 + signal for a signal).
    Exited(i32),
    /// The supervisor is gone without a word (killed, or the machine restarted).
    Gone,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Running => f.write_str("running"),
            Status::Exited(c) => write!(f, "exited ({c})"),
            Status::Gone => f.write_str("gone"),
        }
    }
}

/// One instance as `ukport ps` shows it.
#[derive(Debug, Clone)]
pub struct Instance {
    pub dir: PathBuf,
    pub state: State,
    pub status: Status,
    /// Resident memory of the image (or QEMU), bytes; while it runs.
    pub memory: Option<u64>,
}

impl Instance {
    pub fn log(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// Seconds it has run: until now, or until it ended (when its exit was written).
    pub fn uptime(&self) -> u64 {
        let ended = match self.status {
            Status::Running => None,
            _ => fs::metadata(self.dir.join("exit"))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs()),
        };
        ended.unwrap_or_else(now).saturating_sub(self.state.started)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.state.name,
            "image": self.state.image,
            "target": self.state.target,
            "platform": self.state.platform,
            "ports": self.state.ports,
            "status": self.status.to_string(),
            "running": self.status == Status::Running,
            "exit_code": match self.status { Status::Exited(c) => Some(c), _ => None },
            "pid": self.state.pid,
            "started": self.state.started,
            "uptime_seconds": self.uptime(),
            "memory_bytes": self.memory,
            "log": self.log(),
        })
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Fields of /proc/PID/stat after the command name (field 3 onwards).
fn proc_stat(pid: u32) -> Option<Vec<String>> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// A process's start time in clock ticks since boot.
pub fn start_time(pid: u32) -> Option<u64> {
    proc_stat(pid)?.get(19)?.parse().ok()
}

/// True while process `pid` is the one that started at `start` (and not a zombie).
fn alive(pid: u32, start: u64) -> bool {
    match proc_stat(pid) {
        Some(f) => {
            f.first().map(String::as_str) != Some("Z") && f.get(19) == Some(&start.to_string())
        }
        None => false,
    }
}

/// Every process in process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            proc_stat(pid)
                .and_then(|f| f.get(2)?.parse::<u32>().ok())
                .is_some_and(|g| g == pgid)
        })
        .collect()
}

/// Resident memory of the instance's image or QEMU: its process group without the
/// ukport processes that watch it.
fn memory(pgid: u32) -> Option<u64> {
    let me = std::env::current_exe()
        .ok()
        .and_then(|p| fs::canonicalize(p).ok());
    let mut total = 0;
    let mut any = false;
    for pid in group_members(pgid) {
        let exe = fs::read_link(format!("/proc/{pid}/exe")).ok();
        let is_ukport = exe.as_ref().is_some_and(|e| {
            Some(e) == me.as_ref() || e.file_name().is_some_and(|n| n == "ukport")
        });
        if is_ukport {
            continue;
        }
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        {
            total += kb * 1024;
            any = true;
        }
    }
    any.then_some(total)
}

/// Reads the instance in `dir`.
pub fn read(dir: &Path) -> Result<Instance> {
    let text = fs::read_to_string(dir.join("state.json"))
        .with_context(|| format!("cannot read {}", dir.join("state.json").display()))?;
    let state: State = serde_json::from_str(&text)
        .with_context(|| format!("{} is damaged", dir.join("state.json").display()))?;
    let exit = fs::read_to_string(dir.join("exit"))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    let status = if alive(state.pid, state.pid_start) {
        Status::Running
    } else {
        match exit {
            Some(c) => Status::Exited(c),
            None => Status::Gone,
        }
    };
    let memory = (status == Status::Running)
        .then(|| memory(state.pid))
        .flatten();
    Ok(Instance {
        dir: dir.to_path_buf(),
        state,
        status,
        memory,
    })
}

/// Every instance, by name. A folder that is not an instance (half-written by a start
/// that failed) is skipped.
pub fn list() -> Vec<Instance> {
    let mut v: Vec<Instance> = fs::read_dir(root())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| read(&e.path()).ok())
        .collect();
    v.sort_by(|a, b| a.state.name.cmp(&b.state.name));
    v
}

/// The instance called `name`.
pub fn find(name: &str) -> Result<Instance> {
    let dir = root().join(name);
    if !dir.join("state.json").is_file() {
        let names: Vec<String> = list().into_iter().map(|i| i.state.name).collect();
        bail!(
            "no instance `{name}` (instances: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    }
    read(&dir)
}

/// A name for a new instance: `wanted` if free, else `wanted-2`, `-3`, ...
pub fn free_name(wanted: &str) -> String {
    let taken = |n: &str| root().join(n).exists();
    if !taken(wanted) {
        return wanted.to_string();
    }
    (2..)
        .map(|i| format!("{wanted}-{i}"))
        .find(|n| !taken(n))
        .expect("an unbounded range has a free name")
}

/// Checks an instance name (it names a folder).
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with('.');
    if !ok {
        bail!("instance name `{name}`: use letters, digits, `-`, `_`, `.` (at most 64)");
    }
    Ok(())
}

/// Starts `ukport run RUN_ARGS` in the background as instance `name`: a supervisor in
/// its own session with stdin on /dev/null and output in the instance's log. Returns
/// once the supervisor runs.
pub fn start(
    name: &str,
    target: &str,
    image: &Path,
    platform: &str,
    ports: Vec<String>,
    run_args: &[String],
) -> Result<Instance> {
    check_name(name)?;
    let dir = root().join(name);
    if dir.exists() {
        bail!(
            "an instance `{name}` exists ({}); `ukport rm {name}` first, or choose --name",
            read(&dir)
                .map(|i| i.status.to_string())
                .unwrap_or_else(|_| "unreadable".into())
        );
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let log = fs::File::create(dir.join("log"))?;
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("__supervise-instance")
        .arg(&dir)
        .arg("--")
        .args(run_args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: runs in the child between fork and exec and only makes the
    // async-signal-safe setsid system call.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    let child = cmd
        .spawn()
        .context("cannot start the instance's supervisor")?;
    let pid = child.id();
    // The supervisor outlives this process; it is not waited for here.
    drop(child);
    let pid_start = start_time(pid).ok_or_else(|| anyhow!("the supervisor {pid} vanished"))?;
    let state = State {
        name: name.to_string(),
        target: target.to_string(),
        image: image.to_path_buf(),
        platform: platform.to_string(),
        ports,
        started: now(),
        pid,
        pid_start,
    };
    let tmp = dir.join("state.json.tmp");
    fs::write(&tmp, serde_json::to_string_pretty(&state)? + "\n")?;
    fs::rename(&tmp, dir.join("state.json"))?;
    read(&dir)
}

/// The supervisor (`ukport __supervise-instance DIR -- RUN_ARGS`): runs `ukport run
/// RUN_ARGS` as its child, passes signals on, and writes the child's exit status into
/// DIR/exit. Returns that status.
pub fn supervise(dir: &Path, run_args: &[String]) -> Result<i32> {
    use crate::run::supervise as sv;
    sv::catch_signals()?;
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("run")
        .args(run_args)
        .stdin(Stdio::null())
        .spawn()
        .context("cannot start ukport run")?;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        let sig = sv::take_pending_signal();
        if sig != 0 {
            sv::send_signal(child.id(), sig);
        }
        sv::forward_targeted(child.id());
        std::thread::sleep(Duration::from_millis(20));
    };
    let code = sv::exit_code(status);
    let tmp = dir.join("exit.tmp");
    fs::write(&tmp, format!("{code}\n"))?;
    fs::rename(&tmp, dir.join("exit"))?;
    Ok(code)
}

/// Stops a running instance: SIGTERM to its supervisor (which passes it to the
/// program), then, after `timeout`, SIGKILL to its whole process group. Returns how it
/// ended. An instance that is not running is left as it is.
pub fn stop(name: &str, timeout: Duration) -> Result<Status> {
    let inst = find(name)?;
    if inst.status != Status::Running {
        return Ok(inst.status);
    }
    let (pid, start) = (inst.state.pid, inst.state.pid_start);
    let p = Pid::from_raw(i32::try_from(pid)?);
    // Signals only go to a process we started (same id and start time).
    if alive(pid, start) {
        let _ = kill(p, Signal::SIGTERM);
    }
    let deadline = Instant::now() + timeout;
    while alive(pid, start) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid, start) || !group_members(pid).is_empty() {
        let _ = killpg(p, Signal::SIGKILL);
        let until = Instant::now() + Duration::from_secs(5);
        while (alive(pid, start) || !group_members(pid).is_empty()) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !inst.dir.join("exit").exists() {
            fs::write(inst.dir.join("exit"), format!("{}\n", 128 + 9))?;
        }
    }
    Ok(read(&inst.dir)?.status)
}

/// The host pid of a running instance's supervisor (it passes signals on to the
/// program, targeted ones included).
pub fn running_pid(name: &str) -> Result<u32> {
    let inst = find(name)?;
    let (pid, start) = (inst.state.pid, inst.state.pid_start);
    if inst.status != Status::Running || !alive(pid, start) {
        bail!("instance `{name}` is not running (status: {})", inst.status);
    }
    Ok(pid)
}

/// Removes an instance's state; a running one only with `force` (stopped first).
pub fn remove(name: &str, force: bool, timeout: Duration) -> Result<()> {
    let inst = find(name)?;
    if inst.status == Status::Running {
        if !force {
            bail!("instance `{name}` is running; `ukport stop {name}` first, or rm -f");
        }
        stop(name, timeout)?;
    }
    fs::remove_dir_all(&inst.dir).with_context(|| format!("cannot remove {}", inst.dir.display()))
}

/// Copies the instance's log to `out`; with `follow`, keeps copying what is added until
/// the instance is no longer running.
pub fn logs(name: &str, follow: bool, out: &mut dyn Write) -> Result<()> {
    let inst = find(name)?;
    let mut f = fs::File::open(inst.log())
        .with_context(|| format!("cannot open {}", inst.log().display()))?;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        f.read_to_end(&mut buf)?;
        out.write_all(&buf)?;
        out.flush()?;
        if !follow {
            return Ok(());
        }
        if !alive(inst.state.pid, inst.state.pid_start) {
            // What it wrote while it ended.
            buf.clear();
            f.read_to_end(&mut buf)?;
            out.write_all(&buf)?;
            return Ok(());
        }
        let pos = f.stream_position()?;
        std::thread::sleep(Duration::from_millis(100));
        f.seek(std::io::SeekFrom::Start(pos))?;
    }
}

/// `1h02m`, `3m05s`, `42s`.
pub fn human_duration(secs: u64) -> String {
    match secs {
        s if s >= 86400 => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_durations() {
        check_name("nginx-2").unwrap();
        for bad in ["", "a/b", ".x", "sp ace", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(human_duration(42), "42s");
        assert_eq!(human_duration(185), "3m05s");
        assert_eq!(human_duration(3720), "1h02m");
        assert_eq!(human_duration(90000), "1d01h");
    }

    /// Our own process is alive with its start time and not with another one; a
    /// process that has ended is not.
    #[test]
    fn liveness_follows_pid_and_start_time() {
        let me = std::process::id();
        let start = start_time(me).unwrap();
        assert!(alive(me, start));
        assert!(!alive(me, start + 1));
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(start_time(pid).is_none() || !alive(pid, 0));
        assert!(group_members(u32::MAX).is_empty());
    }
}
