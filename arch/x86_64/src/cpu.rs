//! CPU feature probing (CPUID) and hardware random numbers.

use core::arch::x86_64::{__cpuid_count, CpuidResult};

/// Execute CPUID for `leaf`/`subleaf`.
pub fn cpuid(leaf: u32, subleaf: u32) -> CpuidResult {
    // SAFETY: CPUID is unprivileged and exists on every x86_64 CPU; the intrinsic takes
    // care of RBX, which LLVM reserves.
    #[allow(unused_unsafe)]
    unsafe {
        __cpuid_count(leaf, subleaf)
    }
}

/// The CPU features ukit cares about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    pub sse3: bool,
    pub ssse3: bool,
    pub sse4_1: bool,
    pub sse4_2: bool,
    pub popcnt: bool,
    pub xsave: bool,
    pub osxsave: bool,
    pub avx: bool,
    pub avx2: bool,
    pub rdrand: bool,
    pub rdseed: bool,
    pub fsgsbase: bool,
    pub tsc_deadline: bool,
    pub x2apic: bool,
    pub hypervisor: bool,
    pub invariant_tsc: bool,
    pub pdpe1gb: bool,
    pub nx: bool,
    pub erms: bool,
    pub fsrm: bool,
}

impl Features {
    /// Decode the feature bits from raw CPUID leaves 1, 7.0, 0x80000001 and 0x80000007.
    /// Separate from [`features`] so that the decoding is unit-testable.
    pub fn decode(l1: CpuidResult, l7: CpuidResult, e1: CpuidResult, e7: CpuidResult) -> Self {
        let bit = |r: u32, b: u32| r & (1 << b) != 0;
        Features {
            sse3: bit(l1.ecx, 0),
            ssse3: bit(l1.ecx, 9),
            sse4_1: bit(l1.ecx, 19),
            sse4_2: bit(l1.ecx, 20),
            x2apic: bit(l1.ecx, 21),
            popcnt: bit(l1.ecx, 23),
            tsc_deadline: bit(l1.ecx, 24),
            xsave: bit(l1.ecx, 26),
            osxsave: bit(l1.ecx, 27),
            avx: bit(l1.ecx, 28),
            rdrand: bit(l1.ecx, 30),
            hypervisor: bit(l1.ecx, 31),
            fsgsbase: bit(l7.ebx, 0),
            avx2: bit(l7.ebx, 5),
            erms: bit(l7.ebx, 9),
            rdseed: bit(l7.ebx, 18),
            fsrm: bit(l7.edx, 4),
            nx: bit(e1.edx, 20),
            pdpe1gb: bit(e1.edx, 26),
            invariant_tsc: bit(e7.edx, 8),
        }
    }
}

/// The probed features, packed (bit 63: valid). CPUID traps to the hypervisor in a VM
/// (about 7 µs each on the nested-virtualisation hosts we test on), so the CPU is
/// probed once and the answer kept.
static CACHE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
const VALID: u64 = 1 << 63;

impl Features {
    fn bits(&self) -> [bool; 20] {
        [
            self.sse3,
            self.ssse3,
            self.sse4_1,
            self.sse4_2,
            self.popcnt,
            self.xsave,
            self.osxsave,
            self.avx,
            self.avx2,
            self.rdrand,
            self.rdseed,
            self.fsgsbase,
            self.tsc_deadline,
            self.x2apic,
            self.hypervisor,
            self.invariant_tsc,
            self.pdpe1gb,
            self.nx,
            self.erms,
            self.fsrm,
        ]
    }

    fn pack(&self) -> u64 {
        self.bits()
            .iter()
            .enumerate()
            .fold(VALID, |v, (i, b)| v | ((*b as u64) << i))
    }

    fn unpack(v: u64) -> Features {
        let b = |i: u32| v & (1 << i) != 0;
        Features {
            sse3: b(0),
            ssse3: b(1),
            sse4_1: b(2),
            sse4_2: b(3),
            popcnt: b(4),
            xsave: b(5),
            osxsave: b(6),
            avx: b(7),
            avx2: b(8),
            rdrand: b(9),
            rdseed: b(10),
            fsgsbase: b(11),
            tsc_deadline: b(12),
            x2apic: b(13),
            hypervisor: b(14),
            invariant_tsc: b(15),
            pdpe1gb: b(16),
            nx: b(17),
            erms: b(18),
            fsrm: b(19),
        }
    }
}

/// The running CPU's features (probed on first use, then cached).
pub fn features() -> Features {
    let v = CACHE.load(core::sync::atomic::Ordering::Relaxed);
    if v & VALID != 0 {
        return Features::unpack(v);
    }
    let f = probe();
    CACHE.store(f.pack(), core::sync::atomic::Ordering::Relaxed);
    f
}

/// Probe the running CPU with CPUID.
pub fn probe() -> Features {
    let max = cpuid(0, 0).eax;
    let emax = cpuid(0x8000_0000, 0).eax;
    let zero = CpuidResult {
        eax: 0,
        ebx: 0,
        ecx: 0,
        edx: 0,
    };
    let l1 = cpuid(1, 0);
    let l7 = if max >= 7 { cpuid(7, 0) } else { zero };
    let e1 = if emax >= 0x8000_0001 {
        cpuid(0x8000_0001, 0)
    } else {
        zero
    };
    let e7 = if emax >= 0x8000_0007 {
        cpuid(0x8000_0007, 0)
    } else {
        zero
    };
    Features::decode(l1, l7, e1, e7)
}

/// One 64-bit value from RDSEED (true entropy) or, failing that, RDRAND. Retries a
/// bounded number of times, as Intel recommends; `None` when the CPU has neither or the
/// instruction keeps failing (a broken or exhausted generator must not hang boot).
pub fn hw_random(f: &Features) -> Option<u64> {
    for _ in 0..32 {
        let mut v: u64 = 0;
        if f.rdseed {
            // SAFETY: RDSEED exists (CPUID.7.EBX[18]); it only writes the output register.
            let ok = unsafe { core::arch::x86_64::_rdseed64_step(&mut v) };
            if ok == 1 {
                return Some(v);
            }
        }
        if f.rdrand {
            // SAFETY: RDRAND exists (CPUID.1.ECX[30]); it only writes the output register.
            let ok = unsafe { core::arch::x86_64::_rdrand64_step(&mut v) };
            if ok == 1 {
                return Some(v);
            }
        }
        if !f.rdseed && !f.rdrand {
            return None;
        }
        core::hint::spin_loop();
    }
    None
}

/// Write the %fs base with WRFSBASE.
///
/// # Safety
/// The OS must have set CR4.FSGSBASE (Linux reports it in AT_HWCAP2 bit 1; on kvm we set
/// it ourselves). `base` becomes the thread pointer of all following code.
#[inline]
pub unsafe fn wrfsbase(base: u64) {
    // SAFETY: the caller guarantees the instruction is enabled.
    unsafe { core::arch::asm!("wrfsbase {}", in(reg) base, options(nostack, preserves_flags)) };
}

/// Read the %fs base with RDFSBASE.
///
/// # Safety
/// As for [`wrfsbase`].
#[inline]
pub unsafe fn rdfsbase() -> u64 {
    let v: u64;
    // SAFETY: the caller guarantees the instruction is enabled.
    unsafe { core::arch::asm!("rdfsbase {}", out(reg) v, options(nostack, preserves_flags)) };
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_bits() {
        let z = CpuidResult {
            eax: 0,
            ebx: 0,
            ecx: 0,
            edx: 0,
        };
        let l1 = CpuidResult {
            ecx: (1 << 30) | (1 << 26),
            ..z
        };
        let l7 = CpuidResult {
            ebx: 1 | (1 << 18),
            ..z
        };
        let f = Features::decode(l1, l7, z, z);
        assert!(f.rdrand && f.xsave && f.fsgsbase && f.rdseed);
        assert!(!f.avx && !f.nx && !f.sse3);
    }

    #[test]
    fn cache_round_trips() {
        let f = probe();
        assert_eq!(Features::unpack(f.pack()), f);
        assert_eq!(features(), f);
        assert_eq!(features(), f);
    }

    #[test]
    fn probe_host() {
        // Every x86_64 CPU has SSE2; leaf 1 must answer. We cannot know more about the
        // host, but the probe must not fault and the vendor leaf must be sane.
        let f = features();
        let l0 = cpuid(0, 0);
        assert!(l0.eax >= 1);
        if f.rdrand || f.rdseed {
            assert!(hw_random(&f).is_some());
        } else {
            assert!(hw_random(&f).is_none());
        }
    }
}
