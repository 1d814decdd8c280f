//! Runs a recipe's build: a fresh source tree (extracted archive or copied in-repo
//! folder), the recipe's patches, then its build steps with templates expanded.
//!
//! Everything the steps print goes to `build.log` in the build folder, not the
//! terminal: configure and make are loud, and what matters on failure is the tail of
//! the log, which is printed together with its path.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

use crate::fetch::{self, require_tool};
use crate::paths;
use crate::progress::Progress;
use crate::recipe::Recipe;

/// How to build: parallelism, environment from the caller (uk-cc as `CC`, the kernel,
/// ...), where to install, and the sysroot apps compile against.
#[derive(Debug, Clone, Default)]
pub struct BuildOpts {
    /// `{jobs}`; 0 means the number of CPUs.
    pub jobs: usize,
    /// Environment for every step, applied before the recipe's own `[build] env`.
    /// `CC` here is also what `{cc}` expands to (default `gcc`).
    pub env: BTreeMap<String, String>,
    /// `{prefix}`; default `<build dir>/install`.
    pub prefix: Option<PathBuf>,
    /// `{sysroot}` (the installed musl port), when the recipe uses it.
    pub sysroot: Option<PathBuf>,
    /// More `{name}` templates from the caller (the tools add `{cmake_toolchain}` and
    /// `{meson_native}`: docs/recipes.md).
    pub vars: BTreeMap<String, String>,
}

/// What a finished build left behind.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    /// `build/<name>-<version>/`.
    pub build_dir: PathBuf,
    /// The source tree (`<build_dir>/src`).
    pub src_dir: PathBuf,
    /// Where the steps ran (`src` or, out of tree, `<build_dir>/obj`).
    pub work_dir: PathBuf,
    pub prefix: PathBuf,
    pub log: PathBuf,
    /// The app's linked program (`[build] binary`), checked to exist.
    pub binary: Option<PathBuf>,
}

/// Number of CPUs, for `-j`.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Template values for `{name}` in steps and env.
struct Vars {
    map: BTreeMap<String, String>,
}

impl Vars {
    /// Replaces the known `{name}`s; other braces (shell `${X}`, awk) pass through.
    /// A known name whose value is missing (`{sysroot}` without one) is an error.
    fn expand(&self, s: &str, missing: &BTreeMap<&'static str, &'static str>) -> Result<String> {
        let mut out = s.to_string();
        for (k, why) in missing {
            if out.contains(&format!("{{{k}}}")) {
                bail!("`{s}` uses {{{k}}}, but {why}");
            }
        }
        for (k, v) in &self.map {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        Ok(out)
    }
}

/// Extracts `archive` into `dest` (which must not exist) with the host's tar; a single
/// top-level folder (`musl-1.2.3/`) is stripped so `dest` is the source root.
pub fn extract(archive: &Path, dest: &Path) -> Result<()> {
    let tar = require_tool("tar")?;
    let name = archive.file_name().unwrap_or_default().to_string_lossy();
    if name.ends_with(".xz") || name.ends_with(".txz") {
        require_tool("xz")?;
    }
    let parent = dest
        .parent()
        .ok_or_else(|| anyhow!("bad destination {}", dest.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".extract.")
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a temp folder in {}", parent.display()))?;
    let out = Command::new(tar)
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(tmp.path())
        .arg("--no-same-owner")
        .stdin(Stdio::null())
        .output()
        .context("cannot run tar")?;
    if !out.status.success() {
        bail!(
            "tar -xf {} failed: {}",
            archive.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let entries: Vec<PathBuf> = fs::read_dir(tmp.path())?
        .flatten()
        .map(|e| e.path())
        .collect();
    if let [only] = entries.as_slice() {
        if only.is_dir() {
            fs::rename(only, dest)?;
            return Ok(());
        }
    }
    let tmp = tmp.keep();
    fs::rename(&tmp, dest)?;
    Ok(())
}

/// Copies a folder tree (in-repo sources), keeping symlinks and permissions.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for e in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let e = e?;
        let ty = e.file_type()?;
        let dst = to.join(e.file_name());
        if ty.is_dir() {
            copy_tree(&e.path(), &dst)?;
        } else if ty.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(e.path())?, &dst)?;
        } else {
            fs::copy(e.path(), &dst)
                .with_context(|| format!("cannot copy {}", e.path().display()))?;
        }
    }
    Ok(())
}

/// The last `n` lines of a file.
fn tail(path: &Path, n: usize) -> Vec<String> {
    let Ok(f) = fs::File::open(path) else {
        return Vec::new();
    };
    let mut lines: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    for l in std::io::BufReader::new(f).lines().map_while(|l| l.ok()) {
        if lines.len() == n {
            lines.pop_front();
        }
        lines.push_back(l);
    }
    lines.into()
}

/// Runs `cmd` with its output appended to `log`; on failure the error carries the
/// log's last 30 lines and its path.
fn run_step(cmd: &mut Command, shown: &str, log: &Path) -> Result<()> {
    let mut f = fs::OpenOptions::new().create(true).append(true).open(log)?;
    writeln!(f, "\n$ {shown}")?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(f.try_clone()?)
        .stderr(f.try_clone()?)
        .status();
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            writeln!(f, "cannot start: {e}")?;
            let prog = cmd.get_program().to_string_lossy().into_owned();
            if e.kind() == std::io::ErrorKind::NotFound && !prog.contains('/') {
                bail!(
                    "`{shown}`: `{prog}` is not installed (try `apt-get install {}`)",
                    fetch::debian_package_for(&prog)
                );
            }
            bail!("`{shown}`: cannot start: {e} (log: {})", log.display());
        }
    };
    if !status.success() {
        let lines = tail(log, 30);
        bail!(
            "`{shown}` failed ({status}); last lines of the log:\n{}\nfull log: {}",
            lines.join("\n"),
            log.display()
        );
    }
    Ok(())
}

/// Builds `recipe` in `paths::build_dir()/<name>-<version>`.
pub fn build_recipe(recipe: &Recipe, opts: &BuildOpts) -> Result<BuildOutput> {
    build_recipe_in(recipe, opts, &paths::build_dir(), &Progress::new())
}

/// [`build_recipe`] with an explicit build root and progress sink.
pub fn build_recipe_in(
    recipe: &Recipe,
    opts: &BuildOpts,
    build_root: &Path,
    progress: &Progress,
) -> Result<BuildOutput> {
    // Fetch first, so a fetch failure does not wipe the previous build tree.
    let archive = match recipe.local_source() {
        Some(_) => None,
        None => Some(fetch::fetch_source(recipe, progress)?),
    };

    let build_dir = build_root.join(recipe.id());
    if build_dir.exists() {
        fs::remove_dir_all(&build_dir)
            .with_context(|| format!("cannot remove the old build tree {}", build_dir.display()))?;
    }
    fs::create_dir_all(&build_dir)
        .with_context(|| format!("cannot create {}", build_dir.display()))?;
    let src = build_dir.join("src");
    let log = build_dir.join("build.log");
    fs::write(
        &log,
        format!("ukit build of {} {}\n", recipe.name, recipe.version),
    )?;

    let task = progress.task(format!("building {} {}", recipe.name, recipe.version));
    let result = (|| -> Result<BuildOutput> {
        match (&archive, recipe.local_source()) {
            (Some(a), _) => {
                task.step(format!(
                    "extracting {}",
                    a.file_name().unwrap_or_default().to_string_lossy()
                ));
                extract(a, &src)?;
            }
            (None, Some(dir)) => {
                task.step(format!("copying {}", dir.display()));
                copy_tree(&dir, &src)?;
            }
            (None, None) => unreachable!("either an archive or a local source"),
        }

        let patches = recipe.patch_paths();
        if !patches.is_empty() {
            let patch = require_tool("patch")?;
            for p in &patches {
                if !p.is_file() {
                    bail!(
                        "patch {} (from {}) does not exist",
                        p.display(),
                        recipe.path().display()
                    );
                }
                let name = p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                task.step(format!("patching: {name}"));
                run_step(
                    Command::new(&patch)
                        .args([
                            "-p1",
                            "--forward",
                            "--batch",
                            "--fuzz=0",
                            "--no-backup-if-mismatch",
                            "-i",
                        ])
                        .arg(p)
                        .current_dir(&src),
                    &format!("patch -p1 < {}", p.display()),
                    &log,
                )
                .with_context(|| format!("patch {name} does not apply cleanly"))?;
            }
        }

        let work = if recipe.build.out_of_tree {
            let w = build_dir.join("obj");
            fs::create_dir_all(&w)?;
            w
        } else {
            src.clone()
        };
        let prefix = opts
            .prefix
            .clone()
            .unwrap_or_else(|| build_dir.join("install"));
        let jobs = if opts.jobs == 0 {
            default_jobs()
        } else {
            opts.jobs
        };
        let mut map: BTreeMap<String, String> = opts.vars.clone();
        map.insert("jobs".into(), jobs.to_string());
        map.insert("prefix".into(), prefix.display().to_string());
        map.insert("src".into(), src.display().to_string());
        map.insert(
            "cc".into(),
            opts.env.get("CC").cloned().unwrap_or_else(|| "gcc".into()),
        );
        map.insert("cache".into(), paths::cache_dir().display().to_string());
        // The repository root, for steps that run a port's own build files
        // (`make -f {repo}/ports/lwip/Makefile`).
        map.insert("repo".into(), paths::repo_root().display().to_string());
        let mut missing = BTreeMap::new();
        match &opts.sysroot {
            Some(s) => {
                map.insert("sysroot".into(), s.display().to_string());
            }
            None => {
                missing.insert(
                    "sysroot",
                    "no sysroot is set for this build (it builds the sysroot itself?)",
                );
            }
        }
        let vars = Vars { map };

        let mut env = opts.env.clone();
        for (k, v) in &recipe.build.env {
            env.insert(k.clone(), vars.expand(v, &missing)?);
        }
        let steps: Vec<Vec<String>> = recipe
            .build
            .steps
            .iter()
            .map(|s| {
                s.iter()
                    .map(|a| vars.expand(a, &missing))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        let n = steps.len();
        for (i, argv) in steps.iter().enumerate() {
            let shown = argv.join(" ");
            task.step(format!("[{}/{n}] {shown}", i + 1));
            run_step(
                Command::new(&argv[0])
                    .args(&argv[1..])
                    .envs(&env)
                    .current_dir(&work),
                &shown,
                &log,
            )?;
        }

        let binary = match &recipe.build.binary {
            Some(b) => {
                let p = work.join(b);
                if !p.is_file() {
                    bail!(
                        "the build finished but [build] binary = \"{b}\" is not there ({}); \
                         log: {}",
                        p.display(),
                        log.display()
                    );
                }
                Some(p)
            }
            None => None,
        };
        Ok(BuildOutput {
            build_dir: build_dir.clone(),
            src_dir: src.clone(),
            work_dir: work,
            prefix,
            log: log.clone(),
            binary,
        })
    })();
    match &result {
        Ok(_) => task.done(format!("built {} {}", recipe.name, recipe.version)),
        Err(_) => task.fail(),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn recipe(dir: &Path, body: &str) -> Recipe {
        let p = dir.join("recipes/t.toml");
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, body).unwrap();
        Recipe::load_in(&dir.join("recipes"), p.to_str().unwrap()).unwrap()
    }

    #[test]
    fn local_source_builds_with_templates_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("recipes/t");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("in.txt"), "payload\n").unwrap();
        let r = recipe(
            dir.path(),
            r#"
name = "t"
version = "1"
[source]
path = "t"
[build]
env = { GREETING = "jobs={jobs}" }
steps = [["sh", "-c", "cat in.txt > out.txt; echo \"$GREETING cc={cc} ${HOME:+x}\" >> out.txt"]]
binary = "out.txt"
"#,
        );
        let mut opts = BuildOpts {
            jobs: 3,
            ..Default::default()
        };
        opts.env.insert("CC".into(), "/x/uk-cc".into());
        let out =
            build_recipe_in(&r, &opts, &dir.path().join("build"), &Progress::hidden()).unwrap();
        let got = fs::read_to_string(out.binary.as_ref().unwrap()).unwrap();
        assert_eq!(got, "payload\njobs=3 cc=/x/uk-cc x\n");
        assert_eq!(out.build_dir, dir.path().join("build/t-1"));
        assert!(fs::read_to_string(&out.log).unwrap().contains("$ sh -c"));
    }

    #[test]
    fn failing_step_reports_log_tail_and_path() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("recipes/t")).unwrap();
        let r = recipe(
            dir.path(),
            r#"
name = "t"
version = "1"
[source]
path = "t"
[build]
steps = [["sh", "-c", "for i in $(seq 1 40); do echo line$i; done; exit 7"]]
binary = "never"
"#,
        );
        let e = build_recipe_in(
            &r,
            &BuildOpts::default(),
            &dir.path().join("build"),
            &Progress::hidden(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("exit status: 7"), "{e}");
        assert!(
            e.contains("line40") && e.contains("line11") && !e.contains("line10\n"),
            "{e}"
        );
        assert!(
            e.contains(&dir.path().join("build/t-1/build.log").display().to_string()),
            "{e}"
        );
    }

    #[test]
    fn sysroot_template_without_sysroot_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("recipes/t")).unwrap();
        let r = recipe(
            dir.path(),
            "name = \"t\"\nversion = \"1\"\nkind = \"port\"\n[source]\npath = \"t\"\n\
             [build]\nsteps = [[\"echo\", \"--sysroot={sysroot}\"]]\n",
        );
        let e = build_recipe_in(
            &r,
            &BuildOpts::default(),
            &dir.path().join("build"),
            &Progress::hidden(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("{sysroot}"), "{e}");
    }

    #[test]
    fn extract_strips_single_top_folder() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("pkg-1.0");
        fs::create_dir_all(top.join("sub")).unwrap();
        fs::write(top.join("sub/f.c"), "int x;\n").unwrap();
        let tgz = dir.path().join("pkg.tar.gz");
        let st = Command::new("tar")
            .arg("-czf")
            .arg(&tgz)
            .arg("-C")
            .arg(dir.path())
            .arg("pkg-1.0")
            .status()
            .unwrap();
        assert!(st.success());
        let dest = dir.path().join("src");
        extract(&tgz, &dest).unwrap();
        assert_eq!(
            fs::read_to_string(dest.join("sub/f.c")).unwrap(),
            "int x;\n"
        );
    }
}
