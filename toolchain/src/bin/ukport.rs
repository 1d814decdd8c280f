//! `ukport`: recipes in, images out. Lists, fetches, builds, configures and runs the
//! apps and ports described in `recipes/`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::{Parser, Subcommand};

use uk_toolchain::compile::config;
use uk_toolchain::image::app::build;
use uk_toolchain::packages::fetch;
use uk_toolchain::packages::ports;
use uk_toolchain::packages::progress::Progress;
use uk_toolchain::packages::recipe::{self, Recipe};
use uk_toolchain::platform::{self, Platform};
use uk_toolchain::run::launch::{Options, PlatformFlags};
use uk_toolchain::{bins, instance, paths, run};

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
    /// List the recipes (apps and ports) along the search path: the working directory,
    /// $UKIT_RECIPES, the repository's recipes/.
    List {
        /// One JSON object per recipe (name, version, kind, summary, file, error).
        #[arg(long)]
        json: bool,
    },
    /// Scaffold a recipe: fetch the source, detect its build system (autotools, CMake,
    /// meson, Makefile), write NAME.toml and try a first build.
    New {
        name: String,
        /// The source: an archive URL, a local archive or folder, or a Debian source
        /// package (debian:PACKAGE[=VERSION]).
        #[arg(long, value_name = "URL|FILE|DIR|debian:PKG[=VER]")]
        from: String,
        /// Where the recipe goes (default: the working directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// app (an image) or port (a library installed for apps to link).
        #[arg(long, default_value = "app", value_parser = ["app", "port"])]
        kind: String,
        /// The version (default: from the archive's or the Debian package's name).
        #[arg(long = "version", value_name = "VERSION")]
        version_: Option<String>,
        /// Write the recipe without building it.
        #[arg(long)]
        no_build: bool,
        /// Replace an existing NAME.toml.
        #[arg(long)]
        force: bool,
        /// Parallel jobs for the first build.
        #[arg(short = 'j', long)]
        jobs: Option<usize>,
        /// Arguments for the configure step (./configure, cmake, meson setup).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Validate a recipe without building it (keys, configuration, ports, files, steps).
    Check { recipe: String },
    /// Fetch a recipe's source into the cache (upstream, else the Debian source package).
    Fetch { recipe: String },
    /// Build an app into an image (or install a port).
    Build {
        recipe: String,
        /// Platforms to build images for, comma-separated (e.g. linuxu,kvm).
        #[arg(long, default_value = Platform::DEFAULT.name())]
        plat: String,
        /// Override a kernel option (name=value); repeatable.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Kernel option settings from a file (as `ukport menuconfig --output FILE`
        /// saves them); after the recipe's [config], before --set. Repeatable.
        #[arg(long = "config", value_name = "FILE")]
        config: Vec<PathBuf>,
        /// Parallel jobs for the app's build (default: number of CPUs).
        #[arg(short = 'j', long)]
        jobs: Option<usize>,
    },
    /// Run an image, building it first when it does not exist.
    Run(RunArgs),
    /// Running and ended instances (`ukport run -d`): name, image, platform, ports,
    /// status, uptime, memory.
    Ps {
        #[arg(long)]
        json: bool,
    },
    /// An instance's console output (and ukport's messages about it).
    Logs {
        name: String,
        /// Keep printing what it writes until it stops.
        #[arg(short = 'f', long)]
        follow: bool,
    },
    /// Stop an instance: SIGTERM, then SIGKILL after the timeout.
    Stop {
        #[arg(required = true)]
        names: Vec<String>,
        /// Seconds to wait after SIGTERM before SIGKILL.
        #[arg(short = 't', long, default_value_t = 10)]
        timeout: u64,
    },
    /// Send a signal to one process inside a running image (e.g. one of nginx's
    /// workers), on linuxu and kvm alike.
    Kill {
        /// The `ukport run` that runs the image: its host PID (or, for a linuxu image
        /// without network, which replaces ukport, the image's), or an instance's name
        /// (`ukport run -d`).
        target: String,
        /// The process inside the image (its pid there, as the program or /proc shows).
        #[arg(long)]
        pid: u32,
        /// The signal: a name (KILL, TERM, HUP, USR1, RTMIN+1; SIG prefix optional) or
        /// a number from 1 to 64.
        #[arg(short = 's', long = "signal", default_value = "TERM", value_parser = run::supervise::parse_signal)]
        signal: i32,
    },
    /// Remove an ended instance's state (its log too).
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
        /// Stop it first when it still runs.
        #[arg(short = 'f', long)]
        force: bool,
        /// With -f: seconds to wait after SIGTERM before SIGKILL.
        #[arg(short = 't', long, default_value_t = 10)]
        timeout: u64,
    },
    /// (internal) The supervisor of a background instance.
    #[command(name = "__supervise-instance", hide = true)]
    SuperviseInstance {
        dir: PathBuf,
        #[arg(last = true)]
        run_args: Vec<String>,
    },
    /// Show the resolved kernel configuration of a recipe.
    Config {
        recipe: String,
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Settings files, as for `ukport build --config`.
        #[arg(long = "config", value_name = "FILE")]
        config: Vec<PathBuf>,
        /// The platform whose image's needs to show (the options the program's calls
        /// turned on).
        #[arg(long, default_value = Platform::DEFAULT.name())]
        plat: String,
        /// The resolved configuration as JSON (hash, features, ports, every value with
        /// its origin), as the kernel build reads it.
        #[arg(long)]
        json: bool,
    },
    /// Edit kernel options in a terminal UI: a recipe's [config], or a settings file for
    /// `ukport build --config FILE` and `uk-cc --uk-config=FILE`.
    Menuconfig {
        /// The recipe whose [config] to edit (its image's needs show too).
        recipe: Option<String>,
        /// Save into this settings file instead (default without a recipe:
        /// ukit-config.toml in the working directory).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// The platform whose image's needs to show.
        #[arg(long, default_value = Platform::DEFAULT.name())]
        plat: String,
    },
    /// Build an app and run its smoke test (the recipe's [test]).
    Test {
        recipe: String,
        #[arg(long, default_value = Platform::DEFAULT.name())]
        plat: String,
    },
    /// Print a completion script for ukport (bash, zsh, fish, elvish, powershell); for
    /// uk-cc's own flags: `uk-cc --uk-completions=SHELL`.
    Completions {
        #[arg(value_parser = clap::value_parser!(clap_complete::Shell))]
        shell: clap_complete::Shell,
    },
    /// Prepare the toolchain: build the musl port (the uk-cc sysroot).
    Setup,
    /// Show what the cache holds, or clean it (`ukport cache clean`).
    Cache {
        #[command(subcommand)]
        action: Option<CacheCmd>,
    },
}

/// `ukport run`'s arguments.
#[derive(clap::Args, Clone)]
struct RunArgs {
    /// Start it in the background as an instance (see `ukport ps`, `logs`, `stop`).
    #[arg(short = 'd', long)]
    detach: bool,
    /// The instance's name with -d (default: the recipe's or image's, numbered when
    /// taken).
    #[arg(long, requires = "detach")]
    name: Option<String>,
    #[arg(long, default_value = Platform::DEFAULT.name())]
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
    /// Forward 127.0.0.1:HOST_PORT to the image's GUEST_PORT (TCP; add /udp for UDP);
    /// repeatable. Replaces the recipe's [run] ports when given.
    #[arg(
        short = 'p',
        long = "publish",
        value_name = "HOST_PORT:GUEST_PORT[/udp]"
    )]
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
}

impl RunArgs {
    /// The `ukport run` arguments that repeat this run in the foreground (what the
    /// supervisor of a background instance runs).
    fn foreground_argv(&self) -> Vec<String> {
        let mut v = vec!["--plat".to_string(), self.plat.clone()];
        let mut opt = |flag: &str, value: &Option<String>| {
            if let Some(x) = value {
                v.push(flag.to_string());
                v.push(x.clone());
            }
        };
        opt("--memory", &self.memory);
        opt("--net", &self.net);
        opt("--ip", &self.ip);
        opt("--gw", &self.gw);
        for e in &self.env {
            v.extend(["--env".to_string(), e.clone()]);
        }
        for p in &self.publish {
            v.extend(["--publish".to_string(), p.clone()]);
        }
        if self.trace {
            v.push("--trace".into());
        }
        if self.boot_stats {
            v.push("--boot-stats".into());
        }
        v.extend(["--machine".to_string(), self.machine.clone()]);
        v.extend(["--boot".to_string(), self.boot.clone()]);
        for (flag, dir) in [("--root", &self.root), ("--share", &self.share)] {
            if let Some(d) = dir {
                let abs = std::path::absolute(d).unwrap_or_else(|_| d.clone());
                v.extend([flag.to_string(), abs.display().to_string()]);
            }
        }
        v.push(self.target.clone());
        v.push("--".into());
        v.extend(self.args.iter().cloned());
        v
    }
}

#[derive(Subcommand)]
enum CacheCmd {
    /// Remove what the tools rebuild on demand. Without flags: relink objects no
    /// ukport image uses, and this checkout's kernels built from other sources.
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
        Cmd::List { json } => list(json),
        Cmd::New {
            name,
            from,
            dir,
            kind,
            version_,
            no_build,
            force,
            jobs,
            args,
        } => new_recipe(
            name, &from, dir, &kind, version_, no_build, force, jobs, args,
        ),
        Cmd::Check { recipe } => check_recipe(&recipe),
        Cmd::Fetch { recipe } => fetch_cmd(&recipe),
        Cmd::Build {
            recipe,
            plat,
            set,
            config,
            jobs,
        } => platform::parse_list(&plat)
            .map_err(anyhow::Error::from)
            .and_then(|plats| {
                let r = Recipe::load(&recipe)?;
                let settings = config::Settings { files: config, set };
                plats
                    .into_iter()
                    .try_for_each(|p| build(&r, p, &settings, jobs).map(|_| ()))
            }),
        Cmd::Run(a) => run_cmd(a),
        Cmd::Ps { json } => ps(json),
        Cmd::Logs { name, follow } => instance::logs(&name, follow, &mut std::io::stdout().lock()),
        Cmd::Stop { names, timeout } => names.iter().try_for_each(|n| {
            let st = instance::stop(n, std::time::Duration::from_secs(timeout))?;
            println!("{n}: {st}");
            Ok(())
        }),
        Cmd::Kill {
            target,
            pid,
            signal,
        } => kill_cmd(&target, pid, signal),
        Cmd::Rm {
            names,
            force,
            timeout,
        } => names.iter().try_for_each(|n| {
            instance::remove(n, force, std::time::Duration::from_secs(timeout))?;
            println!("{n}: removed");
            Ok(())
        }),
        Cmd::SuperviseInstance { dir, run_args } => {
            instance::supervise(&dir, &run_args).map(|code| std::process::exit(code))
        }
        Cmd::Config {
            recipe,
            set,
            config,
            plat,
            json,
        } => show_config(
            &recipe,
            config::Settings { files: config, set },
            &plat,
            json,
        ),
        Cmd::Test { recipe, plat } => plat
            .parse()
            .map_err(anyhow::Error::from)
            .and_then(|plat| run::smoke::smoke_test(&recipe, plat)),
        Cmd::Setup => setup(),
        Cmd::Menuconfig {
            recipe,
            output,
            plat,
        } => menuconfig(recipe.as_deref(), output, &plat),
        Cmd::Completions { shell } => {
            use clap::CommandFactory;
            use std::io::Write;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "ukport", &mut script);
            match std::io::stdout().write_all(&script) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.map_err(anyhow::Error::from),
            }
        }
        Cmd::Cache { action } => cache_cmd(action),
    };
    if let Err(e) = r {
        eprintln!("ukport: error: {e:#}");
        std::process::exit(1);
    }
}

fn run_cmd(a: RunArgs) -> Result<()> {
    let plat: Platform = a.plat.parse()?;
    let opts = Options {
        env: a.env.clone(),
        memory: a.memory.clone(),
        trace: a.trace,
        publish: a.publish.clone(),
        root: a.root.clone(),
        args: a.args.clone(),
    };
    let flags = PlatformFlags {
        net: a.net.clone(),
        ip: a.ip.clone(),
        gw: a.gw.clone(),
        machine: a.machine.clone(),
        boot: a.boot.clone(),
        boot_stats: a.boot_stats,
        share: a.share.clone(),
    };
    if !a.detach {
        let code = run::run(plat, &a.target, &opts, &flags)?;
        std::process::exit(code);
    }
    // In the background: check and build here, where the user sees it, then hand the
    // run to a supervisor.
    run::runner(plat).check(&flags)?;
    let (image, recipe) = run::resolve_image(plat, &a.target)?;
    let ports = match (&recipe, a.publish.is_empty()) {
        (Some(r), true) => r.run.ports.clone(),
        _ => a.publish.clone(),
    };
    run::net::check_host_ports_free(&run::net::parse_ports(&ports)?)?;
    let name = match &a.name {
        Some(n) => n.clone(),
        None => instance::free_name(&match &recipe {
            Some(r) => r.name.clone(),
            None => image
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "app".into()),
        }),
    };
    let inst = instance::start(
        &name,
        &a.target,
        &image,
        plat.name(),
        ports,
        &a.foreground_argv(),
    )?;
    println!("{}", inst.state.name);
    eprintln!(
        "ukport: {} runs in the background (pid {}); `ukport logs -f {0}`, `ukport stop {0}`",
        inst.state.name, inst.state.pid
    );
    Ok(())
}

/// `ukport kill`: host signal 40 queued with `pid << 8 | signal` to the `ukport run`
/// (or linuxu image) given, which passes it into the image (docs/processes.md).
fn kill_cmd(target: &str, pid: u32, signal: i32) -> Result<()> {
    use anyhow::Context;
    let value = run::supervise::targeted_value(pid, signal)?;
    let host = match target.parse::<u32>() {
        Ok(p) => p,
        Err(_) => instance::running_pid(target)?,
    };
    // Only a process that catches signal 40 takes it: sent to anything else it would
    // kill it (the default action of a real-time signal).
    let status = std::fs::read_to_string(format!("/proc/{host}/status"))
        .with_context(|| format!("no process {host}"))?;
    let caught = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .unwrap_or(0);
    let bit = 1u64 << (run::supervise::TARGETED_SIGNAL - 1);
    if caught & bit == 0 {
        anyhow::bail!(
            "process {host} is not a running `ukport run` or ukit image (it does not take \
             signal {}); give the PID of `ukport run`, or an instance's name",
            run::supervise::TARGETED_SIGNAL
        );
    }
    run::supervise::send_targeted(host, value)
        .with_context(|| format!("cannot send the signal to process {host}"))
}

fn ps(json: bool) -> Result<()> {
    let all = instance::list();
    if json {
        let rows: Vec<serde_json::Value> = all.iter().map(instance::Instance::to_json).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let rows: Vec<[String; 7]> = all
        .iter()
        .map(|i| {
            [
                i.state.name.clone(),
                i.state.image.display().to_string(),
                i.state.platform.clone(),
                i.state.ports.join(","),
                i.status.to_string(),
                instance::human_duration(i.uptime()),
                i.memory
                    .map(uk_toolchain::cache::human)
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let head = [
        "NAME", "IMAGE", "PLATFORM", "PORTS", "STATUS", "UPTIME", "MEMORY",
    ]
    .map(String::from);
    let widths: Vec<usize> = (0..7)
        .map(|c| {
            rows.iter()
                .chain([&head])
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in [&head].into_iter().chain(rows.iter()) {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    Ok(())
}

fn menuconfig(recipe: Option<&str>, output: Option<PathBuf>, plat: &str) -> Result<()> {
    use std::io::IsTerminal;
    use uk_toolchain::menuconfig::{self, Target};
    let plat: Platform = plat.parse()?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "menuconfig needs a terminal; without one, use `ukport config RECIPE --set \
             OPTION=VALUE` to try settings and write them into the recipe's [config] or a \
             settings file (docs/config.md)"
        );
    }
    let schema = config::schema()?;
    let (below, target) = match recipe {
        Some(name) => {
            let r = Recipe::load(name)?;
            let image = paths::images_dir().join(plat.image_name(&r.name));
            let mut below = config::need_layers(&uk_toolchain::image::build::image_needs(&image));
            match output {
                Some(f) => {
                    below.extend(
                        config::recipe_layers(&r, &config::Settings::default())?
                            .into_iter()
                            .take(1),
                    );
                    (below, Target::File(f))
                }
                None => (below, Target::Recipe(r.path().to_path_buf())),
            }
        }
        None => (
            Vec::new(),
            Target::File(output.unwrap_or_else(|| PathBuf::from("ukit-config.toml"))),
        ),
    };
    let app = menuconfig::App::new(schema, below, target)?;
    menuconfig::run(app)
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
                        "this checkout's kernels built from other sources"
                    },
                    cache::clean_kernels(&root, &stamp, &paths::checkout_id(), all_kernels)?,
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

fn list(json: bool) -> Result<()> {
    let dirs = paths::recipe_search_path();
    let repo = paths::recipes_dir();
    let found = recipe::load_all_from(&dirs);
    if json {
        let rows: Vec<serde_json::Value> = found
            .iter()
            .map(|(file, r)| match r {
                Ok(r) => serde_json::json!({
                    "name": r.name, "version": r.version, "kind": r.kind.to_string(),
                    "summary": r.summary, "file": file,
                }),
                Err(e) => serde_json::json!({
                    "file": file, "error": format!("{e:#}"),
                }),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let rows: Vec<[String; 5]> = found
        .into_iter()
        .map(|(file, r)| {
            // Recipes outside the repository say where they are.
            let from = if file.parent() == Some(repo.as_path()) {
                String::new()
            } else {
                file.display().to_string()
            };
            match r {
                Ok(r) => [r.name, r.version, r.kind.to_string(), r.summary, from],
                Err(e) => [
                    "?".into(),
                    "".into(),
                    "".into(),
                    format!("broken recipe: {e:#}"),
                    from,
                ],
            }
        })
        .collect();
    if rows.is_empty() {
        let shown: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        println!("no recipes in {}", shown.join(", "));
        return Ok(());
    }
    let head = ["NAME", "VERSION", "KIND", "SUMMARY", ""].map(String::from);
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
        let line = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2]
        );
        if r[4].is_empty() {
            println!("{line}");
        } else {
            println!("{line}  ({})", r[4]);
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn new_recipe(
    name: String,
    from: &str,
    dir: Option<PathBuf>,
    kind: &str,
    version: Option<String>,
    no_build: bool,
    force: bool,
    jobs: Option<usize>,
    extra: Vec<String>,
) -> Result<()> {
    use uk_toolchain::author;
    let opts = author::NewOpts {
        name,
        from: from.parse()?,
        dir: match dir {
            Some(d) => d,
            None => std::env::current_dir()?,
        },
        kind: if kind == "port" {
            recipe::Kind::Port
        } else {
            recipe::Kind::App
        },
        version,
        extra,
        no_build,
        force,
        jobs,
    };
    let started = Instant::now();
    let report = author::new(&opts)?;
    let s = &report.spec;
    println!("recipe: {}", report.recipe.display());
    println!(
        "  source: {} {} (fetched in {:.1}s)",
        s.name, s.version, report.fetch_seconds
    );
    println!("  build system: {}", s.build_system.name());
    for step in &s.steps {
        println!("  step: {}", step.join(" "));
    }
    if let Some(b) = &report.built {
        println!(
            "  first build: {} ({:.1}s; {:.1}s in all)",
            b.display(),
            report.build_seconds,
            started.elapsed().as_secs_f64()
        );
    }
    if let Some(b) = &s.binary {
        println!("  binary: {b}");
    }
    match &s.test {
        Some((args, out)) => println!(
            "  test: {} {} printed {:?} (recorded as [test]; `ukport test {}`)",
            s.name,
            args.join(" "),
            out.lines().next().unwrap_or(""),
            report.recipe.display()
        ),
        None if report.built.is_some() && s.kind == recipe::Kind::App => println!(
            "  test: none recorded (`{} --version` gave nothing short); write [test] by hand",
            s.name
        ),
        None => {}
    }
    Ok(())
}

fn check_recipe(name: &str) -> Result<()> {
    let (r, findings) = uk_toolchain::author::check(name)?;
    for f in &findings {
        println!("{f}");
    }
    let errors = findings.iter().filter(|f| f.error).count();
    if errors > 0 {
        anyhow::bail!(
            "{}: {errors} error(s), {} warning(s)",
            r.path().display(),
            findings.len() - errors
        );
    }
    println!(
        "ok: {} {} ({}, {} warning(s))",
        r.name,
        r.version,
        r.path().display(),
        findings.len()
    );
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

/// `ukport config`: the recipe's configuration over what its image needs (when one was
/// built), with where each value comes from.
fn show_config(name: &str, settings: config::Settings, plat: &str, json: bool) -> Result<()> {
    let plat: Platform = plat.parse()?;
    let r = Recipe::load(name)?;
    let image = paths::images_dir().join(plat.image_name(&r.name));
    let needs = uk_toolchain::image::build::image_needs(&image);
    let (schema, resolved) = config::resolve_recipe(&r, &needs, &settings)?;
    if json {
        print!("{}", resolved.to_json());
    } else {
        print!("{}", uk_kconfig::render(&resolved, &schema));
    }
    Ok(())
}

fn setup() -> Result<()> {
    let started = Instant::now();
    let prefix = ports::ensure_port(ports::LIBC)?;
    println!(
        "musl port ready in {} ({:.1}s)",
        prefix.display(),
        started.elapsed().as_secs_f64()
    );
    match bins::uk_cc() {
        Ok(cc) => {
            // Every installed port is a place CMake and meson may find libraries in.
            let ports: Vec<PathBuf> = std::fs::read_dir(paths::ports_dir())
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join(ports::STAMP).is_file())
                .collect();
            let f = uk_toolchain::packages::buildsys::write_files(&cc, &prefix, &ports)?;
            println!(
                "CMake:  cmake -DCMAKE_TOOLCHAIN_FILE={} ...",
                f.cmake_toolchain.display()
            );
            println!(
                "meson:  meson setup --native-file {} ...",
                f.meson_native.display()
            );
        }
        Err(e) => eprintln!("ukport: note: {e:#}"),
    }
    Ok(())
}
