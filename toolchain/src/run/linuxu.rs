//! The linuxu runner: the image is a program, started directly. Boot options travel in
//! `UKIT_OPTS`; the root file system is a host folder mounted through hostfs; the
//! network is passt (user-mode, with port forwards), an existing tap device, or none.
//! Without a network the image replaces ukport (exec), so its exit status, signals and
//! terminal are the user's; with one, ukport supervises it and stops passt afterwards.

use anyhow::{anyhow, bail, Result};

use super::launch::{Launch, PlatformFlags, Root, Runner};
use super::net::{self, NetMode, Passt};
use super::supervise::{self, Companion};
pub use crate::image::hostrun::{boot_options, command, root_option, OPTS_ENV};

/// `ukport run --plat linuxu`.
pub struct Linuxu;

impl Runner for Linuxu {
    fn check(&self, flags: &PlatformFlags) -> Result<()> {
        if flags.share.is_some() {
            bail!("--share is for --plat kvm (virtio-9p); on linuxu, --root DIR mounts a host folder as /");
        }
        if let Some(m) = &flags.net {
            m.parse::<NetMode>()?;
        }
        Ok(())
    }

    /// A tap device or no network has no port forwards: the recipe's are for passt.
    fn recipe_ports(&self, flags: &PlatformFlags) -> bool {
        !matches!(
            flags.net.as_deref().map(str::parse::<NetMode>),
            Some(Ok(NetMode::Tap(_) | NetMode::None))
        )
    }

    fn run(&self, l: &Launch, flags: &PlatformFlags) -> Result<i32> {
        let mode = match &flags.net {
            Some(m) => m.parse()?,
            None if !l.forwards.is_empty() => NetMode::Passt,
            None => NetMode::None,
        };
        if !l.forwards.is_empty() && mode != NetMode::Passt {
            bail!("port forwards (-p or [run] ports) need --net passt; with a tap device, reach the image at its own address");
        }
        if (flags.ip.is_some() || flags.gw.is_some()) && !matches!(mode, NetMode::Tap(_)) {
            bail!(
                "--ip and --gw configure a tap device; passt gives the image {}/{}",
                net::GUEST_ADDR,
                net::GUEST_PREFIX
            );
        }
        let mut argv0 = None;
        let root = match l.root()? {
            Some(Root::Recipe(dir)) => {
                if let Some(r) = &l.recipe {
                    argv0 = crate::image::rootfs::place_executable(r, &dir, &l.image)?;
                }
                Some(root_option(&dir)?)
            }
            Some(Root::Given(dir)) => Some(root_option(&dir)?),
            None => None,
        };
        // Read before passt starts: a bad UKIT_OPTS stops here, with nothing to clean up.
        let user_opts = super::launch::user_boot_options()?;
        let mut opts = boot_options(l.memory.as_deref(), l.trace, root);
        let name = l.name_or(|image| image.display().to_string());
        let mut passt = match &mode {
            NetMode::None => None,
            NetMode::Passt => {
                let p = Passt::start(&l.forwards)?;
                opts.extend(net::passt_boot_options(p.socket()));
                Some(p)
            }
            NetMode::Tap(ifname) => {
                opts.push(format!("net=tap:{ifname}"));
                opts.push(format!("ip={}", flags.ip.as_deref().unwrap_or("dhcp")));
                opts.extend(flags.gw.as_ref().map(|g| format!("gw={g}")));
                None
            }
        };
        opts.extend(user_opts);
        let mut cmd = command(&l.image, &l.args, &l.env, &opts);
        if let Some(a) = argv0 {
            use std::os::unix::process::CommandExt;
            cmd.arg0(a);
        }
        if mode == NetMode::None {
            use std::os::unix::process::CommandExt;
            // exec: the image takes over this process, so its exit status, signals and
            // terminal are the user's directly.
            let err = cmd.exec();
            return Err(anyhow!("cannot run {}: {err}", l.image.display()));
        }
        for p in &l.forwards {
            match p.proto {
                net::Proto::Tcp => eprintln!(
                    "ukport: {name}: guest port {} is reachable at http://127.0.0.1:{}/",
                    p.guest, p.host
                ),
                net::Proto::Udp => eprintln!(
                    "ukport: {name}: guest UDP port {} is reachable at 127.0.0.1:{}",
                    p.guest, p.host
                ),
            }
        }
        if let NetMode::Tap(ifname) = &mode {
            eprintln!(
                "ukport: {name}: on tap device {ifname}, address {}",
                flags.ip.as_deref().unwrap_or("from DHCP")
            );
        }
        eprintln!("ukport: {name}: running in the foreground; Ctrl-C or SIGTERM stops it");
        // Supervised, not exec'd: passt must be stopped once the image has exited.
        supervise::supervise(cmd, passt.as_mut().map(|p| p as &mut dyn Companion))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn options_and_command_carry_memory_trace_root_and_env() {
        let opts = boot_options(Some("64M"), true, Some("root=hostfs:/r".into()));
        assert_eq!(opts, ["mem=64M", "trace", "root=hostfs:/r"]);
        assert!(boot_options(None, false, None).is_empty());
        let cmd = command(
            Path::new("/img/app.linuxu"),
            &["-v".into()],
            &[("K".into(), "V".into())],
            &opts,
        );
        let envs: Vec<_> = cmd.get_envs().collect();
        assert!(envs.contains(&("K".as_ref(), Some("V".as_ref()))));
        assert!(envs.contains(&(
            OPTS_ENV.as_ref(),
            Some("mem=64M trace root=hostfs:/r".as_ref())
        )));
        assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["-v"]);
    }

    #[test]
    fn kvm_only_flags_are_refused() {
        let flags = PlatformFlags {
            share: Some("/tmp".into()),
            ..Default::default()
        };
        let e = Linuxu.check(&flags).unwrap_err().to_string();
        assert!(e.contains("--share is for --plat kvm"), "{e}");
        let flags = PlatformFlags {
            net: Some("slirp".into()),
            ..Default::default()
        };
        assert!(Linuxu.check(&flags).is_err());
    }

    #[test]
    fn recipe_ports_are_for_passt_only() {
        let takes = |net: Option<&str>| {
            Linuxu.recipe_ports(&PlatformFlags {
                net: net.map(Into::into),
                ..Default::default()
            })
        };
        assert!(takes(None));
        assert!(takes(Some("passt")));
        assert!(!takes(Some("tap:uk0")));
        assert!(!takes(Some("none")));
    }

    #[test]
    fn root_folder_must_exist() {
        let e = root_option(Path::new("/nonexistent-ukit-root")).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let tmp = tempfile::tempdir().unwrap();
        let got = root_option(tmp.path()).unwrap();
        assert!(got.starts_with("root=hostfs:/"), "{got}");
    }
}
