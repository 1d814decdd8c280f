//! Links liblwip.a from the installed lwip port. In the kernel staticlib this puts lwIP's
//! objects inside libuk.a, so uk-cc needs nothing extra to link a networked image.
//!
//! The port's prefix comes from `UK_PORT_LWIP_PREFIX`, which the toolchain sets for
//! kernels whose options declare the port (`ports = ["lwip"]` in options.toml); without
//! it (`cargo test`), the port is taken from the cache and built there first when it is
//! missing, through the recipe engine (crate uk-recipes), which never runs cargo.
fn main() {
    let prefix =
        uk_recipes::ports::for_build_script("lwip").unwrap_or_else(|e| panic!("uk-net: {e:#}"));
    let lib = prefix.join("lib");
    println!("cargo:rerun-if-changed={}", lib.join("liblwip.a").display());
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-lib=static=lwip");
}
