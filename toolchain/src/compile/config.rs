//! The kernel configuration of a build: the repository's option schema (every
//! `options.toml`) resolved with the layers the build brings, a recipe's `[config]`
//! and `--set` / `--uk-set` / `$UK_CONFIG_SET` settings.

use anyhow::{anyhow, Result};
use uk_kconfig::{Layer, Resolved, Schema};

use crate::packages::recipe::Recipe;
use crate::paths;

/// The option schema of the repository.
pub fn schema() -> Result<Schema> {
    let root = paths::repo_root();
    Schema::load(&root).map_err(|e| {
        anyhow!(
            "loading the kernel option schema under {}: {e}",
            root.display()
        )
    })
}

/// The defaults plus `sets` (`OPTION=VALUE`, as `uk-cc --uk-set` and `$UK_CONFIG_SET`
/// give them).
pub fn resolve_sets(sets: &[String]) -> Result<Resolved> {
    let schema = schema()?;
    let layers = if sets.is_empty() {
        Vec::new()
    } else {
        vec![Layer::from_set(&schema, sets).map_err(|e| anyhow!("--uk-set / UK_CONFIG_SET: {e}"))?]
    };
    uk_kconfig::resolve(&schema, &layers)
        .map_err(|e| anyhow!("resolving the kernel configuration: {e}"))
}

/// The recipe's `[config]` plus `--set`, resolved against the repository's schema.
pub fn resolve_recipe(r: &Recipe, set: &[String]) -> Result<(Schema, Resolved)> {
    let root = paths::repo_root();
    let schema = schema()?;
    let origin = r
        .path()
        .strip_prefix(&root)
        .unwrap_or(r.path())
        .display()
        .to_string();
    let mut layer = Layer::new(origin);
    layer.values = r
        .config_layer()
        .into_iter()
        .map(|(name, value, line)| (name, value, (line > 0).then_some(line)))
        .collect();
    let set_layer = Layer::from_set(&schema, set).map_err(|e| anyhow!("{e}"))?;
    let resolved = uk_kconfig::resolve(&schema, &[layer, set_layer])
        .map_err(|e| anyhow!("the configuration of {} does not resolve:\n{e}", r.name))?;
    Ok((schema, resolved))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::recipe::Kind;

    /// A port named in an options.toml must be a port recipe, or kernel builds with that
    /// option would fail late, inside cargo.
    #[test]
    fn declared_ports_are_port_recipes() {
        let schema = schema().unwrap();
        let mut declared = 0;
        for opt in schema.options() {
            for p in &opt.ports {
                let r = Recipe::load(p).unwrap_or_else(|e| panic!("{}: {e:#}", opt.location()));
                assert_eq!(r.kind, Kind::Port, "{} names {p}", opt.location());
                declared += 1;
            }
        }
        assert!(declared > 0);
        assert_eq!(
            resolve_sets(&["lib.net=true".into()]).unwrap().ports(),
            ["lwip"]
        );
        assert!(resolve_sets(&[]).unwrap().ports().is_empty());
    }
}
