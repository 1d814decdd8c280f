//! The one table from system call number to handler (Linux x86_64 numbering).
//!
//! Each family file (one per call or small family, named after it) lists its own rows
//! in `ENTRIES`: `row(SYS_READ, sys_read).shows(&[Arg::Fd, Arg::Buf(2), Arg::Int])` says
//! everything about one call (its number by name from uk-abi, its handler, how the
//! tracer shows its arguments). The tables are assembled from the rows at compile time,
//! and a number claimed twice stops the build.

use crate::trace::Arg;
use crate::Handler;
use uk_abi::sysno::NR_MAX;

/// One row of the system call table.
#[derive(Clone, Copy)]
pub struct Row {
    pub nr: usize,
    pub handler: Handler,
    /// How `trace` shows the arguments; `None`: in hex.
    pub args: Option<&'static [Arg]>,
}

/// The row for system call `nr` served by `handler`.
pub const fn row(nr: usize, handler: Handler) -> Row {
    Row {
        nr,
        handler,
        args: None,
    }
}

impl Row {
    /// Decode the arguments for the tracer this way.
    pub const fn shows(mut self, args: &'static [Arg]) -> Row {
        self.args = Some(args);
        self
    }
}

/// Every family's rows. Add a family here when you add its file.
const FAMILIES: &[&[Row]] = &[
    crate::arch_prctl::ENTRIES,
    crate::clock::ENTRIES,
    crate::clone::ENTRIES,
    crate::dirs::ENTRIES,
    crate::epoll::ENTRIES,
    crate::eventfd::ENTRIES,
    crate::fattr::ENTRIES,
    crate::fcntl::ENTRIES,
    crate::futex::ENTRIES,
    crate::getrandom::ENTRIES,
    crate::ids::ENTRIES,
    crate::ioctl::ENTRIES,
    crate::itimer::ENTRIES,
    crate::kill::ENTRIES,
    crate::links::ENTRIES,
    crate::mman::ENTRIES,
    crate::memfd::ENTRIES,
    crate::mknod::ENTRIES,
    crate::msync::ENTRIES,
    crate::open::ENTRIES,
    crate::pipe::ENTRIES,
    crate::poll::ENTRIES,
    crate::prctl::ENTRIES,
    crate::prio::ENTRIES,
    crate::read_write::ENTRIES,
    crate::rlimit::ENTRIES,
    crate::select::ENTRIES,
    crate::sendfile::ENTRIES,
    crate::rusage::ENTRIES,
    crate::signal::ENTRIES,
    crate::sleep::ENTRIES,
    crate::space::ENTRIES,
    crate::splice::ENTRIES,
    crate::socket::ENTRIES,
    crate::stat::ENTRIES,
    crate::sysinfo::ENTRIES,
    crate::timer::ENTRIES,
    crate::timerfd::ENTRIES,
    crate::uname::ENTRIES,
];

const fn build() -> [Option<Row>; NR_MAX] {
    let mut t: [Option<Row>; NR_MAX] = [None; NR_MAX];
    let mut f = 0;
    while f < FAMILIES.len() {
        let rows = FAMILIES[f];
        let mut i = 0;
        while i < rows.len() {
            let r = rows[i];
            assert!(r.nr < NR_MAX, "system call number out of range");
            assert!(
                t[r.nr].is_none(),
                "system call number claimed by two handlers"
            );
            t[r.nr] = Some(r);
            i += 1;
        }
        f += 1;
    }
    t
}

const ROWS: [Option<Row>; NR_MAX] = build();

const fn handlers() -> [Option<Handler>; NR_MAX] {
    let mut t: [Option<Handler>; NR_MAX] = [None; NR_MAX];
    let mut i = 0;
    while i < NR_MAX {
        if let Some(r) = ROWS[i] {
            t[i] = Some(r.handler);
        }
        i += 1;
    }
    t
}

const fn trace_args() -> [Option<&'static [Arg]>; NR_MAX] {
    let mut t: [Option<&'static [Arg]>; NR_MAX] = [None; NR_MAX];
    let mut i = 0;
    while i < NR_MAX {
        if let Some(r) = ROWS[i] {
            t[i] = r.args;
        }
        i += 1;
    }
    t
}

/// `TABLE[n]` serves system call `n`; `None` is ENOSYS (logged once by name).
pub static TABLE: [Option<Handler>; NR_MAX] = handlers();

/// `TRACE_ARGS[n]`: how the tracer shows the arguments of system call `n`.
pub static TRACE_ARGS: [Option<&'static [Arg]>; NR_MAX] = trace_args();

#[cfg(test)]
pub(crate) mod tests {
    pub(crate) fn setup() {
        uk_posix::testplat::setup();
    }

    /// A zeroed buffer of `len` bytes that pointer checks accept as program memory
    /// (leaked: program memory outlives the test).
    pub(crate) fn buf(len: usize) -> usize {
        let v: &'static mut [u8] = Box::leak(vec![0u8; len].into_boxed_slice());
        let a = v.as_ptr() as usize;
        uk_posix::user::add_static_range(a, a + len, true);
        a
    }

    #[test]
    fn handlers_match_names() {
        use uk_abi::sysno::name;
        let expect = [
            (0, "read"),
            (1, "write"),
            (9, "mmap"),
            (12, "brk"),
            (158, "arch_prctl"),
            (218, "set_tid_address"),
            (302, "prlimit64"),
            (318, "getrandom"),
        ];
        for (n, nm) in expect {
            assert_eq!(name(n), Some(nm));
            assert!(super::TABLE[n].is_some(), "{nm} has a handler");
        }
        // Every handler sits at a number Linux defines.
        for (n, h) in super::TABLE.iter().enumerate() {
            if h.is_some() {
                assert!(name(n).is_some(), "handler at undefined number {n}");
            }
        }
    }
}
