//! ukit host tools. The binaries (`uk-cc`, `ukport`) are thin; the work lives here so
//! that both share one recipe engine, one cache and one way to build kernels.

pub use uk_recipes::{builder, fetch, progress, recipe};

pub mod cache;
pub mod cc;
pub mod cpio;
pub mod kernel;
pub mod net;
pub mod paths;
pub mod ports;
pub mod qemu;
pub mod relink;
pub mod sysroot;
