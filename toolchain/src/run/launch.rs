//! What every runner gets: the options of `ukport run` that mean the same on every
//! platform, resolved against the recipe and checked once ([`Launch`]), the flags only
//! some platforms understand ([`PlatformFlags`]), and the [`Runner`] contract.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};

use super::net::{self, PortForward};
use crate::image::rootfs;
use crate::packages::recipe::Recipe;

/// `ukport run` flags that belong to some platforms only. Each runner refuses, before
/// anything is built, the ones it cannot honour.
#[derive(Debug, Clone, Default)]
pub struct PlatformFlags {
    /// `--net passt|tap:IFNAME|none` (linuxu).
    pub net: Option<String>,
    /// `--ip ADDR/PREFIX|dhcp` with a tap device (linuxu).
    pub ip: Option<String>,
    /// `--gw ADDR` with a tap device (linuxu).
    pub gw: Option<String>,
    /// `--machine microvm|pc` (kvm).
    pub machine: String,
    /// `--boot multiboot|pvh` (kvm).
    pub boot: String,
    /// `--boot-stats` (kvm).
    pub boot_stats: bool,
    /// `--share DIR`: a live host folder as `/` over virtio-9p (kvm).
    pub share: Option<PathBuf>,
}

/// The common options of `ukport run`, as given.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-e K=V`, repeatable, after the recipe's `[run] env`.
    pub env: Vec<String>,
    /// `-m SIZE`; default the recipe's `[run] memory`.
    pub memory: Option<String>,
    /// `--trace`: every system call printed.
    pub trace: bool,
    /// `-p HOST:GUEST`, repeatable; replaces the recipe's `[run] ports`.
    pub publish: Vec<String>,
    /// `--root DIR`: the image's `/` instead of the recipe's `[rootfs]`.
    pub root: Option<PathBuf>,
    /// Arguments after `--`, after the recipe's `[run] args`.
    pub args: Vec<String>,
}

/// A run ready for a platform's runner: the image and the common options merged with
/// the recipe's `[run]` and checked (ports parsed and free, `K=V` pairs, sizes).
#[derive(Debug, Clone)]
pub struct Launch {
    pub image: PathBuf,
    /// The recipe the image was built from, unless an image file was named.
    pub recipe: Option<Recipe>,
    /// The program's arguments after argv\[0\]: `[run] args`, then the user's.
    pub args: Vec<String>,
    /// The program's environment additions: `[run] env`, then `-e`.
    pub env: Vec<(String, String)>,
    /// `-m`, else `[run] memory`; a valid size. `None`: the platform's default.
    pub memory: Option<String>,
    pub trace: bool,
    /// `-p`, else `[run] ports`: TCP forwards from 127.0.0.1, host ports checked free.
    pub forwards: Vec<PortForward>,
    /// `--root DIR` as given.
    pub root: Option<PathBuf>,
}

/// Where the image's root file system comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `--root DIR`, as given (each platform checks it its own way).
    Given(PathBuf),
    /// The recipe's `[rootfs]`, assembled into this folder.
    Recipe(PathBuf),
}

impl Launch {
    /// Merges `opts` with the recipe's `[run]` (its ports only if `recipe_ports`) and
    /// checks what every platform needs checked.
    pub fn new(
        image: PathBuf,
        recipe: Option<Recipe>,
        opts: &Options,
        recipe_ports: bool,
    ) -> Result<Launch> {
        let run = recipe.as_ref().map(|r| &r.run);
        let specs = if opts.publish.is_empty() {
            run.filter(|_| recipe_ports)
                .map(|r| r.ports.clone())
                .unwrap_or_default()
        } else {
            opts.publish.clone()
        };
        let forwards = net::parse_ports(&specs)?;
        net::check_host_ports_free(&forwards)?;
        // A Python app's script comes first (`python /app/app.py ARGS`).
        let mut args: Vec<String> = recipe.as_ref().map(Recipe::entry_args).unwrap_or_default();
        args.extend(run.map(|r| r.args.clone()).unwrap_or_default());
        args.extend(opts.args.iter().cloned());
        let mut env: Vec<(String, String)> = run
            .map(|r| r.env.clone().into_iter().collect())
            .unwrap_or_default();
        for kv in &opts.env {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow!("-e {kv}: expected K=V"))?;
            env.push((k.into(), v.into()));
        }
        let memory = opts
            .memory
            .clone()
            .or_else(|| run.and_then(|r| r.memory.clone()));
        if let Some(m) = &memory {
            check_memory(m)?;
        }
        Ok(Launch {
            image,
            recipe,
            args,
            env,
            memory,
            trace: opts.trace,
            forwards,
            root: opts.root.clone(),
        })
    }

    /// The recipe's name, else `image_name(image)`: how messages and argv\[0\] name the
    /// program.
    pub fn name_or(&self, image_name: impl FnOnce(&Path) -> String) -> String {
        match &self.recipe {
            Some(r) => r.name.clone(),
            None => image_name(&self.image),
        }
    }

    /// The image's root: `--root DIR`, else the recipe's `[rootfs]` (assembled now),
    /// else none.
    pub fn root(&self) -> Result<Option<Root>> {
        match (&self.root, &self.recipe) {
            (Some(dir), _) => Ok(Some(Root::Given(dir.clone()))),
            (None, Some(r)) => Ok(rootfs::assemble_rootfs(r)?.map(Root::Recipe)),
            (None, None) => Ok(None),
        }
    }
}

/// Refuses a memory size the kernel could not read (`-m` or `[run] memory`).
pub fn check_memory(m: &str) -> Result<()> {
    uk_kconfig::parse_size(m).map_err(|e| anyhow!("-m {m}: {e}"))?;
    Ok(())
}

/// The boot options a user set in `ukport`'s own environment (`UKIT_OPTS`, the words a
/// bare linuxu image reads): `ukport run` adds them after its own, so that where a key
/// is given twice (`mem=`, `log=`) the user's word is the one the kernel keeps.
pub fn user_boot_options() -> Result<Vec<String>> {
    parse_user_boot_options(std::env::var_os("UKIT_OPTS").as_deref())
}

fn parse_user_boot_options(v: Option<&std::ffi::OsStr>) -> Result<Vec<String>> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let s = v
        .to_str()
        .filter(|s| s.is_ascii())
        .ok_or_else(|| anyhow!("UKIT_OPTS: boot options must be ASCII words"))?;
    Ok(s.split_whitespace().map(str::to_string).collect())
}

/// What `ukport run` does for one platform.
pub trait Runner {
    /// Refuses flags this platform cannot honour; called before anything is built.
    fn check(&self, flags: &PlatformFlags) -> Result<()>;

    /// Starts the image and returns the program's exit status (or never returns, when
    /// the image took over this process).
    fn run(&self, launch: &Launch, flags: &PlatformFlags) -> Result<i32>;

    /// Whether the recipe's `[run] ports` apply with these flags: a network that has no
    /// port forwards (linuxu on a tap device) leaves the recipe's defaults out, while a
    /// `-p` the user gave is still refused there.
    fn recipe_ports(&self, flags: &PlatformFlags) -> bool {
        let _ = flags;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn user_boot_options_are_words() {
        assert!(parse_user_boot_options(None).unwrap().is_empty());
        assert_eq!(
            parse_user_boot_options(Some(OsStr::new("  log=debug\tmem=64M "))).unwrap(),
            ["log=debug", "mem=64M"]
        );
        let e = parse_user_boot_options(Some(OsStr::new("log=dé"))).unwrap_err();
        assert!(e.to_string().contains("ASCII"), "{e}");
    }
}
