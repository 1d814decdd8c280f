/* timerfd_create/timerfd_settime/timerfd_gettime: one-shot and periodic, absolute,
 * disarm, non-blocking, poll. */
#include "harness.h"
#include <poll.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <time.h>

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void timerfd_oneshot(void)
{
	int fd;
	uint64_t n = 0;
	struct itimerspec its, cur;
	TEST_TRUE((fd = timerfd_create(CLOCK_MONOTONIC, 0)) >= 0);
	TEST_RES(timerfd_gettime(fd, &cur), 0);
	TEST_RES(cur.it_value.tv_sec | cur.it_value.tv_nsec, 0); /* disarmed */
	memset(&its, 0, sizeof its);
	its.it_value.tv_nsec = 50000000;
	long t0 = now_ms();
	TEST_RES(timerfd_settime(fd, 0, &its, NULL), 0);
	TEST_RES(timerfd_gettime(fd, &cur), 0);
	TEST_TRUE(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
		  cur.it_value.tv_nsec <= 50000000);
	TEST_RES(read(fd, &n, 8), 8); /* blocks until it fires */
	TEST_RES(n, 1);
	TEST_TRUE(now_ms() - t0 >= 45);
	TEST_RES(timerfd_gettime(fd, &cur), 0);
	TEST_RES(cur.it_value.tv_sec | cur.it_value.tv_nsec, 0);
	TEST_ERRNO(read(fd, &n, 4), EINVAL);
	close(fd);
}

static void timerfd_periodic(void)
{
	int fd;
	uint64_t n = 0;
	struct itimerspec its, old;
	REQUIRE((fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) >= 0);
	TEST_RES(fcntl(fd, F_GETFD), FD_CLOEXEC);
	TEST_ERRNO(read(fd, &n, 8), EAGAIN);
	memset(&its, 0, sizeof its);
	its.it_value.tv_nsec = 10000000;
	its.it_interval.tv_nsec = 10000000;
	long t0 = now_ms();
	TEST_RES(timerfd_settime(fd, 0, &its, NULL), 0);
	usleep(75000);
	TEST_RES(read(fd, &n, 8), 8);
	long elapsed = now_ms() - t0;
	/* Expirations accumulate: at least 7 in 75 ms, at most one per 10 ms elapsed. */
	TEST_TRUE(n >= 7 && (long)n <= elapsed / 10 + 1);
	TEST_ERRNO(read(fd, &n, 8), EAGAIN);
	/* Poll sees it become readable. */
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	TEST_RES(poll(&pfd, 1, 1000), 1);
	TEST_RES(pfd.revents, POLLIN);
	/* Disarm: old value returned, nothing more fires. */
	memset(&its, 0, sizeof its);
	TEST_RES(timerfd_settime(fd, 0, &its, &old), 0);
	TEST_TRUE(old.it_interval.tv_nsec == 10000000);
	usleep(30000);
	TEST_ERRNO(read(fd, &n, 8), EAGAIN);
	TEST_RES(poll(&pfd, 1, 0), 0);
	close(fd);
}

static void timerfd_absolute(void)
{
	int fd;
	uint64_t n;
	struct itimerspec its;
	struct timespec now;
	REQUIRE((fd = timerfd_create(CLOCK_REALTIME, 0)) >= 0);
	clock_gettime(CLOCK_REALTIME, &now);
	memset(&its, 0, sizeof its);
	its.it_value = now;
	its.it_value.tv_nsec += 30000000;
	if (its.it_value.tv_nsec >= 1000000000) {
		its.it_value.tv_sec++;
		its.it_value.tv_nsec -= 1000000000;
	}
	TEST_RES(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL), 0);
	TEST_RES(read(fd, &n, 8), 8);
	TEST_RES(n, 1);
	/* A time in the past fires at once. */
	its.it_value.tv_sec = 1;
	its.it_value.tv_nsec = 0;
	TEST_RES(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL), 0);
	TEST_RES(read(fd, &n, 8), 8);
	close(fd);
}

static void timerfd_errors(void)
{
	int fd;
	struct itimerspec its;
	TEST_ERRNO(timerfd_create(12345, 0), EINVAL);
	TEST_ERRNO(timerfd_create(CLOCK_MONOTONIC, 0x4321), EINVAL);
	REQUIRE((fd = timerfd_create(CLOCK_MONOTONIC, 0)) >= 0);
	memset(&its, 0, sizeof its);
	its.it_value.tv_nsec = 1000000000;
	TEST_ERRNO(timerfd_settime(fd, 0, &its, NULL), EINVAL);
	its.it_value.tv_nsec = -1;
	TEST_ERRNO(timerfd_settime(fd, 0, &its, NULL), EINVAL);
	its.it_value.tv_nsec = 0;
	TEST_ERRNO(timerfd_settime(fd, 0x80, &its, NULL), EINVAL);
	TEST_ERRNO(timerfd_settime(fd, 0, (void *)1, NULL), EFAULT);
	TEST_ERRNO(timerfd_gettime(fd, (void *)1), EFAULT);
	TEST_ERRNO(timerfd_settime(-1, 0, &its, NULL), EBADF);
	TEST_ERRNO(timerfd_gettime(-1, &its), EBADF);
	int p[2];
	REQUIRE(pipe(p) == 0);
	TEST_ERRNO(timerfd_gettime(p[0], &its), EINVAL);
	close(p[0]);
	close(p[1]);
	TEST_ERRNO(write(fd, "12345678", 8), EINVAL);
	close(fd);
}

int main(void)
{
	ukt_setup();
	RUN(timerfd_oneshot);
	RUN(timerfd_periodic);
	RUN(timerfd_absolute);
	RUN(timerfd_errors);
	return ukt_finish();
}
