//! Building any app recipe: a Python app (`[python]`, crate::image::pyapp: an interpreter
//! image over a root of its own) or anything else (crate::image::build). The one place
//! that tells them apart, above both: pyapp builds its interpreter through build.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::build::{self, Report};
use super::pyapp;
use crate::compile::config;
use crate::packages::recipe::{Kind, Recipe};
use crate::paths;
use crate::platform::Platform;

/// Builds an app into `images/<name>.<plat>` (or installs a port) and returns the path.
/// The kernel has what the recipe's `[config]` and `settings` ask for, plus every
/// option the program needs by what it calls (uk-cc reads it from the objects of the
/// final link and records it in the link's manifest).
pub fn build(
    r: &Recipe,
    plat: Platform,
    settings: &config::Settings,
    jobs: Option<usize>,
) -> Result<PathBuf> {
    build_to(r, plat, settings, jobs, Report::Stdout)
}

/// [`build`], reporting to `report`.
pub fn build_to(
    r: &Recipe,
    plat: Platform,
    settings: &config::Settings,
    jobs: Option<usize>,
    report: Report,
) -> Result<PathBuf> {
    if r.python.is_some() {
        return pyapp::build(r, plat, report);
    }
    build::build_to(r, plat, settings, jobs, report)
}

/// True when `image` was built from the current recipe (and, for a Python app, its
/// interpreter and root are current too).
pub fn image_is_current(r: &Recipe, plat: Platform, image: &Path) -> Result<bool> {
    if r.python.is_some() {
        return pyapp::is_current(r, plat, image);
    }
    build::image_is_current(r, plat, image)
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
    let r = pyapp::with_interpreter_defaults(Recipe::load(target)?)?;
    if r.kind == Kind::Port {
        bail!(
            "{} is a port (a library), not an app; nothing to run",
            r.name
        );
    }
    let image = paths::images_dir().join(plat.image_name(&r.name));
    let image = if !image.is_file() {
        eprintln!("ukport: {} is not built yet; building it", image.display());
        build_to(&r, plat, &Default::default(), None, Report::Stderr)?
    } else if !image_is_current(&r, plat, &image)? {
        eprintln!(
            "ukport: {} is older than its recipe, source or kernel; updating it",
            image.display()
        );
        build_to(&r, plat, &Default::default(), None, Report::Stderr)?
    } else {
        image
    };
    Ok((image, Some(r)))
}
