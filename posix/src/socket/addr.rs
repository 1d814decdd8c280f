//! Socket addresses: the Linux `sockaddr_in`, `sockaddr_in6` and `sockaddr_un` byte
//! layouts <-> typed addresses. Parsing lives here (not in syscall-shim) because every
//! socket call shares it and the unit tests exercise it without program memory.

use uk_abi::socket::{
    SockaddrIn, SockaddrIn6, SockaddrUn, AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC, SUN_PATH_OFFSET,
};
use uk_abi::{FromBytes, FromZeros, IntoBytes};

use crate::{Errno, KResult};
use alloc::vec::Vec;
use core::mem::size_of;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// The shorter `sockaddr_in6` of RFC 2133 (no scope id), accepted on input.
const SOCKADDR_IN6_OLD_LEN: usize = 24;

/// An AF_UNIX name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum UnixAddr {
    /// No name (an unbound socket, or a socketpair end).
    Unnamed,
    /// A filesystem name as the program gave it (relative names are resolved by the
    /// name table, see [`super::unix`]).
    Path(Vec<u8>),
    /// An abstract name: the bytes after the leading NUL, NULs included.
    Abstract(Vec<u8>),
}

/// A decoded socket address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SockAddr {
    Inet(SocketAddr),
    Unix(UnixAddr),
    /// AF_UNSPEC (connect: dissolve a datagram association).
    Unspec,
}

fn family(b: &[u8]) -> KResult<u16> {
    if b.len() < 2 {
        return Err(Errno::EINVAL);
    }
    Ok(u16::from_ne_bytes([b[0], b[1]]))
}

/// Decodes the `len` bytes a program passed as a `struct sockaddr *`.
pub fn parse(b: &[u8]) -> KResult<SockAddr> {
    match family(b)? {
        AF_INET => {
            let (sa, _) = SockaddrIn::read_from_prefix(b).map_err(|_| Errno::EINVAL)?;
            let port = u16::from_be_bytes(sa.sin_port);
            Ok(SockAddr::Inet(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(sa.sin_addr),
                port,
            ))))
        }
        AF_INET6 => {
            if b.len() < SOCKADDR_IN6_OLD_LEN {
                return Err(Errno::EINVAL);
            }
            // The old, shorter form has no scope id: it reads as 0.
            let mut sa = SockaddrIn6::new_zeroed();
            let n = b.len().min(size_of::<SockaddrIn6>());
            sa.as_mut_bytes()[..n].copy_from_slice(&b[..n]);
            Ok(SockAddr::Inet(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sa.sin6_addr),
                u16::from_be_bytes(sa.sin6_port),
                u32::from_be_bytes(sa.sin6_flowinfo),
                sa.sin6_scope_id,
            ))))
        }
        AF_UNIX => {
            if b.len() > size_of::<SockaddrUn>() {
                return Err(Errno::EINVAL);
            }
            let path = &b[SUN_PATH_OFFSET..];
            if path.is_empty() {
                return Ok(SockAddr::Unix(UnixAddr::Unnamed));
            }
            if path[0] == 0 {
                return Ok(SockAddr::Unix(UnixAddr::Abstract(path[1..].to_vec())));
            }
            let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
            Ok(SockAddr::Unix(UnixAddr::Path(path[..end].to_vec())))
        }
        AF_UNSPEC => Ok(SockAddr::Unspec),
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// Encodes `a` as the kernel reports it (getsockname, accept, recvfrom). An IPv6
/// socket (`v6`) reports IPv4 peers as `::ffff:a.b.c.d` and an unbound IPv4 wildcard as
/// `::`.
pub fn encode(a: &SockAddr, v6: bool) -> Vec<u8> {
    match a {
        SockAddr::Inet(sa) => match (sa, v6) {
            (SocketAddr::V4(s), false) => SockaddrIn {
                sin_family: AF_INET,
                sin_port: s.port().to_be_bytes(),
                sin_addr: s.ip().octets(),
                sin_zero: [0; 8],
            }
            .as_bytes()
            .to_vec(),
            (SocketAddr::V4(s), true) => {
                let ip = if s.ip().is_unspecified() {
                    Ipv6Addr::UNSPECIFIED
                } else {
                    s.ip().to_ipv6_mapped()
                };
                encode6(&SocketAddrV6::new(ip, s.port(), 0, 0))
            }
            (SocketAddr::V6(s), _) => encode6(s),
        },
        SockAddr::Unix(u) => {
            let mut b = Vec::with_capacity(size_of::<SockaddrUn>());
            b.extend_from_slice(&AF_UNIX.to_ne_bytes());
            match u {
                UnixAddr::Unnamed => {}
                UnixAddr::Path(p) => {
                    b.extend_from_slice(p);
                    b.push(0);
                }
                UnixAddr::Abstract(n) => {
                    b.push(0);
                    b.extend_from_slice(n);
                }
            }
            b
        }
        SockAddr::Unspec => AF_UNSPEC.to_ne_bytes().to_vec(),
    }
}

fn encode6(s: &SocketAddrV6) -> Vec<u8> {
    SockaddrIn6 {
        sin6_family: AF_INET6,
        sin6_port: s.port().to_be_bytes(),
        sin6_flowinfo: s.flowinfo().to_be_bytes(),
        sin6_addr: s.ip().octets(),
        sin6_scope_id: s.scope_id(),
    }
    .as_bytes()
    .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_round_trip() {
        let a = SockAddr::Inet("127.0.0.1:8080".parse().unwrap());
        let b = encode(&a, false);
        assert_eq!(b.len(), 16);
        assert_eq!(&b[2..4], &[0x1f, 0x90]);
        assert_eq!(parse(&b).unwrap(), a);
        assert_eq!(parse(&b[..15]), Err(Errno::EINVAL));
    }

    #[test]
    fn v4_on_v6_socket_is_mapped() {
        let a = SockAddr::Inet("10.0.0.1:80".parse().unwrap());
        let b = encode(&a, true);
        assert_eq!(b.len(), 28);
        let SockAddr::Inet(SocketAddr::V6(s)) = parse(&b).unwrap() else {
            panic!("not v6")
        };
        assert_eq!(s.ip().to_ipv4_mapped(), Some(Ipv4Addr::new(10, 0, 0, 1)));
        let any = encode(&SockAddr::Inet("0.0.0.0:0".parse().unwrap()), true);
        assert_eq!(&any[8..24], &[0u8; 16]);
    }

    #[test]
    fn unix_names() {
        let mut raw = AF_UNIX.to_ne_bytes().to_vec();
        raw.extend_from_slice(b"/tmp/s\0junk");
        assert_eq!(
            parse(&raw).unwrap(),
            SockAddr::Unix(UnixAddr::Path(b"/tmp/s".to_vec()))
        );
        let mut abs = AF_UNIX.to_ne_bytes().to_vec();
        abs.extend_from_slice(b"\0a\0b");
        let a = parse(&abs).unwrap();
        assert_eq!(a, SockAddr::Unix(UnixAddr::Abstract(b"a\0b".to_vec())));
        assert_eq!(encode(&a, false), abs);
        assert_eq!(
            parse(&AF_UNIX.to_ne_bytes()).unwrap(),
            SockAddr::Unix(UnixAddr::Unnamed)
        );
        assert_eq!(parse(&[0u8; 111][..]), Ok(SockAddr::Unspec));
        let mut long = AF_UNIX.to_ne_bytes().to_vec();
        long.extend_from_slice(&[b'a'; 109]);
        assert_eq!(parse(&long), Err(Errno::EINVAL));
        assert_eq!(parse(&[0x99, 0, 0, 0]), Err(Errno::EAFNOSUPPORT));
        assert_eq!(parse(&[1]), Err(Errno::EINVAL));
    }
}
