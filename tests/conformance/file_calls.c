/* File calls programs expect an answer from: posix_fadvise, fallocate, copy_file_range,
 * splice, memfd_create, chroot, /dev/tty without a controlling terminal, tee, vmsplice,
 * memfd seals. */
#include "harness.h"
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/uio.h>

static off_t size_of_fd(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? st.st_size : -1;
}

static void fadvise_cases(void)
{
	int fd = open("f", O_CREAT | O_RDWR, 0644);
	REQUIRE(fd >= 0);
	/* posix_fadvise returns the error number instead of setting errno. */
	TEST_RES(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL), 0);
	TEST_RES(posix_fadvise(fd, 0, 4096, POSIX_FADV_DONTNEED), 0);
	TEST_RES(posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED), 0);
	TEST_RES(posix_fadvise(fd, 0, 0, 99), EINVAL);
	TEST_RES(posix_fadvise(fd, 0, -1, POSIX_FADV_NORMAL), EINVAL);
	TEST_RES(posix_fadvise(9999, 0, 0, POSIX_FADV_NORMAL), EBADF);
	int p[2];
	REQUIRE(pipe(p) == 0);
	TEST_RES(posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL), ESPIPE);
	close(p[0]);
	close(p[1]);
	close(fd);
}

static void fallocate_cases(void)
{
	int fd = open("f", O_CREAT | O_RDWR, 0644);
	REQUIRE(fd >= 0);
	TEST_RES(fallocate(fd, 0, 0, 10000), 0);
	TEST_RES(size_of_fd(fd), 10000);
	/* Never shrinks; KEEP_SIZE leaves the size alone. */
	TEST_RES(fallocate(fd, 0, 0, 100), 0);
	TEST_RES(size_of_fd(fd), 10000);
	TEST_RES(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 50000), 0);
	TEST_RES(size_of_fd(fd), 10000);
	/* The new bytes read as zeros. */
	char buf[16];
	memset(buf, 'x', sizeof buf);
	TEST_RES(pread(fd, buf, sizeof buf, 5000), 16);
	TEST_RES(buf[0] | buf[15], 0);
	/* posix_fallocate: the same through musl, errors as return values. */
	TEST_RES(posix_fallocate(fd, 20000, 100), 0);
	TEST_RES(size_of_fd(fd), 20100);
	/* Punching a hole zeroes the range and keeps the size. */
	REQUIRE(pwrite(fd, "abcdef", 6, 100) == 6);
	TEST_RES(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 101, 3), 0);
	TEST_RES(pread(fd, buf, 6, 100), 6);
	TEST_RES(memcmp(buf, "a\0\0\0ef", 6), 0);
	TEST_RES(size_of_fd(fd), 20100);
	TEST_ERRNO(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10), EOPNOTSUPP);
	TEST_ERRNO(fallocate(fd, 0, -1, 10), EINVAL);
	TEST_ERRNO(fallocate(fd, 0, 0, 0), EINVAL);
	TEST_ERRNO(fallocate(9999, 0, 0, 10), EBADF);
	int ro = open("f", O_RDONLY);
	TEST_ERRNO(fallocate(ro, 0, 0, 10), EBADF);
	close(ro);
	int p[2];
	REQUIRE(pipe(p) == 0);
	TEST_ERRNO(fallocate(p[1], 0, 0, 10), ESPIPE);
	close(p[0]);
	close(p[1]);
	close(fd);
}

static void copy_range_cases(void)
{
	REQUIRE(ukt_write_file("src", "0123456789abcdef") == 0);
	int in = open("src", O_RDONLY);
	int out = open("dst", O_CREAT | O_RDWR | O_TRUNC, 0644);
	REQUIRE(in >= 0 && out >= 0);
	/* With the descriptors' offsets. */
	TEST_RES(copy_file_range(in, NULL, out, NULL, 4, 0), 4);
	TEST_RES(lseek(in, 0, SEEK_CUR), 4);
	TEST_RES(lseek(out, 0, SEEK_CUR), 4);
	/* With explicit offsets: the descriptors' offsets stay. */
	loff_t oi = 10, oo = 20;
	TEST_RES(copy_file_range(in, &oi, out, &oo, 100, 0), 6);
	TEST_RES(oi, 16);
	TEST_RES(oo, 26);
	TEST_RES(lseek(in, 0, SEEK_CUR), 4);
	TEST_RES(size_of_fd(out), 26);
	char buf[32];
	TEST_RES(pread(out, buf, 26, 0), 26);
	TEST_RES(memcmp(buf, "0123", 4), 0);
	TEST_RES(memcmp(buf + 20, "abcdef", 6), 0);
	/* At the end of the input: 0. */
	oi = 16;
	TEST_RES(copy_file_range(in, &oi, out, NULL, 10, 0), 0);
	TEST_ERRNO(copy_file_range(in, NULL, out, NULL, 1, 1), EINVAL);
	TEST_ERRNO(copy_file_range(out, NULL, in, NULL, 1, 0), EBADF);
	TEST_ERRNO(copy_file_range(9999, NULL, out, NULL, 1, 0), EBADF);
	/* Overlapping ranges of one file. */
	oi = 0;
	oo = 2;
	TEST_ERRNO(copy_file_range(out, &oi, out, &oo, 4, 0), EINVAL);
	int p[2];
	REQUIRE(pipe(p) == 0);
	TEST_ERRNO(copy_file_range(in, NULL, p[1], NULL, 1, 0), EINVAL);
	TEST_ERRNO(syscall(SYS_copy_file_range, in, (void *)8, out, NULL, 1, 0), EFAULT);
	close(p[0]);
	close(p[1]);
	close(in);
	close(out);
}

static void splice_cases(void)
{
	REQUIRE(ukt_write_file("src", "hello splice") == 0);
	int in = open("src", O_RDONLY);
	int out = open("dst", O_CREAT | O_RDWR | O_TRUNC, 0644);
	int p[2];
	REQUIRE(in >= 0 && out >= 0 && pipe(p) == 0);
	/* File -> pipe, at an explicit offset. */
	loff_t off = 6;
	TEST_RES(splice(in, &off, p[1], NULL, 100, 0), 6);
	TEST_RES(off, 12);
	TEST_RES(lseek(in, 0, SEEK_CUR), 0);
	/* File -> pipe at the descriptor's offset. */
	TEST_RES(splice(in, NULL, p[1], NULL, 5, 0), 5);
	TEST_RES(lseek(in, 0, SEEK_CUR), 5);
	/* Pipe -> file: "splicehello". */
	TEST_RES(splice(p[0], NULL, out, NULL, 100, 0), 11);
	char buf[32];
	TEST_RES(pread(out, buf, sizeof buf, 0), 11);
	TEST_RES(memcmp(buf, "splicehello", 11), 0);
	/* Pipe -> pipe. */
	int q[2];
	REQUIRE(pipe(q) == 0);
	REQUIRE(write(p[1], "xyz", 3) == 3);
	TEST_RES(splice(p[0], NULL, q[1], NULL, 2, 0), 2);
	TEST_RES(read(q[0], buf, sizeof buf), 2);
	TEST_RES(memcmp(buf, "xy", 2), 0);
	/* An empty pipe with SPLICE_F_NONBLOCK: EAGAIN; the last byte is still there. */
	TEST_RES(splice(p[0], NULL, q[1], NULL, 10, SPLICE_F_NONBLOCK), 1);
	TEST_ERRNO(splice(p[0], NULL, q[1], NULL, 10, SPLICE_F_NONBLOCK), EAGAIN);
	/* Writers gone: end of file. */
	close(p[1]);
	TEST_RES(splice(p[0], NULL, q[1], NULL, 10, 0), 0);
	/* Neither side a pipe; an offset for the pipe side; same pipe twice. */
	TEST_ERRNO(splice(in, NULL, out, NULL, 1, 0), EINVAL);
	off = 0;
	TEST_ERRNO(splice(q[0], &off, out, NULL, 1, 0), ESPIPE);
	TEST_ERRNO(splice(q[0], NULL, q[1], NULL, 1, 0), EINVAL);
	TEST_ERRNO(splice(q[1], NULL, out, NULL, 1, 0), EBADF);
	TEST_ERRNO(splice(in, NULL, q[1], NULL, 1, 0xff00), EINVAL);
	close(p[0]);
	close(q[0]);
	close(q[1]);
	close(in);
	close(out);
}

static void memfd_cases(void)
{
	int fd = memfd_create("ukt-memfd", MFD_CLOEXEC);
	REQUIRE(fd >= 0);
	TEST_RES(fcntl(fd, F_GETFD), FD_CLOEXEC);
	TEST_RES(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	struct stat st;
	TEST_RES(fstat(fd, &st), 0);
	TEST_TRUE(S_ISREG(st.st_mode));
	TEST_RES(st.st_size, 0);
	TEST_RES(write(fd, "memory", 6), 6);
	TEST_RES(ftruncate(fd, 8192), 0);
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_TRUE(m != MAP_FAILED);
	TEST_RES(memcmp(m, "memory", 6), 0);
	memcpy(m + 4096, "via map", 7);
	char buf[8];
	TEST_RES(pread(fd, buf, 7, 4096), 7);
	TEST_RES(memcmp(buf, "via map", 7), 0);
	TEST_RES(munmap(m, 8192), 0);
	char link[256];
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(self, link, sizeof link - 1);
	TEST_TRUE(n > 0);
	link[n > 0 ? n : 0] = 0;
	TEST_RES(strcmp(link, "/memfd:ukt-memfd (deleted)"), 0);
	int fd2 = memfd_create("second", 0);
	TEST_TRUE(fd2 >= 0 && fd2 != fd);
	TEST_RES(fcntl(fd2, F_GETFD), 0);
	TEST_RES(size_of_fd(fd2), 0);
	close(fd2);
	close(fd);
	char big[300];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	TEST_ERRNO(memfd_create(big, 0), EINVAL);
	TEST_ERRNO(memfd_create("x", 0x100), EINVAL);
	TEST_ERRNO(syscall(SYS_memfd_create, (void *)8, 0), EFAULT);
}

static void chroot_cases(void)
{
	char here[PATH_MAX];
	REQUIRE(getcwd(here, sizeof here) != NULL);
	int top = open("/", O_RDONLY | O_DIRECTORY);
	REQUIRE(top >= 0);
	REQUIRE(mkdir("jail", 0755) == 0);
	REQUIRE(ukt_write_file("jail/inside", "in") == 0);
	TEST_ERRNO(chroot("nowhere"), ENOENT);
	TEST_ERRNO(chroot("jail/inside"), ENOTDIR);
	TEST_RES(chroot("jail"), 0);
	/* Absolute paths now start in the jail. */
	TEST_RES(access("/inside", F_OK), 0);
	TEST_ERRNO(access("/jail", F_OK), ENOENT);
	/* ".." at the new root stays there. */
	TEST_RES(access("/../../inside", F_OK), 0);
	/* The working directory did not move: relative paths still work from it. */
	TEST_RES(access("jail/inside", F_OK), 0);
	/* Back out: the saved descriptor of the old root, then chroot("."). */
	TEST_RES(fchdir(top), 0);
	TEST_RES(chroot("."), 0);
	TEST_RES(chdir(here), 0);
	TEST_RES(access("jail/inside", F_OK), 0);
	close(top);
}

static void tty_cases(void)
{
	/* The harness runs without a controlling terminal (stdin /dev/null, stdout a
	 * pipe): /dev/tty is ENXIO, and the standard streams do not seek. */
	TEST_ERRNO(open("/dev/tty", O_RDWR), ENXIO);
	TEST_TRUE(!isatty(1));
	TEST_ERRNO(lseek(1, 0, SEEK_CUR), ESPIPE);
}

static volatile sig_atomic_t sigio_count;
static void on_sigio(int s)
{
	(void)s;
	sigio_count++;
}

/* Waits up to a second for SIGIO number `n`; returns the count seen. */
static int wait_sigio(int n)
{
	for (int i = 0; i < 1000 && sigio_count < n; i++)
		usleep(1000);
	return sigio_count;
}

/* dnotify: SIGIO when a watched directory changes. */
static void notify_cases(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigio;
	REQUIRE(sigaction(SIGIO, &sa, NULL) == 0);
	REQUIRE(mkdir("w", 0755) == 0);
	REQUIRE(ukt_write_file("plain", "x") == 0);
	int f = open("plain", O_RDONLY);
	TEST_ERRNO(fcntl(f, F_NOTIFY, DN_CREATE), ENOTDIR);
	close(f);
	TEST_ERRNO(fcntl(9999, F_NOTIFY, DN_CREATE), EBADF);
	int d = open("w", O_RDONLY | O_DIRECTORY);
	REQUIRE(d >= 0);
	sigio_count = 0;
	/* One-shot: the first creation signals, the second does not. */
	TEST_RES(fcntl(d, F_NOTIFY, DN_CREATE), 0);
	REQUIRE(ukt_write_file("w/a", "") == 0);
	TEST_RES(wait_sigio(1), 1);
	REQUIRE(ukt_write_file("w/b", "") == 0);
	usleep(20000);
	TEST_RES(sigio_count, 1);
	/* Events not asked for do not signal. */
	TEST_RES(fcntl(d, F_NOTIFY, DN_DELETE | DN_MULTISHOT), 0);
	REQUIRE(mkdir("w/c", 0755) == 0);
	usleep(20000);
	TEST_RES(sigio_count, 1);
	/* Multishot: every removal signals. */
	TEST_RES(unlink("w/a"), 0);
	TEST_RES(wait_sigio(2), 2);
	TEST_RES(unlink("w/b"), 0);
	TEST_RES(wait_sigio(3), 3);
	/* Renames and attribute changes. */
	TEST_RES(fcntl(d, F_NOTIFY, DN_RENAME | DN_ATTRIB | DN_MULTISHOT), 0);
	TEST_RES(rename("w/c", "w/c2"), 0);
	TEST_RES(wait_sigio(4), 4);
	TEST_RES(chmod("w/c2", 0700), 0);
	TEST_RES(wait_sigio(5), 5);
	/* No event bits: the watch ends. */
	TEST_RES(fcntl(d, F_NOTIFY, 0), 0);
	TEST_RES(rmdir("w/c2"), 0);
	usleep(20000);
	TEST_RES(sigio_count, 5);
	close(d);
	signal(SIGIO, SIG_DFL);
}

static void tee_cases(void)
{
	int p[2], q[2];
	REQUIRE(pipe(p) == 0 && pipe(q) == 0);
	REQUIRE(write(p[1], "duplicate", 9) == 9);
	/* Copied, not taken: both pipes hold the bytes. */
	TEST_RES(tee(p[0], q[1], 4, 0), 4);
	char buf[32] = {0};
	TEST_RES(read(q[0], buf, sizeof buf), 4);
	TEST_RES(memcmp(buf, "dupl", 4), 0);
	TEST_RES(tee(p[0], q[1], 100, 0), 9);
	TEST_RES(read(p[0], buf, sizeof buf), 9);
	TEST_RES(memcmp(buf, "duplicate", 9), 0);
	TEST_RES(read(q[0], buf, sizeof buf), 9);
	TEST_RES(memcmp(buf, "duplicate", 9), 0);
	/* Empty input: EAGAIN with SPLICE_F_NONBLOCK; no writer left: 0. */
	TEST_ERRNO(tee(p[0], q[1], 10, SPLICE_F_NONBLOCK), EAGAIN);
	/* Length 0 is 0 before anything is checked. */
	TEST_RES(tee(-1, -1, 0, 0), 0);
	/* Wrong directions, not pipes, the same pipe twice, unknown flags. */
	TEST_ERRNO(tee(p[1], q[1], 1, 0), EBADF);
	TEST_ERRNO(tee(p[0], q[0], 1, 0), EBADF);
	TEST_ERRNO(tee(-1, q[1], 1, 0), EBADF);
	int f = open("plain", O_CREAT | O_RDWR, 0644);
	REQUIRE(f >= 0);
	TEST_ERRNO(tee(p[0], f, 1, 0), EINVAL);
	TEST_ERRNO(tee(f, q[1], 1, 0), EINVAL);
	REQUIRE(write(p[1], "x", 1) == 1);
	TEST_ERRNO(tee(p[0], p[1], 1, 0), EINVAL);
	TEST_ERRNO(tee(p[0], q[1], 1, 0x100), EINVAL);
	/* Nobody reads the output: EPIPE (SIGPIPE is ignored here). */
	close(q[0]);
	TEST_ERRNO(tee(p[0], q[1], 1, 0), EPIPE);
	/* Checked before the input's end of file. */
	close(p[1]);
	TEST_RES(read(p[0], buf, sizeof buf), 1);
	TEST_ERRNO(tee(p[0], q[1], 1, 0), EPIPE);
	close(q[1]);
	REQUIRE(pipe(q) == 0);
	TEST_RES(tee(p[0], q[1], 1, 0), 0);
	close(q[0]);
	close(p[0]);
	close(q[1]);
	close(f);
}

static void vmsplice_cases(void)
{
	int p[2];
	REQUIRE(pipe(p) == 0);
	char a[] = "vm", b[] = "splice";
	struct iovec iov[2] = {{a, 2}, {b, 6}};
	/* Into the write end: gathered as writev. */
	TEST_RES(vmsplice(p[1], iov, 2, 0), 8);
	char buf[16] = {0};
	/* Out of the read end into memory: scattered as readv. */
	char x[3] = {0}, y[16] = {0};
	struct iovec out[2] = {{x, 3}, {y, sizeof y}};
	TEST_RES(vmsplice(p[0], out, 2, 0), 8);
	TEST_RES(memcmp(x, "vms", 3), 0);
	TEST_RES(memcmp(y, "plice", 5), 0);
	TEST_ERRNO(vmsplice(p[0], out, 2, SPLICE_F_NONBLOCK), EAGAIN);
	/* No segments: 0, even on a descriptor that is no pipe. */
	int f = open("plain", O_CREAT | O_RDWR, 0644);
	REQUIRE(f >= 0);
	TEST_RES(vmsplice(f, iov, 0, 0), 0);
	TEST_ERRNO(vmsplice(f, iov, 2, 0), EBADF);
	TEST_ERRNO(vmsplice(-1, iov, 2, 0), EBADF);
	TEST_ERRNO(vmsplice(p[1], iov, 2, 0x100), EINVAL);
	TEST_ERRNO(syscall(SYS_vmsplice, p[1], (void *)8, 1, 0), EFAULT);
	struct iovec bad = {(void *)8, 4};
	TEST_ERRNO(vmsplice(p[1], &bad, 1, 0), EFAULT);
	TEST_ERRNO(vmsplice(p[1], iov, 2000, 0), EINVAL);
	TEST_RES(read(p[0], buf, 0), 0);
	close(p[0]);
	close(p[1]);
	close(f);
}

static void memfd_seal_cases(void)
{
	/* Without MFD_ALLOW_SEALING: F_SEAL_SEAL from the start. */
	int plain = memfd_create("plain", 0);
	REQUIRE(plain >= 0);
	TEST_RES(fcntl(plain, F_GET_SEALS), F_SEAL_SEAL);
	TEST_ERRNO(fcntl(plain, F_ADD_SEALS, F_SEAL_WRITE), EPERM);
	close(plain);
	int fd = memfd_create("sealed", MFD_ALLOW_SEALING);
	REQUIRE(fd >= 0);
	TEST_RES(fcntl(fd, F_GET_SEALS), 0);
	REQUIRE(write(fd, "0123456789", 10) == 10);
	TEST_ERRNO(fcntl(fd, F_ADD_SEALS, 0x4000), EINVAL);
	/* SHRINK: no smaller; bigger still fine. */
	TEST_RES(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	TEST_ERRNO(ftruncate(fd, 5), EPERM);
	TEST_RES(ftruncate(fd, 20), 0);
	/* GROW: no bigger, no write past the end; inside is fine. */
	TEST_RES(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), 0);
	TEST_ERRNO(ftruncate(fd, 30), EPERM);
	TEST_ERRNO(pwrite(fd, "abc", 3, 19), EPERM);
	TEST_RES(pwrite(fd, "abc", 3, 0), 3);
	TEST_RES(ftruncate(fd, 20), 0);
	TEST_RES(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW);
	/* WRITE while a writable shared map exists: EBUSY; after munmap it takes. */
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(m != MAP_FAILED);
	TEST_ERRNO(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY);
	TEST_RES(munmap(m, 4096), 0);
	TEST_RES(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
	TEST_ERRNO(pwrite(fd, "x", 1, 0), EPERM);
	TEST_ERRNO(write(fd, "x", 1), EPERM);
	TEST_ERRNO(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EPERM);
	/* Reading and a private writable map are still fine. */
	char buf[4] = {0};
	TEST_RES(pread(fd, buf, 3, 0), 3);
	TEST_RES(memcmp(buf, "abc", 3), 0);
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	TEST_TRUE(m != MAP_FAILED);
	if (m != MAP_FAILED)
		munmap(m, 4096);
	/* SEAL: no more seals. */
	TEST_RES(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL), 0);
	TEST_ERRNO(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), EPERM);
	TEST_RES(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
	/* A read-only descriptor of the file may not add seals. */
	int fd2 = memfd_create("ro", MFD_ALLOW_SEALING);
	REQUIRE(fd2 >= 0);
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd2);
	int ro = open(self, O_RDONLY);
	TEST_TRUE(ro >= 0);
	TEST_ERRNO(fcntl(ro, F_ADD_SEALS, F_SEAL_GROW), EPERM);
	TEST_RES(fcntl(ro, F_GET_SEALS), 0);
	close(ro);
	close(fd2);
	/* A pipe takes no seals. */
	int p[2];
	REQUIRE(pipe(p) == 0);
	TEST_ERRNO(fcntl(p[1], F_GET_SEALS), EINVAL);
	TEST_ERRNO(fcntl(p[1], F_ADD_SEALS, F_SEAL_SEAL), EINVAL);
	close(p[0]);
	close(p[1]);
	close(fd);
}

int main(void)
{
	ukt_setup();
	signal(SIGPIPE, SIG_IGN);
	RUN(fadvise_cases);
	RUN(fallocate_cases);
	RUN(copy_range_cases);
	RUN(splice_cases);
	RUN(memfd_cases);
	RUN(chroot_cases);
	RUN(tty_cases);
	RUN(notify_cases);
	RUN(tee_cases);
	RUN(vmsplice_cases);
	RUN(memfd_seal_cases);
	return ukt_finish();
}
