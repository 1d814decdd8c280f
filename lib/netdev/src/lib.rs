//! Network devices: the one driver interface ([`NetDev`]) and what every device gets on
//! top of its driver ([`Interface`]): frame checks, counters, and a way to wait for input.
//!
//! Drivers live in the platform (plat/linuxu: tap and passt; plat/kvm: virtio-net) and
//! implement [`NetDev`] (`uk_plat::NetDevice`: lib/ never names a platform, so the trait
//! sits in the platform contract and is re-exported here). They register at boot with
//! `uk_plat::register_net_device`; [`init`] wraps each in an [`Interface`].
//!
//! Input readiness: a driver cannot call into the scheduler (plat/ is below lib/), so the
//! platform calls `uk_plat::net_event()` when a device may have input (linuxu: its idle
//! `ppoll` saw a device descriptor readable). [`init`] hooks that to a wait queue, which
//! is what [`Interface::wait_rx`] sleeps on.
//!
//! Bad input never reaches the stack: [`check_frame`] drops frames too short for their
//! own headers (Ethernet, ARP, IPv4, IPv6) or longer than the device's MTU allows, and
//! counts them in `rx_dropped_malformed`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use uk_abi::Errno;
use uk_sched::{WaitQueue, Wake};

/// The driver interface; see `uk_plat::NetDevice` for each method's contract.
pub use uk_plat::NetDevice as NetDev;

/// Ethernet header: destination, source, EtherType.
pub const ETH_HLEN: usize = 14;
/// An 802.1Q tag adds four bytes.
pub const VLAN_HLEN: usize = 4;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// Why a frame was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Shorter than an Ethernet header.
    Runt,
    /// Longer than header + MTU (+ one VLAN tag).
    Giant,
    /// ARP shorter than an Ethernet/IPv4 ARP packet.
    BadArp,
    /// IPv4: wrong version, header length < 20, or total length outside the frame.
    BadIpv4,
    /// IPv6: wrong version or payload length beyond the frame.
    BadIpv6,
}

/// Checks that `frame` is a well-formed Ethernet frame for a device with `mtu`, as far as
/// the lengths its headers claim go (checksums and the rest are the stack's job). Frames
/// of other EtherTypes pass: the stack ignores what it does not speak.
pub fn check_frame(frame: &[u8], mtu: u16) -> Result<(), Malformed> {
    if frame.len() < ETH_HLEN {
        return Err(Malformed::Runt);
    }
    let mut ty = u16::from_be_bytes([frame[12], frame[13]]);
    let mut off = ETH_HLEN;
    if ty == ETHERTYPE_VLAN {
        if frame.len() < ETH_HLEN + VLAN_HLEN {
            return Err(Malformed::Runt);
        }
        ty = u16::from_be_bytes([frame[16], frame[17]]);
        off += VLAN_HLEN;
    }
    if frame.len() > ETH_HLEN + VLAN_HLEN + mtu as usize {
        return Err(Malformed::Giant);
    }
    let l3 = &frame[off..];
    match ty {
        ETHERTYPE_ARP if l3.len() < 28 => Err(Malformed::BadArp),
        ETHERTYPE_IPV4 => {
            if l3.len() < 20 || l3[0] >> 4 != 4 {
                return Err(Malformed::BadIpv4);
            }
            let ihl = (l3[0] & 0xf) as usize * 4;
            let total = u16::from_be_bytes([l3[2], l3[3]]) as usize;
            if ihl < 20 || total < ihl || total > l3.len() {
                return Err(Malformed::BadIpv4);
            }
            Ok(())
        }
        ETHERTYPE_IPV6 => {
            if l3.len() < 40 || l3[0] >> 4 != 6 {
                return Err(Malformed::BadIpv6);
            }
            let payload = u16::from_be_bytes([l3[4], l3[5]]) as usize;
            if 40 + payload > l3.len() {
                return Err(Malformed::BadIpv6);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A snapshot of an interface's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Frames dropped by [`check_frame`].
    pub rx_dropped_malformed: u64,
    /// Frames the driver refused to send.
    pub tx_errors: u64,
}

#[derive(Default)]
struct Counters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    rx_dropped_malformed: AtomicU64,
    tx_errors: AtomicU64,
}

/// A device with its counters and its input wait queue.
pub struct Interface {
    dev: &'static dyn NetDev,
    counters: Counters,
    rx: WaitQueue,
}

impl Interface {
    /// Wraps a driver.
    pub fn new(dev: &'static dyn NetDev) -> Interface {
        Interface {
            dev,
            counters: Counters::default(),
            rx: WaitQueue::new(),
        }
    }

    /// The driver.
    pub fn device(&self) -> &'static dyn NetDev {
        self.dev
    }

    pub fn name(&self) -> &str {
        self.dev.name()
    }

    pub fn mac(&self) -> [u8; 6] {
        self.dev.mac()
    }

    pub fn mtu(&self) -> u16 {
        self.dev.mtu()
    }

    pub fn link_up(&self) -> bool {
        self.dev.link_up()
    }

    /// The next well-formed frame, without blocking. Malformed frames met on the way are
    /// dropped and counted; `None` when no frame waits.
    pub fn receive(&self, buf: &mut [u8]) -> Option<usize> {
        loop {
            let n = self.dev.receive(buf)?;
            let ok = n <= buf.len() && check_frame(&buf[..n], self.dev.mtu()).is_ok();
            if !ok {
                self.counters
                    .rx_dropped_malformed
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.counters.rx_packets.fetch_add(1, Ordering::Relaxed);
            self.counters
                .rx_bytes
                .fetch_add(n as u64, Ordering::Relaxed);
            return Some(n);
        }
    }

    /// Whether a caller that must not block should look for input now (the driver's
    /// `rx_check_due`: cheap, rate-limited where a look is a host call).
    pub fn rx_check_due(&self) -> bool {
        self.dev.rx_check_due()
    }

    /// Sends one frame.
    pub fn transmit(&self, frame: &[u8]) -> Result<(), Errno> {
        match self.dev.transmit(frame) {
            Ok(()) => {
                self.counters.tx_packets.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .tx_bytes
                    .fetch_add(frame.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.counters.tx_errors.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Blocks until the platform reports possible input on a device, a signal, or
    /// `deadline` (monotonic ns). Spurious wake-ups happen: callers poll [`receive`]
    /// (`Interface::receive`) afterwards.
    pub fn wait_rx(&self, deadline: Option<u64>) -> Wake {
        self.rx.wait(deadline)
    }

    /// The queue [`wait_rx`](Self::wait_rx) sleeps on (for waiting on several things).
    pub fn rx_queue(&self) -> &WaitQueue {
        &self.rx
    }

    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            rx_packets: c.rx_packets.load(Ordering::Relaxed),
            rx_bytes: c.rx_bytes.load(Ordering::Relaxed),
            tx_packets: c.tx_packets.load(Ordering::Relaxed),
            tx_bytes: c.tx_bytes.load(Ordering::Relaxed),
            rx_dropped_malformed: c.rx_dropped_malformed.load(Ordering::Relaxed),
            tx_errors: c.tx_errors.load(Ordering::Relaxed),
        }
    }
}

static IFACES: spin_once::Once<Vec<Interface>> = spin_once::Once::new();

/// A write-once cell (set by [`init`] on the boot path).
mod spin_once {
    use core::cell::UnsafeCell;
    use core::sync::atomic::{AtomicU8, Ordering};

    pub struct Once<T> {
        state: AtomicU8,
        v: UnsafeCell<Option<T>>,
    }
    // SAFETY: the value is written once, guarded by the state flag, before readers see
    // state == 2; afterwards it is only read.
    unsafe impl<T: Sync + Send> Sync for Once<T> {}
    impl<T> Once<T> {
        pub const fn new() -> Self {
            Once {
                state: AtomicU8::new(0),
                v: UnsafeCell::new(None),
            }
        }
        pub fn call_once(&self, f: impl FnOnce() -> T) -> &T {
            if self
                .state
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                // SAFETY: state 1 gives this caller exclusive access.
                unsafe { *self.v.get() = Some(f()) };
                self.state.store(2, Ordering::Release);
            }
            while self.state.load(Ordering::Acquire) != 2 {
                core::hint::spin_loop();
            }
            // SAFETY: state 2: written and never written again.
            unsafe { (*self.v.get()).as_ref().expect("set") }
        }
        pub fn get(&self) -> Option<&T> {
            if self.state.load(Ordering::Acquire) == 2 {
                // SAFETY: as in call_once.
                unsafe { (*self.v.get()).as_ref() }
            } else {
                None
            }
        }
    }
}

fn on_net_event() {
    for i in interfaces() {
        i.rx.notify(uk_sched::NOTIFY_IN);
    }
}

/// Wraps every device the platform registered and hooks the platform's input events to
/// the interfaces' wait queues. Idempotent; returns the interfaces.
pub fn init() -> &'static [Interface] {
    let v = IFACES.call_once(|| uk_plat::net_devices().map(Interface::new).collect());
    uk_plat::NET_EVENT.set(on_net_event);
    v
}

/// The interfaces made by [`init`] (empty before).
pub fn interfaces() -> &'static [Interface] {
    IFACES.get().map(|v| &v[..]).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn eth(ty: u16, l3: &[u8]) -> Vec<u8> {
        let mut f = vec![0xff; 12];
        f.extend_from_slice(&ty.to_be_bytes());
        f.extend_from_slice(l3);
        f
    }

    fn ipv4(total: u16, ihl: u8) -> Vec<u8> {
        let mut h = vec![0u8; 20];
        h[0] = 0x40 | ihl;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h
    }

    #[test]
    fn frame_checks() {
        assert_eq!(check_frame(&[0; 13], 1500), Err(Malformed::Runt));
        assert_eq!(check_frame(&eth(0x88b5, &[]), 1500), Ok(()));
        assert_eq!(
            check_frame(&eth(0x88b5, &[0; 1505]), 1500),
            Err(Malformed::Giant)
        );
        assert_eq!(
            check_frame(&eth(ETHERTYPE_ARP, &[0; 27]), 1500),
            Err(Malformed::BadArp)
        );
        assert_eq!(check_frame(&eth(ETHERTYPE_ARP, &[0; 28]), 1500), Ok(()));
        assert_eq!(
            check_frame(&eth(ETHERTYPE_IPV4, &ipv4(20, 5)), 1500),
            Ok(())
        );
        // Total length beyond the frame (truncated packet).
        assert_eq!(
            check_frame(&eth(ETHERTYPE_IPV4, &ipv4(60, 5)), 1500),
            Err(Malformed::BadIpv4)
        );
        // Header length below 20 bytes, or above the total.
        assert_eq!(
            check_frame(&eth(ETHERTYPE_IPV4, &ipv4(20, 4)), 1500),
            Err(Malformed::BadIpv4)
        );
        let mut p = ipv4(20, 6);
        p.extend_from_slice(&[0; 4]);
        assert_eq!(
            check_frame(&eth(ETHERTYPE_IPV4, &p), 1500),
            Err(Malformed::BadIpv4)
        );
        // Wrong version.
        let mut v6in4 = ipv4(20, 5);
        v6in4[0] = 0x65;
        assert_eq!(
            check_frame(&eth(ETHERTYPE_IPV4, &v6in4), 1500),
            Err(Malformed::BadIpv4)
        );
        // IPv6 payload length.
        let mut h6 = vec![0u8; 48];
        h6[0] = 0x60;
        h6[5] = 8;
        assert_eq!(check_frame(&eth(ETHERTYPE_IPV6, &h6), 1500), Ok(()));
        h6[5] = 9;
        assert_eq!(
            check_frame(&eth(ETHERTYPE_IPV6, &h6), 1500),
            Err(Malformed::BadIpv6)
        );
        // VLAN-tagged IPv4 inside a tag that is cut short.
        assert_eq!(
            check_frame(&eth(ETHERTYPE_VLAN, &[0; 3]), 1500),
            Err(Malformed::Runt)
        );
        let mut tagged = vec![0, 1];
        tagged.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        tagged.extend_from_slice(&ipv4(20, 5));
        assert_eq!(check_frame(&eth(ETHERTYPE_VLAN, &tagged), 1500), Ok(()));
    }

    /// A device fed from a queue of frames; records what it sends.
    struct Fake {
        rx: Mutex<std::collections::VecDeque<Vec<u8>>>,
        tx: Mutex<Vec<Vec<u8>>>,
    }
    impl NetDev for Fake {
        fn name(&self) -> &str {
            "fake"
        }
        fn mac(&self) -> [u8; 6] {
            [2, 0, 0, 0, 0, 9]
        }
        fn mtu(&self) -> u16 {
            1500
        }
        fn link_up(&self) -> bool {
            true
        }
        fn transmit(&self, f: &[u8]) -> Result<(), Errno> {
            if f.len() > 1514 {
                return Err(Errno::EMSGSIZE);
            }
            self.tx.lock().unwrap().push(f.to_vec());
            Ok(())
        }
        fn receive(&self, buf: &mut [u8]) -> Option<usize> {
            let f = self.rx.lock().unwrap().pop_front()?;
            let n = f.len().min(buf.len());
            buf[..n].copy_from_slice(&f[..n]);
            Some(f.len())
        }
    }

    #[test]
    fn garbage_frames_are_dropped_and_counted() {
        let mut frames = std::collections::VecDeque::new();
        // Garbage of every length from 0 to 60, random-ish bytes, then one good frame.
        let mut x = 0x1234_5678u32;
        for len in 0..60 {
            let f: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    // Force IPv4 EtherType on half of them so the IP checks run.
                    x as u8
                })
                .collect();
            let mut f = f;
            if len >= 14 && len % 2 == 0 {
                f[12] = 0x08;
                f[13] = 0x00;
                if len > 14 {
                    f[14] = 0x45;
                }
            }
            frames.push_back(f);
        }
        frames.push_back(vec![0u8; 4000]); // longer than the buffer and the MTU
        let good = eth(ETHERTYPE_IPV4, &ipv4(20, 5));
        frames.push_back(good.clone());
        let expected_bad = frames
            .iter()
            .filter(|f| f.len() > 1514 || check_frame(f, 1500).is_err())
            .count() as u64;
        assert!(
            expected_bad > 30,
            "the garbage must be mostly bad: {expected_bad}"
        );
        let dev: &'static Fake = Box::leak(Box::new(Fake {
            rx: Mutex::new(frames),
            tx: Mutex::new(Vec::new()),
        }));
        let i = Interface::new(dev);
        let mut buf = [0u8; 1518];
        let mut got = Vec::new();
        while let Some(n) = i.receive(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        assert!(got.contains(&good));
        let s = i.stats();
        assert_eq!(s.rx_dropped_malformed, expected_bad);
        assert_eq!(s.rx_packets, got.len() as u64);
        assert_eq!(s.rx_packets + s.rx_dropped_malformed, 62);

        i.transmit(&good).unwrap();
        assert_eq!(i.transmit(&[0u8; 2000]), Err(Errno::EMSGSIZE));
        let s = i.stats();
        assert_eq!(
            (s.tx_packets, s.tx_bytes, s.tx_errors),
            (1, good.len() as u64, 1)
        );
        assert_eq!(dev.tx.lock().unwrap().len(), 1);
    }
}
