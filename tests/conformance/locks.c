/* fcntl record locks (F_GETLK/F_SETLK/F_SETLKW) and flock, with single-process
 * semantics: a process never conflicts with its own POSIX locks; flock locks belong to
 * the open file description, so two opens of one file do conflict. */
#include "harness.h"
#include <sys/file.h>

static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	return fcntl(fd, cmd, &fl);
}

static void posix_locks(void)
{
	int fd, fd2;
	struct flock fl;
	REQUIRE(ukt_write_file("f", "0123456789") == 0);
	REQUIRE((fd = open("f", O_RDWR)) >= 0);
	TEST_RES(setlk(fd, F_SETLK, F_WRLCK, 0, 5), 0);
	TEST_RES(setlk(fd, F_SETLK, F_RDLCK, 5, 5), 0);
	/* Our own locks never conflict with us: F_GETLK reports F_UNLCK. */
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 0;
	TEST_RES(fcntl(fd, F_GETLK, &fl), 0);
	TEST_RES(fl.l_type, F_UNLCK);
	/* Another descriptor of the same process: still no conflict. */
	REQUIRE((fd2 = open("f", O_RDWR)) >= 0);
	TEST_RES(setlk(fd2, F_SETLK, F_WRLCK, 0, 10), 0);
	TEST_RES(setlk(fd2, F_SETLKW, F_WRLCK, 2, 3), 0);
	TEST_RES(setlk(fd, F_SETLK, F_UNLCK, 0, 0), 0);
	TEST_RES(setlk(fd, F_SETLK, F_UNLCK, 100, 5), 0); /* unlocking nothing is fine */
	/* Lock type must match the access mode. */
	int ro = open("f", O_RDONLY), wo = open("f", O_WRONLY);
	TEST_ERRNO(setlk(ro, F_SETLK, F_WRLCK, 0, 1), EBADF);
	TEST_ERRNO(setlk(wo, F_SETLK, F_RDLCK, 0, 1), EBADF);
	TEST_RES(setlk(ro, F_SETLK, F_RDLCK, 0, 1), 0);
	TEST_RES(setlk(wo, F_SETLK, F_WRLCK, 0, 1), 0);
	close(ro);
	close(wo);
	/* Bad arguments. */
	TEST_ERRNO(setlk(fd, F_SETLK, 42, 0, 1), EINVAL);
	TEST_ERRNO(setlk(fd, F_SETLK, F_RDLCK, -5, 1), EINVAL);
	TEST_ERRNO(setlk(-1, F_SETLK, F_RDLCK, 0, 1), EBADF);
	TEST_ERRNO(fcntl(fd, F_SETLK, (void *)1), EFAULT);
	TEST_ERRNO(fcntl(fd, F_GETLK, (void *)1), EFAULT);
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_UNLCK;
	TEST_ERRNO(fcntl(fd, F_GETLK, &fl), EINVAL);
	/* A negative length locks the bytes before start. */
	TEST_RES(setlk(fd, F_SETLK, F_WRLCK, 5, -3), 0);
	TEST_ERRNO(setlk(fd, F_SETLK, F_WRLCK, 2, -5), EINVAL);
	/* Locks on a pipe are refused? No: Linux allows them on any file. Locking a
	 * directory descriptor opened read-only with a read lock works. */
	int dfd = open(".", O_RDONLY);
	TEST_RES(setlk(dfd, F_SETLK, F_RDLCK, 0, 0), 0);
	close(dfd);
	close(fd2);
	close(fd);
}

static void posix_locks_threads(void)
{
	/* Threads of one process share its locks: nothing blocks. (SETLKW from the main
	 * thread over a region locked through another descriptor returns at once.) */
	int fd;
	REQUIRE(ukt_write_file("f", "x") == 0);
	REQUIRE((fd = open("f", O_RDWR)) >= 0);
	TEST_RES(setlk(fd, F_SETLKW, F_WRLCK, 0, 0), 0);
	TEST_RES(setlk(fd, F_SETLKW, F_RDLCK, 0, 0), 0); /* converts our own lock */
	TEST_RES(setlk(fd, F_SETLKW, F_UNLCK, 0, 0), 0);
	/* lockf is libc over F_SETLK. */
	TEST_RES(lockf(fd, F_LOCK, 0), 0);
	TEST_RES(lockf(fd, F_TLOCK, 0), 0);
	TEST_RES(lockf(fd, F_TEST, 0), 0);
	TEST_RES(lockf(fd, F_ULOCK, 0), 0);
	close(fd);
}

static void flock_cases(void)
{
	int a, b;
	REQUIRE(ukt_write_file("f", "x") == 0);
	REQUIRE((a = open("f", O_RDONLY)) >= 0);
	REQUIRE((b = open("f", O_RDONLY)) >= 0);
	TEST_RES(flock(a, LOCK_EX), 0);
	TEST_ERRNO(flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	TEST_ERRNO(flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	TEST_RES(flock(a, LOCK_EX), 0); /* relocking our own description */
	TEST_RES(flock(a, LOCK_SH), 0); /* downgrade */
	TEST_RES(flock(b, LOCK_SH | LOCK_NB), 0);
	TEST_ERRNO(flock(a, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	TEST_RES(flock(b, LOCK_UN), 0);
	TEST_RES(flock(a, LOCK_EX | LOCK_NB), 0);
	/* A duplicate shares the description, hence the lock. */
	int d = dup(a);
	TEST_RES(flock(d, LOCK_EX | LOCK_NB), 0);
	close(a);
	TEST_ERRNO(flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	close(d); /* last reference: the lock goes away */
	TEST_RES(flock(b, LOCK_EX | LOCK_NB), 0);
	TEST_RES(flock(b, LOCK_UN), 0);
	TEST_ERRNO(flock(-1, LOCK_SH), EBADF);
	TEST_ERRNO(flock(b, 0), EINVAL);
	TEST_ERRNO(flock(b, LOCK_SH | LOCK_EX), EINVAL);
	/* flock and fcntl locks are independent. */
	int w = open("f", O_RDWR);
	TEST_RES(flock(b, LOCK_EX), 0);
	TEST_RES(setlk(w, F_SETLK, F_WRLCK, 0, 0), 0);
	close(w);
	close(b);
}

int main(void)
{
	ukt_setup();
	RUN(posix_locks);
	RUN(posix_locks_threads);
	RUN(flock_cases);
	return ukt_finish();
}
