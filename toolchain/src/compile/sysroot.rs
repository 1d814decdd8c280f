//! The ukit sysroot: the installed musl port (headers and static libraries) that `uk-cc`
//! compiles and links against instead of the host's glibc.
//!
//! The sysroot normally comes from the musl port (`ports::ensure_port("musl")`, built on
//! first use). `UK_SYSROOT=<prefix>` points at any other musl install instead, which is
//! handy for trying a locally patched musl or for running `uk-cc` without the port cache.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// Environment variable that overrides where the sysroot lives.
pub const SYSROOT_ENV: &str = "UK_SYSROOT";

/// A musl install prefix holding `include/` and `lib/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysroot {
    pub prefix: PathBuf,
}

impl Sysroot {
    /// A sysroot at `prefix`, unchecked.
    pub fn at(prefix: impl Into<PathBuf>) -> Sysroot {
        Sysroot {
            prefix: prefix.into(),
        }
    }

    /// The sysroot to use: `$UK_SYSROOT` when set, else the musl port (built on first
    /// use). Either way it is checked for the files `uk-cc` needs, so that a broken
    /// install fails here with a clear message rather than as a confusing gcc error.
    pub fn ensure() -> Result<Sysroot> {
        if let Some(p) = std::env::var_os(SYSROOT_ENV).filter(|p| !p.is_empty()) {
            let root = Sysroot::at(p);
            root.check().map_err(|e| {
                e.context(format!(
                    "{SYSROOT_ENV} is set to {}; point it at a musl install prefix or unset it \
                     to use the ukit musl port",
                    root.prefix.display()
                ))
            })?;
            return Ok(root);
        }
        let prefix = crate::packages::ports::ensure_port(crate::packages::ports::LIBC)?;
        let root = Sysroot::at(prefix);
        root.check().map_err(|e| {
            e.context(
                "the installed musl port is incomplete; delete it and run uk-cc again to rebuild it",
            )
        })?;
        Ok(root)
    }

    /// Verifies that the headers, libc and the crt objects are where `uk-cc` expects them.
    pub fn check(&self) -> Result<()> {
        let needed = [
            self.include().join("stdio.h"),
            self.libc_a(),
            self.crti(),
            self.crtn(),
        ];
        let missing: Vec<String> = needed
            .iter()
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if !missing.is_empty() {
            bail!(
                "sysroot {} is missing {}",
                self.prefix.display(),
                missing.join(", ")
            );
        }
        Ok(())
    }

    /// Header directory (musl's `include/`).
    pub fn include(&self) -> PathBuf {
        self.prefix.join("include")
    }

    /// Library directory (musl's `lib/`: libc.a, crt objects, empty libm/libpthread stubs).
    pub fn lib(&self) -> PathBuf {
        self.prefix.join("lib")
    }

    /// musl's static libc.
    pub fn libc_a(&self) -> PathBuf {
        self.lib().join("libc.a")
    }

    /// Start of the `.init`/`.fini` sections (must come first in the link).
    pub fn crti(&self) -> PathBuf {
        self.lib().join("crti.o")
    }

    /// End of the `.init`/`.fini` sections (must come last in the link).
    pub fn crtn(&self) -> PathBuf {
        self.lib().join("crtn.o")
    }

    /// `name` inside the library directory if it exists there (for `-print-file-name=`).
    pub fn find_lib_file(&self, name: &str) -> Option<PathBuf> {
        if name.is_empty() || Path::new(name).is_absolute() {
            return None;
        }
        let p = self.lib().join(name);
        p.exists().then_some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_sysroot(dir: &Path) -> Sysroot {
        std::fs::create_dir_all(dir.join("include")).unwrap();
        std::fs::create_dir_all(dir.join("lib")).unwrap();
        std::fs::write(dir.join("include/stdio.h"), "").unwrap();
        for f in ["libc.a", "crti.o", "crtn.o"] {
            std::fs::write(dir.join("lib").join(f), "").unwrap();
        }
        Sysroot::at(dir)
    }

    #[test]
    fn paths_are_under_the_prefix() {
        let s = Sysroot::at("/opt/musl");
        assert_eq!(s.include(), Path::new("/opt/musl/include"));
        assert_eq!(s.libc_a(), Path::new("/opt/musl/lib/libc.a"));
        assert_eq!(s.crti(), Path::new("/opt/musl/lib/crti.o"));
        assert_eq!(s.crtn(), Path::new("/opt/musl/lib/crtn.o"));
    }

    #[test]
    fn check_names_missing_files() {
        let tmp = tempfile::tempdir().unwrap();
        let s = fake_sysroot(tmp.path());
        s.check().unwrap();
        std::fs::remove_file(s.crtn()).unwrap();
        let err = s.check().unwrap_err().to_string();
        assert!(err.contains("crtn.o"), "{err}");
        assert!(!err.contains("libc.a"), "{err}");
    }

    #[test]
    fn find_lib_file_only_inside_lib() {
        let tmp = tempfile::tempdir().unwrap();
        let s = fake_sysroot(tmp.path());
        assert_eq!(s.find_lib_file("libc.a"), Some(s.libc_a()));
        assert_eq!(s.find_lib_file("libz.a"), None);
        assert_eq!(s.find_lib_file("/etc/passwd"), None);
        assert_eq!(s.find_lib_file(""), None);
    }
}
