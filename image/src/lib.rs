//! The kernel of one image: the selected crates tied together for one platform and one
//! resolved configuration. Built as a staticlib (`libuk.a`) and linked by uk-cc with
//! the program and musl.
//!
//! This crate owns what exists once per image: the global allocator, the panic
//! handler, and the boot sequence's wiring (`uk_boot_entry`).
//!
//! It has no host test build: everything it wires is unit-tested in its own crate
//! (`clippy --all-targets` still asks for a test build, which is empty). The panic
//! handler is compiled only by the toolchain's kernel build (feature `kernel`); a
//! workspace build links std instead (see image/Cargo.toml).
#![cfg(not(test))]
#![no_std]

extern crate alloc;

#[cfg(feature = "plat-kvm")]
pub use uk_plat_kvm as platform;
#[cfg(feature = "plat-linuxu")]
pub use uk_plat_linuxu as platform;
pub use uk_syscall_shim::{__uk_clone, __uk_unmapself, uk_syscall};

use uk_plat::BootArgs;

#[global_allocator]
static HEAP: uk_alloc::Heap = uk_alloc::new_heap(uk_config::ALLOC_HEAP_CHUNK);

// Outside the kernel build std may already be in the graph (see the `kernel` feature in
// Cargo.toml): link it always there, so that there is exactly one panic handler.
#[cfg(not(feature = "kernel"))]
extern crate std;

#[cfg(feature = "kernel")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    let mut line = uk_log::LineBuf::new();
    let _ = writeln!(line, "ukit: kernel panic: {info}");
    if uk_plat::is_registered() {
        let _ = uk_plat::get().console_write(uk_plat::ConsoleStream::Err, line.as_bytes());
        uk_plat::get().exit(134)
    }
    loop {
        core::hint::spin_loop();
    }
}

/// Boot options the kernel understands, besides the platform's own.
fn boot_options(opts: &'static str) {
    for w in opts.split(' ').filter(|w| !w.is_empty()) {
        let (k, v) = w.split_once('=').unwrap_or((w, ""));
        match (k, v) {
            ("trace", "" | "on" | "1") => uk_syscall_shim::trace::set(true),
            ("trace", "off" | "0") => uk_syscall_shim::trace::set(false),
            ("log", l) if uk_log::Level::parse(l).is_some() => {
                if let Some(l) = uk_log::Level::parse(l) {
                    uk_log::set_level(l)
                }
            }
            ("root" | "initrd" | "cwd", v) => {
                if let Err(e) = uk_posix::fs::boot_option(k, v) {
                    uk_log::error!("bad boot option `{w}`: {e}");
                    uk_plat::get().exit(2);
                }
            }
            #[cfg(feature = "net")]
            ("net" | "ip" | "gw" | "net.selftest", v) => {
                if let Err(e) = uk_net::boot_option(k, v) {
                    uk_log::error!("bad boot option `{w}`: {e}");
                    uk_plat::get().exit(2);
                }
            }
            _ => {
                uk_log::error!(
                    "unknown boot option `{w}` (known: mem=SIZE, trace, log=error|warn|info|debug, root=hostfs:/DIR|ramfs, initrd=/HOST/FILE.cpio, cwd=/DIR)"
                );
                uk_plat::get().exit(2);
            }
        }
    }
}

fn c_strings(mut p: *const *const u8) -> impl Iterator<Item = &'static [u8]> + Clone {
    core::iter::from_fn(move || {
        // SAFETY: `p` walks a NULL-terminated array of C strings handed over by the
        // platform's entry code; they live for the whole run.
        unsafe {
            let s = *p;
            if s.is_null() {
                return None;
            }
            p = p.add(1);
            Some(core::ffi::CStr::from_ptr(s as *const core::ffi::c_char).to_bytes())
        }
    })
}

/// The boot sequence, called by the platform's entry once it is registered.
#[no_mangle]
pub fn uk_boot_entry(args: &BootArgs) -> ! {
    if let Some(l) = uk_log::Level::parse(uk_config::UK_LOG_LEVEL) {
        uk_log::set_level(l);
    }
    uk_syscall_shim::trace::set(uk_config::SYSCALL_TRACE);
    boot_options(args.opts);
    uk_boot::init_memory();
    uk_sched::init(
        uk_config::SCHED_KERNEL_STACK,
        (uk_config::SCHED_TIMESLICE_US.max(0) as u64).saturating_mul(1000),
    );
    uk_plat::cpu::PREEMPT.set(uk_syscall_shim::preempt);
    uk_posix::init(uk_posix::PosixParams {
        nodename: uk_config::UK_NODENAME,
        max_fds: uk_config::POSIX_MAX_FDS as usize,
        stack_size: uk_config::POSIX_STACK_SIZE,
        brk_max: uk_config::ALLOC_BRK_MAX,
    });
    // Program files that execve loads call the kernel through these (posix/src/exec.rs).
    uk_posix::exec::set_entries([
        uk_syscall as *const () as usize,
        __uk_clone as *const () as usize,
        __uk_unmapself as *const () as usize,
    ]);
    if let Err(e) = uk_posix::fs::boot_mount(None) {
        uk_log::error!("cannot set up the file system: {e}");
        uk_plat::get().exit(1);
    }
    #[cfg(feature = "net")]
    net_boot();
    // SAFETY: the platform passes the running image's program headers.
    unsafe {
        uk_boot::for_each_segment(args.phdr, args.phnum, |s| {
            uk_posix::user::add_static_range(s.start, s.end, s.writable);
            uk_posix::fs::proc::add_image_segment(s.start, s.end, s.writable);
        })
    };
    if let Some(r) = uk_plat::get().program_data() {
        uk_posix::lifecycle::set_program_data(r.start, r.end());
    }
    // SAFETY: as above; the notes are in the image's first segment, mapped.
    unsafe { uk_posix::selfexec::set_image(args.phdr, args.phnum) };

    let anon = uk_abi::mman::MAP_PRIVATE | uk_abi::mman::MAP_ANONYMOUS;
    let rw = uk_abi::mman::PROT_READ | uk_abi::mman::PROT_WRITE;
    // The main stack has a PROT_NONE guard page below it, as every musl thread stack
    // does: an overflow faults (readable report) instead of overwriting other memory.
    let guard = uk_alloc::PAGE_SIZE;
    let space = &uk_posix::process::init().mm;
    let stack = space
        .mmap(0, uk_config::POSIX_STACK_SIZE + guard, rw, anon)
        .and_then(|s| space.mprotect(s, guard, 0).map(|()| s + guard));
    let stack = match stack {
        Ok(s) => s,
        Err(e) => {
            uk_log::error!("cannot allocate the main stack ({e:?}); give the image more memory");
            uk_plat::get().exit(1)
        }
    };
    let mut aux = uk_boot::AuxInfo {
        phdr: args.phdr,
        phnum: args.phnum,
        hwcap: args.hwcap,
        hwcap2: args.hwcap2,
        random: [0; 16],
    };
    uk_random::fill(&mut aux.random);
    let argv = c_strings(args.argv).take(args.argc);
    let envp = c_strings(args.envp);
    uk_posix::fs::proc::set_args(argv.clone(), envp.clone());
    let block = uk_boot::build_arg_block(argv, envp, &aux, |len| space.mmap(0, len, rw, anon).ok());
    let Some(block) = block else {
        uk_log::error!("cannot allocate the argument block; give the image more memory");
        uk_plat::get().exit(1)
    };
    uk_boot::start_program(stack + uk_config::POSIX_STACK_SIZE, &block)
}

/// Networking: lwIP, loopback and the devices the platform opened; with `net.selftest`,
/// the loopback self-test runs here and its result is the image's exit status.
#[cfg(feature = "net")]
fn net_boot() {
    uk_net::init();
    if uk_net::config::current().selftest {
        let (head, msg, status): (&str, _, _) = match uk_net::selftest::run() {
            Ok(m) => ("net.selftest: ok: ", m, 0),
            Err(e) => ("net.selftest: FAILED: ", e, 1),
        };
        let out = uk_plat::ConsoleStream::Out;
        for part in [head.as_bytes(), msg.as_bytes(), b"\n"] {
            let _ = uk_plat::get().console_write(out, part);
        }
        uk_plat::get().exit(status);
    }
}

/// The precompiled `core` references the unwinding personality routine even though
/// the kernel is built with panic=abort and never unwinds; an empty one satisfies the
/// linker. (Reached only if something tried to unwind, which abort rules out.)
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

/// The precompiled `alloc` has landing pads (it was built with panic=unwind) that name
/// `_Unwind_Resume`. Nothing unwinds in a panic=abort kernel, so it is never reached;
/// if it were, stopping is the only safe answer.
#[no_mangle]
pub extern "C" fn _Unwind_Resume() -> ! {
    if uk_plat::is_registered() {
        let _ =
            uk_plat::get().console_write(uk_plat::ConsoleStream::Err, b"ukit: unexpected unwind\n");
        uk_plat::get().exit(134)
    }
    loop {
        core::hint::spin_loop();
    }
}
