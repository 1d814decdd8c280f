//! The C conformance suite (`tests/conformance/*.c`) on the kvm platform: every file is
//! linked twice with uk-cc, as a linuxu image and as a kvm image (`--uk-plat=kvm`), the
//! first run as a process, the second booted under QEMU (microvm; TCG on this host, see
//! docs/kvm.md) through `ukport run --plat kvm`. The issue's acceptance is "the same
//! results as on linuxu", so the two are compared case by case (a case is `file.c:line`).
//!
//! The kvm guest has no host files: the harness's scratch tree (`UKT_TMP`, default
//! `/tmp/ukt-<pid>`) lives on the ramfs root, whose `/tmp` the kernel creates. Its stdin
//! is /dev/null, which `ukport run` turns into end of file on the console (`stdin=eof`).
//!
//! Every case whose outcome differs (fails on one platform only, or is missing on one:
//! a crash or a hang) must be listed in `tests/conformance/known-failures-kvm.txt`
//! (`file.c:line reason`, the format of known-failures.txt); a listed case that no
//! longer differs fails the test too, so the list only shrinks. Each guest gets a time
//! limit: on a hang QEMU's process group is killed by id and the file's missing cases
//! count as failed. Files run two at a time (TCG uses a host core per guest).
//!
//! `UKT_WRITE_KNOWN_FAILURES=1 cargo test -p uk-tests --test kvm_conformance` rewrites
//! the list from the current differences.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uk_tests::suite::{
    compare_known, describe, parse, read_known_failures, run_limited, sources, suite_dir, tail,
    Report,
};
use uk_tests::{ensure_setup, tools, TempDir};

/// A linuxu run takes seconds at most (the conformance driver allows 60 s).
const LINUXU_TIMEOUT: Duration = Duration::from_secs(60);
/// A kvm run boots under TCG: a few seconds for the slowest file here; generous for a
/// loaded machine, short enough that a hung guest does not stall the suite for long.
const KVM_TIMEOUT: Duration = Duration::from_secs(120);
/// Files in flight at once: each TCG guest keeps a host core busy.
const PARALLEL: usize = 2;
/// The flags of the linuxu conformance driver (tests/tests/conformance.rs), including
/// its list of files that need a kernel with networking.
const FLAGS: &[&str] = &["-O2", "-Wall", "-pthread"];
const NET_FILES: &[&str] = &["fork_servers.c", "select_sockets.c", "sockets.c"];
const NET_FLAG: &str = "--uk-set=lib.net=true";

fn known_path() -> PathBuf {
    suite_dir().join("known-failures-kvm.txt")
}

/// One platform's run of one file.
#[derive(Debug, Default)]
struct Side {
    report: Report,
    /// Why the run is incomplete (build failure, crash, hang), with output tails.
    note: Option<String>,
    took: Duration,
}

#[derive(Debug)]
struct FileResult {
    name: String,
    linuxu: Side,
    kvm: Side,
}

fn build(src: &Path, out: &Path, kvm: bool) -> Result<(), String> {
    let mut cmd = Command::new(&tools().uk_cc);
    if kvm {
        cmd.arg("--uk-plat=kvm");
    }
    cmd.args(FLAGS);
    if src
        .file_name()
        .is_some_and(|n| NET_FILES.contains(&n.to_string_lossy().as_ref()))
    {
        cmd.arg(NET_FLAG);
    }
    cmd.arg("-o").arg(out).arg(src);
    let done = run_limited(cmd, Duration::from_secs(600));
    match done.status {
        Some(s) if s.success() => Ok(()),
        _ => Err(format!(
            "uk-cc{} failed ({}):\n{}\n{}",
            if kvm { " --uk-plat=kvm" } else { "" },
            describe(&done.status, Duration::from_secs(600)),
            tail(&done.stdout, 20),
            tail(&done.stderr, 30)
        )),
    }
}

/// Files that run themselves as child processes (they read `UKT_SELF`, as in the
/// linuxu driver): both platforms load the same program file (`uk-cc --uk-program`),
/// linuxu from its path on the host, kvm from the root of its initrd.
fn runs_children(src: &Path) -> bool {
    std::fs::read_to_string(src).is_ok_and(|s| s.contains("UKT_SELF"))
}

/// Build the program file of `src` into `root` (a folder of its own, the kvm root);
/// returns its path.
fn build_program(src: &Path, root: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(root).map_err(|e| e.to_string())?;
    let out = root.join("self.ukprog");
    let mut cmd = Command::new(&tools().uk_cc);
    cmd.args(FLAGS)
        .arg("--uk-program")
        .arg("-o")
        .arg(&out)
        .arg(src);
    let done = run_limited(cmd, Duration::from_secs(600));
    match done.status {
        Some(s) if s.success() => Ok(out),
        _ => Err(format!(
            "uk-cc --uk-program failed ({}):\n{}",
            describe(&done.status, Duration::from_secs(600)),
            tail(&done.stderr, 30)
        )),
    }
}

fn side(src: &Path, work: &Path, kvm: bool, broken: Option<&str>) -> Side {
    let stem = src.file_stem().unwrap().to_string_lossy().into_owned();
    let exe = work.join(format!("{stem}.{}", if kvm { "kvm" } else { "linuxu" }));
    if let Some(e) = broken {
        return Side {
            note: Some(e.to_string()),
            ..Side::default()
        };
    }
    if let Err(e) = build(src, &exe, kvm) {
        return Side {
            note: Some(e),
            ..Side::default()
        };
    }
    let child = if runs_children(src) {
        let root = work.join(format!(
            "{stem}.{}.root",
            if kvm { "kvm" } else { "linuxu" }
        ));
        match build_program(src, &root) {
            Ok(p) => Some((root, p)),
            Err(e) => {
                return Side {
                    note: Some(e),
                    ..Side::default()
                }
            }
        }
    } else {
        None
    };
    let (done, timeout) = if kvm {
        let mut cmd = Command::new(&tools().ukport);
        cmd.args(["run", "--plat", "kvm"]);
        if let Some((root, _)) = &child {
            cmd.arg("--root")
                .arg(root)
                .args(["-e", "UKT_SELF=/self.ukprog"]);
        }
        cmd.arg(&exe);
        (run_limited(cmd, KVM_TIMEOUT), KVM_TIMEOUT)
    } else {
        let mut cmd = Command::new(&exe);
        cmd.env("UKT_TMP", work.join(format!("{stem}.linuxu.tmp")))
            .env_remove("UKIT_OPTS")
            .current_dir("/");
        if let Some((_, prog)) = &child {
            cmd.env("UKT_SELF", prog);
        }
        (run_limited(cmd, LINUXU_TIMEOUT), LINUXU_TIMEOUT)
    };
    let report = parse(&done.stdout);
    let complete =
        report.summary.is_some() && matches!(done.status.and_then(|s| s.code()), Some(0 | 1));
    let note = (!complete).then(|| {
        format!(
            "run incomplete: {}, {} case lines, summary {:?}; output tail:\n{}\nstderr tail:\n{}",
            describe(&done.status, timeout),
            report.cases.len(),
            report.summary,
            tail(&done.stdout, 8),
            tail(&done.stderr, 15)
        )
    });
    Side {
        report,
        note,
        took: done.took,
    }
}

/// A case's outcome on each platform; a case missing from one side's output failed
/// there (crash, hang, abandoned group).
fn outcome(s: &Side, id: &str) -> Result<(), String> {
    s.report
        .cases
        .get(id)
        .cloned()
        .unwrap_or_else(|| Err("missing from the output (crash, hang or abandoned group)".into()))
}

/// Cases whose outcome differs: id -> "linuxu <..>; kvm <..>".
fn differences(r: &FileResult) -> BTreeMap<String, String> {
    let ids: BTreeSet<&String> = r
        .linuxu
        .report
        .cases
        .keys()
        .chain(r.kvm.report.cases.keys())
        .collect();
    let show = |o: &Result<(), String>| match o {
        Ok(()) => "passes".to_string(),
        Err(why) => format!("fails: {why}"),
    };
    ids.into_iter()
        .filter_map(|id| {
            let (l, k) = (outcome(&r.linuxu, id), outcome(&r.kvm, id));
            (l.is_ok() != k.is_ok())
                .then(|| (id.clone(), format!("kvm {}; linuxu {}", show(&k), show(&l))))
        })
        .collect()
}

fn counts(s: &Side, ids: &BTreeSet<String>) -> (usize, usize) {
    let failed = ids.iter().filter(|id| outcome(s, id).is_err()).count();
    (ids.len() - failed, failed)
}

#[test]
fn conformance_suite_on_kvm_matches_linuxu() {
    let files = sources();
    assert!(!files.is_empty(), "no C files in {}", suite_dir().display());
    let _ = tools();
    ensure_setup();
    let dir = TempDir::new("kvm-conformance");
    let work = dir.path().to_path_buf();
    let t0 = Instant::now();
    // Build both kernels once before the workers start (the first link of a
    // configuration builds it); a kernel that does not build fails every file alike.
    let warm = |kvm| build(&files[0], &work.join(format!("warm-up.{kvm}")), kvm).err();
    let (broken_l, broken_k) = (warm(false), warm(true));
    println!("kernels ready in {:.1}s", t0.elapsed().as_secs_f64());

    let queue = Arc::new(Mutex::new(files.clone()));
    let results = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let (queue, results, work) = (queue.clone(), results.clone(), work.clone());
            let (bl, bk) = (broken_l.clone(), broken_k.clone());
            std::thread::spawn(move || loop {
                let next = queue.lock().unwrap().pop();
                let Some(src) = next else { break };
                let r = FileResult {
                    name: src.file_name().unwrap().to_string_lossy().into_owned(),
                    linuxu: side(&src, &work, false, bl.as_deref()),
                    kvm: side(&src, &work, true, bk.as_deref()),
                };
                results.lock().unwrap().push(r);
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker thread");
    }
    let mut results = Arc::try_unwrap(results).unwrap().into_inner().unwrap();
    results.sort_by(|a, b| a.name.cmp(&b.name));

    let mut diffs: BTreeMap<String, String> = BTreeMap::new();
    let mut all_ids: BTreeSet<String> = BTreeSet::new();
    let (mut lp, mut lf, mut kp, mut kf) = (0, 0, 0, 0);
    for r in &results {
        let ids: BTreeSet<String> = r
            .linuxu
            .report
            .cases
            .keys()
            .chain(r.kvm.report.cases.keys())
            .cloned()
            .collect();
        let (l, k) = (counts(&r.linuxu, &ids), counts(&r.kvm, &ids));
        println!(
            "{}: linuxu: {} passed, {} failed ({:.1}s); kvm: {} passed, {} failed ({:.1}s)",
            r.name,
            l.0,
            l.1,
            r.linuxu.took.as_secs_f64(),
            k.0,
            k.1,
            r.kvm.took.as_secs_f64()
        );
        for (plat, s) in [("linuxu", &r.linuxu), ("kvm", &r.kvm)] {
            if let Some(n) = &s.note {
                println!("  {plat}: {}", n.replace('\n', "\n    "));
            }
        }
        (lp, lf, kp, kf) = (lp + l.0, lf + l.1, kp + k.0, kf + k.1);
        diffs.extend(differences(r));
        all_ids.extend(ids);
    }
    println!(
        "all: linuxu: {lp} passed, {lf} failed; kvm: {kp} passed, {kf} failed; {} cases differ; {:.1}s",
        diffs.len(),
        t0.elapsed().as_secs_f64()
    );
    for (id, why) in &diffs {
        println!("differs: {id} {why}");
    }

    // The comparison means nothing unless the linuxu side ran.
    let linuxu_broken: Vec<String> = results
        .iter()
        .filter(|r| r.linuxu.report.summary.is_none())
        .map(|r| format!("{}: {}", r.name, r.linuxu.note.clone().unwrap_or_default()))
        .collect();
    assert!(
        linuxu_broken.is_empty(),
        "the linuxu reference runs did not finish; fix those first (tests/tests/conformance.rs):\n{}",
        linuxu_broken.join("\n")
    );

    let path = known_path();
    if std::env::var_os("UKT_WRITE_KNOWN_FAILURES").is_some() {
        let mut out = String::from(
            "# Conformance cases whose result on kvm differs from linuxu: `file.c:line reason`.\n\
             # The kvm test fails when a case not listed here differs, and when a listed case\n\
             # no longer does (remove its line). Regenerate with\n\
             # UKT_WRITE_KNOWN_FAILURES=1 cargo test -p uk-tests --test kvm_conformance\n",
        );
        for (id, why) in &diffs {
            let why: String = why.chars().take(200).collect();
            out.push_str(&format!("{id} {why}\n"));
        }
        std::fs::write(&path, out).expect("write known-failures-kvm.txt");
        println!("wrote {} ({} entries)", path.display(), diffs.len());
        return;
    }
    let known = read_known_failures(&std::fs::read_to_string(&path).unwrap_or_default());
    let d = compare_known(&diffs, &all_ids, &known);
    let (unexpected, now_same, stale) = (&d.unexpected, &d.resolved, &d.stale);
    assert!(
        d.is_clean(),
        "kvm results differ from {}:\n\
         differ from linuxu but not listed ({}):\n{}\n\
         listed but the same on both now: remove these lines ({}):\n{:?}\n\
         listed but no such case (line numbers moved? regenerate) ({}):\n{:?}",
        path.display(),
        unexpected.len(),
        unexpected.join("\n"),
        now_same.len(),
        now_same,
        stale.len(),
        stale,
    );
}

#[test]
fn parse_reads_serial_console_lines() {
    let out =
        "ok a.c:3 x == 1\r\nnoise\r\nFAIL a.c:4 y == 2: got 3 want 2\r\n1 passed, 1 failed\r\n";
    let r = parse(out);
    assert_eq!(r.summary, Some((1, 1)));
    assert_eq!(r.cases["a.c:3"], Ok(()));
    assert_eq!(r.cases["a.c:4"], Err("y == 2: got 3 want 2".to_string()));
}

#[test]
fn differences_count_missing_cases_as_failed() {
    let mut linuxu = Side::default();
    let mut kvm = Side::default();
    for id in ["f.c:1", "f.c:2", "f.c:3"] {
        linuxu.report.cases.insert(id.into(), Ok(()));
    }
    linuxu.report.cases.insert("f.c:4".into(), Err("x".into()));
    kvm.report.cases.insert("f.c:1".into(), Ok(()));
    kvm.report
        .cases
        .insert("f.c:2".into(), Err("got 1 want 2".into()));
    kvm.report.cases.insert("f.c:4".into(), Err("x".into()));
    kvm.report.cases.insert("f.c:5".into(), Ok(()));
    let r = FileResult {
        name: "f.c".into(),
        linuxu,
        kvm,
    };
    let d = differences(&r);
    let ids: Vec<&str> = d.keys().map(String::as_str).collect();
    // 1 same; 2 fails on kvm; 3 missing on kvm; 4 fails on both; 5 missing on linuxu.
    assert_eq!(ids, ["f.c:2", "f.c:3", "f.c:5"]);
    assert!(d["f.c:2"].starts_with("kvm fails: got 1 want 2; linuxu passes"));
    assert!(d["f.c:3"].contains("missing"));
}

#[test]
fn a_hung_group_is_killed_by_id() {
    let mut cmd = Command::new("/bin/sh");
    // A child in the same group that would outlive its parent.
    cmd.args(["-c", "echo partial; sleep 30 & sleep 30"]);
    let t = Instant::now();
    let done = run_limited(cmd, Duration::from_millis(300));
    assert!(done.status.is_none());
    assert_eq!(done.stdout, "partial\n");
    // The pipes close only when every member of the group is gone.
    assert!(t.elapsed() < Duration::from_secs(10));
}
