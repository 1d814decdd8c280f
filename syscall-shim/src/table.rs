//! The one table from system call number to handler (Linux x86_64 numbering).
//!
//! Each family file (one per call or small family, named after it) lists its own rows
//! in `ENTRIES`; the table is assembled from them at compile time, and a number
//! claimed twice stops the build.

use crate::names::NR_MAX;
use crate::Handler;

/// Every family's rows. Add a family here when you add its file.
const FAMILIES: &[&[(usize, Handler)]] = &[
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
    crate::socket::ENTRIES,
    crate::stat::ENTRIES,
    crate::sysinfo::ENTRIES,
    crate::timerfd::ENTRIES,
    crate::uname::ENTRIES,
];

const fn build() -> [Option<Handler>; NR_MAX] {
    let mut t: [Option<Handler>; NR_MAX] = [None; NR_MAX];
    let mut f = 0;
    while f < FAMILIES.len() {
        let rows = FAMILIES[f];
        let mut i = 0;
        while i < rows.len() {
            let (nr, h) = rows[i];
            assert!(nr < NR_MAX, "system call number out of range");
            assert!(
                t[nr].is_none(),
                "system call number claimed by two handlers"
            );
            t[nr] = Some(h);
            i += 1;
        }
        f += 1;
    }
    t
}

/// `TABLE[n]` serves system call `n`; `None` is ENOSYS (logged once by name).
pub static TABLE: [Option<Handler>; NR_MAX] = build();

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
        use crate::names::name;
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
