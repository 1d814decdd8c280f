//! Source fetching: cache -> upstream URL -> Debian source package.
//!
//! Every archive is checked against the recipe's sha256 before it lands in
//! `sources/`, and a cache hit is checked again, so a build never starts from bytes the
//! recipe did not ask for. Upstream hosts are often unreachable (offline machines,
//! mirrors only), so the last resort is the Debian source package of the same version,
//! fetched through a private apt configuration derived at run time from the host's own
//! `/etc/apt` (no mirror host is ever written into the repository). Debian ships the
//! upstream tarball unchanged as `<pkg>_<version>.orig.tar.*`, so the same sha256 holds;
//! where it does not (a `+dfsg` repack, or an upstream zip), the recipe states the Debian
//! tarball's own sha256 (`debian = { ..., sha256 }`) and the fallback is checked against it.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use fs4::fs_std::FileExt;
use sha2::{Digest, Sha256};

use crate::paths;
use crate::progress::{Progress, Task};
use crate::recipe::Recipe;

/// The Debian package that provides a host tool, for "install it" messages.
pub fn debian_package_for(tool: &str) -> &str {
    match tool {
        "apt-get" => "apt",
        "xz" => "xz-utils",
        "gcc" | "cc" => "gcc",
        other => other,
    }
}

/// Finds `tool` on `PATH`, or says which Debian package to install.
pub fn require_tool(tool: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(tool);
        if is_executable(&p) {
            return Ok(p);
        }
    }
    bail!(
        "`{tool}` is not installed; install it with `apt-get install {}`",
        debian_package_for(tool)
    )
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Where an archive may sit in `sources/`: under the upstream file name (checked against
/// the upstream sha256) and, when Debian's `.orig` tarball differs from upstream's (its
/// own sha256 in the recipe) or there is no URL, under Debian's name (found by prefix:
/// the compression is not known until apt has answered).
fn cache_names(recipe: &Recipe) -> Result<Vec<(CacheName, String)>> {
    let src = &recipe.source;
    let mut out = Vec::new();
    if let (Some(url), Some(sha)) = (&src.url, &src.sha256) {
        let name = url
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty() && !n.contains(':'))
            .ok_or_else(|| anyhow!("cannot take a file name from URL {url}"))?;
        out.push((CacheName::Exact(name.to_string()), sha.clone()));
    }
    if let (Some(d), Some(sha)) = (&src.debian, src.debian_sha256()) {
        let same_file = src.url.is_some() && src.sha256.as_deref() == Some(sha);
        if !same_file {
            out.push((
                CacheName::Prefix(format!("{}_{}.orig.tar.", d.package, d.upstream_version())),
                sha.to_string(),
            ));
        }
    }
    if out.is_empty() {
        bail!(
            "recipe {} has no url or debian source to fetch",
            recipe.name
        );
    }
    Ok(out)
}

enum CacheName {
    Exact(String),
    Prefix(String),
}

fn find_cached(dir: &Path, name: &CacheName) -> Option<PathBuf> {
    match name {
        CacheName::Exact(n) => Some(dir.join(n)).filter(|p| p.is_file()),
        CacheName::Prefix(pre) => fs::read_dir(dir).ok()?.flatten().find_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            (n.starts_with(pre.as_str()) && !n.ends_with(".asc")).then(|| e.path())
        }),
    }
}

/// Fetches the recipe's source archive into `paths::sources_dir()` and returns its path
/// once its sha256 matches the recipe (upstream's, or the Debian tarball's own when the
/// recipe states one and the fallback was used).
pub fn fetch_source(recipe: &Recipe, progress: &Progress) -> Result<PathBuf> {
    if recipe.source.identity_sha256().is_none() {
        bail!(
            "recipe {} has no downloadable source (it uses [source] path)",
            recipe.name
        );
    }
    let sources = paths::sources_dir();
    fs::create_dir_all(&sources).with_context(|| format!("cannot create {}", sources.display()))?;
    let names = cache_names(recipe)?;

    // 1. cache
    let mut stale = None;
    for (name, sha) in &names {
        if let Some(p) = find_cached(&sources, name) {
            if sha256_file(&p)?.eq_ignore_ascii_case(sha) {
                return Ok(p);
            }
            progress.note(format!(
                "warning: cached {} does not match the recipe's sha256; fetching it again",
                p.display()
            ));
            stale = Some(p);
        }
    }

    let mut errors = Vec::new();
    // 2. upstream
    if let (Some(url), Some((CacheName::Exact(file), sha))) = (&recipe.source.url, names.first()) {
        let task = progress.task(format!(
            "fetching {} {} (upstream)",
            recipe.name, recipe.version
        ));
        match fetch_url(url, sha, &sources, file, &task) {
            Ok(p) => {
                task.done(format!(
                    "fetched {} {} (upstream)",
                    recipe.name, recipe.version
                ));
                return Ok(p);
            }
            Err(e) => {
                task.fail();
                progress.note(format!("upstream fetch failed: {e:#}"));
                errors.push(format!("upstream: {e:#}"));
            }
        }
    }
    // 3. Debian source package
    if let (Some(deb), Some(sha)) = (&recipe.source.debian, recipe.source.debian_sha256()) {
        let task = progress.task(format!(
            "fetching {} {} (Debian source package {}={})",
            recipe.name, recipe.version, deb.package, deb.version
        ));
        // Stored under the upstream name only when it is the same file.
        let dest_name = match names.as_slice() {
            [(CacheName::Exact(n), _)] => Some(n.as_str()),
            _ => None,
        };
        match fetch_debian(
            &paths::apt_dir(),
            Path::new("/etc/apt"),
            deb,
            sha,
            &sources,
            dest_name,
            &task,
        ) {
            Ok(p) => {
                task.done(format!(
                    "fetched {} {} (Debian source package)",
                    recipe.name, recipe.version
                ));
                return Ok(p);
            }
            Err(e) => {
                task.fail();
                errors.push(format!("Debian source package: {e:#}"));
            }
        }
    }
    let mut msg = format!(
        "cannot fetch the source of {} {}:\n  {}",
        recipe.name,
        recipe.version,
        errors.join("\n  ")
    );
    if let Some(p) = stale {
        msg.push_str(&format!(
            "\n  (the cached {} has the wrong sha256; delete it)",
            p.display()
        ));
    }
    msg.push_str(&format!(
        "\nPut the archive into {} by hand, or check the network and the recipe's [source].",
        sources.display()
    ));
    Err(anyhow!(msg))
}

/// Downloads `url` with curl into `dir/file`: to a temp file first, verified, then
/// renamed into place, so `dir` never holds a partial or wrong archive under its name.
pub(crate) fn fetch_url(
    url: &str,
    sha: &str,
    dir: &Path,
    file: &str,
    task: &Task,
) -> Result<PathBuf> {
    download(url, Some(sha), dir, file, task)
}

/// Downloads `url` with curl into `dir/file`, checked against `sha` when given (a new
/// recipe has none yet: `ukport new` computes it from what arrived).
pub fn download(
    url: &str,
    sha: Option<&str>,
    dir: &Path,
    file: &str,
    task: &Task,
) -> Result<PathBuf> {
    let curl = require_tool("curl")?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{file}."))
        .suffix(".part")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temp file in {}", dir.display()))?;
    let mut child = Command::new(curl)
        .args([
            "-fsSL",
            "--connect-timeout",
            "5",
            "--speed-time",
            "30",
            "--speed-limit",
            "1024",
            "-o",
        ])
        .arg(tmp.path())
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run curl")?;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if let Ok(m) = fs::metadata(tmp.path()) {
            task.update(format!("downloading {url}: {} KiB", m.len() / 1024));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        bail!("curl {url} failed ({status}): {}", err.trim());
    }
    let got = sha256_file(tmp.path())?;
    if let Some(sha) = sha.filter(|sha| !got.eq_ignore_ascii_case(sha)) {
        // Dropping `tmp` deletes the temp file; the cache is left as it was.
        bail!("sha256 mismatch for {url}: expected {sha}, got {got}");
    }
    let dest = dir.join(file);
    tmp.persist(&dest)
        .with_context(|| format!("cannot move the download to {}", dest.display()))?;
    Ok(dest)
}

/// Turns the host's apt source files into deb-src entries, one output file per input.
/// One-line format: `deb ...` becomes `deb-src ...`; deb822: `Types:` listing `deb`
/// becomes `Types: deb-src`. Entries that are not Debian archives are dropped.
pub(crate) fn derive_deb_src(etc_apt: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let list = etc_apt.join("sources.list");
    if list.is_file() {
        out.push((
            "sources.list".to_string(),
            one_line_to_src(&fs::read_to_string(&list)?),
        ));
    }
    let parts = etc_apt.join("sources.list.d");
    if let Ok(rd) = fs::read_dir(&parts) {
        let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let text = match fs::read_to_string(&p) {
                Ok(t) => t,
                Err(_) => continue,
            };
            if name.ends_with(".list") {
                out.push((name, one_line_to_src(&text)));
            } else if name.ends_with(".sources") {
                out.push((name, deb822_to_src(&text)));
            }
        }
    }
    out.retain(|(_, text)| {
        text.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    Ok(out)
}

fn one_line_to_src(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        let src = if let Some(rest) = t.strip_prefix("deb ").or_else(|| t.strip_prefix("deb\t")) {
            format!("deb-src {rest}")
        } else if t.starts_with("deb-src ") || t.starts_with("deb-src\t") {
            t.to_string()
        } else {
            continue;
        };
        if !out.lines().any(|l| l == src) {
            out.push_str(&src);
            out.push('\n');
        }
    }
    out
}

fn deb822_to_src(text: &str) -> String {
    let mut out = String::new();
    let mut stanza: Vec<&str> = Vec::new();
    let flush = |stanza: &mut Vec<&str>, out: &mut String| {
        let mut keep = false;
        let mut lines = Vec::new();
        for l in stanza.iter() {
            if let Some((k, v)) = l.split_once(':') {
                if k.trim().eq_ignore_ascii_case("types") && !l.starts_with([' ', '\t', '#']) {
                    keep = v.split_whitespace().any(|t| t == "deb" || t == "deb-src");
                    lines.push("Types: deb-src".to_string());
                    continue;
                }
            }
            lines.push(l.to_string());
        }
        if keep {
            if !out.is_empty() {
                out.push('\n');
            }
            for l in lines {
                out.push_str(&l);
                out.push('\n');
            }
        }
        stanza.clear();
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut stanza, &mut out);
        } else {
            stanza.push(line);
        }
    }
    flush(&mut stanza, &mut out);
    out
}

/// apt options that point apt at the private folder instead of the host's state.
fn apt_opts(apt: &Path) -> Vec<String> {
    vec![
        "-o".into(),
        "Dir::Etc::SourceList=/dev/null".into(),
        "-o".into(),
        format!(
            "Dir::Etc::SourceParts={}",
            apt.join("etc/sources.list.d").display()
        ),
        "-o".into(),
        format!("Dir::State::Lists={}", apt.join("lists").display()),
        "-o".into(),
        format!("Dir::Cache={}", apt.join("cache").display()),
        "-o".into(),
        "APT::Get::List-Cleanup=1".into(),
    ]
}

/// Whether the private lists need an `apt-get update`: none yet, older than a day, or
/// the derived sources changed.
fn lists_stale(apt: &Path) -> bool {
    let stamp = apt.join("lists/.ukit-updated");
    let Ok(m) = fs::metadata(&stamp).and_then(|m| m.modified()) else {
        return true;
    };
    let age = SystemTime::now().duration_since(m).unwrap_or(Duration::MAX);
    let have_sources = fs::read_dir(apt.join("lists"))
        .map(|rd| {
            rd.flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with("_Sources"))
        })
        .unwrap_or(false);
    age > Duration::from_secs(24 * 3600) || !have_sources
}

fn run_logged(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("{what} failed ({}):\n{}", out.status, tail.join("\n"));
    }
    Ok(())
}

/// Prepares the private apt folder (sources derived from `etc_apt`) and runs
/// `apt-get update` when the lists are missing, old, or the sources changed.
fn prepare_apt(apt: &Path, etc_apt: &Path, task: &Task) -> Result<()> {
    let apt_get = require_tool("apt-get")?;
    let parts = apt.join("etc/sources.list.d");
    for d in [
        &parts,
        &apt.join("lists/partial"),
        &apt.join("cache/archives/partial"),
    ] {
        fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    let derived = derive_deb_src(etc_apt)?;
    if derived.is_empty() {
        bail!(
            "no Debian archive is configured in {}/sources.list or sources.list.d, so there \
             is no deb-src to fall back on",
            etc_apt.display()
        );
    }
    let mut changed = false;
    let mut wanted = std::collections::BTreeSet::new();
    for (name, text) in &derived {
        let p = parts.join(name);
        wanted.insert(name.clone());
        if fs::read_to_string(&p).ok().as_deref() != Some(text.as_str()) {
            fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
            changed = true;
        }
    }
    for e in fs::read_dir(&parts)?.flatten() {
        if !wanted.contains(&*e.file_name().to_string_lossy()) {
            fs::remove_file(e.path())?;
            changed = true;
        }
    }
    if changed || lists_stale(apt) {
        task.update("updating the private apt source lists (apt-get update)");
        run_logged(
            Command::new(&apt_get).args(apt_opts(apt)).arg("update"),
            "apt-get update (private deb-src lists)",
        )?;
        fs::write(apt.join("lists/.ukit-updated"), b"")?;
    }
    Ok(())
}

/// Downloads the source package `spec` (`pkg` or `pkg=version`) with `apt-get source
/// --download-only` into a temporary folder in `dest_dir`, through the private apt
/// configuration. Returns the folder, the upstream tarball (`.orig.tar.*`) and the
/// full Debian version from the `.dsc` (with its epoch).
fn download_debian(
    apt: &Path,
    etc_apt: &Path,
    package: &str,
    version: Option<&str>,
    dest_dir: &Path,
    task: &Task,
) -> Result<(tempfile::TempDir, PathBuf, String)> {
    fs::create_dir_all(apt).with_context(|| format!("cannot create {}", apt.display()))?;
    // apt keeps its own lock in lists/, but two ukit runs must not fight over it.
    let lock = fs::File::create(apt.join(".ukit-lock"))?;
    lock.lock_exclusive()
        .context("cannot lock the private apt folder")?;
    prepare_apt(apt, etc_apt, task)?;

    let work = tempfile::Builder::new()
        .prefix(".deb-src.")
        .tempdir_in(dest_dir)
        .with_context(|| format!("cannot create a temp folder in {}", dest_dir.display()))?;
    let spec = match version {
        Some(v) => format!("{package}={v}"),
        None => package.to_string(),
    };
    task.update(format!("apt-get source --download-only {spec}"));
    run_logged(
        Command::new(require_tool("apt-get")?)
            .args(apt_opts(apt))
            .args(["source", "--download-only"])
            .arg(&spec)
            .current_dir(work.path()),
        &format!("apt-get source {spec}"),
    )?;
    let files: Vec<PathBuf> = fs::read_dir(work.path())?
        .flatten()
        .map(|e| e.path())
        .collect();
    let name = |p: &Path| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    let dsc = files
        .iter()
        .find(|p| name(p).starts_with(&format!("{package}_")) && name(p).ends_with(".dsc"))
        .ok_or_else(|| anyhow!("apt-get source {spec} gave no .dsc file"))?;
    let full_version = fs::read_to_string(dsc)?
        .lines()
        .find_map(|l| l.strip_prefix("Version:").map(|v| v.trim().to_string()))
        .ok_or_else(|| anyhow!("{} has no Version field", dsc.display()))?;
    let upstream = crate::recipe::DebianSource {
        package: package.to_string(),
        version: full_version.clone(),
        sha256: None,
    }
    .upstream_version()
    .to_string();
    let prefix = format!("{package}_{upstream}.orig.tar.");
    let orig = files
        .iter()
        .find(|p| name(p).starts_with(&prefix) && !name(p).ends_with(".asc"))
        .cloned()
        .ok_or_else(|| {
            anyhow!(
                "apt-get source {spec} gave no {prefix}* file (a native package has no \
                 upstream tarball; use a url source instead)"
            )
        })?;
    Ok((work, orig, full_version))
}

/// Fetches `pkg=version` with `apt-get source --download-only`, verifies its
/// `.orig.tar.*` against `sha` and moves it into `dest_dir` (as `dest_name` when given,
/// so the cache is found by the upstream name next time).
pub(crate) fn fetch_debian(
    apt: &Path,
    etc_apt: &Path,
    deb: &crate::recipe::DebianSource,
    sha: &str,
    dest_dir: &Path,
    dest_name: Option<&str>,
    task: &Task,
) -> Result<PathBuf> {
    let (_work, orig, _) = download_debian(
        apt,
        etc_apt,
        &deb.package,
        Some(&deb.version),
        dest_dir,
        task,
    )?;
    let got = sha256_file(&orig)?;
    if !got.eq_ignore_ascii_case(sha) {
        bail!(
            "sha256 mismatch for Debian {}={} ({}): expected {sha}, got {got}",
            deb.package,
            deb.version,
            orig.file_name().unwrap_or_default().to_string_lossy()
        );
    }
    let name = dest_name.map(str::to_string).unwrap_or_else(|| {
        orig.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    });
    let dest = dest_dir.join(name);
    fs::rename(&orig, &dest)
        .with_context(|| format!("cannot move {} to {}", orig.display(), dest.display()))?;
    Ok(dest)
}

/// The upstream tarball of Debian source package `package` (the version apt would
/// pick, or `version`), moved into the sources cache: for a new recipe, which has no
/// sha256 yet. Returns the archive, the full Debian version and the archive's sha256.
pub fn fetch_debian_unverified(
    package: &str,
    version: Option<&str>,
    progress: &Progress,
) -> Result<(PathBuf, String, String)> {
    let dest_dir = paths::sources_dir();
    fs::create_dir_all(&dest_dir)
        .with_context(|| format!("cannot create {}", dest_dir.display()))?;
    let task = progress.task(format!("fetching the Debian source package {package}"));
    let r = (|| {
        let (_work, orig, full) = download_debian(
            &paths::apt_dir(),
            Path::new("/etc/apt"),
            package,
            version,
            &dest_dir,
            &task,
        )?;
        let sha = sha256_file(&orig)?;
        let dest = dest_dir.join(orig.file_name().unwrap_or_default());
        fs::rename(&orig, &dest)
            .with_context(|| format!("cannot move {} to {}", orig.display(), dest.display()))?;
        Ok((dest, full, sha))
    })();
    match &r {
        Ok((_, v, _)) => task.done(format!("fetched {package} {v} (Debian source package)")),
        Err(_) => task.fail(),
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha_of(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[test]
    fn url_fetch_verifies_and_lands_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("pkg-1.0.tar.gz");
        fs::write(&src, b"archive bytes").unwrap();
        let cache = dir.path().join("sources");
        fs::create_dir(&cache).unwrap();
        let url = format!("file://{}", src.display());
        let task = Progress::hidden().task("t");

        let got = fetch_url(
            &url,
            &sha_of(b"archive bytes"),
            &cache,
            "pkg-1.0.tar.gz",
            &task,
        )
        .unwrap();
        assert_eq!(got, cache.join("pkg-1.0.tar.gz"));
        assert_eq!(fs::read(&got).unwrap(), b"archive bytes");
        assert_eq!(fs::read_dir(&cache).unwrap().count(), 1);
    }

    #[test]
    fn sha256_mismatch_leaves_cache_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("pkg-1.0.tar.gz");
        fs::write(&src, b"tampered bytes").unwrap();
        let cache = dir.path().join("sources");
        fs::create_dir(&cache).unwrap();
        fs::write(cache.join("pkg-1.0.tar.gz"), b"old cached bytes").unwrap();
        let url = format!("file://{}", src.display());
        let want = sha_of(b"the real archive");
        let task = Progress::hidden().task("t");

        let e = fetch_url(&url, &want, &cache, "pkg-1.0.tar.gz", &task)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "sha256 mismatch for {url}: expected {want}, got {}",
                sha_of(b"tampered bytes")
            )
        );
        let left: Vec<_> = fs::read_dir(&cache)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            left,
            vec![std::ffi::OsString::from("pkg-1.0.tar.gz")],
            "temp file left behind"
        );
        assert_eq!(
            fs::read(cache.join("pkg-1.0.tar.gz")).unwrap(),
            b"old cached bytes"
        );
    }

    #[test]
    fn unreachable_url_fails() {
        let dir = tempfile::tempdir().unwrap();
        let task = Progress::hidden().task("t");
        let url = format!("file://{}/missing.tar.gz", dir.path().display());
        let e = fetch_url(&url, &sha_of(b""), dir.path(), "missing.tar.gz", &task).unwrap_err();
        assert!(e.to_string().contains("curl"), "{e}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn deb_src_from_one_line_and_deb822() {
        let etc = tempfile::tempdir().unwrap();
        fs::write(
            etc.path().join("sources.list"),
            "# comment\ndeb http://mirror.example/debian bookworm main\n\
             deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm-updates main\n\
             deb-src http://mirror.example/debian bookworm main\n\
             debfoo nonsense\n",
        )
        .unwrap();
        let d = etc.path().join("sources.list.d");
        fs::create_dir(&d).unwrap();
        fs::write(
            d.join("debian.sources"),
            "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n\n\
             Types: deb deb-src\nURIs: http://mirror.example/security\nSuites: bookworm-security\n\n\
             Types: rpm\nURIs: http://elsewhere.example\n",
        )
        .unwrap();
        fs::write(
            d.join("other.list"),
            "deb http://other.example/apt stable main\n",
        )
        .unwrap();
        fs::write(
            d.join("off.list.disabled"),
            "deb http://off.example/ x main\n",
        )
        .unwrap();

        let got = derive_deb_src(etc.path()).unwrap();
        let names: Vec<_> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["sources.list", "debian.sources", "other.list"]);
        assert_eq!(
            got[0].1,
            "deb-src http://mirror.example/debian bookworm main\n\
             deb-src [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm-updates main\n"
        );
        assert_eq!(
            got[1].1,
            "Types: deb-src\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n\n\
             Types: deb-src\nURIs: http://mirror.example/security\nSuites: bookworm-security\n"
        );
        assert_eq!(got[2].1, "deb-src http://other.example/apt stable main\n");
    }

    #[test]
    fn debian_tarball_with_its_own_sha_is_cached_under_its_own_name() {
        let up = "7d5b0b6062521e4627e099e4c9dc8248d32a30285e959b7eecaa780cf8cfd4a4";
        let deb = "0a8276d09fc4e97bbba2f953d74af2388fc2195ea156be9d7589e297a68fde24";
        let parse = |src: &str| {
            let text = format!("name = \"p\"\nversion = \"1\"\nkind = \"port\"\n[source]\n{src}");
            Recipe::parse(&text, Path::new("recipes/p.toml")).unwrap()
        };
        let shape = |r: &Recipe| -> Vec<(String, String)> {
            cache_names(r)
                .unwrap()
                .into_iter()
                .map(|(n, sha)| match n {
                    CacheName::Exact(n) => (format!("={n}"), sha),
                    CacheName::Prefix(n) => (format!("{n}*"), sha),
                })
                .collect()
        };
        // Same tarball: one name, the upstream one.
        let r = parse(&format!(
            "url = \"https://x.invalid/p-1.tar.gz\"\nsha256 = \"{up}\"\n\
             debian = {{ package = \"p\", version = \"1-1\" }}\n"
        ));
        assert_eq!(shape(&r), [("=p-1.tar.gz".to_string(), up.to_string())]);
        // Repacked: both, each with its own hash.
        let r = parse(&format!(
            "url = \"https://x.invalid/p-1.zip\"\nsha256 = \"{up}\"\n\
             debian = {{ package = \"p\", version = \"1+dfsg1-2\", sha256 = \"{deb}\" }}\n"
        ));
        assert_eq!(
            shape(&r),
            [
                ("=p-1.zip".to_string(), up.to_string()),
                ("p_1+dfsg1.orig.tar.*".to_string(), deb.to_string())
            ]
        );
        // Debian only.
        let r = parse(&format!(
            "debian = {{ package = \"p\", version = \"1+dfsg1-2\", sha256 = \"{deb}\" }}\n"
        ));
        assert_eq!(
            shape(&r),
            [("p_1+dfsg1.orig.tar.*".to_string(), deb.to_string())]
        );
        // A cached Debian tarball is found and verified against the Debian hash.
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("p_1+dfsg1.orig.tar.xz"), b"x").unwrap();
        let (name, _) = &cache_names(&r).unwrap()[0];
        assert_eq!(
            find_cached(dir.path(), name),
            Some(dir.path().join("p_1+dfsg1.orig.tar.xz"))
        );
    }

    #[test]
    fn missing_tool_names_the_package() {
        let e = require_tool("ukit-no-such-tool-xyz")
            .unwrap_err()
            .to_string();
        assert!(e.contains("apt-get install ukit-no-such-tool-xyz"), "{e}");
        assert_eq!(debian_package_for("xz"), "xz-utils");
        assert_eq!(debian_package_for("apt-get"), "apt");
        assert!(require_tool("sh").is_ok());
    }
}
