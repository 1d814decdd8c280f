//! Where things live: the repository (recipes, ports, kernel crates) and the cache
//! (fetched sources, built ports, sysroots, kernels). The cache is outside the repo so
//! that a fresh clone reuses what an earlier run built.

use std::path::PathBuf;

/// The ukit repository root: `$UKIT_ROOT`, else the checkout these tools were built from.
pub fn repo_root() -> PathBuf {
    if let Some(p) = std::env::var_os("UKIT_ROOT") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("toolchain/ has a parent")
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

/// Built kernels, one folder per platform and resolved-configuration hash.
pub fn kernels_dir() -> PathBuf {
    cache_dir().join("kernel")
}

/// Cargo's target folder for kernel builds: `kernel-target/<checkout>`. Apart from the
/// workspace's own so that kernel flags never invalidate the host tools' build; one per
/// checkout (named by a hash of its path) because cargo copies each build's staticlib to
/// one fixed path in its target folder, so checkouts sharing a folder could be handed
/// each other's kernel.
pub fn kernel_target_dir() -> PathBuf {
    use sha2::{Digest, Sha256};
    use std::os::unix::ffi::OsStrExt;
    let h = Sha256::digest(repo_root().as_os_str().as_bytes());
    cache_dir().join("kernel-target").join(hex::encode(&h[..6]))
}

/// The private apt configuration used for Debian source-package fallbacks.
pub fn apt_dir() -> PathBuf {
    cache_dir().join("apt")
}

/// Where `ukport build` leaves images (`images/<app>.<plat>`).
pub fn images_dir() -> PathBuf {
    cache_dir().join("images")
}
