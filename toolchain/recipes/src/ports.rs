//! Installed ports: C libraries (musl first) built from their recipes into
//! `ports/<name>-<version>/{include,lib}` in the cache.
//!
//! A port is rebuilt only when its inputs change. The stamp `.ukit-installed` is written
//! last and holds a fingerprint of the inputs (source sha256, patch contents, build
//! steps), so an interrupted build or an edited patch is noticed on the next call.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fs4::fs_std::FileExt;
use sha2::{Digest, Sha256};

use crate::builder::{self, BuildOpts};
use crate::paths;
use crate::progress::Progress;
use crate::recipe::{Kind, Recipe};

/// Name of the stamp file in an installed port's prefix.
pub const STAMP: &str = ".ukit-installed";

/// The port that is the C library and sysroot; it is built with the host compiler.
pub const LIBC: &str = "musl";

/// The environment variable that hands port `name`'s install prefix to a build:
/// `UK_PORT_<NAME>_PREFIX`, the name upper-cased with `-` and `.` as `_`
/// (`lwip` -> `UK_PORT_LWIP_PREFIX`). The toolchain sets it for every port a kernel
/// option declares (`ports = [...]` in options.toml); the build script that links the
/// port reads it (see [`for_build_script`]).
pub fn prefix_env(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    format!("UK_PORT_{upper}_PREFIX")
}

fn hash_tree(h: &mut Sha256, dir: &Path, rel: &Path) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let r = rel.join(e.file_name());
        if e.file_type()?.is_dir() {
            hash_tree(h, &e.path(), &r)?;
        } else {
            h.update(r.to_string_lossy().as_bytes());
            h.update([0]);
            h.update(fs::read(e.path())?);
            h.update([0]);
        }
    }
    Ok(())
}

/// The stamp contents for `recipe`: what its installed files were built from.
pub fn fingerprint(recipe: &Recipe) -> Result<String> {
    let source = match (recipe.source.identity_sha256(), recipe.local_source()) {
        (Some(sha), _) => sha.to_ascii_lowercase(),
        (None, Some(dir)) => {
            let mut h = Sha256::new();
            hash_tree(&mut h, &dir, Path::new(""))?;
            format!("tree:{}", hex::encode(h.finalize()))
        }
        (None, None) => bail!("recipe {} has no source", recipe.name),
    };
    let mut ph = Sha256::new();
    for p in recipe.patch_paths() {
        let bytes = fs::read(&p).with_context(|| {
            format!(
                "cannot read patch {} (from {})",
                p.display(),
                recipe.path().display()
            )
        })?;
        ph.update(
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .as_bytes(),
        );
        ph.update([0]);
        ph.update(Sha256::digest(&bytes));
    }
    let mut bh = Sha256::new();
    for step in &recipe.build.steps {
        for a in step {
            bh.update(a.as_bytes());
            bh.update([0]);
        }
        bh.update([1]);
    }
    for (k, v) in &recipe.build.env {
        bh.update(format!("{k}={v}\0").as_bytes());
    }
    let mut stamp = format!(
        "source-sha256 {source}\npatches-sha256 {}\nbuild-sha256 {}\n",
        hex::encode(ph.finalize()),
        hex::encode(bh.finalize())
    );
    // Only recipes with inputs get the line, so other ports keep their stamps.
    if !recipe.build.inputs.is_empty() {
        let mut ih = Sha256::new();
        for (i, p) in recipe.build.inputs.iter().zip(recipe.input_paths()) {
            ih.update(i.as_bytes());
            ih.update([0]);
            if p.is_dir() {
                hash_tree(&mut ih, &p, Path::new(""))?;
            } else {
                let bytes = fs::read(&p).with_context(|| {
                    format!(
                        "cannot read [build] inputs entry {} (from {})",
                        p.display(),
                        recipe.path().display()
                    )
                })?;
                ih.update(&bytes);
            }
        }
        stamp.push_str(&format!("inputs-sha256 {}\n", hex::encode(ih.finalize())));
    }
    Ok(stamp)
}

/// Builds and installs ports: where progress goes and which C compiler builds ports
/// other than the C library (the tools pass their uk-cc; without one the recipe's own
/// `{cc}` default, the host gcc, is used, which is all the lwip port needs).
#[derive(Debug, Clone, Default)]
pub struct PortBuilder {
    pub progress: Progress,
    pub cc: Option<PathBuf>,
    /// More `{name}` templates for ports other than libc (the tools give
    /// `{cmake_toolchain}` and `{meson_native}`).
    pub vars: std::collections::BTreeMap<String, String>,
}

impl PortBuilder {
    /// Returns the install prefix of port `name`, building it (and the ports it
    /// depends on, libc first) when it is not installed or was built from different
    /// inputs. A lock per port keeps concurrent builders from racing.
    pub fn ensure(&self, name: &str) -> Result<PathBuf> {
        self.ensure_in_chain(name, &mut Vec::new())
    }

    /// [`PortBuilder::ensure`]; `chain` catches dependency cycles.
    fn ensure_in_chain(&self, name: &str, chain: &mut Vec<String>) -> Result<PathBuf> {
        if chain.iter().any(|n| n == name) {
            bail!("port dependency cycle: {} -> {name}", chain.join(" -> "));
        }
        let recipe = Recipe::load(name)?;
        if recipe.kind != Kind::Port {
            bail!(
                "`{name}` is an app, not a port ({} says kind = \"app\"); [depends] ports lists libraries",
                recipe.path().display()
            );
        }
        chain.push(name.to_string());
        for dep in &recipe.depends.ports {
            self.ensure_in_chain(dep, chain)?;
        }
        let sysroot = if name == LIBC {
            None
        } else {
            Some(self.ensure_in_chain(LIBC, chain)?)
        };
        chain.pop();

        let prefix = paths::ports_dir().join(recipe.id());
        let want = fingerprint(&recipe)?;
        let stamp = prefix.join(STAMP);
        if fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
            return Ok(prefix);
        }

        let cache = paths::cache_dir();
        fs::create_dir_all(&cache).with_context(|| format!("cannot create {}", cache.display()))?;
        let lock_path = cache.join(format!("lock-{name}"));
        let lock = fs::File::create(&lock_path)
            .with_context(|| format!("cannot create {}", lock_path.display()))?;
        if lock.try_lock_exclusive().is_err() {
            self.progress.note(format!(
                "waiting for another ukit to finish building {name}..."
            ));
            lock.lock_exclusive()
                .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        }
        // Someone may have finished it while we waited.
        if fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
            return Ok(prefix);
        }
        if prefix.exists() {
            fs::remove_dir_all(&prefix)
                .with_context(|| format!("cannot remove the stale port {}", prefix.display()))?;
        }

        let mut opts = BuildOpts {
            jobs: builder::default_jobs(),
            prefix: Some(prefix.clone()),
            sysroot,
            ..Default::default()
        };
        if name != LIBC {
            if let Some(cc) = &self.cc {
                opts.env.insert("CC".into(), cc.display().to_string());
            }
            opts.vars = self.vars.clone();
        }
        builder::build_recipe_in(&recipe, &opts, &paths::build_dir(), &self.progress)
            .with_context(|| format!("building port {name} failed"))?;
        for sub in ["include", "lib"] {
            if !prefix.join(sub).is_dir() {
                bail!(
                    "port {name} built but {} has no {sub}/ (its install step must use {{prefix}})",
                    prefix.display()
                );
            }
        }
        fs::write(&stamp, want).with_context(|| format!("cannot write {}", stamp.display()))?;
        Ok(prefix)
    }
}

/// For a build script that links port `name`: its install prefix from
/// [`prefix_env`] when the toolchain set it (a kernel build), else the cache's,
/// building the port there first when it is missing or stale (`cargo test` on a fresh
/// machine). Tells cargo what to watch: the variable, the cache location, the port's
/// recipe and repository inputs, and the installed stamp.
pub fn for_build_script(name: &str) -> Result<PathBuf> {
    let var = prefix_env(name);
    println!("cargo:rerun-if-env-changed={var}");
    for v in paths::LOCATION_ENV {
        println!("cargo:rerun-if-env-changed={v}");
    }
    let prefix = match std::env::var_os(&var).filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => {
            let recipe = Recipe::load(name)?;
            println!("cargo:rerun-if-changed={}", recipe.path().display());
            for input in recipe.input_paths() {
                println!("cargo:rerun-if-changed={}", input.display());
            }
            for patch in recipe.patch_paths() {
                println!("cargo:rerun-if-changed={}", patch.display());
            }
            PortBuilder {
                progress: Progress::lines(),
                ..Default::default()
            }
            .ensure(name)
            .with_context(|| {
                format!(
                    "the {name} port is not installed in {} and building it failed; build it \
                     with `cargo run --release --bin ukport -- build {name}`, or set {var} to \
                     an installed port",
                    paths::ports_dir().display()
                )
            })?
        }
    };
    println!("cargo:rerun-if-changed={}", prefix.join(STAMP).display());
    Ok(prefix)
}

/// Whether port `name` is installed and current, without building it.
pub fn installed(name: &str) -> Result<Option<PathBuf>> {
    let recipe = Recipe::load(name)?;
    let prefix = paths::ports_dir().join(recipe.id());
    let ok = fs::read_to_string(prefix.join(STAMP)).ok() == Some(fingerprint(&recipe)?);
    Ok(ok.then_some(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_follows_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let rdir = dir.path().join("recipes");
        fs::create_dir_all(rdir.join("p")).unwrap();
        fs::write(rdir.join("p/a.c"), "int a;\n").unwrap();
        let body = "name = \"p\"\nversion = \"1\"\nkind = \"port\"\n[source]\npath = \"p\"\n\
                    [build]\nsteps = [[\"make\"]]\n";
        fs::write(rdir.join("p.toml"), body).unwrap();
        let r = Recipe::load_in(&rdir, "p").unwrap();
        let f1 = fingerprint(&r).unwrap();
        assert_eq!(f1, fingerprint(&r).unwrap());

        fs::write(rdir.join("p/a.c"), "int b;\n").unwrap();
        let f2 = fingerprint(&r).unwrap();
        assert_ne!(f1, f2, "source change must change the stamp");

        fs::write(
            rdir.join("p.toml"),
            body.replace("make\"", "make\", \"-j2\""),
        )
        .unwrap();
        let r2 = Recipe::load_in(&rdir, "p").unwrap();
        assert_ne!(
            f2,
            fingerprint(&r2).unwrap(),
            "build change must change the stamp"
        );
    }

    #[test]
    fn prefix_variables_are_derived_from_the_name() {
        assert_eq!(prefix_env("lwip"), "UK_PORT_LWIP_PREFIX");
        assert_eq!(prefix_env("my-lib.x"), "UK_PORT_MY_LIB_X_PREFIX");
    }

    #[test]
    fn musl_fingerprint_covers_its_patches() {
        let r = Recipe::load(LIBC).unwrap();
        assert!(!r.source.patches.is_empty());
        let f = fingerprint(&r).unwrap();
        assert!(f.starts_with(&format!(
            "source-sha256 {}\n",
            r.source.sha256.as_ref().unwrap()
        )));
        let mut no_patches = r.clone();
        no_patches.source.patches.clear();
        assert_ne!(f, fingerprint(&no_patches).unwrap());
    }
}
