/* Clocks beyond the plain ones: per-thread CPU clocks (pthread_getcpuclockid,
 * clock_getcpuclockid, CLOCK_THREAD_CPUTIME_ID), clock_settime's checks, and
 * sched_rr_get_interval. */
#include "harness.h"
#include <pthread.h>
#include <sched.h>
#include <time.h>

static long long ns_of(clockid_t c)
{
	struct timespec ts;
	if (clock_gettime(c, &ts) != 0)
		return -1;
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Burns `ms` milliseconds of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), giving
 * up after 5 s of wall time on a machine too busy to give it that much. */
static void spin_ms(int ms)
{
	long long end = ns_of(CLOCK_THREAD_CPUTIME_ID) + ms * 1000000LL;
	long long give_up = ns_of(CLOCK_MONOTONIC) + 5000000000LL;
	volatile unsigned x = 0;
	while (ns_of(CLOCK_THREAD_CPUTIME_ID) < end && ns_of(CLOCK_MONOTONIC) < give_up)
		x++;
}

static volatile int worker_go, worker_done;
static void *worker(void *arg)
{
	(void)arg;
	while (!worker_go)
		usleep(1000);
	spin_ms(60);
	worker_done = 1;
	/* Stay alive (but asleep) so the main thread can read our clock. */
	while (worker_go != 2)
		usleep(1000);
	return NULL;
}

static void thread_clocks(void)
{
	clockid_t self, other;
	pthread_t t;
	REQUIRE(pthread_getcpuclockid(pthread_self(), &self) == 0);
	TEST_TRUE(ns_of(self) >= 0);
	long long a = ns_of(self);
	spin_ms(30);
	long long b = ns_of(self);
	/* The thread's own clock is CLOCK_THREAD_CPUTIME_ID: it saw the 30 ms... */
	TEST_TRUE(b - a >= 30000000LL);
	/* ...and reads the same now. */
	long long c = ns_of(CLOCK_THREAD_CPUTIME_ID);
	TEST_TRUE(c >= b && c - b < 1000000000LL);
	struct timespec res;
	TEST_RES(clock_getres(self, &res), 0);

	REQUIRE(pthread_create(&t, NULL, worker, NULL) == 0);
	REQUIRE(pthread_getcpuclockid(t, &other) == 0);
	TEST_TRUE(other != self);
	long long w0 = ns_of(other);
	TEST_TRUE(w0 >= 0 && w0 < 20000000LL);
	long long m0 = ns_of(self);
	worker_go = 1;
	while (!worker_done)
		usleep(1000);
	long long w1 = ns_of(other);
	long long m1 = ns_of(self);
	/* The worker computed 60 ms of its own CPU time; the main thread slept meanwhile. */
	TEST_TRUE(w1 - w0 >= 60000000LL);
	TEST_TRUE(m1 - m0 < (w1 - w0) / 2);
	worker_go = 2;
	TEST_RES(pthread_join(t, NULL), 0);
}

static void process_clocks(void)
{
	clockid_t c;
	TEST_RES(clock_getcpuclockid(0, &c), 0);
	long long a = ns_of(c);
	TEST_TRUE(a >= 0);
	TEST_TRUE(ns_of(CLOCK_PROCESS_CPUTIME_ID) >= a);
	TEST_RES(clock_getcpuclockid(getpid(), &c), 0);
	TEST_TRUE(ns_of(c) >= a);
	/* A clock id with the unused low bits set names no clock. */
	struct timespec ts;
	TEST_ERRNO(clock_gettime((clockid_t)(((~0) << 3) | 3), &ts), EINVAL);
	/* A thread id that does not exist. */
	TEST_ERRNO(clock_gettime((clockid_t)((~999999) * 8 + 6), &ts), EINVAL);
}

static void settime_checks(void)
{
	struct timespec ts = { .tv_sec = 1, .tv_nsec = 0 };
	TEST_ERRNO(syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts), EINVAL);
	TEST_ERRNO(syscall(SYS_clock_settime, CLOCK_MONOTONIC, NULL), EINVAL);
	TEST_ERRNO(syscall(SYS_clock_settime, 12345, &ts), EINVAL);
	TEST_ERRNO(syscall(SYS_clock_settime, CLOCK_REALTIME, NULL), EFAULT);
	struct timespec bad = { .tv_sec = 1, .tv_nsec = 2000000000L };
	TEST_ERRNO(syscall(SYS_clock_settime, CLOCK_REALTIME, &bad), EINVAL);
	bad.tv_nsec = -1;
	TEST_ERRNO(syscall(SYS_clock_settime, CLOCK_REALTIME, &bad), EINVAL);
}

static void rr_interval(void)
{
	struct timespec ts = { .tv_sec = -1, .tv_nsec = -1 };
	TEST_RES(sched_rr_get_interval(0, &ts), 0);
	TEST_TRUE(ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
	TEST_RES(sched_rr_get_interval(getpid(), &ts), 0);
	TEST_ERRNO(sched_rr_get_interval(-1, &ts), EINVAL);
	TEST_ERRNO(sched_rr_get_interval(999999, &ts), ESRCH);
	TEST_ERRNO(syscall(SYS_sched_rr_get_interval, 0, (void *)8), EFAULT);
}

int main(void)
{
	ukt_setup();
	RUN(thread_clocks);
	RUN(process_clocks);
	RUN(settime_checks);
	RUN(rr_interval);
	return ukt_finish();
}
