//! The root file system of an app image: the recipe's `[rootfs]` files gathered in one
//! folder, which linuxu mounts through hostfs and kvm packs into an initrd.

use std::fs;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::packages::recipe::{guest_relative, Recipe};
use crate::paths;

/// The recipe's `[rootfs]` files copied into `build/<name>-<version>/rootfs` (plus an
/// empty `/tmp`), the folder `ukport run` mounts as the image's `/` through hostfs.
/// Files are overwritten in place, never the folder removed, so an image already
/// running from it keeps working; a file dropped from `[rootfs]` disappears at the next
/// `ukport build`, which starts the build folder afresh.
pub fn assemble_rootfs(r: &Recipe) -> Result<Option<PathBuf>> {
    if r.rootfs.is_empty() {
        return Ok(None);
    }
    let dir = paths::build_dir().join(r.id()).join("rootfs");
    fs::create_dir_all(dir.join("tmp"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    for (guest, file) in &r.rootfs {
        let Some(rel) = guest_relative(guest) else {
            bail!(
                "[rootfs] \"{guest}\" in {} must be an absolute path without `.` or `..`",
                r.path().display()
            );
        };
        let from = r.recipes_dir().join(file);
        let to = dir.join(rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        fs::copy(&from, &to).with_context(|| {
            format!(
                "[rootfs] \"{guest}\" = \"{file}\": cannot copy {} (from {})",
                from.display(),
                r.path().display()
            )
        })?;
    }
    Ok(Some(dir))
}
