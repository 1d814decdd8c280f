//! The console streams behave like Linux's when the shell redirects them: stdin from a
//! file seeks (and stdio gives back its unread buffer at exit), stdin from a pipe
//! answers ESPIPE; /dev/tty is the console on a terminal and ENXIO without one; on a
//! terminal, tcsetattr really switches it (raw mode), and the image gives the terminal
//! its settings back when it ends. Each run is compared with the native musl build of
//! the same program.

use std::process::{Command, Stdio};
use uk_tests::{build_native, build_uk, c_source, run_command, text, TempDir, DEFAULT_TIMEOUT};

/// Runs `prog` with stdin from `input` (a file when `file`, else a pipe that carries the
/// same bytes); returns stdout and, for a file, the offset the shell sees afterwards.
fn run_with_stdin(prog: &std::path::Path, input: &std::path::Path, file: bool) -> String {
    let mut cmd = if file {
        // `prog < input; then tell the offset the shell's descriptor has`: the program
        // shares the open file with the shell, as in a script reading a file in turns.
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("exec 3<\"$1\"; \"$2\" <&3; echo \"after: $(head -c 3 <&3)\"")
            .arg("sh")
            .arg(input)
            .arg(prog);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("cat \"$1\" | \"$2\"")
            .arg("sh")
            .arg(input)
            .arg(prog);
        c
    };
    cmd.stdin(Stdio::null());
    let out = run_command(cmd, DEFAULT_TIMEOUT);
    assert!(
        out.status.success(),
        "{}: {}",
        prog.display(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn stdin_seeks_on_files_and_not_on_pipes() {
    let tmp = TempDir::new("console");
    let (image, native) = (tmp.join("seek.uk"), tmp.join("seek.native"));
    build_uk(&c_source("stdin_seek.c"), &image);
    build_native(&c_source("stdin_seek.c"), &native);
    let input = tmp.join("input.txt");
    std::fs::write(&input, "abcdefghij\n").unwrap();
    for file in [true, false] {
        let want = run_with_stdin(&native, &input, file);
        let got = run_with_stdin(&image, &input, file);
        assert_eq!(
            got,
            want,
            "stdin from a {}",
            if file { "file" } else { "pipe" }
        );
    }
    // The file case really seeked (not two equal failures).
    let got = run_with_stdin(&image, &input, true);
    assert!(
        got.contains("cur 3 errno -") && got.contains("read 3 'bcd'"),
        "{got}"
    );
    assert!(run_with_stdin(&image, &input, false).contains("Invalid seek"));
}

/// Runs `prog` on a fresh terminal (script(1) gives it a pseudo-terminal as its
/// controlling terminal and standard streams); returns what the terminal showed.
fn run_on_a_terminal(prog: &std::path::Path) -> String {
    on_a_terminal(prog, &prog.display().to_string())
}

/// Runs shell command `line` on a fresh terminal through script(1); `prog` names the
/// program in a failure.
fn on_a_terminal(prog: &std::path::Path, line: &str) -> String {
    let mut cmd = Command::new(uk_tests::require_tool("script"));
    cmd.args(["-qec", line, "/dev/null"]).stdin(Stdio::null());
    let out = run_command(cmd, DEFAULT_TIMEOUT);
    assert!(
        out.status.success(),
        "{}: {}",
        prog.display(),
        text(&out.stderr)
    );
    text(&out.stdout).replace("\r\n", "\n")
}

#[test]
fn dev_tty_on_a_terminal_is_the_console() {
    let tmp = TempDir::new("devtty");
    let (image, native) = (tmp.join("tty.uk"), tmp.join("tty.native"));
    build_uk(&c_source("dev_tty.c"), &image);
    build_native(&c_source("dev_tty.c"), &native);
    let want = run_on_a_terminal(&native);
    let got = run_on_a_terminal(&image);
    assert_eq!(got, want);
    // A real run, not two equal failures to open.
    assert!(
        got.contains("isatty 1") && got.contains("written to the terminal"),
        "{got}"
    );
    // Without a terminal (a new session, standard streams not terminals): ENXIO on
    // both sides.
    let detached = |prog: &std::path::Path| {
        let mut c = Command::new(uk_tests::require_tool("setsid"));
        c.arg("-w").arg(prog).stdin(Stdio::null());
        run_command(c, DEFAULT_TIMEOUT)
    };
    let (out, native_out) = (detached(&image), detached(&native));
    assert_eq!(text(&out.stdout), text(&native_out.stdout));
    assert!(text(&out.stdout).contains("No such device or address"));
}

/// Runs `prog`, then `stty -a`, on one fresh terminal; returns what the terminal showed.
fn run_then_stty(prog: &std::path::Path) -> String {
    on_a_terminal(prog, &format!("'{}'; stty -a", prog.display()))
}

/// The words of `stty -a` output that name `flag` set or cleared.
fn stty_flag(out: &str, flag: &str) -> Option<bool> {
    let minus = format!("-{flag}");
    out.split([' ', ';', '\n']).find_map(|w| {
        if w == flag {
            Some(true)
        } else if w == minus {
            Some(false)
        } else {
            None
        }
    })
}

#[test]
fn tcsetattr_switches_the_terminal_and_the_image_restores_it() {
    let tmp = TempDir::new("console-raw");
    let (image, native) = (tmp.join("raw.uk"), tmp.join("raw.native"));
    build_uk(&c_source("console_raw.c"), &image);
    build_native(&c_source("console_raw.c"), &native);
    let want = run_then_stty(&native);
    let got = run_then_stty(&image);
    // What the program saw: cooked, then raw, as natively.
    let lines = |o: &str| -> Vec<String> {
        o.lines()
            .filter(|l| l.starts_with("before") || l.starts_with("after"))
            .map(String::from)
            .collect()
    };
    assert_eq!(lines(&got), lines(&want), "ukit:\n{got}\nnative:\n{want}");
    assert!(
        want.contains("before icanon=1 echo=1 isig=1")
            && want.contains("after icanon=0 echo=0 isig=0 opost=0"),
        "{want}"
    );
    // The native program leaves its terminal raw; the image puts it back as it was.
    assert_eq!(stty_flag(&want, "icanon"), Some(false), "{want}");
    assert_eq!(stty_flag(&got, "icanon"), Some(true), "{got}");
    assert_eq!(stty_flag(&got, "echo"), Some(true), "{got}");
}
