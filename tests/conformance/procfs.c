/* /proc: the files programs read about themselves (stat, status, cmdline, fd/, exe,
 * cwd) and the machine (meminfo, uptime, sys/kernel), and how /proc refuses changes.
 * Expectations hold for root on Linux, the image's only user. */
#include "harness.h"
#include <pthread.h>
#include <sys/statfs.h>

static char *argv0;

/* Reads a whole /proc file into buf (NUL-terminated); returns its length or -1. */
static long slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	return (long)n;
}

/* Field `k` (1-based) of a /proc/PID/stat line, counting as Redis does: after the
 * comm's closing parenthesis, fields are separated by single spaces. */
static long stat_field(const char *st, int k)
{
	const char *p = strrchr(st, ')');
	if (!p || k < 3)
		return k == 1 ? strtol(st, NULL, 10) : -1;
	p += 2; /* field 3 */
	for (int i = 3; i < k && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p ? strtol(p, NULL, 10) : -1;
}

static int count_fields(const char *st)
{
	const char *p = strrchr(st, ')');
	if (!p)
		return 0;
	int n = 2;
	for (p++; *p && *p != '\n'; p++)
		n += *p == ' ';
	return n;
}

static long status_value(const char *status, const char *key)
{
	const char *p = strstr(status, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static void self_stat(void)
{
	static char st[1024];
	/* Touch some memory first: Linux counts a tiny static program's rss as 0 pages. */
	size_t len = 8 << 20;
	char *mem = malloc(len);
	REQUIRE(mem != NULL);
	memset(mem, 1, len);
	REQUIRE(slurp("/proc/self/stat", st, sizeof st) > 0);
	TEST_RES(stat_field(st, 1), getpid());
	TEST_RES(count_fields(st), 52);
	TEST_TRUE(strchr(st, '(') != NULL && st[strlen(st) - 1] == '\n');
	TEST_TRUE(stat_field(st, 24) > 0);             /* rss, pages */
	TEST_TRUE(stat_field(st, 23) >= stat_field(st, 24) * 4096); /* vsize >= rss */
	TEST_RES(stat_field(st, 20), 1);               /* num_threads */
	/* Redis's way: 23 spaces from the start, then rss. */
	const char *p = st;
	for (int i = 0; i < 23 && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	TEST_TRUE(p && strtol(p, NULL, 10) == stat_field(st, 24));
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)getpid());
	static char st2[1024];
	TEST_TRUE(slurp(path, st2, sizeof st2) > 0);
	TEST_RES(stat_field(st2, 1), getpid());
	char link[64];
	ssize_t n = readlink("/proc/self", link, sizeof link - 1);
	TEST_TRUE(n > 0);
	link[n > 0 ? n : 0] = 0;
	TEST_RES(strtol(link, NULL, 10), getpid());
	free(mem);
}

static void *sleeper(void *arg)
{
	volatile int *stop = arg;
	while (!*stop)
		usleep(1000);
	return NULL;
}

static void self_status(void)
{
	static char s[4096];
	REQUIRE(slurp("/proc/self/status", s, sizeof s) > 0);
	TEST_TRUE(strncmp(s, "Name:\t", 6) == 0);
	TEST_TRUE(strstr(s, "VmRSS:") != NULL);
	TEST_TRUE(status_value(s, "VmRSS:") > 0);
	TEST_TRUE(strstr(s, "Threads:\t1\n") != NULL);
	TEST_RES(status_value(s, "\nPid:"), getpid());
	volatile int stop = 0;
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, sleeper, (void *)&stop) == 0);
	TEST_TRUE(slurp("/proc/self/status", s, sizeof s) > 0);
	TEST_TRUE(strstr(s, "Threads:\t2\n") != NULL);
	static char st[1024];
	TEST_TRUE(slurp("/proc/self/stat", st, sizeof st) > 0);
	TEST_RES(stat_field(st, 20), 2);
	stop = 1;
	TEST_RES(pthread_join(t, NULL), 0);
	TEST_TRUE(slurp("/proc/self/status", s, sizeof s) > 0);
	TEST_TRUE(strstr(s, "Threads:\t1\n") != NULL);
}

static void self_fd(void)
{
	REQUIRE(ukt_write_file("probe.txt", "procfs contents\n") == 0);
	int fd = open("probe.txt", O_RDONLY);
	REQUIRE(fd >= 0);
	char path[64], target[PATH_MAX];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof target - 1);
	TEST_TRUE(n > 10);
	target[n > 0 ? n : 0] = 0;
	TEST_TRUE(n > 10 && strcmp(target + n - 10, "/probe.txt") == 0);
	TEST_TRUE(target[0] == '/');
	/* Opening the link opens that file. */
	char buf[64];
	TEST_RES(slurp(path, buf, sizeof buf), 16);
	TEST_TRUE(strcmp(buf, "procfs contents\n") == 0);
	struct stat a, b;
	TEST_RES(stat(path, &a), 0);
	TEST_RES(fstat(fd, &b), 0);
	TEST_TRUE(a.st_ino == b.st_ino && a.st_size == 16);
	TEST_RES(lstat(path, &a), 0);
	TEST_TRUE(S_ISLNK(a.st_mode));
	/* A pipe's link. */
	int p[2];
	REQUIRE(pipe(p) == 0);
	snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
	n = readlink(path, target, sizeof target - 1);
	target[n > 0 ? n : 0] = 0;
	TEST_TRUE(strncmp(target, "pipe:[", 6) == 0);
	/* The directory lists 0, 1, 2 and the new descriptors, and no closed one. */
	REQUIRE(dup2(fd, 77) == 77);
	close(77);
	DIR *d = opendir("/proc/self/fd");
	TEST_TRUE(d != NULL);
	int seen0 = 0, seen1 = 0, seen2 = 0, seen_fd = 0, seen_closed = 0, dots = 0;
	struct dirent *e;
	char want[16], closed[16];
	snprintf(want, sizeof want, "%d", fd);
	snprintf(closed, sizeof closed, "%d", 77);
	while (d && (e = readdir(d))) {
		seen0 |= !strcmp(e->d_name, "0");
		seen1 |= !strcmp(e->d_name, "1");
		seen2 |= !strcmp(e->d_name, "2");
		seen_fd |= !strcmp(e->d_name, want);
		seen_closed |= !strcmp(e->d_name, closed);
		dots += !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	}
	if (d)
		closedir(d);
	TEST_TRUE(seen0 && seen1 && seen2);
	TEST_TRUE(seen_fd);
	TEST_TRUE(!seen_closed);
	TEST_RES(dots, 2);
	TEST_ERRNO(open("/proc/self/fd/999", O_RDONLY), ENOENT);
	close(p[0]);
	close(p[1]);
	close(fd);
}

static void self_links(void)
{
	static char buf[4096];
	long n = slurp("/proc/self/cmdline", buf, sizeof buf);
	TEST_TRUE(n > (long)strlen(argv0));
	TEST_TRUE(strcmp(buf, argv0) == 0); /* argv[0], NUL-terminated */
	TEST_RES(buf[n - 1], 0);
	char cwd[PATH_MAX], link[PATH_MAX];
	REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
	ssize_t k = readlink("/proc/self/cwd", link, sizeof link - 1);
	TEST_RES(k, (long)strlen(cwd));
	link[k > 0 ? k : 0] = 0;
	TEST_TRUE(strcmp(link, cwd) == 0);
	k = readlink("/proc/self/exe", link, sizeof link - 1);
	TEST_TRUE(k > 0);
	link[k > 0 ? k : 0] = 0;
	const char *base = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;
	TEST_TRUE(k > 0 && link[0] == '/' && strcmp(ukt_base(link), base) == 0);
	TEST_TRUE(slurp("/proc/self/comm", buf, sizeof buf) > 1);
	TEST_TRUE(buf[strlen(buf) - 1] == '\n');
	TEST_TRUE(strncmp(buf, base, strlen(buf) - 1) == 0);
	struct stat st;
	TEST_RES(stat("/proc/self/cwd", &st), 0);
	TEST_TRUE(S_ISDIR(st.st_mode));
}

static void machine(void)
{
	static char buf[8192];
	REQUIRE(slurp("/proc/meminfo", buf, sizeof buf) > 0);
	TEST_TRUE(strncmp(buf, "MemTotal:", 9) == 0);
	TEST_TRUE(status_value(buf, "MemTotal:") > 0);
	TEST_TRUE(status_value(buf, "MemFree:") > 0);
	TEST_TRUE(status_value(buf, "MemFree:") <= status_value(buf, "MemTotal:"));
	TEST_TRUE(strstr(buf, "\nSwapTotal:") != NULL);
	TEST_TRUE(slurp("/proc/cpuinfo", buf, sizeof buf) > 0);
	TEST_TRUE(strncmp(buf, "processor\t: 0\n", 14) == 0);
	TEST_TRUE(strstr(buf, "\nflags\t\t:") != NULL);
	TEST_TRUE(slurp("/proc/uptime", buf, sizeof buf) > 0);
	double up = -1, idle = -1, later = -1;
	TEST_RES(sscanf(buf, "%lf %lf", &up, &idle), 2);
	TEST_TRUE(up >= 0 && idle >= 0);
	usleep(30000);
	TEST_TRUE(slurp("/proc/uptime", buf, sizeof buf) > 0);
	TEST_RES(sscanf(buf, "%lf", &later), 1);
	TEST_TRUE(later > up);
	TEST_TRUE(slurp("/proc/loadavg", buf, sizeof buf) > 0);
	int run = 0, total = 0;
	TEST_RES(sscanf(buf, "%*f %*f %*f %d/%d", &run, &total), 2);
	TEST_TRUE(run >= 1 && total >= run);
	TEST_TRUE(slurp("/proc/version", buf, sizeof buf) > 0);
	TEST_TRUE(strncmp(buf, "Linux version ", 14) == 0);
	TEST_TRUE(slurp("/proc/sys/kernel/ostype", buf, sizeof buf) > 0);
	TEST_TRUE(strcmp(buf, "Linux\n") == 0);
	char host[256] = {0};
	gethostname(host, sizeof host - 1);
	TEST_TRUE(slurp("/proc/sys/kernel/hostname", buf, sizeof buf) > 0);
	TEST_TRUE(strncmp(buf, host, strlen(host)) == 0 && buf[strlen(host)] == '\n');
	TEST_TRUE(slurp("/proc/mounts", buf, sizeof buf) > 0);
	TEST_TRUE(strstr(buf, " /proc proc ") != NULL);
	TEST_TRUE(slurp("/proc/self/maps", buf, sizeof buf) > 0);
	unsigned long lo = 0, hi = 0;
	TEST_RES(sscanf(buf, "%lx-%lx", &lo, &hi), 2);
	TEST_TRUE(lo < hi);
}

static void refusals(void)
{
	int fd = open("/proc/self/stat", O_WRONLY);
	TEST_TRUE(fd >= 0); /* root may open it */
	TEST_ERRNO(write(fd, "x", 1), EINVAL);
	close(fd);
	fd = open("/proc/meminfo", O_WRONLY);
	TEST_TRUE(fd >= 0);
	TEST_ERRNO(write(fd, "x", 1), EIO);
	close(fd);
	fd = open("/proc/self/stat", O_RDONLY);
	TEST_ERRNO(write(fd, "x", 1), EBADF);
	close(fd);
	TEST_ERRNO(open("/proc/sys/kernel/ostype", O_WRONLY), EACCES);
	TEST_ERRNO(mkdir("/proc/ukt-dir", 0755), ENOENT);
	TEST_ERRNO(mkdir("/proc/self/ukt-dir", 0755), ENOENT);
	TEST_ERRNO(open("/proc/ukt-file", O_CREAT | O_WRONLY, 0644), ENOENT);
	TEST_ERRNO(symlink("x", "/proc/ukt-link"), ENOENT);
	TEST_ERRNO(unlink("/proc/meminfo"), EPERM);
	TEST_ERRNO(unlink("/proc/ukt-none"), ENOENT);
	TEST_ERRNO(rmdir("/proc/self/fd"), EPERM);
	TEST_ERRNO(open("/proc/no-such-file", O_RDONLY), ENOENT);
	struct statfs sf;
	TEST_RES(statfs("/proc", &sf), 0);
	TEST_RES(sf.f_type, 0x9fa0);
	struct stat st;
	TEST_RES(stat("/proc/self/stat", &st), 0);
	TEST_RES(st.st_mode, S_IFREG | 0444);
	TEST_RES(st.st_size, 0); /* generated files: size 0, content on read */
	TEST_RES(stat("/proc", &st), 0);
	TEST_RES(st.st_mode, S_IFDIR | 0555);
	TEST_RES(lstat("/proc/self", &st), 0);
	TEST_TRUE(S_ISLNK(st.st_mode));
}

int main(int argc, char **argv)
{
	(void)argc;
	argv0 = argv[0];
	ukt_setup();
	RUN(self_stat);
	RUN(self_status);
	RUN(self_fd);
	RUN(self_links);
	RUN(machine);
	RUN(refusals);
	return ukt_finish();
}
