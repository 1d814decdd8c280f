//! Generates Rust bindings for lwIP's raw API from the *installed* lwip port (the same
//! headers and lwipopts.h liblwip.a was compiled with, so struct layouts match).
//!
//! The port's prefix comes from `UK_PORT_LWIP_PREFIX` (set by the toolchain's kernel build);
//! without it, the default cache location is tried, and when the port is not there yet
//! it is built through the toolchain's recipe engine, so `cargo test --workspace` works
//! on a fresh machine.

use std::env;
use std::path::{Path, PathBuf};

fn cache_dir() -> PathBuf {
    if let Some(p) = env::var_os("UKIT_CACHE") {
        return PathBuf::from(p);
    }
    if let Some(p) = env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(p).join("ukit");
    }
    let home = env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache").join("ukit")
}

/// The installed lwip port: `UK_PORT_LWIP_PREFIX`, else `<cache>/ports/lwip-*` (newest name).
fn lwip_prefix() -> PathBuf {
    if let Some(p) = env::var_os("UK_PORT_LWIP_PREFIX").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let ports = cache_dir().join("ports");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&ports)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("lwip-"))
                        && p.join("include/lwipopts.h").is_file()
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    match found.pop() {
        Some(p) => p,
        // Not installed yet (a fresh machine running `cargo test --workspace`): build it
        // now through the same recipe engine the toolchain uses (fetch, verify, build,
        // install into the cache; a lock keeps concurrent builds from racing).
        None => match uk_toolchain::packages::ports::ensure_port("lwip") {
            Ok(p) => p,
            Err(e) => panic!(
                "uk-lwip-sys: the lwip port is not installed in {} and building it failed: \
                 {e:#}\nBuild it with `cargo run --release --bin ukport -- build lwip`, or set \
                 UK_PORT_LWIP_PREFIX to an installed port.",
                ports.display()
            ),
        },
    }
}

/// musl's headers, installed next to the lwip port (`ports/musl-*/include`): lwIP was
/// compiled against them.
fn musl_include(prefix: &Path) -> PathBuf {
    let ports = prefix.parent().expect("port prefix has a parent");
    let mut found: Vec<PathBuf> = std::fs::read_dir(ports)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("musl-"))
                })
                .map(|p| p.join("include"))
                .filter(|p| p.join("stdint.h").is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "uk-lwip-sys: musl's headers are not installed beside {} (build the musl port \
             first: `ukport build musl`)",
            prefix.display()
        )
    })
}

fn main() {
    println!("cargo:rerun-if-env-changed=UK_PORT_LWIP_PREFIX");
    println!("cargo:rerun-if-env-changed=UKIT_CACHE");
    println!("cargo:rerun-if-changed=src/wrapper.h");
    let prefix = lwip_prefix();
    let inc = prefix.join("include");
    let musl = musl_include(&prefix);
    println!(
        "cargo:rerun-if-changed={}",
        inc.join("lwipopts.h").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        prefix.join(".ukit-installed").display()
    );
    // For dependents (uk-net) through `links = "lwip"`: DEP_LWIP_PREFIX.
    println!("cargo:prefix={}", prefix.display());

    let bindings = bindgen::Builder::default()
        .header("src/wrapper.h")
        .clang_arg("-nostdinc")
        .clang_arg(format!("-isystem{}", musl.display()))
        .clang_arg(format!("-I{}", inc.display()))
        .use_core()
        .ctypes_prefix("core::ffi")
        .layout_tests(false)
        .derive_default(true)
        .generate_comments(false)
        .allowlist_function(
            "(lwip_init|sys_check_timeouts|sys_timeouts_sleeptime|tcp_.*|udp_.*|pbuf_.*|\
             netif_.*|ethernet_input|etharp_output|ethip6_output|dhcp_.*|ip4addr_.*|\
             ip6addr_.*|ipaddr_.*|nd6_.*)",
        )
        .allowlist_type("(err_enum_t|tcp_state|pbuf_layer|pbuf_type|lwip_ip_addr_type)")
        .allowlist_var(
            "(netif_list|netif_default|ip_addr_any_type|ip_addr_any|ip6_addr_any|\
             ip_addr_broadcast|tcp_active_pcbs|TF_.*|NETIF_FLAG_.*|TCP_WND|TCP_SND_BUF|\
             TCP_MSS|TCP_SNDLOWAT|TCP_SND_QUEUELEN|TCP_RCV_SCALE|MEMP_NUM_TCP_PCB|\
             LWIP_IPV6_NUM_ADDRESSES|SOF_.*|TCP_PRIO_.*|TCP_WRITE_FLAG_.*|ETH_HWADDR_LEN|\
             NETIF_MAX_HWADDR_LEN|IP6_ADDR_.*)",
        )
        .rustified_enum("err_enum_t")
        .generate()
        .unwrap_or_else(|e| {
            panic!(
                "uk-lwip-sys: bindgen failed on the lwip port in {} ({e}); is libclang-dev \
                 installed?",
                prefix.display()
            )
        });
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("write bindings.rs");
}
