//! Boot options of the network stack: `ip=ADDR/PREFIX` or `ip=dhcp`, `gw=ADDR`, and
//! `net.selftest`. They configure the first network device; loopback needs none.

use core::net::Ipv4Addr;

/// What the boot options asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetConfig {
    /// Static IPv4 address and prefix length of the first device.
    pub ip: Option<(Ipv4Addr, u8)>,
    /// Use DHCP on the first device instead of a static address.
    pub dhcp: bool,
    /// Default gateway.
    pub gw: Option<Ipv4Addr>,
    /// Run the loopback self-test at boot and exit with its result.
    pub selftest: bool,
}

static CONFIG: spin::Mutex<NetConfig> = spin::Mutex::new(NetConfig {
    ip: None,
    dhcp: false,
    gw: None,
    selftest: false,
});

/// The options seen so far.
pub fn current() -> NetConfig {
    *CONFIG.lock()
}

fn parse_ip_prefix(v: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, p) = v.split_once('/').unwrap_or((v, "24"));
    let ip: Ipv4Addr = a.parse().ok()?;
    let p: u8 = p.parse().ok()?;
    (p <= 32).then_some((ip, p))
}

/// Applies one boot option. `Ok(false)`: not a network option (someone else's);
/// `Err`: a network option with a bad value (the message says what is expected).
pub fn boot_option(key: &str, value: &str) -> Result<bool, &'static str> {
    let mut c = CONFIG.lock();
    match key {
        "ip" if value == "dhcp" => {
            c.dhcp = true;
            c.ip = None;
        }
        "ip" => {
            c.ip = Some(
                parse_ip_prefix(value)
                    .ok_or("ip= wants ADDR/PREFIX (ip=10.0.2.15/24) or ip=dhcp")?,
            );
            c.dhcp = false;
        }
        "gw" => c.gw = Some(value.parse().map_err(|_| "gw= wants an IPv4 address")?),
        // The platform opened the device (net=tap:... / net=passt:...) already.
        "net" => {}
        "net.selftest" if matches!(value, "" | "1" | "on") => c.selftest = true,
        "net.selftest" => return Err("net.selftest takes no value"),
        _ => return Ok(false),
    }
    Ok(true)
}

/// The netmask of a prefix length.
pub(crate) fn netmask(prefix: u8) -> Ipv4Addr {
    let bits = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix.min(32) as u32)
    };
    Ipv4Addr::from(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse() {
        assert_eq!(boot_option("mem", "1M"), Ok(false));
        assert_eq!(boot_option("ip", "10.0.2.15/24"), Ok(true));
        assert_eq!(current().ip, Some((Ipv4Addr::new(10, 0, 2, 15), 24)));
        assert_eq!(boot_option("gw", "10.0.2.2"), Ok(true));
        assert_eq!(current().gw, Some(Ipv4Addr::new(10, 0, 2, 2)));
        assert!(boot_option("ip", "10.0.2.300/24").is_err());
        assert!(boot_option("ip", "10.0.2.3/33").is_err());
        assert!(boot_option("gw", "x").is_err());
        assert_eq!(boot_option("ip", "dhcp"), Ok(true));
        assert!(current().dhcp && current().ip.is_none());
        assert_eq!(netmask(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(netmask(0), Ipv4Addr::new(0, 0, 0, 0));
        assert_eq!(netmask(32), Ipv4Addr::new(255, 255, 255, 255));
    }
}
