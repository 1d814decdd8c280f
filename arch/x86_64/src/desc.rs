//! Descriptor tables for ring 0 (kvm): GDT entries, the 64-bit TSS (which holds the
//! interrupt stacks) and IDT gates. Encoding is pure and unit-tested; loading the tables
//! (`lgdt`/`lidt`/`ltr`) is `unsafe`.

use core::arch::asm;

/// Flat 64-bit code segment (L=1, P=1, DPL 0, execute/read).
pub const GDT_CODE64: u64 = 0x00af_9a00_0000_ffff;
/// Flat data segment (P=1, DPL 0, read/write).
pub const GDT_DATA: u64 = 0x00cf_9200_0000_ffff;

/// The 64-bit task-state segment: on x86_64 only the stack pointers matter. `ist[i]` is
/// the stack for IDT gates with IST index `i + 1`.
#[repr(C, packed(4))]
pub struct Tss {
    _r0: u32,
    pub rsp: [u64; 3],
    _r1: u64,
    pub ist: [u64; 7],
    _r2: u64,
    _r3: u16,
    /// Offset of the I/O permission bitmap; past the limit means "none".
    pub iomap_base: u16,
}

impl Tss {
    pub const fn new() -> Tss {
        Tss {
            _r0: 0,
            rsp: [0; 3],
            _r1: 0,
            ist: [0; 7],
            _r2: 0,
            _r3: 0,
            iomap_base: core::mem::size_of::<Tss>() as u16,
        }
    }
}

impl Default for Tss {
    fn default() -> Self {
        Self::new()
    }
}

/// The two GDT slots of an available 64-bit TSS at `base`.
pub fn tss_descriptor(base: u64) -> [u64; 2] {
    let limit = (core::mem::size_of::<Tss>() - 1) as u64;
    let lo = (limit & 0xffff)
        | (base & 0xff_ffff) << 16
        | 0x89 << 40 // present, type 9 (available 64-bit TSS)
        | ((limit >> 16) & 0xf) << 48
        | ((base >> 24) & 0xff) << 56;
    [lo, base >> 32]
}

/// An IDT interrupt gate (interrupts stay disabled in the handler) to `handler` in code
/// segment `selector`, on interrupt stack `ist` (1-7; 0 = the current stack).
pub fn interrupt_gate(handler: u64, selector: u16, ist: u8) -> [u64; 2] {
    let lo = (handler & 0xffff)
        | (selector as u64) << 16
        | ((ist & 7) as u64) << 32
        | 0x8e << 40 // present, DPL 0, 64-bit interrupt gate
        | ((handler >> 16) & 0xffff) << 48;
    [lo, handler >> 32]
}

/// The operand of `lgdt`/`lidt`.
#[repr(C, packed)]
pub struct TablePtr {
    pub limit: u16,
    pub base: u64,
}

/// Load the GDT.
///
/// # Safety
/// Ring 0; `p` must describe a GDT that stays alive and contains the selectors in use.
pub unsafe fn lgdt(p: &TablePtr) {
    // SAFETY: the caller guarantees the table.
    unsafe { asm!("lgdt [{}]", in(reg) p, options(readonly, nostack, preserves_flags)) };
}

/// Load the IDT.
///
/// # Safety
/// Ring 0; `p` must describe an IDT that stays alive with valid gates.
pub unsafe fn lidt(p: &TablePtr) {
    // SAFETY: the caller guarantees the table.
    unsafe { asm!("lidt [{}]", in(reg) p, options(readonly, nostack, preserves_flags)) };
}

/// Load the task register.
///
/// # Safety
/// Ring 0; `sel` must select an available TSS descriptor in the loaded GDT.
pub unsafe fn ltr(sel: u16) {
    // SAFETY: the caller guarantees the selector.
    unsafe { asm!("ltr {0:x}", in(reg) sel, options(nostack, preserves_flags)) };
}

/// Exception names by vector, for fault reports.
pub fn exception_name(v: u64) -> &'static str {
    const NAMES: [&str; 32] = [
        "#DE divide error",
        "#DB debug",
        "NMI",
        "#BP breakpoint",
        "#OF overflow",
        "#BR bound range",
        "#UD invalid opcode",
        "#NM device not available",
        "#DF double fault",
        "coprocessor segment overrun",
        "#TS invalid TSS",
        "#NP segment not present",
        "#SS stack-segment fault",
        "#GP general protection",
        "#PF page fault",
        "reserved",
        "#MF x87 floating point",
        "#AC alignment check",
        "#MC machine check",
        "#XM SIMD floating point",
        "#VE virtualization",
        "#CP control protection",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "#HV hypervisor injection",
        "#VC VMM communication",
        "#SX security",
        "reserved",
    ];
    NAMES.get(v as usize).copied().unwrap_or("interrupt")
}

/// Vectors for which the CPU pushes an error code.
pub const ERROR_CODE_VECTORS: u32 = (1 << 8)
    | (1 << 10)
    | (1 << 11)
    | (1 << 12)
    | (1 << 13)
    | (1 << 14)
    | (1 << 17)
    | (1 << 21)
    | (1 << 29)
    | (1 << 30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tss_is_104_bytes() {
        assert_eq!(core::mem::size_of::<Tss>(), 104);
        assert_eq!(core::mem::offset_of!(Tss, ist), 36);
    }

    #[test]
    fn tss_descriptor_fields() {
        let [lo, hi] = tss_descriptor(0x1234_5678_9abc_def0);
        assert_eq!(lo & 0xffff, 103, "limit");
        assert_eq!((lo >> 16) & 0xff_ffff, 0xbc_def0, "base 0..23");
        assert_eq!((lo >> 40) & 0xff, 0x89, "present available TSS");
        assert_eq!(lo >> 56, 0x9a, "base 24..31");
        assert_eq!(hi, 0x1234_5678, "base 32..63");
    }

    #[test]
    fn gate_fields() {
        let [lo, hi] = interrupt_gate(0xffff_8000_1234_5678, 8, 3);
        assert_eq!(lo & 0xffff, 0x5678);
        assert_eq!((lo >> 16) & 0xffff, 8);
        assert_eq!((lo >> 32) & 7, 3);
        assert_eq!((lo >> 40) & 0xff, 0x8e);
        assert_eq!(lo >> 48, 0x1234);
        assert_eq!(hi, 0xffff_8000);
    }

    #[test]
    fn names_and_error_codes() {
        assert_eq!(exception_name(14), "#PF page fault");
        assert_eq!(exception_name(200), "interrupt");
        let has_code = |v: u32| ERROR_CODE_VECTORS & (1 << v) != 0;
        assert!(has_code(14) && has_code(8) && has_code(30));
        assert!(!has_code(3) && !has_code(0) && !has_code(31));
        // The value the interrupt stubs hard-code must agree.
        assert_eq!(ERROR_CODE_VECTORS, 0x6022_7d00);
    }
}
