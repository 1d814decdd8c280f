/* dup/dup2/dup3, fcntl (F_GETFD/F_SETFD, F_GETFL/F_SETFL, F_DUPFD, F_DUPFD_CLOEXEC),
 * ioctl FIONBIO/FIONREAD, the descriptor limit (EMFILE). */
#include "harness.h"
#include <sys/ioctl.h>
#include <sys/resource.h>

static void dup_cases(void)
{
	int fd, d;
	char buf[8];
	REQUIRE(ukt_write_file("f", "abcdef") == 0);
	REQUIRE((fd = open("f", O_RDONLY)) >= 0);
	TEST_TRUE((d = dup(fd)) > fd);
	/* Duplicates share the offset. */
	TEST_RES(read(fd, buf, 2), 2);
	TEST_RES(lseek(d, 0, SEEK_CUR), 2);
	TEST_RES(read(d, buf, 2), 2);
	TEST_RES(buf[0], 'c');
	/* The close-on-exec flag is per descriptor and is not copied. */
	REQUIRE(fcntl(fd, F_SETFD, FD_CLOEXEC) == 0);
	int d2 = dup(fd);
	TEST_RES(fcntl(d2, F_GETFD), 0);
	close(d2);
	TEST_RES(close(fd), 0);
	TEST_RES(read(d, buf, 2), 2); /* still open through the duplicate */
	TEST_ERRNO(dup(-1), EBADF);
	TEST_ERRNO(dup(fd), EBADF);
	/* dup2 */
	TEST_RES(dup2(d, 50), 50);
	TEST_RES(lseek(50, 0, SEEK_CUR), 6);
	TEST_RES(dup2(d, d), d); /* same descriptor: returned unchanged */
	TEST_ERRNO(dup2(-1, 51), EBADF);
	TEST_ERRNO(dup2(777, 777), EBADF);
	TEST_ERRNO(dup2(d, -1), EBADF);
	/* dup2 onto an open descriptor closes it first. */
	int other = open("f", O_RDONLY);
	TEST_RES(dup2(d, other), other);
	TEST_RES(lseek(other, 0, SEEK_CUR), 6);
	close(other);
	/* dup3 */
	TEST_RES(dup3(d, 60, O_CLOEXEC), 60);
	TEST_RES(fcntl(60, F_GETFD), FD_CLOEXEC);
	TEST_RES(dup3(d, 61, 0), 61);
	TEST_RES(fcntl(61, F_GETFD), 0);
	TEST_ERRNO(dup3(d, d, 0), EINVAL);
	TEST_ERRNO(syscall(SYS_dup3, d, 62, O_NONBLOCK), EINVAL);
	TEST_ERRNO(dup3(-1, 62, 0), EBADF);
	close(50);
	close(60);
	close(61);
	close(d);
}

static void fcntl_fd_flags(void)
{
	int fd;
	REQUIRE((fd = open(".", O_RDONLY)) >= 0);
	TEST_RES(fcntl(fd, F_GETFD), 0);
	TEST_RES(fcntl(fd, F_SETFD, FD_CLOEXEC), 0);
	TEST_RES(fcntl(fd, F_GETFD), FD_CLOEXEC);
	TEST_RES(fcntl(fd, F_SETFD, 0), 0);
	TEST_RES(fcntl(fd, F_GETFD), 0);
	TEST_ERRNO(fcntl(-1, F_GETFD), EBADF);
	TEST_ERRNO(fcntl(999, F_SETFD, 0), EBADF);
	TEST_ERRNO(fcntl(fd, 9999), EINVAL);
	/* F_DUPFD: lowest free descriptor >= arg. */
	int d = fcntl(fd, F_DUPFD, 100);
	TEST_RES(d, 100);
	TEST_RES(fcntl(d, F_GETFD), 0);
	TEST_RES(fcntl(fd, F_DUPFD, 100), 101);
	TEST_RES(fcntl(fd, F_DUPFD_CLOEXEC, 100), 102);
	TEST_RES(fcntl(102, F_GETFD), FD_CLOEXEC);
	close(101);
	TEST_RES(fcntl(fd, F_DUPFD, 100), 101);
	TEST_ERRNO(fcntl(fd, F_DUPFD, -1), EINVAL);
	struct rlimit rl;
	REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	TEST_ERRNO(fcntl(fd, F_DUPFD, (long)rl.rlim_cur), EINVAL);
	TEST_ERRNO(dup2(fd, (int)rl.rlim_cur), EBADF);
	close(100);
	close(101);
	close(102);
	close(fd);
}

static void fcntl_fl_flags(void)
{
	int fd;
	REQUIRE(ukt_write_file("f", "x") == 0);
	REQUIRE((fd = open("f", O_RDWR | O_APPEND)) >= 0);
	int fl = fcntl(fd, F_GETFL);
	TEST_RES(fl & O_ACCMODE, O_RDWR);
	TEST_TRUE(fl & O_APPEND);
	TEST_RES(fl & O_NONBLOCK, 0);
	TEST_RES(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
	TEST_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
	TEST_RES(fcntl(fd, F_SETFL, O_RDONLY), 0); /* access mode cannot change */
	TEST_RES(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK), O_RDWR);
	/* Status flags are shared by duplicates (one open file description). */
	int d = dup(fd);
	TEST_RES(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	TEST_TRUE(fcntl(d, F_GETFL) & O_NONBLOCK);
	close(d);
	close(fd);
	REQUIRE((fd = open("f", O_WRONLY)) >= 0);
	TEST_RES(fcntl(fd, F_GETFL) & O_ACCMODE, O_WRONLY);
	close(fd);
	REQUIRE((fd = open("f", O_RDONLY | O_NONBLOCK)) >= 0);
	TEST_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	TEST_ERRNO(fcntl(-1, F_GETFL), EBADF);
	TEST_ERRNO(fcntl(-1, F_SETFL, 0), EBADF);
}

static void ioctl_cases(void)
{
	int p[2], n = -1, on = 1, off = 0;
	REQUIRE(pipe(p) == 0);
	TEST_RES(ioctl(p[0], FIONREAD, &n), 0);
	TEST_RES(n, 0);
	REQUIRE(write(p[1], "12345", 5) == 5);
	TEST_RES(ioctl(p[0], FIONREAD, &n), 0);
	TEST_RES(n, 5);
	TEST_RES(ioctl(p[0], FIONBIO, &on), 0);
	TEST_TRUE(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	char buf[8];
	TEST_RES(read(p[0], buf, sizeof buf), 5);
	TEST_ERRNO(read(p[0], buf, sizeof buf), EAGAIN);
	TEST_RES(ioctl(p[0], FIONBIO, &off), 0);
	TEST_RES(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
	TEST_ERRNO(ioctl(-1, FIONREAD, &n), EBADF);
	TEST_ERRNO(ioctl(p[0], FIONREAD, (void *)1), EFAULT);
	close(p[0]);
	close(p[1]);
	/* FIONREAD on a regular file: the bytes left to read. */
	int fd;
	REQUIRE(ukt_write_file("f", "0123456789") == 0);
	REQUIRE((fd = open("f", O_RDONLY)) >= 0);
	REQUIRE(lseek(fd, 4, SEEK_SET) == 4);
	TEST_RES(ioctl(fd, FIONREAD, &n), 0);
	TEST_RES(n, 6);
	/* An ioctl a regular file does not know. */
	struct winsize ws;
	TEST_ERRNO(ioctl(fd, TIOCGWINSZ, &ws), ENOTTY);
	close(fd);
}

static void emfile_cases(void)
{
	struct rlimit old, rl;
	REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
	rl = old;
	rl.rlim_cur = 32;
	TEST_RES(setrlimit(RLIMIT_NOFILE, &rl), 0);
	TEST_RES(getrlimit(RLIMIT_NOFILE, &rl), 0);
	TEST_RES(rl.rlim_cur, 32);
	int fds[40], n = 0, fd;
	while (n < 40 && (fd = open(".", O_RDONLY)) >= 0)
		fds[n++] = fd;
	TEST_ERRNO(open(".", O_RDONLY), EMFILE);
	TEST_ERRNO(dup(0), EMFILE);
	int p[2];
	TEST_ERRNO(pipe(p), EMFILE);
	TEST_TRUE(n > 20 && n < 32);
	TEST_ERRNO(dup2(0, 32), EBADF);
	TEST_ERRNO(fcntl(0, F_DUPFD, 32), EINVAL);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	TEST_TRUE((fd = open(".", O_RDONLY)) >= 0);
	close(fd);
	TEST_RES(setrlimit(RLIMIT_NOFILE, &old), 0);
}

int main(void)
{
	ukt_setup();
	RUN(dup_cases);
	RUN(fcntl_fd_flags);
	RUN(fcntl_fl_flags);
	RUN(ioctl_cases);
	RUN(emfile_cases);
	return ukt_finish();
}
