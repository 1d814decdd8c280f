//! `ukport`: recipes in, images out. Lists, fetches, builds, configures and runs the
//! apps and ports described in `recipes/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};

use uk_toolchain::compile::config;
use uk_toolchain::image::build::{build, check_plat, image_is_current};
use uk_toolchain::image::rootfs::{assemble_rootfs, root_option};
use uk_toolchain::packages::fetch;
use uk_toolchain::packages::ports;
use uk_toolchain::packages::progress::Progress;
use uk_toolchain::packages::recipe::{self, Kind, Recipe};
use uk_toolchain::run::{net, supervise};
use uk_toolchain::{bins, paths};

#[derive(Parser)]
#[command(
    name = "ukport",
    version,
    about = "Build and run C programs as ukit unikernels"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

// Parsed once per process; boxing the big `Run` variant would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Cmd {
    /// List the recipes (apps and ports).
    List,
    /// Fetch a recipe's source into the cache (upstream, else the Debian source package).
    Fetch { recipe: String },
    /// Build an app into an image (or install a port).
    Build {
        recipe: String,
        /// Platforms to build images for, comma-separated (e.g. linuxu,kvm).
        #[arg(long, default_value = "linuxu")]
        plat: String,
        /// Override a kernel option (name=value); repeatable.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Parallel jobs for the app's build (default: number of CPUs).
        #[arg(short = 'j', long)]
        jobs: Option<usize>,
    },
    /// Run an image, building it first when it does not exist.
    Run {
        #[arg(long, default_value = "linuxu")]
        plat: String,
        /// Environment variable for the program (K=V); repeatable.
        #[arg(short = 'e', long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// Memory for the image (e.g. 64M); default: the recipe's [run] memory.
        #[arg(short = 'm', long)]
        memory: Option<String>,
        /// Print every system call with its arguments and result (like strace).
        #[arg(long)]
        trace: bool,
        /// kvm: QEMU machine (microvm or pc).
        #[arg(long, default_value = "microvm")]
        machine: String,
        /// kvm: boot protocol QEMU uses (multiboot or pvh).
        #[arg(long, default_value = "multiboot")]
        boot: String,
        /// kvm: print boot-stage times (µs since entry) at main, and launch-to-exit time.
        #[arg(long)]
        boot_stats: bool,
        /// linuxu: forward 127.0.0.1:HOST_PORT to the image's GUEST_PORT (TCP); repeatable.
        /// Replaces the recipe's [run] ports when given.
        #[arg(short = 'p', long = "publish", value_name = "HOST_PORT:GUEST_PORT")]
        publish: Vec<String>,
        /// linuxu: the image's network: passt (user-mode, rootless; the default when ports
        /// are forwarded), tap:IFNAME (an existing host tap device), or none.
        #[arg(long, value_name = "passt|tap:IFNAME|none")]
        net: Option<String>,
        /// linuxu, with --net tap: the image's address (ADDR/PREFIX or dhcp; default dhcp).
        #[arg(long, value_name = "ADDR/PREFIX|dhcp")]
        ip: Option<String>,
        /// linuxu, with --net tap: the default gateway.
        #[arg(long, value_name = "ADDR")]
        gw: Option<String>,
        /// Host folder to use as the image's `/` instead of the recipe's [rootfs] (linuxu:
        /// mounted through hostfs; kvm: packed into a cpio initrd, a copy made at launch).
        #[arg(long, visible_alias = "rootfs", value_name = "DIR")]
        root: Option<PathBuf>,
        /// kvm: share host folder DIR with the VM over virtio-9p and mount it as the
        /// image's `/` (live: the program's writes land in DIR). Replaces --root and the
        /// recipe's [rootfs].
        #[arg(long, value_name = "DIR", conflicts_with = "root")]
        share: Option<PathBuf>,
        /// Recipe name or path of an image file.
        target: String,
        /// Arguments for the program (after the recipe's [run] args).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Show the resolved kernel configuration of a recipe.
    Config {
        recipe: String,
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
    },
    /// Build an app and run its smoke test (the recipe's [test]).
    Test {
        recipe: String,
        #[arg(long, default_value = "linuxu")]
        plat: String,
    },
    /// Prepare the toolchain: build the musl port (the uk-cc sysroot).
    Setup,
    /// Show what the cache holds, or clean it (`ukport cache clean`).
    Cache {
        #[command(subcommand)]
        action: Option<CacheCmd>,
    },
}

#[derive(Subcommand)]
enum CacheCmd {
    /// Remove what the tools rebuild on demand. Without flags: relink objects no
    /// ukport image uses, and kernels built from other sources.
    Clean {
        /// Also remove the build trees of apps and ports (installed ports and images stay).
        #[arg(long)]
        builds: bool,
        /// Remove every kernel and cargo's kernel target folder (rebuilt at the next link).
        #[arg(long)]
        all_kernels: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::List => list(),
        Cmd::Fetch { recipe } => fetch_cmd(&recipe),
        Cmd::Build {
            recipe,
            plat,
            set,
            jobs,
        } => plat
            .split(',')
            .filter(|p| !p.is_empty())
            .try_for_each(|p| build(&recipe, p, &set, jobs).map(|_| ())),
        Cmd::Run {
            plat,
            env,
            memory,
            trace,
            machine,
            boot,
            boot_stats,
            publish,
            net,
            ip,
            gw,
            root,
            share,
            target,
            args,
        } => {
            let kvm = KvmOpts {
                machine,
                boot,
                boot_stats,
                rootfs: root.clone(),
                share,
            };
            let server = ServerOpts {
                publish,
                net,
                ip,
                gw,
                root,
            };
            run(
                &plat,
                &env,
                memory.as_deref(),
                trace,
                &kvm,
                &server,
                &target,
                &args,
            )
        }
        Cmd::Config { recipe, set } => config(&recipe, &set),
        Cmd::Test { recipe, plat } => smoke_test(&recipe, &plat),
        Cmd::Setup => setup(),
        Cmd::Cache { action } => cache_cmd(action),
    };
    if let Err(e) = r {
        eprintln!("ukport: error: {e:#}");
        std::process::exit(1);
    }
}

fn cache_cmd(action: Option<CacheCmd>) -> Result<()> {
    use uk_toolchain::cache;
    let root = cache::root();
    match action {
        None => {
            println!("cache: {}", root.display());
            let areas = cache::usage(&root);
            for a in &areas {
                println!(
                    "  {:<14} {:>10}  {:>5} entries  {}",
                    a.name,
                    cache::human(a.bytes),
                    a.entries,
                    a.what
                );
            }
            let total: u64 = areas.iter().map(|a| a.bytes).sum();
            println!("  {:<14} {:>10}", "total", cache::human(total));
            Ok(())
        }
        Some(CacheCmd::Clean {
            builds,
            all_kernels,
        }) => {
            let stamp = uk_toolchain::compile::kernel::source_stamp(&paths::repo_root())?;
            let mut report = vec![
                (
                    "relink objects no image uses",
                    cache::clean_objects(&root, cache::OBJECT_GRACE)?,
                ),
                (
                    if all_kernels {
                        "kernels (all) and their cargo target folder"
                    } else {
                        "kernels built from other sources"
                    },
                    cache::clean_kernels(&root, &stamp, all_kernels)?,
                ),
            ];
            if builds {
                report.push(("build trees", cache::clean_builds(&root)?));
            }
            let touched = ["objects", "kernel", "kernel-target", "build"];
            for shared in cache::shared_areas(&root)
                .into_iter()
                .filter(|a| touched.contains(a))
            {
                println!("left alone: {shared} is a symlink (shared with another cache)");
            }
            for (what, r) in report {
                println!(
                    "removed {} ({} entries): {what}",
                    cache::human(r.bytes),
                    r.entries
                );
            }
            Ok(())
        }
    }
}

fn list() -> Result<()> {
    let dir = paths::recipes_dir();
    let rows: Vec<[String; 4]> = recipe::load_all(&dir)?
        .into_iter()
        .map(|r| match r {
            Ok(r) => [r.name, r.version, r.kind.to_string(), r.summary],
            Err(e) => [
                "?".into(),
                "".into(),
                "".into(),
                format!("broken recipe: {e:#}"),
            ],
        })
        .collect();
    if rows.is_empty() {
        println!("no recipes in {}", dir.display());
        return Ok(());
    }
    let head = ["NAME", "VERSION", "KIND", "SUMMARY"].map(String::from);
    let w: Vec<usize> = (0..3)
        .map(|i| {
            rows.iter()
                .chain([&head])
                .map(|r| r[i].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in [&head].into_iter().chain(rows.iter()) {
        println!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2]
        );
    }
    Ok(())
}

fn fetch_cmd(name: &str) -> Result<()> {
    let r = Recipe::load(name)?;
    if let Some(dir) = r.local_source() {
        println!("{} has an in-repo source: {}", r.name, dir.display());
        return Ok(());
    }
    let p = fetch::fetch_source(&r, &Progress::new())?;
    println!("{}", p.display());
    Ok(())
}

/// `ukport run` options that only the kvm platform uses.
struct KvmOpts {
    machine: String,
    boot: String,
    boot_stats: bool,
    /// `--rootfs DIR`: packed into the initrd instead of the recipe's [rootfs].
    rootfs: Option<PathBuf>,
    /// `--share DIR`: shared over virtio-9p and mounted as `/` (no initrd then).
    share: Option<PathBuf>,
}

/// `ukport run` options for the linuxu image's root and network (servers).
struct ServerOpts {
    publish: Vec<String>,
    net: Option<String>,
    ip: Option<String>,
    gw: Option<String>,
    root: Option<PathBuf>,
}

#[allow(clippy::too_many_arguments)]
fn run(
    plat: &str,
    env: &[String],
    memory: Option<&str>,
    trace: bool,
    kvm: &KvmOpts,
    server: &ServerOpts,
    target: &str,
    args: &[String],
) -> Result<()> {
    check_plat(plat)?;
    if kvm.share.is_some() && plat != "kvm" {
        bail!("--share is for --plat kvm (virtio-9p); on linuxu, --root DIR mounts a host folder as /");
    }
    // Bad -p / --net input fails before a build starts (the recipe's ports are checked
    // again below, once it is loaded).
    net::check_host_ports_free(&net::parse_ports(&server.publish)?)?;
    if let Some(m) = &server.net {
        m.parse::<net::NetMode>()?;
    }
    let as_path = Path::new(target);
    let (image, recipe) =
        if target.contains('/') || (as_path.is_file() && !target.ends_with(".toml")) {
            if !as_path.is_file() {
                bail!("image {target} does not exist");
            }
            (as_path.to_path_buf(), None)
        } else {
            let r = Recipe::load(target)?;
            if r.kind == Kind::Port {
                bail!(
                    "{} is a port (a library), not an app; nothing to run",
                    r.name
                );
            }
            let image = paths::images_dir().join(format!("{}.{plat}", r.name));
            let image = if !image.is_file() {
                eprintln!("ukport: {} is not built yet; building it", image.display());
                build(&r.name, plat, &[], None)?
            } else if !image_is_current(&r, plat, &image)? {
                eprintln!(
                    "ukport: {} is older than its recipe, source or kernel; updating it",
                    image.display()
                );
                build(&r.name, plat, &[], None)?
            } else {
                image
            };
            (image, Some(r))
        };

    if plat == "kvm" {
        if server.net.is_some() {
            bail!("--net is a linuxu option for now (kvm: see docs/kvm.md)");
        }
        // kvm networking: QEMU user-mode with -p (else the recipe's ports) forwarded on
        // 127.0.0.1 to a virtio-net device.
        let specs = if server.publish.is_empty() {
            recipe
                .as_ref()
                .map(|r| r.run.ports.clone())
                .unwrap_or_default()
        } else {
            server.publish.clone()
        };
        let fwd: Vec<(u16, u16)> = net::parse_ports(&specs)?
            .iter()
            .map(|p| (p.host, p.guest))
            .collect();
        let status = run_kvm(&image, recipe.as_ref(), env, memory, trace, kvm, args, &fwd)?;
        std::process::exit(status);
    }
    // Ports: -p replaces the recipe's [run] ports. Checked before anything starts.
    let port_specs = if server.publish.is_empty() {
        recipe
            .as_ref()
            .map(|r| r.run.ports.clone())
            .unwrap_or_default()
    } else {
        server.publish.clone()
    };
    let ports = net::parse_ports(&port_specs)?;
    let mode = match &server.net {
        Some(m) => m.parse()?,
        None if !ports.is_empty() => net::NetMode::Passt,
        None => net::NetMode::None,
    };
    if !ports.is_empty() && mode != net::NetMode::Passt {
        bail!("port forwards (-p or [run] ports) need --net passt; with a tap device, reach the image at its own address");
    }
    if (server.ip.is_some() || server.gw.is_some()) && !matches!(mode, net::NetMode::Tap(_)) {
        bail!(
            "--ip and --gw configure a tap device; passt gives the image {}/{}",
            net::GUEST_ADDR,
            net::GUEST_PREFIX
        );
    }
    net::check_host_ports_free(&ports)?;
    let root = match (&server.root, &recipe) {
        (Some(dir), _) => Some(root_option(dir)?),
        (None, Some(r)) => assemble_rootfs(r)?.map(|d| root_option(&d)).transpose()?,
        (None, None) => None,
    };
    let mut cmd = Command::new(&image);
    if let Some(r) = &recipe {
        cmd.args(&r.run.args);
        cmd.envs(&r.run.env);
    }
    cmd.args(args);
    for kv in env {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow!("-e {kv}: expected K=V"))?;
        cmd.env(k, v);
    }
    let mem = memory
        .map(str::to_string)
        .or_else(|| recipe.as_ref().and_then(|r| r.run.memory.clone()));
    let mut opts = Vec::new();
    if let Some(m) = mem {
        uk_kconfig::parse_size(&m).map_err(|e| anyhow!("-m {m}: {e}"))?;
        opts.push(format!("mem={m}"));
    }
    if trace {
        opts.push("trace".to_string());
    }
    // The image's root: the recipe's [rootfs] (or --root) through hostfs.
    opts.extend(root);
    let name = recipe
        .as_ref()
        .map_or_else(|| image.display().to_string(), |r| r.name.clone());
    let mut passt = match &mode {
        net::NetMode::None => None,
        net::NetMode::Passt => {
            let p = net::Passt::start(&ports)?;
            opts.extend(net::passt_boot_options(p.socket()));
            Some(p)
        }
        net::NetMode::Tap(ifname) => {
            opts.push(format!("net=tap:{ifname}"));
            opts.push(format!("ip={}", server.ip.as_deref().unwrap_or("dhcp")));
            opts.extend(server.gw.as_ref().map(|g| format!("gw={g}")));
            None
        }
    };
    if !opts.is_empty() {
        cmd.env("UKIT_OPTS", opts.join(" "));
    }
    if mode != net::NetMode::None {
        for p in &ports {
            eprintln!(
                "ukport: {name}: guest port {} is reachable at http://127.0.0.1:{}/",
                p.guest, p.host
            );
        }
        if let net::NetMode::Tap(ifname) = &mode {
            eprintln!(
                "ukport: {name}: on tap device {ifname}, address {}",
                server.ip.as_deref().unwrap_or("from DHCP")
            );
        }
        eprintln!("ukport: {name}: running in the foreground; Ctrl-C or SIGTERM stops it");
        // Supervised, not exec'd: passt must be stopped once the image has exited.
        let code = supervise::supervise(cmd, passt.as_mut().map(|p| p as _))?;
        std::process::exit(code);
    }
    use std::os::unix::process::CommandExt;
    // exec: the image takes over this process, so its exit status, signals and terminal
    // are the user's directly.
    let err = cmd.exec();
    Err(anyhow!("cannot run {}: {err}", image.display()))
}

/// Boots a kvm image under QEMU; the program's exit status.
#[allow(clippy::too_many_arguments)]
fn run_kvm(
    image: &Path,
    recipe: Option<&Recipe>,
    env: &[String],
    memory: Option<&str>,
    trace: bool,
    kvm: &KvmOpts,
    args: &[String],
    forwards: &[(u16, u16)],
) -> Result<i32> {
    use uk_toolchain::run::qemu;
    let name = match recipe {
        Some(r) => r.name.clone(),
        None => image
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "app".into()),
    };
    let mut argv = vec![name];
    let mut envs: Vec<(String, String)> = Vec::new();
    if let Some(r) = recipe {
        argv.extend(r.run.args.iter().cloned());
        envs.extend(r.run.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    argv.extend(args.iter().cloned());
    for kv in env {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow!("-e {kv}: expected K=V"))?;
        envs.push((k.into(), v.into()));
    }
    let mem = memory
        .map(str::to_string)
        .or_else(|| recipe.and_then(|r| r.run.memory.clone()))
        .unwrap_or_else(|| "128M".into());
    uk_kconfig::parse_size(&mem).map_err(|e| anyhow!("-m {mem}: {e}"))?;
    let mut opts = Vec::new();
    if trace {
        opts.push("trace".to_string());
    }
    if kvm.boot_stats {
        opts.push("bootstats".to_string());
    }
    if !forwards.is_empty() {
        // QEMU user-mode networking forwards to 10.0.2.15; its gateway is 10.0.2.2.
        opts.extend(["ip=10.0.2.15/24".to_string(), "gw=10.0.2.2".to_string()]);
    }
    let share = match &kvm.share {
        Some(d) => {
            let d = fs::canonicalize(d)
                .with_context(|| format!("--share {}: folder not found", d.display()))?;
            if !d.is_dir() {
                bail!("--share {}: not a folder", d.display());
            }
            // The share is the image's root (the kernel's hostfs over virtio-9p).
            opts.push("root=hostfs:/".to_string());
            Some(d)
        }
        None => None,
    };
    let initrd = if share.is_some() {
        None
    } else {
        kvm_initrd(kvm.rootfs.as_deref(), recipe)?
    };
    let spec = qemu::RunSpec {
        image: image.to_path_buf(),
        machine: qemu::Machine::parse(&kvm.machine)?,
        boot: qemu::Boot::parse(&kvm.boot)?,
        memory: mem,
        cmdline: qemu::kernel_cmdline(&opts, &envs, &argv),
        timing: kvm.boot_stats,
        forwards: forwards.to_vec(),
        initrd,
        share,
    };
    qemu::run(&spec)
}

/// The initrd of a kvm run: `--rootfs DIR`, else the recipe's `[rootfs]` (assembled as
/// for linuxu), packed into a newc archive in the cache. Packed afresh at every launch:
/// the folder may have changed, and packing costs milliseconds.
fn kvm_initrd(rootfs: Option<&Path>, recipe: Option<&Recipe>) -> Result<Option<PathBuf>> {
    use sha2::{Digest, Sha256};
    let (dir, archive) = match (rootfs, recipe) {
        (Some(d), _) => {
            let d = fs::canonicalize(d)
                .with_context(|| format!("--rootfs {}: folder not found", d.display()))?;
            let hash = hex::encode(Sha256::digest(d.as_os_str().as_encoded_bytes()));
            let stem = d
                .file_name()
                .map(|n| n.to_string_lossy().replace([',', ' '], "_"))
                .unwrap_or_else(|| "root".into());
            let archive = paths::cache_dir()
                .join("initrd")
                .join(format!("{stem}-{}.cpio", &hash[..16]));
            (d, archive)
        }
        (None, Some(r)) => match assemble_rootfs(r)? {
            Some(d) => {
                let archive = d.with_file_name("rootfs.cpio");
                (d, archive)
            }
            None => return Ok(None),
        },
        (None, None) => return Ok(None),
    };
    let packed = uk_toolchain::image::cpio::write_dir_archive(&dir, &archive)?;
    for p in &packed.skipped {
        eprintln!(
            "ukport: rootfs: left out {} (sockets, FIFOs and device nodes cannot live in the image's ramfs)",
            p.display()
        );
    }
    Ok(Some(archive))
}

fn config(name: &str, set: &[String]) -> Result<()> {
    let r = Recipe::load(name)?;
    let (schema, resolved) = config::resolve_recipe(&r, set)?;
    print!("{}", uk_kconfig::render(&resolved, &schema));
    Ok(())
}

/// Builds the app, runs it the way `ukport run` would (recipe args, or `[test] args`
/// when given; env, memory) and compares its stdout and exit status with the recipe's
/// `[test]`.
fn smoke_test(name: &str, plat: &str) -> Result<()> {
    let r = Recipe::load(name)?;
    let Some(test) = r.test.clone() else {
        bail!("{} has no [test] section ({})", r.name, r.path().display());
    };
    let image = build(&r.name, plat, &[], None)?;
    let mut cmd = Command::new(&image);
    cmd.args(test.args.as_ref().unwrap_or(&r.run.args))
        .envs(&r.run.env);
    let mut opts: Vec<String> = r.run.memory.iter().map(|m| format!("mem={m}")).collect();
    // The same root as `ukport run`: the recipe's [rootfs].
    opts.extend(assemble_rootfs(&r)?.map(|d| root_option(&d)).transpose()?);
    if !opts.is_empty() {
        cmd.env("UKIT_OPTS", opts.join(" "));
    }
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", image.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut problems = Vec::new();
    if out.status.code() != Some(test.expect_exit) {
        problems.push(format!(
            "exit status: expected {}, got {}",
            test.expect_exit, out.status
        ));
    }
    if let Some(want) = &test.expect_stdout {
        if stdout != *want {
            problems.push(format!("stdout: expected {want:?}, got {stdout:?}"));
        }
    }
    if problems.is_empty() {
        println!("PASS {} ({})", r.name, image.display());
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    bail!(
        "FAIL {}:\n  {}\nstderr:\n{}",
        r.name,
        problems.join("\n  "),
        stderr.trim_end()
    )
}

fn setup() -> Result<()> {
    let started = Instant::now();
    let prefix = ports::ensure_port(ports::LIBC)?;
    println!(
        "musl port ready in {} ({:.1}s)",
        prefix.display(),
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = bins::uk_cc() {
        eprintln!("ukport: note: {e:#}");
    }
    Ok(())
}
