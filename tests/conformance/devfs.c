/* Device files: /dev/null, /dev/zero, /dev/urandom, /dev/random, /dev/stdout,
 * /dev/stderr, /dev/stdin, and the /dev directory itself. */
#include "harness.h"
#include <poll.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>

static void dev_null(void)
{
	int fd;
	char buf[16];
	struct stat st;
	TEST_TRUE((fd = open("/dev/null", O_RDWR)) >= 0);
	TEST_RES(write(fd, "discarded", 9), 9);
	TEST_RES(read(fd, buf, sizeof buf), 0);
	TEST_RES(lseek(fd, 100, SEEK_SET), 0); /* seeking /dev/null always lands on 0 */
	TEST_RES(fstat(fd, &st), 0);
	TEST_TRUE(S_ISCHR(st.st_mode));
	TEST_RES(major(st.st_rdev), 1);
	TEST_RES(minor(st.st_rdev), 3);
	struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLOUT};
	TEST_RES(poll(&pfd, 1, 0), 1);
	TEST_RES(pfd.revents, POLLIN | POLLOUT);
	TEST_ERRNO(ftruncate(fd, 0), EINVAL);
	close(fd);
	TEST_ERRNO(open("/dev/null/x", O_RDONLY), ENOTDIR);
	TEST_ERRNO(open("/dev/no-such-device", O_RDONLY), ENOENT);
	TEST_RES(access("/dev/null", R_OK | W_OK), 0);
	TEST_RES(stat("/dev/null", &st), 0);
	TEST_TRUE(S_ISCHR(st.st_mode));
	/* Writing through stdio to /dev/null works. */
	FILE *f = fopen("/dev/null", "w");
	TEST_TRUE(f != NULL);
	TEST_RES(fprintf(f, "hello %d", 42), 8);
	TEST_RES(fclose(f), 0);
}

static void dev_zero(void)
{
	int fd;
	char buf[4096];
	memset(buf, 0x55, sizeof buf);
	TEST_TRUE((fd = open("/dev/zero", O_RDWR)) >= 0);
	TEST_RES(read(fd, buf, sizeof buf), 4096);
	int zero = 1;
	for (size_t i = 0; i < sizeof buf; i++)
		zero &= buf[i] == 0;
	TEST_TRUE(zero);
	TEST_RES(write(fd, "abc", 3), 3);
	struct stat st;
	TEST_RES(fstat(fd, &st), 0);
	TEST_RES(major(st.st_rdev), 1);
	TEST_RES(minor(st.st_rdev), 5);
	/* A private mapping of /dev/zero is zeroed memory. */
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	TEST_TRUE(m != MAP_FAILED);
	TEST_RES(m[0] | m[8191], 0);
	m[10] = 1;
	munmap(m, 8192);
	TEST_ERRNO(read(fd, (void *)1, 16), EFAULT);
	close(fd);
}

static void dev_random(void)
{
	int fd;
	unsigned char a[32], b[32], z[32];
	memset(z, 0, sizeof z);
	TEST_TRUE((fd = open("/dev/urandom", O_RDONLY)) >= 0);
	TEST_RES(read(fd, a, sizeof a), 32);
	TEST_RES(read(fd, b, sizeof b), 32);
	TEST_TRUE(memcmp(a, b, sizeof a) != 0);
	TEST_TRUE(memcmp(a, z, sizeof a) != 0);
	struct stat st;
	TEST_RES(fstat(fd, &st), 0);
	TEST_TRUE(S_ISCHR(st.st_mode));
	TEST_RES(major(st.st_rdev), 1);
	TEST_RES(minor(st.st_rdev), 9);
	static unsigned char big[65536];
	TEST_RES(read(fd, big, sizeof big), 65536);
	close(fd);
	TEST_TRUE((fd = open("/dev/random", O_RDONLY)) >= 0);
	TEST_RES(read(fd, a, 16), 16);
	TEST_RES(fstat(fd, &st), 0);
	TEST_RES(minor(st.st_rdev), 8);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	TEST_RES(poll(&pfd, 1, 1000), 1);
	close(fd);
}

static void dev_std(void)
{
	int fd;
	/* /dev/stdout and /dev/stderr reach the same files as descriptors 1 and 2. */
	TEST_TRUE((fd = open("/dev/stdout", O_WRONLY)) >= 0);
	TEST_RES(write(fd, "devfs-stdout-probe\n", 19), 19);
	struct stat a, b;
	TEST_RES(fstat(fd, &a), 0);
	TEST_RES(fstat(1, &b), 0);
	TEST_TRUE(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	close(fd);
	TEST_TRUE((fd = open("/dev/stderr", O_WRONLY)) >= 0);
	TEST_RES(fstat(fd, &a), 0);
	TEST_RES(fstat(2, &b), 0);
	TEST_TRUE(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	close(fd);
	/* stdin is /dev/null in the test driver; /dev/stdin opens it. */
	TEST_TRUE((fd = open("/dev/stdin", O_RDONLY)) >= 0);
	char c;
	TEST_RES(read(fd, &c, 1), 0);
	close(fd);
	TEST_RES(read(0, &c, 1), 0);
}

static void dev_dir(void)
{
	struct stat st;
	TEST_RES(stat("/dev", &st), 0);
	TEST_TRUE(S_ISDIR(st.st_mode));
	DIR *d = opendir("/dev");
	TEST_TRUE(d != NULL);
	int seen_null = 0, seen_zero = 0, seen_urandom = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		seen_null |= !strcmp(e->d_name, "null");
		seen_zero |= !strcmp(e->d_name, "zero");
		seen_urandom |= !strcmp(e->d_name, "urandom");
	}
	if (d)
		closedir(d);
	TEST_TRUE(seen_null && seen_zero && seen_urandom);
}

int main(void)
{
	ukt_setup();
	RUN(dev_null);
	RUN(dev_zero);
	RUN(dev_random);
	RUN(dev_std);
	RUN(dev_dir);
	return ukt_finish();
}
