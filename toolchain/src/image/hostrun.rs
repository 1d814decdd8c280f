//! Starting a linuxu image as a host program: its boot options (memory, trace, root)
//! travel in an environment variable. Used by `ukport run` (crate::run::linuxu) and by
//! builds that run an image (a Python app's byte-compilation, crate::image::pyapp), so
//! it sits below both.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

pub const OPTS_ENV: &str = "UKIT_OPTS";

/// Boot options every linuxu run may carry: memory, the system-call trace and the root.
pub fn boot_options(memory: Option<&str>, trace: bool, root: Option<String>) -> Vec<String> {
    let mut opts: Vec<String> = memory.iter().map(|m| format!("mem={m}")).collect();
    if trace {
        opts.push("trace".to_string());
    }
    opts.extend(root);
    opts
}

/// The command that starts `image` with `args`, `env` added to this process's
/// environment and boot options `opts`.
pub fn command(
    image: &Path,
    args: &[String],
    env: &[(String, String)],
    opts: &[String],
) -> Command {
    let mut cmd = Command::new(image);
    cmd.args(args);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    if !opts.is_empty() {
        cmd.env(OPTS_ENV, opts.join(" "));
    }
    cmd
}

/// The `root=` boot option for a host folder (boot options are space-separated).
pub fn root_option(dir: &Path) -> Result<String> {
    let dir = fs::canonicalize(dir)
        .with_context(|| format!("root folder {} does not exist", dir.display()))?;
    if !dir.is_dir() {
        bail!("--root {}: not a folder", dir.display());
    }
    let s = dir.display().to_string();
    if s.contains(char::is_whitespace) {
        bail!("the root folder {s} contains a space, which boot options cannot carry; move it");
    }
    Ok(format!("root=hostfs:{s}"))
}
