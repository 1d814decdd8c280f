//! linuxu memory grows on demand: a program that allocates and touches 3 GiB (fine
//! natively on a machine with that much memory) runs without any `mem=` option, and
//! `mem=` still caps what the image may take.

use uk_tests::{build_native, build_uk, c_source, run, text, TempDir};

/// Memory the host can give (RAM plus swap), from /proc/meminfo.
fn host_memory_mib() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap();
    let field = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    field("MemAvailable:") + field("SwapFree:")
}

#[test]
fn three_gib_without_mem_option() {
    let mib = 3072;
    if host_memory_mib() < mib + 1024 {
        eprintln!("skipped: the host has less than 4 GiB available");
        return;
    }
    let tmp = TempDir::new("bigmem");
    let (image, native) = (tmp.join("bigmem.uk"), tmp.join("bigmem.native"));
    build_uk(&c_source("bigmem.c"), &image);
    build_native(&c_source("bigmem.c"), &native);
    let arg = mib.to_string();
    let n = run(&native, &[&arg], &[]);
    assert_eq!(n.status.code(), Some(0), "native: {}", text(&n.stderr));
    let u = run(&image, &[&arg], &[("UKIT_OPTS", "")]);
    assert_eq!(
        u.status.code(),
        Some(0),
        "ukit: {}{}",
        text(&u.stdout),
        text(&u.stderr)
    );
    assert_eq!(text(&u.stdout), text(&n.stdout));
    assert_eq!(text(&u.stdout), format!("touched {mib} MiB\n"));

    // mem= is a limit the user can set: 256 MiB cannot hold 512.
    let capped = run(&image, &["512"], &[("UKIT_OPTS", "mem=256M")]);
    assert_eq!(capped.status.code(), Some(1), "{}", text(&capped.stderr));
    assert!(
        text(&capped.stderr).contains("malloc"),
        "malloc fails cleanly: {}",
        text(&capped.stderr)
    );
}
