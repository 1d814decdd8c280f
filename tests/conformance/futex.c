/* Raw futex(2): WAIT (value check, relative timeout), WAKE (counts), REQUEUE,
 * CMP_REQUEUE, WAIT_BITSET/WAKE_BITSET (absolute timeouts, both clocks), PRIVATE,
 * EINTR, and argument errors. */
#include "harness.h"
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_BITSET_MATCH_ANY 0xffffffffU

static long futex(volatile int *uaddr, int op, int val, const struct timespec *ts, volatile int *uaddr2, int val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static struct timespec in_ms(clockid_t clk, long ms)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

static void futex_timeouts(void)
{
	volatile int word = 5;
	struct timespec rel = {0, 50000000};
	TEST_ERRNO(futex(&word, FUTEX_WAIT, 4, &rel, NULL, 0), EAGAIN); /* value differs */
	long t0 = now_ms();
	TEST_ERRNO(futex(&word, FUTEX_WAIT, 5, &rel, NULL, 0), ETIMEDOUT);
	long dt = now_ms() - t0;
	TEST_TRUE(dt >= 45 && dt < 3000);
	TEST_ERRNO(futex(&word, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 5, &rel, NULL, 0), ETIMEDOUT);
	/* WAIT_BITSET timeouts are absolute: CLOCK_MONOTONIC by default. */
	struct timespec abs = in_ms(CLOCK_MONOTONIC, 40);
	t0 = now_ms();
	TEST_ERRNO(futex(&word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 5, &abs, NULL, FUTEX_BITSET_MATCH_ANY),
		   ETIMEDOUT);
	TEST_TRUE(now_ms() - t0 >= 35);
	abs = in_ms(CLOCK_REALTIME, 30);
	TEST_ERRNO(futex(&word, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 5, &abs, NULL, FUTEX_BITSET_MATCH_ANY),
		   ETIMEDOUT);
	/* An absolute time already past returns at once. */
	abs.tv_sec = 1;
	abs.tv_nsec = 0;
	t0 = now_ms();
	TEST_ERRNO(futex(&word, FUTEX_WAIT_BITSET, 5, &abs, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
	TEST_TRUE(now_ms() - t0 < 1000);
	/* A zero relative timeout: an immediate timeout. */
	rel.tv_nsec = 0;
	TEST_ERRNO(futex(&word, FUTEX_WAIT, 5, &rel, NULL, 0), ETIMEDOUT);
}

static void futex_errors(void)
{
	volatile int word = 0;
	struct timespec bad = {0, 1000000000};
	TEST_ERRNO(futex(&word, FUTEX_WAIT, 0, &bad, NULL, 0), EINVAL);
	bad.tv_sec = -1;
	bad.tv_nsec = 0;
	TEST_ERRNO(futex(&word, FUTEX_WAIT, 0, &bad, NULL, 0), EINVAL);
	TEST_ERRNO(futex((volatile int *)((char *)&word + 1), FUTEX_WAKE, 1, NULL, NULL, 0), EINVAL);
	TEST_ERRNO(futex((volatile int *)4, FUTEX_WAIT, 0, NULL, NULL, 0), EFAULT);
	TEST_ERRNO(syscall(SYS_futex, &word, FUTEX_WAIT, 0, (void *)1, NULL, 0), EFAULT);
	TEST_ERRNO(futex(&word, FUTEX_WAIT_BITSET, 0, NULL, NULL, 0), EINVAL); /* empty bitset */
	TEST_ERRNO(futex(&word, FUTEX_WAKE_BITSET, 1, NULL, NULL, 0), EINVAL);
	TEST_ERRNO(futex(&word, 99, 0, NULL, NULL, 0), ENOSYS);
	TEST_ERRNO(futex(&word, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0), ENOSYS);
	TEST_RES(futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0), 0); /* nobody waiting */
	TEST_RES(futex(&word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 100, NULL, NULL, 0), 0);
	volatile int other = 0;
	TEST_ERRNO(futex(&word, FUTEX_CMP_REQUEUE, 1, (void *)1, &other, 7), EAGAIN);
}

/* Waiters: each announces itself, then waits on `*addr` while it holds 0 (5 s cap so a
 * missing wake-up never hangs the suite). Returns 0 if woken, else the errno. */
struct waiter {
	volatile int *addr;
	int op, bitset;
	long result;
};
static volatile int arrived;

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct timespec ts = {5, 0};
	if ((w->op & 127) == FUTEX_WAIT_BITSET)
		ts = in_ms(CLOCK_MONOTONIC, 5000);
	__atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
	long r = futex(w->addr, w->op, 0, &ts, NULL, w->bitset);
	w->result = r == 0 ? 0 : errno;
	return NULL;
}

static void start_waiters(pthread_t *t, struct waiter *w, int n)
{
	arrived = 0;
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, waiter_main, &w[i]);
	while (arrived < n)
		usleep(1000);
	usleep(100000); /* they are now blocked in the kernel */
}

static void futex_wake_counts(void)
{
	static volatile int f1, f2;
	pthread_t t[4];
	struct waiter w[4];
	for (int i = 0; i < 4; i++)
		w[i] = (struct waiter){&f1, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, -1};
	start_waiters(t, w, 3);
	TEST_RES(futex(&f1, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 2, NULL, NULL, 0), 2);
	TEST_RES(futex(&f1, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 5, NULL, NULL, 0), 1);
	TEST_RES(futex(&f1, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 5, NULL, NULL, 0), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	TEST_RES(w[0].result | w[1].result | w[2].result, 0);
	/* REQUEUE: wake 1, move the other 2 to f2, then wake them there. */
	start_waiters(t, w, 3);
	TEST_RES(futex(&f1, FUTEX_REQUEUE | FUTEX_PRIVATE_FLAG, 1, (void *)2, &f2, 0), 3);
	TEST_RES(futex(&f1, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 5, NULL, NULL, 0), 0);
	TEST_RES(futex(&f2, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 5, NULL, NULL, 0), 2);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	TEST_RES(w[0].result | w[1].result | w[2].result, 0);
	/* CMP_REQUEUE checks *f1 against val3 first. */
	start_waiters(t, w, 2);
	TEST_ERRNO(futex(&f1, FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG, 0, (void *)2, &f2, 1), EAGAIN);
	TEST_RES(futex(&f1, FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG, 0, (void *)1, &f2, 0), 1);
	TEST_RES(futex(&f2, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 5, NULL, NULL, 0), 1);
	TEST_RES(futex(&f1, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 5, NULL, NULL, 0), 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	TEST_RES(w[0].result | w[1].result, 0);
}

static void futex_bitset(void)
{
	static volatile int f;
	pthread_t t[2];
	struct waiter w[2] = {
		{&f, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0x1, -1},
		{&f, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0x2, -1},
	};
	start_waiters(t, w, 2);
	TEST_RES(futex(&f, FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG, 5, NULL, NULL, 0x4), 0);
	TEST_RES(futex(&f, FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG, 5, NULL, NULL, 0x2), 1);
	pthread_join(t[1], NULL);
	TEST_RES(w[1].result, 0);
	TEST_RES(futex(&f, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 5, NULL, NULL, 0), 1); /* WAKE = all bits */
	pthread_join(t[0], NULL);
	TEST_RES(w[0].result, 0);
	/* A plain (non-private) waiter is woken by a plain wake. */
	static volatile int g;
	struct waiter pw[1] = {{&g, FUTEX_WAIT, 0, -1}};
	start_waiters(t, pw, 1);
	TEST_RES(futex(&g, FUTEX_WAKE, 1, NULL, NULL, 0), 1);
	pthread_join(t[0], NULL);
	TEST_RES(pw[0].result, 0);
}

static volatile sig_atomic_t hit;
static void on_alarm(int s)
{
	(void)s;
	hit = 1;
}

static void futex_eintr(void)
{
	volatile int word = 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {.it_value = {.tv_usec = 30000}};
	setitimer(ITIMER_REAL, &it, NULL);
	struct timespec ts = {3, 0};
	hit = 0;
	long t0 = now_ms();
	TEST_ERRNO(futex(&word, FUTEX_WAIT, 0, &ts, NULL, 0), EINTR);
	TEST_RES(hit, 1);
	TEST_TRUE(now_ms() - t0 < 2500);
	signal(SIGALRM, SIG_DFL);
}

static void set_robust(void)
{
	struct {
		void *next;
		long offset;
		void *pending;
	} head = {&head, 0, NULL};
	TEST_RES(syscall(SYS_set_robust_list, &head, sizeof head), 0);
	TEST_ERRNO(syscall(SYS_set_robust_list, &head, sizeof head + 1), EINVAL);
	void *got = NULL;
	size_t len = 0;
	TEST_RES(syscall(SYS_get_robust_list, 0, &got, &len), 0);
	TEST_TRUE(got == &head && len == sizeof head);
	TEST_RES(syscall(SYS_set_robust_list, NULL, sizeof head), 0);
	int tid_word = 0;
	TEST_RES(syscall(SYS_set_tid_address, &tid_word), syscall(SYS_gettid));
}

int main(void)
{
	ukt_setup();
	RUN(futex_timeouts);
	RUN(futex_errors);
	RUN(futex_wake_counts);
	RUN(futex_bitset);
	RUN(futex_eintr);
	RUN(set_robust);
	return ukt_finish();
}
