/* read/write/pread/pwrite/readv/writev/preadv/pwritev, lseek, truncate/ftruncate,
 * fsync/fdatasync, sendfile between files. */
#include "harness.h"
#include <sys/sendfile.h>
#include <sys/uio.h>

static void read_write_basic(void)
{
	int fd;
	char buf[32];
	REQUIRE((fd = open("f", O_RDWR | O_CREAT, 0644)) >= 0);
	TEST_RES(write(fd, "hello", 5), 5);
	TEST_RES(write(fd, "", 0), 0);
	TEST_RES(lseek(fd, 0, SEEK_CUR), 5);
	TEST_RES(read(fd, buf, sizeof buf), 0); /* at end of file */
	TEST_RES(lseek(fd, 0, SEEK_SET), 0);
	TEST_RES(read(fd, buf, 2), 2);
	TEST_RES(read(fd, buf + 2, sizeof buf), 3);
	TEST_RES(memcmp(buf, "hello", 5), 0);
	TEST_RES(read(fd, buf, 0), 0);
	/* A large write and read back. */
	static char big[200000], back[200000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 7 + 3);
	TEST_RES(lseek(fd, 0, SEEK_SET), 0);
	TEST_RES(write(fd, big, sizeof big), (long)sizeof big);
	TEST_RES(lseek(fd, 0, SEEK_SET), 0);
	size_t got = 0;
	ssize_t r;
	while (got < sizeof back && (r = read(fd, back + got, sizeof back - got)) > 0)
		got += r;
	TEST_RES(got, (long)sizeof back);
	TEST_RES(memcmp(big, back, sizeof big), 0);
	close(fd);
}

static void read_write_errors(void)
{
	int fd;
	REQUIRE((fd = open("f", O_RDWR | O_CREAT, 0644)) >= 0);
	REQUIRE(write(fd, "0123456789", 10) == 10 && lseek(fd, 0, SEEK_SET) == 0);
	TEST_ERRNO(read(fd, (void *)1, 10), EFAULT);
	TEST_ERRNO(write(fd, (void *)1, 10), EFAULT);
	TEST_ERRNO(syscall(SYS_read, fd, (void *)1, 10), EFAULT);
	TEST_ERRNO(read(-1, NULL, 1), EBADF);
	TEST_ERRNO(write(1000, "x", 1), EBADF);
	close(fd);
}

static void lseek_cases(void)
{
	int fd;
	char buf[16];
	REQUIRE(ukt_write_file("f", "0123456789") == 0);
	REQUIRE((fd = open("f", O_RDWR)) >= 0);
	TEST_RES(lseek(fd, 3, SEEK_SET), 3);
	TEST_RES(lseek(fd, 2, SEEK_CUR), 5);
	TEST_RES(lseek(fd, -1, SEEK_CUR), 4);
	TEST_RES(lseek(fd, 0, SEEK_END), 10);
	TEST_RES(lseek(fd, -3, SEEK_END), 7);
	TEST_RES(read(fd, buf, 16), 3);
	TEST_ERRNO(lseek(fd, -1, SEEK_SET), EINVAL);
	TEST_ERRNO(lseek(fd, -20, SEEK_END), EINVAL);
	TEST_ERRNO(lseek(fd, 0, 42), EINVAL);
	TEST_ERRNO(lseek(-1, 0, SEEK_SET), EBADF);
	/* Seeking past the end and writing leaves a hole of zeros. */
	TEST_RES(lseek(fd, 20, SEEK_SET), 20);
	TEST_RES(read(fd, buf, 1), 0);
	TEST_RES(write(fd, "Z", 1), 1);
	struct stat st;
	fstat(fd, &st);
	TEST_RES(st.st_size, 21);
	TEST_RES(pread(fd, buf, 4, 12), 4);
	TEST_RES(buf[0] | buf[1] | buf[2] | buf[3], 0);
	/* SEEK_DATA / SEEK_HOLE: data at 0; the end of the file counts as a hole. */
	TEST_RES(lseek(fd, 0, SEEK_DATA), 0);
	TEST_ERRNO(lseek(fd, 22, SEEK_DATA), ENXIO);
	close(fd);
}

static void pread_pwrite(void)
{
	int fd;
	char buf[16];
	REQUIRE(ukt_write_file("f", "abcdefgh") == 0);
	REQUIRE((fd = open("f", O_RDWR)) >= 0);
	TEST_RES(pread(fd, buf, 3, 2), 3);
	TEST_RES(memcmp(buf, "cde", 3), 0);
	TEST_RES(lseek(fd, 0, SEEK_CUR), 0); /* offset untouched */
	TEST_RES(pwrite(fd, "XY", 2, 6), 2);
	TEST_RES(lseek(fd, 0, SEEK_CUR), 0);
	TEST_RES(pread(fd, buf, 16, 0), 8);
	TEST_RES(memcmp(buf, "abcdefXY", 8), 0);
	TEST_RES(pread(fd, buf, 4, 100), 0);
	TEST_ERRNO(pread(fd, buf, 1, -1), EINVAL);
	TEST_ERRNO(pwrite(fd, buf, 1, -1), EINVAL);
	TEST_ERRNO(pread(-1, buf, 1, 0), EBADF);
	int p[2];
	REQUIRE(pipe(p) == 0);
	TEST_ERRNO(pread(p[0], buf, 1, 0), ESPIPE);
	TEST_ERRNO(pwrite(p[1], buf, 1, 0), ESPIPE);
	close(p[0]);
	close(p[1]);
	close(fd);
	/* pwrite on O_APPEND: Linux appends regardless of the offset. */
	REQUIRE((fd = open("f", O_RDWR | O_APPEND)) >= 0);
	TEST_RES(pwrite(fd, "!", 1, 0), 1);
	TEST_RES(pread(fd, buf, 16, 0), 9);
	TEST_RES(buf[8], '!');
	close(fd);
}

static void vectored(void)
{
	int fd;
	char a[4], b[8], all[32];
	struct iovec iov[3];
	REQUIRE((fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644)) >= 0);
	iov[0].iov_base = "one";
	iov[0].iov_len = 3;
	iov[1].iov_base = "";
	iov[1].iov_len = 0;
	iov[2].iov_base = "-two";
	iov[2].iov_len = 4;
	TEST_RES(writev(fd, iov, 3), 7);
	TEST_RES(lseek(fd, 0, SEEK_SET), 0);
	iov[0].iov_base = a;
	iov[0].iov_len = 4;
	iov[1].iov_base = b;
	iov[1].iov_len = 8;
	TEST_RES(readv(fd, iov, 2), 7);
	TEST_RES(memcmp(a, "one-", 4), 0);
	TEST_RES(memcmp(b, "two", 3), 0);
	iov[0].iov_base = "AB";
	iov[0].iov_len = 2;
	TEST_RES(pwritev(fd, iov, 1, 1), 2);
	iov[0].iov_base = all;
	iov[0].iov_len = sizeof all;
	TEST_RES(preadv(fd, iov, 1, 0), 7);
	TEST_RES(memcmp(all, "oAB-two", 7), 0);
	TEST_RES(lseek(fd, 0, SEEK_CUR), 7);
	TEST_ERRNO(writev(fd, iov, -1), EINVAL);
	TEST_ERRNO(readv(fd, iov, IOV_MAX + 1), EINVAL);
	TEST_ERRNO(readv(fd, (struct iovec *)1, 1), EFAULT);
	iov[0].iov_base = (void *)1;
	iov[0].iov_len = 4;
	TEST_ERRNO(pwritev(fd, iov, 1, 0), EFAULT);
	TEST_RES(writev(fd, iov, 0), 0);
	TEST_ERRNO(readv(-1, iov, 1), EBADF);
	/* A bad iovec after good ones: the good ones are written (a partial write). */
	iov[0].iov_base = "xyz";
	iov[0].iov_len = 3;
	iov[1].iov_base = (void *)1;
	iov[1].iov_len = 4;
	TEST_RES(pwritev(fd, iov, 2, 0), 3);
	TEST_RES(pread(fd, all, 3, 0), 3);
	TEST_RES(memcmp(all, "xyz", 3), 0);
	TEST_ERRNO(writev(-1, iov, 2), EBADF);
	close(fd);
}

static void truncate_cases(void)
{
	int fd;
	struct stat st;
	char buf[16];
	REQUIRE(ukt_write_file("f", "0123456789") == 0);
	TEST_RES(truncate("f", 4), 0);
	TEST_RES(stat("f", &st), 0);
	TEST_RES(st.st_size, 4);
	TEST_RES(truncate("f", 8), 0);
	fd = open("f", O_RDWR);
	TEST_RES(read(fd, buf, 16), 8);
	TEST_RES(memcmp(buf, "0123\0\0\0\0", 8), 0);
	TEST_RES(ftruncate(fd, 2), 0);
	TEST_RES(fstat(fd, &st), 0);
	TEST_RES(st.st_size, 2);
	TEST_RES(lseek(fd, 0, SEEK_CUR), 8); /* offset kept beyond the end */
	TEST_ERRNO(ftruncate(fd, -1), EINVAL);
	TEST_ERRNO(truncate("f", -1), EINVAL);
	TEST_ERRNO(truncate("missing", 0), ENOENT);
	REQUIRE(mkdir("d", 0755) == 0);
	TEST_ERRNO(truncate("d", 0), EISDIR);
	TEST_ERRNO(ftruncate(-1, 0), EBADF);
	close(fd);
	fd = open("f", O_RDONLY);
	TEST_ERRNO(ftruncate(fd, 0), EINVAL); /* not open for writing */
	close(fd);
	int p[2];
	REQUIRE(pipe(p) == 0);
	TEST_ERRNO(ftruncate(p[1], 0), EINVAL);
	close(p[0]);
	close(p[1]);
}

static void sync_cases(void)
{
	int fd;
	REQUIRE((fd = open("f", O_RDWR | O_CREAT, 0644)) >= 0);
	TEST_RES(write(fd, "data", 4), 4);
	TEST_RES(fsync(fd), 0);
	TEST_RES(fdatasync(fd), 0);
	TEST_ERRNO(fsync(-1), EBADF);
	TEST_ERRNO(fdatasync(777), EBADF);
	close(fd);
	int p[2];
	REQUIRE(pipe(p) == 0);
	TEST_ERRNO(fsync(p[0]), EINVAL);
	close(p[0]);
	close(p[1]);
	TEST_RES((sync(), 0), 0);
}

static void sendfile_cases(void)
{
	int in, out;
	char buf[32];
	REQUIRE(ukt_write_file("src", "sendfile-content") == 0);
	REQUIRE((in = open("src", O_RDONLY)) >= 0);
	REQUIRE((out = open("dst", O_RDWR | O_CREAT | O_TRUNC, 0644)) >= 0);
	TEST_RES(sendfile(out, in, NULL, 8), 8);
	TEST_RES(lseek(in, 0, SEEK_CUR), 8);
	off_t off = 9;
	TEST_RES(sendfile(out, in, &off, 100), 7);
	TEST_RES(off, 16);
	TEST_RES(lseek(in, 0, SEEK_CUR), 8); /* an explicit offset leaves the file's alone */
	TEST_RES(pread(out, buf, sizeof buf, 0), 15);
	TEST_RES(memcmp(buf, "sendfilecontent", 15), 0);
	TEST_RES(sendfile(out, in, &off, 10), 0); /* at end */
	TEST_ERRNO(sendfile(out, -1, NULL, 1), EBADF);
	TEST_ERRNO(sendfile(-1, in, NULL, 1), EBADF);
	int ro = open("src", O_RDONLY);
	TEST_ERRNO(sendfile(ro, in, NULL, 1), EBADF);
	close(ro);
	close(in);
	close(out);
}

int main(void)
{
	ukt_setup();
	RUN(read_write_basic);
	RUN(read_write_errors);
	RUN(lseek_cases);
	RUN(pread_pwrite);
	RUN(vectored);
	RUN(truncate_cases);
	RUN(sync_cases);
	RUN(sendfile_cases);
	return ukt_finish();
}
