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

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::image::build;
use crate::packages::recipe::{Kind, Recipe};
use crate::paths;
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

/// The image `target` names: an image file (a path, or an existing file that is not a
/// recipe), else the recipe's image for `plat`, built first when it is missing or
/// older than its recipe, source or kernel.
pub fn resolve_image(plat: Platform, target: &str) -> Result<(PathBuf, Option<Recipe>)> {
    let as_path = Path::new(target);
    let recipe_file = target.ends_with(".toml");
    if !recipe_file && (target.contains('/') || as_path.is_file()) {
        if !as_path.is_file() {
            bail!("image {target} does not exist");
        }
        return Ok((as_path.to_path_buf(), None));
    }
    let r = crate::image::pyapp::with_interpreter_defaults(Recipe::load(target)?)?;
    if r.kind == Kind::Port {
        bail!(
            "{} is a port (a library), not an app; nothing to run",
            r.name
        );
    }
    let image = paths::images_dir().join(plat.image_name(&r.name));
    let image = if !image.is_file() {
        eprintln!("ukport: {} is not built yet; building it", image.display());
        build::build_to(&r, plat, &Default::default(), None, build::Report::Stderr)?
    } else if !build::image_is_current(&r, plat, &image)? {
        eprintln!(
            "ukport: {} is older than its recipe, source or kernel; updating it",
            image.display()
        );
        build::build_to(&r, plat, &Default::default(), None, build::Report::Stderr)?
    } else {
        image
    };
    Ok((image, Some(r)))
}
