//! A server image under test: `ukport run <app> ...` started in its own process group
//! with stdout and stderr in files, so a failure can show the logs and the group (ukport
//! and the image; passt has its own and ukport stops it) can be ended at the end.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A loopback port free right now (the OS picks it).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub struct Server {
    child: Option<Child>,
    out: PathBuf,
    err: PathBuf,
}

impl Server {
    /// Starts `cmd` with stdin from /dev/null and its output in `dir`/{stdout,stderr}.
    pub fn start(mut cmd: Command, dir: &Path) -> Server {
        let (out, err) = (dir.join("stdout"), dir.join("stderr"));
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().expect("start the server");
        Server {
            child: Some(child),
            out,
            err,
        }
    }

    /// Its stdout and the last 60 lines of its stderr (a build's progress is long; the
    /// tail is what matters).
    pub fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let err = read(&self.err);
        let tail: Vec<&str> = err.lines().rev().take(60).collect();
        format!(
            "stdout:\n{}\nstderr (last lines):\n{}",
            read(&self.out),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }

    /// Its whole stdout and stderr so far (the image's console is on one or the other:
    /// linuxu passes the program's own streams, kvm's serial console is stdout).
    pub fn output(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("{}{}", read(&self.out), read(&self.err))
    }

    /// The PID of `ukport` (also the process group's id).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server already reaped").id()
    }

    /// `kill SIG PID` (e.g. "-TERM") to ukport alone.
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(st.success(), "kill {sig} {}", self.pid());
    }

    /// Its exit status once it has exited, waiting at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                self.child = None;
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    /// A server still running (a failed test) is ended with its whole process group:
    /// SIGTERM, then SIGKILL after 1.5 s.
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let group = format!("-{}", c.id());
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            std::thread::sleep(Duration::from_millis(1500));
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = c.wait();
        }
    }
}
