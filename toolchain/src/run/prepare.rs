//! `[[run.prepare]]`: files an image needs that are made on its first run, by running
//! another app's image on the same root (recipes/nginx-tls.toml: the `openssl` image makes
//! a self-signed certificate when the root has none). Only the recipe's own root is
//! prepared; a folder given with `--root` is the user's and is left as it is.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::linuxu;
use crate::image::rootfs;
use crate::packages::recipe::{guest_relative, Prepare, Recipe};
use crate::platform::Platform;

/// The recipe's root assembled (as [`rootfs::assemble_rootfs`]) and its
/// `[[run.prepare]]` steps run where a file they create is missing.
pub fn prepare_root(r: &Recipe) -> Result<Option<PathBuf>> {
    let Some(dir) = rootfs::assemble_rootfs(r)? else {
        if !r.run.prepare.is_empty() {
            bail!(
                "{}: [[run.prepare]] needs a [rootfs] to make its files in",
                r.path().display()
            );
        }
        return Ok(None);
    };
    for step in &r.run.prepare {
        run_step(r, step, &dir)?;
    }
    Ok(Some(dir))
}

/// Host paths of `step`'s files under `root`, and whether all of them exist.
fn created(step: &Prepare, root: &Path) -> (Vec<PathBuf>, bool) {
    let paths: Vec<PathBuf> = step
        .creates
        .iter()
        .filter_map(|c| guest_relative(c))
        .map(|rel| root.join(rel))
        .collect();
    let all = paths.iter().all(|p| p.is_file());
    (paths, all)
}

fn run_step(r: &Recipe, step: &Prepare, root: &Path) -> Result<()> {
    let (paths, present) = created(step, root);
    if present {
        return Ok(());
    }
    for p in &paths {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
    }
    let host = Platform::build_host();
    let (image, helper) = super::resolve_image(host, &step.app)
        .with_context(|| format!("{}: [[run.prepare]] app {}", r.name, step.app))?;
    let memory = helper.as_ref().and_then(|h| h.run.memory.clone());
    let opts = linuxu::boot_options(memory.as_deref(), false, Some(linuxu::root_option(root)?));
    eprintln!(
        "ukport: {}: {} missing; running `{} {}`",
        r.name,
        step.creates.join(", "),
        step.app,
        step.args.join(" ")
    );
    let out = linuxu::command(&image, &step.args, &[], &opts)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", image.display()))?;
    let (_, made) = created(step, root);
    if !out.status.success() || !made {
        bail!(
            "{}: [[run.prepare]] `{} {}` failed ({}; files {}):\n{}{}",
            r.name,
            step.app,
            step.args.join(" "),
            out.status,
            if made { "made" } else { "missing" },
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if !step.say.is_empty() {
        eprintln!(
            "{}",
            step.say.replace("{root}", &root.display().to_string())
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_reports_missing_files_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let step = Prepare {
            creates: vec!["/etc/a.pem".into(), "/etc/b.pem".into()],
            app: "x".into(),
            ..Default::default()
        };
        let (paths, all) = created(&step, dir.path());
        assert_eq!(
            paths,
            [dir.path().join("etc/a.pem"), dir.path().join("etc/b.pem")]
        );
        assert!(!all);
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/a.pem"), "a").unwrap();
        assert!(!created(&step, dir.path()).1, "one file is not enough");
        std::fs::write(dir.path().join("etc/b.pem"), "b").unwrap();
        assert!(created(&step, dir.path()).1);
    }
}
