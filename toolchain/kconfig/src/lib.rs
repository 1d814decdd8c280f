//! ukit's configuration system, kconfig-style.
//!
//! Every kernel crate declares its options in an `options.toml` beside its `Cargo.toml`
//! ([`Schema`]). An app's configuration comes in [`Layer`]s: the recipe's `[config]`
//! table, per-build override files, `--set name=value` flags; [`resolve`] applies them
//! over the defaults, follows `selects`, checks `depends_on` and `conflicts`, and yields a
//! [`Resolved`] configuration. That turns into Cargo features of `uk-image`
//! ([`Resolved::features`]), Rust constants for `uk-config` ([`rust_consts`]), a cache key
//! ([`Resolved::hash`]) and the table `ukport config` prints ([`render`]).
//!
//! The format and the rules are described in `docs/config.md`.

mod error;
mod output;
mod resolve;
mod schema;
mod value;

pub use error::Error;
pub use output::{render, rust_consts};
pub use resolve::{resolve, Layer, Origin, Resolved, Setting};
pub use schema::{const_name, Menu, OptionDef, Schema, Section, SCHEMA_DIRS};
pub use value::{format_size, parse_size, OptionType, Value};

/// Converts a byte offset in `text` into a 1-based line number, for `file:line` messages.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The closest candidate to `word` by edit distance, if it is close enough to be a likely
/// typo (so that "did you mean" never suggests something unrelated).
pub(crate) fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, c)| c.to_string())
}

/// Levenshtein distance over chars.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one() {
        let t = "a\nbb\nccc";
        assert_eq!(line_of(t, 0), 1);
        assert_eq!(line_of(t, 2), 2);
        assert_eq!(line_of(t, 5), 3);
        assert_eq!(line_of(t, 999), 3);
    }

    #[test]
    fn edit_distance_and_suggestions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        let names = ["alloc.kind", "alloc.heap_min", "uk.log_level"];
        assert_eq!(
            suggest("alloc.knd", names.iter().copied()),
            Some("alloc.kind".to_string())
        );
        assert_eq!(
            suggest("uk.loglevel", names.iter().copied()),
            Some("uk.log_level".to_string())
        );
        assert_eq!(suggest("net.tcp.max", names.iter().copied()), None);
    }
}
