//! /proc: what real programs read about themselves and the machine, built on
//! [`uk_vfs::synth`] (files generated at open from the kernel's own state).
//!
//! Every process has its directory `/proc/<pid>` (added when it is registered, taken
//! away when it is reaped: [`process_dir`]); `/proc/self` links to the reader's pid.
//! Memory figures (see docs/filesystems.md, "/proc"):
//! - resident ("rss", VmRSS) = pages the page allocator has handed out (program maps,
//!   the brk area up to the break, the kernel heap's chunks, thread stacks) plus the
//!   image's loaded segments. The unused tail of the brk reservation is left out.
//! - virtual ("vsize", VmSize) = the same with the whole brk reservation.
//! - VmPeak/VmHWM are the highest values seen when a /proc file was generated.

use crate::process::Process;
use crate::{ident, time, KResult};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use uk_abi::Errno;
use uk_vfs::synth::{Deny, DynLink, SynthDir, SynthFs};

/// `write!` into a String (no `format!`: alloc's formatter references the unwinder).
macro_rules! w {
    ($s:expr, $($t:tt)*) => {{
        let _ = $s.write_fmt(format_args!($($t)*));
    }};
}

struct Boot {
    /// argv, each followed by a NUL (/proc/PID/cmdline).
    cmdline: Vec<u8>,
    /// envp, each followed by a NUL.
    environ: Vec<u8>,
    /// The program's path as best known (/proc/PID/exe).
    exe: Vec<u8>,
    /// The image's loaded segments: start, end, writable.
    segments: Vec<(usize, usize, bool)>,
    /// The namespace's mounts: source, mount point, type.
    mounts: Vec<(Vec<u8>, Vec<u8>, &'static str)>,
}

static BOOT: spin::Mutex<Boot> = spin::Mutex::new(Boot {
    cmdline: Vec::new(),
    environ: Vec::new(),
    exe: Vec::new(),
    segments: Vec::new(),
    mounts: Vec::new(),
});
/// What execve recorded for the processes it loaded (pid -> argv, envp, path): their
/// cmdline, environ and exe. A process without an entry shows the nearest ancestor's
/// (a vfork child runs its parent's program), the first process the boot program's.
static EXECS: spin::Mutex<alloc::collections::BTreeMap<i32, ExecInfo>> =
    spin::Mutex::new(alloc::collections::BTreeMap::new());

/// argv and envp (each string followed by a NUL) and the program's path.
type ExecInfo = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Record the program execve loaded into `pid` (strings without their NULs).
pub fn set_exec(pid: i32, argv: &[Vec<u8>], envp: &[Vec<u8>], exe: &[u8]) {
    let join = |v: &[Vec<u8>]| {
        let mut out = Vec::new();
        for a in v {
            out.extend_from_slice(a);
            out.push(0);
        }
        out
    };
    let exe = if exe.first() == Some(&b'/') {
        normalize(exe)
    } else {
        exe_path(exe, None)
    };
    EXECS.lock().insert(pid, (join(argv), join(envp), exe));
}

/// Which of cmdline (0), environ (1) or exe (2) `p` shows.
fn exec_info(p: &Process, which: usize) -> Vec<u8> {
    let mut at = p.pid();
    let execs = EXECS.lock();
    while at > ident::INIT_PID {
        if let Some(e) = execs.get(&at) {
            return [&e.0, &e.1, &e.2][which].clone();
        }
        at = crate::process::lookup(at).map_or(0, |q| q.ppid());
    }
    if let Some(e) = execs.get(&ident::INIT_PID) {
        return [&e.0, &e.1, &e.2][which].clone();
    }
    drop(execs);
    let b = BOOT.lock();
    [&b.cmdline, &b.environ, &b.exe][which].clone()
}

/// The process a /proc/<pid> file is about (the reader's own when it has gone).
fn of(pid: usize) -> Arc<Process> {
    crate::process::lookup(pid as i32).unwrap_or_else(crate::process::current_arc)
}

/// Clock ticks since boot when the program started (field 22 of stat).
static START_TICKS: AtomicU64 = AtomicU64::new(0);
static PEAK_VM: AtomicUsize = AtomicUsize::new(0);
static PEAK_RSS: AtomicUsize = AtomicUsize::new(0);

/// Record the program's arguments and environment (boot, once the working directory
/// is set). Also names the program: its base name becomes the default thread name
/// (`comm`), and argv[0] is resolved to a path for /proc/PID/exe.
pub fn set_args<'a>(argv: impl Iterator<Item = &'a [u8]>, envp: impl Iterator<Item = &'a [u8]>) {
    let mut b = BOOT.lock();
    b.cmdline.clear();
    b.environ.clear();
    let mut first: Option<Vec<u8>> = None;
    let mut path_var: Option<Vec<u8>> = None;
    for a in argv {
        if first.is_none() {
            first = Some(a.to_vec());
        }
        b.cmdline.extend_from_slice(a);
        b.cmdline.push(0);
    }
    for e in envp {
        if let Some(p) = e.strip_prefix(b"PATH=") {
            path_var = Some(p.to_vec());
        }
        b.environ.extend_from_slice(e);
        b.environ.push(0);
    }
    let arg0 = first.unwrap_or_default();
    let base = arg0.rsplit(|c| *c == b'/').next().unwrap_or(&[]);
    if !base.is_empty() {
        crate::process::current().info.set_program_name(base);
    }
    b.exe = exe_path(&arg0, path_var.as_deref());
    START_TICKS.store(
        time::uptime_ns() / (1_000_000_000 / uk_abi::time::CLK_TCK),
        Ordering::Relaxed,
    );
}

/// Declare one of the image's loaded segments (boot).
pub fn add_image_segment(start: usize, end: usize, writable: bool) {
    BOOT.lock().segments.push((start, end, writable));
}

/// Record a mount for /proc/mounts (boot).
pub(crate) fn note_mount(source: &[u8], dir: &[u8], fstype: &'static str) {
    BOOT.lock()
        .mounts
        .push((source.to_vec(), dir.to_vec(), fstype));
}

/// argv[0] as an absolute path: absolute as is, a bare name found in PATH (as the shell
/// that started the program searched it), else joined to the working directory (how
/// execve resolves a relative name; kvm images whose program is in no file system).
fn exe_path(arg0: &[u8], path_var: Option<&[u8]>) -> Vec<u8> {
    if arg0.is_empty() {
        return Vec::new();
    }
    let exists = |p: &[u8]| {
        uk_vfs::Loc::root()
            .and_then(|l| uk_vfs::path::resolve(&l, p, true))
            .is_ok_and(|r| r.node.is_some())
    };
    if !arg0.contains(&b'/') {
        for dir in path_var.unwrap_or(b"").split(|c| *c == b':') {
            if dir.first() != Some(&b'/') {
                continue;
            }
            let mut p = dir.to_vec();
            p.push(b'/');
            p.extend_from_slice(arg0);
            if exists(&p) {
                return normalize(&p);
            }
        }
    }
    {
        let mut full = if arg0[0] == b'/' {
            Vec::new()
        } else {
            super::cwd().map(|c| c.path()).unwrap_or_default()
        };
        full.push(b'/');
        full.extend_from_slice(arg0);
        normalize(&full)
    }
}

/// Lexical clean-up of an absolute path: no `.`, `..` or doubled slashes.
fn normalize(p: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in p.split(|c| *c == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = Vec::new();
    for c in parts {
        out.push(b'/');
        out.extend_from_slice(c);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// The memory figures /proc reports, in bytes.
struct Mem {
    rss: usize,
    vsize: usize,
    exe: usize,
    data: usize,
    peak_vm: usize,
    peak_rss: usize,
}

fn mem(p: &Process) -> Mem {
    let page = uk_alloc::PAGE_SIZE;
    let st = uk_alloc::PAGES.lock().stats();
    let used = st.total_pages.saturating_sub(st.free_pages) * page;
    let brk_spare =
        p.mm.brk_area()
            .map(|(s, reserved, cur)| {
                let top = uk_alloc::page_round_up(cur).unwrap_or(cur);
                (s + reserved).saturating_sub(top)
            })
            .unwrap_or(0);
    let (mut exe, mut data) = (0, 0);
    for &(s, e, wr) in &BOOT.lock().segments {
        if wr {
            data += e - s;
        } else {
            exe += e - s;
        }
    }
    let rss = used.saturating_sub(brk_spare) + exe + data;
    let vsize = used + exe + data;
    let peak_vm = PEAK_VM.fetch_max(vsize, Ordering::Relaxed).max(vsize);
    let peak_rss = PEAK_RSS.fetch_max(rss, Ordering::Relaxed).max(rss);
    Mem {
        rss,
        vsize,
        exe,
        data: data + p.mm.mapped_bytes(),
        peak_vm,
        peak_rss,
    }
}

/// The threads of `p` (kernel threads such as the network stack's are not counted;
/// they act for the first process).
fn program_threads(p: &Process) -> Vec<i32> {
    uk_sched::thread_ids()
        .into_iter()
        .filter(|t| {
            uk_sched::thread(*t).is_some_and(|th| {
                !th.is_kernel()
                    && (crate::process::owner_is(&th, p)
                        || (th.owner() == 0 && p.pid() == ident::INIT_PID))
            })
        })
        .collect()
}

/// The process name (`comm`): the main thread's name, as Linux shows it.
fn comm(p: &Process) -> Vec<u8> {
    let n = p.info.thread_name(p.pid());
    let len = n.iter().position(|c| *c == 0).unwrap_or(n.len());
    n[..len].to_vec()
}

fn ticks(ns: u64) -> u64 {
    ns / (1_000_000_000 / uk_abi::time::CLK_TCK)
}

/// /proc/PID/stat: the 52 fields of proc(5). Fields ukit has no source for (fault
/// counts, signal masks, stack pointers) are 0, as Linux shows them for other
/// processes. Field 24 (rss) is in pages.
fn gen_stat(pid: usize) -> Vec<u8> {
    let p = of(pid);
    let m = mem(&p);
    let (start_code, end_code, start_data, end_data) = {
        let b = BOOT.lock();
        let code = b.segments.iter().filter(|s| !s.2);
        let data = b.segments.iter().filter(|s| s.2);
        (
            code.clone().map(|s| s.0).min().unwrap_or(0),
            code.map(|s| s.1).max().unwrap_or(0),
            data.clone().map(|s| s.0).min().unwrap_or(0),
            data.map(|s| s.1).max().unwrap_or(0),
        )
    };
    let brk_start = p.mm.brk_area().map(|b| b.0).unwrap_or(0);
    let rsslim = p
        .limits
        .get_set(uk_abi::resource::RLIMIT_RSS as u32, None)
        .map(|l| l.0)
        .unwrap_or(u64::MAX);
    let pid = p.pid();
    let nice = p
        .info
        .getpriority(pid, uk_abi::resource::PRIO_PROCESS, 0)
        .unwrap_or(0) as i64;
    let pid = pid as u64;
    let ids = *p.ids.lock();
    let fields: [u64; 49] = [
        ids.ppid as u64,                      // 4 ppid (0 for the image's init)
        ids.pgid as u64,                      // 5 pgrp
        ids.sid as u64,                       // 6 session
        0,                                    // 7 tty_nr
        u64::MAX,                             // 8 tpgid (-1)
        0,                                    // 9 flags (no PF_* applies)
        0,                                    // 10 minflt
        0,                                    // 11 cminflt
        0,                                    // 12 majflt
        0,                                    // 13 cmajflt
        ticks(time::cpu_ns()),                // 14 utime
        0,                                    // 15 stime
        0,                                    // 16 cutime
        0,                                    // 17 cstime
        (20 + nice) as u64,                   // 18 priority
        nice as u64,                          // 19 nice
        program_threads(&p).len() as u64,     // 20 num_threads
        0,                                    // 21 itrealvalue
        START_TICKS.load(Ordering::Relaxed),  // 22 starttime
        m.vsize as u64,                       // 23 vsize (bytes)
        (m.rss / uk_alloc::PAGE_SIZE) as u64, // 24 rss (pages)
        rsslim,                               // 25 rsslim
        start_code as u64,                    // 26 startcode
        end_code as u64,                      // 27 endcode
        0,                                    // 28 startstack
        0,                                    // 29 kstkesp
        0,                                    // 30 kstkeip
        0,                                    // 31 signal
        0,                                    // 32 blocked
        0,                                    // 33 sigignore
        0,                                    // 34 sigcatch
        0,                                    // 35 wchan
        0,                                    // 36 nswap
        0,                                    // 37 cnswap
        17,                                   // 38 exit_signal (SIGCHLD)
        0,                                    // 39 processor
        0,                                    // 40 rt_priority
        0,                                    // 41 policy (SCHED_OTHER)
        0,                                    // 42 delayacct_blkio_ticks
        0,                                    // 43 guest_time
        0,                                    // 44 cguest_time
        start_data as u64,                    // 45 start_data
        end_data as u64,                      // 46 end_data
        brk_start as u64,                     // 47 start_brk
        0,                                    // 48 arg_start
        0,                                    // 49 arg_end
        0,                                    // 50 env_start
        0,                                    // 51 env_end
        0,                                    // 52 exit_code
    ];
    let mut s = String::new();
    w!(s, "{} (", pid);
    let mut out = s.into_bytes();
    out.extend_from_slice(&comm(&p));
    out.extend_from_slice(b") ");
    out.push(state(&p).as_bytes()[0]);
    let mut s = String::new();
    for (i, f) in fields.iter().enumerate() {
        // Signed fields Linux prints as -1 / negative nice.
        match i {
            4 => w!(s, " -1"),
            15 => w!(s, " {}", nice),
            14 => w!(s, " {}", 20 + nice),
            _ => w!(s, " {}", f),
        }
    }
    s.push('\n');
    out.extend_from_slice(s.as_bytes());
    out
}

/// The state letter and word of /proc/PID/stat and status: a zombie, a stopped
/// process (job control), else running (ukit does not tell sleeping from running).
fn state(p: &crate::process::Process) -> &'static str {
    if p.status().is_some() {
        "Z (zombie)"
    } else if p.stopped.load(core::sync::atomic::Ordering::Acquire) {
        "T (stopped)"
    } else {
        "R (running)"
    }
}

/// /proc/PID/status: the lines of proc(5) ukit has values for, in Linux's order and
/// format (memory in kB, right-aligned in 8 columns).
fn gen_status(pid: usize) -> Vec<u8> {
    let p = of(pid);
    let m = mem(&p);
    let kb = |b: usize| b / 1024;
    let mut out = b"Name:\t".to_vec();
    out.extend_from_slice(&comm(&p));
    let mut s = String::new();
    let pid = p.pid();
    let ppid = p.ppid();
    w!(
        s,
        "\nState:\t{}\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{ppid}\n",
        state(&p)
    );
    w!(s, "TracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n");
    w!(s, "FDSize:\t{}\nGroups:\t\n", p.limits.nofile());
    w!(
        s,
        "VmPeak:\t{:>8} kB\nVmSize:\t{:>8} kB\n",
        kb(m.peak_vm),
        kb(m.vsize)
    );
    w!(s, "VmLck:\t{:>8} kB\nVmPin:\t{:>8} kB\n", 0, 0);
    w!(
        s,
        "VmHWM:\t{:>8} kB\nVmRSS:\t{:>8} kB\n",
        kb(m.peak_rss),
        kb(m.rss)
    );
    w!(s, "VmData:\t{:>8} kB\nVmStk:\t{:>8} kB\n", kb(m.data), 0);
    w!(
        s,
        "VmExe:\t{:>8} kB\nVmLib:\t{:>8} kB\nVmSwap:\t{:>8} kB\n",
        kb(m.exe),
        0,
        0
    );
    w!(s, "Threads:\t{}\n", program_threads(&p).len());
    w!(s, "Cpus_allowed:\t1\nCpus_allowed_list:\t0\n");
    w!(
        s,
        "voluntary_ctxt_switches:\t{}\nnonvoluntary_ctxt_switches:\t0\n",
        uk_sched::switches()
    );
    out.extend_from_slice(s.as_bytes());
    out
}

fn gen_cmdline(pid: usize) -> Vec<u8> {
    exec_info(&of(pid), 0)
}

fn gen_environ(pid: usize) -> Vec<u8> {
    exec_info(&of(pid), 1)
}

fn gen_comm(pid: usize) -> Vec<u8> {
    let mut c = comm(&of(pid));
    c.push(b'\n');
    c
}

fn gen_self(_: usize) -> Vec<u8> {
    let mut s = String::new();
    w!(s, "{}", crate::process::current().pid());
    s.into_bytes()
}

fn gen_exe(pid: usize) -> Vec<u8> {
    exec_info(&of(pid), 2)
}

fn gen_cwd(pid: usize) -> Vec<u8> {
    let cwd = of(pid).fs.cwd.lock().clone();
    cwd.map(|c| c.path())
        .or_else(|| uk_vfs::Loc::root().ok().map(|l| l.path()))
        .unwrap_or_default()
}

/// True when `p` runs the image's own program (it never exec'd, nor did an ancestor):
/// the image's segments are its code.
fn runs_boot_program(p: &Process) -> bool {
    let mut at = p.pid();
    let execs = EXECS.lock();
    while at >= ident::INIT_PID {
        if execs.contains_key(&at) {
            return false;
        }
        if at == ident::INIT_PID {
            break;
        }
        at = crate::process::lookup(at).map_or(0, |q| q.ppid());
    }
    true
}

fn gen_mounts(_: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for (src, dir, ty) in &BOOT.lock().mounts {
        out.extend_from_slice(src);
        out.push(b' ');
        out.extend_from_slice(dir);
        let mut s = String::new();
        w!(s, " {ty} rw 0 0\n");
        out.extend_from_slice(s.as_bytes());
    }
    out
}

/// One line per memory map in Linux's format: the image's segments (named by the
/// program's path), then the program's maps (the brk area named `[heap]`).
fn gen_maps(pid: usize) -> Vec<u8> {
    /// One row; `shared`: the offset into the file a shared map shows.
    fn line(
        out: &mut Vec<u8>,
        start: usize,
        end: usize,
        prot: u32,
        shared: Option<u64>,
        name: &[u8],
    ) {
        let mut s = String::new();
        w!(
            s,
            "{:08x}-{:08x} {}{}{}{} {:08x} 00:00 0",
            start,
            end,
            if prot & uk_abi::mman::PROT_READ != 0 {
                'r'
            } else {
                '-'
            },
            if prot & uk_abi::mman::PROT_WRITE != 0 {
                'w'
            } else {
                '-'
            },
            if prot & uk_abi::mman::PROT_EXEC != 0 {
                'x'
            } else {
                '-'
            },
            if shared.is_some() { 's' } else { 'p' },
            shared.unwrap_or(0),
        );
        let mut l = s.into_bytes();
        if name.is_empty() {
            l.push(b' ');
        } else {
            while l.len() < 73 {
                l.push(b' ');
            }
            l.extend_from_slice(name);
        }
        l.push(b'\n');
        out.extend_from_slice(&l);
    }
    let p = of(pid);
    let mut out = Vec::new();
    let (segs, exe) = if runs_boot_program(&p) {
        let b = BOOT.lock();
        (b.segments.clone(), b.exe.clone())
    } else {
        (Vec::new(), Vec::new())
    };
    /// start, end, protection, file offset of a shared map, name.
    type Row = (usize, usize, u32, Option<u64>, Vec<u8>);
    let mut rows: Vec<Row> = Vec::new();
    for (s, e, wr) in segs {
        // The ELF flags are not kept: read-only segments are shown as code (r-x).
        let prot = if wr {
            uk_abi::mman::PROT_READ | uk_abi::mman::PROT_WRITE
        } else {
            uk_abi::mman::PROT_READ | uk_abi::mman::PROT_EXEC
        };
        rows.push((s, e, prot, None, exe.clone()));
    }
    for (s, v) in p.mm.maps() {
        let (shared, name) = match &v.kind {
            crate::mm::Kind::Brk => (None, b"[heap]".to_vec()),
            crate::mm::Kind::Shared { backing, first, .. } => {
                (Some(first * uk_abi::PAGE_SIZE as u64), backing.name())
            }
            // Linux names a shared anonymous map after the object behind it.
            crate::mm::Kind::SharedAnon => (Some(0), b"/dev/zero (deleted)".to_vec()),
            crate::mm::Kind::Anon | crate::mm::Kind::Copy { .. } => (None, Vec::new()),
        };
        rows.push((s, s + v.len, v.prot, shared, name));
    }
    rows.sort_by_key(|r| r.0);
    for (s, e, p, sh, n) in rows {
        line(&mut out, s, e, p, sh, &n);
    }
    out
}

/// /proc/PID/fd: one link per descriptor. Targets as Linux shows them: the path a file
/// was opened by, `pipe:[ino]`, `socket:[ino]`, `anon_inode:[eventfd]` and friends;
/// following a link opens the descriptor itself.
fn list_fds(pid: usize) -> Vec<DynLink> {
    let p = of(pid);
    // Following a link opens the reader's descriptor: only the reader's own are
    // aliases; another process's show their targets.
    let own = p.pid() == crate::process::current().pid();
    p.fds
        .open_fds()
        .into_iter()
        .map(|(n, f)| {
            let perm = match f.status_flags() & uk_abi::fcntl::O_ACCMODE {
                super::O_WRONLY => 0o300,
                uk_abi::fcntl::O_RDWR => 0o700,
                _ => 0o500,
            };
            let mut s = String::new();
            w!(s, "{n}");
            DynLink {
                name: s.into_bytes(),
                target: fd_target(n, &f),
                perm,
                fd: own.then_some(n as u32),
            }
        })
        .collect()
}

fn fd_target(n: i32, f: &alloc::sync::Arc<dyn crate::file::File>) -> Vec<u8> {
    if let Some(of) = super::OpenFile::of(f) {
        if let Some(p) = of.path() {
            return p;
        }
    }
    let st = f.stat().unwrap_or_default();
    let ino = if st.st_ino != 0 { st.st_ino } else { n as u64 };
    let mut s = String::new();
    match st.st_mode & uk_abi::stat::S_IFMT {
        uk_abi::stat::S_IFIFO => w!(s, "pipe:[{ino}]"),
        0o140000 => w!(s, "socket:[{ino}]"),
        uk_abi::stat::S_IFCHR if st.st_rdev >> 8 == 136 => w!(s, "/dev/pts/{}", st.st_rdev & 0xff),
        uk_abi::stat::S_IFCHR if st.st_rdev == (5 << 8 | 2) => w!(s, "/dev/ptmx"),
        uk_abi::stat::S_IFCHR if st.st_rdev == 5 << 8 => w!(s, "/dev/tty"),
        uk_abi::stat::S_IFCHR => w!(s, "/dev/console"),
        _ => {
            let any = f.as_any();
            let is = |t: core::any::TypeId| any.is_some_and(|a| a.type_id() == t);
            let kind = if is(core::any::TypeId::of::<crate::eventfd::EventFd>()) {
                "eventfd"
            } else if is(core::any::TypeId::of::<crate::timerfd::TimerFd>()) {
                "timerfd"
            } else if is(core::any::TypeId::of::<crate::epoll::Epoll>()) {
                "eventpoll"
            } else {
                "unknown"
            };
            w!(s, "anon_inode:[{kind}]")
        }
    }
    s.into_bytes()
}

/// /proc/meminfo from the page allocator: all memory the image was given is "total",
/// its free pages are "free" and "available" (there is no cache to reclaim, no swap);
/// "Slab" is the kernel heap in use.
fn gen_meminfo(_: usize) -> Vec<u8> {
    let st = uk_alloc::PAGES.lock().stats();
    let kb = |pages: usize| pages * uk_alloc::PAGE_SIZE / 1024;
    let mut s = String::new();
    for (k, v) in [
        ("MemTotal:", kb(st.total_pages)),
        ("MemFree:", kb(st.free_pages)),
        ("MemAvailable:", kb(st.free_pages)),
        ("Buffers:", 0),
        ("Cached:", 0),
        ("SwapCached:", 0),
        ("SwapTotal:", 0),
        ("SwapFree:", 0),
        ("Shmem:", 0),
        // The kernel's own objects: its heap in use (Linux counts its slab caches).
        ("Slab:", uk_alloc::heap_in_use() / 1024),
    ] {
        w!(s, "{k:<16}{v:>8} kB\n");
    }
    s.into_bytes()
}

/// /proc/cpuinfo: one CPU (ukit runs on one), described by CPUID.
fn gen_cpuinfo(_: usize) -> Vec<u8> {
    use uk_arch::cpu::cpuid;
    let l0 = cpuid(0, 0);
    let mut vendor = Vec::new();
    for r in [l0.ebx, l0.edx, l0.ecx] {
        vendor.extend_from_slice(&r.to_le_bytes());
    }
    let mut brand = Vec::new();
    if cpuid(0x8000_0000, 0).eax >= 0x8000_0004 {
        for leaf in 0x8000_0002u32..=0x8000_0004 {
            let r = cpuid(leaf, 0);
            for x in [r.eax, r.ebx, r.ecx, r.edx] {
                brand.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
    let brand: Vec<u8> = brand.into_iter().filter(|c| *c != 0).collect();
    let brand = brand.trim_ascii();
    let l1 = cpuid(1, 0);
    let base_family = (l1.eax >> 8) & 0xf;
    let family = if base_family == 0xf {
        base_family + ((l1.eax >> 20) & 0xff)
    } else {
        base_family
    };
    let mut model = (l1.eax >> 4) & 0xf;
    if base_family == 0x6 || base_family == 0xf {
        model |= ((l1.eax >> 16) & 0xf) << 4;
    }
    let l7 = if l0.eax >= 7 {
        cpuid(7, 0)
    } else {
        core::arch::x86_64::CpuidResult {
            eax: 0,
            ebx: 0,
            ecx: 0,
            edx: 0,
        }
    };
    let ext = cpuid(0x8000_0001, 0);
    let mut flags: Vec<&str> = Vec::new();
    let bit = |r: u32, b: u32| r & (1 << b) != 0;
    for (r, b, name) in [
        (l1.edx, 0, "fpu"),
        (l1.edx, 4, "tsc"),
        (l1.edx, 8, "cx8"),
        (l1.edx, 15, "cmov"),
        (l1.edx, 23, "mmx"),
        (l1.edx, 24, "fxsr"),
        (l1.edx, 25, "sse"),
        (l1.edx, 26, "sse2"),
        (ext.edx, 11, "syscall"),
        (ext.edx, 20, "nx"),
        (ext.edx, 26, "pdpe1gb"),
        (ext.edx, 27, "rdtscp"),
        (ext.edx, 29, "lm"),
        (l1.ecx, 0, "pni"),
        (l1.ecx, 1, "pclmulqdq"),
        (l1.ecx, 9, "ssse3"),
        (l1.ecx, 12, "fma"),
        (l1.ecx, 13, "cx16"),
        (l1.ecx, 19, "sse4_1"),
        (l1.ecx, 20, "sse4_2"),
        (l1.ecx, 21, "x2apic"),
        (l1.ecx, 22, "movbe"),
        (l1.ecx, 23, "popcnt"),
        (l1.ecx, 25, "aes"),
        (l1.ecx, 26, "xsave"),
        (l1.ecx, 28, "avx"),
        (l1.ecx, 29, "f16c"),
        (l1.ecx, 30, "rdrand"),
        (l1.ecx, 31, "hypervisor"),
        (ext.ecx, 0, "lahf_lm"),
        (ext.ecx, 5, "abm"),
        (l7.ebx, 0, "fsgsbase"),
        (l7.ebx, 3, "bmi1"),
        (l7.ebx, 5, "avx2"),
        (l7.ebx, 8, "bmi2"),
        (l7.ebx, 9, "erms"),
        (l7.ebx, 16, "avx512f"),
        (l7.ebx, 18, "rdseed"),
        (l7.ebx, 19, "adx"),
        (l7.ebx, 29, "sha_ni"),
        (l7.edx, 4, "fsrm"),
    ] {
        if bit(r, b) {
            flags.push(name);
        }
    }
    let mut out = Vec::new();
    let mut s = String::new();
    w!(s, "processor\t: 0\nvendor_id\t: ");
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(&vendor);
    let mut s = String::new();
    w!(
        s,
        "\ncpu family\t: {family}\nmodel\t\t: {model}\nmodel name\t: "
    );
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(brand);
    let mut s = String::new();
    w!(s, "\nstepping\t: {}\n", l1.eax & 0xf);
    w!(
        s,
        "physical id\t: 0\nsiblings\t: 1\ncore id\t\t: 0\ncpu cores\t: 1\n"
    );
    w!(s, "fpu\t\t: yes\ncpuid level\t: {}\nflags\t\t:", l0.eax);
    for f in flags {
        w!(s, " {f}");
    }
    w!(
        s,
        "\naddress sizes\t: 48 bits physical, 48 bits virtual\n\n"
    );
    out.extend_from_slice(s.as_bytes());
    out
}

fn gen_uptime(_: usize) -> Vec<u8> {
    let up = time::uptime_ns() / 10_000_000;
    let idle = uk_sched::idle_ns() / 10_000_000;
    let mut s = String::new();
    w!(
        s,
        "{}.{:02} {}.{:02}\n",
        up / 100,
        up % 100,
        idle / 100,
        idle % 100
    );
    s.into_bytes()
}

/// /proc/loadavg: ukit keeps no load average (zeros); runnable/total threads and the
/// last thread id given out.
fn gen_loadavg(_: usize) -> Vec<u8> {
    let ids: Vec<i32> = uk_sched::thread_ids()
        .into_iter()
        .filter(|t| uk_sched::thread(*t).is_some_and(|th| !th.is_kernel()))
        .collect();
    let last = ids
        .iter()
        .copied()
        .max()
        .unwrap_or(crate::process::current().pid());
    let mut s = String::new();
    w!(s, "0.00 0.00 0.00 1/{} {last}\n", ids.len());
    s.into_bytes()
}

/// A field of `uname` (NUL-padded) without its padding.
fn uname_field(i: usize) -> Vec<u8> {
    let u = ident::uname();
    let f = [
        u.sysname,
        u.nodename,
        u.release,
        u.version,
        u.machine,
        u.domainname,
    ][i];
    let len = f.iter().position(|c| *c == 0).unwrap_or(f.len());
    f[..len].to_vec()
}

fn with_nl(mut v: Vec<u8>) -> Vec<u8> {
    v.push(b'\n');
    v
}

fn gen_version(_: usize) -> Vec<u8> {
    let mut out = b"Linux version ".to_vec();
    out.extend_from_slice(&uname_field(2));
    out.extend_from_slice(b" (ukit) ");
    out.extend_from_slice(&uname_field(3));
    with_nl(out)
}

fn gen_ostype(_: usize) -> Vec<u8> {
    with_nl(uname_field(0))
}

fn gen_osrelease(_: usize) -> Vec<u8> {
    with_nl(uname_field(2))
}

fn gen_hostname(_: usize) -> Vec<u8> {
    with_nl(uname_field(1))
}

/// The root of the mounted /proc, where process directories come and go.
static ROOT: spin::Mutex<Option<Arc<SynthDir>>> = spin::Mutex::new(None);

/// `/proc/<pid>` for process `pid`: its files describe that process (the directory's
/// context word is the pid). Already there (an exec'd process keeps its pid): nothing.
fn process_dir(root: &SynthDir, pid: i32) {
    let mut name = String::new();
    w!(name, "{pid}");
    let Ok(p) = root.add_dir_for(name.as_bytes(), 0o555, pid as usize) else {
        return;
    };
    let per_proc = Deny::AtWrite(Errno::EINVAL);
    let _ = p.add_file(b"stat", 0o444, gen_stat, per_proc);
    let _ = p.add_file(b"status", 0o444, gen_status, per_proc);
    let _ = p.add_file(b"cmdline", 0o444, gen_cmdline, per_proc);
    let _ = p.add_file(b"comm", 0o644, gen_comm, per_proc);
    let _ = p.add_file(b"environ", 0o400, gen_environ, per_proc);
    let _ = p.add_file(b"maps", 0o444, gen_maps, per_proc);
    let _ = p.add_file(b"mounts", 0o444, gen_mounts, per_proc);
    let _ = p.add_link(b"exe", gen_exe);
    let _ = p.add_link(b"cwd", gen_cwd);
    if let Ok(fd) = p.add_dir(b"fd", 0o500) {
        fd.set_list(list_fds);
    }
}

/// The process table changed (process.rs's hook): `pid` was registered (`added`) or
/// reaped.
fn table_changed(pid: i32, added: bool) {
    let Some(root) = ROOT.lock().clone() else {
        return;
    };
    if added {
        process_dir(&root, pid);
    } else {
        let mut name = String::new();
        w!(name, "{pid}");
        root.remove(name.as_bytes());
        EXECS.lock().remove(&pid);
    }
}

/// Build the /proc tree.
pub(crate) fn new() -> KResult<SynthFs> {
    let fs = SynthFs::new();
    let root = fs.root_dir();
    // Linux's errors for writes by root: per-process files EINVAL (process_dir), the
    // others EIO, sysctl files refuse the open.
    let global = Deny::AtWrite(Errno::EIO);
    let sysctl = Deny::AtOpen(Errno::EACCES);
    for p in crate::process::all() {
        process_dir(&root, p.pid());
    }
    *ROOT.lock() = Some(root.clone());
    crate::process::TABLE_CHANGED.set(table_changed);
    root.add_link(b"self", gen_self)?;
    root.add_link(b"mounts", |_| b"self/mounts".to_vec())?;
    root.add_file(b"meminfo", 0o444, gen_meminfo, global)?;
    root.add_file(b"cpuinfo", 0o444, gen_cpuinfo, global)?;
    root.add_file(b"uptime", 0o444, gen_uptime, global)?;
    root.add_file(b"loadavg", 0o444, gen_loadavg, global)?;
    root.add_file(b"version", 0o444, gen_version, global)?;
    let k = root.add_dir(b"sys", 0o555)?.add_dir(b"kernel", 0o555)?;
    k.add_file(b"ostype", 0o444, gen_ostype, sysctl)?;
    k.add_file(b"osrelease", 0o444, gen_osrelease, sysctl)?;
    k.add_file(b"hostname", 0o644, gen_hostname, sysctl)?;
    Ok(fs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(stat: &[u8]) -> Vec<String> {
        let s = core::str::from_utf8(stat).unwrap();
        let close = s.rfind(')').unwrap();
        let mut v = alloc::vec![
            s[..s.find(' ').unwrap()].into(),
            s[s.find('(').unwrap() + 1..close].into()
        ];
        v.extend(s[close + 2..].split_whitespace().map(String::from));
        v
    }

    #[test]
    fn stat_has_52_fields_and_rss() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let rw = uk_abi::mman::PROT_READ | uk_abi::mman::PROT_WRITE;
        let a = crate::fs::mmap::mmap(
            0,
            4 << 12,
            rw,
            uk_abi::mman::MAP_PRIVATE | uk_abi::mman::MAP_ANONYMOUS,
            -1,
            0,
        )
        .unwrap();
        let st = gen_stat(1);
        assert!(st.ends_with(b"\n"));
        let f = fields(&st);
        assert_eq!(f.len(), 52, "{f:?}");
        assert_eq!(f[0], "1");
        assert_eq!(f[2], "R");
        assert_eq!(f[7], "-1");
        // Field 24 counted the way Redis does: 23 spaces from the start.
        let s = core::str::from_utf8(&st).unwrap();
        let mut p = s;
        for _ in 0..23 {
            p = &p[p.find(' ').unwrap() + 1..];
        }
        let rss: u64 = p[..p.find(' ').unwrap()].parse().unwrap();
        assert!(rss >= 4, "the 4-page map is resident");
        assert_eq!(rss.to_string(), f[23]);
        assert!(f[22].parse::<u64>().unwrap() >= rss * 4096);
        crate::process::current().mm.munmap(a, 4 << 12).unwrap();
    }

    #[test]
    fn status_and_meminfo() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let rw = uk_abi::mman::PROT_READ | uk_abi::mman::PROT_WRITE;
        let a = crate::fs::mmap::mmap(
            0,
            4 << 12,
            rw,
            uk_abi::mman::MAP_PRIVATE | uk_abi::mman::MAP_ANONYMOUS,
            -1,
            0,
        )
        .unwrap();
        let st = String::from_utf8(gen_status(1)).unwrap();
        assert!(st.starts_with("Name:\t"));
        assert!(st.contains("\nPid:\t1\n"));
        let rss = st.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        let kb: u64 = rss[6..rss.len() - 3].trim().parse().unwrap();
        assert!(kb >= 16);
        crate::process::current().mm.munmap(a, 4 << 12).unwrap();
        assert!(st.contains(&alloc::format!(
            "Threads:\t{}\n",
            program_threads(&of(1)).len()
        )));
        let mi = String::from_utf8(gen_meminfo(0)).unwrap();
        let total = mi.lines().next().unwrap();
        assert!(total.starts_with("MemTotal:       "), "{total}");
        assert_eq!(total.len(), 16 + 8 + 3);
        let kb: u64 = total[16..24].trim().parse().unwrap();
        let pages = uk_alloc::PAGES.lock().stats().total_pages;
        assert_eq!(kb as usize, pages * 4);
        assert!(kb > 60 * 1024 && kb <= 64 * 1024, "testplat gives 64 MiB");
    }

    #[test]
    fn cmdline_exe_and_names() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        set_args(
            [&b"/usr/bin/../bin/./prog"[..], b"-x"].into_iter(),
            [&b"A=1"[..]].into_iter(),
        );
        assert_eq!(gen_cmdline(1), b"/usr/bin/../bin/./prog\0-x\0");
        assert_eq!(gen_environ(1), b"A=1\0");
        assert_eq!(gen_exe(1), b"/usr/bin/prog");
        assert_eq!(gen_comm(1), b"prog\n");
        assert_eq!(normalize(b"/a/../../b//c/."), b"/b/c");
        let e = exe_path(b"no-such-prog-xyz", Some(b"/nonexistent"));
        assert!(e.starts_with(b"/") && e.ends_with(b"/no-such-prog-xyz"));
        crate::process::current().info.set_program_name(b"ukit");
    }

    #[test]
    fn tree_and_fd_links() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let fs = new().unwrap();
        let root = fs.root();
        let l = uk_vfs::Loc::at_root(root.clone());
        let r = uk_vfs::path::resolve(&l, b"/self/fd/0", true).unwrap();
        assert_eq!(r.alias, Some(0));
        let r = uk_vfs::path::resolve(&l, b"/self/fd/1", false).unwrap();
        let t = r.node.unwrap().readlink().unwrap();
        assert!(t.starts_with(b"/dev/"), "{:?}", String::from_utf8_lossy(&t));
        let n = crate::eventfd::eventfd_fd(0, 0).unwrap();
        let f = crate::process::current().fds.get(n).unwrap();
        assert_eq!(fd_target(n, &f), b"anon_inode:[eventfd]");
        crate::process::current().fds.close(n).unwrap();
        for p in [
            &b"/meminfo"[..],
            b"/cpuinfo",
            b"/sys/kernel/ostype",
            b"/1/maps",
        ] {
            let r = uk_vfs::path::resolve(&l, p, true).unwrap();
            assert!(r.node.is_some(), "{p:?}");
        }
        let cpu = String::from_utf8(gen_cpuinfo(0)).unwrap();
        assert!(cpu.starts_with("processor\t: 0\nvendor_id\t: "));
        assert!(cpu.contains(" sse2"));
        assert_eq!(gen_ostype(0), b"Linux\n");
    }
}
