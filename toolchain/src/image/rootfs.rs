//! The root file system of an app image: the recipe's `[rootfs]` files gathered in one
//! folder, which linuxu mounts through hostfs and kvm packs into an initrd.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::packages::recipe::{guest_relative, Recipe};
use crate::paths;

/// The recipe's `[rootfs]` files copied into `build/<name>-<version>/rootfs` (plus an
/// empty `/tmp`), the folder `ukport run` mounts as the image's `/` through hostfs.
/// The program files of `[build] programs` are put there by the build
/// ([`install_programs`]).
/// Files are overwritten in place, never the folder removed, so an image already
/// running from it keeps working; a file dropped from `[rootfs]` disappears at the next
/// `ukport build`, which starts the build folder afresh.
pub fn assemble_rootfs(r: &Recipe) -> Result<Option<PathBuf>> {
    if r.rootfs.is_empty() && r.build.programs.is_empty() {
        return Ok(None);
    }
    let dir = rootfs_dir(r);
    fs::create_dir_all(dir.join("tmp"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    for (guest, file) in &r.rootfs {
        let from = r.recipes_dir().join(file);
        place(&dir, guest_path(r, "[rootfs]", guest)?, &from).with_context(|| {
            format!(
                "[rootfs] \"{guest}\" = \"{file}\": cannot copy {} (from {})",
                from.display(),
                r.path().display()
            )
        })?;
    }
    Ok(Some(dir))
}

/// Where a recipe's root folder is assembled.
fn rootfs_dir(r: &Recipe) -> PathBuf {
    paths::build_dir().join(r.id()).join("rootfs")
}

/// `guest` (a key of `table`) as a path relative to the root: absolute, without `.`
/// or `..`.
fn guest_path<'a>(r: &Recipe, table: &str, guest: &'a str) -> Result<&'a Path> {
    match guest_relative(guest) {
        Some(rel) => Ok(rel),
        None => bail!(
            "{table} \"{guest}\" in {} must be an absolute path without `.` or `..`",
            r.path().display()
        ),
    }
}

/// Copies `from` to `rel` below the root folder `dir`, making the folders on the way
/// (the file keeps its permissions: program files stay executable).
fn place(dir: &Path, rel: &Path, from: &Path) -> Result<()> {
    let to = dir.join(rel);
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    fs::copy(from, &to).with_context(|| format!("cannot copy to {}", to.display()))?;
    Ok(())
}

/// After a build: copy the program files of `[build] programs` from the build's
/// working directory `work` into the root folder (executable), where the image finds
/// them with execve.
pub fn install_programs(r: &Recipe, work: &Path) -> Result<()> {
    if r.build.programs.is_empty() {
        return Ok(());
    }
    let dir = rootfs_dir(r);
    for (guest, file) in &r.build.programs {
        let from = work.join(file);
        place(&dir, guest_path(r, "[build] programs", guest)?, &from).with_context(|| {
            format!(
                "[build] programs \"{guest}\" = \"{file}\": the build made no {} (link it with uk-cc --uk-program)",
                from.display()
            )
        })?;
    }
    Ok(())
}
