//! DNS through musl: getaddrinfo answers from the image's own /etc/hosts (a rootfs
//! mounted with `root=hostfs:DIR`), not from the host's.

use uk_tests::{build_uk, c_source, ensure_setup, run, text, TempDir};

#[test]
fn getaddrinfo_reads_the_rootfs_hosts_file() {
    ensure_setup();
    let tmp = TempDir::new("resolve");
    let image = tmp.join("resolve");
    build_uk(&c_source("resolve.c"), &image);
    let root = tmp.join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    // An address derived from this run, so no fixed answer can pass.
    let octet = std::process::id() % 250 + 1;
    std::fs::write(
        root.join("etc/hosts"),
        format!("10.77.{octet}.9 app.internal app\n"),
    )
    .unwrap();
    let opts = format!("root=hostfs:{}", root.display());
    for name in ["app.internal", "app"] {
        let out = run(&image, &[name], &[("UKIT_OPTS", opts.as_str())]);
        assert_eq!(
            text(&out.stdout),
            format!("{name} -> 10.77.{octet}.9:80\n"),
            "stderr: {}",
            text(&out.stderr)
        );
    }
    // A name the image's hosts file does not have fails cleanly (no resolver reachable).
    let out = run(
        &image,
        &["not-in-hosts.invalid"],
        &[("UKIT_OPTS", opts.as_str())],
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).starts_with("getaddrinfo(not-in-hosts.invalid): "),
        "{}",
        text(&out.stdout)
    );
}
