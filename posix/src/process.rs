//! The process: the state Linux keeps per process, gathered in one object.
//!
//! A [`Process`] holds the descriptor table, the memory (address space), signal
//! dispositions and pending signals, resource limits, ids and credentials, the working
//! directory and umask, interval timers and the /proc facts (command line, name). The
//! modules that define these parts (fd, mm, signal, ident, itimer, rusage) know nothing
//! of `Process` and never look up "the current process": they act on the part they are
//! given. This module sits above them and is what system calls use to find the caller's
//! process ([`current`]); a second process in the same image is a second `Process`.
//!
//! Each thread carries its process as the scheduler's per-thread owner word (a counted
//! reference, released when the thread exits). Kernel threads have none and act for
//! the image's first process ([`init`]).

use crate::fd::FdTable;
use crate::file::File;
use crate::ident::{Creds, Ids, Limits, INIT_PID};
use crate::itimer::Itimers;
use crate::mm::AddressSpace;
use crate::ptimer::Ptimers;
use crate::rusage::ProcInfo;
use crate::signal::SignalState;
use crate::KResult;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};
use uk_vfs::Loc;

/// Working directory, root directory and umask (what `CLONE_FS` shares).
pub struct FsContext {
    /// None: the root (until boot or chdir sets one).
    pub cwd: spin::Mutex<Option<Loc>>,
    /// Where absolute paths start (chroot); None: the namespace root.
    pub root: spin::Mutex<Option<Loc>>,
    pub umask: AtomicU32,
}

impl FsContext {
    pub const fn new() -> Self {
        FsContext {
            cwd: spin::Mutex::new(None),
            root: spin::Mutex::new(None),
            umask: AtomicU32::new(0o022),
        }
    }

    pub fn umask(&self) -> u32 {
        self.umask.load(Ordering::Relaxed)
    }
}

impl Default for FsContext {
    fn default() -> Self {
        Self::new()
    }
}

/// One process.
pub struct Process {
    pub ids: spin::Mutex<Ids>,
    pub creds: spin::Mutex<Creds>,
    pub fds: FdTable,
    pub fs: FsContext,
    pub mm: Arc<AddressSpace>,
    pub signals: Arc<SignalState>,
    pub limits: Limits,
    pub itimers: Arc<Itimers>,
    /// timer_create's timers.
    pub ptimers: Ptimers,
    pub info: ProcInfo,
}

impl Process {
    /// The process id.
    pub fn pid(&self) -> i32 {
        self.ids.lock().pid
    }

    /// Install `file` at the lowest free descriptor (EMFILE past RLIMIT_NOFILE).
    pub fn install(&self, file: Arc<dyn File>, cloexec: bool) -> KResult<i32> {
        self.fds.install(file, cloexec, self.limits.nofile())
    }

    /// The file behind `fd` (EBADF when it is not open).
    pub fn file(&self, fd: i32) -> KResult<Arc<dyn File>> {
        self.fds.get(fd)
    }

    /// dup(2)/F_DUPFD within RLIMIT_NOFILE.
    pub fn dup_min(&self, fd: i32, min: i32, cloexec: bool) -> KResult<i32> {
        self.fds.dup_min(fd, min, cloexec, self.limits.nofile())
    }

    /// dup2(2)/dup3(2) within RLIMIT_NOFILE.
    pub fn dup_to(&self, old: i32, new: i32, cloexec: bool) -> KResult<i32> {
        self.fds.dup_to(old, new, cloexec, self.limits.nofile())
    }

    /// prlimit64(2) naming this process (`pid` 0 or its own; ESRCH otherwise).
    pub fn prlimit(&self, pid: i32, res: u32, new: Option<(u64, u64)>) -> KResult<(u64, u64)> {
        if pid != 0 && pid != self.pid() {
            return Err(crate::Errno::ESRCH);
        }
        self.limits.get_set(res, new)
    }
}

/// What boot tells the process layer about the first process.
#[derive(Clone, Copy, Debug)]
pub struct InitParams {
    /// RLIMIT_NOFILE (soft, hard).
    pub nofile: (u64, u64),
    /// RLIMIT_STACK soft limit.
    pub stack_size: usize,
    /// Largest brk area.
    pub brk_max: usize,
}

static INIT: spin::Once<Arc<Process>> = spin::Once::new();

/// Create the image's first process (pid 1, its own group and session), make its
/// memory active and make the running thread (the boot thread) one of its threads.
pub(crate) fn create_init(p: InitParams) -> &'static Arc<Process> {
    INIT.call_once(|| {
        let mm = Arc::new(AddressSpace::new(p.brk_max));
        let signals = Arc::new(SignalState::new(INIT_PID));
        let proc = Arc::new(Process {
            ids: spin::Mutex::new(Ids {
                pid: INIT_PID,
                ppid: 0,
                pgid: INIT_PID,
                sid: INIT_PID,
            }),
            creds: spin::Mutex::new(Creds::default()),
            fds: FdTable::new(),
            fs: FsContext::new(),
            mm,
            itimers: Arc::new(Itimers::new(signals.clone())),
            ptimers: Ptimers::new(signals.clone()),
            signals,
            limits: Limits::new(p.nofile, p.stack_size),
            info: ProcInfo::new(),
        });
        crate::mm::activate(&proc.mm);
        adopt(&uk_sched::current(), &proc);
        proc
    })
}

/// The image's first process.
///
/// # Panics
/// Before boot created it.
pub fn init() -> &'static Arc<Process> {
    INIT.get()
        .expect("ukit: the first process does not exist yet")
}

/// Make `t` a thread of `p`: it holds a counted reference until it exits.
pub fn adopt(t: &uk_sched::Thread, p: &Arc<Process>) {
    let word = Arc::into_raw(p.clone()) as usize;
    let old = uk_sched::set_owner(t, word);
    release(old);
}

/// The process an owner word stands for (0: the first process).
pub(crate) fn of_owner(word: usize) -> &'static Process {
    if word == 0 {
        return init();
    }
    // SAFETY: a non-zero owner word is an Arc<Process> that its thread still holds: the
    // scheduler passes a word here only before it calls the exit hook that releases it.
    unsafe { &*(word as *const Process) }
}

/// The scheduler switched to a thread whose owner word is `word`: make its process's
/// memory the active address space.
pub(crate) fn switched(word: usize) {
    crate::mm::activate(&of_owner(word).mm);
}

/// Drop the reference an exiting thread held (the scheduler's owner word); the
/// scheduler calls this once the thread can no longer run.
pub(crate) fn release(word: usize) {
    if word != 0 {
        // SAFETY: every non-zero owner word was made by `adopt` with Arc::into_raw of an
        // Arc<Process>, and is released once (the scheduler clears the word it returns).
        drop(unsafe { Arc::from_raw(word as *const Process) });
    }
}

/// A counted reference to the running thread's process (for a new thread of it).
pub fn current_arc() -> Arc<Process> {
    let word = uk_sched::current_owner();
    if word == 0 {
        return init().clone();
    }
    // SAFETY: as in `current`; the count goes up by one for the returned Arc.
    unsafe {
        Arc::increment_strong_count(word as *const Process);
        Arc::from_raw(word as *const Process)
    }
}

/// The process of the running thread: the caller's process in a system call. Kernel
/// threads act for the first process.
///
/// The reference is valid while the calling thread runs: the thread itself holds a
/// counted reference to its process until it exits.
#[inline]
pub fn current() -> &'static Process {
    let word = uk_sched::current_owner();
    if word == 0 {
        return init();
    }
    // SAFETY: a non-zero owner word is an Arc<Process> the running thread holds (see
    // `adopt`); the thread cannot drop it while it runs this call, so the process
    // outlives every use the caller makes of the reference during the call.
    unsafe { &*(word as *const Process) }
}

/// A CPU-time clock id (clock_getcpuclockid) that names the calling process by its pid,
/// rewritten to name it as the caller (pid 0), the form `time` reads; any other clock
/// id is returned unchanged.
pub fn own_clock(clock: i32) -> i32 {
    if clock < 0 && clock & 4 == 0 && !(clock >> 3) == current().pid() {
        (!0 << 3) | (clock & 7)
    } else {
        clock
    }
}
