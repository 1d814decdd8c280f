//! Putting files into an app's root folder: the program files and trees a build made
//! (`[build] programs`, `[build] files`), and the copying both the build and the root's
//! assembly (crate::image::rootfs) use. Apart from rootfs.rs because the build needs it
//! and rootfs.rs needs the build (the apps of `[depends] programs` are built first).

use std::fs;
use std::path::Path;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::packages::recipe::{guest_relative, Recipe};
use crate::paths;

/// Where a recipe's root folder is assembled.
pub(crate) fn rootfs_dir(r: &Recipe) -> PathBuf {
    paths::build_dir().join(r.id()).join("rootfs")
}

/// `guest` (a key of `table`) as a path relative to the root: absolute, without `.`
/// or `..`.
pub(super) fn guest_path<'a>(r: &Recipe, table: &str, guest: &'a str) -> Result<&'a Path> {
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
pub(super) fn place(dir: &Path, rel: &Path, from: &Path) -> Result<()> {
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
pub(super) fn place_tree(dir: &Path, rel: &Path, from: &Path) -> Result<()> {
    let meta =
        fs::symlink_metadata(from).with_context(|| format!("cannot read {}", from.display()))?;
    if meta.file_type().is_symlink() {
        let to = dir.join(rel);
        let target = fs::read_link(from)?;
        let _ = fs::remove_file(&to);
        if let Err(e) = std::os::unix::fs::symlink(&target, &to) {
            // Another assembly of the same root (two runs or builds at once) made it
            // between the removal and here: the same link is as good as ours.
            if fs::read_link(&to).ok().as_deref() != Some(target.as_path()) {
                return Err(e).with_context(|| format!("cannot make the link {}", to.display()));
            }
        }
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
