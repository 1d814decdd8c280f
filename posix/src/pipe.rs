//! Pipes: a byte ring shared by a read end and a write end.
//!
//! Linux semantics kept here: capacity 64 KiB (resizable with F_SETPIPE_SZ), writes of
//! at most PIPE_BUF bytes are atomic (they wait for room for all of them), larger
//! writes may be split; reading an empty pipe with no writer left is end of file;
//! writing with no reader left is EPIPE plus SIGPIPE. Each end is an open file
//! description: O_NONBLOCK set through pipe2, fcntl or FIONBIO applies to that end and
//! to every descriptor duplicated from it.
//!
//! Named pipes (FIFOs, made by mknod/mkfifo) are the same pipe reached through a file
//! system node: every open of one node shares one [`Pipe`] while any end is open
//! ([`open_fifo`]), with Linux's open rules: O_RDONLY waits for a writer and O_WRONLY
//! for a reader (O_NONBLOCK: the reader opens at once, a writer without a reader fails
//! with ENXIO), O_RDWR never waits and is both ends. The bytes are gone once the last
//! end closes, as on Linux.

use uk_abi::fcntl::{O_CLOEXEC, O_DIRECT, O_NONBLOCK, O_WRONLY};
use uk_abi::ioctl::{FIOASYNC, FIONBIO, FIONREAD};
use uk_abi::poll::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
use uk_abi::stat::S_IFIFO;

use crate::file::{File, Sink, Source, Stat};
use crate::{Errno, KResult};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use uk_sched::{WaitQueue, Wake};

/// Writes up to this size are atomic.
pub const PIPE_BUF: usize = 4096;
/// Default capacity (16 pages, as Linux).
pub const PIPE_DEFAULT_SIZE: usize = 65536;
/// Largest capacity F_SETPIPE_SZ grants (Linux's /proc/sys/fs/pipe-max-size default).
pub const PIPE_MAX_SIZE: usize = 1 << 20;

/// Inode numbers for fstat: distinct per pipe.
static NEXT_INO: AtomicU64 = AtomicU64::new(1);

struct Ring {
    data: VecDeque<u8>,
    cap: usize,
    readers: usize,
    writers: usize,
    /// Opens of each side so far (a FIFO opener waits for the other side's count to
    /// move, so an end that opened and closed meanwhile still counts).
    reader_opens: u64,
    writer_opens: u64,
}

/// The shared part of a pipe.
pub struct Pipe {
    ring: spin::Mutex<Ring>,
    /// Both directions signal here: readers wait for data or EOF, writers for room.
    queue: WaitQueue,
    ino: u64,
}

/// One end of a pipe (an open file description). A FIFO opened O_RDWR is both ends.
pub struct PipeEnd {
    pipe: Arc<Pipe>,
    read: bool,
    write: bool,
    flags: AtomicU32,
    /// The FIFO's node, for fstat (None for pipe(2)).
    node: Option<Arc<dyn uk_vfs::Node>>,
}

/// FIONBIO: the argument points to an int; non-zero sets O_NONBLOCK. Shared by the
/// readiness objects of this crate.
pub(crate) fn fionbio(flags: &AtomicU32, arg: usize) -> KResult<usize> {
    let on: i32 = crate::user::read(arg)?;
    if on != 0 {
        flags.fetch_or(O_NONBLOCK, Ordering::Relaxed);
    } else {
        flags.fetch_and(!O_NONBLOCK, Ordering::Relaxed);
    }
    Ok(0)
}

/// FIOASYNC: the argument points to an int (read, so a bad pointer is EFAULT). As for
/// O_ASYNC through F_SETFL, the request is taken and nothing more happens: no SIGIO is
/// sent (nginx's master asks for it on its channel to each worker, and only uses the
/// signal as a hint to look at the channel it also polls).
pub(crate) fn fioasync(arg: usize) -> KResult<usize> {
    let _on: i32 = crate::user::read(arg)?;
    Ok(0)
}

/// Apply F_SETFL to a readiness object: only O_NONBLOCK is kept (the access mode and
/// creation flags cannot change; O_APPEND/O_ASYNC mean nothing here).
pub(crate) fn set_nonblock_from(flags: &AtomicU32, new: u32) {
    if new & O_NONBLOCK != 0 {
        flags.fetch_or(O_NONBLOCK, Ordering::Relaxed);
    } else {
        flags.fetch_and(!O_NONBLOCK, Ordering::Relaxed);
    }
}

/// Send SIGPIPE to the writing thread (delivered, or left pending if blocked, when the
/// system call ends).
fn raise_sigpipe() {
    crate::process::current()
        .signals
        .send_to_thread(uk_sched::current_tid(), uk_abi::signal::SIGPIPE);
}

/// pipe2(2): a connected (read end, write end) pair. Flags: O_NONBLOCK, O_CLOEXEC
/// (handled by the caller when installing), O_DIRECT (accepted; packet mode is not
/// implemented and it behaves as a byte stream). Others: EINVAL.
pub fn pipe(flags: u32) -> KResult<(Arc<PipeEnd>, Arc<PipeEnd>)> {
    if flags & !(O_NONBLOCK | O_CLOEXEC | O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & O_DIRECT != 0 {
        uk_log::warn_once!("pipe2(O_DIRECT): packet mode is not implemented; byte stream used");
    }
    let p = Pipe::new(1, 1);
    let nb = flags & O_NONBLOCK;
    let r = Arc::new(PipeEnd {
        pipe: p.clone(),
        read: true,
        write: false,
        flags: AtomicU32::new(nb),
        node: None,
    });
    let w = Arc::new(PipeEnd {
        pipe: p,
        read: false,
        write: true,
        flags: AtomicU32::new(O_WRONLY | nb),
        node: None,
    });
    Ok((r, w))
}

impl Pipe {
    fn new(readers: usize, writers: usize) -> Arc<Pipe> {
        Arc::new(Pipe {
            ring: spin::Mutex::new(Ring {
                data: VecDeque::new(),
                cap: PIPE_DEFAULT_SIZE,
                readers,
                writers,
                reader_opens: readers as u64,
                writer_opens: writers as u64,
            }),
            queue: WaitQueue::new(),
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
        })
    }
}

/// The pipes of FIFO nodes that have an end open, by the node's identity (file system
/// instance, st_dev, st_ino).
type FifoKey = (usize, u64, u64);
static FIFOS: spin::Mutex<alloc::vec::Vec<(FifoKey, alloc::sync::Weak<Pipe>)>> =
    spin::Mutex::new(alloc::vec::Vec::new());

/// The pipe every open of FIFO `node` shares (made on the first open).
fn fifo_pipe(node: &Arc<dyn uk_vfs::Node>) -> KResult<Arc<Pipe>> {
    let (dev, ino) = node.dev_ino()?;
    let key = (node.fs_id(), dev, ino);
    let mut t = FIFOS.lock();
    t.retain(|(_, w)| w.strong_count() > 0);
    if let Some(p) = t
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, w)| w.upgrade())
    {
        return Ok(p);
    }
    let p = Pipe::new(0, 0);
    t.push((key, Arc::downgrade(&p)));
    Ok(p)
}

/// open(2) of a FIFO node with `flags` (access mode, O_NONBLOCK): one end of the pipe
/// the node's opens share, after waiting for the other side as Linux does (see the
/// module documentation). A signal while waiting: EINTR.
pub fn open_fifo(node: Arc<dyn uk_vfs::Node>, flags: u32) -> KResult<Arc<PipeEnd>> {
    let access = flags & 3;
    let (read, write) = match access {
        0 => (true, false),
        1 => (false, true),
        2 => (true, true),
        _ => return Err(Errno::EINVAL),
    };
    let nonblock = flags & O_NONBLOCK != 0;
    let pipe = fifo_pipe(&node)?;
    // The end exists (and counts) from here on: dropping it undoes the counts.
    let seen = {
        let mut r = pipe.ring.lock();
        if write && !read && nonblock && r.readers == 0 {
            return Err(Errno::ENXIO);
        }
        if read {
            r.readers += 1;
            r.reader_opens += 1;
        }
        if write {
            r.writers += 1;
            r.writer_opens += 1;
        }
        (r.reader_opens, r.writer_opens)
    };
    let end = Arc::new(PipeEnd {
        pipe: pipe.clone(),
        read,
        write,
        flags: AtomicU32::new((flags & O_NONBLOCK) | access),
        node: Some(node),
    });
    pipe.queue.notify(POLLIN | POLLOUT);
    if read && write || nonblock {
        return Ok(end);
    }
    // Wait for the other side: a reader for a writer's open and the reverse.
    let other_came = || {
        let r = pipe.ring.lock();
        if read {
            r.writers > 0 || r.writer_opens != seen.1
        } else {
            r.readers > 0 || r.reader_opens != seen.0
        }
    };
    match pipe.queue.wait_until(None, other_came) {
        Wake::Interrupted => Err(Errno::EINTR),
        _ => Ok(end),
    }
}

/// pipe2(2) into the descriptor table: returns (read fd, write fd).
pub fn pipe_fds(flags: u32) -> KResult<(i32, i32)> {
    let (r, w) = pipe(flags)?;
    let cloexec = flags & O_CLOEXEC != 0;
    let rfd = crate::process::current().install(r, cloexec)?;
    match crate::process::current().install(w, cloexec) {
        Ok(wfd) => Ok((rfd, wfd)),
        Err(e) => {
            let _ = crate::process::current().fds.close(rfd);
            Err(e)
        }
    }
}

impl PipeEnd {
    fn nonblock(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & O_NONBLOCK != 0
    }

    /// Bytes waiting to be read.
    pub fn available(&self) -> usize {
        self.pipe.ring.lock().data.len()
    }

    /// Bytes a write could add now without waiting.
    pub(crate) fn room(&self) -> usize {
        let r = self.pipe.ring.lock();
        r.cap.saturating_sub(r.data.len())
    }

    /// The pipe both ends share (to tell two ends of one pipe).
    pub(crate) fn shared(&self) -> &Pipe {
        &self.pipe
    }

    /// True when this end may be read.
    pub(crate) fn reads(&self) -> bool {
        self.read
    }

    /// True when this end may be written.
    pub(crate) fn writes(&self) -> bool {
        self.write
    }

    /// splice(2) out of this read end: waits for data as read(2) does (`nonblock`:
    /// EAGAIN instead), hands up to `max` bytes from the front to `give`, and removes
    /// only as many as `give` took, so bytes the other side refused stay in the pipe.
    /// End of file: Ok(0).
    pub(crate) fn splice_out(
        &self,
        max: usize,
        nonblock: bool,
        give: &mut dyn FnMut(&[u8]) -> KResult<usize>,
    ) -> KResult<usize> {
        if !self.read {
            return Err(Errno::EBADF);
        }
        loop {
            let chunk: alloc::vec::Vec<u8> = {
                let r = self.pipe.ring.lock();
                if r.data.is_empty() && r.writers == 0 {
                    return Ok(0);
                }
                r.data.iter().take(max).copied().collect()
            };
            if !chunk.is_empty() {
                let n = give(&chunk)?;
                let mut r = self.pipe.ring.lock();
                let n = n.min(r.data.len());
                r.data.drain(..n);
                drop(r);
                self.pipe.queue.notify(POLLOUT);
                return Ok(n);
            }
            if nonblock || self.nonblock() {
                return Err(Errno::EAGAIN);
            }
            if self.pipe.queue.wait(None) == Wake::Interrupted {
                return Err(Errno::EINTR);
            }
        }
    }

    /// tee(2) from this read end into `out`, the write end of another pipe: copies up to
    /// `max` bytes from the front of this pipe without taking them out. Waits for data
    /// here, then for room there (`nonblock`: EAGAIN instead of either wait); no reader
    /// there: EPIPE and SIGPIPE, checked before end of file here (Ok(0)), as Linux
    /// does.
    pub(crate) fn tee_to(&self, out: &PipeEnd, max: usize, nonblock: bool) -> KResult<usize> {
        loop {
            let (has_data, eof) = {
                let r = self.pipe.ring.lock();
                (!r.data.is_empty(), r.data.is_empty() && r.writers == 0)
            };
            if !has_data && !eof {
                if nonblock {
                    return Err(Errno::EAGAIN);
                }
                if self.pipe.queue.wait(None) == Wake::Interrupted {
                    return Err(Errno::EINTR);
                }
                continue;
            }
            let room = {
                let o = out.pipe.ring.lock();
                if o.readers == 0 {
                    drop(o);
                    raise_sigpipe();
                    return Err(Errno::EPIPE);
                }
                o.cap.saturating_sub(o.data.len())
            };
            if eof {
                return Ok(0);
            }
            if room == 0 {
                if nonblock {
                    return Err(Errno::EAGAIN);
                }
                if out.pipe.queue.wait(None) == Wake::Interrupted {
                    return Err(Errno::EINTR);
                }
                continue;
            }
            let chunk: alloc::vec::Vec<u8> = {
                let r = self.pipe.ring.lock();
                r.data.iter().take(max.min(room)).copied().collect()
            };
            if chunk.is_empty() {
                continue;
            }
            // There is room for all of it: the write does not wait.
            return out.do_write(&&chunk[..], true);
        }
    }

    /// splice(2) into this write end: `nonblock` adds to the end's own O_NONBLOCK.
    pub(crate) fn splice_in(&self, buf: &dyn Source, nonblock: bool) -> KResult<usize> {
        if !self.write {
            return Err(Errno::EBADF);
        }
        self.do_write(buf, nonblock || self.nonblock())
    }

    fn do_read(&self, buf: &mut dyn Sink) -> KResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            {
                let mut r = self.pipe.ring.lock();
                if !r.data.is_empty() {
                    let was_full = r.cap.saturating_sub(r.data.len()) < PIPE_BUF;
                    let n = buf.len().min(r.data.len());
                    // Copied after any wait, checked now; on a bad buffer the data stays
                    // in the pipe (EFAULT), as on Linux.
                    crate::bytes::copy_front(&r.data, n, buf)?;
                    r.data.drain(..n);
                    let now_writable = r.cap - r.data.len() >= PIPE_BUF;
                    if r.data.is_empty() {
                        // Give the memory back: idle pipes should not hold 64 KiB.
                        r.data = VecDeque::new();
                    }
                    drop(r);
                    if was_full && now_writable {
                        self.pipe.queue.notify(POLLOUT);
                    } else {
                        // Writers waiting for room for a large or atomic write.
                        self.pipe.queue.wake_all();
                    }
                    return Ok(n);
                }
                if r.writers == 0 {
                    return Ok(0);
                }
            }
            if self.nonblock() {
                return Err(Errno::EAGAIN);
            }
            if self.pipe.queue.wait(None) == Wake::Interrupted {
                return Err(Errno::EINTR);
            }
        }
    }

    /// write(2) into the pipe; `nonblock`: EAGAIN (or a short count) instead of waiting.
    fn do_write(&self, buf: &dyn Source, nonblock: bool) -> KResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let atomic = buf.len() <= PIPE_BUF;
        let mut done = 0usize;
        loop {
            {
                let mut r = self.pipe.ring.lock();
                if r.readers == 0 {
                    drop(r);
                    raise_sigpipe();
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EPIPE)
                    };
                }
                let free = r.cap.saturating_sub(r.data.len());
                let want = buf.len() - done;
                if free > 0 && (!atomic || free >= want) {
                    let n = want.min(free);
                    if r.data.capacity() < r.cap {
                        let need = r.cap - r.data.len();
                        r.data.try_reserve_exact(need).map_err(|_| Errno::ENOMEM)?;
                    }
                    if let Err(e) = crate::bytes::push_from(&mut r.data, buf, done, n) {
                        return if done > 0 { Ok(done) } else { Err(e) };
                    }
                    done += n;
                    drop(r);
                    self.pipe.queue.notify(POLLIN);
                    if done == buf.len() {
                        return Ok(done);
                    }
                    continue;
                }
            }
            if nonblock {
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EAGAIN)
                };
            }
            if self.pipe.queue.wait(None) == Wake::Interrupted {
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EINTR)
                };
            }
        }
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        {
            let mut r = self.pipe.ring.lock();
            if self.write {
                r.writers -= 1;
            }
            if self.read {
                r.readers -= 1;
            }
        }
        // Readers see EOF/POLLHUP, writers EPIPE/POLLERR.
        self.pipe.queue.notify(POLLIN | POLLOUT | POLLHUP | POLLERR);
    }
}

impl File for PipeEnd {
    fn read(&self, buf: &mut dyn Sink) -> KResult<usize> {
        if !self.read {
            return Err(Errno::EBADF);
        }
        self.do_read(buf)
    }

    fn write(&self, buf: &dyn Source) -> KResult<usize> {
        if !self.write {
            return Err(Errno::EBADF);
        }
        self.do_write(buf, self.nonblock())
    }

    fn ioctl(&self, cmd: u32, arg: usize) -> KResult<usize> {
        match cmd {
            FIONREAD => {
                let n = self.available() as i32;
                crate::user::write(arg, &n)?;
                Ok(0)
            }
            FIONBIO => fionbio(&self.flags, arg),
            FIOASYNC => fioasync(arg),
            _ => Err(Errno::ENOTTY),
        }
    }

    fn stat(&self) -> KResult<Stat> {
        if let Some(n) = &self.node {
            return n.attr();
        }
        Ok(Stat {
            st_dev: 0x0c,
            st_ino: self.pipe.ino,
            st_mode: S_IFIFO | 0o600,
            st_nlink: 1,
            st_blksize: PIPE_BUF as i64,
            ..Stat::default()
        })
    }

    fn status_flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    fn set_status_flags(&self, flags: u32) -> KResult<()> {
        set_nonblock_from(&self.flags, flags);
        Ok(())
    }

    fn poll(&self) -> u32 {
        let r = self.pipe.ring.lock();
        let mut m = 0;
        if self.write {
            if r.cap.saturating_sub(r.data.len()) >= PIPE_BUF.min(r.cap) {
                m |= POLLOUT | POLLWRNORM;
            }
            if r.readers == 0 {
                m |= POLLERR;
            }
        }
        if self.read {
            if !r.data.is_empty() {
                m |= POLLIN | POLLRDNORM;
            }
            if r.writers == 0 {
                m |= POLLHUP;
            }
        }
        m
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pipe.queue)
    }

    fn as_any(&self) -> Option<&dyn core::any::Any> {
        Some(self)
    }

    fn pipe_size(&self) -> KResult<usize> {
        Ok(self.pipe.ring.lock().cap)
    }

    fn set_pipe_size(&self, size: usize) -> KResult<usize> {
        if size > PIPE_MAX_SIZE {
            return Err(Errno::EPERM);
        }
        // Linux rounds up to a power-of-two number of pages, at least one page.
        let pages = size.div_ceil(4096).max(1).next_power_of_two();
        let cap = pages * 4096;
        let mut r = self.pipe.ring.lock();
        if r.data.len() > cap {
            return Err(Errno::EBUSY);
        }
        r.cap = cap;
        if r.data.capacity() > cap {
            r.data.shrink_to(cap);
        }
        drop(r);
        self.pipe.queue.notify(POLLOUT);
        Ok(cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(flags: u32) -> (Arc<PipeEnd>, Arc<PipeEnd>) {
        crate::testplat::setup();
        pipe(flags).unwrap()
    }

    #[test]
    fn wrap_around_keeps_order() {
        let _g = crate::testplat::serial();
        let (r, w) = pair(O_NONBLOCK);
        let mut out = [0u8; 40000];
        let chunk: alloc::vec::Vec<u8> = (0..40000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(w.write(&&chunk[..]).unwrap(), 40000);
        assert_eq!(r.read(&mut &mut out[..30000]).unwrap(), 30000);
        assert_eq!(&out[..30000], &chunk[..30000]);
        // This write wraps around the end of the ring.
        assert_eq!(w.write(&&chunk[..]).unwrap(), 40000);
        assert_eq!(r.read(&mut &mut out[..10000]).unwrap(), 10000);
        assert_eq!(&out[..10000], &chunk[30000..]);
        assert_eq!(r.read(&mut &mut out[..]).unwrap(), 40000);
        assert_eq!(&out[..], &chunk[..]);
        assert_eq!(r.read(&mut &mut out[..]), Err(Errno::EAGAIN));
    }

    #[test]
    fn capacity_and_atomic_writes() {
        let _g = crate::testplat::serial();
        let (r, w) = pair(O_NONBLOCK);
        let big = alloc::vec![7u8; 70000];
        assert_eq!(
            w.write(&&big[..]).unwrap(),
            PIPE_DEFAULT_SIZE,
            "partial large write"
        );
        assert_eq!(w.write(&&[1][..]), Err(Errno::EAGAIN));
        assert_eq!(w.poll() & POLLOUT, 0);
        let mut b = alloc::vec![0u8; 100];
        r.read(&mut &mut b[..]).unwrap();
        // 100 bytes free: a 200-byte write is atomic and must not be split.
        assert_eq!(w.write(&&[0u8; 200][..]), Err(Errno::EAGAIN));
        assert_eq!(w.write(&&[0u8; 100][..]).unwrap(), 100);
        assert_eq!(r.pipe_size().unwrap(), 65536);
        assert_eq!(w.set_pipe_size(4096), Err(Errno::EBUSY));
    }

    #[test]
    fn eof_and_epipe() {
        // The one test lock: the SIGPIPE below goes to the test process.
        let _g = crate::testplat::serial();
        let (r, w) = pair(0);
        w.write(&&b"abc"[..]).unwrap();
        drop(w);
        let mut b = [0u8; 8];
        assert_eq!(r.read(&mut &mut b[..]).unwrap(), 3);
        assert_eq!(
            r.read(&mut &mut b[..]).unwrap(),
            0,
            "EOF once all writers are gone"
        );
        assert_ne!(r.poll() & POLLHUP, 0);
        let (r, w) = pair(0);
        drop(r);
        // SIGPIPE comes with EPIPE; blocked here, it is taken back so that no later
        // test finds it pending (it would interrupt that test's waits).
        let sigs = &crate::process::current().signals;
        let bit = 1u64 << (uk_abi::signal::SIGPIPE - 1);
        let old = sigs.sigprocmask(0 /* SIG_BLOCK */, Some(bit)).unwrap();
        assert_eq!(w.write(&&b"x"[..]), Err(Errno::EPIPE));
        assert_ne!(sigs.sigpending() & bit, 0, "SIGPIPE sent");
        sigs.sigtimedwait(bit, Some(0)).unwrap();
        sigs.sigprocmask(2 /* SIG_SETMASK */, Some(old)).unwrap();
        assert_ne!(w.poll() & POLLERR, 0);
        assert_eq!(w.write(&&b""[..]), Ok(0));
    }

    #[test]
    fn wrong_end_flags_and_stat() {
        let _g = crate::testplat::serial();
        let (r, w) = pair(O_NONBLOCK);
        assert_eq!(r.write(&&b"x"[..]), Err(Errno::EBADF));
        assert_eq!(w.read(&mut &mut [0u8; 1][..]), Err(Errno::EBADF));
        assert_eq!(r.status_flags(), O_NONBLOCK);
        assert_eq!(w.status_flags(), O_WRONLY | O_NONBLOCK);
        r.set_status_flags(0).unwrap();
        assert_eq!(r.status_flags(), 0);
        assert_eq!(r.stat().unwrap().st_mode & uk_abi::stat::S_IFMT, S_IFIFO);
        assert_eq!(pipe(0o1).err(), Some(Errno::EINVAL));
        assert_eq!(w.set_pipe_size(5000).unwrap(), 8192);
        assert_eq!(w.set_pipe_size(PIPE_MAX_SIZE + 1), Err(Errno::EPERM));
    }

    #[test]
    fn blocking_read_waits_for_writer_thread() {
        let _g = crate::testplat::serial();
        let (r, w) = pair(0);
        static W: spin::Mutex<Option<Arc<PipeEnd>>> = spin::Mutex::new(None);
        *W.lock() = Some(w);
        extern "C" fn writer(_: usize) -> ! {
            let w = W.lock().take().unwrap();
            uk_sched::yield_now();
            w.write(&&b"hello"[..]).unwrap();
            drop(w);
            uk_sched::exit_current(0)
        }
        uk_sched::spawn(writer, 0, None, 0).unwrap();
        let mut b = [0u8; 16];
        assert_eq!(r.read(&mut &mut b[..]).unwrap(), 5);
        assert_eq!(&b[..5], b"hello");
        assert_eq!(r.read(&mut &mut b[..]).unwrap(), 0);
    }
}
