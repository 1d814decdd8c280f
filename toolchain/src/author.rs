//! Writing recipes: `ukport new NAME --from URL|FILE|DIR|debian:PKG[=VERSION]` scaffolds
//! one (source and sha256, build system detected, its steps, a first build, a smoke
//! test from the first run) and says what to try next when the first build fails;
//! `ukport check RECIPE` validates one without building. docs/recipes.md is the guide.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::compile::config;
use crate::image::build;
use crate::packages::builder;
use crate::packages::fetch;
use crate::packages::progress::Progress;
use crate::packages::recipe::{self, Kind, Recipe};
use crate::paths;
use crate::platform::Platform;

/// Where a new recipe's source comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromArg {
    /// An upstream archive to download.
    Url(String),
    /// An archive on this machine.
    Archive(PathBuf),
    /// A source tree on this machine (`[source] path`).
    Tree(PathBuf),
    /// A Debian source package's upstream tarball.
    Debian {
        package: String,
        version: Option<String>,
    },
}

impl std::str::FromStr for FromArg {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<FromArg> {
        if let Some(rest) = s.strip_prefix("debian:") {
            let (package, version) = match rest.split_once('=') {
                Some((p, v)) => (p, Some(v.to_string())),
                None => (rest, None),
            };
            if package.is_empty() {
                bail!("--from {s}: name the source package (debian:PACKAGE[=VERSION])");
            }
            return Ok(FromArg::Debian {
                package: package.to_string(),
                version,
            });
        }
        if ["http://", "https://", "ftp://", "file://"]
            .iter()
            .any(|p| s.starts_with(p))
        {
            return Ok(FromArg::Url(s.to_string()));
        }
        let p = Path::new(s);
        if p.is_dir() {
            Ok(FromArg::Tree(fs::canonicalize(p)?))
        } else if p.is_file() {
            Ok(FromArg::Archive(fs::canonicalize(p)?))
        } else {
            bail!(
                "--from {s}: not a URL (http://, https://, ftp://, file://), a Debian source \
                 package (debian:PACKAGE[=VERSION]), an archive or a folder"
            )
        }
    }
}

/// The build systems `ukport new` knows, in the order it prefers them when a tree has
/// several (a release's `configure` is what its authors ship for building).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildSystem {
    /// A generated `configure` script (autoconf).
    Configure,
    /// `configure.ac` without `configure`: `autoreconf -fi` first.
    Autoreconf,
    CMake,
    Meson,
    /// A plain Makefile.
    Make,
}

impl BuildSystem {
    pub fn name(self) -> &'static str {
        match self {
            BuildSystem::Configure => "autotools (configure)",
            BuildSystem::Autoreconf => "autotools (configure.ac, needs autoreconf)",
            BuildSystem::CMake => "CMake",
            BuildSystem::Meson => "meson",
            BuildSystem::Make => "Makefile",
        }
    }
}

/// The build system of the source tree `tree`.
pub fn detect(tree: &Path) -> Option<BuildSystem> {
    let has = |f: &str| tree.join(f).is_file();
    if has("configure") {
        Some(BuildSystem::Configure)
    } else if has("CMakeLists.txt") {
        Some(BuildSystem::CMake)
    } else if has("meson.build") {
        Some(BuildSystem::Meson)
    } else if has("configure.ac") || has("configure.in") {
        Some(BuildSystem::Autoreconf)
    } else if has("Makefile") || has("makefile") || has("GNUmakefile") {
        Some(BuildSystem::Make)
    } else {
        None
    }
}

/// The build steps for `bs` in `tree`, with `extra` arguments for its configure step.
pub fn steps(bs: BuildSystem, tree: &Path, extra: &[String]) -> Vec<Vec<String>> {
    let sv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let with_extra = |mut v: Vec<String>| {
        v.extend(extra.iter().cloned());
        v
    };
    match bs {
        BuildSystem::Configure | BuildSystem::Autoreconf => {
            let mut configure = sv(&["./configure"]);
            // Only when the script knows it (libtool's): images link statically.
            let script = fs::read_to_string(tree.join("configure")).unwrap_or_default();
            if script.contains("--disable-shared") || bs == BuildSystem::Autoreconf {
                configure.push("--disable-shared".into());
            }
            let mut v = Vec::new();
            if bs == BuildSystem::Autoreconf {
                v.push(sv(&["autoreconf", "-fi"]));
            }
            v.push(with_extra(configure));
            v.push(sv(&["make", "-j{jobs}"]));
            v
        }
        BuildSystem::CMake => {
            let mut configure = sv(&[
                "cmake",
                "-S",
                ".",
                "-B",
                "build",
                "-DCMAKE_TOOLCHAIN_FILE={cmake_toolchain}",
                "-DCMAKE_BUILD_TYPE=Release",
                "-DBUILD_TESTING=OFF",
            ]);
            // The project's own switches for shared libraries (a shared library built
            // as a static one may share its file name with the static one) and tests
            // (not the app, and often C++).
            configure.extend(cmake_options(tree, &["SHARED", "TEST"]));
            vec![
                with_extra(configure),
                sv(&["cmake", "--build", "build", "-j", "{jobs}"]),
            ]
        }
        BuildSystem::Meson => vec![
            with_extra(sv(&[
                "meson",
                "setup",
                "build",
                "--native-file",
                "{meson_native}",
                "--buildtype=release",
            ])),
            sv(&["meson", "compile", "-C", "build", "-j", "{jobs}"]),
        ],
        BuildSystem::Make => vec![with_extra(sv(&["make", "-j{jobs}", "CC={cc}"]))],
    }
}

/// `[source]` of a new recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    Url {
        url: String,
        sha256: String,
    },
    Debian {
        package: String,
        version: String,
        sha256: String,
    },
    Path(String),
}

/// What a new recipe says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub version: String,
    pub kind: Kind,
    pub source: SourceSpec,
    pub build_system: BuildSystem,
    pub steps: Vec<Vec<String>>,
    pub binary: Option<String>,
    /// `--version`'s output, when the first run gave one.
    pub test: Option<(Vec<String>, String)>,
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The recipe file for `spec`, commented for the next person to edit it.
pub fn recipe_text(spec: &Spec) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Written by `ukport new` (docs/recipes.md says what each key means).\n\
         name = {}\nversion = {}\nsummary = {}\nkind = {}\n",
        toml_str(&spec.name),
        toml_str(&spec.version),
        toml_str(&format!(
            "{} {}, built with its own {}",
            spec.name,
            spec.version,
            spec.build_system.name()
        )),
        toml_str(&spec.kind.to_string()),
    );
    t.push_str("[source]\n");
    match &spec.source {
        SourceSpec::Url { url, sha256 } => {
            let _ = writeln!(t, "url = {}\nsha256 = {}", toml_str(url), toml_str(sha256));
            t.push_str(
                "# When upstream is unreachable, a Debian source package of the same release:\n\
                 # debian = { package = \"...\", version = \"...\" }\n",
            );
        }
        SourceSpec::Debian {
            package,
            version,
            sha256,
        } => {
            t.push_str(
                "# Debian's upstream tarball (the .orig.tar.*), checked against its sha256.\n",
            );
            t.push_str("# Add url and sha256 of upstream's archive when it is the same file.\n");
            let _ = writeln!(
                t,
                "debian = {{ package = {}, version = {}, sha256 = {} }}",
                toml_str(package),
                toml_str(version),
                toml_str(sha256)
            );
        }
        SourceSpec::Path(p) => {
            let _ = writeln!(t, "path = {}", toml_str(p));
        }
    }
    let _ = writeln!(
        t,
        "\n[build]\n# {}: uk-cc is the compiler ({{cc}}, {{cmake_toolchain}}, {{meson_native}}).",
        spec.build_system.name()
    );
    t.push_str("steps = [\n");
    for s in &spec.steps {
        let words: Vec<String> = s.iter().map(|w| toml_str(w)).collect();
        let _ = writeln!(t, "    [{}],", words.join(", "));
    }
    t.push_str("]\n");
    match &spec.binary {
        Some(b) => {
            let _ = writeln!(t, "binary = {}", toml_str(b));
        }
        None if spec.kind == Kind::App => t.push_str(
            "# binary = \"...\"   # the program; found after the build when there is one image\n",
        ),
        None => {}
    }
    t.push_str(
        "\n# [run]\n# args = []          # before the arguments of `ukport run NAME -- ...`\n\
         # memory = \"64M\"\n# ports = [\"8080:80\"]\n",
    );
    match &spec.test {
        Some((args, out)) => {
            let words: Vec<String> = args.iter().map(|w| toml_str(w)).collect();
            let _ = writeln!(
                t,
                "\n[test]\n# Recorded from the first run by `ukport new`: check that it is right.\n\
                 args = [{}]\nexpect_stdout = {}\nexpect_exit = 0",
                words.join(", "),
                toml_str(out)
            );
        }
        None if spec.kind == Kind::App => t.push_str(
            "\n# [test]\n# args = [\"--version\"]\n# expect_stdout = \"...\"\n# expect_exit = 0\n",
        ),
        None => {}
    }
    t
}

/// The version in an archive's name: `cmark-0.30.2.tar.gz` and
/// `hello_2.10.orig.tar.gz` give `0.30.2` and `2.10`.
pub fn version_from_archive(file: &str) -> Option<String> {
    let stem = [
        ".tar.gz", ".tar.xz", ".tar.bz2", ".tgz", ".tar.zst", ".tar", ".zip",
    ]
    .iter()
    .find_map(|ext| file.strip_suffix(ext))?;
    let stem = stem.strip_suffix(".orig").unwrap_or(stem);
    let v = stem.rsplit(['-', '_']).next()?;
    let v = v.strip_prefix('v').unwrap_or(v);
    v.starts_with(|c: char| c.is_ascii_digit())
        .then(|| v.to_string())
}

/// Next things to try for a failed first build: from the error, the tail of the build
/// log and the source tree. The last one always says where the log and tree are.
pub fn diagnose(error: &str, log: &str, tree: &Path, bs: BuildSystem) -> Vec<String> {
    let text = format!("{error}\n{log}");
    let mut out = Vec::new();
    let re = |p: &str| regex::Regex::new(p).expect("a fixed pattern");
    if text.contains("-shared: ukit images are statically linked") {
        out.push(match bs {
            BuildSystem::CMake => {
                "a shared library was asked for: add -DBUILD_SHARED_LIBS=OFF, or the \
                                   project's own option for it, to the cmake step"
                    .to_string()
            }
            BuildSystem::Meson => {
                "a shared library was asked for: add -Ddefault_library=static to the \
                                   meson setup step"
                    .to_string()
            }
            _ => "a shared library was asked for: add --disable-shared (or --enable-static) to \
                  ./configure, or build only the program's target"
                .to_string(),
        });
    }
    if let Some(c) = re(r"cannot find -l([\w+.-]+)").captures(&text) {
        out.push(format!(
            "the program links -l{0}, which is neither in musl nor in a port: write a port \
             recipe for lib{0} and list it in [depends] ports (docs/recipes.md, \"A library \
             port\"), or build without it (./configure --without-{0}, -DWITH_{1}=OFF, ...)",
            &c[1],
            c[1].to_ascii_uppercase()
        ));
    }
    if let Some(c) = re(r"fatal error: ([\w/.+-]+\.h): No such file").captures(&text) {
        out.push(format!(
            "the header {} is missing: it belongs to a library ukit has no port of yet (write \
             one and list it in [depends] ports), or to a feature to turn off; musl's own \
             headers are all there",
            &c[1]
        ));
    }
    if text.contains("Building CXX object")
        || text.contains("Linking CXX")
        || re(r"\bg\+\+|\bc\+\+").is_match(&text) && text.contains("relocation")
    {
        let opts = cmake_options(tree, &["TEST", "EXAMPLE"]);
        out.push(format!(
            "a C++ part was built with the host's C++ compiler (uk-cc compiles C only): turn it \
             off{}",
            if opts.is_empty() {
                " with the project's option for it (tests and examples are often C++)".to_string()
            } else {
                format!(
                    ", e.g. {} (`ukport new NAME --from ... -- {}`)",
                    opts.join(" "),
                    opts.join(" ")
                )
            }
        ));
    }
    if let Some(c) =
        re(r"`([\w.-]+)` is not installed \(try `apt-get install ([\w.+-]+)`\)").captures(&text)
    {
        out.push(format!(
            "the build runs `{}`, which is not installed: apt-get install {}",
            &c[1], &c[2]
        ));
    }
    if let Some(c) = re(r"undefined reference to `([^']+)'").captures(&text) {
        out.push(format!(
            "`{}` is defined neither by the program nor by musl: a glibc-only function \
             (look for a configure check or an #ifdef that picked it), or one from a library \
             that needs a port",
            &c[1]
        ));
    }
    if text.contains("C compiler cannot create executables")
        || text.contains("is not able to compile a simple test program")
    {
        out.push(
            "the build system could not link a test program with uk-cc: its log (config.log, \
             CMakeFiles/CMakeError.log, meson-logs/meson-log.txt) has the first error"
                .to_string(),
        );
    }
    for pat in [
        r#"Could NOT find (\w+)"#,
        r#"Dependency "?([\w.+-]+)"? not found"#,
        r#"Run-time dependency ([\w.+-]+) found: NO"#,
        r"configure: error: .*?\b(lib\w+|\w+\.h)\b",
    ] {
        if let Some(c) = re(pat).captures(&text) {
            out.push(format!(
                "the build needs {}: ukit has no port of it yet (write one: docs/recipes.md, \
                 \"A library port\"), or turn the feature that wants it off",
                &c[1]
            ));
            break;
        }
    }
    if bs == BuildSystem::Autoreconf {
        out.push(
            "the tree has configure.ac but no configure: the recipe runs autoreconf -fi, which \
             needs apt-get install autoconf automake libtool (a release archive usually ships \
             configure)"
                .to_string(),
        );
    }
    out
}

/// Options of `tree`'s top CMakeLists.txt whose names hold one of `words`, as
/// `-DNAME=OFF` (`option(CMARK_TESTS "..." ON)` gives `-DCMARK_TESTS=OFF`).
fn cmake_options(tree: &Path, words: &[&str]) -> Vec<String> {
    let text = fs::read_to_string(tree.join("CMakeLists.txt")).unwrap_or_default();
    let re = regex::Regex::new(r"(?im)^\s*option\s*\(\s*(\w+)").expect("fixed");
    let mut v: Vec<String> = Vec::new();
    for c in re.captures_iter(&text) {
        let name = &c[1];
        let upper = name.to_ascii_uppercase();
        let d = format!("-D{name}=OFF");
        if name != "BUILD_TESTING" && words.iter().any(|w| upper.contains(w)) && !v.contains(&d) {
            v.push(d);
        }
    }
    v
}

/// What `ukport new` was asked.
#[derive(Debug, Clone)]
pub struct NewOpts {
    pub name: String,
    pub from: FromArg,
    /// The folder the recipe goes into (`NAME.toml`).
    pub dir: PathBuf,
    pub kind: Kind,
    pub version: Option<String>,
    /// Arguments for the configure step.
    pub extra: Vec<String>,
    /// Write the recipe only.
    pub no_build: bool,
    /// Replace an existing recipe file.
    pub force: bool,
    pub jobs: Option<usize>,
}

/// What `ukport new` did.
#[derive(Debug)]
pub struct NewReport {
    pub recipe: PathBuf,
    pub spec: Spec,
    /// The image (apps) or install prefix (ports) of the first build, when it worked.
    pub built: Option<PathBuf>,
    pub build_seconds: f64,
    pub fetch_seconds: f64,
}

fn relative_to(path: &Path, base: &Path) -> String {
    let (Ok(p), Ok(b)) = (fs::canonicalize(path), fs::canonicalize(base)) else {
        return path.display().to_string();
    };
    let pc: Vec<_> = p.components().collect();
    let bc: Vec<_> = b.components().collect();
    let common = pc.iter().zip(&bc).take_while(|(a, b)| a == b).count();
    if common <= 1 {
        return p.display().to_string();
    }
    let mut rel = PathBuf::new();
    for _ in common..bc.len() {
        rel.push("..");
    }
    for c in &pc[common..] {
        rel.push(c);
    }
    rel.display().to_string()
}

/// Scaffolds a recipe, then (unless `no_build`) builds it for linuxu: on success the
/// recipe gets its binary and a smoke test recorded from the first run; on failure the
/// recipe stays for editing and the error carries the next things to try.
pub fn new(o: &NewOpts) -> Result<NewReport> {
    if o.name.is_empty()
        || !o
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        bail!(
            "`{}` cannot name a recipe: letters, digits, `-`, `_`, `.`",
            o.name
        );
    }
    let recipe_path = o.dir.join(format!("{}.toml", o.name));
    if recipe_path.exists() && !o.force {
        bail!(
            "{} exists; pass --force to replace it",
            recipe_path.display()
        );
    }
    fs::create_dir_all(&o.dir).with_context(|| format!("cannot create {}", o.dir.display()))?;
    let progress = Progress::new();
    let started = Instant::now();

    // The source, its sha256 and a tree to look at.
    let (source, archive, mut version) = match &o.from {
        FromArg::Tree(dir) => (SourceSpec::Path(relative_to(dir, &o.dir)), None, None),
        FromArg::Archive(file) => {
            let name = file
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let sha = fetch::sha256_file(file)?;
            let cached = paths::sources_dir().join(&name);
            fs::create_dir_all(paths::sources_dir())?;
            if cached != *file {
                fs::copy(file, &cached)
                    .with_context(|| format!("cannot copy {} into the cache", file.display()))?;
            }
            let url = format!("file://{}", file.display());
            (
                SourceSpec::Url { url, sha256: sha },
                Some(cached),
                version_from_archive(&name),
            )
        }
        FromArg::Url(url) => {
            let name = url
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| anyhow!("cannot take a file name from {url}"))?
                .to_string();
            let dir = paths::sources_dir();
            fs::create_dir_all(&dir)?;
            let task = progress.task(format!("downloading {url}"));
            let got = fetch::download(url, None, &dir, &name, &task);
            match &got {
                Ok(_) => task.done(format!("downloaded {name}")),
                Err(_) => task.fail(),
            }
            let file = got.with_context(|| {
                format!(
                    "cannot download {url}; download it by hand and pass the file \
                     (--from ./{name}), or use a Debian source package (--from debian:PACKAGE)"
                )
            })?;
            let sha = fetch::sha256_file(&file)?;
            (
                SourceSpec::Url {
                    url: url.clone(),
                    sha256: sha,
                },
                Some(file),
                version_from_archive(&name),
            )
        }
        FromArg::Debian { package, version } => {
            let (file, full, sha) =
                fetch::fetch_debian_unverified(package, version.as_deref(), &progress)?;
            let upstream = recipe::DebianSource {
                package: package.clone(),
                version: full.clone(),
                sha256: None,
            }
            .upstream_version()
            .to_string();
            (
                SourceSpec::Debian {
                    package: package.clone(),
                    version: full,
                    sha256: sha,
                },
                Some(file),
                Some(upstream),
            )
        }
    };
    if let Some(v) = &o.version {
        version = Some(v.clone());
    }
    let fetch_seconds = started.elapsed().as_secs_f64();

    let look = tempfile::tempdir().context("cannot create a temporary folder")?;
    let tree = match (&archive, &o.from) {
        (Some(a), _) => {
            let t = look.path().join("src");
            builder::extract(a, &t)?;
            t
        }
        (None, FromArg::Tree(d)) => d.clone(),
        (None, _) => unreachable!("every other source is an archive"),
    };
    let bs = detect(&tree).ok_or_else(|| {
        anyhow!(
            "no build system found in the source (looked for configure, CMakeLists.txt, \
             meson.build, configure.ac, Makefile); write [build] steps by hand \
             (docs/recipes.md)"
        )
    })?;
    let mut spec = Spec {
        name: o.name.clone(),
        version: version.unwrap_or_else(|| "0".into()),
        kind: o.kind,
        source,
        build_system: bs,
        steps: steps(bs, &tree, &o.extra),
        binary: None,
        test: None,
    };
    fs::write(&recipe_path, recipe_text(&spec))
        .with_context(|| format!("cannot write {}", recipe_path.display()))?;
    let r = Recipe::load(&recipe_path.display().to_string())
        .context("the scaffolded recipe does not load (a bug in ukport new)")?;
    let mut report = NewReport {
        recipe: recipe_path.clone(),
        spec: spec.clone(),
        built: None,
        build_seconds: 0.0,
        fetch_seconds,
    };
    if o.no_build {
        return Ok(report);
    }

    let t = Instant::now();
    let built = crate::image::app::build_to(
        &r,
        Platform::build_host(),
        &config::Settings::default(),
        o.jobs,
        build::Report::Stderr,
    );
    report.build_seconds = t.elapsed().as_secs_f64();
    let built = match built {
        Ok(p) => p,
        Err(e) => {
            let log = paths::build_dir().join(r.id()).join("build.log");
            let tail = fs::read_to_string(&log)
                .map(|s| {
                    let lines: Vec<&str> = s.lines().collect();
                    lines[lines.len().saturating_sub(200)..].join("\n")
                })
                .unwrap_or_default();
            let src = paths::build_dir().join(r.id()).join("src");
            let mut next = diagnose(&format!("{e:#}"), &tail, &src, bs);
            next.push(format!(
                "the whole log is {}; the tree is {} (run the failing step there with \
                 CC=uk-cc to try a fix, then put it into the recipe)",
                log.display(),
                src.display()
            ));
            let mut msg = format!(
                "the first build of {} failed ({:.0}s): {e:#}\n\nThe recipe is written: {}. \
                 Next things to try:",
                r.name,
                report.build_seconds,
                recipe_path.display()
            );
            for n in next {
                msg.push_str("\n  - ");
                msg.push_str(&n);
            }
            bail!(msg);
        }
    };
    report.built = Some(built.clone());
    if r.kind == Kind::App {
        let work = paths::build_dir().join(r.id()).join("src");
        if let Ok(b) = build::find_binary(&work, &r.name) {
            spec.binary = b.strip_prefix(&work).ok().map(|p| p.display().to_string());
        }
        spec.test = first_run(&built);
        fs::write(&recipe_path, recipe_text(&spec))?;
        // The binary it found and the test change nothing in the image just built: it
        // stays current for the recipe as written now.
        let r = Recipe::load(&recipe_path.display().to_string())?;
        build::restamp(&r, Platform::build_host())?;
    }
    report.spec = spec;
    Ok(report)
}

/// `IMAGE --version` with nothing on stdin: its output when it exits 0 within a few
/// seconds with a short answer, for the new recipe's `[test]`.
fn first_run(image: &Path) -> Option<(Vec<String>, String)> {
    let args = vec!["--version".to_string()];
    let mut child = std::process::Command::new(image)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    (!out.is_empty() && out.len() < 2048).then_some((args, out))
}

/// One finding of `ukport check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `file:line` (or the file alone).
    pub at: String,
    pub error: bool,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = if self.error { "error" } else { "warning" };
        write!(f, "{}: {level}: {}", self.at, self.message)
    }
}

/// The templates recipe steps may use (docs/recipes.md).
pub const TEMPLATES: &[&str] = &[
    "jobs",
    "prefix",
    "src",
    "cc",
    "sysroot",
    "cache",
    "repo",
    "cmake_toolchain",
    "meson_native",
];

/// The line of `keys` (a table path, then a key) in TOML `text`, if present.
fn line_of(text: &str, keys: &[&str]) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut table: &dyn toml_edit::TableLike = doc.as_table();
    for (i, k) in keys.iter().enumerate() {
        if i + 1 == keys.len() {
            let (key, item) = table.get_key_value(k)?;
            let span = key.span().or_else(|| item.span())?;
            return Some(text[..span.start].matches('\n').count() + 1);
        }
        table = table.get(k)?.as_table_like()?;
    }
    None
}

/// Validates recipe `name_or_path` without building: its syntax and keys (with
/// file:line), its configuration, the ports it depends on, the files it names, its run
/// options and the templates and tools of its steps.
pub fn check(name_or_path: &str) -> Result<(Recipe, Vec<Finding>)> {
    let r = Recipe::load(name_or_path)?;
    let file = r.path().to_path_buf();
    let text = fs::read_to_string(&file)?;
    let at = |keys: &[&str]| match line_of(&text, keys) {
        Some(l) => format!("{}:{l}", file.display()),
        None => file.display().to_string(),
    };
    let mut out = Vec::new();
    let mut push =
        |at: String, error: bool, message: String| out.push(Finding { at, error, message });

    if let Err(e) = config::resolve_recipe(&r, &[], &config::Settings::default()) {
        // The resolver's errors already say `file:line: message`, one a line.
        let located = regex::Regex::new(r"^(.+?:\d+): (.*)$").expect("fixed");
        for line in format!("{e:#}").lines().skip(1) {
            match located.captures(line.trim()) {
                Some(c) => push(c[1].to_string(), true, c[2].to_string()),
                None => push(at(&["config"]), true, line.trim().to_string()),
            }
        }
    }
    for dep in &r.depends.ports {
        match Recipe::load(dep) {
            Ok(p) if p.kind == Kind::Port => {}
            Ok(p) => push(
                at(&["depends", "ports"]),
                true,
                format!("`{dep}` is an app ({}), not a port", p.path().display()),
            ),
            Err(e) => push(at(&["depends", "ports"]), true, format!("{e:#}")),
        }
    }
    if let Some(dir) = r.local_source() {
        if !dir.is_dir() {
            push(
                at(&["source", "path"]),
                true,
                format!("the source folder {} does not exist", dir.display()),
            );
        }
    }
    for p in r.patch_paths() {
        if !p.is_file() {
            push(
                at(&["source", "patches"]),
                true,
                format!("the patch {} does not exist", p.display()),
            );
        }
    }
    for p in r.input_paths() {
        if !p.exists() {
            push(
                at(&["build", "inputs"]),
                true,
                format!("the input {} does not exist", p.display()),
            );
        }
    }
    for (guest, host) in &r.rootfs {
        let p = r.recipes_dir().join(host);
        if !p.is_file() {
            push(
                at(&["rootfs", guest]),
                true,
                format!("{guest}: the file {} does not exist", p.display()),
            );
        }
    }
    if let Err(e) = crate::run::net::parse_ports(&r.run.ports) {
        push(at(&["run", "ports"]), true, format!("{e:#}"));
    }
    if let Some(m) = &r.run.memory {
        if let Err(e) = crate::run::launch::check_memory(m) {
            push(at(&["run", "memory"]), true, format!("{e:#}"));
        }
    }
    let template = regex::Regex::new(r"(^|[^$])\{([a-z_]+)\}").expect("fixed");
    for (i, step) in r.build.steps.iter().enumerate() {
        for word in step {
            for c in template.captures_iter(word) {
                if !TEMPLATES.contains(&&c[2]) {
                    push(
                        at(&["build", "steps"]),
                        true,
                        format!(
                            "step {}: unknown template {{{}}} (known: {})",
                            i + 1,
                            &c[2],
                            TEMPLATES.join(", ")
                        ),
                    );
                }
            }
        }
        let prog = &step[0];
        if !prog.contains('/') && !prog.contains('{') && fetch::require_tool(prog).is_err() {
            push(
                at(&["build", "steps"]),
                false,
                format!(
                    "step {}: `{prog}` is not installed here (apt-get install {})",
                    i + 1,
                    fetch::debian_package_for(prog)
                ),
            );
        }
    }
    if let Some(py) = &r.python {
        if let Err(e) = crate::image::pyapp::interpreter(&r) {
            push(at(&["python", "interpreter"]), true, format!("{e:#}"));
        }
        let app = r.recipes_dir().join(&py.app);
        if !app.is_dir() {
            push(
                at(&["python", "app"]),
                true,
                format!("the app folder {} does not exist", app.display()),
            );
        } else if !app.join(&py.entry).is_file() {
            push(
                at(&["python", "entry"]),
                true,
                format!("{} has no {}", app.display(), py.entry),
            );
        }
        let pip = std::process::Command::new("python3")
            .args(["-m", "pip", "--version"])
            .output();
        if !pip.is_ok_and(|o| o.status.success()) && !py.requirements.is_empty() {
            push(
                at(&["python", "requirements"]),
                false,
                "pip is not installed here; it downloads the requirements' wheels \
                 (apt-get install python3-pip)"
                    .into(),
            );
        }
    }
    if r.kind == Kind::App && r.test.is_none() {
        push(
            file.display().to_string(),
            false,
            "no [test]: `ukport test` has nothing to check".into(),
        );
    }
    Ok((r, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_parses_every_kind_of_source() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("x-1.0.tar.gz");
        fs::write(&f, "").unwrap();
        assert_eq!(
            "debian:cmark=0.30.2-6".parse::<FromArg>().unwrap(),
            FromArg::Debian {
                package: "cmark".into(),
                version: Some("0.30.2-6".into())
            }
        );
        assert!(matches!(
            "debian:hello".parse::<FromArg>().unwrap(),
            FromArg::Debian { version: None, .. }
        ));
        assert!("debian:".parse::<FromArg>().is_err());
        assert_eq!(
            "https://x.org/a-1.tar.gz".parse::<FromArg>().unwrap(),
            FromArg::Url("https://x.org/a-1.tar.gz".into())
        );
        assert!(matches!(
            f.display().to_string().parse::<FromArg>().unwrap(),
            FromArg::Archive(_)
        ));
        assert!(matches!(
            t.path().display().to_string().parse::<FromArg>().unwrap(),
            FromArg::Tree(_)
        ));
        let e = "/no/such/thing".parse::<FromArg>().unwrap_err().to_string();
        assert!(e.contains("not a URL"), "{e}");
    }

    #[test]
    fn build_systems_are_detected_in_order() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        assert_eq!(detect(d), None);
        fs::write(d.join("Makefile"), "all:\n").unwrap();
        assert_eq!(detect(d), Some(BuildSystem::Make));
        fs::write(d.join("configure.ac"), "").unwrap();
        assert_eq!(detect(d), Some(BuildSystem::Autoreconf));
        fs::write(d.join("meson.build"), "").unwrap();
        assert_eq!(detect(d), Some(BuildSystem::Meson));
        fs::write(d.join("CMakeLists.txt"), "").unwrap();
        assert_eq!(detect(d), Some(BuildSystem::CMake));
        fs::write(d.join("configure"), "#!/bin/sh\n# --disable-shared\n").unwrap();
        assert_eq!(detect(d), Some(BuildSystem::Configure));
        let s = steps(BuildSystem::Configure, d, &["--without-x".into()]);
        assert_eq!(s[0], ["./configure", "--disable-shared", "--without-x"]);
        assert_eq!(s[1], ["make", "-j{jobs}"]);
        fs::write(
            d.join("CMakeLists.txt"),
            "project(x)\noption(X_SHARED \"shared\" ON)\n  option( X_TESTS \"t\" ON)\noption(X_FAST \"f\" ON)\n",
        )
        .unwrap();
        let s = steps(BuildSystem::CMake, d, &[]);
        assert!(s[0].contains(&"-DCMAKE_TOOLCHAIN_FILE={cmake_toolchain}".to_string()));
        assert_eq!(s[0][8..], ["-DX_SHARED=OFF", "-DX_TESTS=OFF"]);
        let s = steps(BuildSystem::Meson, d, &[]);
        assert_eq!(
            s[0][..5],
            ["meson", "setup", "build", "--native-file", "{meson_native}"]
        );
    }

    #[test]
    fn versions_come_from_archive_names() {
        assert_eq!(
            version_from_archive("cmark-0.30.2.tar.gz").as_deref(),
            Some("0.30.2")
        );
        assert_eq!(
            version_from_archive("hello_2.10.orig.tar.gz").as_deref(),
            Some("2.10")
        );
        assert_eq!(version_from_archive("foo-v1.2.tgz").as_deref(), Some("1.2"));
        assert_eq!(version_from_archive("README"), None);
        assert_eq!(version_from_archive("tool-latest.tar.xz"), None);
    }

    /// The scaffold is a recipe that loads, with the source, steps and test it was
    /// given.
    #[test]
    fn scaffolded_recipes_load() {
        let t = tempfile::tempdir().unwrap();
        let mut spec = Spec {
            name: "demo".into(),
            version: "1.0".into(),
            kind: Kind::App,
            source: SourceSpec::Debian {
                package: "demo".into(),
                version: "1.0-2".into(),
                sha256: "a".repeat(64),
            },
            build_system: BuildSystem::CMake,
            steps: steps(BuildSystem::CMake, t.path(), &["-DX=\"y z\"".into()]),
            binary: None,
            test: None,
        };
        let p = t.path().join("demo.toml");
        fs::write(&p, recipe_text(&spec)).unwrap();
        let r = Recipe::load(&p.display().to_string()).unwrap();
        assert_eq!(r.source.debian.unwrap().sha256.unwrap(), "a".repeat(64));
        assert_eq!(r.build.steps[0].last().unwrap(), "-DX=\"y z\"");
        assert_eq!(r.build.binary, None);
        spec.binary = Some("build/src/demo".into());
        spec.test = Some((vec!["--version".into()], "demo 1.0\n".into()));
        spec.source = SourceSpec::Url {
            url: "https://x.invalid/demo-1.0.tar.gz".into(),
            sha256: "b".repeat(64),
        };
        fs::write(&p, recipe_text(&spec)).unwrap();
        let r = Recipe::load(&p.display().to_string()).unwrap();
        assert_eq!(r.build.binary.as_deref(), Some("build/src/demo"));
        assert_eq!(r.test.unwrap().expect_stdout.as_deref(), Some("demo 1.0\n"));
        assert_eq!(r.source.sha256.unwrap(), "b".repeat(64));
    }

    #[test]
    fn failures_come_with_the_next_thing_to_try() {
        let t = tempfile::tempdir().unwrap();
        fs::write(
            t.path().join("CMakeLists.txt"),
            "project(x)\noption(X_TESTS \"Build tests\" ON)\noption(X_SHARED \"\" ON)\n",
        )
        .unwrap();
        let d = |e: &str, log: &str, bs| diagnose(e, log, t.path(), bs).join("\n");
        let n = d(
            "",
            "[ 95%] Building CXX object api_test/x.cpp.o\nrelocation R_X86_64_32",
            BuildSystem::CMake,
        );
        assert!(
            n.contains("-DX_TESTS=OFF") && !n.contains("X_SHARED"),
            "{n}"
        );
        let n = d(
            "uk-cc: error: cannot find -lssl: it is neither",
            "",
            BuildSystem::Configure,
        );
        assert!(
            n.contains("port recipe for libssl") && n.contains("--without-ssl"),
            "{n}"
        );
        let n = d(
            "",
            "x.c:3:10: fatal error: zlib.h: No such file or directory",
            BuildSystem::Make,
        );
        assert!(n.contains("zlib.h"), "{n}");
        let n = d(
            "uk-cc: error: -shared: ukit images are statically linked unikernels",
            "",
            BuildSystem::Meson,
        );
        assert!(n.contains("default_library=static"), "{n}");
        let n = d(
            "`autoreconf` is not installed (try `apt-get install autoreconf`)",
            "",
            BuildSystem::Autoreconf,
        );
        assert!(
            n.contains("apt-get install autoreconf") && n.contains("automake"),
            "{n}"
        );
        let n = d(
            "",
            "-- Could NOT find OpenSSL (missing: OPENSSL_INCLUDE_DIR)",
            BuildSystem::CMake,
        );
        assert!(n.contains("needs OpenSSL"), "{n}");
        let n = d(
            "",
            "foo.c:(.text+0x1): undefined reference to `qsort_r_gnu'",
            BuildSystem::Make,
        );
        assert!(n.contains("qsort_r_gnu"), "{n}");
        assert!(d("step failed", "nothing useful", BuildSystem::Make).is_empty());
    }

    #[test]
    fn check_finds_problems_with_their_lines() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("bad.toml");
        fs::write(
            &p,
            "name = \"bad\"\nversion = \"1\"\n[source]\npath = \"nowhere\"\n\
             [depends]\nports = [\"hello\"]\n\
             [build]\nsteps = [[\"make\", \"-j{jbos}\", \"X=${HOME}\"]]\n\
             [rootfs]\n\"/etc/x\" = \"missing.conf\"\n\
             [run]\nports = [\"80:http\"]\nmemory = \"lots\"\n\
             [config]\n\"uk.log_levl\" = \"debug\"\n",
        )
        .unwrap();
        let (_, f) = check(&p.display().to_string()).unwrap();
        let shown: Vec<String> = f.iter().map(|f| f.to_string()).collect();
        let all = shown.join("\n");
        let file = p.display().to_string();
        for (line, what) in [
            (4, "source folder"),
            (6, "is an app"),
            (8, "unknown template {jbos}"),
            (10, "missing.conf"),
            (12, "guest port `http`"),
            (13, "-m lots"),
            (15, "uk.log_levl"),
        ] {
            assert!(
                shown
                    .iter()
                    .any(|s| s.starts_with(&format!("{file}:{line}: error:")) && s.contains(what)),
                "no line-{line} error about {what}:\n{all}"
            );
        }
        assert!(
            !all.contains("HOME"),
            "shell ${{X}} is not a template: {all}"
        );
        assert!(
            f.iter()
                .any(|f| !f.error && f.message.contains("no [test]")),
            "{all}"
        );
        let (_, f) = check("hello").unwrap();
        assert!(f.iter().all(|f| !f.error), "{f:?}");
    }
}
