//! The file descriptor table.

use crate::file::File;
use crate::{Errno, KResult};
use alloc::sync::Arc;
use alloc::vec::Vec;

#[derive(Clone)]
pub struct FdEntry {
    pub file: Arc<dyn File>,
    pub cloexec: bool,
}

static TABLE: spin::Mutex<Vec<Option<FdEntry>>> = spin::Mutex::new(Vec::new());

/// Open stdin, stdout and stderr on the console.
pub(crate) fn init_console() {
    let mut t = TABLE.lock();
    t.clear();
    for fd in 0..3 {
        t.push(Some(FdEntry {
            file: Arc::new(crate::console::Console::new(fd)),
            cloexec: false,
        }));
    }
}

/// The file behind `fd`; EBADF when it is not open.
pub fn get(fd: i32) -> KResult<Arc<dyn File>> {
    if fd < 0 {
        return Err(Errno::EBADF);
    }
    let t = TABLE.lock();
    match t.get(fd as usize) {
        Some(Some(e)) => Ok(e.file.clone()),
        _ => Err(Errno::EBADF),
    }
}

/// Install `file` at the lowest free descriptor; EMFILE past RLIMIT_NOFILE.
pub fn install(file: Arc<dyn File>, cloexec: bool) -> KResult<i32> {
    let limit = crate::ident::nofile_limit();
    let mut t = TABLE.lock();
    let slot = t.iter().position(|e| e.is_none()).unwrap_or(t.len());
    if slot >= limit {
        return Err(Errno::EMFILE);
    }
    if slot == t.len() {
        t.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        t.push(None);
    }
    t[slot] = Some(FdEntry { file, cloexec });
    Ok(slot as i32)
}

/// close(2).
pub fn close(fd: i32) -> KResult<()> {
    if fd < 0 {
        return Err(Errno::EBADF);
    }
    let mut t = TABLE.lock();
    match t.get_mut(fd as usize) {
        Some(e @ Some(_)) => {
            *e = None;
            Ok(())
        }
        _ => Err(Errno::EBADF),
    }
}

/// dup(2)/F_DUPFD: the file at `fd` installed again at the lowest free descriptor
/// >= `min`. EINVAL when `min` is past RLIMIT_NOFILE, EMFILE when none is free.
pub fn dup_min(fd: i32, min: i32, cloexec: bool) -> KResult<i32> {
    let file = get(fd)?;
    let limit = crate::ident::nofile_limit();
    if min < 0 || min as usize >= limit {
        return Err(Errno::EINVAL);
    }
    let mut t = TABLE.lock();
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
    Ok(slot as i32)
}

/// dup2(2)/dup3(2): the file at `old` installed at `new`, closing what was there.
/// EBADF when `new` is outside RLIMIT_NOFILE.
pub fn dup_to(old: i32, new: i32, cloexec: bool) -> KResult<i32> {
    let file = get(old)?;
    if new < 0 || new as usize >= crate::ident::nofile_limit() {
        return Err(Errno::EBADF);
    }
    let n = new as usize;
    let previous = {
        let mut t = TABLE.lock();
        if n >= t.len() {
            let more = n + 1 - t.len();
            t.try_reserve(more).map_err(|_| Errno::ENOMEM)?;
            t.resize(n + 1, None);
        }
        t[n].replace(FdEntry { file, cloexec })
    };
    // The replaced file is released after the table lock is dropped.
    drop(previous);
    Ok(new)
}

/// The close-on-exec flag of `fd` (F_GETFD).
pub fn cloexec(fd: i32) -> KResult<bool> {
    if fd < 0 {
        return Err(Errno::EBADF);
    }
    match TABLE.lock().get(fd as usize) {
        Some(Some(e)) => Ok(e.cloexec),
        _ => Err(Errno::EBADF),
    }
}

/// Set the close-on-exec flag of `fd` (F_SETFD).
pub fn set_cloexec(fd: i32, on: bool) -> KResult<()> {
    if fd < 0 {
        return Err(Errno::EBADF);
    }
    match TABLE.lock().get_mut(fd as usize) {
        Some(Some(e)) => {
            e.cloexec = on;
            Ok(())
        }
        _ => Err(Errno::EBADF),
    }
}

/// Number of open descriptors.
pub fn open_count() -> usize {
    TABLE.lock().iter().filter(|e| e.is_some()).count()
}

/// Every open descriptor with its file, lowest first (/proc/PID/fd).
pub fn open_fds() -> Vec<(i32, Arc<dyn File>)> {
    TABLE
        .lock()
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.as_ref().map(|e| (i as i32, e.file.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_and_close() {
        crate::testplat::setup();
        init_console();
        assert!(get(1).is_ok());
        assert_eq!(get(-1).err(), Some(Errno::EBADF));
        assert_eq!(get(77).err(), Some(Errno::EBADF));
        let f = get(2).unwrap();
        let n = install(f, false).unwrap();
        assert_eq!(n, 3);
        close(n).unwrap();
        assert_eq!(close(n), Err(Errno::EBADF));
        assert_eq!(close(-5), Err(Errno::EBADF));
    }
}
