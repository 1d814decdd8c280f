//! The one contract between ukit's core libraries and a platform.
//!
//! `lib/` never names a platform: it asks the platform registered at boot through
//! [`Platform`]. A platform (plat/linuxu, later plat/kvm) implements the trait for a
//! `static` value and hands it to [`register`] before anything else runs. Unit tests
//! register a mock. Dynamic dispatch costs one indirect call; none of these methods
//! sits on a path hot enough for that to matter, and it keeps lib/ testable on the host.
#![cfg_attr(not(test), no_std)]

use core::sync::atomic::{AtomicPtr, Ordering};

/// A range of physical (kvm) or host-virtual (linuxu) memory handed to ukit at boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemRegion {
    /// First byte; page aligned.
    pub start: usize,
    /// Length in bytes; a multiple of the page size.
    pub len: usize,
}

impl MemRegion {
    /// One past the last byte.
    pub fn end(&self) -> usize {
        self.start + self.len
    }
}

/// Which console stream a write goes to. On linuxu these are the host's stdout and
/// stderr; on kvm both go to the serial port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleStream {
    Out,
    Err,
}

/// Terminal facts the platform learned at boot (linuxu asks the host once, before the
/// host-call filter closes; kvm's serial console is never a terminal).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TtyInfo {
    pub is_tty: bool,
    pub rows: u16,
    pub cols: u16,
}

/// What a platform provides. Every method must be callable at any time after
/// [`register`]; none may panic on any argument.
pub trait Platform: Sync {
    /// Short name (`linuxu`, `kvm`), used in logs and `uname -v`.
    fn name(&self) -> &'static str;
    /// Write console output. Returns the number of bytes accepted (all of them unless
    /// the host refused, e.g. a closed pipe).
    fn console_write(&self, stream: ConsoleStream, buf: &[u8]) -> Result<usize, i32>;
    /// Read console input; blocks until at least one byte or end of input (Ok(0)).
    /// Err carries a Linux errno.
    fn console_read(&self, buf: &mut [u8]) -> Result<usize, i32>;
    /// Terminal facts for stdin (0), stdout (1), stderr (2).
    fn console_tty(&self, fd: u32) -> TtyInfo;
    /// Monotonic nanoseconds since an arbitrary point before boot.
    fn monotonic_ns(&self) -> u64;
    /// Wall-clock nanoseconds since the Unix epoch.
    fn wall_ns(&self) -> i64;
    /// Block until an event arrives or `deadline` (monotonic ns) passes; `None` means no
    /// deadline. Spurious returns are allowed: callers re-check their condition.
    fn wait(&self, deadline: Option<u64>);
    /// The memory regions ukit may manage. Constant after boot.
    fn memory(&self) -> &[MemRegion];
    /// Tell the platform a page-aligned range is free. Returns true when the platform
    /// guarantees the range reads as zero afterwards (linuxu gives it back to the host),
    /// false when the next user must clear it.
    fn release(&self, start: usize, len: usize) -> bool;
    /// True when the memory regions read as zero at boot and [`Platform::release`]
    /// always zeroes (linuxu: fresh host pages, given back with MADV_DONTNEED).
    fn memory_zeroed(&self) -> bool {
        false
    }
    /// Fill `buf` with entropy gathered at boot or from the CPU; used to seed the CSPRNG.
    fn entropy(&self, buf: &mut [u8]);
    /// Set the thread pointer (%fs base) of the running CPU.
    fn set_tls_base(&self, base: usize);
    /// Stop the image with this exit status. Never returns.
    fn exit(&self, status: i32) -> !;
}

static PLATFORM: AtomicPtr<&'static dyn Platform> = AtomicPtr::new(core::ptr::null_mut());

/// Register the platform. Called once by the platform's entry code, before anything in
/// lib/ runs. A second call replaces the first (tests use that).
pub fn register(p: &'static &'static dyn Platform) {
    PLATFORM.store(p as *const _ as *mut _, Ordering::Release);
}

/// The registered platform.
///
/// # Panics
/// If no platform was registered: that is a bug in the platform's entry code, found by
/// the first boot.
pub fn get() -> &'static dyn Platform {
    let p = PLATFORM.load(Ordering::Acquire);
    assert!(!p.is_null(), "ukit: no platform registered");
    // SAFETY: the pointer was stored by `register` from a `&'static &'static dyn
    // Platform`, so it is valid and immutable for the rest of the program.
    unsafe { *p }
}

/// True once a platform is registered (log output before that is dropped).
pub fn is_registered() -> bool {
    !PLATFORM.load(Ordering::Acquire).is_null()
}

pub const PAGE_SIZE: usize = 4096;

/// A platform for host-run unit tests: heap-backed memory, std clocks, captured output.
#[cfg(test)]
mod tests {
    use super::*;

    struct Dummy;
    impl Platform for Dummy {
        fn name(&self) -> &'static str {
            "dummy"
        }
        fn console_write(&self, _: ConsoleStream, b: &[u8]) -> Result<usize, i32> {
            Ok(b.len())
        }
        fn console_read(&self, _: &mut [u8]) -> Result<usize, i32> {
            Ok(0)
        }
        fn console_tty(&self, _: u32) -> TtyInfo {
            TtyInfo::default()
        }
        fn monotonic_ns(&self) -> u64 {
            1
        }
        fn wall_ns(&self) -> i64 {
            2
        }
        fn wait(&self, _: Option<u64>) {}
        fn memory(&self) -> &[MemRegion] {
            &[]
        }
        fn release(&self, _: usize, _: usize) -> bool {
            false
        }
        fn entropy(&self, b: &mut [u8]) {
            b.fill(7)
        }
        fn set_tls_base(&self, _: usize) {}
        fn exit(&self, s: i32) -> ! {
            panic!("exit {s}")
        }
    }
    static D: &dyn Platform = &Dummy;

    #[test]
    fn register_then_get() {
        register(&D);
        assert!(is_registered());
        assert_eq!(get().name(), "dummy");
        assert_eq!(get().monotonic_ns(), 1);
    }
}

/// What a platform's entry code hands to the boot sequence (`uk_boot_entry`).
#[derive(Clone, Copy, Debug)]
pub struct BootArgs {
    /// Program arguments as the platform received them (strings may live in platform
    /// memory: boot copies them into program memory).
    pub argc: usize,
    pub argv: *const *const u8,
    /// NULL-terminated environment, boot options already removed.
    pub envp: *const *const u8,
    /// The program headers of the loaded image (for TLS and pointer checks).
    pub phdr: usize,
    pub phnum: usize,
    /// Hardware capability words for the program's auxiliary vector.
    pub hwcap: usize,
    pub hwcap2: usize,
    /// Boot options not consumed by the platform (`key=value` words, space-separated).
    pub opts: &'static str,
}

extern "Rust" {
    /// The boot sequence (lib/boot), bound at link time.
    pub fn uk_boot_entry(args: &BootArgs) -> !;
}
