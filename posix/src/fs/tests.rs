//! The typed file calls on a ramfs root with a devfs at /dev.

use super::*;
use crate::file::Whence;
use uk_abi::fcntl::{
    AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL,
    O_NOFOLLOW, O_PATH, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
};

/// One namespace for all tests in this process (the namespace is global), built once.
fn setup() -> std::sync::MutexGuard<'static, ()> {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // The one test lock of the crate: these tests map files, and maps share one
    // address space with the other modules' tests (mm's among them).
    let guard = crate::testplat::serial();
    crate::testplat::setup();
    ONCE.call_once(|| {
        let root = uk_vfs::ramfs::RamFs::new().root();
        uk_vfs::set_root(root.clone());
        root.mkdir(b"dev", 0o755).unwrap();
        uk_vfs::mount(b"/dev", uk_vfs::devfs::new().unwrap().root()).unwrap();
        set_cwd(Loc::root().unwrap());
    });
    guard
}

fn rd(fd_: i32, n: usize) -> Vec<u8> {
    let f = crate::process::current().fds.get(fd_).unwrap();
    let mut b = alloc::vec![0u8; n];
    let k = f.read(&mut &mut b[..]).unwrap();
    b.truncate(k);
    b
}

#[test]
fn create_write_read_seek_append() {
    let _g = setup();
    mkdirat(AT_FDCWD, b"/t1", 0o755).unwrap();
    let fd_ = openat(AT_FDCWD, b"/t1/f", O_CREAT | O_RDWR | O_EXCL, 0o666).unwrap();
    assert_eq!(
        openat(AT_FDCWD, b"/t1/f", O_CREAT | O_EXCL | O_RDWR, 0o666),
        Err(Errno::EEXIST)
    );
    let f = crate::process::current().fds.get(fd_).unwrap();
    assert_eq!(f.write(&&b"hello world"[..]).unwrap(), 11);
    assert_eq!(f.seek(0, Whence::Set).unwrap(), 0);
    assert_eq!(rd(fd_, 5), b"hello");
    assert_eq!(f.stat().unwrap().st_mode, 0o100644, "umask 022 applied");
    let mut b = [0u8; 5];
    assert_eq!(f.pread(&mut &mut b[..], 6).unwrap(), 5);
    assert_eq!(&b, b"world");
    assert_eq!(f.seek(-2, Whence::End).unwrap(), 9);
    assert_eq!(f.seek(-20, Whence::Cur), Err(Errno::EINVAL));
    let a = openat(AT_FDCWD, b"/t1/f", O_WRONLY | O_APPEND, 0).unwrap();
    let af = crate::process::current().fds.get(a).unwrap();
    assert_eq!(af.write(&&b"!"[..]).unwrap(), 1);
    assert_eq!(af.read(&mut &mut b[..]), Err(Errno::EBADF));
    assert_eq!(f.stat().unwrap().st_size, 12);
    let t = openat(AT_FDCWD, b"/t1/f", O_WRONLY | O_TRUNC, 0).unwrap();
    assert_eq!(f.stat().unwrap().st_size, 0);
    for x in [fd_, a, t] {
        crate::process::current().fds.close(x).unwrap();
    }
    assert_eq!(openat(AT_FDCWD, b"/t1", O_WRONLY, 0), Err(Errno::EISDIR));
    assert_eq!(
        openat(AT_FDCWD, b"/t1/f", O_DIRECTORY, 0),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(
        openat(AT_FDCWD, b"/t1/new/", O_CREAT | O_WRONLY, 0o644),
        Err(Errno::EISDIR)
    );
    assert_eq!(
        openat(AT_FDCWD, b"/t1/none", O_RDONLY, 0),
        Err(Errno::ENOENT)
    );
}

#[test]
fn dirfd_cwd_getcwd_getdents() {
    let _g = setup();
    mkdirat(AT_FDCWD, b"/t2", 0o755).unwrap();
    mkdirat(AT_FDCWD, b"/t2/sub", 0o700).unwrap();
    let d = openat(AT_FDCWD, b"/t2", O_RDONLY | O_DIRECTORY, 0).unwrap();
    let f = openat(d, b"sub/../x", O_CREAT | O_WRONLY, 0o600).unwrap();
    crate::process::current().fds.close(f).unwrap();
    assert!(stat_at(AT_FDCWD, b"/t2/x", 0).is_ok());
    let all = getdents64(d, 4096).unwrap();
    let mut names = Vec::new();
    let mut off = 0;
    while off < all.len() {
        let reclen = u16::from_le_bytes([all[off + 16], all[off + 17]]) as usize;
        let name = &all[off + 19..off + reclen];
        names.push(name[..name.iter().position(|b| *b == 0).unwrap()].to_vec());
        off += reclen;
    }
    assert_eq!(names, [&b"."[..], b"..", b"sub", b"x"]);
    assert!(getdents64(d, 4096).unwrap().is_empty(), "at the end");
    assert_eq!(getdents64(d, 10), Ok(Vec::new()));
    crate::process::current()
        .fds
        .get(d)
        .unwrap()
        .seek(0, Whence::Set)
        .unwrap();
    assert_eq!(getdents64(d, 10), Err(Errno::EINVAL), "buffer too small");
    let old = cwd().unwrap();
    fchdir(d).unwrap();
    chdir(b"sub").unwrap();
    assert_eq!(getcwd().unwrap(), b"/t2/sub");
    chdir(b"../..").unwrap();
    assert_eq!(getcwd().unwrap(), b"/");
    assert_eq!(chdir(b"/t2/x"), Err(Errno::ENOTDIR));
    set_cwd(old);
    let xf = openat(AT_FDCWD, b"/t2/x", O_RDONLY, 0).unwrap();
    assert_eq!(openat(xf, b"y", O_RDONLY, 0), Err(Errno::ENOTDIR));
    assert_eq!(getdents64(xf, 100), Err(Errno::ENOTDIR));
    assert_eq!(openat(999, b"y", O_RDONLY, 0), Err(Errno::EBADF));
    crate::process::current().fds.close(xf).unwrap();
    crate::process::current().fds.close(d).unwrap();
}

#[test]
fn unlink_rmdir_rename_link_symlink() {
    let _g = setup();
    mkdirat(AT_FDCWD, b"/t3", 0o755).unwrap();
    mkdirat(AT_FDCWD, b"/t3/d", 0o755).unwrap();
    assert_eq!(mkdirat(AT_FDCWD, b"/t3/d", 0o755), Err(Errno::EEXIST));
    assert_eq!(mkdirat(AT_FDCWD, b"/t3/d/.", 0o755), Err(Errno::EEXIST));
    let f = openat(AT_FDCWD, b"/t3/f", O_CREAT | O_WRONLY, 0o644).unwrap();
    crate::process::current().fds.close(f).unwrap();
    assert_eq!(unlinkat(AT_FDCWD, b"/t3/d", 0), Err(Errno::EISDIR));
    assert_eq!(
        unlinkat(AT_FDCWD, b"/t3/f", AT_REMOVEDIR),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(
        unlinkat(AT_FDCWD, b"/t3/d/.", AT_REMOVEDIR),
        Err(Errno::EINVAL)
    );
    assert_eq!(unlinkat(AT_FDCWD, b"/t3/f/", 0), Err(Errno::ENOTDIR));
    linkat(AT_FDCWD, b"/t3/f", AT_FDCWD, b"/t3/g", 0).unwrap();
    assert_eq!(stat_at(AT_FDCWD, b"/t3/f", 0).unwrap().st_nlink, 2);
    assert_eq!(
        linkat(AT_FDCWD, b"/t3/d", AT_FDCWD, b"/t3/e", 0),
        Err(Errno::EPERM)
    );
    symlinkat(b"f", AT_FDCWD, b"/t3/s").unwrap();
    assert_eq!(symlinkat(b"f", AT_FDCWD, b"/t3/s"), Err(Errno::EEXIST));
    assert_eq!(readlinkat(AT_FDCWD, b"/t3/s").unwrap(), b"f");
    assert_eq!(readlinkat(AT_FDCWD, b"/t3/f"), Err(Errno::EINVAL));
    assert_eq!(
        stat_at(AT_FDCWD, b"/t3/s", AT_SYMLINK_NOFOLLOW)
            .unwrap()
            .st_mode
            & 0o170000,
        0o120000
    );
    assert_eq!(
        openat(AT_FDCWD, b"/t3/s", O_RDONLY | O_NOFOLLOW, 0),
        Err(Errno::ELOOP)
    );
    let p = openat(AT_FDCWD, b"/t3/s", O_PATH | O_NOFOLLOW, 0).unwrap();
    assert_eq!(readlinkat(p, b"").unwrap(), b"f");
    assert_eq!(
        crate::process::current()
            .fds
            .get(p)
            .unwrap()
            .read(&mut &mut [0u8; 1][..]),
        Err(Errno::EBADF)
    );
    crate::process::current().fds.close(p).unwrap();
    assert_eq!(
        renameat2(AT_FDCWD, b"/t3/d", AT_FDCWD, b"/t3/d/inside", 0),
        Err(Errno::EINVAL)
    );
    renameat2(AT_FDCWD, b"/t3/g", AT_FDCWD, b"/t3/d/g", 0).unwrap();
    assert_eq!(
        renameat2(AT_FDCWD, b"/t3/f", AT_FDCWD, b"/t3/d/g", 1),
        Err(Errno::EEXIST)
    );
    renameat2(AT_FDCWD, b"/t3/f", AT_FDCWD, b"/t3/d/g", 0).unwrap();
    assert_eq!(
        stat_at(AT_FDCWD, b"/t3/d/g", 0).unwrap().st_nlink,
        2,
        "renaming onto another link of the same file does nothing"
    );
    unlinkat(AT_FDCWD, b"/t3/f", 0).unwrap();
    assert_eq!(
        renameat2(AT_FDCWD, b"/t3/d/g", AT_FDCWD, b"/dev/g", 0),
        Err(Errno::EXDEV)
    );
    assert_eq!(
        unlinkat(AT_FDCWD, b"/t3/d", AT_REMOVEDIR),
        Err(Errno::ENOTEMPTY)
    );
    unlinkat(AT_FDCWD, b"/t3/d/g", 0).unwrap();
    unlinkat(AT_FDCWD, b"/t3/d", AT_REMOVEDIR).unwrap();
    assert_eq!(stat_at(AT_FDCWD, b"/t3/d", 0), Err(Errno::ENOENT));
}

#[test]
fn attrs_truncate_access_umask() {
    let _g = setup();
    let f = openat(AT_FDCWD, b"/t4", O_CREAT | O_RDWR, 0o755).unwrap();
    ftruncate(f, 5000).unwrap();
    assert_eq!(stat_at(AT_FDCWD, b"/t4", 0).unwrap().st_size, 5000);
    truncate(b"/t4", 10).unwrap();
    assert_eq!(stat_at(AT_FDCWD, b"/t4", 0).unwrap().st_size, 10);
    assert_eq!(truncate(b"/t4", -1), Err(Errno::EINVAL));
    fchmodat(AT_FDCWD, b"/t4", 0o4600, 0).unwrap();
    assert_eq!(stat_at(AT_FDCWD, b"/t4", 0).unwrap().st_mode, 0o104600);
    assert_eq!(faccessat(AT_FDCWD, b"/t4", 1, 0), Err(Errno::EACCES));
    faccessat(AT_FDCWD, b"/t4", 6, 0).unwrap();
    assert_eq!(faccessat(AT_FDCWD, b"/t4", 8, 0), Err(Errno::EINVAL));
    fchownat(AT_FDCWD, b"/t4", 12, u32::MAX, 0).unwrap();
    let st = stat_at(AT_FDCWD, b"/t4", 0).unwrap();
    assert_eq!((st.st_uid, st.st_gid), (12, 0));
    utimensat(AT_FDCWD, Some(b"/t4"), Some([(5, 6), (7, UTIME_OMIT)]), 0).unwrap();
    let st2 = stat_at(AT_FDCWD, b"/t4", 0).unwrap();
    assert_eq!(st2.st_atime.as_ns(), 5_000_000_006);
    assert_eq!(st2.st_mtime.as_ns(), st.st_mtime.as_ns());
    assert_eq!(
        utimensat(
            AT_FDCWD,
            Some(b"/t4"),
            Some([(5, 2_000_000_000), (0, 0)]),
            0
        ),
        Err(Errno::EINVAL)
    );
    let old = umask(0o077);
    assert_eq!(umask(old), 0o077);
    let r = openat(AT_FDCWD, b"/t4", O_RDONLY, 0).unwrap();
    assert_eq!(ftruncate(r, 0), Err(Errno::EINVAL));
    fsync(r, false).unwrap();
    crate::process::current().fds.close(r).unwrap();
    crate::process::current().fds.close(f).unwrap();
}

#[test]
fn devices_and_aliases() {
    let _g = setup();
    let z = openat(AT_FDCWD, b"/dev/zero", O_RDONLY, 0).unwrap();
    assert_eq!(rd(z, 4), [0, 0, 0, 0]);
    crate::process::current().fds.close(z).unwrap();
    let n = openat(AT_FDCWD, b"/dev/null", O_RDWR, 0).unwrap();
    assert!(rd(n, 4).is_empty());
    assert_eq!(
        crate::process::current()
            .fds
            .get(n)
            .unwrap()
            .write(&&b"abc"[..])
            .unwrap(),
        3
    );
    crate::process::current().fds.close(n).unwrap();
    let u = openat(AT_FDCWD, b"/dev/urandom", O_RDONLY, 0).unwrap();
    assert_ne!(rd(u, 32), [0u8; 32]);
    crate::process::current().fds.close(u).unwrap();
    let s = openat(AT_FDCWD, b"/dev/stdout", O_WRONLY, 0).unwrap();
    assert_eq!(
        crate::process::current()
            .fds
            .get(s)
            .unwrap()
            .write(&&b"x"[..])
            .unwrap(),
        1
    );
    assert_eq!(
        stat_at(AT_FDCWD, b"/dev/stdout", 0).unwrap().st_mode & 0o170000,
        0o020000
    );
    crate::process::current().fds.close(s).unwrap();
    assert_eq!(
        statfs_at(AT_FDCWD, b"/", 0).unwrap().f_type,
        uk_abi::stat::TMPFS_MAGIC
    );
}

#[test]
fn flock_between_descriptions() {
    let _g = setup();
    let a = openat(AT_FDCWD, b"/t6", O_CREAT | O_RDWR, 0o644).unwrap();
    let b = openat(AT_FDCWD, b"/t6", O_RDWR, 0).unwrap();
    lock::flock(a, uk_abi::fcntl::LOCK_EX).unwrap();
    assert_eq!(
        lock::flock(b, uk_abi::fcntl::LOCK_SH | uk_abi::fcntl::LOCK_NB),
        Err(Errno::EWOULDBLOCK)
    );
    lock::flock(a, uk_abi::fcntl::LOCK_SH).unwrap();
    lock::flock(b, uk_abi::fcntl::LOCK_SH | uk_abi::fcntl::LOCK_NB).unwrap();
    crate::process::current().fds.close(a).unwrap();
    lock::flock(b, uk_abi::fcntl::LOCK_EX | uk_abi::fcntl::LOCK_NB).unwrap();
    let l = lock::RecordLock {
        ltype: uk_abi::fcntl::F_WRLCK,
        whence: 0,
        start: 0,
        len: 0,
    };
    assert_eq!(
        lock::record_lock(b, true, &l).unwrap().ltype,
        uk_abi::fcntl::F_UNLCK
    );
    let r = openat(AT_FDCWD, b"/t6", O_RDONLY, 0).unwrap();
    assert_eq!(lock::record_lock(r, false, &l), Err(Errno::EBADF));
    crate::process::current().fds.close(b).unwrap();
    crate::process::current().fds.close(r).unwrap();
}

#[test]
fn sendfile_and_mmap_copy() {
    let _g = setup();
    let a = openat(AT_FDCWD, b"/t7a", O_CREAT | O_RDWR, 0o644).unwrap();
    crate::process::current()
        .fds
        .get(a)
        .unwrap()
        .write(&&b"0123456789"[..])
        .unwrap();
    let b = openat(AT_FDCWD, b"/t7b", O_CREAT | O_RDWR, 0o644).unwrap();
    let mut off = 2u64;
    assert_eq!(sendfile(b, a, Some(&mut off), 5).unwrap(), 5);
    assert_eq!(off, 7);
    crate::process::current()
        .fds
        .get(b)
        .unwrap()
        .seek(0, Whence::Set)
        .unwrap();
    assert_eq!(rd(b, 20), b"23456");
    let mut page = [0u8; 16]; // a fresh map reads as zeros
    read_for_mmap(a, 4, &mut &mut page[..]).unwrap();
    assert_eq!(&page[..6], b"456789");
    assert_eq!(page[6..], [0u8; 10]);
    crate::process::current().fds.close(a).unwrap();
    crate::process::current().fds.close(b).unwrap();
}

/// Shared maps show the file's page cache: stores through one map are seen by another
/// map and by read(2) at once; pwrite(2) is seen through a read-only map (the kernel
/// writes the cache, never through the map's protection); truncate and mremap keep
/// maps and file in step.
#[test]
fn shared_maps_are_the_file() {
    use uk_abi::mman::{MAP_SHARED, MREMAP_MAYMOVE, PROT_READ, PROT_WRITE};
    let _g = setup();
    const P: usize = uk_abi::PAGE_SIZE;
    let fd_ = openat(AT_FDCWD, b"/t8", O_CREAT | O_RDWR | O_TRUNC, 0o644).unwrap();
    let f = crate::process::current().fds.get(fd_).unwrap();
    f.pwrite(&&alloc::vec![b'a'; 2 * P][..], 0).unwrap();
    let space = &crate::process::current().mm;
    let ro = mmap::mmap(0, 2 * P, PROT_READ, MAP_SHARED, fd_, 0).unwrap();
    let rw = mmap::mmap(0, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0).unwrap();
    assert_ne!(ro, rw);
    let at = |a: usize| {
        // SAFETY: a lies inside one of the live maps above.
        unsafe { core::ptr::read_volatile(a as *const u8) }
    };
    assert_eq!(at(ro + P + 5), b'a');
    // pwrite into a file mapped read-only: seen through the map.
    f.pwrite(&&b"XY"[..], P as u64 + 5).unwrap();
    assert_eq!((at(ro + P + 5), at(ro + P + 6)), (b'X', b'Y'));
    assert_eq!(crate::testplat::mmu_prot(ro), PROT_READ);
    // A store through one map: seen by the other map and by read(2), no msync.
    // SAFETY: rw is a live writable map of two pages.
    unsafe { core::ptr::write_volatile((rw + 7) as *mut u8, b'Z') };
    assert_eq!(at(ro + 7), b'Z');
    let mut b = [0u8; 3];
    assert_eq!(f.pread(&mut &mut b[..], 6).unwrap(), 3);
    assert_eq!(&b, b"aZa");
    // msync of a mapped range is fine; of an unmapped one ENOMEM.
    assert_eq!(mmap::msync(rw, 2 * P, 0), Ok(()));
    // Growing the writable map past the file: the new page shows the file's zeros.
    let g = space.mremap(rw, 2 * P, 3 * P, MREMAP_MAYMOVE, 0).unwrap();
    assert_eq!(at(g + 7), b'Z');
    assert_eq!(at(g + 2 * P), 0);
    // Truncate while mapped: the page past the end reads as zeros in every map.
    ftruncate(fd_, P as i64 + 6).unwrap();
    assert_eq!(at(ro + P + 5), b'X');
    assert_eq!(at(ro + P + 6), 0);
    assert_eq!(at(g + P + 6), 0);
    mmap::munmap(ro, 2 * P).unwrap();
    mmap::munmap(g, 3 * P).unwrap();
    assert_eq!(mmap::msync(g, P, 0), Err(Errno::ENOMEM));
    // The file is unchanged by the unmaps.
    let mut b = [0u8; 8];
    assert_eq!(f.pread(&mut &mut b[..], P as u64).unwrap(), 6);
    assert_eq!(&b[..6], b"aaaaaX");
    crate::process::current().fds.close(fd_).unwrap();
}

#[test]
fn fallocate_copy_range_splice_memfd() {
    let _g = setup();
    mkdirat(AT_FDCWD, b"/t9", 0o755).unwrap();
    let fd_ = openat(AT_FDCWD, b"/t9/f", O_CREAT | O_RDWR, 0o644).unwrap();
    let f = crate::process::current().fds.get(fd_).unwrap();
    space::fallocate(fd_, 0, 0, 5000).unwrap();
    assert_eq!(f.stat().unwrap().st_size, 5000);
    space::fallocate(fd_, 1, 0, 9000).unwrap(); // KEEP_SIZE
    assert_eq!(f.stat().unwrap().st_size, 5000);
    assert_eq!(space::fallocate(fd_, 2, 0, 1), Err(Errno::EOPNOTSUPP));
    assert_eq!(space::fallocate(fd_, 0, 0, 0), Err(Errno::EINVAL));
    assert_eq!(space::fadvise(fd_, 0, -1, 0), Err(Errno::EINVAL));
    assert_eq!(space::fadvise(fd_, 0, 0, 4), Ok(()));
    f.pwrite(&&b"abcdef"[..], 0).unwrap();
    // copy_file_range within one file, ranges apart; then overlapping: EINVAL.
    let (mut i, mut o) = (0u64, 100u64);
    assert_eq!(
        copy::copy_file_range(fd_, Some(&mut i), fd_, Some(&mut o), 6, 0),
        Ok(6)
    );
    assert_eq!((i, o), (6, 106));
    let mut b = [0u8; 6];
    f.pread(&mut &mut b[..], 100).unwrap();
    assert_eq!(&b, b"abcdef");
    let (mut i, mut o) = (0u64, 3u64);
    assert_eq!(
        copy::copy_file_range(fd_, Some(&mut i), fd_, Some(&mut o), 6, 0),
        Err(Errno::EINVAL)
    );
    // splice file -> pipe -> file; a refused write leaves the bytes in the pipe.
    let (r, w) = crate::pipe::pipe_fds(0).unwrap();
    let mut at = 1u64;
    assert_eq!(copy::splice(fd_, Some(&mut at), w, None, 3, 0), Ok(3));
    assert_eq!(at, 4);
    let ro = openat(AT_FDCWD, b"/t9/f", O_RDONLY, 0).unwrap();
    assert_eq!(copy::splice(r, None, ro, None, 3, 0), Err(Errno::EBADF));
    assert_eq!(copy::splice(r, None, fd_, None, 3, 0), Ok(3));
    f.pread(&mut &mut b[..3], 0).unwrap();
    assert_eq!(&b[..3], b"bcd");
    assert_eq!(copy::splice(r, None, fd_, None, 3, 2), Err(Errno::EAGAIN));
    // memfd: an unnamed regular file that reads back what was written.
    let m = memfd::memfd_create(b"t", 0).unwrap();
    let mf = crate::process::current().fds.get(m).unwrap();
    assert_eq!(mf.write(&&b"xyz"[..]), Ok(3));
    assert_eq!(mf.stat().unwrap().st_size, 3);
    assert_eq!(memfd::memfd_create(b"t", 8), Err(Errno::EINVAL));
    for x in [fd_, r, w, ro, m] {
        crate::process::current().fds.close(x).unwrap();
    }
}

#[test]
fn chroot_and_fifo() {
    let _g = setup();
    mkdirat(AT_FDCWD, b"/t10", 0o755).unwrap();
    mkdirat(AT_FDCWD, b"/t10/jail", 0o755).unwrap();
    mknodat(AT_FDCWD, b"/t10/jail/p", uk_abi::stat::S_IFIFO | 0o600).unwrap();
    assert_eq!(
        mknodat(AT_FDCWD, b"/t10/jail/p", uk_abi::stat::S_IFIFO | 0o600),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        mknodat(AT_FDCWD, b"/t10/c", uk_abi::stat::S_IFCHR | 0o600),
        Err(Errno::EPERM)
    );
    let top = openat(AT_FDCWD, b"/", O_RDONLY | O_DIRECTORY, 0).unwrap();
    chroot(b"/t10/jail").unwrap();
    // The FIFO is reached from the new root; O_RDWR never waits.
    let p = openat(AT_FDCWD, b"/p", O_RDWR, 0).unwrap();
    let pf = crate::process::current().fds.get(p).unwrap();
    assert_eq!(pf.write(&&b"hi"[..]), Ok(2));
    let mut b = [0u8; 2];
    assert_eq!(pf.read(&mut &mut b[..]), Ok(2));
    assert_eq!(&b, b"hi");
    // Non-blocking writer without a reader: ENXIO (the O_RDWR end is one, so close it).
    drop(pf);
    crate::process::current().fds.close(p).unwrap();
    assert_eq!(
        openat(AT_FDCWD, b"/p", O_WRONLY | uk_abi::fcntl::O_NONBLOCK, 0),
        Err(Errno::ENXIO)
    );
    assert_eq!(openat(AT_FDCWD, b"/t10", O_RDONLY, 0), Err(Errno::ENOENT));
    fchdir(top).unwrap();
    chroot(b".").unwrap();
    assert!(openat(AT_FDCWD, b"/t10/jail/p", uk_abi::fcntl::O_PATH, 0).is_ok());
    crate::process::current().fds.close(top).unwrap();
    set_cwd(Loc::root().unwrap());
}

#[test]
fn dnotify_watches_end_with_one_shot_and_close() {
    let _g = setup();
    mkdirat(AT_FDCWD, b"/t11", 0o755).unwrap();
    let f = openat(AT_FDCWD, b"/t11/f", O_CREAT | O_RDWR, 0o644).unwrap();
    assert_eq!(dnotify::notify(f, 4), Err(Errno::ENOTDIR));
    let d = openat(AT_FDCWD, b"/t11", O_RDONLY | O_DIRECTORY, 0).unwrap();
    // SIGIO must not end the test process: block it for the duration.
    let sigs = &crate::process::current().signals;
    let bit = 1u64 << (uk_abi::signal::SIGIO - 1);
    let old = sigs.sigprocmask(0 /* SIG_BLOCK */, Some(bit)).unwrap();
    dnotify::notify(d, uk_abi::fcntl::DN_CREATE).unwrap();
    assert!(dnotify::active());
    // A deletion was not asked for; a creation fires and ends the one-shot watch.
    unlinkat(AT_FDCWD, b"/t11/f", 0).unwrap();
    assert!(dnotify::active());
    assert_eq!(sigs.sigpending() & bit, 0);
    mkdirat(AT_FDCWD, b"/t11/sub", 0o755).unwrap();
    assert!(!dnotify::active());
    assert_ne!(sigs.sigpending() & bit, 0, "SIGIO sent");
    sigs.sigtimedwait(bit, Some(0)).unwrap();
    // Closing the description ends a multishot watch.
    dnotify::notify(d, uk_abi::fcntl::DN_CREATE | uk_abi::fcntl::DN_MULTISHOT).unwrap();
    assert!(dnotify::active());
    crate::process::current().fds.close(d).unwrap();
    assert!(!dnotify::active());
    crate::process::current().fds.close(f).unwrap();
    sigs.sigprocmask(2 /* SIG_SETMASK */, Some(old)).unwrap();
}
