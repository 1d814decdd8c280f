//! virtio-9p: a host directory shared by the VMM (QEMU `-fsdev local` + `virtio-9p-*`),
//! spoken to in 9P2000.L, offered to lib/vfs as the platform's [`uk_plat::HostFs`]
//! (so `root=hostfs:/` and the hostfs backend work on kvm unchanged).
//!
//! One virtqueue, one request in flight: descriptor 1 holds the request (device
//! readable) and chains to descriptor 0, the reply buffer (device writable); the driver
//! polls the used ring with a deadline ([`TIMEOUT_NS`]) instead of taking interrupts.
//! A device that misses the deadline may still write into the buffers later, so the
//! driver stops using it for good (every call is EIO afterwards).
//!
//! Discovery (before the heap exists) records the transport and the mount tag from the
//! device configuration; the queue, the buffers and the 9P session (Tversion, Tattach)
//! come on first use, which `Platform::hostfs()` triggers at boot.

pub mod client;
pub mod wire;

/// The virtio device id of a 9P transport.
pub const DEVICE_ID: u32 = 9;
/// Feature bit: the configuration holds a mount tag.
pub const F_MOUNT_TAG: u64 = 1;
/// Longest mount tag kept.
pub const TAG_MAX: usize = 64;
/// Message size offered to the server (data per Tread/Twrite: this minus 24 bytes).
pub const MSIZE: usize = 128 * 1024;
/// How long one request may take before the device is given up (TCG is slow, and a
/// host fsync can take a while).
pub const TIMEOUT_NS: u64 = 30_000_000_000;

/// Read the mount tag from the device configuration (`tag_len: le16`, then the bytes)
/// through `byte(off)`; a length beyond [`TAG_MAX`] is cut there.
pub fn read_tag(byte: impl Fn(usize) -> u8, out: &mut [u8; TAG_MAX]) -> usize {
    let n = (u16::from_le_bytes([byte(0), byte(1)]) as usize).min(TAG_MAX);
    for (i, b) in out.iter_mut().take(n).enumerate() {
        *b = byte(2 + i);
    }
    n
}

#[cfg(not(test))]
pub use hw::*;

#[cfg(not(test))]
mod hw {
    use super::client::{Chan, Client};
    use super::*;
    use crate::virtio::queue::{Layout, Used, Virtq, DESC_F_NEXT, DESC_F_WRITE};
    use crate::virtio::transport::{
        Transport, F_VERSION_1, S_ACKNOWLEDGE, S_DRIVER, S_DRIVER_OK, S_FAILED, S_FEATURES_OK,
    };
    use core::cell::UnsafeCell;
    use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};
    use uk_abi::stat::{Stat, Statfs};
    use uk_abi::Errno;
    use uk_plat::HostFs;

    const QSIZE: u16 = 2;

    const NONE: u8 = 0;
    const FOUND: u8 = 1;
    const UP: u8 = 2;
    const FAILED: u8 = 3;

    /// The virtqueue side of a [`Chan`].
    pub struct VirtioChan {
        t: Transport,
        q: Virtq,
    }

    impl Chan for VirtioChan {
        fn exchange(&mut self, req: &[u8], reply: &mut [u8]) -> Result<usize, Errno> {
            // Descriptor 1 (request) -> descriptor 0 (reply): `set_desc` leaves `next`
            // at 0, which is exactly the chain wanted.
            self.q.set_desc(
                0,
                reply.as_mut_ptr() as u64,
                reply.len() as u32,
                DESC_F_WRITE,
            );
            self.q
                .set_desc(1, req.as_ptr() as u64, req.len() as u32, DESC_F_NEXT);
            self.q.push_avail(1);
            if self.q.needs_notify() {
                self.t.notify(0);
            }
            let start = uk_plat::get().monotonic_ns();
            loop {
                match self.q.pop_used() {
                    Some(Used::Ok { id: 1, len }) => {
                        self.t.ack_interrupt();
                        return Ok((len as usize).min(reply.len()));
                    }
                    Some(_) => return Err(Errno::EIO),
                    None => {}
                }
                if uk_plat::get().monotonic_ns().wrapping_sub(start) > TIMEOUT_NS {
                    crate::serial::write(
                        b"ukit: virtio-9p: the device stopped answering; host files are gone\n",
                    );
                    return Err(Errno::EIO);
                }
                core::hint::spin_loop();
            }
        }
    }

    /// The one virtio-9p device an image drives.
    pub struct P9Dev {
        transport: UnsafeCell<Option<Transport>>,
        tag: UnsafeCell<([u8; TAG_MAX], usize)>,
        state: AtomicU8,
        lock: AtomicBool,
        client: UnsafeCell<Option<Client<VirtioChan>>>,
    }

    // SAFETY: `transport` and `tag` are written once on the boot path (state NONE ->
    // FOUND) before anything reads them; `client` only while `lock` is held (one CPU,
    // never across a wait).
    unsafe impl Sync for P9Dev {}

    struct Guard<'a>(&'a AtomicBool);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
        }
    }

    pub static P9: P9Dev = P9Dev {
        transport: UnsafeCell::new(None),
        tag: UnsafeCell::new(([0; TAG_MAX], 0)),
        state: AtomicU8::new(NONE),
        lock: AtomicBool::new(false),
        client: UnsafeCell::new(None),
    };

    impl P9Dev {
        /// Boot path: record the first 9P transport found (later ones are ignored).
        pub fn attach(&self, t: Transport) -> bool {
            if self.state.load(Ordering::Acquire) != NONE {
                return false;
            }
            // SAFETY: boot path, single CPU, state NONE: nothing reads these yet.
            unsafe {
                let tag = &mut *self.tag.get();
                tag.1 = read_tag(|o| t.config8(o), &mut tag.0);
                *self.transport.get() = Some(t);
            }
            self.state.store(FOUND, Ordering::Release);
            true
        }

        /// The mount tag the VMM gave the share (empty without a device).
        pub fn mount_tag(&self) -> &[u8] {
            if self.state.load(Ordering::Acquire) == NONE {
                return b"";
            }
            // SAFETY: written once before state left NONE.
            let t = unsafe { &*self.tag.get() };
            &t.0[..t.1]
        }

        /// The share as `HostFs`, bringing the device and the session up on first use.
        pub fn hostfs(&'static self) -> Option<&'static dyn HostFs> {
            match self.state.load(Ordering::Acquire) {
                NONE | FAILED => return None,
                UP => return Some(self),
                _ => {}
            }
            let g = self.try_lock()?;
            let ok = self.bring_up(&g);
            self.state
                .store(if ok { UP } else { FAILED }, Ordering::Release);
            if !ok {
                // SAFETY: written once before the state left NONE.
                if let Some(t) = unsafe { (*self.transport.get()).as_ref() } {
                    t.set_status(t.status() | S_FAILED);
                }
                crate::serial::write(
                    b"ukit: virtio-9p: the device refused to start; no host files\n",
                );
                return None;
            }
            Some(self)
        }

        fn try_lock(&self) -> Option<Guard<'_>> {
            self.lock
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
                .then_some(Guard(&self.lock))
        }

        fn bring_up(&self, _g: &Guard<'_>) -> bool {
            // SAFETY: written once before the state left NONE.
            let Some(t) = (unsafe { (*self.transport.get()).as_ref() }).copied() else {
                return false;
            };
            if !t.reset() {
                return false;
            }
            t.set_status(S_ACKNOWLEDGE);
            t.set_status(S_ACKNOWLEDGE | S_DRIVER);
            let offered = t.device_features();
            let mut want = F_MOUNT_TAG;
            if t.is_modern() {
                if offered & F_VERSION_1 == 0 {
                    return false;
                }
                want |= F_VERSION_1;
            }
            t.set_driver_features(offered & want);
            if t.is_modern() {
                t.set_status(S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
                if t.status() & S_FEATURES_OK == 0 {
                    return false;
                }
            }
            if t.queue_max(0) < QSIZE {
                return false;
            }
            let Some(mem) = alloc_pages(Layout::new(QSIZE).total) else {
                return false;
            };
            // SAFETY: a fresh, zeroed, page-aligned block of the right size, never freed.
            let mut q = unsafe { Virtq::new(mem, QSIZE) };
            q.set_no_interrupt(true);
            if !t.setup_queue(0, QSIZE, q.addrs(), false) {
                return false;
            }
            t.set_status(t.status() | S_DRIVER_OK);
            let mut c = Client::new(VirtioChan { t, q }, MSIZE);
            if c.connect().is_err() {
                return false;
            }
            // SAFETY: the lock is held.
            unsafe { *self.client.get() = Some(c) };
            true
        }

        /// Run `f` on the session, under the lock.
        fn with<R>(
            &self,
            f: impl FnOnce(&mut Client<VirtioChan>) -> Result<R, Errno>,
        ) -> Result<R, Errno> {
            // One CPU and no waits inside: the lock is only ever found taken by code
            // re-entering from an interrupt, which 9P never does.
            let _g = self.try_lock().ok_or(Errno::EIO)?;
            // SAFETY: the lock is held.
            match unsafe { (*self.client.get()).as_mut() } {
                Some(c) => f(c),
                None => Err(Errno::EIO),
            }
        }
    }

    fn alloc_pages(len: usize) -> Option<usize> {
        extern crate alloc;
        let l = core::alloc::Layout::from_size_align(len, 4096).ok()?;
        // SAFETY: `l` has a non-zero size.
        let p = unsafe { alloc::alloc::alloc_zeroed(l) };
        (!p.is_null()).then_some(p as usize)
    }

    impl HostFs for P9Dev {
        fn open_dir(&self, host_path: &[u8]) -> Result<i32, Errno> {
            self.with(|c| c.open_dir(host_path))
        }
        fn initial_cwd(&self) -> &[u8] {
            b"/"
        }
        fn openat(&self, dirfd: i32, name: &[u8], flags: u32, mode: u32) -> Result<i32, Errno> {
            self.with(|c| c.openat(dirfd, name, flags, mode))
        }
        fn close(&self, fd: i32) {
            let _ = self.with(|c| {
                c.close(fd);
                Ok(())
            });
        }
        fn pread(&self, fd: i32, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
            self.with(|c| c.pread(fd, buf, off))
        }
        fn pwrite(&self, fd: i32, buf: &[u8], off: u64) -> Result<usize, Errno> {
            self.with(|c| c.pwrite(fd, buf, off))
        }
        fn write(&self, fd: i32, buf: &[u8]) -> Result<usize, Errno> {
            self.with(|c| c.write(fd, buf))
        }
        fn fstat(&self, fd: i32) -> Result<Stat, Errno> {
            self.with(|c| c.fstat(fd))
        }
        fn fstatfs(&self, fd: i32) -> Result<Statfs, Errno> {
            self.with(|c| c.fstatfs(fd))
        }
        fn getdents64(&self, fd: i32, cookie: u64, buf: &mut [u8]) -> Result<usize, Errno> {
            self.with(|c| c.getdents64(fd, cookie, buf))
        }
        fn mkdirat(&self, dirfd: i32, name: &[u8], mode: u32) -> Result<(), Errno> {
            self.with(|c| c.mkdirat(dirfd, name, mode))
        }
        // mknodat: the contract's default (EPERM). QEMU's local backend refuses special
        // files (it reports a "broken or compromised client" and answers ENXIO after a
        // Tmknod), so FIFOs and socket nodes are not asked of the host: uk-posix keeps
        // a socket's name in its own table instead (posix/src/socket/unix.rs).
        fn unlinkat(&self, dirfd: i32, name: &[u8], dir: bool) -> Result<(), Errno> {
            self.with(|c| c.unlinkat(dirfd, name, dir))
        }
        fn renameat(
            &self,
            olddir: i32,
            old: &[u8],
            newdir: i32,
            new: &[u8],
            flags: u32,
        ) -> Result<(), Errno> {
            self.with(|c| c.renameat(olddir, old, newdir, new, flags))
        }
        fn symlinkat(&self, target: &[u8], dirfd: i32, name: &[u8]) -> Result<(), Errno> {
            self.with(|c| c.symlinkat(target, dirfd, name))
        }
        fn readlink(&self, fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
            self.with(|c| c.readlink(fd, buf))
        }
        fn linkat(&self, olddir: i32, old: &[u8], newdir: i32, new: &[u8]) -> Result<(), Errno> {
            self.with(|c| c.linkat(olddir, old, newdir, new))
        }
        fn ftruncate(&self, fd: i32, len: u64) -> Result<(), Errno> {
            self.with(|c| c.ftruncate(fd, len))
        }
        fn fsync(&self, fd: i32, data_only: bool) -> Result<(), Errno> {
            self.with(|c| c.fsync(fd, data_only))
        }
        fn fchmodat(&self, dirfd: i32, name: &[u8], mode: u32) -> Result<(), Errno> {
            self.with(|c| c.fchmodat(dirfd, name, mode))
        }
        fn fchown(&self, fd: i32, uid: u32, gid: u32) -> Result<(), Errno> {
            self.with(|c| c.fchown(fd, uid, gid))
        }
        fn utimensat(&self, dirfd: i32, name: &[u8], times: &[[i64; 2]; 2]) -> Result<(), Errno> {
            self.with(|c| c.utimensat(dirfd, name, times))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_tag_comes_from_the_config_and_is_bounded() {
        let cfg = [4u8, 0, b'u', b'k', b'i', b't', 0xaa];
        let mut out = [0u8; TAG_MAX];
        let n = read_tag(|o| cfg.get(o).copied().unwrap_or(0), &mut out);
        assert_eq!(&out[..n], b"ukit");
        let n = read_tag(|o| if o < 2 { 0xff } else { b'x' }, &mut out);
        assert_eq!(n, TAG_MAX, "a huge tag_len is cut, never followed");
    }
}
