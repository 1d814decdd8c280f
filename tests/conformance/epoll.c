/* epoll_create1/epoll_ctl/epoll_wait/epoll_pwait: level and edge triggered,
 * EPOLLONESHOT, error paths. */
#include "harness.h"
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <time.h>

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void epoll_basic(void)
{
	int ep, p[2];
	struct epoll_event ev, out[4];
	TEST_TRUE((ep = epoll_create1(0)) >= 0);
	TEST_RES(fcntl(ep, F_GETFD), 0);
	close(ep);
	TEST_TRUE((ep = epoll_create1(EPOLL_CLOEXEC)) >= 0);
	TEST_RES(fcntl(ep, F_GETFD), FD_CLOEXEC);
	TEST_ERRNO(epoll_create1(0x1234), EINVAL);
	TEST_TRUE(epoll_create(1) >= 0);
	TEST_ERRNO(syscall(SYS_epoll_create, 0), EINVAL);
	REQUIRE(pipe(p) == 0);
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.u64 = 0x1122334455667788ULL;
	TEST_RES(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), 0);
	TEST_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST);
	TEST_RES(epoll_wait(ep, out, 4, 0), 0);
	REQUIRE(write(p[1], "ab", 2) == 2);
	TEST_RES(epoll_wait(ep, out, 4, 0), 1);
	TEST_RES(out[0].events, EPOLLIN);
	TEST_TRUE(out[0].data.u64 == 0x1122334455667788ULL);
	/* Level triggered: still reported while data remains. */
	TEST_RES(epoll_wait(ep, out, 4, 0), 1);
	/* MOD changes the interest and the data. */
	ev.events = EPOLLIN;
	ev.data.fd = 42;
	TEST_RES(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev), 0);
	TEST_RES(epoll_wait(ep, out, 4, 0), 1);
	TEST_RES(out[0].data.fd, 42);
	/* Write end for EPOLLOUT. */
	ev.events = EPOLLOUT;
	ev.data.fd = 43;
	TEST_RES(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev), 0);
	TEST_RES(epoll_wait(ep, out, 4, 0), 2);
	TEST_RES(epoll_wait(ep, out, 1, 0), 1); /* maxevents bounds the answer */
	TEST_RES(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL), 0);
	TEST_ERRNO(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL), ENOENT);
	TEST_ERRNO(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev), ENOENT);
	/* Errors. */
	TEST_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev), EBADF);
	TEST_ERRNO(epoll_ctl(-1, EPOLL_CTL_ADD, p[0], &ev), EBADF);
	TEST_ERRNO(epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev), EINVAL); /* not an epoll fd */
	TEST_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);     /* itself */
	TEST_ERRNO(epoll_ctl(ep, 99, p[1], &ev), EINVAL);
	TEST_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], (void *)1), EFAULT);
	REQUIRE(ukt_write_file("f", "x") == 0);
	int fd = open("f", O_RDONLY);
	TEST_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), EPERM); /* regular files */
	close(fd);
	TEST_ERRNO(epoll_wait(ep, out, 0, 0), EINVAL);
	TEST_ERRNO(epoll_wait(-1, out, 4, 0), EBADF);
	TEST_ERRNO(epoll_wait(p[0], out, 4, 0), EINVAL);
	TEST_ERRNO(epoll_wait(ep, (void *)1, 4, 0), EFAULT);
	/* Closing the only descriptor of a watched file removes it from the set. */
	close(p[0]);
	TEST_RES(epoll_wait(ep, out, 4, 0), 0);
	close(p[1]);
	close(ep);
}

static void epoll_edge(void)
{
	int ep, p[2];
	struct epoll_event ev, out[2];
	REQUIRE((ep = epoll_create1(0)) >= 0);
	REQUIRE(pipe(p) == 0);
	ev.events = EPOLLIN | EPOLLET;
	ev.data.fd = p[0];
	TEST_RES(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), 0);
	TEST_RES(epoll_wait(ep, out, 2, 0), 0);
	REQUIRE(write(p[1], "a", 1) == 1);
	TEST_RES(epoll_wait(ep, out, 2, 0), 1);
	TEST_RES(epoll_wait(ep, out, 2, 0), 0); /* edge: reported once */
	REQUIRE(write(p[1], "b", 1) == 1);
	TEST_RES(epoll_wait(ep, out, 2, 0), 1); /* a new edge */
	char buf[4];
	TEST_RES(read(p[0], buf, sizeof buf), 2);
	TEST_RES(epoll_wait(ep, out, 2, 0), 0);
	/* EPOLLONESHOT: one report, then disabled until MOD re-arms it. */
	ev.events = EPOLLIN | EPOLLONESHOT;
	TEST_RES(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev), 0);
	REQUIRE(write(p[1], "c", 1) == 1);
	TEST_RES(epoll_wait(ep, out, 2, 0), 1);
	TEST_RES(epoll_wait(ep, out, 2, 0), 0);
	REQUIRE(write(p[1], "d", 1) == 1);
	TEST_RES(epoll_wait(ep, out, 2, 0), 0);
	TEST_RES(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev), 0);
	TEST_RES(epoll_wait(ep, out, 2, 0), 1);
	/* Hang-up is always reported, even when not asked for. */
	ev.events = EPOLLIN;
	TEST_RES(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev), 0);
	close(p[1]);
	TEST_RES(epoll_wait(ep, out, 2, 0), 1);
	TEST_RES(out[0].events, EPOLLIN | EPOLLHUP);
	TEST_RES(read(p[0], buf, sizeof buf), 2);
	TEST_RES(epoll_wait(ep, out, 2, 0), 1);
	TEST_RES(out[0].events, EPOLLHUP);
	close(p[0]);
	close(ep);
}

static int tp[2];
static void *writer(void *arg)
{
	usleep(50000);
	if (write(tp[1], "x", 1) != 1)
		return (void *)1;
	return arg;
}

static volatile sig_atomic_t got_sig;
static void on_sig(int s)
{
	got_sig = s;
}

static void epoll_blocking(void)
{
	int ep;
	struct epoll_event ev, out[2];
	pthread_t t;
	REQUIRE((ep = epoll_create1(0)) >= 0);
	REQUIRE(pipe(tp) == 0);
	ev.events = EPOLLIN;
	ev.data.fd = tp[0];
	REQUIRE(epoll_ctl(ep, EPOLL_CTL_ADD, tp[0], &ev) == 0);
	long t0 = now_ms();
	TEST_RES(epoll_wait(ep, out, 2, 60), 0);
	TEST_TRUE(now_ms() - t0 >= 55);
	REQUIRE(pthread_create(&t, NULL, writer, NULL) == 0);
	TEST_RES(epoll_wait(ep, out, 2, 5000), 1);
	TEST_RES(out[0].data.fd, tp[0]);
	pthread_join(t, NULL);
	char c;
	REQUIRE(read(tp[0], &c, 1) == 1);
	/* epoll_pwait: the mask lets a blocked pending signal in. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t block, empty;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR1);
	got_sig = 0;
	TEST_ERRNO(epoll_pwait(ep, out, 2, 2000, &empty), EINTR);
	TEST_RES(got_sig, SIGUSR1);
	TEST_RES(epoll_pwait(ep, out, 2, 0, NULL), 0);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	signal(SIGUSR1, SIG_DFL);
	/* An epoll set inside an epoll set. */
	int outer = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.fd = ep;
	TEST_RES(epoll_ctl(outer, EPOLL_CTL_ADD, ep, &ev), 0);
	TEST_RES(epoll_wait(outer, out, 2, 0), 0);
	REQUIRE(write(tp[1], "y", 1) == 1);
	TEST_RES(epoll_wait(outer, out, 2, 0), 1);
	TEST_RES(out[0].data.fd, ep);
	close(outer);
	close(tp[0]);
	close(tp[1]);
	close(ep);
}

static void epoll_many(void)
{
	int ep, p[8][2];
	struct epoll_event ev, out[16];
	REQUIRE((ep = epoll_create1(0)) >= 0);
	int ok = 1;
	for (int i = 0; i < 8; i++) {
		ok &= pipe(p[i]) == 0;
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		ok &= epoll_ctl(ep, EPOLL_CTL_ADD, p[i][0], &ev) == 0;
	}
	TEST_TRUE(ok);
	for (int i = 0; i < 8; i += 2)
		ok &= write(p[i][1], "x", 1) == 1;
	TEST_RES(epoll_wait(ep, out, 16, 0), 4);
	unsigned seen = 0;
	for (int i = 0; i < 4; i++)
		seen |= 1u << out[i].data.u32;
	TEST_RES(seen, 0x55);
	for (int i = 0; i < 8; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	close(ep);
}

int main(void)
{
	ukt_setup();
	RUN(epoll_basic);
	RUN(epoll_edge);
	RUN(epoll_blocking);
	RUN(epoll_many);
	return ukt_finish();
}
