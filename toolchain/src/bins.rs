//! The tool binaries find each other: `ukport` hands the uk-cc next to it to app and
//! port builds (as `CC`) and to relinks.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};

use crate::paths;

/// The uk-cc binary installed next to the running tool, if there is one.
pub fn uk_cc_path() -> Option<PathBuf> {
    let p = std::env::current_exe().ok()?.with_file_name("uk-cc");
    p.is_file().then_some(p)
}

/// The uk-cc next to this ukport. `cargo run --bin ukport` builds only ukport, so when
/// uk-cc is missing or older than ukport (and ukport runs from a cargo target folder),
/// build it the same way first: the README's one command must work on a fresh clone.
pub fn uk_cc() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let p = exe.with_file_name("uk-cc");
    let mtime = |f: &Path| fs::metadata(f).and_then(|m| m.modified()).ok();
    let stale = match (mtime(&p), mtime(&exe)) {
        (None, _) => true,
        (Some(cc), Some(port)) => cc < port,
        _ => false,
    };
    if stale {
        let profile_dir = exe
            .parent()
            .ok_or_else(|| anyhow!("ukport has no folder"))?;
        let target_dir = profile_dir
            .parent()
            .ok_or_else(|| anyhow!("ukport is not in a cargo target folder"))?;
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        if matches!(profile, "release" | "debug") && paths::repo_root().join("Cargo.toml").is_file()
        {
            if !p.is_file() {
                eprintln!("ukport: building uk-cc next to ukport ({})", p.display());
            }
            let mut cmd = Command::new("cargo");
            cmd.current_dir(paths::repo_root())
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "uk-toolchain",
                    "--bin",
                    "uk-cc",
                    "--target-dir",
                ])
                .arg(target_dir);
            if profile == "release" {
                cmd.arg("--release");
            }
            let st = cmd.status().context("cannot run cargo to build uk-cc")?;
            if st.success() {
                // cargo leaves an up-to-date uk-cc untouched: mark it checked so the
                // next ukport run does not ask cargo again.
                if let Ok(f) = fs::File::options().write(true).open(&p) {
                    let _ = f.set_modified(std::time::SystemTime::now());
                }
            }
            if !st.success() {
                bail!("building uk-cc failed ({st}); try `cargo build --release --bin uk-cc --bin ukport`");
            }
        }
    }
    if !p.is_file() {
        bail!(
            "uk-cc is not next to ukport ({}); build both with `cargo build --release --bin uk-cc --bin ukport`",
            p.display()
        );
    }
    Ok(p)
}
