//! `ukport run`: find (or build) the image, settle what every platform needs the same
//! way ([`launch::Launch`]: program arguments and environment, memory, port forwards,
//! trace, root), then hand it to the platform's runner, one module per platform.

pub mod kvm;
pub mod launch;
pub mod linuxu;
pub mod net;
pub mod prepare;
pub mod qemu;
pub mod smoke;
pub mod supervise;

use anyhow::Result;

use crate::platform::Platform;
use launch::{Launch, Options, PlatformFlags, Runner};

/// The runner of `plat`.
pub fn runner(plat: Platform) -> &'static dyn Runner {
    match plat {
        Platform::Linuxu => &linuxu::Linuxu,
        Platform::Kvm => &kvm::Kvm,
    }
}

/// Runs `target` (a recipe name, or the path of an image file) on `plat`; returns the
/// program's exit status.
pub fn run(plat: Platform, target: &str, opts: &Options, flags: &PlatformFlags) -> Result<i32> {
    let runner = runner(plat);
    runner.check(flags)?;
    // Bad -p input fails before a build starts (the recipe's ports are checked once
    // it is loaded).
    net::check_host_ports_free(&net::parse_ports(&opts.publish)?)?;
    let (image, recipe) = resolve_image(plat, target)?;
    let launch = Launch::new(image, recipe, opts, runner.recipe_ports(flags))?;
    // The recipe's root with its first-run files ([[run.prepare]]); the runner
    // assembles the same folder again, leaving what was made here.
    if let (None, Some(r)) = (&launch.root, &launch.recipe) {
        prepare::prepare_root(r)?;
    }
    runner.run(&launch, flags)
}

pub use crate::image::app::resolve_image;
