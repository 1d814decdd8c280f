//! The platforms an image can be made for, described in one place: the name users type
//! and see (parsed and printed only here), how uk-cc links an image for it, how the
//! kernel is selected for it, and whether its images run as programs on this host.
//!
//! What `ukport run` does with an image is the platform's runner, one module per
//! platform under [`crate::run`]. Adding a platform (our own VMM, Firecracker, Xen) is
//! its kernel folder under `plat/`, a variant here and a runner module; the compiler
//! points at every `match` that needs an arm.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// A platform with a kernel today.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    /// A static Linux ELF whose kernel is ukit, started like any program.
    Linuxu,
    /// A virtual machine under QEMU/KVM (PVH or multiboot boot).
    Kvm,
}

/// How uk-cc links an image for a platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// gcc's own static-executable layout (the image is a Linux program), with an
    /// addition (relative to the repository root) that links the kernel's writable
    /// statics apart from the program's.
    Program(&'static str),
    /// The platform's linker script (relative to the repository root): the image is
    /// loaded at its link addresses by a boot loader that reads the file flat.
    Script(&'static str),
}

/// Platforms that are planned but have no kernel yet (named in error messages).
pub const PLANNED: &[&str] = &["xen"];

/// A platform name that is not [`Platform`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error("platform {0} is not available yet (available: {avail})", avail = Platform::available())]
    Planned(String),
    #[error("unknown platform {0} (available: {avail})", avail = Platform::available())]
    Unknown(String),
}

impl Platform {
    /// Every platform, in the order messages list them.
    pub const ALL: [Platform; 2] = [Platform::Linuxu, Platform::Kvm];

    /// uk-cc's platform without `--uk-plat`/`$UK_PLAT`, and ukport's without `--plat`:
    /// a linked program is runnable here, so configure scripts keep working.
    pub const DEFAULT: Platform = Platform::Linuxu;

    /// The name on command lines, in `$UK_PLAT`, kernel folders and image file names.
    pub const fn name(self) -> &'static str {
        match self {
            Platform::Linuxu => "linuxu",
            Platform::Kvm => "kvm",
        }
    }

    /// How its images are linked.
    pub const fn link(self) -> Link {
        match self {
            Platform::Linuxu => Link::Program("plat/linuxu/link.ld"),
            Platform::Kvm => Link::Script("plat/kvm/kvm.ld"),
        }
    }

    /// Whether its images run as programs on this host. An app's own build system runs
    /// what it links (configure tests), so builds from source are made for such a
    /// platform and every other platform's image is relinked from their objects.
    pub const fn runs_on_host(self) -> bool {
        matches!(self, Platform::Linuxu)
    }

    /// The platform app builds from source are made for (see [`Platform::runs_on_host`]).
    pub fn build_host() -> Platform {
        Platform::DEFAULT
    }

    /// The Cargo feature of `uk-image` that puts this platform's code into the kernel.
    pub fn kernel_feature(self) -> String {
        format!("plat-{}", self.name())
    }

    /// The image file of `app` for this platform (`nginx.kvm`).
    pub fn image_name(self, app: &str) -> String {
        format!("{app}.{}", self.name())
    }

    /// Link flags uk-cc adds after its own for this platform. With a linker script: the
    /// script, 4 KiB segment alignment so that file offsets follow addresses (multiboot
    /// loads the file flat), no build-id note, and `main` wrapped so the kernel can time
    /// the moment the program starts (boot statistics).
    pub fn link_flags(self, repo_root: &Path) -> Vec<String> {
        match self.link() {
            Link::Program(addition) => {
                vec![format!("-Wl,-T,{}", repo_root.join(addition).display())]
            }
            Link::Script(script) => vec![
                format!("-Wl,-T,{}", repo_root.join(script).display()),
                "-Wl,-z,max-page-size=4096".into(),
                "-Wl,--build-id=none".into(),
                "-Wl,--wrap=main".into(),
            ],
        }
    }

    /// `linuxu, kvm`: the available names, for messages.
    pub fn available() -> String {
        Platform::ALL.map(Platform::name).join(", ")
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Platform, PlatformError> {
        if let Some(p) = Platform::ALL.into_iter().find(|p| p.name() == s) {
            return Ok(p);
        }
        if PLANNED.contains(&s) {
            return Err(PlatformError::Planned(s.to_string()));
        }
        Err(PlatformError::Unknown(s.to_string()))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses a comma-separated list (`linuxu,kvm`), skipping empty entries.
pub fn parse_list(list: &str) -> Result<Vec<Platform>, PlatformError> {
    list.split(',')
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_errors_list_the_platforms() {
        for p in Platform::ALL {
            assert_eq!(p.name().parse::<Platform>().unwrap(), p);
            assert_eq!(p.to_string(), p.name());
        }
        assert_eq!(
            "xen".parse::<Platform>().unwrap_err().to_string(),
            "platform xen is not available yet (available: linuxu, kvm)"
        );
        assert_eq!(
            "pdp11".parse::<Platform>().unwrap_err().to_string(),
            "unknown platform pdp11 (available: linuxu, kvm)"
        );
        assert_eq!(
            parse_list("linuxu,,kvm").unwrap(),
            [Platform::Linuxu, Platform::Kvm]
        );
        assert!(parse_list("linuxu,xen").is_err());
    }

    #[test]
    fn link_flags_follow_the_link_mode() {
        let f = Platform::Kvm.link_flags(Path::new("/r"));
        assert!(f.contains(&"-Wl,-T,/r/plat/kvm/kvm.ld".to_string()));
        assert!(f.contains(&"-Wl,--wrap=main".to_string()));
        // linuxu keeps gcc's own layout, with the addition that links the kernel's
        // writable statics apart from the program's.
        assert_eq!(
            Platform::Linuxu.link_flags(Path::new("/r")),
            ["-Wl,-T,/r/plat/linuxu/link.ld"]
        );
    }

    #[test]
    fn only_host_runnable_platforms_build_from_source() {
        assert!(Platform::build_host().runs_on_host());
        assert!(!Platform::Kvm.runs_on_host());
        assert_eq!(Platform::Kvm.image_name("nginx"), "nginx.kvm");
        assert_eq!(Platform::Kvm.kernel_feature(), "plat-kvm");
    }
}
