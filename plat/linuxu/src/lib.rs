//! linuxu: a ukit image running as an ordinary Linux process.
//!
//! The host is this platform's "hardware": it gives memory once at boot, a console
//! (stdin/stdout/stderr), clocks, and a way to wait. Files, time keeping, threads and
//! memory management above that are ukit's own. After boot a seccomp filter limits the
//! process to the few host calls in [`host::RUNTIME_CALLS`].
#![cfg_attr(not(test), no_std)]

mod console;
mod fault;
pub mod host;
pub mod hostfs;
mod interrupt;
mod limits;
mod memory;
mod net;
mod opts;
mod seccomp;
mod vdso;

use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use host::nr;
use uk_plat::{BootArgs, ConsoleStream, MemRegion, Platform, TtyInfo};

// The ELF entry point. The host's initial stack holds argc, argv[], NULL, envp[], NULL,
// auxv pairs. Hand its address to Rust with the stack aligned as the ABI wants.
global_asm!(
    ".text",
    ".global _uk_start",
    ".type _uk_start,@function",
    "_uk_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call uk_linuxu_entry",
    "ud2",
    ".size _uk_start, .-_uk_start",
);

use uk_abi::auxv::{
    AT_HWCAP, AT_HWCAP2, AT_NULL, AT_PHDR, AT_PHNUM, AT_SYSINFO_EHDR, HWCAP2_FSGSBASE,
};
use uk_abi::signal::{SIGPIPE, SIG_IGN};
use uk_abi::Errno;

/// The linuxu platform. One static instance; fields are set once during entry, before
/// anything reads them.
pub struct LinuxU {
    region: spin_free::Once<[MemRegion; 1]>,
    ttys: [AtomicUsize; 3],
    fsgsbase: AtomicBool,
    entropy: spin_free::Once<[u8; 32]>,
}

/// A write-once cell without locks: written on the boot path before any reader exists.
mod spin_free {
    use core::cell::UnsafeCell;
    use core::sync::atomic::{AtomicBool, Ordering};

    pub struct Once<T> {
        set: AtomicBool,
        v: UnsafeCell<Option<T>>,
    }
    // SAFETY: written once (by `set`, on the single boot path) before any `get`; after
    // that only shared reads happen.
    unsafe impl<T: Sync> Sync for Once<T> {}
    impl<T> Once<T> {
        pub const fn new() -> Self {
            Once {
                set: AtomicBool::new(false),
                v: UnsafeCell::new(None),
            }
        }
        pub fn set(&self, v: T) {
            if !self.set.load(Ordering::Acquire) {
                // SAFETY: only the boot path calls set, before any reader.
                unsafe { *self.v.get() = Some(v) };
                self.set.store(true, Ordering::Release);
            }
        }
        pub fn get(&self) -> Option<&T> {
            if self.set.load(Ordering::Acquire) {
                // SAFETY: set() completed (Acquire pairs with its Release); no more writes.
                unsafe { (*self.v.get()).as_ref() }
            } else {
                None
            }
        }
    }
}

static LINUXU: LinuxU = LinuxU {
    region: spin_free::Once::new(),
    ttys: [
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ],
    fsgsbase: AtomicBool::new(false),
    entropy: spin_free::Once::new(),
};
static LINUXU_DYN: &dyn Platform = &LINUXU;

fn clock(id: usize) -> i64 {
    if let Some(ns) = vdso::clock_gettime(id as i32) {
        return ns;
    }
    let mut ts = [0i64; 2];
    let r = host::call(
        nr::SYS_CLOCK_GETTIME,
        [id, ts.as_mut_ptr() as usize, 0, 0, 0, 0],
    );
    if r < 0 {
        return 0;
    }
    ts[0].saturating_mul(1_000_000_000).saturating_add(ts[1])
}

impl Platform for LinuxU {
    fn name(&self) -> &'static str {
        "linuxu"
    }

    fn console_write(&self, stream: ConsoleStream, buf: &[u8]) -> Result<usize, Errno> {
        let fd = match stream {
            ConsoleStream::Out => 1,
            ConsoleStream::Err => 2,
        };
        let mut done = 0;
        while done < buf.len() {
            let r = host::write(fd, &buf[done..]);
            match Errno::from_neg(r) {
                Some(Errno::EINTR) => continue,
                Some(e) => return if done > 0 { Ok(done) } else { Err(e) },
                None => done += r as usize,
            }
        }
        Ok(done)
    }

    fn console_read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        loop {
            let r = host::call(
                nr::SYS_READ,
                [0, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
            );
            return match Errno::from_neg(r) {
                // A host signal for the program: let the read fail with EINTR so the
                // kernel delivers it; other interruptions just retry.
                Some(Errno::EINTR) if !interrupt::signals_waiting() => continue,
                Some(e) => Err(e),
                None => Ok(r as usize),
            };
        }
    }

    fn console_tty(&self, fd: u32) -> TtyInfo {
        let v = self
            .ttys
            .get(fd as usize)
            .map(|t| t.load(Ordering::Relaxed))
            .unwrap_or(0);
        TtyInfo {
            is_tty: v & 1 != 0,
            rows: (v >> 16) as u16,
            cols: (v >> 32) as u16,
        }
    }

    fn console_tcgets(&self, fd: u32) -> Result<uk_abi::ioctl::Termios, Errno> {
        if fd > 2 || !self.console_tty(fd).is_tty {
            return Err(Errno::ENOSYS);
        }
        let mut t = uk_abi::ioctl::Termios::default();
        let r = host::call(
            nr::SYS_IOCTL,
            [
                fd as usize,
                uk_abi::ioctl::TCGETS as usize,
                &mut t as *mut _ as usize,
                0,
                0,
                0,
            ],
        );
        match Errno::from_neg(r) {
            Some(e) => Err(e),
            None => Ok(t),
        }
    }

    fn console_tcsets(&self, fd: u32, cmd: u32, t: &uk_abi::ioctl::Termios) -> Result<(), Errno> {
        use uk_abi::ioctl::{TCSETS, TCSETSF, TCSETSW};
        if fd > 2 || !self.console_tty(fd).is_tty || !matches!(cmd, TCSETS | TCSETSW | TCSETSF) {
            return Err(Errno::ENOSYS);
        }
        // The host terminal's settings as boot found them go back at exit.
        console::remember_host_termios(fd as usize);
        let r = host::call(
            nr::SYS_IOCTL,
            [fd as usize, cmd as usize, t as *const _ as usize, 0, 0, 0],
        );
        match Errno::from_neg(r) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn console_seek(&self, fd: u32, off: i64, whence: u32) -> Result<u64, Errno> {
        if fd > 2 || whence > 2 {
            return Err(Errno::EINVAL); // only the three console streams, SEEK_SET/CUR/END
        }
        let r = host::call(
            nr::SYS_LSEEK,
            [fd as usize, off as usize, whence as usize, 0, 0, 0],
        );
        match Errno::from_neg(r) {
            Some(e) => Err(e),
            None => Ok(r as u64),
        }
    }

    fn monotonic_ns(&self) -> u64 {
        clock(1) as u64
    }

    fn wall_ns(&self) -> i64 {
        clock(0)
    }

    fn cpu_time_ns(&self) -> Option<u64> {
        // CLOCK_PROCESS_CPUTIME_ID of the host process, which is the whole image.
        Some(clock(2) as u64)
    }

    fn wait(&self, deadline: Option<u64>) {
        // One ppoll: sleeps until the deadline, a host signal, or input on the network
        // device's descriptor (then lib/netdev hears of it through net_event).
        let mut pfd = [0i32; 2];
        let nfds = match net::poll_fd() {
            Some((fd, events)) => {
                pfd = [fd, events as i32];
                1
            }
            None => 0,
        };
        let fds = pfd.as_mut_ptr() as usize;
        let r = match deadline {
            Some(d) => {
                let now = self.monotonic_ns();
                let rel = d.saturating_sub(now);
                let ts = [(rel / 1_000_000_000) as i64, (rel % 1_000_000_000) as i64];
                host::call(nr::SYS_PPOLL, [fds, nfds, ts.as_ptr() as usize, 0, 8, 0])
            }
            None => host::call(nr::SYS_PPOLL, [fds, nfds, 0, 0, 8, 0]),
        };
        // struct pollfd { int fd; short events; short revents; }: revents is the high
        // half of the second word.
        if r > 0 && net::after_wait((pfd[1] as u32) >> 16) {
            uk_plat::net_event();
        }
    }

    fn memory(&self) -> &[MemRegion] {
        self.region.get().map(|r| &r[..]).unwrap_or(&[])
    }

    fn memory_zeroed(&self) -> bool {
        true
    }

    fn release(&self, start: usize, len: usize) -> bool {
        memory::release(start, len)
    }

    fn protect(&self, start: usize, len: usize, prot: u32) -> bool {
        memory::protect(start, len, prot)
    }

    fn alias_window(&self) -> Option<MemRegion> {
        memory::window()
    }

    /// Host `mmap(MAP_FIXED)` of the memory's memfd at the frame's offset; the host
    /// keeps its own page tables, so `tables` is not needed.
    fn alias(
        &self,
        at: usize,
        frame: usize,
        len: usize,
        prot: u32,
        _tables: &mut dyn FnMut() -> Option<usize>,
    ) -> Result<(), Errno> {
        memory::alias(at, frame, len, prot)
    }

    fn unalias(&self, at: usize, len: usize) {
        memory::unalias(at, len)
    }

    fn program_data(&self) -> Option<MemRegion> {
        memory::program_data()
    }

    fn populated(&self, start: usize, len: usize, f: &mut dyn FnMut(usize, usize)) -> bool {
        memory::populated(start, len, f)
    }

    fn entropy(&self, buf: &mut [u8]) {
        // The seed: the host's getrandom at boot, with the CPU's generator (RDSEED, else
        // RDRAND) mixed in when the CPU has one. Only the CPUID leaves that say so are
        // read (each CPUID traps to the hypervisor in a VM). A call counter keeps two
        // callers from receiving the same bytes when there is no CPU generator.
        static CALLS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
        let n = CALLS.fetch_add(1, Ordering::Relaxed).to_le_bytes();
        let seed = self.entropy.get().copied().unwrap_or([0; 32]);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = seed[i % 32] ^ n[i % 8].rotate_left((i / 32) as u32);
        }
        let f = uk_arch::Features {
            rdrand: uk_arch::cpu::cpuid(1, 0).ecx & (1 << 30) != 0,
            rdseed: uk_arch::cpu::cpuid(0, 0).eax >= 7
                && uk_arch::cpu::cpuid(7, 0).ebx & (1 << 18) != 0,
            ..Default::default()
        };
        for chunk in buf.chunks_mut(8) {
            if let Some(r) = uk_arch::cpu::hw_random(&f) {
                for (b, x) in chunk.iter_mut().zip(r.to_le_bytes()) {
                    *b ^= x;
                }
            }
        }
    }

    fn set_tls_base(&self, base: usize) {
        if self.fsgsbase.load(Ordering::Relaxed) {
            // SAFETY: the host kernel enabled FSGSBASE (AT_HWCAP2); arch_prctl already
            // refused non-canonical values.
            unsafe { uk_arch::cpu::wrfsbase(base as u64) };
        } else {
            use uk_abi::prctl::ARCH_SET_FS;
            host::call(nr::SYS_ARCH_PRCTL, [ARCH_SET_FS as usize, base, 0, 0, 0, 0]);
        }
    }

    fn take_signals(&self) -> u64 {
        interrupt::take_signals()
    }

    fn take_targeted_signal(&self) -> Option<(i32, usize)> {
        interrupt::take_targeted()
    }

    /// A host `setitimer` (SIGALRM): see interrupt.rs.
    fn set_preempt_timer(&self, deadline: Option<u64>) {
        interrupt::set_timer(deadline, || self.monotonic_ns());
    }

    fn exit(&self, status: i32) -> ! {
        host::exit_group(status)
    }

    fn hostfs(&self) -> Option<&dyn uk_plat::HostFs> {
        Some(&hostfs::HOSTFS)
    }

    fn nofile_limit(&self) -> Option<(u64, u64)> {
        limits::nofile()
    }
}

/// Print a fatal boot error and exit: before the kernel log exists.
fn die(msg: &[&str], status: i32) -> ! {
    host::write(2, b"ukit: ");
    for m in msg {
        host::write(2, m.as_bytes());
    }
    host::write(2, b"\n");
    host::exit_group(status)
}

/// Ask the host once whether fds 0-2 are terminals (TIOCGWINSZ succeeds only on one).
fn probe_ttys() {
    for fd in 0..3 {
        let mut ws = [0u16; 4];
        if host::call(
            nr::SYS_IOCTL,
            [
                fd,
                uk_abi::ioctl::TIOCGWINSZ as usize,
                ws.as_mut_ptr() as usize,
                0,
                0,
                0,
            ],
        ) == 0
        {
            let v = 1 | (ws[0] as usize) << 16 | (ws[1] as usize) << 32;
            LINUXU.ttys[fd].store(v, Ordering::Relaxed);
        }
    }
}

/// A closed stdout must be EPIPE to the program (and its own SIGPIPE, in ukit), not the
/// host killing the process: ignore SIGPIPE on the host.
fn ignore_host_sigpipe() {
    let act = [SIG_IGN as usize, 0, 0, 0];
    host::call(
        nr::SYS_RT_SIGACTION,
        [SIGPIPE, act.as_ptr() as usize, 0, 8, 0, 0],
    );
}

/// Rust side of `_uk_start`.
///
/// # Safety
/// Called once, by `_uk_start`, with the host's initial stack pointer.
#[no_mangle]
pub unsafe extern "C" fn uk_linuxu_entry(sp: *const usize) -> ! {
    // SAFETY: the Linux ABI guarantees the initial stack layout: argc, argv, NULL, envp,
    // NULL, auxv pairs ending in AT_NULL.
    let argc = unsafe { *sp };
    // SAFETY: as above.
    let argv = unsafe { sp.add(1) } as *const *const u8;
    // SAFETY: envp starts after argv's NULL.
    let envp = unsafe { argv.add(argc + 1) } as *mut *const u8;
    let mut n_env = 0;
    // SAFETY: envp is NULL-terminated.
    while unsafe { !(*envp.add(n_env)).is_null() } {
        n_env += 1;
    }
    // SAFETY: auxv follows envp's NULL and ends with AT_NULL.
    let mut auxv = unsafe { envp.add(n_env + 1) } as *const usize;
    let (mut phdr, mut phnum, mut hwcap, mut hwcap2, mut vdso_base) = (0, 0, 0, 0, 0);
    loop {
        // SAFETY: inside the auxv array (ends with AT_NULL).
        let (k, v) = unsafe { (*auxv, *auxv.add(1)) };
        match k {
            AT_NULL => break,
            AT_PHDR => phdr = v,
            AT_PHNUM => phnum = v,
            AT_HWCAP => hwcap = v,
            AT_HWCAP2 => hwcap2 = v,
            AT_SYSINFO_EHDR => vdso_base = v,
            _ => {}
        }
        // SAFETY: not yet at AT_NULL, so the next pair exists.
        auxv = unsafe { auxv.add(2) };
    }
    LINUXU
        .fsgsbase
        .store(hwcap2 & HWCAP2_FSGSBASE != 0, Ordering::Relaxed);
    vdso::init(vdso_base);

    // Boot options: UKIT_OPTS, removed from the program's environment.
    // SAFETY: envp has n_env valid C-string pointers.
    let raw_opts = unsafe { opts::take_env(envp, n_env) };
    let parsed = match opts::parse(raw_opts) {
        Ok(p) => p,
        Err(e) => die(&["bad boot option in UKIT_OPTS: ", e], 2),
    };

    // Memory: a memfd as large as the host allows, mapped once (memory.rs).
    let limit = parsed.mem.unwrap_or(uk_config::PLAT_LINUXU_MEMORY);
    match memory::init(limit) {
        Ok(r) => LINUXU.region.set([r]),
        Err(e) => die(&[e], 1),
    }

    // The seed of the kernel CSPRNG (docs/runtime.md, "Entropy"): 32 bytes from the
    // host's getrandom, which blocks until the host's pool is ready and then cannot come
    // up short for 32 bytes. No image runs on a seed it did not get.
    let mut seed = [0u8; 32];
    let got = host::call(
        nr::SYS_GETRANDOM,
        [seed.as_mut_ptr() as usize, 32, 0, 0, 0, 0],
    );
    if got != 32 {
        die(&["cannot boot: the host's getrandom gave no seed"], 1);
    }
    LINUXU.entropy.set(seed);
    probe_ttys();
    ignore_host_sigpipe();
    interrupt::install();
    fault::install();
    // Network devices (`net=...`) open now: the host-call filter forbids it later.
    for w in parsed.rest.split(' ') {
        if let Some(spec) = w.strip_prefix("net=") {
            if let Err(e) = net::setup(spec.as_bytes(), &seed) {
                die(&["cannot set up the network device (", w, "): ", e], 1);
            }
        }
    }
    hostfs::init();
    limits::read_at_boot();

    if uk_config::PLAT_LINUXU_SECCOMP && !parsed.no_seccomp {
        if let Err(e) = seccomp::install() {
            die(&["cannot install the host-call filter: ", e], 1);
        }
    }

    uk_plat::register(&LINUXU_DYN);
    let args = BootArgs {
        argc,
        argv,
        envp: envp as *const *const u8,
        phdr,
        phnum,
        hwcap,
        hwcap2,
        opts: parsed.rest,
        initrd: None,
    };
    // SAFETY: lib/boot provides uk_boot_entry; the platform is registered.
    unsafe { uk_plat::uk_boot_entry(&args) }
}
