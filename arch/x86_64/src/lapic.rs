//! The local APIC in xAPIC (MMIO) mode: enable, end-of-interrupt, and the timer in
//! one-shot or TSC-deadline mode. xAPIC works on every hypervisor and on QEMU's TCG
//! (x2APIC does not under TCG in QEMU 7); the MMIO page must be mapped uncached.

use crate::ring0::{msr, rdmsr, wrmsr};

const ID: usize = 0x20;
const EOI: usize = 0xb0;
const SVR: usize = 0xf0;
const LVT_TIMER: usize = 0x320;
const TIMER_INIT: usize = 0x380;
const TIMER_CUR: usize = 0x390;
const TIMER_DIV: usize = 0x3e0;

const APIC_BASE_ENABLE: u64 = 1 << 11;
const LVT_MASKED: u32 = 1 << 16;
const LVT_TSC_DEADLINE: u32 = 2 << 17;

/// One local APIC, at the physical (= virtual, identity-mapped) address `base`.
#[derive(Clone, Copy, Debug)]
pub struct Lapic {
    base: usize,
}

impl Lapic {
    /// The APIC base from IA32_APIC_BASE, with the APIC globally enabled.
    ///
    /// # Safety
    /// Ring 0; the returned page must be mapped (uncached) before any other method runs.
    pub unsafe fn probe() -> Lapic {
        // SAFETY: IA32_APIC_BASE exists on every x86_64 CPU (caller is in ring 0).
        let v = unsafe { rdmsr(msr::APIC_BASE) };
        if v & APIC_BASE_ENABLE == 0 {
            // SAFETY: setting the global enable bit keeps the base unchanged.
            unsafe { wrmsr(msr::APIC_BASE, v | APIC_BASE_ENABLE) };
        }
        Lapic {
            base: (v & 0x000f_ffff_ffff_f000) as usize,
        }
    }

    /// Physical address of the register page.
    pub fn base(&self) -> usize {
        self.base
    }

    fn read(&self, reg: usize) -> u32 {
        // SAFETY: `probe`'s caller mapped the register page; registers are 32-bit
        // aligned MMIO.
        unsafe { core::ptr::read_volatile((self.base + reg) as *const u32) }
    }

    fn write(&self, reg: usize, v: u32) {
        // SAFETY: as for `read`.
        unsafe { core::ptr::write_volatile((self.base + reg) as *mut u32, v) }
    }

    /// The APIC id of this CPU.
    pub fn id(&self) -> u32 {
        self.read(ID) >> 24
    }

    /// Software-enable the APIC with `spurious` as its spurious vector, timer masked.
    pub fn enable(&self, spurious: u8) {
        self.write(SVR, 0x100 | spurious as u32);
        self.write(LVT_TIMER, LVT_MASKED);
        self.write(TIMER_DIV, 0xb); // divide by 1
    }

    /// Signal end of interrupt.
    pub fn eoi(&self) {
        self.write(EOI, 0);
    }

    /// Fire `vector` once after `ticks` timer ticks (0 stops the timer).
    pub fn oneshot(&self, vector: u8, ticks: u32) {
        self.write(LVT_TIMER, vector as u32);
        self.write(TIMER_INIT, ticks);
    }

    /// Fire `vector` once when the TSC reaches `tsc` (needs CPUID.1:ECX.TSC_DEADLINE).
    ///
    /// # Safety
    /// The CPU must support TSC-deadline mode.
    pub unsafe fn deadline(&self, vector: u8, tsc: u64) {
        self.write(LVT_TIMER, vector as u32 | LVT_TSC_DEADLINE);
        // SAFETY: the caller guarantees the MSR exists.
        unsafe { wrmsr(msr::TSC_DEADLINE, tsc) };
    }

    /// Stop the timer (both modes).
    pub fn stop(&self, tsc_deadline: bool) {
        if tsc_deadline {
            // SAFETY: only called with tsc_deadline when the CPU has the MSR.
            unsafe { wrmsr(msr::TSC_DEADLINE, 0) };
        }
        self.write(TIMER_INIT, 0);
        self.write(LVT_TIMER, LVT_MASKED);
    }

    /// The current count of the one-shot timer (for calibration).
    pub fn current(&self) -> u32 {
        self.read(TIMER_CUR)
    }
}
