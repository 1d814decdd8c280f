//! The host tools on bad input: they fail, say what is wrong and where, and leave the
//! cache as it was.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use uk_tests::{exit_code, require_tool, run_command, text, tools, TempDir, DEFAULT_TIMEOUT};

fn uk_cc(args: &[&str], cwd: &Path) -> Output {
    let mut cmd = Command::new(&tools().uk_cc);
    cmd.args(args).current_dir(cwd);
    run_command(cmd, DEFAULT_TIMEOUT)
}

/// `ukport <args>` with its cache in `cache` (never the user's).
fn ukport(args: &[&str], cache: &Path) -> Output {
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(args).env("UKIT_CACHE", cache);
    run_command(cmd, Duration::from_secs(120))
}

#[test]
fn uk_cc_missing_source_fails_like_gcc() {
    let dir = TempDir::new("cc-missing");
    let args = ["-O2", "-c", "no-such-file-4711.c", "-o", "x.o"];
    let mut gcc = Command::new(require_tool("gcc"));
    gcc.args(args).current_dir(dir.path());
    let want = run_command(gcc, DEFAULT_TIMEOUT);
    let got = uk_cc(&args, dir.path());
    let err = text(&got.stderr);
    assert!(!want.status.success(), "gcc accepted a missing file?");
    assert_eq!(
        exit_code(&got.status),
        exit_code(&want.status),
        "uk-cc's exit status differs from gcc's; stderr:\n{err}"
    );
    assert!(
        err.contains("no-such-file-4711.c"),
        "uk-cc's message does not name the missing file:\n{err}"
    );
    assert!(!dir.join("x.o").exists(), "an object was written anyway");
}

/// A kernel option value outside its choices (here the build profile) stops the link
/// with a message that names the option and the allowed values, and writes nothing.
#[test]
fn uk_cc_rejects_an_unknown_kernel_profile() {
    let dir = TempDir::new("cc-bad-optimize");
    std::fs::write(dir.join("m.c"), "int main(void) { return 0; }\n").unwrap();
    let got = uk_cc(
        &["--uk-set", "uk.optimize=fast", "-o", "prog", "m.c"],
        dir.path(),
    );
    let err = text(&got.stderr);
    assert!(!got.status.success(), "uk-cc accepted uk.optimize=fast");
    assert!(
        err.contains("uk.optimize") && err.contains("`fast` is not one of size, speed"),
        "unclear message:\n{err}"
    );
    assert!(!dir.join("prog").exists(), "an image was written anyway");
}

#[test]
fn uk_cc_link_of_missing_file_fails_like_gcc() {
    let dir = TempDir::new("cc-missing-link");
    let args = ["-O2", "-o", "prog", "gone-0815.c"];
    let mut gcc = Command::new(require_tool("gcc"));
    gcc.args(args).current_dir(dir.path());
    let want = run_command(gcc, DEFAULT_TIMEOUT);
    let got = uk_cc(&args, dir.path());
    let err = text(&got.stderr);
    assert_eq!(
        exit_code(&got.status),
        exit_code(&want.status),
        "stderr:\n{err}"
    );
    assert!(
        err.contains("gone-0815.c"),
        "message does not name the file:\n{err}"
    );
    assert!(!dir.join("prog").exists(), "an image was written anyway");
}

/// A recipe file in `dir` whose line `bad_line` (1-based) is `bad`; returns its path.
fn recipe_with_bad_line(dir: &TempDir, file: &str, bad: &str, bad_line: usize) -> PathBuf {
    let mut lines = vec![
        "name = \"broken\"".to_string(),
        "version = \"1.0\"".to_string(),
        "summary = \"a recipe with a mistake\"".to_string(),
        "".to_string(),
        "[source]".to_string(),
        "path = \"broken\"".to_string(),
        "".to_string(),
        "[build]".to_string(),
        "steps = [[\"make\"]]".to_string(),
        "binary = \"broken\"".to_string(),
    ];
    lines.insert(bad_line - 1, bad.to_string());
    let path = dir.join(file);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write recipe");
    path
}

fn assert_points_at(out: &Output, path: &Path, line: usize) {
    let err = text(&out.stderr);
    assert!(
        !out.status.success(),
        "ukport accepted a broken recipe:\n{err}"
    );
    let want = format!("{}:{line}", path.display());
    assert!(
        err.contains(&want),
        "the error does not point at {want}:\n{err}"
    );
}

#[test]
fn recipe_toml_syntax_error_reports_file_and_line() {
    let dir = TempDir::new("recipe-syntax");
    let cache = TempDir::new("recipe-syntax-cache");
    // The broken line moves with the pid, so that no fixed line number can pass.
    let line = 4 + (std::process::id() as usize % 5);
    let path = recipe_with_bad_line(&dir, "broken.toml", "this is = = not toml", line);
    let out = ukport(&["build", path.to_str().unwrap()], cache.path());
    assert_points_at(&out, &path, line);
}

#[test]
fn recipe_unknown_key_reports_file_and_line() {
    let dir = TempDir::new("recipe-key");
    let cache = TempDir::new("recipe-key-cache");
    let line = 2 + (std::process::id() as usize % 3);
    let path = recipe_with_bad_line(&dir, "typo.toml", "verison = \"2.0\"", line);
    let out = ukport(&["build", path.to_str().unwrap()], cache.path());
    assert_points_at(&out, &path, line);
    assert!(
        text(&out.stderr).contains("verison"),
        "the error does not name the unknown key:\n{}",
        text(&out.stderr)
    );
}

/// Makes `dir/<name>-1.0.tar.gz` (a tiny source tree) and returns it with its sha256.
fn tarball(dir: &TempDir, name: &str) -> (PathBuf, String) {
    let tree = dir.join(format!("{name}-1.0"));
    std::fs::create_dir_all(&tree).unwrap();
    // Content differs per run, so its digest cannot be hard-coded anywhere.
    let stamp = format!(
        "{:?} {}\n",
        std::time::SystemTime::now(),
        std::process::id()
    );
    std::fs::write(tree.join("README"), stamp).unwrap();
    std::fs::write(tree.join("Makefile"), "all:\n\ttrue\n").unwrap();
    let archive = dir.join(format!("{name}-1.0.tar.gz"));
    let mut tar = Command::new(require_tool("tar"));
    tar.arg("czf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.path())
        .arg(format!("{name}-1.0"));
    assert!(
        run_command(tar, DEFAULT_TIMEOUT).status.success(),
        "tar failed"
    );
    let mut sum = Command::new(require_tool("sha256sum"));
    sum.arg(&archive);
    let out = run_command(sum, DEFAULT_TIMEOUT);
    let digest = text(&out.stdout)
        .split_whitespace()
        .next()
        .expect("sha256sum output")
        .to_string();
    (archive, digest)
}

fn fetch_recipe(dir: &TempDir, name: &str, archive: &Path, sha256: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let text = format!(
        "name = \"{name}\"\nversion = \"1.0\"\nsummary = \"sha256 check\"\n\n\
         [source]\nurl = \"file://{}\"\nsha256 = \"{sha256}\"\n\n\
         [build]\nsteps = [[\"make\"]]\nbinary = \"{name}\"\n",
        archive.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn sha256_mismatch_is_refused_and_cache_untouched() {
    let dir = TempDir::new("sha");
    let cache = TempDir::new("sha-cache");
    let (archive, digest) = tarball(&dir, "shatest");
    // The right digest with its first hex digit changed.
    let first = digest.chars().next().unwrap();
    let flipped = if first == '0' { '1' } else { '0' };
    let wrong = format!("{flipped}{}", &digest[1..]);
    let recipe = fetch_recipe(&dir, "shatest", &archive, &wrong);

    let out = ukport(&["fetch", recipe.to_str().unwrap()], cache.path());
    let err = text(&out.stderr);
    assert!(
        !out.status.success(),
        "ukport accepted a wrong sha256:\n{err}"
    );
    assert!(
        err.contains(&wrong) && err.contains(&digest),
        "the error should show the expected and the actual sha256:\n{err}"
    );
    let sources = cache.join("sources");
    let left = files_under(&sources);
    assert!(
        left.is_empty(),
        "the cache's sources/ holds files after a refused download: {left:?}"
    );
}

#[test]
fn matching_sha256_lands_in_the_cache() {
    // The counterpart of the refusal: with the right digest the same recipe's archive
    // is accepted, so the refusal above is about the digest and nothing else.
    let dir = TempDir::new("sha-ok");
    let cache = TempDir::new("sha-ok-cache");
    let (archive, digest) = tarball(&dir, "shaok");
    let recipe = fetch_recipe(&dir, "shaok", &archive, &digest);
    let out = ukport(&["fetch", recipe.to_str().unwrap()], cache.path());
    let cached = cache.join("sources").join("shaok-1.0.tar.gz");
    assert!(
        cached.is_file(),
        "the verified archive is not in sources/ (ukport stderr:\n{})",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        std::fs::read(&archive).unwrap(),
        "the cached archive differs from the source"
    );
}
