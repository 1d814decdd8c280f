//! Resolution: defaults, then layers in order (later wins), then `selects`, then the
//! `depends_on` and `conflicts` checks.
//!
//! Bool options are computed as the least fixed point of "on = (set true or selected by
//! an on option) and every dependency on". That makes the result independent of option
//! order, and a default-true option whose dependency is off simply stays off (shown as
//! "off: needs x"), so turning off a library does not require turning off every option
//! of it by hand. Contradictions that a user wrote (a false option that something
//! selects, a setting whose dependency is off, two conflicting options on) are errors
//! naming both options and where each got its value.

use crate::schema::Schema;
use crate::value::{OptionType, Value};
use crate::{line_of, Error};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

/// One source of settings: a recipe's `[config]`, an override file, or `--set` flags.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layer {
    /// Where the settings come from, as shown to users: a file path or `--set`.
    pub origin: String,
    /// `(option name, value, line in origin)` in the order written.
    pub values: Vec<(String, toml::Value, Option<usize>)>,
}

impl Layer {
    /// A layer with no settings yet.
    pub fn new(origin: impl Into<String>) -> Layer {
        Layer {
            origin: origin.into(),
            values: Vec::new(),
        }
    }

    /// Reads settings from TOML text, keeping the line of each: the whole document when
    /// `table` is `None` (an override file), else the table of that name (`Some("config")`
    /// for a recipe; a recipe without it gives an empty layer). Nested tables flatten
    /// into dotted names, so `"alloc.kind" = "tlsf"`, `alloc.kind = "tlsf"` and
    /// `[config.alloc] kind = "tlsf"` mean the same.
    pub fn from_toml(origin: &str, text: &str, table: Option<&str>) -> Result<Layer, Error> {
        let doc = toml_edit::ImDocument::parse(text).map_err(|e| Error::Parse {
            at: format!(
                "{origin}:{}",
                e.span().map(|s| line_of(text, s.start)).unwrap_or(1)
            ),
            message: e.message().trim().to_string(),
        })?;
        let mut layer = Layer::new(origin);
        let root = doc.as_table();
        let top: &dyn toml_edit::TableLike = match table {
            None => root,
            Some(key) => match root.get(key) {
                None => return Ok(layer),
                Some(item) => match item.as_table_like() {
                    Some(t) => t,
                    None => {
                        let line = item.span().map(|s| line_of(text, s.start)).unwrap_or(1);
                        return Err(Error::Parse {
                            at: format!("{origin}:{line}"),
                            message: format!("`{key}` must be a table of option = value"),
                        });
                    }
                },
            },
        };
        flatten(origin, text, "", top, &mut layer.values)?;
        Ok(layer)
    }

    /// Reads `name=value` arguments of `--set`, typed by the schema: bools accept
    /// true/false (also y/n, yes/no, on/off, 1/0), ints a decimal number, everything else
    /// is kept as text (sizes are parsed later, so `--set plat.linuxu.memory=2G` works).
    /// Unknown names and unparsable values are kept as text too; [`resolve`] then reports
    /// them with a suggestion, like any other layer.
    pub fn from_set(schema: &Schema, args: &[String]) -> Result<Layer, Error> {
        let mut layer = Layer::new("--set");
        for arg in args {
            let Some((name, raw)) = arg.split_once('=') else {
                return Err(Error::Parse {
                    at: "--set".to_string(),
                    message: format!("`{arg}` is not name=value (e.g. --set uk.log_level=debug)"),
                });
            };
            let (name, raw) = (name.trim(), raw.trim());
            let text = toml::Value::String(raw.to_string());
            let value = match schema.get(name).map(|o| o.ty) {
                Some(OptionType::Bool) => match raw.to_ascii_lowercase().as_str() {
                    "true" | "y" | "yes" | "on" | "1" => toml::Value::Boolean(true),
                    "false" | "n" | "no" | "off" | "0" => toml::Value::Boolean(false),
                    _ => text,
                },
                Some(OptionType::Int) => raw.parse().map(toml::Value::Integer).unwrap_or(text),
                _ => text,
            };
            layer.values.push((name.to_string(), value, None));
        }
        Ok(layer)
    }

    fn at(&self, line: Option<usize>) -> String {
        match line {
            Some(l) => format!("{}:{l}", self.origin),
            None => self.origin.clone(),
        }
    }
}

fn flatten(
    origin: &str,
    text: &str,
    prefix: &str,
    table: &dyn toml_edit::TableLike,
    out: &mut Vec<(String, toml::Value, Option<usize>)>,
) -> Result<(), Error> {
    for (key, item) in table.iter() {
        let name = if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        };
        let span = table
            .key(key)
            .and_then(|k| k.span())
            .or_else(|| item.span());
        let line = span.map(|s| line_of(text, s.start));
        if let Some(sub) = item.as_table_like() {
            flatten(origin, text, &name, sub, out)?;
        } else if let Some(v) = item.as_value() {
            out.push((name, convert(v), line));
        } else {
            return Err(Error::Parse {
                at: format!("{origin}:{}", line.unwrap_or(1)),
                message: format!("`{name}` must be option = value, not an array of tables"),
            });
        }
    }
    Ok(())
}

/// toml_edit's value (which keeps spans) to the plain `toml::Value` layers carry.
fn convert(v: &toml_edit::Value) -> toml::Value {
    use toml_edit::Value as E;
    match v {
        E::String(s) => toml::Value::String(s.value().clone()),
        E::Integer(i) => toml::Value::Integer(*i.value()),
        E::Float(f) => toml::Value::Float(*f.value()),
        E::Boolean(b) => toml::Value::Boolean(*b.value()),
        E::Datetime(d) => toml::Value::String(d.value().to_string()),
        E::Array(a) => toml::Value::Array(a.iter().map(convert).collect()),
        E::InlineTable(t) => {
            toml::Value::Table(t.iter().map(|(k, v)| (k.to_string(), convert(v))).collect())
        }
    }
}

/// Where a resolved value came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    /// The schema default.
    Default,
    /// A layer: its origin (file path or `--set`) and the line, if any.
    Layer {
        /// File path or `--set`.
        origin: String,
        /// Line in that file.
        line: Option<usize>,
    },
    /// Forced true by this (true) option's `selects`.
    Selected {
        /// The selecting option.
        by: String,
    },
    /// A bool whose default is true but which is off because this dependency is off.
    Unmet {
        /// The first unmet dependency.
        needs: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::Layer {
                origin,
                line: Some(l),
            } => write!(f, "{origin}:{l}"),
            Origin::Layer { origin, line: None } => f.write_str(origin),
            Origin::Selected { by } => write!(f, "selected by {by}"),
            Origin::Unmet { needs } => write!(f, "off: needs {needs}"),
        }
    }
}

/// A resolved value and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    /// The value.
    pub value: Value,
    /// Where it came from.
    pub origin: Origin,
}

/// A complete, consistent configuration: one value for every option of the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Every option by name.
    pub values: BTreeMap<String, Setting>,
    features: Vec<String>,
    ports: Vec<String>,
}

/// The JSON form: hash first so a human can match it with a kernel cache folder.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Json {
    hash: String,
    features: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ports: Vec<String>,
    values: BTreeMap<String, Setting>,
}

impl Resolved {
    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).map(|s| &s.value)
    }

    /// The value of `name` with its origin.
    pub fn setting(&self, name: &str) -> Option<&Setting> {
        self.values.get(name)
    }

    /// Cargo features of `uk-image` to enable: the `feature` of every true bool option,
    /// sorted and without duplicates.
    pub fn features(&self) -> Vec<String> {
        self.features.clone()
    }

    /// Ports the kernel links: the `ports` of every true bool option, sorted and without
    /// duplicates. Not part of [`Resolved::hash`]: the schema derives them from the
    /// values, and a schema change rebuilds kernels through their source stamp anyway.
    pub fn ports(&self) -> Vec<String> {
        self.ports.clone()
    }

    /// 16 hex chars identifying the configuration: a SHA-256 over every name, type and
    /// value plus the features, not over origins (the same configuration reached through
    /// different files is the same kernel). Kernel builds are cached under it.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        for (name, s) in &self.values {
            let v = match &s.value {
                Value::Bool(b) => format!("bool:{b}"),
                Value::Int(i) => format!("int:{i}"),
                Value::Size(n) => format!("size:{n}"),
                Value::Str(t) => format!("str:{}", serde_json::Value::String(t.clone())),
            };
            h.update(format!("{name}={v}\n").as_bytes());
        }
        for f in &self.features {
            h.update(format!("feature:{f}\n").as_bytes());
        }
        hex::encode(h.finalize())[..16].to_string()
    }

    /// Pretty JSON with the hash, the features and every value with its origin; what the
    /// toolchain writes for `uk-config`'s build script (`UK_CONFIG`).
    pub fn to_json(&self) -> String {
        let json = Json {
            hash: self.hash(),
            features: self.features.clone(),
            ports: self.ports.clone(),
            values: self.values.clone(),
        };
        // Serializing plain strings, numbers and maps cannot fail.
        serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
    }

    /// Reads [`Resolved::to_json`] output back. The stored hash must match the values:
    /// the file is written by the toolchain, and a mismatch means it was edited or
    /// truncated, so it is rejected rather than building a kernel nobody asked for.
    pub fn from_json(text: &str) -> Result<Resolved, Error> {
        let json: Json = serde_json::from_str(text)
            .map_err(|e| Error::Resolved(format!("not a resolved configuration: {e}")))?;
        let r = Resolved {
            values: json.values,
            features: json.features,
            ports: json.ports,
        };
        if r.hash() != json.hash {
            return Err(Error::Resolved(format!(
                "hash {} does not match its values (computed {}); regenerate it with ukport",
                json.hash,
                r.hash()
            )));
        }
        Ok(r)
    }

    /// Checks that this configuration has exactly the options of `schema`, with values
    /// of the right types: a configuration resolved before an options.toml changed
    /// would otherwise produce missing or mistyped constants deep inside a kernel build.
    pub fn check_schema(&self, schema: &Schema) -> Result<(), Error> {
        let mut problems = Vec::new();
        for opt in schema.options() {
            match self.get(&opt.name) {
                None => problems.push(format!("`{}` ({}) is missing", opt.name, opt.location())),
                Some(v) if !v.fits(opt.ty) => problems.push(format!(
                    "`{}` is {v}, but {} declares it as {}",
                    opt.name,
                    opt.location(),
                    opt.ty
                )),
                Some(_) => {}
            }
        }
        for name in self.values.keys() {
            if schema.get(name).is_none() {
                problems.push(format!("`{name}` is not declared by any options.toml"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Resolved(format!(
                "out of date with the options.toml files ({}); resolve it again (ukport config)",
                problems.join("; ")
            )))
        }
    }
}

/// Type-, range- and choice-checks a layer value for `def`.
fn check_value(def: &crate::OptionDef, v: &toml::Value) -> Result<Value, String> {
    let value = Value::from_toml(def.ty, v)?;
    if let Some((lo, hi)) = &def.range {
        if let Some(m) = crate::schema::out_of_range(&value, lo, hi) {
            return Err(m);
        }
    }
    if def.ty == OptionType::Choice {
        let s = value.as_str().unwrap_or_default();
        if !def.choices.iter().any(|c| c == s) {
            return Err(format!("`{s}` is not one of {}", def.choices.join(", ")));
        }
    }
    Ok(value)
}

/// Resolves `layers` (applied in order, later wins) over the defaults of `schema`.
///
/// All problems of one stage are reported together: first every unknown option and bad
/// value of the layers; if there are none, every contradiction.
pub fn resolve(schema: &Schema, layers: &[Layer]) -> Result<Resolved, Error> {
    let mut base: BTreeMap<&str, Setting> = schema
        .options()
        .iter()
        .map(|o| {
            (
                o.name.as_str(),
                Setting {
                    value: o.default.clone(),
                    origin: Origin::Default,
                },
            )
        })
        .collect();
    let mut explicit: HashSet<&str> = HashSet::new();
    let mut errors = Vec::new();
    for layer in layers {
        for (name, v, line) in &layer.values {
            let at = layer.at(*line);
            let Some(def) = schema.get(name) else {
                errors.push(Error::UnknownOption {
                    at,
                    name: name.clone(),
                    suggestion: schema.suggest(name),
                });
                continue;
            };
            match check_value(def, v) {
                Ok(value) => {
                    base.insert(
                        def.name.as_str(),
                        Setting {
                            value,
                            origin: Origin::Layer {
                                origin: layer.origin.clone(),
                                line: *line,
                            },
                        },
                    );
                    explicit.insert(def.name.as_str());
                }
                Err(message) => errors.push(Error::BadValue {
                    at,
                    name: name.clone(),
                    message,
                }),
            }
        }
    }
    Error::collect(errors)?;

    // Least fixed point of the bool options (see the module comment).
    let mut on: HashSet<&str> = HashSet::new();
    let mut selected_by: HashMap<&str, &str> = HashMap::new();
    loop {
        let mut changed = false;
        for def in schema.options().iter().filter(|o| o.ty == OptionType::Bool) {
            let name = def.name.as_str();
            if on.contains(name) {
                continue;
            }
            let wanted = base[name].value == Value::Bool(true) || selected_by.contains_key(name);
            let active = def.depends_on.iter().all(|d| on.contains(d.as_str()));
            if wanted && active {
                on.insert(name);
                changed = true;
                for s in &def.selects {
                    selected_by.entry(s.as_str()).or_insert(name);
                }
            }
        }
        if !changed {
            break;
        }
    }

    let unmet = |name: &str| -> Option<&str> {
        schema.get(name).and_then(|d| {
            d.depends_on
                .iter()
                .map(String::as_str)
                .find(|d| !on.contains(d))
        })
    };
    let mut values = BTreeMap::new();
    for def in schema.options() {
        let name = def.name.as_str();
        let b = &base[name];
        let setting = if def.ty != OptionType::Bool {
            b.clone()
        } else if on.contains(name) {
            match (&b.value, selected_by.get(name)) {
                (Value::Bool(true), _) => b.clone(),
                (_, Some(by)) => Setting {
                    value: Value::Bool(true),
                    origin: Origin::Selected { by: by.to_string() },
                },
                _ => b.clone(),
            }
        } else if b.value == Value::Bool(true) && !explicit.contains(name) {
            Setting {
                value: Value::Bool(false),
                origin: Origin::Unmet {
                    needs: unmet(name).unwrap_or_default().to_string(),
                },
            }
        } else {
            Setting {
                value: Value::Bool(false),
                origin: b.origin.clone(),
            }
        };
        values.insert(def.name.clone(), setting);
    }
    let at = |name: &str| -> String {
        values
            .get(name)
            .map(|s: &Setting| s.origin.to_string())
            .unwrap_or_default()
    };

    let mut errors = Vec::new();
    for def in schema.options() {
        let name = def.name.as_str();
        let b = &base[name];
        // A false the user wrote, overridden by a select.
        if explicit.contains(name) && b.value == Value::Bool(false) {
            if let Some(by) = selected_by.get(name) {
                errors.push(Error::SelectedButDisabled {
                    option: name.to_string(),
                    option_at: b.origin.to_string(),
                    selector: by.to_string(),
                    selector_at: at(by),
                });
                continue;
            }
        }
        // A select that cannot take effect because the target's dependency is off.
        if let (Some(by), false) = (selected_by.get(name), on.contains(name)) {
            let needs = unmet(name).unwrap_or_default();
            errors.push(Error::SelectDependsUnmet {
                selector: by.to_string(),
                selector_at: at(by),
                option: name.to_string(),
                needs: needs.to_string(),
                needs_at: at(needs),
            });
            continue;
        }
        // A setting the user wrote on an option whose dependency is off (a bool set to
        // false is consistent with that and allowed).
        let setting_matters = def.ty != OptionType::Bool || b.value == Value::Bool(true);
        if explicit.contains(name) && setting_matters {
            if let Some(needs) = unmet(name) {
                errors.push(Error::DependsUnmet {
                    option: name.to_string(),
                    option_at: b.origin.to_string(),
                    needs: needs.to_string(),
                    needs_at: at(needs),
                });
            }
        }
    }
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    for def in schema.options() {
        let a = def.name.as_str();
        if !on.contains(a) {
            continue;
        }
        for b in def.conflicts.iter().map(String::as_str) {
            let pair = if a < b { (a, b) } else { (b, a) };
            if on.contains(b) && seen.insert(pair) {
                errors.push(Error::Conflict {
                    a: a.to_string(),
                    a_at: at(a),
                    b: b.to_string(),
                    b_at: at(b),
                });
            }
        }
    }
    Error::collect(errors)?;

    let features: BTreeSet<String> = schema
        .options()
        .iter()
        .filter(|o| on.contains(o.name.as_str()))
        .filter_map(|o| o.feature.clone())
        .collect();
    let ports: BTreeSet<String> = schema
        .options()
        .iter()
        .filter(|o| on.contains(o.name.as_str()))
        .flat_map(|o| o.ports.iter().cloned())
        .collect();
    Ok(Resolved {
        values,
        features: features.into_iter().collect(),
        ports: ports.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::tests::schema;

    /// lib.vfs (feature) selects lib.log; vfs.max_files and vfs.hostfs depend on lib.vfs;
    /// vfs.hostfs (default true) conflicts with vfs.ninep; alloc.* are plain values.
    const S: &str = r#"
[[option]]
name = "lib.vfs"
type = "bool"
help = "File systems."
feature = "lib-vfs"
selects = ["lib.log"]
ports = ["fatlib"]

[[option]]
name = "lib.log"
type = "bool"
help = "Kernel log."
feature = "lib-log"
ports = ["fatlib", "logc"]

[[option]]
name = "vfs.max_files"
type = "int"
default = 64
range = [1, 4096]
help = "Open files."
depends_on = ["lib.vfs"]

[[option]]
name = "vfs.hostfs"
type = "bool"
default = true
help = "Host directories."
depends_on = ["lib.vfs"]
conflicts = ["vfs.ninep"]
feature = "hostfs"

[[option]]
name = "vfs.ninep"
type = "bool"
help = "9p."
depends_on = ["lib.vfs"]

[[option]]
name = "alloc.heap_min"
type = "size"
default = "1M"
range = ["64K", "1G"]
help = "Heap."

[[option]]
name = "alloc.kind"
type = "choice"
choices = ["tlsf", "bitmap"]
default = "bitmap"
help = "Kind."

[[option]]
name = "uk.nodename"
type = "string"
default = "ukit"
help = "uname."
"#;

    fn s() -> Schema {
        schema(&[("lib/t/options.toml", S)]).unwrap()
    }

    fn layer(origin: &str, text: &str) -> Layer {
        Layer::from_toml(origin, text, None).unwrap()
    }

    fn res(layers: &[Layer]) -> Result<Resolved, Error> {
        resolve(&s(), layers)
    }

    fn err(layers: &[Layer]) -> String {
        res(layers).expect_err("should be rejected").to_string()
    }

    #[test]
    fn defaults_only() {
        let r = res(&[]).unwrap();
        assert_eq!(r.get("lib.vfs"), Some(&Value::Bool(false)));
        assert_eq!(r.get("alloc.heap_min"), Some(&Value::Size(1 << 20)));
        assert_eq!(r.get("uk.nodename"), Some(&Value::Str("ukit".into())));
        // Default true, but its dependency is off: off, and says why.
        let h = r.setting("vfs.hostfs").unwrap();
        assert_eq!(h.value, Value::Bool(false));
        assert_eq!(
            h.origin,
            Origin::Unmet {
                needs: "lib.vfs".into()
            }
        );
        assert_eq!(r.setting("alloc.kind").unwrap().origin, Origin::Default);
        assert!(r.features().is_empty());
        assert!(r.ports().is_empty());
        assert_eq!(r.values.len(), s().options().len());
    }

    #[test]
    fn layers_apply_in_order_and_selects_follow() {
        let recipe = layer(
            "recipes/app.toml",
            "\"lib.vfs\" = true\nalloc.heap_min = \"4M\"\n\"uk.nodename\" = \"app\"\n",
        );
        let set = Layer::from_set(&s(), &["alloc.heap_min=8M".to_string()]).unwrap();
        let r = res(&[recipe, set]).unwrap();
        assert_eq!(r.get("alloc.heap_min"), Some(&Value::Size(8 << 20)));
        assert_eq!(
            r.setting("alloc.heap_min").unwrap().origin,
            Origin::Layer {
                origin: "--set".into(),
                line: None
            }
        );
        assert_eq!(
            r.setting("uk.nodename").unwrap().origin.to_string(),
            "recipes/app.toml:3"
        );
        assert_eq!(
            r.setting("lib.log").unwrap().origin,
            Origin::Selected {
                by: "lib.vfs".into()
            }
        );
        // Its dependency is on now, so the default-true option is on.
        assert_eq!(r.get("vfs.hostfs"), Some(&Value::Bool(true)));
        assert_eq!(r.features(), ["hostfs", "lib-log", "lib-vfs"]);
        assert_eq!(
            r.ports(),
            ["fatlib", "logc"],
            "selected options bring theirs"
        );
    }

    #[test]
    fn sizes_and_ints_accept_their_forms() {
        for (text, want) in [
            ("\"4096\"", 4096u64),
            ("\"4K\"", 4096),
            ("65536", 65536),
            ("\"1G\"", 1 << 30),
        ] {
            let r = res(&[layer("o.toml", &format!("alloc.heap_min = {text}\n"))]);
            let r = match r {
                Ok(r) => r,
                // 4096 is below the 64K minimum: the error must say so.
                Err(e) => {
                    assert!(want < 64 << 10, "{text}: {e}");
                    assert!(e.to_string().contains("outside its range [64K, 1G]"), "{e}");
                    continue;
                }
            };
            assert_eq!(r.get("alloc.heap_min"), Some(&Value::Size(want)), "{text}");
        }
        let r = res(&[layer(
            "o.toml",
            "\"lib.vfs\" = true\n\"vfs.max_files\" = 100\n",
        )])
        .unwrap();
        assert_eq!(r.get("vfs.max_files"), Some(&Value::Int(100)));
    }

    #[test]
    fn unknown_options_suggest_a_name() {
        let e = err(&[layer("recipes/app.toml", "\n\"alloc.knd\" = \"tlsf\"\n")]);
        assert_eq!(
            e,
            "recipes/app.toml:2: unknown option `alloc.knd` (did you mean `alloc.kind`?)"
        );
        let e = err(&[layer("recipes/app.toml", "\"zz.q\" = 1\n")]);
        assert!(e.contains("unknown option `zz.q` (ukport config"), "{e}");
        let set = Layer::from_set(&s(), &["uk.nodenam=x".to_string()]).unwrap();
        assert_eq!(
            res(&[set]).unwrap_err().to_string(),
            "--set: unknown option `uk.nodenam` (did you mean `uk.nodename`?)"
        );
    }

    #[test]
    fn bad_values_name_origin_line_and_option() {
        let cases = [
            ("\"lib.vfs\" = \"yes\"", "option `lib.vfs`: expected a bool"),
            (
                "\"alloc.heap_min\" = \"lots\"",
                "option `alloc.heap_min`: `lots` is not a size",
            ),
            (
                "\"alloc.heap_min\" = \"2G\"",
                "2G is outside its range [64K, 1G]",
            ),
            (
                "\"alloc.kind\" = \"slab\"",
                "`slab` is not one of tlsf, bitmap",
            ),
            ("\"uk.nodename\" = 7", "expected a string"),
            ("\"vfs.max_files\" = 0", "0 is outside its range [1, 4096]"),
            ("\"vfs.max_files\" = \"many\"", "expected an integer"),
        ];
        for (line, want) in cases {
            let e = err(&[layer("over.toml", &format!("# c\n{line}\n"))]);
            assert!(e.starts_with("over.toml:2: "), "{e}");
            assert!(e.contains(want), "{line}: {e}");
        }
        let set = Layer::from_set(&s(), &["vfs.max_files=lots".to_string()]).unwrap();
        let e = res(&[set]).unwrap_err().to_string();
        assert!(
            e.starts_with("--set: option `vfs.max_files`: expected an integer"),
            "{e}"
        );
    }

    #[test]
    fn all_layer_errors_come_together() {
        let e = res(&[layer("a.toml", "\"x.y\" = 1\n\"lib.vfs\" = 3\n")]).unwrap_err();
        assert_eq!(e.flatten().len(), 2, "{e}");
    }

    #[test]
    fn explicit_false_that_is_selected_names_both() {
        let e = err(&[layer(
            "recipes/app.toml",
            "\"lib.vfs\" = true\n\"lib.log\" = false\n",
        )]);
        assert_eq!(
            e,
            "`lib.log` is set to false (recipes/app.toml:2), but `lib.vfs` (recipes/app.toml:1) \
             selects it: remove the setting of `lib.log` or set `lib.vfs` to false"
        );
    }

    #[test]
    fn settings_with_unmet_dependencies_name_both() {
        let e = err(&[layer("recipes/app.toml", "\"vfs.max_files\" = 8\n")]);
        assert_eq!(
            e,
            "`vfs.max_files` is set (recipes/app.toml:1), but it depends on `lib.vfs`, which is \
             false (default): set `lib.vfs` to true or remove the setting of `vfs.max_files`"
        );
        let e = err(&[
            layer(
                "recipes/app.toml",
                "\"lib.vfs\" = true\n\"vfs.ninep\" = true\n\"vfs.hostfs\" = false\n",
            ),
            Layer::from_set(&s(), &["lib.vfs=n".to_string()]).unwrap(),
        ]);
        assert!(e.contains("`vfs.ninep` is set (recipes/app.toml:2)"), "{e}");
        assert!(e.contains("`lib.vfs`, which is false (--set)"), "{e}");
        // Setting a bool to false under an unmet dependency is consistent: allowed.
        let r = res(&[layer("a.toml", "\"vfs.ninep\" = false\n")]).unwrap();
        assert_eq!(r.get("vfs.ninep"), Some(&Value::Bool(false)));
    }

    #[test]
    fn selecting_an_option_with_unmet_dependency_names_all() {
        let text = format!(
            "{S}\n[[option]]\nname = \"net.on\"\ntype = \"bool\"\nhelp = \"h\"\nselects = [\"vfs.ninep\"]\n"
        );
        let sc = schema(&[("lib/t/options.toml", &text)]).unwrap();
        let e = resolve(&sc, &[layer("r.toml", "\"net.on\" = true\n")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "`net.on` (r.toml:1) selects `vfs.ninep`, but `vfs.ninep` depends on `lib.vfs`, \
             which is false (default): set `lib.vfs` to true or `net.on` to false"
        );
        // With the dependency on, the select takes effect.
        let r = resolve(
            &sc,
            &[layer(
                "r.toml",
                "\"net.on\" = true\n\"lib.vfs\" = true\n\"vfs.hostfs\" = false\n",
            )],
        )
        .unwrap();
        assert_eq!(
            r.setting("vfs.ninep").unwrap().origin.to_string(),
            "selected by net.on"
        );
    }

    #[test]
    fn conflicts_name_both() {
        let e = err(&[layer(
            "r.toml",
            "\"lib.vfs\" = true\n\"vfs.ninep\" = true\n",
        )]);
        assert_eq!(
            e,
            "`vfs.hostfs` (default) conflicts with `vfs.ninep` (r.toml:2): set one of them to false"
        );
    }

    #[test]
    fn selects_are_transitive_and_order_independent() {
        let text = r#"
[[option]]
name = "a.z"
type = "bool"
help = "h"
selects = ["a.y"]
[[option]]
name = "a.y"
type = "bool"
help = "h"
depends_on = ["a.x"]
selects = ["a.w"]
[[option]]
name = "a.x"
type = "bool"
help = "h"
[[option]]
name = "a.w"
type = "bool"
help = "h"
feature = "w"
"#;
        let sc = schema(&[("lib/t/options.toml", text)]).unwrap();
        let r = resolve(&sc, &[layer("r.toml", "a.z = true\na.x = true\n")]).unwrap();
        assert_eq!(r.get("a.w"), Some(&Value::Bool(true)));
        assert_eq!(
            r.setting("a.w").unwrap().origin.to_string(),
            "selected by a.y"
        );
        assert_eq!(r.features(), ["w"]);
    }

    #[test]
    fn from_toml_reads_a_recipe_table_with_lines() {
        let recipe = "name = \"app\"\n[run]\nmemory = \"64M\"\n[config]\n\"alloc.kind\" = \"tlsf\"\nalloc.heap_min = \"2M\"\n[config.uk]\nnodename = \"n\"\n";
        let l = Layer::from_toml("recipes/app.toml", recipe, Some("config")).unwrap();
        assert_eq!(
            l.values,
            vec![
                (
                    "alloc.kind".to_string(),
                    toml::Value::String("tlsf".into()),
                    Some(5)
                ),
                (
                    "alloc.heap_min".to_string(),
                    toml::Value::String("2M".into()),
                    Some(6)
                ),
                (
                    "uk.nodename".to_string(),
                    toml::Value::String("n".into()),
                    Some(8)
                ),
            ]
        );
        let none = Layer::from_toml("r.toml", "name = \"x\"\n", Some("config")).unwrap();
        assert!(none.values.is_empty());
        let e = Layer::from_toml("r.toml", "config = 3\n", Some("config")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("r.toml:1: `config` must be a table"),
            "{e}"
        );
        let e = Layer::from_toml("r.toml", "a = 1\nb = \n", None).unwrap_err();
        assert!(e.to_string().starts_with("r.toml:2:"), "{e}");
        let e = Layer::from_toml("r.toml", "[[x]]\na = 1\n", None).unwrap_err();
        assert!(e.to_string().contains("array of tables"), "{e}");
    }

    #[test]
    fn from_set_types_by_schema() {
        let args: Vec<String> = [
            "lib.vfs=yes",
            "vfs.max_files=12",
            "alloc.heap_min=2M",
            "uk.nodename=true",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let l = Layer::from_set(&s(), &args).unwrap();
        assert_eq!(l.values[0].1, toml::Value::Boolean(true));
        assert_eq!(l.values[1].1, toml::Value::Integer(12));
        assert_eq!(l.values[2].1, toml::Value::String("2M".into()));
        assert_eq!(l.values[3].1, toml::Value::String("true".into()));
        let r = res(&[l]).unwrap();
        assert_eq!(r.get("uk.nodename"), Some(&Value::Str("true".into())));
        let e = Layer::from_set(&s(), &["novalue".to_string()]).unwrap_err();
        assert!(e.to_string().contains("not name=value"), "{e}");
    }

    #[test]
    fn hash_is_stable_over_values_not_origins() {
        let a = res(&[layer("a.toml", "\"uk.nodename\" = \"x\"\n")]).unwrap();
        let b = res(&[Layer::from_set(&s(), &["uk.nodename=x".to_string()]).unwrap()]).unwrap();
        let c = res(&[layer("a.toml", "\"uk.nodename\" = \"y\"\n")]).unwrap();
        assert_eq!(a.hash().len(), 16);
        assert!(a.hash().chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
        assert_ne!(a.hash(), res(&[]).unwrap().hash());
    }

    #[test]
    fn json_round_trip_and_tamper_check() {
        let r = res(&[layer("a.toml", "\"lib.vfs\" = true\n")]).unwrap();
        let text = r.to_json();
        let back = Resolved::from_json(&text).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.features(), r.features());
        assert_eq!(back.ports(), ["fatlib", "logc"]);
        assert!(text.contains(&format!("\"hash\": \"{}\"", r.hash())));
        let tampered = text.replace("\"ukit\"", "\"other\"");
        assert_ne!(tampered, text);
        let e = Resolved::from_json(&tampered).unwrap_err().to_string();
        assert!(e.contains("does not match its values"), "{e}");
        let e = Resolved::from_json("{}").unwrap_err().to_string();
        assert!(e.contains("not a resolved configuration"), "{e}");
    }

    #[test]
    fn check_schema_spots_stale_configurations() {
        let r = res(&[]).unwrap();
        r.check_schema(&s()).unwrap();
        let text = format!("{S}\n[[option]]\nname = \"uk.new\"\ntype = \"bool\"\nhelp = \"h\"\n");
        let bigger = schema(&[("lib/t/options.toml", &text)]).unwrap();
        let e = r.check_schema(&bigger).unwrap_err().to_string();
        assert!(
            e.contains("`uk.new` (lib/t/options.toml:") && e.contains("missing"),
            "{e}"
        );
        let mut odd = r.clone();
        odd.values.get_mut("uk.nodename").unwrap().value = Value::Int(3);
        let e = odd.check_schema(&s()).unwrap_err().to_string();
        assert!(e.contains("`uk.nodename` is 3, but"), "{e}");
        let mut extra = r.clone();
        extra
            .values
            .insert("gone.opt".into(), r.values["lib.vfs"].clone());
        let e = extra.check_schema(&s()).unwrap_err().to_string();
        assert!(e.contains("`gone.opt` is not declared"), "{e}");
    }
}
