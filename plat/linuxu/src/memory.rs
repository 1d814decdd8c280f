//! The image's memory on linuxu: one memfd the host maps twice when asked.
//!
//! At boot the platform creates a memfd as large as the memory it may use (the host's
//! RAM plus swap, or less with `mem=` / `plat.linuxu.memory`) and maps all of it once,
//! `MAP_SHARED | MAP_NORESERVE`: a page costs host memory only once touched, so a
//! large reservation is free, and there is no cap below what a native program gets.
//! This mapping is [`Platform::memory`]: the page allocator's region.
//!
//! Because the memory is a file, the host can show one of its pages at a second
//! address: [`alias`] maps the memfd at the page's offset again (`MAP_FIXED`). Shared
//! file maps use this to show a file's page cache in the program's address space
//! (docs/architecture.md, "Memory model"); addresses for them come from the alias
//! window, a `PROT_NONE` reservation that holds no memory of its own. [`release`]
//! punches the pages out of the memfd (`MADV_REMOVE`), which gives them back to the
//! host and makes them read as zeros through every mapping.
//!
//! After boot the host-call filter allows `mmap` only with `MAP_FIXED` and only of the
//! memfd or of anonymous memory (`crate::seccomp`), which is all this module needs.
//!
//! [`Platform::memory`]: uk_plat::Platform::memory

use crate::host::{self, nr};
use core::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use uk_abi::mman::{
    MADV_REMOVE, MAP_ANONYMOUS, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, MFD_CLOEXEC,
    PROT_EXEC, PROT_NONE, PROT_READ, PROT_RW, PROT_WRITE,
};
use uk_abi::Errno;
use uk_plat::MemRegion;

const PAGE: usize = uk_abi::PAGE_SIZE;

/// The memfd (its host descriptor; -1 before boot made it).
static MEMFD: AtomicI32 = AtomicI32::new(-1);
/// The memfd's mapping: start and length.
static BASE: (AtomicUsize, AtomicUsize) = (AtomicUsize::new(0), AtomicUsize::new(0));
/// The alias window: start and length.
static WINDOW: (AtomicUsize, AtomicUsize) = (AtomicUsize::new(0), AtomicUsize::new(0));

/// The smallest memory worth booting with.
const MIN: usize = 4 << 20;
/// The alias window is this many times the memory (shared maps of one file may
/// overlap, and a program may map a file more than once), at most [`WINDOW_MAX`].
const WINDOW_FACTOR: usize = 4;
const WINDOW_MAX: usize = 16 << 40;

/// The memfd's host descriptor (for the host-call filter), -1 before [`init`].
pub fn memfd() -> i32 {
    MEMFD.load(Ordering::Relaxed)
}

/// What the host would give a native program: its RAM plus swap (`sysinfo`).
fn host_memory() -> Option<usize> {
    let mut si = uk_abi::resource::Sysinfo::default();
    let r = host::call(nr::SYS_SYSINFO, [&mut si as *mut _ as usize, 0, 0, 0, 0, 0]);
    if r < 0 {
        return None;
    }
    let unit = (si.mem_unit.max(1)) as u64;
    let total = si
        .totalram
        .saturating_add(si.totalswap)
        .saturating_mul(unit);
    usize::try_from(total).ok()
}

/// Reserve the image's memory (at most `limit` bytes, and no more than the host has)
/// and the alias window. Returns the memory region, or why it failed.
pub fn init(limit: usize) -> Result<MemRegion, &'static str> {
    let mut size = match host_memory() {
        Some(h) => limit.min(h),
        None => limit,
    };
    size &= !(PAGE - 1);
    if size < MIN {
        return Err("the host has less than 4 MiB of memory to give");
    }
    let fd = host::call(
        nr::SYS_MEMFD_CREATE,
        [
            c"ukit-memory".as_ptr() as usize,
            MFD_CLOEXEC as usize,
            0,
            0,
            0,
            0,
        ],
    );
    if fd < 0 {
        return Err("memfd_create failed (host kernel older than 3.17?)");
    }
    // The host may refuse a reservation this large (an address-space limit, a
    // tmpfs size cap): halve until it takes one.
    let base = loop {
        let ok = host::call(nr::SYS_FTRUNCATE, [fd as usize, size, 0, 0, 0, 0]) == 0;
        let b = if ok {
            host::call(
                nr::SYS_MMAP,
                [
                    0,
                    size,
                    PROT_RW as usize,
                    (MAP_SHARED | MAP_NORESERVE) as usize,
                    fd as usize,
                    0,
                ],
            )
        } else {
            -1
        };
        if b >= 0 {
            break b as usize;
        }
        if size / 2 < MIN {
            return Err(
                "cannot reserve the image's memory from the host; try a smaller mem= in UKIT_OPTS",
            );
        }
        size = (size / 2) & !(PAGE - 1);
    };
    let wlen = size.saturating_mul(WINDOW_FACTOR).min(WINDOW_MAX);
    let w = host::call(
        nr::SYS_MMAP,
        [
            0,
            wlen,
            PROT_NONE as usize,
            (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE) as usize,
            usize::MAX,
            0,
        ],
    );
    // Without a window shared file maps are ENODEV; everything else works.
    if w >= 0 {
        WINDOW.0.store(w as usize, Ordering::Relaxed);
        WINDOW.1.store(wlen, Ordering::Relaxed);
    }
    MEMFD.store(fd as i32, Ordering::Relaxed);
    BASE.0.store(base, Ordering::Relaxed);
    BASE.1.store(size, Ordering::Relaxed);
    Ok(MemRegion {
        start: base,
        len: size,
    })
}

fn memory() -> (usize, usize) {
    (
        BASE.0.load(Ordering::Relaxed),
        BASE.1.load(Ordering::Relaxed),
    )
}

/// The alias window, when the host gave one.
pub fn window() -> Option<MemRegion> {
    let (s, l) = (
        WINDOW.0.load(Ordering::Relaxed),
        WINDOW.1.load(Ordering::Relaxed),
    );
    (l > 0).then_some(MemRegion { start: s, len: l })
}

/// Is `[start, start+len)` a non-empty, page-aligned range inside `(r0, rlen)`?
fn inside((r0, rlen): (usize, usize), start: usize, len: usize) -> bool {
    let Some(end) = start.checked_add(len) else {
        return false;
    };
    len > 0
        && start.is_multiple_of(PAGE)
        && len.is_multiple_of(PAGE)
        && start >= r0
        && end <= r0.saturating_add(rlen)
}

fn in_window(start: usize, len: usize) -> bool {
    window().is_some_and(|w| inside((w.start, w.len), start, len))
}

// The bounds of the program's writable data, from the image's link (plat/linuxu/
// link.ld puts the kernel archive's .data and .bss in a page-aligned section of their
// own before the program's). Weak: a program linked without that script (a unit-test
// binary) gets 0 and has no such range. Through the GOT, which works in PIE and non-PIE
// links alike.
core::arch::global_asm!(
    ".weak __uk_kernel_data_end",
    ".weak _end",
    ".pushsection .text.uk_linuxu_data_bounds,\"ax\",@progbits",
    ".global uk_linuxu_data_bounds",
    ".type uk_linuxu_data_bounds,@function",
    "uk_linuxu_data_bounds:",
    "mov rax, [rip + __uk_kernel_data_end@GOTPCREL]",
    "mov [rdi], rax",
    "mov rax, [rip + _end@GOTPCREL]",
    "mov [rdi + 8], rax",
    "ret",
    ".size uk_linuxu_data_bounds, .-uk_linuxu_data_bounds",
    ".popsection",
);

extern "C" {
    fn uk_linuxu_data_bounds(out: *mut [usize; 2]);
}

/// `Platform::program_data`: from the end of the kernel's data section to the end of
/// the program's .bss, in whole pages; None when the image was linked without the
/// script.
pub fn program_data() -> Option<MemRegion> {
    let mut b = [0usize; 2];
    // SAFETY: the function writes two words to `b`.
    unsafe { uk_linuxu_data_bounds(&mut b) };
    let [start, end] = b;
    if start == 0 || end <= start || !start.is_multiple_of(PAGE) {
        return None;
    }
    let end = end.checked_add(PAGE - 1)? & !(PAGE - 1);
    Some(MemRegion {
        start,
        len: end - start,
    })
}

fn in_program_data(start: usize, len: usize) -> bool {
    program_data().is_some_and(|r| inside((r.start, r.len), start, len))
}

/// `Platform::release`: the pages leave the memfd (the host takes them back) and read
/// as zeros through every mapping of them.
pub fn release(start: usize, len: usize) -> bool {
    if !inside(memory(), start, len) {
        return false;
    }
    host::call(nr::SYS_MADVISE, [start, len, MADV_REMOVE as usize, 0, 0, 0]) == 0
}

/// `Platform::populated`: the memfd's data ranges (`lseek` SEEK_DATA / SEEK_HOLE) within
/// `[start, start+len)`.
pub fn populated(start: usize, len: usize, f: &mut dyn FnMut(usize, usize)) -> bool {
    const SEEK_DATA: usize = 3;
    const SEEK_HOLE: usize = 4;
    let (base, size) = memory();
    if !inside((base, size), start, len) {
        return false;
    }
    let fd = memfd() as usize;
    let end = start - base + len;
    let mut off = start - base;
    while off < end {
        // ENXIO: no data from `off` to the end of the file.
        let d = host::call(nr::SYS_LSEEK, [fd, off, SEEK_DATA, 0, 0, 0]);
        if d < 0 || d as usize >= end {
            break;
        }
        let d = d as usize;
        let h = host::call(nr::SYS_LSEEK, [fd, d, SEEK_HOLE, 0, 0, 0]);
        let h = if h < 0 { end } else { (h as usize).min(end) };
        f(base + d, base + h);
        off = h;
    }
    true
}

/// `Platform::protect`, for the memory and the alias window.
pub fn protect(start: usize, len: usize, prot: u32) -> bool {
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        return false;
    }
    if !inside(memory(), start, len) && !in_window(start, len) {
        return false;
    }
    host::call(nr::SYS_MPROTECT, [start, len, prot as usize, 0, 0, 0]) == 0
}

/// `Platform::alias`: show the memory pages `[frame, frame+len)` at `[at, at+len)`
/// (in the window, or over memory pages the caller owns).
pub fn alias(at: usize, frame: usize, len: usize, prot: u32) -> Result<(), Errno> {
    let mem = memory();
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0
        || !inside(mem, frame, len)
        || !(in_window(at, len) || inside(mem, at, len) || in_program_data(at, len))
    {
        return Err(Errno::EINVAL);
    }
    let r = host::call(
        nr::SYS_MMAP,
        [
            at,
            len,
            prot as usize,
            (MAP_SHARED | MAP_FIXED) as usize,
            memfd() as usize,
            frame - mem.0,
        ],
    );
    match r {
        r if r as usize == at => Ok(()),
        r if r < 0 => Err(Errno::from_neg(r).unwrap_or(Errno::ENOMEM)),
        _ => Err(Errno::EINVAL),
    }
}

/// `Platform::unalias`: window addresses (and the program's data range) hold nothing
/// again; memory addresses show their own pages, read+write.
pub fn unalias(at: usize, len: usize) {
    let mem = memory();
    let args = if inside(mem, at, len) {
        [
            at,
            len,
            PROT_RW as usize,
            (MAP_SHARED | MAP_FIXED) as usize,
            memfd() as usize,
            at - mem.0,
        ]
    } else if in_window(at, len) || in_program_data(at, len) {
        [
            at,
            len,
            PROT_NONE as usize,
            (MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE) as usize,
            usize::MAX,
            0,
        ]
    } else {
        return;
    };
    host::call(nr::SYS_MMAP, args);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked() {
        let r = (0x10_0000, 0x10_0000);
        assert!(inside(r, 0x10_0000, 0x1000));
        assert!(inside(r, 0x1f_f000, 0x1000));
        assert!(!inside(r, 0x1f_f000, 0x2000));
        assert!(!inside(r, 0x0f_f000, 0x1000));
        assert!(!inside(r, 0x10_0800, 0x1000));
        assert!(!inside(r, 0x10_0000, 0));
        assert!(!inside(r, usize::MAX & !0xfff, 0x2000));
    }

    /// The real thing on this host: a page shown twice is one page; protection and
    /// release act on the alias and the memory as documented.
    #[test]
    fn a_page_shown_twice_is_one_page() {
        let r = init(16 << 20).unwrap();
        assert_eq!(r.len, 16 << 20);
        let w = window().unwrap();
        assert_eq!(w.len, 64 << 20);
        let frame = r.start + 5 * PAGE;
        let at = w.start + 7 * PAGE;
        alias(at, frame, 2 * PAGE, PROT_RW).unwrap();
        // SAFETY: both addresses are mapped read+write just above.
        unsafe {
            core::ptr::write_volatile(frame as *mut u8, 42);
            assert_eq!(core::ptr::read_volatile(at as *const u8), 42);
            core::ptr::write_volatile((at + PAGE + 1) as *mut u8, 7);
            assert_eq!(core::ptr::read_volatile((frame + PAGE + 1) as *const u8), 7);
        }
        assert!(protect(at, PAGE, PROT_READ));
        assert!(!protect(at, PAGE, 8), "unknown bits");
        assert!(
            !protect(0x1000, PAGE, PROT_READ),
            "outside memory and window"
        );
        // Released pages read as zeros through every mapping.
        assert!(release(frame, PAGE));
        // SAFETY: still mapped (readable).
        assert_eq!(unsafe { core::ptr::read_volatile(at as *const u8) }, 0);
        // Bad requests change nothing.
        assert_eq!(alias(at, w.start, PAGE, PROT_READ), Err(Errno::EINVAL));
        assert_eq!(alias(at + 1, frame, PAGE, PROT_READ), Err(Errno::EINVAL));
        assert_eq!(alias(0x1000, frame, PAGE, PROT_READ), Err(Errno::EINVAL));
        assert!(!release(at, PAGE), "window addresses are not memory");
        unalias(at, 2 * PAGE);
        // A fixed alias over memory the caller owns, undone: the page shows itself.
        let own = r.start + 9 * PAGE;
        alias(own, frame + PAGE, PAGE, PROT_READ).unwrap();
        // SAFETY: mapped readable just above.
        let v = unsafe { core::ptr::read_volatile((own + 1) as *const u8) };
        assert_eq!(v, 7);
        unalias(own, PAGE);
        // SAFETY: its own page again, read+write.
        unsafe {
            core::ptr::write_volatile(own as *mut u8, 1);
            assert_eq!(core::ptr::read_volatile((frame + PAGE) as *const u8), 0);
        }
    }
}
