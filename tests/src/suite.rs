//! Shared pieces of the C conformance suite's runners (tests/tests/conformance.rs on
//! linuxu, tests/tests/kvm_conformance.rs on kvm): finding the files, running a program
//! with a time limit without panicking, and parsing the harness's output.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{repo_root, text};

pub fn suite_dir() -> PathBuf {
    repo_root().join("tests").join("conformance")
}

pub fn sources() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(suite_dir())
        .expect("tests/conformance exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    files.sort();
    files
}

/// What one finished (or killed) program left behind.
#[derive(Debug, Default)]
pub struct Finished {
    pub stdout: String,
    pub stderr: String,
    /// `None` when it was killed on timeout.
    pub status: Option<ExitStatus>,
    pub took: Duration,
}

/// Runs `cmd` in its own process group with stdin on /dev/null; on timeout the group
/// (ukport and its QEMU) is killed by id and the partial output returned.
pub fn run_limited(mut cmd: Command, timeout: Duration) -> Finished {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Finished {
                stderr: format!("cannot start {cmd:?}: {e}"),
                ..Finished::default()
            }
        }
    };
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("piped stdout")));
    let err = reader(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = started + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => break None,
        }
    };
    let took = started.elapsed();
    // The group, in both cases: QEMU must not outlive a killed ukport.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    if status.is_none() {
        let _ = child.wait();
    }
    Finished {
        stdout: text(&out.join().unwrap_or_default()),
        stderr: text(&err.join().unwrap_or_default()),
        status,
        took,
    }
}

/// Parsed harness output: case id -> pass or failure text; the summary line.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    pub cases: BTreeMap<String, Result<(), String>>,
    pub summary: Option<(usize, usize)>,
}

/// The harness lines (`ok <id> ...`, `FAIL <id> ...`, `N passed, M failed`). A serial
/// console ends lines with `\r\n`, so carriage returns are dropped first.
pub fn parse(stdout: &str) -> Report {
    let mut report = Report::default();
    for line in stdout.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(rest) = line.strip_prefix("ok ") {
            let id = rest.split(' ').next().unwrap_or("").to_string();
            report.cases.entry(id).or_insert(Ok(()));
        } else if let Some(rest) = line.strip_prefix("FAIL ") {
            let (id, why) = rest.split_once(' ').unwrap_or((rest, ""));
            report.cases.insert(id.to_string(), Err(why.to_string()));
        } else if let Some((p, f)) = line.split_once(" passed, ") {
            if let (Ok(p), Some(Ok(f))) = (
                p.trim().parse::<usize>(),
                f.strip_suffix(" failed").map(str::parse::<usize>),
            ) {
                report.summary = Some((p, f));
            }
        }
    }
    report
}

pub fn describe(status: &Option<ExitStatus>, timeout: Duration) -> String {
    match *status {
        None => format!("killed after {}s (hang)", timeout.as_secs()),
        Some(s) => match (s.code(), s.signal()) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            _ => format!("{s:?}"),
        },
    }
}

pub fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// How the cases found now (id -> reason: failing, or differing between platforms)
/// compare with a known-failures list.
pub struct KnownDiff {
    /// Found now but not listed (`id reason`).
    pub unexpected: Vec<String>,
    /// Listed, and the case exists, but it is no longer found: remove its line.
    pub resolved: Vec<String>,
    /// Listed, but no such case (line numbers moved): regenerate the list.
    pub stale: Vec<String>,
}

impl KnownDiff {
    pub fn is_clean(&self) -> bool {
        self.unexpected.is_empty() && self.resolved.is_empty() && self.stale.is_empty()
    }
}

/// Compares `found` with the list `known` over the cases `all_ids` that exist.
pub fn compare_known(
    found: &BTreeMap<String, String>,
    all_ids: &BTreeSet<String>,
    known: &BTreeMap<String, String>,
) -> KnownDiff {
    KnownDiff {
        unexpected: found
            .iter()
            .filter(|(id, _)| !known.contains_key(*id))
            .map(|(id, why)| format!("{id} {why}"))
            .collect(),
        resolved: known
            .keys()
            .filter(|id| all_ids.contains(*id) && !found.contains_key(*id))
            .cloned()
            .collect(),
        stale: known
            .keys()
            .filter(|id| !all_ids.contains(*id))
            .cloned()
            .collect(),
    }
}

/// The known-failures list format: `file.c:line reason`, one per line, `#` comments.
pub fn read_known_failures(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((id, why)) => (id.to_string(), why.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod known_tests {
    use super::*;

    #[test]
    fn compare_known_sorts_cases_into_the_three_lists() {
        let m = |v: &[(&str, &str)]| -> BTreeMap<String, String> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let all: BTreeSet<String> = ["a.c:1", "a.c:2", "a.c:3"].map(String::from).into();
        let found = m(&[("a.c:1", "new"), ("a.c:2", "old")]);
        let known = m(&[("a.c:2", "old"), ("a.c:3", "fixed"), ("a.c:9", "gone")]);
        let d = compare_known(&found, &all, &known);
        assert_eq!(d.unexpected, ["a.c:1 new"]);
        assert_eq!(d.resolved, ["a.c:3"]);
        assert_eq!(d.stale, ["a.c:9"]);
        assert!(!d.is_clean());
        assert!(compare_known(&found, &all, &found).is_clean());
    }
}
