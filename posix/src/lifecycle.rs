//! Processes coming and going (docs/processes.md): vfork children, exit and the
//! zombie it leaves, wait4/waitid, kill to a process, a group or everyone, the ids
//! calls (getppid, setpgid, setsid, ...) and orphans re-parented to pid 1.
//!
//! The image's first process (pid 1) is its init: when it ends, the image ends, as
//! before processes existed. Any other process ends as on Linux: its descriptors
//! close, its children go to pid 1, it stays a zombie with its wait status until its
//! parent reaps it, and its parent gets its exit signal (SIGCHLD).
//!
//! Job control: a stop signal stops a process (its threads park at their next way out
//! of the kernel, [`way_out`]), SIGCONT continues it, and the parent hears of both
//! through SIGCHLD and wait (WUNTRACED, WCONTINUED), once each, as on Linux.

use crate::ident::{Ids, INIT_PID};
use crate::process::{self, current, current_arc, JobEvent, Life, Process, VforkFrame};
use crate::signal::{Queued, Target};
use crate::{Errno, KResult};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use uk_abi::sched::{WCONTINUED, WEXITED, WNOHANG, WNOWAIT, WSTOPPED};
use uk_abi::signal::{
    CLD_CONTINUED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, NSIG, SA_NOCLDSTOP, SA_NOCLDWAIT, SIGCHLD,
    SIGCONT, SIGHUP, SIGSTOP, SI_USER,
};
/// The registers a vfork call returns with (re-exported for the shim's vfork entry).
pub use uk_arch::Resume;

/// The wait status of a process that called exit with `code`.
pub const fn exited(code: i32) -> i32 {
    (code & 0xff) << 8
}

/// The wait status of a process a signal ended.
pub const fn killed(sig: usize) -> i32 {
    (sig & 0x7f) as i32
}

/// The wait status of a process a signal stopped (WIFSTOPPED, WSTOPSIG).
pub const fn stopped(sig: usize) -> i32 {
    ((sig & 0xff) << 8) as i32 | 0x7f
}

/// The wait status of a process SIGCONT continued (WIFCONTINUED).
pub const CONTINUED: i32 = 0xffff;

/// `si_code` and `si_status` of a SIGCHLD (and of waitid) for wait status `status`.
fn child_code(status: i32) -> (i32, i32) {
    if status == CONTINUED {
        (CLD_CONTINUED, SIGCONT as i32)
    } else if status & 0xff == 0x7f {
        (CLD_STOPPED, (status >> 8) & 0xff)
    } else if status & 0x7f == 0 {
        (CLD_EXITED, (status >> 8) & 0xff)
    } else {
        (CLD_KILLED, status & 0x7f)
    }
}

/// Set at boot: the default "terminate" action of a signal, and a fault of program
/// code, end processes through here.
pub(crate) fn init() {
    crate::signal::TERMINATE.set(terminated_by);
    crate::signal::JOB_CONTROL.set(job_control);
    uk_plat::cpu::FAULT_ENDS_PROCESS.set(|| !caller_is_init());
    uk_plat::cpu::FAULT.set(|sig| exit_process(killed(sig)));
}

/// getppid(2).
pub fn getppid() -> i32 {
    current().ppid()
}

fn target(pid: i32) -> KResult<Arc<Process>> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid == 0 {
        return Ok(current_arc());
    }
    process::lookup(pid).ok_or(Errno::ESRCH)
}

/// getpgid(2) (0: the caller).
pub fn getpgid(pid: i32) -> KResult<i32> {
    Ok(target(pid)?.ids.lock().pgid)
}

/// getsid(2) (0: the caller).
pub fn getsid(pid: i32) -> KResult<i32> {
    Ok(target(pid)?.ids.lock().sid)
}

/// setpgid(2): the caller or one of its children joins (or starts) a process group of
/// the caller's session.
pub fn setpgid(pid: i32, pgid: i32) -> KResult<()> {
    if pgid < 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    let me = current_arc();
    let my = *me.ids.lock();
    let t = if pid == 0 || pid == my.pid {
        me.clone()
    } else {
        let t = process::lookup(pid).ok_or(Errno::ESRCH)?;
        if t.ppid() != my.pid {
            return Err(Errno::ESRCH);
        }
        if t.ids.lock().sid != my.sid {
            return Err(Errno::EPERM);
        }
        if t.life.lock().did_exec {
            return Err(Errno::EACCES);
        }
        t
    };
    let tid = *t.ids.lock();
    if tid.sid == tid.pid {
        return Err(Errno::EPERM);
    }
    let pg = if pgid == 0 { tid.pid } else { pgid };
    if pg != tid.pid
        && !process::all().iter().any(|p| {
            let i = *p.ids.lock();
            i.pgid == pg && i.sid == my.sid && p.status().is_none()
        })
    {
        return Err(Errno::EPERM);
    }
    t.ids.lock().pgid = pg;
    Ok(())
}

/// setsid(2): a caller that leads no process group starts a session and a group.
pub fn setsid() -> KResult<i32> {
    let me = current_arc();
    let pid = me.pid();
    if process::all().iter().any(|p| p.ids.lock().pgid == pid) {
        return Err(Errno::EPERM);
    }
    let mut ids = me.ids.lock();
    ids.sid = pid;
    ids.pgid = pid;
    Ok(pid)
}

/// A new process, child of `parent`, that runs on thread `tid` (the caller's) and
/// shares the parent's memory until it execs: what vfork and clone(CLONE_VM|
/// CLONE_VFORK) make. Its pid is a fresh thread id (a process's pid is its main
/// thread's id); its descriptors share the parent's open files, its signal actions
/// and mask are the parent's.
pub fn new_vfork_child(
    parent: &Arc<Process>,
    tid: i32,
    exit_signal: usize,
) -> KResult<Arc<Process>> {
    let pid = uk_sched::reserve_tid().ok_or(Errno::EAGAIN)?;
    let mask = parent.signals.mask_of(tid);
    let child = child_process(parent, pid, tid, mask, parent.mm.clone(), exit_signal);
    process::register(&child);
    parent.life.lock().children.push(pid);
    Ok(child)
}

/// A new child process of `parent` with pid `pid` and memory `mm`: the parent's group
/// and session, credentials, descriptors (sharing the open file descriptions),
/// directory, limits and signal actions; `thread` is its first thread, with signal
/// mask `mask`. Not yet in the process table.
fn child_process(
    parent: &Arc<Process>,
    pid: i32,
    thread: i32,
    mask: u64,
    mm: Arc<crate::mm::AddressSpace>,
    exit_signal: usize,
) -> Arc<Process> {
    let pids = *parent.ids.lock();
    let child = Process::assemble(
        Ids {
            pid,
            ppid: pids.pid,
            pgid: pids.pgid,
            sid: pids.sid,
        },
        *parent.creds.lock(),
        parent.fds.duplicate(false),
        parent.fs.duplicate(),
        mm,
        Arc::new(parent.signals.child_of(pid, thread, mask)),
        parent.limits.duplicate(),
        Life {
            exit_signal,
            ..Life::default()
        },
    );
    child.info.set_program_name(&parent.info.name());
    child
}

/// Make the calling thread the vfork child `child` of its process: `resume` says how
/// the parent's call returns when the child execs or exits ([`resume_parent`]); the
/// parent thread's signal state is kept aside until then.
pub fn enter_vfork_child(child: &Arc<Process>, resume: uk_arch::Resume) {
    let tid = uk_sched::current_tid();
    let parent = current_arc();
    let frame = VforkFrame {
        resume,
        parent: parent.pid(),
        lent: parent.signals.lend_thread(tid),
    };
    *child.vfork.lock() = Some(alloc::boxed::Box::new(frame));
    process::adopt_current(child);
}

/// The address of the frame [`enter_vfork_child`] stored (where a call that saves its
/// registers writes them).
pub fn vfork_frame_ptr(child: &Process) -> Option<*mut uk_arch::Resume> {
    child
        .vfork
        .lock()
        .as_mut()
        .map(|f| &mut f.resume as *mut uk_arch::Resume)
}

/// If `child` is a vfork child still borrowing its parent's memory, give the calling
/// thread back to the parent and resume the parent's vfork call, which returns the
/// child's pid. Returns only when `child` is no vfork child (or its parent is gone).
///
/// Nothing the caller's frames hold may be needed again: they are abandoned.
pub fn resume_parent(child: Arc<Process>) {
    let Some(frame) = child.vfork.lock().take() else {
        return;
    };
    let Some(parent) = process::lookup(frame.parent) else {
        return;
    };
    let pid = child.pid();
    let tid = uk_sched::current_tid();
    child.signals.remove_thread(tid);
    // The box is freed before the resume: this function's frame is abandoned below,
    // so anything it still owned then would never be freed.
    let (resume, lent) = frame.into_parts();
    parent.signals.take_back(tid, lent);
    process::adopt_current(&parent);
    drop(parent);
    drop(child);
    // A parent stopped meanwhile (SIGSTOP while its child ran) goes on only once
    // continued, as on Linux.
    park_if_stopped();
    // The parent goes on in program code.
    uk_plat::cpu::leave();
    // SAFETY: `resume` was recorded by the parent's vfork call (syscall-shim's vfork
    // entry or `clone_vfork`), whose frames are intact: the child ran on another stack
    // (clone) or only below the vfork caller's frame (vfork), and the parent waited.
    // Nothing above is held: the Arcs were dropped, no lock is taken.
    unsafe { uk_arch::resume::resume(&resume, pid as isize) }
}

/// The process `p` ends with wait status `status` (the caller is one of its threads):
/// descriptors close, children go to pid 1, the parent is told. Does not end the
/// calling thread.
fn finish(p: &Arc<Process>, status: i32) {
    {
        let mut life = p.life.lock();
        if life.status.is_some() {
            return;
        }
        life.status = Some(status);
        // A zombie is reported as such; a stop or continue not yet waited for is moot.
        life.job = None;
    }
    p.ending.store(true, core::sync::atomic::Ordering::Release);
    p.fds.close_all();
    for which in 0..3 {
        let _ = p.itimers.setitimer(which, (0, 0));
    }
    // Orphans go to the nearest living ancestor that is a subreaper, else to pid 1;
    // those that asked for a parent-death signal get it. Their exit signal becomes
    // SIGCHLD, and the new parent hears of those already ended at once (it may never
    // have known them), as Linux's reparent_leader does.
    let orphans = core::mem::take(&mut p.life.lock().children);
    if let Some(reaper) = reaper_for(p) {
        reaper.life.lock().children.extend(orphans.iter().copied());
        for c in &orphans {
            if let Some(cp) = process::lookup(*c) {
                cp.ids.lock().ppid = reaper.pid();
                let ended = {
                    let mut life = cp.life.lock();
                    life.exit_signal = SIGCHLD;
                    life.status
                };
                match ended {
                    Some(st) => tell_parent_ended(&reaper, &cp, st),
                    None => parent_died(&cp, p.pid()),
                }
            }
        }
    }
    // A process group this end leaves orphaned with stopped members gets SIGHUP and
    // SIGCONT (Linux's kill_orphaned_pgrp): a child's group, whose link outside was
    // this process, and this process's own group.
    let me = *p.ids.lock();
    for c in &orphans {
        if let Some(cp) = process::lookup(*c) {
            let ci = *cp.ids.lock();
            if ci.pgid != me.pgid && ci.sid == me.sid {
                hang_up_if_orphaned(ci.pgid);
            }
        }
    }
    let Some(parent) = process::lookup(p.ppid()) else {
        return;
    };
    let pi = *parent.ids.lock();
    if pi.pgid != me.pgid && pi.sid == me.sid {
        hang_up_if_orphaned(me.pgid);
    }
    tell_parent_ended(&parent, p, status);
}

/// Process group `pgid` has become orphaned: if a member is stopped, nobody is left
/// to continue it, so every member gets SIGHUP and then SIGCONT, as POSIX asks.
fn hang_up_if_orphaned(pgid: i32) {
    let members = group(pgid);
    if !members.iter().any(|q| q.stopped.load(Ordering::Acquire)) || !group_orphaned(pgid) {
        return;
    }
    for sig in [SIGHUP, SIGCONT] {
        for q in members.iter().filter(|q| q.status().is_none()) {
            q.signals.send_to_process(sig);
        }
    }
}

/// `child` of `parent` ended with wait status `status`: the parent gets the child's
/// exit signal (si_code CLD_EXITED/CLD_KILLED) and its waiters wake. A parent that
/// ignores SIGCHLD (SIG_IGN, or SA_NOCLDWAIT) never sees zombies: the child is reaped
/// at once, as on Linux.
fn tell_parent_ended(parent: &Process, child: &Process, status: i32) {
    let sig = child.life.lock().exit_signal;
    if parent.signals.set_to_ignore(SIGCHLD)
        || parent.signals.action_flags(SIGCHLD) & SA_NOCLDWAIT != 0
    {
        reap(parent, child.pid());
    } else if sig != 0 && sig <= NSIG {
        let (code, st) = child_code(status);
        let _ = parent.signals.post(
            Target::Process,
            Queued {
                sig,
                code,
                pid: child.pid(),
                value: st as u32 as u64,
                timer: None,
            },
        );
    }
    parent.child_wait.wake_all();
}

/// Where the orphans of `p` go: its nearest living ancestor with PR_SET_CHILD_SUBREAPER,
/// else pid 1.
fn reaper_for(p: &Process) -> Option<Arc<Process>> {
    let mut at = p.ppid();
    while at > INIT_PID {
        let a = process::lookup(at)?;
        if a.life.lock().subreaper && a.status().is_none() {
            return Some(a);
        }
        at = a.ppid();
    }
    process::lookup(INIT_PID)
}

/// `child`'s parent `parent` ended: threads of the child that set PR_SET_PDEATHSIG
/// get their signal (sent to the process, from the parent).
fn parent_died(child: &Process, parent: i32) {
    for t in uk_sched::thread_ids() {
        let sig = crate::rusage::pdeathsig_of(t) as usize;
        if sig == 0 || !uk_sched::thread(t).is_some_and(|th| process::owner_is(&th, child)) {
            continue;
        }
        let _ = child.signals.post(
            Target::Process,
            Queued {
                sig,
                code: SI_USER,
                pid: parent,
                value: 0,
                timer: None,
            },
        );
    }
}

/// PR_SET_CHILD_SUBREAPER.
pub fn set_child_subreaper(on: bool) {
    current().life.lock().subreaper = on;
}

/// PR_GET_CHILD_SUBREAPER.
pub fn child_subreaper() -> bool {
    current().life.lock().subreaper
}

/// The threads of `p` other than the caller stop at their next way through the
/// kernel ([`end_if_dying`]); blocked ones are woken for it.
fn stop_other_threads(p: &Process) {
    let me = uk_sched::current_tid();
    for tid in uk_sched::thread_ids() {
        if tid == me {
            continue;
        }
        if let Some(t) = uk_sched::thread(tid) {
            if process::owner_is(&t, p) {
                uk_sched::interrupt(&t);
            }
        }
    }
}

/// The threads of `p` other than the caller end at their next way out of the kernel
/// (execve replaced the process's image).
pub fn end_threads_of(p: &Process) {
    p.ending.store(true, core::sync::atomic::Ordering::Release);
    stop_other_threads(p);
}

/// exit_group(2) of a process other than the first: it becomes a zombie; a vfork child
/// gives the thread back to its parent, any other caller's thread ends.
pub fn exit_process(status: i32) -> ! {
    let p = current_arc();
    finish(&p, status);
    stop_other_threads(&p);
    resume_parent(p);
    crate::thread::forget_current();
    uk_sched::exit_current(0)
}

/// How many threads the caller's process has (the caller included).
pub fn threads_of_caller() -> usize {
    let p = current();
    uk_sched::thread_ids()
        .into_iter()
        .filter_map(uk_sched::thread)
        .filter(|t| process::owner_is(t, p))
        .count()
}

/// True when the caller belongs to the first process (its exit ends the image).
pub fn caller_is_init() -> bool {
    current().pid() == INIT_PID
}

/// A signal's default action ends the caller's process (signal.rs's hook). False for
/// the first process: the image ends the way it always did.
fn terminated_by(sig: usize) -> bool {
    if caller_is_init() {
        return false;
    }
    exit_process(killed(sig))
}

/// Called on every way out of the kernel, after the signals were delivered: a thread
/// whose process has ended ends here ([`end_if_dying`]), one whose process is stopped
/// parks here until it is continued or killed, then gets what came meanwhile.
#[inline]
pub fn way_out() {
    end_if_dying();
    if current().stopped.load(Ordering::Acquire) {
        stopped_way_out();
    }
}

#[cold]
fn stopped_way_out() {
    loop {
        park_while_stopped();
        // SIGCONT's handler, SIGKILL, what waited while the process was stopped.
        current().signals.after_stop();
        end_if_dying();
        let p = current();
        if !p.stopped.load(Ordering::Acquire) || p.signals.kill_pending() {
            return;
        }
    }
}

/// Called before signals are delivered (a system call's end, a preemption point): a
/// stopped process takes no signal but SIGKILL until it is continued, so its thread
/// parks first (a signal that woke it from a blocking call waits with it).
#[inline]
pub fn park_if_stopped() {
    if current().stopped.load(Ordering::Acquire) {
        park_while_stopped();
    }
}

/// Wait while the calling thread's process is stopped, until SIGCONT continues it,
/// SIGKILL comes or it ends. Kernel threads (no owner) never park.
#[cold]
fn park_while_stopped() {
    if uk_sched::current_owner() == 0 {
        return;
    }
    let p = current_arc();
    let ready = || {
        !p.stopped.load(Ordering::Acquire)
            || p.ending.load(Ordering::Acquire)
            || p.signals.kill_pending()
    };
    while !ready() {
        let _ = p.cont_wait.wait_until(None, ready);
    }
}

/// A stop signal's default action for process `pid`, or SIGCONT (signal.rs's hook).
fn job_control(pid: i32, sig: usize) {
    let Some(p) = process::lookup(pid) else {
        return;
    };
    if sig == SIGCONT {
        continue_process(&p);
    } else {
        stop_process(&p, sig);
    }
}

/// Stop `p` by `sig`: its threads park at their next way out of the kernel, its parent
/// is told (CLD_STOPPED). The first process never stops; SIGTSTP, SIGTTIN and SIGTTOU
/// to a process of an orphaned process group are discarded, as on Linux (nobody would
/// continue it).
fn stop_process(p: &Arc<Process>, sig: usize) {
    if p.pid() == INIT_PID {
        return;
    }
    let pgid = p.ids.lock().pgid;
    if sig != SIGSTOP && group_orphaned(pgid) {
        uk_log::info!(
            "signal {sig} to process {} discarded: its process group is orphaned",
            p.pid()
        );
        return;
    }
    {
        let mut life = p.life.lock();
        if life.status.is_some() || p.stopped.load(Ordering::Acquire) {
            return;
        }
        p.stopped.store(true, Ordering::Release);
        life.job = Some(JobEvent::Stopped(sig));
    }
    notify_parent_job(p, CLD_STOPPED, sig as i32);
}

/// SIGCONT reached `p`: a stopped process goes on, and its parent is told
/// (CLD_CONTINUED). Nothing happens to a process that is not stopped.
fn continue_process(p: &Arc<Process>) {
    {
        let mut life = p.life.lock();
        if !p.stopped.swap(false, Ordering::AcqRel) {
            return;
        }
        life.job = Some(JobEvent::Continued);
    }
    p.cont_wait.wake_all();
    notify_parent_job(p, CLD_CONTINUED, SIGCONT as i32);
}

/// Tell `p`'s parent that `p` stopped or continued: SIGCHLD (whatever `p`'s exit
/// signal) unless the parent ignores SIGCHLD or set SA_NOCLDSTOP; its waiters wake
/// either way.
fn notify_parent_job(p: &Process, code: i32, status: i32) {
    let Some(parent) = process::lookup(p.ppid()) else {
        return;
    };
    if !parent.signals.set_to_ignore(SIGCHLD)
        && parent.signals.action_flags(SIGCHLD) & SA_NOCLDSTOP == 0
    {
        let _ = parent.signals.post(
            Target::Process,
            Queued {
                sig: SIGCHLD,
                code,
                pid: p.pid(),
                value: status as u32 as u64,
                timer: None,
            },
        );
    }
    parent.child_wait.wake_all();
}

/// True when process group `pgid` is orphaned: no living member has a parent in
/// another group of the same session (POSIX; Linux's will_become_orphaned_pgrp).
fn group_orphaned(pgid: i32) -> bool {
    !process::all().iter().any(|q| {
        if q.status().is_some() {
            return false;
        }
        let qi = *q.ids.lock();
        if qi.pgid != pgid {
            return false;
        }
        process::lookup(qi.ppid).is_some_and(|parent| {
            let pi = *parent.ids.lock();
            pi.pgid != pgid && pi.sid == qi.sid
        })
    })
}

/// Called on every way out of the kernel: a thread whose process has ended (another
/// thread called exit_group, a signal killed it, or execve replaced its image) ends
/// here. Kernel threads (no owner) act for the first process and never end this way.
#[inline]
pub fn end_if_dying() {
    let p = current();
    if p.ending.load(core::sync::atomic::Ordering::Acquire) && uk_sched::current_owner() != 0 {
        let p = current_arc();
        resume_parent(p);
        crate::thread::forget_current();
        uk_sched::exit_current(0)
    }
}

/// Take zombie `pid` out of `parent`'s children and the process table.
fn reap(parent: &Process, pid: i32) {
    parent.life.lock().children.retain(|c| *c != pid);
    process::unregister(pid);
}

/// Which children a wait call asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Any,
    Pid(i32),
    /// Members of this process group.
    Group(i32),
}

impl Which {
    /// wait4's `pid` argument: -1 any, 0 the caller's group, < -1 group -pid.
    pub fn from_wait4(pid: i32) -> Which {
        match pid {
            -1 => Which::Any,
            0 => Which::Group(current().ids.lock().pgid),
            p if p < 0 => Which::Group(p.wrapping_neg()),
            p => Which::Pid(p),
        }
    }

    fn matches(&self, p: &Process) -> bool {
        match *self {
            Which::Any => true,
            Which::Pid(pid) => p.pid() == pid,
            Which::Group(g) => p.ids.lock().pgid == g,
        }
    }
}

/// A child whose state a wait call reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waited {
    pub pid: i32,
    /// The wait status: ended ([`exited`], [`killed`]), [`stopped`] or [`CONTINUED`].
    pub status: i32,
}

impl Waited {
    /// waitid's siginfo: `si_code` and `si_status`.
    pub fn code_status(&self) -> (i32, i32) {
        child_code(self.status)
    }
}

/// wait4(2)/waitid(2): a child of `which` that has ended (`WEXITED`; reaped unless
/// `WNOWAIT`), stopped (`WSTOPPED`, alias WUNTRACED) or continued (`WCONTINUED`); a
/// stop or continue is reported once unless `WNOWAIT`. Ok(None) with `WNOHANG` when
/// children match but none has news; ECHILD when none match; EINTR when a signal
/// interrupts the wait. wait4 asks for WEXITED always.
pub fn wait(which: Which, options: u32) -> KResult<Option<Waited>> {
    let me = current_arc();
    let look = || -> KResult<Option<Waited>> {
        let kids = me.life.lock().children.clone();
        let mut any = false;
        for pid in kids {
            let Some(c) = process::lookup(pid) else {
                continue;
            };
            if !which.matches(&c) {
                continue;
            }
            any = true;
            let life = c.life.lock();
            let status = match (life.status, life.job) {
                (Some(st), _) if options & WEXITED != 0 => st,
                (None, Some(JobEvent::Stopped(sig))) if options & WSTOPPED != 0 => stopped(sig),
                (None, Some(JobEvent::Continued)) if options & WCONTINUED != 0 => CONTINUED,
                _ => continue,
            };
            return Ok(Some(Waited { pid, status }));
        }
        if any {
            Ok(None)
        } else {
            Err(Errno::ECHILD)
        }
    };
    loop {
        if let Some(w) = look()? {
            if options & WNOWAIT == 0 {
                consume(&me, w);
            }
            return Ok(Some(w));
        }
        if options & WNOHANG != 0 {
            return Ok(None);
        }
        let wake = me
            .child_wait
            .wait_until(None, || !matches!(look(), Ok(None)));
        if wake == uk_sched::Wake::Interrupted && matches!(look(), Ok(None)) {
            return Err(Errno::EINTR);
        }
    }
}

/// A wait reported `w` (without WNOWAIT): a zombie is reaped, a stop or continue is
/// not reported again.
fn consume(parent: &Process, w: Waited) {
    let (code, _) = child_code(w.status);
    if code == CLD_STOPPED || code == CLD_CONTINUED {
        if let Some(c) = process::lookup(w.pid) {
            c.life.lock().job = None;
        }
    } else {
        reap(parent, w.pid);
    }
}

/// waitid's options must ask for something: ended (WEXITED), stopped (WSTOPPED) or
/// continued (WCONTINUED) children.
pub fn check_waitid_options(options: u32) -> KResult<()> {
    if options & (WEXITED | WSTOPPED | WCONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// kill(2): `pid` > 0 one process, 0 the caller's group, -1 every process but pid 1
/// and the caller, < -1 the group -pid. Signal 0 only checks that a target exists.
/// Zombies count as targets but get nothing; pid 1 gets from other processes only the
/// signals it handles (Linux's rule for init).
pub fn kill(pid: i32, sig: usize) -> KResult<()> {
    if sig > NSIG {
        return Err(Errno::EINVAL);
    }
    let me = current_arc();
    let my = *me.ids.lock();
    let targets: Vec<Arc<Process>> = match pid {
        p if p > 0 => alloc::vec![process::lookup(p).ok_or(Errno::ESRCH)?],
        0 => group(my.pgid),
        -1 => process::all()
            .into_iter()
            .filter(|p| p.pid() != INIT_PID && p.pid() != my.pid)
            .collect(),
        p if p == i32::MIN => return Err(Errno::ESRCH),
        p => group(-p),
    };
    if targets.is_empty() {
        return Err(Errno::ESRCH);
    }
    if sig == 0 {
        return Ok(());
    }
    // Post to others first: a signal that ends the caller must not keep the others
    // from getting theirs.
    let (mine, others): (Vec<_>, Vec<_>) = targets.into_iter().partition(|p| p.pid() == my.pid);
    for t in others.into_iter().chain(mine) {
        if t.status().is_some() {
            continue;
        }
        // pid 1 gets from the other processes of its image only the signals it has a
        // handler for, as Linux's init does from its namespace (SIGKILL included);
        // signals from outside (the host, `ukport stop`) still end the image.
        if t.pid() == INIT_PID && my.pid != INIT_PID && !t.signals.has_handler(sig) {
            continue;
        }
        t.signals.post(
            Target::Process,
            Queued {
                sig,
                code: SI_USER,
                pid: my.pid,
                value: 0,
                timer: None,
            },
        )?;
    }
    Ok(())
}

fn group(pgid: i32) -> Vec<Arc<Process>> {
    process::all()
        .into_iter()
        .filter(|p| p.ids.lock().pgid == pgid)
        .collect()
}

/// vfork(2): the calling thread becomes a new child process that borrows the
/// caller's memory and stack; `resume` is how the parent's vfork call returns (with
/// the child's pid) once the child execs or exits. Returns in the child.
pub fn vfork(resume: uk_arch::Resume, exit_signal: usize) -> KResult<()> {
    let parent = current_arc();
    let child = new_vfork_child(&parent, uk_sched::current_tid(), exit_signal)?;
    enter_vfork_child(&child, resume);
    Ok(())
}

/// What the child of [`clone_vfork`] runs.
struct ChildStart {
    func: usize,
    arg: usize,
}

extern "C" fn vfork_child_start(p: usize) -> ! {
    // SAFETY: `p` is the Box<ChildStart> clone_vfork leaked for this child only.
    let s = unsafe { alloc::boxed::Box::from_raw(p as *mut ChildStart) };
    let (func, arg) = (s.func, s.arg);
    drop(s);
    // SAFETY: the program passed `func` as `int (*)(void *)` to clone.
    let code = unsafe { crate::thread::call_program(func, arg) };
    exit_process(exited(code))
}

/// clone(2) with CLONE_VM|CLONE_VFORK and without CLONE_THREAD (musl's posix_spawn):
/// `func(arg)` runs as a new child process on `stack`, borrowing the caller's memory,
/// while the caller waits; returns the child's pid once the child execs or exits.
pub fn clone_vfork(func: usize, stack: usize, arg: usize, exit_signal: usize) -> KResult<i32> {
    if func == 0 || stack == 0 {
        return Err(Errno::EINVAL);
    }
    // The stack must be program memory: the child's first call would fault otherwise.
    crate::user::check(stack.saturating_sub(256), 256, true)?;
    let parent = current_arc();
    let child = new_vfork_child(&parent, uk_sched::current_tid(), exit_signal)?;
    enter_vfork_child(&child, uk_arch::Resume::default());
    let save = vfork_frame_ptr(&child).ok_or(Errno::EAGAIN)?;
    drop(child);
    drop(parent);
    let start = alloc::boxed::Box::into_raw(alloc::boxed::Box::new(ChildStart { func, arg }));
    // SAFETY: `save` points into the child's boxed frame, which lives until
    // resume_parent takes it (and then reads it before resuming). The child runs on
    // its own stack, so this frame and its callers stay intact until then.
    let pid =
        unsafe { uk_arch::resume::call_saving(save, vfork_child_start, start as usize, stack) };
    // Back as the parent, in kernel code again.
    uk_plat::cpu::enter();
    Ok(pid as i32)
}

/// The boot program's writable data (its `.data` and `.bss`), which a fork must copy
/// like any private map; set at boot from the image's link (docs/processes.md, "fork").
static PROGRAM_DATA: spin::Once<(usize, usize)> = spin::Once::new();

/// Tell the process layer where the boot program's own writable data is (page-aligned,
/// apart from the kernel's statics).
pub fn set_program_data(start: usize, end: usize) {
    PROGRAM_DATA.call_once(|| (start, end));
}

/// The boot program's writable data range, when the image was linked to keep it apart.
pub fn program_data() -> Option<(usize, usize)> {
    PROGRAM_DATA.get().copied()
}

/// How a fork child's first thread enters the program.
pub enum ForkStart {
    /// Return 0 from the parent's fork call (its registers at the call).
    Return(uk_arch::Resume),
    /// clone(2) without CLONE_VM from C: run `func(arg)` on `stack` (in the child's
    /// copy) and end the process with what it returns.
    Call {
        func: usize,
        arg: usize,
        stack: usize,
    },
}

extern "C" fn fork_child_start(p: usize) -> ! {
    // Moved out of its box, which is freed before this returns: the frame is abandoned
    // below, so what it still owned then would never be freed.
    fn take(p: usize) -> ForkStart {
        // SAFETY: `p` is the Box<ForkStart> fork leaked for this thread only.
        *unsafe { alloc::boxed::Box::from_raw(p as *mut ForkStart) }
    }
    match take(p) {
        ForkStart::Return(resume) => {
            uk_plat::cpu::leave();
            // SAFETY: `resume` is where the parent's fork call returns, recorded by the
            // system call entry; this thread runs in the child's view (the scheduler
            // showed it), where that stack and those frames are the child's copy, as
            // they were at the call.
            unsafe { uk_arch::resume::resume(&resume, 0) }
        }
        ForkStart::Call { func, arg, stack } => {
            let call = alloc::boxed::Box::into_raw(alloc::boxed::Box::new((func, arg))) as usize;
            // SAFETY: `stack` is program memory of the child (checked by the caller in
            // the parent, copied by the fork).
            unsafe { uk_arch::call_on_stack(stack, fork_child_call, call) }
        }
    }
}

extern "C" fn fork_child_call(p: usize) -> ! {
    // SAFETY: `p` is the Box<(func, arg)> fork_child_start leaked for this call.
    let b = unsafe { alloc::boxed::Box::from_raw(p as *mut (usize, usize)) };
    let (func, arg) = *b;
    drop(b);
    // SAFETY: the program passed `func` as `int (*)(void *)` to clone.
    let code = unsafe { crate::thread::call_program(func, arg) };
    exit_process(exited(code))
}

/// fork(2): a child process with a copy of the caller's memory at the same addresses
/// (crate::view), the caller's descriptors (sharing open file descriptions), signal
/// actions and mask, ids, directory and limits; no pending signals, timers or other
/// threads. `resume` is how the caller's fork call returns; the child's only thread
/// returns from it with 0. Returns the child's pid.
pub fn fork(start: ForkStart, exit_signal: usize) -> KResult<i32> {
    if uk_plat::get().alias_window().is_none() {
        uk_log::warn_once!("fork: this platform cannot show one address twice: ENOSYS");
        return Err(Errno::ENOSYS);
    }
    let parent = current_arc();
    if parent.vfork.lock().is_some() {
        // A vfork child runs on its parent's memory and thread: it may only exec or
        // exit (POSIX leaves anything else undefined).
        return Err(Errno::ENOSYS);
    }
    let tid = uk_sched::current_tid();
    let pid = uk_sched::reserve_tid().ok_or(Errno::EAGAIN)?;
    let mm = Arc::new(parent.mm.fork(PROGRAM_DATA.get().copied())?);
    let mask = parent.signals.mask_of(tid);
    let child = child_process(&parent, pid, pid, mask, mm, exit_signal);
    let tls = uk_sched::current().tls();
    if let ForkStart::Call { func, stack, .. } = start {
        if func == 0 || stack == 0 {
            return Err(Errno::EINVAL);
        }
        crate::user::check(stack.saturating_sub(256), 256, true)?;
    }
    let start = alloc::boxed::Box::into_raw(alloc::boxed::Box::new(start));
    let Some(t) = uk_sched::spawn_as(Some(pid), fork_child_start, start as usize, None, tls) else {
        // SAFETY: the thread was not made, so the box is still ours.
        drop(unsafe { alloc::boxed::Box::from_raw(start) });
        return Err(Errno::EAGAIN);
    };
    t.mark_program();
    process::adopt(&t, &child);
    process::register(&child);
    parent.life.lock().children.push(pid);
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_as_linux_encodes_them() {
        assert_eq!(exited(7), 7 << 8);
        assert_eq!(exited(256 + 3), 3 << 8);
        assert_eq!(killed(uk_abi::signal::SIGKILL), 9);
        assert_eq!(child_code(exited(4)), (CLD_EXITED, 4));
        assert_eq!(child_code(killed(15)), (CLD_KILLED, 15));
        assert_eq!(stopped(uk_abi::signal::SIGTSTP), 0x147f);
        assert_eq!(child_code(stopped(19)), (CLD_STOPPED, 19));
        assert_eq!(child_code(CONTINUED), (CLD_CONTINUED, SIGCONT as i32));
        let w = Waited {
            pid: 5,
            status: exited(0),
        };
        assert_eq!(w.code_status(), (CLD_EXITED, 0));
    }

    fn send(p: &Process, sig: usize) {
        p.signals
            .post(
                Target::Process,
                Queued {
                    sig,
                    code: SI_USER,
                    pid: INIT_PID,
                    value: 0,
                    timer: None,
                },
            )
            .unwrap();
    }

    #[test]
    fn stop_and_continue_are_reported_once() {
        crate::testplat::setup();
        let _g = crate::testplat::serial();
        use uk_abi::signal::{SIGKILL, SIGTSTP};
        let parent = current_arc();
        // A child whose signal state counts the test thread as its own (so that a stop
        // signal is taken at once); the thread still runs as the parent.
        let child = new_vfork_child(&parent, uk_sched::current_tid(), SIGCHLD).unwrap();
        let pid = child.pid();
        let one = |opts| wait(Which::Pid(pid), opts | WNOHANG);
        assert_eq!(one(WSTOPPED | WCONTINUED), Ok(None));
        // In pid 1's group the child's group is orphaned: SIGTSTP is discarded, SIGSTOP not.
        send(&child, SIGTSTP);
        assert!(!child.stopped.load(Ordering::Acquire));
        child.ids.lock().pgid = pid;
        send(&child, SIGTSTP);
        assert!(child.stopped.load(Ordering::Acquire));
        assert_eq!(one(WEXITED), Ok(None), "a stop is not an exit");
        assert_eq!(
            one(WSTOPPED | WNOWAIT),
            Ok(Some(Waited {
                pid,
                status: stopped(SIGTSTP)
            }))
        );
        assert_eq!(
            one(WSTOPPED),
            Ok(Some(Waited {
                pid,
                status: stopped(SIGTSTP)
            }))
        );
        assert_eq!(one(WSTOPPED), Ok(None), "reported once");
        // Stopping a stopped process again tells nobody.
        send(&child, SIGSTOP);
        assert_eq!(one(WSTOPPED), Ok(None));
        send(&child, SIGCONT);
        assert!(!child.stopped.load(Ordering::Acquire));
        assert_eq!(one(WSTOPPED), Ok(None));
        assert_eq!(
            one(WCONTINUED),
            Ok(Some(Waited {
                pid,
                status: CONTINUED
            }))
        );
        assert_eq!(one(WCONTINUED), Ok(None));
        // SIGCONT to a running process: no event. A stop then a continue unreported:
        // only the continue is left.
        send(&child, SIGCONT);
        assert_eq!(one(WCONTINUED), Ok(None));
        send(&child, SIGSTOP);
        send(&child, SIGCONT);
        assert_eq!(
            one(WSTOPPED | WCONTINUED),
            Ok(Some(Waited {
                pid,
                status: CONTINUED
            }))
        );
        // SIGKILL is the one signal a stopped process's threads wake for.
        send(&child, SIGSTOP);
        assert!(!child.signals.kill_pending());
        send(&child, SIGKILL);
        assert!(child.signals.kill_pending());
        finish(&child, killed(SIGKILL));
        assert_eq!(
            one(WSTOPPED | WCONTINUED),
            Ok(None),
            "a zombie has no job event"
        );
        assert_eq!(
            one(WEXITED),
            Ok(Some(Waited {
                pid,
                status: killed(SIGKILL)
            }))
        );
        assert!(process::lookup(pid).is_none());
    }

    #[test]
    fn waitid_needs_something_to_report() {
        assert_eq!(check_waitid_options(WNOHANG), Err(Errno::EINVAL));
        assert_eq!(check_waitid_options(WEXITED | WNOHANG), Ok(()));
        assert_eq!(check_waitid_options(WSTOPPED), Ok(()));
        assert_eq!(check_waitid_options(WCONTINUED | WNOHANG), Ok(()));
    }
}
