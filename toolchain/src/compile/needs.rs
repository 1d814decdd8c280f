//! Which optional kernel libraries a program needs, read from what it calls.
//!
//! A kernel option may name the C functions whose use means the program needs it
//! (`symbols = [...]` in its options.toml: `lib.net` lists `socket`, `getaddrinfo`, ...).
//! Before a link, uk-cc reads the program's inputs the way the linker will: the symbols
//! its objects leave undefined, plus the members of its archives that those pull in, in
//! turn (musl's own archives excepted: what libc uses inside itself, such as nscd's
//! AF_UNIX socket behind `getpwnam`, is not the program asking for a network). Every
//! function that is still undefined afterwards comes from libc, and each option naming
//! one is turned on (docs/config.md, "Options chosen by what the program uses").
//!
//! Objects compiled with `-flto` keep their symbols in GCC's own table
//! (`.gnu.lto_.symtab.*`, the format the linker plugin reads) instead of the ELF one;
//! both are read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use object::read::archive::ArchiveFile;
use object::{Object, ObjectSection, ObjectSymbol};
use serde::{Deserialize, Serialize};

/// One option a program needs: which function asked for it, and where it was called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    /// The kernel option turned on (`lib.net`).
    pub option: String,
    /// The function the program calls (`socket`).
    pub symbol: String,
    /// The object (or `archive(member)`) that calls it first.
    pub file: String,
}

impl Need {
    /// `lib.net=true`: the setting this need makes.
    pub fn setting(&self) -> String {
        format!("{}=true", self.option)
    }

    /// Why, as a configuration origin and in `uk-cc -v`: `the program calls socket
    /// (srv.o)`.
    pub fn reason(&self) -> String {
        format!("the program calls {} ({})", self.symbol, self.file)
    }
}

/// What reading the link inputs found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Functions the program calls that none of its inputs define (libc's), each with
    /// the first object that calls it.
    pub undefined: BTreeMap<String, String>,
    /// Inputs that could not be read as objects or archives (linker scripts, other
    /// formats), with the reason: what they call is not known.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// The symbols of one object: those it defines, and those it calls without defining
/// (weak references, which pull nothing in, are left out as the linker does).
#[derive(Default)]
struct Symbols {
    defined: Vec<String>,
    undefined: Vec<String>,
}

/// Reads one relocatable object (ELF symbols and GCC's LTO table).
fn object_symbols(data: &[u8]) -> Result<Symbols, String> {
    let file = object::File::parse(data).map_err(|e| e.to_string())?;
    let mut s = Symbols::default();
    for sym in file.symbols() {
        let Ok(name) = sym.name() else { continue };
        if name.is_empty() || sym.is_local() {
            continue;
        }
        if sym.is_undefined() {
            if !sym.is_weak() {
                s.undefined.push(name.to_string());
            }
        } else {
            s.defined.push(name.to_string());
        }
    }
    for section in file.sections() {
        let is_lto_table = section
            .name()
            .is_ok_and(|n| n.starts_with(".gnu.lto_.symtab"));
        if is_lto_table {
            let data = section.data().map_err(|e| e.to_string())?;
            lto_symbols(data, &mut s)?;
        }
    }
    Ok(s)
}

/// GCC's LTO symbol table: per symbol, its name and comdat group (NUL-terminated), a
/// kind byte (0 def, 1 weak def, 2 undef, 3 weak undef, 4 common), a visibility byte, an
/// 8-byte size and a 4-byte slot.
fn lto_symbols(mut data: &[u8], out: &mut Symbols) -> Result<(), String> {
    let cstr = |d: &[u8]| -> Result<(String, usize), String> {
        let end = d
            .iter()
            .position(|&b| b == 0)
            .ok_or("an LTO symbol table entry without its NUL")?;
        Ok((String::from_utf8_lossy(&d[..end]).into_owned(), end + 1))
    };
    while !data.is_empty() {
        let (name, n) = cstr(data)?;
        data = &data[n..];
        let (_comdat, n) = cstr(data)?;
        data = &data[n..];
        if data.len() < 14 {
            return Err("a truncated LTO symbol table entry".into());
        }
        match data[0] {
            0 | 1 | 4 => out.defined.push(name),
            2 => out.undefined.push(name),
            _ => {}
        }
        data = &data[14..];
    }
    Ok(())
}

/// An archive's members by the symbols they define.
struct Archive {
    path: PathBuf,
    data: Vec<u8>,
    /// symbol -> member offsets (in the archive's own numbering).
    index: HashMap<String, Vec<u64>>,
    loaded: HashSet<u64>,
}

impl Archive {
    fn open(path: &Path, data: Vec<u8>) -> Result<Archive, String> {
        let mut index: HashMap<String, Vec<u64>> = HashMap::new();
        {
            let ar = ArchiveFile::parse(&*data).map_err(|e| e.to_string())?;
            let armap = ar.symbols().map_err(|e| e.to_string())?;
            match armap {
                Some(syms) => {
                    for sym in syms {
                        let sym = sym.map_err(|e| e.to_string())?;
                        let name = String::from_utf8_lossy(sym.name()).into_owned();
                        index.entry(name).or_default().push(sym.offset().0);
                    }
                }
                // No symbol index (an archive made without ranlib): the linker would
                // find nothing in it either, but reading each member costs little.
                None => {
                    for (i, m) in ar.members().enumerate() {
                        let m = m.map_err(|e| e.to_string())?;
                        let Ok(bytes) = member_data(path, &data, &m) else {
                            continue;
                        };
                        if let Ok(s) = object_symbols(&bytes) {
                            for d in s.defined {
                                index.entry(d).or_default().push(i as u64 | NO_ARMAP);
                            }
                        }
                    }
                }
            }
        }
        Ok(Archive {
            path: path.to_path_buf(),
            data,
            index,
            loaded: HashSet::new(),
        })
    }

    /// The member at `key` (an armap offset, or a position tagged [`NO_ARMAP`]): its
    /// name and symbols.
    fn member(&self, key: u64) -> Result<(String, Symbols), String> {
        let ar = ArchiveFile::parse(&*self.data).map_err(|e| e.to_string())?;
        let m = if key & NO_ARMAP != 0 {
            ar.members()
                .nth((key & !NO_ARMAP) as usize)
                .ok_or("member out of range")?
        } else {
            ar.member(object::read::archive::ArchiveOffset(key))
        }
        .map_err(|e| e.to_string())?;
        let name = String::from_utf8_lossy(m.name()).into_owned();
        let bytes = member_data(&self.path, &self.data, &m)?;
        Ok((name, object_symbols(&bytes)?))
    }
}

/// Marks member keys that are positions rather than armap offsets.
const NO_ARMAP: u64 = 1 << 63;

/// A member's bytes: inside the archive, or, for a thin archive, the file it names
/// (relative to the archive's folder).
fn member_data(
    archive: &Path,
    data: &[u8],
    m: &object::read::archive::ArchiveMember<'_>,
) -> Result<Vec<u8>, String> {
    if m.is_thin() {
        let name = String::from_utf8_lossy(m.name()).into_owned();
        let p = archive.parent().unwrap_or(Path::new(".")).join(name);
        std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))
    } else {
        m.data(data).map(<[u8]>::to_vec).map_err(|e| e.to_string())
    }
}

/// Reads `inputs` (objects and archives, in link order) as the linker resolves them and
/// returns the functions left for libc to define.
pub fn scan(inputs: &[PathBuf]) -> Scan {
    let mut scan = Scan::default();
    let mut defined: HashSet<String> = HashSet::new();
    let mut first_use: BTreeMap<String, String> = BTreeMap::new();
    // The start code calls `main`: an archive member defining it is pulled in.
    first_use.insert("main".to_string(), "the start code".to_string());
    let mut archives = Vec::new();
    fn add(
        syms: Symbols,
        file: &str,
        defined: &mut HashSet<String>,
        first_use: &mut BTreeMap<String, String>,
    ) {
        defined.extend(syms.defined);
        for u in syms.undefined {
            first_use.entry(u).or_insert_with(|| file.to_string());
        }
    }
    for p in inputs {
        let data = match std::fs::read(p) {
            Ok(d) => d,
            Err(e) => {
                scan.unreadable.push((p.clone(), e.to_string()));
                continue;
            }
        };
        let shown = p.display().to_string();
        if data.starts_with(b"!<arch>\n") || data.starts_with(b"!<thin>\n") {
            match Archive::open(p, data) {
                Ok(a) => archives.push(a),
                Err(e) => scan.unreadable.push((p.clone(), e)),
            }
        } else {
            match object_symbols(&data) {
                Ok(s) => add(s, &shown, &mut defined, &mut first_use),
                Err(e) => scan.unreadable.push((p.clone(), e)),
            }
        }
    }
    // The archives as one group (uk-cc links them so): pull members that define a
    // symbol still wanted, until nothing changes.
    loop {
        let mut changed = false;
        for ar in &mut archives {
            let wanted: Vec<String> = first_use
                .keys()
                .filter(|s| !defined.contains(*s))
                .cloned()
                .collect();
            for sym in wanted {
                let Some(keys) = ar.index.get(&sym).cloned() else {
                    continue;
                };
                for key in keys {
                    if defined.contains(&sym) || !ar.loaded.insert(key) {
                        continue;
                    }
                    match ar.member(key) {
                        Ok((name, syms)) => {
                            let shown = format!("{}({name})", ar.path.display());
                            add(syms, &shown, &mut defined, &mut first_use);
                            changed = true;
                        }
                        Err(e) => scan.unreadable.push((ar.path.clone(), e)),
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    scan.undefined = first_use
        .into_iter()
        .filter(|(s, _)| !defined.contains(s))
        .collect();
    scan
}

/// The options of `schema` whose `symbols` the scanned program calls, one [`Need`] per
/// option (the first such function, by name), in schema order.
pub fn needs(schema: &uk_kconfig::Schema, scan: &Scan) -> Vec<Need> {
    schema
        .options()
        .iter()
        .filter_map(|opt| {
            let (symbol, file) = scan
                .undefined
                .iter()
                .find(|(s, _)| opt.symbols.iter().any(|o| o == *s))?;
            Some(Need {
                option: opt.name.clone(),
                symbol: symbol.clone(),
                file: file.clone(),
            })
        })
        .collect()
}

/// The link inputs of a gcc command line (run in `cwd`): input files that are not
/// sources, and `-l` libraries found in the command's own `-L` folders (musl's, in the
/// sysroot, are left out: see the module comment).
pub fn link_inputs(args: &[String], cwd: &Path) -> Vec<PathBuf> {
    use super::gcc::{find_user_lib, is_source, lib_arg, lib_dirs, separate_value};
    let dirs: Vec<PathBuf> = lib_dirs(args).iter().map(|d| cwd.join(d)).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if let Some(name) = lib_arg(a, args, &mut i) {
            out.extend(find_user_lib(&name, &dirs));
            continue;
        }
        if a.starts_with('-') {
            if separate_value(a) {
                i += 1;
            }
            continue;
        }
        if !is_source(a) {
            out.push(cwd.join(a));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn schema() -> uk_kconfig::Schema {
        uk_kconfig::Schema::from_files(&[(
            PathBuf::from("lib/net/options.toml"),
            "[[option]]\nname = \"lib.net\"\ntype = \"bool\"\nhelp = \"h\"\n\
             symbols = [\"socket\", \"getaddrinfo\"]\n\
             [[option]]\nname = \"lib.other\"\ntype = \"bool\"\nhelp = \"h\"\n\
             symbols = [\"frobnicate\"]\n"
                .into(),
        )])
        .unwrap()
    }

    /// Compiles C `code` with the host gcc into `dir/name.o` (`flags` extra).
    fn cc(dir: &Path, name: &str, code: &str, flags: &[&str]) -> PathBuf {
        let src = dir.join(format!("{name}.c"));
        let obj = dir.join(format!("{name}.o"));
        std::fs::write(&src, code).unwrap();
        let st = Command::new("gcc")
            .args(["-O2", "-c"])
            .args(flags)
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .status()
            .unwrap();
        assert!(st.success(), "gcc {name}.c");
        obj
    }

    fn ar(dir: &Path, name: &str, members: &[&Path], opts: &str) -> PathBuf {
        let a = dir.join(name);
        let st = Command::new("ar")
            .arg(opts)
            .arg(&a)
            .args(members)
            .status()
            .unwrap();
        assert!(st.success());
        a
    }

    fn options(scan: &Scan) -> Vec<String> {
        needs(&schema(), scan)
            .into_iter()
            .map(|n| n.option)
            .collect()
    }

    #[test]
    fn a_call_to_socket_needs_the_network() {
        let t = tempfile::tempdir().unwrap();
        let srv = cc(
            t.path(),
            "srv",
            "#include <sys/socket.h>\nint main(void){return socket(AF_INET,SOCK_STREAM,0);}\n",
            &[],
        );
        let s = scan(std::slice::from_ref(&srv));
        let n = needs(&schema(), &s);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].option, "lib.net");
        assert_eq!(n[0].symbol, "socket");
        assert_eq!(n[0].file, srv.display().to_string());
        assert_eq!(n[0].setting(), "lib.net=true");
        assert!(n[0].reason().starts_with("the program calls socket ("));

        let hello = cc(
            t.path(),
            "hello",
            "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n",
            &[],
        );
        let s = scan(&[hello]);
        assert!(options(&s).is_empty());
        assert!(s.undefined.contains_key("puts"), "{s:?}");
    }

    /// A function the program defines itself, or only references weakly, asks for
    /// nothing.
    #[test]
    fn own_definitions_and_weak_references_do_not_count() {
        let t = tempfile::tempdir().unwrap();
        let own = cc(
            t.path(),
            "own",
            "int socket(int a,int b,int c){return a+b+c;}\nint main(void){return socket(1,2,3);}\n",
            &[],
        );
        assert!(options(&scan(&[own])).is_empty());
        let weak = cc(
            t.path(),
            "weak",
            "extern int socket(int,int,int) __attribute__((weak));\n\
             int main(void){return socket ? socket(1,2,3) : 0;}\n",
            &[],
        );
        assert!(options(&scan(&[weak])).is_empty());
    }

    /// Archive members count only once something pulls them in, also through another
    /// member, and also in a thin archive or one without a symbol index.
    #[test]
    fn archive_members_count_when_pulled_in() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let resolve = cc(
            d,
            "resolve",
            "#include <netdb.h>\nint resolve(const char*h){struct addrinfo*r;return getaddrinfo(h,0,0,&r);}\n",
            &[],
        );
        let helper = cc(
            d,
            "helper",
            "int resolve(const char*);\nint helper(void){return resolve(\"x\");}\n",
            &[],
        );
        let unused = cc(
            d,
            "unused",
            "int frobnicate(void);\nint unused(void){return frobnicate();}\n",
            &[],
        );
        let uses = cc(
            d,
            "main",
            "int helper(void);\nint main(void){return helper();}\n",
            &[],
        );
        let quiet = cc(d, "quiet", "int main(void){return 0;}\n", &[]);
        for (name, opts) in [
            ("libx.a", "rcs"),
            ("libthin.a", "rcsT"),
            ("libnoidx.a", "rcS"),
        ] {
            let lib = ar(d, name, &[&resolve, &helper, &unused], opts);
            let s = scan(&[uses.clone(), lib.clone()]);
            let n = needs(&schema(), &s);
            assert_eq!(
                n.iter().map(|n| n.option.as_str()).collect::<Vec<_>>(),
                ["lib.net"],
                "{name}: {s:?}"
            );
            assert!(
                n[0].file.ends_with("resolve.o)") && n[0].file.contains(name),
                "{name}: {}",
                n[0].file
            );
            assert!(
                !s.undefined.contains_key("frobnicate"),
                "{name}: unused member pulled in"
            );
            assert!(
                options(&scan(&[quiet.clone(), lib.clone()])).is_empty(),
                "{name}"
            );
            // `main` itself may come from an archive (`uk-cc -o app -L. -lapp`).
            let in_lib = ar(
                d,
                &format!("main-{name}"),
                &[&uses, &resolve, &helper],
                opts,
            );
            assert_eq!(options(&scan(&[in_lib])), ["lib.net"], "{name}");
        }
    }

    /// `-flto` objects keep their symbols in GCC's table, not the ELF one.
    #[test]
    fn lto_objects_are_read() {
        let t = tempfile::tempdir().unwrap();
        let o = cc(
            t.path(),
            "lto",
            "#include <sys/socket.h>\nextern int weak_f(void) __attribute__((weak));\n\
             int helper(void){return socket(AF_INET,SOCK_DGRAM,0);}\n\
             int main(void){return helper() + (weak_f ? weak_f() : 0);}\n",
            &["-flto"],
        );
        let s = scan(&[o]);
        assert!(s.unreadable.is_empty(), "{s:?}");
        assert_eq!(options(&s), ["lib.net"]);
        assert!(!s.undefined.contains_key("helper"), "defined in the table");
        assert!(!s.undefined.contains_key("weak_f"), "weak reference");
    }

    #[test]
    fn unreadable_inputs_are_reported() {
        let t = tempfile::tempdir().unwrap();
        let script = t.path().join("libc.so");
        std::fs::write(&script, "GROUP ( libc.so.6 )\n").unwrap();
        let s = scan(&[script.clone(), t.path().join("missing.o")]);
        assert_eq!(s.unreadable.len(), 2);
        assert_eq!(s.unreadable[0].0, script);
    }

    #[test]
    fn link_inputs_take_objects_and_user_libraries() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::create_dir_all(d.join("lib")).unwrap();
        std::fs::write(d.join("lib/libz.a"), "!<arch>\n").unwrap();
        let args: Vec<String> =
            "-O2 main.o -Llib -lz -lm -o x -I inc util.c -l :libz.a -Wl,-E other.a"
                .split_whitespace()
                .map(String::from)
                .collect();
        let got = link_inputs(&args, d);
        assert_eq!(
            got,
            [
                d.join("main.o"),
                d.join("lib/libz.a"),
                d.join("lib/libz.a"),
                d.join("other.a")
            ]
        );
    }
}
