//! devfs: /dev as a ramfs holding device nodes.
//!
//! null, zero, full, random, urandom, console and tty are character devices here;
//! stdin, stdout and stderr are symlinks to /proc/self/fd/N (what `ls -l /dev` shows on
//! Linux) that path resolution reports as descriptor aliases, so opening them reaches
//! the process's descriptors 0-2 (uk-posix does that part). `/dev/shm` is a plain
//! directory for shm_open. Randomness comes through a hook so that lib/ does not depend
//! on uk-posix's CSPRNG: uk-posix registers it at boot ([`set_random`]).

use crate::ramfs::RamFs;
use crate::{Errno, KResult, Kind, Node, OpenReq, SetAttr, Sink, Source, Stat};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::any::Any;

/// Most bytes one console read or write moves through the kernel.
const CONSOLE_CHUNK: usize = 64 * 1024;

/// Fill all of `sink` from `gen`, one chunk at a time (/dev/zero, /dev/urandom): a short
/// count when the sink runs into memory it may not write.
fn fill_with(sink: &mut dyn Sink, mut gen: impl FnMut(&mut [u8]) -> KResult<()>) -> KResult<usize> {
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < sink.len() {
        let n = (sink.len() - done).min(chunk.len());
        gen(&mut chunk[..n])?;
        let k = sink.write_prefix(done, &chunk[..n]);
        done += k;
        if k < n {
            break;
        }
    }
    if done == 0 && !sink.is_empty() {
        return Err(Errno::EFAULT);
    }
    Ok(done)
}

/// /dev/random and /dev/urandom: the kernel CSPRNG (EIO rather than predictable bytes
/// when it cannot be seeded).
fn random(buf: &mut [u8]) -> KResult<()> {
    uk_random::try_fill(buf)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dev {
    Null,
    Zero,
    Full,
    Random,
    Console,
    /// /dev/tty: the console, when it is the process's controlling terminal.
    Tty,
    /// /dev/ptmx: uk-posix opens a new pseudo-terminal master in its place
    /// (posix/src/pty.rs); reached as a plain node it has no pty behind it.
    Ptmx,
}

/// A character device.
struct DevNode {
    fs: usize,
    ino: u64,
    dev: Dev,
    rdev: (u32, u32),
    perm: spin::Mutex<u32>,
}

impl Node for DevNode {
    fn kind(&self) -> Kind {
        Kind::Chr
    }
    fn attr(&self) -> KResult<Stat> {
        Ok(Stat {
            st_dev: self.fs as u64,
            st_ino: self.ino,
            st_mode: Kind::Chr.mode_bits() | *self.perm.lock(),
            st_nlink: 1,
            st_rdev: ((self.rdev.0 as u64) << 8) | self.rdev.1 as u64,
            st_blksize: 4096,
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
        // The process has a controlling terminal only when the console is one (a linuxu
        // image started on a terminal); otherwise /dev/tty is ENXIO, as on Linux for a
        // process without one (a service, a program run from a pipe).
        let terminal = |p: &dyn uk_plat::Platform| (0..3).any(|fd| p.console_tty(fd).is_tty);
        if matches!(self.dev, Dev::Tty) && !uk_plat::try_get().is_some_and(terminal) {
            return Err(Errno::ENXIO);
        }
        Ok(self)
    }
    fn is_device(&self) -> bool {
        true
    }
    fn seekable(&self) -> bool {
        // The console and /dev/tty are terminals: no offset to move.
        !matches!(self.dev, Dev::Console | Dev::Tty | Dev::Ptmx)
    }
    fn read_at(&self, _off: u64, buf: &mut dyn Sink) -> KResult<usize> {
        match self.dev {
            Dev::Null => Ok(0),
            Dev::Zero | Dev::Full => fill_with(buf, |c| {
                c.fill(0);
                Ok(())
            }),
            Dev::Random => fill_with(buf, random),
            Dev::Ptmx => Err(Errno::EIO),
            Dev::Console | Dev::Tty => {
                let mut b = vec![0u8; buf.len().min(CONSOLE_CHUNK)];
                let n = uk_plat::get().console_read(&mut b)?;
                uk_abi::uio::give(buf, 0, &b[..n])
            }
        }
    }
    fn write_at(&self, _off: u64, buf: &dyn Source) -> KResult<usize> {
        match self.dev {
            Dev::Full => Err(Errno::ENOSPC),
            Dev::Ptmx => Err(Errno::EIO),
            Dev::Console | Dev::Tty => {
                let mut b = vec![0u8; buf.len().min(CONSOLE_CHUNK)];
                let n = uk_abi::uio::take(buf, 0, &mut b)?;
                uk_plat::get().console_write(uk_plat::ConsoleStream::Out, &b[..n])
            }
            _ => Ok(buf.len()),
        }
    }
    fn append(&self, buf: &dyn Source) -> KResult<(usize, u64)> {
        Ok((self.write_at(0, buf)?, 0))
    }
    fn truncate(&self, _len: u64) -> KResult<()> {
        Ok(()) // O_TRUNC on a device is ignored, as on Linux
    }
    fn setattr(&self, a: &SetAttr) -> KResult<()> {
        if let Some(m) = a.mode {
            *self.perm.lock() = m & 0o7777;
        }
        Ok(())
    }
}

/// A symlink that stands for one of the process's descriptors.
struct FdAlias {
    fs: usize,
    ino: u64,
    fd: u32,
}

impl Node for FdAlias {
    fn kind(&self) -> Kind {
        Kind::Symlink
    }
    fn attr(&self) -> KResult<Stat> {
        Ok(Stat {
            st_dev: self.fs as u64,
            st_ino: self.ino,
            st_mode: Kind::Symlink.mode_bits() | 0o777,
            st_nlink: 1,
            st_size: self.readlink()?.len() as i64,
            st_blksize: 4096,
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
        Err(Errno::ELOOP)
    }
    fn readlink(&self) -> KResult<Vec<u8>> {
        // No format!: alloc's precompiled formatter references the unwinder.
        let mut s = alloc::string::String::new();
        let _ = core::fmt::Write::write_fmt(&mut s, format_args!("/proc/self/fd/{}", self.fd));
        Ok(s.into_bytes())
    }
    fn fd_alias(&self) -> Option<u32> {
        Some(self.fd)
    }
}

/// A new devfs instance with the standard nodes.
pub fn new() -> KResult<RamFs> {
    let fs = RamFs::new();
    let root = fs.root_node();
    let id = root.fs_id_of();
    let mut ino = 1000u64;
    type DevRow<'a> = (&'a [u8], Dev, (u32, u32), u32);
    let devs: [DevRow<'_>; 8] = [
        (b"null", Dev::Null, (1, 3), 0o666),
        (b"zero", Dev::Zero, (1, 5), 0o666),
        (b"full", Dev::Full, (1, 7), 0o666),
        (b"random", Dev::Random, (1, 8), 0o666),
        (b"urandom", Dev::Random, (1, 9), 0o666),
        (b"console", Dev::Console, (5, 1), 0o600),
        (b"tty", Dev::Tty, (5, 0), 0o666),
        (b"ptmx", Dev::Ptmx, (5, 2), 0o666),
    ];
    for (name, dev, rdev, perm) in devs {
        ino += 1;
        root.attach(
            name,
            Arc::new(DevNode {
                fs: id,
                ino,
                dev,
                rdev,
                perm: spin::Mutex::new(perm),
            }),
        )?;
    }
    for (fd, name) in [(0u32, &b"stdin"[..]), (1, b"stdout"), (2, b"stderr")] {
        ino += 1;
        root.attach(name, Arc::new(FdAlias { fs: id, ino, fd }))?;
    }
    root.mkdir(b"shm", 0o1777)?;
    // Pseudo-terminal slaves appear here while their master is open (uk-posix attaches
    // them: posix/src/pty.rs).
    root.mkdir(b"pts", 0o755)?;
    Ok(fs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::{resolve, Loc};

    #[test]
    fn devices() {
        crate::testing::memory();
        let fs = new().unwrap();
        let root = fs.root();
        let null = root.lookup(b"null").unwrap();
        assert_eq!(null.write_at(7, &&b"abc"[..]).unwrap(), 3);
        let mut b = [1u8; 8];
        assert_eq!(null.read_at(0, &mut &mut b[..]).unwrap(), 0);
        let zero = root.lookup(b"zero").unwrap();
        assert_eq!(zero.read_at(99, &mut &mut b[..]).unwrap(), 8);
        assert_eq!(b, [0; 8]);
        let full = root.lookup(b"full").unwrap();
        assert_eq!(full.write_at(0, &&b"x"[..]).err(), Some(Errno::ENOSPC));
        let a = null.attr().unwrap();
        assert_eq!(a.st_mode, 0o020666);
        assert_eq!(a.st_rdev, (1 << 8) | 3);
        uk_random::seed_with([0xa5; 32]);
        let ur = root.lookup(b"urandom").unwrap();
        let mut c = [0u8; 8];
        assert_eq!(ur.read_at(0, &mut &mut b[..]).unwrap(), 8);
        assert_eq!(ur.read_at(0, &mut &mut c[..]).unwrap(), 8);
        assert_ne!(b, c, "random bytes differ between reads");
        assert_eq!(root.lookup(b"shm").unwrap().kind(), Kind::Dir);
        // No terminal (no platform here): /dev/tty is ENXIO, and never seeks.
        let tty = root.lookup(b"tty").unwrap();
        assert!(!tty.seekable());
        assert_eq!(
            tty.clone().open(&OpenReq::default()).err(),
            Some(Errno::ENXIO)
        );
        let ptmx = root.lookup(b"ptmx").unwrap();
        assert_eq!(ptmx.attr().unwrap().st_rdev, (5 << 8) | 2);
        assert_eq!(root.lookup(b"pts").unwrap().kind(), Kind::Dir);
    }

    #[test]
    fn std_aliases() {
        crate::testing::memory();
        let fs = new().unwrap();
        let l = Loc::at_root(fs.root());
        let r = resolve(&l, b"/stdout", true).unwrap();
        assert_eq!(r.alias, Some(1));
        let r = resolve(&l, b"/stderr", false).unwrap();
        assert_eq!(r.alias, None, "lstat sees the symlink");
        assert_eq!(r.node.unwrap().readlink().unwrap(), b"/proc/self/fd/2");
        assert_eq!(resolve(&l, b"/stdin/x", true).err(), Some(Errno::ENOTDIR));
    }
}
