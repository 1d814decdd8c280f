//! Relinking instead of rebuilding: `ukport build` keeps uk-cc's relink manifest with the
//! image and the app's objects in the cache's object store; when only the kernel changes
//! (here: `UK_KERNEL` pointing at a copy of the kernel, which is a different kernel as far
//! as the image stamp goes) `ukport run` relinks those objects, even after the build tree
//! is gone, instead of building from source, and the relinked image runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use uk_tests::{ensure_setup, run_command, text, tools, TempDir};

/// The real cache (where musl, ports and kernels are already built).
fn real_cache() -> PathBuf {
    uk_tests::ukit_cache()
}

/// A cache of our own whose images, build trees and object store are private, sharing
/// only what is expensive to build (sources, ports, kernels) with the real one.
fn private_cache(dir: &Path) -> PathBuf {
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let real = real_cache();
    for d in ["sources", "ports", "kernel", "kernel-target", "apt"] {
        let target = real.join(d);
        std::fs::create_dir_all(&target).unwrap();
        std::os::unix::fs::symlink(&target, cache.join(d)).unwrap();
    }
    cache
}

fn ukport(args: &[&str], cache: &Path, kernel: Option<&Path>) -> Output {
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(args)
        .env("UKIT_CACHE", cache)
        .env_remove("UK_KERNEL");
    if let Some(k) = kernel {
        cmd.env("UK_KERNEL", k);
    }
    run_command(cmd, Duration::from_secs(900))
}

fn ok(what: &str, out: &Output) -> String {
    let err = text(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{err}",
        out.status,
        text(&out.stdout)
    );
    err
}

/// One field of the (pretty-printed JSON) manifest, without a JSON dependency.
fn json_string_field(json: &str, key: &str) -> String {
    let pat = format!("\"{key}\": \"");
    let start = json
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in:\n{json}"))
        + pat.len();
    json[start..].split('"').next().unwrap().to_string()
}

#[test]
fn kernel_change_relinks_recorded_objects() {
    ensure_setup();
    let tmp = TempDir::new("relink");
    let cache = private_cache(tmp.path());

    let built = ukport(&["build", "hello"], &cache, None);
    let err = ok("ukport build hello", &built);
    assert!(
        text(&built.stdout).contains("built in") && !err.contains("relinked"),
        "the first build must come from source:\n{}{err}",
        text(&built.stdout)
    );
    let image = cache.join("images/hello.linuxu");
    let manifest = cache.join("images/hello.linuxu.uklink");
    let json = std::fs::read_to_string(&manifest).expect("ukport build kept no manifest");
    let objects: Vec<_> = std::fs::read_dir(cache.join("objects"))
        .expect("no object store")
        .flatten()
        .filter(|e| e.file_name().len() == 64)
        .collect();
    assert!(!objects.is_empty(), "nothing in the object store");

    // Another kernel (a copy: another path and time, so the image is out of date), and
    // no build tree: only the manifest and the store can make the image now.
    let kernel = PathBuf::from(json_string_field(&json, "kernel"));
    let other = tmp.join("other-kernel.a");
    std::fs::copy(&kernel, &other).unwrap();
    std::fs::remove_dir_all(cache.join("build")).unwrap();
    let before = std::fs::metadata(&image).unwrap().modified().unwrap();

    let run = ukport(&["run", "hello"], &cache, Some(&other));
    let err = ok("ukport run hello with another kernel", &run);
    let line = err
        .lines()
        .find(|l| l.contains("relinked"))
        .unwrap_or_else(|| panic!("not relinked:\n{err}"));
    assert!(
        line.contains("from 1 objects") && line.contains("hello.linuxu.uklink"),
        "{line}"
    );
    assert!(
        !cache.join("build/hello-1.0").exists(),
        "the app was built from source again:\n{err}"
    );
    assert_eq!(text(&run.stdout), "Hello from ukit!\n", "stderr:\n{err}");
    assert!(std::fs::metadata(&image).unwrap().modified().unwrap() > before);
    let json = std::fs::read_to_string(&manifest).unwrap();
    assert_eq!(
        json_string_field(&json, "kernel"),
        other.display().to_string()
    );

    // Nothing changed since: the image is current and runs without a relink.
    let again = ukport(&["run", "hello"], &cache, Some(&other));
    let err = ok("second ukport run hello", &again);
    assert!(
        !err.contains("relinked"),
        "relinked a current image:\n{err}"
    );
    assert_eq!(text(&again.stdout), "Hello from ukit!\n");

    // The recipe changes: its objects are no longer good, so the build is from source.
    // (A copy of the recipe folder under another root would be needed to edit it; the
    // object store losing an input has the same effect on the decision, so test that.)
    for e in std::fs::read_dir(cache.join("objects")).unwrap().flatten() {
        if e.path().is_file() {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    std::fs::copy(&kernel, &other).unwrap();
    let rebuilt = ukport(&["run", "hello"], &cache, Some(&other));
    let err = ok("ukport run hello with the store emptied", &rebuilt);
    assert!(!err.contains("relinked"), "{err}");
    assert!(cache.join("build/hello-1.0").exists(), "{err}");
    assert!(text(&rebuilt.stdout).ends_with("Hello from ukit!\n"));
}
