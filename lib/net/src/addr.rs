//! Socket addresses <-> lwIP's `ip_addr_t`.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use uk_lwip_sys as sys;

const TYPE_V4: u8 = sys::lwip_ip_addr_type_IPADDR_TYPE_V4 as u8;
const TYPE_V6: u8 = sys::lwip_ip_addr_type_IPADDR_TYPE_V6 as u8;

/// An lwIP address for `ip`. lwIP stores address words in network byte order.
pub(crate) fn to_lwip(ip: IpAddr) -> sys::ip_addr_t {
    let mut a = sys::ip_addr_t::default();
    match ip {
        IpAddr::V4(v4) => {
            a.u_addr.ip4 = sys::ip4_addr_t {
                addr: u32::from_ne_bytes(v4.octets()),
            };
            a.type_ = TYPE_V4;
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            let mut w = [0u32; 4];
            for (i, x) in w.iter_mut().enumerate() {
                *x = u32::from_ne_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]]);
            }
            a.u_addr.ip6 = sys::ip6_addr_t { addr: w, zone: 0 };
            a.type_ = TYPE_V6;
        }
    }
    a
}

/// The address in an lwIP `ip_addr_t`.
pub(crate) fn from_lwip(a: &sys::ip_addr_t) -> IpAddr {
    if a.type_ == TYPE_V6 {
        // SAFETY: type_ says the union holds the IPv6 member.
        let w = unsafe { a.u_addr.ip6.addr };
        let mut o = [0u8; 16];
        for i in 0..4 {
            o[4 * i..4 * i + 4].copy_from_slice(&w[i].to_ne_bytes());
        }
        IpAddr::V6(Ipv6Addr::from(o))
    } else {
        // SAFETY: every other type (V4; ANY only for pcbs, whose v4 member is valid).
        let w = unsafe { a.u_addr.ip4.addr };
        IpAddr::V4(Ipv4Addr::from(w.to_ne_bytes()))
    }
}

/// An IPv4 address in lwIP's `ip4_addr_t` form.
pub(crate) fn ip4(v4: Ipv4Addr) -> sys::ip4_addr_t {
    sys::ip4_addr_t {
        addr: u32::from_ne_bytes(v4.octets()),
    }
}

pub(crate) fn sockaddr(a: &sys::ip_addr_t, port: u16) -> SocketAddr {
    SocketAddr::new(from_lwip(a), port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_v4_v6() {
        for ip in [
            IpAddr::V4(Ipv4Addr::new(10, 0, 2, 15)),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V6("fe80::1:2:3:4".parse().unwrap()),
        ] {
            assert_eq!(from_lwip(&to_lwip(ip)), ip);
        }
        // Network byte order in memory: 10.0.2.15 is 0a 00 02 0f.
        let a = to_lwip(IpAddr::V4(Ipv4Addr::new(10, 0, 2, 15)));
        // SAFETY: a V4 address.
        assert_eq!(unsafe { a.u_addr.ip4.addr }.to_ne_bytes(), [10, 0, 2, 15]);
    }
}
