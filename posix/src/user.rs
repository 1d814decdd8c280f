//! Checking pointers that came from the program.
//!
//! In one address space a bad pointer would not trap into a kernel: it would make the
//! kernel read or write the wrong memory, or fault inside it. So every pointer the
//! program passes is checked against what the program really owns before it is used:
//! the image's loaded segments and initial stack (registered at boot as static ranges)
//! and the program's memory maps (see [`crate::mm`]). A failed check is EFAULT.

use crate::{Errno, KResult};
use core::mem::{size_of, MaybeUninit};

/// A range the program may access that is not a memory map: image segments, the
/// initial stack, the argument block.
#[derive(Clone, Copy, Debug)]
struct StaticRange {
    start: usize,
    end: usize,
    writable: bool,
}

const MAX_STATIC: usize = 64;
static STATIC: spin::Mutex<([StaticRange; MAX_STATIC], usize)> = spin::Mutex::new((
    [StaticRange {
        start: 0,
        end: 0,
        writable: false,
    }; MAX_STATIC],
    0,
));

/// Declare `[start, end)` accessible to the program (boot does this for the image's
/// PT_LOAD segments and the initial stack). Silently ignores ranges past the table.
pub fn add_static_range(start: usize, end: usize, writable: bool) {
    let mut t = STATIC.lock();
    let n = t.1;
    if n < MAX_STATIC && start < end {
        t.0[n] = StaticRange {
            start,
            end,
            writable,
        };
        t.1 = n + 1;
    }
}

/// The range containing `addr`: (end, writable).
fn find(addr: usize) -> Option<(usize, bool)> {
    {
        let t = STATIC.lock();
        for r in &t.0[..t.1] {
            if addr >= r.start && addr < r.end {
                return Some((r.end, r.writable));
            }
        }
    }
    crate::mm::lookup(addr)
}

/// Check that `[addr, addr+len)` is program memory, writable if `write`.
pub fn check(addr: usize, len: usize, write: bool) -> KResult<()> {
    if len == 0 {
        return Ok(());
    }
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    let end = addr.checked_add(len).ok_or(Errno::EFAULT)?;
    let mut a = addr;
    while a < end {
        let (rend, w) = find(a).ok_or(Errno::EFAULT)?;
        if write && !w {
            return Err(Errno::EFAULT);
        }
        a = rend;
    }
    Ok(())
}

/// A checked read-only view of program memory.
pub fn slice<'a>(addr: usize, len: usize) -> KResult<&'a [u8]> {
    check(addr, len, false)?;
    if len == 0 {
        return Ok(&[]);
    }
    // SAFETY: check() proved [addr, addr+len) is program memory that stays mapped while
    // the program's own call runs (one CPU; the program is inside this call).
    Ok(unsafe { core::slice::from_raw_parts(addr as *const u8, len) })
}

/// A checked writable view of program memory.
pub fn slice_mut<'a>(addr: usize, len: usize) -> KResult<&'a mut [u8]> {
    check(addr, len, true)?;
    if len == 0 {
        return Ok(&mut []);
    }
    // SAFETY: as in `slice`, and the memory is writable program memory.
    Ok(unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, len) })
}

pub use uk_abi::Record as Pod;

/// Copy a `T` from program memory (any alignment).
pub fn read<T: Pod>(addr: usize) -> KResult<T> {
    let src = slice(addr, size_of::<T>())?;
    let mut v = MaybeUninit::<T>::uninit();
    // SAFETY: src has size_of::<T>() bytes; T is Pod so any bytes are a valid T.
    unsafe {
        core::ptr::copy_nonoverlapping(src.as_ptr(), v.as_mut_ptr() as *mut u8, size_of::<T>());
        Ok(v.assume_init())
    }
}

/// Copy a `T` into program memory (any alignment).
pub fn write<T: Pod>(addr: usize, v: &T) -> KResult<()> {
    let dst = slice_mut(addr, size_of::<T>())?;
    // SAFETY: dst has size_of::<T>() writable bytes; T is Pod (no padding to leak).
    unsafe {
        core::ptr::copy_nonoverlapping(v as *const T as *const u8, dst.as_mut_ptr(), size_of::<T>())
    };
    Ok(())
}

/// A NUL-terminated string from program memory, at most `max` bytes (without the NUL):
/// ENAMETOOLONG past that, EFAULT when it runs off program memory.
pub fn cstr<'a>(addr: usize, max: usize) -> KResult<&'a [u8]> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    let mut a = addr;
    loop {
        let (rend, _) = find(a).ok_or(Errno::EFAULT)?;
        // SAFETY: [a, rend) is program memory (find() said so).
        let chunk = unsafe { core::slice::from_raw_parts(a as *const u8, rend - a) };
        if let Some(i) = chunk.iter().position(|&b| b == 0) {
            let len = a - addr + i;
            if len > max {
                return Err(Errno::ENAMETOOLONG);
            }
            // SAFETY: [addr, addr+len) lies in the ranges walked above.
            return Ok(unsafe { core::slice::from_raw_parts(addr as *const u8, len) });
        }
        if rend - addr > max {
            return Err(Errno::ENAMETOOLONG);
        }
        a = rend;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Make a leaked buffer and register it as program memory.
    pub(crate) fn user_buf(len: usize, writable: bool) -> usize {
        let v: &'static mut [u8] = Box::leak(vec![0u8; len].into_boxed_slice());
        let a = v.as_ptr() as usize;
        add_static_range(a, a + len, writable);
        a
    }

    #[test]
    fn checks_ranges() {
        let a = user_buf(64, true);
        let ro = user_buf(64, false);
        assert!(check(a, 64, true).is_ok());
        assert_eq!(check(a, 65, true), Err(Errno::EFAULT));
        assert_eq!(check(0, 1, false), Err(Errno::EFAULT));
        assert_eq!(check(usize::MAX - 2, 8, false), Err(Errno::EFAULT));
        assert!(check(ro, 64, false).is_ok());
        assert_eq!(check(ro, 1, true), Err(Errno::EFAULT));
        assert!(check(12345, 0, true).is_ok(), "empty ranges are fine");
        let stack_local = 5u64;
        assert_eq!(
            read::<u64>(&stack_local as *const u64 as usize),
            Err(Errno::EFAULT)
        );
    }

    #[test]
    fn read_write_and_strings() {
        let a = user_buf(32, true);
        write(a + 3, &0x1122_3344_5566_7788u64).unwrap();
        assert_eq!(read::<u64>(a + 3).unwrap(), 0x1122_3344_5566_7788);
        slice_mut(a, 6).unwrap().copy_from_slice(b"hello\0");
        assert_eq!(cstr(a, 100).unwrap(), b"hello");
        assert_eq!(cstr(a, 3), Err(Errno::ENAMETOOLONG));
        // No NUL before the end of program memory: EFAULT, not a read past it.
        let b = user_buf(4, true);
        slice_mut(b, 4).unwrap().copy_from_slice(b"abcd");
        assert_eq!(cstr(b, 100), Err(Errno::EFAULT));
    }
}
