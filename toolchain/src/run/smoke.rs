//! `ukport test`: build an app, run it the way `ukport run` would on this host (the
//! recipe's `[test] args` or `[run] args`, its env, memory and root), and compare its
//! stdout and exit status with the recipe's `[test]`.

use anyhow::{bail, Context, Result};

use super::{linuxu, prepare};
use crate::image::build;
use crate::packages::recipe::Recipe;
use crate::platform::Platform;

/// Runs the smoke test of recipe `name` built for `plat`.
pub fn smoke_test(name: &str, plat: Platform) -> Result<()> {
    let r = crate::image::pyapp::with_interpreter_defaults(Recipe::load(name)?)?;
    let Some(test) = r.test.clone() else {
        bail!("{} has no [test] section ({})", r.name, r.path().display());
    };
    let image =
        crate::image::app::build_to(&r, plat, &Default::default(), None, build::Report::Stderr)?;
    // The same root as `ukport run`: the recipe's [rootfs] and first-run files.
    let root = prepare::prepare_root(&r)?
        .map(|d| linuxu::root_option(&d))
        .transpose()?;
    let opts = linuxu::boot_options(r.run.memory.as_deref(), false, root);
    let env: Vec<(String, String)> = r.run.env.clone().into_iter().collect();
    let mut args = r.entry_args();
    args.extend(test.args.as_ref().unwrap_or(&r.run.args).iter().cloned());
    let out = linuxu::command(&image, &args, &env, &opts)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", image.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut problems = Vec::new();
    if out.status.code() != Some(test.expect_exit) {
        problems.push(format!(
            "exit status: expected {}, got {}",
            test.expect_exit, out.status
        ));
    }
    if let Some(want) = &test.expect_stdout {
        if stdout != *want {
            problems.push(format!("stdout: expected {want:?}, got {stdout:?}"));
        }
    }
    if problems.is_empty() {
        println!("PASS {} ({})", r.name, image.display());
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    bail!(
        "FAIL {}:\n  {}\nstderr:\n{}",
        r.name,
        problems.join("\n  "),
        stderr.trim_end()
    )
}
