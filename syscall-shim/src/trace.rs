//! strace-like tracing of system calls (boot option `trace`, config `syscall.trace`,
//! `ukport run --trace`).
//!
//! Each call is printed once it returns, `name(args) = result`, with the arguments
//! decoded the way strace shows them for the calls a porter meets first (paths,
//! descriptors, buffers, flags); other calls show their arguments in hex. Strings and
//! buffers are read through the checked user-memory functions, so tracing a call with a
//! bad pointer shows the pointer, never faults.

use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};
use uk_posix::user;

static ON: AtomicBool = AtomicBool::new(false);

pub fn set(on: bool) {
    ON.store(on, Ordering::Relaxed);
}

#[inline]
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// How one argument is shown (each table row says it for its call; calls without one
/// print their arguments in hex).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// Signed decimal.
    Int,
    /// Unsigned hex.
    Hex,
    /// A file descriptor (AT_FDCWD shown by name).
    Fd,
    /// A NUL-terminated path.
    Path,
    /// A buffer whose length is the argument at the given index (shown after the call,
    /// so that reads show what was read).
    Buf(u8),
    /// open(2) flags.
    OFlags,
    /// mmap protection.
    Prot,
    /// mmap flags.
    MFlags,
    /// Octal mode.
    Mode,
    /// A signal number.
    Sig,
    /// A clock id.
    Clock,
}

struct Out(uk_log::LineBuf);

impl Out {
    fn s(&mut self, s: &str) {
        let _ = self.0.write_str(s);
    }
}

fn flags(o: &mut Out, v: usize, names: &[(usize, &str)], zero: &str) {
    let mut rest = v;
    let mut first = true;
    for &(bit, name) in names {
        if bit != 0 && rest & bit == bit {
            if !first {
                o.s("|");
            }
            o.s(name);
            rest &= !bit;
            first = false;
        }
    }
    if first && rest == 0 {
        o.s(zero);
    } else if rest != 0 {
        if !first {
            o.s("|");
        }
        let _ = write!(o.0, "{rest:#x}");
    }
}

fn quoted(o: &mut Out, b: &[u8], max: usize) {
    o.s("\"");
    for &c in b.iter().take(max) {
        match c {
            b'\n' => o.s("\\n"),
            b'\t' => o.s("\\t"),
            b'"' => o.s("\\\""),
            b'\\' => o.s("\\\\"),
            0x20..=0x7e => {
                let _ = o.0.write_char(c as char);
            }
            _ => {
                let _ = write!(o.0, "\\x{c:02x}");
            }
        }
    }
    o.s("\"");
    if b.len() > max {
        o.s("...");
    }
}

fn arg(o: &mut Out, k: Arg, v: usize, a: &crate::Args, ret: isize) {
    match k {
        Arg::Int => {
            let _ = write!(o.0, "{}", v as isize);
        }
        Arg::Hex => {
            let _ = write!(o.0, "{v:#x}");
        }
        Arg::Fd => {
            if v as i32 == -100 {
                o.s("AT_FDCWD");
            } else {
                let _ = write!(o.0, "{}", v as i32);
            }
        }
        Arg::Path => match user::cstr(v, 4096) {
            Ok(s) => quoted(o, &s, 256),
            Err(_) => {
                let _ = write!(o.0, "{v:#x}");
            }
        },
        Arg::Buf(i) => {
            // Show what was transferred: for a read, only after it returned.
            let len = if ret >= 0 {
                (ret as usize).min(a[i as usize])
            } else {
                0
            };
            // Up to one byte more than is shown, so that a longer buffer gets "...".
            let mut b = [0u8; 33];
            let k = len.min(b.len());
            match user::copy_in(v, &mut b[..k]) {
                Ok(()) if ret >= 0 => {
                    let (shown, more) = (&b[..k], len > k);
                    quoted(o, shown, if more { 32 } else { k });
                    if more && k <= 32 {
                        o.s("...");
                    }
                }
                _ => {
                    let _ = write!(o.0, "{v:#x}");
                }
            }
        }
        Arg::OFlags => {
            let acc = match v & 3 {
                0 => "O_RDONLY",
                1 => "O_WRONLY",
                2 => "O_RDWR",
                _ => "O_ACCMODE",
            };
            o.s(acc);
            if v & !3 != 0 {
                o.s("|");
                flags(
                    o,
                    v & !3,
                    &[
                        (0o100, "O_CREAT"),
                        (0o200, "O_EXCL"),
                        (0o400, "O_NOCTTY"),
                        (0o1000, "O_TRUNC"),
                        (0o2000, "O_APPEND"),
                        (0o4000, "O_NONBLOCK"),
                        (0o200000, "O_DIRECTORY"),
                        (0o400000, "O_NOFOLLOW"),
                        (0o2000000, "O_CLOEXEC"),
                        (0o10000000, "O_PATH"),
                        (0o20200000, "O_TMPFILE"),
                        (0o100000, "O_LARGEFILE"),
                    ],
                    "",
                );
            }
        }
        Arg::Prot => flags(
            o,
            v,
            &[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")],
            "PROT_NONE",
        ),
        Arg::MFlags => flags(
            o,
            v,
            &[
                (0x01, "MAP_SHARED"),
                (0x02, "MAP_PRIVATE"),
                (0x10, "MAP_FIXED"),
                (0x20, "MAP_ANONYMOUS"),
                (0x100, "MAP_GROWSDOWN"),
                (0x4000, "MAP_NORESERVE"),
                (0x8000, "MAP_POPULATE"),
                (0x20000, "MAP_STACK"),
                (0x100000, "MAP_FIXED_NOREPLACE"),
            ],
            "0",
        ),
        Arg::Mode => {
            let _ = write!(o.0, "{v:#o}");
        }
        Arg::Sig => match uk_abi::signal::SIGNAL_NAMES.get(v) {
            Some(n) => o.s(n),
            None => {
                let _ = write!(o.0, "SIGRT{}", v as isize - 32);
            }
        },
        Arg::Clock => {
            const C: [&str; 12] = [
                "CLOCK_REALTIME",
                "CLOCK_MONOTONIC",
                "CLOCK_PROCESS_CPUTIME_ID",
                "CLOCK_THREAD_CPUTIME_ID",
                "CLOCK_MONOTONIC_RAW",
                "CLOCK_REALTIME_COARSE",
                "CLOCK_MONOTONIC_COARSE",
                "CLOCK_BOOTTIME",
                "CLOCK_REALTIME_ALARM",
                "CLOCK_BOOTTIME_ALARM",
                "10",
                "CLOCK_TAI",
            ];
            match C.get(v) {
                Some(n) => o.s(n),
                None => {
                    let _ = write!(o.0, "{}", v as isize);
                }
            }
        }
    }
}

/// Format `name(args) = result` into a line.
pub fn format(n: usize, a: &crate::Args, ret: isize) -> uk_log::LineBuf {
    let mut o = Out(uk_log::LineBuf::new());
    o.s("trace: ");
    let tid = uk_sched::current_tid();
    if uk_sched::thread_count() > 1 {
        let _ = write!(o.0, "[tid {tid}] ");
    }
    let name = uk_abi::sysno::name(n);
    match name {
        Some(nm) => o.s(nm),
        None => {
            let _ = write!(o.0, "syscall_{n}");
        }
    }
    o.s("(");
    match crate::table::TRACE_ARGS.get(n).copied().flatten() {
        Some(kinds) => {
            for (i, k) in kinds.iter().enumerate() {
                if i > 0 {
                    o.s(", ");
                }
                arg(&mut o, *k, a[i], a, ret);
            }
        }
        None => {
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    o.s(", ");
                }
                let _ = write!(o.0, "{v:#x}");
            }
        }
    }
    o.s(") = ");
    if (-4095..0).contains(&ret) {
        let e = uk_abi::Errno(-ret as i32);
        let _ = write!(o.0, "-1 {e:?}");
    } else if name == Some("mmap") || name == Some("brk") {
        let _ = write!(o.0, "{ret:#x}");
    } else {
        let _ = write!(o.0, "{ret}");
    }
    o.0
}

/// Print one traced call on the kernel log.
pub fn print(n: usize, a: &crate::Args, ret: isize) {
    let line = format(n, a, ret);
    let s = core::str::from_utf8(line.as_bytes()).unwrap_or("trace: <unprintable>");
    uk_log::log(uk_log::Level::Error, format_args!("{s}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize, a: crate::Args, ret: isize) -> String {
        String::from_utf8(format(n, &a, ret).as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn decodes_common_calls() {
        crate::table::tests::setup();
        let v: &'static mut [u8] = Box::leak(b"/etc/hosts\0hello\n".to_vec().into_boxed_slice());
        let a = v.as_ptr() as usize;
        uk_posix::user::add_static_range(a, a + v.len(), true);
        let t = text(
            257,
            [(-100i64) as usize, a, 0o2000000 | 0o100 | 1, 0o644, 0, 0],
            3,
        );
        assert_eq!(
            t,
            "trace: openat(AT_FDCWD, \"/etc/hosts\", O_WRONLY|O_CREAT|O_CLOEXEC, 0o644) = 3"
        );
        let t = text(1, [1, a + 11, 6, 0, 0, 0], 6);
        assert_eq!(t, "trace: write(1, \"hello\\n\", 6) = 6");
        let t = text(0, [0, 0x10, 6, 0, 0, 0], -14);
        assert_eq!(t, "trace: read(0, 0x10, 6) = -1 EFAULT");
        let t = text(9, [0, 4096, 3, 0x22, usize::MAX, 0], 0x7f00_0000_0000);
        assert!(t.starts_with("trace: mmap(0x0, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0x0) = 0x7f"), "{t}");
        let t = text(999, [1, 2, 3, 4, 5, 6], -38);
        assert_eq!(
            t,
            "trace: syscall_999(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS"
        );
        // A bad path pointer prints as a pointer, no fault.
        let t = text(2, [0x20, 0, 0, 0, 0, 0], -14);
        assert_eq!(t, "trace: open(0x20, O_RDONLY, 0o0) = -1 EFAULT");
    }
}
