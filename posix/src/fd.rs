//! The file descriptor table of a process.

use crate::file::File;
use crate::{Errno, KResult};
use alloc::sync::Arc;
use alloc::vec::Vec;

#[derive(Clone)]
pub struct FdEntry {
    pub file: Arc<dyn File>,
    pub cloexec: bool,
}

/// A process's descriptors. Threads share it; limits (RLIMIT_NOFILE) are the caller's
/// to pass, so that the table knows nothing of the rest of the process. The table grows
/// on demand (a server holding thousands of connections pays for what it holds), and
/// remembers where the lowest free descriptor may be, so that opening one does not
/// scan every open descriptor below it.
#[derive(Default)]
pub struct FdTable {
    slots: spin::Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    v: Vec<Option<FdEntry>>,
    /// Every descriptor below this one is open.
    low: usize,
}

impl core::ops::Deref for Slots {
    type Target = Vec<Option<FdEntry>>;
    fn deref(&self) -> &Self::Target {
        &self.v
    }
}

impl core::ops::DerefMut for Slots {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.v
    }
}

impl Slots {
    /// `fd` was filled: the lowest free descriptor is past it if it was the lowest.
    fn filled(&mut self, fd: usize) {
        if fd == self.low {
            self.low = fd + 1;
        }
    }
}

impl FdTable {
    pub const fn new() -> Self {
        FdTable {
            slots: spin::Mutex::new(Slots {
                v: Vec::new(),
                low: 0,
            }),
        }
    }

    /// The file behind `fd`; EBADF when it is not open.
    pub fn get(&self, fd: i32) -> KResult<Arc<dyn File>> {
        if fd < 0 {
            return Err(Errno::EBADF);
        }
        let t = self.slots.lock();
        match t.get(fd as usize) {
            Some(Some(e)) => Ok(e.file.clone()),
            _ => Err(Errno::EBADF),
        }
    }

    /// Install `file` at the lowest free descriptor; EMFILE at `limit` (RLIMIT_NOFILE).
    pub fn install(&self, file: Arc<dyn File>, cloexec: bool, limit: usize) -> KResult<i32> {
        let mut t = self.slots.lock();
        let low = t.low.min(t.len());
        let slot = t.v[low..]
            .iter()
            .position(|e| e.is_none())
            .map_or(t.len(), |i| low + i);
        if slot >= limit {
            return Err(Errno::EMFILE);
        }
        if slot == t.len() {
            t.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
            t.push(None);
        }
        t[slot] = Some(FdEntry { file, cloexec });
        t.filled(slot);
        Ok(slot as i32)
    }

    /// close(2).
    pub fn close(&self, fd: i32) -> KResult<()> {
        if fd < 0 {
            return Err(Errno::EBADF);
        }
        let old = {
            let mut t = self.slots.lock();
            let old = match t.get_mut(fd as usize) {
                Some(e @ Some(_)) => e.take(),
                _ => return Err(Errno::EBADF),
            };
            t.low = t.low.min(fd as usize);
            old
        };
        // The file is released after the table lock is dropped.
        drop(old);
        Ok(())
    }

    /// dup(2)/F_DUPFD: the file at `fd` installed again at the lowest free descriptor
    /// >= `min`. EINVAL when `min` is past `limit`, EMFILE when none is free.
    pub fn dup_min(&self, fd: i32, min: i32, cloexec: bool, limit: usize) -> KResult<i32> {
        let file = self.get(fd)?;
        if min < 0 || min as usize >= limit {
            return Err(Errno::EINVAL);
        }
        let mut t = self.slots.lock();
        let min = min as usize;
        let slot = (min..limit)
            .find(|i| t.get(*i).is_none_or(|e| e.is_none()))
            .ok_or(Errno::EMFILE)?;
        if slot >= t.len() {
            let more = slot + 1 - t.len();
            t.try_reserve(more).map_err(|_| Errno::ENOMEM)?;
            t.resize(slot + 1, None);
        }
        t[slot] = Some(FdEntry { file, cloexec });
        t.filled(slot);
        Ok(slot as i32)
    }

    /// dup2(2)/dup3(2): the file at `old` installed at `new`, closing what was there.
    /// EBADF when `new` is outside `limit`.
    pub fn dup_to(&self, old: i32, new: i32, cloexec: bool, limit: usize) -> KResult<i32> {
        let file = self.get(old)?;
        if new < 0 || new as usize >= limit {
            return Err(Errno::EBADF);
        }
        let n = new as usize;
        let previous = {
            let mut t = self.slots.lock();
            if n >= t.len() {
                let more = n + 1 - t.len();
                t.try_reserve(more).map_err(|_| Errno::ENOMEM)?;
                t.resize(n + 1, None);
            }
            let previous = t[n].replace(FdEntry { file, cloexec });
            t.filled(n);
            previous
        };
        // The replaced file is released after the table lock is dropped.
        drop(previous);
        Ok(new)
    }

    /// The close-on-exec flag of `fd` (F_GETFD).
    pub fn cloexec(&self, fd: i32) -> KResult<bool> {
        if fd < 0 {
            return Err(Errno::EBADF);
        }
        match self.slots.lock().get(fd as usize) {
            Some(Some(e)) => Ok(e.cloexec),
            _ => Err(Errno::EBADF),
        }
    }

    /// Set the close-on-exec flag of `fd` (F_SETFD).
    pub fn set_cloexec(&self, fd: i32, on: bool) -> KResult<()> {
        if fd < 0 {
            return Err(Errno::EBADF);
        }
        match self.slots.lock().get_mut(fd as usize) {
            Some(Some(e)) => {
                e.cloexec = on;
                Ok(())
            }
            _ => Err(Errno::EBADF),
        }
    }

    /// Number of open descriptors.
    pub fn open_count(&self) -> usize {
        self.slots.lock().iter().filter(|e| e.is_some()).count()
    }

    /// Every open descriptor with its file, lowest first (/proc/PID/fd).
    pub fn open_fds(&self) -> Vec<(i32, Arc<dyn File>)> {
        self.slots
            .lock()
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as i32, e.file.clone())))
            .collect()
    }

    /// A copy sharing every open file description (fork, vfork): `for_exec` leaves out
    /// the descriptors marked close-on-exec (execve).
    pub fn duplicate(&self, for_exec: bool) -> FdTable {
        let v: Vec<Option<FdEntry>> = self
            .slots
            .lock()
            .iter()
            .map(|e| e.clone().filter(|e| !(for_exec && e.cloexec)))
            .collect();
        let low = v.iter().position(|e| e.is_none()).unwrap_or(v.len());
        FdTable {
            slots: spin::Mutex::new(Slots { v, low }),
        }
    }

    /// Close every descriptor (the process is ending): files are released outside the
    /// table lock.
    pub fn close_all(&self) {
        let all = core::mem::take(&mut *self.slots.lock());
        drop(all);
    }
}

#[cfg(test)]
mod grow_tests {
    use super::*;

    /// Thousands of descriptors (a server's connections): the table grows on demand,
    /// always hands out the lowest free one, and stops at the limit.
    #[test]
    fn grows_to_the_limit_and_reuses_the_lowest_free() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let t = FdTable::new();
        let f: Arc<dyn File> = Arc::new(crate::console::Console::new(1));
        for i in 0..5000 {
            assert_eq!(t.install(f.clone(), false, 5000), Ok(i));
        }
        assert_eq!(t.install(f.clone(), false, 5000), Err(Errno::EMFILE));
        for fd in [4000, 17, 2500] {
            t.close(fd).unwrap();
        }
        assert_eq!(t.install(f.clone(), false, 5000), Ok(17));
        assert_eq!(t.install(f.clone(), false, 5000), Ok(2500));
        assert_eq!(t.dup_to(0, 4000, false, 5000), Ok(4000));
        assert_eq!(t.install(f.clone(), false, 5000), Err(Errno::EMFILE));
        // A raised limit: the table grows past its old size.
        assert_eq!(t.install(f.clone(), false, 6000), Ok(5000));
        t.close(3).unwrap();
        assert_eq!(t.dup_min(0, 0, false, 6000), Ok(3));
        assert_eq!(t.open_count(), 5001);
        t.close_all();
        assert_eq!(t.install(f, false, 8), Ok(0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_get_close_dup() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let t = FdTable::new();
        let f: Arc<dyn File> = Arc::new(crate::console::Console::new(1));
        assert_eq!(t.install(f.clone(), false, 8), Ok(0));
        assert_eq!(t.install(f.clone(), true, 8), Ok(1));
        assert!(t.get(1).is_ok());
        assert_eq!(t.get(-1).err(), Some(Errno::EBADF));
        assert_eq!(t.get(77).err(), Some(Errno::EBADF));
        assert_eq!(t.cloexec(1), Ok(true));
        assert_eq!(t.dup_min(0, 5, false, 8), Ok(5));
        assert_eq!(t.dup_min(0, 8, false, 8), Err(Errno::EINVAL));
        assert_eq!(t.dup_to(0, 7, true, 8), Ok(7));
        assert_eq!(t.dup_to(0, 8, true, 8), Err(Errno::EBADF));
        assert_eq!(t.open_count(), 4);
        t.close(1).unwrap();
        assert_eq!(t.close(1), Err(Errno::EBADF));
        assert_eq!(t.close(-5), Err(Errno::EBADF));
        assert_eq!(t.install(f, false, 8), Ok(1), "lowest free slot");
        t.close_all();
        assert_eq!(t.open_count(), 0);
    }

    #[test]
    fn duplicates_share_files_and_exec_drops_close_on_exec() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let t = FdTable::new();
        let f: Arc<dyn File> = Arc::new(crate::console::Console::new(1));
        t.install(f.clone(), false, 8).unwrap();
        t.install(f.clone(), true, 8).unwrap();
        t.install(f.clone(), false, 8).unwrap();
        let copy = t.duplicate(false);
        assert_eq!(copy.open_count(), 3);
        assert_eq!(copy.cloexec(1), Ok(true));
        assert!(
            Arc::ptr_eq(&copy.get(2).unwrap(), &f),
            "one open file description"
        );
        let exec = t.duplicate(true);
        assert_eq!(exec.open_count(), 2);
        assert_eq!(exec.get(1).err(), Some(Errno::EBADF));
        // The gap left by the close-on-exec descriptor is the lowest free one.
        assert_eq!(exec.install(f, false, 8), Ok(1));
        t.close(0).unwrap();
        assert!(copy.get(0).is_ok(), "tables are separate");
    }
}
