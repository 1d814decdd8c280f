//! Pseudo-terminals: `/dev/ptmx` makes a master, `/dev/pts/N` is its slave.
//!
//! A [`Pty`] holds both directions and one termios. Bytes the master writes are the
//! terminal's input: the line discipline processes them (input flags, ISIG characters,
//! canonical line editing, echo) into what the slave reads. Bytes the slave writes are
//! its output: output processing (OPOST: ONLCR, OCRNL) turns them into what the master
//! reads. Echo goes to the master through output processing too, as on Linux.
//!
//! What is done (docs/filesystems.md, "Pseudo-terminals"): posix_openpt, grantpt,
//! unlockpt (TIOCSPTLCK; a locked slave's open is EIO), ptsname (TIOCGPTN), openpty;
//! TCGETS/TCSETS[WF], TIOCGWINSZ/TIOCSWINSZ, FIONREAD, FIONBIO, TCFLSH, TIOCOUTQ,
//! TCSBRK/TCXONC (accepted), TIOCSCTTY/TIOCNOTTY/TIOCGPGRP/TIOCSPGRP/TIOCGSID;
//! input flags ISTRIP, INLCR, IGNCR, ICRNL; canonical mode with VERASE, VKILL, VWERASE,
//! VEOF, VEOL, VEOL2 and lines of at most 4095 bytes; ECHO, ECHOE, ECHOK, ECHOKE,
//! ECHOCTL, ECHONL; ISIG with VINTR, VQUIT, VSUSP (SIGINT, SIGQUIT, SIGTSTP to the
//! process when the pty is its controlling terminal, else to nobody, as Linux does for
//! a terminal without a foreground group; both queues are flushed unless NOFLSH);
//! non-canonical reads with VMIN/VTIME; hang-ups both ways (the slave reads end of file
//! and writes EIO once the master is gone; the master reads EIO once every slave closed).
//!
//! Not done: VLNEXT, VREPRINT, VDISCARD, IXON flow control (VSTART/VSTOP are ordinary
//! characters), packet mode (TIOCPKT), job control beyond the one process (SIGTTIN,
//! SIGTTOU), baud rates (kept but meaningless), the VMIN/VTIME inter-byte timer (with
//! both set, a read waits for the first byte and returns what is there).

use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use uk_abi::fcntl::{O_NONBLOCK, O_RDWR};
use uk_abi::ioctl::{
    Termios, Winsize, B38400, CREAD, CS8, ECHO, ECHOCTL, ECHOE, ECHOK, ECHOKE, ECHONL, FIONBIO,
    FIONREAD, HUPCL, ICANON, ICRNL, IEXTEN, IGNCR, INLCR, ISIG, ISTRIP, IXON, NCCS, NOFLSH, OCRNL,
    ONLCR, OPOST, TCFLSH, TCGETS, TCIFLUSH, TCIOFLUSH, TCOFLUSH, TCSBRK, TCSBRKP, TCSETS, TCSETSF,
    TCSETSW, TCXONC, TIOCGPGRP, TIOCGPTLCK, TIOCGPTN, TIOCGSID, TIOCGWINSZ, TIOCNOTTY, TIOCOUTQ,
    TIOCSCTTY, TIOCSPGRP, TIOCSPTLCK, TIOCSWINSZ, VDISCARD, VEOF, VEOL, VEOL2, VERASE, VINTR,
    VKILL, VLNEXT, VMIN, VQUIT, VREPRINT, VSTART, VSTOP, VSUSP, VTIME, VWERASE,
};
use uk_abi::poll::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
use uk_abi::signal::{SIGINT, SIGQUIT, SIGTSTP};
use uk_abi::stat::S_IFCHR;
use uk_sched::{WaitQueue, Wake};
use uk_vfs::{Kind, Node, OpenReq};

use crate::file::{File, Sink, Source, Stat, Whence};
use crate::{Errno, KResult};

/// Bytes each direction queues before writers wait.
const CAP: usize = 64 * 1024;
/// Longest canonical line (Linux's N_TTY buffer less one).
const MAX_LINE: usize = 4095;
/// Device numbers: /dev/ptmx is (5, 2), slaves are (136, N).
const PTMX_RDEV: u64 = (5 << 8) | 2;
const PTS_MAJOR: u64 = 136;

/// Linux's `tty_std_termios`: cooked mode, echo, signals.
fn default_termios() -> Termios {
    let mut cc = [0u8; NCCS];
    let init: [(usize, u8); 14] = [
        (VINTR, 3),
        (VQUIT, 28),
        (VERASE, 127),
        (VKILL, 21),
        (VEOF, 4),
        (VTIME, 0),
        (VMIN, 1),
        (VSTART, 17),
        (VSTOP, 19),
        (VSUSP, 26),
        (VREPRINT, 18),
        (VDISCARD, 15),
        (VWERASE, 23),
        (VLNEXT, 22),
    ];
    for (i, v) in init {
        cc[i] = v;
    }
    Termios {
        c_iflag: ICRNL | IXON,
        c_oflag: OPOST | ONLCR,
        c_cflag: B38400 | CS8 | CREAD | HUPCL,
        c_lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
        c_line: 0,
        c_cc: cc,
    }
}

struct State {
    termios: Termios,
    winsize: Winsize,
    /// unlockpt has not been called yet.
    locked: bool,
    /// Complete canonical lines for the slave; an empty line is an end of file (^D at
    /// the start of a line).
    lines: VecDeque<Vec<u8>>,
    /// The canonical line being edited.
    line: Vec<u8>,
    /// Non-canonical input (and input left over when ICANON was turned off).
    raw: VecDeque<u8>,
    /// The slave's output (and echo), for the master.
    out: VecDeque<u8>,
    masters: usize,
    slaves: usize,
    slave_opened: bool,
    /// The process's controlling terminal (TIOCSCTTY).
    ctty: bool,
}

impl State {
    fn input_len(&self) -> usize {
        self.raw.len() + self.lines.iter().map(Vec::len).sum::<usize>() + self.line.len()
    }

    /// Bytes a slave read could return now.
    fn readable(&self) -> usize {
        if self.termios.c_lflag & ICANON != 0 {
            self.raw.len() + self.lines.iter().map(Vec::len).sum::<usize>()
        } else {
            self.raw.len()
        }
    }

    fn has_input(&self) -> bool {
        !self.raw.is_empty() || (self.termios.c_lflag & ICANON != 0 && !self.lines.is_empty())
    }

    fn flush_input(&mut self) {
        self.lines.clear();
        self.line.clear();
        self.raw.clear();
    }

    /// Output processing of one byte towards the master.
    fn put_out(&mut self, c: u8) {
        let t = &self.termios;
        if t.c_oflag & OPOST != 0 {
            if c == b'\n' && t.c_oflag & ONLCR != 0 {
                self.out.push_back(b'\r');
                self.out.push_back(b'\n');
                return;
            }
            if c == b'\r' && t.c_oflag & OCRNL != 0 {
                self.out.push_back(b'\n');
                return;
            }
        }
        self.out.push_back(c);
    }

    /// Echo of an input byte: control characters as ^X with ECHOCTL.
    fn echo(&mut self, c: u8) {
        if self.termios.c_lflag & ECHO == 0 {
            return;
        }
        let ctl = c < 0x20 && c != b'\n' && c != b'\t' || c == 0x7f;
        if ctl && self.termios.c_lflag & ECHOCTL != 0 {
            self.out.push_back(b'^');
            self.out.push_back(c ^ 0x40);
        } else {
            self.put_out(c);
        }
    }

    fn echo_erase(&mut self) {
        if self.termios.c_lflag & ECHO != 0 && self.termios.c_lflag & ECHOE != 0 {
            self.out.extend(b"\x08 \x08");
        }
    }

    /// The line discipline for one input byte. Returns a signal to send, if any.
    fn input(&mut self, mut c: u8) -> Option<usize> {
        let (iflag, lflag, cc) = (
            self.termios.c_iflag,
            self.termios.c_lflag,
            self.termios.c_cc,
        );
        if iflag & ISTRIP != 0 {
            c &= 0x7f;
        }
        if c == b'\r' {
            if iflag & IGNCR != 0 {
                return None;
            }
            if iflag & ICRNL != 0 {
                c = b'\n';
            }
        } else if c == b'\n' && iflag & INLCR != 0 {
            c = b'\r';
        }
        let is = |i: usize| cc[i] != 0 && c == cc[i];
        if lflag & ISIG != 0 {
            let sig = if is(VINTR) {
                Some(SIGINT)
            } else if is(VQUIT) {
                Some(SIGQUIT)
            } else if is(VSUSP) {
                Some(SIGTSTP)
            } else {
                None
            };
            if let Some(s) = sig {
                if lflag & NOFLSH == 0 {
                    self.flush_input();
                    self.out.clear();
                }
                self.echo(c);
                return Some(s);
            }
        }
        if lflag & ICANON == 0 {
            self.raw.push_back(c);
            self.echo(c);
            return None;
        }
        if is(VERASE) {
            if self.line.pop().is_some() {
                self.echo_erase();
            }
        } else if is(VKILL) {
            let n = self.line.len();
            self.line.clear();
            if lflag & ECHO != 0 {
                if lflag & ECHOKE != 0 {
                    for _ in 0..n {
                        self.out.extend(b"\x08 \x08");
                    }
                } else {
                    self.echo(c);
                    if lflag & ECHOK != 0 {
                        self.put_out(b'\n');
                    }
                }
            }
        } else if is(VWERASE) && lflag & IEXTEN != 0 {
            while self.line.last() == Some(&b' ') {
                self.line.pop();
                self.echo_erase();
            }
            while self.line.last().is_some_and(|b| *b != b' ') {
                self.line.pop();
                self.echo_erase();
            }
        } else if is(VEOF) {
            let l = core::mem::take(&mut self.line);
            self.lines.push_back(l);
        } else if c == b'\n' || is(VEOL) || is(VEOL2) {
            let mut l = core::mem::take(&mut self.line);
            l.push(c);
            self.lines.push_back(l);
            if lflag & ECHO != 0 || (c == b'\n' && lflag & ECHONL != 0) {
                self.put_out(c);
            }
        } else if self.line.len() < MAX_LINE {
            self.line.push(c);
            self.echo(c);
        }
        None
    }

    /// Termios changes that move input: leaving canonical mode makes every pending
    /// byte (complete lines, then the line being edited) plain input.
    fn set_termios(&mut self, t: Termios) {
        let was_canon = self.termios.c_lflag & ICANON != 0;
        self.termios = t;
        if was_canon && t.c_lflag & ICANON == 0 {
            for l in self.lines.drain(..) {
                self.raw.extend(l);
            }
            self.raw.extend(self.line.drain(..));
        }
    }
}

/// One pseudo-terminal pair.
pub struct Pty {
    n: u32,
    st: spin::Mutex<State>,
    /// Both sides wait here (readers for data or a hang-up, writers for room).
    wq: WaitQueue,
    /// The /dev/pts/N node (fstat of the slave, removed when the master closes).
    node: Arc<PtsNode>,
    /// The /dev/ptmx node the master was opened through (fstat of the master).
    ptmx: Arc<dyn Node>,
}

/// Live ptys by number, for opening slaves.
static PTYS: spin::Mutex<Vec<Weak<Pty>>> = spin::Mutex::new(Vec::new());
/// Numbers start at 1: a console on a terminal shows as /dev/pts/0.
static NEXT_N: AtomicU32 = AtomicU32::new(1);
static NEXT_INO: AtomicU64 = AtomicU64::new(1);

/// The node of /dev/pts/N: a character device whose open reaches its pty.
pub struct PtsNode {
    n: u32,
    fs: usize,
    ino: u64,
    dev: u64,
    pty: spin::Mutex<Weak<Pty>>,
}

impl Node for PtsNode {
    fn kind(&self) -> Kind {
        Kind::Chr
    }
    fn attr(&self) -> KResult<Stat> {
        Ok(Stat {
            st_dev: self.dev,
            st_ino: self.ino,
            st_mode: S_IFCHR | 0o620,
            st_nlink: 1,
            st_rdev: (PTS_MAJOR << 8) | self.n as u64,
            st_blksize: 1024,
            ..Stat::default()
        })
    }
    fn fs_id(&self) -> usize {
        self.fs
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn open(self: Arc<Self>, _req: &OpenReq) -> KResult<Arc<dyn Node>> {
        // Opened through `open_device`, never as a plain node.
        Err(Errno::ENXIO)
    }
    fn is_device(&self) -> bool {
        true
    }
    fn seekable(&self) -> bool {
        false
    }
}

/// The directory /dev/pts of the namespace (a ramfs directory of devfs), if mounted.
fn pts_dir() -> Option<Arc<dyn Node>> {
    let root = uk_vfs::Loc::root().ok()?;
    uk_vfs::path::resolve(&root, b"/dev/pts", true).ok()?.node
}

fn name_of(n: u32) -> Vec<u8> {
    let mut digits = Vec::new();
    let mut v = n;
    loop {
        digits.push(b'0' + (v % 10) as u8);
        v /= 10;
        if v == 0 {
            break;
        }
    }
    digits.reverse();
    digits
}

/// open(2) of a character device node: Some(file) when it is /dev/ptmx (a new master)
/// or a /dev/pts/N slave; None for other devices.
pub fn open_device(node: &Arc<dyn Node>, flags: u32) -> KResult<Option<Arc<dyn File>>> {
    if let Some(p) = node.as_any().downcast_ref::<PtsNode>() {
        let pty = p.pty.lock().upgrade().ok_or(Errno::EIO)?;
        return Ok(Some(open_slave(pty, flags)?));
    }
    if node.attr()?.st_rdev != PTMX_RDEV {
        return Ok(None);
    }
    Ok(Some(open_master(node.clone(), flags)?))
}

fn open_master(ptmx: Arc<dyn Node>, flags: u32) -> KResult<Arc<dyn File>> {
    let n = NEXT_N.fetch_add(1, Ordering::Relaxed);
    let dir = pts_dir();
    let node = Arc::new(PtsNode {
        n,
        fs: dir.as_ref().map_or(0, |d| d.fs_id()),
        ino: NEXT_INO.fetch_add(1, Ordering::Relaxed) + 0x1000,
        dev: dir
            .as_ref()
            .and_then(|d| d.attr().ok())
            .map_or(0, |a| a.st_dev),
        pty: spin::Mutex::new(Weak::new()),
    });
    let pty = Arc::new(Pty {
        n,
        st: spin::Mutex::new(State {
            termios: default_termios(),
            winsize: Winsize::default(),
            locked: true,
            lines: VecDeque::new(),
            line: Vec::new(),
            raw: VecDeque::new(),
            out: VecDeque::new(),
            masters: 1,
            slaves: 0,
            slave_opened: false,
            ctty: false,
        }),
        wq: WaitQueue::new(),
        node: node.clone(),
        ptmx,
    });
    *node.pty.lock() = Arc::downgrade(&pty);
    if let Some(d) = dir
        .as_ref()
        .and_then(|d| d.as_any().downcast_ref::<uk_vfs::ramfs::RamNode>())
    {
        d.attach(&name_of(n), node)?;
    }
    {
        let mut t = PTYS.lock();
        t.retain(|w| w.strong_count() > 0);
        t.push(Arc::downgrade(&pty));
    }
    Ok(Arc::new(PtyEnd {
        pty,
        master: true,
        flags: AtomicU32::new(O_RDWR | (flags & O_NONBLOCK)),
    }))
}

fn open_slave(pty: Arc<Pty>, flags: u32) -> KResult<Arc<dyn File>> {
    {
        let mut st = pty.st.lock();
        if st.locked || st.masters == 0 {
            return Err(Errno::EIO);
        }
        st.slaves += 1;
        st.slave_opened = true;
    }
    Ok(Arc::new(PtyEnd {
        pty,
        master: false,
        flags: AtomicU32::new((flags & 3) | (flags & O_NONBLOCK)),
    }))
}

/// One open end of a pty (an open file description).
pub struct PtyEnd {
    pty: Arc<Pty>,
    master: bool,
    flags: AtomicU32,
}

impl PtyEnd {
    fn nonblock(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & O_NONBLOCK != 0
    }

    fn block(&self, ready: impl FnMut() -> bool, deadline: Option<u64>) -> KResult<bool> {
        if self.nonblock() {
            return Err(Errno::EAGAIN);
        }
        match self.pty.wq.wait_until(deadline, ready) {
            Wake::Interrupted => Err(Errno::EINTR),
            Wake::Timeout => Ok(false),
            Wake::Woken => Ok(true),
        }
    }

    /// Bytes of raw input a non-canonical read waits for: VMIN (at most the buffer);
    /// one when VTIME is set too (no inter-byte timer); none at all with VMIN 0.
    fn raw_need(st: &State, want: usize) -> usize {
        let vmin = st.termios.c_cc[VMIN] as usize;
        if vmin > 0 && st.termios.c_cc[VTIME] != 0 {
            return 1;
        }
        vmin.min(want)
    }

    fn slave_read(&self, buf: &mut dyn Sink) -> KResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len();
        let mut deadline = None;
        loop {
            {
                let mut st = self.pty.st.lock();
                let canon = st.termios.c_lflag & ICANON != 0;
                // Raw bytes first (in canonical mode: left from before ICANON was set).
                let ready = if canon {
                    !st.raw.is_empty()
                } else {
                    st.raw.len() >= Self::raw_need(&st, want).max(1)
                        || (!st.raw.is_empty() && (st.masters == 0 || deadline.is_some()))
                };
                if ready {
                    let n = want.min(st.raw.len());
                    crate::bytes::copy_front(&st.raw, n, buf)?;
                    st.raw.drain(..n);
                    drop(st);
                    self.pty.wq.notify(POLLOUT);
                    return Ok(n);
                }
                if canon && !st.lines.is_empty() {
                    let line = st.lines.front_mut().expect("a line");
                    if line.is_empty() {
                        st.lines.pop_front(); // end of file
                        return Ok(0);
                    }
                    let n = want.min(line.len());
                    let n = uk_abi::uio::give(buf, 0, &line[..n])?;
                    line.drain(..n);
                    if line.is_empty() {
                        st.lines.pop_front();
                    }
                    drop(st);
                    self.pty.wq.notify(POLLOUT);
                    return Ok(n);
                }
                if st.masters == 0 {
                    return Ok(0);
                }
                if !canon && st.termios.c_cc[VMIN] == 0 {
                    let vtime = st.termios.c_cc[VTIME] as u64;
                    if vtime == 0 || deadline.is_some() {
                        // VMIN 0: what is there (nothing), at once or after VTIME.
                        return Ok(0);
                    }
                    deadline = Some(uk_plat::get().monotonic_ns() + vtime * 100_000_000);
                }
            }
            let pty = &self.pty;
            let woke = self.block(
                || {
                    let st = pty.st.lock();
                    if st.masters == 0 {
                        return true;
                    }
                    if st.termios.c_lflag & ICANON != 0 {
                        st.has_input()
                    } else {
                        st.raw.len() >= Self::raw_need(&st, want).max(1)
                    }
                },
                deadline,
            )?;
            if !woke && deadline.is_none() {
                return Ok(0);
            }
        }
    }

    fn master_read(&self, buf: &mut dyn Sink) -> KResult<usize> {
        loop {
            {
                let mut st = self.pty.st.lock();
                if !st.out.is_empty() {
                    let n = buf.len().min(st.out.len());
                    crate::bytes::copy_front(&st.out, n, buf)?;
                    st.out.drain(..n);
                    drop(st);
                    self.pty.wq.notify(POLLOUT);
                    return Ok(n);
                }
                if st.slaves == 0 && st.slave_opened {
                    return Err(Errno::EIO);
                }
            }
            if buf.is_empty() {
                return Ok(0);
            }
            let pty = &self.pty;
            self.block(
                || {
                    let st = pty.st.lock();
                    !st.out.is_empty() || (st.slaves == 0 && st.slave_opened)
                },
                None,
            )?;
        }
    }

    /// The master writes terminal input: through the line discipline.
    fn master_write(&self, buf: &dyn Source) -> KResult<usize> {
        let mut done = 0;
        let mut chunk = [0u8; 256];
        while done < buf.len() {
            let room = CAP.saturating_sub(self.pty.st.lock().input_len());
            if room == 0 {
                if done > 0 {
                    return Ok(done);
                }
                let pty = &self.pty;
                self.block(|| pty.st.lock().input_len() < CAP, None)?;
                continue;
            }
            let n = (buf.len() - done).min(chunk.len()).min(room);
            if let Err(e) = buf.read_at(done, &mut chunk[..n]) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
            let mut signals: Vec<usize> = Vec::new();
            {
                let mut st = self.pty.st.lock();
                for &c in &chunk[..n] {
                    if let Some(s) = st.input(c) {
                        if st.ctty {
                            signals.push(s);
                        }
                    }
                }
            }
            self.pty.wq.notify(POLLIN | POLLOUT);
            for s in signals {
                crate::process::current().signals.send_to_process(s);
            }
            done += n;
        }
        Ok(done)
    }

    /// The slave writes terminal output: through output processing to the master.
    fn slave_write(&self, buf: &dyn Source) -> KResult<usize> {
        let mut done = 0;
        let mut chunk = [0u8; 256];
        while done < buf.len() {
            let (room, gone) = {
                let st = self.pty.st.lock();
                (CAP.saturating_sub(st.out.len()), st.masters == 0)
            };
            if gone {
                return if done > 0 { Ok(done) } else { Err(Errno::EIO) };
            }
            if room == 0 {
                if done > 0 {
                    return Ok(done);
                }
                let pty = &self.pty;
                self.block(
                    || {
                        let st = pty.st.lock();
                        st.out.len() < CAP || st.masters == 0
                    },
                    None,
                )?;
                continue;
            }
            let n = (buf.len() - done).min(chunk.len()).min(room);
            if let Err(e) = buf.read_at(done, &mut chunk[..n]) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
            {
                let mut st = self.pty.st.lock();
                for &c in &chunk[..n] {
                    st.put_out(c);
                }
            }
            self.pty.wq.notify(POLLIN);
            done += n;
        }
        Ok(done)
    }

    fn read_int(arg: usize) -> KResult<i32> {
        crate::user::read::<i32>(arg)
    }
}

impl Drop for PtyEnd {
    fn drop(&mut self) {
        let last_master = {
            let mut st = self.pty.st.lock();
            if self.master {
                st.masters -= 1;
                st.masters == 0
            } else {
                st.slaves -= 1;
                false
            }
        };
        if last_master {
            // The pty's name goes with its master.
            if let Some(d) = pts_dir() {
                if d.lookup(&name_of(self.pty.n)).is_ok_and(|n| {
                    n.as_any()
                        .downcast_ref::<PtsNode>()
                        .is_some_and(|p| p.n == self.pty.n)
                }) {
                    let _ = d.unlink(&name_of(self.pty.n), false);
                }
            }
        }
        self.pty.wq.notify(POLLIN | POLLOUT | POLLHUP);
    }
}

impl File for PtyEnd {
    fn read(&self, buf: &mut dyn Sink) -> KResult<usize> {
        if self.master {
            self.master_read(buf)
        } else {
            self.slave_read(buf)
        }
    }

    fn write(&self, buf: &dyn Source) -> KResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.master {
            self.master_write(buf)
        } else {
            self.slave_write(buf)
        }
    }

    fn seek(&self, _off: i64, _whence: Whence) -> KResult<u64> {
        Err(Errno::ESPIPE)
    }

    fn ioctl(&self, cmd: u32, arg: usize) -> KResult<usize> {
        let pty = &self.pty;
        match cmd {
            TCGETS => {
                let t = pty.st.lock().termios;
                crate::user::write(arg, &t)?;
            }
            TCSETS | TCSETSW | TCSETSF => {
                let t: Termios = crate::user::read(arg)?;
                let mut st = pty.st.lock();
                if cmd == TCSETSF {
                    st.flush_input();
                }
                st.set_termios(t);
                drop(st);
                pty.wq.notify(POLLIN);
            }
            TIOCGWINSZ => {
                let w = pty.st.lock().winsize;
                crate::user::write(arg, &w)?;
            }
            TIOCSWINSZ => {
                let w: Winsize = crate::user::read(arg)?;
                let mut st = pty.st.lock();
                let changed = st.winsize != w;
                st.winsize = w;
                let ctty = st.ctty;
                drop(st);
                if changed && ctty {
                    crate::process::current()
                        .signals
                        .send_to_process(uk_abi::signal::SIGWINCH);
                }
            }
            FIONREAD | TIOCOUTQ => {
                let st = pty.st.lock();
                let n = if (cmd == FIONREAD) == self.master {
                    st.out.len()
                } else {
                    st.readable()
                };
                drop(st);
                crate::user::write(arg, &(n.min(i32::MAX as usize) as i32))?;
            }
            FIONBIO => return crate::pipe::fionbio(&self.flags, arg),
            TCFLSH => {
                // Input and output as the slave sees them (the master's are the reverse).
                let (inp, out) = match arg {
                    TCIFLUSH => (true, false),
                    TCOFLUSH => (false, true),
                    TCIOFLUSH => (true, true),
                    _ => return Err(Errno::EINVAL),
                };
                let (inp, out) = if self.master { (out, inp) } else { (inp, out) };
                let mut st = pty.st.lock();
                if inp {
                    st.flush_input();
                }
                if out {
                    st.out.clear();
                }
                drop(st);
                pty.wq.notify(POLLOUT);
            }
            TCSBRK | TCSBRKP | TCXONC => {}
            TIOCGPTN if self.master => {
                crate::user::write(arg, &pty.n)?;
            }
            TIOCSPTLCK if self.master => {
                let lock = Self::read_int(arg)? != 0;
                pty.st.lock().locked = lock;
            }
            TIOCGPTLCK if self.master => {
                let l = i32::from(pty.st.lock().locked);
                crate::user::write(arg, &l)?;
            }
            TIOCSCTTY => {
                // The process leads its session (pid 1) and has no other terminal.
                pty.st.lock().ctty = true;
            }
            TIOCNOTTY => {
                let mut st = pty.st.lock();
                if !st.ctty {
                    return Err(Errno::ENOTTY);
                }
                st.ctty = false;
            }
            TIOCGPGRP | TIOCGSID => {
                if !pty.st.lock().ctty {
                    return Err(Errno::ENOTTY);
                }
                crate::user::write(arg, &crate::ident::INIT_PID)?;
            }
            TIOCSPGRP => {
                if !pty.st.lock().ctty {
                    return Err(Errno::ENOTTY);
                }
                if Self::read_int(arg)? != crate::ident::INIT_PID {
                    return Err(Errno::EPERM);
                }
            }
            _ => return Err(Errno::ENOTTY),
        }
        Ok(0)
    }

    fn stat(&self) -> KResult<Stat> {
        let a = if self.master {
            self.pty.ptmx.attr()?
        } else {
            self.pty.node.attr()?
        };
        Ok(a)
    }

    fn status_flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    fn set_status_flags(&self, flags: u32) -> KResult<()> {
        crate::pipe::set_nonblock_from(&self.flags, flags);
        Ok(())
    }

    fn pread(&self, _buf: &mut dyn Sink, _off: u64) -> KResult<usize> {
        Err(Errno::ESPIPE)
    }

    fn pwrite(&self, _buf: &dyn Source, _off: u64) -> KResult<usize> {
        Err(Errno::ESPIPE)
    }

    fn poll(&self) -> u32 {
        let st = self.pty.st.lock();
        let mut m = 0;
        if self.master {
            if !st.out.is_empty() {
                m |= POLLIN | POLLRDNORM;
            }
            if st.input_len() < CAP {
                m |= POLLOUT | POLLWRNORM;
            }
            if st.slaves == 0 && st.slave_opened {
                m |= POLLHUP;
            }
        } else {
            if st.has_input() {
                m |= POLLIN | POLLRDNORM;
            }
            if st.out.len() < CAP {
                m |= POLLOUT | POLLWRNORM;
            }
            if st.masters == 0 {
                m |= POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM | POLLHUP | POLLERR;
            }
        }
        m
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.wq)
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Arc<dyn File>, Arc<dyn File>) {
        crate::testplat::setup();
        let stand_in: Arc<dyn Node> = uk_vfs::ramfs::RamFs::new().root();
        let m = open_master(stand_in, 0).unwrap();
        let pty = m
            .as_any()
            .and_then(|a| a.downcast_ref::<PtyEnd>())
            .unwrap()
            .pty
            .clone();
        assert_eq!(open_slave(pty.clone(), O_RDWR).err(), Some(Errno::EIO));
        pty.st.lock().locked = false;
        let s = open_slave(pty, O_RDWR).unwrap();
        (m, s)
    }

    fn read_all(f: &Arc<dyn File>) -> Vec<u8> {
        let mut b = [0u8; 256];
        let n = f.read(&mut &mut b[..]).unwrap();
        b[..n].to_vec()
    }

    #[test]
    fn line_discipline_and_hangup() {
        // The one test lock: ^C signals the test process, which would interrupt
        // another test's wait.
        let _g = crate::testplat::serial();
        let (m, s) = pair();
        assert_eq!(m.write(&&b"ab\x7fc\n"[..]), Ok(5));
        assert_eq!(read_all(&s), b"ac\n");
        assert_eq!(read_all(&m), b"ab\x08 \x08c\r\n");
        assert_eq!(s.write(&&b"x\n"[..]), Ok(2));
        assert_eq!(read_all(&m), b"x\r\n");
        // ^D alone: end of file.
        m.write(&&b"\x04"[..]).unwrap();
        assert_eq!(read_all(&s), b"");
        // Raw mode: bytes pass unchanged.
        let mut t = s.pty_termios();
        t.c_lflag &= !(ICANON | ECHO);
        t.c_iflag &= !ICRNL;
        s.pty_set(t);
        m.write(&&b"\r\x7f"[..]).unwrap();
        assert_eq!(read_all(&s), b"\r\x7f");
        drop(m);
        assert_eq!(read_all(&s), b"", "hung up: end of file");
        assert_eq!(s.write(&&b"y"[..]), Err(Errno::EIO));
        assert_ne!(s.poll() & POLLHUP, 0);
    }

    #[test]
    fn isig_signals_only_a_controlling_terminal() {
        // The one test lock: ^C signals the test process, which would interrupt
        // another test's wait.
        let _g = crate::testplat::serial();
        let (m, s) = pair();
        let sigs = &crate::process::current().signals;
        let bit = 1u64 << (SIGINT - 1);
        let old = sigs.sigprocmask(0, Some(bit)).unwrap();
        m.write(&&b"zz\x03"[..]).unwrap();
        assert_eq!(
            sigs.sigpending() & bit,
            0,
            "not our terminal: nobody signalled"
        );
        assert_eq!(read_all(&m), b"^C", "queues flushed, ^C echoed");
        assert_eq!(s.ioctl(TIOCSCTTY, 0), Ok(0));
        m.write(&&b"\x03"[..]).unwrap();
        assert_ne!(
            sigs.sigpending() & bit,
            0,
            "SIGINT to the foreground process"
        );
        sigs.sigtimedwait(bit, Some(0)).unwrap();
        assert_eq!(s.ioctl(TIOCNOTTY, 0), Ok(0));
        sigs.sigprocmask(2, Some(old)).unwrap();
        drop(s);
        let mut b = [0u8; 4];
        let _ = m.read(&mut &mut b[..]);
        assert_eq!(m.read(&mut &mut b[..]), Err(Errno::EIO), "slave gone");
    }

    /// Test helpers: the termios of a pty end without going through program memory.
    trait TermiosOf {
        fn pty_termios(&self) -> Termios;
        fn pty_set(&self, t: Termios);
    }

    impl TermiosOf for Arc<dyn File> {
        fn pty_termios(&self) -> Termios {
            let e = self
                .as_any()
                .and_then(|a| a.downcast_ref::<PtyEnd>())
                .unwrap();
            e.pty.st.lock().termios
        }
        fn pty_set(&self, t: Termios) {
            let e = self
                .as_any()
                .and_then(|a| a.downcast_ref::<PtyEnd>())
                .unwrap();
            e.pty.st.lock().set_termios(t);
        }
    }
}
