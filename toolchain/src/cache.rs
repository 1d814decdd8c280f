//! `ukport cache`: what the cache holds, and cleaning it without losing what is still
//! needed.
//!
//! The cache grows with every kernel configuration, every relinkable link (the object
//! store) and every app build tree. Cleaning keeps what is expensive or impossible to
//! get again here (fetched sources, the apt lists, installed ports) unless asked, and
//! removes only what the tools rebuild on demand:
//! - *objects* no relink manifest under `images/` refers to (older than an hour, so a
//!   link running right now keeps its inputs; a manifest elsewhere, beside a user's own
//!   `uk-cc -o` output, then finds its objects gone and says to rebuild);
//! - *kernels* of this checkout whose stamp no longer matches its kernel sources (the
//!   next link would rebuild them anyway), or every kernel and cargo's kernel target
//!   folder with `all`;
//! - *build trees* of apps and ports (installed ports and images stay).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use crate::compile::relink::{Manifest, SUFFIX};

/// One folder of the cache and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Area {
    pub name: &'static str,
    pub what: &'static str,
    pub bytes: u64,
    /// Top-level entries (files or folders).
    pub entries: usize,
}

/// The cache's folders, as laid out by [`crate::paths`].
const AREAS: &[(&str, &str)] = &[
    ("sources", "fetched, sha256-checked source archives"),
    ("apt", "private apt lists for Debian source fallbacks"),
    ("build", "build trees of apps and ports"),
    ("ports", "installed ports (musl sysroot, zlib, lwip, ...)"),
    (
        "kernel",
        "built kernels, one per platform and configuration",
    ),
    ("kernel-target", "cargo's target folder for kernel builds"),
    ("objects", "relink object store"),
    ("images", "images built by ukport, with relink manifests"),
    (
        "wheels",
        "pure-Python wheels of [python] apps, with their sha256",
    ),
];

/// Sizes of every area of the cache at `root`.
pub fn usage(root: &Path) -> Vec<Area> {
    AREAS
        .iter()
        .map(|&(name, what)| {
            let dir = root.join(name);
            let entries = fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
            Area {
                name,
                what,
                bytes: tree_size(&dir),
                entries,
            }
        })
        .collect()
}

/// Bytes under `p` (files and symlinks themselves, not their targets); 0 when absent.
pub fn tree_size(p: &Path) -> u64 {
    let Ok(md) = fs::symlink_metadata(p) else {
        return 0;
    };
    if !md.is_dir() {
        return md.len();
    }
    fs::read_dir(p)
        .map(|d| d.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}

/// What a clean removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    pub entries: usize,
    pub bytes: u64,
}

impl Removed {
    fn add(&mut self, p: &Path) -> Result<()> {
        let bytes = tree_size(p);
        let r = if fs::symlink_metadata(p)?.is_dir() {
            fs::remove_dir_all(p)
        } else {
            fs::remove_file(p)
        };
        r.with_context(|| format!("removing {}", p.display()))?;
        self.entries += 1;
        self.bytes += bytes;
        Ok(())
    }
}

/// Store objects younger than this are kept: a link may be storing them right now.
pub const OBJECT_GRACE: Duration = Duration::from_secs(3600);

/// `root/name` when it is a folder of this cache itself; `None` when absent or a
/// symlink (an area shared with another cache, whose users this cache cannot see:
/// cleaning it from here could remove what the other one needs).
pub fn own_area(root: &Path, name: &str) -> Option<PathBuf> {
    let p = root.join(name);
    let md = fs::symlink_metadata(&p).ok()?;
    md.is_dir().then_some(p)
}

/// Names of the areas that are symlinks (left alone by every clean).
pub fn shared_areas(root: &Path) -> Vec<&'static str> {
    AREAS
        .iter()
        .map(|&(n, _)| n)
        .filter(|n| fs::symlink_metadata(root.join(n)).is_ok_and(|m| m.file_type().is_symlink()))
        .collect()
}

/// The store hashes the manifests under `images` refer to.
fn referenced_objects(images: &Path) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let Ok(dir) = fs::read_dir(images) else {
        return used;
    };
    for e in dir.flatten() {
        let p = e.path();
        if p.to_string_lossy().ends_with(SUFFIX) {
            if let Ok(m) = Manifest::read(&p) {
                used.extend(m.inputs.into_iter().map(|i| i.sha256));
            }
        }
    }
    used
}

/// Removes store objects (`root/objects`) that no manifest under `root/images` uses
/// and that are older than `grace`.
pub fn clean_objects(root: &Path, grace: Duration) -> Result<Removed> {
    let used = referenced_objects(&root.join("images"));
    let mut removed = Removed::default();
    let Some(Ok(dir)) = own_area(root, "objects").map(fs::read_dir) else {
        return Ok(removed);
    };
    let now = SystemTime::now();
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if used.contains(&name) {
            continue;
        }
        let young = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_none_or(|age| age < grace);
        if !young {
            removed.add(&e.path())?;
        }
    }
    Ok(removed)
}

/// Removes the kernels of this checkout (`root/kernel/*-<checkout>`, and folders of the
/// older layout without a checkout) whose stamp does not start with `source_stamp`
/// (built from other sources: stale), or every kernel and cargo's kernel target folder
/// when `all`. Other checkouts' kernels are theirs to judge; a kernel folder another
/// process holds locked (building) is skipped.
pub fn clean_kernels(
    root: &Path,
    source_stamp: &str,
    checkout: &str,
    all: bool,
) -> Result<Removed> {
    use fs4::fs_std::FileExt;
    let mut removed = Removed::default();
    if let Some(Ok(dir)) = own_area(root, "kernel").map(fs::read_dir) {
        for e in dir.flatten() {
            let p = e.path();
            if !p.is_dir() {
                continue;
            }
            if !all && other_checkouts(&e.file_name().to_string_lossy(), checkout) {
                continue;
            }
            let stamp = fs::read_to_string(p.join("stamp")).unwrap_or_default();
            let current = stamp.lines().next() == Some(source_stamp);
            if current && !all {
                continue;
            }
            if let Ok(lock) = fs::File::open(p.join(".lock")) {
                if lock.try_lock_exclusive().is_err() {
                    continue; // a build is running there
                }
            }
            removed.add(&p)?;
        }
    }
    if all {
        if let Some(target) = own_area(root, "kernel-target") {
            removed.add(&target)?;
        }
    }
    Ok(removed)
}

/// Whether kernel folder `name` (`<plat>-<hash>-<checkout>`) belongs to a checkout
/// other than `checkout`.
fn other_checkouts(name: &str, checkout: &str) -> bool {
    match name.rsplit_once('-') {
        Some((rest, id)) if rest.contains('-') && id.len() == checkout.len() => {
            id != checkout && id.bytes().all(|b| b.is_ascii_hexdigit())
        }
        _ => false,
    }
}

/// Removes the build trees of apps and ports (`root/build/*`); installed ports and
/// images stay, and a later build unpacks the source again.
pub fn clean_builds(root: &Path) -> Result<Removed> {
    let mut removed = Removed::default();
    if let Some(Ok(dir)) = own_area(root, "build").map(fs::read_dir) {
        for e in dir.flatten() {
            removed.add(&e.path())?;
        }
    }
    Ok(removed)
}

/// `1.5 GiB`-style size for people.
pub fn human(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The cache root, for messages.
pub fn root() -> PathBuf {
    crate::paths::cache_dir()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::relink::{Input, VERSION};

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
    fn tmp(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("ukit-cache-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }

    fn manifest(inputs: &[&str]) -> Manifest {
        Manifest {
            version: VERSION,
            cwd: "/".into(),
            plat: "linuxu".into(),
            output: "a".into(),
            user_args: vec![],
            args: inputs.iter().map(|s| s.to_string()).collect(),
            inputs: inputs
                .iter()
                .enumerate()
                .map(|(i, s)| Input {
                    index: i,
                    path: PathBuf::from(s),
                    sha256: s.to_string(),
                })
                .collect(),
            kernel: "/k".into(),
            recipe_stamp: None,
            needs: Vec::new(),
        }
    }

    #[test]
    fn objects_in_use_or_young_stay() {
        let t = tmp("objects");
        let (objects, images) = (t.0.join("objects"), t.0.join("images"));
        fs::create_dir_all(&objects).unwrap();
        fs::create_dir_all(&images).unwrap();
        for o in ["used1", "used2", "orphan"] {
            fs::write(objects.join(o), vec![0u8; 100]).unwrap();
        }
        manifest(&["used1", "used2"])
            .write(&images.join(format!("app.linuxu{SUFFIX}")))
            .unwrap();
        // With an hour's grace the fresh orphan stays too.
        assert_eq!(
            clean_objects(&t.0, OBJECT_GRACE).unwrap(),
            Removed::default()
        );
        let r = clean_objects(&t.0, Duration::ZERO).unwrap();
        assert_eq!(
            r,
            Removed {
                entries: 1,
                bytes: 100
            }
        );
        assert!(objects.join("used1").exists() && objects.join("used2").exists());
        assert!(!objects.join("orphan").exists());
        // A store shared with another cache (a symlink) is left alone.
        let other = tmp("objects-shared");
        std::os::unix::fs::symlink(&objects, other.0.join("objects")).unwrap();
        assert_eq!(
            clean_objects(&other.0, Duration::ZERO).unwrap(),
            Removed::default()
        );
        assert_eq!(shared_areas(&other.0), ["objects"]);
        assert!(objects.join("used1").exists());
        // An absent cache is nothing to clean, not an error.
        assert_eq!(
            clean_objects(&t.0.join("nowhere"), Duration::ZERO).unwrap(),
            Removed::default()
        );
    }

    #[test]
    fn only_stale_kernels_go_unless_all() {
        let t = tmp("kernels");
        let k = t.0.join("kernel");
        for (name, stamp) in [
            ("linuxu-aaa-0123456789ab", "S1 12\nargs x"),
            ("kvm-bbb-0123456789ab", "S0 11\nargs x"),
            ("kvm-ccc", "S0 11\nargs x"),
            ("kvm-ddd-ba9876543210", "S0 11\nargs x"),
        ] {
            fs::create_dir_all(k.join(name)).unwrap();
            fs::write(k.join(name).join("stamp"), stamp).unwrap();
            fs::write(k.join(name).join("libuk.a"), vec![0u8; 10]).unwrap();
        }
        fs::create_dir_all(t.0.join("kernel-target/x")).unwrap();
        let ours = "0123456789ab";
        let r = clean_kernels(&t.0, "S1 12", ours, false).unwrap();
        assert_eq!(r.entries, 2, "our stale kernel and one of the older layout");
        assert!(k.join("linuxu-aaa-0123456789ab").exists());
        assert!(!k.join("kvm-bbb-0123456789ab").exists() && !k.join("kvm-ccc").exists());
        assert!(
            k.join("kvm-ddd-ba9876543210").exists(),
            "another checkout's kernel stays"
        );
        assert!(t.0.join("kernel-target").exists(), "kept without `all`");
        let r = clean_kernels(&t.0, "S1 12", ours, true).unwrap();
        assert_eq!(r.entries, 3, "both kernels left and the target folder");
        assert!(!k.join("linuxu-aaa-0123456789ab").exists() && !t.0.join("kernel-target").exists());
    }

    #[test]
    fn usage_and_build_trees() {
        let t = tmp("usage");
        fs::create_dir_all(t.0.join("build/app-1/src")).unwrap();
        fs::write(t.0.join("build/app-1/src/a.c"), "int x;\n").unwrap();
        fs::create_dir_all(t.0.join("sources")).unwrap();
        fs::write(t.0.join("sources/app-1.tar.gz"), vec![1u8; 2048]).unwrap();
        let u = usage(&t.0);
        let get = |n: &str| u.iter().find(|a| a.name == n).unwrap().clone();
        assert_eq!((get("build").bytes, get("build").entries), (7, 1));
        assert_eq!(get("sources").bytes, 2048);
        assert_eq!(get("kernel").entries, 0);
        assert_eq!(clean_builds(&t.0).unwrap().entries, 1);
        assert!(t.0.join("sources/app-1.tar.gz").exists(), "sources stay");
        assert_eq!(
            usage(&t.0)
                .iter()
                .find(|a| a.name == "build")
                .unwrap()
                .bytes,
            0
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}
