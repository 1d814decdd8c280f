//! POSIX semantics on ukit's core libraries.
//!
//! Everything here is typed: functions take checked program-memory buffers and return
//! `Result<T, Errno>`. The raw Linux ABI (registers, user pointers, negative errno)
//! lives in syscall-shim, which calls into this crate. The state Linux keeps per
//! process is one [`process::Process`]; the modules that define its parts act on the
//! part they are given (docs/architecture.md, "Import cuts: posix").
#![cfg_attr(not(any(test, feature = "testing")), no_std)]

extern crate alloc;

mod bytes;
pub mod console;
mod cow;
pub mod epoll;
pub mod eventfd;
pub mod exec;
pub mod fd;
pub mod file;
pub mod fs;
pub mod futex;
pub mod ident;
pub mod itimer;
pub mod lifecycle;
pub mod mm;
pub mod pipe;
pub mod poll;
pub mod process;
pub mod ptimer;
pub mod pty;
mod runmap;
pub mod rusage;
pub mod selfexec;
pub mod signal;
pub mod socket;
pub mod thread;
pub mod time;
pub mod timerfd;
pub mod user;
pub mod view;

use uk_abi::{Errno, KResult};

/// What boot tells the POSIX layer.
#[derive(Clone, Copy, Debug)]
pub struct PosixParams {
    /// `uname` nodename.
    pub nodename: &'static str,
    /// RLIMIT_NOFILE when the platform does not say what a native program would get
    /// (`Platform::nofile_limit`).
    pub max_fds: usize,
    /// RLIMIT_STACK soft limit.
    pub stack_size: usize,
    /// Largest brk area.
    pub brk_max: usize,
}

/// Bring up the POSIX layer: clocks, the CSPRNG, the host name, and the first process
/// with the console as descriptors 0-2.
pub fn init(p: PosixParams) {
    uk_sched::UNMAP_HOOK.set(thread::unmap_hook);
    uk_sched::IDLE_HOOK.set(take_platform_signals);
    uk_sched::OWNER_SWITCH.set(process::switched);
    uk_sched::VIEW_NEEDED.set(process::view_needed);
    uk_sched::VIEW_INSTALL.set(process::show_view);
    uk_plat::cpu::WRITE_FAULT.set(mm::write_fault);
    uk_sched::OWNER_EXIT.set(process::release);
    ident::init(p.nodename);
    lifecycle::init();
    time::init();
    uk_random::init();
    let init = process::create_init(process::InitParams {
        nofile: ident::start_nofile(uk_plat::get().nofile_limit(), p.max_fds),
        stack_size: p.stack_size,
        brk_max: p.brk_max,
    });
    for fd in 0..3 {
        let console: alloc::sync::Arc<dyn file::File> =
            alloc::sync::Arc::new(console::Console::new(fd));
        let _ = init.install(console, false);
    }
}

/// Post the signals that reached the image from outside (host signals on linuxu) to
/// the first process: the image is its init. Runs at every system call return and
/// whenever the idle wait wakes.
#[inline]
pub fn take_platform_signals() {
    let bits = uk_plat::get().take_signals();
    if bits != 0 {
        post_platform_signals(bits);
    }
}

#[cold]
#[inline(never)]
fn post_platform_signals(mut bits: u64) {
    let targeted = 1 << (uk_plat::TARGETED_SIGNAL - 1);
    if bits & targeted != 0 {
        bits &= !targeted;
        // All that came (kvm's control line may carry several at once).
        while let Some((pid, sig)) = uk_plat::get().take_targeted_signal() {
            // A living process of the image, a real signal: else nothing happens.
            let to = process::lookup(pid).filter(|p| p.status().is_none());
            if let (Some(p), 1..=64) = (to, sig) {
                p.signals.send_to_process(sig);
            }
        }
    }
    if bits == 0 {
        return;
    }
    // pid 1 as it is now: the boot program may have replaced itself with execve.
    match process::lookup(ident::INIT_PID) {
        Some(p) => p.signals.post_platform(bits),
        None => process::init().signals.post_platform(bits),
    }
}

/// A host-backed platform for unit tests (here and in syscall-shim, through the
/// `testing` feature): 64 MiB of memfd memory (so that shared maps can show its pages
/// a second time, in a 64 MiB alias window, as linuxu does), std clocks.
#[cfg(any(test, feature = "testing"))]
pub mod testplat {
    use std::sync::Once;
    use std::time::{Instant, SystemTime, UNIX_EPOCH};
    use uk_plat::{ConsoleStream, MemRegion, Platform, TtyInfo};

    struct TestPlat {
        region: [MemRegion; 1],
        window: MemRegion,
        memfd: i32,
        t0: Instant,
        /// What an MMU would enforce, per page: pages not listed are read+write.
        mmu: std::sync::Mutex<std::collections::BTreeMap<usize, u32>>,
    }

    /// The protection the test platform's pretend MMU holds for the page at `addr`.
    pub fn mmu_prot(addr: usize) -> u32 {
        let p = uk_plat::get() as *const dyn Platform as *const TestPlat;
        // SAFETY: `setup` registers a TestPlat, the only platform in unit tests.
        let p = unsafe { &*p };
        let m = p.mmu.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&(addr & !4095))
            .copied()
            .unwrap_or(uk_abi::mman::PROT_RW)
    }

    impl Platform for TestPlat {
        fn name(&self) -> &'static str {
            "test"
        }
        fn console_write(&self, _: ConsoleStream, b: &[u8]) -> Result<usize, uk_abi::Errno> {
            Ok(b.len())
        }
        fn console_read(&self, _: &mut [u8]) -> Result<usize, uk_abi::Errno> {
            Ok(0)
        }
        fn console_tty(&self, fd: u32) -> TtyInfo {
            TtyInfo {
                is_tty: fd == 2,
                rows: 24,
                cols: 80,
            }
        }
        fn monotonic_ns(&self) -> u64 {
            self.t0.elapsed().as_nanos() as u64 + 1_000_000_000
        }
        fn wall_ns(&self) -> i64 {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as i64
        }
        fn wait(&self, deadline: Option<u64>) {
            if let Some(d) = deadline {
                let now = self.monotonic_ns();
                if d > now {
                    std::thread::sleep(std::time::Duration::from_nanos(d - now));
                }
            }
        }
        fn memory(&self) -> &[MemRegion] {
            &self.region
        }
        fn release(&self, _: usize, _: usize) -> bool {
            false
        }
        fn protect(&self, start: usize, len: usize, prot: u32) -> bool {
            let r = self.region[0];
            assert!(
                start.is_multiple_of(4096) && len.is_multiple_of(4096),
                "unaligned protect({start:#x}, {len:#x})"
            );
            let inside = |m: MemRegion| start >= m.start && start + len <= m.end();
            if !inside(r) && !inside(self.window) {
                return false;
            }
            if inside(self.window) {
                // Aliases get real host protection: tests see stores fault.
                // SAFETY: window addresses belong to this platform.
                let rc = unsafe { libc::mprotect(start as *mut _, len, prot as i32) };
                assert_eq!(rc, 0, "mprotect of the alias window");
            }
            let mut m = self.mmu.lock().unwrap_or_else(|e| e.into_inner());
            for pg in (start..start + len).step_by(4096) {
                if prot == uk_abi::mman::PROT_RW {
                    m.remove(&pg);
                } else {
                    m.insert(pg, prot);
                }
            }
            true
        }
        fn alias_window(&self) -> Option<MemRegion> {
            Some(self.window)
        }
        fn alias(
            &self,
            at: usize,
            frame: usize,
            len: usize,
            prot: u32,
            _tables: &mut dyn FnMut() -> Option<usize>,
        ) -> Result<(), uk_abi::Errno> {
            let r = self.region[0];
            let inside = |m: MemRegion, a: usize| a >= m.start && a + len <= m.end();
            if !inside(r, frame) || !(inside(self.window, at) || inside(r, at)) {
                return Err(uk_abi::Errno::EINVAL);
            }
            // SAFETY: `at` is window or test memory the caller owns; the file offset is
            // the frame's place in the memfd.
            let p = unsafe {
                libc::mmap(
                    at as *mut _,
                    len,
                    prot as i32,
                    libc::MAP_SHARED | libc::MAP_FIXED,
                    self.memfd,
                    (frame - r.start) as i64,
                )
            };
            assert_eq!(p as usize, at, "alias mmap");
            let mut m = self.mmu.lock().unwrap_or_else(|e| e.into_inner());
            for pg in (at..at + len).step_by(4096) {
                m.insert(pg, prot);
            }
            Ok(())
        }
        fn unalias(&self, at: usize, len: usize) {
            let r = self.region[0];
            let own = at >= r.start && at + len <= r.end();
            // SAFETY: as in `alias`: the window gets its reservation back, test memory
            // its own pages.
            let p = unsafe {
                if own {
                    libc::mmap(
                        at as *mut _,
                        len,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_SHARED | libc::MAP_FIXED,
                        self.memfd,
                        (at - r.start) as i64,
                    )
                } else {
                    libc::mmap(
                        at as *mut _,
                        len,
                        libc::PROT_NONE,
                        libc::MAP_PRIVATE
                            | libc::MAP_ANONYMOUS
                            | libc::MAP_FIXED
                            | libc::MAP_NORESERVE,
                        -1,
                        0,
                    )
                }
            };
            assert_eq!(p as usize, at, "unalias mmap");
            let mut m = self.mmu.lock().unwrap_or_else(|e| e.into_inner());
            for pg in (at..at + len).step_by(4096) {
                m.remove(&pg);
            }
        }
        fn entropy(&self, b: &mut [u8]) {
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            for (i, x) in b.iter_mut().enumerate() {
                *x = (t >> (i % 16 * 8)) as u8 ^ i as u8;
            }
        }
        fn set_tls_base(&self, _: usize) {}
        fn exit(&self, s: i32) -> ! {
            panic!("exit({s})")
        }
    }

    static ONCE: Once = Once::new();
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Tests that block the (one, global) scheduler thread take this first: host test
    /// threads must not block it concurrently.
    pub fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Register the test platform and bring up the POSIX layer once per process.
    pub fn setup() {
        ONCE.call_once(|| {
            const SIZE: usize = 64 << 20;
            // SAFETY: plain host calls on fresh objects; results are checked.
            let (memfd, start, window) = unsafe {
                let fd = libc::memfd_create(c"ukit-test-memory".as_ptr(), libc::MFD_CLOEXEC);
                assert!(fd >= 0, "memfd_create");
                assert_eq!(libc::ftruncate(fd, SIZE as i64), 0);
                let m = libc::mmap(
                    core::ptr::null_mut(),
                    SIZE,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd,
                    0,
                );
                assert_ne!(m, libc::MAP_FAILED);
                let w = libc::mmap(
                    core::ptr::null_mut(),
                    SIZE,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                );
                assert_ne!(w, libc::MAP_FAILED);
                (fd, m as usize, w as usize)
            };
            let region = MemRegion { start, len: SIZE };
            let p: &'static TestPlat = Box::leak(Box::new(TestPlat {
                window: MemRegion {
                    start: window,
                    len: SIZE,
                },
                memfd,
                region: [region],
                t0: Instant::now(),
                mmu: Default::default(),
            }));
            let dynp: &'static &'static dyn Platform = Box::leak(Box::new(p as &dyn Platform));
            uk_plat::register(dynp);
            // SAFETY: the memfd mapping is never used by anything else.
            unsafe { uk_alloc::PAGES.lock().add_region(region) };
            uk_sched::init(64 * 1024, 0);
            crate::init(crate::PosixParams {
                nodename: "ukit",
                max_fds: 1024,
                stack_size: 8 << 20,
                brk_max: 8 << 20,
            });
        });
    }
}
