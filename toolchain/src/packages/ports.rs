//! Ports as the tools build them: the recipe engine's [`PortBuilder`] with spinners on a
//! terminal and uk-cc (next to the running tool) as the compiler of ports other than
//! libc.

use std::path::PathBuf;

use anyhow::Result;

pub use uk_recipes::ports::*;
use uk_recipes::progress::Progress;

use crate::bins::uk_cc_path;

/// Returns the install prefix of port `name`, building it first if it is not installed
/// or was built from different inputs. Ports other than libc may use the
/// `{cmake_toolchain}` and `{meson_native}` templates (over the ports installed so far).
pub fn ensure_port(name: &str) -> Result<PathBuf> {
    let mut b = PortBuilder {
        progress: Progress::new(),
        cc: uk_cc_path(),
        ..Default::default()
    };
    if name != LIBC {
        let sysroot = b.ensure(LIBC)?;
        let installed: Vec<PathBuf> = std::fs::read_dir(crate::paths::ports_dir())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join(STAMP).is_file())
            .collect();
        if let Some(cc) = &b.cc {
            let f = super::buildsys::write_files(cc, &sysroot, &installed)?;
            b.vars = f.template_vars();
        }
    }
    b.ensure(name)
}
