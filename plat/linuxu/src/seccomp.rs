//! The host-call filter: a seccomp BPF program allowing [`host::RUNTIME_CALLS`] only.
//!
//! Anything else raises SIGSYS, whose handler reports the call number and stops the
//! image: a host call outside the list is a bug in the platform, and a clear report
//! beats a silent kill.

use crate::host::{self, nr, RUNTIME_CALLS};

#[repr(C)]
#[derive(Clone, Copy)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

use uk_abi::seccomp::{
    AUDIT_ARCH_X86_64, BPF_JEQ_K, BPF_JGE_K, BPF_LD_W_ABS, BPF_RET_K, SECCOMP_DATA_ARCH,
    SECCOMP_DATA_NR, SECCOMP_RET_ALLOW as RET_ALLOW, SECCOMP_RET_KILL_PROCESS as RET_KILL_PROCESS,
    SECCOMP_RET_TRAP as RET_TRAP, SECCOMP_SET_MODE_FILTER, X32_SYSCALL_BIT,
};
use uk_abi::signal::{SA_RESTORER, SA_SIGINFO, SIGSYS};

const fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}
const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

const N: usize = RUNTIME_CALLS.len();
/// 4 header instructions, one compare per allowed call, then TRAP, ALLOW, KILL.
const LEN: usize = 4 + N + 3;

/// Build the filter program.
const fn program() -> [SockFilter; LEN] {
    let mut p = [stmt(0, 0); LEN];
    let trap = 4 + N;
    let allow = trap + 1;
    let kill = trap + 2;
    p[0] = stmt(BPF_LD_W_ABS, SECCOMP_DATA_ARCH);
    p[1] = jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 0, (kill - 2) as u8);
    p[2] = stmt(BPF_LD_W_ABS, SECCOMP_DATA_NR);
    p[3] = jump(BPF_JGE_K, X32_SYSCALL_BIT, (kill - 4) as u8, 0);
    let mut i = 0;
    while i < N {
        let at = 4 + i;
        p[at] = jump(
            BPF_JEQ_K,
            RUNTIME_CALLS[i] as u32,
            (allow - at - 1) as u8,
            0,
        );
        i += 1;
    }
    p[trap] = stmt(BPF_RET_K, RET_TRAP);
    p[allow] = stmt(BPF_RET_K, RET_ALLOW);
    p[kill] = stmt(BPF_RET_K, RET_KILL_PROCESS);
    p
}

static PROGRAM: [SockFilter; LEN] = program();

/// SIGSYS from the filter: report the offending call and stop.
extern "C" fn on_sigsys(_sig: i32, info: *const u8, _ctx: *const u8) {
    // SAFETY: the host passes a valid siginfo_t; for SIGSYS, si_syscall is the int
    // at offset 24.
    let n = unsafe { core::ptr::read_unaligned(info.add(24) as *const i32) };
    let mut buf = [0u8; 12];
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    host::write(2, b"ukit: linuxu: host system call ");
    host::write(2, &buf[i..]);
    host::write(
        2,
        b" is outside the platform's host-call list; stopping (a ukit bug: please report it)\n",
    );
    host::exit_group(128 + 31);
}

/// Install the SIGSYS reporter and the filter.
pub fn install() -> Result<(), &'static str> {
    let act = [
        on_sigsys as *const () as usize,
        (SA_SIGINFO | SA_RESTORER) as usize,
        host::uk_linuxu_sigreturn as *const () as usize,
        0,
    ];
    if host::call(
        nr::SYS_RT_SIGACTION,
        [SIGSYS, act.as_ptr() as usize, 0, 8, 0, 0],
    ) < 0
    {
        return Err("rt_sigaction(SIGSYS) failed");
    }
    use uk_abi::prctl::PR_SET_NO_NEW_PRIVS;
    if host::call(nr::SYS_PRCTL, [PR_SET_NO_NEW_PRIVS as usize, 1, 0, 0, 0, 0]) < 0 {
        return Err("prctl(PR_SET_NO_NEW_PRIVS) failed");
    }
    let prog = SockFprog {
        len: LEN as u16,
        filter: PROGRAM.as_ptr(),
    };
    if host::call(
        nr::SYS_SECCOMP,
        [
            SECCOMP_SET_MODE_FILTER as usize,
            0,
            &prog as *const SockFprog as usize,
            0,
            0,
            0,
        ],
    ) < 0
    {
        return Err(
            "seccomp(SECCOMP_SET_MODE_FILTER) failed (is seccomp enabled in the host kernel?)",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_land_on_the_right_returns() {
        let p = program();
        let trap = 4 + N;
        // Arch mismatch jumps to KILL.
        assert_eq!(1 + 1 + p[1].jf as usize, trap + 2);
        assert_eq!(p[trap + 2].k, RET_KILL_PROCESS);
        // x32 numbers jump to KILL.
        assert_eq!(3 + 1 + p[3].jt as usize, trap + 2);
        // Each allowed number jumps to ALLOW.
        for (i, &nr) in RUNTIME_CALLS.iter().enumerate() {
            let at = 4 + i;
            assert_eq!(p[at].k as usize, nr);
            assert_eq!(at + 1 + p[at].jt as usize, trap + 1);
            assert_eq!(p[trap + 1].k, RET_ALLOW);
        }
        // Falling through every compare reaches TRAP.
        assert_eq!(p[trap].k, RET_TRAP);
    }
}
