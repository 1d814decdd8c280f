//! The C conformance suite (`tests/conformance/*.c`), run twice: natively (musl-gcc
//! -static, Linux underneath) and as a ukit linuxu image (uk-cc).
//!
//! Linux is the reference: the native run must pass every case, which proves the
//! expectation written in the C file. The ukit run must pass every case except those
//! listed in `tests/conformance/known-failures.txt`; a listed case that now passes also
//! fails this test, so the list only ever shrinks as the kernel grows. A ukit program
//! that crashes, hangs or does not build counts all of its missing cases as failed (and
//! its stderr tail is printed) instead of aborting the whole suite.
//!
//! `UKT_WRITE_KNOWN_FAILURES=1 cargo test -p uk-tests --test conformance` rewrites the
//! list from the current ukit results (after the native run has passed).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uk_tests::suite::{
    compare_known, describe, parse, read_known_failures, run_limited, sources, suite_dir, tail,
    Finished, Report,
};
use uk_tests::{ensure_setup, require_tool, tools, TempDir};

/// Per program run, as the issue asks.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// Programs built and run at once. Most cases sleep or block rather than compute, so a
/// few in parallel keep the suite short without starving the timing-sensitive ones.
const PARALLEL: usize = 3;

/// The native reference build: the same musl as the image, Linux underneath.
const NATIVE_FLAGS: &[&str] = &["-static", "-O2", "-Wall", "-pthread"];
/// uk-cc links a static image by itself.
const UKIT_FLAGS: &[&str] = &["-O2", "-Wall", "-pthread"];
/// Files that need a kernel with networking (option `lib.net`, off by default).
const UKIT_NET_FILES: &[&str] = &["fork_servers.c", "select_sockets.c", "sockets.c"];
const UKIT_NET_FLAGS: &[&str] = &["-O2", "-Wall", "-pthread", "--uk-set=lib.net=true"];

fn known_failures_path() -> PathBuf {
    suite_dir().join("known-failures.txt")
}

/// One C file's results on both sides.
#[derive(Debug)]
struct FileResult {
    name: String,
    /// Problems with the native side (build, exit, failed cases): must be empty.
    native_problems: Vec<String>,
    native: Report,
    ukit: Report,
    /// Why the ukit run is incomplete (build failure, crash, hang), with stderr tail.
    ukit_note: Option<String>,
}

/// Compiles `src` with `compiler flags -o out src`.
fn build(compiler: &Path, flags: &[&str], src: &Path, out: &Path) -> Result<(), String> {
    let mut cmd = Command::new(compiler);
    cmd.args(flags).arg("-o").arg(out).arg(src);
    let done = run_limited(cmd, Duration::from_secs(300));
    match done.status {
        Some(s) if s.success() => Ok(()),
        other => Err(format!(
            "{} failed ({}):\n{}{}",
            compiler.display(),
            describe(&other, RUN_TIMEOUT),
            tail(&done.stdout, 20),
            tail(&done.stderr, 40)
        )),
    }
}

/// Files that run themselves as child processes (they read `UKT_SELF`): natively the
/// program itself; on ukit a program file built from the same source with
/// `uk-cc --uk-program`, which the image loads with execve (docs/processes.md).
fn runs_children(src: &Path) -> bool {
    std::fs::read_to_string(src).is_ok_and(|s| s.contains("UKT_SELF"))
}

fn run_program(exe: &Path, scratch: &Path, ukit: bool, child: Option<&Path>) -> Finished {
    let mut cmd = Command::new(exe);
    cmd.env("UKT_TMP", scratch).current_dir("/");
    if let Some(c) = child {
        cmd.env("UKT_SELF", c);
    }
    if ukit {
        cmd.env_remove("UKIT_OPTS");
    }
    run_limited(cmd, RUN_TIMEOUT)
}

/// Builds and runs `src` both ways. `ukit_broken` is the uk-cc error of the warm-up
/// build, if it failed: the ukit side is then not attempted again.
fn check_file(src: &Path, work: &Path, ukit_broken: Option<&str>) -> FileResult {
    let name = src.file_name().unwrap().to_string_lossy().into_owned();
    let stem = src.file_stem().unwrap().to_string_lossy().into_owned();
    let mut res = FileResult {
        name: name.clone(),
        native_problems: Vec::new(),
        native: Report::default(),
        ukit: Report::default(),
        ukit_note: None,
    };

    let native_exe = work.join(format!("{stem}.native"));
    match build(&require_tool("musl-gcc"), NATIVE_FLAGS, src, &native_exe) {
        Err(e) => res.native_problems.push(e),
        Ok(()) => {
            let child = runs_children(src).then_some(native_exe.as_path());
            let tmp = work.join(format!("{stem}.native.tmp"));
            let done = run_program(&native_exe, &tmp, false, child);
            res.native = parse(&done.stdout);
            let failed: Vec<String> = res
                .native
                .cases
                .iter()
                .filter_map(|(id, r)| r.as_ref().err().map(|why| format!("{id} {why}")))
                .collect();
            if done.status.as_ref().map(ExitStatus::success) != Some(true) {
                res.native_problems.push(format!(
                    "native run: {}; stderr:\n{}",
                    describe(&done.status, RUN_TIMEOUT),
                    tail(&done.stderr, 20)
                ));
            }
            if !failed.is_empty() {
                res.native_problems
                    .push(format!("native failures:\n{}", failed.join("\n")));
            }
            if res.native.summary != Some((res.native.cases.len(), 0)) {
                res.native_problems.push(format!(
                    "native summary {:?} does not match {} distinct passing cases",
                    res.native.summary,
                    res.native.cases.len()
                ));
            }
        }
    }

    let uk_exe = work.join(format!("{stem}.uk"));
    let uk_built = match ukit_broken {
        Some(e) => Err(e.to_string()),
        None if UKIT_NET_FILES.contains(&name.as_str()) => {
            build(&tools().uk_cc, UKIT_NET_FLAGS, src, &uk_exe)
        }
        None => build(&tools().uk_cc, UKIT_FLAGS, src, &uk_exe),
    };
    let uk_prog = work.join(format!("{stem}.ukprog"));
    let uk_built = uk_built.and_then(|()| {
        if runs_children(src) {
            let mut flags = UKIT_FLAGS.to_vec();
            flags.push("--uk-program");
            build(&tools().uk_cc, &flags, src, &uk_prog)
        } else {
            Ok(())
        }
    });
    match uk_built {
        Err(e) => res.ukit_note = Some(format!("uk-cc build failed: {}", tail(&e, 30))),
        Ok(()) => {
            let child = runs_children(src).then_some(uk_prog.as_path());
            let done = run_program(&uk_exe, &work.join(format!("{stem}.ukit.tmp")), true, child);
            res.ukit = parse(&done.stdout);
            let complete = res.ukit.summary.is_some()
                && matches!(done.status.and_then(|s| s.code()), Some(0 | 1));
            if !complete {
                res.ukit_note = Some(format!(
                    "ukit run incomplete: {}, {} case lines, summary {:?}; stderr tail:\n{}",
                    describe(&done.status, RUN_TIMEOUT),
                    res.ukit.cases.len(),
                    res.ukit.summary,
                    tail(&done.stderr, 25)
                ));
            }
        }
    }
    res
}

/// `file.c:line` -> reason, from the known-failures file (`#` starts a comment line).
/// Every case a file has: the native list (the reference), plus any id only ukit printed
/// (a failure of the harness itself, such as its scratch directory).
fn ukit_outcomes(r: &FileResult) -> BTreeMap<String, Result<(), String>> {
    let mut all = BTreeMap::new();
    for id in r.native.cases.keys() {
        let got = match r.ukit.cases.get(id) {
            Some(res) => res.clone(),
            None => Err(
                "missing from the ukit output (crash, hang, abandoned group or build failure)"
                    .into(),
            ),
        };
        all.insert(id.clone(), got);
    }
    for (id, res) in &r.ukit.cases {
        all.entry(id.clone()).or_insert_with(|| res.clone());
    }
    all
}

#[test]
fn conformance_suite_native_and_ukit() {
    let files = sources();
    assert!(
        !files.is_empty(),
        "no C files under {}",
        suite_dir().display()
    );
    // Build the tools and the musl port once, before the workers start.
    let _ = tools();
    ensure_setup();
    let dir = TempDir::new("conformance");
    let work = dir.path().to_path_buf();
    // The first uk-cc link builds the kernel for this configuration; do it once here
    // rather than in several workers at the same time. When it fails (a kernel that does
    // not build), every file would fail the same way: report that once per file without
    // trying again.
    let warm_up = build(
        &tools().uk_cc,
        UKIT_FLAGS,
        &files[0],
        &work.join("warm-up.uk"),
    )
    .err();

    let queue = Arc::new(Mutex::new(files.clone()));
    let results = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let (queue, results, work) = (queue.clone(), results.clone(), work.clone());
            let warm_up = warm_up.clone();
            std::thread::spawn(move || loop {
                let next = queue.lock().unwrap().pop();
                let Some(src) = next else { break };
                let r = check_file(&src, &work, warm_up.as_deref());
                results.lock().unwrap().push(r);
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker thread");
    }
    let mut results = Arc::try_unwrap(results).unwrap().into_inner().unwrap();
    results.sort_by(|a, b| a.name.cmp(&b.name));

    // Per-file and combined counts.
    let (mut np, mut nf, mut up, mut uf) = (0, 0, 0, 0);
    let mut ukit_failed: BTreeMap<String, String> = BTreeMap::new();
    let mut all_ids = BTreeSet::new();
    for r in &results {
        let n_fail = r.native.cases.values().filter(|v| v.is_err()).count();
        let n_pass = r.native.cases.len() - n_fail;
        let outcomes = ukit_outcomes(r);
        let u_fail = outcomes.values().filter(|v| v.is_err()).count();
        let u_pass = outcomes.len() - u_fail;
        println!(
            "{}: native: {n_pass} passed, {n_fail} failed; ukit: {u_pass} passed, {u_fail} failed",
            r.name
        );
        if let Some(note) = &r.ukit_note {
            println!("  {}: {}", r.name, note.replace('\n', "\n    "));
        }
        np += n_pass;
        nf += n_fail;
        up += u_pass;
        uf += u_fail;
        for (id, res) in outcomes {
            all_ids.insert(id.clone());
            if let Err(why) = res {
                ukit_failed.insert(id, why);
            }
        }
    }
    println!("all: native: {np} passed, {nf} failed; ukit: {up} passed, {uf} failed");

    let native_problems: Vec<String> = results
        .iter()
        .flat_map(|r| {
            r.native_problems
                .iter()
                .map(move |p| format!("{}: {p}", r.name))
        })
        .collect();
    assert!(
        native_problems.is_empty(),
        "the native (Linux) run must pass every case; fix the expectation in the C file:\n{}",
        native_problems.join("\n")
    );

    let known_path = known_failures_path();
    if std::env::var_os("UKT_WRITE_KNOWN_FAILURES").is_some() {
        let mut out = String::from(
            "# ukit conformance cases that fail today: `file.c:line reason`, one per line.\n\
             # The test fails when a case not listed here fails on ukit, and when a listed\n\
             # case passes (remove its line). Regenerate with\n\
             # UKT_WRITE_KNOWN_FAILURES=1 cargo test -p uk-tests --test conformance\n",
        );
        for (id, why) in &ukit_failed {
            let why: String = why.chars().take(160).collect();
            out.push_str(&format!("{id} {why}\n"));
        }
        std::fs::write(&known_path, out).expect("write known-failures.txt");
        println!(
            "wrote {} ({} entries)",
            known_path.display(),
            ukit_failed.len()
        );
        return;
    }

    let known = read_known_failures(&std::fs::read_to_string(&known_path).unwrap_or_default());
    let d = compare_known(&ukit_failed, &all_ids, &known);
    let (unexpected, now_passing, stale) = (&d.unexpected, &d.resolved, &d.stale);
    assert!(
        d.is_clean(),
        "ukit conformance differs from {}:\n\
         failing on ukit but not listed ({}):\n{}\n\
         listed but passing now: remove these lines ({}):\n{}\n\
         listed but no such case (line numbers moved? regenerate the list) ({}):\n{}",
        known_path.display(),
        unexpected.len(),
        unexpected.join("\n"),
        now_passing.len(),
        now_passing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        stale.len(),
        stale
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    );
}

#[test]
fn parse_reads_cases_and_summary() {
    let out = "ok a.c:3 x == 1\n\
               noise from the program\n\
               FAIL a.c:4 y == 2: got 3 want 2\n\
               ok a.c:5 REQUIRE z\n\
               2 passed, 1 failed\n";
    let r = parse(out);
    assert_eq!(r.summary, Some((2, 1)));
    assert_eq!(r.cases.len(), 3);
    assert_eq!(r.cases["a.c:3"], Ok(()));
    assert_eq!(r.cases["a.c:4"], Err("y == 2: got 3 want 2".to_string()));
    // A later failure of a repeated id wins over an earlier pass.
    let r = parse("ok a.c:1 t\nFAIL a.c:1 t: got 0 want 1\n1 passed, 1 failed\n");
    assert!(r.cases["a.c:1"].is_err());
    assert_eq!(parse("no summary here\n").summary, None);
}

#[test]
fn known_failures_skip_comments_and_keep_reasons() {
    let k = read_known_failures("# comment\n\nx.c:10 no epoll yet\ny.c:2\n");
    assert_eq!(k.len(), 2);
    assert_eq!(k["x.c:10"], "no epoll yet");
    assert_eq!(k["y.c:2"], "");
}

#[test]
fn missing_ukit_cases_count_as_failed() {
    let mut native = Report::default();
    native.cases.insert("f.c:1".into(), Ok(()));
    native.cases.insert("f.c:2".into(), Ok(()));
    let mut ukit = Report::default();
    ukit.cases.insert("f.c:1".into(), Ok(()));
    ukit.cases
        .insert("harness.h:9".into(), Err("no dir".into()));
    let r = FileResult {
        name: "f.c".into(),
        native_problems: vec![],
        native,
        ukit,
        ukit_note: None,
    };
    let o = ukit_outcomes(&r);
    assert_eq!(o.len(), 3);
    assert!(o["f.c:1"].is_ok());
    assert!(o["f.c:2"].is_err());
    assert!(o["harness.h:9"].is_err());
}

#[test]
fn run_limited_reports_a_hang_without_panicking() {
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "echo partial; sleep 30"]);
    let t0 = Instant::now();
    let done = run_limited(cmd, Duration::from_millis(300));
    assert!(done.status.is_none());
    assert_eq!(done.stdout, "partial\n");
    assert!(t0.elapsed() < Duration::from_secs(10));
}
