//! `CC=uk-cc ./configure && make` on an autoconf-style project (tests/autoconf-hello):
//! the configure script compiles *and runs* test programs, so this only passes when
//! uk-cc's output is itself runnable. The result must behave like the same tree built
//! with `musl-gcc -static`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use uk_tests::{ensure_setup, exit_code, require_tool, run, run_command, text, tools, TempDir};

const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            // fs::copy keeps the permission bits, so ./configure stays executable.
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

fn elf_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(elf_files(&p));
        } else if std::fs::read(&p).is_ok_and(|b| b.starts_with(b"\x7fELF")) {
            out.push(p);
        }
    }
    out
}

fn step(cmd: Command, what: &str) -> Output {
    let out = run_command(cmd, BUILD_TIMEOUT);
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Copies the project to a fresh folder, runs `CC=<cc> ./configure && make` there and
/// returns (folder, the one executable ELF file make produced).
fn configure_and_make(tag: &str, cc: &str) -> (TempDir, PathBuf) {
    let src = uk_tests::repo_root().join("tests").join("autoconf-hello");
    assert!(
        src.join("configure").is_file(),
        "{} has no configure script",
        src.display()
    );
    let dir = TempDir::new(tag);
    let tree = dir.join("tree");
    copy_tree(&src, &tree);
    let before: Vec<PathBuf> = elf_files(&tree);

    let mut configure = Command::new("./configure");
    configure.current_dir(&tree).env("CC", cc);
    step(configure, &format!("CC={cc} ./configure"));
    let mut make = Command::new(require_tool("make"));
    make.current_dir(&tree).env("CC", cc);
    step(make, "make");

    let made: Vec<PathBuf> = elf_files(&tree)
        .into_iter()
        .filter(|p| !before.contains(p) && p.extension().is_none())
        .collect();
    assert_eq!(
        made.len(),
        1,
        "expected one program from make, found {made:?}"
    );
    let prog = made[0].clone();
    (dir, prog)
}

#[test]
fn configure_and_make_with_uk_cc() {
    ensure_setup();
    let uk_cc = tools().uk_cc.to_str().expect("utf-8 path").to_string();
    let (_uk_dir, uk_prog) = configure_and_make("autoconf-uk", &uk_cc);
    let (_native_dir, native_prog) = configure_and_make("autoconf-native", "musl-gcc -static");

    // The program make produced really is a ukit image: configure did not quietly fall
    // back to another compiler.
    let mut nm = Command::new(require_tool("nm"));
    nm.arg(&uk_prog);
    let syms = text(&run_command(nm, Duration::from_secs(60)).stdout);
    assert!(
        syms.lines().any(|l| l.ends_with(" _uk_start")),
        "{} has no _uk_start: not built by uk-cc",
        uk_prog.display()
    );

    // The project's own check (its expected line, on the uk-cc build).
    let mut check = Command::new(require_tool("make"));
    check.arg("check").current_dir(uk_prog.parent().unwrap());
    step(check, "make check");

    let args = ["from-the-test", "42"];
    let want = run(&native_prog, &args, &[]);
    let got = run(&uk_prog, &args, &[]);
    assert!(
        !text(&want.stdout).is_empty(),
        "the native program printed nothing"
    );
    assert_eq!(
        text(&got.stdout),
        text(&want.stdout),
        "ukit build's stdout differs from native (left: ukit); stderr:\n{}",
        text(&got.stderr)
    );
    assert_eq!(exit_code(&got.status), exit_code(&want.status));
}
