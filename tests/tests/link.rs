//! Linking the way real build systems do: `main` may live in a static library the program
//! links (OpenSSL's test programs take theirs from test/libtestutil.a), and the image
//! must behave like the same objects linked with `musl-gcc -static`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use uk_tests::{ensure_setup, exit_code, require_tool, run, run_command, text, tools, TempDir};

fn step(mut cmd: Command, dir: &Path, what: &str) {
    cmd.current_dir(dir);
    let out = run_command(cmd, Duration::from_secs(300));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Builds `prog` in `dir` with `cc`: main.c into libmain.a, then prog.c linked with
/// `-L. -lmain` (so nothing but the library defines `main`).
fn build(cc: &[&str], dir: &Path) {
    std::fs::write(
        dir.join("main.c"),
        "#include <stdio.h>\nint setup_tests(int argc);\n\
         int main(int argc, char **argv) {\n\
         \x20   (void)argv;\n\
         \x20   int r = setup_tests(argc);\n\
         \x20   printf(\"main from the library, setup_tests -> %d\\n\", r);\n\
         \x20   return r == 42 ? 0 : 1;\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("prog.c"),
        "int setup_tests(int argc) { return 40 + argc; }\n",
    )
    .unwrap();
    let cc_cmd = |args: &[&str]| {
        let mut c = Command::new(cc[0]);
        c.args(&cc[1..]).args(args);
        c
    };
    step(
        cc_cmd(&["-O2", "-c", "main.c", "-o", "main.o"]),
        dir,
        "compile main.c",
    );
    let mut ar = Command::new(require_tool("ar"));
    ar.args(["rcs", "libmain.a", "main.o"]);
    step(ar, dir, "ar");
    step(
        cc_cmd(&["-O2", "-o", "prog", "prog.c", "-L.", "-lmain"]),
        dir,
        "link prog",
    );
}

#[test]
fn main_from_a_static_library() {
    ensure_setup();
    let uk = TempDir::new("link-main-uk");
    let native = TempDir::new("link-main-native");
    build(&[tools().uk_cc.to_str().unwrap()], uk.path());
    build(&["musl-gcc", "-static"], native.path());
    let args = ["one-argument"];
    let got = run(&uk.join("prog"), &args, &[]);
    let want = run(&native.join("prog"), &args, &[]);
    assert_eq!(
        text(&want.stdout),
        "main from the library, setup_tests -> 42\n"
    );
    assert_eq!(
        text(&got.stdout),
        text(&want.stdout),
        "stderr: {}",
        text(&got.stderr)
    );
    assert_eq!(exit_code(&got.status), 0);
}
