//! fcntl(F_NOTIFY): directory notification (dnotify), for changes made by this image.
//!
//! A watch belongs to one open file description of a directory and asks for a set of
//! events (DN_*); when one happens in that directory, SIGIO goes to the process (the
//! default of Linux's dnotify, which F_SETSIG would change: not implemented), and a
//! watch without DN_MULTISHOT ends after it fired. F_NOTIFY with no event bits removes
//! the description's watch; closing the description does too.
//!
//! Events come from the calls that change a directory's entries or its children's
//! attributes by path: DN_CREATE (open O_CREAT of a new file, mkdir, mknod, symlink,
//! link), DN_DELETE (unlink, rmdir), DN_RENAME (rename, for the old and the new
//! directory) and DN_ATTRIB (chmod, chown, utimensat by path). DN_MODIFY and DN_ACCESS
//! are accepted but never raised (file I/O does not know the directory a file was
//! opened from), and changes made by the host in a hostfs directory are not seen.

use super::OpenFile;
use crate::{Errno, KResult};
use alloc::sync::Arc;
use alloc::vec::Vec;
use uk_abi::fcntl::DN_MULTISHOT;
use uk_vfs::{Kind, Node};

/// A directory by identity: (file system instance, st_dev, st_ino).
type DirKey = (usize, u64, u64);

struct Watch {
    dir: DirKey,
    /// The open file description that asked (its address).
    desc: usize,
    mask: u32,
}

static WATCHES: spin::Mutex<Vec<Watch>> = spin::Mutex::new(Vec::new());

fn key(n: &Arc<dyn Node>) -> KResult<DirKey> {
    let (dev, ino) = n.dev_ino()?;
    Ok((n.fs_id(), dev, ino))
}

/// fcntl(fd, F_NOTIFY, arg): ENOTDIR unless `fd` is an open directory.
pub fn notify(fd: i32, arg: u32) -> KResult<()> {
    let f = crate::process::current().fds.get(fd)?;
    let of = OpenFile::of(&f).ok_or(Errno::ENOTDIR)?;
    if of.node.kind() != Kind::Dir {
        return Err(Errno::ENOTDIR);
    }
    let dir = key(&of.node)?;
    let desc = of as *const OpenFile as usize;
    let mut w = WATCHES.lock();
    if arg & !DN_MULTISHOT == 0 {
        w.retain(|x| x.desc != desc);
        return Ok(());
    }
    match w.iter_mut().find(|x| x.desc == desc && x.dir == dir) {
        Some(x) => x.mask |= arg,
        None => w.push(Watch {
            dir,
            desc,
            mask: arg,
        }),
    }
    Ok(())
}

/// True while some directory is watched (callers skip extra work otherwise).
pub(crate) fn active() -> bool {
    !WATCHES.lock().is_empty()
}

/// Directory `dir` changed (`what`: DN_* bits): signal the watches that asked.
pub(crate) fn event(dir: &Arc<dyn Node>, what: u32) {
    if WATCHES.lock().is_empty() {
        return;
    }
    let Ok(k) = key(dir) else { return };
    let mut fired = false;
    WATCHES.lock().retain(|x| {
        if x.dir != k || x.mask & what == 0 {
            return true;
        }
        fired = true;
        x.mask & DN_MULTISHOT != 0
    });
    if fired {
        crate::process::current()
            .signals
            .send_to_process(uk_abi::signal::SIGIO);
    }
}

/// The description at `desc` is closing: its watches end.
pub(crate) fn release(desc: usize) {
    let mut w = WATCHES.lock();
    if !w.is_empty() {
        w.retain(|x| x.desc != desc);
    }
}
