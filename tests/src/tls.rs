//! Pieces the TLS tests share (tests/tests/openssl.rs, nginx_tls.rs, redis_tls.rs): recipes
//! built through `ukport`, a recipe's `[rootfs]` copied into a test's own root, and a
//! certificate chain (root CA -> intermediate -> server certificate for localhost and
//! 127.0.0.1) made by the `openssl` recipe's image, so the tests need no host OpenSSL.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::{ensure_setup, repo_root, run_command, text, tools};

/// A cold build of OpenSSL (the libssl port) and an app on a busy 2-core machine.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(2400);

/// `ukport build <args>`, once per test binary and argument list (tests of one binary run
/// in parallel threads, and two builds of one recipe must not share its build tree at the
/// same time: builds are one at a time). Panics with its output when it fails. Returns
/// its stdout.
pub fn ukport_build(args: &[&str]) -> String {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    static BUILT: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let key = args.join(" ");
    if let Some(stdout) = built.get(&key) {
        return stdout.clone();
    }
    ensure_setup();
    let mut cmd = Command::new(&tools().ukport);
    cmd.arg("build").args(args).env("UK_CC", &tools().uk_cc);
    let out = run_command(cmd, BUILD_TIMEOUT);
    assert!(
        out.status.success(),
        "ukport build {key} failed ({}):\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    built.insert(key, stdout.clone());
    stdout
}

/// The linuxu image of `app`, built (or relinked) by `ukport build <app>` first.
pub fn app_image(app: &str) -> PathBuf {
    ukport_build(&[app]);
    let path = crate::ukit_cache()
        .join("images")
        .join(format!("{app}.linuxu"));
    assert!(
        path.is_file(),
        "`ukport build {app}` left no {}",
        path.display()
    );
    path
}

/// The install prefix `ukport build <port>` reports (`port <name> <version> installed in <dir>`).
pub fn port_prefix(port: &str) -> PathBuf {
    let stdout = ukport_build(&[port]);
    stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("port {port} "))?
                .split_once(" installed in ")
        })
        .map(|(_, p)| PathBuf::from(p.trim()))
        .unwrap_or_else(|| panic!("no `port {port} ... installed in` line:\n{stdout}"))
}

/// Copies the files of `recipes/<recipe>.toml`'s `[rootfs]` table (lines
/// `"/guest/path" = "file under recipes/"`) under `root`, plus an empty /tmp.
pub fn recipe_rootfs(recipe: &str, root: &Path) {
    let recipes = repo_root().join("recipes");
    let toml = std::fs::read_to_string(recipes.join(format!("{recipe}.toml"))).unwrap();
    let mut in_rootfs = false;
    let mut copied = 0;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_rootfs = line == "[rootfs]";
            continue;
        }
        if !in_rootfs || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (guest, file) = line
            .split_once('=')
            .map(|(g, f)| (g.trim().trim_matches('"'), f.trim().trim_matches('"')))
            .unwrap_or_else(|| panic!("unexpected [rootfs] line in {recipe}.toml: {line}"));
        let to = root.join(guest.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(recipes.join(file), &to)
            .unwrap_or_else(|e| panic!("copy {file} into the rootfs: {e}"));
        copied += 1;
    }
    assert!(copied > 0, "recipes/{recipe}.toml has no [rootfs] files");
    std::fs::create_dir_all(root.join("tmp")).unwrap();
}

/// A certificate chain made in a folder by the `openssl` image.
#[derive(Debug)]
pub struct Pki {
    /// The root CA certificate: what clients trust (`curl --cacert`).
    pub root: PathBuf,
    /// The server certificate followed by the intermediate's (what a server sends).
    pub chain: PathBuf,
    /// The intermediate CA's certificate alone (for servers that take the chain apart
    /// from the certificate: `openssl s_server -cert_chain`).
    pub intermediate: PathBuf,
    /// The server certificate's private key.
    pub key: PathBuf,
    /// Another private key, which does not match the certificate.
    pub other_key: PathBuf,
}

impl Pki {
    /// Makes root CA -> intermediate CA -> server certificate (localhost, 127.0.0.1),
    /// ECDSA P-256, valid two days, in `dir`, with `openssl` (the recipe's image).
    pub fn make(openssl: &Path, dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        let run = |args: &[&str]| {
            let mut cmd = Command::new(openssl);
            cmd.args(args).current_dir(dir);
            let out = run_command(cmd, Duration::from_secs(120));
            assert!(
                out.status.success(),
                "openssl {} failed ({}):\n{}{}",
                args.join(" "),
                out.status,
                text(&out.stdout),
                text(&out.stderr)
            );
        };
        std::fs::write(
            dir.join("ext.cnf"),
            "[req]\ndistinguished_name = dn\n[dn]\n\
             [ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n\
             subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n\
             [server]\nbasicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n\
             subjectAltName = DNS:localhost, IP:127.0.0.1\n\
             subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
        )
        .unwrap();
        let newkey = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-noenc",
        ];
        let mut root = vec![
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=ukit test root CA",
        ];
        root.extend(newkey);
        root.extend(["-keyout", "root.key", "-out", "root.pem"]);
        root.extend(["-config", "ext.cnf", "-extensions", "ca"]);
        run(&root);
        for (name, subject, ca, ca_key, ext) in [
            (
                "int",
                "/CN=ukit test intermediate CA",
                "root.pem",
                "root.key",
                "ca",
            ),
            ("server", "/CN=localhost", "int.pem", "int.key", "server"),
        ] {
            let (key, csr, pem) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
            );
            let mut req = vec![
                "req", "-new", "-subj", subject, "-keyout", &key, "-out", &csr,
            ];
            req.extend(newkey);
            req.extend(["-config", "ext.cnf"]);
            run(&req);
            run(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                ca,
                "-CAkey",
                ca_key,
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-extensions",
                ext,
                "-out",
                &pem,
            ]);
        }
        run(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "other.key",
        ]);
        let chain = [
            std::fs::read(dir.join("server.pem")).unwrap(),
            std::fs::read(dir.join("int.pem")).unwrap(),
        ]
        .concat();
        std::fs::write(dir.join("chain.pem"), chain).unwrap();
        Pki {
            root: dir.join("root.pem"),
            chain: dir.join("chain.pem"),
            intermediate: dir.join("int.pem"),
            key: dir.join("server.key"),
            other_key: dir.join("other.key"),
        }
    }
}

/// `curl` with `args` (killed after `timeout`).
pub fn curl(args: &[&str], timeout: Duration) -> Output {
    let mut cmd = Command::new(crate::require_tool("curl"));
    cmd.args(args);
    run_command(cmd, timeout)
}
