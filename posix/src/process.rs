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

    /// A copy (a new process starts with its parent's directory and umask).
    pub fn duplicate(&self) -> Self {
        FsContext {
            cwd: spin::Mutex::new(self.cwd.lock().clone()),
            root: spin::Mutex::new(self.root.lock().clone()),
            umask: AtomicU32::new(self.umask()),
        }
    }
}

impl Default for FsContext {
    fn default() -> Self {
        Self::new()
    }
}

/// How the parent of a vfork child resumes once the child execs or exits: the
/// registers its vfork call saved, and its pid (the parent stays in the process table
/// while it waits, so the pid finds it).
pub struct VforkFrame {
    pub resume: uk_arch::Resume,
    pub parent: i32,
    /// The parent thread's signal state (mask, pending, alternate stack), kept aside.
    pub lent: crate::signal::LentThread,
}

impl VforkFrame {
    /// The registers and the lent thread's signal state, the box freed (taking the box is
    /// the point: the caller's frame is abandoned right after).
    #[allow(clippy::boxed_local)]
    pub fn into_parts(
        self: alloc::boxed::Box<Self>,
    ) -> (uk_arch::Resume, crate::signal::LentThread) {
        let VforkFrame { resume, lent, .. } = *self;
        (resume, lent)
    }
}

/// Where a process is in its life, and who its children are (what wait(2) reads).
#[derive(Default)]
pub struct Life {
    /// Pids of children not yet reaped (zombies included).
    pub children: alloc::vec::Vec<i32>,
    /// Set once the process has ended: its wait status (exit code << 8, or the signal).
    pub status: Option<i32>,
    /// The signal the parent gets when this process ends (SIGCHLD, from clone's flags).
    pub exit_signal: usize,
    /// The process has run execve (setpgid on it is EACCES from its parent).
    pub did_exec: bool,
    /// PR_SET_CHILD_SUBREAPER: orphaned descendants come to this process, not pid 1.
    pub subreaper: bool,
    /// A stop or continue the parent has not been told about through wait yet (Linux
    /// keeps one: a continue replaces an unreported stop and the other way round).
    pub job: Option<JobEvent>,
}

/// A job-control event of a process, for its parent's wait (WUNTRACED, WCONTINUED).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobEvent {
    /// Stopped by this signal.
    Stopped(usize),
    /// Continued by SIGCONT.
    Continued,
}

/// One process.
pub struct Process {
    pub ids: spin::Mutex<Ids>,
    /// Children, exit status; see [`Life`].
    pub life: spin::Mutex<Life>,
    /// Threads of this process waiting in wait4/waitid for a child to change state.
    pub child_wait: uk_sched::WaitQueue,
    /// While this process is a vfork child that has neither exec'd nor exited: how its
    /// parent resumes (docs/processes.md, "vfork"). Owned by posix/src/vfork.rs.
    pub vfork: spin::Mutex<Option<alloc::boxed::Box<VforkFrame>>>,
    /// The process has ended (exit_group, a fatal signal): its other threads end at
    /// their next way out of the kernel.
    pub ending: core::sync::atomic::AtomicBool,
    /// The process is stopped (SIGSTOP and friends): its threads park at their next way
    /// out of the kernel until SIGCONT or SIGKILL (posix/src/lifecycle.rs).
    pub stopped: core::sync::atomic::AtomicBool,
    /// Where the threads of a stopped process park.
    pub cont_wait: uk_sched::WaitQueue,
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
            life: spin::Mutex::new(Life::default()),
            child_wait: uk_sched::WaitQueue::new(),
            vfork: spin::Mutex::new(None),
            ending: core::sync::atomic::AtomicBool::new(false),
            stopped: core::sync::atomic::AtomicBool::new(false),
            cont_wait: uk_sched::WaitQueue::new(),
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
        proc.signals.add_thread(uk_sched::current_tid());
        TABLE.lock().insert(INIT_PID, proc.clone());
        *PARAMS.lock() = Some(p);
        proc
    })
}

/// Every process of the image that has not been reaped, by pid (zombies included).
/// A process that runs execve is replaced here by the object of its new image, with
/// the same pid (posix/src/exec.rs).
static TABLE: spin::Mutex<alloc::collections::BTreeMap<i32, Arc<Process>>> =
    spin::Mutex::new(alloc::collections::BTreeMap::new());

/// What boot gave the first process: the defaults of the programs exec loads.
static PARAMS: spin::Mutex<Option<InitParams>> = spin::Mutex::new(None);

/// The first process's parameters (brk and stack sizes for exec'd programs).
pub fn init_params() -> Option<InitParams> {
    *PARAMS.lock()
}

/// The process with id `pid`, zombies included.
pub fn lookup(pid: i32) -> Option<Arc<Process>> {
    TABLE.lock().get(&pid).cloned()
}

/// Every process, zombies included, in pid order.
pub fn all() -> alloc::vec::Vec<Arc<Process>> {
    TABLE.lock().values().cloned().collect()
}

/// Told when a pid enters the table (true) or leaves it (false): /proc keeps a
/// directory per process (posix/src/fs/proc.rs sets it when it mounts).
pub static TABLE_CHANGED: uk_plat::Hook<fn(i32, bool)> = uk_plat::Hook::new();

/// Put `p` in the table under its pid (a new process, or a new image of one).
pub fn register(p: &Arc<Process>) {
    TABLE.lock().insert(p.pid(), p.clone());
    if let Some(f) = TABLE_CHANGED.get() {
        f(p.pid(), true);
    }
}

/// Take `pid` out of the table (wait reaped it).
pub fn unregister(pid: i32) -> Option<Arc<Process>> {
    let p = TABLE.lock().remove(&pid);
    if let Some(f) = TABLE_CHANGED.get() {
        f(pid, false);
    }
    p
}

impl Process {
    /// A new process made of parts: what vfork and exec assemble.
    #[allow(clippy::too_many_arguments)]
    pub fn assemble(
        ids: Ids,
        creds: Creds,
        fds: FdTable,
        fs: FsContext,
        mm: Arc<AddressSpace>,
        signals: Arc<SignalState>,
        limits: Limits,
        life: Life,
    ) -> Arc<Process> {
        Arc::new(Process {
            ids: spin::Mutex::new(ids),
            creds: spin::Mutex::new(creds),
            life: spin::Mutex::new(life),
            child_wait: uk_sched::WaitQueue::new(),
            vfork: spin::Mutex::new(None),
            ending: core::sync::atomic::AtomicBool::new(false),
            stopped: core::sync::atomic::AtomicBool::new(false),
            cont_wait: uk_sched::WaitQueue::new(),
            fds,
            fs,
            mm,
            itimers: Arc::new(Itimers::new(signals.clone())),
            ptimers: Ptimers::new(signals.clone()),
            signals,
            limits,
            info: ProcInfo::new(),
        })
    }

    /// The parent's pid (0 for the first process).
    pub fn ppid(&self) -> i32 {
        self.ids.lock().ppid
    }

    /// The wait status once the process has ended (a zombie until reaped).
    pub fn status(&self) -> Option<i32> {
        self.life.lock().status
    }
}

/// True when thread `t` belongs to `p`.
pub fn owner_is(t: &uk_sched::Thread, p: &Process) -> bool {
    t.owner() == p as *const Process as usize
}

/// Make the running thread one of `p`'s threads and `p`'s memory the active one (vfork
/// moves the calling thread between parent and child).
pub fn adopt_current(p: &Arc<Process>) {
    crate::mm::activate(&p.mm);
    adopt(&uk_sched::current(), p);
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

/// The scheduler asks before a program thread of `word` runs: must its process's view
/// of the fork family ranges be shown first?
pub(crate) fn view_needed(word: usize) -> bool {
    of_owner(word).mm.needs_view()
}

/// Show the view of `word`'s process (called on the scheduler's switch stack).
pub(crate) extern "C" fn show_view(word: usize) {
    of_owner(word).mm.show_view();
}

/// Drop the reference an exiting thread held (the scheduler's owner word); the
/// scheduler calls this once the thread can no longer run.
pub(crate) fn release(word: usize) {
    if word != 0 {
        // SAFETY: every non-zero owner word was made by `adopt` with Arc::into_raw of an
        // Arc<Process>, and is released once (the scheduler clears the word it returns).
        drop(unsafe { Arc::from_raw(word as *const Process) });
    }
    clear_replaced_init();
}

/// The first process object once its program replaced itself with execve: it stays
/// (kernel threads act for it, through a `'static` reference), but its memory goes
/// back once none of its threads is left.
static REPLACED_INIT: spin::Mutex<bool> = spin::Mutex::new(false);

/// The boot program was replaced (exec.rs): free its memory when its threads are gone.
pub fn init_replaced() {
    *REPLACED_INIT.lock() = true;
    clear_replaced_init();
}

fn clear_replaced_init() {
    let mut pending = REPLACED_INIT.lock();
    if !*pending {
        return;
    }
    let Some(first) = INIT.get() else {
        return;
    };
    let alive = uk_sched::thread_ids()
        .into_iter()
        .filter_map(uk_sched::thread)
        .any(|t| owner_is(&t, first));
    if !alive {
        *pending = false;
        first.fds.close_all();
        first.mm.clear();
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
