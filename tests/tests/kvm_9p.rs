//! kvm host folders: virtio-9p (mmio on QEMU `microvm`, modern PCI on `pc`) under TCG,
//! through `ukport run --plat kvm --share DIR`, which mounts DIR as the image's `/`.
//!
//! A C program reads a file the test wrote (a per-run token, and a file larger than one
//! 9P message), writes a new file, renames it, makes a directory with a file in it,
//! removes a file, makes a symlink and a hard link, changes a mode, appends, truncates,
//! sets times and lists `/`; the test then checks on the host that every change landed
//! in the folder. Every VM runs in its own process group, killed by that id on
//! timeout (`run_command`).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
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
#include <sys/time.h>
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
    /* A file larger than one 9P message, read with one read(2) call (the kernel
       splits it into several Treads): sum its bytes. */
    static unsigned char big[400000];
    int b = open("/big.bin", O_RDONLY);
    if (b < 0) return fail("open big");
    unsigned long sum = 0, len = 0;
    ssize_t r;
    while ((r = read(b, big, sizeof big)) > 0)
        for (ssize_t i = 0; i < r; i++) { sum += big[i]; len++; }
    if (r < 0) return fail("read big");
    close(b);
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
    if (rmdir("/sub") == 0) return fail("rmdir of a full directory");
    if (open("/input.txt", O_RDONLY | O_CREAT | O_EXCL, 0644) >= 0) return fail("O_EXCL");
    /* Links, modes, appends, truncation and times. */
    if (symlink("input.txt", "/link") != 0) return fail("symlink");
    char t[64] = {0};
    if (readlink("/link", t, sizeof t) != 9) return fail("readlink");
    char via[256] = {0};
    fd = open("/link", O_RDONLY);
    if (fd < 0 || read(fd, via, sizeof via - 1) <= 0) return fail("read via link");
    close(fd);
    printf("via link %s: %s", t, via);
    if (link("/input.txt", "/hard") != 0) return fail("link");
    if (stat("/input.txt", &st) != 0) return fail("stat input");
    printf("nlink: %ld\n", (long)st.st_nlink);
    if (chmod("/hard", 0600) != 0) return fail("chmod");
    fd = open("/app.txt", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return fail("open append");
    if (write(fd, "one\n", 4) != 4) return fail("append 1");
    lseek(fd, 0, SEEK_SET);
    if (write(fd, "two\n", 4) != 4) return fail("append 2");
    close(fd);
    if (truncate("/app.txt", 6) != 0) return fail("truncate");
    struct timeval tv[2] = {{1000000000, 0}, {1234567890, 0}};
    if (utimes("/app.txt", tv) != 0) return fail("utimes");
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
        assert!(
            console.contains(&format!("via link input.txt: {token}")),
            "{ctx}"
        );
        assert!(console.contains("nlink: 2\n"), "{ctx}");
        assert_eq!(
            std::fs::read_link(share.join("link")).unwrap(),
            Path::new("input.txt")
        );
        let hard = std::fs::metadata(share.join("hard")).unwrap();
        let input = std::fs::metadata(share.join("input.txt")).unwrap();
        assert_eq!(hard.ino(), input.ino(), "a hard link");
        assert_eq!(hard.permissions().mode() & 0o7777, 0o600);
        // Times first: reading the file may move its atime on the host (relatime).
        let app = std::fs::metadata(share.join("app.txt")).unwrap();
        assert_eq!((app.atime(), app.mtime()), (1_000_000_000, 1_234_567_890));
        assert_eq!(
            std::fs::read_to_string(share.join("app.txt")).unwrap(),
            "one\ntw"
        );
    }
}
