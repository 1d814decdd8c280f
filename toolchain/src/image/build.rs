//! `ukport build`: an app's recipe in, `images/<app>.<plat>` out. The image is relinked
//! from the objects of an earlier build of the same recipe when there is one (seconds),
//! else built from source with the app's own build system and uk-cc as its compiler.
//! A stamp beside each image records what it was made from, so `ukport run` knows when
//! to make it again.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};

use crate::bins;
use crate::compile::{config, kernel, relink};
use crate::packages::builder::{self, BuildOpts};
use crate::packages::ports;
use crate::packages::recipe::{Kind, Recipe};
use crate::paths;
use crate::platform::Platform;

fn human_size(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

/// Builds an app into `images/<name>.<plat>` (or installs a port) and returns the path.
pub fn build(name: &str, plat: Platform, set: &[String], jobs: Option<usize>) -> Result<PathBuf> {
    let r = Recipe::load(name)?;
    // Before any port: ports other than libc are built with uk-cc.
    let cc = bins::uk_cc()?;
    if r.kind == Kind::Port {
        let prefix = ports::ensure_port(&r.name)?;
        println!(
            "port {} {} installed in {}",
            r.name,
            r.version,
            prefix.display()
        );
        return Ok(prefix);
    }
    let started = Instant::now();
    let mut ldflags = Vec::new();
    let mut cflags = Vec::new();
    let mut port_dirs = Vec::new();
    // Each port's prefix also as UK_PORT_<NAME>_PREFIX, for build systems that take a
    // library's prefix rather than -I/-L flags (Redis's OPENSSL_PREFIX).
    let mut port_env = Vec::new();
    for dep in &r.depends.ports {
        let p = ports::ensure_port(dep)?;
        port_env.push((ports::prefix_env(dep), p.display().to_string()));
        port_dirs.push(p.clone());
        cflags.push(format!("-I{}", p.join("include").display()));
        ldflags.push(format!("-L{}", p.join("lib").display()));
    }
    let sysroot = ports::ensure_port(ports::LIBC)?;
    port_dirs.push(sysroot.clone());
    let (_, resolved) = config::resolve_recipe(&r, set)?;
    // UK_KERNEL (the same override uk-cc honours) links a kernel built elsewhere.
    let kernel_lib = match std::env::var_os("UK_KERNEL").filter(|k| !k.is_empty()) {
        Some(k) => {
            let k = PathBuf::from(k);
            if !k.is_file() {
                bail!(
                    "UK_KERNEL={} does not exist; unset it to build the kernel",
                    k.display()
                );
            }
            eprintln!("ukport: using the kernel from UK_KERNEL: {}", k.display());
            k
        }
        None => kernel::ensure(plat, &resolved)?,
    };
    let images = paths::images_dir();
    // Same recipe, sources and ports as a recorded build: relink its objects (seconds)
    // instead of building from source (docs/apps.md, "Relinking").
    let recipe_stamp = relink::recipe_stamp(r.path(), r.local_source().as_deref(), &port_dirs)?;
    // A build from source runs the app's own build system, whose configure tests run
    // the programs they link: those must be images that run on this host. So another
    // platform's image comes from such a build's objects, relinked (DESIGN: one
    // compile, one image per platform).
    let host = Platform::build_host();
    for attempt in 0..2 {
        match relink::relink_image(&cc, &images, &r.name, plat, &kernel_lib, &recipe_stamp) {
            Ok(Some(done)) => {
                let image = images.join(plat.image_name(&r.name));
                fs::write(stamp_path(&image), image_stamp(&r, &kernel_lib)?)?;
                eprintln!(
                    "ukport: relinked {} from {} objects of the {} build ({}) in {:.1}s",
                    image.display(),
                    done.objects,
                    done.from_plat,
                    done.manifest.display(),
                    done.seconds
                );
                return Ok(image);
            }
            Ok(None) if !plat.runs_on_host() && attempt == 0 => {
                eprintln!(
                    "ukport: building {} for {host} first (its build runs test programs on this host), then relinking for {plat}",
                    r.name
                );
                build(name, host, set, jobs)?;
            }
            Ok(None) if !plat.runs_on_host() => {
                bail!(
                    "the {host} build of {} left no relink manifest to make the {plat} image from",
                    r.name
                )
            }
            Ok(None) => break,
            Err(e) if !plat.runs_on_host() => {
                return Err(e.context(format!("relinking {} for {plat}", r.name)))
            }
            Err(e) => {
                eprintln!("ukport: relinking failed, building from source: {e:#}");
                break;
            }
        }
    }

    let mut opts = BuildOpts {
        jobs: jobs.unwrap_or(0),
        sysroot: Some(sysroot.clone()),
        ..Default::default()
    };
    opts.env.insert("CC".into(), cc.display().to_string());
    opts.env
        .insert("UK_KERNEL".into(), kernel_lib.display().to_string());
    opts.env.insert("UK_PLAT".into(), plat.name().into());
    opts.env
        .insert("UK_SYSROOT".into(), sysroot.display().to_string());
    if !cflags.is_empty() {
        opts.env.insert("CPPFLAGS".into(), cflags.join(" "));
        opts.env.insert("LDFLAGS".into(), ldflags.join(" "));
    }
    opts.env.extend(port_env);
    let out = builder::build_recipe(&r, &opts)?;
    let bin = out
        .binary
        .ok_or_else(|| anyhow!("{} has no [build] binary", r.name))?;

    fs::create_dir_all(&images).with_context(|| format!("cannot create {}", images.display()))?;
    let image = images.join(plat.image_name(&r.name));
    let tmp = images.join(format!(".{}.tmp", plat.image_name(&r.name)));
    fs::copy(&bin, &tmp).with_context(|| format!("cannot copy {}", bin.display()))?;
    fs::rename(&tmp, &image)?;
    fs::write(stamp_path(&image), image_stamp(&r, &kernel_lib)?)?;
    if !relink::keep_manifest(&bin, &image, &recipe_stamp)? {
        eprintln!("ukport: note: uk-cc left no relink manifest beside {}; a kernel change will rebuild from source", bin.display());
    }
    let size = fs::metadata(&image)?.len();
    println!(
        "{} ({}, built in {:.1}s)",
        image.display(),
        human_size(size),
        started.elapsed().as_secs_f64()
    );
    Ok(image)
}

/// The stamp file beside an image.
fn stamp_path(image: &Path) -> PathBuf {
    let mut s = image.as_os_str().to_owned();
    s.push(".stamp");
    PathBuf::from(s)
}

/// What an image was built from: the recipe file, its in-repo source files and the
/// kernel library (path and modification time). A different stamp means a rebuild.
fn image_stamp(r: &Recipe, kernel_lib: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    relink::hash_recipe_source(&mut h, r.path(), r.local_source().as_deref())?;
    let meta = fs::metadata(kernel_lib)?;
    let mtime = meta
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.update(kernel_lib.to_string_lossy().as_bytes());
    h.update(mtime.to_le_bytes());
    Ok(hex::encode(h.finalize()))
}

/// True when `image` was built from the current recipe, source and kernel (building the
/// kernel first if its sources changed). With `UK_KERNEL`, that kernel is the one.
pub fn image_is_current(r: &Recipe, plat: Platform, image: &Path) -> Result<bool> {
    let Ok(old) = fs::read_to_string(stamp_path(image)) else {
        return Ok(false);
    };
    let kernel_lib = match std::env::var_os("UK_KERNEL").filter(|k| !k.is_empty()) {
        Some(k) => PathBuf::from(k),
        None => kernel::ensure(plat, &config::resolve_recipe(r, &[])?.1)?,
    };
    Ok(old.trim() == image_stamp(r, &kernel_lib)?)
}
