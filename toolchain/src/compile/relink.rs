//! Relinking instead of rebuilding. When `uk-cc` links an image it writes a *relink
//! manifest* beside the output (`<out>.uklink`, JSON) and copies every object file and
//! archive of the link into a content-addressed store in the cache
//! (`objects/<sha256>`). The manifest says how to repeat that link: the folder it ran in,
//! the user's arguments with each stored input at a known position, and the platform.
//!
//! Why: an image is the app's objects plus musl plus the kernel. When only the kernel
//! changed (a kernel source edit, another configuration, `UK_KERNEL`) or another
//! platform is wanted, the app's objects are still good, and linking them again takes a
//! second where rebuilding nginx from source takes over a minute. The store keeps the
//! objects alive after a `make clean` or a fresh build tree, so the manifest stays usable.
//!
//! Sources named on a link command (`uk-cc -o hello hello.c`) have no object that
//! outlives gcc, so uk-cc compiles them to objects first ([`compile_units`]) and links
//! those; this is what gcc does internally anyway.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::gcc::{find_user_lib, is_source, lib_arg, lib_dirs, separate_value};
use super::needs::Need;
use crate::packages::fetch::sha256_file;
use crate::packages::ports;
use crate::paths;
use crate::platform::Platform;

/// Manifest format version; a manifest with another version is not used. 2: the
/// kernel options the program needs ([`Manifest::needs`]) are recorded.
pub const VERSION: u32 = 2;

/// File name suffix of a manifest beside the linked output.
pub const SUFFIX: &str = ".uklink";

/// Environment variable: `0` turns manifest writing (and source splitting) off. ukport
/// sets it while relinking, because the manifest it relinks from stays the record.
pub const ENV_RECORD: &str = "UK_RELINK_MANIFEST";

/// One stored input of the link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// Position in [`Manifest::args`] of the argument this input stands for.
    pub index: usize,
    /// Where the input was at link time (absolute), for messages only.
    pub path: PathBuf,
    /// Its content hash: the file name in the store.
    pub sha256: String,
}

/// How to repeat one link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// The folder the link ran in (relative arguments such as `-Wl,--version-script=x`
    /// resolve against it when it still exists).
    pub cwd: PathBuf,
    /// The platform of the recorded link.
    pub plat: String,
    /// The `-o` value as given.
    pub output: String,
    /// The user's arguments exactly as given to uk-cc (without `-o OUT` and `--uk-*`).
    pub user_args: Vec<String>,
    /// The link arguments (the user's, with sources replaced by their objects and `-l`
    /// archives found in the user's `-L` folders replaced by their paths); every
    /// [`Input`] names one of them.
    pub args: Vec<String>,
    pub inputs: Vec<Input>,
    /// The kernel library the recorded link used.
    pub kernel: PathBuf,
    /// Set by ukport: what the app was built from (recipe, sources, ports), so a relink
    /// is only done while that is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe_stamp: Option<String>,
    /// The kernel options the program needs, read from its objects at link time
    /// ([`super::needs`]): a relink for another kernel or platform keeps them.
    #[serde(default)]
    pub needs: Vec<Need>,
}

/// The manifest path beside a linked output.
pub fn manifest_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(SUFFIX);
    PathBuf::from(s)
}

/// The content-addressed object store (`objects/` in the cache).
pub fn store_dir() -> PathBuf {
    paths::cache_dir().join("objects")
}

/// True for an argument that is an input file (not an option).
fn is_input(arg: &str) -> bool {
    !arg.starts_with('-')
}

/// Options that only matter to the linker; dropped when compiling a source on its own.
/// The second value says whether the option takes the next argument.
fn link_only(arg: &str) -> Option<bool> {
    match arg {
        "-l" | "-L" | "-Xlinker" | "-T" | "-e" | "-u" | "-z" => Some(true),
        "-static" | "-nostdlib" | "-nostartfiles" | "-nodefaultlibs" | "-s" => Some(false),
        _ if arg.starts_with("-l") || arg.starts_with("-L") || arg.starts_with("-Wl,") => {
            Some(false)
        }
        _ => None,
    }
}

/// The sources of a link command and the arguments to compile each of them alone (the
/// user's options minus inputs and link-only options). `None` when the command cannot be
/// split safely: `-x LANG` (position-dependent), stdin (`-`) or response files (`@f`).
pub fn compile_units(args: &[String], uses_x: bool) -> Option<(Vec<usize>, Vec<String>)> {
    if uses_x {
        return None;
    }
    let mut sources = Vec::new();
    let mut opts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "-" || a.starts_with('@') {
            return None;
        }
        if is_input(a) {
            if is_source(a) {
                sources.push(i);
            }
            i += 1;
            continue;
        }
        match link_only(a) {
            Some(true) => i += 2,
            Some(false) => i += 1,
            None => {
                opts.push(a.clone());
                // An option's separate value (`-I dir`, `-D X`, `-MF f`) is not an input.
                if separate_value(a) {
                    if let Some(v) = args.get(i + 1) {
                        opts.push(v.clone());
                    }
                    i += 1;
                }
                i += 1;
            }
        }
    }
    Some((sources, opts))
}

/// Copies `path` into the store (unless its content is already there) and returns its
/// hash. Copied, not hard-linked: compilers and `ar` may rewrite a file in place.
pub fn store(path: &Path, store: &Path) -> Result<String> {
    let sha = sha256_file(path)?;
    let dest = store.join(&sha);
    if !dest.is_file() {
        fs::create_dir_all(store).with_context(|| format!("cannot create {}", store.display()))?;
        let tmp = store.join(format!(".{sha}.tmp{}", std::process::id()));
        fs::copy(path, &tmp)
            .with_context(|| format!("cannot copy {} into {}", path.display(), store.display()))?;
        fs::rename(&tmp, &dest)?;
    }
    Ok(sha)
}

/// Records a finished link: `args` are the link arguments as run (sources already replaced
/// by objects), `user_args` what the user gave. Every object and archive is put into the
/// store. Relative paths resolve against `cwd`.
pub fn record(
    cwd: &Path,
    plat: Platform,
    output: &str,
    user_args: &[String],
    args: &[String],
    kernel: &Path,
    store_at: &Path,
) -> Result<Manifest> {
    let abs = |p: &str| cwd.join(p);
    let lib_dirs: Vec<PathBuf> = lib_dirs(args).iter().map(|d| abs(d)).collect();
    let mut out_args = Vec::with_capacity(args.len());
    let mut inputs = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let file = if let Some(name) = lib_arg(a, args, &mut i) {
            match find_user_lib(&name, &lib_dirs) {
                Some(p) => p,
                None => {
                    out_args.push(format!("-l{name}"));
                    continue;
                }
            }
        } else if is_input(a) && !is_source(a) {
            abs(a)
        } else {
            out_args.push(a.clone());
            if separate_value(a) && a != "-l" {
                if let Some(v) = args.get(i) {
                    out_args.push(v.clone());
                    i += 1;
                }
            }
            continue;
        };
        let path = fs::canonicalize(&file).unwrap_or(file);
        let sha = store(&path, store_at)?;
        inputs.push(Input {
            index: out_args.len(),
            path: path.clone(),
            sha256: sha,
        });
        out_args.push(path.to_string_lossy().into_owned());
    }
    Ok(Manifest {
        version: VERSION,
        cwd: cwd.to_path_buf(),
        plat: plat.name().to_string(),
        output: output.to_string(),
        user_args: user_args.to_vec(),
        args: out_args,
        inputs,
        kernel: kernel.to_path_buf(),
        recipe_stamp: None,
        needs: Vec::new(),
    })
}

impl Manifest {
    /// Reads and checks a manifest.
    pub fn read(path: &Path) -> Result<Manifest> {
        let text =
            fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let m: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a relink manifest", path.display()))?;
        if m.version != VERSION {
            bail!(
                "{}: manifest version {} (this ukit reads {VERSION}); rebuild from source",
                path.display(),
                m.version
            );
        }
        if let Some(bad) = m.inputs.iter().find(|i| i.index >= m.args.len()) {
            bail!(
                "{}: input {} points past the arguments; the manifest is damaged",
                path.display(),
                bad.path.display()
            );
        }
        Ok(m)
    }

    /// Writes the manifest (atomically: a reader never sees half of it).
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let json = serde_json::to_string_pretty(self)?;
        fs::write(&tmp, json + "\n").with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// Inputs missing from the store (a relink needs all of them).
    pub fn missing_inputs(&self, store_at: &Path) -> Vec<&Input> {
        self.inputs
            .iter()
            .filter(|i| !store_at.join(&i.sha256).is_file())
            .collect()
    }

    /// The uk-cc arguments that repeat the link for `plat` with `kernel` into `out`:
    /// the recorded arguments with every input taken from the store.
    pub fn relink_args(
        &self,
        store_at: &Path,
        plat: Platform,
        kernel: &Path,
        out: &Path,
    ) -> Vec<String> {
        let mut args = self.args.clone();
        for i in &self.inputs {
            args[i.index] = store_at.join(&i.sha256).to_string_lossy().into_owned();
        }
        let mut v = vec![
            format!("--uk-plat={plat}"),
            format!("--uk-kernel={}", kernel.display()),
            "-o".to_string(),
            out.to_string_lossy().into_owned(),
        ];
        v.extend(args);
        v
    }

    /// Links the recorded objects again with `uk_cc` for `plat` and `kernel` into `out`.
    pub fn relink(&self, uk_cc: &Path, plat: Platform, kernel: &Path, out: &Path) -> Result<()> {
        let store_at = store_dir();
        let missing = self.missing_inputs(&store_at);
        if let Some(m) = missing.first() {
            bail!(
                "{} of {} objects are gone from the store {} (first: {}); rebuild from source",
                missing.len(),
                self.inputs.len(),
                store_at.display(),
                m.path.display()
            );
        }
        let out = std::path::absolute(out)?;
        let cwd = if self.cwd.is_dir() {
            self.cwd.clone()
        } else {
            store_at.clone()
        };
        let result = Command::new(uk_cc)
            .args(self.relink_args(&store_at, plat, kernel, &out))
            .current_dir(&cwd)
            .env(ENV_RECORD, "0")
            .output()
            .with_context(|| format!("cannot run {}", uk_cc.display()))?;
        if !result.status.success() {
            bail!(
                "relinking {} failed ({}):\n{}",
                out.display(),
                result.status,
                String::from_utf8_lossy(&result.stderr).trim_end()
            );
        }
        Ok(())
    }
}

/// Compiles each source of a link command to an object in `dir` with `compile` (which
/// gets the per-source argv tail: options, `-c SRC`, and returns gcc's exit status), and
/// returns the link arguments with the sources replaced. `Ok(Err(status))` is gcc's
/// failure status, which the caller returns as its own.
pub fn split_sources(
    args: &[String],
    sources: &[usize],
    dir: &Path,
    mut compile: impl FnMut(&str, &Path) -> Result<i32>,
) -> Result<std::result::Result<Vec<String>, i32>> {
    let mut out = args.to_vec();
    for (n, &i) in sources.iter().enumerate() {
        let src = &args[i];
        let stem = Path::new(src)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "src".into());
        let obj = dir.join(format!("{n}-{stem}.o"));
        let code = compile(src, &obj)?;
        if code != 0 {
            return Ok(Err(code));
        }
        if !obj.is_file() {
            return Err(anyhow!("compiling {src} left no object {}", obj.display()));
        }
        out[i] = obj.to_string_lossy().into_owned();
    }
    Ok(Ok(out))
}

/// Feeds the recipe file and, for an in-repo source, every file under it (path and
/// content, in path order) into `h`: what an image was built from apart from ports
/// and kernel.
pub fn hash_recipe_source(
    h: &mut Sha256,
    recipe: &Path,
    local_source: Option<&Path>,
) -> Result<()> {
    h.update(fs::read(recipe).with_context(|| format!("cannot read {}", recipe.display()))?);
    if let Some(src) = local_source {
        let mut files = Vec::new();
        let mut stack = vec![src.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).with_context(|| format!("cannot read {}", d.display()))? {
                let p = e?.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push(p);
                }
            }
        }
        files.sort();
        for f in files {
            h.update(f.to_string_lossy().as_bytes());
            h.update(fs::read(&f)?);
        }
    }
    Ok(())
}

/// What an app image was built from apart from the kernel: the recipe file, its in-repo
/// source files (path and content) and the stamps of the ports it links. Same stamp:
/// the recorded objects are still good and a relink suffices.
pub fn recipe_stamp(
    recipe: &Path,
    local_source: Option<&Path>,
    ports: &[PathBuf],
) -> Result<String> {
    let mut h = Sha256::new();
    hash_recipe_source(&mut h, recipe, local_source)?;
    for p in ports {
        h.update(p.to_string_lossy().as_bytes());
        h.update(fs::read(p.join(ports::STAMP)).unwrap_or_default());
    }
    Ok(hex::encode(h.finalize()))
}

/// What [`relink_image`] did.
#[derive(Debug, Clone)]
pub struct Relinked {
    /// The manifest the objects came from.
    pub manifest: PathBuf,
    /// How many stored objects and archives went into the link.
    pub objects: usize,
    /// The platform of the recorded link (differs from the image's for `--plat X`).
    pub from_plat: String,
    /// The kernel linked in.
    pub kernel: PathBuf,
    pub seconds: f64,
}

/// Manifests of `app` in `images` that were made from `stamp`: the one for `plat` first,
/// then those of other platforms (the objects are the same for every platform).
pub fn candidates(
    images: &Path,
    app: &str,
    plat: Platform,
    stamp: &str,
) -> Vec<(PathBuf, Manifest)> {
    let own = manifest_path(&images.join(plat.image_name(app)));
    let mut paths = vec![own.clone()];
    let mut others: Vec<PathBuf> = fs::read_dir(images)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            *p != own
                && name.starts_with(&format!("{app}."))
                && name.ends_with(SUFFIX)
                && !name[app.len() + 1..name.len() - SUFFIX.len()].contains('.')
        })
        .collect();
    others.sort();
    paths.extend(others);
    paths
        .into_iter()
        .filter_map(|p| Manifest::read(&p).ok().map(|m| (p, m)))
        .filter(|(_, m)| m.recipe_stamp.as_deref() == Some(stamp))
        .collect()
}

/// Makes `images/<app>.<plat>` by relinking the objects of an earlier build of the same
/// recipe (same `stamp`) with the kernel `kernel_for` gives for its manifest (which
/// holds the options the program needs), when such a build was recorded and its
/// objects are all in the store. `Ok(None)`: nothing to relink from, build from source.
pub fn relink_image(
    uk_cc: &Path,
    images: &Path,
    app: &str,
    plat: Platform,
    kernel_for: &dyn Fn(&Manifest) -> Result<PathBuf>,
    stamp: &str,
) -> Result<Option<Relinked>> {
    let started = std::time::Instant::now();
    let store_at = store_dir();
    let Some((path, m)) = candidates(images, app, plat, stamp)
        .into_iter()
        .find(|(_, m)| m.missing_inputs(&store_at).is_empty())
    else {
        return Ok(None);
    };
    let kernel = kernel_for(&m)?;
    let kernel = kernel.as_path();
    let image = images.join(plat.image_name(app));
    // A name of this process's own: two relinks of one image never write one file.
    let tmp = images.join(format!(
        ".{}.relink.{}.tmp",
        plat.image_name(app),
        std::process::id()
    ));
    m.relink(uk_cc, plat, kernel, &tmp)?;
    fs::rename(&tmp, &image).with_context(|| format!("cannot install {}", image.display()))?;
    let mut own = m.clone();
    own.plat = plat.name().to_string();
    own.kernel = kernel.to_path_buf();
    own.write(&manifest_path(&image))?;
    Ok(Some(Relinked {
        manifest: path,
        objects: m.inputs.len(),
        from_plat: m.plat,
        kernel: kernel.to_path_buf(),
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// Keeps the manifest uk-cc wrote beside `binary` as `<image>.uklink`, stamped with the
/// recipe `stamp`; without one (the build could not be recorded) an old manifest of the
/// image is removed so it cannot bring back stale objects. Returns whether one was kept.
pub fn keep_manifest(binary: &Path, image: &Path, stamp: &str) -> Result<bool> {
    let dest = manifest_path(image);
    let Ok(mut m) = Manifest::read(&manifest_path(binary)) else {
        let _ = fs::remove_file(&dest);
        return Ok(false);
    };
    m.recipe_stamp = Some(stamp.to_string());
    m.write(&dest)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn sources_are_split_from_link_options() {
        let args = sv("-O2 -I inc -DX=1 a.c b.o -L. -lz -l m -Wl,-E -static -MF d.d c.S");
        let (srcs, opts) = compile_units(&args, false).unwrap();
        assert_eq!(
            srcs.iter().map(|&i| args[i].as_str()).collect::<Vec<_>>(),
            ["a.c", "c.S"]
        );
        assert_eq!(opts, sv("-O2 -I inc -DX=1 -MF d.d"));
        assert!(
            compile_units(&args, true).is_none(),
            "-x is position-dependent"
        );
        assert!(compile_units(&sv("-O2 -"), false).is_none());
        assert!(compile_units(&sv("@resp"), false).is_none());
    }

    #[test]
    fn split_replaces_sources_and_stops_on_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let args = sv("x.o a.c -lz");
        let got = split_sources(&args, &[1], tmp.path(), |src, obj| {
            assert_eq!(src, "a.c");
            fs::write(obj, "obj").unwrap();
            Ok(0)
        })
        .unwrap()
        .unwrap();
        assert_eq!(got[0], "x.o");
        assert!(got[1].ends_with("0-a.o"));
        assert_eq!(got[2], "-lz");
        let failed = split_sources(&args, &[1], tmp.path(), |_, _| Ok(4)).unwrap();
        assert_eq!(failed, Err(4));
    }

    /// Record, write, read back, relink arguments: the stored objects replace the
    /// originals at their positions, user -L archives become store paths, sysroot
    /// libraries stay -l, and the platform and kernel are the relink's.
    #[test]
    fn manifest_round_trip_and_relink_command() {
        let tmp = tempfile::tempdir().unwrap();
        let cwd = tmp.path().join("build");
        let store_at = tmp.path().join("objects");
        fs::create_dir_all(cwd.join("libs")).unwrap();
        fs::write(cwd.join("main.o"), "main object").unwrap();
        fs::write(cwd.join("util.o"), "util object").unwrap();
        fs::write(cwd.join("libs/libz.a"), "zlib archive").unwrap();
        let args = sv("main.o -Llibs -lz util.o -lm -Wl,-E");
        let m = record(
            &cwd,
            Platform::Linuxu,
            "app",
            &args,
            &args,
            Path::new("/k/libuk.a"),
            &store_at,
        )
        .unwrap();
        assert_eq!(m.inputs.len(), 3);
        let main_sha = hex::encode(Sha256::digest(b"main object"));
        assert_eq!(m.inputs[0].sha256, main_sha);
        assert!(store_at.join(&main_sha).is_file());
        assert_eq!(fs::read(store_at.join(&main_sha)).unwrap(), b"main object");
        assert_eq!(m.args[4], "-lm", "sysroot libraries stay -l");

        let path = tmp.path().join("app.uklink");
        m.write(&path).unwrap();
        let back = Manifest::read(&path).unwrap();
        assert_eq!(back, m);

        // The build tree goes away; the store still has everything.
        fs::remove_dir_all(&cwd).unwrap();
        assert!(back.missing_inputs(&store_at).is_empty());
        let argv = back.relink_args(
            &store_at,
            Platform::Kvm,
            Path::new("/k2/libuk.a"),
            Path::new("/img/app.kvm"),
        );
        let s = |sha: &str| store_at.join(sha).to_string_lossy().into_owned();
        let zsha = hex::encode(Sha256::digest(b"zlib archive"));
        let usha = hex::encode(Sha256::digest(b"util object"));
        assert_eq!(
            argv,
            vec![
                "--uk-plat=kvm".to_string(),
                "--uk-kernel=/k2/libuk.a".into(),
                "-o".into(),
                "/img/app.kvm".into(),
                s(&main_sha),
                "-Llibs".into(),
                s(&zsha),
                s(&usha),
                "-lm".into(),
                "-Wl,-E".into(),
            ]
        );

        // A lost object is reported, not linked around.
        fs::remove_file(store_at.join(&usha)).unwrap();
        assert_eq!(back.missing_inputs(&store_at).len(), 1);
    }

    #[test]
    fn damaged_or_foreign_manifests_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("x.uklink");
        fs::write(&p, "{}").unwrap();
        assert!(Manifest::read(&p).is_err());
        let mut m = Manifest {
            version: VERSION + 1,
            cwd: "/".into(),
            plat: "linuxu".into(),
            output: "a.out".into(),
            user_args: vec![],
            args: vec!["a.o".into()],
            inputs: vec![],
            kernel: "/k".into(),
            recipe_stamp: None,
            needs: Vec::new(),
        };
        m.write(&p).unwrap();
        assert!(Manifest::read(&p)
            .unwrap_err()
            .to_string()
            .contains("version"));
        m.version = VERSION;
        m.inputs.push(Input {
            index: 5,
            path: "/a.o".into(),
            sha256: "00".into(),
        });
        m.write(&p).unwrap();
        assert!(Manifest::read(&p)
            .unwrap_err()
            .to_string()
            .contains("damaged"));
    }

    #[test]
    fn candidates_prefer_the_platform_and_match_the_stamp() {
        let tmp = tempfile::tempdir().unwrap();
        let mk = |plat: &str, stamp: &str| Manifest {
            version: VERSION,
            cwd: "/".into(),
            plat: plat.into(),
            output: "app".into(),
            user_args: vec![],
            args: vec![],
            inputs: vec![],
            kernel: "/k".into(),
            recipe_stamp: Some(stamp.into()),
            needs: Vec::new(),
        };
        let d = tmp.path();
        mk("kvm", "s1").write(&d.join("app.kvm.uklink")).unwrap();
        mk("linuxu", "s1")
            .write(&d.join("app.linuxu.uklink"))
            .unwrap();
        mk("linuxu", "s1")
            .write(&d.join("other.linuxu.uklink"))
            .unwrap();
        let c = candidates(d, "app", Platform::Linuxu, "s1");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].1.plat, "linuxu");
        assert_eq!(c[1].1.plat, "kvm");
        assert!(
            candidates(d, "app", Platform::Linuxu, "s2").is_empty(),
            "recipe changed"
        );
        let c = candidates(d, "app", Platform::Kvm, "s1");
        assert_eq!(c[0].1.plat, "kvm");
    }

    #[test]
    fn recipe_stamp_follows_sources_and_ports() {
        let tmp = tempfile::tempdir().unwrap();
        let recipe = tmp.path().join("r.toml");
        let src = tmp.path().join("src");
        let port = tmp.path().join("port");
        fs::create_dir_all(&src).unwrap();
        fs::create_dir_all(&port).unwrap();
        fs::write(&recipe, "name = 'x'").unwrap();
        fs::write(src.join("a.c"), "int a;").unwrap();
        let s1 = recipe_stamp(&recipe, Some(&src), std::slice::from_ref(&port)).unwrap();
        assert_eq!(
            s1,
            recipe_stamp(&recipe, Some(&src), std::slice::from_ref(&port)).unwrap()
        );
        fs::write(src.join("a.c"), "int b;").unwrap();
        let s2 = recipe_stamp(&recipe, Some(&src), std::slice::from_ref(&port)).unwrap();
        assert_ne!(s1, s2);
        fs::write(port.join(ports::STAMP), "v2").unwrap();
        assert_ne!(s2, recipe_stamp(&recipe, Some(&src), &[port]).unwrap());
    }
}
