//! One error type for loading schemas, resolving configurations and reading them back.
//!
//! Every message says where (a `file:line`, `--set`, `default` or `selected by x`) and,
//! for contradictions, names both options involved and how to get out of it.

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or listed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },

    /// A TOML file (options.toml or a configuration layer) is not valid TOML, or a field
    /// has the wrong shape.
    #[error("{at}: {message}")]
    Parse {
        /// `file:line`.
        at: String,
        /// What is wrong, from the TOML parser.
        message: String,
    },

    /// An options.toml is valid TOML but breaks a schema rule (duplicate name, default
    /// of the wrong type, unknown option in `selects`, select cycle, ...).
    #[error("{at}: {message}")]
    Schema {
        /// `file:line` of the offending option or field.
        at: String,
        /// Which rule, and what to change.
        message: String,
    },

    /// A configuration layer sets an option that no options.toml declares.
    #[error("{at}: unknown option `{name}`{}", match suggestion {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => " (ukport config <recipe> lists every option)".to_string(),
    })]
    UnknownOption {
        /// `origin:line` of the setting.
        at: String,
        /// The name as written.
        name: String,
        /// The closest declared name, if one is close.
        suggestion: Option<String>,
    },

    /// A configuration layer gives an option a value of the wrong type, outside its
    /// range, or not among its choices.
    #[error("{at}: option `{name}`: {message}")]
    BadValue {
        /// `origin:line` of the setting.
        at: String,
        /// The option.
        name: String,
        /// What was expected.
        message: String,
    },

    /// An option set to false explicitly is selected by another option that is true.
    #[error(
        "`{option}` is set to false ({option_at}), but `{selector}` ({selector_at}) selects it: \
         remove the setting of `{option}` or set `{selector}` to false"
    )]
    SelectedButDisabled {
        /// The option set to false.
        option: String,
        /// Where it was set.
        option_at: String,
        /// The true option whose `selects` names it.
        selector: String,
        /// Where the selector got its value.
        selector_at: String,
    },

    /// An explicitly set option depends on a bool option that is false.
    #[error(
        "`{option}` is set ({option_at}), but it depends on `{needs}`, which is false ({needs_at}): \
         set `{needs}` to true or remove the setting of `{option}`"
    )]
    DependsUnmet {
        /// The option that was set.
        option: String,
        /// Where it was set.
        option_at: String,
        /// The unmet dependency.
        needs: String,
        /// Where the dependency got its false value.
        needs_at: String,
    },

    /// A true option selects an option whose dependencies are unmet.
    #[error(
        "`{selector}` ({selector_at}) selects `{option}`, but `{option}` depends on `{needs}`, \
         which is false ({needs_at}): set `{needs}` to true or `{selector}` to false"
    )]
    SelectDependsUnmet {
        /// The selecting option.
        selector: String,
        /// Where the selector got its value.
        selector_at: String,
        /// The selected option.
        option: String,
        /// Its unmet dependency.
        needs: String,
        /// Where the dependency got its false value.
        needs_at: String,
    },

    /// Two options that conflict are both true.
    #[error("`{a}` ({a_at}) conflicts with `{b}` ({b_at}): set one of them to false")]
    Conflict {
        /// The option declaring the conflict.
        a: String,
        /// Where it got its value.
        a_at: String,
        /// The other option.
        b: String,
        /// Where it got its value.
        b_at: String,
    },

    /// A resolved configuration (JSON) is unreadable or does not match the schema in the
    /// tree, e.g. it was written before an options.toml changed.
    #[error("resolved configuration: {0}")]
    Resolved(String),

    /// Several of the above, all reported at once so a user fixes them in one go.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Many(Vec<Error>),
}

impl Error {
    /// Turns a list of errors into one: `Ok` when empty, the error itself when alone.
    pub(crate) fn collect(mut errors: Vec<Error>) -> Result<(), Error> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Many(errors)),
        }
    }

    /// The individual errors (one for anything but `Many`), for callers and tests that
    /// want to look at each.
    pub fn flatten(&self) -> Vec<&Error> {
        match self {
            Error::Many(v) => v.iter().flat_map(|e| e.flatten()).collect(),
            e => vec![e],
        }
    }
}
