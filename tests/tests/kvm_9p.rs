//! kvm host folders: virtio-9p (mmio on QEMU `microvm`, modern PCI on `pc`) under TCG,
//! through `ukport run --plat kvm --share DIR`, which mounts DIR as the image's `/`.
//!
//! A C program reads a file the test wrote (a per-run token, and a file larger than one
//! 9P message), writes a new file, renames it, makes a directory with a file in it,
//! removes a file and lists `/`; the test then checks on the host that every change
//! landed in the folder. Every VM runs in its own process group, killed by that id on
//! timeout (`run_command`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use uk_tests::{ensure_setup, run_command, text, tools, TempDir};

const TIMEOUT: Duration = Duration::from_secs(240);

const PROG_C: &str = r#"
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static int fail(const char *what) { perror(what); return 1; }
int main(void) {
    char tok[256] = {0};
    int fd = open("/input.txt", O_RDONLY);
    if (fd < 0) return fail("open input");
    ssize_t n = read(fd, tok, sizeof tok - 1);
    if (n <= 0) return fail("read input");
    close(fd);
    printf("input: %s", tok);
    /* A file larger than one 9P message: sum its bytes. */
    FILE *b = fopen("/big.bin", "rb");
    if (!b) return fail("open big");
    unsigned long sum = 0, len = 0; int c;
    while ((c = fgetc(b)) != EOF) { sum += (unsigned)c; len++; }
    fclose(b);
    printf("big: %lu bytes, sum %lu\n", len, sum);
    fd = open("/out.tmp", O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return fail("create out.tmp");
    char line[300];
    int m = snprintf(line, sizeof line, "copied: %s", tok);
    if (write(fd, line, m) != m) return fail("write out.tmp");
    if (fsync(fd) != 0) return fail("fsync");
    close(fd);
    if (rename("/out.tmp", "/out.txt") != 0) return fail("rename");
    struct stat st;
    if (stat("/out.txt", &st) != 0) return fail("stat out.txt");
    printf("out.txt: %lld bytes\n", (long long)st.st_size);
    if (mkdir("/sub", 0755) != 0) return fail("mkdir");
    FILE *d = fopen("/sub/deep.txt", "w");
    if (!d) return fail("create deep");
    fputs("deep\n", d);
    fclose(d);
    if (unlink("/victim.txt") != 0) return fail("unlink");
    DIR *dir = opendir("/");
    if (!dir) return fail("opendir");
    struct dirent *e;
    while ((e = readdir(dir))) printf("entry: %s\n", e->d_name);
    closedir(dir);
    return 0;
}
"#;

fn build_image(dir: &TempDir) -> PathBuf {
    ensure_setup();
    let c = dir.join("share9p.c");
    std::fs::write(&c, PROG_C).unwrap();
    let out = dir.join("share9p.kvm");
    let mut cmd = Command::new(&tools().uk_cc);
    cmd.args(["--uk-plat=kvm", "-O2", "-o"]).arg(&out).arg(&c);
    let o = run_command(cmd, Duration::from_secs(900));
    assert!(
        o.status.success(),
        "uk-cc failed:\n{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    out
}

fn run_shared(image: &Path, machine: &str, share: &Path) -> (String, i32) {
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["run", "--plat", "kvm", "--machine", machine, "--share"])
        .arg(share)
        .arg(image);
    let o = run_command(cmd, TIMEOUT);
    (
        text(&o.stdout) + &text(&o.stderr),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn a_program_reads_writes_renames_and_lists_a_shared_folder_on_microvm_and_pc() {
    let dir = TempDir::new("kvm-9p");
    let image = build_image(&dir);
    for machine in ["microvm", "pc"] {
        let share = dir.join(format!("share-{machine}"));
        std::fs::create_dir_all(&share).unwrap();
        let token = format!("token-{}-{machine}\n", std::process::id());
        std::fs::write(share.join("input.txt"), &token).unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let sum: u64 = big.iter().map(|&b| b as u64).sum();
        std::fs::write(share.join("big.bin"), &big).unwrap();
        std::fs::write(share.join("victim.txt"), "x").unwrap();

        let (console, status) = run_shared(&image, machine, &share);
        let ctx = format!("{machine}:\n{console}");
        assert_eq!(status, 0, "{ctx}");
        assert!(console.contains(&format!("input: {token}")), "{ctx}");
        assert!(
            console.contains(&format!("big: {} bytes, sum {sum}", big.len())),
            "{ctx}"
        );
        let expect = format!("copied: {token}");
        assert!(
            console.contains(&format!("out.txt: {} bytes", expect.len())),
            "{ctx}"
        );
        for name in ["input.txt", "big.bin", "out.txt", "sub"] {
            assert!(
                console.contains(&format!("entry: {name}\n")),
                "{name}: {ctx}"
            );
        }
        assert!(!console.contains("entry: out.tmp\n"), "{ctx}");
        assert!(!console.contains("entry: victim.txt\n"), "{ctx}");

        // What the host sees.
        assert_eq!(
            std::fs::read_to_string(share.join("out.txt")).unwrap(),
            expect,
            "{ctx}"
        );
        assert!(!share.join("out.tmp").exists(), "{ctx}");
        assert!(!share.join("victim.txt").exists(), "{ctx}");
        assert_eq!(
            std::fs::read_to_string(share.join("sub/deep.txt")).unwrap(),
            "deep\n",
            "{ctx}"
        );
        assert_eq!(std::fs::read(share.join("big.bin")).unwrap(), big);
    }
}
