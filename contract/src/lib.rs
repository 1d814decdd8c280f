//! The one contract between ukit's core libraries and a platform.
//!
//! `lib/` never names a platform: it asks the platform registered at boot through
//! [`Platform`]. A platform (plat/linuxu, plat/kvm) implements the trait for a `static`
//! value and hands it to [`register`] before anything else runs. Unit tests register a
//! mock. Dynamic dispatch costs one indirect call; none of these methods sits on a path
//! hot enough for that to matter, and it keeps lib/ testable on the host.
//!
//! This crate sits just above uk-abi (whose `Errno` every method speaks) and below every
//! other kernel crate, which is why it is a folder of its own rather than part of plat/
//! (docs/design.md, "Layers"). It also holds [`Hook`], the one way a lower layer calls a
//! function that a higher layer provides.
#![cfg_attr(not(test), no_std)]

pub mod cpu;
mod hook;

pub use hook::Hook;

use core::sync::atomic::{AtomicPtr, Ordering};
use uk_abi::stat::{Stat, Statfs};
use uk_abi::Errno;

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

/// The outside signal that carries a signal for one process of the image rather than
/// for the first (linuxu: a host `sigqueue(image, 40, pid << 8 | sig)`; kvm: a frame on
/// ukport's control line; `ukport kill` sends either, to reach, say, one of nginx's
/// workers). Defined with the control line's frame, which ukport shares.
pub use uk_abi::ctl::TARGETED_SIGNAL;

/// What a platform provides. Every method must be callable at any time after
/// [`register`]; none may panic on any argument.
pub trait Platform: Sync {
    /// Short name (`linuxu`, `kvm`), used in logs and `uname -v`.
    fn name(&self) -> &'static str;
    /// Write console output. Returns the number of bytes accepted (all of them unless
    /// the host refused, e.g. a closed pipe).
    fn console_write(&self, stream: ConsoleStream, buf: &[u8]) -> Result<usize, Errno>;
    /// Read console input; blocks until at least one byte or end of input (Ok(0)).
    fn console_read(&self, buf: &mut [u8]) -> Result<usize, Errno>;
    /// Terminal facts for stdin (0), stdout (1), stderr (2).
    fn console_tty(&self, fd: u32) -> TtyInfo;
    /// The terminal settings of console stream `fd` (0-2) when it is a terminal whose
    /// settings the platform controls (linuxu: the host's terminal, TCGETS). ENOSYS,
    /// the default: the platform has no such terminal (kvm's serial console), and the
    /// kernel answers for it.
    fn console_tcgets(&self, fd: u32) -> Result<uk_abi::ioctl::Termios, Errno> {
        let _ = fd;
        Err(Errno::ENOSYS)
    }
    /// Change them: `cmd` is TCSETS, TCSETSW (after output drains) or TCSETSF (and
    /// discard pending input). The platform puts the terminal back as it found it when
    /// the image ends. ENOSYS as for [`Platform::console_tcgets`].
    fn console_tcsets(&self, fd: u32, cmd: u32, t: &uk_abi::ioctl::Termios) -> Result<(), Errno> {
        let _ = (fd, cmd, t);
        Err(Errno::ENOSYS)
    }
    /// Move the offset of console stream `fd` (0-2) when the host gave the image a
    /// seekable file there (`./app < file` on linuxu): `whence` is 0 (set), 1 (current)
    /// or 2 (end). Returns the new offset, or the errno: ESPIPE, the default, for
    /// terminals, pipes and serial consoles.
    fn console_seek(&self, fd: u32, off: i64, whence: u32) -> Result<u64, Errno> {
        let _ = (fd, off, whence);
        Err(Errno::ESPIPE)
    }
    /// Monotonic nanoseconds since an arbitrary point before boot.
    fn monotonic_ns(&self) -> u64;
    /// Wall-clock nanoseconds since the Unix epoch.
    fn wall_ns(&self) -> i64;
    /// Signals sent to the image from outside (linuxu: host signals such as SIGTERM from
    /// `kill` or SIGINT from Ctrl-C), as a mask with bit n-1 for signal n. Taking them
    /// clears them. The kernel posts them to the program as its own signals.
    fn take_signals(&self) -> u64 {
        0
    }
    /// A signal from outside for one process of the image, taken: (pid, signal). Its
    /// arrival shows as bit [`TARGETED_SIGNAL`]-1 of [`Platform::take_signals`]; the
    /// kernel then calls this until `None` (kvm's control line may carry several).
    /// Neither value is checked by the platform beyond its own framing: the kernel
    /// ignores a pid that is not a living process and a signal outside 1..=64.
    fn take_targeted_signal(&self) -> Option<(i32, usize)> {
        None
    }
    /// CPU time the image has consumed, when the platform can tell (linuxu asks the
    /// host: the image is one host process). `None`: the kernel estimates it as time
    /// since boot minus time idle.
    fn cpu_time_ns(&self) -> Option<u64> {
        None
    }
    /// Block until an event arrives or `deadline` (monotonic ns) passes; `None` means no
    /// deadline. Spurious returns are allowed: callers re-check their condition.
    fn wait(&self, deadline: Option<u64>);
    /// Arm the preemption timer: at `deadline` (monotonic ns) interrupt whatever runs and
    /// report it through [`cpu`] (program code: [`cpu::preempted`]; kernel code:
    /// [`cpu::request`]). One-shot, and `None` may leave an armed timer to fire once for
    /// nothing: the kernel arms it again when it wants another. A platform without a
    /// timer ignores it, and threads then only switch when they block or yield.
    fn set_preempt_timer(&self, deadline: Option<u64>) {
        let _ = deadline;
    }
    /// Look at the devices now, outside interrupt context: acknowledge their interrupts
    /// and report input ([`net_event`]), as the idle wait does when it wakes. Called at
    /// preemption points, so input reaches a program that computes.
    fn poll_devices(&self) {}
    /// The memory regions ukit may manage. Constant after boot.
    fn memory(&self) -> &[MemRegion];
    /// Tell the platform a page-aligned range is free. Returns true when the platform
    /// guarantees the range reads as zero afterwards (linuxu gives it back to the host),
    /// false when the next user must clear it.
    fn release(&self, start: usize, len: usize) -> bool;
    /// True when the memory regions read as zero at boot and [`Platform::release`]
    /// always zeroes (linuxu: fresh host pages, given back to the host).
    fn memory_zeroed(&self) -> bool {
        false
    }
    /// Have the MMU enforce `prot` (Linux `PROT_READ` 1 | `PROT_WRITE` 2 | `PROT_EXEC` 4
    /// bits; 0 is no access) on a page-aligned range inside [`Platform::memory`], so
    /// that a stack overflowing into a guard page or a store into a read-only map faults
    /// instead of corrupting memory. Returns true when the protection is enforced,
    /// false when this platform cannot (then the caller only records it; the kernel
    /// still refuses its own accesses). Whoever protects a range gives it back
    /// `PROT_READ | PROT_WRITE` before the pages return to the allocator.
    ///
    /// Ranges made by [`Platform::alias`] may be protected too.
    fn protect(&self, start: usize, len: usize, prot: u32) -> bool {
        let _ = (start, len, prot);
        false
    }
    /// Virtual addresses with no memory of their own, where [`Platform::alias`] shows
    /// pages of [`Platform::memory`] a second time (the program's shared file maps: a
    /// map and the file's page cache are the same frames). `None`: the platform cannot
    /// alias, and shared file maps fail with ENODEV.
    fn alias_window(&self) -> Option<MemRegion> {
        None
    }
    /// Show the frames `[frame, frame+len)` (inside [`Platform::memory`]) at the
    /// virtual range `[at, at+len)` with `prot`, replacing what was mapped there. `at`
    /// lies in [`Platform::alias_window`], or in `memory()` itself (a fixed map over
    /// pages the kernel owns: [`Platform::unalias`] shows those pages there again).
    /// Page-table memory comes from `tables`, which hands out zeroed 4 KiB frames the
    /// platform keeps; ENOMEM when it runs dry, EINVAL for ranges outside the above.
    fn alias(
        &self,
        at: usize,
        frame: usize,
        len: usize,
        prot: u32,
        tables: &mut dyn FnMut() -> Option<usize>,
    ) -> Result<(), Errno> {
        let _ = (at, frame, len, prot, tables);
        Err(Errno::ENOSYS)
    }
    /// Undo [`Platform::alias`] on `[at, at+len)`: window addresses fault again, and
    /// addresses in `memory()` show their own pages again, read+write (in
    /// [`Platform::program_data`], the addresses show nothing).
    fn unalias(&self, at: usize, len: usize) {
        let _ = (at, len);
    }
    /// Call `f(a, b)` for the parts `[a, b)` of the memory pages `[start, start+len)`
    /// that may hold anything but zeros (linuxu: pages never written are holes of the
    /// memfd, which read as zero and cost nothing). False when the platform cannot tell:
    /// then every page may hold data. A fork copies only these parts.
    fn populated(&self, start: usize, len: usize, f: &mut dyn FnMut(usize, usize)) -> bool {
        let _ = (start, len, f);
        false
    }
    /// The image program's own writable data (its `.data` and `.bss`): page-aligned and
    /// linked apart from the kernel's statics, so that [`Platform::alias`] may show
    /// other frames there (a forked process's copy, docs/processes.md "fork"). `None`:
    /// the image was not linked that way, and the boot program cannot fork.
    fn program_data(&self) -> Option<MemRegion> {
        None
    }
    /// Fill `buf` with entropy gathered at boot or from the CPU; used to seed the CSPRNG.
    fn entropy(&self, buf: &mut [u8]);
    /// Set the thread pointer (%fs base) of the running CPU.
    fn set_tls_base(&self, base: usize);
    /// Stop the image with this exit status. Never returns.
    fn exit(&self, status: i32) -> !;
    /// Host directories, on platforms that have a host file system (linuxu). lib/vfs
    /// mounts them through [`HostFs`]; `None` (the default) means no host files.
    fn hostfs(&self) -> Option<&dyn HostFs> {
        None
    }
    /// The initrd (a newc cpio archive) the boot loader handed over, if any; unpacked
    /// into the ramfs root at boot (kvm). `None` by default.
    fn initrd(&self) -> Option<&'static [u8]> {
        None
    }
    /// RLIMIT_NOFILE (soft, hard) the program should start with, when the platform
    /// knows what a native program would get (linuxu: the host's limits at launch, read
    /// before the host-call filter closes). `None` (the default): the kernel's
    /// configured default (`posix.max_fds`).
    fn nofile_limit(&self) -> Option<(u64, u64)> {
        None
    }
}

/// Host file operations, one path component at a time.
///
/// Every `name` is a single component: never empty, never `..`, never containing `/`
/// (`.` only to reopen a directory descriptor itself). An implementation must refuse anything else with EINVAL and must never follow a
/// symlink in the final component (lib/vfs resolves symlinks itself, inside the image's
/// namespace). Together this confines every lookup below the mounted host directory.
/// Descriptors are host descriptors, private to the implementation's caller (lib/vfs).
pub trait HostFs: Sync {
    /// Open a host directory to mount (an absolute host path from a boot option), as a
    /// path-only descriptor.
    fn open_dir(&self, host_path: &[u8]) -> Result<i32, Errno>;
    /// The host's working directory when the image started (an absolute path).
    fn initial_cwd(&self) -> &[u8];
    /// openat(2) of one component below `dirfd`, with O_NOFOLLOW added. `flags` are Linux
    /// O_* flags (O_PATH for a lookup).
    fn openat(&self, dirfd: i32, name: &[u8], flags: u32, mode: u32) -> Result<i32, Errno>;
    /// close(2).
    fn close(&self, fd: i32);
    /// pread(2).
    fn pread(&self, fd: i32, buf: &mut [u8], off: u64) -> Result<usize, Errno>;
    /// pwrite(2).
    fn pwrite(&self, fd: i32, buf: &[u8], off: u64) -> Result<usize, Errno>;
    /// write(2) at the descriptor's own offset (for O_APPEND descriptors).
    fn write(&self, fd: i32, buf: &[u8]) -> Result<usize, Errno>;
    /// fstat(2) as the Linux record; works on path-only descriptors.
    fn fstat(&self, fd: i32) -> Result<Stat, Errno>;
    /// fstatfs(2).
    fn fstatfs(&self, fd: i32) -> Result<Statfs, Errno>;
    /// Seek the directory `fd` to `cookie` (0 = start, else a `d_off`) and read
    /// `linux_dirent64` records into `buf`; Ok(0) at the end.
    fn getdents64(&self, fd: i32, cookie: u64, buf: &mut [u8]) -> Result<usize, Errno>;
    /// mkdirat(2).
    fn mkdirat(&self, dirfd: i32, name: &[u8], mode: u32) -> Result<(), Errno>;
    /// unlinkat(2); `dir` selects AT_REMOVEDIR.
    fn unlinkat(&self, dirfd: i32, name: &[u8], dir: bool) -> Result<(), Errno>;
    /// renameat2(2).
    fn renameat(
        &self,
        olddir: i32,
        old: &[u8],
        newdir: i32,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno>;
    /// mknodat(2) of a FIFO or socket node (`mode` holds S_IFIFO or S_IFSOCK and the
    /// permission bits; device nodes are never asked for). A host folder that cannot
    /// hold such nodes answers EPERM, which is the default.
    fn mknodat(&self, _dirfd: i32, _name: &[u8], _mode: u32) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    /// symlinkat(2); `target` is stored as given.
    fn symlinkat(&self, target: &[u8], dirfd: i32, name: &[u8]) -> Result<(), Errno>;
    /// readlink of the symlink a path-only descriptor refers to.
    fn readlink(&self, fd: i32, buf: &mut [u8]) -> Result<usize, Errno>;
    /// linkat(2) without following symlinks.
    fn linkat(&self, olddir: i32, old: &[u8], newdir: i32, new: &[u8]) -> Result<(), Errno>;
    /// ftruncate(2).
    fn ftruncate(&self, fd: i32, len: u64) -> Result<(), Errno>;
    /// fsync(2) or fdatasync(2).
    fn fsync(&self, fd: i32, data_only: bool) -> Result<(), Errno>;
    /// fchmodat(2) of one component (never on a symlink: lib/vfs checks first).
    fn fchmodat(&self, dirfd: i32, name: &[u8], mode: u32) -> Result<(), Errno>;
    /// fchownat(2) on the file a descriptor refers to (AT_EMPTY_PATH).
    fn fchown(&self, fd: i32, uid: u32, gid: u32) -> Result<(), Errno>;
    /// utimensat(2) of one component, not following symlinks; `[atime, mtime]` as
    /// (sec, nsec) pairs with UTIME_NOW/UTIME_OMIT allowed in nsec.
    fn utimensat(&self, dirfd: i32, name: &[u8], times: &[[i64; 2]; 2]) -> Result<(), Errno>;
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

/// The registered platform, or `None` before registration (host unit tests of lib/
/// crates that run without one).
pub fn try_get() -> Option<&'static dyn Platform> {
    is_registered().then(get)
}

/// A platform for host-run unit tests: heap-backed memory, std clocks, captured output.
#[cfg(test)]
mod tests {
    use super::*;

    struct Dummy;
    impl Platform for Dummy {
        fn name(&self) -> &'static str {
            "dummy"
        }
        fn console_write(&self, _: ConsoleStream, b: &[u8]) -> Result<usize, Errno> {
            Ok(b.len())
        }
        fn console_read(&self, _: &mut [u8]) -> Result<usize, Errno> {
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
    /// An initial ramdisk the boot loader placed in memory, as (start, length): the
    /// first PVH module or multiboot module on kvm; `None` on linuxu. The platform keeps
    /// these bytes out of [`Platform::memory`], so they stay intact for boot to read.
    pub initrd: Option<(usize, usize)>,
}

extern "Rust" {
    /// The boot sequence (lib/boot), bound at link time.
    pub fn uk_boot_entry(args: &BootArgs) -> !;
}

/// A network device found by the platform (linuxu: a tap device or a passt socket named
/// by the `net=` boot option; kvm: virtio-net). Frames are whole Ethernet frames without
/// the FCS. Both directions are non-blocking: lib/netdev wraps each device with counters
/// and frame checks, and waits for input through [`net_event`].
pub trait NetDevice: Sync {
    /// Short name for logs (`tap:ukit0`, `passt`, `virtio-net0`).
    fn name(&self) -> &str;
    /// The device's Ethernet address.
    fn mac(&self) -> [u8; 6];
    /// Largest payload of one frame (the IP packet), usually 1500.
    fn mtu(&self) -> u16;
    /// Whether the link is up (the host side is there).
    fn link_up(&self) -> bool;
    /// Send one frame. EAGAIN when the host cannot take it now, EMSGSIZE when it is
    /// larger than the device allows.
    fn transmit(&self, frame: &[u8]) -> Result<(), Errno>;
    /// Take the next received frame into `buf` without blocking: `Some(len)` with the
    /// frame's full length (a frame longer than `buf` is consumed and reported with its
    /// real length, so the caller can count it as malformed), `None` when nothing waits.
    fn receive(&self, buf: &mut [u8]) -> Option<usize>;
    /// Whether a caller that must not block (a poll with timeout 0, a non-blocking
    /// receive while no thread has gone idle) should call [`NetDevice::receive`] now.
    /// Called often, so it must be cheap: true when a frame is known to wait or when
    /// looking costs little (kvm: the used ring is memory, the default); a platform
    /// for which looking is a host call limits how often it says yes (linuxu). A false
    /// answer while frames wait only delays them until a later call or the idle wait.
    fn rx_check_due(&self) -> bool {
        true
    }
}

/// Most network devices one image can have.
pub const MAX_NET_DEVICES: usize = 4;

static NET_DEVICES: [AtomicPtr<&'static dyn NetDevice>; MAX_NET_DEVICES] = [
    AtomicPtr::new(core::ptr::null_mut()),
    AtomicPtr::new(core::ptr::null_mut()),
    AtomicPtr::new(core::ptr::null_mut()),
    AtomicPtr::new(core::ptr::null_mut()),
];

/// Device discovery: the platform registers each network device it brought up at boot
/// (before lib/net starts). Returns false when all [`MAX_NET_DEVICES`] slots are taken.
pub fn register_net_device(d: &'static &'static dyn NetDevice) -> bool {
    let p = d as *const _ as *mut _;
    NET_DEVICES.iter().any(|slot| {
        slot.compare_exchange(
            core::ptr::null_mut(),
            p,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_ok()
    })
}

/// The registered network devices, in registration order.
pub fn net_devices() -> impl Iterator<Item = &'static dyn NetDevice> {
    NET_DEVICES.iter().filter_map(|slot| {
        let p = slot.load(Ordering::Acquire);
        // SAFETY: non-null pointers were stored by `register_net_device` from a
        // `&'static &'static dyn NetDevice`: valid and immutable forever.
        (!p.is_null()).then(|| unsafe { *p })
    })
}

/// What the platform calls when a network device may have input: lib/netdev sets it to
/// wake the threads waiting for frames. It must not block: it runs in the idle path
/// (linuxu: after `Platform::wait` saw a device descriptor readable; kvm: from the
/// interrupt's deferred work).
pub static NET_EVENT: Hook<fn()> = Hook::new();

/// Called by the platform: a network device may have input. A no-op until lib/netdev
/// set [`NET_EVENT`].
pub fn net_event() {
    if let Some(f) = NET_EVENT.get() {
        f();
    }
}

#[cfg(test)]
mod net_tests {
    use super::*;
    use core::sync::atomic::AtomicUsize;

    struct Dev;
    impl NetDevice for Dev {
        fn name(&self) -> &str {
            "dev"
        }
        fn mac(&self) -> [u8; 6] {
            [2, 0, 0, 0, 0, 1]
        }
        fn mtu(&self) -> u16 {
            1500
        }
        fn link_up(&self) -> bool {
            true
        }
        fn transmit(&self, _: &[u8]) -> Result<(), Errno> {
            Ok(())
        }
        fn receive(&self, _: &mut [u8]) -> Option<usize> {
            None
        }
    }
    static DEV: &dyn NetDevice = &Dev;
    static HITS: AtomicUsize = AtomicUsize::new(0);
    fn hook() {
        HITS.fetch_add(1, Ordering::Relaxed);
    }

    #[test]
    fn devices_register_until_full_and_events_reach_the_hook() {
        let before = net_devices().count();
        let mut added = 0;
        while register_net_device(&DEV) {
            added += 1;
        }
        assert_eq!(before + added, MAX_NET_DEVICES);
        assert!(net_devices().all(|d| d.mtu() == 1500 && d.name() == "dev"));
        net_event();
        assert!(NET_EVENT.set(hook));
        net_event();
        net_event();
        assert_eq!(HITS.load(Ordering::Relaxed), 2);
    }
}
