//! Recipe authoring end to end: `ukport new` on two real upstream programs that have no
//! recipe in recipes/, taken from their Debian source packages (upstream is often
//! unreachable): GNU hello 2.10 (autotools) and cmark 0.30.2 (CMake). Each scaffold must
//! say what it found, build, and give an image whose output is right; the files it
//! writes are checked key by key, and they are found along the recipe search path.
//! A failing first build must name the next thing to try.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use uk_tests::{ensure_setup, run_command, text, tools, TempDir};

/// Fetch, configure, build and the first kernel for a new configuration.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

fn ukport(args: &[&str], cwd: &Path) -> std::process::Output {
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(args).current_dir(cwd);
    run_command(cmd, BUILD_TIMEOUT)
}

use uk_tests::stdout_ok as ok;

/// `IMAGE-RECIPE args` through `ukport run`, with `input` on stdin.
fn run_with_stdin(recipe: &Path, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(&tools().ukport)
        .arg("run")
        .arg(recipe)
        .arg("--")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    ok(&out, "ukport run")
}

fn line<'a>(recipe: &'a str, key: &str) -> &'a str {
    recipe
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no `{key}` in:\n{recipe}"))
}

#[test]
fn new_recipes_for_an_autotools_and_a_cmake_program_build_and_run() {
    ensure_setup();
    let dir = TempDir::new("recipe-new");

    // GNU hello: autotools.
    let t = Instant::now();
    let out = ok(
        &ukport(
            &[
                "new",
                "gnu-hello",
                "--from",
                "debian:hello=2.10-3",
                "--force",
            ],
            dir.path(),
        ),
        "ukport new gnu-hello",
    );
    eprintln!(
        "ukport new gnu-hello (fetch + first build): {:.1}s",
        t.elapsed().as_secs_f64()
    );
    assert!(out.contains("build system: autotools (configure)"), "{out}");
    assert!(out.contains("binary: hello"), "{out}");
    let recipe = std::fs::read_to_string(dir.join("gnu-hello.toml")).unwrap();
    assert_eq!(line(&recipe, "name"), "name = \"gnu-hello\"");
    assert_eq!(line(&recipe, "version"), "version = \"2.10\"");
    assert_eq!(line(&recipe, "kind"), "kind = \"app\"");
    // The sha256 the scaffold computed is the one Debian's Sources index publishes for
    // hello_2.10.orig.tar.gz.
    assert_eq!(
        line(&recipe, "debian"),
        "debian = { package = \"hello\", version = \"2.10-3\", sha256 = \
         \"31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b\" }"
    );
    assert!(
        recipe.contains("    [\"./configure\"],\n    [\"make\", \"-j{jobs}\"],\n"),
        "{recipe}"
    );
    assert_eq!(line(&recipe, "binary"), "binary = \"hello\"");
    assert!(recipe.contains("args = [\"--version\"]"), "{recipe}");
    assert!(recipe.contains("hello (GNU Hello) 2.10"), "{recipe}");
    ok(
        &ukport(&["check", "gnu-hello.toml"], dir.path()),
        "ukport check",
    );

    // Found by name from the working directory; its own smoke test passes.
    let test = ok(&ukport(&["test", "gnu-hello"], dir.path()), "ukport test");
    assert!(test.starts_with("PASS gnu-hello"), "{test}");
    let hello = dir.join("gnu-hello.toml");
    assert_eq!(run_with_stdin(&hello, &[], ""), "Hello, world!\n");
    assert_eq!(run_with_stdin(&hello, &["-t"], ""), "hello, world\n");
    assert_eq!(
        run_with_stdin(&hello, &["-g", "ukit sagt hallo"], ""),
        "ukit sagt hallo\n"
    );

    // cmark: CMake, through the toolchain file.
    let t = Instant::now();
    let out = ok(
        &ukport(
            &["new", "cmark", "--from", "debian:cmark=0.30.2-6", "--force"],
            dir.path(),
        ),
        "ukport new cmark",
    );
    eprintln!(
        "ukport new cmark (fetch + first build): {:.1}s",
        t.elapsed().as_secs_f64()
    );
    assert!(out.contains("build system: CMake"), "{out}");
    let recipe = std::fs::read_to_string(dir.join("cmark.toml")).unwrap();
    assert!(
        recipe.contains("\"-DCMAKE_TOOLCHAIN_FILE={cmake_toolchain}\"")
            && recipe.contains("\"-DCMARK_TESTS=OFF\"")
            && recipe.contains("\"-DCMARK_SHARED=OFF\""),
        "{recipe}"
    );
    assert!(recipe.contains("[\"cmake\", \"--build\", \"build\", \"-j\", \"{jobs}\"]"));
    assert_eq!(line(&recipe, "binary"), "binary = \"build/src/cmark\"");
    assert!(
        recipe.contains("cmark 0.30.2 - CommonMark converter"),
        "{recipe}"
    );
    // CommonMark: a tight list, an entity kept, raw HTML left out (cmark's default
    // safe mode), an indented code block escaped.
    let html = run_with_stdin(
        &dir.join("cmark.toml"),
        &[],
        "# ukit *builds* `cmark`\n\n- one\n- [two](https://example.org/?a=1&b=2)\n\n\
         end &amp; <b>raw</b>\n\n    code <x>\n",
    );
    assert_eq!(
        html,
        "<h1>ukit <em>builds</em> <code>cmark</code></h1>\n<ul>\n<li>one</li>\n\
         <li><a href=\"https://example.org/?a=1&amp;b=2\">two</a></li>\n</ul>\n\
         <p>end &amp; <!-- raw HTML omitted -->raw<!-- raw HTML omitted --></p>\n\
         <pre><code>code &lt;x&gt;\n</code></pre>\n"
    );

    // Both along $UKIT_RECIPES, from anywhere.
    let elsewhere = TempDir::new("recipe-new-elsewhere");
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["list"])
        .current_dir(elsewhere.path())
        .env("UKIT_RECIPES", dir.path());
    let list = ok(&run_command(cmd, Duration::from_secs(60)), "ukport list");
    for name in ["gnu-hello", "cmark"] {
        let row = list
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} not listed:\n{list}"));
        assert!(row.contains(&dir.path().display().to_string()), "{row}");
    }
}

/// A first build that fails says why and what to try: cmark's API test is C++, which
/// uk-cc does not compile.
#[test]
fn a_failed_first_build_names_the_next_thing_to_try() {
    ensure_setup();
    let dir = TempDir::new("recipe-new-fail");
    let out = ukport(
        &[
            "new",
            "cmark-cxx",
            "--from",
            "debian:cmark=0.30.2-6",
            "--",
            "-DCMARK_TESTS=ON",
        ],
        dir.path(),
    );
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("the first build of cmark-cxx failed"), "{err}");
    assert!(
        err.contains("Next things to try:")
            && err.contains("uk-cc compiles C only")
            && err.contains("-DCMARK_TESTS=OFF"),
        "{err}"
    );
    // The recipe stays for editing.
    assert!(dir.join("cmark-cxx.toml").is_file());
}
