//! The kernel configuration of a build: the repository's option schema (every
//! `options.toml`) resolved with the layers the build brings. Lowest first: the
//! options the program needs (read from its objects, [`super::needs`]), a recipe's
//! `[config]`, settings files, then `--set` / `--uk-set` / `$UK_CONFIG_SET` settings.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use uk_kconfig::{Layer, Resolved, Schema};

use super::needs::Need;
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

/// A settings file (`--config FILE`, `--uk-config FILE`, `$UK_CONFIG_FILE`, what
/// `ukport menuconfig` saves): the whole TOML document is `"option" = value` lines.
pub fn file_layer(path: &Path) -> Result<Layer> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    Layer::from_toml(&path.display().to_string(), &text, None).map_err(|e| anyhow!("{e}"))
}

/// One layer per need, each turning its option on with the reason as its origin (what
/// `ukport config` and `uk-cc -v` show).
pub fn need_layers(needs: &[Need]) -> Vec<Layer> {
    needs
        .iter()
        .map(|n| {
            let mut l = Layer::new(n.reason());
            l.values
                .push((n.option.clone(), toml::Value::Boolean(true), None));
            l
        })
        .collect()
}

/// The configuration of a link: the program's needs first, so that every explicit
/// setting (a recipe's `[config]`, files, `--set`) wins over them: `--uk-set
/// lib.net=false` still builds a kernel without networking.
pub fn resolve_link(needs: &[Need], settings: &[Layer]) -> Result<Resolved> {
    let schema = schema()?;
    let mut layers = need_layers(needs);
    layers.extend(settings.iter().cloned());
    uk_kconfig::resolve(&schema, &layers)
        .map_err(|e| anyhow!("the kernel configuration does not resolve:\n{e}"))
}

/// What `uk-cc -v` says about its choice: each need with the value its option got and
/// why.
pub fn explain(resolved: &Resolved, needs: &[Need]) -> Vec<String> {
    if needs.is_empty() {
        return vec![
            "kernel options: no optional library needed (the program calls none of \
                     the functions the options.toml files list)"
                .to_string(),
        ];
    }
    needs
        .iter()
        .map(|n| match resolved.setting(&n.option) {
            Some(s) if s.value == uk_kconfig::Value::Bool(true) => {
                format!("kernel option {} = true: {}", n.option, n.reason())
            }
            Some(s) => format!(
                "kernel option {} = {} ({}), although {}",
                n.option,
                s.value,
                s.origin,
                n.reason()
            ),
            None => format!("kernel option {}: not in the schema", n.option),
        })
        .collect()
}

/// Warns when a given kernel (`--uk-kernel`, `$UK_KERNEL`) lacks an option the program
/// needs; known only for kernels built by the toolchain, which keep their
/// `config.json` beside `libuk.a`.
pub fn warn_missing_needs(kernel: &Path, needs: &[Need]) {
    let Some(json) = kernel
        .parent()
        .and_then(|d| std::fs::read_to_string(d.join("config.json")).ok())
    else {
        return;
    };
    let Ok(resolved) = Resolved::from_json(&json) else {
        return;
    };
    for n in needs {
        if resolved.get(&n.option) != Some(&uk_kconfig::Value::Bool(true)) {
            eprintln!(
                "uk-cc: warning: {}, but the kernel {} was built without {}",
                n.reason(),
                kernel.display(),
                n.option
            );
        }
    }
}

/// How a build is configured besides the recipe's `[config]`: settings files
/// (`--config FILE`) and `--set` flags, in that order.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub files: Vec<PathBuf>,
    pub set: Vec<String>,
}

/// The explicit layers of a recipe build: its `[config]`, then `settings`.
pub fn recipe_layers(r: &Recipe, settings: &Settings) -> Result<Vec<Layer>> {
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
    let mut layers = vec![layer];
    for f in &settings.files {
        layers.push(file_layer(f)?);
    }
    layers.push(Layer::from_set(&schema, &settings.set).map_err(|e| anyhow!("{e}"))?);
    Ok(layers)
}

/// The recipe's `[config]` plus `settings` over the program's `needs`, resolved against
/// the repository's schema.
pub fn resolve_recipe(
    r: &Recipe,
    needs: &[Need],
    settings: &Settings,
) -> Result<(Schema, Resolved)> {
    let schema = schema()?;
    let mut layers = need_layers(needs);
    layers.extend(recipe_layers(r, settings)?);
    let resolved = uk_kconfig::resolve(&schema, &layers)
        .map_err(|e| anyhow!("the configuration of {} does not resolve:\n{e}", r.name))?;
    Ok((schema, resolved))
}

/// The explicit settings of `resolved` (those a layer made, not defaults, selects or
/// needs) as a settings file for uk-cc (`$UK_CONFIG_FILE`): how `ukport build` hands a
/// recipe's configuration to the links its build system runs.
pub fn settings_file_text(resolved: &Resolved, needs: &[Need]) -> String {
    let from_need: Vec<String> = needs.iter().map(Need::reason).collect();
    let mut out = String::from("# kernel option settings (written by ukport for uk-cc)\n");
    for (name, s) in &resolved.values {
        let uk_kconfig::Origin::Layer { origin, .. } = &s.origin else {
            continue;
        };
        if from_need.contains(origin) {
            continue;
        }
        let v = match &s.value {
            uk_kconfig::Value::Bool(b) => toml::Value::Boolean(*b),
            uk_kconfig::Value::Int(i) => toml::Value::Integer(*i),
            uk_kconfig::Value::Size(n) => match i64::try_from(*n) {
                Ok(n) => toml::Value::Integer(n),
                Err(_) => toml::Value::String(uk_kconfig::format_size(*n)),
            },
            uk_kconfig::Value::Str(t) => toml::Value::String(t.clone()),
        };
        out.push_str(&format!("{} = {v}\n", toml::Value::String(name.clone())));
    }
    out
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
        let set = Layer::from_set(&schema, &["lib.net=true".into()]).unwrap();
        assert_eq!(resolve_link(&[], &[set]).unwrap().ports(), ["lwip"]);
        assert!(resolve_link(&[], &[]).unwrap().ports().is_empty());
    }

    fn socket_need() -> Need {
        Need {
            option: "lib.net".into(),
            symbol: "socket".into(),
            file: "srv.o".into(),
        }
    }

    /// A program's need turns its option on, says why, and loses to any explicit
    /// setting: `--uk-set lib.net=false` still forces networking off.
    #[test]
    fn needs_turn_options_on_below_explicit_settings() {
        let schema = schema().unwrap();
        assert!(
            schema
                .get("lib.net")
                .unwrap()
                .symbols
                .contains(&"socket".to_string()),
            "lib/net/options.toml lists socket"
        );
        let need = socket_need();
        let r = resolve_link(std::slice::from_ref(&need), &[]).unwrap();
        assert_eq!(r.get("lib.net"), Some(&uk_kconfig::Value::Bool(true)));
        assert_eq!(
            r.setting("lib.net").unwrap().origin.to_string(),
            "the program calls socket (srv.o)"
        );
        assert_eq!(r.ports(), ["lwip"]);
        assert_eq!(
            explain(&r, std::slice::from_ref(&need)),
            ["kernel option lib.net = true: the program calls socket (srv.o)"]
        );

        let mut off = Layer::from_set(&schema, &["lib.net=false".into()]).unwrap();
        off.origin = "--uk-set".into();
        let r = resolve_link(std::slice::from_ref(&need), &[off]).unwrap();
        assert_eq!(r.get("lib.net"), Some(&uk_kconfig::Value::Bool(false)));
        assert_eq!(
            explain(&r, std::slice::from_ref(&need)),
            ["kernel option lib.net = false (--uk-set), although the program calls socket (srv.o)"]
        );
        let none = resolve_link(&[], &[]).unwrap();
        assert!(explain(&none, &[])[0].contains("no optional library needed"));
    }

    /// What ukport hands uk-cc is the explicit settings only (not needs, not defaults),
    /// and reading it back gives the same configuration.
    #[test]
    fn settings_files_carry_explicit_settings() {
        let schema = schema().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let sets = Layer::from_set(
            &schema,
            &["uk.log_level=debug".into(), "plat.linuxu.memory=2G".into()],
        )
        .unwrap();
        let need = socket_need();
        let r = resolve_link(std::slice::from_ref(&need), &[sets]).unwrap();
        let text = settings_file_text(&r, std::slice::from_ref(&need));
        assert!(!text.contains("lib.net"), "{text}");
        assert!(text.contains("\"uk.log_level\" = \"debug\""), "{text}");
        let f = tmp.path().join("k.toml");
        std::fs::write(&f, &text).unwrap();
        let back = resolve_link(std::slice::from_ref(&need), &[file_layer(&f).unwrap()]).unwrap();
        assert_eq!(back.hash(), r.hash());

        std::fs::write(&f, "\"uk.log_levl\" = \"debug\"\n").unwrap();
        let e = resolve_link(&[], &[file_layer(&f).unwrap()]).unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains(&format!("{}:1", f.display())), "{e}");
        assert!(e.contains("uk.log_level"), "did you mean: {e}");
    }
}
