//! Memory protection on linuxu, and the report printed when the program (or the
//! kernel) touches memory it may not.
//!
//! The image's memory is host mappings of one memfd; `crate::memory::protect` narrows
//! parts of them with host `mprotect`, so guard pages and read-only maps are enforced
//! by the host MMU. A fault
//! then arrives as a host SIGSEGV (or SIGBUS). Its handler runs on a static alternate
//! stack (the faulting stack may be the one that overflowed), prints one readable line
//! and returns with the default action restored (SA_RESETHAND): the access repeats and
//! the host ends the image with that signal, exactly as a native program ends.
//! Synchronous faults are never delivered to the program's own handlers.

use crate::host::{self, nr};

use uk_abi::signal::{
    SA_ONSTACK, SA_RESETHAND, SA_RESTORER, SA_SIGINFO, SEGV_ACCERR, SIGBUS, SIGSEGV,
};

/// The alternate stack the fault report runs on (16 KiB, 16-byte aligned).
static mut ALT_STACK: [u128; 1024] = [0; 1024];

/// Append `v` in hex (with 0x) to `out` at `*n`.
fn hex(out: &mut [u8], n: &mut usize, v: u64) {
    for &b in b"0x" {
        out[*n] = b;
        *n += 1;
    }
    let digits = if v == 0 {
        1
    } else {
        (64 - v.leading_zeros()).div_ceil(4) as usize
    };
    for i in (0..digits).rev() {
        out[*n] = b"0123456789abcdef"[(v >> (i * 4)) as usize & 0xf];
        *n += 1;
    }
}

/// The report line for a fault (written into `out`; returns its length).
fn report(out: &mut [u8; 256], sig: i32, code: i32, addr: u64, rip: u64, write: bool) -> usize {
    let mut n = 0;
    let put = |out: &mut [u8; 256], n: &mut usize, s: &[u8]| {
        for &b in s {
            if *n < out.len() {
                out[*n] = b;
                *n += 1;
            }
        }
    };
    put(out, &mut n, b"ukit: linuxu: fatal ");
    put(
        out,
        &mut n,
        if sig == SIGBUS as i32 {
            b"SIGBUS"
        } else {
            b"SIGSEGV"
        },
    );
    put(
        out,
        &mut n,
        if write {
            b": write at "
        } else {
            b": access at "
        },
    );
    hex(out, &mut n, addr);
    put(out, &mut n, b", rip ");
    hex(out, &mut n, rip);
    put(
        out,
        &mut n,
        if sig == SIGSEGV as i32 && code == SEGV_ACCERR {
            b": the page is protected (a stack guard page, a PROT_NONE or read-only map)\n"
        } else if addr < 4096 {
            b": a NULL pointer\n"
        } else {
            b": no memory there\n"
        },
    );
    n
}

extern "C" fn on_fault(sig: i32, info: *const u8, ctx: *const u8) {
    // SAFETY: the host passes a valid siginfo_t (si_code at 8, si_addr at 16) and
    // ucontext_t (uc_mcontext.gregs at 40: REG_ERR is index 19, REG_RIP index 16).
    let (code, addr, err, rip) = unsafe {
        (
            core::ptr::read_unaligned(info.add(8) as *const i32),
            core::ptr::read_unaligned(info.add(16) as *const u64),
            core::ptr::read_unaligned(ctx.add(40 + 19 * 8) as *const u64),
            core::ptr::read_unaligned(ctx.add(40 + 16 * 8) as *const u64),
        )
    };
    let mut line = [0u8; 256];
    let n = report(&mut line, sig, code, addr, rip, err & 2 != 0);
    host::write(2, &line[..n]);
    // Returning repeats the access with the default action back (SA_RESETHAND).
}

/// Install the fault report (at boot, before the host-call filter closes).
pub fn install() {
    let stack = [
        // Only the address is taken; from now on the host alone uses it, as a stack.
        core::ptr::addr_of_mut!(ALT_STACK) as usize,
        0,
        core::mem::size_of::<[u128; 1024]>(),
    ];
    if host::call(
        nr::SYS_SIGALTSTACK,
        [stack.as_ptr() as usize, 0, 0, 0, 0, 0],
    ) < 0
    {
        return; // no report, the host's default action still ends the image
    }
    // Every other signal waits while the report is written: the preemption timer must
    // not switch threads off the alternate stack.
    let act = [
        on_fault as *const () as usize,
        (SA_SIGINFO | SA_ONSTACK | SA_RESTORER | SA_RESETHAND) as usize,
        host::uk_linuxu_sigreturn as *const () as usize,
        usize::MAX,
    ];
    for sig in [SIGSEGV, SIGBUS] {
        host::call(
            nr::SYS_RT_SIGACTION,
            [sig, act.as_ptr() as usize, 0, 8, 0, 0],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sig: i32, code: i32, addr: u64, write: bool) -> String {
        let mut out = [0u8; 256];
        let n = report(&mut out, sig, code, addr, 0x401000, write);
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    #[test]
    fn reports_name_the_kind_of_fault() {
        assert_eq!(
            line(11, 2, 0x7f00_1000, true),
            "ukit: linuxu: fatal SIGSEGV: write at 0x7f001000, rip 0x401000: the page is \
             protected (a stack guard page, a PROT_NONE or read-only map)\n"
        );
        assert!(line(11, 1, 0, false).ends_with("access at 0x0, rip 0x401000: a NULL pointer\n"));
        assert!(line(7, 2, 0xdead_0000, false).starts_with("ukit: linuxu: fatal SIGBUS"));
        assert!(line(11, 1, u64::MAX, false).contains("0xffffffffffffffff"));
    }
}
