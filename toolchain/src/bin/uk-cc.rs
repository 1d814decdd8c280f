//! `uk-cc`: drop-in C compiler driver for ukit (see `uk_toolchain::compile::cc`). Use it as `CC`:
//! `CC=uk-cc ./configure && make` builds linuxu images instead of host programs.

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    match uk_toolchain::compile::cc::run(args) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("uk-cc: error: {e:#}");
            std::process::exit(1);
        }
    }
}
