//! Running kvm images under QEMU (`ukport run --plat kvm`).
//!
//! The guest's console is the serial port on QEMU's stdout. The program's arguments and
//! environment travel on the kernel command line (see [`kernel_cmdline`]); the exit
//! status comes back twice: exactly, as a `ukit-exit-status N` line on QEMU's debug
//! console (a file we read afterwards), and truncated to 7 bits through the
//! `isa-debug-exit` device, whose QEMU exit status is `(N << 1) | 1`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::net::PortForward;

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-x86_64";

/// Percent-encode one command-line word: bytes outside a plain set become `%XX`, so
/// spaces, quotes and non-ASCII survive QEMU's `-append` and the kernel's word split.
pub fn encode_word(s: &str) -> String {
    if s.is_empty() {
        // An empty word would vanish in the split; an encoded NUL ends the C string at
        // once, so the program sees "".
        return "%00".into();
    }
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:,=+@^".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The kernel command line: boot options, then `env=K=V` words, then `--` and argv
/// (argv\[0\] first). See plat/kvm/src/cmdline.rs for the kernel's side.
pub fn kernel_cmdline(opts: &[String], env: &[(String, String)], argv: &[String]) -> String {
    let mut words: Vec<String> = opts.to_vec();
    for (k, v) in env {
        words.push(format!("env={}", encode_word(&format!("{k}={v}"))));
    }
    words.push("--".into());
    words.extend(argv.iter().map(|a| encode_word(a)));
    words.join(" ")
}

/// How to accelerate the guest, with a one-line note when falling back to TCG.
pub fn choose_accel() -> (&'static str, Option<String>) {
    if Path::new("/sys/module/kvm_pvm").exists() {
        return (
            "tcg",
            Some(
                "using TCG: /dev/kvm on this host is PVM (kvm_pvm), which emulates ring-0 \
                 guest code instruction by instruction"
                    .into(),
            ),
        );
    }
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        Ok(_) => ("kvm", None),
        Err(e) => (
            "tcg",
            Some(format!("using TCG (slower): /dev/kvm is not usable ({e})")),
        ),
    }
}

/// The QEMU machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    Microvm,
    Pc,
}

impl Machine {
    pub fn parse(s: &str) -> Result<Machine> {
        match s {
            "microvm" => Ok(Machine::Microvm),
            "pc" => Ok(Machine::Pc),
            _ => bail!("unknown machine `{s}` (available: microvm, pc)"),
        }
    }
}

/// Which boot protocol QEMU uses. QEMU tries multiboot before PVH, so the PVH path
/// needs a copy of the image with the multiboot header's magic blanked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boot {
    Multiboot,
    Pvh,
}

impl Boot {
    pub fn parse(s: &str) -> Result<Boot> {
        match s {
            "multiboot" => Ok(Boot::Multiboot),
            "pvh" => Ok(Boot::Pvh),
            _ => bail!("unknown boot protocol `{s}` (available: multiboot, pvh)"),
        }
    }
}

/// Blank the multiboot magic (first 8 KiB, 4-byte aligned); false when there is none.
pub fn strip_multiboot(image: &mut [u8]) -> bool {
    let magic = 0x1bad_b002u32.to_le_bytes();
    let end = image.len().min(8192);
    for off in (0..end.saturating_sub(3)).step_by(4) {
        if image[off..off + 4] == magic {
            image[off..off + 4].fill(0);
            return true;
        }
    }
    false
}

/// The exit status of the program from QEMU's status and the debug console's text.
pub fn guest_status(qemu_code: Option<i32>, debugcon: &str) -> Result<i32> {
    if let Some(n) = debugcon
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("ukit-exit-status "))
        .and_then(|n| n.trim().parse::<i32>().ok())
    {
        return Ok(n);
    }
    match qemu_code {
        Some(c) if c % 2 == 1 && c > 1 => Ok(c >> 1),
        Some(0) => bail!(
            "the VM stopped without reporting an exit status (a triple fault or reset; \
             run with --boot-stats or look at the console output above)"
        ),
        Some(c) => bail!("QEMU failed with status {c} (see its message above)"),
        None => bail!("QEMU was killed by a signal"),
    }
}

/// True when this process's stdin is /dev/null (`</dev/null`, test drivers, daemons).
pub fn stdin_is_dev_null() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() else {
        return false;
    };
    let (Ok(m), Ok(null)) = (
        std::fs::File::from(fd).metadata(),
        std::fs::metadata("/dev/null"),
    ) else {
        return false;
    };
    m.file_type().is_char_device() && m.rdev() == null.rdev()
}

/// What `ukport run --plat kvm` asked for.
pub struct RunSpec {
    pub image: PathBuf,
    pub machine: Machine,
    pub boot: Boot,
    pub memory: String,
    pub cmdline: String,
    /// Print launch-to-exit time on stderr.
    pub timing: bool,
    /// `-p HOST:GUEST` forwards: when non-empty the VM gets a virtio-net device on QEMU
    /// user-mode networking with these TCP ports forwarded from 127.0.0.1.
    pub forwards: Vec<PortForward>,
    /// A newc cpio archive handed to the guest as its initrd (`-initrd`): the kernel
    /// unpacks it into the ramfs root (see [`crate::image::cpio`]).
    pub initrd: Option<PathBuf>,
    /// A host folder shared with the guest over virtio-9p (mount tag [`SHARE_TAG`]); the
    /// caller adds the boot option that mounts it (`root=hostfs:/`).
    pub share: Option<PathBuf>,
}

/// The mount tag of the folder `ukport run --share` hands to the guest.
pub const SHARE_TAG: &str = "ukit";

/// QEMU arguments sharing host folder `dir` with the guest over virtio-9p (9P2000.L,
/// `security_model=none`: files are created as the user running QEMU): the mmio device
/// on microvm, the modern-only PCI function on pc. Commas in the path are doubled, the
/// escape QEMU's option parser understands.
pub fn share_args(machine: Machine, dir: &Path) -> Vec<String> {
    let path = dir.to_string_lossy().replace(',', ",,");
    let device = match machine {
        Machine::Microvm => "virtio-9p-device",
        Machine::Pc => "virtio-9p-pci,disable-legacy=on",
    };
    vec![
        "-fsdev".into(),
        format!("local,id=fs0,path={path},security_model=none"),
        "-device".into(),
        format!("{device},fsdev=fs0,mount_tag={SHARE_TAG}"),
    ]
}

/// QEMU arguments for a virtio-net device on user-mode networking (guest 10.0.2.15,
/// gateway 10.0.2.2, DHCP available) with TCP `forwards` (host, guest) reachable only on
/// the host's loopback: `-device virtio-net-device` (mmio) on microvm, the modern-only
/// `virtio-net-pci` on pc.
pub fn net_args(machine: Machine, forwards: &[PortForward]) -> Vec<String> {
    let mut netdev = "user,id=n0".to_string();
    for p in forwards {
        let proto = match p.proto {
            super::net::Proto::Tcp => "tcp",
            super::net::Proto::Udp => "udp",
        };
        netdev.push_str(&format!(
            ",hostfwd={proto}:127.0.0.1:{}-:{}",
            p.host, p.guest
        ));
    }
    let device = match machine {
        Machine::Microvm => "virtio-net-device,netdev=n0",
        Machine::Pc => "virtio-net-pci,netdev=n0,disable-legacy=on",
    };
    vec!["-netdev".into(), netdev, "-device".into(), device.into()]
}

/// Run the image under QEMU with the console on stdout; symbolise a fault report's
/// backtrace with addr2line afterwards. Returns the program's exit status.
pub fn run(spec: &RunSpec) -> Result<i32> {
    let tmp = tempfile::tempdir().context("creating a temporary folder for QEMU")?;
    let debugcon = tmp.path().join("debugcon");
    let kernel = match spec.boot {
        Boot::Multiboot => spec.image.clone(),
        Boot::Pvh => {
            let mut bytes = std::fs::read(&spec.image)
                .with_context(|| format!("reading {}", spec.image.display()))?;
            strip_multiboot(&mut bytes);
            let p = tmp.path().join("image.pvh");
            std::fs::write(&p, bytes)?;
            p
        }
    };
    let (accel, note) = choose_accel();
    if let Some(n) = note {
        eprintln!("ukport: {n}");
    }
    let mut cmd = Command::new(QEMU);
    let machine = match spec.machine {
        Machine::Microvm => "microvm",
        Machine::Pc => "pc",
    };
    cmd.args(["-M", machine, "-accel", accel, "-m", &spec.memory]);
    if let Some(model) = std::env::var("UKIT_QEMU_CPU")
        .ok()
        .filter(|m| !m.is_empty())
    {
        // Another CPU model (docs/kvm.md): how a guest without RDRAND is tried here.
        cmd.args(["-cpu", &model]);
    } else if accel == "kvm" {
        // `-cpu host` alone aborts on MSR 0x10a (arch capabilities) on some hosts.
        cmd.args(["-cpu", "host,-arch-capabilities"]);
    } else {
        cmd.args(["-cpu", "max"]);
    }
    cmd.args([
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
    ]);
    cmd.arg("-debugcon")
        .arg(format!("file:{}", debugcon.display()));
    // ukport's control line: a second UART (COM2) on a socket, over which signals for
    // the program travel (plat/kvm/src/serial.rs).
    let ctl = tmp.path().join("ctl.sock");
    cmd.args(ctl_args(&ctl));
    if !spec.forwards.is_empty() {
        cmd.args(net_args(spec.machine, &spec.forwards));
    }
    if let Some(dir) = &spec.share {
        cmd.args(share_args(spec.machine, dir));
    }
    cmd.arg("-kernel").arg(&kernel);
    if let Some(initrd) = &spec.initrd {
        // QEMU's multiboot loader splits -initrd at commas (a module list).
        if initrd.to_string_lossy().contains(',') {
            bail!(
                "the initrd path {} contains a comma, which QEMU's -initrd cannot carry; \
                 set UKIT_CACHE to a folder without one",
                initrd.display()
            );
        }
        cmd.arg("-initrd").arg(initrd);
    }
    // A serial console never ends; stdin on /dev/null tells the kernel to give end of
    // file instead (as a linuxu image run the same way would see).
    let cmdline = if stdin_is_dev_null() {
        format!("stdin=eof {}", spec.cmdline)
    } else {
        spec.cmdline.clone()
    };
    cmd.args(["-append", &cmdline]);
    cmd.stdin(Stdio::inherit()).stdout(Stdio::piped());
    // SIGTERM/SIGINT/SIGHUP to ukport go to the program over the control line, so it
    // acts through its own handler; if the VM is still running CTL_GRACE after a
    // SIGTERM or SIGINT, or a second one comes, QEMU gets the signal and quits. SIGHUP
    // (reload) always goes over the line and starts no grace period. ukport dying
    // stops QEMU too.
    super::supervise::die_with_parent(&mut cmd);
    super::supervise::catch_signals()?;
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {QEMU} (install QEMU: apt install qemu-system-x86)"))?;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let forwarder = {
        let (done, pid) = (done.clone(), child.id());
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut line: Option<std::os::unix::net::UnixStream> = None;
            let mut sent_at: Option<Instant> = None;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                // QEMU makes the socket as it starts; keep trying for a few seconds.
                if line.is_none() && started.elapsed() < CTL_CONNECT {
                    line = std::os::unix::net::UnixStream::connect(&ctl).ok();
                }
                let sig = super::supervise::take_pending_signal();
                // The child is not reaped before `done` is set: the PID is QEMU's.
                if sig != 0 {
                    // SIGHUP asks a server to reload (nginx starts new workers), not to
                    // stop: it goes over the line every time and starts no grace period.
                    let hangup = sig == super::supervise::SIGHUP;
                    let delivered = (hangup || sent_at.is_none())
                        && line
                            .as_mut()
                            .is_some_and(|l| std::io::Write::write_all(l, &[sig as u8]).is_ok());
                    if delivered {
                        if !hangup {
                            sent_at = Some(Instant::now());
                        }
                    } else {
                        super::supervise::send_signal(pid, sig);
                    }
                }
                // Signals for one process of the image: a frame each on the line.
                for v in super::supervise::take_targeted() {
                    let frame = targeted_frame(v);
                    let sent = line
                        .as_mut()
                        .is_some_and(|l| std::io::Write::write_all(l, &frame).is_ok());
                    if !sent {
                        eprintln!(
                            "ukport: the control line is not connected; the signal for pid {} was not sent",
                            v >> 8
                        );
                    }
                }
                if let Some(t) = sent_at {
                    if t.elapsed() > CTL_GRACE {
                        eprintln!(
                            "ukport: the program did not stop within {} s of the signal; stopping the VM",
                            CTL_GRACE.as_secs()
                        );
                        super::supervise::send_signal(pid, super::supervise::SIGTERM);
                        sent_at = None;
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    let mut out = child.stdout.take().expect("piped stdout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let stdout = std::io::stdout();
    loop {
        let n = match out.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading the VM console"),
        };
        let mut lock = stdout.lock();
        let _ = lock.write_all(&buf[..n]);
        let _ = lock.flush();
        if seen.len() < (1 << 20) {
            seen.extend_from_slice(&buf[..n]);
        }
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = forwarder.join();
    let status = child.wait().context("waiting for QEMU")?;
    if spec.timing {
        eprintln!(
            "ukport: launch to exit: {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    symbolise(&spec.image, &String::from_utf8_lossy(&seen));
    let dc = std::fs::read_to_string(&debugcon).unwrap_or_default();
    match guest_status(status.code(), &dc) {
        Err(_) if super::supervise::received_signal() != 0 => {
            // Stopped from outside (Ctrl-C, SIGTERM): the shell's 128 + signal.
            let sig = super::supervise::received_signal();
            eprintln!("ukport: the VM was stopped by signal {sig}");
            Ok(128 + sig)
        }
        r => r,
    }
}

/// How long ukport tries to reach the control line after starting QEMU.
const CTL_CONNECT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a program has to stop after a signal sent over the control line.
const CTL_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// The control line's frame for a targeted signal (`value` = `pid << 8 | sig`, as
/// queued with host signal 40): the format is the kernel's ABI (`uk_abi::ctl`).
pub fn targeted_frame(value: u32) -> [u8; uk_abi::ctl::FRAME_LEN] {
    uk_abi::ctl::frame((value >> 8) as i32, value as u8)
}

/// QEMU arguments for the control line: COM2 (0x2f8, IRQ 3) on a UNIX socket that QEMU
/// listens on without waiting (commas in the path doubled, as QEMU's option syntax wants).
pub fn ctl_args(sock: &Path) -> [String; 4] {
    let path = sock.to_string_lossy().replace(',', ",,");
    [
        "-chardev".into(),
        format!("socket,id=ukctl,path={path},server=on,wait=off"),
        "-device".into(),
        "isa-serial,chardev=ukctl,iobase=0x2f8,irq=3".into(),
    ]
}

/// The addresses of `ukit: bt` lines in a fault report.
pub fn backtrace_addrs(console: &str) -> Vec<String> {
    console
        .lines()
        .filter_map(|l| l.trim_end_matches('\r').strip_prefix("ukit: bt "))
        .filter_map(|rest| rest.split_whitespace().nth(1))
        .map(String::from)
        .collect()
}

/// Print the backtrace with function names and source lines (addr2line), if any.
fn symbolise(image: &Path, console: &str) {
    let addrs = backtrace_addrs(console);
    if addrs.is_empty() {
        return;
    }
    let out = Command::new("addr2line")
        .args(["-f", "-C", "-i", "-p", "-e"])
        .arg(image)
        .args(&addrs)
        .output();
    match out {
        Ok(o) if o.status.success() => {
            eprintln!("ukport: backtrace of the fault (addr2line):");
            for l in String::from_utf8_lossy(&o.stdout).lines() {
                eprintln!("ukport:   {l}");
            }
        }
        _ => eprintln!("ukport: install binutils (addr2line) to see function names in backtraces"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_percent_encoded() {
        assert_eq!(encode_word("plain-1.0"), "plain-1.0");
        assert_eq!(encode_word("two words"), "two%20words");
        assert_eq!(encode_word("100%"), "100%25");
        assert_eq!(encode_word("ü"), "%C3%BC");
        assert_eq!(encode_word(""), "%00");
    }

    #[test]
    fn cmdline_layout() {
        let c = kernel_cmdline(
            &["bootstats".into()],
            &[("A".into(), "x y".into())],
            &["prog".into(), "".into(), "a b".into()],
        );
        assert_eq!(c, "bootstats env=A=x%20y -- prog %00 a%20b");
    }

    #[test]
    fn control_line_is_com2_on_a_socket() {
        let a = ctl_args(Path::new("/tmp/a,b/ctl.sock"));
        assert_eq!(a[0], "-chardev");
        assert_eq!(
            a[1],
            "socket,id=ukctl,path=/tmp/a,,b/ctl.sock,server=on,wait=off"
        );
        assert_eq!(a[3], "isa-serial,chardev=ukctl,iobase=0x2f8,irq=3");
    }

    #[test]
    fn targeted_frames_are_what_the_kernel_decodes() {
        // The same bytes as plat/kvm/src/ctl.rs's test expects for pid 3, SIGKILL.
        assert_eq!(
            targeted_frame(3 << 8 | 9),
            [0x80, 0x93, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x99, 0x90, 0x9a, 0x90]
        );
        let f = targeted_frame(0x12_3456 << 8 | 15);
        assert_eq!(f[1..9], [0x96, 0x95, 0x94, 0x93, 0x92, 0x91, 0x90, 0x90]);
        assert_eq!(f[9..11], [0x9f, 0x90]);
        assert!(f.iter().all(|b| !(1..=64).contains(b)));
    }

    #[test]
    fn status_from_debugcon_or_exit_code() {
        assert_eq!(
            guest_status(Some(3), "ukit-exit-status 200\n").unwrap(),
            200
        );
        assert_eq!(guest_status(Some(15), "").unwrap(), 7);
        assert!(guest_status(Some(0), "").is_err());
        assert!(
            guest_status(Some(1), "").is_err(),
            "1 is QEMU's own failure"
        );
        assert!(guest_status(None, "").is_err());
    }

    #[test]
    fn multiboot_magic_is_blanked() {
        let mut img = vec![0u8; 9000];
        img[0x1d0..0x1d4].copy_from_slice(&0x1bad_b002u32.to_le_bytes());
        assert!(strip_multiboot(&mut img));
        assert!(img.iter().all(|&b| b == 0));
        assert!(!strip_multiboot(&mut img));
    }

    #[test]
    fn network_arguments_forward_on_loopback_only() {
        let fw = |host, guest| PortForward {
            host,
            guest,
            ..Default::default()
        };
        let a = net_args(Machine::Microvm, &[fw(8080, 80), fw(2222, 22)]);
        assert_eq!(
            a,
            [
                "-netdev",
                "user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp:127.0.0.1:2222-:22",
                "-device",
                "virtio-net-device,netdev=n0"
            ]
        );
        assert!(net_args(Machine::Pc, &[fw(1, 2)])[3].starts_with("virtio-net-pci,"));
    }

    #[test]
    fn share_arguments_name_the_folder_and_the_tag() {
        let a = share_args(Machine::Microvm, Path::new("/tmp/a,b"));
        assert_eq!(
            a,
            [
                "-fsdev",
                "local,id=fs0,path=/tmp/a,,b,security_model=none",
                "-device",
                "virtio-9p-device,fsdev=fs0,mount_tag=ukit"
            ]
        );
        assert!(share_args(Machine::Pc, Path::new("/x"))[3].starts_with("virtio-9p-pci,"));
    }

    #[test]
    fn backtrace_lines() {
        let c = "x\nukit: bt #0 0x10225a\r\nukit: bt ?1 0x102d48\nukit: end of backtrace\n";
        assert_eq!(backtrace_addrs(c), ["0x10225a", "0x102d48"]);
    }
}
