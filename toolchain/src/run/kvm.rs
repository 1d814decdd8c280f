//! The kvm runner: the image boots as a virtual machine under QEMU (KVM when /dev/kvm
//! is usable and not PVM, TCG otherwise; see [`super::qemu::choose_accel`]). Arguments,
//! environment and boot options travel on the kernel command line; the root file
//! system is an initrd packed from a folder, or a live host folder over virtio-9p
//! (`--share`); port forwards go through QEMU's user-mode network.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::launch::{Launch, PlatformFlags, Root, Runner};
use super::net;
use super::qemu::{self, Boot, Machine};
use crate::image::cpio;
use crate::paths;

/// Guest memory when neither `-m` nor the recipe's `[run] memory` says.
pub const DEFAULT_MEMORY: &str = "128M";

/// `ukport run --plat kvm`.
pub struct Kvm;

impl Runner for Kvm {
    fn check(&self, flags: &PlatformFlags) -> Result<()> {
        if flags.net.is_some() {
            bail!("--net is a linuxu option for now (kvm: see docs/kvm.md)");
        }
        Machine::parse(&flags.machine)?;
        Boot::parse(&flags.boot)?;
        Ok(())
    }

    fn run(&self, l: &Launch, flags: &PlatformFlags) -> Result<i32> {
        let name = l.name_or(|image| {
            image
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "app".into())
        });
        let mut argv = vec![name];
        argv.extend(l.args.iter().cloned());
        let mut opts = Vec::new();
        if l.trace {
            opts.push("trace".to_string());
        }
        if flags.boot_stats {
            opts.push("bootstats".to_string());
        }
        if !l.forwards.is_empty() {
            // QEMU's user-mode network uses the same guest address and gateway as passt.
            opts.extend(net::guest_address_options());
        }
        let share = match &flags.share {
            Some(d) => {
                let d = fs::canonicalize(d)
                    .with_context(|| format!("--share {}: folder not found", d.display()))?;
                if !d.is_dir() {
                    bail!("--share {}: not a folder", d.display());
                }
                // The share is the image's root (the kernel's hostfs over virtio-9p).
                opts.push("root=hostfs:/".to_string());
                Some(d)
            }
            None => None,
        };
        opts.extend(super::launch::user_boot_options()?);
        let initrd = if share.is_some() { None } else { initrd(l)? };
        let spec = qemu::RunSpec {
            image: l.image.clone(),
            machine: Machine::parse(&flags.machine)?,
            boot: Boot::parse(&flags.boot)?,
            memory: l.memory.clone().unwrap_or_else(|| DEFAULT_MEMORY.into()),
            cmdline: qemu::kernel_cmdline(&opts, &l.env, &argv),
            timing: flags.boot_stats,
            forwards: l.forwards.clone(),
            initrd,
            share,
        };
        qemu::run(&spec)
    }
}

/// The initrd of a kvm run: `--root DIR`, else the recipe's `[rootfs]` (assembled as
/// for linuxu), packed into a newc archive in the cache. Packed afresh at every launch:
/// the folder may have changed, and packing costs milliseconds.
fn initrd(l: &Launch) -> Result<Option<PathBuf>> {
    let (dir, archive) = match l.root()? {
        Some(Root::Given(d)) => {
            let d = fs::canonicalize(&d)
                .with_context(|| format!("--rootfs {}: folder not found", d.display()))?;
            let archive = given_root_archive(&d);
            (d, archive)
        }
        Some(Root::Recipe(d)) => {
            let archive = d.with_file_name("rootfs.cpio");
            (d, archive)
        }
        None => return Ok(None),
    };
    let packed = cpio::write_dir_archive(&dir, &archive)?;
    for p in &packed.skipped {
        eprintln!(
            "ukport: rootfs: left out {} (sockets, FIFOs and device nodes cannot live in the image's ramfs)",
            p.display()
        );
    }
    Ok(Some(archive))
}

/// Where the archive of a `--root` folder goes: `initrd/<name>-<hash of the path>.cpio`
/// in the cache, one per folder (commas and spaces, which QEMU's `-initrd` cannot
/// carry, replaced).
fn given_root_archive(dir: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let hash = hex::encode(Sha256::digest(dir.as_os_str().as_encoded_bytes()));
    let stem = dir
        .file_name()
        .map(|n| n.to_string_lossy().replace([',', ' '], "_"))
        .unwrap_or_else(|| "root".into());
    paths::cache_dir()
        .join("initrd")
        .join(format!("{stem}-{}.cpio", &hash[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linuxu_only_and_unknown_flags_are_refused() {
        let ok = PlatformFlags {
            machine: "microvm".into(),
            boot: "multiboot".into(),
            ..Default::default()
        };
        Kvm.check(&ok).unwrap();
        let net = PlatformFlags {
            net: Some("passt".into()),
            ..ok.clone()
        };
        assert!(Kvm
            .check(&net)
            .unwrap_err()
            .to_string()
            .contains("linuxu option"));
        let machine = PlatformFlags {
            machine: "q35x".into(),
            ..ok
        };
        assert!(Kvm.check(&machine).is_err());
    }

    #[test]
    fn root_archives_are_named_after_the_folder() {
        let a = given_root_archive(Path::new("/srv/my site,1"));
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("my_site_1-") && name.ends_with(".cpio"),
            "{name}"
        );
        assert_eq!(a.parent().unwrap().file_name().unwrap(), "initrd");
    }
}
