//! A user's Python app as an image (recipes/py-webapp.toml): a bottle JSON app whose
//! pure-Python wheel pip downloads on this machine, run by the `python` recipe's image
//! with the app as `/app`, serves through `-p` on linuxu and on kvm (QEMU; TCG here),
//! and curl's answers are compared with values computed here (Fibonacci numbers with
//! u128, a prime sieve, `sha256sum`, a sum). Recipes with mistakes fail their build with
//! messages that name the mistake: a wheel with compiled code, a release pip cannot
//! find, a syntax error in the app, an unpinned requirement (file:line).
//!
//! Needs the `python` image (a cold build is about 11 minutes, docs/python.md) and pip
//! reaching its package index once (the wheels are cached by requirement).

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use uk_tests::tls::app_image;
use uk_tests::{run_command, text, tools, TempDir};

/// A build of the app with the python image already made (wheel download, root,
/// byte-compiling the standard library).
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
/// From `ukport run` to the first answer (QEMU TCG boots and imports slowly).
const SERVE_TIMEOUT: Duration = Duration::from_secs(240);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// curl's body for `path` (a POST of `data` when given); None when nothing answers.
fn curl(port: u16, path: &str, data: Option<&str>) -> Option<String> {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-f", "-m", "30"]);
    if let Some(d) = data {
        cmd.args(["-H", "Content-Type: application/json", "--data-binary", d]);
    }
    cmd.arg(format!("http://127.0.0.1:{port}{path}"));
    let out = cmd.stderr(Stdio::null()).output().expect("run curl");
    out.status.success().then(|| text(&out.stdout))
}

fn fib(n: u32) -> u128 {
    let (mut a, mut b) = (0u128, 1u128);
    for _ in 0..n {
        (a, b) = (b, a + b);
    }
    a
}

fn primes_below(n: usize) -> usize {
    let mut composite = vec![false; n];
    let mut count = 0;
    for i in 2..n {
        if !composite[i] {
            count += 1;
            let mut j = i * i;
            while j < n {
                composite[j] = true;
                j += i;
            }
        }
    }
    count
}

fn sha256_hex(s: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", "printf %s \"$1\" | sha256sum", "sh", s])
        .output()
        .expect("run sha256sum");
    text(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a digest")
        .to_string()
}

fn ukport_build(target: &str, plat: &str) -> Output {
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["build", target, "--plat", plat]);
    run_command(cmd, BUILD_TIMEOUT)
}

/// Builds py-webapp for `plat`, runs it with `-p`, and checks every route's answer.
fn serves_on(plat: &str) {
    app_image("python");
    let built = ukport_build("py-webapp", plat);
    assert!(
        built.status.success(),
        "ukport build py-webapp --plat {plat}:\n{}{}",
        text(&built.stdout),
        text(&built.stderr)
    );
    let port = free_port();
    let log =
        std::env::temp_dir().join(format!("ukit-py-webapp-{plat}-{}.log", std::process::id()));
    let mut child = Command::new(&tools().ukport)
        .args(["run", "--plat", plat, "-p"])
        .arg(format!("{port}:8080"))
        .arg("py-webapp")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start ukport run");
    let pgid = child.id();
    let deadline = Instant::now() + SERVE_TIMEOUT;
    let mut first = None;
    while Instant::now() < deadline {
        first = curl(port, "/fib/150", None);
        if first.is_some() || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let index = curl(port, "/", None);
    let primes = curl(port, "/primes/100000", None);
    let digest = curl(port, "/sha256/unikernel", None);
    let sum = curl(port, "/sum", Some("[1, -2, 30000000000, 7]"));
    let bad = curl(port, "/fib/notanumber", None);
    // Stop ukport and what it started (passt or QEMU): the process group, by its id.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let console = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);

    let first = first.unwrap_or_else(|| {
        panic!("py-webapp on {plat} never answered on 127.0.0.1:{port}\nconsole:\n{console}")
    });
    assert_eq!(
        first,
        format!("{{\"n\": 150, \"fib\": \"{}\"}}", fib(150)),
        "on {plat}"
    );
    let index = index.expect("/ answered");
    assert!(
        index.contains("\"python\": \"3.11.2\"") && index.contains("\"bottle\": \"0.12.25\""),
        "{index}"
    );
    assert_eq!(
        primes.expect("/primes answered"),
        format!(
            "{{\"n\": 100000, \"primes_below\": {}}}",
            primes_below(100_000)
        )
    );
    assert_eq!(
        digest.expect("/sha256 answered"),
        format!(
            "{{\"text\": \"unikernel\", \"sha256\": \"{}\"}}",
            sha256_hex("unikernel")
        )
    );
    let want: i64 = [1i64, -2, 30_000_000_000, 7].iter().sum();
    assert_eq!(
        sum.expect("/sum answered"),
        format!("{{\"count\": 4, \"sum\": {want}}}")
    );
    assert_eq!(bad, None, "a route that does not match is an HTTP error");
    assert!(
        console.contains("py-webapp: bottle 0.12.25 on port 8080"),
        "{console}"
    );
}

#[test]
fn the_bottle_app_serves_on_linuxu() {
    serves_on("linuxu");
}

#[test]
fn the_bottle_app_serves_on_kvm() {
    serves_on("kvm");
}

/// A Python app recipe in `dir` with `requirements` and an app.py of `source`.
fn app_recipe(dir: &Path, name: &str, requirements: &str, source: &str) -> String {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(dir.join(name).join("app.py"), source).unwrap();
    let recipe = dir.join(format!("{name}.toml"));
    std::fs::write(
        &recipe,
        format!(
            "name = \"{name}\"\nversion = \"1\"\n\n[python]\nrequirements = [{requirements}]\n\
             app = \"{name}\"\nentry = \"app.py\"\n"
        ),
    )
    .unwrap();
    recipe.display().to_string()
}

fn failed_build(recipe: &str) -> String {
    let out = ukport_build(recipe, "linuxu");
    assert!(
        !out.status.success(),
        "{recipe} built:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}

/// Bad input ends the build with the reason: a compiled wheel named, pip's failure
/// with the requirement, a syntax error in the app, a range instead of a pin at its
/// line. A good app in the same folder builds and runs its script with the user's
/// arguments after `--`.
#[test]
fn python_app_mistakes_fail_the_build_with_their_reason() {
    app_image("python");
    let t = TempDir::new("pyapp-errors");

    // MarkupSafe 2.1.3 ships wheels with its C speedups only (and an sdist).
    let compiled = app_recipe(t.path(), "compiled", "\"markupsafe==2.1.3\"", "print(1)\n");
    let e = failed_build(&compiled);
    assert!(
        e.contains("MarkupSafe-2.1.3-cp311-cp311-") && e.contains("is not pure Python"),
        "{e}"
    );

    let missing = app_recipe(t.path(), "missing", "\"bottle==0.0.1\"", "print(1)\n");
    let e = failed_build(&missing);
    assert!(
        e.contains("pip download bottle==0.0.1 failed") && e.contains("No matching distribution"),
        "{e}"
    );

    let syntax = app_recipe(
        t.path(),
        "syntax",
        "\"bottle==0.12.25\"",
        "def broken(:\n    pass\n",
    );
    let e = failed_build(&syntax);
    assert!(
        e.contains("byte-compiling the app failed") && e.contains("/app/app.py"),
        "{e}"
    );

    let unpinned = app_recipe(
        t.path(),
        "unpinned",
        "\n  \"bottle>=0.12\",\n",
        "print(1)\n",
    );
    let e = failed_build(&unpinned);
    assert!(
        e.contains(&format!(
            "{unpinned}:6:3: [python] requirements: `bottle>=0.12` is not pinned"
        )),
        "{e}"
    );

    // `ukport check` sees a missing app folder without building, at its line.
    let gone = app_recipe(t.path(), "gone", "\"bottle==0.12.25\"", "print(1)\n");
    std::fs::remove_dir_all(t.path().join("gone")).unwrap();
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["check", &gone]);
    let out = run_command(cmd, Duration::from_secs(60));
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains(&format!("{gone}:6: error: the app folder")),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // The good one: the script gets its path and the user's arguments, imports the
    // wheel from site-packages, and finds its host name in the root's /etc/hosts
    // (without it, the lookup servers make at start is a DNS query nothing answers:
    // getfqdn gives up after musl's timeout and returns the bare host name).
    let good = app_recipe(
        t.path(),
        "good",
        "\"bottle==0.12.25\"",
        "import socket, sys, bottle\n\
         print(sys.argv, bottle.__file__, sum(map(int, sys.argv[1:])))\n\
         print(socket.getfqdn('0.0.0.0'))\n",
    );
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["run", &good, "--", "20", "22"]);
    let out = run_command(cmd, BUILD_TIMEOUT);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout),
        "['/app/app.py', '20', '22'] /usr/lib/python3.11/site-packages/bottle.py 42\nlocalhost\n"
    );
}
