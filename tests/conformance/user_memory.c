/* Program memory the kernel copies to or from may be unmapped, or go away while a call
 * waits: the call gives what Linux gives (EFAULT, or a short count when some bytes
 * were copied) and the program keeps running (issue 8). */
#include "harness.h"
#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define PG 4096

/* One readable, writable page followed by an inaccessible one (PROT_NONE rather than
 * unmapped, so that no other allocation can land there meanwhile); unmap both with
 * munmap(pg, 2 * PG). */
static char *page_before_hole(void)
{
	char *m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (mprotect(m + PG, PG, PROT_NONE) != 0)
		return NULL;
	return m;
}

struct unmapper {
	int wfd;
	char *buf;
};

static void *unmap_then_write(void *arg)
{
	struct unmapper *u = arg;
	usleep(100 * 1000); /* the reader is blocked by now */
	munmap(u->buf, PG);
	if (write(u->wfd, "x", 1) != 1)
		return (void *)1;
	return NULL;
}

/* A thread blocked in read(2) on a pipe whose buffer another thread unmaps: the read
 * fails with EFAULT when data arrives, and the data stays in the pipe. */
static void pipe_read_into_buffer_unmapped_meanwhile(void)
{
	int p[2];
	pthread_t t;
	struct unmapper u;
	char c = 0;
	REQUIRE(pipe(p) == 0);
	u.wfd = p[1];
	u.buf = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(u.buf != MAP_FAILED);
	REQUIRE(pthread_create(&t, NULL, unmap_then_write, &u) == 0);
	TEST_ERRNO(read(p[0], u.buf, PG), EFAULT);
	void *ret;
	TEST_RES(pthread_join(t, &ret), 0);
	TEST_TRUE(ret == NULL);
	TEST_RES(read(p[0], &c, 1), 1);
	TEST_RES(c, 'x');
	close(p[0]);
	close(p[1]);
}

/* readv/writev with an iovec into unmapped memory, or straddling into it. */
static void iovecs_into_unmapped_memory(void)
{
	char *pg = page_before_hole();
	REQUIRE(pg != NULL);
	char head[4];
	int fd;
	REQUIRE(ukt_write_file("f", "0123456789") == 0);
	REQUIRE((fd = open("f", O_RDWR)) >= 0);
	/* The second iovec is unmapped: the first is filled, the count is short. */
	struct iovec bad[2] = { { head, 4 }, { pg + PG, 4 } };
	TEST_RES(readv(fd, bad, 2), 4);
	TEST_RES(memcmp(head, "0123", 4), 0);
	/* Nothing copied at all: EFAULT. */
	TEST_ERRNO(readv(fd, bad + 1, 1), EFAULT);
	/* An iovec that straddles into the hole: the bytes before it. */
	REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
	struct iovec straddle = { pg + PG - 2, 8 };
	TEST_RES(readv(fd, &straddle, 1), 2);
	TEST_RES(pg[PG - 1], '1');
	/* writev: the bytes of the good part go out, then the count is short. */
	REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
	memcpy(head, "abcd", 4);
	TEST_RES(writev(fd, bad, 2), 4);
	TEST_ERRNO(writev(fd, bad + 1, 1), EFAULT);
	memcpy(pg + PG - 2, "yz", 2);
	TEST_RES(writev(fd, &straddle, 1), 2);
	char back[8];
	TEST_RES(pread(fd, back, 8, 0), 8);
	TEST_RES(memcmp(back, "abcdyz67", 8), 0);
	close(fd);
	/* On a pipe. */
	int p[2];
	REQUIRE(pipe(p) == 0);
	TEST_ERRNO(writev(p[1], bad + 1, 1), EFAULT);
	TEST_RES(write(p[1], "hello", 5), 5);
	TEST_ERRNO(readv(p[0], bad + 1, 1), EFAULT);
	TEST_RES(read(p[0], back, 5), 5);
	TEST_RES(memcmp(back, "hello", 5), 0);
	close(p[0]);
	close(p[1]);
	munmap(pg, 2 * PG);
}

/* recvmsg/sendmsg with iovecs into unmapped memory. */
static void messages_into_unmapped_memory(void)
{
	char *pg = page_before_hole();
	REQUIRE(pg != NULL);
	int sv[2];
	char buf[8];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct iovec hole = { pg + PG, 8 };
	struct msghdr mh = { 0 };
	mh.msg_iov = &hole;
	mh.msg_iovlen = 1;
	TEST_ERRNO(sendmsg(sv[0], &mh, 0), EFAULT);
	TEST_RES(send(sv[0], "ping", 4, 0), 4);
	TEST_ERRNO(recvmsg(sv[1], &mh, 0), EFAULT);
	/* The message header itself in the hole (musl's wrapper would copy it first). */
	TEST_ERRNO(syscall(SYS_recvmsg, sv[1], pg + PG, 0), EFAULT);
	TEST_ERRNO(syscall(SYS_recvmsg, sv[1], pg + PG - 8, 0), EFAULT);
	/* An iovec array that runs into the hole. */
	mh.msg_iov = (struct iovec *)(pg + PG - sizeof(struct iovec));
	mh.msg_iov->iov_base = buf;
	mh.msg_iov->iov_len = 2;
	mh.msg_iovlen = 2;
	TEST_ERRNO(recvmsg(sv[1], &mh, 0), EFAULT);
	/* The data is still there for a good buffer. */
	mh.msg_iov = &hole;
	hole.iov_base = buf;
	hole.iov_len = 8;
	mh.msg_iovlen = 1;
	TEST_RES(recvmsg(sv[1], &mh, 0), 4);
	TEST_RES(memcmp(buf, "ping", 4), 0);
	close(sv[0]);
	close(sv[1]);
	/* Datagrams: a receive that fails does not lose the next one. */
	REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	TEST_RES(send(sv[0], "dgram", 5, 0), 5);
	TEST_RES(recv(sv[1], buf, 8, 0), 5);
	TEST_RES(memcmp(buf, "dgram", 5), 0);
	TEST_ERRNO(recv(sv[1], pg + PG, 8, MSG_DONTWAIT), EAGAIN);
	close(sv[0]);
	close(sv[1]);
	munmap(pg, 2 * PG);
}

/* stat, statx and getdents64 into buffers that end at an unmapped page. */
static void records_ending_at_unmapped_page(void)
{
	char *pg = page_before_hole();
	REQUIRE(pg != NULL);
	REQUIRE(ukt_write_file("f", "x") == 0);
	/* struct stat (144 bytes) whose last 8 bytes lie in the hole. */
	TEST_ERRNO(syscall(SYS_stat, "f", pg + PG - 136), EFAULT);
	TEST_ERRNO(syscall(SYS_newfstatat, AT_FDCWD, "f", pg + PG - 136, 0), EFAULT);
	TEST_RES(syscall(SYS_stat, "f", pg + PG - 144), 0);
	/* statx (256 bytes) likewise. */
	TEST_ERRNO(syscall(SYS_statx, AT_FDCWD, "f", 0, 0x7ff, pg + PG - 200), EFAULT);
	TEST_RES(syscall(SYS_statx, AT_FDCWD, "f", 0, 0x7ff, pg + PG - 256), 0);
	/* A path that runs into the hole. */
	memcpy(pg + PG - 2, "ff", 2);
	TEST_ERRNO(syscall(SYS_stat, pg + PG - 2, pg), EFAULT);
	/* getdents64: entries that fit before the hole are returned, then the rest. */
	REQUIRE(mkdir("d", 0755) == 0);
	REQUIRE(ukt_write_file("d/a-rather-long-file-name-number-one", "1") == 0);
	REQUIRE(ukt_write_file("d/a-rather-long-file-name-number-two", "2") == 0);
	int d = open("d", O_RDONLY | O_DIRECTORY);
	REQUIRE(d >= 0);
	long n = syscall(SYS_getdents64, d, pg + PG - 64, 4096);
	TEST_TRUE(n > 0 && n <= 64);
	long total = n;
	char *big = malloc(8192);
	REQUIRE(big != NULL);
	while ((n = syscall(SYS_getdents64, d, big, 8192)) > 0)
		total += n;
	TEST_RES(n, 0);
	/* Exactly as many bytes as one read of everything. */
	REQUIRE(lseek(d, 0, SEEK_SET) == 0);
	TEST_RES(syscall(SYS_getdents64, d, big, 8192), total);
	/* Not even one entry fits: EFAULT. */
	REQUIRE(lseek(d, 0, SEEK_SET) == 0);
	TEST_ERRNO(syscall(SYS_getdents64, d, pg + PG - 8, 4096), EFAULT);
	free(big);
	close(d);
	munmap(pg, 2 * PG);
}

int main(void)
{
	ukt_setup();
	RUN(pipe_read_into_buffer_unmapped_meanwhile);
	RUN(iovecs_into_unmapped_memory);
	RUN(messages_into_unmapped_memory);
	RUN(records_ending_at_unmapped_page);
	return ukt_finish();
}
