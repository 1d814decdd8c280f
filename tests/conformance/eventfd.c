/* eventfd/eventfd2: counter and semaphore modes, non-blocking, poll, blocking read. */
#include "harness.h"
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>

static void eventfd_counter(void)
{
	int fd;
	uint64_t v;
	TEST_TRUE((fd = eventfd(5, 0)) >= 0);
	TEST_RES(read(fd, &v, 8), 8);
	TEST_RES(v, 5);
	v = 3;
	TEST_RES(write(fd, &v, 8), 8);
	v = 4;
	TEST_RES(write(fd, &v, 8), 8);
	TEST_RES(read(fd, &v, 8), 8);
	TEST_RES(v, 7);
	/* Size and value checks. */
	TEST_ERRNO(read(fd, &v, 4), EINVAL);
	TEST_ERRNO(write(fd, &v, 4), EINVAL);
	v = UINT64_MAX;
	TEST_ERRNO(write(fd, &v, 8), EINVAL);
	v = 1;
	REQUIRE(write(fd, &v, 8) == 8);
	TEST_ERRNO(read(fd, (void *)1, 8), EFAULT);
	TEST_ERRNO(write(fd, (void *)1, 8), EFAULT);
	/* A larger buffer is fine: 8 bytes are used. */
	char big[16];
	v = 2;
	REQUIRE(write(fd, &v, 8) == 8);
	TEST_RES(read(fd, big, sizeof big), 8);
	close(fd);
	TEST_ERRNO(eventfd(0, 0x1234), EINVAL);
}

static void eventfd_flags(void)
{
	int fd;
	uint64_t v = 0;
	TEST_TRUE((fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0);
	TEST_RES(fcntl(fd, F_GETFD), FD_CLOEXEC);
	TEST_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
	TEST_ERRNO(read(fd, &v, 8), EAGAIN);
	/* Overflow: the counter tops out at 2^64-2; a write beyond waits, or EAGAIN. */
	v = UINT64_MAX - 1;
	TEST_RES(write(fd, &v, 8), 8);
	v = 1;
	TEST_ERRNO(write(fd, &v, 8), EAGAIN);
	TEST_RES(read(fd, &v, 8), 8);
	TEST_TRUE(v == UINT64_MAX - 1);
	close(fd);
	/* Semaphore mode: each read takes 1. */
	TEST_TRUE((fd = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK)) >= 0);
	TEST_RES(read(fd, &v, 8), 8);
	TEST_RES(v, 1);
	TEST_RES(read(fd, &v, 8), 8);
	TEST_RES(read(fd, &v, 8), 8);
	TEST_ERRNO(read(fd, &v, 8), EAGAIN);
	close(fd);
	/* The raw eventfd (no flags argument). */
	TEST_TRUE((fd = syscall(SYS_eventfd, 2)) >= 0);
	TEST_RES(read(fd, &v, 8), 8);
	TEST_RES(v, 2);
	close(fd);
	TEST_TRUE((fd = syscall(SYS_eventfd2, 1, EFD_NONBLOCK)) >= 0);
	close(fd);
}

static void eventfd_poll(void)
{
	int fd;
	uint64_t v;
	struct pollfd pfd;
	REQUIRE((fd = eventfd(0, EFD_NONBLOCK)) >= 0);
	pfd.fd = fd;
	pfd.events = POLLIN | POLLOUT;
	TEST_RES(poll(&pfd, 1, 0), 1);
	TEST_RES(pfd.revents, POLLOUT);
	v = 1;
	REQUIRE(write(fd, &v, 8) == 8);
	TEST_RES(poll(&pfd, 1, 0), 1);
	TEST_RES(pfd.revents, POLLIN | POLLOUT);
	v = UINT64_MAX - 2;
	REQUIRE(write(fd, &v, 8) == 8);
	TEST_RES(poll(&pfd, 1, 0), 1);
	TEST_RES(pfd.revents, POLLIN); /* full: not writable */
	close(fd);
}

static int efd;
static void *poster(void *arg)
{
	usleep(30000);
	uint64_t v = 9;
	if (write(efd, &v, 8) != 8)
		return (void *)1;
	return arg;
}

static void eventfd_blocking(void)
{
	pthread_t t;
	uint64_t v = 0;
	REQUIRE((efd = eventfd(0, 0)) >= 0);
	REQUIRE(pthread_create(&t, NULL, poster, NULL) == 0);
	TEST_RES(read(efd, &v, 8), 8);
	TEST_RES(v, 9);
	void *ret;
	TEST_RES(pthread_join(t, &ret), 0);
	TEST_RES(ret, NULL);
	TEST_RES(eventfd_write(efd, 4), 0);
	eventfd_t ev;
	TEST_RES(eventfd_read(efd, &ev), 0);
	TEST_RES(ev, 4);
	close(efd);
}

int main(void)
{
	ukt_setup();
	RUN(eventfd_counter);
	RUN(eventfd_flags);
	RUN(eventfd_poll);
	RUN(eventfd_blocking);
	return ukt_finish();
}
