//! OpenSSL as ukit ships it: the libssl port (recipes/libssl.toml) and the `openssl`
//! command (recipes/openssl.toml).
//!
//! - The port installs static libraries, headers and pkg-config files in the standard
//!   layout; its assembly is in (AES-NI, SHA extensions), it enters the host kernel
//!   nowhere itself; and a program built the way another recipe would build it
//!   (`pkg-config --cflags --libs openssl`, uk-cc) computes known-answer vectors and
//!   completes a verified TLS 1.3 handshake.
//! - The command's smoke test (an RFC 5869 vector), `version -a`, and `s_server` serving
//!   TLS over ukit's network to the host's curl, which verifies the chain.
//! - A representative slice of OpenSSL's own test suite (tests/openssl/suite --only ukit):
//!   every selected test passes with every program a ukit image. The whole suite against
//!   a native build is `tests/openssl/suite` (docs/apps.md, "OpenSSL's test suite").

use std::process::Command;
use std::time::{Duration, Instant};

use uk_tests::server::{free_port, Server};
use uk_tests::tls::{app_image, curl, port_prefix, Pki, BUILD_TIMEOUT};
use uk_tests::{
    c_source, ensure_setup, repo_root, require_tool, run_command, text, tools, trap_sites, TempDir,
};

/// The Configure options of a recipe's first step that runs `Configure`.
fn configure_options(recipe: &str) -> Vec<String> {
    let toml = std::fs::read_to_string(repo_root().join(format!("recipes/{recipe}.toml"))).unwrap();
    let at = toml
        .find("./Configure")
        .unwrap_or_else(|| panic!("recipes/{recipe}.toml has no Configure step"));
    let line: String = toml[at..]
        .split("]")
        .next()
        .unwrap()
        .replace('"', "")
        .replace([',', '\n', '\\'], " ");
    line.split_whitespace()
        .skip(1)
        .map(|w| w.replace("$UK_PORT_LIBSSL_PREFIX", "{prefix}"))
        .collect()
}

#[test]
fn the_app_is_configured_like_the_port() {
    let port = configure_options("libssl");
    assert!(port.contains(&"linux-x86_64".to_string()), "{port:?}");
    assert!(port.contains(&"--prefix={prefix}".to_string()), "{port:?}");
    assert_eq!(configure_options("openssl"), port);
}

#[test]
fn port_layout_assembly_and_a_consumer() {
    let prefix = port_prefix("libssl");
    for f in [
        "lib/libssl.a",
        "lib/libcrypto.a",
        "include/openssl/ssl.h",
        "include/openssl/opensslv.h",
        "lib/pkgconfig/openssl.pc",
        "lib/pkgconfig/libssl.pc",
        "lib/pkgconfig/libcrypto.pc",
    ] {
        assert!(
            prefix.join(f).is_file(),
            "{} is missing",
            prefix.join(f).display()
        );
    }

    // Assembly on: the AES-NI, SHA-NI and P-256 code is in libcrypto; and no host traps.
    let lib = prefix.join("lib/libcrypto.a");
    let mut cmd = Command::new(require_tool("objdump"));
    cmd.args(["-d", "--no-show-raw-insn"]).arg(&lib);
    let out = run_command(cmd, Duration::from_secs(300));
    assert!(out.status.success(), "objdump: {}", text(&out.stderr));
    let asm = text(&out.stdout);
    for f in [
        "aesni_gcm_encrypt",
        "sha256_block_data_order_shaext",
        "ecp_nistz256_mul_mont",
    ] {
        assert!(
            asm.contains(&format!("<{f}>:")),
            "{f} not in {}",
            lib.display()
        );
    }
    assert!(
        asm.contains("aesenc"),
        "no AES-NI instructions in {}",
        lib.display()
    );
    let sites = trap_sites(&asm);
    assert!(
        sites.is_empty(),
        "host traps in {}: {sites:?}",
        lib.display()
    );

    // pkg-config sees the port alone (PKG_CONFIG_LIBDIR), as a recipe would point it.
    let pc = prefix.join("lib/pkgconfig");
    let mut cmd = Command::new(require_tool("pkg-config"));
    cmd.args(["--cflags", "--libs", "--static", "openssl"])
        .env("PKG_CONFIG_LIBDIR", &pc)
        .env_remove("PKG_CONFIG_PATH");
    let out = run_command(cmd, Duration::from_secs(30));
    assert!(out.status.success(), "pkg-config: {}", text(&out.stderr));
    let flags = text(&out.stdout);
    assert!(
        flags.contains(&format!("-I{}", prefix.join("include").display()))
            && flags.contains(&format!("-L{}", prefix.join("lib").display()))
            && flags.contains("-lssl")
            && flags.contains("-lcrypto"),
        "{flags}"
    );

    ensure_setup();
    let dir = TempDir::new("openssl-consumer");
    let prog = dir.join("consumer");
    let mut cc = Command::new(&tools().uk_cc);
    cc.args(["-O2", "-Wall", "-Werror", "-o"])
        .arg(&prog)
        .arg(c_source("openssl_consumer.c"))
        .args(flags.split_whitespace());
    let out = run_command(cc, Duration::from_secs(300));
    assert!(
        out.status.success(),
        "uk-cc: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = run_command(Command::new(&prog), Duration::from_secs(60));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let want = "OpenSSL 3.0.20 7 Apr 2026\n\
        sha256(abc) ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n\
        hmac-sha256 rfc4231-2 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843\n\
        aes-256-gcm ct 522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
        8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662\n\
        aes-256-gcm tag 76fc6ece0f4e1768cddf8853bb2d551b\n\
        aes-256-gcm decrypt right tag: accepted, plaintext matches\n\
        aes-256-gcm decrypt forged tag: rejected\n\
        rand: two 32-byte draws differ\n\
        tls handshake: TLSv1.3 TLS_AES_256_GCM_SHA384, peer verified: yes\n\
        server read: ping from client\n\
        client read: pong from server\n\
        done\n";
    assert_eq!(stdout, want);
}

#[test]
fn openssl_command_smoke_version_and_s_server() {
    let image = app_image("openssl");
    ensure_setup();
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["test", "openssl"]);
    let out = run_command(cmd, BUILD_TIMEOUT);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    let out = run_command(
        {
            let mut c = Command::new(&image);
            c.args(["version", "-a"]);
            c
        },
        Duration::from_secs(60),
    );
    let v = text(&out.stdout);
    assert!(out.status.success(), "{v}{}", text(&out.stderr));
    assert!(v.starts_with("OpenSSL 3.0.20 "), "{v}");
    assert!(v.contains("platform: linux-x86_64"), "{v}");
    assert!(v.contains("OPENSSLDIR: \"/etc/ssl\""), "{v}");
    assert!(v.contains("Seeding source: os-specific"), "{v}");

    // s_server in the image, reached through ukport's forward, verified by curl.
    let dir = TempDir::new("openssl-s-server");
    let pki = Pki::make(&image, &dir.join("pki"));
    let port = free_port();
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["run", "openssl", "-p", &format!("{port}:4433"), "--"])
        .args(["s_server", "-accept", "4433", "-www", "-cert"])
        .arg(&pki.chain)
        // s_server sends the first certificate of -cert only; the intermediate comes
        // from -cert_chain.
        .arg("-cert_chain")
        .arg(&pki.intermediate)
        .arg("-key")
        .arg(&pki.key);
    let server = Server::start(cmd, dir.path());
    let url = format!("https://localhost:{port}/");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let started = Instant::now();
    let page = loop {
        let out = curl(
            &[
                "-sS",
                "--cacert",
                pki.root.to_str().unwrap(),
                "--resolve",
                &resolve,
                &url,
            ],
            Duration::from_secs(30),
        );
        if out.status.success() {
            break text(&out.stdout);
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "s_server never answered: {}\n{}",
            text(&out.stderr),
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    // -www answers with its status page: the cipher the connection uses, among others.
    assert!(page.contains("TLSv1.3"), "{page}");
    assert!(
        page.contains("Ciphers supported in s_server binary"),
        "{page}"
    );
}

/// OpenSSL's own tests, built and run with every program a ukit image; all pass natively
/// too (docs/apps.md has the full comparison). About three minutes once the port is
/// built.
#[test]
fn openssl_test_suite_slice() {
    // Build the port and the command first, with this test's tools.
    port_prefix("libssl");
    app_image("openssl");
    let tests = "test_sanity test_evp test_evp_kdf test_bn test_x509 test_req test_verify \
                 test_ssl_new test_sslapi test_tls13encryption test_threads";
    let mut cmd = Command::new(repo_root().join("tests/openssl/suite"));
    cmd.args(["--only", "ukit", "--tests", tests])
        .env("UKPORT", &tools().ukport)
        .env("UK_CC", &tools().uk_cc);
    let out = run_command(cmd, BUILD_TIMEOUT);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "suite failed ({}):\n{stdout}\n{}",
        out.status,
        text(&out.stderr)
    );
    let n = tests.split_whitespace().count();
    assert!(
        stdout.contains(&format!(
            "files: {n} ok, 0 skipped, 0 failed, 0 timed out (of {n})"
        )),
        "{stdout}"
    );
}
