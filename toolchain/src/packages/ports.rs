//! Ports as the tools build them: the recipe engine's [`PortBuilder`] with spinners on a
//! terminal and uk-cc (next to the running tool) as the compiler of ports other than
//! libc.

use std::path::PathBuf;

use anyhow::Result;

pub use uk_recipes::ports::*;
use uk_recipes::progress::Progress;

use crate::bins::uk_cc_path;

/// Returns the install prefix of port `name`, building it first if it is not installed
/// or was built from different inputs.
pub fn ensure_port(name: &str) -> Result<PathBuf> {
    PortBuilder {
        progress: Progress::new(),
        cc: uk_cc_path(),
    }
    .ensure(name)
}
