//! The file-system namespace at boot: the root, /dev, the initrd and the working
//! directory, chosen by boot options (see docs/filesystems.md).
//!
//! - `root=hostfs:/DIR` mounts host directory DIR as `/` (platforms with hostfs only).
//!   The default on such platforms is `root=hostfs:/` with the working directory the
//!   host's, so that an image run as a plain command sees the files a program would.
//! - `root=ramfs` (alias `root=initrd`) makes `/` a ramfs, filled from the initrd. The
//!   default on platforms without hostfs.
//! - `initrd=/HOST/PATH.cpio` (hostfs platforms) reads a newc archive from the host and
//!   unpacks it into `/` (a ramfs root) before the program starts.
//! - `cwd=/PATH` sets the starting working directory.
//!
//! /dev is always a devfs mounted over whatever the root has there, /proc a procfs
//! (posix/src/fs/proc.rs).

use crate::{Errno, KResult};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use uk_vfs::{Loc, Node};

/// `format!` without `alloc::fmt::format`, whose precompiled code references the
/// unwinder (absent from a panic=abort kernel).
macro_rules! fmt {
    ($($t:tt)*) => {{
        let mut s = String::new();
        let _ = core::fmt::Write::write_fmt(&mut s, format_args!($($t)*));
        s
    }};
}

/// What `/` is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootSpec {
    /// The platform's default.
    Default,
    HostFs(&'static str),
    Ram,
}

/// Boot options arrive before the heap exists: keep them as the static strings they are.
struct Opts {
    root: RootSpec,
    initrd: Option<&'static str>,
    cwd: Option<&'static str>,
}

static OPTS: spin::Mutex<Opts> = spin::Mutex::new(Opts {
    root: RootSpec::Default,
    initrd: None,
    cwd: None,
});

/// Take a boot option that belongs to the file system (called before memory is set
/// up: must not allocate). Returns Ok(false) for keys that are not ours, Err with a
/// message for our keys with bad values.
pub fn boot_option(key: &str, val: &'static str) -> Result<bool, &'static str> {
    let mut o = OPTS.lock();
    match key {
        "root" => {
            o.root = match val {
                "ramfs" | "initrd" => RootSpec::Ram,
                v if v.starts_with("hostfs:/") => RootSpec::HostFs(&v[7..]),
                _ => return Err("root= takes hostfs:/HOST/DIR, ramfs or initrd"),
            }
        }
        "initrd" => {
            if !val.starts_with('/') {
                return Err("initrd= takes an absolute host path to a newc cpio archive");
            }
            o.initrd = Some(val);
        }
        "cwd" => {
            if !val.starts_with('/') {
                return Err("cwd= takes an absolute path inside the image");
            }
            o.cwd = Some(val);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Read a whole host file through hostfs (the initrd on linuxu).
fn read_host_file(host: &'static dyn uk_plat::HostFs, path: &str) -> KResult<Vec<u8>> {
    let (dir, name) = path.rsplit_once('/').ok_or(Errno::EINVAL)?;
    let dir = if dir.is_empty() { "/" } else { dir };
    let dfd = host.open_dir(dir.as_bytes())?;
    let r = host.openat(dfd, name.as_bytes(), 0o2000000, 0);
    host.close(dfd);
    let fd = r?;
    let mut out = Vec::new();
    let mut buf = alloc::vec![0u8; 64 * 1024];
    let res = loop {
        match host.pread(fd, &mut buf, out.len() as u64) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if out.try_reserve(n).is_err() {
                    break Err(Errno::ENOMEM);
                }
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) => break Err(e),
        }
    };
    host.close(fd);
    res.map(|_| out)
}

/// Mount the root and /dev, unpack the initrd (`initrd=` from the host, else `initrd`,
/// else the platform's [`uk_plat::Platform::initrd`]), set the working directory.
/// Errors name what to change.
pub fn boot_mount(initrd: Option<&[u8]>) -> Result<(), String> {
    let (root_spec, initrd_path, cwd) = {
        let o = OPTS.lock();
        (o.root.clone(), o.initrd, o.cwd)
    };
    let host = uk_plat::get().hostfs();
    let plat_initrd = uk_plat::get().initrd().is_some();
    let spec = match (root_spec, host) {
        (RootSpec::Default, Some(_))
            if initrd.is_none() && initrd_path.is_none() && !plat_initrd =>
        {
            RootSpec::HostFs("/")
        }
        (RootSpec::Default, _) => RootSpec::Ram,
        (s, _) => s,
    };
    let mut start_cwd: Option<Vec<u8>> = None;
    let root: Arc<dyn Node> = match &spec {
        RootSpec::HostFs(dir) => {
            let Some(h) = host else {
                return Err(String::from(
                    "root=hostfs: needs a platform with host files (linuxu); use root=ramfs",
                ));
            };
            let r = uk_vfs::hostfs::mount_dir(h, dir.as_bytes())
                .map_err(|e| fmt!("cannot mount host directory {dir} as /: {e:?}"))?;
            if *dir == "/" {
                start_cwd = Some(h.initial_cwd().to_vec());
            }
            r
        }
        _ => uk_vfs::ramfs::RamFs::new().root(),
    };
    uk_vfs::set_root(root.clone());
    let archive: Option<Vec<u8>> = match (initrd_path, host) {
        (Some(p), Some(h)) => Some(
            read_host_file(h, p).map_err(|e| fmt!("cannot read initrd={p} from the host: {e:?}"))?,
        ),
        (Some(_), None) => {
            return Err(String::from(
                "initrd= reads a host file: this platform has none (the initrd comes from the boot loader)",
            ))
        }
        _ => None,
    };
    let archive = archive
        .as_deref()
        .or(initrd)
        .or_else(|| uk_plat::get().initrd());
    if let Some(a) = archive {
        if matches!(spec, RootSpec::HostFs(_)) {
            return Err(String::from(
                "an initrd needs a ramfs root: add root=ramfs (or drop root=hostfs:)",
            ));
        }
        let n = uk_vfs::cpio::unpack(&root, a).map_err(|e| match e {
            uk_vfs::cpio::UnpackError::Format(f) => fmt!("initrd: {f}"),
            uk_vfs::cpio::UnpackError::Fs { index, errno } => {
                fmt!("initrd: member {index} could not be created: {errno:?}")
            }
        })?;
        uk_log::info!("initrd: {n} files unpacked into /");
    }
    // /dev: a devfs over whatever the root has there.
    if root.lookup(b"dev").is_err() {
        let _ = root.mkdir(b"dev", 0o755);
    }
    let dev = uk_vfs::devfs::new().map_err(|e| fmt!("devfs: {e:?}"))?;
    match uk_vfs::mount(b"/dev", dev.root()) {
        Ok(()) => {}
        Err(e) => uk_log::warn!("no /dev in the root file system ({e:?}): devices unavailable"),
    }
    // /proc: a procfs over whatever the root has there (the host's /proc on hostfs).
    if root.lookup(b"proc").is_err() {
        let _ = root.mkdir(b"proc", 0o555);
    }
    let proc = super::proc::new().map_err(|e| fmt!("procfs: {e:?}"))?;
    match uk_vfs::mount(b"/proc", proc.root()) {
        Ok(()) => {
            let src = match &spec {
                RootSpec::HostFs(d) => fmt!("hostfs:{d}"),
                _ => String::from("rootfs"),
            };
            let ty = if matches!(spec, RootSpec::HostFs(_)) {
                "hostfs"
            } else {
                "ramfs"
            };
            super::proc::note_mount(src.as_bytes(), b"/", ty);
            super::proc::note_mount(b"devfs", b"/dev", "devfs");
            super::proc::note_mount(b"proc", b"/proc", "proc");
        }
        Err(e) => uk_log::warn!("no /proc in the root file system ({e:?}): procfs unavailable"),
    }
    if matches!(spec, RootSpec::Ram) && root.lookup(b"tmp").is_err() {
        let _ = root.mkdir(b"tmp", 0o1777);
    }
    let want = cwd.map(|s| s.as_bytes().to_vec()).or(start_cwd);
    let loc = match want {
        Some(p) => match uk_vfs::path::resolve(&Loc::at_root(root.clone()), &p, true) {
            Ok(r) if r.node.is_some() => r.loc().unwrap_or(Loc::at_root(root.clone())),
            _ => {
                uk_log::warn!(
                    "working directory {} does not exist in the image: starting in /",
                    core::str::from_utf8(&p).unwrap_or("?")
                );
                Loc::at_root(root.clone())
            }
        },
        None => Loc::at_root(root.clone()),
    };
    super::set_cwd(loc);
    Ok(())
}
