//! The host-call filter: a seccomp BPF program allowing [`host::RUNTIME_CALLS`],
//! `mmap` with `MAP_FIXED` of the image's memfd or of anonymous memory (what
//! `crate::memory` does to alias pages), and `ioctl` of the console streams' terminal
//! settings (`crate::console`), nothing else.
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

use uk_abi::ioctl::{TCGETS, TCSETS, TCSETSF, TCSETSW};
use uk_abi::mman::{MAP_ANONYMOUS, MAP_FIXED};
use uk_abi::seccomp::{
    AUDIT_ARCH_X86_64, BPF_JEQ_K, BPF_JGE_K, BPF_JSET_K, BPF_LD_W_ABS, BPF_RET_K,
    SECCOMP_DATA_ARCH, SECCOMP_DATA_ARGS, SECCOMP_DATA_NR, SECCOMP_RET_ALLOW as RET_ALLOW,
    SECCOMP_RET_KILL_PROCESS as RET_KILL_PROCESS, SECCOMP_RET_TRAP as RET_TRAP,
    SECCOMP_SET_MODE_FILTER, X32_SYSCALL_BIT,
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
/// The ioctl block: its compare, then the fd check (2) and the command checks (1 + 4).
const IO: usize = 1 + 2 + 5;
/// 4 header instructions, one compare per allowed call, the ioctl block, the mmap
/// compare and its 7 argument checks, then TRAP, ALLOW, KILL.
const LEN: usize = 4 + N + IO + 1 + 7 + 3;
/// Where the memfd's number goes (patched in at install).
const MEMFD_AT: usize = 4 + N + IO + 1 + 3;

/// The low 32 bits of system call argument `i` (seccomp_data.args, little-endian).
const fn arg(i: u32) -> u32 {
    SECCOMP_DATA_ARGS + 8 * i
}

/// Build the filter program for the memfd `memfd`.
const fn program(memfd: u32) -> [SockFilter; LEN] {
    let mut p = [stmt(0, 0); LEN];
    let mm = 4 + N + IO + 1;
    let trap = mm + 7;
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
    // ioctl: the console streams' terminal settings only (fd 0-2; TCGETS, TCSETS,
    // TCSETSW, TCSETSF), what `crate::console` and console_tcgets/tcsets use. The fd is
    // an int and the command 32 bits for the host: the upper halves are not looked at.
    let io = 4 + N;
    let mmap_at = io + IO;
    p[io] = jump(BPF_JEQ_K, nr::SYS_IOCTL as u32, 0, (mmap_at - io - 1) as u8);
    p[io + 1] = stmt(BPF_LD_W_ABS, arg(0));
    p[io + 2] = jump(BPF_JGE_K, 3, (trap - io - 3) as u8, 0);
    p[io + 3] = stmt(BPF_LD_W_ABS, arg(1));
    let mut k = 0;
    while k < 4 {
        let at = io + 4 + k;
        let cmd = [TCGETS, TCSETS, TCSETSW, TCSETSF][k];
        let no = if k == 3 { (trap - at - 1) as u8 } else { 0 };
        p[at] = jump(BPF_JEQ_K, cmd, (allow - at - 1) as u8, no);
        k += 1;
    }
    // mmap: flags must hold MAP_FIXED; the fd is the memfd, or -1 with MAP_ANONYMOUS.
    // (The upper halves of the arguments are not looked at: the fd is an int and the
    // flags are 32 bits for the host too.)
    let at = mmap_at;
    p[at] = jump(BPF_JEQ_K, nr::SYS_MMAP as u32, 0, (trap - at - 1) as u8);
    p[mm] = stmt(BPF_LD_W_ABS, arg(3));
    p[mm + 1] = jump(BPF_JSET_K, MAP_FIXED, 0, (trap - mm - 2) as u8);
    p[mm + 2] = stmt(BPF_LD_W_ABS, arg(4));
    p[MEMFD_AT] = jump(BPF_JEQ_K, memfd, (allow - mm - 4) as u8, 0);
    p[mm + 4] = jump(BPF_JEQ_K, u32::MAX, 0, (trap - mm - 5) as u8);
    p[mm + 5] = stmt(BPF_LD_W_ABS, arg(3));
    p[mm + 6] = jump(
        BPF_JSET_K,
        MAP_ANONYMOUS,
        (allow - mm - 7) as u8,
        (trap - mm - 7) as u8,
    );
    p[trap] = stmt(BPF_RET_K, RET_TRAP);
    p[allow] = stmt(BPF_RET_K, RET_ALLOW);
    p[kill] = stmt(BPF_RET_K, RET_KILL_PROCESS);
    p
}

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
    let filter = program(crate::memory::memfd() as u32);
    let prog = SockFprog {
        len: LEN as u16,
        filter: filter.as_ptr(),
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

    /// Run the program the way the kernel does, on (nr, args).
    fn run(p: &[SockFilter], nr: usize, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&(nr as u32).to_le_bytes());
        data[4..8].copy_from_slice(&AUDIT_ARCH_X86_64.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let f = p[pc];
            pc += 1;
            match f.code {
                BPF_LD_W_ABS => {
                    let o = f.k as usize;
                    acc = u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
                }
                BPF_RET_K => return f.k,
                BPF_JEQ_K | BPF_JGE_K | BPF_JSET_K => {
                    let t = match f.code {
                        BPF_JEQ_K => acc == f.k,
                        BPF_JGE_K => acc >= f.k,
                        _ => acc & f.k != 0,
                    };
                    pc += if t { f.jt } else { f.jf } as usize;
                }
                c => panic!("unexpected instruction {c:#x}"),
            }
        }
    }

    #[test]
    fn allows_the_list_and_narrow_mmaps_only() {
        let p = program(5);
        assert_eq!(p[MEMFD_AT].k, 5);
        for &n in RUNTIME_CALLS {
            assert_eq!(run(&p, n, [0; 6]), RET_ALLOW);
        }
        assert_eq!(run(&p, nr::SYS_OPENAT, [0; 6]), RET_ALLOW);
        assert_eq!(run(&p, nr::SYS_EXECVE, [0; 6]), RET_TRAP);
        assert_eq!(run(&p, nr::SYS_SOCKET, [0; 6]), RET_TRAP);
        let (fixed, anon, shared) = (MAP_FIXED as u64, MAP_ANONYMOUS as u64, 1u64);
        let m = |flags: u64, fd: u64| run(&p, nr::SYS_MMAP, [0x1000, 4096, 3, flags, fd, 0]);
        assert_eq!(m(shared | fixed, 5), RET_ALLOW, "the memfd, fixed");
        assert_eq!(
            m(2 | anon | fixed, u32::MAX as u64),
            RET_ALLOW,
            "anonymous, fixed"
        );
        assert_eq!(m(shared, 5), RET_TRAP, "not fixed");
        assert_eq!(m(shared | fixed, 6), RET_TRAP, "another descriptor");
        assert_eq!(
            m(2 | fixed, u32::MAX as u64),
            RET_TRAP,
            "fd -1 without MAP_ANONYMOUS"
        );
        // ioctl: the console streams' termios calls only.
        let io = |fd: u64, cmd: u32| run(&p, nr::SYS_IOCTL, [fd, cmd as u64, 0x1000, 0, 0, 0]);
        use uk_abi::ioctl::TIOCGWINSZ;
        for cmd in [TCGETS, TCSETS, TCSETSW, TCSETSF] {
            assert_eq!(io(0, cmd), RET_ALLOW);
            assert_eq!(io(2, cmd), RET_ALLOW);
            assert_eq!(io(3, cmd), RET_TRAP, "not a console stream");
        }
        assert_eq!(io(1, TIOCGWINSZ), RET_TRAP, "another command");
        assert_eq!(io(1, 0x5409), RET_TRAP, "TCSBRK");
        // Another architecture's calls and x32 numbers end the process.
        let mut d = p;
        d[1].k = 0;
        assert_eq!(run(&d, nr::SYS_READ, [0; 6]), RET_KILL_PROCESS);
        assert_eq!(run(&p, X32_SYSCALL_BIT as usize, [0; 6]), RET_KILL_PROCESS);
    }
}
