//! The two virtio transports a kvm image meets: memory-mapped registers (`virtio-mmio`,
//! QEMU `microvm` and Firecracker; version 1 "legacy" as QEMU offers by default, and
//! version 2) and PCI with the modern (virtio 1.x) capability layout (QEMU `pc`/`q35`).
//!
//! Both are plain register windows that the device driver ([`super::net`]) drives
//! through one enum; everything here is MMIO at addresses mapped uncached at discovery.

/// Device status bits.
pub const S_ACKNOWLEDGE: u8 = 1;
pub const S_DRIVER: u8 = 2;
pub const S_DRIVER_OK: u8 = 4;
pub const S_FEATURES_OK: u8 = 8;
pub const S_FAILED: u8 = 128;

/// Feature bit: the virtio 1.x interface (required by modern transports).
pub const F_VERSION_1: u64 = 1 << 32;
/// Feature bit: descriptors may lay out headers and data freely (legacy devices).
pub const F_ANY_LAYOUT: u64 = 1 << 27;

/// "no MSI-X vector" in the PCI common configuration.
pub const NO_VECTOR: u16 = 0xffff;

/// A register window at an identity-mapped address.
#[derive(Clone, Copy, Debug)]
pub struct Regs(pub usize);

impl Regs {
    pub fn r8(&self, off: usize) -> u8 {
        // SAFETY: the window was mapped uncached at discovery and `off` is a register of
        // the device's layout (callers use the constants below).
        unsafe { core::ptr::read_volatile((self.0 + off) as *const u8) }
    }
    pub fn r16(&self, off: usize) -> u16 {
        // SAFETY: as for `r8`.
        unsafe { core::ptr::read_volatile((self.0 + off) as *const u16) }
    }
    pub fn r32(&self, off: usize) -> u32 {
        // SAFETY: as for `r8`.
        unsafe { core::ptr::read_volatile((self.0 + off) as *const u32) }
    }
    pub fn w8(&self, off: usize, v: u8) {
        // SAFETY: as for `r8`.
        unsafe { core::ptr::write_volatile((self.0 + off) as *mut u8, v) }
    }
    pub fn w16(&self, off: usize, v: u16) {
        // SAFETY: as for `r8`.
        unsafe { core::ptr::write_volatile((self.0 + off) as *mut u16, v) }
    }
    pub fn w32(&self, off: usize, v: u32) {
        // SAFETY: as for `r8`.
        unsafe { core::ptr::write_volatile((self.0 + off) as *mut u32, v) }
    }
    pub fn w64(&self, off: usize, v: u64) {
        self.w32(off, v as u32);
        self.w32(off + 4, (v >> 32) as u32);
    }
}

/// virtio-mmio register offsets.
pub mod mmio {
    pub const MAGIC: usize = 0x000;
    pub const VERSION: usize = 0x004;
    pub const DEVICE_ID: usize = 0x008;
    pub const DEVICE_FEATURES: usize = 0x010;
    pub const DEVICE_FEATURES_SEL: usize = 0x014;
    pub const DRIVER_FEATURES: usize = 0x020;
    pub const DRIVER_FEATURES_SEL: usize = 0x024;
    pub const LEGACY_GUEST_PAGE_SIZE: usize = 0x028;
    pub const QUEUE_SEL: usize = 0x030;
    pub const QUEUE_NUM_MAX: usize = 0x034;
    pub const QUEUE_NUM: usize = 0x038;
    pub const LEGACY_QUEUE_ALIGN: usize = 0x03c;
    pub const LEGACY_QUEUE_PFN: usize = 0x040;
    pub const QUEUE_READY: usize = 0x044;
    pub const QUEUE_NOTIFY: usize = 0x050;
    pub const INTERRUPT_STATUS: usize = 0x060;
    pub const INTERRUPT_ACK: usize = 0x064;
    pub const STATUS: usize = 0x070;
    pub const QUEUE_DESC: usize = 0x080;
    pub const QUEUE_DRIVER: usize = 0x090;
    pub const QUEUE_DEVICE: usize = 0x0a0;
    pub const CONFIG: usize = 0x100;
    /// "virt", little-endian.
    pub const MAGIC_VALUE: u32 = 0x7472_6976;
}

/// Offsets in the PCI common configuration structure.
pub mod common {
    pub const DEVICE_FEATURE_SELECT: usize = 0;
    pub const DEVICE_FEATURE: usize = 4;
    pub const DRIVER_FEATURE_SELECT: usize = 8;
    pub const DRIVER_FEATURE: usize = 12;
    pub const MSIX_CONFIG: usize = 16;
    pub const DEVICE_STATUS: usize = 20;
    pub const QUEUE_SELECT: usize = 22;
    pub const QUEUE_SIZE: usize = 24;
    pub const QUEUE_MSIX_VECTOR: usize = 26;
    pub const QUEUE_ENABLE: usize = 28;
    pub const QUEUE_NOTIFY_OFF: usize = 30;
    pub const QUEUE_DESC: usize = 32;
    pub const QUEUE_DRIVER: usize = 40;
    pub const QUEUE_DEVICE: usize = 48;
}

/// The register windows of a modern virtio-pci function.
#[derive(Clone, Copy, Debug)]
pub struct PciRegs {
    pub common: Regs,
    pub notify: Regs,
    pub notify_mul: u32,
    pub isr: Regs,
    pub device: Regs,
    /// MSI-X is routed to the wake-up vector: queue 0 (receive) uses table entry 0.
    pub msix: bool,
}

/// How the driver reaches one device.
#[derive(Clone, Copy, Debug)]
pub enum Transport {
    /// virtio-mmio; `legacy` = version 1.
    Mmio {
        regs: Regs,
        legacy: bool,
    },
    Pci(PciRegs),
}

impl Transport {
    pub fn is_modern(&self) -> bool {
        !matches!(self, Transport::Mmio { legacy: true, .. })
    }

    pub fn status(&self) -> u8 {
        match self {
            Transport::Mmio { regs, .. } => regs.r32(mmio::STATUS) as u8,
            Transport::Pci(p) => p.common.r8(common::DEVICE_STATUS),
        }
    }

    pub fn set_status(&self, s: u8) {
        match self {
            Transport::Mmio { regs, .. } => regs.w32(mmio::STATUS, s as u32),
            Transport::Pci(p) => p.common.w8(common::DEVICE_STATUS, s),
        }
    }

    /// Reset the device and wait (bounded) until it reads back as reset.
    pub fn reset(&self) -> bool {
        self.set_status(0);
        (0..100_000).any(|_| {
            core::hint::spin_loop();
            self.status() == 0
        })
    }

    /// The device's feature bits (legacy mmio: the low 32 only).
    pub fn device_features(&self) -> u64 {
        match self {
            Transport::Mmio { regs, legacy } => {
                regs.w32(mmio::DEVICE_FEATURES_SEL, 0);
                let lo = regs.r32(mmio::DEVICE_FEATURES) as u64;
                if *legacy {
                    return lo;
                }
                regs.w32(mmio::DEVICE_FEATURES_SEL, 1);
                lo | (regs.r32(mmio::DEVICE_FEATURES) as u64) << 32
            }
            Transport::Pci(p) => {
                let c = p.common;
                c.w32(common::DEVICE_FEATURE_SELECT, 0);
                let lo = c.r32(common::DEVICE_FEATURE) as u64;
                c.w32(common::DEVICE_FEATURE_SELECT, 1);
                lo | (c.r32(common::DEVICE_FEATURE) as u64) << 32
            }
        }
    }

    pub fn set_driver_features(&self, f: u64) {
        match self {
            Transport::Mmio { regs, legacy } => {
                regs.w32(mmio::DRIVER_FEATURES_SEL, 0);
                regs.w32(mmio::DRIVER_FEATURES, f as u32);
                if !*legacy {
                    regs.w32(mmio::DRIVER_FEATURES_SEL, 1);
                    regs.w32(mmio::DRIVER_FEATURES, (f >> 32) as u32);
                }
            }
            Transport::Pci(p) => {
                let c = p.common;
                c.w32(common::DRIVER_FEATURE_SELECT, 0);
                c.w32(common::DRIVER_FEATURE, f as u32);
                c.w32(common::DRIVER_FEATURE_SELECT, 1);
                c.w32(common::DRIVER_FEATURE, (f >> 32) as u32);
            }
        }
    }

    /// Largest size the device allows for queue `q` (0: the queue does not exist).
    pub fn queue_max(&self, q: u16) -> u16 {
        match self {
            Transport::Mmio { regs, legacy } => {
                if *legacy {
                    regs.w32(mmio::LEGACY_GUEST_PAGE_SIZE, 4096);
                }
                regs.w32(mmio::QUEUE_SEL, q as u32);
                regs.r32(mmio::QUEUE_NUM_MAX).min(32768) as u16
            }
            Transport::Pci(p) => {
                p.common.w16(common::QUEUE_SELECT, q);
                p.common.r16(common::QUEUE_SIZE)
            }
        }
    }

    /// Hand queue `q` of `size` entries to the device. `rx_vector`: this queue signals
    /// the wake-up interrupt (PCI: through MSI-X entry 0; mmio: the one interrupt line
    /// is shared by all queues). False when the device refused.
    pub fn setup_queue(
        &self,
        q: u16,
        size: u16,
        (desc, avail, used): (u64, u64, u64),
        rx_vector: bool,
    ) -> bool {
        match self {
            Transport::Mmio { regs, legacy } => {
                regs.w32(mmio::QUEUE_SEL, q as u32);
                regs.w32(mmio::QUEUE_NUM, size as u32);
                if *legacy {
                    regs.w32(mmio::LEGACY_QUEUE_ALIGN, 4096);
                    regs.w32(mmio::LEGACY_QUEUE_PFN, (desc >> 12) as u32);
                    regs.r32(mmio::LEGACY_QUEUE_PFN) == (desc >> 12) as u32
                } else {
                    regs.w64(mmio::QUEUE_DESC, desc);
                    regs.w64(mmio::QUEUE_DRIVER, avail);
                    regs.w64(mmio::QUEUE_DEVICE, used);
                    regs.w32(mmio::QUEUE_READY, 1);
                    regs.r32(mmio::QUEUE_READY) == 1
                }
            }
            Transport::Pci(p) => {
                let c = p.common;
                c.w16(common::QUEUE_SELECT, q);
                c.w16(common::QUEUE_SIZE, size);
                c.w64(common::QUEUE_DESC, desc);
                c.w64(common::QUEUE_DRIVER, avail);
                c.w64(common::QUEUE_DEVICE, used);
                let v = if p.msix && rx_vector { 0 } else { NO_VECTOR };
                c.w16(common::QUEUE_MSIX_VECTOR, v);
                if c.r16(common::QUEUE_MSIX_VECTOR) != v {
                    return false;
                }
                c.w16(common::QUEUE_ENABLE, 1);
                c.r16(common::QUEUE_ENABLE) == 1
            }
        }
    }

    /// Tell the device queue `q` has new buffers.
    pub fn notify(&self, q: u16) {
        match self {
            Transport::Mmio { regs, .. } => regs.w32(mmio::QUEUE_NOTIFY, q as u32),
            Transport::Pci(p) => {
                p.common.w16(common::QUEUE_SELECT, q);
                let off = p.common.r16(common::QUEUE_NOTIFY_OFF) as usize;
                p.notify.w16(off * p.notify_mul as usize, q);
            }
        }
    }

    /// Acknowledge the device's interrupt (mmio: the status register; PCI without
    /// MSI-X: reading the ISR clears it; with MSI-X there is nothing to acknowledge).
    /// Returns the status bits that were set.
    pub fn ack_interrupt(&self) -> u32 {
        match self {
            Transport::Mmio { regs, .. } => {
                let s = regs.r32(mmio::INTERRUPT_STATUS);
                if s != 0 {
                    regs.w32(mmio::INTERRUPT_ACK, s);
                }
                s
            }
            Transport::Pci(p) if !p.msix => p.isr.r8(0) as u32,
            Transport::Pci(_) => 0,
        }
    }

    /// One byte of the device-specific configuration.
    pub fn config8(&self, off: usize) -> u8 {
        match self {
            Transport::Mmio { regs, .. } => regs.r8(mmio::CONFIG + off),
            Transport::Pci(p) => p.device.r8(off),
        }
    }
}
