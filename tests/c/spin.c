/* Programs that compute without making system calls, for the preemption tests
 * (tests/tests/preempt.rs). Usage:
 *   spin lateness N      a thread spins while another sleeps 10 ms N times; prints the
 *                        wake-up lateness p50 and p99 in microseconds
 *   spin forever         spins until a signal ends it (default action)
 *   spin handler SIG     spins; SIG's handler exits with status 40 + SIG
 *   spin itimer          setitimer(ITIMER_REAL, 100 ms), spins: SIGALRM's default ends it
 *   spin alarm           alarm(1), spins: likewise
 *   spin itimer-handler  setitimer every 20 ms, spins until its handler ran 5 times;
 *                        prints what the handler saw
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static volatile int stop;
static volatile unsigned long spins;

static void *spinner(void *arg)
{
	(void)arg;
	while (!stop)
		spins++;
	return NULL;
}

static long ns_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000000L + (b->tv_nsec - a->tv_nsec);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

static int lateness(int n)
{
	pthread_t t;
	long *late = calloc(n, sizeof *late);
	if (!late || pthread_create(&t, NULL, spinner, NULL) != 0)
		return 1;
	/* Let the spinner get going. */
	struct timespec d = { 0, 10 * 1000000L }, a, b;
	nanosleep(&d, NULL);
	for (int i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		nanosleep(&d, NULL);
		clock_gettime(CLOCK_MONOTONIC, &b);
		late[i] = ns_between(&a, &b) - d.tv_nsec;
	}
	stop = 1;
	pthread_join(t, NULL);
	qsort(late, n, sizeof *late, cmp_long);
	printf("lateness_us p50 %ld p99 %ld max %ld spins %s\n", late[n / 2] / 1000,
	       late[(n * 99) / 100] / 1000, late[n - 1] / 1000, spins > 0 ? "yes" : "no");
	return 0;
}

static void spin_forever(void)
{
	for (;;)
		spins++;
}

static void exit_with(int sig)
{
	_exit(40 + sig);
}

static volatile int ticks;
static volatile long saw_rip;

static void on_tick(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	(void)sig;
	(void)si;
	/* The interrupted context is the spinning loop: a non-zero instruction pointer. */
	saw_rip = (long)uc->uc_mcontext.gregs[REG_RIP];
	ticks++;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "lateness"))
		return lateness(argc > 2 ? atoi(argv[2]) : 200);
	if (!strcmp(mode, "forever"))
		spin_forever();
	if (!strcmp(mode, "handler") && argc > 2) {
		signal(atoi(argv[2]), exit_with);
		spin_forever();
	}
	if (!strcmp(mode, "itimer")) {
		struct itimerval it = { { 0, 0 }, { 0, 100000 } };
		setitimer(ITIMER_REAL, &it, NULL);
		spin_forever();
	}
	if (!strcmp(mode, "alarm")) {
		alarm(1);
		spin_forever();
	}
	if (!strcmp(mode, "itimer-handler")) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_tick;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigaction(SIGALRM, &sa, NULL);
		struct itimerval it = { { 0, 20000 }, { 0, 20000 } };
		setitimer(ITIMER_REAL, &it, NULL);
		while (ticks < 5)
			spins++;
		printf("ticks %d rip %s\n", ticks, saw_rip != 0 ? "set" : "zero");
		return 0;
	}
	fprintf(stderr, "usage: spin lateness N | forever | handler SIG | itimer | alarm | itimer-handler\n");
	return 2;
}
