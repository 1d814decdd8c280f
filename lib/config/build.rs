//! Generates `$OUT_DIR/config.rs`: one constant per option of every `options.toml` in the
//! tree, plus `CONFIG_HASH`.
//!
//! The values come from the resolved configuration the toolchain writes (path in the
//! environment variable `UK_CONFIG`) or, when that is unset, from the schema defaults, so
//! that a plain `cargo build` of any kernel crate works without ukport.

use std::path::{Path, PathBuf};
use uk_kconfig::{resolve, rust_consts, Resolved, Schema};

fn main() {
    if let Err(message) = run() {
        // Cargo prints a failed build script's stderr; say what to do, not a backtrace.
        eprintln!("error: uk-config: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let root = manifest.join("../..");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=UK_CONFIG");

    let schema = Schema::load(&root).map_err(|e| format!("invalid options.toml:\n{e}"))?;
    for file in schema.files() {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }

    let resolved = match std::env::var_os("UK_CONFIG").filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = Path::new(&path);
            println!("cargo:rerun-if-changed={}", path.display());
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "cannot read UK_CONFIG={} ({e}); point it at a resolved configuration \
                     written by ukport, or unset it to build with the defaults",
                    path.display()
                )
            })?;
            let resolved = Resolved::from_json(&text)
                .map_err(|e| format!("UK_CONFIG={}: {e}", path.display()))?;
            resolved
                .check_schema(&schema)
                .map_err(|e| format!("UK_CONFIG={}: {e}", path.display()))?;
            resolved
        }
        None => resolve(&schema, &[])
            .map_err(|e| format!("the schema defaults do not resolve:\n{e}"))?,
    };

    let mut code = rust_consts(&resolved, &schema);
    code.push_str(&format!(
        "\n/// Identifies this configuration (16 hex chars); kernels are cached under it.\n\
         pub const CONFIG_HASH: &str = {:?};\n",
        resolved.hash()
    ));
    let out = PathBuf::from(env("OUT_DIR")?).join("config.rs");
    std::fs::write(&out, code).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set; build this crate with cargo"))
}
