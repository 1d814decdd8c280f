//! `[python]` apps: a Python program and its pure-Python dependencies as an image.
//!
//! CPython is built once (the `python` recipe, docs/python.md); an app does not build it
//! again. Its image is the interpreter's image (a hard link to it), and what makes it the
//! app is its root: the interpreter's root (the standard library, without regrtest's
//! `test` package), the wheels of `[python] requirements` unpacked into
//! `site-packages`, and the app's folder as `/app`; `ukport run` then starts
//! `python /app/<entry>`. Wheels come from pip on the build machine (`pip download`,
//! one exact pin at a time, no dependencies), are cached by requirement with their
//! sha256, and must be pure Python: an image cannot load a compiled extension module
//! from a file (docs/python.md, "What does not work").

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use super::build::{self, Report};
use super::hostrun as linuxu;
use crate::packages::recipe::{guest_relative, parse_pin, Python, Recipe, PYTHON_APP_DIR};
use crate::paths;
use crate::platform::Platform;

/// The `[python]` table of `r` (callers check that it has one).
fn python(r: &Recipe) -> Result<&Python> {
    r.python
        .as_ref()
        .with_context(|| format!("{} has no [python] table", r.path().display()))
}

/// The interpreter's recipe of a Python app.
pub fn interpreter(r: &Recipe) -> Result<Recipe> {
    let py = python(r)?;
    let base = Recipe::load(&py.interpreter).with_context(|| {
        format!(
            "{}: [python] interpreter = \"{}\"",
            r.path().display(),
            py.interpreter
        )
    })?;
    if base.python.is_some() || base.kind != crate::packages::recipe::Kind::App {
        bail!(
            "{}: [python] interpreter = \"{}\" must be an interpreter's app recipe (python), \
             not {}",
            r.path().display(),
            py.interpreter,
            if base.python.is_some() {
                "another Python app"
            } else {
                "a port"
            }
        );
    }
    Ok(base)
}

/// `r` with what a Python app takes from its interpreter's recipe when it does not say
/// itself: `[run] memory`.
pub fn with_interpreter_defaults(mut r: Recipe) -> Result<Recipe> {
    if r.python.is_some() && r.run.memory.is_none() {
        r.run.memory = interpreter(&r)?.run.memory;
    }
    Ok(r)
}

/// The folder a Python app's root is assembled in (the same place as any app's).
pub fn root_dir(r: &Recipe) -> PathBuf {
    super::programs::rootfs_dir(r)
}

/// `X.Y` of the interpreter recipe's version (`3.11.2` -> `3.11`): the wheels' Python
/// version and the `lib/pythonX.Y` folder.
fn major_minor(base: &Recipe) -> Result<String> {
    let mut parts = base.version.split('.');
    match (parts.next(), parts.next()) {
        (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => Ok(format!("{a}.{b}")),
        _ => bail!(
            "the interpreter recipe {} has version {}, not X.Y.Z",
            base.path().display(),
            base.version
        ),
    }
}

/// One downloaded wheel: the file in the cache and its sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wheel {
    pub requirement: String,
    pub file: PathBuf,
    pub sha256: String,
}

/// The file that records a cached wheel's name and sha256 (`sha256sum` format).
const RECORD: &str = "SHA256SUMS";

use crate::packages::fetch::sha256_file;

/// The wheel of `req` cached under `dir` (`wheels/<name>-<version>`), checked against
/// the sha256 recorded when it was downloaded; `None` when it was not downloaded yet.
fn cached_wheel(req: &str, dir: &Path) -> Result<Option<Wheel>> {
    let Ok(record) = fs::read_to_string(dir.join(RECORD)) else {
        return Ok(None);
    };
    let Some((want, name)) = record.lines().next().and_then(|l| l.split_once("  ")) else {
        bail!(
            "{} is not `SHA256  FILE`: remove {} to download {req} again",
            dir.join(RECORD).display(),
            dir.display()
        );
    };
    let file = dir.join(name);
    let got = sha256_file(&file)
        .with_context(|| format!("remove {} to download {req} again", dir.display()))?;
    if got != want {
        bail!(
            "the cached wheel {} changed since it was downloaded (sha256 {want} recorded, \
             {got} now): remove {} to download {req} again",
            file.display(),
            dir.display()
        );
    }
    Ok(Some(Wheel {
        requirement: req.to_string(),
        file,
        sha256: got,
    }))
}

/// The tags of a wheel file name (`NAME-VER[-BUILD]-PY-ABI-PLATFORM.whl`, PEP 427) as
/// (python, abi, platform).
fn wheel_tags(file_name: &str) -> Option<(&str, &str, &str)> {
    let stem = file_name.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    if !(5..=6).contains(&parts.len()) {
        return None;
    }
    let n = parts.len();
    Some((parts[n - 3], parts[n - 2], parts[n - 1]))
}

/// Refuses a wheel that is not pure Python by its tags: ABI `none`, platform `any`.
pub fn check_pure(req: &str, file_name: &str) -> Result<()> {
    match wheel_tags(file_name) {
        Some((_, "none", "any")) => Ok(()),
        Some((py, abi, plat)) => bail!(
            "{req}: the wheel {file_name} is not pure Python (tags {py}-{abi}-{plat}: \
             compiled extension modules for {plat}); a ukit image cannot load extension \
             modules from files (docs/python.md), so only wheels tagged none-any can go \
             into site-packages. Choose a release with a pure-Python wheel, or a package \
             without C code"
        ),
        None => bail!("{req}: pip gave {file_name}, which is not a wheel file name"),
    }
}

/// The last lines of a command's output, for error messages.
fn tail(out: &std::process::Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// `pip download` of `req` (one wheel, no dependencies, for Python `pyver`) into `to`,
/// with `extra` arguments; the wheel's file name.
fn pip_download(req: &str, pyver: &str, to: &Path, extra: &[&str]) -> Result<String> {
    let out = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args(["--python-version", pyver, "--progress-bar", "off", "--dest"])
        .arg(to)
        .args(extra)
        .arg(req)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .output();
    let out = match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "python3 is not installed on this machine, and pip downloads a Python app's \
             wheels (apt-get install python3-pip)"
        ),
        r => r.context("cannot run python3 -m pip")?,
    };
    if !out.status.success() {
        let said = tail(&out);
        if said.contains("No module named pip") {
            bail!("pip is not installed for the host's python3 (apt-get install python3-pip)");
        }
        bail!(
            "pip download {req} failed ({}):\n{said}\ncheck the name and version, and \
             that pip reaches its package index from this machine (try `python3 -m pip \
             download --no-deps --only-binary=:all: {req}` by hand)",
            out.status
        );
    }
    let mut wheels: Vec<String> = fs::read_dir(to)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".whl"))
        .collect();
    match (wheels.pop(), wheels.is_empty()) {
        (Some(w), true) => Ok(w),
        _ => bail!(
            "pip download {req} left no single wheel in {}:\n{}",
            to.display(),
            tail(&out)
        ),
    }
}

/// The wheel of each requirement, from the cache or downloaded with pip into it. A
/// pure-Python wheel is asked for first; when the release has none, pip is asked for
/// any wheel, so that the error names the compiled one it has.
pub fn fetch_wheels(r: &Recipe, pyver: &str) -> Result<Vec<Wheel>> {
    let py = python(r)?;
    let mut out = Vec::new();
    for req in &py.requirements {
        let (name, version) = parse_pin(req).map_err(|m| anyhow::anyhow!("{m}"))?;
        let dir = paths::cache_dir()
            .join("wheels")
            .join(format!("{name}-{version}"));
        if let Some(w) = cached_wheel(req, &dir)? {
            out.push(w);
            continue;
        }
        fs::create_dir_all(dir.parent().expect("wheels/"))?;
        let tmp = tempfile::Builder::new()
            .prefix(".download-")
            .tempdir_in(dir.parent().expect("wheels/"))?;
        eprintln!("ukport: {}: downloading {req} with pip", r.name);
        let pure = [
            "--platform",
            "any",
            "--implementation",
            "py",
            "--abi",
            "none",
        ];
        let file = match pip_download(req, pyver, tmp.path(), &pure) {
            Ok(f) => f,
            Err(pure_err) => {
                // Is there a release at all, with compiled wheels only?
                match pip_download(req, pyver, tmp.path(), &[]) {
                    Ok(f) => {
                        check_pure(req, &f)?;
                        f
                    }
                    Err(_) => return Err(pure_err),
                }
            }
        };
        check_pure(req, &file)?;
        let sha = sha256_file(&tmp.path().join(&file))?;
        fs::write(tmp.path().join(RECORD), format!("{sha}  {file}\n"))?;
        let _ = fs::remove_dir_all(&dir);
        let kept = tmp.keep();
        fs::rename(&kept, &dir)
            .with_context(|| format!("cannot move the download to {}", dir.display()))?;
        out.push(Wheel {
            requirement: req.clone(),
            file: dir.join(file),
            sha256: sha,
        });
    }
    Ok(out)
}

/// The dependencies a wheel's `METADATA` names without a condition (`Requires-Dist`
/// lines without `;`), as (normalized name, the line's requirement). Conditional ones
/// (extras, Python versions, platforms) are left to the user: they need the markers
/// evaluated for the interpreter.
fn unconditional_requirements(wheel: &Wheel) -> Result<Vec<(String, String)>> {
    let out = Command::new("unzip")
        .arg("-p")
        .arg(&wheel.file)
        .arg("*.dist-info/METADATA")
        .output()
        .context("cannot run unzip")?;
    if !out.status.success() {
        bail!(
            "{}: cannot read the METADATA of {}:\n{}",
            wheel.requirement,
            wheel.file.display(),
            tail(&out)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut deps = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break; // the headers end; the description follows
        }
        let Some(spec) = line.strip_prefix("Requires-Dist:").map(str::trim) else {
            continue;
        };
        if spec.contains(';') {
            continue;
        }
        let name: String = spec
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
            .collect();
        if let Ok((norm, _)) = parse_pin(&format!("{name}==0")) {
            deps.push((norm, spec.to_string()));
        }
    }
    Ok(deps)
}

/// Refuses a set of wheels where one needs a package the requirements do not list
/// (pip downloads each alone, `--no-deps`): the app would fail at its first import.
pub fn check_dependencies(wheels: &[Wheel]) -> Result<()> {
    let listed: Vec<String> = wheels
        .iter()
        .filter_map(|w| parse_pin(&w.requirement).ok().map(|(n, _)| n))
        .collect();
    let mut missing = Vec::new();
    for w in wheels {
        for (name, spec) in unconditional_requirements(w)? {
            if !listed.contains(&name) {
                missing.push(format!("{} needs {spec}", w.requirement));
            }
        }
    }
    if !missing.is_empty() {
        bail!(
            "[python] requirements does not list what its packages need: {}; add each as \
             NAME==VERSION (every package is downloaded alone, like a lock file's lines)",
            missing.join(", ")
        );
    }
    Ok(())
}

/// Unpacks `wheel` into `site` (the interpreter's site-packages), as pip installs a
/// pure-Python wheel: its files as they are, the `NAME.data/purelib` (and `platlib`)
/// trees into site-packages too. Scripts, headers and data files are not installed (an
/// image runs one program).
pub fn install_wheel(wheel: &Wheel, site: &Path) -> Result<()> {
    let name = wheel
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    check_pure(&wheel.requirement, &name)?;
    fs::create_dir_all(site)?;
    let out = Command::new("unzip")
        .args(["-q", "-o"])
        .arg(&wheel.file)
        .arg("-d")
        .arg(site)
        .output();
    let out = match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("unzip is not installed; it unpacks wheels (apt-get install unzip)")
        }
        r => r.context("cannot run unzip")?,
    };
    if !out.status.success() {
        bail!(
            "cannot unpack {} ({}):\n{}",
            wheel.file.display(),
            out.status,
            tail(&out)
        );
    }
    let mut dist_info = None;
    for e in fs::read_dir(site)?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.ends_with(".data") && e.path().is_dir() {
            for lib in ["purelib", "platlib"] {
                let from = e.path().join(lib);
                if from.is_dir() {
                    merge_into(&from, site)?;
                }
            }
            fs::remove_dir_all(e.path())?;
        }
        if n.ends_with(".dist-info") && e.path().join("WHEEL").is_file() {
            let meta = fs::read_to_string(e.path().join("WHEEL"))?;
            if meta.contains("Root-Is-Purelib: false") && dist_matches(&n, &name) {
                bail!(
                    "{}: {name} says Root-Is-Purelib: false (a wheel with compiled code); \
                     only pure-Python wheels can go into an image",
                    wheel.requirement
                );
            }
            if dist_matches(&n, &name) {
                dist_info = Some(e.path());
            }
        }
    }
    if let Some(d) = dist_info {
        fs::write(d.join("INSTALLER"), "ukport\n")?;
    }
    Ok(())
}

/// Whether the `.dist-info` folder `dir_name` belongs to the wheel file `wheel_name`
/// (the same `NAME-VERSION` start).
fn dist_matches(dir_name: &str, wheel_name: &str) -> bool {
    let stem = dir_name.trim_end_matches(".dist-info");
    wheel_name.starts_with(&format!("{stem}-"))
}

/// Moves everything below `from` into `to`, merging folders.
fn merge_into(from: &Path, to: &Path) -> Result<()> {
    for e in fs::read_dir(from)?.flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() && target.is_dir() {
            merge_into(&e.path(), &target)?;
        } else {
            fs::rename(e.path(), &target)
                .with_context(|| format!("cannot move {} into place", e.path().display()))?;
        }
    }
    Ok(())
}

/// Copies the tree `from` to `to` (a new folder) with hard links where the file system
/// allows (else copies), leaving out the folders `skip` (host paths under `from`). The
/// interpreter's root is 20 MiB of standard library; every app shares its files.
/// Python replaces a `.pyc` by rename, never writes into one, so a link is safe.
fn link_tree(from: &Path, to: &Path, skip: &[PathBuf]) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for e in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if skip.contains(&src) {
            continue;
        }
        let t = e.file_type()?;
        if t.is_dir() {
            link_tree(&src, &dst, skip)?;
        } else if t.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else if t.is_file() && fs::hard_link(&src, &dst).is_err() {
            fs::copy(&src, &dst).with_context(|| format!("cannot copy {}", src.display()))?;
        }
    }
    Ok(())
}

/// Copies the tree `from` to `to` (files copied, not linked: the app's own files).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for e in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type()?;
        if t.is_dir() {
            if e.file_name() != "__pycache__" {
                copy_tree(&src, &dst)?;
            }
        } else if t.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else {
            fs::copy(&src, &dst).with_context(|| format!("cannot copy {}", src.display()))?;
        }
    }
    Ok(())
}

/// Hashes the files below `dir` (relative paths and contents, sorted; `__pycache__`
/// left out) into `h`.
fn hash_tree(h: &mut Sha256, dir: &Path, rel: &Path) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir.join(rel))
        .with_context(|| format!("cannot read {}", dir.join(rel).display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if e.file_name() == "__pycache__" {
            continue;
        }
        let r = rel.join(e.file_name());
        h.update(r.to_string_lossy().as_bytes());
        h.update([0]);
        if e.file_type()?.is_dir() {
            hash_tree(h, dir, &r)?;
        } else {
            h.update(fs::read(e.path())?);
            h.update([0]);
        }
    }
    Ok(())
}

/// The app's folder and its entry script, checked to exist.
fn app_folder(r: &Recipe) -> Result<PathBuf> {
    let py = python(r)?;
    let dir = r.recipes_dir().join(&py.app);
    if !dir.is_dir() {
        bail!(
            "{}: [python] app = \"{}\": the folder {} does not exist",
            r.path().display(),
            py.app,
            dir.display()
        );
    }
    if !dir.join(&py.entry).is_file() {
        bail!(
            "{}: [python] entry = \"{}\": {} has no such file",
            r.path().display(),
            py.entry,
            dir.display()
        );
    }
    Ok(dir)
}

/// Changed whenever [`make_root`] makes a different root from the same inputs, so that
/// roots made by an older ukport are made again.
const ROOT_LAYOUT: &str = "pyapp root 2: etc/hosts";

/// The stamp of a Python app's root: its recipe, its app folder, its wheels and the
/// interpreter image (host platform) the root's standard library comes with.
fn root_stamp(r: &Recipe, wheels: &[Wheel], base_stamp: &str) -> Result<String> {
    let mut h = Sha256::new();
    h.update(ROOT_LAYOUT.as_bytes());
    h.update(fs::read(r.path())?);
    for (guest, file) in &r.rootfs {
        h.update(guest.as_bytes());
        h.update(fs::read(r.recipes_dir().join(file)).unwrap_or_default());
    }
    hash_tree(&mut h, &app_folder(r)?, Path::new(""))?;
    for w in wheels {
        h.update(w.sha256.as_bytes());
    }
    h.update(base_stamp.as_bytes());
    Ok(hex::encode(h.finalize()))
}

fn stamp_of(image: &Path) -> String {
    let mut s = image.as_os_str().to_owned();
    s.push(".stamp");
    fs::read_to_string(PathBuf::from(s)).unwrap_or_default()
}

fn write_stamp(image: &Path, stamp: &str) -> Result<()> {
    let mut s = image.as_os_str().to_owned();
    s.push(".stamp");
    fs::write(PathBuf::from(s), stamp)?;
    Ok(())
}

/// The app image's stamp on `plat`: its root's, and the interpreter's image on `plat`.
fn image_stamp(root: &str, base_image: &Path) -> String {
    let mut h = Sha256::new();
    h.update(root.as_bytes());
    h.update(stamp_of(base_image).as_bytes());
    hex::encode(h.finalize())
}

/// True when the app's image on `plat` was made from the current recipe, app folder,
/// cached wheels and interpreter image (the interpreter's image itself current).
pub fn is_current(r: &Recipe, plat: Platform, image: &Path) -> Result<bool> {
    let base = interpreter(r)?;
    let images = paths::images_dir();
    let host = Platform::build_host();
    for p in [host, plat] {
        let bi = images.join(p.image_name(&base.name));
        if !bi.is_file() || !build::image_is_current(&base, p, &bi)? {
            return Ok(false);
        }
    }
    let py = python(r)?;
    let mut wheels = Vec::new();
    for req in &py.requirements {
        let (name, version) = parse_pin(req).map_err(|m| anyhow::anyhow!("{m}"))?;
        let dir = paths::cache_dir()
            .join("wheels")
            .join(format!("{name}-{version}"));
        match cached_wheel(req, &dir)? {
            Some(w) => wheels.push(w),
            None => return Ok(false),
        }
    }
    let base_host = images.join(host.image_name(&base.name));
    let root = root_stamp(r, &wheels, &stamp_of(&base_host))?;
    let root_dir = root_dir(r);
    let root_ok =
        fs::read_to_string(root_dir.with_file_name("rootfs.stamp")).is_ok_and(|s| s == root);
    let base_image = images.join(plat.image_name(&base.name));
    Ok(root_ok && stamp_of(image) == image_stamp(&root, &base_image))
}

/// Assembles the root of the Python app `r` in the new folder `new`: the interpreter's
/// root `base_root` linked (without regrtest's package), the wheels in site-packages,
/// the app folder as `/app`, everything byte-compiled by the interpreter's linuxu image
/// `base_host`.
#[allow(clippy::too_many_arguments)]
fn make_root(
    r: &Recipe,
    base: &Recipe,
    base_root: &Path,
    lib: &Path,
    wheels: &[Wheel],
    app: &Path,
    base_host: &Path,
    new: &Path,
) -> Result<()> {
    // regrtest's own package (26 MiB) is for testing the interpreter, not for apps.
    link_tree(base_root, new, &[base_root.join(lib).join("test")])?;
    let site = new.join(lib).join("site-packages");
    for w in wheels {
        install_wheel(w, &site)
            .with_context(|| format!("installing {} into site-packages", w.requirement))?;
    }
    let app_rel = guest_relative(PYTHON_APP_DIR).expect("an absolute guest path");
    copy_tree(app, &new.join(app_rel))?;
    // What the interpreter would compile on every start: on kvm the root is an initrd,
    // where nothing written survives the run. The -x pattern is CPython's own `make
    // install`'s: files that are bad on purpose.
    let compile = [
        "-m",
        "compileall",
        "-q",
        "-x",
        "bad_coding|badsyntax|lib2to3/tests/data",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("/{}", lib.display()), PYTHON_APP_DIR.to_string()])
    .collect::<Vec<_>>();
    let opts = linuxu::boot_options(
        base.run.memory.as_deref(),
        false,
        Some(linuxu::root_option(new)?),
    );
    write_hosts(base_host, new, &opts)?;
    eprintln!(
        "ukport: {}: byte-compiling the standard library, site-packages and {PYTHON_APP_DIR}",
        r.name
    );
    let out = linuxu::command(base_host, &compile, &[], &opts)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", base_host.display()))?;
    if !out.status.success() {
        bail!(
            "{}: byte-compiling the app failed ({}): a syntax error in {}?\n{}",
            r.name,
            out.status,
            app.display(),
            tail(&out)
        );
    }
    Ok(())
}

/// Gives the root `new` an `/etc/hosts` naming the image's host name (asked from the
/// interpreter's image `base_host`, booted with `opts`), unless it has one. A server on
/// `0.0.0.0` looks its host name up when it starts (http.server and wsgiref call
/// `socket.getfqdn`); with no `/etc/hosts` that is a DNS query to the resolver musl
/// assumes without `/etc/resolv.conf` (127.0.0.1), which nothing in the image answers:
/// bottle's server started 5 s late, after musl's timeout.
fn write_hosts(base_host: &Path, new: &Path, opts: &[String]) -> Result<()> {
    let hosts = new.join("etc/hosts");
    if hosts.exists() {
        return Ok(());
    }
    let ask = ["-S", "-c", "import socket; print(socket.gethostname())"].map(String::from);
    let out = linuxu::command(base_host, &ask, &[], opts)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", base_host.display()))?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || name.is_empty() || name.contains(char::is_whitespace) {
        bail!("the interpreter did not say its host name:\n{}", tail(&out));
    }
    fs::create_dir_all(new.join("etc"))?;
    fs::write(
        &hosts,
        format!("127.0.0.1\tlocalhost {name}\n::1\tlocalhost\n"),
    )?;
    Ok(())
}

/// Makes the Python app `r` on `plat`: the interpreter's images (built when needed), the
/// wheels, the root (assembled afresh when anything it comes from changed, then
/// byte-compiled by the interpreter's linuxu image), and `images/<app>.<plat>`, a hard
/// link to the interpreter's image.
pub fn build(r: &Recipe, plat: Platform, report: Report) -> Result<PathBuf> {
    let started = std::time::Instant::now();
    let py = python(r)?;
    let base = interpreter(r)?;
    let pyver = major_minor(&base)?;
    let app = app_folder(r)?;
    let host = Platform::build_host();
    let settings = crate::compile::config::Settings::default();
    // As `ukport run` would: the interpreter's image is made only when it is missing or
    // out of date (a build always relinks).
    let ensure = |p: Platform| -> Result<PathBuf> {
        let image = paths::images_dir().join(p.image_name(&base.name));
        if image.is_file() && build::image_is_current(&base, p, &image)? {
            return Ok(image);
        }
        build::build_to(&base, p, &settings, None, Report::Stderr)
    };
    let base_host = ensure(host)?;
    let base_image = if plat == host {
        base_host.clone()
    } else {
        ensure(plat)?
    };
    let wheels = fetch_wheels(r, &pyver)?;
    check_dependencies(&wheels).with_context(|| r.path().display().to_string())?;
    let stamp = root_stamp(r, &wheels, &stamp_of(&base_host))?;

    let root = root_dir(r);
    // One maker of this root at a time (the linuxu and kvm images of one app built at
    // once); the later one finds the root current.
    let (_lock, _) = build::lock_image(&root)?;
    let root_stamp_file = root.with_file_name("rootfs.stamp");
    if fs::read_to_string(&root_stamp_file).ok().as_deref() != Some(stamp.as_str()) {
        let base_root = super::rootfs::assemble_rootfs(&base)?.with_context(|| {
            format!(
                "the interpreter recipe {} has no root (its standard library)",
                base.path().display()
            )
        })?;
        let lib = Path::new("usr/lib").join(format!("python{pyver}"));
        if !base_root.join(&lib).join("os.py").is_file() {
            bail!(
                "the interpreter's root {} has no {}/os.py (its standard library)",
                base_root.display(),
                lib.display()
            );
        }
        let new = root.with_file_name("rootfs.new");
        let _ = fs::remove_dir_all(&new);
        let made = make_root(r, &base, &base_root, &lib, &wheels, &app, &base_host, &new);
        if let Err(e) = made {
            let _ = fs::remove_dir_all(&new);
            return Err(e);
        }
        let _ = fs::remove_dir_all(&root);
        fs::rename(&new, &root).with_context(|| format!("cannot move {}", new.display()))?;
        fs::write(&root_stamp_file, &stamp)?;
    }

    let images = paths::images_dir();
    let image = images.join(plat.image_name(&r.name));
    let tmp = images.join(format!(".{}.tmp", plat.image_name(&r.name)));
    let _ = fs::remove_file(&tmp);
    if fs::hard_link(&base_image, &tmp).is_err() {
        fs::copy(&base_image, &tmp)
            .with_context(|| format!("cannot copy {}", base_image.display()))?;
    }
    fs::rename(&tmp, &image)?;
    write_stamp(&image, &image_stamp(&stamp, &base_image))?;
    report.say(format!(
        "{} ({} on {}, {} wheel(s), root {}; made in {:.1}s)",
        image.display(),
        py.entry,
        base.name,
        wheels.len(),
        root.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_tags_decide_what_is_pure() {
        assert_eq!(
            wheel_tags("bottle-0.12.25-py3-none-any.whl"),
            Some(("py3", "none", "any"))
        );
        check_pure("bottle==0.12.25", "bottle-0.12.25-py3-none-any.whl").unwrap();
        check_pure("x==1", "x-1-2-py2.py3-none-any.whl").unwrap();
        let e = check_pure(
            "MarkupSafe==2.1.3",
            "MarkupSafe-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("MarkupSafe-2.1.3-cp311-cp311-manylinux_2_17")
                && e.contains("not pure Python"),
            "{e}"
        );
        assert!(check_pure("x==1", "x-1.tar.gz").is_err());
        assert!(check_pure("x==1", "x-1-abi3-any.whl").is_err());
    }

    /// A cached wheel is checked against the sha256 recorded at download.
    #[test]
    fn a_cached_wheel_is_verified() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("w-1");
        assert_eq!(cached_wheel("w==1", &dir).unwrap(), None);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("w-1-py3-none-any.whl"), b"wheel bytes").unwrap();
        let sha = sha256_file(&dir.join("w-1-py3-none-any.whl")).unwrap();
        fs::write(dir.join(RECORD), format!("{sha}  w-1-py3-none-any.whl\n")).unwrap();
        let w = cached_wheel("w==1", &dir).unwrap().unwrap();
        assert_eq!(w.sha256, sha);
        fs::write(dir.join("w-1-py3-none-any.whl"), b"other bytes").unwrap();
        let e = cached_wheel("w==1", &dir).unwrap_err().to_string();
        assert!(e.contains("changed since it was downloaded"), "{e}");
    }

    /// A zip of the tree `src` at `file` (python3's zipfile, as in a wheel).
    fn zip_tree(src: &Path, file: &Path) {
        let zip = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "cd {} && python3 -m zipfile -c {} *",
                src.display(),
                file.display()
            ))
            .output()
            .unwrap();
        assert!(zip.status.success(), "{}", tail(&zip));
    }

    /// A wheel that needs a package the requirements do not list is refused by both
    /// names; conditional dependencies are not counted.
    #[test]
    fn unlisted_dependencies_are_named() {
        let t = tempfile::tempdir().unwrap();
        let wheel = |name: &str, meta: &str| {
            let src = t.path().join(format!("src-{name}"));
            fs::create_dir_all(src.join(format!("{name}-1.0.dist-info"))).unwrap();
            fs::write(src.join(format!("{name}-1.0.dist-info/METADATA")), meta).unwrap();
            let file = t.path().join(format!("{name}-1.0-py3-none-any.whl"));
            zip_tree(&src, &file);
            Wheel {
                requirement: format!("{name}==1.0"),
                file,
                sha256: String::new(),
            }
        };
        let app = wheel(
            "webfw",
            "Metadata-Version: 2.1\nName: webfw\nRequires-Dist: Jinja2>=3.1.2\n\
             Requires-Dist: asgiref>=3.2 ; extra == \"async\"\n\
             Requires-Dist: importlib-metadata>=3.6.0; python_version < \"3.10\"\n\n\
             Requires-Dist: in-the-description\n",
        );
        let e = check_dependencies(std::slice::from_ref(&app))
            .unwrap_err()
            .to_string();
        assert!(e.contains("webfw==1.0 needs Jinja2>=3.1.2"), "{e}");
        assert!(
            !e.contains("asgiref") && !e.contains("importlib") && !e.contains("description"),
            "{e}"
        );
        let jinja = wheel("jinja2", "Metadata-Version: 2.1\nName: Jinja2\n");
        check_dependencies(&[app, jinja]).unwrap();
    }

    /// A wheel's `.data/purelib` lands in site-packages beside its packages; a
    /// compiled wheel is refused before anything is unpacked.
    #[test]
    fn a_wheel_is_installed_as_pip_would() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(src.join("demo")).unwrap();
        fs::create_dir_all(src.join("demo-1.0.dist-info")).unwrap();
        fs::create_dir_all(src.join("demo-1.0.data/purelib/extra")).unwrap();
        fs::write(src.join("demo/__init__.py"), "X = 42\n").unwrap();
        fs::write(
            src.join("demo-1.0.dist-info/WHEEL"),
            "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n",
        )
        .unwrap();
        fs::write(src.join("demo-1.0.data/purelib/extra/m.py"), "Y = 1\n").unwrap();
        let file = t.path().join("demo-1.0-py3-none-any.whl");
        let zip = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "cd {} && python3 -m zipfile -c {} demo demo-1.0.dist-info demo-1.0.data",
                src.display(),
                file.display()
            ))
            .output()
            .unwrap();
        assert!(zip.status.success(), "{}", tail(&zip));
        let site = t.path().join("site");
        let w = Wheel {
            requirement: "demo==1.0".into(),
            file,
            sha256: String::new(),
        };
        install_wheel(&w, &site).unwrap();
        assert_eq!(
            fs::read_to_string(site.join("demo/__init__.py")).unwrap(),
            "X = 42\n"
        );
        assert!(site.join("extra/m.py").is_file());
        assert!(!site.join("demo-1.0.data").exists());
        assert_eq!(
            fs::read_to_string(site.join("demo-1.0.dist-info/INSTALLER")).unwrap(),
            "ukport\n"
        );
        let compiled = Wheel {
            file: t.path().join("demo-1.0-cp311-cp311-linux_x86_64.whl"),
            ..w
        };
        let e = install_wheel(&compiled, &t.path().join("site2"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not pure Python"), "{e}");
        assert!(!t.path().join("site2").exists());
    }

    #[test]
    fn link_tree_leaves_out_what_it_is_told() {
        let t = tempfile::tempdir().unwrap();
        let from = t.path().join("a");
        fs::create_dir_all(from.join("lib/test")).unwrap();
        fs::write(from.join("lib/os.py"), "x").unwrap();
        fs::write(from.join("lib/test/t.py"), "t").unwrap();
        let to = t.path().join("b");
        link_tree(&from, &to, &[from.join("lib/test")]).unwrap();
        assert_eq!(fs::read_to_string(to.join("lib/os.py")).unwrap(), "x");
        assert!(!to.join("lib/test").exists());
    }
}
