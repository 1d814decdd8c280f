//! `struct utsname` (uname).

use crate::assert_size;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Bytes of each utsname field, with the NUL.
pub const UTS_LEN: usize = 65;

#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Utsname {
    pub sysname: [u8; UTS_LEN],
    pub nodename: [u8; UTS_LEN],
    pub release: [u8; UTS_LEN],
    pub version: [u8; UTS_LEN],
    pub machine: [u8; UTS_LEN],
    pub domainname: [u8; UTS_LEN],
}
assert_size!(Utsname, 390);

/// A utsname field holding `s` (cut to 64 bytes), NUL-padded.
pub fn field(s: &[u8]) -> [u8; UTS_LEN] {
    let mut f = [0u8; UTS_LEN];
    let n = s.len().min(UTS_LEN - 1);
    f[..n].copy_from_slice(&s[..n]);
    f
}
