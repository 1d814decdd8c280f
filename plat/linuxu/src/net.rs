//! Network devices of a linuxu image, chosen by the boot option `net=`:
//!
//! - `net=tap:<ifname>`: a host tap device (needs CAP_NET_ADMIN or a tap the user owns),
//!   opened at boot through /dev/net/tun with `TUNSETIFF` (`IFF_TAP | IFF_NO_PI`).
//! - `net=passt:<unix-socket-path>`: passt's user-mode networking, over its UNIX stream
//!   socket with the QEMU frame protocol (a 4-byte big-endian length, then the frame).
//!
//! Both are opened before the host-call filter closes; afterwards only `read`, `write`
//! and `ppoll` on the descriptor are used (already in [`crate::host::RUNTIME_CALLS`]).
//! The descriptor is non-blocking and joins the idle `ppoll` ([`poll_fds`]), so an idle
//! image wakes when a frame arrives and tells lib/netdev through `uk_plat::net_event`.

use crate::host::{self, nr};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use uk_plat::NetDevice;

use uk_abi::fcntl::{AT_FDCWD, O_CLOEXEC, O_NONBLOCK, O_RDWR};
use uk_abi::ioctl::{IFF_NO_PI, IFF_TAP, IFNAMSIZ, TUNSETIFF};
use uk_abi::poll::POLLOUT;
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
}

/// passt's receive buffer and fill level. Apart from HostNet (whose `fd` starts at -1,
/// which puts it in .data) so that these 64 KiB of zeros are .bss, not image bytes.
struct PasstRx {
    buf: UnsafeCell<[u8; PASST_BUF]>,
    len: UnsafeCell<usize>,
}

// SAFETY: only touched under HostNet's `busy` flag.
unsafe impl Sync for PasstRx {}

static PASST_RX: PasstRx = PasstRx {
    buf: UnsafeCell::new([0; PASST_BUF]),
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
};
static NET_DYN: &dyn NetDevice = &NET;

/// The device descriptor for the idle `ppoll`, if a device is open.
pub fn poll_fds() -> Option<i32> {
    let fd = NET.fd.load(Ordering::Relaxed);
    (fd >= 0).then_some(fd)
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

/// Writes all of `buf`, waiting for room when the host socket is full.
fn write_all(fd: i32, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        let r = host::write(fd as usize, buf);
        match Errno::from_neg(r) {
            Some(Errno::EAGAIN) => {
                let mut pfd = [fd, POLLOUT as i32];
                host::call(nr::SYS_PPOLL, [pfd.as_mut_ptr() as usize, 1, 0, 0, 8, 0]);
            }
            Some(Errno::EINTR) => {}
            Some(e) => return Err(e),
            None if r == 0 => return Err(Errno::EIO),
            None => buf = &buf[r as usize..],
        }
    }
    Ok(())
}

impl HostNet {
    /// One frame from passt's stream: refill the buffer, then cut the first frame.
    fn passt_receive(&self, fd: i32, out: &mut [u8]) -> Option<usize> {
        // SAFETY: `busy` is held by the caller.
        let (rx, len) = unsafe { (&mut *PASST_RX.buf.get(), &mut *PASST_RX.len.get()) };
        loop {
            if *len >= 4 {
                let flen = u32::from_be_bytes([rx[0], rx[1], rx[2], rx[3]]) as usize;
                if flen > PASST_BUF - 4 {
                    // Corrupt stream: nothing after this can be framed. Drop it all.
                    *len = 0;
                    return Some(out.len() + 1);
                }
                if *len >= 4 + flen {
                    let n = flen.min(out.len());
                    out[..n].copy_from_slice(&rx[4..4 + n]);
                    rx.copy_within(4 + flen..*len, 0);
                    *len -= 4 + flen;
                    return Some(flen);
                }
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
            if r == Errno::EINTR.as_neg() {
                continue;
            }
            if r <= 0 {
                return None; // EAGAIN, or passt went away (end of stream)
            }
            *len += r as usize;
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
        self.fd.load(Ordering::Relaxed) >= 0
    }
    fn transmit(&self, frame: &[u8]) -> Result<(), Errno> {
        let fd = self.fd.load(Ordering::Relaxed);
        if fd < 0 {
            return Err(Errno::ENETDOWN);
        }
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
                let mut buf = [0u8; 4 + 14 + 4 + 1500];
                buf[..4].copy_from_slice(&(frame.len() as u32).to_be_bytes());
                buf[4..4 + frame.len()].copy_from_slice(frame);
                write_all(fd, &buf[..4 + frame.len()])
            }
        }
    }
    fn receive(&self, buf: &mut [u8]) -> Option<usize> {
        let fd = self.fd.load(Ordering::Relaxed);
        if fd < 0 || self.busy.swap(true, Ordering::Acquire) {
            return None;
        }
        // SAFETY: boot-time field.
        let r = match unsafe { *self.kind.get() } {
            Kind::Tap => loop {
                let r = host::call(
                    nr::SYS_READ,
                    [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
                );
                if r == Errno::EINTR.as_neg() {
                    continue;
                }
                break (r > 0).then_some(r as usize);
            },
            Kind::Passt => self.passt_receive(fd, buf),
        };
        self.busy.store(false, Ordering::Release);
        r
    }
}
