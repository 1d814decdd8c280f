//! An open file description on a vnode: the object behind descriptors from open(2).

use crate::file::{File, Sink, Source, Stat, Whence};
use crate::{Errno, KResult};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU32, Ordering};
use uk_abi::fcntl::O_RDWR;
use uk_abi::fcntl::{
    O_ACCMODE, O_APPEND, O_ASYNC, O_CLOEXEC, O_CREAT, O_DIRECT, O_EXCL, O_NOATIME, O_NOCTTY,
    O_NOFOLLOW, O_NONBLOCK, O_PATH, O_TRUNC, O_WRONLY,
};
use uk_vfs::{Kind, Loc, Node};

/// One open file description: the node, the offset (a readdir cookie for directories)
/// and the status flags. Shared by dup'ed descriptors.
pub struct OpenFile {
    pub(crate) node: Arc<dyn Node>,
    /// The directory chain, for directories (openat relative to it, fchdir).
    pub(crate) loc: Option<Loc>,
    pos: spin::Mutex<u64>,
    flags: AtomicU32,
    /// The absolute path it was opened by, when known (/proc/PID/fd links).
    path: Option<Vec<u8>>,
}

/// Attributes as fstat reports them.
pub(crate) fn to_stat(a: &uk_vfs::Stat) -> Stat {
    Stat {
        st_dev: a.st_dev,
        st_ino: a.st_ino,
        st_mode: a.st_mode,
        st_nlink: a.st_nlink,
        st_uid: a.st_uid,
        st_gid: a.st_gid,
        st_rdev: a.st_rdev,
        st_size: a.st_size,
        st_blksize: a.st_blksize,
        st_blocks: a.st_blocks,
        st_atime: uk_abi::time::Timespec::from_ns(a.st_atime.as_ns()),
        st_mtime: uk_abi::time::Timespec::from_ns(a.st_mtime.as_ns()),
        st_ctime: uk_abi::time::Timespec::from_ns(a.st_ctime.as_ns()),
        ..Default::default()
    }
}

impl OpenFile {
    pub(crate) fn new(node: Arc<dyn Node>, loc: Option<Loc>, flags: u32) -> OpenFile {
        OpenFile {
            node,
            loc,
            pos: spin::Mutex::new(0),
            flags: AtomicU32::new(flags),
            path: None,
        }
    }

    /// Record the absolute path the description was opened by.
    pub(crate) fn with_path(mut self, path: Option<Vec<u8>>) -> OpenFile {
        self.path = path;
        self
    }

    /// The absolute path it was opened by (directories: their chain), if known.
    pub fn path(&self) -> Option<Vec<u8>> {
        self.path
            .clone()
            .or_else(|| self.loc.as_ref().map(|l| l.path()))
    }

    /// The open file behind a descriptor, if it is one (EBADF when not open).
    pub fn of(f: &Arc<dyn File>) -> Option<&OpenFile> {
        f.as_any().and_then(|a| a.downcast_ref::<OpenFile>())
    }

    pub fn node(&self) -> &Arc<dyn Node> {
        &self.node
    }

    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    pub(crate) fn is_path(&self) -> bool {
        self.flags() & O_PATH != 0
    }

    pub(crate) fn readable(&self) -> bool {
        !self.is_path() && self.flags() & O_ACCMODE != O_WRONLY
    }

    pub(crate) fn writable(&self) -> bool {
        !self.is_path() && matches!(self.flags() & O_ACCMODE, O_WRONLY | O_RDWR)
    }

    pub(crate) fn pos(&self) -> u64 {
        *self.pos.lock()
    }

    pub(crate) fn set_pos(&self, p: u64) {
        *self.pos.lock() = p;
    }

    fn check_read(&self) -> KResult<()> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        if self.node.kind() == Kind::Dir {
            return Err(Errno::EISDIR);
        }
        Ok(())
    }

    fn check_write(&self) -> KResult<()> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        Ok(())
    }
}

impl File for OpenFile {
    fn read(&self, buf: &mut dyn Sink) -> KResult<usize> {
        self.check_read()?;
        if self.node.is_device() {
            return self.node.read_at(0, buf);
        }
        let mut pos = self.pos.lock();
        let n = self.node.read_at(*pos, buf)?;
        *pos += n as u64;
        Ok(n)
    }

    fn write(&self, buf: &dyn Source) -> KResult<usize> {
        self.check_write()?;
        if self.node.is_device() {
            return self.node.write_at(0, buf);
        }
        let mut pos = self.pos.lock();
        if self.flags() & O_APPEND != 0 {
            let (n, end) = self.node.append(buf)?;
            *pos = end;
            return Ok(n);
        }
        let n = self.node.write_at(*pos, buf)?;
        *pos += n as u64;
        Ok(n)
    }

    fn seek(&self, off: i64, whence: Whence) -> KResult<u64> {
        if self.is_path() {
            return Err(Errno::EBADF);
        }
        if !self.node.seekable() {
            return Err(Errno::ESPIPE);
        }
        if self.node.is_device() {
            return Ok(0);
        }
        let mut pos = self.pos.lock();
        let base: i64 = match whence {
            Whence::Set => 0,
            Whence::Cur => *pos as i64,
            Whence::End => {
                if self.node.kind() == Kind::Dir {
                    return Err(Errno::EINVAL);
                }
                self.node.attr()?.st_size
            }
        };
        let new = base.checked_add(off).ok_or(Errno::EOVERFLOW)?;
        if new < 0 {
            return Err(Errno::EINVAL);
        }
        *pos = new as u64;
        Ok(new as u64)
    }

    fn ioctl(&self, cmd: u32, arg: usize) -> KResult<usize> {
        if self.is_path() {
            return Err(Errno::EBADF);
        }
        match cmd {
            uk_abi::ioctl::FIONREAD if self.node.kind() == Kind::Reg => {
                let size = self.node.attr()?.st_size.max(0) as u64;
                let avail = size.saturating_sub(self.pos()).min(i32::MAX as u64) as i32;
                crate::user::write(arg, &avail)?;
                Ok(0)
            }
            uk_abi::ioctl::FIONBIO => {
                let on: i32 = crate::user::read(arg)?;
                let f = self.flags();
                let f = if on != 0 {
                    f | O_NONBLOCK
                } else {
                    f & !O_NONBLOCK
                };
                self.flags.store(f, Ordering::Relaxed);
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn stat(&self) -> KResult<Stat> {
        Ok(to_stat(&self.node.attr()?))
    }

    fn status_flags(&self) -> u32 {
        self.flags() & !(O_CLOEXEC | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_NOFOLLOW)
    }

    fn set_status_flags(&self, flags: u32) -> KResult<()> {
        const CHANGEABLE: u32 = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
        let old = self.flags();
        self.flags.store(
            (old & !CHANGEABLE) | (flags & CHANGEABLE),
            Ordering::Relaxed,
        );
        Ok(())
    }

    fn pread(&self, buf: &mut dyn Sink, off: u64) -> KResult<usize> {
        self.check_read()?;
        if self.node.kind() == Kind::Fifo || !self.node.seekable() {
            return Err(Errno::ESPIPE);
        }
        self.node.read_at(off, buf)
    }

    fn pwrite(&self, buf: &dyn Source, off: u64) -> KResult<usize> {
        self.check_write()?;
        if !self.node.seekable() {
            return Err(Errno::ESPIPE);
        }
        if self.flags() & O_APPEND != 0 {
            // Linux appends whatever the offset (pwrite(2), BUGS).
            let (n, _) = self.node.append(buf)?;
            return Ok(n);
        }
        self.node.write_at(off, buf)
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        super::lock::release_description(self as *const OpenFile as usize);
        super::dnotify::release(self as *const OpenFile as usize);
    }
}
