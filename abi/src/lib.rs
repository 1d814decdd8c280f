//! The Linux x86_64 ABI, each fact defined once: the one [`Errno`], system call numbers
//! ([`sysno`]), flag values grouped by the header Linux defines them in, and the records
//! that cross the system call boundary as `#[repr(C)]` plain-data structs.
//!
//! This crate sits at the bottom of the kernel's dependency graph and depends on nothing
//! of ukit's: arch, the platform contract, every platform, lib/, posix and the shim all
//! speak it. Records derive zerocopy's traits, so that they are copied from and to
//! program memory as bytes without hand-written offsets or transmutes (the checked
//! copies themselves live in posix's `user` module). Layouts are asserted at compile
//! time against the sizes Linux gives them.
#![cfg_attr(not(test), no_std)]

pub mod auxv;
pub mod ctl;
pub mod elf;
mod errno;
pub mod fcntl;
pub mod ioctl;
pub mod mman;
pub mod poll;
pub mod prctl;
pub mod random;
pub mod resource;
pub mod sched;
pub mod seccomp;
pub mod signal;
pub mod socket;
pub mod stat;
pub mod sysno;
pub mod time;
pub mod uio;
pub mod utsname;

pub use errno::{Errno, KResult};
pub use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

/// The page size on x86_64.
pub const PAGE_SIZE: usize = 4096;

/// Record traits every ABI struct derives: any bytes are a valid value (`FromBytes`), the
/// value is its bytes with no padding to leak (`IntoBytes`), and it can be viewed
/// through a shared reference (`Immutable`).
pub trait Record: FromBytes + IntoBytes + Immutable + Copy {}
impl<T: FromBytes + IntoBytes + Immutable + Copy> Record for T {}

/// Compile-time size check of an ABI record against the size Linux gives it.
macro_rules! assert_size {
    ($t:ty, $n:expr) => {
        const _: () = assert!(core::mem::size_of::<$t>() == $n);
    };
}
pub(crate) use assert_size;
