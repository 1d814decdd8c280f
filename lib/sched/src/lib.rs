//! Threads on one CPU.
//!
//! A thread runs until it blocks (on a [`WaitQueue`], a deadline, or both), yields, or
//! is preempted. System calls are plain function calls, so a program thread blocks
//! inside the kernel on its own stack: no separate kernel stack, no mode switch. When
//! nothing is runnable the scheduler asks the platform to wait until the earliest
//! deadline (one host call on linuxu, `hlt` on kvm): an idle image uses no CPU.
//!
//! Preemption (docs/runtime.md): whenever the thread about to run has company in the
//! run queue, the platform's preemption timer is armed for one time slice; when a
//! sleeper's deadline or a timer is nearer, for that. The platform interrupts program
//! code when it fires and the kernel's preemption hook calls [`yield_now`] there
//! (kernel code is never interrupted: it finishes first, see `uk_plat::cpu`). A thread
//! that is alone keeps the CPU without ticks.
//!
//! Locks here are never held across a context switch.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod wait;

pub use wait::{wait_any, WaitQueue, NOTIFY_IN, NOTIFY_OUT};

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicI32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use litemap::LiteMap;
use uk_arch::Context;

/// Why a blocked thread woke up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Wake {
    /// Someone called [`wake`] (the condition it waited for may hold).
    Woken = 1,
    /// Its deadline passed.
    Timeout = 2,
    /// A signal arrived for it ([`interrupt`]).
    Interrupted = 3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum State {
    Runnable = 0,
    Running = 1,
    Blocked = 2,
    Exited = 3,
}

/// A thread. Program threads run on stacks musl allocated; kernel-made threads own a
/// stack from the page allocator with an unused guard page below it.
pub struct Thread {
    pub tid: i32,
    ctx: UnsafeCell<Context>,
    state: AtomicU8,
    wake: AtomicU8,
    /// Monotonic deadline while blocked (0: none).
    deadline: AtomicU64,
    /// %fs base, loaded on every switch to this thread.
    tls: AtomicUsize,
    /// Owned stack pages (base including the guard page, length), freed after exit.
    stack: Option<(usize, usize)>,
    /// Exit status for joiners in the kernel (program threads report through musl).
    pub exit_code: AtomicI32,
    /// An opaque word the layer above attaches to the thread (posix: its process); 0
    /// for none. See [`set_owner`].
    owner: AtomicUsize,
    /// A thread started on a kernel stack that went on to run a program (the main
    /// thread of a program execve loaded): not a kernel thread.
    program: core::sync::atomic::AtomicBool,
    /// Nanoseconds this thread had the CPU, up to its last switch away (the running
    /// thread adds the time since [`RUN_START`]). Idle waits are charged to no one.
    cpu_ns: AtomicU64,
}

// SAFETY: `ctx` is only touched by the scheduler while switching, on the one CPU, with
// the thread not running; every other field is atomic or immutable.
unsafe impl Sync for Thread {}
// SAFETY: as above.
unsafe impl Send for Thread {}

impl Thread {
    fn new(tid: i32, ctx: Context, stack: Option<(usize, usize)>, tls: usize) -> Self {
        Thread {
            tid,
            ctx: UnsafeCell::new(ctx),
            state: AtomicU8::new(State::Runnable as u8),
            wake: AtomicU8::new(0),
            deadline: AtomicU64::new(0),
            tls: AtomicUsize::new(tls),
            stack,
            exit_code: AtomicI32::new(0),
            owner: AtomicUsize::new(0),
            program: core::sync::atomic::AtomicBool::new(false),
            cpu_ns: AtomicU64::new(0),
        }
    }

    fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            0 => State::Runnable,
            1 => State::Running,
            2 => State::Blocked,
            _ => State::Exited,
        }
    }

    fn set_state(&self, s: State) {
        self.state.store(s as u8, Ordering::Release);
    }

    /// The thread's %fs base.
    pub fn tls(&self) -> usize {
        self.tls.load(Ordering::Relaxed)
    }

    /// The word the layer above attached ([`set_owner`]).
    pub fn owner(&self) -> usize {
        self.owner.load(Ordering::Acquire)
    }

    pub fn has_exited(&self) -> bool {
        self.state() == State::Exited
    }

    /// A thread the kernel started for itself (it owns a kernel stack), as opposed to a
    /// program thread (tid 1 or made by clone on a program stack). Signals for the
    /// process are never given to kernel threads: they never return to the program.
    pub fn is_kernel(&self) -> bool {
        self.stack.is_some() && !self.program.load(Ordering::Relaxed)
    }

    /// This thread, started on a kernel stack, now runs program code (posix: the main
    /// thread of a program execve loaded); signals may be delivered to it.
    pub fn mark_program(&self) {
        self.program.store(true, Ordering::Relaxed);
    }
}

/// A one-shot timer callback (alarm, timerfd, itimers).
struct Timer {
    id: u64,
    deadline: u64,
    f: fn(usize),
    arg: usize,
}

/// An exited thread, with the program memory to unmap once off its stack (a detached
/// thread's own stack).
type Zombie = (Arc<Thread>, Option<(usize, usize)>);

struct Sched {
    current: Option<Arc<Thread>>,
    runq: VecDeque<Arc<Thread>>,
    /// Blocked threads that have a deadline.
    timed: Vec<Arc<Thread>>,
    threads: LiteMap<i32, Arc<Thread>>,
    /// Exited threads whose stack can be freed once we are off it.
    zombies: Vec<Zombie>,
    timers: Vec<Timer>,
    next_tid: i32,
    next_timer: u64,
}

static SCHED: spin::Mutex<Sched> = spin::Mutex::new(Sched {
    current: None,
    runq: VecDeque::new(),
    timed: Vec::new(),
    threads: LiteMap::new(),
    zombies: Vec::new(),
    timers: Vec::new(),
    next_tid: 2,
    next_timer: 1,
});

/// Nanoseconds spent idle (waiting on the platform with nothing to run).
static IDLE_NS: AtomicU64 = AtomicU64::new(0);
/// When the running thread last got the CPU (monotonic ns): the start of the stretch
/// not yet in its `cpu_ns`.
static RUN_START: AtomicU64 = AtomicU64::new(0);
/// Context switches so far.
static SWITCHES: AtomicU64 = AtomicU64::new(0);
/// Unmaps a detached thread's stack, given (its owner word, addr, len): posix's munmap
/// in that thread's process, set at boot.
pub static UNMAP_HOOK: uk_plat::Hook<fn(usize, usize, usize)> = uk_plat::Hook::new();
/// Called with the owner word of the thread about to run when it differs from the
/// previous thread's (posix: another process runs, activate its memory).
pub static OWNER_SWITCH: uk_plat::Hook<fn(usize)> = uk_plat::Hook::new();
/// Asked, with the owner word of a program thread about to run, whether the memory the
/// program sees must change first (posix: another process's view of the program ranges
/// is shown, docs/processes.md "fork").
pub static VIEW_NEEDED: uk_plat::Hook<fn(usize) -> bool> = uk_plat::Hook::new();
/// Shows the view of the owner word it is given; runs on [`SWITCH_STACK`], between
/// the outgoing thread's save and the incoming thread's load, when [`VIEW_NEEDED`]
/// said so.
pub static VIEW_INSTALL: uk_plat::Hook<extern "C" fn(usize)> = uk_plat::Hook::new();

/// The stack a view changes on: outside every program range, so that neither the
/// outgoing nor the incoming thread's stack has to be visible meanwhile. One CPU, and
/// the switch runs with the scheduler's state settled: one stack is enough.
#[repr(C, align(16))]
struct SwitchStack(UnsafeCell<[u8; SWITCH_STACK_SIZE]>);
const SWITCH_STACK_SIZE: usize = 32 * 1024;
// SAFETY: only the switch in `schedule` uses it, on the one CPU, and never twice at once
// (kernel code is not preempted, docs/runtime.md).
unsafe impl Sync for SwitchStack {}
static SWITCH_STACK: SwitchStack = SwitchStack(UnsafeCell::new([0; SWITCH_STACK_SIZE]));

/// Called with an exited thread's non-zero owner word once it can no longer run (posix:
/// drop the thread's reference to its process).
pub static OWNER_EXIT: uk_plat::Hook<fn(usize)> = uk_plat::Hook::new();
/// The running thread's owner word (kept beside the scheduler lock: read on every
/// system call).
static CURRENT_OWNER: AtomicUsize = AtomicUsize::new(0);

/// Attach `word` to thread `t` (replacing and returning the old word); the running
/// thread's word is what [`current_owner`] reads.
pub fn set_owner(t: &Thread, word: usize) -> usize {
    let old = t.owner.swap(word, Ordering::AcqRel);
    if SCHED
        .lock()
        .current
        .as_ref()
        .is_some_and(|c| c.tid == t.tid)
    {
        CURRENT_OWNER.store(word, Ordering::Release);
    }
    old
}

/// The running thread's owner word (0 before one is set, and for kernel threads).
#[inline]
pub fn current_owner() -> usize {
    CURRENT_OWNER.load(Ordering::Acquire)
}
/// Kernel stack size for kernel-made threads.
static KSTACK: AtomicUsize = AtomicUsize::new(64 * 1024);
/// The time slice in ns; 0: no preemption (threads switch when they block or yield).
static SLICE_NS: AtomicU64 = AtomicU64::new(0);

/// Adopt the running boot context as the main thread (tid 1). `timeslice_ns`: how long
/// a thread runs before another runnable one gets the CPU (0: never preempt).
pub fn init(kernel_stack: usize, timeslice_ns: u64) {
    KSTACK.store(kernel_stack, Ordering::Relaxed);
    SLICE_NS.store(timeslice_ns, Ordering::Relaxed);
    RUN_START.store(
        uk_plat::try_get().map_or(0, |p| p.monotonic_ns()),
        Ordering::Relaxed,
    );
    let t = Arc::new(Thread::new(1, Context::default(), None, 0));
    t.set_state(State::Running);
    let mut s = SCHED.lock();
    s.threads.clear();
    s.threads.insert(1, t.clone());
    s.current = Some(t);
}

/// Called each time the idle wait returns: posix takes the signals that arrived from
/// outside the image while it was idle. Set at boot.
pub static IDLE_HOOK: uk_plat::Hook<fn()> = uk_plat::Hook::new();

fn run_idle_hook() {
    if let Some(f) = IDLE_HOOK.get() {
        f();
    }
}

/// The running thread.
pub fn current() -> Arc<Thread> {
    SCHED
        .lock()
        .current
        .clone()
        .expect("ukit: scheduler not initialised")
}

/// The running thread's id (1 before the scheduler starts).
pub fn current_tid() -> i32 {
    SCHED.lock().current.as_ref().map(|t| t.tid).unwrap_or(1)
}

/// Look a thread up by id.
pub fn thread(tid: i32) -> Option<Arc<Thread>> {
    SCHED.lock().threads.get(&tid).cloned()
}

/// Number of live threads.
pub fn thread_count() -> usize {
    SCHED.lock().threads.len()
}

/// Ids of all live threads.
pub fn thread_ids() -> Vec<i32> {
    SCHED.lock().threads.keys().copied().collect()
}

/// Where the stacks of the threads `owner` has ([`set_owner`]) are now: the stack
/// pointer each saved when it last switched away, and an address in the running
/// thread's current frame. posix's fork keeps these stacks out of copy-on-write: the
/// kernel runs on them (docs/processes.md, "Copy-on-write").
pub fn stack_pointers(owner: usize) -> Vec<usize> {
    let here = 0u8;
    let me = core::hint::black_box(&here) as *const u8 as usize;
    let s = SCHED.lock();
    let cur = s.current.as_ref().map(|t| t.tid);
    s.threads
        .values()
        .filter(|t| t.owner() == owner && !t.has_exited())
        .map(|t| {
            if Some(t.tid) == cur {
                me
            } else {
                // SAFETY: the thread is not running (one CPU; the running one is `cur`),
                // so its context holds the stack pointer it saved, and nothing writes
                // it while the scheduler lock is held.
                unsafe { (*t.ctx.get()).rsp }
            }
        })
        .collect()
}

/// The time slice a thread runs before another runnable one gets the CPU (ns; 0: no
/// preemption).
pub fn timeslice_ns() -> u64 {
    SLICE_NS.load(Ordering::Relaxed)
}

/// CPU time of thread `tid` in nanoseconds (the time it held the CPU, kernel work on
/// its behalf included: ukit has no user/system split), or None when there is no such
/// thread. pthread_getcpuclockid's clocks read this.
pub fn thread_cpu_ns(tid: i32) -> Option<u64> {
    let s = SCHED.lock();
    let t = s.threads.get(&tid)?;
    let mut ns = t.cpu_ns.load(Ordering::Relaxed);
    if s.current.as_ref().is_some_and(|c| c.tid == tid) {
        let now = uk_plat::get().monotonic_ns();
        ns += now.saturating_sub(RUN_START.load(Ordering::Relaxed));
    }
    Some(ns)
}

/// Charge the running thread `prev` with its time on the CPU up to now, and start a new
/// stretch (for whichever thread runs next, or for nobody while idle). Returns now.
fn charge(prev: &Thread) -> u64 {
    let now = uk_plat::get().monotonic_ns();
    let start = RUN_START.swap(now, Ordering::Relaxed);
    prev.cpu_ns
        .fetch_add(now.saturating_sub(start), Ordering::Relaxed);
    now
}

pub fn idle_ns() -> u64 {
    IDLE_NS.load(Ordering::Relaxed)
}

pub fn switches() -> u64 {
    SWITCHES.load(Ordering::Relaxed)
}

/// Set a thread's %fs base (loaded now if it is the running thread).
pub fn set_tls(t: &Thread, base: usize) {
    t.tls.store(base, Ordering::Relaxed);
    if SCHED
        .lock()
        .current
        .as_ref()
        .is_some_and(|c| c.tid == t.tid)
    {
        uk_plat::get().set_tls_base(base);
    }
}

/// Start a thread that runs `entry(arg)` on `stack_top` (a program stack) or, when
/// `None`, on a fresh kernel stack with a guard page. Returns None when out of memory
/// or thread ids.
pub fn spawn(
    entry: extern "C" fn(usize) -> !,
    arg: usize,
    stack_top: Option<usize>,
    tls: usize,
) -> Option<Arc<Thread>> {
    spawn_as(None, entry, arg, stack_top, tls)
}

/// Take a thread id that no thread has yet, for a thread started later with
/// [`spawn_as`] (posix: a new process gets its pid before its first thread exists, and
/// its main thread's id is its pid, as on Linux). None when ids ran out.
pub fn reserve_tid() -> Option<i32> {
    let mut s = SCHED.lock();
    let tid = s.next_tid;
    if tid == i32::MAX {
        return None;
    }
    s.next_tid += 1;
    Some(tid)
}

/// [`spawn`] with an id from [`reserve_tid`] (`None`: a fresh one).
pub fn spawn_as(
    reserved: Option<i32>,
    entry: extern "C" fn(usize) -> !,
    arg: usize,
    stack_top: Option<usize>,
    tls: usize,
) -> Option<Arc<Thread>> {
    let (top, owned) = match stack_top {
        Some(t) => (t, None),
        None => {
            let size = uk_alloc::page_round_up(KSTACK.load(Ordering::Relaxed))?;
            let guard = uk_alloc::PAGE_SIZE;
            let base = uk_alloc::PAGES
                .lock()
                .alloc((size + guard) / uk_alloc::PAGE_SIZE)?;
            // The MMU keeps the guard page inaccessible where the platform can, so an
            // overflow faults at once instead of writing over the next allocation.
            uk_plat::get().protect(base, guard, uk_abi::mman::PROT_NONE);
            (base + guard + size, Some((base, size + guard)))
        }
    };
    // SAFETY: `top` is the top of a writable stack that lives as long as the thread
    // (program stacks are kept by musl until the thread has exited).
    let ctx = unsafe { Context::new_thread(top, thread_start, arg) };
    let tid = match reserved {
        Some(t) => t,
        None => reserve_tid()?,
    };
    let mut s = SCHED.lock();
    let t = Arc::new(Thread::new(tid, ctx, owned, tls));
    START.lock().insert(tid, entry);
    s.threads.insert(tid, t.clone());
    s.runq.push_back(t.clone());
    arm_preempt(&s);
    Some(t)
}

/// Entries of threads not yet started, by tid (the context carries only one word).
static START: spin::Mutex<LiteMap<i32, extern "C" fn(usize) -> !>> =
    spin::Mutex::new(LiteMap::new());

extern "C" fn thread_start(arg: usize) -> ! {
    after_switch();
    let tid = current_tid();
    let entry = START.lock().remove(&tid);
    match entry {
        Some(f) => f(arg),
        None => exit_current(127),
    }
}

/// Give the CPU to another runnable thread, if any.
pub fn yield_now() {
    {
        if SCHED.lock().runq.is_empty() {
            fire_expired();
            let s = SCHED.lock();
            if s.runq.is_empty() {
                // Nothing to switch to (a preemption that came early for a deadline):
                // the timer is spent, arm it for what is still due.
                arm_preempt(&s);
                return;
            }
        }
        let mut s = SCHED.lock();
        let cur = s.current.clone().expect("scheduler running");
        cur.set_state(State::Runnable);
        s.runq.push_back(cur);
    }
    schedule();
}

/// Block the running thread until [`wake`], [`interrupt`] or `deadline` (monotonic
/// ns). The caller must already be findable by its waker (on a wait queue), so that no
/// wake-up is lost: with one CPU and no preemption nothing runs in between.
pub fn block(deadline: Option<u64>) -> Wake {
    let cur = current();
    cur.wake.store(0, Ordering::Relaxed);
    if let Some(d) = deadline {
        if d <= uk_plat::get().monotonic_ns() {
            return Wake::Timeout;
        }
    }
    cur.set_state(State::Blocked);
    cur.deadline.store(deadline.unwrap_or(0), Ordering::Relaxed);
    if deadline.is_some() {
        SCHED.lock().timed.push(cur.clone());
    }
    schedule();
    match cur.wake.load(Ordering::Relaxed) {
        2 => Wake::Timeout,
        3 => Wake::Interrupted,
        _ => Wake::Woken,
    }
}

fn make_runnable(s: &mut Sched, t: &Arc<Thread>, why: Wake) -> bool {
    if t.state() != State::Blocked {
        return false;
    }
    t.wake.store(why as u8, Ordering::Relaxed);
    t.set_state(State::Runnable);
    if t.deadline.swap(0, Ordering::Relaxed) != 0 {
        s.timed.retain(|x| x.tid != t.tid);
    }
    s.runq.push_back(t.clone());
    // The running thread may go on computing: the woken one gets the CPU within a slice.
    arm_preempt(s);
    true
}

/// Make a blocked thread runnable. False if it was not blocked.
pub fn wake(t: &Arc<Thread>) -> bool {
    make_runnable(&mut SCHED.lock(), t, Wake::Woken)
}

/// Wake a blocked thread because a signal arrived for it.
pub fn interrupt(t: &Arc<Thread>) -> bool {
    make_runnable(&mut SCHED.lock(), t, Wake::Interrupted)
}

/// Arm a one-shot timer: `f(arg)` runs from the scheduler once `deadline` passes.
pub fn add_timer(deadline: u64, f: fn(usize), arg: usize) -> u64 {
    let mut s = SCHED.lock();
    let id = s.next_timer;
    s.next_timer += 1;
    s.timers.push(Timer {
        id,
        deadline,
        f,
        arg,
    });
    arm_preempt(&s);
    id
}

/// Cancel a timer; false if it already fired or never existed.
pub fn cancel_timer(id: u64) -> bool {
    let mut s = SCHED.lock();
    let before = s.timers.len();
    s.timers.retain(|t| t.id != id);
    s.timers.len() != before
}

/// Wake threads whose deadline passed and run expired timers.
fn fire_expired() {
    {
        // Most switches happen with nothing timed: skip the clock read then.
        let s = SCHED.lock();
        if s.timed.is_empty() && s.timers.is_empty() {
            return;
        }
    }
    let now = uk_plat::get().monotonic_ns();
    let mut due: Vec<(fn(usize), usize)> = Vec::new();
    {
        let mut s = SCHED.lock();
        let expired: Vec<Arc<Thread>> = s
            .timed
            .iter()
            .filter(|t| {
                let d = t.deadline.load(Ordering::Relaxed);
                d != 0 && d <= now
            })
            .cloned()
            .collect();
        for t in expired {
            make_runnable(&mut s, &t, Wake::Timeout);
        }
        let mut i = 0;
        while i < s.timers.len() {
            if s.timers[i].deadline <= now {
                let t = s.timers.swap_remove(i);
                due.push((t.f, t.arg));
            } else {
                i += 1;
            }
        }
    }
    // Callbacks run without the lock: they wake threads and post signals.
    for (f, arg) in due {
        f(arg);
    }
}

fn earliest_deadline(s: &Sched) -> Option<u64> {
    let a = s
        .timed
        .iter()
        .map(|t| t.deadline.load(Ordering::Relaxed))
        .filter(|d| *d != 0)
        .min();
    let b = s.timers.iter().map(|t| t.deadline).min();
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// How long a program thread runs at most while a kernel thread (the network thread)
/// waits: kernel threads do a bounded batch of work and yield when more is left, and
/// frames a device holds meanwhile wait for them (passt drops what its socket cannot
/// take), so they get the CPU back within this rather than a whole slice.
const KERNEL_WAIT_NS: u64 = 1_000_000;

/// Arm the preemption timer for the thread that runs now: one slice from now when
/// another thread is runnable (at most [`KERNEL_WAIT_NS`] when a kernel thread is),
/// else the nearest deadline (a sleeper's, a timer's), else nothing (an armed timer may
/// fire once for nothing). The platform skips the host call when the timer is already
/// due sooner.
fn arm_preempt(s: &Sched) {
    let mut slice = SLICE_NS.load(Ordering::Relaxed);
    if slice == 0 {
        return;
    }
    let d = if s.runq.is_empty() {
        earliest_deadline(s)
    } else {
        if s.runq.iter().any(|t| t.is_kernel()) {
            slice = slice.min(KERNEL_WAIT_NS);
        }
        let soon = uk_plat::get().monotonic_ns().saturating_add(slice);
        Some(earliest_deadline(s).map_or(soon, |d| d.min(soon)))
    };
    if d.is_some() {
        uk_plat::get().set_preempt_timer(d);
    }
}

/// Pick the next thread and switch to it; idle on the platform while none is runnable.
/// Returns when the calling thread runs again.
fn schedule() {
    loop {
        fire_expired();
        let (prev, next) = {
            let mut s = SCHED.lock();
            let prev = s.current.clone().expect("scheduler running");
            match s.runq.pop_front() {
                Some(n) if n.tid == prev.tid => {
                    n.set_state(State::Running);
                    arm_preempt(&s);
                    return;
                }
                Some(n) => {
                    charge(&prev);
                    s.current = Some(n.clone());
                    arm_preempt(&s);
                    (prev, n)
                }
                None => {
                    if prev.state() == State::Running || prev.state() == State::Runnable {
                        prev.set_state(State::Running);
                        arm_preempt(&s);
                        return;
                    }
                    let d = earliest_deadline(&s);
                    drop(s);
                    let t0 = charge(&prev);
                    let p = uk_plat::get();
                    p.wait(d);
                    let t1 = p.monotonic_ns();
                    IDLE_NS.fetch_add(t1.saturating_sub(t0), Ordering::Relaxed);
                    // The idle wait is nobody's CPU time.
                    RUN_START.store(t1, Ordering::Relaxed);
                    run_idle_hook();
                    continue;
                }
            }
        };
        next.set_state(State::Running);
        uk_plat::get().set_tls_base(next.tls());
        let owner = next.owner.load(Ordering::Acquire);
        CURRENT_OWNER.store(owner, Ordering::Release);
        if owner != prev.owner.load(Ordering::Acquire) {
            if let Some(f) = OWNER_SWITCH.get() {
                f(owner);
            }
        }
        SWITCHES.fetch_add(1, Ordering::Relaxed);
        // No counted reference may stay in this frame across the switch: an exited
        // thread's frame is never resumed, so what it held here would never be freed
        // (a Thread per thread exit). The thread table, the run queue, `current` or the
        // zombie list keep both threads alive.
        let (from, to) = (prev.ctx.get(), next.ctx.get());
        let install = if next.is_kernel() {
            None
        } else {
            VIEW_NEEDED
                .get()
                .filter(|needed| needed(owner))
                .and_then(|_| VIEW_INSTALL.get())
        };
        drop(prev);
        drop(next);
        match install {
            Some(f) => {
                let mid = SWITCH_STACK.0.get() as usize + SWITCH_STACK_SIZE;
                // SAFETY: as below; the switch stack is used by this switch alone (one
                // CPU, kernel code is not preempted) and `f` returns.
                unsafe { uk_arch::switch_via(&mut *from, &*to, mid, f, owner) };
            }
            // SAFETY: both contexts belong to live threads (the Arcs are held by the
            // thread table or the zombie list until after_switch); prev is not running
            // elsewhere (one CPU) and next was made by new_thread or saved by a switch.
            None => unsafe { uk_arch::switch(&mut *from, &*to) },
        }
        after_switch();
        return;
    }
}

/// Runs on the thread just switched to: free what exited threads left behind.
fn after_switch() {
    let zombies: Vec<Zombie> = {
        let mut s = SCHED.lock();
        let cur = s.current.as_ref().map(|c| c.tid);
        let (gone, keep): (Vec<_>, Vec<_>) = core::mem::take(&mut s.zombies)
            .into_iter()
            .partition(|(t, _)| Some(t.tid) != cur);
        s.zombies = keep;
        gone
    };
    for (z, unmap) in zombies {
        if let Some((base, len)) = z.stack {
            free_stack(base, len);
        }
        // The owner word goes last: the unmap acts in the exited thread's process.
        let owner = z.owner.swap(0, Ordering::AcqRel);
        if let (Some((a, l)), Some(f)) = (unmap, UNMAP_HOOK.get()) {
            f(owner, a, l);
        }
        if let (true, Some(f)) = (owner != 0, OWNER_EXIT.get()) {
            f(owner);
        }
    }
}

/// Give an exited thread's kernel stack (guard page included) back to the page
/// allocator. Where the allocator promises that free pages read as zero (linuxu), the
/// pages must be zero when freed: program maps (and so musl's heap, which trusts fresh
/// anonymous memory to be zero) take pages from the same allocator without clearing
/// them, and a stack freed dirty showed up as heap corruption in the program.
fn free_stack(base: usize, len: usize) {
    let plat = uk_plat::get();
    plat.protect(base, uk_alloc::PAGE_SIZE, uk_abi::mman::PROT_RW);
    let zeroed = plat.release(base, len);
    let mut pa = uk_alloc::PAGES.lock();
    if !zeroed && pa.free_is_zero() {
        // SAFETY: the stack belonged to a thread that has exited and is no longer
        // running (we are on another thread's stack); nothing else refers to it.
        unsafe { core::ptr::write_bytes(base as *mut u8, 0, len) };
    }
    pa.free(base, len / uk_alloc::PAGE_SIZE);
}

/// End the running thread. When it is the last one, the platform exits with `code`.
pub fn exit_current(code: i32) -> ! {
    exit_current_unmapping(code, None)
}

/// End the running thread and, once off its stack, unmap `[addr, addr+len)` (a
/// detached thread freeing its own stack: musl's __unmapself).
pub fn exit_current_unmapping(code: i32, unmap: Option<(usize, usize)>) -> ! {
    let cur = current();
    cur.exit_code.store(code, Ordering::Relaxed);
    let last = {
        let mut s = SCHED.lock();
        s.threads.remove(&cur.tid);
        cur.set_state(State::Exited);
        s.zombies.push((cur.clone(), unmap));
        s.threads.is_empty()
    };
    if last {
        uk_plat::get().exit(code);
    }
    drop(cur);
    schedule();
    unreachable!("an exited thread was scheduled again")
}

#[cfg(test)]
mod tests;
