//! CPython 3.11 as ukit ships it (recipes/python.toml): the unmodified release built by
//! its own configure and make with uk-cc, every extension module linked into the
//! interpreter, the standard library in the image's root at /usr/lib/python3.11.
//!
//! - The recipe's smoke script (recipes/python/smoke.py) runs through `ukport run`; each
//!   line is compared with a value known here (RFC/FIPS digests, sums computed in Rust,
//!   the ports' versions), so a module or port that computes wrongly fails the test.
//! - The interpreter has every extension module built in (one static program), among
//!   them the ones backed by ports (_ssl, _hashlib, zlib, _bz2, _lzma, _sqlite3,
//!   _ctypes) and the bundled libraries (pyexpat, _decimal); lib-dynload holds no
//!   shared object.
//! - What cannot work in one static program fails the way CPython reports it: a C
//!   extension in a .so file is an ImportError, and `import ctypes` (whose module body
//!   calls dlopen(NULL)) an OSError, both with musl's "Dynamic loading not supported",
//!   as in a native `musl-gcc -static` build of the same source.
//! - A program read from stdin (a pipe) runs, and `ukport test python` passes.
//!
//! A cold build (musl, the kernel, ports libssl, zlib, bzip2, xz, libsqlite3, libffi, then
//! CPython) took 640 s on a 2-core machine; later runs reuse the cache (about 5 s).

use std::process::{Command, Output};
use std::time::Duration;

use uk_tests::tls::app_image;
use uk_tests::{run_command, text, tools};

/// One interpreter run (the first compiles the stdlib's .pyc files into the root).
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

fn python(args: &[&str]) -> Output {
    app_image("python");
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["run", "python", "--"]).args(args);
    run_command(cmd, RUN_TIMEOUT)
}

fn stdout_of(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn the_smoke_script_computes_through_every_port() {
    let out = python(&["/smoke.py"]);
    let got = stdout_of(&out, "python /smoke.py");
    let sums: Vec<String> = (1u64..=4)
        .map(|k| (0..k * 100_000).sum::<u64>().to_string())
        .collect();
    let want = [
        "3.11.2 linux /usr".to_string(),
        r#"{"a": "caf\u00e9", "b": [1, 2.5, null]}"#.to_string(),
        "a2 b44 c666".to_string(),
        // FIPS 180-2's "abc" vector, through OpenSSL (_hashlib), and FIPS 202's SHA3-256.
        "_hashlib ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_string(),
        "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532".to_string(),
        format!("zlib {} True", crc32(&b"unikernel ".repeat(1000))),
        "bz2 True True".to_string(),
        "lzma True".to_string(),
        // sum of i*i for i in 1..=100
        format!("sqlite 3.40.1 {}", (1u64..=100).map(|i| i * i).sum::<u64>()),
        "decimal 0.142857142857142857142857142857".to_string(),
        "expat v".to_string(),
        "OpenSSL 3.0.20 ".to_string(),
        format!("threads [{}]", sums.join(", ")),
        "socketpair ping".to_string(),
    ];
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), want.len(), "output:\n{got}");
    for (line, want) in lines.iter().zip(&want) {
        if want.ends_with(' ') {
            assert!(line.starts_with(want.as_str()), "{line:?} vs {want:?}");
        } else {
            assert_eq!(line, want, "output:\n{got}");
        }
    }
}

/// CRC-32 (IEEE 802.3, reflected), as zlib.crc32 computes it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn every_extension_module_is_built_in() {
    let out = python(&[
        "-c",
        "import sys, os, sysconfig\n\
         print(' '.join(sorted(sys.builtin_module_names)))\n\
         d = os.path.join(sys.prefix, 'lib', 'python3.11', 'lib-dynload')\n\
         print(sorted(f for f in os.listdir(d) if f.endswith('.so')))\n\
         built = sysconfig.get_config_var('MODBUILT_NAMES').split()\n\
         print(sysconfig.get_config_var('MODSHARED_NAMES').split(), sorted(set(built) - set(sys.builtin_module_names)))",
    ]);
    let got = stdout_of(&out, "python -c builtin_module_names");
    let mut lines = got.lines();
    let builtin: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
    // The modules a native static build of the same source and options has: the core
    // ones, those of Modules/Setup.stdlib that configure enabled, _ctypes (Setup.local)
    // and the test helpers regrtest imports.
    for m in [
        "_ssl",
        "_hashlib",
        "zlib",
        "_bz2",
        "_lzma",
        "_sqlite3",
        "_ctypes",
        "_ctypes_test",
        "_decimal",
        "pyexpat",
        "_elementtree",
        "_json",
        "_pickle",
        "_socket",
        "select",
        "mmap",
        "math",
        "cmath",
        "array",
        "_struct",
        "_datetime",
        "_zoneinfo",
        "unicodedata",
        "binascii",
        "_blake2",
        "_sha3",
        "_md5",
        "_multibytecodec",
        "_codecs_jp",
        "_posixsubprocess",
        "_multiprocessing",
        "_posixshmem",
        "fcntl",
        "termios",
        "resource",
        "grp",
        "_crypt",
        "syslog",
        "_asyncio",
        "_queue",
        "_random",
        "_testcapi",
        "posix",
        "_thread",
        "_io",
    ] {
        assert!(
            builtin.contains(&m),
            "{m} is not built in; sys.builtin_module_names: {builtin:?}"
        );
    }
    assert_eq!(
        lines.next(),
        Some("[]"),
        "shared objects in lib-dynload:\n{got}"
    );
    // makesetup's record (in _sysconfigdata): no module was built shared, and every
    // module it built is one the interpreter has built in.
    assert_eq!(lines.next(), Some("[] []"), "{got}");
}

#[test]
fn what_a_static_program_cannot_load_fails_as_cpython_reports_it() {
    // A C extension in a .so file on sys.path: the extension loader finds it by its
    // suffix and calls dlopen, which a static program does not have.
    let out = python(&[
        "-c",
        "import sys, importlib.machinery as m\n\
         print('.so' in m.EXTENSION_SUFFIXES)\n\
         open('/tmp/ukext.so', 'wb').write(b'\\x7fELF' + bytes(60))\n\
         sys.path.insert(0, '/tmp')\n\
         try:\n    import ukext\nexcept ImportError as e:\n    print(type(e).__name__, e.name, e.msg)\n\
         import _ctypes\n\
         print(_ctypes.__name__, hex(_ctypes._memmove_addr) != '0x0')\n\
         try:\n    import ctypes\nexcept OSError as e:\n    print(type(e).__name__, e)",
    ]);
    let got = stdout_of(&out, "python -c import ukext");
    assert_eq!(
        got,
        "True\nImportError ukext Dynamic loading not supported\n_ctypes True\n\
         OSError Dynamic loading not supported\n"
    );
}

#[test]
fn a_program_on_stdin_and_the_recipe_test() {
    app_image("python");
    // stdin a pipe: the interpreter reads the program from it (sys.argv == ['']).
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("printf 'import sys\\nprint(sum(int(c) for c in str(2**1000)), sys.argv)\\n' | \"$0\" run python")
        .arg(&tools().ukport);
    // 2**1000's decimal digits add up to 1366 (Project Euler 16).
    assert_eq!(
        stdout_of(&run_command(cmd, RUN_TIMEOUT), "python < program"),
        "1366 ['']\n"
    );

    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["test", "python"]);
    stdout_of(&run_command(cmd, RUN_TIMEOUT), "ukport test python");
}

/// CI's slice of CPython's regression tests (the whole comparison with a native build
/// is `tests/python/suite`, docs/python.md): modules that pass on a native
/// `musl-gcc -static` build of the same source must pass on the image too, each in an
/// interpreter of its own, through the suite's own runner.
/// Bad input ends as it does natively: a syntax error and an uncaught exception print
/// CPython's traceback and exit with 1, `sys.exit(3)` exits with 3, and running out of
/// memory (an image of 48 MiB; natively an address-space limit) raises MemoryError,
/// never a kernel panic. The native side is the host's python3 (the same version line,
/// CPython 3.11, on Debian 12): the last line of stderr and the status must match.
#[test]
fn bad_input_ends_as_natively() {
    let cases: [(&str, &[&str]); 4] = [
        ("syntax error", &["-c", "x = ("]),
        ("uncaught exception", &["-c", "raise ValueError('boom')"]),
        ("sys.exit(3)", &["-c", "import sys; sys.exit(3)"]),
        (
            "out of memory",
            &["-c", "l = []\nwhile True: l.append(bytearray(1 << 20))"],
        ),
    ];
    let host = uk_tests::require_tool("python3");
    for (what, args) in cases {
        let oom = what == "out of memory";
        let mut native = Command::new("sh");
        native
            .arg("-c")
            .arg(if oom {
                "ulimit -v 200000; exec \"$0\" \"$@\""
            } else {
                "exec \"$0\" \"$@\""
            })
            .arg(&host)
            .args(args);
        let want = run_command(native, RUN_TIMEOUT);
        app_image("python");
        let mut cmd = Command::new(&tools().ukport);
        cmd.args(["run"]);
        if oom {
            cmd.args(["-m", "48M"]);
        }
        cmd.args(["python", "--"]).args(args);
        let got = run_command(cmd, RUN_TIMEOUT);
        let last = |o: &Output| {
            text(&o.stderr)
                .lines()
                .rfind(|l| !l.trim().is_empty() && !l.starts_with("ukport:"))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        assert_eq!(
            (got.status.code(), last(&got)),
            (want.status.code(), last(&want)),
            "{what}: ukit (left) and native differ\nukit stderr:\n{}\nnative stderr:\n{}",
            text(&got.stderr),
            text(&want.stderr)
        );
        assert!(
            !text(&got.stderr).contains("ukit: linuxu: fatal")
                && !text(&got.stderr).contains("panicked"),
            "{what}: {}",
            text(&got.stderr)
        );
    }
}

#[test]
fn a_slice_of_regrtest_passes_as_natively() {
    app_image("python");
    const SLICE: &str = "test_hashlib test_zlib test_bz2 test_lzma test_math test_csv \
        test_binascii test_datetime test_decimal test_selectors test_grammar test_collections \
        test_argparse test_pathlib test_zipimport test_zoneinfo test_queue test_httplib \
        test_httpservers";
    let mut cmd = Command::new(uk_tests::repo_root().join("tests/python/suite"));
    cmd.args(["--only", "ukit", "--tests", SLICE])
        .env("UKPORT", &tools().ukport)
        .env("UKIT_CACHE", uk_tests::ukit_cache());
    let out = run_command(cmd, Duration::from_secs(1800));
    let table = stdout_of(&out, "tests/python/suite --only ukit");
    for module in SLICE.split_whitespace() {
        let row = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(module))
            .unwrap_or_else(|| panic!("no row for {module} in:\n{table}"));
        // "module | run pass fail skip VERDICT | (native: not run)"
        let ukit: Vec<&str> = row.split('|').nth(1).unwrap().split_whitespace().collect();
        assert!(
            ukit.len() == 5 && ukit[4] == "SUCCESS" && ukit[2] == "0",
            "{module} on the image: {row}\n(the module's log: {}/python-suite/results/ukit/{module}.log)\n{table}",
            uk_tests::ukit_cache().display()
        );
    }
}
