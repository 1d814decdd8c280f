//! virtio devices of a kvm image: discovery on both transports, interrupt routing, and
//! the wake-up check the idle loop runs.
//!
//! - **mmio** (QEMU `microvm`, Firecracker): the VMM describes each transport on the
//!   kernel command line as `virtio_mmio.device=SIZE@BASE:IRQ` (QEMU appends these words
//!   after everything else, i.e. after the program's arguments), so the platform takes
//!   them out of the line ([`strip_mmio_words`]) before the line is decoded. The IRQ is a
//!   GSI routed through the I/O APIC (microvm has a second one, at 0xfec10000, for GSIs
//!   24-47), edge-triggered, to [`VECTOR`].
//! - **pci** (QEMU `pc`/`q35`): modern virtio-pci functions (vendor 0x1af4) with their
//!   vendor capabilities; the receive queue signals through MSI-X entry 0, aimed straight
//!   at the local APIC, so no I/O APIC programming is needed.
//!
//! Interrupts do no work (see `crate::trap`): they end the `hlt` in `Platform::wait`,
//! which then calls [`after_wake`]; that acknowledges the devices and, when frames wait,
//! calls `uk_plat::net_event()` so lib/netdev wakes its receiving thread.

pub mod queue;
pub mod transport;

#[cfg(not(test))]
pub mod net;
pub mod p9;

/// The interrupt vector every virtio device signals.
pub const VECTOR: u8 = 0x41;

/// One virtio-mmio transport named on the command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmioDev {
    pub base: u64,
    pub size: u64,
    pub irq: u32,
}

fn parse_num(s: &[u8]) -> Option<u64> {
    let (digits, radix) = match s {
        [b'0', b'x' | b'X', rest @ ..] => (rest, 16),
        _ => (s, 10),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = (c as char).to_digit(radix)? as u64;
        v = v.checked_mul(radix as u64)?.checked_add(d)?;
    }
    Some(v)
}

/// Parses `SIZE@BASE:IRQ` (SIZE with an optional K/M suffix, numbers decimal or 0x-hex),
/// the value of a `virtio_mmio.device=` word as Linux defines it (an optional trailing
/// `:ID` platform-device id is ignored).
pub fn parse_mmio(v: &[u8]) -> Option<MmioDev> {
    let at = v.iter().position(|&c| c == b'@')?;
    let (size, rest) = (&v[..at], &v[at + 1..]);
    let (mul, size) = match size.last() {
        Some(b'K' | b'k') => (1 << 10, &size[..size.len() - 1]),
        Some(b'M' | b'm') => (1 << 20, &size[..size.len() - 1]),
        _ => (1, size),
    };
    let size = parse_num(size)?.checked_mul(mul)?;
    let mut parts = rest.split(|&c| c == b':');
    let base = parse_num(parts.next()?)?;
    let irq = parse_num(parts.next()?)?;
    if size == 0 || size > 1 << 20 || base % 4 != 0 || irq > 255 {
        return None;
    }
    Some(MmioDev {
        base,
        size,
        irq: irq as u32,
    })
}

const MMIO_WORD: &[u8] = b"virtio_mmio.device=";

/// Copies `line` to `out` without its `virtio_mmio.device=` words, recording the
/// devices they describe in `devs`. Returns (bytes written, devices found), or `None`
/// when `out` is too small; a word that does not parse is dropped too (it is meant for
/// a kernel, not the program).
pub fn strip_mmio_words(
    line: &[u8],
    out: &mut [u8],
    devs: &mut [MmioDev],
) -> Option<(usize, usize)> {
    let (mut n, mut nd) = (0, 0);
    for w in line.split(|&c| c == b' ').filter(|w| !w.is_empty()) {
        if let Some(v) = w.strip_prefix(MMIO_WORD) {
            if let (Some(d), Some(slot)) = (parse_mmio(v), devs.get_mut(nd)) {
                *slot = d;
                nd += 1;
            }
            continue;
        }
        let need = w.len() + usize::from(n > 0);
        if n + need > out.len() {
            return None;
        }
        if n > 0 {
            out[n] = b' ';
            n += 1;
        }
        out[n..n + w.len()].copy_from_slice(w);
        n += w.len();
    }
    Some((n, nd))
}

#[cfg(not(test))]
pub use hw::*;

#[cfg(not(test))]
mod hw {
    use super::transport::{common, mmio, PciRegs, Regs, Transport, NO_VECTOR};
    use super::*;
    use crate::pci::{self, Bdf, ConfigSpace, Ports};
    use core::sync::atomic::{AtomicUsize, Ordering};
    use net::VirtioNet;
    use uk_plat::NetDevice;

    /// Most virtio-net devices one image drives.
    const MAX_NETS: usize = 2;
    static NETS: [VirtioNet; MAX_NETS] = [VirtioNet::new(), VirtioNet::new()];
    static NET_DYN: [&dyn NetDevice; MAX_NETS] = [&NETS[0], &NETS[1]];
    static N_NETS: AtomicUsize = AtomicUsize::new(0);

    const DEV_NET: u32 = 1;

    fn add_net(t: Transport) -> bool {
        let i = N_NETS.load(Ordering::Relaxed);
        if i >= MAX_NETS {
            return false;
        }
        // SAFETY: boot path; slot `i` is fresh and not yet registered.
        unsafe { NETS[i].attach(t, i as u8) };
        if !uk_plat::register_net_device(&NET_DYN[i]) {
            return false;
        }
        N_NETS.store(i + 1, Ordering::Release);
        true
    }

    /// I/O APIC redirection: GSI `gsi` -> `vector` on the CPU `apic_id`, fixed, edge,
    /// active high. QEMU microvm: GSIs 0-23 on the I/O APIC at 0xfec00000, 24-47 on the
    /// second at 0xfec10000.
    pub(crate) fn ioapic_route(gsi: u32, vector: u8, apic_id: u32) -> bool {
        let (base, pin) = if gsi < 24 {
            (0xfec0_0000u64, gsi)
        } else {
            (0xfec1_0000u64, gsi - 24)
        };
        if !pci::map_mmio(base, 4096) {
            return false;
        }
        let r = Regs(base as usize);
        // Version register: bits 16..23 hold the highest redirection entry.
        r.w32(0, 1);
        let max = (r.r32(0x10) >> 16) & 0xff;
        if pin > max || r.r32(0x10) == u32::MAX {
            return false;
        }
        r.w32(0, 0x11 + 2 * pin);
        r.w32(0x10, (apic_id & 0xff) << 24);
        r.w32(0, 0x10 + 2 * pin);
        r.w32(0x10, vector as u32);
        true
    }

    fn probe_mmio(d: &MmioDev, apic_id: u32) {
        if !pci::map_mmio(d.base, d.size.max(0x200)) {
            return;
        }
        let regs = Regs(d.base as usize);
        if regs.r32(mmio::MAGIC) != mmio::MAGIC_VALUE {
            return;
        }
        let version = regs.r32(mmio::VERSION);
        if (1..=2).contains(&version) && regs.r32(mmio::DEVICE_ID) == p9::DEVICE_ID {
            p9::P9.attach(Transport::Mmio {
                regs,
                legacy: version == 1,
            });
            return;
        }
        if !(1..=2).contains(&version) || regs.r32(mmio::DEVICE_ID) != DEV_NET {
            return;
        }
        if !ioapic_route(d.irq, VECTOR, apic_id) {
            crate::serial::write(b"ukit: virtio-net: cannot route its interrupt; input is noticed only on timer wake-ups\n");
        }
        add_net(Transport::Mmio {
            regs,
            legacy: version == 1,
        });
    }

    fn probe_pci(at: Bdf, device: u16, apic_id: u32) {
        let c = Ports;
        let is_net = device == 0x1041 || (device == 0x1000 && c.read16(at, 0x2e) == DEV_NET as u16);
        // virtio-9p: modern id 0x1049, or transitional 0x1009 (subsystem id 9).
        let is_9p =
            device == 0x1049 || (device == 0x1009 && c.read16(at, 0x2e) == p9::DEVICE_ID as u16);
        if !is_net && !is_9p {
            return;
        }
        let mut regs: [Option<Regs>; 5] = [None; 5];
        let mut notify_mul = 0;
        for cap in pci::capabilities(&c, at).filter(|k| k.id == pci::CAP_VENDOR) {
            let ty = c.read8(at, cap.off + 3) as usize;
            let bar = c.read8(at, cap.off + 4);
            let off = c.read32(at, cap.off + 8) as u64;
            let len = c.read32(at, cap.off + 12) as u64;
            if !(1..=4).contains(&ty) || regs[ty].is_some() || len == 0 {
                continue;
            }
            let Some(b) = pci::bar_address(&c, at, bar) else {
                continue;
            };
            if !pci::map_mmio(b + off, len) {
                return;
            }
            regs[ty] = Some(Regs((b + off) as usize));
            if ty == 2 {
                notify_mul = c.read32(at, cap.off + 16);
            }
        }
        let (Some(common_r), Some(notify), Some(isr), Some(device_r)) =
            (regs[1], regs[2], regs[3], regs[4])
        else {
            return; // legacy-only device: not supported
        };
        let cmd = c.read16(at, 0x04);
        c.write16(at, 0x04, cmd | pci::CMD_MEMORY | pci::CMD_BUS_MASTER);
        let mut msix = false;
        if let Some(m) = pci::msix(&c, at) {
            if pci::map_mmio(m.table, 16 * m.entries as u64) {
                pci::msix_route(at, &m, 0, VECTOR, apic_id);
                msix = true;
            }
        }
        common_r.w16(common::MSIX_CONFIG, NO_VECTOR);
        let t = Transport::Pci(PciRegs {
            common: common_r,
            notify,
            notify_mul,
            isr,
            device: device_r,
            msix,
        });
        if is_9p {
            p9::P9.attach(t);
        } else {
            add_net(t);
        }
    }

    /// QEMU microvm's fixed virtio-mmio window: 512-byte transports from 0xfeb00000,
    /// 24 of them on GSIs 24.. (the second I/O APIC) when the machine has one (the
    /// default), else 8 on GSIs 5...
    const MICROVM_BASE: u64 = 0xfeb0_0000;

    /// Find the transports of QEMU microvm without the command line's help: QEMU writes
    /// `virtio_mmio.device=` words only with ACPI off, and never into the multiboot
    /// information (built before it amends the line). Empty transports read device id 0.
    fn scan_microvm(apic_id: u32) {
        if !pci::map_mmio(MICROVM_BASE, 24 * 512) {
            return;
        }
        let magic = |i: u64| Regs((MICROVM_BASE + 512 * i) as usize).r32(mmio::MAGIC);
        if magic(0) != mmio::MAGIC_VALUE {
            return;
        }
        // Measured on QEMU 7.2 (every pin routed, the one that fired recorded): with
        // the second I/O APIC, transport i signals GSI 24 + i (its pin i).
        let (n, irq_base) = if magic(8) == mmio::MAGIC_VALUE {
            (24, 24)
        } else {
            (8, 5)
        };
        for i in 0..n {
            let d = MmioDev {
                base: MICROVM_BASE + 512 * i as u64,
                size: 512,
                irq: irq_base + i,
            };
            probe_mmio(&d, apic_id);
        }
    }

    /// Find virtio devices: the mmio transports named on the command line, then PCI;
    /// on a machine without either, QEMU microvm's fixed mmio window. Boot path, after
    /// the page tables and the local APIC are set up.
    pub fn probe(mmio_devs: &[MmioDev], apic_id: u32) {
        for d in mmio_devs {
            probe_mmio(d, apic_id);
        }
        let mut functions = 0;
        pci::for_each_function(|at, vendor, device| {
            functions += 1;
            if vendor == 0x1af4 {
                probe_pci(at, device, apic_id);
            }
        });
        if mmio_devs.is_empty() && functions == 0 {
            scan_microvm(apic_id);
        }
    }

    /// Called by `Platform::wait` after every wake-up: acknowledge device interrupts and
    /// tell lib/netdev when frames wait.
    pub fn after_wake() {
        let n = N_NETS.load(Ordering::Acquire);
        let mut input = false;
        for d in &NETS[..n] {
            input |= d.poll_event();
        }
        if input {
            uk_plat::net_event();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmio_words_parse() {
        assert_eq!(
            parse_mmio(b"512@0xfeb02e00:39"),
            Some(MmioDev {
                base: 0xfeb0_2e00,
                size: 512,
                irq: 39
            })
        );
        assert_eq!(
            parse_mmio(b"4K@0xd0000000:5:3"),
            Some(MmioDev {
                base: 0xd000_0000,
                size: 4096,
                irq: 5
            })
        );
        for bad in [
            &b"512@0xfeb02e00"[..],
            b"@0x1000:5",
            b"0@0x1000:5",
            b"512@zz:5",
            b"512@0x1000:999",
            b"2M@0x1000:5",
            b"99999999999999999999@0x1000:5",
        ] {
            assert_eq!(parse_mmio(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn mmio_words_leave_the_command_line() {
        let line =
            b"ip=dhcp -- prog a%20b virtio_mmio.device=512@0xfeb02e00:39  virtio_mmio.device=x";
        let mut out = [0u8; 128];
        let mut devs = [MmioDev::default(); 4];
        let (n, nd) = strip_mmio_words(line, &mut out, &mut devs).unwrap();
        assert_eq!(&out[..n], b"ip=dhcp -- prog a%20b");
        assert_eq!(nd, 1);
        assert_eq!(devs[0].irq, 39);
        assert_eq!(strip_mmio_words(b"", &mut out, &mut devs), Some((0, 0)));
        assert_eq!(strip_mmio_words(line, &mut out[..10], &mut devs), None);
    }
}
