//! Whole FPU/SSE state save and restore (FXSAVE64), for paths that take a thread off the
//! CPU at an arbitrary instruction (interrupts, signal delivery) rather than at a call.

/// The 512-byte FXSAVE area, 16-byte aligned as the instruction requires.
#[repr(C, align(16))]
#[derive(Clone)]
pub struct FpuState(pub [u8; 512]);

impl Default for FpuState {
    fn default() -> Self {
        let mut s = FpuState([0; 512]);
        // FCW at offset 0, MXCSR at offset 24: the reset values.
        s.0[0..2].copy_from_slice(&crate::context::FCW_DEFAULT.to_le_bytes());
        s.0[24..28].copy_from_slice(&crate::context::MXCSR_DEFAULT.to_le_bytes());
        s
    }
}

impl FpuState {
    /// Save the running CPU's x87/SSE state here.
    pub fn save(&mut self) {
        // SAFETY: the area is 512 bytes and 16-byte aligned (repr align); FXSAVE64 is
        // available on every x86_64 CPU.
        unsafe { core::arch::x86_64::_fxsave64(self.0.as_mut_ptr()) }
    }

    /// Load this state into the CPU.
    pub fn restore(&self) {
        // SAFETY: as for `save`; the area holds a state made by `save` or `default`,
        // whose reserved MXCSR bits are zero, so FXRSTOR64 cannot fault.
        unsafe { core::arch::x86_64::_fxrstor64(self.0.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_restore_mxcsr_round_trip() {
        let mut saved = FpuState::default();
        saved.save();
        let mxcsr = u32::from_le_bytes(saved.0[24..28].try_into().unwrap());
        // Change the rounding mode in a copy and load it, then restore the original.
        let mut changed = saved.clone();
        changed.0[24..28].copy_from_slice(&(mxcsr | 0x6000).to_le_bytes());
        changed.restore();
        let mut probe = FpuState::default();
        probe.save();
        let now = u32::from_le_bytes(probe.0[24..28].try_into().unwrap());
        saved.restore();
        assert_eq!(now & 0x6000, 0x6000);
    }
}
