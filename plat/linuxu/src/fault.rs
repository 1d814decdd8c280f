//! Memory protection on linuxu, and the report printed when the program (or the
//! kernel) touches memory it may not.
//!
//! The image's memory is host mappings of one memfd; `crate::memory::protect` narrows
//! parts of them with host `mprotect`, so guard pages and read-only maps are enforced
//! by the host MMU. A fault
//! then arrives as a host SIGSEGV (or SIGBUS). Its handler runs on a static alternate
//! stack (the faulting stack may be the one that overflowed) and prints one readable
//! line. A fault of program code in a process other than the image's first ends that
//! process only (docs/processes.md): the handler returns into the kernel's
//! `uk_plat::cpu::program_fault` on a stack of its own, which makes the process a
//! zombie killed by the signal and runs another thread. Any other fault ends the image:
//! the handler returns with the signal blocked, the access repeats, and the host,
//! which cannot deliver a blocked synchronous fault, ends the image with that signal,
//! exactly as a native program ends. Synchronous faults are never delivered to the
//! program's own handlers.

use crate::host::{self, nr};

use uk_abi::signal::{
    reg, SA_ONSTACK, SA_RESTORER, SA_SIGINFO, SEGV_ACCERR, SIGBUS, SIGFPE, SIGILL, SIGSEGV,
};

/// The alternate stack the fault handler runs on (64 KiB, 16-byte aligned: a
/// copy-on-write fault runs the kernel's page bookkeeping on it).
static mut ALT_STACK: [u128; 4096] = [0; 4096];

/// The stack the kernel ends a faulting process on (64 KiB, 16-byte aligned). One CPU:
/// the next fault of program code can only come once the thread that used it has been
/// switched away from for good.
static mut EXIT_STACK: [u128; 4096] = [0; 4096];

/// Offsets in the host's `ucontext_t`: `uc_mcontext.gregs` and `uc_sigmask`.
const GREGS: usize = 40;
const SIGMASK: usize = 40 + 256;
/// RFLAGS' direction flag: the ABI wants it clear when Rust code runs.
const DF: u64 = 1 << 10;

extern "C" fn exit_process(sig: usize) -> ! {
    uk_plat::cpu::program_fault(sig)
}

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
#[allow(clippy::too_many_arguments)]
fn report(
    out: &mut [u8; 256],
    sig: i32,
    code: i32,
    addr: u64,
    rip: u64,
    write: bool,
    process: bool,
) -> usize {
    let mut n = 0;
    let put = |out: &mut [u8; 256], n: &mut usize, s: &[u8]| {
        for &b in s {
            if *n < out.len() {
                out[*n] = b;
                *n += 1;
            }
        }
    };
    put(
        out,
        &mut n,
        if process {
            b"ukit: linuxu: process killed by "
        } else {
            b"ukit: linuxu: fatal "
        },
    );
    put(
        out,
        &mut n,
        match sig as usize {
            SIGBUS => b"SIGBUS".as_slice(),
            SIGFPE => b"SIGFPE",
            SIGILL => b"SIGILL",
            _ => b"SIGSEGV",
        },
    );
    if sig as usize == SIGFPE || sig as usize == SIGILL {
        // An arithmetic fault (a division by zero) or an instruction the CPU refused:
        // the address is the instruction's.
        put(out, &mut n, b" at rip ");
        hex(out, &mut n, rip);
        put(
            out,
            &mut n,
            if sig as usize == SIGFPE {
                b": an arithmetic fault (a division by zero or overflow)\n".as_slice()
            } else {
                b": an illegal instruction\n"
            },
        );
        return n;
    }
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

extern "C" fn on_fault(sig: i32, info: *const u8, ctx: *mut u8) {
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
    // A write to a page the kernel withholds for copy-on-write after a fork: the
    // writer gets its own copy, and returning repeats the store.
    if sig == SIGSEGV as i32
        && code == SEGV_ACCERR
        && err & 2 != 0
        && uk_plat::cpu::write_fault(addr as usize)
    {
        return;
    }
    let process = uk_plat::cpu::fault_ends_process();
    let mut line = [0u8; 256];
    let n = report(&mut line, sig, code, addr, rip, err & 2 != 0, process);
    host::write(2, &line[..n]);
    if process {
        // Return into the kernel on the exit stack, as if `exit_process(sig)` had
        // been called there (rsp 8 below a 16-byte boundary at its entry).
        let top = (core::ptr::addr_of_mut!(EXIT_STACK) as usize
            + core::mem::size_of::<[u128; 4096]>())
            & !15;
        let g = |i: usize| (ctx as usize + GREGS + i * 8) as *mut u64;
        // SAFETY: `ctx` is this handler's ucontext (gregs at 40); the host reads it
        // back at rt_sigreturn, which resumes at exit_process on the exit stack.
        unsafe {
            *g(reg::RIP) = exit_process as *const () as usize as u64;
            *g(reg::RSP) = (top - 8) as u64;
            *g(reg::RDI) = sig as u64;
            *g(reg::EFL) &= !DF;
        }
        return;
    }
    // Returning repeats the access with the signal blocked in the restored mask: the
    // host cannot deliver it, so its default action ends the image.
    let block = [SIGSEGV, SIGBUS, SIGFPE, SIGILL]
        .iter()
        .fold(0u64, |m, s| m | 1u64 << (s - 1));
    // SAFETY: `ctx` is this handler's ucontext; uc_sigmask (8 bytes) is at 296.
    unsafe {
        let m = (ctx as usize + SIGMASK) as *mut u64;
        *m |= block;
    }
}

/// Install the fault report (at boot, before the host-call filter closes).
pub fn install() {
    let stack = [
        // Only the address is taken; from now on the host alone uses it, as a stack.
        core::ptr::addr_of_mut!(ALT_STACK) as usize,
        0,
        core::mem::size_of::<[u128; 4096]>(),
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
        (SA_SIGINFO | SA_ONSTACK | SA_RESTORER) as usize,
        host::uk_linuxu_sigreturn as *const () as usize,
        usize::MAX,
    ];
    // A division by zero or an illegal instruction in one process of the image ends that
    // process (SIGFPE, SIGILL), as a bad access does, not the whole image.
    for sig in [SIGSEGV, SIGBUS, SIGFPE, SIGILL] {
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
        let n = report(&mut out, sig, code, addr, 0x401000, write, false);
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
        assert_eq!(
            line(8, 1, 0, false),
            "ukit: linuxu: fatal SIGFPE at rip 0x401000: an arithmetic fault (a division by zero or overflow)\n"
        );
        assert!(line(11, 1, u64::MAX, false).contains("0xffffffffffffffff"));
        let mut out = [0u8; 256];
        let n = report(&mut out, 11, 1, 0, 0x401000, true, true);
        assert!(out[..n].starts_with(b"ukit: linuxu: process killed by SIGSEGV: write at 0x0"));
    }
}
