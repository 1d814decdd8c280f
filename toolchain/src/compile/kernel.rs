//! Kernel builds: one `libuk.a` (the `uk-image` staticlib) per platform and resolved
//! configuration, cached under `kernel/<plat>-<config hash>-<checkout>/`.
//!
//! `uk-cc` asks for the kernel on every link, and `make -j` runs many links at once, so the
//! common path must be cheap (a stamp comparison) and a build must happen only once: a file
//! lock on the kernel folder serialises builders, and a second lock on the shared cargo
//! target folder keeps one configuration's build from overwriting another's
//! `libuk_image.a` before it has been copied out.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::UNIX_EPOCH;

use anyhow::{bail, Context, Result};
use fs4::fs_std::FileExt;
use sha2::{Digest, Sha256};

use crate::packages::ports;
use crate::packages::progress::Progress;
use crate::paths;
use crate::platform::Platform;

/// The host target the kernel crates build for (the only Rust target installed; see
/// docs/design.md, "Layers"). Naming it explicitly keeps `RUSTFLAGS` away from build
/// scripts.
pub const KERNEL_TARGET: &str = "x86_64-unknown-linux-gnu";

/// Folders of the repository whose contents make up the kernel; a change to any file under
/// them makes the next link rebuild the kernel.
pub const KERNEL_SOURCE_DIRS: &[&str] = &[
    "abi",
    "arch",
    "contract",
    "plat",
    "lib",
    "posix",
    "syscall-shim",
    "image",
];

/// Workspace files that also change what cargo builds. Not `Cargo.lock`: cargo rewrites it
/// during the kernel build itself, which would make the next link see a change and build
/// again; dependency changes show up in the `Cargo.toml` files anyway.
const KERNEL_SOURCE_FILES: &[&str] = &["Cargo.toml"];

/// The choice option (`size` or `speed`) that picks the kernel's cargo profile.
pub const OPTIMIZE_OPTION: &str = "uk.optimize";
/// Flags of every kernel build: images are static, non-PIE executables.
const KERNEL_RUSTFLAGS: &str = "-C relocation-model=static";

/// The cargo profile (workspace Cargo.toml) for a value of [`OPTIMIZE_OPTION`].
pub fn kernel_profile(optimize: Option<&str>) -> &'static str {
    match optimize {
        Some("speed") => "kernel-speed",
        _ => "kernel-size",
    }
}

/// Lines of the build log shown when a kernel build fails.
const LOG_TAIL_LINES: usize = 40;

/// Where the kernel for `plat` and configuration hash `hash` lives.
pub fn kernel_dir(plat: Platform, hash: &str) -> PathBuf {
    paths::kernels_dir().join(format!("{plat}-{hash}-{}", paths::checkout_id()))
}

/// The `libuk.a` for `plat` and `resolved`, built when absent or older than the kernel
/// sources. Returns its path.
pub fn ensure(plat: Platform, resolved: &uk_kconfig::Resolved) -> Result<PathBuf> {
    let root = paths::repo_root();
    let dir = kernel_dir(plat, &resolved.hash());
    let lib = dir.join("libuk.a");
    let stamp_file = dir.join("stamp");
    let profile = kernel_profile(match resolved.get(OPTIMIZE_OPTION) {
        Some(uk_kconfig::Value::Str(s)) => Some(s.as_str()),
        _ => None,
    });
    let args = cargo_args(plat, &resolved.features(), profile);
    // The build's own arguments are part of the stamp: a toolchain that builds kernels
    // differently rebuilds the cached ones.
    let mut stamp = source_stamp(&root)?;
    stamp.push_str(&format!(
        "\nargs {} flags {KERNEL_RUSTFLAGS}",
        args.join(" ")
    ));
    // Options declare the ports the kernel links (`ports = [...]` in options.toml; lib.net
    // links lwIP's objects into libuk.a through lib/net's build script). They must be
    // installed first, their build scripts told where (UK_PORT_<NAME>_PREFIX), and a
    // rebuilt port (a new lwipopts.h) must rebuild the kernel.
    let mut port_env = Vec::new();
    for name in resolved.ports() {
        let prefix = ports::ensure_port(&name)?;
        let port_stamp = fs::read_to_string(prefix.join(ports::STAMP)).unwrap_or_default();
        stamp.push_str(&format!("\nport {name} {}", port_stamp.trim()));
        port_env.push((ports::prefix_env(&name), prefix));
    }

    if is_fresh(&lib, &stamp_file, &stamp) {
        return Ok(lib);
    }

    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _dir_lock = lock(&dir.join(".lock"))?;
    // Another uk-cc may have built it while we waited for the lock.
    if is_fresh(&lib, &stamp_file, &stamp) {
        return Ok(lib);
    }

    let config = dir.join("config.json");
    write_atomic(&config, resolved.to_json().as_bytes())?;

    let target_dir = paths::kernel_target_dir();
    fs::create_dir_all(&target_dir)
        .with_context(|| format!("creating {}", target_dir.display()))?;
    let _target_lock = lock(&paths::kernels_dir().join(".target.lock"))?;

    let log = dir.join("build.log");
    // Shown only while a build actually runs; as a line when stderr is not a terminal
    // (configure logs, CI), saying why this link is slow.
    let task = Progress::new().task(format!(
        "building ukit kernel ({plat}; the first link with this configuration takes a while)"
    ));
    let status = run_logged(&root, &args, &config, &target_dir, &log, &port_env);
    task.clear();
    let status = status?;
    if !status.success() {
        bail!(
            "building the ukit kernel for {plat} failed ({status}); last lines of the log:\n{}\n\
             full log: {}\nfix the kernel build (try: cd {} && cargo build -p uk-image) and link \
             again",
            log_tail(&log, LOG_TAIL_LINES),
            log.display(),
            root.display()
        );
    }

    let built = target_dir
        .join(KERNEL_TARGET)
        .join(profile)
        .join("libuk_image.a");
    let tmp = dir.join("libuk.a.tmp");
    fs::copy(&built, &tmp).with_context(|| {
        format!(
            "copying the built kernel {} (did uk-image stop being a staticlib?)",
            built.display()
        )
    })?;
    fs::rename(&tmp, &lib).with_context(|| format!("installing {}", lib.display()))?;
    // The stamp goes last: a crash before this point leaves a kernel that is rebuilt.
    write_atomic(&stamp_file, stamp.as_bytes())?;
    Ok(lib)
}

/// The cargo arguments that build the kernel staticlib for `plat` with `features`, in
/// the cargo `profile` (see [`kernel_profile`]).
pub fn cargo_args(plat: Platform, features: &[String], profile: &str) -> Vec<String> {
    let mut feats = vec!["kernel".to_string(), plat.kernel_feature()];
    feats.extend(features.iter().filter(|f| !f.is_empty()).cloned());
    vec![
        "build".into(),
        "--profile".into(),
        profile.into(),
        "--target".into(),
        KERNEL_TARGET.into(),
        "-p".into(),
        "uk-image".into(),
        "--no-default-features".into(),
        "--features".into(),
        feats.join(","),
    ]
}

fn is_fresh(lib: &Path, stamp_file: &Path, stamp: &str) -> bool {
    lib.is_file() && fs::read_to_string(stamp_file).is_ok_and(|s| s == stamp)
}

/// Blocks until this process holds an exclusive lock on `path` (released on drop).
fn lock(path: &Path) -> Result<File> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening lock file {}", path.display()))?;
    f.lock_exclusive()
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(f)
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Runs cargo in `root` with all output going to `log`.
fn run_logged(
    root: &Path,
    args: &[String],
    config: &Path,
    target_dir: &Path,
    log: &Path,
    port_env: &[(String, PathBuf)],
) -> Result<std::process::ExitStatus> {
    let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.args(args)
        .current_dir(root)
        .env("UK_CONFIG", config)
        .env("CARGO_TARGET_DIR", target_dir)
        .env("RUSTFLAGS", KERNEL_RUSTFLAGS)
        // Read by the build scripts that link the ports (uk_recipes::ports::for_build_script).
        .envs(port_env.iter().map(|(k, v)| (k, v)))
        // These would override RUSTFLAGS or tie cargo to a make jobserver whose pipes we
        // may not have been given (uk-cc runs inside `make -j`).
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    cmd.status().with_context(|| {
        format!(
            "running {} (is cargo installed and on PATH?)",
            Path::new(&cargo).display()
        )
    })
}

fn log_tail(log: &Path, n: usize) -> String {
    let Ok(f) = File::open(log) else {
        return String::from("(no log)");
    };
    let lines: Vec<String> = BufReader::new(f).lines().map_while(Result::ok).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A digest of the paths, sizes and modification times of every kernel source file under
/// `root` (target folders and hidden entries excluded). Cheap enough to compute on every
/// link; content hashing is cargo's job once a rebuild starts.
pub fn source_stamp(root: &Path) -> Result<String> {
    let mut entries = Vec::new();
    for d in KERNEL_SOURCE_DIRS {
        collect(&root.join(d), root, &mut entries)?;
    }
    for f in KERNEL_SOURCE_FILES {
        let p = root.join(f);
        if let Ok(md) = fs::metadata(&p) {
            entries.push(entry(Path::new(f), &md));
        }
    }
    entries.sort();
    let mut h = Sha256::new();
    for (path, len, mtime) in &entries {
        h.update(format!("{path}\0{len}\0{mtime}\n").as_bytes());
    }
    Ok(format!("{} {}", hex::encode(h.finalize()), entries.len()))
}

fn entry(rel: &Path, md: &fs::Metadata) -> (String, u64, u128) {
    let mtime = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    (rel.to_string_lossy().into_owned(), md.len(), mtime)
}

fn collect(dir: &Path, root: &Path, out: &mut Vec<(String, u64, u128)>) -> Result<()> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for ent in rd {
        let ent = ent.with_context(|| format!("reading {}", dir.display()))?;
        let name = ent.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        let path = ent.path();
        let ft = ent.file_type()?;
        if ft.is_dir() {
            collect(&path, root, out)?;
        } else if let Ok(md) = fs::metadata(&path) {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push(entry(rel, &md));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every crate uk-image is built from lies under one of the folders whose changes
    /// rebuild the kernel (a crate outside them would leave stale kernels behind).
    #[test]
    fn kernel_source_dirs_cover_every_kernel_crate() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap();
        let ws = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let members: Vec<&str> = ws
            .split("members = [")
            .nth(1)
            .unwrap()
            .split(']')
            .next()
            .unwrap()
            .split('"')
            .skip(1)
            .step_by(2)
            .collect();
        assert!(members.contains(&"image"), "{members:?}");
        for m in members {
            if m.starts_with("toolchain") || m == "tests" {
                continue;
            }
            let top = m.split('/').next().unwrap();
            assert!(
                KERNEL_SOURCE_DIRS.contains(&top),
                "kernel crate {m} is outside KERNEL_SOURCE_DIRS"
            );
        }
    }

    #[test]
    fn cargo_args_select_platform_and_features() {
        let args = cargo_args(
            Platform::Linuxu,
            &["alloc-tlsf".into(), "".into(), "net".into()],
            "kernel-size",
        );
        let s = args.join(" ");
        assert!(s.starts_with(
            "build --profile kernel-size --target x86_64-unknown-linux-gnu -p uk-image"
        ));
        assert!(s.contains("--no-default-features"));
        assert_eq!(args.last().unwrap(), "kernel,plat-linuxu,alloc-tlsf,net");
        assert_eq!(
            cargo_args(Platform::Kvm, &[], "kernel-speed")
                .last()
                .unwrap(),
            "kernel,plat-kvm"
        );
        assert_eq!(kernel_profile(Some("speed")), "kernel-speed");
        assert_eq!(kernel_profile(Some("size")), "kernel-size");
        assert_eq!(kernel_profile(None), "kernel-size");
    }

    #[test]
    fn stamp_changes_with_sources_but_not_target_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("lib/alloc/src")).unwrap();
        fs::create_dir_all(root.join("image/target/release")).unwrap();
        fs::write(root.join("lib/alloc/src/lib.rs"), "a").unwrap();
        let s1 = source_stamp(root).unwrap();
        assert_eq!(s1, source_stamp(root).unwrap());

        fs::write(root.join("image/target/release/junk"), "x").unwrap();
        fs::write(root.join("lib/.hidden"), "x").unwrap();
        assert_eq!(
            s1,
            source_stamp(root).unwrap(),
            "target/ and dot files are ignored"
        );

        fs::write(root.join("lib/alloc/src/lib.rs"), "ab").unwrap();
        let s2 = source_stamp(root).unwrap();
        assert_ne!(s1, s2, "a changed source changes the stamp");

        fs::write(root.join("posix.rs"), "x").unwrap();
        assert_eq!(
            s2,
            source_stamp(root).unwrap(),
            "files outside kernel dirs don't count"
        );
        fs::create_dir_all(root.join("posix/src")).unwrap();
        fs::write(root.join("posix/src/lib.rs"), "x").unwrap();
        assert_ne!(s2, source_stamp(root).unwrap(), "a new source file counts");
    }

    #[test]
    fn freshness_needs_library_and_matching_stamp() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("libuk.a");
        let stamp = tmp.path().join("stamp");
        assert!(!is_fresh(&lib, &stamp, "s"));
        fs::write(&lib, "!<arch>\n").unwrap();
        assert!(!is_fresh(&lib, &stamp, "s"));
        write_atomic(&stamp, b"s").unwrap();
        assert!(is_fresh(&lib, &stamp, "s"));
        assert!(!is_fresh(&lib, &stamp, "t"));
    }

    #[test]
    fn log_tail_keeps_last_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("log");
        let text: String = (1..=50).map(|i| format!("line {i}\n")).collect();
        fs::write(&log, text).unwrap();
        let tail = log_tail(&log, 3);
        assert_eq!(tail, "line 48\nline 49\nline 50");
    }
}
