//! Where recipe inputs and outputs live: the repository (recipes, port files, patches)
//! and the cache (fetched sources, build trees, installed ports). The cache is outside
//! the repo so that a fresh clone reuses what an earlier run built. The tools add their
//! own areas (kernels, images) on top of these.

use std::path::PathBuf;

/// The ukit repository root: `$UKIT_ROOT`, else the checkout this crate was built from
/// (it lives at `toolchain/recipes`).
pub fn repo_root() -> PathBuf {
    if let Some(p) = std::env::var_os("UKIT_ROOT") {
        return PathBuf::from(p);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .expect("toolchain/recipes has a grandparent")
        .to_path_buf()
}

/// `$UKIT_CACHE`, else `$XDG_CACHE_HOME/ukit`, else `~/.cache/ukit`.
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("UKIT_CACHE") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(p).join("ukit");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache").join("ukit")
}

/// Environment variables that move [`repo_root`] or [`cache_dir`] (build scripts ask
/// cargo to rerun when one changes).
pub const LOCATION_ENV: &[&str] = &["UKIT_ROOT", "UKIT_CACHE", "XDG_CACHE_HOME", "HOME"];

/// The recipes folder.
pub fn recipes_dir() -> PathBuf {
    repo_root().join("recipes")
}

/// Verified source archives, by file name (`musl-1.2.3.tar.gz`).
pub fn sources_dir() -> PathBuf {
    cache_dir().join("sources")
}

/// Build trees of ports and apps.
pub fn build_dir() -> PathBuf {
    cache_dir().join("build")
}

/// Installed ports (`ports/<name>-<version>/` holding include/ and lib/).
pub fn ports_dir() -> PathBuf {
    cache_dir().join("ports")
}

/// The private apt configuration used for Debian source-package fallbacks.
pub fn apt_dir() -> PathBuf {
    cache_dir().join("apt")
}
