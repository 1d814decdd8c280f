//! CMake and meson projects built with uk-cc, the way a user would: the toolchain file
//! and the native file `ukport setup` writes, given to the project's own unmodified
//! build (docs/recipes.md, "CMake and meson"). Two small real projects from their
//! release archives (Debian source packages, fetched through their recipes in
//! tests/buildsys/): cJSON 1.7.15 (CMake) and serd 0.30.16 (meson). Each is also built
//! natively with musl-gcc, and the images' output must be byte-identical to the native
//! programs': cJSON's test program and its 19 unit tests (run by ctest, images all),
//! serdi over every file of serd's own test/good suite. Then serd through its recipe
//! (`{meson_native}`) and `ukport test`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use uk_tests::{ensure_setup, repo_root, run, run_command, stdout_ok, text, tools, TempDir};

const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

fn sh(cmd: &mut Command, what: &str) -> String {
    let c = std::mem::replace(cmd, Command::new("true"));
    stdout_ok(&run_command(c, BUILD_TIMEOUT), what)
}

/// The toolchain files `ukport setup` reports: (CMake toolchain file, meson native file).
fn toolchain_files() -> (PathBuf, PathBuf) {
    ensure_setup();
    let out = sh(Command::new(&tools().ukport).arg("setup"), "ukport setup");
    let after = |prefix: &str| -> PathBuf {
        let l = out
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{out}"));
        PathBuf::from(l.split_whitespace().next().unwrap())
    };
    let cmake = after("CMake:  cmake -DCMAKE_TOOLCHAIN_FILE=");
    let meson = after("meson:  meson setup --native-file ");
    assert!(cmake.is_file() && meson.is_file());
    (cmake, meson)
}

/// The source tree of test recipe `name` (tests/buildsys/NAME.toml), fetched by
/// `ukport fetch` and unpacked into `dir/src`.
fn source(name: &str, dir: &TempDir) -> PathBuf {
    let recipe = repo_root()
        .join("tests/buildsys")
        .join(format!("{name}.toml"));
    let archive = sh(
        Command::new(&tools().ukport).arg("fetch").arg(&recipe),
        "ukport fetch",
    );
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    sh(
        Command::new("tar")
            .arg("-xf")
            .arg(archive.trim())
            .arg("-C")
            .arg(&src)
            .arg("--strip-components=1"),
        "tar",
    );
    src
}

/// An image linked by uk-cc (it leaves its relink record beside it).
fn assert_image(p: &Path) {
    let mut m = p.as_os_str().to_owned();
    m.push(".uklink");
    assert!(
        Path::new(&m).is_file(),
        "{} was not linked by uk-cc",
        p.display()
    );
}

#[test]
fn cmake_project_with_the_toolchain_file() {
    let (toolchain, _) = toolchain_files();
    let dir = TempDir::new("cmake-cjson");
    let src = source("cjson", &dir);
    let (uk, native) = (dir.join("build-uk"), dir.join("build-native"));
    sh(
        Command::new("cmake")
            .arg("-S")
            .arg(&src)
            .arg("-B")
            .arg(&uk)
            .arg(format!("-DCMAKE_TOOLCHAIN_FILE={}", toolchain.display()))
            .args(["-DCMAKE_BUILD_TYPE=Release", "-DENABLE_CJSON_TEST=ON"]),
        "cmake (ukit)",
    );
    sh(
        Command::new("cmake")
            .arg("--build")
            .arg(&uk)
            .args(["-j", "2"]),
        "cmake --build (ukit)",
    );
    sh(
        Command::new("cmake")
            .arg("-S")
            .arg(&src)
            .arg("-B")
            .arg(&native)
            .env("CC", "musl-gcc")
            .args([
                "-DCMAKE_BUILD_TYPE=Release",
                "-DENABLE_CJSON_TEST=ON",
                "-DBUILD_SHARED_LIBS=OFF",
                "-DCMAKE_EXE_LINKER_FLAGS=-static",
            ]),
        "cmake (native)",
    );
    sh(
        Command::new("cmake")
            .arg("--build")
            .arg(&native)
            .args(["-j", "2"]),
        "cmake --build (native)",
    );

    // The library came out static (uk-cc refuses -shared), the programs are images.
    assert!(uk.join("libcjson.a").is_file());
    assert_image(&uk.join("cJSON_test"));
    assert_image(&uk.join("tests/parse_examples"));
    let u = run(&uk.join("cJSON_test"), &[], &[]);
    let n = run(&native.join("cJSON_test"), &[], &[]);
    assert_eq!(u.status.code(), Some(0), "{}", text(&u.stderr));
    assert!(text(&u.stdout).starts_with("Version: 1.7.15\n"));
    assert_eq!(
        text(&u.stdout),
        text(&n.stdout),
        "cJSON_test differs from native"
    );

    // cJSON's own unit tests, every one an image.
    let out = sh(
        Command::new("ctest")
            .arg("--test-dir")
            .arg(&uk)
            .arg("--output-on-failure"),
        "ctest (ukit)",
    );
    assert!(
        out.contains("100% tests passed, 0 tests failed out of 19"),
        "{out}"
    );
}

#[test]
fn meson_project_with_the_native_file() {
    let (_, native_file) = toolchain_files();
    let dir = TempDir::new("meson-serd");
    let src = source("serd", &dir);
    let (uk, native) = (dir.join("build-uk"), dir.join("build-native"));
    sh(
        Command::new("meson")
            .arg("setup")
            .arg(&uk)
            .arg(&src)
            .arg("--native-file")
            .arg(&native_file)
            .args(["--buildtype=release", "-Ddocs=disabled"]),
        "meson setup (ukit)",
    );
    sh(
        Command::new("meson").arg("compile").arg("-C").arg(&uk),
        "meson compile (ukit)",
    );
    sh(
        Command::new("meson")
            .arg("setup")
            .arg(&native)
            .arg(&src)
            .env("CC", "musl-gcc")
            .args([
                "--buildtype=release",
                "-Ddocs=disabled",
                "-Ddefault_library=static",
                "-Dc_link_args=-static",
            ]),
        "meson setup (native)",
    );
    sh(
        Command::new("meson").arg("compile").arg("-C").arg(&native),
        "meson compile (native)",
    );
    let (serdi_uk, serdi_native) = (uk.join("serdi"), native.join("serdi"));
    assert_image(&serdi_uk);

    let mut good: Vec<PathBuf> = std::fs::read_dir(src.join("test/good"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "ttl"))
        .collect();
    good.sort();
    assert!(good.len() > 40, "serd's test/good suite: {}", good.len());
    for f in &good {
        let f = f.to_str().unwrap();
        let args = [
            "-i",
            "turtle",
            "-o",
            "ntriples",
            f,
            "http://www.w3.org/2001/sw/DataAccess/df1/tests/",
        ];
        let u = run(&serdi_uk, &args, &[]);
        let n = run(&serdi_native, &args, &[]);
        assert_eq!(u.status.code(), n.status.code(), "{f}: {}", text(&u.stderr));
        assert_eq!(
            text(&u.stdout),
            text(&n.stdout),
            "serdi output of {f} differs from native"
        );
    }

    // The same project through a recipe ({meson_native}), and its smoke test.
    let recipe = repo_root().join("tests/buildsys/serd.toml");
    let out = sh(
        Command::new(&tools().ukport).arg("test").arg(&recipe),
        "ukport test serd",
    );
    assert!(out.contains("PASS serd"), "{out}");
}

/// A project folder of one's own on $UKIT_RECIPES: a CMake library port (cJSON, built
/// through `{cmake_toolchain}` into its prefix) and an app that links it
/// (docs/examples/jsonpp, the worked example of docs/recipes.md).
#[test]
fn a_library_port_and_its_app_from_a_project_folder() {
    ensure_setup();
    let project = repo_root().join("docs/examples/jsonpp");
    let elsewhere = TempDir::new("jsonpp");
    let ukport = |args: &[&str]| {
        let mut c = Command::new(&tools().ukport);
        c.args(args)
            .current_dir(elsewhere.path())
            .env("UKIT_RECIPES", &project);
        sh(&mut c, &format!("ukport {args:?}"))
    };
    assert!(ukport(&["check", "cjson"]).starts_with("ok: cjson 1.7.15"));
    assert!(ukport(&["check", "jsonpp"]).starts_with("ok: jsonpp 1.0"));
    let out = ukport(&["test", "jsonpp"]);
    assert!(out.contains("PASS jsonpp"), "{out}");
    let installed = ukport(&["build", "cjson"]);
    let prefix = installed
        .trim()
        .rsplit(" installed in ")
        .next()
        .map(PathBuf::from)
        .unwrap();
    assert!(prefix.join("lib/libcjson.a").is_file(), "{installed}");
    assert!(prefix.join("include/cjson/cJSON.h").is_file());
}
