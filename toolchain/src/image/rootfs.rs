//! The root file system of an app image: the recipe's `[rootfs]` files gathered in one
//! folder, which linuxu mounts through hostfs and kvm packs into an initrd.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::programs::{guest_path, place, place_tree, rootfs_dir};
use crate::packages::recipe::Recipe;
use crate::platform::Platform;

/// The recipe's `[rootfs]` files copied into `build/<name>-<version>/rootfs` (plus an
/// empty `/tmp`), the folder `ukport run` mounts as the image's `/` through hostfs.
/// The program files of `[build] programs` and the trees of `[build] files` are put
/// there by the build ([`super::programs::install_programs`]).
/// Files are overwritten in place, never the folder removed, so an image already
/// running from it keeps working; a file dropped from `[rootfs]` disappears at the next
/// `ukport build`, which starts the build folder afresh.
/// The roots of the apps in `[depends] programs` come first (each built or updated
/// as needed, then copied in with its links), so that the recipe's own files win.
pub fn assemble_rootfs(r: &Recipe) -> Result<Option<PathBuf>> {
    assemble(r, &mut Vec::new())
}

fn assemble(r: &Recipe, seen: &mut Vec<String>) -> Result<Option<PathBuf>> {
    if r.python.is_some() {
        // A Python app's root is made by its build (image::pyapp); [rootfs] files go
        // on top of it, as for any app.
        let dir = rootfs_dir(r);
        if !dir.is_dir() {
            bail!(
                "the root of {} ({}) is not made yet: `ukport build {}` makes it",
                r.name,
                dir.display(),
                r.path().display()
            );
        }
    } else if r.rootfs.is_empty()
        && r.build.programs.is_empty()
        && r.build.files.is_empty()
        && r.depends.programs.is_empty()
    {
        return Ok(None);
    }
    let dir = rootfs_dir(r);
    fs::create_dir_all(dir.join("tmp"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    seen.push(r.name.clone());
    for dep in &r.depends.programs {
        if seen.contains(dep) {
            bail!(
                "[depends] programs of {}: {} depends on itself through {}",
                r.path().display(),
                dep,
                seen.join(" -> ")
            );
        }
        // Built (or updated) for the host, whose build installs its program files.
        let dep_recipe = super::build::resolve_built(Platform::build_host(), dep)
            .with_context(|| format!("{}: [depends] programs \"{dep}\"", r.name))?;
        if let Some(from) = assemble(&dep_recipe, seen)? {
            copy_root(&dir, &from).with_context(|| {
                format!(
                    "{}: cannot copy the root of {dep} ({})",
                    r.name,
                    from.display()
                )
            })?;
        }
    }
    seen.pop();
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

/// Copies everything below the root folder `from` into the root folder `dir`.
fn copy_root(dir: &Path, from: &Path) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(from)
        .with_context(|| format!("cannot read {}", from.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        place_tree(dir, Path::new(&e.file_name()), &e.path())?;
    }
    Ok(())
}

/// `[run] executable`: the image file appears at that guest path in the recipe's root
/// folder `dir` (a hard link, else a copy; an up-to-date one is kept). Returns the guest
/// path, the program's argv\[0\].
pub fn place_executable(r: &Recipe, dir: &Path, image: &Path) -> Result<Option<String>> {
    let Some(guest) = &r.run.executable else {
        return Ok(None);
    };
    let rel = guest_path(r, "[run] executable", guest)?;
    let to = dir.join(rel);
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    use std::os::unix::fs::MetadataExt;
    let same = |a: &fs::Metadata, b: &fs::Metadata| a.dev() == b.dev() && a.ino() == b.ino();
    let img = fs::metadata(image).with_context(|| format!("cannot read {}", image.display()))?;
    match fs::metadata(&to) {
        Ok(m) if same(&m, &img) => return Ok(Some(guest.clone())),
        Ok(_) => {
            fs::remove_file(&to).with_context(|| format!("cannot replace {}", to.display()))?
        }
        Err(_) => {}
    }
    if fs::hard_link(image, &to).is_err() {
        fs::copy(image, &to).with_context(|| {
            format!(
                "[run] executable \"{guest}\": cannot copy the image to {}",
                to.display()
            )
        })?;
    }
    Ok(Some(guest.clone()))
}
