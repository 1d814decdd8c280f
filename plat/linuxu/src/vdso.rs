//! The host's vDSO as this platform's clock source.
//!
//! Reading the clock through a `clock_gettime` host call costs a mode switch per read
//! (about 400 ns on a nested-virtualisation host), and the scheduler reads the clock on
//! every switch. The host maps its vDSO into every process; its `__vdso_clock_gettime`
//! reads the same clock without entering the host kernel. This is the platform's own use
//! of its "hardware" clock: the program itself never reaches the vDSO (its auxiliary
//! vector has no AT_SYSINFO_EHDR), all its time still comes through the shim.
//!
//! The image is parsed defensively: every offset is checked against the size of the
//! mapping its program headers describe; anything odd and the platform keeps using the
//! host call.

use core::sync::atomic::{AtomicUsize, Ordering};

static CLOCK_GETTIME: AtomicUsize = AtomicUsize::new(0);

type ClockFn = unsafe extern "C" fn(i32, *mut [i64; 2]) -> i32;

fn rd<T: Copy>(base: usize, size: usize, off: usize) -> Option<T> {
    let end = off.checked_add(core::mem::size_of::<T>())?;
    if end > size {
        return None;
    }
    // SAFETY: [base + off, base + end) lies inside the vDSO mapping (checked above).
    Some(unsafe { core::ptr::read_unaligned((base + off) as *const T) })
}

/// Find `name` in the vDSO mapped at `base`; returns its address.
fn lookup(base: usize, name: &[u8]) -> Option<usize> {
    // ELF header: magic, 64-bit little-endian.
    let ident: [u8; 6] = rd(base, 64, 0)?;
    if ident != [0x7f, b'E', b'L', b'F', 2, 1] {
        return None;
    }
    let phoff: u64 = rd(base, 64, 32)?;
    let shoff: u64 = rd(base, 64, 40)?;
    let phentsize: u16 = rd(base, 64, 54)?;
    let phnum: u16 = rd(base, 64, 56)?;
    let shentsize: u16 = rd(base, 64, 58)?;
    let shnum: u16 = rd(base, 64, 60)?;
    if phentsize != 56 || shentsize != 64 || phnum > 16 || shnum > 64 {
        return None;
    }
    // Size of the mapping and the load bias from the PT_LOAD segment(s).
    let mut size = 0usize;
    let mut first_vaddr = None;
    for i in 0..phnum as usize {
        let h = phoff as usize + i * 56;
        let ptype: u32 = rd(base, 4096, h)?;
        if ptype == 1 {
            let vaddr: u64 = rd(base, 4096, h + 16)?;
            let memsz: u64 = rd(base, 4096, h + 40)?;
            first_vaddr.get_or_insert(vaddr);
            size = size.max((vaddr + memsz - first_vaddr?) as usize);
        }
    }
    let bias = base.wrapping_sub(first_vaddr? as usize);
    // The mapping is whole pages; the section headers sit past the loaded sections but
    // inside the last page.
    let size = (size + 4095) & !4095;
    if size == 0 || size > (1 << 20) {
        return None;
    }
    // Section headers: find .dynsym and its string table.
    for i in 0..shnum as usize {
        let h = shoff as usize + i * 64;
        let stype: u32 = rd(base, size, h + 4)?;
        if stype != 11 {
            continue; // SHT_DYNSYM
        }
        let symoff: u64 = rd(base, size, h + 24)?;
        let symsize: u64 = rd(base, size, h + 32)?;
        let link: u32 = rd(base, size, h + 40)?;
        let sh = shoff as usize + link as usize * 64;
        let stroff: u64 = rd(base, size, sh + 24)?;
        let strsize: u64 = rd(base, size, sh + 32)?;
        for s in 0..(symsize as usize / 24) {
            let e = symoff as usize + s * 24;
            let st_name: u32 = rd(base, size, e)?;
            let st_value: u64 = rd(base, size, e + 8)?;
            let n = st_name as usize;
            if st_value == 0 || n + name.len() + 1 > strsize as usize {
                continue;
            }
            let at = stroff as usize + n;
            if at + name.len() + 1 > size {
                continue;
            }
            // SAFETY: [base + at, base + at + len + 1) is inside the mapping (checked).
            let s =
                unsafe { core::slice::from_raw_parts((base + at) as *const u8, name.len() + 1) };
            if &s[..name.len()] == name && s[name.len()] == 0 {
                let addr = bias.wrapping_add(st_value as usize);
                if addr < base || addr >= base + size {
                    return None;
                }
                return Some(addr);
            }
        }
    }
    None
}

/// Find the vDSO's clock_gettime (called once at boot with AT_SYSINFO_EHDR).
pub fn init(base: usize) {
    if base == 0 {
        return;
    }
    if let Some(f) = lookup(base, b"__vdso_clock_gettime") {
        // Check it answers before relying on it.
        let mut ts = [0i64; 2];
        // SAFETY: `f` is the vDSO's clock_gettime, found in the host's own mapping.
        let r = unsafe { core::mem::transmute::<usize, ClockFn>(f)(1, &mut ts) };
        if r == 0 && (ts[0] > 0 || ts[1] > 0) {
            CLOCK_GETTIME.store(f, Ordering::Relaxed);
        }
    }
}

/// Read `clock` through the vDSO; None when it is not available (use the host call).
#[inline]
pub fn clock_gettime(clock: i32) -> Option<i64> {
    let f = CLOCK_GETTIME.load(Ordering::Relaxed);
    if f == 0 {
        return None;
    }
    let mut ts = [0i64; 2];
    // SAFETY: `f` was verified at boot to be the vDSO's clock_gettime.
    let r = unsafe { core::mem::transmute::<usize, ClockFn>(f)(clock, &mut ts) };
    if r != 0 {
        return None;
    }
    Some(ts[0].saturating_mul(1_000_000_000).saturating_add(ts[1]))
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_hosts_clock() {
        // SAFETY: getauxval is always safe to call.
        let base = unsafe { libc_getauxval(33) };
        super::init(base);
        let a = super::clock_gettime(1).expect("this host's vDSO has clock_gettime");
        let b = super::clock_gettime(1).unwrap();
        assert!(b >= a && a > 0);
        assert!(super::lookup(base, b"__vdso_no_such_symbol").is_none());
    }

    extern "C" {
        #[link_name = "getauxval"]
        fn libc_getauxval(t: u64) -> usize;
    }
}
