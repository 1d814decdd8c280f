//! What the boot loader tells us: RAM ranges, the command line and the first module
//! (the initrd), from either a PVH `hvm_start_info` or a multiboot v1 info block.
//!
//! Layouts (all little-endian, physical addresses):
//! - PVH `hvm_start_info`: magic u32 (0x336ec578) @0, version u32 @4, flags @8,
//!   nr_modules u32 @12, modlist_paddr u64 @16, cmdline_paddr u64 @24, rsdp u64 @32,
//!   and from version 1: memmap_paddr u64 @40, memmap_entries u32 @48. Module entries
//!   are 32 bytes (paddr u64, size u64, cmdline u64, reserved); memory-map entries 24
//!   bytes (addr u64, size u64, type u32, reserved u32), type 1 = RAM (E820).
//! - multiboot v1 info: flags u32 @0, mem_lower/mem_upper KiB @4/@8 (flag 0), cmdline
//!   u32 @16 (flag 2), mods_count/mods_addr @20/@24 (flag 3; 16-byte entries: start,
//!   end, string, reserved), mmap_length/mmap_addr @44/@48 (flag 6; entries are
//!   size u32 (not counting itself), base u64, length u64, type u32).
//!
//! Parsing reads memory through [`PhysRead`] so the host unit tests can feed it bytes.

pub const MULTIBOOT_MAGIC: u32 = 0x2bad_b002;
pub const PVH_MAGIC: u32 = 0x336e_c578;

/// Reads physical memory (identity-mapped on kvm).
pub trait PhysRead {
    fn read(&self, addr: u64, buf: &mut [u8]);
    fn u32(&self, addr: u64) -> u32 {
        let mut b = [0; 4];
        self.read(addr, &mut b);
        u32::from_le_bytes(b)
    }
    fn u64(&self, addr: u64) -> u64 {
        let mut b = [0; 8];
        self.read(addr, &mut b);
        u64::from_le_bytes(b)
    }
}

pub const MAX_RAM: usize = 32;

/// Which protocol booted us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Pvh,
    Multiboot,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Pvh => "pvh",
            Protocol::Multiboot => "multiboot",
        }
    }
}

/// The boot facts, as physical ranges.
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    pub protocol: Protocol,
    /// RAM ranges (start, end), unsorted as the loader gave them.
    pub ram: [(u64, u64); MAX_RAM],
    pub n_ram: usize,
    /// Physical address of the NUL-terminated command line (0 = none).
    pub cmdline: u64,
    /// The first module: (start, len).
    pub initrd: Option<(u64, u64)>,
    /// Physical ranges the loader's own structures occupy (info block, memory map,
    /// module list, command line): kept out of the page allocator.
    pub used: [(u64, u64); 4],
    /// Physical address of the ACPI RSDP (PVH only; 0 = unknown).
    pub rsdp: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootError {
    /// Neither magic matched.
    UnknownProtocol,
    /// The loader gave no memory map.
    NoMemoryMap,
}

impl BootInfo {
    fn empty(protocol: Protocol) -> Self {
        BootInfo {
            protocol,
            ram: [(0, 0); MAX_RAM],
            n_ram: 0,
            cmdline: 0,
            initrd: None,
            used: [(0, 0); 4],
            rsdp: 0,
        }
    }

    /// Add a RAM range (for a platform fallback when the loader gave no map).
    pub fn add_ram(&mut self, start: u64, len: u64) {
        if len > 0 && self.n_ram < MAX_RAM {
            self.ram[self.n_ram] = (start, start.saturating_add(len));
            self.n_ram += 1;
        }
    }

    /// The RAM ranges.
    pub fn ram(&self) -> &[(u64, u64)] {
        &self.ram[..self.n_ram]
    }
}

fn cstr_len(m: &impl PhysRead, addr: u64) -> u64 {
    let mut n = 0;
    let mut b = [0u8; 1];
    while n < 65536 {
        m.read(addr + n, &mut b);
        if b[0] == 0 {
            break;
        }
        n += 1;
    }
    n + 1
}

/// Decode the boot information from the entry registers (`magic` = EAX, `info` = EBX).
pub fn parse(m: &impl PhysRead, magic: u32, info: u64) -> Result<BootInfo, BootError> {
    // PVH first: QEMU's microvm firmware enters PVH kernels with the multiboot magic
    // in EAX. A multiboot info block starts with its flags word, which never equals the
    // PVH magic (only bits 0-11 are defined).
    if m.u32(info) == PVH_MAGIC {
        return parse_pvh(m, info);
    }
    if magic == MULTIBOOT_MAGIC {
        return parse_multiboot(m, info);
    }
    Err(BootError::UnknownProtocol)
}

fn parse_pvh(m: &impl PhysRead, si: u64) -> Result<BootInfo, BootError> {
    let mut b = BootInfo::empty(Protocol::Pvh);
    let version = m.u32(si + 4);
    let nr_modules = m.u32(si + 12);
    let modlist = m.u64(si + 16);
    b.cmdline = m.u64(si + 24);
    b.rsdp = m.u64(si + 32);
    b.used[0] = (si, si + if version >= 1 { 56 } else { 40 });
    if b.cmdline != 0 {
        b.used[1] = (b.cmdline, b.cmdline + cstr_len(m, b.cmdline));
    }
    if nr_modules > 0 && modlist != 0 {
        b.used[2] = (modlist, modlist + 32 * nr_modules as u64);
        let (start, size) = (m.u64(modlist), m.u64(modlist + 8));
        if size > 0 {
            b.initrd = Some((start, size));
        }
    }
    if version >= 1 {
        let map = m.u64(si + 40);
        let n = m.u32(si + 48) as u64;
        b.used[3] = (map, map + 24 * n);
        for i in 0..n {
            let e = map + 24 * i;
            if m.u32(e + 16) == 1 {
                b.add_ram(m.u64(e), m.u64(e + 8));
            }
        }
    }
    // Version 0 (e.g. the microvm firmware) has no memory map: the caller asks the
    // CMOS instead (see `add_ram`).
    Ok(b)
}

fn parse_multiboot(m: &impl PhysRead, mbi: u64) -> Result<BootInfo, BootError> {
    let mut b = BootInfo::empty(Protocol::Multiboot);
    let flags = m.u32(mbi);
    b.used[0] = (mbi, mbi + 88);
    if flags & (1 << 2) != 0 {
        b.cmdline = m.u32(mbi + 16) as u64;
        if b.cmdline != 0 {
            b.used[1] = (b.cmdline, b.cmdline + cstr_len(m, b.cmdline));
        }
    }
    if flags & (1 << 3) != 0 {
        let count = m.u32(mbi + 20) as u64;
        let addr = m.u32(mbi + 24) as u64;
        if count > 0 {
            b.used[2] = (addr, addr + 16 * count);
            let (start, end) = (m.u32(addr) as u64, m.u32(addr + 4) as u64);
            if end > start {
                b.initrd = Some((start, end - start));
            }
        }
    }
    if flags & (1 << 6) != 0 {
        let len = m.u32(mbi + 44) as u64;
        let addr = m.u32(mbi + 48) as u64;
        b.used[3] = (addr, addr + len);
        let mut off = 0;
        while off + 24 <= len {
            let e = addr + off;
            let size = m.u32(e) as u64;
            if m.u32(e + 20) == 1 {
                b.add_ram(m.u64(e + 4), m.u64(e + 12));
            }
            off += size + 4;
        }
    } else if flags & 1 != 0 {
        b.add_ram(0, m.u32(mbi + 4) as u64 * 1024);
        b.add_ram(1 << 20, m.u32(mbi + 8) as u64 * 1024);
    }
    if b.n_ram == 0 {
        return Err(BootError::NoMemoryMap);
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Bytes(Vec<u8>);
    impl PhysRead for Bytes {
        fn read(&self, addr: u64, buf: &mut [u8]) {
            let a = addr as usize;
            buf.copy_from_slice(&self.0[a..a + buf.len()]);
        }
    }
    fn put32(v: &mut [u8], at: usize, x: u32) {
        v[at..at + 4].copy_from_slice(&x.to_le_bytes());
    }
    fn put64(v: &mut [u8], at: usize, x: u64) {
        v[at..at + 8].copy_from_slice(&x.to_le_bytes());
    }

    #[test]
    fn pvh_memmap_cmdline_module() {
        let mut v = vec![0u8; 4096];
        put32(&mut v, 0x100, PVH_MAGIC);
        put32(&mut v, 0x104, 1);
        put32(&mut v, 0x10c, 1);
        put64(&mut v, 0x110, 0x400);
        put64(&mut v, 0x118, 0x300);
        put64(&mut v, 0x128, 0x500);
        put32(&mut v, 0x130, 3);
        v[0x300..0x306].copy_from_slice(b"a -- b");
        put64(&mut v, 0x400, 0x20_0000);
        put64(&mut v, 0x408, 12345);
        // RAM, reserved, RAM
        put64(&mut v, 0x500, 0);
        put64(&mut v, 0x508, 0x9fc00);
        put32(&mut v, 0x510, 1);
        put64(&mut v, 0x518, 0xf0000);
        put64(&mut v, 0x520, 0x10000);
        put32(&mut v, 0x528, 2);
        put64(&mut v, 0x530, 0x10_0000);
        put64(&mut v, 0x538, 0x7f0_0000);
        put32(&mut v, 0x540, 1);
        let b = parse(&Bytes(v), 0, 0x100).unwrap();
        assert_eq!(b.protocol, Protocol::Pvh);
        assert_eq!(b.ram(), &[(0, 0x9fc00), (0x10_0000, 0x800_0000)]);
        assert_eq!(b.cmdline, 0x300);
        assert_eq!(b.used[1], (0x300, 0x307));
        assert_eq!(b.initrd, Some((0x20_0000, 12345)));
    }

    #[test]
    fn multiboot_mmap_and_module() {
        let mut v = vec![0u8; 4096];
        put32(&mut v, 0x100, (1 << 2) | (1 << 3) | (1 << 6));
        put32(&mut v, 0x110, 0x200);
        v[0x200..0x205].copy_from_slice(b"hello");
        put32(&mut v, 0x114, 1);
        put32(&mut v, 0x118, 0x300);
        put32(&mut v, 0x300, 0x40_0000);
        put32(&mut v, 0x304, 0x40_1000);
        put32(&mut v, 0x12c, 48);
        put32(&mut v, 0x130, 0x400);
        put32(&mut v, 0x400, 20);
        put64(&mut v, 0x404, 0);
        put64(&mut v, 0x40c, 0x9fc00);
        put32(&mut v, 0x414, 1);
        put32(&mut v, 0x418, 20);
        put64(&mut v, 0x41c, 0x10_0000);
        put64(&mut v, 0x424, 0x3f0_0000);
        put32(&mut v, 0x42c, 1);
        let b = parse(&Bytes(v), MULTIBOOT_MAGIC, 0x100).unwrap();
        assert_eq!(b.protocol, Protocol::Multiboot);
        assert_eq!(b.ram(), &[(0, 0x9fc00), (0x10_0000, 0x400_0000)]);
        assert_eq!(b.cmdline, 0x200);
        assert_eq!(b.initrd, Some((0x40_0000, 0x1000)));
    }

    #[test]
    fn unknown_and_empty() {
        let v = vec![0u8; 4096];
        assert_eq!(
            parse(&Bytes(v.clone()), 0, 0x100).unwrap_err(),
            BootError::UnknownProtocol
        );
        assert_eq!(
            parse(&Bytes(v), MULTIBOOT_MAGIC, 0x100).unwrap_err(),
            BootError::NoMemoryMap
        );
    }
}
