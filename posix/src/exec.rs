//! execve(2): load a program file from the image's file system into a range of its own
//! and start it (docs/processes.md, "The loader").
//!
//! A program file is a static-PIE ELF built by `uk-cc --uk-program`: its libc calls
//! the kernel through three slots in a section `.uk_entries` (`uk_syscall`,
//! `__uk_clone`, `__uk_unmapself`), which the loader fills with the running kernel's
//! entry points. Its segments go at whatever free range the page allocator gives (the
//! image has one address space), its stack is a fresh map with a guard page below,
//! laid out as Linux lays out an initial stack (argc, argv, envp, auxv, strings).
//! `#!` scripts run their interpreter. Binaries with `syscall` instructions (no
//! `.uk_entries`) and dynamically linked ones are ENOEXEC for now.
//!
//! The load runs on a thread of its own with a kernel stack: the caller may be a
//! vfork child running on a few KiB of stack (musl's posix_spawn gives its child
//! 1 KiB + PATH_MAX). That thread becomes the new program's main thread, with the
//! process's pid as its id.

use crate::fs::open_file_at;
use crate::ident::Ids;
use crate::process::{self, current_arc, Life, Process};
use crate::{lifecycle, user, Errno, KResult};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use object::elf::{FileHeader64, ET_DYN, ET_EXEC, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_PHDR};
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::LittleEndian as LE;
use uk_abi::fcntl::{AT_FDCWD, O_RDONLY};
use uk_abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE};
use uk_abi::stat::{PATH_MAX, S_IFMT, S_IFREG};
use uk_abi::PAGE_SIZE;

/// The kernel's entries a program file calls, in slot order: `uk_syscall`,
/// `__uk_clone`, `__uk_unmapself` (set at boot by the image, which links the shim).
static ENTRIES: spin::Once<[usize; 3]> = spin::Once::new();

/// The first word of `.uk_entries` ("ukitENT1"), then the number of slots.
pub const ENTRIES_MAGIC: u64 = u64::from_le_bytes(*b"ukitENT1");

/// Tell the loader where the kernel's entries are.
pub fn set_entries(e: [usize; 3]) {
    ENTRIES.call_once(|| e);
}

/// Most strings (argv + envp) and bytes execve copies, as Linux's default limits.
const MAX_STRINGS: usize = 0x7fff_ffff / 8;
const MAX_ARG_BYTES: usize = 2 << 20;
/// Nested `#!` interpreters before ELOOP (Linux allows 4).
const MAX_INTERP_DEPTH: usize = 4;
/// Largest program file loaded.
const MAX_FILE: u64 = 1 << 30;

/// Read a NULL-terminated array of C strings from program memory (argv, envp).
fn read_strv(addr: usize, total: &mut usize) -> KResult<Vec<Vec<u8>>> {
    let mut v = Vec::new();
    if addr == 0 {
        return Ok(v);
    }
    for i in 0..MAX_STRINGS {
        let p: usize = user::read(addr.wrapping_add(i * 8))?;
        if p == 0 {
            return Ok(v);
        }
        let s = user::cstr(p, MAX_ARG_BYTES)?;
        *total += s.len() + 1 + 8;
        if *total > MAX_ARG_BYTES {
            return Err(Errno::E2BIG);
        }
        v.push(s);
    }
    Err(Errno::E2BIG)
}

/// What a load needs, copied out of the caller's memory.
struct Job {
    path: Vec<u8>,
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    /// The process being replaced (a vfork child).
    old: Arc<Process>,
    /// The signal mask the new main thread starts with (the caller's).
    mask: u64,
    verdict: Arc<Verdict>,
}

/// The loader thread's answer to the caller.
struct Verdict {
    result: spin::Mutex<Option<KResult<()>>>,
    queue: uk_sched::WaitQueue,
}

/// execve(2) with the caller's `path`, `argv`, `envp` (program memory). Returns only
/// on failure; on success the caller's process runs the new program.
///
/// The caller is a vfork child (posix_spawn, system, popen, and vfork + exec), or a
/// process replacing itself, whose other threads end (the image's first process
/// too: the new program is pid 1, and the boot program's memory goes back once its
/// threads are gone).
pub fn execve(path: usize, argv: usize, envp: usize) -> KResult<usize> {
    let path = user::cstr(path, PATH_MAX)?;
    let mut total = 0;
    let args = read_strv(argv, &mut total)?;
    let env = read_strv(envp, &mut total)?;
    let old = current_arc();
    let vfork_child = old.vfork.lock().is_some();
    let pid = old.pid();
    let verdict = Arc::new(Verdict {
        result: spin::Mutex::new(None),
        queue: uk_sched::WaitQueue::new(),
    });
    let job = Box::new(Job {
        path,
        args,
        env,
        mask: old.signals.mask_of(uk_sched::current_tid()),
        old: old.clone(),
        verdict: verdict.clone(),
    });
    let raw = Box::into_raw(job) as usize;
    // A vfork child's new main thread takes the pid as its id (no thread has it); a
    // process replacing itself keeps its threads until the load worked, so its new
    // main thread gets a fresh id.
    let tid = vfork_child.then_some(pid);
    let Some(t) = uk_sched::spawn_as(tid, loader_main, raw, None, 0) else {
        // SAFETY: the thread was not made, so the job is still ours.
        drop(unsafe { Box::from_raw(raw as *mut Job) });
        return Err(Errno::EAGAIN);
    };
    // The loader acts for the process being replaced (its directory, its memory).
    process::adopt(&t, &old);
    // This frame is abandoned when the thread goes back to the parent or ends below:
    // what it still owned then would never be freed, so drop each thing once used.
    drop(t);
    // The loader's answer decides what this thread is: wait for it whatever wakes us
    // (a signal for the child is delivered when the call returns, if it fails).
    let r = loop {
        if let Some(r) = verdict.result.lock().take() {
            break r;
        }
        verdict
            .queue
            .wait_until(None, || verdict.result.lock().is_some());
    };
    drop(verdict);
    r?;
    // The new image runs; the old process object (its close-on-exec descriptors with
    // it) goes away. A vfork child's thread goes back to the parent; otherwise this
    // thread and the old image's other threads end.
    old.fds.close_all();
    if vfork_child {
        lifecycle::resume_parent(old);
        // Only when the parent is gone: nobody to give the thread back to.
        uk_sched::exit_current(0)
    }
    lifecycle::end_threads_of(&old);
    if Arc::ptr_eq(&old, process::init()) {
        process::init_replaced();
    }
    drop(old);
    crate::thread::forget_current();
    uk_sched::exit_current(0)
}

extern "C" fn loader_main(raw: usize) -> ! {
    // SAFETY: `raw` is the Box<Job> execve leaked for this thread only. The job moves
    // out and the box is freed in this statement: this frame is abandoned when the
    // program starts.
    let job: Job = *unsafe { Box::from_raw(raw as *mut Job) };
    let verdict = job.verdict.clone();
    match load(job) {
        Err(e) => {
            *verdict.result.lock() = Some(Err(e));
            verdict.queue.wake_all();
            drop(verdict);
            uk_sched::exit_current(0)
        }
        Ok(start) => {
            *verdict.result.lock() = Some(Ok(()));
            verdict.queue.wake_all();
            drop(verdict);
            uk_sched::current().mark_program();
            // A process running the image's program again has its own view of the data
            // range: shown here, on the loader's kernel stack, before it runs.
            let mm = &process::current().mm;
            if mm.needs_view() {
                mm.show_view();
            }
            // From here on the CPU runs the program.
            uk_plat::cpu::leave();
            // SAFETY: `start` was just built by `load`: the entry of a program mapped
            // executable in the active address space, and its initial stack.
            unsafe { uk_arch::resume::enter_program(start.entry, start.sp) }
        }
    }
}

/// Where a loaded program starts.
struct Start {
    entry: usize,
    sp: usize,
}

/// What execve opened, after `#!` lines were followed: a program file read into
/// memory, or the image itself (not read: crate::selfexec).
struct Program {
    bytes: Vec<u8>,
    /// The image file and its first bytes, when the file is the running image.
    image: Option<(Arc<dyn crate::file::File>, Vec<u8>)>,
    args: Vec<Vec<u8>>,
    /// The path of the file finally loaded (AT_EXECFN is the one execve named).
    path: Vec<u8>,
}

/// What execve found at a path.
enum Found {
    /// A `#!` script or a program file, read whole.
    Bytes(Vec<u8>),
    /// The running image (its first bytes).
    Image(Arc<dyn crate::file::File>, Vec<u8>),
}

/// Read `path` as execve opens it: a regular file with an execute bit.
fn read_file(path: &[u8]) -> KResult<Found> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let f = open_file_at(AT_FDCWD, path, O_RDONLY, 0)?;
    let st = f.stat()?;
    if st.st_mode & S_IFMT != S_IFREG || st.st_mode & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    if st.st_size as u64 > MAX_FILE {
        return Err(Errno::ENOMEM);
    }
    // A file that is neither a `#!` script nor a static-PIE candidate is refused from
    // its first bytes: reading all of it first (an image of tens of MiB exec'd by
    // mistake) would take that much kernel heap for nothing.
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < head.len() {
        let k = f.pread(&mut &mut head[n..], n as u64)?;
        if k == 0 {
            break;
        }
        n += k;
    }
    if !head[..n].starts_with(b"#!") {
        if crate::selfexec::is_image(&*f, &head[..n])? {
            return Ok(Found::Image(f, head[..n].to_vec()));
        }
        check_header(&head[..n])?;
    }
    let mut bytes = alloc::vec![0u8; st.st_size as usize];
    let mut got = 0;
    while got < bytes.len() {
        let mut rest: &mut [u8] = &mut bytes[got..];
        let n = f.pread(&mut rest, got as u64)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    bytes.truncate(got);
    Ok(Found::Bytes(bytes))
}

/// The interpreter and its optional argument from a file's `#!` line (the first 256
/// bytes at most, as Linux reads): the interpreter is the first word, the argument is
/// the rest of the line with its outer blanks removed. ENOEXEC without an interpreter.
fn shebang(bytes: &[u8]) -> KResult<(Vec<u8>, Vec<u8>)> {
    let line_end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len())
        .min(256);
    let trim = |s: &[u8]| -> Vec<u8> {
        let s = match s.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => &s[i..],
            None => &[],
        };
        let e = s
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        s[..e].to_vec()
    };
    let line = trim(bytes.get(2..line_end).unwrap_or(&[]));
    let (interp, arg) = match line.iter().position(|b| b.is_ascii_whitespace()) {
        Some(i) => (line[..i].to_vec(), trim(&line[i..])),
        None => (line.clone(), Vec::new()),
    };
    if interp.is_empty() {
        return Err(Errno::ENOEXEC);
    }
    Ok((interp, arg))
}

/// Follow `#!` lines: the interpreter gets `[interp, (arg), path, argv[1..]]`, as
/// Linux passes them.
fn resolve(path: Vec<u8>, args: Vec<Vec<u8>>, depth: usize) -> KResult<Program> {
    let bytes = match read_file(&path)? {
        Found::Image(f, head) => {
            return Ok(Program {
                bytes: Vec::new(),
                image: Some((f, head)),
                args,
                path,
            })
        }
        Found::Bytes(b) => b,
    };
    if !bytes.starts_with(b"#!") {
        return Ok(Program {
            bytes,
            image: None,
            args,
            path,
        });
    }
    if depth >= MAX_INTERP_DEPTH {
        return Err(Errno::ELOOP);
    }
    let (interp, arg) = shebang(&bytes)?;
    let mut nargs = alloc::vec![interp.clone()];
    if !arg.is_empty() {
        nargs.push(arg);
    }
    nargs.push(path);
    nargs.extend(args.into_iter().skip(1));
    resolve(interp, nargs, depth + 1)
}

/// The protection a segment's flags ask for.
fn seg_prot(flags: u32) -> u32 {
    let mut p = PROT_READ;
    if flags & PF_W != 0 {
        p |= PROT_WRITE;
    }
    if flags & PF_X != 0 {
        p |= PROT_EXEC;
    }
    p
}

/// What the ELF headers say about a program file, checked.
struct Layout {
    /// Lowest and highest page-aligned addresses of the PT_LOAD segments.
    lo: usize,
    hi: usize,
    /// (vaddr, file offset, file size, memory size, protection) per PT_LOAD.
    segs: Vec<(usize, usize, usize, usize, u32)>,
    entry: usize,
    phdr: usize,
    phnum: usize,
    /// Address of `.uk_entries` (relative to the load base).
    slots: usize,
}

/// The checks the ELF file header alone allows (the first 64 bytes): an x86-64
/// static-PIE candidate, or ENOEXEC.
fn check_header(head: &[u8]) -> KResult<()> {
    let h = FileHeader64::<LE>::parse(head).map_err(|_| Errno::ENOEXEC)?;
    let e = h.endian().map_err(|_| Errno::ENOEXEC)?;
    if h.e_machine(e) != object::elf::EM_X86_64 {
        return Err(Errno::ENOEXEC);
    }
    match h.e_type(e) {
        ET_DYN => Ok(()),
        ET_EXEC => {
            uk_log::warn_once!(
                "execve of a program that is not position-independent: ENOEXEC (build it with uk-cc --uk-program)"
            );
            Err(Errno::ENOEXEC)
        }
        _ => Err(Errno::ENOEXEC),
    }
}

fn parse(bytes: &[u8]) -> KResult<Layout> {
    check_header(bytes)?;
    let h = FileHeader64::<LE>::parse(bytes).map_err(|_| Errno::ENOEXEC)?;
    let e = h.endian().map_err(|_| Errno::ENOEXEC)?;
    let phs = h.program_headers(e, bytes).map_err(|_| Errno::ENOEXEC)?;
    let mut l = Layout {
        lo: usize::MAX,
        hi: 0,
        segs: Vec::new(),
        entry: h.e_entry(e) as usize,
        phdr: 0,
        phnum: phs.len(),
        slots: 0,
    };
    let mut phdr = None;
    for ph in phs {
        match ph.p_type(e) {
            PT_INTERP => {
                uk_log::warn_once!(
                    "execve of a dynamically linked program: ENOEXEC (programs are static-PIE)"
                );
                return Err(Errno::ENOEXEC);
            }
            PT_PHDR => phdr = Some(ph.p_vaddr(e) as usize),
            PT_LOAD => {
                let (va, off, fsz, msz) = (
                    ph.p_vaddr(e) as usize,
                    ph.p_offset(e) as usize,
                    ph.p_filesz(e) as usize,
                    ph.p_memsz(e) as usize,
                );
                if fsz > msz
                    || off.checked_add(fsz).is_none_or(|end| end > bytes.len())
                    || va.checked_add(msz).is_none_or(|end| end > 1 << 40)
                {
                    return Err(Errno::ENOEXEC);
                }
                // The headers themselves, when no PT_PHDR names them: inside the
                // segment that maps file offset e_phoff.
                let phoff = h.e_phoff(e) as usize;
                if phdr.is_none() && off <= phoff && phoff < off + fsz {
                    phdr = Some(va + (phoff - off));
                }
                l.lo = l.lo.min(va & !(PAGE_SIZE - 1));
                l.hi = l.hi.max((va + msz + PAGE_SIZE - 1) & !(PAGE_SIZE - 1));
                l.segs.push((va, off, fsz, msz, seg_prot(ph.p_flags(e))));
            }
            _ => {}
        }
    }
    if l.segs.is_empty() || l.hi <= l.lo {
        return Err(Errno::ENOEXEC);
    }
    l.phdr = phdr.ok_or(Errno::ENOEXEC)?;
    let secs = h.sections(e, bytes).map_err(|_| Errno::ENOEXEC)?;
    let slots = secs
        .iter()
        .find(|s| secs.section_name(e, s).is_ok_and(|n| n == b".uk_entries"));
    let Some(slots) = slots else {
        uk_log::warn_once!(
            "execve of a Linux binary that makes its own system calls: ENOEXEC (binary compatibility is the next step; build it with uk-cc --uk-program)"
        );
        return Err(Errno::ENOEXEC);
    };
    if slots.sh_size(e) < 8 * 5 {
        return Err(Errno::ENOEXEC);
    }
    l.slots = slots.sh_addr(e) as usize;
    Ok(l)
}

/// Map `bytes` (a parsed program) into `mm`, which must be active: returns the load
/// bias (the address of virtual address 0).
fn map_program(l: &Layout, bytes: &[u8], mm: &crate::mm::AddressSpace) -> KResult<usize> {
    let span = l.hi - l.lo;
    let at = mm.mmap(0, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)?;
    // The bias may wrap (segments linked above where the map landed): every address
    // below is bias + vaddr, computed wrapping, and lands inside the map.
    let bias = at.wrapping_sub(l.lo);
    for &(va, off, fsz, _, _) in &l.segs {
        user::copy_out(bias.wrapping_add(va), &bytes[off..off + fsz])?;
    }
    // The kernel's entries into the slots (magic and count checked first).
    let slots = bias.wrapping_add(l.slots);
    let magic: u64 = user::read(slots)?;
    let count: u64 = user::read(slots.wrapping_add(8))?;
    let entries = ENTRIES.get().ok_or(Errno::ENOEXEC)?;
    if magic != ENTRIES_MAGIC || count < entries.len() as u64 {
        return Err(Errno::ENOEXEC);
    }
    for (i, e) in entries.iter().enumerate() {
        user::write(slots.wrapping_add(16 + i * 8), e)?;
    }
    // Protections per segment; a page two segments share gets both.
    let mut prev: Option<(usize, u32)> = None;
    for &(va, _, _, msz, prot) in &l.segs {
        let mut start = bias.wrapping_add(va) & !(PAGE_SIZE - 1);
        let end = bias.wrapping_add(va + msz + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
        if let Some((pend, pprot)) = prev {
            if start < pend {
                mm.mprotect(start, PAGE_SIZE, prot | pprot)?;
                start += PAGE_SIZE;
            }
        }
        if start < end {
            mm.mprotect(start, end - start, prot)?;
        }
        prev = Some((end, prot));
    }
    Ok(bias)
}

/// The base name of a path (the process's name, as Linux takes it from the file).
fn base_name(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|&b| b == b'/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

/// Load the job's program into a new address space and a new process object with the
/// old one's pid, which takes its place; the running thread becomes its main thread.
fn load(job: Job) -> KResult<Start> {
    let Job {
        path,
        args,
        env,
        old,
        mask,
        ..
    } = job;
    let prog = resolve(path.clone(), args, 0)?;
    let params = process::init_params().ok_or(Errno::ENOEXEC)?;
    let mm = Arc::new(crate::mm::AddressSpace::new(old.mm.brk_max()));
    // Copies into the new memory go through the checked copies, with it active.
    crate::mm::activate(&mm);
    let built = match &prog.image {
        Some((f, head)) => build_image(&**f, head, &prog, &env, &mm, params.stack_size),
        None => parse(&prog.bytes)
            .and_then(|layout| build(&layout, &prog, &path, &env, &mm, params.stack_size)),
    };
    let Ok((entry, sp)) = built else {
        crate::mm::activate(&old.mm);
        return Err(built.err().unwrap_or(Errno::ENOEXEC));
    };
    let ids: Ids = *old.ids.lock();
    let life = {
        let mut l = old.life.lock();
        Life {
            children: core::mem::take(&mut l.children),
            status: None,
            exit_signal: l.exit_signal,
            did_exec: true,
            subreaper: l.subreaper,
            // An event the parent has not waited for yet stays (Linux keeps it in the
            // signal struct, which exec keeps).
            job: l.job.take(),
        }
    };
    let tid = uk_sched::current_tid();
    let new = Process::assemble(
        ids,
        *old.creds.lock(),
        old.fds.duplicate(true),
        old.fs.duplicate(),
        mm,
        Arc::new(old.signals.after_exec(ids.pid, tid, mask)),
        old.limits.duplicate(),
        life,
    );
    // Interval timers (alarm, setitimer) survive execve, as on Linux; POSIX timers
    // (timer_create) do not: they go with the old process object.
    for which in 0..3 {
        if let Ok(setting @ (_, left)) = old.itimers.setitimer(which, (0, 0)) {
            if left != 0 {
                let _ = new.itimers.setitimer(which, setting);
            }
        }
    }
    new.info.set_program_name(base_name(&prog.path));
    crate::fs::proc::set_exec(ids.pid, &prog.args, &env, &prog.path);
    process::register(&new);
    process::adopt_current(&new);
    uk_sched::set_tls(&uk_sched::current(), 0);
    Ok(Start { entry, sp })
}

/// Set up `mm` (active) to run the image's own program again (crate::selfexec) and
/// build its stack: returns (entry, initial sp).
fn build_image(
    f: &dyn crate::file::File,
    head: &[u8],
    prog: &Program,
    env: &[Vec<u8>],
    mm: &crate::mm::AddressSpace,
    stack_size: usize,
) -> KResult<(usize, usize)> {
    let (phdr, phnum) = crate::selfexec::build(f, head, mm)?;
    let sp = build_stack(phdr, phnum, prog, env, mm, stack_size)?;
    Ok((uk_boot::program_entry(), sp))
}

/// Map the program and build its stack in `mm` (active): returns (entry, initial sp).
fn build(
    l: &Layout,
    prog: &Program,
    execfn: &[u8],
    env: &[Vec<u8>],
    mm: &crate::mm::AddressSpace,
    stack_size: usize,
) -> KResult<(usize, usize)> {
    let _ = execfn;
    let bias = map_program(l, &prog.bytes, mm)?;
    let sp = build_stack(
        bias.wrapping_add(l.phdr),
        l.phnum,
        prog,
        env,
        mm,
        stack_size,
    )?;
    Ok((bias.wrapping_add(l.entry), sp))
}

/// Map a stack in `mm` (active) and lay out argc, argv, envp and the auxiliary vector
/// on it (`phdr`, `phnum`: the program headers' address and count): returns the
/// initial stack pointer.
fn build_stack(
    phdr: usize,
    phnum: usize,
    prog: &Program,
    env: &[Vec<u8>],
    mm: &crate::mm::AddressSpace,
    stack_size: usize,
) -> KResult<usize> {
    let rw = PROT_READ | PROT_WRITE;
    let anon = MAP_PRIVATE | MAP_ANONYMOUS;
    let size = (stack_size + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    let stack = mm.mmap(0, size + PAGE_SIZE, rw, anon)?;
    mm.mprotect(stack, PAGE_SIZE, 0)?;
    let top = stack + PAGE_SIZE + size;
    let mut aux = uk_boot::AuxInfo {
        phdr,
        phnum,
        hwcap: 0,
        hwcap2: 0,
        random: [0; 16],
    };
    uk_random::fill(&mut aux.random);
    let block = uk_boot::build_arg_block(
        prog.args.iter().map(|a| a.as_slice()),
        env.iter().map(|a| a.as_slice()),
        &aux,
        |len| {
            let base = (top - len - 64) & !15;
            (base > stack + PAGE_SIZE).then_some(base)
        },
    )
    .ok_or(Errno::E2BIG)?;
    // The stack pointer at entry points at argc, just below argv.
    Ok(block.argv - 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines_as_linux_splits_them() {
        let ok = shebang;
        assert_eq!(
            ok(b"#!/bin/sh\necho"),
            Ok((b"/bin/sh".to_vec(), Vec::new()))
        );
        assert_eq!(
            ok(b"#!  /usr/bin/env  python3 -u  \n"),
            Ok((b"/usr/bin/env".to_vec(), b"python3 -u".to_vec()))
        );
        assert_eq!(ok(b"#!/x"), Ok((b"/x".to_vec(), Vec::new())));
        assert_eq!(ok(b"#!   \n/bin/sh"), Err(Errno::ENOEXEC));
        assert_eq!(ok(b"#!"), Err(Errno::ENOEXEC));
        // Only the first 256 bytes of the line count.
        let mut long = b"#!/i ".to_vec();
        long.extend(core::iter::repeat_n(b'a', 400));
        assert_eq!(ok(&long).unwrap().1.len(), 256 - 5);
    }

    #[test]
    fn only_static_pie_program_files_are_loaded() {
        // Not an ELF at all, or cut short.
        assert_eq!(parse(b"hello").err(), Some(Errno::ENOEXEC));
        let me = std::fs::read("/proc/self/exe").unwrap();
        assert_eq!(parse(&me[..40]).err(), Some(Errno::ENOEXEC));
        // The test binary is a dynamically linked Linux program (PT_INTERP) without
        // `.uk_entries`: not something the loader runs.
        assert_eq!(parse(&me).err(), Some(Errno::ENOEXEC));
    }

    #[test]
    fn segment_protections() {
        assert_eq!(seg_prot(object::elf::PF_R), PROT_READ);
        assert_eq!(seg_prot(object::elf::PF_R | PF_X), PROT_READ | PROT_EXEC);
        assert_eq!(seg_prot(object::elf::PF_R | PF_W), PROT_READ | PROT_WRITE);
        assert_eq!(base_name(b"/a/b/prog"), b"prog");
        assert_eq!(base_name(b"prog"), b"prog");
    }
}
