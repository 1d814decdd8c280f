//! The root file system of an app image: the recipe's `[rootfs]` files gathered in one
//! folder, which linuxu mounts through hostfs and kvm packs into an initrd.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::packages::recipe::{guest_relative, Recipe};
use crate::paths;
use crate::platform::Platform;

/// The recipe's `[rootfs]` files copied into `build/<name>-<version>/rootfs` (plus an
/// empty `/tmp`), the folder `ukport run` mounts as the image's `/` through hostfs.
/// The program files of `[build] programs` and the trees of `[build] files` are put
/// there by the build ([`install_programs`]).
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
        let (_, dep_recipe) = crate::run::resolve_image(Platform::build_host(), dep)
            .with_context(|| format!("{}: [depends] programs \"{dep}\"", r.name))?;
        let dep_recipe = dep_recipe.context("a recipe name resolves to its recipe")?;
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

/// Where a recipe's root folder is assembled.
pub(crate) fn rootfs_dir(r: &Recipe) -> PathBuf {
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

/// Copies the folder `from` to `rel` below the root folder `dir`, with everything
/// below it (symbolic links as links).
fn place_tree(dir: &Path, rel: &Path, from: &Path) -> Result<()> {
    let meta =
        fs::symlink_metadata(from).with_context(|| format!("cannot read {}", from.display()))?;
    if meta.file_type().is_symlink() {
        let to = dir.join(rel);
        let target = fs::read_link(from)?;
        let _ = fs::remove_file(&to);
        std::os::unix::fs::symlink(&target, &to)
            .with_context(|| format!("cannot make the link {}", to.display()))?;
        return Ok(());
    }
    if !meta.is_dir() {
        return place(dir, rel, from);
    }
    fs::create_dir_all(dir.join(rel))
        .with_context(|| format!("cannot create {}", dir.join(rel).display()))?;
    let mut entries: Vec<_> = fs::read_dir(from)
        .with_context(|| format!("cannot read {}", from.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        place_tree(dir, &rel.join(e.file_name()), &e.path())?;
    }
    Ok(())
}

/// After a build: copy the program files of `[build] programs` from the build's
/// working directory `work` into the root folder (executable), where the image finds
/// them with execve, and the files and folders of `[build] files`.
pub fn install_programs(r: &Recipe, work: &Path) -> Result<()> {
    if r.build.programs.is_empty() && r.build.files.is_empty() {
        return Ok(());
    }
    let dir = rootfs_dir(r);
    for (guest, file) in &r.build.files {
        let from = work.join(file);
        place_tree(&dir, guest_path(r, "[build] files", guest)?, &from).with_context(|| {
            format!(
                "[build] files \"{guest}\" = \"{file}\": cannot copy {} into the root",
                from.display()
            )
        })?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_is_copied_with_its_folders_files_and_links() {
        let t = tempfile::tempdir().unwrap();
        let from = t.path().join("Lib");
        fs::create_dir_all(from.join("json/tests")).unwrap();
        fs::write(from.join("os.py"), "import sys\n").unwrap();
        fs::write(from.join("json/__init__.py"), "x = 1\n").unwrap();
        fs::create_dir_all(from.join("empty")).unwrap();
        std::os::unix::fs::symlink("os.py", from.join("link.py")).unwrap();
        let root = t.path().join("root");
        place_tree(&root, Path::new("usr/lib/py"), &from).unwrap();
        let to = root.join("usr/lib/py");
        assert_eq!(
            fs::read_to_string(to.join("os.py")).unwrap(),
            "import sys\n"
        );
        assert_eq!(
            fs::read_to_string(to.join("json/__init__.py")).unwrap(),
            "x = 1\n"
        );
        assert!(to.join("json/tests").is_dir() && to.join("empty").is_dir());
        assert_eq!(
            fs::read_link(to.join("link.py")).unwrap(),
            Path::new("os.py")
        );
        // A second copy over the first (a rebuild) overwrites in place.
        fs::write(from.join("os.py"), "import os\n").unwrap();
        place_tree(&root, Path::new("usr/lib/py"), &from).unwrap();
        assert_eq!(fs::read_to_string(to.join("os.py")).unwrap(), "import os\n");
        // A source the build did not make is an error, not an empty folder.
        assert!(place_tree(&root, Path::new("usr/lib/none"), &from.join("missing")).is_err());
        assert!(!root.join("usr/lib/none").exists());
        // A single file is placed like a [rootfs] file.
        place_tree(&root, Path::new("etc/one.py"), &from.join("os.py")).unwrap();
        assert!(root.join("etc/one.py").is_file());
    }
}
