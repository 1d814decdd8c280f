//! The README's prerequisites, checked the way `.ci/run` checks them: both use
//! `.ci/prereqs` over the one list `.ci/prerequisites`. This test runs that script's
//! check on this machine (CI installed everything, so a missing package is a failure),
//! holds the README's `apt-get install` line to the same list, and shows that the check
//! really fails when a tool is absent.

use std::path::Path;
use std::process::Command;

use uk_tests::{find_on_path, repo_root, run_command, text, TempDir, DEFAULT_TIMEOUT};

/// `.ci/prereqs MODE` run from the repository root with `path` as PATH (None: ours).
fn prereqs(mode: &str, path: Option<&Path>) -> std::process::Output {
    let mut cmd = Command::new("/bin/bash");
    cmd.arg(".ci/prereqs").arg(mode).current_dir(repo_root());
    if let Some(p) = path {
        cmd.env_clear().env("PATH", p);
    }
    run_command(cmd, DEFAULT_TIMEOUT)
}

/// The (what, package) pairs of `.ci/prerequisites`.
fn entries() -> Vec<(String, String)> {
    let list = std::fs::read_to_string(repo_root().join(".ci/prerequisites")).unwrap();
    list.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect()
}

#[test]
fn ci_installs_through_the_same_script() {
    let ci = std::fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == ".ci/prereqs --install"),
        ".ci/run must install the prerequisites with `.ci/prereqs --install`:\n{ci}"
    );
}

#[test]
fn every_prerequisite_is_installed_here() {
    let out = prereqs("--check", None);
    assert!(
        out.status.success(),
        ".ci/prereqs --check failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let n = entries().len();
    assert_eq!(
        text(&out.stdout).trim(),
        format!("all {n} prerequisites are installed")
    );
}

#[test]
fn readme_names_exactly_the_listed_packages() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.contains("apt-get install"))
        .expect("README.md has an apt-get install line");
    let named: Vec<&str> = line
        .split("apt-get install")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .filter(|w| !w.starts_with('-'))
        .collect();
    let out = prereqs("--list", None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    let listed: Vec<&str> = listed.lines().collect();
    assert_eq!(
        named, listed,
        "README.md's apt-get line and .ci/prerequisites differ"
    );
    let from_file: Vec<String> = entries().into_iter().map(|(_, p)| p).collect();
    assert_eq!(listed, from_file);
}

/// With a PATH holding every listed tool but passt, the check fails and names passt,
/// and only passt.
#[test]
fn a_missing_tool_fails_the_check_and_names_its_package() {
    let dir = TempDir::new("prereqs");
    for (what, _) in entries() {
        if what.starts_with('/') || what == "passt" {
            continue;
        }
        let found = find_on_path(&what).unwrap_or_else(|| panic!("{what} is not installed"));
        std::os::unix::fs::symlink(&found, dir.join(&what)).unwrap();
    }
    let out = prereqs("--check", Some(dir.path()));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let said = text(&out.stdout);
    assert!(said.starts_with("missing: passt ("), "{said}");

    let empty = TempDir::new("prereqs-empty");
    let out = prereqs("--check", Some(empty.path()));
    assert_eq!(out.status.code(), Some(1));
    for (what, package) in entries() {
        if !what.starts_with('/') {
            assert!(
                text(&out.stdout).contains(&format!(" {package}")),
                "{package} not reported: {}",
                text(&out.stdout)
            );
        }
    }
}
