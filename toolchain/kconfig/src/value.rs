//! Option types and values, and the size syntax (`64M`, `4K`, `4096`) shared by the
//! configuration and by command-line flags such as `-m 64M`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The type of an option, as written in `type = "..."` of an `options.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptionType {
    /// `true`/`false`; the only type that may select, conflict or enable a Cargo feature.
    Bool,
    /// A signed 64-bit integer (`i64` constant).
    Int,
    /// A byte count written as `64M`, `4K`, `1G` or plain bytes (`usize` constant).
    Size,
    /// Free text (`&str` constant).
    String,
    /// One of the strings listed in `choices` (`&str` constant).
    Choice,
}

impl OptionType {
    /// Parses the `type` field; `None` for anything else.
    pub fn parse(s: &str) -> Option<OptionType> {
        match s {
            "bool" => Some(OptionType::Bool),
            "int" => Some(OptionType::Int),
            "size" => Some(OptionType::Size),
            "string" => Some(OptionType::String),
            "choice" => Some(OptionType::Choice),
            _ => None,
        }
    }

    /// The spelling used in `options.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            OptionType::Bool => "bool",
            OptionType::Int => "int",
            OptionType::Size => "size",
            OptionType::String => "string",
            OptionType::Choice => "choice",
        }
    }
}

impl fmt::Display for OptionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed option value. Choices are stored as `Str`; sizes are bytes.
///
/// The variant is part of the serialized form (`{"size": 1048576}`) so that a resolved
/// configuration read back from JSON keeps sizes and integers apart.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Value {
    /// Value of a `bool` option.
    Bool(bool),
    /// Value of an `int` option.
    Int(i64),
    /// Value of a `size` option, in bytes.
    Size(u64),
    /// Value of a `string` or `choice` option.
    Str(String),
}

impl Value {
    /// The boolean, if this is a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is an `Int`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The byte count, if this is a `Size`.
    pub fn as_size(&self) -> Option<u64> {
        match self {
            Value::Size(s) => Some(*s),
            _ => None,
        }
    }

    /// The text, if this is a `Str` (string or choice).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this value can be the value of an option of type `ty`.
    pub fn fits(&self, ty: OptionType) -> bool {
        matches!(
            (self, ty),
            (Value::Bool(_), OptionType::Bool)
                | (Value::Int(_), OptionType::Int)
                | (Value::Size(_), OptionType::Size)
                | (Value::Str(_), OptionType::String | OptionType::Choice)
        )
    }

    /// Converts a TOML value written for an option of type `ty`.
    ///
    /// Sizes accept a non-negative TOML integer (bytes) or a string in the size syntax.
    /// Nothing else is coerced: a quoted `"true"` for a bool is an error, so typos in
    /// recipes do not silently change meaning. The error text says what was expected.
    pub fn from_toml(ty: OptionType, v: &toml::Value) -> Result<Value, String> {
        match (ty, v) {
            (OptionType::Bool, toml::Value::Boolean(b)) => Ok(Value::Bool(*b)),
            (OptionType::Int, toml::Value::Integer(i)) => Ok(Value::Int(*i)),
            (OptionType::Size, toml::Value::Integer(i)) => u64::try_from(*i)
                .map(Value::Size)
                .map_err(|_| format!("a size cannot be negative (got {i})")),
            (OptionType::Size, toml::Value::String(s)) => parse_size(s).map(Value::Size),
            (OptionType::String | OptionType::Choice, toml::Value::String(s)) => {
                Ok(Value::Str(s.clone()))
            }
            (ty, v) => Err(format!(
                "expected {}, found {} `{}`",
                expected_text(ty),
                v.type_str(),
                v
            )),
        }
    }
}

/// What a value of `ty` looks like, for error messages.
fn expected_text(ty: OptionType) -> &'static str {
    match ty {
        OptionType::Bool => "a bool (true or false)",
        OptionType::Int => "an integer",
        OptionType::Size => "a size like \"64M\", \"4K\", \"1G\" or a byte count",
        OptionType::String => "a string",
        OptionType::Choice => "one of the choices as a string",
    }
}

impl fmt::Display for Value {
    /// Sizes print in the shortest exact unit (`1M`, not `1048576`); strings are quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Size(s) => f.write_str(&format_size(*s)),
            Value::Str(s) => write!(f, "{s:?}"),
        }
    }
}

const UNITS: [(char, u32); 4] = [('K', 10), ('M', 20), ('G', 30), ('T', 40)];

/// Parses a size: decimal digits with an optional binary unit `K`, `M`, `G` or `T`
/// (case-insensitive; powers of 1024, as QEMU's `-m`). `"4096"`, `"4K"`, `"64M"`, `"1G"`.
///
/// The error says what the accepted forms are, because it ends up in front of users who
/// typed `-m 64MB` or `memory = "1.5G"`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let text = s.trim();
    let bad = || {
        format!(
            "`{s}` is not a size: write a byte count or a number with K, M, G or T (e.g. \"64M\")"
        )
    };
    let (digits, shift) = match text.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let up = c.to_ascii_uppercase();
            let shift = UNITS
                .iter()
                .find(|(u, _)| *u == up)
                .map(|(_, s)| *s)
                .ok_or_else(bad)?;
            (&text[..text.len() - 1], shift)
        }
        _ => (text, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| format!("`{s}` is too large"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// Formats a byte count in the largest unit that divides it exactly (`1M`, `1536K`, `4097`).
pub fn format_size(bytes: u64) -> String {
    for (unit, shift) in UNITS.iter().rev() {
        let m = 1u64 << shift;
        if bytes != 0 && bytes & (m - 1) == 0 {
            return format!("{}{}", bytes / m, unit);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4K"), Ok(4 * 1024));
        assert_eq!(parse_size("4k"), Ok(4 * 1024));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
        assert_eq!(parse_size(" 8M "), Ok(8 << 20));
        assert_eq!(parse_size("0"), Ok(0));
    }

    #[test]
    fn sizes_reject_other_forms() {
        for bad in ["", "M", "64MB", "1.5G", "-1", "12Q", "0x10", "64 M"] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.contains("not a size"), "{bad}: {e}");
        }
        assert!(parse_size("99999999999999999999")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_size("17179869184G")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn sizes_format_in_largest_exact_unit() {
        assert_eq!(format_size(0), "0");
        assert_eq!(format_size(4097), "4097");
        assert_eq!(format_size(1536 * 1024), "1536K");
        assert_eq!(format_size(1 << 20), "1M");
        assert_eq!(format_size(3 << 30), "3G");
        for n in [1u64, 4096, 1 << 20, 5 << 30, 12345] {
            assert_eq!(parse_size(&format_size(n)), Ok(n));
        }
    }

    #[test]
    fn toml_values_convert_by_type() {
        use toml::Value as T;
        assert_eq!(
            Value::from_toml(OptionType::Bool, &T::Boolean(true)),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            Value::from_toml(OptionType::Int, &T::Integer(-3)),
            Ok(Value::Int(-3))
        );
        assert_eq!(
            Value::from_toml(OptionType::Size, &T::Integer(4096)),
            Ok(Value::Size(4096))
        );
        assert_eq!(
            Value::from_toml(OptionType::Size, &T::String("2M".into())),
            Ok(Value::Size(2 << 20))
        );
        assert_eq!(
            Value::from_toml(OptionType::Choice, &T::String("tlsf".into())),
            Ok(Value::Str("tlsf".into()))
        );
        let e = Value::from_toml(OptionType::Bool, &T::String("true".into())).unwrap_err();
        assert!(e.contains("expected a bool") && e.contains("string"), "{e}");
        let e = Value::from_toml(OptionType::Int, &T::String("12".into())).unwrap_err();
        assert!(e.contains("expected an integer"), "{e}");
        let e = Value::from_toml(OptionType::Size, &T::Integer(-1)).unwrap_err();
        assert!(e.contains("negative"), "{e}");
        let e = Value::from_toml(OptionType::String, &T::Integer(1)).unwrap_err();
        assert!(e.contains("expected a string"), "{e}");
    }

    #[test]
    fn display_and_fits() {
        assert_eq!(Value::Size(64 << 20).to_string(), "64M");
        assert_eq!(Value::Str("a\"b".into()).to_string(), "\"a\\\"b\"");
        assert!(Value::Str("x".into()).fits(OptionType::Choice));
        assert!(!Value::Int(1).fits(OptionType::Size));
        assert_eq!(OptionType::parse("size"), Some(OptionType::Size));
        assert_eq!(OptionType::parse("float"), None);
    }
}
