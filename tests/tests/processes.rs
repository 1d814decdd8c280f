//! Several programs in one image's root (docs/processes.md): a launcher image runs
//! `gen 3 | upper` through posix_spawn and pipes, then a `#!` script whose interpreter
//! is `upper`. `gen` and `upper` are program files (`uk-cc --uk-program`) in one
//! folder: on linuxu a host folder the image sees through hostfs, on kvm the `/bin` of
//! the root `ukport run --root` packs. Both must print what the same programs print
//! natively (musl-gcc -static, Linux processes underneath).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use uk_tests::{
    build_native, build_uk, build_uk_with, c_source, require_tool, run, run_command, stdout_ok,
    text, tools, TempDir,
};

/// `gen` and `upper` built into `dir`, natively or as program files.
fn build_programs(dir: &Path, native: bool) {
    std::fs::create_dir_all(dir).unwrap();
    for name in ["gen", "upper"] {
        let src = c_source(&format!("{name}.c"));
        if native {
            build_native(&src, &dir.join(name));
        } else {
            build_uk_with(&src, &dir.join(name), &["--uk-program"]);
        }
    }
}

/// The native run: what every platform must print.
fn native_output(tmp: &TempDir) -> String {
    let bin = tmp.join("native-bin");
    build_programs(&bin, true);
    let launcher = tmp.join("pipeline.native");
    build_native(&c_source("pipeline.c"), &launcher);
    let want = stdout_ok(
        &run(&launcher, &[bin.to_str().unwrap()], &[]),
        "native pipeline",
    );
    assert!(
        want.contains("upper exited 3") && want.contains("-x <script> one two"),
        "the native run itself is off:\n{want}"
    );
    want
}

#[test]
fn programs_in_one_folder_pipe_and_wait_as_natively_on_linuxu() {
    let tmp = TempDir::new("processes-linuxu");
    let want = native_output(&tmp);
    let bin = tmp.join("bin");
    build_programs(&bin, false);
    let image = tmp.join("pipeline.uk");
    build_uk(&c_source("pipeline.c"), &image);
    let got = stdout_ok(&run(&image, &[bin.to_str().unwrap()], &[]), "ukit pipeline");
    assert_eq!(got, want, "ukit (left) and native output differ");
}

#[test]
fn programs_in_the_kvm_root_pipe_and_wait_as_natively() {
    let tmp = TempDir::new("processes-kvm");
    let want = native_output(&tmp);
    let root = tmp.join("root");
    build_programs(&root.join("bin"), false);
    let image = tmp.join("pipeline.kvm");
    build_uk_with(&c_source("pipeline.c"), &image, &["--uk-plat=kvm"]);
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["run", "--plat", "kvm", "--root"])
        .arg(&root)
        .arg(&image)
        .args(["--", "/bin"]);
    let got = stdout_ok(&run_command(cmd, Duration::from_secs(180)), "kvm pipeline");
    assert_eq!(got, want, "kvm (left) and native output differ");
}

/// The same programs through a recipe: `[build] programs` puts the program files into
/// the image's /bin (recipes/spawn-demo.toml), and `ukport test` compares with the
/// recipe's expected output, which is the native output.
#[test]
fn a_recipe_puts_program_files_into_the_root() {
    let tmp = TempDir::new("processes-recipe");
    let want = native_output(&tmp);
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["test", "spawn-demo"]);
    stdout_ok(
        &run_command(cmd, Duration::from_secs(600)),
        "ukport test spawn-demo",
    );
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["run", "--plat", "kvm", "spawn-demo"]);
    let got = stdout_ok(
        &run_command(cmd, Duration::from_secs(600)),
        "ukport run --plat kvm spawn-demo",
    );
    assert_eq!(got, want, "kvm (left) and native output differ");
}

/// What ukit cannot do yet fails with an error the program handles and a log line, and
/// the program goes on: vfork through syscall() (ENOSYS), and files the loader
/// does not run (ENOEXEC): a dynamically linked Linux binary, a static non-PIE one (other
/// than the image itself), a static-PIE one with its own `syscall` instructions.
#[test]
fn unsupported_process_calls_are_errors_not_hangs() {
    let tmp = TempDir::new("processes-unsupported");
    let hi = tmp.join("hi.c");
    std::fs::write(&hi, "int main(void) { return 0; }\n").unwrap();
    let files = [
        ("dyn", vec!["-O2"], "gcc"),
        ("static_exec", vec!["-static", "-O2"], "musl-gcc"),
        ("static_pie", vec!["-static-pie", "-O2"], "gcc"),
    ];
    for (name, flags, cc) in &files {
        let mut cmd = Command::new(require_tool(cc));
        cmd.args(flags).arg("-o").arg(tmp.join(name)).arg(&hi);
        stdout_ok(&run_command(cmd, Duration::from_secs(120)), cc);
    }
    let image = tmp.join("unsupported.uk");
    build_uk(&c_source("unsupported_procs.c"), &image);
    let paths: Vec<String> = files
        .iter()
        .map(|(n, _, _)| tmp.join(n).display().to_string())
        .collect();
    let args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let out = run(&image, &args, &[]);
    let got = stdout_ok(&out, "unsupported_procs");
    assert_eq!(
        got,
        "syscall(SYS_vfork): -1 ENOSYS\n\
         posix_spawn of file 1: ENOEXEC\n\
         posix_spawn of file 2: ENOEXEC\n\
         posix_spawn of file 3: ENOEXEC\n\
         still running\n"
    );
    let err = text(&out.stderr);
    for line in [
        "vfork through syscall() is not supported",
        "execve of a dynamically linked program",
        "not position-independent",
        "a Linux binary that makes its own system calls",
    ] {
        assert_eq!(err.matches(line).count(), 1, "{line:?} once in:\n{err}");
    }
}

/// The image's first process replaces itself with a program file: same pid,
/// close-on-exec descriptors closed, the others kept, the new program's exit status is
/// the image's; as natively.
#[test]
fn the_first_process_replaces_itself() {
    let tmp = TempDir::new("processes-exec-pid1");
    let src = c_source("exec_replace.c");
    let native = tmp.join("exec_replace.native");
    build_native(&src, &native);
    let want = run(&native, &[native.to_str().unwrap()], &[]);
    assert_eq!(
        want.status.code(),
        Some(7),
        "native: {}",
        text(&want.stderr)
    );
    let prog = tmp.join("exec_replace.prog");
    build_uk_with(&src, &prog, &["--uk-program"]);
    let image = tmp.join("exec_replace.uk");
    build_uk(&src, &image);
    let got = run(&image, &[prog.to_str().unwrap()], &[]);
    assert_eq!(
        (text(&got.stdout), got.status.code()),
        (text(&want.stdout), Some(7)),
        "ukit stderr:\n{}",
        text(&got.stderr)
    );
    assert!(text(&want.stdout).contains("same pid yes, fd 10 closed, fd 11 open"));
}

/// execve of the image's own file starts its program anew in a new process (posix_spawn,
/// vfork + execve, fork + execve) and in the first process itself: fresh data, the
/// arguments and environment given, close-on-exec honoured, statuses as natively
/// (tests/c/self_exec.c; argv\[0\] is the program's path on both sides).
#[test]
fn the_image_runs_itself_again() {
    let tmp = TempDir::new("processes-self-exec");
    let src = c_source("self_exec.c");
    let native = tmp.join("self_exec.native");
    build_native(&src, &native);
    let want = run(&native, &[], &[]);
    let image = tmp.join("self_exec.uk");
    build_uk(&src, &image);
    let got = run(&image, &[], &[]);
    assert_eq!(
        want.status.code(),
        Some(4),
        "native: {}",
        text(&want.stderr)
    );
    assert!(
        text(&want.stdout)
            .contains("child 13: counter=5 zeros=0 argc=3 env=marked fd8=open fd9=closed"),
        "the native run itself is off:\n{}",
        text(&want.stdout)
    );
    assert_eq!(
        (text(&got.stdout), got.status.code()),
        (text(&want.stdout), Some(4)),
        "ukit stderr:\n{}",
        text(&got.stderr)
    );
}

/// pid 1 takes from its children only the signals it has a handler for (Linux's rule
/// for init): SIGTERM and SIGKILL from a child do nothing, SIGUSR1 runs its handler.
#[test]
fn the_first_process_ignores_its_childrens_unhandled_signals() {
    let tmp = TempDir::new("processes-init-signals");
    let src = c_source("init_signals.c");
    let prog = tmp.join("init_signals.prog");
    build_uk_with(&src, &prog, &["--uk-program"]);
    let image = tmp.join("init_signals.uk");
    build_uk(&src, &image);
    let got = stdout_ok(&run(&image, &[prog.to_str().unwrap()], &[]), "init_signals");
    assert_eq!(
        got,
        "pid 1 alive after SIGTERM and SIGKILL from its child; SIGUSR1 handled: yes\n"
    );
}

/// Starting and reaping processes (vfork + _exit, vfork + execve, posix_spawn, a failed
/// exec) and threads leaves no kernel heap behind: the heap in use (/proc/meminfo
/// "Slab") after many cycles is what it was before, give or take what tables keep as
/// spare capacity. The bound is far below one object per cycle (a leaked frame, thread
/// or job was 96 to 200 bytes a cycle).
#[test]
fn processes_and_threads_leave_no_kernel_memory_behind() {
    let tmp = TempDir::new("processes-memory");
    let src = c_source("proc_memory.c");
    let prog = tmp.join("proc_memory.prog");
    build_uk_with(&src, &prog, &["--uk-program"]);
    let image = tmp.join("proc_memory.uk");
    build_uk(&src, &image);
    let out = stdout_ok(&run(&image, &[prog.to_str().unwrap()], &[]), "proc_memory");
    let mut kinds = 0;
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [kind, grown, cycles] = f[..] else {
            panic!("unexpected line {line:?} in:\n{out}");
        };
        let (grown, cycles): (i64, i64) = (grown.parse().unwrap(), cycles.parse().unwrap());
        assert_ne!(grown, -1, "no Slab/MemFree line in /proc/meminfo");
        if kind == "enoexec_memfree" {
            // A refused 16 MiB file must not have been read into kernel memory.
            assert!(
                grown < 1 << 20,
                "execve of a 16 MiB file that is no program took {grown} bytes of memory:\n{out}"
            );
            kinds += 1;
            continue;
        }
        if kind == "fork_memfree" {
            // 50 forked children each wrote their copy of a 4 MiB block (200 MiB in
            // all): what they had must be back once they are reaped.
            assert!(
                grown < 1 << 20,
                "50 forks of a 4 MiB heap kept {grown} bytes of memory:\n{out}"
            );
            kinds += 1;
            continue;
        }
        assert!(grown >= 0, "{line}");
        // Spare capacity of tables is a few KiB at most, whatever the count.
        assert!(
            grown <= 8 * 1024 && grown < cycles * 16,
            "{kind}: the kernel heap grew {grown} bytes over {cycles} cycles:\n{out}"
        );
        kinds += 1;
    }
    assert_eq!(kinds, 8, "{out}");
}
