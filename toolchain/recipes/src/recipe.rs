//! Recipes: one TOML file per app or port (`recipes/<name>.toml`) that says where the
//! source comes from, how the program's own build system is driven, what goes into the
//! rootfs, how the image runs and which kernel options it wants.
//!
//! The schema is deliberately plain (docs/design.md, "How to add a recipe") and strict:
//! an unknown key is an error with its file and line, because a misspelt key that is
//! silently ignored is the kind of mistake that costs an afternoon.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::paths;

/// What a recipe produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A program that becomes an image.
    #[default]
    App,
    /// A C library installed into the cache (include/ and lib/) for apps to link.
    Port,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::App => "app",
            Kind::Port => "port",
        })
    }
}

/// A Debian source package that carries the same upstream tarball (its `.orig.tar.*`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebianSource {
    pub package: String,
    /// Full Debian version (`1.2.3-1`); the part before the last `-` is the upstream one.
    pub version: String,
    /// sha256 of Debian's `.orig.tar.*` when it is not byte-identical to the upstream
    /// archive (a `+dfsg` repack, or upstream ships a zip): checked when the fallback is
    /// used. Without it the fallback is checked against `[source] sha256`.
    pub sha256: Option<String>,
}

impl DebianSource {
    /// The upstream part of the Debian version, without epoch and revision: the version
    /// that names the `.orig.tar.*` file.
    pub fn upstream_version(&self) -> &str {
        let v = self
            .version
            .split_once(':')
            .map_or(self.version.as_str(), |(_, v)| v);
        v.rsplit_once('-').map_or(v, |(up, _)| up)
    }
}

/// `[source]`: an archive (url + sha256, Debian fallback) or a folder in the repo.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub url: Option<String>,
    pub sha256: Option<String>,
    pub debian: Option<DebianSource>,
    /// In-repo source, relative to `recipes/`.
    pub path: Option<String>,
    /// Patch files relative to the repository root, applied with `patch -p1` in order.
    #[serde(default)]
    pub patches: Vec<String>,
}

impl Source {
    /// The sha256 the Debian fallback must match: its own when the recipe states one,
    /// else the upstream archive's (Debian ships most tarballs unchanged).
    pub fn debian_sha256(&self) -> Option<&str> {
        self.debian
            .as_ref()
            .and_then(|d| d.sha256.as_deref())
            .or(self.sha256.as_deref())
    }

    /// The sha256 that identifies the source release (for build stamps): upstream's
    /// when known, else the Debian tarball's.
    pub fn identity_sha256(&self) -> Option<&str> {
        self.sha256.as_deref().or_else(|| self.debian_sha256())
    }
}

/// `[depends]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Depends {
    #[serde(default)]
    pub ports: Vec<String>,
    /// Apps whose root (their `[build] programs`, `[build] files` and `[rootfs]`) is
    /// copied into this app's root first: `programs = ["busybox"]` gives an image
    /// /bin/sh and the commands a shell runs (docs/processes.md).
    #[serde(default)]
    pub programs: Vec<String>,
}

/// `[build]`: the program's own build system, driven step by step.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Extra environment for every step (values are templates too).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// argv lists; templates `{jobs} {prefix} {src} {cc} {sysroot} {cache} {repo}` are expanded.
    #[serde(default)]
    pub steps: Vec<Vec<String>>,
    /// For apps: the linked program, relative to the build's working directory. When
    /// absent, the image the build linked is taken (uk-cc leaves a relink manifest
    /// beside each one): the only one, or the one named after the recipe.
    pub binary: Option<String>,
    /// For apps: program files the build made (`uk-cc --uk-program`) that the image
    /// runs with execve: guest path -> file relative to the build's working directory.
    /// They go into the image's root beside the `[rootfs]` files (docs/processes.md).
    #[serde(default)]
    pub programs: BTreeMap<String, String>,
    /// For apps: files or folders the build made that the program reads at run time (an
    /// interpreter's standard library): guest path -> path relative to the build's
    /// working directory. Copied (folders with everything below them) into the image's
    /// root after the build, beside the `[rootfs]` files.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Run the steps in a separate `obj/` folder instead of the source tree.
    #[serde(default, rename = "out-of-tree")]
    pub out_of_tree: bool,
    /// Repository files or folders (relative to the repository root) the steps read
    /// besides the source, e.g. a port's own Makefile and option headers: their contents
    /// are part of the port's build stamp, so editing them rebuilds the port.
    #[serde(default)]
    pub inputs: Vec<String>,
}

/// `[run]`: how `ukport run` starts the image.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub memory: Option<String>,
    #[serde(default)]
    pub ports: Vec<String>,
    /// An absolute guest path where the image file itself appears in the recipe's
    /// root on linuxu (a hard link, else a copy), and the program's argv\[0\]: a
    /// program that runs itself again (CPython's `sys.executable`) finds it there, and
    /// execve of the image starts its own program anew (docs/processes.md).
    pub executable: Option<String>,
    /// `[[run.prepare]]`: files the image needs that are made on the first run.
    #[serde(default)]
    pub prepare: Vec<Prepare>,
}

/// One `[[run.prepare]]` step: when a file it `creates` is missing from the recipe's
/// root, `ukport run` (and `ukport test`) first runs another app recipe's image with
/// `args` on that same root (a self-signed TLS certificate made by the `openssl` image
/// for nginx-tls), then prints `say`. A root given with `--root` is left as it is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prepare {
    /// Absolute guest paths; the step runs when any of them is missing, and each must
    /// exist afterwards.
    pub creates: Vec<String>,
    /// The app recipe whose image does the work, on the build host's platform.
    pub app: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Printed after the step ran; `{root}` is the host folder that holds the root.
    #[serde(default)]
    pub say: String,
}

/// `[test]`: the smoke test run after a build.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Test {
    /// Arguments for the test run, used instead of `[run] args` when given: a smoke test
    /// often needs its own input (`lua -e ...`), which as `[run] args` would also be
    /// prepended to every `ukport run`.
    pub args: Option<Vec<String>>,
    pub expect_stdout: Option<String>,
    #[serde(default)]
    pub expect_exit: i32,
}

/// `[python]`: the app is a Python program run by an interpreter recipe's image (the
/// `python` recipe by default) instead of a C program built from source. The image is
/// the interpreter's; what makes the app is its root: the interpreter's standard
/// library, the pure-Python wheels of `requirements` unpacked into site-packages, and
/// the `app` folder as `/app`, with `/app/<entry>` as the program's first argument.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Python {
    /// The interpreter's app recipe (its image and its root's standard library).
    #[serde(default = "default_interpreter")]
    pub interpreter: String,
    /// Exact pins (`bottle==0.12.25`), one per package, dependencies included: each is
    /// downloaded as one wheel without its dependencies, like the lines of a lock file.
    #[serde(default)]
    pub requirements: Vec<String>,
    /// The app's folder, relative to the recipe's folder; copied to `/app`.
    pub app: String,
    /// The script `python` runs, relative to `app`.
    pub entry: String,
}

fn default_interpreter() -> String {
    "python".to_string()
}

/// Where a `[python]` app's folder is in the image's root.
pub const PYTHON_APP_DIR: &str = "/app";

/// One `[config]` entry: option name, value, and the line it was written on (so the
/// kconfig resolver can say where a bad value came from).
pub type ConfigEntry = (String, toml::Value, usize);

/// The on-disk shape; [`Recipe`] adds where it came from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipe {
    name: String,
    version: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    kind: Kind,
    #[serde(default)]
    source: Source,
    #[serde(default)]
    depends: Depends,
    #[serde(default)]
    build: Build,
    #[serde(default)]
    rootfs: BTreeMap<String, String>,
    #[serde(default)]
    run: Run,
    #[serde(default)]
    config: toml::Table,
    test: Option<Test>,
    python: Option<Python>,
}

/// A loaded and checked recipe.
#[derive(Debug, Clone)]
pub struct Recipe {
    pub name: String,
    pub version: String,
    pub summary: String,
    pub kind: Kind,
    pub source: Source,
    pub depends: Depends,
    pub build: Build,
    /// Guest path -> file relative to `recipes/`.
    pub rootfs: BTreeMap<String, String>,
    pub run: Run,
    pub test: Option<Test>,
    /// `[python]`: a Python app on an interpreter recipe's image.
    pub python: Option<Python>,
    config: Vec<ConfigEntry>,
    path: PathBuf,
}

/// A TOML or schema error at a position in a recipe file. Displays as
/// `file:line:col: message`, the form editors and terminals turn into links.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}:{col}: {message}", file.display())]
pub struct RecipeError {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Where in a recipe file a `[python]` problem is: a key of `[python]` (an element of
/// its array when given), or a table's header.
#[derive(Debug, Clone, Copy)]
enum Place {
    Key(&'static str, Option<usize>),
    Table(&'static str),
}

impl Place {
    /// The byte offset of the place in `text` (0 when it cannot be found).
    fn offset(self, text: &str) -> usize {
        let Ok(doc) = toml_edit::ImDocument::parse(text) else {
            return 0;
        };
        let span = match self {
            Place::Table(t) => doc.get(t).and_then(|i| i.span()),
            Place::Key("kind", _) => doc.get_key_value("kind").and_then(|(k, _)| k.span()),
            Place::Key(key, index) => {
                let Some(py) = doc.get("python").and_then(|i| i.as_table_like()) else {
                    return 0;
                };
                let element = index.and_then(|i| {
                    py.get(key)
                        .and_then(|v| v.as_array())
                        .and_then(|a| a.get(i))
                        .and_then(|v| v.span())
                });
                element.or_else(|| py.get_key_value(key).and_then(|(k, _)| k.span()))
            }
        };
        span.map_or(0, |s| s.start)
    }
}

/// A requirement pinned to one release, `NAME==VERSION`, as (normalized name, version):
/// the wheel is cached by requirement, so a range would freeze at whatever release the
/// first build found.
pub fn parse_pin(req: &str) -> std::result::Result<(String, String), String> {
    let bad = |why: &str| {
        Err(format!(
            "[python] requirements: `{req}` {why}; write NAME==VERSION (e.g. \
             bottle==0.12.25), one per package, dependencies included"
        ))
    };
    let Some((name, version)) = req.split_once("==") else {
        return bad("is not pinned to one release");
    };
    let (name, version) = (name.trim(), version.trim());
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !name_ok {
        return bad("has no plain package name (extras and markers are not supported)");
    }
    let version_ok = !version.is_empty()
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+!-".contains(&b));
    if !version_ok {
        return bad("has no exact version");
    }
    // PEP 503 normalization: runs of `-_.` are one `-`, lower case.
    let mut norm = String::new();
    for part in name.split(['-', '_', '.']).filter(|p| !p.is_empty()) {
        if !norm.is_empty() {
            norm.push('-');
        }
        norm.push_str(&part.to_ascii_lowercase());
    }
    Ok((norm, version.to_string()))
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Flattens `[config]` into dotted option names. `"alloc.kind" = "tlsf"` is the
/// documented form; an unquoted `alloc.kind = ...` parses as a nested table, which is
/// flattened to the same name so both spellings mean the same thing.
fn flatten_config(prefix: &str, value: toml::Value, out: &mut Vec<(String, toml::Value)>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten_config(&format!("{prefix}.{k}"), v, out);
            }
        }
        v => out.push((prefix.to_string(), v)),
    }
}

/// Line of every `[config]` leaf key, by dotted option name.
fn config_lines(text: &str) -> BTreeMap<String, usize> {
    fn walk(
        text: &str,
        prefix: &str,
        table: &dyn toml_edit::TableLike,
        out: &mut BTreeMap<String, usize>,
    ) {
        for (k, item) in table.iter() {
            let name = if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            };
            match item.as_table_like() {
                Some(t) => walk(text, &name, t, out),
                None => {
                    let span = table
                        .get_key_value(k)
                        .and_then(|(key, _)| key.span())
                        .or_else(|| item.span());
                    if let Some(span) = span {
                        out.insert(name, line_col(text, span.start).0);
                    }
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Ok(doc) = toml_edit::ImDocument::parse(text) {
        if let Some(t) = doc.get("config").and_then(|i| i.as_table_like()) {
            walk(text, "", t, &mut out);
        }
    }
    out
}

impl Recipe {
    /// Loads recipe `name` from the search path ([`paths::recipe_search_path`]: the
    /// working directory, `$UKIT_RECIPES`, the repository's `recipes/`), or the file
    /// itself when given a path (anything with a `/` or ending in `.toml`).
    pub fn load(name_or_path: &str) -> Result<Recipe> {
        Self::load_from(&paths::recipe_search_path(), name_or_path)
    }

    /// [`Recipe::load`] against one explicit recipes folder.
    pub fn load_in(recipes_dir: &Path, name_or_path: &str) -> Result<Recipe> {
        Self::load_from(&[recipes_dir.to_path_buf()], name_or_path)
    }

    /// [`Recipe::load`] against the folders `dirs`, first match wins.
    pub fn load_from(dirs: &[PathBuf], name_or_path: &str) -> Result<Recipe> {
        let path = if is_path(name_or_path) {
            PathBuf::from(name_or_path)
        } else {
            match dirs
                .iter()
                .map(|d| d.join(format!("{name_or_path}.toml")))
                .find(|p| p.is_file())
            {
                Some(p) => p,
                None => {
                    let names: Vec<String> = list(dirs).into_iter().map(|(n, _)| n).collect();
                    let list = if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    };
                    let searched: Vec<String> =
                        dirs.iter().map(|d| d.display().to_string()).collect();
                    bail!(
                        "no recipe `{name_or_path}` ({name_or_path}.toml is in none of {}); \
                         available recipes: {list} (run `ukport list` for details; \
                         $UKIT_RECIPES adds folders)",
                        searched.join(", ")
                    );
                }
            }
        };
        if !path.is_file() {
            bail!("no recipe file {}", path.display());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read recipe {}", path.display()))?;
        Ok(Self::parse(&text, &path)?)
    }

    /// Parses recipe text; `path` is used for messages and to resolve relative files.
    pub fn parse(text: &str, path: &Path) -> std::result::Result<Recipe, RecipeError> {
        let at = |offset: usize, message: String| {
            let (line, col) = line_col(text, offset);
            RecipeError {
                file: path.to_path_buf(),
                line,
                col,
                message,
            }
        };
        let raw: RawRecipe = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            at(offset, e.message().trim_end().to_string())
        })?;

        // serde drops positions, so lines come from a second, span-keeping parse
        // (toml::Spanned cannot hold dotted-key tables).
        let lines = config_lines(text);
        let mut config = Vec::new();
        for (name, value) in raw.config {
            flatten_config(&name, value, &mut config);
        }
        let config = config
            .into_iter()
            .map(|(name, value)| {
                let line = lines.get(&name).copied().unwrap_or(0);
                (name, value, line)
            })
            .collect();

        let r = Recipe {
            name: raw.name,
            version: raw.version,
            summary: raw.summary,
            kind: raw.kind,
            source: raw.source,
            depends: raw.depends,
            build: raw.build,
            rootfs: raw.rootfs,
            run: raw.run,
            test: raw.test,
            python: raw.python,
            config,
            path: path.to_path_buf(),
        };
        if let Some(py) = &r.python {
            // Checked first: a Python app has no [source], which check() would name as
            // the problem.
            r.check_python(py)
                .map_err(|(place, m)| at(place.offset(text), m))?;
        }
        r.check().map_err(|m| at(0, m))?;
        Ok(r)
    }

    /// The rules of a `[python]` app: no C build of its own (the image is the
    /// interpreter's), exact pins, relative app paths. Errors say where.
    fn check_python(&self, py: &Python) -> std::result::Result<(), (Place, String)> {
        if self.kind == Kind::Port {
            return Err((
                Place::Key("kind", None),
                "[python] is for apps: a Python app runs on the interpreter's image, \
                 it installs no C library; remove kind = \"port\""
                    .to_string(),
            ));
        }
        let not_here = |table: &'static str, what: &str| {
            Err((
                Place::Table(table),
                format!(
                    "[{table}] {what} is for C programs built from source; a [python] app \
                     has no build of its own (its image is the `{}` recipe's): remove it",
                    py.interpreter
                ),
            ))
        };
        let s = &self.source;
        if s.url.is_some() || s.path.is_some() || s.debian.is_some() || !s.patches.is_empty() {
            return not_here("source", "");
        }
        if !self.depends.ports.is_empty() {
            return not_here("depends", "");
        }
        let b = &self.build;
        if !b.steps.is_empty()
            || b.binary.is_some()
            || !b.programs.is_empty()
            || !b.files.is_empty()
            || !b.env.is_empty()
            || !b.inputs.is_empty()
        {
            return not_here("build", "");
        }
        if !self.config.is_empty() {
            return not_here("config", "(kernel options)");
        }
        if py.interpreter == self.name {
            return Err((
                Place::Key("interpreter", None),
                format!(
                    "[python] interpreter = \"{}\" is this recipe; name the interpreter's \
                     recipe (python)",
                    py.interpreter
                ),
            ));
        }
        let mut seen: Vec<String> = Vec::new();
        for (i, req) in py.requirements.iter().enumerate() {
            let (name, _) = parse_pin(req).map_err(|m| (Place::Key("requirements", Some(i)), m))?;
            if seen.contains(&name) {
                return Err((
                    Place::Key("requirements", Some(i)),
                    format!("[python] requirements: `{name}` is listed twice"),
                ));
            }
            seen.push(name);
        }
        for (key, value) in [("app", &py.app), ("entry", &py.entry)] {
            let plain = !value.is_empty()
                && Path::new(value)
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain {
                return Err((
                    Place::Key(key, None),
                    format!(
                        "[python] {key} = \"{value}\" must be a relative path without `.` or \
                         `..` ({})",
                        if key == "app" {
                            "the app's folder, beside the recipe"
                        } else {
                            "the script in the app's folder"
                        }
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The program's first arguments before `[run] args` (or `[test] args`) and the
    /// user's: a `[python]` app's script, which the interpreter's image runs.
    pub fn entry_args(&self) -> Vec<String> {
        match &self.python {
            Some(py) => vec![format!("{PYTHON_APP_DIR}/{}", py.entry)],
            None => Vec::new(),
        }
    }

    /// Cross-field rules that serde cannot express.
    fn check(&self) -> std::result::Result<(), String> {
        if self.python.is_some() {
            return Ok(());
        }
        let s = &self.source;
        if let Some(p) = &s.path {
            if s.url.is_some() || s.debian.is_some() || s.sha256.is_some() {
                return Err(format!(
                    "[source] path = \"{p}\" is an in-repo source: remove url, sha256 and debian"
                ));
            }
        } else {
            if s.url.is_none() && s.debian.is_none() {
                return Err("[source] needs either path = \"dir\" (in-repo source) or \
                            url/debian with sha256"
                    .to_string());
            }
            // A URL needs the upstream sha256; a Debian-only source may carry its own.
            let deb_own = s.debian.as_ref().and_then(|d| d.sha256.as_ref());
            if s.sha256.is_none() && (s.url.is_some() || deb_own.is_none()) {
                return Err("[source] sha256 is required for downloaded sources \
                            (run `sha256sum` on the upstream archive; a Debian-only \
                            source may state debian = { ..., sha256 = \"...\" } instead)"
                    .to_string());
            }
            for (key, h) in [("sha256", s.sha256.as_ref()), ("debian.sha256", deb_own)] {
                if let Some(h) = h.filter(|h| !is_sha256_hex(h)) {
                    return Err(format!(
                        "[source] {key} = \"{h}\" is not 64 hexadecimal digits"
                    ));
                }
            }
        }
        if self.kind == Kind::Port && self.build.binary.is_some() {
            return Err(
                "[build] binary is for kind = \"app\"; a port installs into \
                        {prefix} instead"
                    .to_string(),
            );
        }
        if self.kind == Kind::Port && !self.build.programs.is_empty() {
            return Err("[build] programs is for kind = \"app\"".to_string());
        }
        if self.kind == Kind::Port && !self.depends.programs.is_empty() {
            return Err("[depends] programs is for kind = \"app\"".to_string());
        }
        if self.depends.programs.iter().any(|p| p == &self.name) {
            return Err(format!(
                "[depends] programs names the recipe itself ({})",
                self.name
            ));
        }
        if self.kind == Kind::Port && !self.build.files.is_empty() {
            return Err("[build] files is for kind = \"app\"".to_string());
        }
        if self.build.steps.iter().any(|s| s.is_empty()) {
            return Err("[build] steps contains an empty command".to_string());
        }
        for p in &self.run.prepare {
            if p.creates.is_empty() {
                return Err(format!(
                    "[[run.prepare]] with app = \"{}\" needs creates = [\"/guest/path\", ...]",
                    p.app
                ));
            }
            if let Some(c) = p.creates.iter().find(|c| guest_relative(c).is_none()) {
                return Err(format!(
                    "[[run.prepare]] creates = \"{c}\" must be an absolute guest path \
                     without `.` or `..`"
                ));
            }
            if p.app == self.name {
                return Err(format!(
                    "[[run.prepare]] app = \"{}\" is this recipe; name another app",
                    p.app
                ));
            }
        }
        Ok(())
    }

    /// The recipe file this was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder that relative recipe files (`[source] path`, `[rootfs]`) are under.
    pub fn recipes_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(paths::recipes_dir)
    }

    /// `[config]` as (option name, value, line in [`Recipe::path`]) in file order of
    /// option names, for the kconfig resolver.
    pub fn config_layer(&self) -> Vec<ConfigEntry> {
        self.config.clone()
    }

    /// `<name>-<version>`: the folder name used in the cache.
    pub fn id(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }

    /// The folder `[source] patches` and `[build] inputs` are relative to: the
    /// repository root for the repository's own recipes (whose port files live under
    /// `ports/`), else the recipe's own folder.
    pub fn files_base(&self) -> PathBuf {
        let own = self.recipes_dir();
        let repo = paths::recipes_dir();
        let same = |a: &Path, b: &Path| {
            std::fs::canonicalize(a)
                .ok()
                .is_some_and(|a| std::fs::canonicalize(b).ok() == Some(a))
        };
        if same(&own, &repo) {
            paths::repo_root()
        } else {
            own
        }
    }

    /// Absolute paths of the patches, in application order.
    pub fn patch_paths(&self) -> Vec<PathBuf> {
        let base = self.files_base();
        self.source.patches.iter().map(|p| base.join(p)).collect()
    }

    /// Absolute paths of the `[build] inputs`.
    pub fn input_paths(&self) -> Vec<PathBuf> {
        let base = self.files_base();
        self.build.inputs.iter().map(|p| base.join(p)).collect()
    }

    /// In-repo source folder, when the recipe has one.
    pub fn local_source(&self) -> Option<PathBuf> {
        self.source
            .path
            .as_ref()
            .map(|p| self.recipes_dir().join(p))
    }
}

/// A guest path (`/etc/nginx/tls/cert.pem`) relative to the root (`etc/nginx/tls/cert.pem`),
/// or `None` when it is not absolute, names the root itself or has `.` or `..` in it:
/// what may be joined to a host folder that holds a root file system.
pub fn guest_relative(guest: &str) -> Option<&Path> {
    let rel = Path::new(guest.strip_prefix('/')?.trim_start_matches('/'));
    let plain = rel
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    (plain && !rel.as_os_str().is_empty()).then_some(rel)
}

/// True when `s` names a recipe file rather than a recipe.
pub fn is_path(s: &str) -> bool {
    s.contains('/') || s.ends_with(".toml")
}

/// Whether TOML `text` looks like a recipe (top-level `name` and `version`): in folders
/// that hold other TOML files too (a project's own folder, the working directory),
/// only those are taken for recipes.
fn looks_like_recipe(text: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|t| t.get("name").is_some_and(toml::Value::is_str) && t.contains_key("version"))
        || (text.lines().any(|l| l.trim_start().starts_with("name"))
            && text.lines().any(|l| l.trim_start().starts_with("[build]")))
}

/// Recipes in `dirs` (first folder wins a name), sorted by name, with their files.
/// Outside the repository's own folder a TOML file counts only when it looks like a
/// recipe (a broken one still does, so that `ukport list` can say what is wrong).
pub fn list(dirs: &[PathBuf]) -> Vec<(String, PathBuf)> {
    let repo = paths::recipes_dir();
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        let mut found: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        found.sort();
        for p in found {
            let Some(stem) = p.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                continue;
            };
            if out.iter().any(|(n, _)| *n == stem) {
                continue;
            }
            if *d != repo && !std::fs::read_to_string(&p).is_ok_and(|t| looks_like_recipe(&t)) {
                continue;
            }
            out.push((stem, p));
        }
    }
    out.sort();
    out
}

/// Names of the recipes in `recipes_dir`, sorted.
pub fn available(recipes_dir: &Path) -> Result<Vec<String>> {
    std::fs::read_dir(recipes_dir)
        .with_context(|| format!("cannot list recipes in {}", recipes_dir.display()))?;
    Ok(list(&[recipes_dir.to_path_buf()])
        .into_iter()
        .map(|(n, _)| n)
        .collect())
}

/// Loads every recipe in `dirs` (for `ukport list`); a broken one is returned as its
/// error so the listing still shows the rest.
pub fn load_all_from(dirs: &[PathBuf]) -> Vec<(PathBuf, Result<Recipe>)> {
    list(dirs)
        .into_iter()
        .map(|(_, p)| {
            let r = Recipe::load(&p.display().to_string());
            (p, r)
        })
        .collect()
}

/// Loads every recipe in `recipes_dir`.
pub fn load_all(recipes_dir: &Path) -> Result<Vec<Result<Recipe>>> {
    available(recipes_dir)?;
    Ok(load_all_from(&[recipes_dir.to_path_buf()])
        .into_iter()
        .map(|(_, r)| r)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "demo"
version = "1.0"
summary = "a demo"

[source]
url = "https://example.invalid/demo-1.0.tar.gz"
sha256 = "7d5b0b6062521e4627e099e4c9dc8248d32a30285e959b7eecaa780cf8cfd4a4"
debian = { package = "demo", version = "1:1.0-3" }
patches = ["ports/demo/0001-x.patch"]

[depends]
ports = ["zlib"]
programs = ["busybox"]

[build]
env = { CFLAGS = "-O2" }
steps = [["./configure", "--prefix={prefix}"], ["make", "-j{jobs}"]]
binary = "demo"
programs = { "/bin/helper" = "tools/helper" }
files = { "/usr/lib/demo" = "lib" }

[rootfs]
"/etc/demo.conf" = "demo/demo.conf"

[run]
args = ["-v"]
memory = "32M"

[config]
"alloc.kind" = "tlsf"
net.tcp.max_connections = 1024

[test]
args = ["-c", "echo hi"]
expect_stdout = "hi\n"
"#;

    fn parse(text: &str) -> std::result::Result<Recipe, RecipeError> {
        Recipe::parse(text, Path::new("recipes/demo.toml"))
    }

    #[test]
    fn good_recipe_parses() {
        let r = parse(GOOD).unwrap();
        assert_eq!(r.name, "demo");
        assert_eq!(r.kind, Kind::App);
        assert_eq!(r.id(), "demo-1.0");
        let deb = r.source.debian.as_ref().unwrap();
        assert_eq!(deb.upstream_version(), "1.0");
        assert_eq!(r.depends.ports, vec!["zlib"]);
        assert_eq!(r.depends.programs, vec!["busybox"]);
        assert_eq!(r.build.steps[1], vec!["make", "-j{jobs}"]);
        assert_eq!(r.build.binary.as_deref(), Some("demo"));
        assert_eq!(r.build.programs["/bin/helper"], "tools/helper");
        assert_eq!(r.build.files["/usr/lib/demo"], "lib");
        assert!(!r.build.out_of_tree);
        assert_eq!(r.rootfs["/etc/demo.conf"], "demo/demo.conf");
        assert_eq!(r.run.memory.as_deref(), Some("32M"));
        assert_eq!(
            r.test.as_ref().unwrap().expect_stdout.as_deref(),
            Some("hi\n")
        );
        assert_eq!(r.test.as_ref().unwrap().expect_exit, 0);
        assert_eq!(
            r.test.as_ref().unwrap().args.as_deref(),
            Some(&["-c".to_string(), "echo hi".to_string()][..])
        );
        let no_args = parse(&GOOD.replace("args = [\"-c\", \"echo hi\"]\n", "")).unwrap();
        assert_eq!(no_args.test.unwrap().args, None);
    }

    #[test]
    fn config_layer_has_names_values_and_lines() {
        let r = parse(GOOD).unwrap();
        let layer = r.config_layer();
        let line_of = |needle: &str| GOOD.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
        assert_eq!(
            layer,
            vec![
                (
                    "alloc.kind".to_string(),
                    toml::Value::String("tlsf".into()),
                    line_of("\"alloc.kind\"")
                ),
                (
                    "net.tcp.max_connections".to_string(),
                    toml::Value::Integer(1024),
                    line_of("net.tcp")
                ),
            ]
        );
        assert_eq!(r.path(), Path::new("recipes/demo.toml"));
    }

    #[test]
    fn toml_syntax_error_reports_line() {
        let text = "name = \"x\"\nversion = \"1\"\n\n[build]\nsteps = [[\"make\"]\n";
        let e = parse(text).unwrap_err();
        assert_eq!(e.file, Path::new("recipes/demo.toml"));
        assert!(e.line >= 5, "line {} for {e}", e.line);
        assert!(e.to_string().starts_with("recipes/demo.toml:"), "{e}");

        let text = "name = \"x\"\nversion = = \"1\"\n";
        let e = parse(text).unwrap_err();
        assert_eq!((e.line, e.col), (2, 11), "{e}");
    }

    #[test]
    fn unknown_key_reports_line() {
        let text = GOOD.replace("memory = \"32M\"", "memory = \"32M\"\nmemroy = \"1G\"");
        let want = text.lines().position(|l| l.starts_with("memroy")).unwrap() + 1;
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, want, "{e}");
        assert!(e.message.contains("memroy"), "{e}");

        let text = format!("colour = 1\n{GOOD}");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, 1, "{e}");
        assert!(e.message.contains("colour"), "{e}");
    }

    #[test]
    fn missing_field_is_named() {
        let text = GOOD.replace("version = \"1.0\"\n", "");
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("missing field `version`"), "{e}");

        // An app may leave its binary to be found (the one image its build links).
        let text = GOOD.replace("binary = \"demo\"\n", "");
        assert_eq!(parse(&text).unwrap().build.binary, None);
        let text = GOOD.replace("[source]", "kind = \"port\"\n[source]");
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("binary is for kind = \"app\""), "{e}");

        // A port installs into its prefix: it has no root to copy built files into.
        let text = GOOD
            .replace("[source]", "kind = \"port\"\n[source]")
            .replace("binary = \"demo\"\n", "")
            .replace("programs = { \"/bin/helper\" = \"tools/helper\" }\n", "");
        let e = parse(&text).unwrap_err();
        assert!(
            e.message
                .contains("[depends] programs is for kind = \"app\""),
            "{e}"
        );
        let e = parse(&text.replace("programs = [\"busybox\"]\n", "")).unwrap_err();
        assert!(
            e.message.contains("[build] files is for kind = \"app\""),
            "{e}"
        );
        // An app cannot take its own root.
        let e = parse(&GOOD.replace("[\"busybox\"]", "[\"demo\"]")).unwrap_err();
        assert!(e.message.contains("names the recipe itself"), "{e}");

        let text = GOOD.replace("sha256 = \"7d5b", "sha256 = \"zz5b");
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("not 64 hexadecimal"), "{e}");
    }

    #[test]
    fn unknown_recipe_lists_available() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("demo.toml"), GOOD).unwrap();
        std::fs::write(dir.path().join("other.toml"), GOOD).unwrap();
        let e = Recipe::load_in(dir.path(), "nope").unwrap_err().to_string();
        assert!(e.contains("demo, other"), "{e}");
        assert!(e.contains("ukport list"), "{e}");
        let r = Recipe::load_in(dir.path(), "demo").unwrap();
        assert_eq!(r.recipes_dir(), dir.path());
    }

    #[test]
    fn debian_sha256_is_separate_and_checked() {
        let deb_sha = "0a8276d09fc4e97bbba2f953d74af2388fc2195ea156be9d7589e297a68fde24";
        let own = GOOD.replace(
            "version = \"1:1.0-3\" }",
            &format!("version = \"1:1.0-3\", sha256 = \"{deb_sha}\" }}"),
        );
        let r = parse(&own).unwrap();
        assert_eq!(r.source.debian_sha256(), Some(deb_sha));
        assert_eq!(r.source.identity_sha256(), r.source.sha256.as_deref());
        // Without its own, the fallback is checked against upstream's.
        let r = parse(GOOD).unwrap();
        assert_eq!(r.source.debian_sha256(), r.source.sha256.as_deref());

        // Debian-only: the Debian sha256 alone is enough, and identifies the source.
        let only = format!(
            "name = \"d\"\nversion = \"1\"\nkind = \"port\"\n[source]\n\
             debian = {{ package = \"d\", version = \"1+dfsg-1\", sha256 = \"{deb_sha}\" }}\n"
        );
        let r = parse(&only).unwrap();
        assert_eq!(r.source.identity_sha256(), Some(deb_sha));
        // A URL still needs the upstream sha256.
        let e = parse(&only.replace(
            "[source]\n",
            "[source]\nurl = \"https://x.invalid/d.zip\"\n",
        ))
        .unwrap_err();
        assert!(e.message.contains("sha256 is required"), "{e}");
        let e = parse(&only.replace(deb_sha, "xyz")).unwrap_err();
        assert!(e.message.contains("debian.sha256 = \"xyz\""), "{e}");
    }

    #[test]
    fn run_prepare_steps_parse_and_are_checked() {
        let step = "\n[[run.prepare]]\ncreates = [\"/etc/demo/key.pem\"]\napp = \"openssl\"\n\
                    args = [\"genpkey\"]\nsay = \"made {root}/etc/demo/key.pem\"\n";
        let with = GOOD.replace("\n[config]", &format!("{step}\n[config]"));
        let r = parse(&with).unwrap();
        let p = &r.run.prepare[0];
        assert_eq!(p.creates, ["/etc/demo/key.pem"]);
        assert_eq!((p.app.as_str(), p.args.len()), ("openssl", 1));
        assert!(parse(GOOD).unwrap().run.prepare.is_empty());

        let e =
            parse(&with.replace("creates = [\"/etc/demo/key.pem\"]", "creates = []")).unwrap_err();
        assert!(e.message.contains("needs creates"), "{e}");
        let e = parse(&with.replace("\"/etc/demo/key.pem\"]", "\"etc/../key.pem\"]")).unwrap_err();
        assert!(e.message.contains("absolute guest path"), "{e}");
        let e = parse(&with.replace("app = \"openssl\"", "app = \"demo\"")).unwrap_err();
        assert!(e.message.contains("is this recipe"), "{e}");
        let e = parse(&with.replace("say =", "sya =")).unwrap_err();
        assert!(e.message.contains("sya"), "{e}");
    }

    const PY_APP: &str = r#"name = "webapp"
version = "1.0"

[python]
requirements = ["bottle==0.12.25", "Flask_Cors==4.0"]
app = "webapp"
entry = "app.py"

[run]
ports = ["8080:8080"]
"#;

    #[test]
    fn a_python_app_parses_with_its_defaults() {
        let r = parse(PY_APP).unwrap();
        let py = r.python.as_ref().unwrap();
        assert_eq!(py.interpreter, "python");
        assert_eq!(py.requirements, ["bottle==0.12.25", "Flask_Cors==4.0"]);
        assert_eq!(r.entry_args(), ["/app/app.py"]);
        assert!(parse(GOOD).unwrap().entry_args().is_empty());
        assert_eq!(
            parse_pin("Flask_Cors==4.0").unwrap(),
            ("flask-cors".to_string(), "4.0".to_string())
        );
        let own = PY_APP.replace("[python]\n", "[python]\ninterpreter = \"python3.12\"\n");
        assert_eq!(
            parse(&own).unwrap().python.unwrap().interpreter,
            "python3.12"
        );
    }

    /// Each mistake in a Python app's recipe is reported at its own line.
    #[test]
    fn python_app_mistakes_report_their_lines() {
        let line_of =
            |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let cases: &[(&str, &str, &str, &str)] = &[
            // (replace, with, the line that is wrong, the message says)
            (
                "\"bottle==0.12.25\"",
                "\"bottle>=0.12\"",
                "bottle>=",
                "not pinned",
            ),
            (
                "\"Flask_Cors==4.0\"",
                "\"flask[async]==2.3\"",
                "flask[async]",
                "plain package name",
            ),
            (
                "\"Flask_Cors==4.0\"",
                "\"bottle==0.13\"",
                "bottle==0.13",
                "listed twice",
            ),
            ("\"Flask_Cors==4.0\"", "\"x== \"", "x== ", "exact version"),
            (
                "app = \"webapp\"",
                "app = \"../webapp\"",
                "app = ",
                "relative path",
            ),
            (
                "entry = \"app.py\"",
                "entry = \"/app.py\"",
                "entry = ",
                "relative path",
            ),
            (
                "entry = \"app.py\"\n",
                "",
                "[python]",
                "missing field `entry`",
            ),
            (
                "entry = \"app.py\"",
                "entry = \"app.py\"\nmain = 1",
                "main = 1",
                "unknown field `main`",
            ),
            (
                "[python]\n",
                "[python]\ninterpreter = \"webapp\"\n",
                "interpreter",
                "is this recipe",
            ),
            (
                "version = \"1.0\"\n",
                "version = \"1.0\"\nkind = \"port\"\n",
                "kind",
                "is for apps",
            ),
            (
                "[run]",
                "[build]\nsteps = [[\"make\"]]\n[run]",
                "[build]",
                "[build]",
            ),
            (
                "[run]",
                "[source]\npath = \"x\"\n[run]",
                "[source]",
                "[source]",
            ),
            (
                "[run]",
                "[config]\n\"uk.log_level\" = \"info\"\n[run]",
                "[config]",
                "[config]",
            ),
        ];
        for (from, to, line, says) in cases {
            assert!(PY_APP.contains(from), "{from}");
            let text = PY_APP.replace(from, to);
            let e = parse(&text).unwrap_err();
            assert_eq!(e.line, line_of(&text, line), "{from} -> {to}: {e}");
            assert!(e.message.contains(says), "{from} -> {to}: {e}");
            assert!(e.to_string().starts_with("recipes/demo.toml:"), "{e}");
        }
    }

    #[test]
    fn guest_paths_relative_to_the_root() {
        assert_eq!(guest_relative("/etc/a.pem"), Some(Path::new("etc/a.pem")));
        assert_eq!(guest_relative("//etc/a"), Some(Path::new("etc/a")));
        for bad in ["etc/a", "/", "", "/etc/../a", "/./a"] {
            assert_eq!(guest_relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn in_repo_source_rejects_sha() {
        let text = "name = \"h\"\nversion = \"1\"\n[source]\npath = \"h\"\nsha256 = \"\"\n\
                    [build]\nbinary = \"h\"\n";
        let e = parse(text).unwrap_err();
        assert!(e.message.contains("in-repo source"), "{e}");
    }

    /// A project's own folder comes before the repository's, holds other TOML files
    /// that are not recipes, and keeps its patches beside its recipe.
    #[test]
    fn recipes_are_found_along_the_search_path() {
        let t = tempfile::tempdir().unwrap();
        let own = t.path().join("project");
        std::fs::create_dir_all(&own).unwrap();
        std::fs::write(own.join("demo.toml"), GOOD.replace("a demo", "mine")).unwrap();
        std::fs::write(own.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
        std::fs::write(
            own.join("broken.toml"),
            "name = \"b\"\n[build]\nsteps = [[\n",
        )
        .unwrap();
        let repo = t.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::write(repo.join("demo.toml"), GOOD).unwrap();
        std::fs::write(
            repo.join("other.toml"),
            GOOD.replace("\"demo\"", "\"other\""),
        )
        .unwrap();
        let dirs = [own.clone(), repo.clone()];
        let r = Recipe::load_from(&dirs, "demo").unwrap();
        assert_eq!(r.summary, "mine");
        assert_eq!(r.recipes_dir(), own);
        assert_eq!(r.patch_paths(), [own.join("ports/demo/0001-x.patch")]);
        let names: Vec<String> = list(&dirs).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["broken", "demo", "other"]);
        let loaded = load_all_from(&dirs);
        assert!(
            loaded[0].1.is_err(),
            "the broken one is listed with its error"
        );
        assert_eq!(Recipe::load_from(&dirs, "other").unwrap().name, "other");
        let e = Recipe::load_from(&dirs, "nope").unwrap_err().to_string();
        assert!(
            e.contains(&own.display().to_string()) && e.contains("broken, demo, other"),
            "{e}"
        );
        // A path is a path, wherever it is.
        let by_path = Recipe::load_from(&[], &own.join("demo.toml").display().to_string()).unwrap();
        assert_eq!(by_path.summary, "mine");

        // The repository's own recipes keep their patches under the repository root.
        let musl = Recipe::load_in(&paths::recipes_dir(), "musl").unwrap();
        assert!(musl
            .patch_paths()
            .iter()
            .all(|p| p.starts_with(paths::repo_root().join("ports"))));
    }

    #[test]
    fn the_repository_recipes_load() {
        let dir = paths::recipes_dir();
        for r in load_all(&dir).unwrap() {
            r.unwrap();
        }
    }
}
