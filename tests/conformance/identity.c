/* Identity and resources: getrandom, uname, sysinfo, getrusage, times,
 * prctl(PR_SET_NAME/PR_GET_NAME), getcpu, ids and their setters, sched_getaffinity,
 * sched_yield. */
#include "harness.h"
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <sys/utsname.h>

static void random_cases(void)
{
	unsigned char a[64], b[64], z[64];
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	memset(z, 0, sizeof z);
	TEST_RES(getrandom(a, sizeof a, 0), 64);
	TEST_RES(getrandom(b, sizeof b, GRND_NONBLOCK), 64);
	TEST_TRUE(memcmp(a, b, sizeof a) != 0);
	TEST_TRUE(memcmp(a, z, sizeof a) != 0);
	TEST_RES(getrandom(a, 0, 0), 0);
	static unsigned char big[1 << 20];
	long got = getrandom(big, sizeof big, 0);
	TEST_TRUE(got >= 256 && got <= (long)sizeof big);
	/* Byte values are spread out (a stuck generator fails this). */
	int counts[256] = {0}, distinct = 0;
	for (long i = 0; i < got; i++)
		counts[big[i]]++;
	for (int i = 0; i < 256; i++)
		distinct += counts[i] > 0;
	TEST_TRUE(distinct > 200);
	TEST_RES(getrandom(a, 16, GRND_RANDOM), 16);
	TEST_ERRNO(getrandom(a, 16, 0x100), EINVAL);
	TEST_ERRNO(getrandom((void *)1, 16, 0), EFAULT);
	TEST_RES(getentropy(a, 32), 0);
	TEST_ERRNO(getentropy(a, 257), EIO);
}

static void uname_cases(void)
{
	struct utsname u;
	TEST_RES(uname(&u), 0);
	TEST_RES(strcmp(u.sysname, "Linux"), 0);
	TEST_RES(strcmp(u.machine, "x86_64"), 0);
	TEST_TRUE(u.nodename[0] != 0);
	TEST_TRUE(u.release[0] >= '3' && u.release[0] <= '9');
	TEST_TRUE(u.version[0] != 0);
	TEST_ERRNO(uname((void *)1), EFAULT);
	char host[256];
	TEST_RES(gethostname(host, sizeof host), 0);
	TEST_RES(strcmp(host, u.nodename), 0);
}

static void sysinfo_cases(void)
{
	struct sysinfo si;
	TEST_RES(sysinfo(&si), 0);
	TEST_TRUE(si.totalram > 0 && si.mem_unit > 0);
	TEST_TRUE(si.freeram <= si.totalram);
	TEST_TRUE(si.procs >= 1);
	TEST_TRUE(si.uptime >= 0);
	TEST_ERRNO(sysinfo((void *)1), EFAULT);
	TEST_TRUE(sysconf(_SC_PAGESIZE) == 4096);
	TEST_TRUE(sysconf(_SC_NPROCESSORS_ONLN) >= 1);
	TEST_TRUE(sysconf(_SC_CLK_TCK) == 100);
}

static void usage_cases(void)
{
	struct rusage ru;
	struct tms t;
	/* Burn a little CPU so the counters move. */
	volatile unsigned long x = 0;
	for (unsigned long i = 0; i < 50000000UL; i++)
		x += i;
	TEST_RES(getrusage(RUSAGE_SELF, &ru), 0);
	TEST_TRUE(ru.ru_utime.tv_sec > 0 || ru.ru_utime.tv_usec > 0 || ru.ru_stime.tv_usec > 0);
	TEST_TRUE(ru.ru_utime.tv_usec < 1000000);
	TEST_RES(getrusage(RUSAGE_THREAD, &ru), 0);
	TEST_RES(getrusage(RUSAGE_CHILDREN, &ru), 0);
	TEST_RES(ru.ru_utime.tv_sec, 0);
	TEST_ERRNO(getrusage(42, &ru), EINVAL);
	TEST_ERRNO(getrusage(RUSAGE_SELF, (void *)1), EFAULT);
	clock_t c = times(&t);
	TEST_TRUE(c != (clock_t)-1);
	TEST_TRUE(t.tms_utime + t.tms_stime >= 0);
	TEST_RES(t.tms_cutime, 0);
	TEST_TRUE(clock() >= 0);
	struct rlimit rl;
	TEST_RES(getrlimit(RLIMIT_STACK, &rl), 0);
	TEST_TRUE(rl.rlim_cur > 0);
	TEST_ERRNO(getrlimit(999, &rl), EINVAL);
}

static void prctl_cases(void)
{
	char name[32];
	memset(name, 0, sizeof name);
	TEST_RES(prctl(PR_SET_NAME, "ukt-worker", 0, 0, 0), 0);
	TEST_RES(prctl(PR_GET_NAME, name, 0, 0, 0), 0);
	TEST_RES(strcmp(name, "ukt-worker"), 0);
	/* Names are cut to 15 bytes. */
	TEST_RES(prctl(PR_SET_NAME, "a-name-longer-than-sixteen", 0, 0, 0), 0);
	TEST_RES(prctl(PR_GET_NAME, name, 0, 0, 0), 0);
	TEST_RES(strlen(name), 15);
	TEST_RES(memcmp(name, "a-name-longer-t", 15), 0);
	TEST_ERRNO(prctl(PR_SET_NAME, (void *)1, 0, 0, 0), EFAULT);
	TEST_ERRNO(prctl(PR_GET_NAME, (void *)1, 0, 0, 0), EFAULT);
	TEST_ERRNO(prctl(0x7fff1234, 0, 0, 0, 0), EINVAL);
	/* pthread_setname_np is the per-thread form. */
	TEST_RES(pthread_setname_np(pthread_self(), "ukt-main"), 0);
	TEST_RES(prctl(PR_GET_NAME, name, 0, 0, 0), 0);
	TEST_RES(strcmp(name, "ukt-main"), 0);
}

static void cpu_ids(void)
{
	unsigned cpu = 99, node = 99;
	TEST_RES(syscall(SYS_getcpu, &cpu, &node, NULL), 0);
	TEST_TRUE(cpu < 4096 && node < 4096);
	TEST_TRUE(sched_getcpu() >= 0);
	TEST_ERRNO(syscall(SYS_getcpu, (void *)1, NULL, NULL), EFAULT);
	cpu_set_t set;
	CPU_ZERO(&set);
	TEST_RES(sched_getaffinity(0, sizeof set, &set), 0);
	TEST_TRUE(CPU_COUNT(&set) >= 1);
	TEST_ERRNO(sched_getaffinity(0, 1, &set), EINVAL);
	TEST_RES(sched_yield(), 0);
	TEST_TRUE(getpid() > 0);
	TEST_RES(getpid(), syscall(SYS_gettid)); /* the main thread's id is the pid */
	TEST_TRUE(getppid() >= 0);
	TEST_RES(getuid(), geteuid());
	TEST_RES(getgid(), getegid());
	TEST_TRUE(getpgrp() >= 0);
	TEST_RES(getpgrp(), getpgid(0));
	/* A process started outside any session (under a bare init, as CI is) has session 0. */
	TEST_TRUE(getsid(0) >= 0);
	TEST_RES(getsid(0), getsid(getpid()));
	TEST_RES(syscall(SYS_sched_getscheduler, 0), SCHED_OTHER);
	TEST_TRUE(sched_get_priority_max(SCHED_FIFO) >= 1);
	TEST_ERRNO(sched_get_priority_max(999), EINVAL);
	TEST_RES(getpriority(PRIO_PROCESS, 0), 0);
}

/* getresuid/getresgid agree with the single-id calls; getgroups answers a count it can
 * then fill, and refuses a list too short for it. */
static void res_ids(void)
{
	uid_t r = 99, e = 99, s = 99;
	TEST_RES(getresuid(&r, &e, &s), 0);
	TEST_RES(r, getuid());
	TEST_RES(e, geteuid());
	TEST_RES(s, geteuid());
	gid_t gr = 99, ge = 99, gs = 99;
	TEST_RES(getresgid(&gr, &ge, &gs), 0);
	TEST_RES(gr, getgid());
	TEST_RES(ge, getegid());
	TEST_RES(gs, getegid());
	TEST_ERRNO(syscall(SYS_getresuid, &r, (void *)8, &s), EFAULT);
	TEST_ERRNO(syscall(SYS_getresgid, (void *)8, &ge, &gs), EFAULT);
	int n = getgroups(0, NULL);
	TEST_TRUE(n >= 0);
	gid_t list[256];
	TEST_RES(getgroups(256, list), n);
	TEST_ERRNO(getgroups(-1, list), EINVAL);
}

/* The set*id calls (raw: musl's wrappers repeat them on every thread): -1 keeps an id;
 * root may drop its effective uid and, its saved uid being 0, take it back; while not
 * root it may only move among its own ids, and setgroups is refused. The list setgroups
 * gives is what getgroups reads back. */
static void set_ids(void)
{
	TEST_RES(syscall(SYS_setresuid, -1, -1, -1), 0);
	TEST_RES(syscall(SYS_setresgid, -1, -1, -1), 0);
	TEST_RES(syscall(SYS_setreuid, -1, -1), 0);
	TEST_RES(syscall(SYS_setregid, -1, -1), 0);
	TEST_RES(syscall(SYS_setuid, getuid()), 0);
	TEST_RES(syscall(SYS_setgid, getgid()), 0);
	TEST_ERRNO(syscall(SYS_setuid, -1), EINVAL);
	if (geteuid() != 0)
		return; /* the rest needs root, which every ukit program is */
	gid_t saved[256];
	int n = getgroups(256, saved);
	REQUIRE(n >= 0);
	gid_t two[2] = { 4242, 4343 }, back[4] = { 0 };
	TEST_RES(syscall(SYS_setgroups, 2, two), 0);
	TEST_RES(getgroups(0, NULL), 2);
	TEST_ERRNO(getgroups(1, back), EINVAL);
	TEST_RES(getgroups(4, back), 2);
	TEST_RES(back[1], 4343);
	TEST_ERRNO(syscall(SYS_setgroups, -1, two), EINVAL);
	TEST_RES(syscall(SYS_setresuid, -1, 4242, -1), 0);
	TEST_RES(geteuid(), 4242);
	TEST_RES(getuid(), 0);
	TEST_ERRNO(syscall(SYS_setgroups, 0, two), EPERM);
	TEST_ERRNO(syscall(SYS_setresuid, -1, -1, 5000), EPERM);
	TEST_ERRNO(syscall(SYS_setuid, 5000), EPERM);
	TEST_ERRNO(syscall(SYS_setresgid, -1, 5000, -1), EPERM);
	TEST_RES(syscall(SYS_setresuid, -1, 0, -1), 0);
	TEST_RES(geteuid(), 0);
	TEST_RES(syscall(SYS_setgroups, n, saved), 0);
	TEST_RES(getgroups(0, NULL), n);
}

int main(void)
{
	ukt_setup();
	RUN(random_cases);
	RUN(uname_cases);
	RUN(sysinfo_cases);
	RUN(usage_cases);
	RUN(prctl_cases);
	RUN(cpu_ids);
	RUN(res_ids);
	RUN(set_ids);
	return ukt_finish();
}
