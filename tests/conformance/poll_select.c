/* poll/ppoll/select/pselect6: readiness, timeouts, hang-up, invalid descriptors,
 * signal masks during the wait. */
#include "harness.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/time.h>
#include <time.h>

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static volatile sig_atomic_t got_sig;
static void on_sig(int s)
{
	got_sig = s;
}

static void poll_cases(void)
{
	int p[2];
	struct pollfd pfd[3];
	REQUIRE(pipe(p) == 0);
	pfd[0].fd = p[0];
	pfd[0].events = POLLIN;
	pfd[1].fd = p[1];
	pfd[1].events = POLLOUT;
	TEST_RES(poll(pfd, 2, 0), 1);
	TEST_RES(pfd[0].revents, 0);
	TEST_RES(pfd[1].revents, POLLOUT);
	REQUIRE(write(p[1], "x", 1) == 1);
	TEST_RES(poll(pfd, 2, 0), 2);
	TEST_RES(pfd[0].revents, POLLIN);
	/* Negative descriptors are ignored; closed ones report POLLNVAL. */
	pfd[0].fd = -1;
	pfd[0].events = POLLIN;
	pfd[1].fd = 999;
	pfd[1].events = POLLIN;
	TEST_RES(poll(pfd, 2, 0), 1);
	TEST_RES(pfd[0].revents, 0);
	TEST_RES(pfd[1].revents, POLLNVAL);
	/* A timeout with nothing ready returns 0 after about that long. */
	pfd[0].fd = p[1];
	pfd[0].events = POLLIN;
	long t0 = now_ms();
	TEST_RES(poll(pfd, 1, 100), 0);
	long dt = now_ms() - t0;
	TEST_TRUE(dt >= 95 && dt < 2000);
	TEST_RES(poll(NULL, 0, 10), 0); /* a plain sleep */
	/* Hang-up: the reader sees POLLHUP (and POLLIN while data remains). */
	close(p[1]);
	pfd[0].fd = p[0];
	pfd[0].events = POLLIN;
	TEST_RES(poll(pfd, 1, 0), 1);
	TEST_RES(pfd[0].revents, POLLIN | POLLHUP);
	char c;
	REQUIRE(read(p[0], &c, 1) == 1);
	TEST_RES(poll(pfd, 1, 0), 1);
	TEST_RES(pfd[0].revents, POLLHUP);
	/* Writer whose reader is gone: POLLERR. */
	close(p[0]);
	REQUIRE(pipe(p) == 0);
	close(p[0]);
	pfd[0].fd = p[1];
	pfd[0].events = POLLOUT;
	TEST_RES(poll(pfd, 1, 0), 1);
	TEST_TRUE(pfd[0].revents & POLLERR);
	close(p[1]);
	/* Regular files are always ready. */
	REQUIRE(ukt_write_file("f", "x") == 0);
	int fd = open("f", O_RDWR);
	pfd[0].fd = fd;
	pfd[0].events = POLLIN | POLLOUT;
	TEST_RES(poll(pfd, 1, -1), 1);
	TEST_RES(pfd[0].revents, POLLIN | POLLOUT);
	close(fd);
	TEST_ERRNO(poll((struct pollfd *)1, 1, 0), EFAULT);
	TEST_ERRNO(poll(pfd, 0x7fffffff, 0), EINVAL);
}

static int tpipe[2];
static void *delayed_write(void *arg)
{
	usleep(50000);
	if (write(tpipe[1], "w", 1) != 1)
		return (void *)1;
	return arg;
}

static void poll_wakeup(void)
{
	pthread_t t;
	REQUIRE(pipe(tpipe) == 0);
	REQUIRE(pthread_create(&t, NULL, delayed_write, NULL) == 0);
	struct pollfd pfd = {.fd = tpipe[0], .events = POLLIN};
	long t0 = now_ms();
	TEST_RES(poll(&pfd, 1, 5000), 1); /* woken by the thread, long before the timeout */
	TEST_TRUE(now_ms() - t0 < 3000);
	TEST_RES(pfd.revents, POLLIN);
	pthread_join(t, NULL);
	/* Interrupted by a signal: EINTR. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {.it_value = {.tv_usec = 30000}};
	setitimer(ITIMER_REAL, &it, NULL);
	got_sig = 0;
	pfd.fd = tpipe[1];
	pfd.events = POLLIN;
	TEST_ERRNO(poll(&pfd, 1, 2000), EINTR);
	TEST_RES(got_sig, SIGALRM);
	signal(SIGALRM, SIG_DFL);
	close(tpipe[0]);
	close(tpipe[1]);
}

static void ppoll_cases(void)
{
	int p[2];
	REQUIRE(pipe(p) == 0);
	struct pollfd pfd = {.fd = p[0], .events = POLLIN};
	struct timespec ts = {0, 20000000};
	TEST_RES(ppoll(&pfd, 1, &ts, NULL), 0);
	REQUIRE(write(p[1], "x", 1) == 1);
	TEST_RES(ppoll(&pfd, 1, NULL, NULL), 1);
	ts.tv_nsec = 1000000000;
	TEST_ERRNO(ppoll(&pfd, 1, &ts, NULL), EINVAL);
	/* The mask is installed only while waiting: a blocked pending signal is delivered
	 * when ppoll unblocks it, which interrupts the call. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t block, empty, cur;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR1);
	got_sig = 0;
	pfd.fd = p[1];
	pfd.events = POLLIN;
	ts.tv_sec = 2;
	ts.tv_nsec = 0;
	TEST_ERRNO(ppoll(&pfd, 1, &ts, &empty), EINTR);
	TEST_RES(got_sig, SIGUSR1);
	sigprocmask(SIG_SETMASK, NULL, &cur);
	TEST_TRUE(sigismember(&cur, SIGUSR1)); /* the old mask is back */
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	signal(SIGUSR1, SIG_DFL);
	close(p[0]);
	close(p[1]);
}

static void select_cases(void)
{
	int p[2];
	fd_set r, w, e;
	struct timeval tv;
	REQUIRE(pipe(p) == 0);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(p[1], &w);
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	TEST_RES(select(p[1] + 1, &r, &w, NULL, &tv), 1);
	TEST_TRUE(!FD_ISSET(p[0], &r) && FD_ISSET(p[1], &w));
	REQUIRE(write(p[1], "x", 1) == 1);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(p[1], &w);
	TEST_RES(select(p[1] + 1, &r, &w, NULL, NULL), 2);
	TEST_TRUE(FD_ISSET(p[0], &r));
	/* Timeout: 0 and the sets cleared; Linux updates the timeval. */
	char c;
	REQUIRE(read(p[0], &c, 1) == 1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tv.tv_sec = 0;
	tv.tv_usec = 50000;
	long t0 = now_ms();
	TEST_RES(select(p[0] + 1, &r, NULL, NULL, &tv), 0);
	TEST_TRUE(now_ms() - t0 >= 45);
	TEST_TRUE(!FD_ISSET(p[0], &r));
	TEST_TRUE(tv.tv_sec == 0 && tv.tv_usec <= 50000);
	/* A closed descriptor in a set: EBADF. */
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	int closed = dup(p[0]);
	close(closed);
	FD_SET(closed, &r);
	tv.tv_usec = 0;
	TEST_ERRNO(select(closed + 1, &r, NULL, NULL, &tv), EBADF);
	tv.tv_usec = -1;
	FD_ZERO(&r);
	TEST_ERRNO(select(1, &r, NULL, NULL, &tv), EINVAL);
	TEST_ERRNO(select(-1, NULL, NULL, NULL, NULL), EINVAL);
	TEST_ERRNO(syscall(SYS_select, 10, (void *)1, NULL, NULL, NULL), EFAULT);
	/* Exceptional conditions on a pipe: none. */
	FD_ZERO(&e);
	FD_SET(p[0], &e);
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	TEST_RES(select(p[0] + 1, NULL, NULL, &e, &tv), 0);
	/* A hung-up pipe is readable (EOF). */
	close(p[1]);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	TEST_RES(select(p[0] + 1, &r, NULL, NULL, NULL), 1);
	close(p[0]);
}

static void pselect_cases(void)
{
	int p[2];
	fd_set r;
	struct timespec ts = {0, 10000000};
	REQUIRE(pipe(p) == 0);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	TEST_RES(pselect(p[0] + 1, &r, NULL, NULL, &ts, NULL), 0);
	REQUIRE(write(p[1], "x", 1) == 1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	TEST_RES(pselect(p[0] + 1, &r, NULL, NULL, &ts, NULL), 1);
	TEST_TRUE(FD_ISSET(p[0], &r));
	ts.tv_nsec = -5;
	TEST_ERRNO(pselect(p[0] + 1, &r, NULL, NULL, &ts, NULL), EINVAL);
	/* pselect's mask lets a pending signal in. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sigaction(SIGUSR2, &sa, NULL);
	sigset_t block, empty;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR2);
	got_sig = 0;
	char c;
	REQUIRE(read(p[0], &c, 1) == 1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	ts.tv_sec = 2;
	ts.tv_nsec = 0;
	TEST_ERRNO(pselect(p[0] + 1, &r, NULL, NULL, &ts, &empty), EINTR);
	TEST_RES(got_sig, SIGUSR2);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	signal(SIGUSR2, SIG_DFL);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	ukt_setup();
	RUN(poll_cases);
	RUN(poll_wakeup);
	RUN(ppoll_cases);
	RUN(select_cases);
	RUN(pselect_cases);
	return ukt_finish();
}
