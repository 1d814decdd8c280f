//! The recipe engine: what a recipe says (`recipes/<name>.toml`, [`recipe`]), getting its
//! source ([`fetch`]: cache, upstream URL with sha256, Debian source package), running
//! its build ([`builder`]) and installing ports into the cache ([`ports`]).
//!
//! A crate of its own, apart from the `uk-cc`/`ukport` tools, because the kernel build
//! needs it too: lib/net's build script links liblwip.a and builds the lwip port through
//! this engine when the cache does not have it. So it stays small (no CLI crates, no
//! progress bars unless the `progress-bar` feature is on) and it never runs cargo: the
//! tools run cargo to build kernels, never the other way round (docs/architecture.md,
//! "Import cuts: toolchain").

pub mod builder;
pub mod fetch;
pub mod paths;
pub mod ports;
pub mod progress;
pub mod recipe;
