//! ukit host tools. The binaries (`uk-cc`, `ukport`) are thin; the work lives here so
//! that both share one recipe engine, one cache and one way to build kernels.
//!
//! Modules by concern, each depending only on those listed before it:
//! [`paths`] and [`bins`] (where things are), [`platform`] (what a platform is),
//! [`packages`] (recipes and ports), [`compile`] (uk-cc, sysroot, kernels, relinking),
//! [`image`] (app images, rootfs, cpio), [`run`] (`ukport run`: one runner per
//! platform), [`instance`] (background runs: `ukport run -d`, `ps`, `logs`, `stop`),
//! [`cache`] (what the cache holds, cleaning it), [`author`] (writing recipes:
//! `ukport new`, `ukport check`) and [`menuconfig`] (the option schema as a terminal UI).

pub mod author;
pub mod bins;
pub mod cache;
pub mod compile;
pub mod image;
pub mod instance;
pub mod menuconfig;
pub mod packages;
pub mod paths;
pub mod platform;
pub mod run;
