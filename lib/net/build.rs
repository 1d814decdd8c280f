//! Links liblwip.a from the installed lwip port (found by uk-lwip-sys, which passes its
//! prefix as `DEP_LWIP_PREFIX`). In the kernel staticlib this puts lwIP's objects inside
//! libuk.a, so uk-cc needs nothing extra to link a networked image.
fn main() {
    let prefix = std::env::var("DEP_LWIP_PREFIX")
        .expect("uk-lwip-sys reports the lwip port's prefix (links = \"lwip\")");
    let lib = std::path::Path::new(&prefix).join("lib");
    println!("cargo:rerun-if-changed={}", lib.join("liblwip.a").display());
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-lib=static=lwip");
}
