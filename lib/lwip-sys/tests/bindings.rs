//! The checked-in bindings (`src/bindings.rs`) against what bindgen makes of the
//! installed lwip port now. They must agree: the port's lwipopts.h decides struct
//! layouts and constants, and bindings from other headers than liblwip.a was compiled
//! with would corrupt memory quietly.
//!
//! - Differ: the test fails with a diff and says how to regenerate.
//! - `UK_REGEN_BINDINGS=1`: the test writes the fresh bindings into `src/bindings.rs`.
//! - No libclang on this machine (bindgen loads it at run time): the test prints
//!   `skipped: libclang not found` and passes; CI installs libclang-dev, so it runs there.
//!
//! The port comes from `UK_PORT_LWIP_PREFIX` when set, else from the cache (built there
//! through the recipe engine when missing, as uk-net's build script does).

use std::path::{Path, PathBuf};

/// Set to 1 to write the fresh bindings instead of comparing.
const REGEN_ENV: &str = "UK_REGEN_BINDINGS";

/// The install prefix of port `name`.
fn port(name: &str) -> PathBuf {
    let var = uk_recipes::ports::prefix_env(name);
    if let Some(p) = std::env::var_os(&var).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    uk_recipes::ports::PortBuilder::default()
        .ensure(name)
        .unwrap_or_else(|e| {
            panic!("the {name} port is not installed and building it failed: {e:#}")
        })
}

/// The bindings for the lwip port at `lwip`, whose C code was compiled against musl's
/// headers at `musl`: lwIP's raw API, the types and constants lib/net uses.
fn generate(header: &Path, lwip: &Path, musl: &Path) -> String {
    bindgen::Builder::default()
        .header(header.display().to_string())
        .clang_arg("-nostdinc")
        .clang_arg(format!("-isystem{}", musl.join("include").display()))
        .clang_arg(format!("-I{}", lwip.join("include").display()))
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
             ip_addr_broadcast|tcp_active_pcbs|tcp_tw_pcbs|tcp_listen_pcbs|udp_pcbs|TF_.*|NETIF_FLAG_.*|TCP_WND|TCP_SND_BUF|\
             TCP_MSS|TCP_SNDLOWAT|TCP_SND_QUEUELEN|TCP_RCV_SCALE|MEMP_NUM_TCP_PCB|\
             LWIP_IPV6_NUM_ADDRESSES|SOF_.*|TCP_PRIO_.*|TCP_WRITE_FLAG_.*|ETH_HWADDR_LEN|\
             NETIF_MAX_HWADDR_LEN|IP6_ADDR_.*)",
        )
        .rustified_enum("err_enum_t")
        .generate()
        .unwrap_or_else(|e| panic!("bindgen failed on the lwip port in {}: {e}", lwip.display()))
        .to_string()
}

/// Equal up to whitespace: rustfmt versions may lay the same items out differently.
fn same_tokens(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

#[test]
fn checked_in_bindings_match_the_installed_port() {
    if let Err(e) = clang_sys::load() {
        eprintln!("skipped: libclang not found ({e}); install libclang-dev to check the bindings");
        return;
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = here.join("src/bindings.rs");
    let lwip = port("lwip");
    let musl = port(uk_recipes::ports::LIBC);
    let fresh = generate(&here.join("src/wrapper.h"), &lwip, &musl);
    if std::env::var_os(REGEN_ENV).is_some_and(|v| v == "1") {
        std::fs::write(&file, &fresh)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
        eprintln!("wrote {} from {}", file.display(), lwip.display());
        return;
    }
    let old = std::fs::read_to_string(&file).unwrap_or_default();
    if same_tokens(&old, &fresh) {
        return;
    }
    let diff = similar::TextDiff::from_lines(&old, &fresh);
    let shown: String = diff
        .unified_diff()
        .context_radius(2)
        .header("src/bindings.rs (checked in)", "bindgen now")
        .to_string()
        .lines()
        .take(80)
        .map(|l| format!("{l}\n"))
        .collect();
    panic!(
        "lib/lwip-sys/src/bindings.rs does not match the lwip port in {} (did ports/lwip \
         change?); first differences:\n{shown}\nRegenerate it with \
         `{REGEN_ENV}=1 cargo test -p uk-lwip-sys --test bindings` and commit the result.",
        lwip.display()
    );
}
