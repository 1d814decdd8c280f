//! Acceptance of the kvm platform: C programs linked with `uk-cc --uk-plat=kvm` boot
//! under QEMU (TCG on this CI host: see docs/kvm.md) through `ukport run --plat kvm`,
//! on the microvm and pc machines, through both boot protocols; arguments, environment
//! and exit status round-trip; faults end in a readable report and a non-zero status.
//!
//! Every run goes through `run_command`, which kills QEMU's process group when a boot
//! hangs, so a broken image fails the test instead of hanging the suite.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use uk_tests::{ensure_setup, exit_code, repo_root, run_command, text, tools, TempDir};

/// Generous for TCG on a busy machine; a boot takes well under a second here.
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

fn kvm_source(name: &str) -> PathBuf {
    repo_root().join("tests").join("kvm").join(name)
}

/// `uk-cc --uk-plat=kvm -O2 -o OUT tests/kvm/NAME`.
fn build_kvm(dir: &TempDir, name: &str) -> PathBuf {
    ensure_setup();
    let out = dir.join(format!("{name}.kvm"));
    let mut cmd = Command::new(&tools().uk_cc);
    cmd.args(["--uk-plat=kvm", "-O2", "-o"])
        .arg(&out)
        .arg(kvm_source(&format!("{name}.c")));
    let o = run_command(cmd, Duration::from_secs(600));
    assert!(
        o.status.success(),
        "uk-cc --uk-plat=kvm failed:\n{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    out
}

/// `ukport run --plat kvm [extra...] IMAGE -- args...`, with its wall time.
fn ukport_run(image: &Path, extra: &[&str], args: &[&str]) -> (Output, Duration) {
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["run", "--plat", "kvm"]).args(extra).arg(image);
    cmd.arg("--").args(args);
    let t = Instant::now();
    let o = run_command(cmd, BOOT_TIMEOUT);
    (o, t.elapsed())
}

#[test]
fn hello_args_env_and_status_round_trip_on_every_machine_and_protocol() {
    let dir = TempDir::new("kvm-hello");
    let image = build_kvm(&dir, "hello");
    // Per-run values, so that nothing hard-coded can pass.
    let value = format!("v {} %x ü", std::process::id());
    let status = (std::process::id() % 100 + 1) as i32;
    let status_s = status.to_string();
    let env = format!("UK_KVM_VAR={value}");
    for machine in ["microvm", "pc"] {
        for boot in ["multiboot", "pvh"] {
            let (o, took) = ukport_run(
                &image,
                &["--machine", machine, "--boot", boot, "-e", &env],
                &[&status_s, "two words", ""],
            );
            let (out, err) = (text(&o.stdout), text(&o.stderr));
            let ctx = format!("{machine}/{boot} (took {took:?})\nstdout:\n{out}\nstderr:\n{err}");
            assert!(out.contains("hello from ukit on kvm: argc=4"), "{ctx}");
            assert!(out.contains("argv[0]=<hello>"), "{ctx}");
            assert!(out.contains(&format!("argv[1]=<{status}>")), "{ctx}");
            assert!(out.contains("argv[2]=<two words>"), "{ctx}");
            assert!(out.contains("argv[3]=<>"), "{ctx}");
            assert!(out.contains(&format!("UK_KVM_VAR=<{value}>")), "{ctx}");
            assert_eq!(exit_code(&o.status), status, "{ctx}");
        }
    }
}

#[test]
fn exit_status_above_127_survives() {
    // isa-debug-exit keeps 7 bits; the debug console carries the exact value.
    let dir = TempDir::new("kvm-status");
    let image = build_kvm(&dir, "hello");
    let (o, _) = ukport_run(&image, &[], &["200"]);
    assert_eq!(exit_code(&o.status), 200, "{}", text(&o.stderr));
}

#[test]
fn boot_stats_are_printed_at_main() {
    let dir = TempDir::new("kvm-stats");
    let image = build_kvm(&dir, "hello");
    let (o, _) = ukport_run(&image, &["--boot-stats"], &["0"]);
    let out = text(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.starts_with("ukit: boot stats"))
        .unwrap_or_else(|| panic!("no boot stats line:\n{out}"));
    // Stages come in order, so their times must not decrease.
    let times: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .filter(|(k, _)| *k != "tsc_hz")
        .map(|(_, v)| v.parse().expect("a number of µs"))
        .collect();
    assert_eq!(times.len(), 6, "{line}");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{line}");
    assert!(text(&o.stderr).contains("launch to exit"));
    assert_eq!(exit_code(&o.status), 0);
}

fn assert_fault_report(name: &str, expect: &[&str], absent: &[&str]) {
    let dir = TempDir::new(&format!("kvm-{name}"));
    let image = build_kvm(&dir, name);
    for machine in ["microvm", "pc"] {
        let (o, took) = ukport_run(&image, &["--machine", machine], &[]);
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        let ctx = format!("{name} on {machine} (took {took:?})\nstdout:\n{out}\nstderr:\n{err}");
        assert_eq!(exit_code(&o.status), 139, "{ctx}");
        assert!(
            out.contains("ukit: fatal exception: #PF page fault"),
            "{ctx}"
        );
        assert!(out.contains("rip 0x"), "{ctx}");
        assert!(out.contains("ukit: bt #0 0x"), "{ctx}");
        for e in expect {
            assert!(out.contains(e), "missing `{e}`: {ctx}");
        }
        for a in absent {
            assert!(!out.contains(a), "unexpected `{a}`: {ctx}");
        }
        assert!(
            err.contains("backtrace of the fault (addr2line)"),
            "no symbolised backtrace: {ctx}"
        );
        assert!(took < Duration::from_secs(30), "too slow: {ctx}");
    }
}

#[test]
fn null_dereference_reports_and_fails() {
    assert_fault_report(
        "null_deref",
        &["about to dereference NULL", "(NULL pointer)", "on read"],
        &[],
    );
}

#[test]
fn stack_overflow_reports_and_fails() {
    assert_fault_report("stack_overflow", &["recursing", "stack overflow"], &[]);
}

/// `Platform::protect` on kvm: mprotect(PROT_READ) reaches the page tables (a 4 KiB
/// piece of a 2 MiB page, so the page is split); the store after it faults.
#[test]
fn store_into_read_only_map_reports_and_fails() {
    assert_fault_report(
        "mprotect_write",
        &[
            "read back uki",
            "writing to the read-only page",
            "protection violation on write",
            ": write to a read-only page",
        ],
        &["not enforced"],
    );
}

/// musl maps a thread's stack with a PROT_NONE guard page below it; a thread that
/// recurses without end must fault there (kvm enforces PROT_NONE in the page tables).
#[test]
fn thread_stack_overflow_hits_the_guard_page() {
    assert_fault_report(
        "thread_overflow",
        &[
            "thread recursing",
            "not-present page on write",
            "access to an unmapped page (guard page or PROT_NONE map)",
            "stack overflow into a guard page",
            // The frames above the guard page are found (the scan skips the guard).
            "ukit: bt ?1 0x",
        ],
        &["overflow not caught"],
    );
}

/// Starts `ukport run --plat kvm waiter [args]`, waits for `ready`, sends SIGTERM to
/// ukport, and returns its exit status, stdout and stderr; checks that no QEMU is left.
fn sigterm_waiter(args: &[&str]) -> (Option<i32>, String, String) {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;
    let dir = TempDir::new("kvm-sigterm");
    let image = build_kvm(&dir, "waiter");
    let mut child = Command::new(&tools().ukport)
        .args(["run", "--plat", "kvm"])
        .arg(&image)
        .arg("--")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ukport");
    let pid = child.id();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let start = Instant::now();
    while !line.contains("ready") {
        line.clear();
        if out.read_line(&mut line).unwrap_or(0) == 0 || start.elapsed() > BOOT_TIMEOUT {
            let _ = child.kill();
            panic!("the VM never printed `ready`");
        }
    }
    // QEMU is ukport's child; remember it to check it is gone afterwards.
    let children = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok())
        .collect::<String>();
    let qemu: Vec<u32> = children
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert!(!qemu.is_empty(), "no QEMU child of ukport found");
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ukport did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (mut rest, mut err) = (String::new(), String::new());
    let _ = out.read_to_string(&mut rest);
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    for q in qemu {
        // QEMU was ukport's child and ukport reaped it: no such process any more (or,
        // if the PID was reused at once, not a QEMU).
        let comm = std::fs::read_to_string(format!("/proc/{q}/comm")).unwrap_or_default();
        assert!(!comm.contains("qemu"), "QEMU {q} survived ukport");
    }
    (status.code(), rest, err)
}

/// SIGTERM to `ukport run --plat kvm` reaches the program over the control line (COM2):
/// without a handler its default action ends it (143), with one it shuts down on its
/// own terms; either way ukport exits with the program's status and leaves no QEMU.
#[test]
fn sigterm_to_ukport_reaches_the_program_in_the_vm() {
    let (code, _, err) = sigterm_waiter(&[]);
    assert_eq!(code, Some(143), "default action; stderr: {err}");
    let (code, out, err) = sigterm_waiter(&["handler"]);
    assert_eq!(code, Some(7), "the program's own status; stderr: {err}");
    assert!(
        out.contains("stopping on SIGTERM"),
        "stdout: {out}; stderr: {err}"
    );
}

/// Entropy as docs/runtime.md says: with RDRAND (TCG's `-cpu max` has it) the seed is the
/// CPU's and the console stays quiet; on a CPU model with neither RDRAND nor RDSEED
/// (`qemu64`) the kernel warns once that the seed is TSC jitter, and getrandom still
/// gives different bytes on every boot.
#[test]
fn entropy_source_and_the_warning_without_rdrand() {
    let dir = TempDir::new("kvm-entropy");
    let image = build_kvm(&dir, "entropy");
    let boot = |cpu: Option<&str>| {
        let mut cmd = Command::new(&tools().ukport);
        cmd.args(["run", "--plat", "kvm"]).arg(&image);
        match cpu {
            Some(m) => cmd.env("UKIT_QEMU_CPU", m),
            None => cmd.env_remove("UKIT_QEMU_CPU"),
        };
        let o = run_command(cmd, BOOT_TIMEOUT);
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        assert!(o.status.success(), "cpu {cpu:?}: {out}{err}");
        let random = out
            .lines()
            .find_map(|l| l.strip_prefix("random="))
            .unwrap_or_else(|| panic!("no random= line: {out}{err}"))
            .to_string();
        assert_eq!(random.len(), 32, "{out}");
        (format!("{out}{err}"), random)
    };
    let warning = "this CPU has neither RDSEED nor RDRAND";

    let (with, r0) = boot(None);
    let has_hw = with.contains("rdrand=1") || with.contains("rdseed=1");
    assert_eq!(with.contains(warning), !has_hw, "{with}");

    let (weak1, r1) = boot(Some("qemu64"));
    assert!(weak1.contains("rdrand=0 rdseed=0"), "{weak1}");
    assert_eq!(weak1.matches(warning).count(), 1, "warned once:\n{weak1}");
    let (_, r2) = boot(Some("qemu64"));
    assert!(
        r0 != r1 && r1 != r2 && r0 != r2,
        "boots gave equal bytes: {r0} {r1} {r2}"
    );
}
