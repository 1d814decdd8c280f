//! The host gcc as uk-cc and the relink recorder see it: its name, the options of its
//! command line that take a separate value, and the paths uk-cc asks it for.
//!
//! A module of its own so that the driver ([`super::cc`]) and the relink recorder
//! ([`super::relink`]) share one reading of gcc's command line without importing each
//! other (docs/architecture.md, "Import cuts: toolchain").

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The host compiler that does the real work.
pub const HOST_CC: &str = "gcc";

/// gcc options whose value may be the next argument (`-o out`, `-I dir`, `-MF file`).
/// Knowing them keeps values from being mistaken for input files.
const SEPARATE_VALUE: &[&str] = &[
    "-o",
    "-x",
    "-I",
    "-L",
    "-l",
    "-D",
    "-U",
    "-A",
    "-B",
    "-e",
    "-T",
    "-u",
    "-z",
    "-include",
    "-imacros",
    "-isystem",
    "-idirafter",
    "-iprefix",
    "-iwithprefix",
    "-iwithprefixbefore",
    "-iquote",
    "-isysroot",
    "-imultilib",
    "-MF",
    "-MT",
    "-MQ",
    "-Xlinker",
    "-Xassembler",
    "-Xpreprocessor",
    "--param",
    "-aux-info",
    "-dumpbase",
    "-dumpbase-ext",
    "-dumpdir",
    "-wrapper",
    "--sysroot",
];

/// True when gcc option `a` takes the next argument as its value (`-o`, `-I`, `-MF`, ...).
pub fn separate_value(a: &str) -> bool {
    SEPARATE_VALUE.contains(&a)
}

/// File name extensions gcc compiles rather than hands to the linker.
const SOURCE_EXTS: &[&str] = &[
    "c", "i", "s", "S", "sx", "cc", "cp", "cxx", "cpp", "c++", "C", "ii", "m", "mi",
];

/// True for an input argument gcc would compile (by its extension).
pub fn is_source(arg: &str) -> bool {
    Path::new(arg)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| SOURCE_EXTS.contains(&e))
}

/// Where `-l NAME` resolves among the user's own `-L` folders (in order), if anywhere.
/// Libraries found only in the sysroot stay `-lNAME`: the relink uses the current sysroot.
pub fn find_user_lib(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    let file = match name.strip_prefix(':') {
        Some(f) => f.to_string(),
        None => format!("lib{name}.a"),
    };
    dirs.iter().map(|d| d.join(&file)).find(|p| p.is_file())
}

/// `-L` folders of a command line, in order.
pub fn lib_dirs(args: &[String]) -> Vec<String> {
    let mut v = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "-L" {
            if let Some(d) = args.get(i + 1) {
                v.push(d.clone());
            }
            i += 1;
        } else if let Some(d) = args[i].strip_prefix("-L") {
            v.push(d.to_string());
        }
        i += 1;
    }
    v
}

/// The library argument `a` names (`-l NAME`, whose NAME is `args[*next]` and is then
/// skipped, or `-lNAME`), if it is one.
pub fn lib_arg(a: &str, args: &[String], next: &mut usize) -> Option<String> {
    if a == "-l" {
        *next += 1;
        args.get(*next - 1).cloned()
    } else {
        a.strip_prefix("-l").map(str::to_string)
    }
}

/// What uk-cc needs to know about the host gcc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GccPaths {
    /// gcc's own header folder (stddef.h, intrinsics), searched after musl's headers.
    pub include: PathBuf,
    pub crtbegin: PathBuf,
    pub crtend: PathBuf,
    pub libgcc: PathBuf,
}

impl GccPaths {
    /// Asks the host gcc.
    pub fn query() -> Result<GccPaths> {
        Ok(GccPaths {
            include: gcc_include()?,
            crtbegin: gcc_output(&["-print-file-name=crtbeginT.o"])?.into(),
            crtend: gcc_output(&["-print-file-name=crtend.o"])?.into(),
            libgcc: gcc_output(&["-print-libgcc-file-name"])?.into(),
        })
    }
}

/// gcc's own include folder (the only gcc query a compile needs).
pub fn gcc_include() -> Result<PathBuf> {
    Ok(gcc_output(&["-print-file-name=include"])?.into())
}

/// Runs the host gcc with `args` and returns what it printed, trimmed.
pub fn gcc_output(args: &[&str]) -> Result<String> {
    let out = Command::new(HOST_CC)
        .args(args)
        .output()
        .with_context(|| format!("running {HOST_CC} (uk-cc needs the host gcc; install it)"))?;
    if !out.status.success() {
        bail!(
            "{HOST_CC} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}
