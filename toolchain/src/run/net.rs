//! Networking for `ukport run`: port forwards (`-p HOST:GUEST`), the network a linuxu
//! image gets (`--net passt|tap:IF|none`) and the user-mode network daemon (passt) that
//! `ukport run` starts and stops itself.
//!
//! passt (Debian package `passt`) is the rootless default: it speaks the qemu "stream"
//! frame protocol on a UNIX socket (4-byte big-endian length + Ethernet frame), which
//! the linuxu netdev opens at boot (`net=passt:<socket>`), forwards host ports bound to
//! 127.0.0.1 into the image and carries the image's outbound connections through host
//! sockets. The image gets fixed, slirp-like addresses (10.0.2.15/24, gateway 10.0.2.2)
//! that passt is told about (`-a/-n/-g`), so nothing depends on the host's own address
//! and no DHCP round trip delays the boot.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use super::supervise::{send_signal, Companion, SIGTERM};

/// The image's address on the passt network.
pub const GUEST_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
/// Prefix length of [`GUEST_ADDR`]'s network.
pub const GUEST_PREFIX: u8 = 24;
/// The gateway passt pretends to be (connections to it reach the host).
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

/// How long passt may take to create its socket before `ukport run` gives up.
const PASST_START_TIMEOUT: Duration = Duration::from_secs(10);

/// The protocol of a port forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Proto {
    #[default]
    Tcp,
    Udp,
}

/// One port forward: connections (TCP) or datagrams (UDP) to 127.0.0.1:`host` reach the
/// image's `guest` port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct PortForward {
    pub host: u16,
    pub guest: u16,
    pub proto: Proto,
}

impl FromStr for PortForward {
    type Err = anyhow::Error;

    /// `HOST:GUEST` or `PORT` (the same number on both sides), ports 1-65535, with
    /// `/udp` (or `/tcp`, the default) after it as docker writes it.
    fn from_str(spec: &str) -> Result<Self> {
        let (s, proto) = match spec.rsplit_once('/') {
            Some((s, "tcp")) => (s, Proto::Tcp),
            Some((s, "udp")) => (s, Proto::Udp),
            Some((_, other)) => bail!(
                "port forward `{spec}`: unknown protocol `{other}` (tcp or udp, e.g. 5353:53/udp)"
            ),
            None => (spec, Proto::Tcp),
        };
        let port = |p: &str, side: &str| -> Result<u16> {
            let n: u32 = p.trim().parse().map_err(|_| {
                anyhow!(
                    "port forward `{s}`: {side} port `{p}` is not a number \
                     (expected HOST_PORT:GUEST_PORT, e.g. 8080:80)"
                )
            })?;
            match u16::try_from(n) {
                Ok(n) if n > 0 => Ok(n),
                _ => bail!("port forward `{s}`: {side} port {n} is out of range (1-65535)"),
            }
        };
        let (host, guest) = match s.split_once(':') {
            Some((h, g)) => (port(h, "host")?, port(g, "guest")?),
            None => {
                let p = port(s, "host")?;
                (p, p)
            }
        };
        Ok(PortForward { host, guest, proto })
    }
}

impl fmt::Display for PortForward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.guest)?;
        if self.proto == Proto::Udp {
            f.write_str("/udp")?;
        }
        Ok(())
    }
}

/// Parses every spec, rejecting a host port given twice (the second could never bind).
pub fn parse_ports<S: AsRef<str>>(specs: &[S]) -> Result<Vec<PortForward>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for s in specs {
        let p: PortForward = s.as_ref().parse()?;
        if !seen.insert((p.host, p.proto)) {
            bail!(
                "host port {} is forwarded twice; each -p needs its own host port",
                p.host
            );
        }
        out.push(p);
    }
    Ok(out)
}

/// Fails with a clear message when a host port cannot be bound on 127.0.0.1: passt would
/// otherwise start and the forward would silently not exist.
pub fn check_host_ports_free(ports: &[PortForward]) -> Result<()> {
    for p in ports {
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, p.host);
        let bound = match p.proto {
            Proto::Tcp => TcpListener::bind(addr).map(drop),
            Proto::Udp => std::net::UdpSocket::bind(addr).map(drop),
        };
        match bound {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
                "host port {} is busy (something already listens on 127.0.0.1:{}); \
                 pick a free one, e.g. -p {}:{}",
                p.host,
                p.host,
                p.host.wrapping_add(1).max(1024),
                p.guest
            ),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => bail!(
                "host port {} needs privileges to bind ({e}); use a port >= 1024, e.g. -p 8080:{}",
                p.host,
                p.guest
            ),
            Err(e) => bail!("cannot bind 127.0.0.1:{} to check it is free: {e}", p.host),
        }
    }
    Ok(())
}

/// The network a linuxu image gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetMode {
    /// User-mode networking through passt (rootless, port forwards on 127.0.0.1).
    Passt,
    /// A host tap device (needs root or CAP_NET_ADMIN to create it; see docs/net.md).
    Tap(String),
    /// No network device (loopback only, when the kernel has networking).
    None,
}

impl FromStr for NetMode {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "passt" | "user" => Ok(NetMode::Passt),
            "none" => Ok(NetMode::None),
            _ => match s.strip_prefix("tap:") {
                // Linux interface names: 1-15 bytes, no '/', whitespace or ':'.
                Some(name)
                    if !name.is_empty()
                        && name.len() <= 15
                        && !name.contains(['/', ':'])
                        && !name.chars().any(char::is_whitespace) =>
                {
                    Ok(NetMode::Tap(name.to_string()))
                }
                Some(name) => bail!(
                    "--net tap:{name}: `{name}` is not a valid interface name (1-15 \
                     characters, no '/', ':' or spaces)"
                ),
                None => bail!("--net {s}: expected passt (or user), tap:IFNAME or none"),
            },
        }
    }
}

/// The Debian package that provides passt.
pub const PASST_PACKAGE: &str = "passt";

/// Where passt is installed, or an error that says how to get it.
pub fn find_passt() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|d| d.join("passt"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!(
                "passt (user-mode networking) is not installed; install the Debian package \
                 `{PASST_PACKAGE}` (apt-get install {PASST_PACKAGE}), or run with --net none \
                 or --net tap:IFNAME"
            )
        })
}

/// The passt command line for `socket` and `ports`: foreground, log to stderr, fixed
/// addresses for the image, TCP forwards bound to the host's loopback only.
pub fn passt_args(socket: &Path, ports: &[PortForward]) -> Vec<String> {
    let mut a = vec![
        "--foreground".to_string(),
        "--stderr".to_string(),
        "--socket".to_string(),
        socket.display().to_string(),
        "--address".to_string(),
        GUEST_ADDR.to_string(),
        "--netmask".to_string(),
        GUEST_PREFIX.to_string(),
        "--gateway".to_string(),
        GATEWAY.to_string(),
        // IPv4 only: the image is configured for IPv4 (ip=/gw=), and without a host IPv6
        // route passt would warn on every start.
        "--ipv4-only".to_string(),
        // Quit once the image's connection ends, so passt never outlives its image even
        // when ukport itself is killed: the image dies with ukport (a parent-death
        // SIGKILL), which closes the connection. passt run as root drops privileges,
        // which clears its own parent-death signal, so that alone cannot be relied on.
        "--one-off".to_string(),
    ];
    for p in ports {
        a.push(match p.proto {
            Proto::Tcp => "-t".to_string(),
            Proto::Udp => "-u".to_string(),
        });
        a.push(format!("127.0.0.1/{}:{}", p.host, p.guest));
    }
    a
}

/// Boot options that give the image the fixed user-mode address and gateway (passt's,
/// and QEMU's user-mode network uses the same).
pub fn guest_address_options() -> [String; 2] {
    [
        format!("ip={GUEST_ADDR}/{GUEST_PREFIX}"),
        format!("gw={GATEWAY}"),
    ]
}

/// Boot options (`UKIT_OPTS` words) that attach the image to the passt at `socket`.
pub fn passt_boot_options(socket: &Path) -> Vec<String> {
    let mut opts = vec![format!("net=passt:{}", socket.display())];
    opts.extend(guest_address_options());
    opts
}

/// A running passt, stopped (by its PID) when dropped.
pub struct Passt {
    child: Option<Child>,
    socket: PathBuf,
    log: PathBuf,
    /// Holds the socket and the log; removed after passt has stopped.
    _dir: tempfile::TempDir,
}

impl Passt {
    /// Starts passt with `ports` forwarded and waits until its socket listens.
    pub fn start(ports: &[PortForward]) -> Result<Passt> {
        let exe = find_passt()?;
        let dir = tempfile::Builder::new()
            .prefix("ukit-passt.")
            .tempdir()
            .context("cannot create a folder for passt's socket")?;
        // passt run as root drops to `nobody` before it creates its socket, so the folder
        // must be enterable and writable by that user. Its name is random (mkdtemp).
        if is_root() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777))
                .context("cannot open passt's socket folder to the user passt runs as")?;
        }
        let socket = dir.path().join("passt.socket");
        let log = dir.path().join("passt.log");
        let logf = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut cmd = Command::new(&exe);
        cmd.args(passt_args(&socket, ports))
            .stdin(Stdio::null())
            .stdout(logf.try_clone()?)
            .stderr(logf);
        // Its own process group: a Ctrl-C on the terminal is for the image; passt is
        // stopped by ukport after the image has exited. Dying with ukport covers a
        // passt that keeps its credentials (ukport not run as root) even before the
        // image connects; otherwise --one-off ends it with the image.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        super::supervise::die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let mut p = Passt {
            child: Some(child),
            socket,
            log,
            _dir: dir,
        };
        p.wait_listening()?;
        Ok(p)
    }

    /// The UNIX socket the image connects to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// passt's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whatever passt has logged so far (for error messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log)
            .map(|s| {
                s.lines()
                    .filter(|l| !l.starts_with("Failed to send") && !l.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// Waits until the socket is listening (not just bound: passt binds, logs, then
    /// listens), failing early when passt exits.
    fn wait_listening(&mut self) -> Result<()> {
        let deadline = Instant::now() + PASST_START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    bail!(
                        "passt exited during start-up ({status}); its log:\n{}",
                        self.log_text()
                    );
                }
            }
            if unix_socket_listening(&self.socket) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let log = self.log_text();
                self.stop();
                bail!(
                    "passt did not create {} within {PASST_START_TIMEOUT:?}; its log:\n{log}",
                    self.socket.display()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops passt (SIGTERM to its PID, SIGKILL after a second) and reaps it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        send_signal(child.id(), SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// True while passt runs.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

impl Companion for Passt {
    fn lost(&mut self) -> Option<String> {
        (!self.is_running()).then(|| {
            format!(
                "passt stopped while the image runs; the network is gone. passt's log:\n{}",
                self.log_text()
            )
        })
    }

    fn stop(&mut self) {
        Passt::stop(self);
    }
}

impl Drop for Passt {
    fn drop(&mut self) {
        self.stop();
    }
}

/// True when a listening UNIX socket is bound at `path`, read from /proc/net/unix
/// (flag `__SO_ACCEPTCON` = 0x10000) so that checking does not take passt's one client
/// slot. Without /proc, the socket file's existence has to do.
fn unix_socket_listening(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let is_socket = std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket());
    if !is_socket {
        return false;
    }
    let Ok(table) = std::fs::read_to_string("/proc/net/unix") else {
        return true;
    };
    let want = path.to_string_lossy();
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 8
            && f[7] == want
            && u32::from_str_radix(f[3], 16).is_ok_and(|flags| flags & 0x10000 != 0)
    })
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs_parse_and_bad_ones_say_why() {
        assert_eq!(
            "8080:80".parse::<PortForward>().unwrap(),
            PortForward {
                host: 8080,
                guest: 80,
                proto: Proto::Tcp
            }
        );
        assert_eq!(
            "443".parse::<PortForward>().unwrap(),
            PortForward {
                host: 443,
                guest: 443,
                proto: Proto::Tcp
            }
        );
        let udp: PortForward = "5353:53/udp".parse().unwrap();
        assert_eq!((udp.host, udp.guest, udp.proto), (5353, 53, Proto::Udp));
        assert_eq!(udp.to_string(), "5353:53/udp");
        assert_eq!(
            "80/tcp".parse::<PortForward>().unwrap().to_string(),
            "80:80"
        );
        let e = "53/sctp".parse::<PortForward>().unwrap_err().to_string();
        assert!(e.contains("unknown protocol `sctp`"), "{e}");
        assert_eq!(parse_ports(&["53:53", "53:53/udp"]).unwrap().len(), 2);
        let e = "8080:http".parse::<PortForward>().unwrap_err().to_string();
        assert!(e.contains("guest port `http` is not a number"), "{e}");
        let e = "70000:80".parse::<PortForward>().unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
        let e = "0:80".parse::<PortForward>().unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
        let e = "8080:".parse::<PortForward>().unwrap_err().to_string();
        assert!(e.contains("guest port"), "{e}");
        let e = "a:b:c".parse::<PortForward>().unwrap_err().to_string();
        assert!(e.contains("HOST_PORT:GUEST_PORT"), "{e}");
        let e = parse_ports(&["8080:80", "8080:81"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("forwarded twice"), "{e}");
        assert_eq!(parse_ports(&["1:2", "3:4"]).unwrap().len(), 2);
    }

    #[test]
    fn net_modes_parse() {
        assert_eq!("passt".parse::<NetMode>().unwrap(), NetMode::Passt);
        assert_eq!("user".parse::<NetMode>().unwrap(), NetMode::Passt);
        assert_eq!("none".parse::<NetMode>().unwrap(), NetMode::None);
        assert_eq!(
            "tap:uktap0".parse::<NetMode>().unwrap(),
            NetMode::Tap("uktap0".into())
        );
        for bad in ["tap:", "tap:a/b", "tap:0123456789abcdef", "slirp"] {
            assert!(bad.parse::<NetMode>().is_err(), "{bad}");
        }
    }

    #[test]
    fn busy_host_port_is_reported() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let e = check_host_ports_free(&[PortForward {
            host: port,
            guest: 80,
            ..Default::default()
        }])
        .unwrap_err()
        .to_string();
        assert!(e.contains(&format!("host port {port} is busy")), "{e}");
        drop(l);
        check_host_ports_free(&[PortForward {
            host: port,
            guest: 80,
            ..Default::default()
        }])
        .unwrap();
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let uport = u.local_addr().unwrap().port();
        let fw = PortForward {
            host: uport,
            guest: 53,
            proto: Proto::Udp,
        };
        let e = check_host_ports_free(&[fw]).unwrap_err().to_string();
        assert!(e.contains("is busy"), "{e}");
    }

    #[test]
    fn passt_command_binds_loopback_only() {
        let a = passt_args(
            Path::new("/tmp/x/s"),
            &[
                PortForward {
                    host: 8080,
                    guest: 80,
                    proto: Proto::Tcp,
                },
                PortForward {
                    host: 5353,
                    guest: 53,
                    proto: Proto::Udp,
                },
            ],
        );
        let t = a.iter().position(|x| x == "-t").unwrap();
        assert_eq!(a[t + 1], "127.0.0.1/8080:80");
        let u = a.iter().position(|x| x == "-u").unwrap();
        assert_eq!(a[u + 1], "127.0.0.1/5353:53");
        assert!(a.contains(&"--foreground".to_string()));
        let o = passt_boot_options(Path::new("/tmp/x/s"));
        assert_eq!(o, ["net=passt:/tmp/x/s", "ip=10.0.2.15/24", "gw=10.0.2.2"]);
    }

    /// Starts the real passt (installed on the CI host) with a forward and checks that
    /// the host port is bound on 127.0.0.1 and released once passt is stopped.
    #[test]
    fn passt_starts_forwards_and_stops() {
        if find_passt().is_err() {
            panic!("passt is not installed (apt-get install passt); CI installs it");
        }
        let free = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let fw = PortForward {
            host: port,
            guest: 80,
            ..Default::default()
        };
        let mut p = Passt::start(&[fw]).unwrap();
        assert!(p.is_running());
        assert!(unix_socket_listening(p.socket()));
        assert!(
            check_host_ports_free(&[fw]).is_err(),
            "passt should hold 127.0.0.1:{port}"
        );
        p.stop();
        assert!(!p.is_running());
        check_host_ports_free(&[fw]).unwrap();
    }
}
