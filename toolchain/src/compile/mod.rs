//! From C sources to an image: the `uk-cc` driver over the host gcc, the musl sysroot,
//! kernel builds (`libuk.a` per platform and configuration) and the relink records that
//! let `ukport` link the same objects again for another kernel or platform.

pub mod cc;
pub mod config;
pub mod gcc;
pub mod kernel;
pub mod needs;
pub mod relink;
pub mod sysroot;
