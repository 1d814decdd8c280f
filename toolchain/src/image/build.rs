//! `ukport build`: an app's recipe in, `images/<app>.<plat>` out. The image is relinked
//! from the objects of an earlier build of the same recipe when there is one (seconds),
//! else built from source with the app's own build system and uk-cc as its compiler.
//! A stamp beside each image records what it was made from, so `ukport run` knows when
//! to make it again.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::bins;
use crate::compile::needs::Need;
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

/// The install prefixes of the recipe's ports (built first when needed), then the
/// sysroot's (musl), last; and the sysroot.
fn recipe_ports(r: &Recipe) -> Result<(Vec<PathBuf>, PathBuf)> {
    let mut dirs = Vec::new();
    for dep in &r.depends.ports {
        dirs.push(ports::ensure_port(dep)?);
    }
    let sysroot = ports::ensure_port(ports::LIBC)?;
    dirs.push(sysroot.clone());
    Ok((dirs, sysroot))
}

/// Makes the image of `r` on `plat`, built from an earlier version of the same recipe
/// file, current for this one without building again: for a change that cannot alter
/// the image (`ukport new` adding the `binary` it found and a `[test]`). Its relink
/// record and its stamp name the recipe as it is now.
pub fn restamp(r: &Recipe, plat: Platform) -> Result<()> {
    let (port_dirs, _) = recipe_ports(r)?;
    let image = paths::images_dir().join(plat.image_name(&r.name));
    let manifest = relink::manifest_path(&image);
    let mut m = relink::Manifest::read(&manifest)?;
    m.recipe_stamp = Some(relink::recipe_stamp(
        r.path(),
        r.local_source().as_deref(),
        &port_dirs,
    )?);
    m.write(&manifest)?;
    fs::write(stamp_path(&image), image_stamp(r, &m.kernel)?)?;
    Ok(())
}

/// The kernel `UK_KERNEL` names (the same override uk-cc honours), if set.
fn kernel_override() -> Result<Option<PathBuf>> {
    match std::env::var_os("UK_KERNEL").filter(|k| !k.is_empty()) {
        Some(k) => {
            let k = PathBuf::from(k);
            if !k.is_file() {
                bail!(
                    "UK_KERNEL={} does not exist; unset it to build the kernel",
                    k.display()
                );
            }
            Ok(Some(k))
        }
        None => Ok(None),
    }
}

/// The kernel for recipe `r` on `plat` when the program needs `needs`: `UK_KERNEL`, or
/// the one for the recipe's configuration over those needs (built if missing).
fn kernel_for(
    r: &Recipe,
    plat: Platform,
    needs: &[Need],
    settings: &config::Settings,
) -> Result<PathBuf> {
    match kernel_override()? {
        Some(k) => Ok(k),
        None => kernel::ensure(plat, &config::resolve_recipe(r, needs, settings)?.1),
    }
}

/// The app recipe `name`, its image for `plat` built (or brought up to date) first: an
/// app whose programs another app's root takes (`[depends] programs`). Python apps
/// (crate::image::app) are not such programs.
pub fn resolve_built(plat: Platform, name: &str) -> Result<Recipe> {
    let r = Recipe::load(name)?;
    if r.kind == Kind::Port || r.python.is_some() {
        bail!(
            "{} is not an app whose programs can go into another root",
            r.name
        );
    }
    let image = paths::images_dir().join(plat.image_name(&r.name));
    if !image.is_file() || !image_is_current(&r, plat, &image)? {
        build_to(&r, plat, &config::Settings::default(), None, Report::Stderr)?;
    }
    Ok(r)
}

/// Where [`build_to`] reports what it made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// `ukport build`: the result is the output.
    Stdout,
    /// A build on the way to something else (`ukport run`, `test`), whose stdout is the
    /// program's (or an instance's name).
    Stderr,
}

impl Report {
    pub(crate) fn say(self, line: String) {
        match self {
            Report::Stdout => println!("{line}"),
            Report::Stderr => eprintln!("ukport: {line}"),
        }
    }
}

/// Blocks until this process alone may build or relink `image` (an exclusive lock on
/// `.<image file name>.lock` beside it, released when the file is dropped); also says
/// whether another process held it first. Several `ukport` processes that find one
/// image out of date (tests starting the same app at once) then update it one after
/// another, and the later ones find it current, instead of relinking over each other.
pub(crate) fn lock_image(image: &Path) -> Result<(fs::File, bool)> {
    use fs4::fs_std::FileExt;
    let dir = image.parent().context("an image path has a folder")?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = image.file_name().context("an image path has a file name")?;
    let path = dir.join(format!(".{}.lock", name.to_string_lossy()));
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    if f.try_lock_exclusive().is_ok() {
        return Ok((f, false));
    }
    f.lock_exclusive()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok((f, true))
}

/// [`build`], reporting to `report`.
pub fn build_to(
    r: &Recipe,
    plat: Platform,
    settings: &config::Settings,
    jobs: Option<usize>,
    report: Report,
) -> Result<PathBuf> {
    // Before any port: ports other than libc are built with uk-cc.
    let cc = bins::uk_cc()?;
    if r.kind == Kind::Port {
        let prefix = ports::ensure_port(&r.name)?;
        report.say(format!(
            "port {} {} installed in {}",
            r.name,
            r.version,
            prefix.display()
        ));
        return Ok(prefix);
    }
    let started = Instant::now();
    let image = paths::images_dir().join(plat.image_name(&r.name));
    let (_lock, waited) = lock_image(&image)?;
    if waited && image.is_file() && image_is_current(r, plat, &image)? {
        // Another ukport updated it while this one waited.
        report.say(format!(
            "{} is current (another ukport just built it)",
            image.display()
        ));
        return Ok(image);
    }
    let (port_dirs, sysroot) = recipe_ports(r)?;
    let deps = &port_dirs[..port_dirs.len() - 1];
    let cflags: Vec<String> = deps
        .iter()
        .map(|p| format!("-I{}", p.join("include").display()))
        .collect();
    let ldflags: Vec<String> = deps
        .iter()
        .map(|p| format!("-L{}", p.join("lib").display()))
        .collect();
    // Bad settings fail here, with their file and line, before anything is built.
    let (_, explicit) = config::resolve_recipe(r, &[], settings)?;
    if let Some(k) = kernel_override()? {
        eprintln!("ukport: using the kernel from UK_KERNEL: {}", k.display());
    }
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
        let kernel_of = |m: &relink::Manifest| kernel_for(r, plat, &m.needs, settings);
        match relink::relink_image(&cc, &images, &r.name, plat, &kernel_of, &recipe_stamp) {
            Ok(Some(done)) => {
                let image = images.join(plat.image_name(&r.name));
                fs::write(stamp_path(&image), image_stamp(r, &done.kernel)?)?;
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
                build_to(r, host, settings, jobs, report)?;
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
    // Each link of the build (configure's test programs too) gets the recipe's settings
    // and chooses the rest of the kernel by what it calls; `UK_KERNEL` overrides it all.
    let settings_file = tempfile::Builder::new()
        .prefix(&format!("ukit-config-{}.", r.name))
        .suffix(".toml")
        .tempfile()
        .context("cannot create the build's settings file")?;
    fs::write(
        settings_file.path(),
        config::settings_file_text(&explicit, &[]),
    )?;
    opts.env.insert(
        "UK_CONFIG_FILE".into(),
        settings_file.path().display().to_string(),
    );
    if let Some(k) = kernel_override()? {
        opts.env.insert("UK_KERNEL".into(), k.display().to_string());
    }
    opts.env.insert("UK_PLAT".into(), plat.name().into());
    opts.env
        .insert("UK_SYSROOT".into(), sysroot.display().to_string());
    if !cflags.is_empty() {
        opts.env.insert("CPPFLAGS".into(), cflags.join(" "));
        opts.env.insert("LDFLAGS".into(), ldflags.join(" "));
    }
    // Each port's prefix also as UK_PORT_<NAME>_PREFIX, for build systems that take a
    // library's prefix rather than -I/-L flags (Redis's OPENSSL_PREFIX).
    for (dep, p) in r.depends.ports.iter().zip(deps) {
        opts.env
            .insert(ports::prefix_env(dep), p.display().to_string());
    }
    for (k, v) in crate::packages::buildsys::template_vars(&sysroot, &port_dirs)? {
        opts.vars.insert(k, v);
    }
    let out = builder::build_recipe(r, &opts)?;
    let bin = match out.binary {
        Some(b) => b,
        None => {
            let b = find_binary(&out.work_dir, &r.name)?;
            eprintln!(
                "ukport: {}: the image is {} (set [build] binary to choose another)",
                r.name,
                b.strip_prefix(&out.work_dir).unwrap_or(&b).display()
            );
            b
        }
    };

    super::programs::install_programs(r, &out.work_dir)?;
    fs::create_dir_all(&images).with_context(|| format!("cannot create {}", images.display()))?;
    let image = images.join(plat.image_name(&r.name));
    let tmp = images.join(format!(".{}.tmp", plat.image_name(&r.name)));
    fs::copy(&bin, &tmp).with_context(|| format!("cannot copy {}", bin.display()))?;
    fs::rename(&tmp, &image)?;
    // The kernel the final link used, as uk-cc recorded it (with the needs it found).
    let kernel_lib = match relink::Manifest::read(&relink::manifest_path(&bin)) {
        Ok(m) => {
            for n in &m.needs {
                eprintln!(
                    "ukport: {}: kernel option {} is on: {}",
                    r.name,
                    n.option,
                    n.reason()
                );
            }
            m.kernel
        }
        Err(_) => kernel_for(r, plat, &[], settings)?,
    };
    fs::write(stamp_path(&image), image_stamp(r, &kernel_lib)?)?;
    if !relink::keep_manifest(&bin, &image, &recipe_stamp)? {
        eprintln!("ukport: note: uk-cc left no relink manifest beside {}; a kernel change will rebuild from source", bin.display());
    }
    let size = fs::metadata(&image)?.len();
    report.say(format!(
        "{} ({}, built in {:.1}s)",
        image.display(),
        human_size(size),
        started.elapsed().as_secs_f64()
    ));
    Ok(image)
}

/// Folders whose images are not the app: build systems' own checks and test programs.
const NOT_THE_APP: &[&str] = &["CMakeFiles", "meson-private", "test", "tests", "testsuite"];

/// Every image uk-cc linked under `dir` (it leaves a relink manifest beside each),
/// except in [`NOT_THE_APP`] folders, as paths relative to `dir`, sorted.
pub fn linked_images(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if !NOT_THE_APP.contains(&name.as_str()) && !name.starts_with('.') {
                    stack.push(p);
                }
            } else if let Some(image) = name.strip_suffix(relink::SUFFIX) {
                let image = d.join(image);
                if image.is_file() && !image.starts_with(dir.join("conftest")) {
                    out.push(image.strip_prefix(dir).unwrap_or(&image).to_path_buf());
                }
            }
        }
    }
    out.sort();
    out
}

/// The program a build made when its recipe does not say (`[build] binary`): the image
/// named after the recipe, else the only one.
pub fn find_binary(work: &Path, name: &str) -> Result<PathBuf> {
    let images = linked_images(work);
    let named: Vec<&PathBuf> = images
        .iter()
        .filter(|p| p.file_name().is_some_and(|f| f == name))
        .collect();
    match (named.as_slice(), images.as_slice()) {
        ([one], _) => Ok(work.join(one)),
        ([], [one]) => Ok(work.join(one)),
        (_, []) => bail!(
            "the build linked no image under {} (uk-cc leaves NAME.uklink beside each); \
             is uk-cc the compiler (CC={{cc}}, or {{cmake_toolchain}} / {{meson_native}})?",
            work.display()
        ),
        _ => {
            let list: Vec<String> = images.iter().map(|p| p.display().to_string()).collect();
            bail!(
                "the build linked several images; set [build] binary to one of: {}",
                list.join(", ")
            )
        }
    }
}

/// The needs recorded for `image` (by the link that made it), if it was recorded.
pub fn image_needs(image: &Path) -> Vec<Need> {
    relink::Manifest::read(&relink::manifest_path(image))
        .map(|m| m.needs)
        .unwrap_or_default()
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
    let needs = image_needs(image);
    let kernel_lib = kernel_for(r, plat, &needs, &config::Settings::default())?;
    Ok(old.trim() == image_stamp(r, &kernel_lib)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second updater of one image waits for the first and knows it waited.
    #[test]
    fn one_updater_per_image_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("images/app.linuxu");
        let (first, waited) = lock_image(&image).unwrap();
        assert!(!waited);
        let (tx, rx) = std::sync::mpsc::channel();
        let other = image.clone();
        let t = std::thread::spawn(move || {
            let (_l, waited) = lock_image(&other).unwrap();
            tx.send(waited).unwrap();
        });
        // Still held: the other updater cannot have the lock yet.
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(300))
            .is_err());
        drop(first);
        assert!(rx.recv().unwrap(), "the second updater waited");
        t.join().unwrap();
        // Another image is not held up by this one.
        let (_a, _) = lock_image(&image).unwrap();
        let (_b, waited) = lock_image(&dir.path().join("images/other.linuxu")).unwrap();
        assert!(!waited);
    }

    #[test]
    fn the_binary_is_the_named_or_only_image() {
        let t = tempfile::tempdir().unwrap();
        let w = t.path();
        let image = |rel: &str| {
            let p = w.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, "ELF").unwrap();
            fs::write(relink::manifest_path(&p), "{}").unwrap();
        };
        assert!(find_binary(w, "app")
            .unwrap_err()
            .to_string()
            .contains("no image"));
        image("build/CMakeFiles/3.25/CompilerIdC/a.out");
        image("build/test/test_x");
        image("build/src/tool");
        assert_eq!(find_binary(w, "app").unwrap(), w.join("build/src/tool"));
        image("build/app");
        let e = find_binary(w, "other").unwrap_err().to_string();
        assert!(e.contains("build/app, build/src/tool"), "{e}");
        assert_eq!(find_binary(w, "app").unwrap(), w.join("build/app"));
        // A manifest whose image is gone does not count.
        fs::remove_file(w.join("build/src/tool")).unwrap();
        assert_eq!(linked_images(w), [PathBuf::from("build/app")]);
    }
}
