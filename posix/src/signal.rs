//! Signals for the one process: dispositions, per-thread masks, pending sets, sending
//! (kill/tgkill/tkill, timers, EPIPE), waiting (sigsuspend, sigtimedwait) and delivery.
//!
//! There is no user/kernel boundary, so a handler is a plain function call made by the
//! kernel on the program thread's own stack (or its sigaltstack), at the end of a system
//! call: [`syscall_exit`] is called by the syscall shim after every call. The handler's
//! `ucontext_t` is built in the kernel's frame; when it returns, the signal mask is taken
//! back from `uc_sigmask`, which is what `rt_sigreturn` does on Linux (musl's
//! cancellation handler relies on that). `sa_restorer` is never used.
//!
//! A thread that computes without system calls gets its signals at the next preemption
//! point (`SignalState::deliver_async`, docs/runtime.md "Preemption"), where the handler
//! sees the interrupted registers in `uc_mcontext`; at a system call's end there are none
//! and `uc_mcontext` is zero. musl's `pthread_cancel` works at cancellation points: its
//! SIGCANCEL handler re-raises the signal blocked, and a cancellable call interrupted by
//! it returns EINTR (never restarted) so that musl's `__syscall_cp_c` acts on
//! `self->cancel` (docs/signals.md, "Thread cancellation").

use uk_abi::signal::{
    DELAYTIMER_MAX, MINSIGSTKSZ, NSIG, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART,
    SA_SIGINFO, SIGCANCEL, SIGCHLD, SIGCONT, SIGKILL, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG,
    SIGWINCH, SIG_BLOCK, SIG_DFL, SIG_IGN, SIG_SETMASK, SIG_UNBLOCK, SI_KERNEL, SI_TKILL, SI_USER,
    SS_AUTODISARM, SS_DISABLE, SS_ONSTACK,
};

use crate::{Errno, KResult};
use alloc::collections::VecDeque;
use core::sync::atomic::{AtomicBool, Ordering};
use litemap::LiteMap;
use uk_abi::signal::Siginfo;

pub use uk_abi::signal::{KSigaction, StackT};

/// One pending signal instance: what its `siginfo_t` will say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Queued {
    pub sig: usize,
    pub code: i32,
    pub pid: i32,
    /// `si_value` (sigqueue, timers).
    pub value: u64,
    /// Set for a POSIX timer's signal (`crate::ptimer`): which timer, and how many
    /// expirations it missed while this instance was pending.
    pub timer: Option<TimerSignal>,
}

/// The timer part of a POSIX timer's signal (`si_tid`, `si_overrun`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerSignal {
    pub id: i32,
    pub overrun: u32,
}

impl Queued {
    /// The `siginfo_t` a handler or rt_sigtimedwait sees for this instance.
    pub fn siginfo(&self) -> Siginfo {
        match self.timer {
            // Timers: si_tid, si_overrun, si_value (the uid's and pid's places).
            Some(t) => Siginfo::sent(self.sig, self.code, t.id, t.overrun, self.value),
            None => Siginfo::sent(self.sig, self.code, self.pid, 0, self.value),
        }
    }
}

/// A set of pending signals. Standard signals (< 32) pend at most once; real-time
/// signals queue every instance, as on Linux.
#[derive(Default)]
struct Pending {
    set: u64,
    q: VecDeque<Queued>,
}

const fn bit(sig: usize) -> u64 {
    1 << (sig - 1)
}

impl Pending {
    const fn new() -> Self {
        Pending {
            set: 0,
            q: VecDeque::new(),
        }
    }

    fn add(&mut self, q: Queued) {
        // A timer has at most one signal pending (Linux preallocates one per timer):
        // further expirations count as overruns of the one waiting.
        if let Some(t) = q.timer {
            let same = |x: &Queued| x.sig == q.sig && x.timer.is_some_and(|u| u.id == t.id);
            if let Some(p) = self.q.iter_mut().find(|x| same(x)) {
                let pt = p.timer.as_mut().expect("same timer");
                pt.overrun = pt
                    .overrun
                    .saturating_add(1)
                    .saturating_add(t.overrun)
                    .min(DELAYTIMER_MAX);
                return;
            }
        }
        if q.sig < 32 && self.set & bit(q.sig) != 0 {
            return;
        }
        self.set |= bit(q.sig);
        self.q.push_back(q);
    }

    /// Remove the first instance of `sig`.
    fn take(&mut self, sig: usize) -> Option<Queued> {
        let i = self.q.iter().position(|q| q.sig == sig)?;
        let q = self.q.remove(i)?;
        if !self.q.iter().any(|x| x.sig == sig) {
            self.set &= !bit(sig);
        }
        Some(q)
    }

    /// Drop every instance of `sig` (its action became "ignore").
    fn flush(&mut self, sig: usize) {
        self.q.retain(|q| q.sig != sig);
        self.set &= !bit(sig);
    }

    /// Drop the pending signal of timer `id` (the timer was deleted).
    fn drop_timer(&mut self, id: i32) {
        self.q.retain(|q| q.timer.is_none_or(|t| t.id != id));
        self.set = self.q.iter().fold(0, |s, q| s | bit(q.sig));
    }
}

/// The alternate signal stack of a thread.
#[derive(Clone, Copy, Debug, Default)]
struct AltStack {
    sp: usize,
    size: usize,
    /// Set up (not SS_DISABLE).
    enabled: bool,
}

/// What one thread has of its own.
#[derive(Default)]
struct ThreadSig {
    mask: u64,
    pending: Pending,
    /// Signals waited for by rt_sigtimedwait (they wake the thread although blocked).
    wait_set: u64,
    /// The mask to restore after the first handler (sigsuspend's temporary mask).
    saved_mask: Option<u64>,
    /// A signal woke this thread from a blocking wait (the call may be restarted).
    interrupted: bool,
    alt: AltStack,
}

impl ThreadSig {
    /// True when a signal of bit `b` would be taken by this thread now: not blocked,
    /// or waited for by rt_sigtimedwait.
    fn takes(&self, b: u64) -> bool {
        self.mask & !self.wait_set & b == 0
    }

    /// True when the thread blocks `b` or waits for it (an ignored signal is kept).
    fn holds(&self, b: u64) -> bool {
        (self.mask | self.wait_set) & b != 0
    }
}

struct State {
    /// A stop signal's default action stops this process; false for the image's first
    /// process, which ignores them as Linux's init does.
    stops: bool,
    actions: [KSigaction; NSIG],
    shared: Pending,
    threads: LiteMap<i32, ThreadSig>,
    /// POSIX timers: the overrun count of each one's last delivered signal
    /// (timer_getoverrun).
    overruns: LiteMap<i32, u32>,
}

/// A thread's signal state while a vfork child borrows the thread
/// ([`SignalState::lend_thread`]).
#[derive(Default)]
pub struct LentThread(ThreadSig);

/// The signal state of one process: dispositions, the process-wide pending set, and
/// each of its threads' masks, pending sets and alternate stacks. A process holds one
/// (`crate::process::Process::signals`); the functions here act on the one they are
/// given and never look up "the current process" themselves.
pub struct SignalState {
    /// The process these signals belong to (`si_pid` of signals it sends itself).
    pid: i32,
    state: spin::Mutex<State>,
    /// Something is pending somewhere: the cheap test made after every system call.
    any: AtomicBool,
}

impl SignalState {
    /// Default dispositions, nothing pending.
    pub fn new(pid: i32) -> Self {
        SignalState {
            pid,
            state: spin::Mutex::new(State {
                stops: pid != crate::ident::INIT_PID,
                actions: [KSigaction::default(); NSIG],
                shared: Pending::new(),
                threads: LiteMap::new(),
                overruns: LiteMap::new(),
            }),
            any: AtomicBool::new(false),
        }
    }
}

const UNBLOCKABLE: u64 = bit(SIGKILL) | bit(SIGSTOP);

impl State {
    fn thread(&mut self, tid: i32) -> &mut ThreadSig {
        self.threads.entry(tid).or_default()
    }

    fn refresh_any(&self, any: &AtomicBool) {
        let a = self.shared.set != 0 || self.threads.values().any(|t| t.pending.set != 0);
        any.store(a, Ordering::Relaxed);
    }

    /// True when `sig`'s current action discards it.
    fn ignores(&self, sig: usize) -> bool {
        match self.actions[sig - 1].handler {
            SIG_IGN => true,
            SIG_DFL => match default_action(sig) {
                Default::Ignore => true,
                Default::Stop => !self.stops,
                Default::Terminate => false,
            },
            _ => false,
        }
    }

    /// True when `sig`'s action is its default "stop the process".
    fn default_stops(&self, sig: usize) -> bool {
        self.stops
            && self.actions[sig - 1].handler == SIG_DFL
            && default_action(sig) == Default::Stop
    }

    /// Drop every pending instance of the signals in `bits`, process-wide and per thread.
    fn flush_set(&mut self, bits: u64) {
        for sig in 1..=NSIG {
            if bits & bit(sig) != 0 {
                self.shared.flush(sig);
                for (_, t) in self.threads.iter_mut() {
                    t.pending.flush(sig);
                }
            }
        }
    }
}

/// The stop signals: a SIGCONT sent discards those pending, and they discard a pending
/// SIGCONT (Linux's prepare_signal).
const STOP_SIGNALS: u64 = bit(SIGSTOP) | bit(SIGTSTP) | bit(SIGTTIN) | bit(SIGTTOU);

/// What a signal does when its action is SIG_DFL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Default {
    Terminate,
    Ignore,
    /// Stop the process until SIGCONT (job control, through [`JOB_CONTROL`]).
    Stop,
}

fn default_action(sig: usize) -> Default {
    match sig {
        SIGCHLD | SIGURG | SIGWINCH | SIGCONT => Default::Ignore,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => Default::Stop,
        _ => Default::Terminate,
    }
}

fn valid(sig: usize) -> KResult<()> {
    if sig == 0 || sig > NSIG {
        Err(Errno::EINVAL)
    } else {
        Ok(())
    }
}

/// Drop the state of threads that have exited (tids are never reused). The threads
/// left are the process's members: process-directed signals pick among them, never a
/// thread of another process (threads join through [`SignalState::add_thread`] and
/// [`SignalState::on_clone`]).
fn prune(s: &mut State) {
    let live = uk_sched::thread_ids();
    s.threads.retain(|tid, _| live.contains(tid));
}

/// Where a signal is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Any thread that does not block it (kill, alarm).
    Process,
    /// This thread only (tkill, tgkill, SIGPIPE).
    Thread(i32),
}

fn user_signal(pid: i32, sig: usize, code: i32) -> Queued {
    Queued {
        sig,
        code,
        pid,
        value: 0,
        timer: None,
    }
}

/// Remove and return the lowest pending signal of `set` for thread `tid` (its own
/// pending first, then the process's).
fn dequeue(s: &mut State, any: &AtomicBool, tid: i32, set: u64) -> Option<Queued> {
    let shared = s.shared.set;
    let t = s.thread(tid);
    let avail = (t.pending.set | shared) & set;
    if avail == 0 {
        return None;
    }
    let sig = avail.trailing_zeros() as usize + 1;
    let q = if t.pending.set & bit(sig) != 0 {
        t.pending.take(sig)
    } else {
        s.shared.take(sig)
    };
    if let Some(t) = q.and_then(|q| q.timer) {
        s.overruns.insert(t.id, t.overrun);
    }
    s.refresh_any(any);
    q
}

fn deliverable(s: &mut State, tid: i32) -> bool {
    let shared = s.shared.set;
    let t = s.thread(tid);
    (t.pending.set | shared) & !t.mask != 0
}

/// The calling thread's stack pointer, near enough: the kernel runs on the program's
/// stack, so the address of a local tells which stack we are on.
#[inline(never)]
fn current_sp() -> usize {
    let x = 0u8;
    core::hint::black_box(&x) as *const u8 as usize
}

fn on_alt(a: &AltStack, sp: usize) -> bool {
    a.enabled && sp >= a.sp && sp < a.sp.saturating_add(a.size)
}

/// How a system call's end went, for the restart decision.
#[derive(Default)]
struct Outcome {
    /// A handler without SA_RESTART ran (or SIGCANCEL's, which must see EINTR).
    no_restart: bool,
}

/// A decided delivery (taken out of the state, lock released).
struct Delivery {
    q: Queued,
    act: KSigaction,
    /// `uc_sigmask`: the mask restored when the handler returns.
    uc_mask: u64,
    alt: AltStack,
    /// Run the handler on the alternate stack.
    switch: bool,
    onstack_now: bool,
}

enum Taken {
    Handler(Delivery),
    Ignore,
    Terminate(usize),
    /// A stop signal's default action (it was blocked when sent).
    Stop(usize),
}

use uk_abi::signal::ucontext as uc_off;
use uk_abi::signal::Mcontext;

/// How a default "terminate" action ends a process other than the image's first one
/// (set by posix/src/lifecycle.rs: it becomes a zombie with the signal as its wait
/// status). The hook returns false for the first process, whose end ends the image.
pub static TERMINATE: uk_plat::Hook<fn(usize) -> bool> = uk_plat::Hook::new();

/// Job control (set by posix/src/lifecycle.rs): `(pid, sig)` stops process `pid` (a stop
/// signal whose default action applies) or, for SIGCONT, continues it. Called with no
/// lock of this state held. Process-level facts (its parent, its group) live there.
pub static JOB_CONTROL: uk_plat::Hook<fn(i32, usize)> = uk_plat::Hook::new();

fn job_control(pid: i32, sig: usize) {
    if let Some(f) = JOB_CONTROL.get() {
        f(pid, sig);
    }
}

fn terminate(sig: usize) -> ! {
    if let Some(f) = TERMINATE.get() {
        f(sig);
    }
    uk_log::info!(
        "terminated by signal {sig}: exit status {}",
        128 + sig as i32
    );
    uk_plat::get().exit(128 + sig as i32)
}

/// Call the handler of `d`; returns the mask to restore (its `uc_sigmask`, which the
/// handler may have changed). `interrupted`: the program context a preemption
/// interrupted, shown in `uc_mcontext` (and taken back from it: a handler may edit it,
/// as on Linux); without one (delivery at a system call's end) `uc_mcontext` is zero.
fn run_handler(d: &Delivery, interrupted: Option<&mut Mcontext>) -> u64 {
    let mut info = d.q.siginfo();
    let mut uc = [0u64; uc_off::WORDS];
    uc[uc_off::STACK_SP] = d.alt.sp as u64;
    uc[uc_off::STACK_SIZE] = d.alt.size as u64;
    uc[uc_off::STACK_FLAGS] = if !d.alt.enabled {
        SS_DISABLE as u64
    } else if d.onstack_now {
        SS_ONSTACK as u64
    } else {
        0
    };
    uc[uc_off::SIGMASK] = d.uc_mask;
    match interrupted.as_deref() {
        Some(mc) => {
            uc[uc_off::GREGS..uc_off::GREGS + 23].copy_from_slice(&mc.gregs);
            // The platform's saved FPU state of the interrupted code.
            uc[uc_off::FPREGS_PTR] = mc.fpregs;
        }
        None => {
            // fpregs points at a default FXSAVE image (x87 control word, MXCSR), as
            // Linux points it at the saved FPU state.
            uc[uc_off::FPREGS_MEM] = 0x037f;
            uc[uc_off::FPREGS_MEM + 3] = 0x1f80;
            uc[uc_off::FPREGS_PTR] = uc[uc_off::FPREGS_MEM..].as_ptr() as u64;
        }
    }
    let uc_ptr = uc.as_mut_ptr() as usize;
    let info_ptr = &mut info as *mut Siginfo as usize;
    // The handler is program code: preemption may interrupt it.
    uk_plat::cpu::leave();
    if d.switch {
        let top = (d.alt.sp + d.alt.size) & !15;
        // SAFETY: the program registered [sp, sp+size) as its alternate signal stack
        // (at least MINSIGSTKSZ bytes) and the handler is a function it installed with
        // rt_sigaction; the pointers are to live locals of this frame.
        unsafe {
            uk_arch::sigstack::call_handler_on_stack(
                d.act.handler as usize,
                d.q.sig,
                info_ptr,
                uc_ptr,
                top,
            )
        };
    } else {
        // SAFETY: the program installed `handler` with rt_sigaction as a
        // `void (*)(int, siginfo_t *, void *)` (a one-argument handler ignores the
        // extra registers); both pointers are to live locals of this frame.
        let f = unsafe {
            core::mem::transmute::<usize, extern "C" fn(i32, usize, usize)>(d.act.handler as usize)
        };
        f(d.q.sig as i32, info_ptr, uc_ptr);
    }
    uk_plat::cpu::enter();
    // The handler wrote through the pointers; read the context back as sigreturn does.
    // SAFETY: `uc` is a live local; volatile because its address escaped.
    let uc = unsafe { core::ptr::read_volatile(&uc) };
    if let Some(mc) = interrupted {
        mc.gregs
            .copy_from_slice(&uc[uc_off::GREGS..uc_off::GREGS + 23]);
    }
    uc[uc_off::SIGMASK]
}

impl SignalState {
    /// A new thread starts with its creator's mask and no alternate stack (clone(2) with
    /// CLONE_VM). Called by the clone path right after the thread was made.
    pub fn on_clone(&self, child: i32) {
        let me = uk_sched::current_tid();
        let mut s = self.state.lock();
        prune(&mut s);
        let mask = s.thread(me).mask;
        let t = s.thread(child);
        *t = ThreadSig {
            mask,
            ..ThreadSig::default()
        };
    }

    /// Make `tid` one of this process's threads (the first thread of a process), with
    /// the signal mask `mask`.
    pub fn add_thread_masked(&self, tid: i32, mask: u64) {
        let mut s = self.state.lock();
        prune(&mut s);
        s.thread(tid).mask = mask & !UNBLOCKABLE;
    }

    /// [`add_thread_masked`](Self::add_thread_masked) keeping the mask it has, if any.
    pub fn add_thread(&self, tid: i32) {
        let mut s = self.state.lock();
        s.thread(tid);
    }

    /// Stop counting `tid` as one of this process's threads (vfork hands the calling
    /// thread back to the parent).
    pub fn remove_thread(&self, tid: i32) {
        self.state.lock().threads.remove(&tid);
    }

    /// Take thread `tid` out of this process while a vfork child runs on it: signals
    /// for the process then wait (pending) until [`take_back`](Self::take_back) returns
    /// its mask, pending signals and alternate stack.
    pub fn lend_thread(&self, tid: i32) -> LentThread {
        LentThread(self.state.lock().threads.remove(&tid).unwrap_or_default())
    }

    /// The end of [`lend_thread`](Self::lend_thread).
    pub fn take_back(&self, tid: i32, lent: LentThread) {
        let mut s = self.state.lock();
        s.threads.insert(tid, lent.0);
        s.refresh_any(&self.any);
    }

    /// The signal mask of thread `tid` (0 for a thread of another process).
    pub fn mask_of(&self, tid: i32) -> u64 {
        self.state
            .lock()
            .threads
            .get(&tid)
            .map(|t| t.mask)
            .unwrap_or(0)
    }

    /// The signal state of a new process made by vfork or clone: the parent's
    /// dispositions, nothing pending, and `tid` (the thread the child runs on) with
    /// mask `mask` (the parent thread's, as fork(2) keeps it).
    pub fn child_of(&self, pid: i32, tid: i32, mask: u64) -> SignalState {
        let child = SignalState::new(pid);
        // The calling thread's alternate signal stack comes along (fork(2): the child
        // inherits its settings; the stack is at the same address in the child's copy).
        let alt = {
            let s = self.state.lock();
            child.state.lock().actions = s.actions;
            s.threads
                .get(&uk_sched::current_tid())
                .map(|t| t.alt)
                .unwrap_or_default()
        };
        child.add_thread_masked(tid, mask);
        child.state.lock().thread(tid).alt = alt;
        child
    }

    /// The signal state after execve(2): handled signals go back to their default
    /// action (ignored ones stay ignored), pending signals and the mask stay, and
    /// `tid` becomes the only thread, with `mask`.
    pub fn after_exec(&self, pid: i32, tid: i32, mask: u64) -> SignalState {
        let next = SignalState::new(pid);
        {
            let old = self.state.lock();
            let mut n = next.state.lock();
            for (i, a) in old.actions.iter().enumerate() {
                if a.handler == SIG_IGN {
                    n.actions[i] = *a;
                }
            }
            n.shared = Pending {
                set: old.shared.set,
                q: old.shared.q.clone(),
            };
            n.refresh_any(&next.any);
        }
        next.add_thread_masked(tid, mask);
        next
    }

    /// True when this process discards `sig` (SIG_IGN or a default of "ignore"): a
    /// SIGCHLD ignored this way also means children are reaped at once, as on Linux.
    pub fn ignores(&self, sig: usize) -> bool {
        valid(sig).is_ok() && self.state.lock().ignores(sig)
    }

    /// The flags of `sig`'s action (SA_NOCLDWAIT for SIGCHLD).
    pub fn action_flags(&self, sig: usize) -> u64 {
        if valid(sig).is_err() {
            return 0;
        }
        self.state.lock().actions[sig - 1].flags
    }

    /// True when the program installed a handler for `sig` (neither SIG_DFL nor SIG_IGN).
    pub fn has_handler(&self, sig: usize) -> bool {
        valid(sig).is_ok()
            && !matches!(
                self.state.lock().actions[sig - 1].handler,
                SIG_DFL | SIG_IGN
            )
    }

    /// True when `sig`'s action is exactly SIG_IGN (not a default that ignores).
    pub fn set_to_ignore(&self, sig: usize) -> bool {
        valid(sig).is_ok() && self.state.lock().actions[sig - 1].handler == SIG_IGN
    }

    /// rt_sigaction(2): returns the old action; installs `new` if given.
    pub fn sigaction(&self, sig: usize, new: Option<KSigaction>) -> KResult<KSigaction> {
        valid(sig)?;
        if new.is_some() && (sig == SIGKILL || sig == SIGSTOP) {
            return Err(Errno::EINVAL);
        }
        let mut s = self.state.lock();
        let old = s.actions[sig - 1];
        if let Some(mut n) = new {
            n.mask &= !UNBLOCKABLE;
            s.actions[sig - 1] = n;
            // POSIX: setting a pending signal to be ignored discards it.
            if s.ignores(sig) {
                s.shared.flush(sig);
                for (_, t) in s.threads.iter_mut() {
                    t.pending.flush(sig);
                }
                s.refresh_any(&self.any);
            }
        }
        Ok(old)
    }

    /// rt_sigprocmask(2) for the calling thread: returns the old mask.
    pub fn sigprocmask(&self, how: u32, set: Option<u64>) -> KResult<u64> {
        let tid = uk_sched::current_tid();
        let mut s = self.state.lock();
        let t = s.thread(tid);
        let old = t.mask;
        if let Some(set) = set {
            let new = match how {
                SIG_BLOCK => old | set,
                SIG_UNBLOCK => old & !set,
                SIG_SETMASK => set,
                _ => return Err(Errno::EINVAL),
            };
            t.mask = new & !UNBLOCKABLE;
        }
        Ok(old)
    }

    /// ppoll/pselect6/epoll_pwait: install `mask` for the rest of this system call. The
    /// caller's mask is kept as the saved mask: the syscall-exit path puts it back after
    /// running the handlers that `mask` let through (EINTR), or the caller restores it at
    /// once with [`end_temporary_mask`] when the call did not fail with EINTR.
    pub fn begin_temporary_mask(&self, mask: u64) {
        let tid = uk_sched::current_tid();
        let mut s = self.state.lock();
        let t = s.thread(tid);
        t.saved_mask = Some(t.mask);
        t.mask = mask & !UNBLOCKABLE;
    }

    /// Restore the mask saved by [`begin_temporary_mask`] now.
    pub fn end_temporary_mask(&self) {
        let tid = uk_sched::current_tid();
        let mut s = self.state.lock();
        let t = s.thread(tid);
        if let Some(m) = t.saved_mask.take() {
            t.mask = m;
        }
    }

    /// Is a signal pending that the calling thread's current mask lets through?
    pub fn deliverable_now(&self) -> bool {
        let tid = uk_sched::current_tid();
        deliverable(&mut self.state.lock(), tid)
    }

    /// rt_sigpending(2): signals pending for the calling thread or the process that it
    /// blocks.
    pub fn sigpending(&self) -> u64 {
        let tid = uk_sched::current_tid();
        let mut s = self.state.lock();
        let shared = s.shared.set;
        let t = s.thread(tid);
        (t.pending.set | shared) & t.mask
    }

    /// Make `q` pending for `target` and wake the thread that will take it. Ignored
    /// signals are dropped here, as Linux does when the signal is not blocked.
    pub fn post(&self, target: Target, q: Queued) -> KResult<()> {
        valid(q.sig)?;
        let sig = q.sig;
        let b = bit(sig);
        let me = uk_sched::current_tid();
        // A stop whose default action applies now (some thread would take it) stops the
        // process here rather than being queued: its threads park at their next way out
        // of the kernel, and a thread blocked in a call is not disturbed (Linux would
        // restart that call after SIGCONT anyway).
        let mut stop_now = false;
        if sig == SIGCONT {
            // SIGCONT continues the process whatever its action and mask, then is
            // delivered like any signal (Linux's prepare_signal).
            {
                let mut s = self.state.lock();
                s.flush_set(STOP_SIGNALS);
                s.refresh_any(&self.any);
            }
            job_control(self.pid, sig);
        }
        let wake = {
            let mut s = self.state.lock();
            prune(&mut s);
            if b & STOP_SIGNALS != 0 {
                s.flush_set(bit(SIGCONT));
            }
            let ignored = s.ignores(sig);
            let stops = s.default_stops(sig);
            if !s.stops
                && default_action(sig) == Default::Stop
                && s.actions[sig - 1].handler == SIG_DFL
            {
                uk_log::info!(
                    "signal {sig}: the image's first process ignores stop signals, as init does"
                );
            }
            match target {
                Target::Thread(tid) => {
                    // Only this process's threads: another process's thread is not
                    // reached through this state (tkill across processes is ESRCH).
                    if uk_sched::thread(tid).is_none() || !s.threads.contains_key(&tid) {
                        return Err(Errno::ESRCH);
                    }
                    let t = s.thread(tid);
                    if ignored && !t.holds(b) {
                        return Ok(());
                    }
                    if stops && t.takes(b) {
                        stop_now = true;
                        None
                    } else {
                        t.pending.add(q);
                        t.takes(b).then_some(tid)
                    }
                }
                Target::Process => {
                    // An ignored signal that some thread blocks is kept: a handler may be
                    // installed before it is unblocked.
                    let member = s.threads.contains_key(&me);
                    if ignored && !s.threads.values().any(|t| t.holds(b)) {
                        return Ok(());
                    }
                    // A process whose only thread is lent to its vfork child has no
                    // thread here; SIGSTOP (which no mask holds) stops it at once, so
                    // that it stays stopped when the child is done.
                    let lent = s.threads.is_empty() && sig == SIGSTOP;
                    if stops && (lent || s.threads.values().any(|t| t.takes(b))) {
                        stop_now = true;
                        None
                    } else {
                        s.shared.add(q);
                        // Prefer the calling thread, then any program thread that takes it.
                        // Kernel threads (the network thread, or whichever thread the idle
                        // loop runs on when a host signal arrives) never return to the
                        // program, so they are never picked.
                        let program =
                            |tid: i32| uk_sched::thread(tid).is_some_and(|t| !t.is_kernel());
                        if member && program(me) && s.thread(me).takes(b) {
                            Some(me)
                        } else {
                            let members: alloc::vec::Vec<i32> = s.threads.keys().copied().collect();
                            members
                                .into_iter()
                                .filter(|tid| program(*tid))
                                .find(|tid| s.thread(*tid).takes(b))
                        }
                    }
                }
            }
        };
        self.state.lock().refresh_any(&self.any);
        if stop_now {
            job_control(self.pid, sig);
        }
        if let Some(tid) = wake {
            self.interrupt_thread(tid);
        }
        Ok(())
    }

    /// True when SIGKILL is pending: a stopped process's threads wake for it.
    pub fn kill_pending(&self) -> bool {
        let s = self.state.lock();
        let b = bit(SIGKILL);
        s.shared.set & b != 0 || s.threads.values().any(|t| t.pending.set & b != 0)
    }

    /// The calling thread ran on after its stopped process was continued (or killed):
    /// deliver what came meanwhile (SIGCONT's handler, SIGKILL), at a point with no
    /// interrupted context and no call to restart.
    pub fn after_stop(&self) {
        let tid = uk_sched::current_tid();
        self.state.lock().thread(tid).interrupted = false;
        if self.any.load(Ordering::Relaxed) {
            self.deliver_all(tid, &mut Outcome::default(), None);
        }
    }

    /// Wake `tid` from a blocking wait, remembering that a signal did it.
    fn interrupt_thread(&self, tid: i32) {
        let Some(t) = uk_sched::thread(tid) else {
            return;
        };
        if uk_sched::interrupt(&t) {
            self.state.lock().thread(tid).interrupted = true;
        }
    }

    /// Send `sig` to one thread, as the kernel does for SIGPIPE on EPIPE (si_code SI_USER,
    /// si_pid the process). Unknown threads and invalid numbers are ignored: the caller
    /// reports its own error.
    pub fn send_to_thread(&self, tid: i32, sig: usize) {
        let _ = self.post(
            Target::Thread(tid),
            Queued {
                sig,
                code: SI_USER,
                pid: self.pid,
                value: 0,
                timer: None,
            },
        );
    }

    /// Send `sig` to the process (any thread that does not block it) from the kernel.
    pub fn send_to_process(&self, sig: usize) {
        let _ = self.post(
            Target::Process,
            Queued {
                sig,
                code: SI_KERNEL,
                pid: 0,
                value: 0,
                timer: None,
            },
        );
    }

    /// timer_getoverrun(2) of timer `id`: the overrun count its last delivered signal
    /// carried (0 before the first).
    pub fn timer_overrun(&self, id: i32) -> u32 {
        self.state.lock().overruns.get(&id).copied().unwrap_or(0)
    }

    /// Timer `id` was deleted or set again: its pending signal goes with it, and its
    /// overrun count starts over, as on Linux.
    pub fn forget_timer(&self, id: i32) {
        let mut s = self.state.lock();
        s.shared.drop_timer(id);
        for (_, t) in s.threads.iter_mut() {
            t.pending.drop_timer(id);
        }
        s.overruns.remove(&id);
        s.refresh_any(&self.any);
    }

    /// self.kill(2): the only process is pid 1 (also reached as 0, its own group). -1 means
    /// "every process but the caller and init", so none here: ESRCH, as on Linux when there
    /// is nobody else. `sig` 0 checks existence.
    pub fn kill(&self, pid: i32, sig: usize) -> KResult<()> {
        if sig > NSIG {
            return Err(Errno::EINVAL);
        }
        let me = self.pid;
        if !(pid == me || pid == 0) {
            return Err(Errno::ESRCH);
        }
        if sig == 0 {
            return Ok(());
        }
        self.post(Target::Process, user_signal(self.pid, sig, SI_USER))
    }

    /// self.tgkill(2).
    pub fn tgkill(&self, tgid: i32, tid: i32, sig: usize) -> KResult<()> {
        if tgid <= 0 || tid <= 0 || sig > NSIG {
            return Err(Errno::EINVAL);
        }
        if tgid != self.pid {
            return Err(Errno::ESRCH);
        }
        self.tkill(tid, sig)
    }

    /// self.tkill(2) (musl's raise and pthread_kill).
    pub fn tkill(&self, tid: i32, sig: usize) -> KResult<()> {
        if tid <= 0 || sig > NSIG {
            return Err(Errno::EINVAL);
        }
        if uk_sched::thread(tid).is_none() {
            return Err(Errno::ESRCH);
        }
        if sig == 0 {
            return Ok(());
        }
        self.post(Target::Thread(tid), user_signal(self.pid, sig, SI_TKILL))
    }

    /// rt_sigsuspend(2): wait with `mask` in place until a signal is delivered. Always
    /// EINTR; the handler runs (and the old mask comes back) in [`syscall_exit`].
    pub fn sigsuspend(&self, mask: u64) -> KResult<usize> {
        let tid = uk_sched::current_tid();
        {
            let mut s = self.state.lock();
            let t = s.thread(tid);
            t.saved_mask = Some(t.mask);
            t.mask = mask & !UNBLOCKABLE;
        }
        self.wait_for_signal(tid);
        Err(Errno::EINTR)
    }

    /// self.pause(2): wait until a signal is delivered.
    pub fn pause(&self) -> KResult<usize> {
        self.wait_for_signal(uk_sched::current_tid());
        Err(Errno::EINTR)
    }

    fn wait_for_signal(&self, tid: i32) {
        loop {
            if deliverable(&mut self.state.lock(), tid) {
                return;
            }
            // No wait queue: senders find the thread through `post` and interrupt it.
            let _ = uk_sched::block(None);
        }
    }

    /// rt_sigtimedwait(2): take a pending signal of `set`, waiting until `deadline`
    /// (monotonic ns; None: forever). EAGAIN on timeout, EINTR when another signal is
    /// delivered first.
    pub fn sigtimedwait(&self, set: u64, deadline: Option<u64>) -> KResult<Queued> {
        let set = set & !UNBLOCKABLE;
        let tid = uk_sched::current_tid();
        loop {
            {
                let mut s = self.state.lock();
                if let Some(q) = dequeue(&mut s, &self.any, tid, set) {
                    s.thread(tid).wait_set = 0;
                    return Ok(q);
                }
                if deliverable(&mut s, tid) {
                    s.thread(tid).wait_set = 0;
                    return Err(Errno::EINTR);
                }
                s.thread(tid).wait_set = set;
            }
            let w = uk_sched::block(deadline);
            if w == uk_sched::Wake::Timeout {
                let mut s = self.state.lock();
                s.thread(tid).wait_set = 0;
                return dequeue(&mut s, &self.any, tid, set).ok_or(Errno::EAGAIN);
            }
        }
    }

    /// self.sigaltstack(2) for the calling thread: returns the old setting and installs `new`.
    pub fn sigaltstack(&self, new: Option<StackT>) -> KResult<StackT> {
        let tid = uk_sched::current_tid();
        let sp = current_sp();
        let mut s = self.state.lock();
        let t = s.thread(tid);
        let onstack = on_alt(&t.alt, sp);
        let old = StackT {
            sp: t.alt.sp as u64,
            flags: if onstack {
                SS_ONSTACK
            } else if t.alt.enabled {
                0
            } else {
                SS_DISABLE
            },
            _pad: 0,
            size: t.alt.size as u64,
        };
        if let Some(n) = new {
            if onstack {
                return Err(Errno::EPERM);
            }
            let mode = n.flags & !SS_AUTODISARM;
            if mode == SS_DISABLE {
                t.alt = AltStack::default();
            } else if mode == 0 || mode == SS_ONSTACK {
                if (n.size as usize) < MINSIGSTKSZ {
                    return Err(Errno::ENOMEM);
                }
                t.alt = AltStack {
                    sp: n.sp as usize,
                    size: n.size as usize,
                    enabled: true,
                };
            } else {
                return Err(Errno::EINVAL);
            }
        }
        Ok(old)
    }

    /// Post the signals in `bits` (bit n-1: signal n) to this process, as the kernel
    /// does (host signals on linuxu reach the image's first process this way).
    pub fn post_platform(&self, bits: u64) {
        for sig in 1..=64usize {
            if bits & (1 << (sig - 1)) != 0 {
                self.send_to_process(sig);
            }
        }
    }

    /// True when [`SignalState::syscall_exit`] has work: a signal pending anywhere in
    /// the process.
    #[inline]
    pub fn work_pending(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    fn take_one(&self, tid: i32) -> Option<Taken> {
        let mut s = self.state.lock();
        let mask = s.thread(tid).mask;
        let q = dequeue(&mut s, &self.any, tid, !mask)?;
        let sig = q.sig;
        let act = s.actions[sig - 1];
        match act.handler {
            SIG_IGN => return Some(Taken::Ignore),
            SIG_DFL => {
                return Some(match default_action(sig) {
                    Default::Stop if s.stops => Taken::Stop(sig),
                    Default::Ignore | Default::Stop => Taken::Ignore,
                    Default::Terminate => Taken::Terminate(sig),
                });
            }
            _ => {}
        }
        if act.flags & SA_RESETHAND != 0 {
            s.actions[sig - 1].handler = SIG_DFL;
            s.actions[sig - 1].flags &= !SA_SIGINFO;
        }
        let sp = current_sp();
        let t = s.thread(tid);
        let uc_mask = t.saved_mask.take().unwrap_or(t.mask);
        let mut m = t.mask | act.mask;
        if act.flags & SA_NODEFER == 0 {
            m |= bit(sig);
        }
        t.mask = m & !UNBLOCKABLE;
        let onstack_now = on_alt(&t.alt, sp);
        let switch = act.flags & SA_ONSTACK != 0 && t.alt.enabled && !onstack_now;
        Some(Taken::Handler(Delivery {
            q,
            act,
            uc_mask,
            alt: t.alt,
            switch,
            onstack_now,
        }))
    }

    /// Run every deliverable signal of thread `tid`, in Linux's order: a signal that
    /// becomes deliverable while another's handler frame is being set up runs first.
    ///
    /// `interrupted`: the program context a preemption interrupted. The first handler
    /// taken sees it; the ones that nest above it see a zero context (on Linux they
    /// would see the entry of the handler below them).
    fn deliver_all(&self, tid: i32, out: &mut Outcome, mut interrupted: Option<&mut Mcontext>) {
        while let Some(t) = self.take_one(tid) {
            match t {
                Taken::Ignore => continue,
                Taken::Terminate(sig) => terminate(sig),
                Taken::Stop(sig) => {
                    // The process stops; the caller parks on its way out of the kernel,
                    // and what else is pending waits until it is continued.
                    job_control(self.pid, sig);
                    return;
                }
                Taken::Handler(d) => {
                    // Signals unmasked under the handler's mask nest above it (Linux pushes
                    // their frames later, so they run first).
                    self.deliver_all(tid, out, None);
                    if d.act.flags & SA_RESTART == 0 || d.q.sig == SIGCANCEL {
                        out.no_restart = true;
                    }
                    let back = run_handler(&d, interrupted.take());
                    let mut s = self.state.lock();
                    s.thread(tid).mask = back & !UNBLOCKABLE;
                }
            }
        }
    }

    /// Deliver the running thread's pending signals at a preemption point: the thread
    /// was running program code (`interrupted`: its context, when a platform interrupt
    /// stopped it) rather than a system call, so nothing is restarted.
    pub fn deliver_async(&self, interrupted: Option<&mut Mcontext>) {
        let tid = uk_sched::current_tid();
        if !self.any.load(Ordering::Relaxed) || uk_sched::current().is_kernel() {
            return;
        }
        self.deliver_all(tid, &mut Outcome::default(), interrupted);
    }

    /// Called at the end of every system call (when [`work_pending`] or the call failed
    /// with EINTR): fire due timers, run handlers, apply default actions. Returns true when
    /// the call should be run again (SA_RESTART): `eintr` says the call returned EINTR and
    /// `restartable` that Linux restarts this call at all.
    pub fn syscall_exit(&self, restartable: bool, eintr: bool) -> bool {
        let tid = uk_sched::current_tid();
        let interrupted = {
            let mut s = self.state.lock();
            core::mem::take(&mut s.thread(tid).interrupted)
        };
        let mut out = Outcome::default();
        if self.any.load(Ordering::Relaxed) {
            self.deliver_all(tid, &mut out, None);
        }
        {
            let mut s = self.state.lock();
            let t = s.thread(tid);
            if let Some(m) = t.saved_mask.take() {
                t.mask = m;
            }
        }
        eintr && interrupted && restartable && !out.no_restart
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::{AtomicU64, AtomicUsize};
    use uk_abi::signal::{SIGHUP, SIGTERM, SIGUSR1, SIGUSR2};

    /// The test process's signal state (tests share the one process).
    fn st() -> &'static SignalState {
        &crate::process::current().signals
    }

    fn setup() -> std::sync::MutexGuard<'static, ()> {
        crate::testplat::setup();
        let g = crate::testplat::serial();
        // A clean slate for the main thread (tests share the one process).
        let st = st();
        let mut s = st.state.lock();
        s.actions = [KSigaction::default(); NSIG];
        s.shared = Pending::new();
        s.threads.clear();
        s.refresh_any(&st.any);
        g
    }

    #[test]
    fn new_processes_and_exec_keep_what_linux_keeps() {
        let _g = setup();
        let st = st();
        let me = uk_sched::current_tid();
        st.sigaction(SIGUSR1, Some(act(0x1234, SA_RESTART, 0)))
            .unwrap();
        st.sigaction(SIGUSR2, Some(act(SIG_IGN as usize, 0, 0)))
            .unwrap();
        // A vfork child: the actions, the given mask, nothing pending.
        st.post(Target::Process, user_signal(1, SIGHUP, SI_USER))
            .unwrap();
        let child = st.child_of(2, me, bit(SIGTERM));
        assert_eq!(child.sigaction(SIGUSR1, None).unwrap().handler, 0x1234);
        assert_eq!(child.mask_of(me), bit(SIGTERM));
        assert_eq!(child.sigpending(), 0);
        // exec: handled back to default, ignored stays, pending stays.
        let next = child.after_exec(2, 9, bit(SIGTERM));
        assert_eq!(next.sigaction(SIGUSR1, None).unwrap().handler, SIG_DFL);
        assert_eq!(next.sigaction(SIGUSR2, None).unwrap().handler, SIG_IGN);
        assert_eq!(next.mask_of(9), bit(SIGTERM));
        assert!(next.ignores(SIGUSR2) && next.set_to_ignore(SIGUSR2));
        assert!(next.ignores(SIGCHLD) && !next.set_to_ignore(SIGCHLD));
        // A lent thread comes back with its mask and pending signals.
        st.sigprocmask(SIG_BLOCK, Some(bit(SIGUSR1))).unwrap();
        st.post(Target::Thread(me), user_signal(1, SIGUSR1, SI_TKILL))
            .unwrap();
        let lent = st.lend_thread(me);
        assert_eq!(st.mask_of(me), 0, "not a thread of this process meanwhile");
        st.take_back(me, lent);
        assert_eq!(st.mask_of(me), bit(SIGUSR1));
        assert_ne!(st.sigpending() & bit(SIGUSR1), 0);
    }

    fn act(handler: usize, flags: u64, mask: u64) -> KSigaction {
        KSigaction {
            handler: handler as u64,
            flags,
            restorer: 0,
            mask,
        }
    }

    #[test]
    fn stop_signals_stop_every_process_but_the_first() {
        let _g = setup();
        // pid 1 ignores a stop signal's default action, as Linux's init does.
        assert!(st().ignores(SIGTSTP) && st().ignores(SIGSTOP));
        st().kill(1, SIGSTOP).unwrap();
        assert_eq!(st().sigpending(), 0);
        assert!(!st().any.load(Ordering::Relaxed));
        // Any other process stops: the default action is not "ignore".
        let other = SignalState::new(2);
        assert!(!other.ignores(SIGTSTP) && !other.ignores(SIGTTIN));
        assert!(other.ignores(SIGCONT) && other.ignores(SIGCHLD));
        // A stop signal sent discards a pending SIGCONT and the other way round.
        other.add_thread_masked(uk_sched::current_tid(), bit(SIGTSTP) | bit(SIGCONT));
        other
            .post(Target::Process, user_signal(1, SIGCONT, SI_USER))
            .unwrap();
        other
            .post(Target::Process, user_signal(1, SIGTSTP, SI_USER))
            .unwrap();
        assert_eq!(other.state.lock().shared.set, bit(SIGTSTP));
        other
            .post(Target::Process, user_signal(1, SIGCONT, SI_USER))
            .unwrap();
        assert_eq!(other.state.lock().shared.set, bit(SIGCONT));
        assert!(!other.kill_pending());
        other
            .post(Target::Process, user_signal(1, SIGKILL, SI_USER))
            .unwrap();
        assert!(other.kill_pending());
    }

    #[test]
    fn store_actions_and_masks() {
        let _g = setup();
        let a = act(0x1234, 4, u64::MAX);
        assert_eq!(st().sigaction(0, None), Err(Errno::EINVAL));
        assert_eq!(st().sigaction(65, None), Err(Errno::EINVAL));
        assert_eq!(st().sigaction(SIGKILL, Some(a)), Err(Errno::EINVAL));
        st().sigaction(10, Some(a)).unwrap();
        let back = st().sigaction(10, None).unwrap();
        assert_eq!(back.handler, 0x1234);
        assert_eq!(back.mask & UNBLOCKABLE, 0);
        let old = st().sigprocmask(SIG_SETMASK, Some(u64::MAX)).unwrap();
        assert_eq!(st().sigprocmask(SIG_BLOCK, None).unwrap(), !UNBLOCKABLE);
        assert_eq!(st().sigprocmask(7, Some(0)), Err(Errno::EINVAL));
        // Without a new set, `how` is not looked at (Linux).
        assert_eq!(st().sigprocmask(7, None), Ok(!UNBLOCKABLE));
        st().sigprocmask(SIG_SETMASK, Some(old)).unwrap();
    }

    #[test]
    fn kill_targets_and_errors() {
        let _g = setup();
        assert_eq!(st().kill(2, SIGUSR1), Err(Errno::ESRCH));
        assert_eq!(st().kill(-1, SIGUSR1), Err(Errno::ESRCH));
        assert_eq!(st().kill(1, 65), Err(Errno::EINVAL));
        assert_eq!(st().kill(1, 0), Ok(()));
        assert_eq!(st().tkill(0, 1), Err(Errno::EINVAL));
        assert_eq!(st().tkill(9999, 0), Err(Errno::ESRCH));
        assert_eq!(st().tkill(1, 0), Ok(()));
        assert_eq!(st().tgkill(2, 1, 1), Err(Errno::ESRCH));
        assert_eq!(st().tgkill(1, 1, 99), Err(Errno::EINVAL));
        // Default-ignored signals vanish; nothing is left to deliver.
        st().kill(1, SIGCHLD).unwrap();
        assert!(!st().any.load(Ordering::Relaxed));
    }

    #[test]
    fn blocked_signals_pend_and_sigtimedwait_takes_them() {
        let _g = setup();
        st().sigprocmask(SIG_SETMASK, Some(bit(SIGUSR1) | bit(SIGCHLD) | bit(40)))
            .unwrap();
        st().kill(1, SIGUSR1).unwrap();
        st().kill(1, SIGUSR1).unwrap();
        // A blocked, ignored signal is kept (its action may change before unblocking).
        st().kill(1, SIGCHLD).unwrap();
        st().tkill(1, 40).unwrap();
        st().tkill(1, 40).unwrap();
        assert_eq!(st().sigpending(), bit(SIGUSR1) | bit(SIGCHLD) | bit(40));
        let now = uk_plat::get().monotonic_ns();
        let q = st().sigtimedwait(bit(SIGUSR1), Some(now)).unwrap();
        assert_eq!((q.sig, q.code, q.pid), (SIGUSR1, SI_USER, 1));
        // A standard signal pends once; a real-time one queues every instance.
        assert_eq!(
            st().sigtimedwait(bit(SIGUSR1), Some(now)),
            Err(Errno::EAGAIN)
        );
        assert_eq!(
            st().sigtimedwait(bit(40), Some(now)).unwrap().code,
            SI_TKILL
        );
        assert_eq!(st().sigtimedwait(bit(40), Some(now)).unwrap().sig, 40);
        assert_eq!(st().sigpending(), bit(SIGCHLD));
        // Ignoring it explicitly discards it.
        st().sigaction(SIGCHLD, Some(act(SIG_IGN as usize, 0, 0)))
            .unwrap();
        assert_eq!(st().sigpending(), 0);
        // A short timeout really waits, then EAGAIN.
        let t0 = uk_plat::get().monotonic_ns();
        assert_eq!(
            st().sigtimedwait(bit(SIGUSR2), Some(t0 + 20_000_000)),
            Err(Errno::EAGAIN)
        );
        assert!(uk_plat::get().monotonic_ns() >= t0 + 20_000_000);
        st().sigprocmask(SIG_SETMASK, Some(0)).unwrap();
    }

    static ORDER: spin::Mutex<Vec<(i32, i32, u64)>> = spin::Mutex::new(Vec::new());

    /// Records (signal, si_code, mask in force) for each run.
    extern "C" fn record(sig: i32, info: usize, _uc: usize) {
        // SAFETY: the kernel passes a pointer to a live SigInfo.
        let code = unsafe { (*(info as *const Siginfo)).si_code };
        let mask = st().sigprocmask(SIG_BLOCK, None).unwrap();
        ORDER.lock().push((sig, code, mask));
    }

    #[test]
    fn handlers_run_at_syscall_exit_in_linux_order() {
        let _g = setup();
        ORDER.lock().clear();
        st().sigaction(
            SIGUSR1,
            Some(act(record as *const () as usize, SA_SIGINFO, bit(SIGTERM))),
        )
        .unwrap();
        st().sigaction(
            SIGUSR2,
            Some(act(record as *const () as usize, SA_SIGINFO, 0)),
        )
        .unwrap();
        st().sigprocmask(SIG_SETMASK, Some(bit(SIGUSR1) | bit(SIGUSR2)))
            .unwrap();
        st().tkill(1, SIGUSR1).unwrap();
        st().kill(1, SIGUSR2).unwrap();
        assert!(st().work_pending());
        // Still blocked: nothing runs.
        assert!(!st().syscall_exit(true, false));
        assert!(ORDER.lock().is_empty());
        st().sigprocmask(SIG_SETMASK, Some(0)).unwrap();
        assert!(!st().syscall_exit(true, false));
        let order = ORDER.lock().clone();
        // USR1 is taken first (lowest), USR2 nests above it and so runs first, with
        // USR1's handler mask (USR1 + sa_mask) plus itself in force.
        assert_eq!(
            order,
            vec![
                (
                    SIGUSR2 as i32,
                    SI_USER,
                    bit(SIGUSR1) | bit(SIGTERM) | bit(SIGUSR2)
                ),
                (SIGUSR1 as i32, SI_TKILL, bit(SIGUSR1) | bit(SIGTERM)),
            ]
        );
        assert_eq!(
            st().sigprocmask(SIG_BLOCK, None).unwrap(),
            0,
            "mask restored"
        );
        assert!(!st().any.load(Ordering::Relaxed));
    }

    static UC_MASK_SEEN: AtomicU64 = AtomicU64::new(0);

    /// Blocks SIGUSR2 for after the handler through uc_sigmask, as musl's cancel
    /// handler does.
    extern "C" fn edit_uc(_sig: i32, _info: usize, uc: usize) {
        // SAFETY: the kernel passes a live ucontext of uc_off::WORDS words.
        unsafe {
            let m = (uc as *mut u64).add(uc_off::SIGMASK);
            UC_MASK_SEEN.store(*m, Ordering::SeqCst);
            *m |= bit(SIGUSR2);
        }
    }

    #[test]
    fn uc_sigmask_is_restored_and_resethand_nodefer() {
        let _g = setup();
        st().sigaction(
            SIGUSR1,
            Some(act(
                edit_uc as *const () as usize,
                SA_SIGINFO | SA_RESETHAND | SA_NODEFER,
                0,
            )),
        )
        .unwrap();
        st().sigprocmask(SIG_SETMASK, Some(bit(SIGHUP))).unwrap();
        st().tkill(1, SIGUSR1).unwrap();
        st().syscall_exit(false, false);
        assert_eq!(UC_MASK_SEEN.load(Ordering::SeqCst), bit(SIGHUP));
        assert_eq!(
            st().sigprocmask(SIG_BLOCK, None).unwrap(),
            bit(SIGHUP) | bit(SIGUSR2)
        );
        assert_eq!(st().sigaction(SIGUSR1, None).unwrap().handler, SIG_DFL);
        st().sigprocmask(SIG_SETMASK, Some(0)).unwrap();
    }

    static ALT_SP: AtomicUsize = AtomicUsize::new(0);
    static ALT_FLAGS: AtomicUsize = AtomicUsize::new(0);

    extern "C" fn on_alt_handler(_sig: i32, _info: usize, _uc: usize) {
        ALT_SP.store(current_sp(), Ordering::SeqCst);
        let old = st().sigaltstack(None).unwrap();
        ALT_FLAGS.store(old.flags as usize, Ordering::SeqCst);
        // Changing the stack while on it is refused.
        assert_eq!(
            st().sigaltstack(Some(StackT {
                flags: SS_DISABLE,
                ..StackT::default()
            })),
            Err(Errno::EPERM)
        );
    }

    #[test]
    fn sigaltstack_rules_and_handler_on_it() {
        let _g = setup();
        let old = st().sigaltstack(None).unwrap();
        assert_eq!(old.flags, SS_DISABLE);
        let buf: &'static mut [u8] = Box::leak(vec![0u8; 64 * 1024].into_boxed_slice());
        let lo = buf.as_ptr() as usize;
        let small = StackT {
            sp: lo as u64,
            flags: 0,
            _pad: 0,
            size: 1024,
        };
        assert_eq!(st().sigaltstack(Some(small)), Err(Errno::ENOMEM));
        let bad = StackT {
            flags: 77,
            size: 65536,
            ..small
        };
        assert_eq!(st().sigaltstack(Some(bad)), Err(Errno::EINVAL));
        let good = StackT {
            size: 65536,
            ..small
        };
        st().sigaltstack(Some(good)).unwrap();
        let cur = st().sigaltstack(None).unwrap();
        assert_eq!((cur.sp, cur.flags, cur.size), (lo as u64, 0, 65536));
        st().sigaction(
            SIGUSR2,
            Some(act(on_alt_handler as *const () as usize, SA_ONSTACK, 0)),
        )
        .unwrap();
        st().tkill(1, SIGUSR2).unwrap();
        st().syscall_exit(false, false);
        let sp = ALT_SP.load(Ordering::SeqCst);
        assert!(
            sp > lo && sp < lo + 65536,
            "handler ran on the alternate stack"
        );
        assert_eq!(ALT_FLAGS.load(Ordering::SeqCst), SS_ONSTACK as usize);
        st().sigaltstack(Some(StackT {
            flags: SS_DISABLE,
            ..StackT::default()
        }))
        .unwrap();
        assert_eq!(st().sigaltstack(None).unwrap().flags, SS_DISABLE);
    }

    extern "C" fn nothing(_sig: i32, _info: usize, _uc: usize) {}

    #[test]
    fn restart_needs_interruption_and_sa_restart() {
        let _g = setup();
        // EINTR that no signal caused is returned as is.
        assert!(!st().syscall_exit(true, true));
        st().sigaction(
            SIGUSR1,
            Some(act(nothing as *const () as usize, SA_RESTART, 0)),
        )
        .unwrap();
        st().sigaction(SIGUSR2, Some(act(nothing as *const () as usize, 0, 0)))
            .unwrap();
        for (sig, restart) in [(SIGUSR1, true), (SIGUSR2, false)] {
            st().tkill(1, sig).unwrap();
            st().state.lock().thread(1).interrupted = true;
            assert_eq!(st().syscall_exit(true, true), restart, "signal {sig}");
            // Calls Linux never restarts (sigsuspend, poll, ...) are not restarted.
            st().tkill(1, sig).unwrap();
            st().state.lock().thread(1).interrupted = true;
            assert!(!st().syscall_exit(false, true));
        }
    }

    #[test]
    fn sigsuspend_returns_eintr_and_restores_the_mask() {
        let _g = setup();
        ORDER.lock().clear();
        st().sigaction(
            SIGUSR1,
            Some(act(record as *const () as usize, SA_SIGINFO, 0)),
        )
        .unwrap();
        st().sigprocmask(SIG_SETMASK, Some(bit(SIGUSR1) | bit(SIGHUP)))
            .unwrap();
        st().tkill(1, SIGUSR1).unwrap();
        assert_eq!(st().sigsuspend(bit(SIGHUP)), Err(Errno::EINTR));
        assert!(!st().syscall_exit(false, true));
        // The handler ran under the temporary mask; the old mask is back.
        assert_eq!(
            ORDER.lock().clone(),
            vec![(SIGUSR1 as i32, SI_TKILL, bit(SIGHUP) | bit(SIGUSR1))]
        );
        assert_eq!(
            st().sigprocmask(SIG_BLOCK, None).unwrap(),
            bit(SIGUSR1) | bit(SIGHUP)
        );
        st().sigprocmask(SIG_SETMASK, Some(0)).unwrap();
    }

    #[test]
    #[should_panic(expected = "exit(143)")]
    fn default_action_terminates_with_128_plus_n() {
        let _g = setup();
        st().kill(1, SIGTERM).unwrap();
        st().syscall_exit(false, false);
    }
}
