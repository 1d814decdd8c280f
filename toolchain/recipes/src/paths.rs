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

/// The repository's recipes folder.
pub fn recipes_dir() -> PathBuf {
    repo_root().join("recipes")
}

/// The environment variable with more recipe folders (`:`-separated), searched after
/// the working directory and before the repository's.
pub const RECIPES_ENV: &str = "UKIT_RECIPES";

/// Where a recipe named `NAME` is looked for (`NAME.toml`), first match wins: the
/// working directory, each folder of `$UKIT_RECIPES`, the repository's `recipes/`. So a
/// project keeps its recipes beside its own sources (docs/recipes.md).
pub fn recipe_search_path() -> Vec<PathBuf> {
    search_path(
        std::env::current_dir().ok(),
        std::env::var_os(RECIPES_ENV).as_deref(),
        recipes_dir(),
    )
}

/// [`recipe_search_path`] from its parts; folders named twice are searched once.
pub fn search_path(
    cwd: Option<PathBuf>,
    env: Option<&std::ffi::OsStr>,
    repo: PathBuf,
) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = cwd.into_iter().collect();
    if let Some(v) = env {
        dirs.extend(std::env::split_paths(v).filter(|p| !p.as_os_str().is_empty()));
    }
    dirs.push(repo);
    let mut seen = Vec::new();
    dirs.retain(|d| {
        let key = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
        if seen.contains(&key) {
            false
        } else {
            seen.push(key);
            true
        }
    });
    dirs
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_path_order_and_duplicates() {
        let t = tempfile::tempdir().unwrap();
        let (a, b, repo) = (t.path().join("a"), t.path().join("b"), t.path().join("r"));
        for d in [&a, &b, &repo] {
            std::fs::create_dir_all(d).unwrap();
        }
        let env = std::env::join_paths([&b, &a]).unwrap();
        assert_eq!(
            search_path(Some(a.clone()), Some(&env), repo.clone()),
            [a.clone(), b.clone(), repo.clone()]
        );
        let only_repo = search_path(None, Some(std::ffi::OsStr::new("")), repo.clone());
        assert_eq!(only_repo, std::slice::from_ref(&repo));
        assert_eq!(search_path(Some(repo.clone()), None, repo.clone()), [repo]);
    }
}
