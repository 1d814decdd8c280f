//! kvm: a ukit image booted as a virtual machine (QEMU `microvm` or `pc`, Firecracker,
//! any PVH or multiboot loader).
//!
//! The image is entered in 32-bit protected mode (see [`start`]), switches to long mode,
//! then [`uk_kvm_entry64`] sets up the machine: SSE, the IDT with its interrupt stacks,
//! the serial console, page tables and memory regions from the boot loader's memory map,
//! the TSC clock, the local APIC timer, and hands over to the boot sequence with the
//! program's arguments and environment taken from the kernel command line
//! ([`cmdline`]). The VM stops through QEMU's `isa-debug-exit` device.
#![cfg_attr(not(test), no_std)]

pub mod bootinfo;
pub mod cmdline;
pub mod ctl;
pub mod mm;
pub mod pci;
pub mod time;
pub mod virtio;

#[cfg(not(test))]
mod frame;
#[cfg(not(test))]
mod preempt;
#[cfg(not(test))]
mod serial;
#[cfg(not(test))]
mod start;
#[cfg(not(test))]
mod trap;

/// Exit status after a CPU exception (what a shell reports for a SIGSEGV death).
pub const FAULT_STATUS: i32 = 139;

/// I/O port of QEMU's `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4,
/// iosize=0x04`): writing V makes QEMU exit with status `(V << 1) | 1`.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;
/// I/O port of QEMU's debug console (`-debugcon`): the exact exit status is written
/// there as `ukit-exit-status N\n`, because the debug-exit status keeps only 7 bits.
pub const DEBUGCON_PORT: u16 = 0xe9;

/// Boot stages whose TSC is recorded (`bootstats` prints them at `main`).
pub const STAGES: [&str; 7] = [
    "entry",
    "long-mode",
    "traps",
    "paging",
    "clock",
    "boot",
    "main",
];

#[cfg(not(test))]
pub use imp::*;

#[cfg(not(test))]
mod imp {
    use super::*;
    use core::fmt::Write;
    use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
    use uk_arch::lapic::Lapic;
    use uk_arch::ring0::{self, cr, outb, outl};
    use uk_plat::{BootArgs, ConsoleStream, MemRegion, Platform, TtyInfo};

    use crate::bootinfo::{self, PhysRead};
    use crate::cmdline::Arena;
    use crate::time::{hw, TscScale};

    /// TSC at the 32-bit entry (written by the start code).
    #[no_mangle]
    static uk_kvm_tsc_entry: AtomicU64 = AtomicU64::new(0);
    static STATS: [AtomicU64; 7] = [const { AtomicU64::new(0) }; 7];
    static BOOTSTATS: AtomicBool = AtomicBool::new(false);
    /// `stdin=eof`: console input is closed (the host ran QEMU with stdin on /dev/null).
    /// A serial port has no end of input, so without this a read of stdin waits forever
    /// where a linuxu image would see end of file.
    static STDIN_EOF: AtomicBool = AtomicBool::new(false);
    /// When the control line was last read (monotonic ns).
    static CTL_POLLED: AtomicU64 = AtomicU64::new(0);
    /// The control line's interrupt is wired: read it when it says so, not by polling.
    static CTL_IRQ: AtomicBool = AtomicBool::new(false);
    /// Its interrupt came and the line was not read since.
    static CTL_READY: AtomicBool = AtomicBool::new(false);
    /// The LAPIC timer is armed for preemption (not for the idle wait), due at
    /// [`PREEMPT_AT`] (monotonic ns).
    static PREEMPT_ARMED: AtomicBool = AtomicBool::new(false);
    static PREEMPT_AT: AtomicU64 = AtomicU64::new(0);

    /// For the timer interrupt: was it the preemption timer? (The idle wait uses the
    /// same LAPIC timer.)
    pub(crate) fn preempt_tick() -> bool {
        PREEMPT_ARMED.swap(false, Ordering::Relaxed)
    }

    /// For the control line's interrupt: a byte waits on COM2.
    pub(crate) fn ctl_ready() {
        CTL_READY.store(true, Ordering::Relaxed);
    }
    /// How often the control line is read, at most; also the longest idle sleep while a
    /// control line exists, so a signal reaches an idle program within this time.
    const CTL_POLL_NS: u64 = 20_000_000;

    fn stage(i: usize) {
        STATS[i].store(uk_arch::rdtsc(), Ordering::Relaxed);
    }

    /// The kvm platform. Fields are written on the boot path before registration.
    pub struct Kvm {
        tsc_hz: AtomicU64,
        tsc0: AtomicU64,
        wall0: AtomicI64,
        lapic: AtomicUsize,
        lapic_hz: AtomicU64,
        tsc_deadline: AtomicBool,
        fsgsbase: AtomicBool,
        /// The initrd module (address, length) from the boot protocol; 0 length: none.
        initrd_start: AtomicUsize,
        initrd_len: AtomicUsize,
    }

    static KVM: Kvm = Kvm {
        tsc_hz: AtomicU64::new(1_000_000_000),
        tsc0: AtomicU64::new(0),
        wall0: AtomicI64::new(0),
        lapic: AtomicUsize::new(0),
        lapic_hz: AtomicU64::new(0),
        tsc_deadline: AtomicBool::new(false),
        fsgsbase: AtomicBool::new(false),
        initrd_start: AtomicUsize::new(0),
        initrd_len: AtomicUsize::new(0),
    };
    static KVM_DYN: &dyn Platform = &KVM;

    impl Kvm {
        fn scale(&self) -> TscScale {
            TscScale {
                hz: self.tsc_hz.load(Ordering::Relaxed),
            }
        }
        fn lapic(&self) -> Option<Lapic> {
            (self.lapic.load(Ordering::Relaxed) != 0).then(|| {
                // SAFETY: the APIC was probed and its page mapped during boot; probing
                // again only re-reads the base MSR.
                unsafe { Lapic::probe() }
            })
        }
    }

    /// End-of-interrupt for the LAPIC (called by the interrupt handler).
    pub(crate) fn lapic_eoi() {
        if let Some(l) = KVM.lapic() {
            l.eoi();
        }
    }

    /// Stop the VM with `status`: tell `ukport run` the exact status on the debug
    /// console, then QEMU's debug-exit device; without one, reset through the keyboard
    /// controller (QEMU with `-no-reboot` exits), else halt.
    pub(crate) fn exit_now(status: i32) -> ! {
        let mut line = [0u8; 32];
        let mut w = Buf(&mut line, 0);
        let _ = writeln!(w, "ukit-exit-status {status}");
        let n = w.1;
        for &b in &line[..n] {
            // SAFETY: the debugcon port; writes are ignored when no device is there.
            unsafe { outb(DEBUGCON_PORT, b) };
        }
        // SAFETY: debug-exit, then the 8042 reset line; ring 0.
        unsafe {
            outl(DEBUG_EXIT_PORT, status as u32 & 0xff);
            outb(0x64, 0xfe);
        }
        ring0::halt_forever()
    }

    struct Buf<'a>(&'a mut [u8], usize);
    impl Write for Buf<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let b = s.as_bytes();
            let n = b.len().min(self.0.len() - self.1);
            self.0[self.1..self.1 + n].copy_from_slice(&b[..n]);
            self.1 += n;
            Ok(())
        }
    }

    impl Platform for Kvm {
        fn name(&self) -> &'static str {
            "kvm"
        }

        fn console_write(&self, _: ConsoleStream, buf: &[u8]) -> Result<usize, uk_abi::Errno> {
            crate::serial::write(buf);
            Ok(buf.len())
        }

        fn console_read(&self, buf: &mut [u8]) -> Result<usize, uk_abi::Errno> {
            if buf.is_empty() || STDIN_EOF.load(Ordering::Relaxed) {
                return Ok(0);
            }
            loop {
                let mut n = 0;
                while n < buf.len() {
                    match crate::serial::read() {
                        Some(b) => {
                            buf[n] = b;
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n > 0 {
                    return Ok(n);
                }
                // The UART's interrupt is not wired up: look again in a millisecond.
                self.wait(Some(self.monotonic_ns() + 1_000_000));
            }
        }

        fn console_tty(&self, _: u32) -> TtyInfo {
            TtyInfo::default()
        }

        /// Signals from ukport's control line (COM2), looked at no more than every
        /// [`CTL_POLL_NS`]: this runs at every system call return, and a port read is a
        /// VM exit under hardware virtualisation.
        fn take_signals(&self) -> u64 {
            if !crate::serial::has_ctl() {
                return 0;
            }
            if CTL_IRQ.load(Ordering::Relaxed) {
                return if CTL_READY.swap(false, Ordering::Relaxed) {
                    crate::serial::take_ctl_signals()
                } else {
                    0
                };
            }
            let now = self.monotonic_ns();
            let last = CTL_POLLED.load(Ordering::Relaxed);
            if now.saturating_sub(last) < CTL_POLL_NS {
                return 0;
            }
            CTL_POLLED.store(now, Ordering::Relaxed);
            crate::serial::take_ctl_signals()
        }

        /// A signal for one process, from a frame on the control line.
        fn take_targeted_signal(&self) -> Option<(i32, usize)> {
            crate::serial::take_targeted()
        }

        fn monotonic_ns(&self) -> u64 {
            let t = uk_arch::rdtsc().wrapping_sub(self.tsc0.load(Ordering::Relaxed));
            self.scale().ns(t)
        }

        fn wall_ns(&self) -> i64 {
            self.wall0.load(Ordering::Relaxed) + self.monotonic_ns() as i64
        }

        fn wait(&self, deadline: Option<u64>) {
            // Interrupts off until the `sti; hlt` pair: one that came between the checks
            // below and the halt would be taken first, and the halt would then sleep
            // past it. The timer now serves the wait, not preemption.
            // SAFETY: ring 0.
            unsafe { ring0::cli() };
            PREEMPT_ARMED.store(false, Ordering::Relaxed);
            PREEMPT_AT.store(0, Ordering::Relaxed);
            // Without the control line's interrupt the idle sleep is bounded, so its
            // signals are seen.
            let deadline = if crate::serial::has_ctl() && !CTL_IRQ.load(Ordering::Relaxed) {
                let cap = self.monotonic_ns().saturating_add(CTL_POLL_NS);
                Some(deadline.map_or(cap, |d| d.min(cap)))
            } else {
                deadline
            };
            let lapic = self.lapic();
            let deadline_mode = self.tsc_deadline.load(Ordering::Relaxed);
            if let (Some(d), Some(l)) = (deadline, lapic) {
                let now = self.monotonic_ns();
                if d <= now {
                    // SAFETY: ring 0, handlers ready.
                    unsafe { ring0::sti() };
                    return;
                }
                let rel = d - now;
                if deadline_mode {
                    let tsc = uk_arch::rdtsc().saturating_add(self.scale().ticks(rel));
                    // SAFETY: TSC-deadline mode was detected with CPUID.
                    unsafe { l.deadline(crate::trap::TIMER_VECTOR, tsc) };
                } else {
                    let hz = self.lapic_hz.load(Ordering::Relaxed).max(1);
                    let ticks =
                        (rel as u128 * hz as u128 / 1_000_000_000).clamp(1, u32::MAX as u128);
                    l.oneshot(crate::trap::TIMER_VECTOR, ticks as u32);
                }
            } else if deadline.is_some() {
                // No timer: come back at once, the caller polls.
                // SAFETY: ring 0, handlers ready.
                unsafe { ring0::sti() };
                return;
            }
            // SAFETY: the IDT is installed; device interrupt handlers only acknowledge
            // and return (the kernel runs here, so none preempts).
            unsafe { ring0::sti_hlt() };
            if let Some(l) = lapic {
                l.stop(deadline_mode);
            }
            crate::virtio::after_wake();
        }

        /// The LAPIC timer, shared with the idle wait (which takes it over): skipped
        /// when it is already armed for preemption no later than `deadline`.
        fn set_preempt_timer(&self, deadline: Option<u64>) {
            let (Some(d), Some(l)) = (deadline, self.lapic()) else {
                return;
            };
            let at = PREEMPT_AT.load(Ordering::Relaxed);
            if PREEMPT_ARMED.load(Ordering::Relaxed) && at != 0 && at <= d {
                return;
            }
            let rel = d.saturating_sub(self.monotonic_ns()).max(10_000);
            PREEMPT_AT.store(d, Ordering::Relaxed);
            PREEMPT_ARMED.store(true, Ordering::Relaxed);
            if self.tsc_deadline.load(Ordering::Relaxed) {
                let tsc = uk_arch::rdtsc().saturating_add(self.scale().ticks(rel));
                // SAFETY: TSC-deadline mode was detected with CPUID.
                unsafe { l.deadline(crate::trap::TIMER_VECTOR, tsc) };
            } else {
                let hz = self.lapic_hz.load(Ordering::Relaxed).max(1);
                let ticks = (rel as u128 * hz as u128 / 1_000_000_000).clamp(1, u32::MAX as u128);
                l.oneshot(crate::trap::TIMER_VECTOR, ticks as u32);
            }
        }

        /// Acknowledge the devices' interrupts and report input (what the idle wait
        /// does when it wakes), at a preemption point.
        fn poll_devices(&self) {
            crate::virtio::after_wake();
        }

        fn memory(&self) -> &[MemRegion] {
            crate::mm::regions()
        }

        fn release(&self, _: usize, _: usize) -> bool {
            false
        }

        /// Page-table protection of allocator RAM (`crate::mm::protect`).
        fn protect(&self, start: usize, len: usize, prot: u32) -> bool {
            crate::mm::protect(start, len, prot)
        }

        fn alias_window(&self) -> Option<MemRegion> {
            Some(crate::mm::WINDOW)
        }

        /// Page-table aliases (`crate::mm::alias`).
        fn alias(
            &self,
            at: usize,
            frame: usize,
            len: usize,
            prot: u32,
            tables: &mut dyn FnMut() -> Option<usize>,
        ) -> Result<(), uk_abi::Errno> {
            crate::mm::alias(at, frame, len, prot, tables)
        }

        fn unalias(&self, at: usize, len: usize) {
            crate::mm::unalias(at, len)
        }

        fn program_data(&self) -> Option<MemRegion> {
            crate::mm::program_data()
        }

        /// The virtio-9p share, when the VMM gave one (`ukport run --share DIR`).
        fn hostfs(&self) -> Option<&dyn uk_plat::HostFs> {
            crate::virtio::p9::P9.hostfs()
        }

        fn initrd(&self) -> Option<&'static [u8]> {
            let (s, l) = (
                self.initrd_start.load(Ordering::Relaxed),
                self.initrd_len.load(Ordering::Relaxed),
            );
            if s == 0 || l == 0 {
                return None;
            }
            // SAFETY: the boot loader placed the module there; mm keeps the range out of
            // the page allocator and maps it readable, and nothing writes to it.
            Some(unsafe { core::slice::from_raw_parts(s as *const u8, l) })
        }

        fn entropy(&self, buf: &mut [u8]) {
            let f = uk_arch::features();
            for chunk in buf.chunks_mut(8) {
                let v = uk_arch::cpu::hw_random(&f).unwrap_or_else(|| {
                    weak_entropy_warning(&f);
                    tsc_jitter()
                });
                for (b, x) in chunk.iter_mut().zip(v.to_le_bytes()) {
                    *b = x;
                }
            }
        }

        fn set_tls_base(&self, base: usize) {
            if self.fsgsbase.load(Ordering::Relaxed) {
                // SAFETY: CR4.FSGSBASE was set at boot.
                unsafe { uk_arch::cpu::wrfsbase(base as u64) };
            } else {
                // SAFETY: IA32_FS_BASE exists on every x86_64 CPU; ring 0.
                unsafe { ring0::wrmsr(ring0::msr::FS_BASE, base as u64) };
            }
        }

        fn exit(&self, status: i32) -> ! {
            exit_now(status)
        }
    }

    /// Says once, on the console, that the seed of the kernel CSPRNG (getrandom,
    /// /dev/urandom, OpenSSL's DRBG above them) comes from TSC jitter alone: a guest
    /// without RDSEED and RDRAND has no other source (docs/runtime.md, "Entropy").
    fn weak_entropy_warning(f: &uk_arch::Features) {
        static SAID: AtomicBool = AtomicBool::new(false);
        if SAID.swap(true, Ordering::Relaxed) {
            return;
        }
        crate::serial::write(if f.rdseed || f.rdrand {
            b"ukit: warning: RDSEED/RDRAND keep failing; random numbers are seeded from TSC \
timing jitter only, which is weak\n"
        } else {
            b"ukit: warning: this CPU has neither RDSEED nor RDRAND; random numbers are \
seeded from TSC timing jitter only, which is weak (give the VM a CPU model with RDRAND)\n"
        });
    }

    /// 64 bits from the low bits of TSC differences around short, variable work: weak,
    /// used only without RDRAND/RDSEED.
    fn tsc_jitter() -> u64 {
        let mut v: u64 = uk_arch::rdtsc();
        for i in 0..64 {
            let a = uk_arch::rdtsc();
            for _ in 0..(a & 7) + 1 {
                core::hint::spin_loop();
            }
            let d = uk_arch::rdtsc().wrapping_sub(a);
            v = v.rotate_left(5) ^ d ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
        v
    }

    struct Identity;
    impl PhysRead for Identity {
        fn read(&self, addr: u64, buf: &mut [u8]) {
            // SAFETY: boot information lies in RAM below 4 GiB, which the boot page
            // tables identity-map.
            unsafe {
                core::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len())
            }
        }
    }

    fn die(msg: &str) -> ! {
        crate::serial::write(b"ukit: cannot boot: ");
        crate::serial::write(msg.as_bytes());
        crate::serial::write(b"\n");
        exit_now(1)
    }

    const ARGS_MAX: usize = 256;
    static mut ARENA: Arena<16384, ARGS_MAX> = Arena::new();
    static mut ARGV: [*const u8; ARGS_MAX + 1] = [core::ptr::null(); ARGS_MAX + 1];
    static mut ENVP: [*const u8; ARGS_MAX + 1] = [core::ptr::null(); ARGS_MAX + 1];

    extern "C" {
        static __ehdr_start: u8;
    }

    /// Rust side of the start code, in long mode on the boot stack with SSE enabled.
    ///
    /// # Safety
    /// Called once by `_uk_start` with the entry registers EAX and EBX.
    #[no_mangle]
    pub unsafe extern "C" fn uk_kvm_entry64(magic: u32, info: u32) -> ! {
        stage(1);
        STATS[0].store(uk_kvm_tsc_entry.load(Ordering::Relaxed), Ordering::Relaxed);
        crate::serial::init();
        crate::trap::disable_pic();
        crate::trap::init();
        let f = uk_arch::features();
        // SAFETY: ring 0; only bits the CPU reports are set.
        unsafe {
            let mut c4 = ring0::cr4();
            if f.fsgsbase {
                c4 |= cr::CR4_FSGSBASE;
            }
            if f.xsave && f.avx {
                ring0::set_cr4(c4 | cr::CR4_OSXSAVE);
                // XCR0: x87, SSE and AVX state.
                core::arch::asm!("xsetbv", in("ecx") 0, in("eax") 7u32, in("edx") 0u32, options(nostack));
            } else {
                ring0::set_cr4(c4);
            }
        }
        KVM.fsgsbase.store(f.fsgsbase, Ordering::Relaxed);
        crate::preempt::init(f.xsave && f.avx);
        stage(2);

        let mut bi = match bootinfo::parse(&Identity, magic, info as u64) {
            Ok(b) => b,
            Err(bootinfo::BootError::UnknownProtocol) => {
                die("entered without a PVH start info or multiboot magic; boot with a PVH or multiboot loader (e.g. qemu -kernel)")
            }
            Err(bootinfo::BootError::NoMemoryMap) => die("the boot loader gave no memory map"),
        };
        if bi.n_ram == 0 {
            let (below_end, above) = hw::cmos_ram();
            bi.add_ram(0, 640 << 10);
            bi.add_ram(1 << 20, below_end.saturating_sub(1 << 20));
            bi.add_ram(4 << 30, above);
        }
        // The command line, decoded into kernel memory before anything may reuse it.
        // SAFETY: single boot path; nothing else references ARENA yet.
        let arena = unsafe { &mut *core::ptr::addr_of_mut!(ARENA) };
        let mut mmio_devs = [crate::virtio::MmioDev::default(); 8];
        let mut n_mmio = 0;
        if bi.cmdline != 0 {
            let mut len = 0usize;
            let p = bi.cmdline as *const u8;
            // SAFETY: a NUL-terminated string the loader placed in RAM below 4 GiB.
            while len < 65536 && unsafe { *p.add(len) } != 0 {
                len += 1;
            }
            // SAFETY: `len` bytes before the NUL.
            let mut line = unsafe { core::slice::from_raw_parts(p, len) };
            if bi.protocol == bootinfo::Protocol::Multiboot {
                // Multiboot loaders put the kernel's own file name first.
                let skip = line.iter().position(|&c| c == b' ').unwrap_or(line.len());
                line = &line[skip..];
            }
            // QEMU microvm appends its virtio-mmio transports to the line (after the
            // program's arguments): take them out; the devices are probed below.
            static mut LINE: [u8; 16384] = [0; 16384];
            // SAFETY: single boot path; nothing else references LINE.
            let copy = unsafe { &mut *core::ptr::addr_of_mut!(LINE) };
            if let Some((n, nd)) = crate::virtio::strip_mmio_words(line, copy, &mut mmio_devs) {
                line = &copy[..n];
                n_mmio = nd;
            }
            if let Err(e) = arena.parse(line) {
                die(e.message());
            }
        } else {
            let _ = arena.parse(b"");
        }

        // SAFETY: ring 0; the APIC base MSR exists on every x86_64 CPU.
        let lapic = unsafe { Lapic::probe() };
        if let Err(e) = crate::mm::init(&bi, f.nx, lapic.base() as u64) {
            die(e);
        }
        stage(3);

        lapic.enable(crate::trap::SPURIOUS_VECTOR);
        KVM.lapic.store(lapic.base(), Ordering::Relaxed);
        KVM.tsc_deadline.store(f.tsc_deadline, Ordering::Relaxed);
        let (tsc_hz, apic_hz) = hw::cpuid_freqs();
        let measured = if tsc_hz.is_none() || (apic_hz.is_none() && !f.tsc_deadline) {
            hw::pit_measure(
                || lapic.oneshot(crate::trap::TIMER_VECTOR, u32::MAX),
                || lapic.current(),
            )
        } else {
            None
        };
        lapic.stop(false);
        let tsc_hz = tsc_hz.or(measured.map(|m| m.0)).unwrap_or_else(|| {
            crate::serial::write(
                b"ukit: warning: cannot measure the TSC frequency; assuming 1 GHz\n",
            );
            1_000_000_000
        });
        KVM.tsc_hz.store(tsc_hz, Ordering::Relaxed);
        KVM.lapic_hz.store(
            apic_hz.or(measured.map(|m| m.1)).unwrap_or(1_000_000_000),
            Ordering::Relaxed,
        );
        let tsc0 = STATS[0].load(Ordering::Relaxed);
        KVM.tsc0.store(tsc0, Ordering::Relaxed);
        let boot_ns = TscScale { hz: tsc_hz }.ns(uk_arch::rdtsc().wrapping_sub(tsc0)) as i64;
        let wall = hw::rtc().map_or(0, |t| t.unix() * 1_000_000_000);
        KVM.wall0.store(wall - boot_ns, Ordering::Relaxed);
        stage(4);

        // Options the platform consumes itself; the rest goes to the kernel.
        static mut REST: [u8; 1024] = [0; 1024];
        // SAFETY: single boot path.
        let rest = unsafe { &mut *core::ptr::addr_of_mut!(REST) };
        let mut rn = 0;
        for w in arena.opts().split(|&c| c == b' ').filter(|w| !w.is_empty()) {
            if w == b"bootstats" {
                BOOTSTATS.store(true, Ordering::Relaxed);
                continue;
            }
            if w == b"stdin=eof" {
                STDIN_EOF.store(true, Ordering::Relaxed);
                continue;
            }
            if rn + w.len() + 1 > rest.len() {
                die("too many boot options");
            }
            if rn > 0 {
                rest[rn] = b' ';
                rn += 1;
            }
            rest[rn..rn + w.len()].copy_from_slice(w);
            rn += w.len();
        }
        let Ok(opts) = core::str::from_utf8(&rest[..rn]) else {
            die("boot options must be ASCII");
        };

        // SAFETY: single boot path; the arrays are filled once and then only read.
        let (argv, envp) = unsafe {
            let argv = &mut *core::ptr::addr_of_mut!(ARGV);
            let envp = &mut *core::ptr::addr_of_mut!(ENVP);
            for (i, &o) in arena.args[..arena.n_args].iter().enumerate() {
                argv[i] = arena.buf.as_ptr().add(o);
            }
            for (i, &o) in arena.env[..arena.n_env].iter().enumerate() {
                envp[i] = arena.buf.as_ptr().add(o);
            }
            (argv.as_ptr(), envp.as_ptr())
        };

        // SAFETY: the linker script loads the ELF header (and program headers) at
        // `__ehdr_start`.
        let (phdr, phnum) = unsafe {
            let eh = core::ptr::addr_of!(__ehdr_start) as usize;
            let phoff = core::ptr::read_unaligned((eh + 32) as *const u64) as usize;
            let phnum = core::ptr::read_unaligned((eh + 56) as *const u16) as usize;
            (eh + phoff, phnum)
        };
        if let Some((s, l)) = bi.initrd {
            KVM.initrd_start.store(s as usize, Ordering::Relaxed);
            KVM.initrd_len.store(l as usize, Ordering::Relaxed);
        }
        crate::virtio::probe(&mmio_devs[..n_mmio], lapic.id());
        if crate::serial::has_ctl()
            && crate::virtio::ioapic_route(
                crate::serial::CTL_IRQ,
                crate::trap::CTL_VECTOR,
                lapic.id(),
            )
        {
            crate::serial::enable_ctl_irq();
            CTL_IRQ.store(true, Ordering::Relaxed);
            // A byte that came before the interrupt was wired is read at the next look.
            CTL_READY.store(true, Ordering::Relaxed);
        }
        uk_plat::register(&KVM_DYN);
        let args = BootArgs {
            argc: arena.n_args,
            argv,
            envp,
            phdr,
            phnum,
            hwcap: uk_arch::cpu::cpuid(1, 0).edx as usize,
            hwcap2: if f.fsgsbase { 1 << 1 } else { 0 },
            opts,
            initrd: bi.initrd.map(|(s, l)| (s as usize, l as usize)),
        };
        stage(5);
        // Interrupts on from here, for good: their handlers only acknowledge, or preempt
        // program code (preempt.rs). Kernel code is never preempted.
        // SAFETY: ring 0; the IDT, the LAPIC and every routed source are set up.
        unsafe { ring0::sti() };
        // SAFETY: the platform is registered; boot provides uk_boot_entry.
        unsafe { uk_plat::uk_boot_entry(&args) }
    }

    extern "C" {
        fn __real_main(argc: i32, argv: *mut *mut u8, envp: *mut *mut u8) -> i32;
    }

    /// The program's `main`, wrapped (uk-cc links kvm images with `--wrap=main`) to
    /// record the last boot stage and print the boot statistics when asked.
    ///
    /// # Safety
    /// Called by libc's start code with the program's argc/argv/envp.
    #[no_mangle]
    pub unsafe extern "C" fn __wrap_main(argc: i32, argv: *mut *mut u8, envp: *mut *mut u8) -> i32 {
        stage(6);
        if BOOTSTATS.load(Ordering::Relaxed) {
            print_stats();
        }
        // SAFETY: the program's own main, with libc's arguments.
        unsafe { __real_main(argc, argv, envp) }
    }

    fn print_stats() {
        let s = KVM.scale();
        let t0 = STATS[0].load(Ordering::Relaxed);
        let mut out = crate::serial::Raw;
        let _ = write!(out, "ukit: boot stats (us since entry):");
        for (name, t) in STAGES.iter().zip(STATS.iter()).skip(1) {
            let us = s.ns(t.load(Ordering::Relaxed).wrapping_sub(t0)) / 1000;
            let _ = write!(out, " {name}={us}");
        }
        let _ = writeln!(out, " tsc_hz={}", s.hz);
        let (left, pool) = crate::mm::pool_frames();
        let _ = writeln!(
            out,
            "ukit: page-table split pool: {pool} frames ({} KiB), {left} unused",
            pool * 4
        );
    }
}
