//! Network devices of a linuxu image, chosen by the boot option `net=`:
//!
//! - `net=tap:<ifname>`: a host tap device (needs CAP_NET_ADMIN or a tap the user owns),
//!   opened at boot through /dev/net/tun with `TUNSETIFF` (`IFF_TAP | IFF_NO_PI`).
//! - `net=passt:<unix-socket-path>`: passt's user-mode networking, over its UNIX stream
//!   socket with the QEMU frame protocol (a 4-byte big-endian length, then the frame).
//!
//! Both are opened before the host-call filter closes; afterwards only `read`, `write`
//! and `ppoll` on the descriptor are used (already in [`crate::host::RUNTIME_CALLS`]).
//! The descriptor is non-blocking and joins the idle `ppoll` ([`poll_fd`]), so an idle
//! image wakes when a frame arrives and tells lib/netdev through `uk_plat::net_event`.
//!
//! Nothing here ever blocks, as a NIC never stops the CPU (docs/net.md, "Devices"):
//! - sending: a tap takes a frame whole or not at all (a refused frame is dropped, and
//!   TCP sends it again). passt's stream must never carry half a frame, so what its
//!   socket does not take waits in a bounded queue ([`PasstTx`]), written out on the
//!   next send, receive or idle wake-up (the idle `ppoll` then also waits for room); a
//!   frame that finds the queue full is dropped, as on a full transmit ring.
//! - receiving while the program never goes idle: [`HostNet::rx_check_due`] lets
//!   callers that must not block look at the device at most once per
//!   [`PROBE_INTERVAL_NS`], since each look is a host call.

use crate::host::{self, nr};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use uk_plat::NetDevice;

use uk_abi::fcntl::{AT_FDCWD, O_CLOEXEC, O_NONBLOCK, O_RDWR};
use uk_abi::ioctl::{IFF_NO_PI, IFF_TAP, IFNAMSIZ, TUNSETIFF};
use uk_abi::poll::{POLLERR, POLLHUP, POLLIN, POLLOUT};
use uk_abi::socket::{
    SockaddrUn, AF_UNIX, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM, SUN_PATH_OFFSET,
};
use uk_abi::{Errno, FromZeros, IntoBytes};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tap,
    Passt,
}

/// Bytes of passt's stream not yet parsed into frames.
const PASST_BUF: usize = 4 + 65535;

/// The one device a linuxu image has (more would be a list; one is what `net=` names).
pub struct HostNet {
    fd: AtomicI32,
    kind: UnsafeCell<Kind>,
    name: UnsafeCell<[u8; 48]>,
    name_len: UnsafeCell<usize>,
    mac: UnsafeCell<[u8; 6]>,
    /// passt receive buffer and its fill level, behind `busy` (single CPU: never
    /// contended, but receive must not be re-entered).
    busy: AtomicBool,
    /// The host side is gone (passt closed its end, the descriptor failed): the device
    /// is down for good and the idle wait no longer watches it (a hung-up descriptor is
    /// always "ready", and watching it would spin the CPU).
    hung_up: AtomicBool,
}

/// passt's receive buffer: unparsed bytes are `buf[head..len]`. Apart from HostNet
/// (whose `fd` starts at -1, which puts it in .data) so that these 64 KiB of zeros are
/// .bss, not image bytes.
struct PasstRx {
    buf: UnsafeCell<[u8; PASST_BUF]>,
    head: UnsafeCell<usize>,
    len: UnsafeCell<usize>,
}

// SAFETY: only touched under HostNet's `busy` flag.
unsafe impl Sync for PasstRx {}

static PASST_RX: PasstRx = PasstRx {
    buf: UnsafeCell::new([0; PASST_BUF]),
    head: UnsafeCell::new(0),
    len: UnsafeCell::new(0),
};

// SAFETY: the UnsafeCell fields are written only on the boot path before the device is
// registered.
unsafe impl Sync for HostNet {}

static NET: HostNet = HostNet {
    fd: AtomicI32::new(-1),
    kind: UnsafeCell::new(Kind::Tap),
    name: UnsafeCell::new([0; 48]),
    name_len: UnsafeCell::new(0),
    mac: UnsafeCell::new([0; 6]),
    busy: AtomicBool::new(false),
    hung_up: AtomicBool::new(false),
};
static NET_DYN: &dyn NetDevice = &NET;

/// The device descriptor for the idle `ppoll` and the events to wait for (input, and
/// room to write when passt's transmit queue holds bytes), if a device is open.
pub fn poll_fd() -> Option<(i32, u32)> {
    let fd = NET.live_fd()?;
    let room = if PASST_TX.pending() { POLLOUT } else { 0 };
    Some((fd, POLLIN | room))
}

/// After the idle `ppoll` reported `revents` on the device descriptor: write out what
/// waits for passt when there is room, and say whether to tell lib/netdev about input
/// (a hang-up or an error too: the next receive finds out).
pub fn after_wait(revents: u32) -> bool {
    if revents & (POLLOUT | POLLERR | POLLHUP) != 0 {
        if let Some(fd) = NET.live_fd() {
            PASST_TX.flush(fd);
        }
    }
    revents & (POLLIN | POLLERR | POLLHUP) != 0
}

/// At most one look at the device per this interval from callers that must not block
/// (`rx_check_due`). A look is one host `read` (about a microsecond), so a program that
/// spins on `poll(.., 0)` pays at most 1% of its time for it, and sees a frame at most
/// this late; callers that block never pay it (the idle `ppoll` watches the device).
pub const PROBE_INTERVAL_NS: u64 = 100_000;

/// When `rx_check_due` last said yes (monotonic ns).
static LAST_PROBE: AtomicU64 = AtomicU64::new(0);

/// Largest passt record: the 4-byte length and a VLAN-tagged 1500-byte frame.
const PASST_RECORD: usize = 4 + 14 + 4 + 1500;
/// Bytes passt's socket did not take yet: about 170 full-size frames, the size of a
/// NIC's transmit ring.
const PASST_TXQ: usize = 256 * 1024;

/// The passt transmit queue: whole records, the first possibly partly written. Behind
/// its own flag (lwIP sends under its core lock, the idle wait flushes without it; one
/// CPU, so the flag is never contended, but neither may run inside the other).
struct PasstTx {
    busy: AtomicBool,
    buf: UnsafeCell<[u8; PASST_TXQ]>,
    /// Queued bytes are `buf[head..head + len]`.
    head: UnsafeCell<usize>,
    len: UnsafeCell<usize>,
    /// Mirror of `len != 0` readable without the flag.
    queued: AtomicBool,
}

// SAFETY: the cells are only touched while `busy` is held (see `with`).
unsafe impl Sync for PasstTx {}

static PASST_TX: PasstTx = PasstTx {
    busy: AtomicBool::new(false),
    buf: UnsafeCell::new([0; PASST_TXQ]),
    head: UnsafeCell::new(0),
    len: UnsafeCell::new(0),
    queued: AtomicBool::new(false),
};

/// What a send to passt did with a record.
#[derive(Debug, PartialEq, Eq)]
enum Sent {
    /// Written, or queued behind earlier bytes.
    Taken,
    /// The queue had no room: dropped.
    Dropped,
}

impl PasstTx {
    fn pending(&self) -> bool {
        self.queued.load(Ordering::Relaxed)
    }

    /// Runs `f` on (buffer, head, len) with the flag held; `None` if it is taken.
    fn with<R>(
        &self,
        f: impl FnOnce(&mut [u8; PASST_TXQ], &mut usize, &mut usize) -> R,
    ) -> Option<R> {
        if self.busy.swap(true, Ordering::Acquire) {
            return None;
        }
        // SAFETY: `busy` gives this caller the only access to the cells until released.
        let r = unsafe {
            f(
                &mut *self.buf.get(),
                &mut *self.head.get(),
                &mut *self.len.get(),
            )
        };
        // SAFETY: as above, still held.
        self.queued
            .store(unsafe { *self.len.get() } != 0, Ordering::Relaxed);
        self.busy.store(false, Ordering::Release);
        Some(r)
    }

    /// Writes out as much of the queue as the socket takes now (never waits).
    fn flush(&self, fd: i32) {
        if self.pending() {
            let write = &mut |b: &[u8]| host::write(fd as usize, b);
            let _ = self.with(|buf, head, len| drain(buf, head, len, write));
        }
    }

    /// Sends one record (length + frame) after whatever is queued; what the socket
    /// does not take is queued; EPIPE and the like when passt is gone.
    fn send(&self, fd: i32, record: &[u8]) -> Result<Sent, Errno> {
        let write = &mut |b: &[u8]| host::write(fd as usize, b);
        self.with(|buf, head, len| push(buf, head, len, record, write))
            .unwrap_or(Ok(Sent::Dropped))
    }
}

/// Writes the queued bytes `buf[*head..*head + *len]` through `write` until it takes no
/// more (EAGAIN). Another error empties the queue: the stream is gone.
fn drain(
    buf: &mut [u8],
    head: &mut usize,
    len: &mut usize,
    write: &mut dyn FnMut(&[u8]) -> isize,
) -> Result<(), Errno> {
    let mut tries = 0;
    while *len > 0 && tries < 64 {
        tries += 1;
        let r = write(&buf[*head..*head + *len]);
        match Errno::from_neg(r) {
            Some(Errno::EAGAIN) => break,
            Some(Errno::EINTR) => continue,
            Some(e) => {
                (*head, *len) = (0, 0);
                return Err(e);
            }
            None if r == 0 => break,
            None => {
                let n = (r as usize).min(*len);
                *head += n;
                *len -= n;
            }
        }
    }
    if *len == 0 {
        *head = 0;
    }
    Ok(())
}

/// [`PasstTx::send`] on a given queue (unit-tested with a fake `write`).
fn push(
    buf: &mut [u8],
    head: &mut usize,
    len: &mut usize,
    record: &[u8],
    write: &mut dyn FnMut(&[u8]) -> isize,
) -> Result<Sent, Errno> {
    drain(buf, head, len, write)?;
    let mut rest = record;
    if *len == 0 {
        // Nothing queued: straight to the socket, queueing only what it leaves.
        let r = write(record);
        match Errno::from_neg(r) {
            Some(Errno::EAGAIN | Errno::EINTR) => {}
            Some(e) => return Err(e),
            None => rest = &record[(r as usize).min(record.len())..],
        }
        if rest.is_empty() {
            return Ok(Sent::Taken);
        }
    }
    if buf.len() - *len < rest.len() {
        return Ok(Sent::Dropped);
    }
    if *head + *len + rest.len() > buf.len() {
        buf.copy_within(*head..*head + *len, 0);
        *head = 0;
    }
    buf[*head + *len..*head + *len + rest.len()].copy_from_slice(rest);
    *len += rest.len();
    Ok(Sent::Taken)
}

fn cstring(s: &[u8], out: &mut [u8]) -> Result<(), &'static str> {
    if s.len() >= out.len() || s.contains(&0) {
        return Err("name too long");
    }
    out[..s.len()].copy_from_slice(s);
    out[s.len()] = 0;
    Ok(())
}

fn open_tap(ifname: &[u8]) -> Result<i32, &'static str> {
    if ifname.is_empty() || ifname.len() >= IFNAMSIZ {
        return Err("net=tap:<ifname> wants an interface name of 1 to 15 characters");
    }
    let r = host::call(
        nr::SYS_OPENAT,
        [
            AT_FDCWD as isize as usize,
            c"/dev/net/tun".as_ptr() as usize,
            (O_RDWR | O_NONBLOCK | O_CLOEXEC) as usize,
            0,
            0,
            0,
        ],
    );
    if r < 0 {
        return Err("cannot open /dev/net/tun (is the tun module loaded? are you root?)");
    }
    let fd = r as i32;
    // struct ifreq: 16-byte name, then short flags (padded to 40 bytes).
    let mut ifr = [0u8; 40];
    cstring(ifname, &mut ifr[..IFNAMSIZ])?;
    ifr[IFNAMSIZ..IFNAMSIZ + 2].copy_from_slice(&(IFF_TAP | IFF_NO_PI).to_ne_bytes());
    if host::call(
        nr::SYS_IOCTL,
        [
            fd as usize,
            TUNSETIFF as usize,
            ifr.as_ptr() as usize,
            0,
            0,
            0,
        ],
    ) < 0
    {
        return Err(
            "TUNSETIFF failed: the tap device does not exist or belongs to another user \
                    (create it with `ip tuntap add dev <ifname> mode tap user $USER`)",
        );
    }
    Ok(fd)
}

fn open_passt(path: &[u8]) -> Result<i32, &'static str> {
    let mut sa = SockaddrUn::new_zeroed();
    sa.sun_family = AF_UNIX;
    cstring(path, &mut sa.sun_path).map_err(|_| "net=passt: socket path too long (max 107)")?;
    let r = host::call(
        nr::SYS_SOCKET,
        [
            AF_UNIX as usize,
            (SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC) as usize,
            0,
            0,
            0,
            0,
        ],
    );
    if r < 0 {
        return Err("cannot create a UNIX socket for passt");
    }
    let fd = r as i32;
    let len = SUN_PATH_OFFSET + path.len() + 1;
    if host::call(
        nr::SYS_CONNECT,
        [fd as usize, sa.as_bytes().as_ptr() as usize, len, 0, 0, 0],
    ) < 0
    {
        return Err(
            "cannot connect to passt's socket (is passt running? start it with \
                    `passt --socket <path>`)",
        );
    }
    Ok(fd)
}

/// Handles a `net=` boot option word (without the `net=` prefix): opens the device and
/// registers it with the platform contract. Called on the boot path, before seccomp.
pub fn setup(spec: &[u8], seed: &[u8; 32]) -> Result<(), &'static str> {
    let (kind, arg, fd) = if let Some(ifname) = spec.strip_prefix(b"tap:") {
        (Kind::Tap, ifname, open_tap(ifname)?)
    } else if let Some(path) = spec.strip_prefix(b"passt:") {
        (Kind::Passt, path, open_passt(path)?)
    } else {
        return Err("net= wants tap:<ifname> or passt:<unix-socket-path>");
    };
    // SAFETY: boot path, before the device is registered or polled: no reader yet.
    unsafe {
        *NET.kind.get() = kind;
        let name = &mut *NET.name.get();
        let prefix: &[u8] = if kind == Kind::Tap {
            b"tap:"
        } else {
            b"passt:"
        };
        let n = (prefix.len() + arg.len()).min(name.len());
        name[..prefix.len()].copy_from_slice(prefix);
        name[prefix.len()..n].copy_from_slice(&arg[..n - prefix.len()]);
        *NET.name_len.get() = n;
        // A random, locally administered unicast address.
        let mac = &mut *NET.mac.get();
        mac.copy_from_slice(&seed[26..32]);
        mac[0] = (mac[0] & 0xfc) | 0x02;
    }
    NET.fd.store(fd, Ordering::Release);
    if !uk_plat::register_net_device(&NET_DYN) {
        return Err("too many network devices");
    }
    Ok(())
}

impl HostNet {
    /// The descriptor while the device is usable.
    fn live_fd(&self) -> Option<i32> {
        let fd = self.fd.load(Ordering::Relaxed);
        (fd >= 0 && !self.hung_up.load(Ordering::Relaxed)).then_some(fd)
    }

    /// The host side went away (`why`): the device is down from now on, said once on
    /// the console (plat/ sits below the kernel log).
    fn hang_up(&self, why: &str) {
        if !self.hung_up.swap(true, Ordering::Relaxed) {
            for part in [
                "ukit: net: ",
                self.name(),
                ": ",
                why,
                "; the device is down\n",
            ] {
                host::write(2, part.as_bytes());
            }
        }
    }

    /// One frame from passt's stream: cut the next frame from the buffer, refilling it
    /// when it holds no whole one.
    fn passt_receive(&self, fd: i32, out: &mut [u8]) -> Option<usize> {
        // SAFETY: `busy` is held by the caller.
        let (rx, head, len) = unsafe {
            (
                &mut *PASST_RX.buf.get(),
                &mut *PASST_RX.head.get(),
                &mut *PASST_RX.len.get(),
            )
        };
        loop {
            let have = &rx[*head..*len];
            if have.len() >= 4 {
                let flen = u32::from_be_bytes([have[0], have[1], have[2], have[3]]) as usize;
                if flen > PASST_BUF - 4 {
                    // Corrupt stream: nothing after this can be framed. Drop it all.
                    (*head, *len) = (0, 0);
                    return Some(out.len() + 1);
                }
                if have.len() >= 4 + flen {
                    let n = flen.min(out.len());
                    out[..n].copy_from_slice(&have[4..4 + n]);
                    *head += 4 + flen;
                    return Some(flen);
                }
            }
            // Room for a whole frame at the end: move the partial one to the front
            // (once per read, not once per frame).
            if *head > 0 {
                rx.copy_within(*head..*len, 0);
                *len -= *head;
                *head = 0;
            }
            let r = host::call(
                nr::SYS_READ,
                [
                    fd as usize,
                    rx[*len..].as_mut_ptr() as usize,
                    PASST_BUF - *len,
                    0,
                    0,
                    0,
                ],
            );
            match Errno::from_neg(r) {
                Some(Errno::EINTR) => continue,
                Some(Errno::EAGAIN) => return None,
                Some(_) => {
                    self.hang_up("passt's socket failed");
                    return None;
                }
                None if r == 0 => {
                    self.hang_up("passt closed its socket");
                    return None;
                }
                None => *len += r as usize,
            }
        }
    }
}

impl NetDevice for HostNet {
    fn name(&self) -> &str {
        // SAFETY: written at boot before registration, read-only after.
        let (n, l) = unsafe { (&*self.name.get(), *self.name_len.get()) };
        core::str::from_utf8(&n[..l]).unwrap_or("net")
    }
    fn mac(&self) -> [u8; 6] {
        // SAFETY: as above.
        unsafe { *self.mac.get() }
    }
    fn mtu(&self) -> u16 {
        1500
    }
    fn link_up(&self) -> bool {
        self.live_fd().is_some()
    }
    fn transmit(&self, frame: &[u8]) -> Result<(), Errno> {
        let Some(fd) = self.live_fd() else {
            return Err(Errno::ENETDOWN);
        };
        if frame.len() > 14 + 4 + 1500 {
            return Err(Errno::EMSGSIZE);
        }
        // SAFETY: boot-time field.
        match unsafe { *self.kind.get() } {
            Kind::Tap => match Errno::from_neg(host::write(fd as usize, frame)) {
                Some(e) => Err(e),
                None => Ok(()),
            },
            Kind::Passt => {
                let mut buf = [0u8; PASST_RECORD];
                buf[..4].copy_from_slice(&(frame.len() as u32).to_be_bytes());
                buf[4..4 + frame.len()].copy_from_slice(frame);
                match PASST_TX.send(fd, &buf[..4 + frame.len()])? {
                    Sent::Taken => Ok(()),
                    Sent::Dropped => Err(Errno::ENOBUFS),
                }
            }
        }
    }
    fn receive(&self, buf: &mut [u8]) -> Option<usize> {
        let fd = self.live_fd()?;
        // Every round of input is also a chance to send what waits for passt.
        PASST_TX.flush(fd);
        if self.busy.swap(true, Ordering::Acquire) {
            return None;
        }
        // SAFETY: boot-time field.
        let r = match unsafe { *self.kind.get() } {
            Kind::Tap => loop {
                let r = host::call(
                    nr::SYS_READ,
                    [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
                );
                match Errno::from_neg(r) {
                    Some(Errno::EINTR) => continue,
                    Some(Errno::EBADF | Errno::EBADFD) => self.hang_up("the tap descriptor failed"),
                    _ => {}
                }
                break (r > 0).then_some(r as usize);
            },
            Kind::Passt => self.passt_receive(fd, buf),
        };
        self.busy.store(false, Ordering::Release);
        r
    }
    /// Yes when passt's buffer already holds a whole frame (no host call needed), else
    /// at most once per [`PROBE_INTERVAL_NS`].
    fn rx_check_due(&self) -> bool {
        if self.live_fd().is_none() {
            return false;
        }
        if self.passt_frame_buffered() {
            return true;
        }
        let now = uk_plat::get().monotonic_ns();
        let last = LAST_PROBE.load(Ordering::Relaxed);
        if now.wrapping_sub(last) < PROBE_INTERVAL_NS {
            return false;
        }
        LAST_PROBE.store(now, Ordering::Relaxed);
        true
    }
}

impl HostNet {
    /// A whole passt frame waits in the receive buffer.
    fn passt_frame_buffered(&self) -> bool {
        // SAFETY: boot-time field.
        if unsafe { *self.kind.get() } != Kind::Passt || self.busy.swap(true, Ordering::Acquire) {
            return false;
        }
        // SAFETY: `busy` is held.
        let have = unsafe {
            let buf = &*PASST_RX.buf.get();
            &buf[*PASST_RX.head.get()..*PASST_RX.len.get()]
        };
        let whole = have.len() >= 4
            && have.len() >= 4 + u32::from_be_bytes([have[0], have[1], have[2], have[3]]) as usize;
        self.busy.store(false, Ordering::Release);
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `room` bytes per call, recording what it took.
    struct Sock {
        room: usize,
        taken: Vec<u8>,
        fail: Option<Errno>,
    }
    impl Sock {
        fn write(&mut self, b: &[u8]) -> isize {
            if let Some(e) = self.fail {
                return e.as_neg();
            }
            let n = b.len().min(self.room);
            if n == 0 {
                return Errno::EAGAIN.as_neg();
            }
            self.taken.extend_from_slice(&b[..n]);
            self.room -= n;
            n as isize
        }
    }

    fn record(i: u8, n: usize) -> Vec<u8> {
        let mut r = (n as u32).to_be_bytes().to_vec();
        r.extend((0..n).map(|k| i ^ k as u8));
        r
    }

    #[test]
    fn a_full_socket_queues_then_drops_and_never_splits_a_record() {
        let mut buf = vec![0u8; 4096];
        let (mut head, mut len) = (0, 0);
        let mut s = Sock {
            room: 1000,
            taken: Vec::new(),
            fail: None,
        };
        let mut sent = Vec::new();
        let mut dropped = 0;
        for i in 0..10u8 {
            let r = record(i, 900);
            match push(&mut buf, &mut head, &mut len, &r, &mut |b| s.write(b)).unwrap() {
                Sent::Taken => sent.extend_from_slice(&r),
                Sent::Dropped => dropped += 1,
            }
        }
        // 1000 bytes written, 4096 queued at most: the rest of the ten are dropped.
        assert!(dropped > 0 && dropped < 10, "{dropped}");
        assert_eq!(s.taken.len() + len, sent.len());
        // Room again: the queue drains in order, and the stream is whole records.
        s.room = usize::MAX;
        drain(&mut buf, &mut head, &mut len, &mut |b| s.write(b)).unwrap();
        assert_eq!((head, len), (0, 0));
        assert_eq!(s.taken, sent);
        let mut at = 0;
        while at < s.taken.len() {
            let n = u32::from_be_bytes(s.taken[at..at + 4].try_into().unwrap()) as usize;
            assert_eq!(n, 900);
            at += 4 + n;
        }
        assert_eq!(at, s.taken.len());
    }

    #[test]
    fn a_closed_socket_is_an_error_and_empties_the_queue() {
        let mut buf = vec![0u8; 4096];
        let (mut head, mut len) = (0, 0);
        let mut s = Sock {
            room: 10,
            taken: Vec::new(),
            fail: None,
        };
        let r = record(1, 100);
        let got = push(&mut buf, &mut head, &mut len, &r, &mut |b| s.write(b));
        assert_eq!(got, Ok(Sent::Taken));
        assert_eq!(len, 94);
        s.fail = Some(Errno::EPIPE);
        let got = push(&mut buf, &mut head, &mut len, &r, &mut |b| s.write(b));
        assert_eq!(got, Err(Errno::EPIPE));
        assert_eq!(len, 0);
    }
}
