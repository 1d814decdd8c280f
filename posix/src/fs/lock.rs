//! File locks: flock(2) and fcntl(2) record locks.
//!
//! flock locks belong to open file descriptions: two descriptions of one file (two
//! open() calls) conflict even inside one process, as on Linux. fcntl (POSIX) record
//! locks belong to the process, and a process never conflicts with its own locks; with
//! one process per image a POSIX lock never conflicts at all, so F_SETLK/F_SETLKW
//! succeed after validation and F_GETLK reports F_UNLCK. Open-file-description record
//! locks (F_OFD_*) are treated like POSIX ones (documented limit).

use uk_abi::fcntl::{F_RDLCK, F_UNLCK, F_WRLCK, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN};

use super::OpenFile;
use crate::file::File;
use crate::{Errno, KResult};
use alloc::sync::Arc;
use alloc::vec::Vec;
use uk_sched::{WaitQueue, Wake};

#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    fs: usize,
    dev: u64,
    ino: u64,
}

struct Held {
    key: Key,
    owner: usize,
    excl: bool,
}

static FLOCKS: spin::Mutex<Vec<Held>> = spin::Mutex::new(Vec::new());
static FLOCK_WQ: WaitQueue = WaitQueue::new();

fn key_of(of: &OpenFile) -> KResult<Key> {
    let (dev, ino) = of.node.dev_ino()?;
    Ok(Key {
        fs: of.node.fs_id(),
        dev,
        ino,
    })
}

fn conflicts(key: Key, owner: usize, excl: bool) -> bool {
    FLOCKS
        .lock()
        .iter()
        .any(|h| h.key == key && h.owner != owner && (h.excl || excl))
}

/// flock(2).
pub fn flock(fd_: i32, op: u32) -> KResult<()> {
    let f: Arc<dyn File> = crate::process::current().fds.get(fd_)?;
    let kind = op & !LOCK_NB;
    if kind != LOCK_SH && kind != LOCK_EX && kind != LOCK_UN {
        return Err(Errno::EINVAL);
    }
    let Some(of) = OpenFile::of(&f) else {
        return Ok(()); // pipes, sockets, the console: nothing else can contend
    };
    if of.is_path() {
        return Err(Errno::EBADF);
    }
    let owner = of as *const OpenFile as usize;
    let key = key_of(of)?;
    // Converting a lock first drops the old one (not atomic, as on Linux).
    release(owner, Some(key));
    if kind == LOCK_UN {
        return Ok(());
    }
    let excl = kind == LOCK_EX;
    if conflicts(key, owner, excl) {
        if op & LOCK_NB != 0 {
            return Err(Errno::EWOULDBLOCK);
        }
        if let Wake::Interrupted = FLOCK_WQ.wait_until(None, || !conflicts(key, owner, excl)) {
            return Err(Errno::EINTR);
        }
    }
    FLOCKS.lock().push(Held { key, owner, excl });
    Ok(())
}

fn release(owner: usize, key: Option<Key>) {
    let mut removed = false;
    FLOCKS.lock().retain(|h| {
        let m = h.owner == owner && key.is_none_or(|k| k == h.key);
        removed |= m;
        !m
    });
    if removed {
        FLOCK_WQ.wake_all();
    }
}

/// The last descriptor of a description closed: its flock locks go.
pub(crate) fn release_description(owner: usize) {
    if FLOCKS.lock().is_empty() {
        return;
    }
    release(owner, None);
}

/// A `struct flock` request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordLock {
    pub ltype: i16,
    pub whence: i16,
    pub start: i64,
    pub len: i64,
}

/// fcntl F_SETLK/F_SETLKW/F_GETLK (and the F_OFD_ forms): validates the request; returns
/// what F_GETLK reports (always F_UNLCK: nothing conflicts within one process).
pub fn record_lock(fd_: i32, get: bool, l: &RecordLock) -> KResult<RecordLock> {
    let f = crate::process::current().fds.get(fd_)?;
    if !matches!(l.ltype, F_RDLCK | F_WRLCK | F_UNLCK) || !(0..=2).contains(&l.whence) {
        return Err(Errno::EINVAL);
    }
    if get && l.ltype == F_UNLCK {
        return Err(Errno::EINVAL); // F_GETLK asks about a lock one would take
    }
    if let Some(of) = OpenFile::of(&f) {
        if of.is_path() {
            return Err(Errno::EBADF);
        }
        let base = match l.whence {
            0 => 0,
            1 => of.pos() as i64,
            _ => of.node.attr()?.st_size,
        };
        let start = base.checked_add(l.start).ok_or(Errno::EOVERFLOW)?;
        let start = if l.len < 0 { start + l.len } else { start };
        if start < 0 {
            return Err(Errno::EINVAL);
        }
        if !get {
            if l.ltype == F_RDLCK && !of.readable() {
                return Err(Errno::EBADF);
            }
            if l.ltype == F_WRLCK && !of.writable() {
                return Err(Errno::EBADF);
            }
        }
    } else {
        return Err(Errno::EINVAL);
    }
    Ok(RecordLock {
        ltype: F_UNLCK,
        ..*l
    })
}
