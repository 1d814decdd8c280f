//! Build systems that want more than `CC=uk-cc`: a CMake toolchain file and a meson
//! native file that point them at uk-cc, keep them to static libraries, and let them find
//! libraries and `pkg-config` files only in the musl sysroot and ukit's ports, never the
//! host's (which are built for glibc and cannot go into an image).
//!
//! Both files are written into the cache under a name made from what they contain, so
//! a build, `ukport setup` and a user's own `cmake -DCMAKE_TOOLCHAIN_FILE=...` can share
//! them (docs/recipes.md, "CMake and meson").

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::paths;

/// The files for one compiler, sysroot and set of ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    /// For `cmake -DCMAKE_TOOLCHAIN_FILE=...` (recipe template `{cmake_toolchain}`).
    pub cmake_toolchain: PathBuf,
    /// For `meson setup --native-file ...` (recipe template `{meson_native}`).
    pub meson_native: PathBuf,
}

/// Quotes a path for CMake (a bracket argument: no escapes inside).
fn cmake_quote(p: &Path) -> String {
    format!("[==[{}]==]", p.display())
}

/// Quotes a string for meson's ini syntax (single quotes, `\` and `'` escaped).
fn meson_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The CMake toolchain file. It runs before CMake's platform files, which mark shared
/// libraries as supported; so the static-only rule lives in a second file that CMake
/// reads after them (`CMAKE_USER_MAKE_RULES_OVERRIDE`, `rules`).
pub fn cmake_toolchain_text(uk_cc: &Path, roots: &[PathBuf], rules: &Path) -> String {
    let mut t = String::from(
        "# CMake toolchain file for ukit (written by ukport; docs/recipes.md).\n\
         # The compiler is uk-cc: what it links is an image that runs on this host, so\n\
         # CMake's checks that run programs work as in a native build.\n",
    );
    let _ = writeln!(t, "set(CMAKE_C_COMPILER {})", cmake_quote(uk_cc));
    t.push_str(
        "# Images link everything statically: add_library(SHARED) builds a static library.\n",
    );
    let _ = writeln!(
        t,
        "set(CMAKE_USER_MAKE_RULES_OVERRIDE {})",
        cmake_quote(rules)
    );
    t.push_str("set(BUILD_SHARED_LIBS OFF CACHE BOOL \"ukit images are static\")\n");
    t.push_str("# Libraries, headers and packages only from the musl sysroot and ukit's ports.\n");
    let roots: Vec<String> = roots.iter().map(|r| cmake_quote(r)).collect();
    let _ = writeln!(t, "set(CMAKE_FIND_ROOT_PATH {})", roots.join(" "));
    t.push_str(
        "set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)\n\
         set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)\n\
         set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)\n\
         set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)\n\
         set(CMAKE_FIND_LIBRARY_SUFFIXES .a)\n",
    );
    t
}

/// Read by CMake after its platform files (see [`cmake_toolchain_text`]).
pub const CMAKE_RULES: &str = "# ukit: images are static (read after CMake's platform files).\n\
    set_property(GLOBAL PROPERTY TARGET_SUPPORTS_SHARED_LIBS FALSE)\n\
    set(CMAKE_FIND_LIBRARY_SUFFIXES .a)\n";

/// The meson native file: uk-cc as the C compiler, static libraries, and `pkg-config`
/// limited to the ports' own `.pc` files.
pub fn meson_native_text(uk_cc: &Path, roots: &[PathBuf]) -> String {
    let pc: Vec<String> = roots
        .iter()
        .map(|r| meson_quote(&r.join("lib/pkgconfig").display().to_string()))
        .collect();
    let mut t = String::from(
        "# meson native file for ukit (written by ukport; docs/recipes.md).\n\
         # uk-cc links images that run on this host, so meson's sanity checks and\n\
         # run() checks work as in a native build.\n\
         [binaries]\n",
    );
    let _ = writeln!(t, "c = {}", meson_quote(&uk_cc.display().to_string()));
    t.push_str(
        "ar = 'ar'\n\
         strip = 'strip'\n\
         pkg-config = 'pkg-config'\n\
         \n\
         [built-in options]\n\
         default_library = 'static'\n\
         prefer_static = true\n\
         \n\
         [properties]\n",
    );
    let _ = writeln!(t, "pkg_config_libdir = [{}]", pc.join(", "));
    t
}

/// Writes (once) the files for `uk_cc` with the sysroot and `ports` (install prefixes),
/// under `<cache>/toolchain/<hash>/`.
pub fn write_files(uk_cc: &Path, sysroot: &Path, ports: &[PathBuf]) -> Result<Files> {
    let mut roots = vec![sysroot.to_path_buf()];
    roots.extend(ports.iter().filter(|p| *p != sysroot).cloned());
    let rules_name = "ukit-rules.cmake";
    let mut h = Sha256::new();
    h.update(uk_cc.as_os_str().as_encoded_bytes());
    for r in &roots {
        h.update([0]);
        h.update(r.as_os_str().as_encoded_bytes());
    }
    h.update(CMAKE_RULES.as_bytes());
    let dir = paths::cache_dir()
        .join("toolchain")
        .join(&hex::encode(h.finalize())[..16]);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let files = Files {
        cmake_toolchain: dir.join("ukit.cmake"),
        meson_native: dir.join("ukit-meson.ini"),
    };
    let rules = dir.join(rules_name);
    for (path, text) in [
        (
            &files.cmake_toolchain,
            cmake_toolchain_text(uk_cc, &roots, &rules),
        ),
        (&rules, CMAKE_RULES.to_string()),
        (&files.meson_native, meson_native_text(uk_cc, &roots)),
    ] {
        if fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
            fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(files)
}

impl Files {
    /// The recipe templates `{cmake_toolchain}` and `{meson_native}`.
    pub fn template_vars(&self) -> std::collections::BTreeMap<String, String> {
        [
            ("cmake_toolchain", &self.cmake_toolchain),
            ("meson_native", &self.meson_native),
        ]
        .into_iter()
        .map(|(k, p)| (k.to_string(), p.display().to_string()))
        .collect()
    }
}

/// The recipe templates for a build with `sysroot` and `ports`, with uk-cc next to the
/// running tool.
pub fn template_vars(
    sysroot: &Path,
    ports: &[PathBuf],
) -> Result<std::collections::BTreeMap<String, String>> {
    let cc = crate::bins::uk_cc()?;
    Ok(write_files(&cc, sysroot, ports)?.template_vars())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmake_file_names_compiler_roots_and_rules() {
        let t = cmake_toolchain_text(
            Path::new("/t/uk-cc"),
            &[
                PathBuf::from("/c/ports/musl"),
                PathBuf::from("/c/ports/zlib"),
            ],
            Path::new("/c/tc/ukit-rules.cmake"),
        );
        assert!(t.contains("set(CMAKE_C_COMPILER [==[/t/uk-cc]==])"), "{t}");
        assert!(
            t.contains("set(CMAKE_FIND_ROOT_PATH [==[/c/ports/musl]==] [==[/c/ports/zlib]==])"),
            "{t}"
        );
        assert!(t.contains("CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY"));
        assert!(t.contains("CMAKE_USER_MAKE_RULES_OVERRIDE [==[/c/tc/ukit-rules.cmake]==]"));
        assert!(CMAKE_RULES.contains("TARGET_SUPPORTS_SHARED_LIBS FALSE"));
    }

    #[test]
    fn meson_file_quotes_and_limits_pkg_config() {
        let t = meson_native_text(Path::new("/t/it's/uk-cc"), &[PathBuf::from("/c/p")]);
        assert!(t.contains("c = '/t/it\\'s/uk-cc'"), "{t}");
        assert!(t.contains("default_library = 'static'"));
        assert!(
            t.contains("pkg_config_libdir = ['/c/p/lib/pkgconfig']"),
            "{t}"
        );
    }
}
