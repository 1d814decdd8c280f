//! No import circles inside the crates that grow most (docs/architecture.md, "Import
//! cuts"): posix, plat/kvm and the toolchain.
//!
//! Each crate's modules and their `crate::`/`super::` references are read with syn
//! (test code excluded: tests may reach anywhere). Two graphs are checked for cycles:
//! the crate's top-level modules (a module and all its submodules count as one node),
//! and, inside each module with submodules, the submodules among themselves (their
//! references to the parent's own items do not count: a parent is the children's
//! shared namespace).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// Module path (e.g. ["fs", "mmap"]) -> the module paths it references.
type Graph = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every module file under `src`, as (module path, file).
fn modules(src: &Path) -> Vec<(Vec<String>, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "bin") {
                    stack.push(p);
                }
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src).unwrap();
            let mut m: Vec<String> = rel
                .iter()
                .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            match m.last().map(String::as_str) {
                Some("lib") | Some("main") if m.len() == 1 => m.clear(),
                Some("mod") => {
                    m.pop();
                }
                _ => {}
            }
            // tests.rs files are test modules.
            if m.last().is_some_and(|l| l == "tests") {
                continue;
            }
            out.push((m, p));
        }
    }
    out
}

/// `#[cfg(test)]` and `#[cfg(any(test, ...))]` items (test-only code), but not
/// `#[cfg(not(test))]` ones.
fn is_test_cfg(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta.require_list().is_ok_and(|l| {
                let t = l.tokens.to_string().replace(' ', "");
                t.contains("test") && !t.contains("not(test")
            })
    })
}

/// Collects the `crate::`/`super::`/`self::` paths a file uses, outside test code.
struct Refs {
    paths: Vec<Vec<String>>,
}

impl Refs {
    fn add(&mut self, segs: Vec<String>) {
        if matches!(
            segs.first().map(String::as_str),
            Some("crate" | "super" | "self")
        ) {
            self.paths.push(segs);
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, t: &syn::UseTree) {
        match t {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut v = prefix.clone();
                v.push(n.ident.to_string());
                self.add(v);
            }
            syn::UseTree::Rename(r) => {
                let mut v = prefix.clone();
                v.push(r.ident.to_string());
                self.add(v);
            }
            syn::UseTree::Glob(_) => self.add(prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Refs {
    fn visit_item(&mut self, i: &'ast syn::Item) {
        let attrs = match i {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(x) => &x.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            _ => return syn::visit::visit_item(self, i),
        };
        if is_test_cfg(attrs) {
            return;
        }
        syn::visit::visit_item(self, i);
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.add(p.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, p);
    }
}

/// The module a reference from `from` lands in: the longest prefix that is a module.
fn resolve(from: &[String], path: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let mut base: Vec<String> = from.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    let mut best = base.clone();
    let mut cur = base;
    for s in rest {
        cur.push(s.clone());
        if known.contains(&cur) {
            best = cur.clone();
        } else {
            break;
        }
    }
    Some(best)
}

fn graph(src: &Path) -> Graph {
    let mods = modules(src);
    let known: BTreeSet<Vec<String>> = mods.iter().map(|m| m.0.clone()).collect();
    let mut g = Graph::new();
    for (m, file) in &mods {
        let text = std::fs::read_to_string(file).unwrap();
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut r = Refs { paths: Vec::new() };
        r.visit_file(&ast);
        let edges = g.entry(m.clone()).or_default();
        for p in r.paths {
            if let Some(to) = resolve(m, &p, &known) {
                if &to != m {
                    edges.insert(to);
                }
            }
        }
    }
    g
}

/// A cycle in `edges` (node -> successors), as the list of nodes around it.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn dfs(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let i = stack.iter().position(|s| s == m).unwrap();
                    let mut c = stack[i..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = dfs(m, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = dfs(n, edges, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

/// The cycles of one crate: first among top-level modules, then among siblings.
fn cycles(src: &Path) -> Vec<String> {
    let g = graph(src);
    let mut found = Vec::new();
    // Top level: collapse every module to its first path segment.
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in &g {
        let Some(f) = from.first() else { continue };
        let e = top.entry(f.clone()).or_default();
        for t in tos {
            if let Some(t0) = t.first() {
                if t0 != f {
                    e.insert(t0.clone());
                }
            }
        }
    }
    if let Some(c) = find_cycle(&top) {
        found.push(format!("top level: {}", c.join(" -> ")));
    }
    // Siblings: children of one parent, references collapsed to the child level.
    let parents: BTreeSet<Vec<String>> = g
        .keys()
        .filter(|m| m.len() > 1)
        .map(|m| m[..m.len() - 1].to_vec())
        .collect();
    for p in parents {
        let mut sib: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, tos) in &g {
            if from.len() <= p.len() || from[..p.len()] != p[..] {
                continue;
            }
            let f = from[p.len()].clone();
            let e = sib.entry(f.clone()).or_default();
            for t in tos {
                if t.len() > p.len() && t[..p.len()] == p[..] && t[p.len()] != f {
                    e.insert(t[p.len()].clone());
                }
            }
        }
        if let Some(c) = find_cycle(&sib) {
            found.push(format!("inside {}: {}", p.join("::"), c.join(" -> ")));
        }
    }
    found
}

#[test]
fn cycle_finder_finds_cycles() {
    let e = |v: &[(&str, &[&str])]| -> BTreeMap<String, BTreeSet<String>> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.iter().map(|s| s.to_string()).collect()))
            .collect()
    };
    assert_eq!(
        find_cycle(&e(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        find_cycle(&e(&[("a", &["b"]), ("b", &["c"]), ("c", &[])])),
        None
    );
    let known: BTreeSet<Vec<String>> = [vec!["fs".to_string()], vec!["fs".into(), "mmap".into()]]
        .into_iter()
        .collect();
    let p = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    assert_eq!(
        resolve(&p("fs::mmap"), &p("super::OpenFile"), &known),
        Some(p("fs"))
    );
    assert_eq!(
        resolve(&p("mm"), &p("crate::fs::mmap::mmap_file"), &known),
        Some(p("fs::mmap"))
    );
}

#[test]
fn no_import_circles() {
    let mut all = Vec::new();
    for krate in ["posix/src", "plat/kvm/src", "toolchain/src"] {
        for c in cycles(&repo().join(krate)) {
            all.push(format!("{krate}: {c}"));
        }
    }
    assert!(
        all.is_empty(),
        "import circles (cut them as docs/architecture.md describes):\n  {}",
        all.join("\n  ")
    );
}

/// `cargo test -p uk-tests --test module_graph -- --ignored --nocapture`: print each
/// crate's top-level module graph (for planning a cut).
#[test]
#[ignore]
fn print_graphs() {
    for krate in ["posix/src", "plat/kvm/src", "toolchain/src"] {
        println!("{krate}:");
        let g = graph(&repo().join(krate));
        let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, tos) in &g {
            let Some(f) = from.first() else { continue };
            for t in tos {
                if let Some(t0) = t.first().filter(|t0| *t0 != f) {
                    top.entry(f.clone()).or_default().insert(t0.clone());
                }
            }
        }
        for (f, tos) in top {
            println!(
                "  {f} -> {}",
                tos.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
    }
}
