//! The option schema: every `options.toml` of the kernel crates, parsed and validated.
//!
//! Validation happens once, here, so that resolution and the future menuconfig can trust
//! the schema: names are unique, defaults fit their type and range, every option named in
//! `depends_on`/`selects`/`conflicts` exists and is a bool, and neither `selects` nor
//! `depends_on` forms a cycle. Every error names the `file:line` to fix.

use crate::value::{OptionType, Value};
use crate::{line_of, suggest, Error};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The top-level folders of the repository that hold kernel crates with `options.toml`.
pub const SCHEMA_DIRS: [&str; 5] = ["arch", "plat", "lib", "posix", "syscall-shim"];

/// Constant names that generated code defines besides the options, so no option may map
/// to them.
const RESERVED_CONSTS: [&str; 1] = ["CONFIG_HASH"];

/// One declared option, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionDef {
    /// Dotted, globally unique name; the first segment is its menu.
    pub name: String,
    /// Its type.
    pub ty: OptionType,
    /// The value when nothing sets it.
    pub default: Value,
    /// Why a user would change it (shown by menuconfig, emitted as doc comment).
    pub help: String,
    /// Short label for menuconfig; `None` means use the name.
    pub prompt: Option<String>,
    /// Inclusive bounds for int and size options.
    pub range: Option<(Value, Value)>,
    /// The allowed values of a choice option, in declaration order.
    pub choices: Vec<String>,
    /// Bool options that must be true for this option to be set or to be true.
    pub depends_on: Vec<String>,
    /// Bool options forced true when this (bool) option is true.
    pub selects: Vec<String>,
    /// Bool options that may not be true together with this (bool) option.
    pub conflicts: Vec<String>,
    /// Cargo feature of `uk-image` enabled when this bool option is true.
    pub feature: Option<String>,
    /// Ports (recipes of C libraries) the kernel links when this bool option is true:
    /// the toolchain installs them before it builds the kernel.
    pub ports: Vec<String>,
    /// C functions (libc's, as a program calls them) whose use turns this bool option on:
    /// `uk-cc` and `ukport build` look at the symbols a program's objects leave
    /// undefined and link a kernel with every option a used function names, so that a
    /// program calling `socket` gets networking without a flag (docs/config.md).
    pub symbols: Vec<String>,
    /// Platforms on which the option means something; empty means all.
    pub platforms: Vec<String>,
    /// The options.toml that declares it.
    pub file: PathBuf,
    /// The line of its `name = ...`.
    pub line: usize,
}

impl OptionDef {
    /// `file:line` of the declaration.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }

    /// The menu this option belongs to: the first segment of its name.
    pub fn menu(&self) -> &str {
        self.name.split('.').next().unwrap_or(&self.name)
    }
}

/// The options one options.toml contributes to one menu, with that file's `[menu]` text.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// The options.toml.
    pub file: PathBuf,
    /// `[menu] title` of that file, if any.
    pub title: Option<String>,
    /// `[menu] help` of that file, if any.
    pub help: Option<String>,
    /// Option names in file order.
    pub options: Vec<String>,
}

/// A top-level menu: all options whose names share a first segment.
#[derive(Clone, Debug, PartialEq)]
pub struct Menu {
    /// The first name segment (`alloc` for `alloc.heap_min`).
    pub name: String,
    /// The `[menu] title` when one file makes up the menu, else the name: several crates
    /// sharing a segment (plat.linuxu, plat.kvm) keep their own titles in `sections`.
    pub title: String,
    /// The `[menu] help` under the same rule as `title`.
    pub help: Option<String>,
    /// One section per contributing file, in path order.
    pub sections: Vec<Section>,
}

/// All options of the tree, in a stable order (files by path, options in file order).
#[derive(Clone, Debug, Default)]
pub struct Schema {
    options: Vec<OptionDef>,
    index: HashMap<String, usize>,
    files: Vec<PathBuf>,
    menus_of_files: Vec<(PathBuf, Option<String>, Option<String>)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    menu: Option<RawMenu>,
    #[serde(default)]
    option: Vec<RawOption>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMenu {
    title: Option<String>,
    help: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOption {
    name: Spanned<String>,
    #[serde(rename = "type")]
    ty: Spanned<String>,
    default: Option<Spanned<toml::Value>>,
    help: Option<Spanned<String>>,
    range: Option<Spanned<Vec<toml::Value>>>,
    choices: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    depends_on: Vec<Spanned<String>>,
    #[serde(default)]
    selects: Vec<Spanned<String>>,
    #[serde(default)]
    conflicts: Vec<Spanned<String>>,
    feature: Option<Spanned<String>>,
    #[serde(default)]
    ports: Vec<Spanned<String>>,
    #[serde(default)]
    symbols: Vec<Spanned<String>>,
    prompt: Option<String>,
    #[serde(default)]
    platforms: Vec<String>,
}

/// A reference from one option to another, kept with its line for errors.
struct Ref {
    target: String,
    line: usize,
}

/// Per-option references, checked after every file is read.
struct Refs {
    depends_on: Vec<Ref>,
    selects: Vec<Ref>,
    conflicts: Vec<Ref>,
}

/// The constant name generated for an option: `alloc.heap_min` -> `ALLOC_HEAP_MIN`.
pub fn const_name(option: &str) -> String {
    option.replace('.', "_").to_ascii_uppercase()
}

fn valid_name(name: &str) -> bool {
    let segs: Vec<&str> = name.split('.').collect();
    segs.len() >= 2
        && segs.iter().all(|s| {
            let mut c = s.chars();
            matches!(c.next(), Some('a'..='z'))
                && c.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        })
}

/// A recipe name: lower-case letters, digits, `-`, `_` and `.`, starting with a letter
/// (it names `recipes/<name>.toml` and an environment variable).
fn valid_port(p: &str) -> bool {
    let mut c = p.chars();
    matches!(c.next(), Some('a'..='z'))
        && c.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-' | '_' | '.'))
}

/// A C identifier (the name of a function a program may call).
fn valid_symbol(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some('a'..='z' | 'A'..='Z' | '_'))
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn valid_feature(f: &str) -> bool {
    !f.is_empty()
        && f.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Schema {
    /// Finds and validates every `options.toml` under the [`SCHEMA_DIRS`] of `repo_root`
    /// (skipping `target` and hidden directories). Paths in messages are relative to
    /// `repo_root`.
    pub fn load(repo_root: &Path) -> Result<Schema, Error> {
        let mut found = Vec::new();
        for dir in SCHEMA_DIRS {
            let d = repo_root.join(dir);
            if d.is_dir() {
                find_option_files(&d, &mut found)?;
            }
        }
        found.sort();
        let mut files = Vec::new();
        for path in found {
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let rel = path.strip_prefix(repo_root).unwrap_or(&path).to_path_buf();
            files.push((rel, text));
        }
        Schema::from_files(&files)
    }

    /// Builds a schema from `(path, contents)` pairs; `path` only serves messages and the
    /// menu sections. This is what [`Schema::load`] uses after reading the files, and what
    /// tests use with small schemas.
    pub fn from_files(files: &[(PathBuf, String)]) -> Result<Schema, Error> {
        let mut schema = Schema::default();
        let mut errors = Vec::new();
        let mut refs: Vec<Refs> = Vec::new();
        for (path, text) in files {
            schema.files.push(path.clone());
            let raw: RawFile = match toml::from_str(text) {
                Ok(r) => r,
                Err(e) => {
                    let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
                    errors.push(Error::Parse {
                        at: format!("{}:{line}", path.display()),
                        message: e.message().to_string(),
                    });
                    continue;
                }
            };
            let (title, help) = match raw.menu {
                Some(m) => (m.title, m.help),
                None => (None, None),
            };
            schema.menus_of_files.push((path.clone(), title, help));
            for opt in raw.option {
                if let Some((def, r)) = check_option(path, text, opt, &mut errors) {
                    if let Some(&first) = schema.index.get(&def.name) {
                        errors.push(Error::Schema {
                            at: def.location(),
                            message: format!(
                                "option `{}` is declared twice; the first declaration is at {}",
                                def.name,
                                schema.options[first].location()
                            ),
                        });
                        continue;
                    }
                    schema.index.insert(def.name.clone(), schema.options.len());
                    schema.options.push(def);
                    refs.push(r);
                }
            }
        }
        schema.check_refs(&refs, &mut errors);
        schema.check_const_names(&mut errors);
        if errors.is_empty() {
            schema.check_cycles(&mut errors);
        }
        if errors.is_empty() {
            schema.check_select_conflicts(&mut errors);
        }
        Error::collect(errors)?;
        Ok(schema)
    }

    /// All options, files in path order, options in file order.
    pub fn options(&self) -> &[OptionDef] {
        &self.options
    }

    /// The option called `name`.
    pub fn get(&self, name: &str) -> Option<&OptionDef> {
        self.index.get(name).map(|&i| &self.options[i])
    }

    /// The options.toml files read, including those without options, so that a build
    /// script can ask Cargo to rerun when any of them changes.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The closest declared option name to `name`, for "did you mean" messages.
    pub fn suggest(&self, name: &str) -> Option<String> {
        suggest(name, self.options.iter().map(|o| o.name.as_str()))
    }

    /// Options grouped by first name segment (menus sorted by name), each split into one
    /// section per declaring file: the layout of `ukport config` and of menuconfig.
    pub fn menus(&self) -> Vec<Menu> {
        let mut by_menu: BTreeMap<&str, Vec<Section>> = BTreeMap::new();
        for opt in &self.options {
            let sections = by_menu.entry(opt.menu()).or_default();
            match sections.iter_mut().find(|s| s.file == opt.file) {
                Some(s) => s.options.push(opt.name.clone()),
                None => {
                    let (title, help) = self
                        .menus_of_files
                        .iter()
                        .find(|(p, _, _)| *p == opt.file)
                        .map(|(_, t, h)| (t.clone(), h.clone()))
                        .unwrap_or((None, None));
                    sections.push(Section {
                        file: opt.file.clone(),
                        title,
                        help,
                        options: vec![opt.name.clone()],
                    });
                }
            }
        }
        by_menu
            .into_iter()
            .map(|(name, mut sections)| {
                sections.sort_by(|a, b| a.file.cmp(&b.file));
                let (title, help) = match sections.as_slice() {
                    [only] => (
                        only.title.clone().unwrap_or_else(|| name.to_string()),
                        only.help.clone(),
                    ),
                    _ => (name.to_string(), None),
                };
                Menu {
                    name: name.to_string(),
                    title,
                    help,
                    sections,
                }
            })
            .collect()
    }

    fn check_refs(&self, refs: &[Refs], errors: &mut Vec<Error>) {
        for (opt, r) in self.options.iter().zip(refs) {
            let lists = [
                ("depends_on", &r.depends_on),
                ("selects", &r.selects),
                ("conflicts", &r.conflicts),
            ];
            for (field, list) in lists {
                for Ref { target, line } in list.iter() {
                    let at = format!("{}:{line}", opt.file.display());
                    match self.get(target) {
                        None => errors.push(Error::Schema {
                            at,
                            message: format!(
                                "`{}` {field} unknown option `{target}`{}",
                                opt.name,
                                self.suggest(target)
                                    .map(|s| format!(" (did you mean `{s}`?)"))
                                    .unwrap_or_default()
                            ),
                        }),
                        Some(t) if t.ty != OptionType::Bool => errors.push(Error::Schema {
                            at,
                            message: format!(
                                "`{}` {field} `{target}`, which is a {} option; only bool options \
                                 can be depended on, selected or conflicted with",
                                opt.name, t.ty
                            ),
                        }),
                        Some(t) if t.name == opt.name => errors.push(Error::Schema {
                            at,
                            message: format!("`{}` names itself in {field}", opt.name),
                        }),
                        Some(_) => {}
                    }
                }
            }
        }
    }

    fn check_const_names(&self, errors: &mut Vec<Error>) {
        let mut seen: HashMap<String, &OptionDef> = HashMap::new();
        for opt in &self.options {
            let c = const_name(&opt.name);
            if RESERVED_CONSTS.contains(&c.as_str()) {
                errors.push(Error::Schema {
                    at: opt.location(),
                    message: format!(
                        "option `{}` would generate the reserved constant {c}; rename it",
                        opt.name
                    ),
                });
            } else if let Some(other) = seen.get(&c) {
                errors.push(Error::Schema {
                    at: opt.location(),
                    message: format!(
                        "options `{}` and `{}` ({}) both become the constant {c}; rename one",
                        opt.name,
                        other.name,
                        other.location()
                    ),
                });
            } else {
                seen.insert(c, opt);
            }
        }
    }

    /// Reports cycles in `selects` and in `depends_on` (a dependency cycle would make
    /// every option on it permanently unreachable).
    fn check_cycles(&self, errors: &mut Vec<Error>) {
        for (field, edges) in [
            (
                "selects",
                (|o: &OptionDef| &o.selects) as fn(&OptionDef) -> &Vec<String>,
            ),
            ("depends_on", |o: &OptionDef| &o.depends_on),
        ] {
            // 0 = unvisited, 1 = on the current path, 2 = done.
            let mut state = vec![0u8; self.options.len()];
            let mut reported = false;
            for start in 0..self.options.len() {
                if reported || state[start] != 0 {
                    continue;
                }
                let mut path = Vec::new();
                if let Some(cycle) = self.dfs(start, edges, &mut state, &mut path) {
                    let first = &self.options[cycle[0]];
                    let names: Vec<&str> = cycle
                        .iter()
                        .chain(std::iter::once(&cycle[0]))
                        .map(|&i| self.options[i].name.as_str())
                        .collect();
                    errors.push(Error::Schema {
                        at: first.location(),
                        message: format!("{field} cycle: {}; break it", names.join(" -> ")),
                    });
                    reported = true;
                }
            }
        }
    }

    fn dfs(
        &self,
        i: usize,
        edges: fn(&OptionDef) -> &Vec<String>,
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[i] = 1;
        path.push(i);
        for t in edges(&self.options[i]) {
            let j = self.index[t];
            if state[j] == 1 {
                let pos = path.iter().position(|&p| p == j).unwrap_or(0);
                return Some(path[pos..].to_vec());
            }
            if state[j] == 0 {
                if let Some(c) = self.dfs(j, edges, state, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        state[i] = 2;
        None
    }

    /// An option whose (transitive) selects include two options that conflict can never
    /// be turned on; say so when the schema is written, not when a user trips on it.
    fn check_select_conflicts(&self, errors: &mut Vec<Error>) {
        for opt in self.options.iter().filter(|o| o.ty == OptionType::Bool) {
            let closure = self.select_closure(&opt.name);
            'outer: for a in &closure {
                for b in &self.get(a).map(|o| o.conflicts.clone()).unwrap_or_default() {
                    if closure.contains(b) {
                        errors.push(Error::Schema {
                            at: opt.location(),
                            message: format!(
                                "`{}` turns on both `{a}` and `{b}` (through selects), which conflict",
                                opt.name
                            ),
                        });
                        break 'outer;
                    }
                }
            }
        }
    }

    /// `name` and every option it selects, transitively.
    pub(crate) fn select_closure(&self, name: &str) -> Vec<String> {
        let mut out = vec![name.to_string()];
        let mut i = 0;
        while i < out.len() {
            if let Some(o) = self.get(&out[i]) {
                for s in &o.selects {
                    if !out.contains(s) {
                        out.push(s.clone());
                    }
                }
            }
            i += 1;
        }
        out
    }
}

fn find_option_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ft = entry.file_type().map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        if ft.is_dir() {
            if name != "target" && !name.starts_with('.') {
                find_option_files(&path, out)?;
            }
        } else if name == "options.toml" {
            out.push(path);
        }
    }
    Ok(())
}

/// Validates one `[[option]]` on its own; cross-option checks come later.
fn check_option(
    path: &Path,
    text: &str,
    raw: RawOption,
    errors: &mut Vec<Error>,
) -> Option<(OptionDef, Refs)> {
    let at = |offset: usize| format!("{}:{}", path.display(), line_of(text, offset));
    let n_errors = errors.len();
    let mut fail = |offset: usize, message: String| {
        errors.push(Error::Schema {
            at: at(offset),
            message,
        })
    };
    let name = raw.name.get_ref().clone();
    let name_off = raw.name.span().start;
    if !valid_name(&name) {
        fail(
            name_off,
            format!(
                "option name `{name}` must be dotted lower-case segments (menu.option, e.g. \
                 `alloc.heap_min`): letters, digits and `_`, each segment starting with a letter"
            ),
        );
    }
    let Some(ty) = OptionType::parse(raw.ty.get_ref()) else {
        fail(
            raw.ty.span().start,
            format!(
                "`{name}` has unknown type `{}`; use bool, int, size, string or choice",
                raw.ty.get_ref()
            ),
        );
        return None;
    };
    let help = match raw.help {
        Some(h) if !h.get_ref().trim().is_empty() => h.into_inner(),
        _ => {
            fail(
                name_off,
                format!("`{name}` has no help text; say why a user would change it"),
            );
            String::new()
        }
    };

    let choices = match raw.choices {
        Some(c) if ty != OptionType::Choice => {
            fail(
                c.span().start,
                format!("`{name}` is a {ty}; only choice options take `choices`"),
            );
            Vec::new()
        }
        Some(c) => {
            let list = c.get_ref().clone();
            if list.is_empty() {
                fail(
                    c.span().start,
                    format!("`{name}` has an empty `choices` list"),
                );
            }
            for (i, x) in list.iter().enumerate() {
                if list[..i].contains(x) {
                    fail(c.span().start, format!("`{name}` lists choice `{x}` twice"));
                }
            }
            list
        }
        None if ty == OptionType::Choice => {
            fail(
                name_off,
                format!("`{name}` is a choice but has no `choices` list"),
            );
            Vec::new()
        }
        None => Vec::new(),
    };

    let default = match raw.default {
        Some(d) => match Value::from_toml(ty, d.get_ref()) {
            Ok(v) => {
                if ty == OptionType::Choice && !choices.is_empty() {
                    let s = v.as_str().unwrap_or_default();
                    if !choices.iter().any(|c| c == s) {
                        fail(
                            d.span().start,
                            format!(
                                "default `{s}` of `{name}` is not one of its choices ({})",
                                choices.join(", ")
                            ),
                        );
                    }
                }
                Some((v, d.span().start))
            }
            Err(m) => {
                fail(d.span().start, format!("default of `{name}` ({ty}): {m}"));
                None
            }
        },
        None if ty == OptionType::Bool => Some((Value::Bool(false), name_off)),
        None => {
            fail(
                name_off,
                format!("`{name}` has no default; every {ty} option needs one"),
            );
            None
        }
    };

    let range = match raw.range {
        None => None,
        Some(r) if !matches!(ty, OptionType::Int | OptionType::Size) => {
            fail(
                r.span().start,
                format!("`{name}` is a {ty}; only int and size options take `range`"),
            );
            None
        }
        Some(r) => {
            let off = r.span().start;
            match r.get_ref().as_slice() {
                [lo, hi] => match (Value::from_toml(ty, lo), Value::from_toml(ty, hi)) {
                    (Ok(lo), Ok(hi)) => {
                        if out_of_range(&lo, &lo, &hi).is_some() {
                            fail(off, format!("range of `{name}` is empty: {lo} > {hi}"));
                            None
                        } else {
                            Some((lo, hi))
                        }
                    }
                    (Err(m), _) | (_, Err(m)) => {
                        fail(off, format!("range of `{name}` ({ty}): {m}"));
                        None
                    }
                },
                _ => {
                    fail(off, format!("range of `{name}` must be [min, max]"));
                    None
                }
            }
        }
    };
    if let (Some((v, off)), Some((lo, hi))) = (&default, &range) {
        if let Some(m) = out_of_range(v, lo, hi) {
            fail(*off, format!("default of `{name}` {m}"));
        }
    }

    let bool_only =
        |field: &str, present: bool, off: usize, fail: &mut dyn FnMut(usize, String)| {
            if present && ty != OptionType::Bool {
                fail(
                    off,
                    format!("`{name}` is a {ty}; only bool options take `{field}`"),
                );
            }
        };
    let first = |v: &[Spanned<String>]| v.first().map(|s| s.span().start).unwrap_or(name_off);
    bool_only(
        "selects",
        !raw.selects.is_empty(),
        first(&raw.selects),
        &mut fail,
    );
    bool_only(
        "conflicts",
        !raw.conflicts.is_empty(),
        first(&raw.conflicts),
        &mut fail,
    );
    let feature = raw.feature.map(|f| {
        bool_only("feature", true, f.span().start, &mut fail);
        if !valid_feature(f.get_ref()) {
            fail(
                f.span().start,
                format!(
                    "feature `{}` of `{name}` is not a Cargo feature name",
                    f.get_ref()
                ),
            );
        }
        f.into_inner()
    });
    bool_only("ports", !raw.ports.is_empty(), first(&raw.ports), &mut fail);
    let mut ports = Vec::new();
    for p in raw.ports {
        if !valid_port(p.get_ref()) {
            fail(
                p.span().start,
                format!(
                    "port `{}` of `{name}` is not a recipe name (lower-case letters, digits, \
                     `-`, `_`, `.`)",
                    p.get_ref()
                ),
            );
        } else if ports.contains(p.get_ref()) {
            fail(
                p.span().start,
                format!("`{name}` lists port `{}` twice", p.get_ref()),
            );
        } else {
            ports.push(p.into_inner());
        }
    }
    bool_only(
        "symbols",
        !raw.symbols.is_empty(),
        first(&raw.symbols),
        &mut fail,
    );
    let mut symbols = Vec::new();
    for sym in raw.symbols {
        if !valid_symbol(sym.get_ref()) {
            fail(
                sym.span().start,
                format!(
                    "symbol `{}` of `{name}` is not a C identifier",
                    sym.get_ref()
                ),
            );
        } else if symbols.contains(sym.get_ref()) {
            fail(
                sym.span().start,
                format!("`{name}` lists symbol `{}` twice", sym.get_ref()),
            );
        } else {
            symbols.push(sym.into_inner());
        }
    }
    for p in &raw.platforms {
        if p.is_empty() {
            fail(name_off, format!("`{name}` lists an empty platform name"));
        }
    }

    let refs_of = |v: Vec<Spanned<String>>| -> Vec<Ref> {
        v.into_iter()
            .map(|s| Ref {
                line: line_of(text, s.span().start),
                target: s.into_inner(),
            })
            .collect()
    };
    let refs = Refs {
        depends_on: refs_of(raw.depends_on),
        selects: refs_of(raw.selects),
        conflicts: refs_of(raw.conflicts),
    };
    if errors.len() != n_errors {
        return None;
    }
    let names = |r: &[Ref]| r.iter().map(|r| r.target.clone()).collect::<Vec<_>>();
    let def = OptionDef {
        name,
        ty,
        default: default.map(|(v, _)| v)?,
        help,
        prompt: raw.prompt,
        range,
        choices,
        depends_on: names(&refs.depends_on),
        selects: names(&refs.selects),
        conflicts: names(&refs.conflicts),
        feature,
        ports,
        symbols,
        platforms: raw.platforms,
        file: path.to_path_buf(),
        line: line_of(text, name_off),
    };
    Some((def, refs))
}

/// `Some(reason)` when `v` lies outside `[lo, hi]` (same-typed int or size values).
pub(crate) fn out_of_range(v: &Value, lo: &Value, hi: &Value) -> Option<String> {
    let key = |x: &Value| -> i128 {
        match x {
            Value::Int(i) => i128::from(*i),
            Value::Size(s) => i128::from(*s),
            _ => 0,
        }
    };
    let (k, l, h) = (key(v), key(lo), key(hi));
    (k < l || k > h).then(|| format!("{v} is outside its range [{lo}, {hi}]"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A schema from `(path, text)` pairs written inline.
    pub(crate) fn schema(files: &[(&str, &str)]) -> Result<Schema, Error> {
        let files: Vec<(PathBuf, String)> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        Schema::from_files(&files)
    }

    fn one(text: &str) -> Result<Schema, Error> {
        schema(&[("lib/x/options.toml", text)])
    }

    fn err(text: &str) -> String {
        one(text)
            .expect_err("schema should be rejected")
            .to_string()
    }

    const GOOD: &str = r#"
[menu]
title = "Memory allocator"
help = "Pages and heap."

[[option]]
name = "alloc.heap_min"
type = "size"
default = "1M"
range = ["64K", "1G"]
help = "Smallest heap."
prompt = "Minimum heap"

[[option]]
name = "alloc.kind"
type = "choice"
choices = ["tlsf", "bitmap"]
default = "bitmap"
help = "Allocator algorithm."

[[option]]
name = "lib.alloc"
type = "bool"
default = true
help = "The allocator."
feature = "lib-alloc"
selects = ["lib.log"]
platforms = ["linuxu"]

[[option]]
name = "lib.log"
type = "bool"
help = "Kernel log."
"#;

    #[test]
    fn parses_every_field() {
        let s = one(GOOD).unwrap();
        assert_eq!(s.options().len(), 4);
        let h = s.get("alloc.heap_min").unwrap();
        assert_eq!(h.ty, OptionType::Size);
        assert_eq!(h.default, Value::Size(1 << 20));
        assert_eq!(h.range, Some((Value::Size(64 << 10), Value::Size(1 << 30))));
        assert_eq!(h.prompt.as_deref(), Some("Minimum heap"));
        assert_eq!(h.line, 7);
        assert_eq!(h.location(), "lib/x/options.toml:7");
        let k = s.get("alloc.kind").unwrap();
        assert_eq!(k.choices, ["tlsf", "bitmap"]);
        assert_eq!(k.default, Value::Str("bitmap".into()));
        let a = s.get("lib.alloc").unwrap();
        assert_eq!(a.feature.as_deref(), Some("lib-alloc"));
        assert_eq!(a.selects, ["lib.log"]);
        assert_eq!(a.platforms, ["linuxu"]);
        assert_eq!(s.get("lib.log").unwrap().default, Value::Bool(false));
        assert!(s.get("nope.x").is_none());
        assert_eq!(s.files(), [PathBuf::from("lib/x/options.toml")]);
    }

    #[test]
    fn menus_group_by_first_segment() {
        let s = schema(&[
            ("lib/x/options.toml", GOOD),
            (
                "plat/a/options.toml",
                "[menu]\ntitle = \"A\"\n[[option]]\nname = \"plat.a.mem\"\ntype = \"size\"\ndefault = 4096\nhelp = \"h\"\n",
            ),
            (
                "plat/b/options.toml",
                "[menu]\ntitle = \"B\"\n[[option]]\nname = \"plat.b.mem\"\ntype = \"int\"\ndefault = 1\nhelp = \"h\"\n",
            ),
        ])
        .unwrap();
        let menus = s.menus();
        let names: Vec<&str> = menus.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["alloc", "lib", "plat"]);
        assert_eq!(menus[0].title, "Memory allocator");
        assert_eq!(menus[0].help.as_deref(), Some("Pages and heap."));
        assert_eq!(
            menus[0].sections[0].options,
            ["alloc.heap_min", "alloc.kind"]
        );
        // Two crates share "plat": the menu keeps the segment, sections keep their titles.
        assert_eq!(menus[2].title, "plat");
        let titles: Vec<_> = menus[2].sections.iter().map(|s| s.title.clone()).collect();
        assert_eq!(titles, [Some("A".to_string()), Some("B".to_string())]);
    }

    #[test]
    fn loads_from_a_tree_and_skips_target() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (p, t) in [
            ("lib/x/options.toml", GOOD),
            ("lib/x/target/debug/options.toml", "garbage ["),
            ("lib/.hidden/options.toml", "garbage ["),
            ("tests/options.toml", "garbage ["),
            (
                "plat/linuxu/options.toml",
                "[[option]]\nname = \"plat.linuxu.memory\"\ntype = \"size\"\ndefault = \"1G\"\nhelp = \"RAM\"\n",
            ),
        ] {
            let f = root.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, t).unwrap();
        }
        let s = Schema::load(root).unwrap();
        assert_eq!(
            s.files(),
            [
                PathBuf::from("lib/x/options.toml"),
                PathBuf::from("plat/linuxu/options.toml")
            ]
        );
        assert_eq!(
            s.get("plat.linuxu.memory").unwrap().default,
            Value::Size(1 << 30)
        );
        std::fs::create_dir_all(root.join("posix")).unwrap();
        std::fs::write(root.join("posix/options.toml"), "x = ").unwrap();
        let e = Schema::load(root).unwrap_err().to_string();
        assert!(e.starts_with("posix/options.toml:1:"), "{e}");
    }

    #[test]
    fn toml_errors_name_file_and_line() {
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\nbogus = 1\n");
        assert!(e.starts_with("lib/x/options.toml:5:"), "{e}");
        assert!(e.contains("bogus"), "{e}");
        let e = err("[[option]]\nname = \"a.b\"\n\nhelp = \"h\"\n");
        assert!(
            e.contains("lib/x/options.toml:") && e.contains("type"),
            "{e}"
        );
        let e = err("\n\n[[option]\n");
        assert!(e.starts_with("lib/x/options.toml:3:"), "{e}");
    }

    #[test]
    fn rejects_duplicates_with_both_locations() {
        let opt = "[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\n";
        let e = schema(&[("lib/one/options.toml", opt), ("lib/two/options.toml", opt)])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("lib/two/options.toml:2:"), "{e}");
        assert!(
            e.contains("declared twice") && e.contains("lib/one/options.toml:2"),
            "{e}"
        );
    }

    #[test]
    fn rejects_bad_names_types_and_missing_fields() {
        assert!(
            err("[[option]]\nname = \"nodot\"\ntype = \"bool\"\nhelp = \"h\"\n").contains("dotted")
        );
        assert!(
            err("[[option]]\nname = \"A.b\"\ntype = \"bool\"\nhelp = \"h\"\n").contains("dotted")
        );
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"float\"\nhelp = \"h\"\n");
        assert!(
            e.starts_with("lib/x/options.toml:3:") && e.contains("unknown type `float`"),
            "{e}"
        );
        assert!(err("[[option]]\nname = \"a.b\"\ntype = \"bool\"\n").contains("no help"));
        assert!(
            err("[[option]]\nname = \"a.b\"\ntype = \"int\"\nhelp = \"h\"\n")
                .contains("no default")
        );
    }

    #[test]
    fn rejects_defaults_of_wrong_type() {
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"int\"\nhelp = \"h\"\ndefault = \"x\"\n");
        assert!(
            e.starts_with("lib/x/options.toml:5:") && e.contains("expected an integer"),
            "{e}"
        );
        let e =
            err("[[option]]\nname = \"a.b\"\ntype = \"size\"\nhelp = \"h\"\ndefault = \"64MB\"\n");
        assert!(e.contains("not a size"), "{e}");
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\ndefault = 1\n");
        assert!(e.contains("expected a bool"), "{e}");
    }

    #[test]
    fn rejects_defaults_outside_range_and_bad_ranges() {
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"size\"\nhelp = \"h\"\ndefault = \"2G\"\nrange = [\"4K\", \"1G\"]\n");
        assert!(
            e.starts_with("lib/x/options.toml:5:")
                && e.contains("2G is outside its range [4K, 1G]"),
            "{e}"
        );
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"int\"\nhelp = \"h\"\ndefault = 5\nrange = [10, 1]\n");
        assert!(e.contains("range of `a.b` is empty"), "{e}");
        let e = err(
            "[[option]]\nname = \"a.b\"\ntype = \"int\"\nhelp = \"h\"\ndefault = 5\nrange = [1]\n",
        );
        assert!(e.contains("[min, max]"), "{e}");
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"string\"\nhelp = \"h\"\ndefault = \"\"\nrange = [1, 2]\n");
        assert!(e.contains("only int and size options take `range`"), "{e}");
    }

    #[test]
    fn rejects_bad_choices() {
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"choice\"\nhelp = \"h\"\nchoices = [\"x\", \"y\"]\ndefault = \"z\"\n");
        assert!(
            e.starts_with("lib/x/options.toml:6:") && e.contains("not one of its choices (x, y)"),
            "{e}"
        );
        let e =
            err("[[option]]\nname = \"a.b\"\ntype = \"choice\"\nhelp = \"h\"\ndefault = \"z\"\n");
        assert!(e.contains("no `choices`"), "{e}");
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"choice\"\nhelp = \"h\"\nchoices = []\ndefault = \"z\"\n");
        assert!(e.contains("empty `choices`"), "{e}");
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"choice\"\nhelp = \"h\"\nchoices = [\"z\", \"z\"]\ndefault = \"z\"\n");
        assert!(e.contains("twice"), "{e}");
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"string\"\nhelp = \"h\"\nchoices = [\"z\"]\ndefault = \"z\"\n");
        assert!(e.contains("only choice options take `choices`"), "{e}");
    }

    #[test]
    fn rejects_unknown_and_non_bool_references() {
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\ndepends_on = [\"a.cx\"]\n\n[[option]]\nname = \"a.cc\"\ntype = \"bool\"\nhelp = \"h\"\n");
        assert!(e.starts_with("lib/x/options.toml:5:"), "{e}");
        assert!(
            e.contains("unknown option `a.cx`") && e.contains("did you mean `a.cc`"),
            "{e}"
        );
        let e = err(
            "[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\nselects = [\"zz.top\"]\n",
        );
        assert!(e.contains("selects unknown option `zz.top`"), "{e}");
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\nselects = [\"a.n\"]\n[[option]]\nname = \"a.n\"\ntype = \"int\"\ndefault = 1\nhelp = \"h\"\n");
        assert!(e.contains("which is a int option"), "{e}");
        let e = err(
            "[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\nconflicts = [\"a.b\"]\n",
        );
        assert!(e.contains("names itself"), "{e}");
    }

    #[test]
    fn rejects_bool_only_fields_on_other_types() {
        let base = "[[option]]\nname = \"a.b\"\ntype = \"int\"\ndefault = 1\nhelp = \"h\"\n[[option]]\nname = \"a.c\"\ntype = \"bool\"\nhelp = \"h\"\n";
        for (field, line) in [
            ("selects = [\"a.c\"]", "selects"),
            ("conflicts = [\"a.c\"]", "conflicts"),
            ("feature = \"x\"", "feature"),
            ("ports = [\"lwip\"]", "ports"),
            ("symbols = [\"socket\"]", "symbols"),
        ] {
            let text = base.replacen("help = \"h\"\n", &format!("help = \"h\"\n{field}\n"), 1);
            let e = err(&text);
            assert!(e.starts_with("lib/x/options.toml:6:"), "{e}");
            assert!(
                e.contains(&format!("only bool options take `{line}`")),
                "{e}"
            );
        }
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\nfeature = \"bad feature\"\n");
        assert!(e.contains("not a Cargo feature name"), "{e}");
        let e =
            err("[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\nports = [\"Lw ip\"]\n");
        assert!(e.contains("not a recipe name"), "{e}");
        let e = err(
            "[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\nports = [\"x\", \"x\"]\n",
        );
        assert!(e.contains("lists port `x` twice"), "{e}");
        let e = err(
            "[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\nsymbols = [\"sock et\"]\n",
        );
        assert!(
            e.starts_with("lib/x/options.toml:5:") && e.contains("not a C identifier"),
            "{e}"
        );
        let e = err(
            "[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\nsymbols = [\"bind\", \"bind\"]\n",
        );
        assert!(e.contains("lists symbol `bind` twice"), "{e}");
        let ok = schema(&[(
            "lib/x/options.toml",
            "[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\nsymbols = [\"socket\", \"_x1\"]\n",
        )])
        .unwrap();
        assert_eq!(ok.get("a.b").unwrap().symbols, ["socket", "_x1"]);
    }

    #[test]
    fn rejects_select_and_depends_cycles() {
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\nselects = [\"a.c\"]\n[[option]]\nname = \"a.c\"\ntype = \"bool\"\nhelp = \"h\"\nselects = [\"a.d\"]\n[[option]]\nname = \"a.d\"\ntype = \"bool\"\nhelp = \"h\"\nselects = [\"a.b\"]\n");
        assert!(e.starts_with("lib/x/options.toml:2:"), "{e}");
        assert!(e.contains("selects cycle: a.b -> a.c -> a.d -> a.b"), "{e}");
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\ndepends_on = [\"a.c\"]\n[[option]]\nname = \"a.c\"\ntype = \"bool\"\nhelp = \"h\"\ndepends_on = [\"a.b\"]\n");
        assert!(e.contains("depends_on cycle: a.b -> a.c -> a.b"), "{e}");
    }

    #[test]
    fn rejects_selects_that_turn_on_conflicting_options() {
        let e = err("[[option]]\nname = \"a.b\"\ntype = \"bool\"\nhelp = \"h\"\nselects = [\"a.c\", \"a.d\"]\n[[option]]\nname = \"a.c\"\ntype = \"bool\"\nhelp = \"h\"\nconflicts = [\"a.d\"]\n[[option]]\nname = \"a.d\"\ntype = \"bool\"\nhelp = \"h\"\n");
        assert!(e.starts_with("lib/x/options.toml:2:"), "{e}");
        assert!(e.contains("turns on both `a.c` and `a.d`"), "{e}");
    }

    #[test]
    fn rejects_colliding_and_reserved_constant_names() {
        let e = err("[[option]]\nname = \"a.b_c\"\ntype = \"bool\"\nhelp = \"h\"\n[[option]]\nname = \"a_b.c\"\ntype = \"bool\"\nhelp = \"h\"\n");
        assert!(e.contains("both become the constant A_B_C"), "{e}");
        let e = err("[[option]]\nname = \"config.hash\"\ntype = \"bool\"\nhelp = \"h\"\n");
        assert!(e.contains("reserved constant CONFIG_HASH"), "{e}");
    }

    #[test]
    fn reports_several_errors_at_once() {
        let e = one("[[option]]\nname = \"a.b\"\ntype = \"int\"\nhelp = \"h\"\ndefault = true\n[[option]]\nname = \"a.c\"\ntype = \"bool\"\n").unwrap_err();
        assert_eq!(e.flatten().len(), 2, "{e}");
        assert_eq!(e.to_string().lines().count(), 2, "{e}");
    }
}
