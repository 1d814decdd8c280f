//! What a linuxu image may do to its host: every `syscall` instruction sits in one of the
//! platform's host-call functions (plat/linuxu), and at run time the image makes only the
//! host system calls the platform lists. Both lists are written out here on purpose: a
//! change to what an image may do to its host must show up as a change to this test.

use std::collections::BTreeSet;
use std::process::Command;
use uk_tests::{
    build_native, build_uk, c_source, exit_code, parse_strace, require_tool, run_command, text,
    trap_sites, TempDir, DEFAULT_TIMEOUT,
};

/// The functions of plat/linuxu that may contain a `syscall` instruction
/// (plat/linuxu/src/host.rs).
const HOST_CALL_FUNCTIONS: &[&str] = &["uk_linuxu_hostcall", "uk_linuxu_sigreturn"];

/// Every host system call a linuxu image may make (strace names): at boot, before the
/// seccomp filter closes, and after.
const HOST_SYSCALLS: &[&str] = &[
    "read",
    "write",
    "mmap",
    "mprotect",
    "sigaltstack",
    "rt_sigaction",
    "ioctl",
    "madvise",
    "exit",
    "prctl",
    "arch_prctl",
    "clock_gettime",
    "exit_group",
    "ppoll",
    "getrandom",
    "prlimit64",
    "seccomp",
    "rt_sigreturn",
    "close",
    "fstat",
    "lseek",
    "pread64",
    "pwrite64",
    "fsync",
    "fdatasync",
    "ftruncate",
    "getcwd",
    "fstatfs",
    "getdents64",
    "openat",
    "mkdirat",
    "mknodat",
    "umask",
    "fchownat",
    "unlinkat",
    "linkat",
    "symlinkat",
    "readlinkat",
    "fchmodat",
    "utimensat",
    "renameat2",
    "socket",
    "connect",
    "memfd_create",
    "sysinfo",
    "setitimer",
];

/// The host calls still allowed once the filter is installed: console, memory release
/// and aliasing (mmap: MAP_FIXED of the memory's memfd or anonymous only), idle wait,
/// clock, TLS, exit, and the SIGSYS report's return.
const RUNTIME_SYSCALLS: &[&str] = &[
    "read",
    "write",
    "mmap",
    "madvise",
    "mprotect",
    "arch_prctl",
    "clock_gettime",
    "ppoll",
    "exit",
    "exit_group",
    "rt_sigreturn",
    "setitimer",
    "close",
    "fstat",
    "lseek",
    "pread64",
    "pwrite64",
    "fsync",
    "fdatasync",
    "ftruncate",
    "fstatfs",
    "getdents64",
    "openat",
    "mkdirat",
    "mknodat",
    "fchownat",
    "unlinkat",
    "linkat",
    "symlinkat",
    "readlinkat",
    "fchmodat",
    "utimensat",
    "renameat2",
];

fn disassemble(path: &std::path::Path) -> String {
    let mut cmd = Command::new(require_tool("objdump"));
    cmd.args(["-d", "--no-show-raw-insn"]).arg(path);
    let out = run_command(cmd, DEFAULT_TIMEOUT);
    assert!(
        out.status.success(),
        "objdump failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn syscall_instructions_only_in_host_call_functions() {
    let dir = TempDir::new("objdump");
    let image = dir.join("foundation.uk");
    let native = dir.join("foundation.native");
    build_uk(&c_source("foundation.c"), &image);
    build_native(&c_source("foundation.c"), &native);

    // The checker itself must see the traps musl makes in a native build, otherwise an
    // empty result for the image would prove nothing.
    let native_sites = trap_sites(&disassemble(&native));
    assert!(
        native_sites
            .iter()
            .any(|s| !HOST_CALL_FUNCTIONS.contains(&s.function.as_str())),
        "the disassembly parser found no syscall in plain musl code; is objdump's format different?"
    );

    let sites = trap_sites(&disassemble(&image));
    let stray: Vec<String> = sites
        .iter()
        .filter(|s| !HOST_CALL_FUNCTIONS.contains(&s.function.as_str()))
        .map(|s| format!("{} at {:#} in <{}>", s.instruction, s.address, s.function))
        .collect();
    assert!(
        stray.is_empty(),
        "host traps outside the platform's host-call functions ({} of {}):\n{}",
        stray.len(),
        sites.len(),
        stray.join("\n")
    );
    // The image must reach the host somehow (exit at least): no trap at all means the
    // parser missed them.
    assert!(
        !sites.is_empty(),
        "no syscall instruction found in the image at all"
    );
}

#[test]
fn runtime_host_calls_are_in_the_platform_list() {
    let strace = require_tool("strace");
    let dir = TempDir::new("strace");
    let image = dir.join("foundation.uk");
    build_uk(&c_source("foundation.c"), &image);
    let log = dir.join("strace.log");
    let mut cmd = Command::new(strace);
    cmd.args(["-f", "-qq", "-o"])
        .arg(&log)
        .arg(&image)
        .args(["one", "two"])
        .env("UK_FOUNDATION_VAR", "x");
    let out = run_command(cmd, DEFAULT_TIMEOUT);
    assert_eq!(
        exit_code(&out.status),
        3,
        "the foundation image failed under strace; stderr:\n{}",
        text(&out.stderr)
    );
    let parsed = parse_strace(&std::fs::read_to_string(&log).expect("strace log"));
    assert_eq!(
        parsed.calls.first().map(String::as_str),
        Some("execve"),
        "strace log does not start with execve"
    );
    let used: BTreeSet<&str> = parsed.calls[1..].iter().map(String::as_str).collect();
    let outside: Vec<&str> = used
        .iter()
        .copied()
        .filter(|c| !HOST_SYSCALLS.contains(c))
        .collect();
    assert!(
        outside.is_empty(),
        "the image made host system calls outside the platform's list: {outside:?}\n(all used: {used:?})"
    );
    // The filter goes on during boot; from then on only the runtime calls may appear.
    let filter_at = parsed
        .calls
        .iter()
        .position(|c| c == "seccomp")
        .expect("the image never installed its seccomp filter");
    let late: BTreeSet<&str> = parsed.calls[filter_at + 1..]
        .iter()
        .map(String::as_str)
        .filter(|c| !RUNTIME_SYSCALLS.contains(c))
        .collect();
    assert!(
        late.is_empty(),
        "host calls after the seccomp filter that the filter does not allow: {late:?}"
    );
    let fatal: Vec<&String> = parsed
        .signals
        .iter()
        .filter(|s| {
            [
                "SIGSYS",
                "SIGSEGV",
                "SIGBUS",
                "SIGILL",
                "SIGABRT",
                "killed by",
            ]
            .iter()
            .any(|k| s.contains(k))
        })
        .collect();
    assert!(fatal.is_empty(), "fatal signals under strace: {fatal:?}");
}

/// The strings of `pub const <name>: &[&str] = &[ ... ];` in a Rust source file.
fn const_str_list(source: &str, name: &str) -> Option<Vec<String>> {
    let start = source.find(&format!("const {name}: &[&str] = &["))?;
    let body = &source[start..];
    let body = &body[body.find("= &[")? + 4..];
    let body = &body[..body.find("];")?];
    Some(
        body.split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn platform_host_call_list_matches_this_test() {
    // The platform keeps its own list (used for its docs and seccomp); a call added there
    // must be reviewed here too.
    let path = uk_tests::repo_root().join("plat/linuxu/src/host.rs");
    let source = std::fs::read_to_string(&path).expect("plat/linuxu/src/host.rs");
    let theirs: BTreeSet<String> = const_str_list(&source, "HOST_CALLS")
        .expect("no `const HOST_CALLS: &[&str]` in plat/linuxu/src/host.rs")
        .into_iter()
        .collect();
    let ours: BTreeSet<String> = HOST_SYSCALLS.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        theirs, ours,
        "plat/linuxu HOST_CALLS (left) and this test's HOST_SYSCALLS (right) differ"
    );
    for f in HOST_CALL_FUNCTIONS {
        assert!(
            source.contains(&format!("{f}:")),
            "{f} is not defined in {}",
            path.display()
        );
    }
}
