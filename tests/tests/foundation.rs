//! Acceptance of the foundation: C programs built with `uk-cc` behave like the same
//! programs built with `musl-gcc -static` (same libc, Linux underneath instead of ukit).

use uk_tests::{build_native, build_uk, c_source, exit_code, run, text, TempDir};

/// Builds `tests/c/<name>.c` both ways into `dir`; returns (image, native).
fn build_both(dir: &TempDir, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let src = c_source(&format!("{name}.c"));
    let image = dir.join(format!("{name}.uk"));
    let native = dir.join(format!("{name}.native"));
    build_uk(&src, &image);
    build_native(&src, &native);
    (image, native)
}

/// Lines the ukit kernel wrote to stderr that report a system call it answered with
/// ENOSYS ("unsupported system call <name> (<n>)" for a known name, "unknown system call
/// number <n>" otherwise).
fn enosys_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            (l.contains("unsupported system call") || l.contains("unknown system call"))
                && l.contains("ENOSYS")
        })
        .collect()
}

#[test]
fn foundation_program_matches_native_musl() {
    let dir = TempDir::new("foundation");
    let (image, native) = build_both(&dir, "foundation");
    let args = ["alpha", "two words", "", "ünïcødé"];
    // A value that differs per run, so a hard-coded answer cannot pass.
    let value = format!(
        "value-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    );
    let env = [("UK_FOUNDATION_VAR", value.as_str())];

    let want = run(&native, &args, &env);
    let got = run(&image, &args, &env);
    let (want_out, got_out) = (text(&want.stdout), text(&got.stdout));
    let got_err = text(&got.stderr);

    assert_eq!(
        exit_code(&want.status),
        3,
        "the native build itself failed; stdout:\n{want_out}\nstderr:\n{}",
        text(&want.stderr)
    );
    assert!(
        want_out.contains(&value),
        "native run did not echo the variable"
    );
    assert_eq!(
        got_out, want_out,
        "ukit image stdout differs from native musl (left: ukit)\nukit stderr:\n{got_err}"
    );
    assert_eq!(
        exit_code(&got.status),
        3,
        "ukit image exit status; stderr:\n{got_err}"
    );
    assert!(
        enosys_lines(&got_err).is_empty(),
        "the foundation program needs system calls ukit does not implement:\n{got_err}"
    );
    // Whatever the kernel logs is marked as the kernel's; the program itself writes
    // to stderr only when a check failed.
    for line in got_err.lines() {
        assert!(
            line.starts_with("ukit:"),
            "unexpected stderr line from the image: {line:?}\nfull stderr:\n{got_err}"
        );
    }
}

#[test]
fn unknown_syscall_is_enosys_and_logged_once() {
    let dir = TempDir::new("enosys");
    let (image, native) = build_both(&dir, "enosys");
    let want = run(&native, &[], &[]);
    let got = run(&image, &[], &[]);
    let got_err = text(&got.stderr);

    assert_eq!(exit_code(&want.status), 0, "native enosys build failed");
    assert_eq!(
        text(&got.stdout),
        text(&want.stdout),
        "ukit stdout differs from native (left: ukit)\nukit stderr:\n{got_err}"
    );
    assert_eq!(exit_code(&got.status), 0, "ukit stderr:\n{got_err}");

    let lines = enosys_lines(&got_err);
    let for_999: Vec<&&str> = lines
        .iter()
        .filter(|l| l.split(|c: char| !c.is_ascii_digit()).any(|w| w == "999"))
        .collect();
    assert_eq!(
        for_999.len(),
        1,
        "expected exactly one unsupported-system-call line naming 999, stderr:\n{got_err}"
    );
    assert!(
        for_999[0].starts_with("ukit:"),
        "kernel log lines start with `ukit:`: {:?}",
        for_999[0]
    );
    assert!(
        text(&want.stderr).is_empty(),
        "the native build must not print the log line: it comes from ukit"
    );
}
