//! `uk-cc`: a drop-in C compiler driver. Compiling goes to the host gcc against the ukit
//! sysroot (musl headers only, so no glibc header leaks in); linking produces an image for
//! the selected platform (linuxu by default: a static Linux ELF whose kernel is ukit), so a
//! configure script that compiles and runs a test program keeps working.
//!
//! gcc's command line is not clap-shaped (joined and separate option values, order-sensitive
//! inputs and libraries), so it is classified by hand here. The classification and the
//! command construction are pure functions ([`parse`], [`compile_command`],
//! [`link_command`]); [`run`] adds the side effects (gcc queries, sysroot, kernel, exec).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};

use super::gcc::{gcc_include, gcc_output, separate_value, GccPaths, HOST_CC};
use super::sysroot::Sysroot;
use crate::platform::{Platform, PlatformError};

/// What `-dumpmachine` answers: the code uk-cc produces runs on musl's x86_64 ABI.
pub const TARGET_TRIPLE: &str = "x86_64-linux-musl";

/// The image entry point provided by the platform code in `libuk.a`.
pub const ENTRY: &str = "_uk_start";

/// Options that ask the compiler about itself; without inputs they are the whole job.
fn is_info(arg: &str) -> bool {
    let a = arg.strip_prefix('-').unwrap_or(arg);
    a.starts_with("-print-")
        || a.starts_with("print-")
        || matches!(
            arg,
            "-dumpmachine"
                | "-dumpversion"
                | "-dumpfullversion"
                | "-dumpspecs"
                | "--version"
                | "-v"
                | "--help"
                | "--target-help"
                | "-###"
        )
        || arg.starts_with("--help=")
}

/// Errors in the command line that uk-cc reports itself (exit status 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error(
        "-shared: ukit images are statically linked unikernels; build a static library (ar) instead"
    )]
    Shared,
    #[error("{0}: ukit images are x86_64 (64-bit) only")]
    Arch(String),
    #[error(
        "unknown ukit flag {0} (ukit flags: --uk-plat=PLAT, --uk-kernel=LIBUK.A, --uk-set=OPTION=VALUE, --uk-config=FILE, --uk-program, --uk-verbose, --uk-completions=SHELL)"
    )]
    UnknownUkFlag(String),
    #[error("{0} needs a value, e.g. {0}=VALUE")]
    MissingValue(String),
    #[error(transparent)]
    Plat(#[from] PlatformError),
}

/// What this invocation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Compile (if given sources) and link an image.
    Link,
    /// Stop before linking: -c, -S, -E, -M, -MM, -fsyntax-only (and calls without inputs,
    /// which gcc answers with its own error); also a partial link (-r: objects into one
    /// relocatable object, as Kbuild's `built-in.o`), which needs no crt, libc or kernel.
    NoLink,
    /// Only queries (-print-*, -dumpmachine, --version, -v, ...) and no inputs.
    Info,
}

/// ukit's own flags (all start with `--uk-`), before the environment is consulted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UkFlags {
    pub plat: Option<String>,
    pub kernel: Option<PathBuf>,
    /// `--uk-set OPTION=VALUE` (repeatable): kernel options over the defaults, e.g.
    /// `lib.net=true`; after those of `$UK_CONFIG_SET`, so the command line wins.
    pub set: Vec<String>,
    /// `--uk-config FILE`: kernel option settings (a TOML document of `"option" =
    /// value`, as `ukport menuconfig` saves), after `$UK_CONFIG_FILE`'s.
    pub config: Option<PathBuf>,
    pub verbose: bool,
    /// `--uk-program` (or `UK_PROGRAM=1`): build a program file that a running image
    /// loads with execve (position-independent code, a static-PIE link without a
    /// kernel; docs/processes.md) instead of an image.
    pub program: bool,
    /// `--uk-completions=SHELL`: print a completion script for uk-cc's own flags.
    pub completions: Option<String>,
}

/// A classified command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub uk: UkFlags,
    pub mode: Mode,
    /// The user's gcc arguments in their order, minus `-o OUT`, ukit flags, info options
    /// and the link flags that make no sense for an image (-rdynamic, -pie).
    pub args: Vec<String>,
    /// The `-o` value, if any.
    pub output: Option<String>,
    /// Info options in their order (only acted on in [`Mode::Info`]).
    pub infos: Vec<String>,
    /// The user chose position-independent code (-fPIC, -fpic, -fPIE, -fpie).
    pub pic: bool,
    /// `-x LANG` appeared: files we append after the user's arguments need `-x none`.
    pub uses_x: bool,
    /// `-nostartfiles`: leave out the crt objects.
    pub no_startfiles: bool,
    /// `-l` names in order (`-lz` gives `z`, `-l:libz.a` gives `:libz.a`).
    pub libs: Vec<String>,
    /// `-L` directories in order.
    pub lib_dirs: Vec<String>,
    /// One-line warnings to print before running gcc.
    pub warnings: Vec<String>,
}

/// Classifies gcc's command line (without argv\[0\]).
pub fn parse(args: &[String]) -> Result<Parsed, UsageError> {
    let mut p = Parsed {
        uk: UkFlags::default(),
        mode: Mode::NoLink,
        args: Vec::new(),
        output: None,
        infos: Vec::new(),
        pic: false,
        uses_x: false,
        no_startfiles: false,
        libs: Vec::new(),
        lib_dirs: Vec::new(),
        warnings: Vec::new(),
    };
    let mut stop_before_link = false;
    let mut inputs = 0usize;
    let mut shared = false;
    let mut dropped_pie = false;

    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;

        if let Some(uk) = a.strip_prefix("--uk-") {
            let (name, value) = match uk.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (uk, None),
            };
            let flag = format!("--uk-{name}");
            match name {
                "plat" | "kernel" | "set" | "config" | "completions" => {
                    let v = match value {
                        Some(v) => v,
                        None if i < args.len() && !args[i].starts_with('-') => {
                            i += 1;
                            args[i - 1].clone()
                        }
                        None => String::new(),
                    };
                    if v.is_empty() {
                        return Err(UsageError::MissingValue(flag));
                    }
                    if name == "plat" {
                        p.uk.plat = Some(v);
                    } else if name == "set" {
                        p.uk.set.push(v);
                    } else if name == "config" {
                        p.uk.config = Some(PathBuf::from(v));
                    } else if name == "completions" {
                        p.uk.completions = Some(v);
                    } else {
                        p.uk.kernel = Some(PathBuf::from(v));
                    }
                }
                "verbose" if value.is_none() => p.uk.verbose = true,
                "program" if value.is_none() => p.uk.program = true,
                _ => return Err(UsageError::UnknownUkFlag(a.into())),
            }
            continue;
        }

        if a == "-" || !a.starts_with('-') {
            // An input file ("-" is stdin; "@file" is a response file that may hold any).
            inputs += 1;
            p.args.push(a.into());
            continue;
        }

        if separate_value(a) {
            let value = args.get(i).cloned();
            if value.is_some() {
                i += 1;
            }
            match (a, value) {
                ("-o", Some(v)) => p.output = Some(v),
                ("-o", None) => p.args.push(a.into()), // gcc reports the missing name
                (_, None) => p.args.push(a.into()),
                (opt, Some(v)) => {
                    match opt {
                        "-x" => p.uses_x = true,
                        "-l" => {
                            inputs += 1;
                            p.libs.push(v.clone());
                        }
                        "-L" => p.lib_dirs.push(v.clone()),
                        _ => {}
                    }
                    p.args.push(opt.into());
                    p.args.push(v);
                }
            }
            continue;
        }

        if is_info(a) {
            p.infos.push(a.into());
            continue;
        }

        match a {
            "-c" | "-S" | "-E" | "-M" | "-MM" | "-fsyntax-only" => stop_before_link = true,
            // A partial link: gcc passes it to ld with no start files and no libraries.
            "-r" | "-relocatable" | "-Wl,-r" | "-Wl,--relocatable" => stop_before_link = true,
            "-fPIC" | "-fpic" | "-fPIE" | "-fpie" => p.pic = true,
            "-fno-PIC" | "-fno-pic" | "-fno-PIE" | "-fno-pie" => p.pic = false,
            "-m32" | "-mx32" | "-m16" => return Err(UsageError::Arch(a.into())),
            "-shared" => {
                shared = true;
                continue;
            }
            // Exporting symbols for a dynamic loader means nothing in a static image.
            "-rdynamic" => continue,
            "-pie" | "-static-pie" => {
                dropped_pie = true;
                continue;
            }
            "-nostartfiles" => p.no_startfiles = true,
            _ => {}
        }
        if let Some(v) = a.strip_prefix("-o") {
            p.output = Some(v.into());
            continue;
        }
        if a.starts_with("-x") {
            p.uses_x = true;
        } else if let Some(v) = a.strip_prefix("-l") {
            inputs += 1;
            p.libs.push(v.into());
        } else if let Some(v) = a.strip_prefix("-L") {
            p.lib_dirs.push(v.into());
        }
        p.args.push(a.into());
    }

    p.mode = if stop_before_link {
        Mode::NoLink
    } else if inputs == 0 && !p.infos.is_empty() {
        Mode::Info
    } else if inputs == 0 {
        Mode::NoLink
    } else {
        Mode::Link
    };
    if p.mode != Mode::Info {
        // With inputs, queries like -v are ordinary gcc flags again.
        let infos = std::mem::take(&mut p.infos);
        p.args.extend(infos);
    }
    if p.mode == Mode::Link {
        if shared {
            return Err(UsageError::Shared);
        }
        if dropped_pie && !p.uk.program {
            p.warnings.push(
                "uk-cc: warning: ignoring -pie: ukit images are static non-PIE executables".into(),
            );
        }
    }
    Ok(p)
}

/// The platform to build for: `--uk-plat`, else `$UK_PLAT`, else the default (linuxu).
pub fn resolve_plat(flag: Option<&str>, env: Option<&str>) -> Result<Platform, UsageError> {
    match flag.or(env.filter(|s| !s.is_empty())) {
        Some(name) => Ok(name.parse()?),
        None => Ok(Platform::DEFAULT),
    }
}

/// Whether an environment flag such as `UK_VERBOSE` is switched on.
pub fn env_flag(v: Option<&str>) -> bool {
    matches!(v, Some(s) if !s.is_empty() && s != "0")
}

/// Flags that go before the user's: musl headers first, then gcc's own; code for a static
/// non-PIE image; stack protection.
pub fn compile_flags(sysroot: &Sysroot, gcc_include: &Path, pic: bool) -> Vec<String> {
    let mut v = vec![
        "-nostdinc".to_string(),
        "-isystem".into(),
        path_str(&sysroot.include()),
        "-isystem".into(),
        path_str(gcc_include),
    ];
    if !pic {
        v.push("-fno-pie".into());
    }
    v.push("-fstack-protector-strong".into());
    v
}

/// Flags that go after the user's so that they win: musl has no fortify headers, and a
/// `_FORTIFY_SOURCE` from CFLAGS must not select glibc-only `__*_chk` paths.
const TRAILING_COMPILE_FLAGS: &[&str] = &["-U_FORTIFY_SOURCE"];

/// The gcc argv (without "gcc") for a call that stops before linking.
pub fn compile_command(p: &Parsed, sysroot: &Sysroot, gcc_include: &Path) -> Vec<String> {
    let mut v = compile_flags(sysroot, gcc_include, p.pic);
    if p.uk.program {
        v.push("-fPIE".into());
    }
    if let Some(o) = &p.output {
        v.push("-o".into());
        v.push(o.clone());
    }
    v.extend(p.args.iter().cloned());
    v.extend(TRAILING_COMPILE_FLAGS.iter().map(|s| s.to_string()));
    v
}

/// The gcc argv (without "gcc") that compiles (if needed) and links a linuxu image:
/// crt objects around the user's inputs in their order, then musl, the kernel and libgcc in
/// one group (libc calls `uk_syscall` in the kernel, the kernel calls `memcpy` in libc).
pub fn link_command(p: &Parsed, sysroot: &Sysroot, gcc: &GccPaths, kernel: &Path) -> Vec<String> {
    let mut v = compile_flags(sysroot, &gcc.include, p.pic);
    v.extend(["-static", "-nostdlib", "-no-pie", "-o"].map(String::from));
    v.push(p.output.clone().unwrap_or_else(|| "a.out".into()));
    if !p.no_startfiles {
        v.push(path_str(&sysroot.crti()));
        v.push(path_str(&gcc.crtbegin));
    }
    v.extend(p.args.iter().cloned());
    v.extend(TRAILING_COMPILE_FLAGS.iter().map(|s| s.to_string()));
    if p.uses_x {
        v.push("-x".into());
        v.push("none".into());
    }
    v.push(format!("-L{}", path_str(&sysroot.lib())));
    v.push("-Wl,--start-group".into());
    v.push(path_str(kernel));
    v.push(path_str(&sysroot.libc_a()));
    v.push(path_str(&gcc.libgcc));
    v.push("-Wl,--end-group".into());
    if !p.no_startfiles {
        v.push(path_str(&gcc.crtend));
        v.push(path_str(&sysroot.crtn()));
    }
    v.push(format!("-Wl,-e,{ENTRY}"));
    v.push(format!("-Wl,-u,{ENTRY}"));
    // The kernel's boot calls `main`, but libuk.a comes after the user's archives, so a
    // `main` that lives in one (OpenSSL's test programs: libtestutil.a) would not be
    // pulled in. A C runtime's crt1.o, first on the line, references it; so do we.
    v.push("-Wl,-u,main".into());
    v.push("-Wl,--gc-sections".into());
    v.push("-Wl,-z,noexecstack".into());
    v
}

/// The program-file side of the kernel entry (posix/src/exec.rs): a section
/// `.uk_entries` holding a magic word ("ukitENT1"), the number of slots, and one slot
/// per kernel entry, which execve fills; musl's calls to `uk_syscall`, `__uk_clone`
/// and `__uk_unmapself` jump through them.
pub const PROGRAM_ENTRIES_ASM: &str = r#"/* uk-cc --uk-program: kernel entries, filled by the loader (docs/processes.md) */
	.section .uk_entries,"aw"
	.balign 8
__uk_entries:
	.ascii "ukitENT1"
	.quad 3
__uk_slot_syscall:
	.quad 0
__uk_slot_clone:
	.quad 0
__uk_slot_unmapself:
	.quad 0
	.text
	.globl uk_syscall
	.type uk_syscall,@function
uk_syscall:
	jmp *__uk_slot_syscall(%rip)
	.size uk_syscall, .-uk_syscall
	.globl __uk_clone
	.type __uk_clone,@function
__uk_clone:
	jmp *__uk_slot_clone(%rip)
	.size __uk_clone, .-__uk_clone
	.globl __uk_unmapself
	.type __uk_unmapself,@function
__uk_unmapself:
	jmp *__uk_slot_unmapself(%rip)
	.size __uk_unmapself, .-__uk_unmapself
	.section .note.GNU-stack,"",@progbits
"#;

/// The gcc argv (without "gcc") that compiles (if needed) and links a program file:
/// a static-PIE executable with musl's self-relocating start (rcrt1.o), the user's
/// inputs, the kernel entry slots (`entries`: a file holding [`PROGRAM_ENTRIES_ASM`])
/// and musl, without a kernel: the image that loads it provides one.
pub fn program_link_command(
    p: &Parsed,
    sysroot: &Sysroot,
    gcc: &GccPaths,
    entries: &Path,
) -> Vec<String> {
    let mut v = compile_flags(sysroot, &gcc.include, true);
    v.push("-fPIE".into());
    v.extend(["-static-pie", "-nostdlib", "-o"].map(String::from));
    v.push(p.output.clone().unwrap_or_else(|| "a.out".into()));
    let crtbegin_s = gcc.crtbegin.with_file_name("crtbeginS.o");
    let crtend_s = gcc.crtend.with_file_name("crtendS.o");
    if !p.no_startfiles {
        v.push(path_str(&sysroot.lib().join("rcrt1.o")));
        v.push(path_str(&sysroot.crti()));
        v.push(path_str(&crtbegin_s));
    }
    v.extend(p.args.iter().cloned());
    v.extend(TRAILING_COMPILE_FLAGS.iter().map(|s| s.to_string()));
    if p.uses_x {
        v.push("-x".into());
        v.push("none".into());
    }
    v.push(path_str(entries));
    v.push(format!("-L{}", path_str(&sysroot.lib())));
    v.push("-Wl,--start-group".into());
    v.push(path_str(&sysroot.libc_a()));
    v.push(path_str(&gcc.libgcc));
    v.push("-Wl,--end-group".into());
    if !p.no_startfiles {
        v.push(path_str(&crtend_s));
        v.push(path_str(&sysroot.crtn()));
    }
    v.push("-Wl,--gc-sections".into());
    v.push("-Wl,-z,noexecstack".into());
    v
}

/// `-l` names that resolve in none of the allowed folders. The host's own library folders
/// are deliberately not allowed: their libraries are built against glibc and would be
/// linked silently by gcc's default search path.
pub fn unresolved_libs(libs: &[String], dirs: &[PathBuf]) -> Vec<String> {
    libs.iter()
        .filter(|name| {
            let file = match name.strip_prefix(':') {
                Some(f) => f.to_string(),
                None => format!("lib{name}.a"),
            };
            !dirs.iter().any(|d| d.join(&file).is_file())
        })
        .cloned()
        .collect()
}

/// The `--version` text: gcc's, with a first line naming uk-cc (and still ending in gcc's
/// version number, which is what build systems parse).
pub fn version_text(gcc_version: &str) -> String {
    let mut lines = gcc_version.lines();
    let first = lines.next().unwrap_or_default();
    let number = first.split_whitespace().last().unwrap_or("unknown");
    let mut out = format!("uk-cc (ukit {}) {number}\n", env!("CARGO_PKG_VERSION"));
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// Quotes `s` for a shell when printing commands (`--uk-verbose`).
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Runs the whole driver and returns the exit status.
pub fn run(args: Vec<OsString>) -> Result<i32> {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|a| anyhow!("argument {a:?} is not valid UTF-8"))
        })
        .collect::<Result<_>>()?;
    let p = match parse(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("uk-cc: error: {e}");
            return Ok(1);
        }
    };
    if let Some(shell) = &p.uk.completions {
        return completions(shell, &mut std::io::stdout());
    }
    let env = |k: &str| std::env::var(k).ok();
    let plat = match resolve_plat(p.uk.plat.as_deref(), env("UK_PLAT").as_deref()) {
        Ok(plat) => plat,
        Err(e) => {
            eprintln!("uk-cc: error: {e}");
            return Ok(1);
        }
    };
    let verbose = p.uk.verbose || env_flag(env("UK_VERBOSE").as_deref());
    let mut p = p;
    if env_flag(env("UK_PROGRAM").as_deref()) {
        p.uk.program = true;
    }
    if p.uk.program {
        // Program files are position-independent (a static-PIE link).
        p.pic = true;
    }
    for w in &p.warnings {
        eprintln!("{w}");
    }

    match p.mode {
        Mode::Info => run_infos(&p, verbose),
        Mode::NoLink => {
            let sysroot = Sysroot::ensure()?;
            let argv = compile_command(&p, &sysroot, &gcc_include()?);
            exec_gcc(&argv, verbose)
        }
        Mode::Link if p.uk.program => link_program(&p, verbose),
        Mode::Link => {
            // `-v` goes to gcc as well; what uk-cc chose is part of what it asks for.
            let explain = verbose || p.args.iter().any(|a| a == "-v");
            link(&p, plat, verbose, explain)
        }
    }
}

/// Links a program file (`--uk-program`): no kernel, no relink record.
fn link_program(p: &Parsed, verbose: bool) -> Result<i32> {
    let sysroot = Sysroot::ensure()?;
    let gcc = GccPaths::query()?;
    let dir = super::relink::store_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let entries = dir.join("uk-program-entries.s");
    if std::fs::read_to_string(&entries).ok().as_deref() != Some(PROGRAM_ENTRIES_ASM) {
        // Written beside and renamed: concurrent links never read half a file.
        let tmp = tempfile::NamedTempFile::new_in(&dir)?;
        std::fs::write(tmp.path(), PROGRAM_ENTRIES_ASM)?;
        tmp.persist(&entries)
            .map_err(|e| anyhow!("cannot write {}: {}", entries.display(), e.error))?;
    }
    exec_gcc(&program_link_command(p, &sysroot, &gcc, &entries), verbose)
}

/// Where the kernel of a link comes from: given (`--uk-kernel`, `$UK_KERNEL`), or
/// resolved from the program's needs and the configuration settings.
fn given_kernel(p: &Parsed) -> Result<Option<PathBuf>> {
    let from_env = std::env::var("UK_KERNEL").ok().filter(|s| !s.is_empty());
    match p.uk.kernel.clone().or_else(|| from_env.map(PathBuf::from)) {
        Some(k) if k.is_file() => Ok(Some(k)),
        Some(k) => bail!(
            "kernel {} does not exist (from --uk-kernel or UK_KERNEL); unset it to use \
             the default kernel",
            k.display()
        ),
        None => Ok(None),
    }
}

/// The configuration settings of a link, lowest first: `$UK_CONFIG_FILE`,
/// `--uk-config FILE`, `$UK_CONFIG_SET` (space-separated OPTION=VALUE), `--uk-set`.
/// The program's needs go below all of them (see [`super::config::resolve_link`]).
fn setting_layers(p: &Parsed) -> Result<Vec<uk_kconfig::Layer>> {
    let schema = super::config::schema()?;
    let mut layers = Vec::new();
    let env_file = std::env::var("UK_CONFIG_FILE")
        .ok()
        .filter(|s| !s.is_empty());
    for file in env_file
        .iter()
        .map(PathBuf::from)
        .chain(p.uk.config.clone())
    {
        layers.push(super::config::file_layer(&file)?);
    }
    let env_sets: Vec<String> = std::env::var("UK_CONFIG_SET")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    for (origin, sets) in [("UK_CONFIG_SET", &env_sets), ("--uk-set", &p.uk.set)] {
        if !sets.is_empty() {
            let mut l =
                uk_kconfig::Layer::from_set(&schema, sets).map_err(|e| anyhow!("{origin}: {e}"))?;
            l.origin = origin.to_string();
            layers.push(l);
        }
    }
    Ok(layers)
}

/// Links an image: sources on the command line are compiled to objects first, the
/// objects and archives are read for the kernel options the program needs
/// ([`super::needs`]), the kernel for those and the configuration settings is built
/// if needed, then gcc links. The link is recorded for `ukport` to repeat (see
/// [`super::relink`]) unless `$UK_RELINK_MANIFEST` is `0`.
fn link(p: &Parsed, plat: Platform, verbose: bool, explain: bool) -> Result<i32> {
    use super::{needs, relink};
    let sysroot = Sysroot::ensure()?;
    let gcc = GccPaths::query()?;
    let mut dirs: Vec<PathBuf> = p.lib_dirs.iter().map(PathBuf::from).collect();
    dirs.push(sysroot.lib());
    if let Some(d) = gcc.libgcc.parent() {
        dirs.push(d.to_path_buf());
    }
    if let Some(lp) = std::env::var_os("LIBRARY_PATH") {
        dirs.extend(std::env::split_paths(&lp));
    }
    let missing = unresolved_libs(&p.libs, &dirs);
    if !missing.is_empty() {
        for m in missing {
            eprintln!(
                "uk-cc: error: cannot find -l{m}: it is neither in the ukit sysroot ({}) \
                 nor in a -L folder (host libraries are built for glibc and cannot go \
                 into an image; build the library with uk-cc and pass -L)",
                sysroot.lib().display()
            );
        }
        return Ok(1);
    }
    let record = std::env::var(relink::ENV_RECORD).as_deref() != Ok("0");
    let output = p.output.clone().unwrap_or_else(|| "a.out".into());
    let manifest = relink::manifest_path(Path::new(&output));
    if record {
        // A stale manifest must never describe a newer image.
        let _ = std::fs::remove_file(&manifest);
    }

    // Sources become objects first: the objects are what is read for needs and what
    // a recorded link stores. Commands that cannot be split (`-x`, stdin, response
    // files) link as given, and only their object inputs are read.
    let store_at = relink::store_dir();
    let tmp_root = store_at.join("tmp");
    std::fs::create_dir_all(&tmp_root)
        .with_context(|| format!("cannot create {}", tmp_root.display()))?;
    let tmp = tempfile::tempdir_in(&tmp_root)
        .with_context(|| format!("cannot create a folder in {}", tmp_root.display()))?;
    let units = relink::compile_units(&p.args, p.uses_x);
    let link_args = match &units {
        Some((sources, opts)) => {
            let split = relink::split_sources(&p.args, sources, tmp.path(), |src, obj| {
                let mut unit = p.clone();
                unit.args = opts.clone();
                unit.args.extend(["-c".to_string(), src.to_string()]);
                unit.output = Some(path_str(obj));
                gcc_status(&compile_command(&unit, &sysroot, &gcc.include), verbose)
            })?;
            match split {
                Ok(a) => a,
                Err(code) => return Ok(code),
            }
        }
        None => p.args.clone(),
    };

    let cwd = std::env::current_dir()?;
    let given = given_kernel(p)?;
    let scan = needs::scan(&needs::link_inputs(&link_args, &cwd));
    let mut found = needs::needs(&super::config::schema()?, &scan);
    // Name what the user wrote: the source for an object compiled here, else the path
    // relative to the folder of the link.
    for n in &mut found {
        let source = units.as_ref().and_then(|(sources, _)| {
            sources
                .iter()
                .find(|&&i| cwd.join(&link_args[i]).display().to_string() == n.file)
                .map(|&i| p.args[i].clone())
        });
        n.file = match source {
            Some(src) => src,
            None => n
                .file
                .strip_prefix(&format!("{}/", cwd.display()))
                .unwrap_or(&n.file)
                .to_string(),
        };
    }
    if explain {
        for (file, why) in &scan.unreadable {
            eprintln!(
                "uk-cc: cannot read {} for the functions it calls ({why})",
                file.display()
            );
        }
    }
    let kernel = match given {
        Some(k) => {
            if explain {
                eprintln!("uk-cc: kernel {} (given; no options chosen)", k.display());
            }
            super::config::warn_missing_needs(&k, &found);
            k
        }
        None => {
            let resolved = super::config::resolve_link(&found, &setting_layers(p)?)?;
            let k = super::kernel::ensure(plat, &resolved)?;
            if explain {
                for line in super::config::explain(&resolved, &found) {
                    eprintln!("uk-cc: {line}");
                }
                eprintln!("uk-cc: kernel {} ({plat})", k.display());
            }
            k
        }
    };

    let mut linked = p.clone();
    linked.args = link_args;
    let mut argv = link_command(&linked, &sysroot, &gcc, &kernel);
    argv.extend(plat.link_flags(&crate::paths::repo_root()));
    if units.is_none() {
        // Nothing to record and no objects of ours to clean up: gcc takes over.
        drop(tmp);
        return exec_gcc(&argv, verbose);
    }
    let code = gcc_status(&argv, verbose)?;
    if code != 0 || !record {
        return Ok(code);
    }
    let recorded = relink::record(
        &cwd,
        plat,
        &output,
        &p.args,
        &linked.args,
        &std::path::absolute(&kernel)?,
        &store_at,
    )
    .and_then(|mut m| {
        m.needs = found;
        m.write(&manifest)
    });
    if let Err(e) = recorded {
        // The image is fine; only a later relink is lost, so this is not a failure.
        eprintln!("uk-cc: warning: no relink manifest for {output}: {e:#}");
    }
    Ok(0)
}

/// uk-cc's own flags as a clap command, for completion scripts only: the rest of its
/// command line is gcc's, which [`parse`] reads by hand (see the module comment).
pub fn ukit_flags_command() -> clap::Command {
    use clap::{Arg, ArgAction, ValueHint};
    let plats: Vec<&'static str> = Platform::ALL.iter().map(|p| p.name()).collect();
    clap::Command::new("uk-cc")
        .about("drop-in C compiler whose output is a ukit image (gcc's options, plus these)")
        .arg(
            Arg::new("uk-plat")
                .long("uk-plat")
                .value_name("PLAT")
                .value_parser(clap::builder::PossibleValuesParser::new(plats))
                .help("platform of the image"),
        )
        .arg(
            Arg::new("uk-kernel")
                .long("uk-kernel")
                .value_name("LIBUK.A")
                .value_hint(ValueHint::FilePath)
                .help("link this kernel instead of choosing one"),
        )
        .arg(
            Arg::new("uk-set")
                .long("uk-set")
                .value_name("OPTION=VALUE")
                .action(ArgAction::Append)
                .help("set a kernel option (repeatable)"),
        )
        .arg(
            Arg::new("uk-config")
                .long("uk-config")
                .value_name("FILE")
                .value_hint(ValueHint::FilePath)
                .help("kernel option settings from a file"),
        )
        .arg(
            Arg::new("uk-verbose")
                .long("uk-verbose")
                .action(ArgAction::SetTrue)
                .help("print gcc's commands and the kernel choice"),
        )
        .arg(
            Arg::new("uk-program")
                .long("uk-program")
                .action(ArgAction::SetTrue)
                .help("build a program file an image runs with execve (static-PIE, no kernel)"),
        )
        .arg(
            Arg::new("uk-completions")
                .long("uk-completions")
                .value_name("SHELL")
                .value_parser(clap::value_parser!(clap_complete::Shell))
                .help("print a completion script"),
        )
        .arg(
            Arg::new("inputs")
                .num_args(0..)
                .value_hint(ValueHint::FilePath)
                .allow_hyphen_values(true),
        )
}

/// Writes the completion script for `shell` (bash, zsh, fish, elvish, powershell).
pub fn completions(shell: &str, out: &mut dyn std::io::Write) -> Result<i32> {
    let Ok(sh) = shell.parse::<clap_complete::Shell>() else {
        eprintln!("uk-cc: error: unknown shell `{shell}` (bash, zsh, fish, elvish, powershell)");
        return Ok(1);
    };
    let mut script = Vec::new();
    clap_complete::generate(sh, &mut ukit_flags_command(), "uk-cc", &mut script);
    match out.write_all(&script) {
        // `uk-cc --uk-completions=bash | head`: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        r => r.map(|_| 0).context("writing the completion script"),
    }
}

/// Answers the queries in order; those that are not ukit's business go to gcc.
fn run_infos(p: &Parsed, verbose: bool) -> Result<i32> {
    use std::io::Write;
    for info in &p.infos {
        let norm = info.strip_prefix("--print-").map(|r| format!("-print-{r}"));
        let info_n = norm.as_deref().unwrap_or(info);
        match info_n {
            "-dumpmachine" => println!("{TARGET_TRIPLE}"),
            // musl has no Debian multiarch folder; gcc's x86_64-linux-gnu would contradict
            // -dumpmachine (Python's configure compares the two).
            "-print-multiarch" => println!(),
            "--version" => print!("{}", version_text(&gcc_output(&["--version"])?)),
            _ => {
                if let Some(name) = info_n.strip_prefix("-print-file-name=") {
                    if let Some(found) = Sysroot::ensure()?.find_lib_file(name) {
                        println!("{}", found.display());
                        continue;
                    }
                }
                std::io::stdout().flush()?;
                let mut argv = p.args.clone();
                argv.push(info.clone());
                let code = gcc_status(&argv, verbose)?;
                if code != 0 {
                    return Ok(code);
                }
            }
        }
    }
    Ok(0)
}

fn print_command(argv: &[String]) {
    let mut line = String::from(HOST_CC);
    for a in argv {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    eprintln!("uk-cc: {line}");
}

/// Runs gcc with `argv` as a child (its command printed with `--uk-verbose`) and
/// returns its exit code.
fn gcc_status(argv: &[String], verbose: bool) -> Result<i32> {
    if verbose {
        print_command(argv);
    }
    let status = Command::new(HOST_CC)
        .args(argv)
        .status()
        .with_context(|| format!("running {HOST_CC} (uk-cc needs the host gcc; install it)"))?;
    Ok(exit_code(status))
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Replaces this process with gcc, so that its status, signals and output are the user's.
fn exec_gcc(argv: &[String], verbose: bool) -> Result<i32> {
    use std::os::unix::process::CommandExt;
    if verbose {
        print_command(argv);
    }
    let err = Command::new(HOST_CC).args(argv).exec();
    Err(anyhow!(err)).context(format!(
        "running {HOST_CC} (uk-cc needs the host gcc; install it)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn parse_s(s: &str) -> Parsed {
        parse(&sv(s)).unwrap()
    }

    fn gcc_paths() -> GccPaths {
        GccPaths {
            include: "/gcc/include".into(),
            crtbegin: "/gcc/crtbeginT.o".into(),
            crtend: "/gcc/crtend.o".into(),
            libgcc: "/gcc/libgcc.a".into(),
        }
    }

    #[test]
    fn modes() {
        assert_eq!(parse_s("-c foo.c").mode, Mode::NoLink);
        assert_eq!(parse_s("-S foo.c").mode, Mode::NoLink);
        assert_eq!(parse_s("-E -x c -").mode, Mode::NoLink);
        assert_eq!(parse_s("-M foo.c").mode, Mode::NoLink);
        assert_eq!(parse_s("-MM foo.c").mode, Mode::NoLink);
        assert_eq!(parse_s("-fsyntax-only foo.c").mode, Mode::NoLink);
        // Kbuild's partial link (`$(CC) -nostdlib -r -o built-in.o a.o b.o`): no image,
        // and in a program build no -static-pie (ld refuses -r with -pie).
        let mut r = parse_s("-nostdlib -r -o built-in.o a.o b.o");
        assert_eq!(r.mode, Mode::NoLink);
        (r.uk.program, r.pic) = (true, true); // as main() sets them for a program
        let sys = Sysroot::at("/musl");
        let argv = compile_command(&r, &sys, Path::new("/gcc/include"));
        assert!(
            argv.contains(&"-r".into()) && !argv.iter().any(|a| a.contains("pie") && a != "-fPIE")
        );
        assert_eq!(parse_s("-MD -MF foo.d foo.c").mode, Mode::Link);
        assert_eq!(parse_s("-MMD -c foo.c").mode, Mode::NoLink);
        assert_eq!(parse_s("foo.c").mode, Mode::Link);
        assert_eq!(parse_s("foo.o bar.o -o app").mode, Mode::Link);
        assert_eq!(parse_s("-lfoo").mode, Mode::Link);
        assert_eq!(parse_s("--version").mode, Mode::Info);
        assert_eq!(parse_s("-v").mode, Mode::Info);
        assert_eq!(parse_s("-dumpmachine").mode, Mode::Info);
        assert_eq!(parse_s("-O2 -print-file-name=libc.a").mode, Mode::Info);
        assert_eq!(parse_s("--print-multiarch").mode, Mode::Info);
        // No inputs and no query: gcc says "no input files".
        assert_eq!(parse_s("-O2").mode, Mode::NoLink);
        assert_eq!(parse(&[]).unwrap().mode, Mode::NoLink);
    }

    #[test]
    fn info_options_with_inputs_go_to_gcc() {
        let p = parse_s("-v foo.c -o foo");
        assert_eq!(p.mode, Mode::Link);
        assert!(p.infos.is_empty());
        assert_eq!(p.args, sv("foo.c -v"));
        let p = parse_s("-print-file-name=libc.a -dumpmachine");
        assert_eq!(p.infos, sv("-print-file-name=libc.a -dumpmachine"));
        assert!(p.args.is_empty());
    }

    #[test]
    fn option_values_are_not_inputs() {
        // Each value would be an input file if its option were not known to take one.
        let p = parse_s("-c -o out.o -MF dep.d -MT tgt -include cfg.h -x c -I inc -D X foo.c");
        assert_eq!(p.output.as_deref(), Some("out.o"));
        assert!(p.uses_x);
        assert_eq!(
            p.args,
            sv("-c -MF dep.d -MT tgt -include cfg.h -x c -I inc -D X foo.c")
        );
        // Only -M-family values: still no inputs, so gcc gets to complain.
        assert_eq!(parse_s("-MF dep.d -MT x").mode, Mode::NoLink);
    }

    #[test]
    fn output_joined_and_missing() {
        assert_eq!(parse_s("foo.c -oapp").output.as_deref(), Some("app"));
        let p = parse_s("foo.c -o");
        assert_eq!(p.output, None);
        assert_eq!(p.args, sv("foo.c -o"), "gcc reports the missing file name");
    }

    #[test]
    fn libraries_and_dirs_are_recorded_in_order() {
        let p = parse_s("a.o -L libs -lfoo -l bar -Lother -l:libx.a -Wl,--as-needed");
        assert_eq!(p.libs, sv("foo bar :libx.a"));
        assert_eq!(p.lib_dirs, sv("libs other"));
        assert_eq!(
            p.args,
            sv("a.o -L libs -lfoo -l bar -Lother -l:libx.a -Wl,--as-needed")
        );
    }

    #[test]
    fn ukit_flags() {
        let p = parse_s("--uk-plat=linuxu --uk-kernel=/k/libuk.a --uk-verbose foo.c");
        assert_eq!(p.uk.plat.as_deref(), Some("linuxu"));
        assert_eq!(p.uk.kernel.as_deref(), Some(Path::new("/k/libuk.a")));
        assert!(p.uk.verbose);
        assert_eq!(p.args, sv("foo.c"));
        assert_eq!(
            parse_s("--uk-plat linuxu x.c").uk.plat.as_deref(),
            Some("linuxu")
        );
        let s = parse_s("--uk-set=lib.net=true --uk-set alloc.kind=tlsf x.c");
        assert_eq!(s.uk.set, sv("lib.net=true alloc.kind=tlsf"));
        assert_eq!(s.args, sv("x.c"));
        assert_eq!(
            parse(&sv("--uk-kernel=")),
            Err(UsageError::MissingValue("--uk-kernel".into()))
        );
        assert_eq!(
            parse(&sv("--uk-frobnicate foo.c")),
            Err(UsageError::UnknownUkFlag("--uk-frobnicate".into()))
        );
        assert!(matches!(
            parse(&sv("--uk-verbose=1")),
            Err(UsageError::UnknownUkFlag(_))
        ));
        let c = parse_s("--uk-config=k.toml --uk-completions bash");
        assert_eq!(c.uk.config.as_deref(), Some(Path::new("k.toml")));
        assert_eq!(c.uk.completions.as_deref(), Some("bash"));
    }

    #[test]
    fn completion_scripts_name_the_ukit_flags() {
        let mut out = Vec::new();
        assert_eq!(completions("bash", &mut out).unwrap(), 0);
        let script = String::from_utf8(out).unwrap();
        for w in [
            "--uk-plat",
            "--uk-set",
            "--uk-config",
            "--uk-kernel",
            "linuxu kvm",
        ] {
            assert!(script.contains(w), "{w} missing from the bash script");
        }
        let mut out = Vec::new();
        completions("fish", &mut out).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("uk-plat"));
        assert_eq!(completions("tcsh", &mut Vec::new()).unwrap(), 1);
    }

    #[test]
    fn program_files_are_static_pie_without_a_kernel() {
        let p = parse_s("--uk-program -O2 a.c -o prog");
        assert!(p.uk.program);
        let sys = Sysroot::at("/musl");
        let argv = program_link_command(&p, &sys, &gcc_paths(), Path::new("/c/entries.s"));
        let pos = |s: &str| argv.iter().position(|a| a == s);
        assert!(pos("-static-pie").is_some() && pos("-fPIE").is_some());
        assert!(pos("-fno-pie").is_none() && pos("-no-pie").is_none());
        assert!(pos("/musl/lib/rcrt1.o") < pos("a.c"));
        assert!(pos("/gcc/crtbeginS.o").is_some() && pos("/gcc/crtendS.o").is_some());
        assert!(pos("a.c") < pos("/c/entries.s"));
        assert!(pos("/c/entries.s") < pos("/musl/lib/libc.a"));
        assert!(!argv
            .iter()
            .any(|a| a.contains("libuk") || a.contains(ENTRY)));
        // The entries section: the magic the loader checks, then three slots.
        assert!(PROGRAM_ENTRIES_ASM.contains(".ascii \"ukitENT1\""));
        for sym in ["uk_syscall:", "__uk_clone:", "__uk_unmapself:"] {
            assert!(PROGRAM_ENTRIES_ASM.contains(sym), "{sym}");
        }
        let mut c = parse_s("--uk-program -c a.c -o a.o");
        c.pic = true;
        assert!(compile_command(&c, &sys, Path::new("/gcc/include")).contains(&"-fPIE".into()));
    }

    #[test]
    fn platforms() {
        assert_eq!(resolve_plat(None, None).unwrap(), Platform::Linuxu);
        assert_eq!(resolve_plat(None, Some("")).unwrap(), Platform::Linuxu);
        assert_eq!(
            resolve_plat(Some("linuxu"), Some("kvm")).unwrap(),
            Platform::Linuxu
        );
        assert_eq!(resolve_plat(None, Some("kvm")).unwrap(), Platform::Kvm);
        let e = resolve_plat(None, Some("xen")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "platform xen is not available yet (available: linuxu, kvm)"
        );
        assert!(matches!(
            resolve_plat(Some("pdp11"), None),
            Err(UsageError::Plat(PlatformError::Unknown(_)))
        ));
    }

    #[test]
    fn env_flags() {
        assert!(env_flag(Some("1")));
        assert!(env_flag(Some("yes")));
        assert!(!env_flag(Some("0")));
        assert!(!env_flag(Some("")));
        assert!(!env_flag(None));
    }

    #[test]
    fn shared_is_refused_only_when_linking() {
        let e = parse(&sv("-shared foo.o -o libfoo.so")).unwrap_err();
        assert_eq!(e, UsageError::Shared);
        assert!(e
            .to_string()
            .contains("build a static library (ar) instead"));
        let p = parse_s("-c -shared foo.c");
        assert_eq!(p.mode, Mode::NoLink);
        assert!(!p.args.contains(&"-shared".to_string()));
    }

    #[test]
    fn dynamic_only_flags_are_dropped() {
        let p = parse_s("foo.o -rdynamic -pie -pthread -static");
        assert_eq!(p.args, sv("foo.o -pthread -static"));
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("-pie"));
        // No warning when not linking.
        assert!(parse_s("-c -pie foo.c").warnings.is_empty());
    }

    #[test]
    fn other_abis_are_refused() {
        assert_eq!(
            parse(&sv("-m32 -c foo.c")),
            Err(UsageError::Arch("-m32".into()))
        );
        assert!(parse(&sv("-m64 -c foo.c")).is_ok());
    }

    #[test]
    fn compile_command_puts_musl_headers_first() {
        let sys = Sysroot::at("/musl");
        let p = parse_s("-c -O2 foo.c -o foo.o");
        let argv = compile_command(&p, &sys, Path::new("/gcc/include"));
        assert_eq!(
            argv,
            sv(
                "-nostdinc -isystem /musl/include -isystem /gcc/include -fno-pie \
                -fstack-protector-strong -o foo.o -c -O2 foo.c -U_FORTIFY_SOURCE"
            )
        );
        let p = parse_s("-c -fPIC foo.c");
        let argv = compile_command(&p, &sys, Path::new("/gcc/include"));
        assert!(!argv.contains(&"-fno-pie".to_string()));
        // The fortify undefine comes after a user's -D so that it wins.
        let p = parse_s("-c -D_FORTIFY_SOURCE=2 foo.c");
        let argv = compile_command(&p, &sys, Path::new("/gcc/include"));
        let d = argv
            .iter()
            .position(|a| a == "-D_FORTIFY_SOURCE=2")
            .unwrap();
        let u = argv.iter().position(|a| a == "-U_FORTIFY_SOURCE").unwrap();
        assert!(d < u);
    }

    #[test]
    fn link_command_layout() {
        let sys = Sysroot::at("/musl");
        let p = parse_s("main.o -L. -lfoo -Wl,--defsym=x=1 -o app");
        let argv = link_command(&p, &sys, &gcc_paths(), Path::new("/k/libuk.a"));
        let expected = "-nostdinc -isystem /musl/include -isystem /gcc/include -fno-pie \
            -fstack-protector-strong -static -nostdlib -no-pie -o app \
            /musl/lib/crti.o /gcc/crtbeginT.o main.o -L. -lfoo -Wl,--defsym=x=1 \
            -U_FORTIFY_SOURCE -L/musl/lib -Wl,--start-group /k/libuk.a /musl/lib/libc.a \
            /gcc/libgcc.a -Wl,--end-group /gcc/crtend.o /musl/lib/crtn.o \
            -Wl,-e,_uk_start -Wl,-u,_uk_start -Wl,-u,main -Wl,--gc-sections \
            -Wl,-z,noexecstack";
        assert_eq!(argv, sv(expected));
    }

    #[test]
    fn link_command_defaults_and_variants() {
        let sys = Sysroot::at("/musl");
        let k = Path::new("/k/libuk.a");
        let argv = link_command(&parse_s("foo.c"), &sys, &gcc_paths(), k);
        let o = argv.iter().position(|a| a == "-o").unwrap();
        assert_eq!(argv[o + 1], "a.out");

        // After `-x c`, the archives we append would be read as C; `-x none` resets.
        let argv = link_command(&parse_s("-x c - -o t"), &sys, &gcc_paths(), k);
        let xn = argv.windows(2).position(|w| w == ["-x", "none"]).unwrap();
        let libc = argv.iter().position(|a| a == "/musl/lib/libc.a").unwrap();
        assert!(xn < libc);
        assert!(!link_command(&parse_s("foo.c"), &sys, &gcc_paths(), k).contains(&"none".into()));

        let argv = link_command(&parse_s("-nostartfiles foo.o"), &sys, &gcc_paths(), k);
        assert!(!argv.iter().any(|a| a.contains("crt")));
        assert!(argv.contains(&"/k/libuk.a".to_string()));
    }

    #[test]
    fn unresolved_libs_ignores_host_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_path_buf();
        std::fs::write(d.join("libm.a"), "").unwrap();
        std::fs::write(d.join("odd.a"), "").unwrap();
        let libs = sv("m :odd.a z");
        assert_eq!(unresolved_libs(&libs, &[d]), sv("z"));
        assert_eq!(unresolved_libs(&libs, &[]), libs);
    }

    #[test]
    fn version_keeps_gcc_number_and_copyright() {
        let gcc =
            "gcc (Debian 12.2.0-14) 12.2.0\nCopyright (C) 2022 Free Software Foundation, Inc.\n";
        let v = version_text(gcc);
        let mut lines = v.lines();
        assert_eq!(
            lines.next().unwrap(),
            format!("uk-cc (ukit {}) 12.2.0", env!("CARGO_PKG_VERSION"))
        );
        assert!(lines.next().unwrap().contains("Free Software Foundation"));
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("-Wl,-e,_uk_start"), "-Wl,-e,_uk_start");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
