/* mmap of files (MAP_PRIVATE, MAP_SHARED), msync, madvise, munmap, mprotect, and the
 * anonymous mappings malloc relies on. */
#include "harness.h"
#include <stdint.h>
#include <sys/mman.h>

static void mmap_private(void)
{
	int fd;
	char *m;
	REQUIRE(ukt_write_file("f", "0123456789") == 0);
	REQUIRE((fd = open("f", O_RDWR)) >= 0);
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	TEST_TRUE(m != MAP_FAILED);
	TEST_RES(memcmp(m, "0123456789", 10), 0);
	TEST_RES(m[10], 0); /* the rest of the page is zero */
	TEST_RES(((uintptr_t)m) & 4095, 0);
	m[0] = 'X';
	char c;
	TEST_RES(pread(fd, &c, 1, 0), 1);
	TEST_RES(c, '0'); /* private: the file is untouched */
	TEST_RES(munmap(m, 4096), 0);
	/* A read-only private mapping of a read-only descriptor. */
	int ro = open("f", O_RDONLY);
	m = mmap(NULL, 10, PROT_READ, MAP_PRIVATE, ro, 0);
	TEST_TRUE(m != MAP_FAILED);
	TEST_RES(m[9], '9');
	munmap(m, 10);
	/* Private writable mapping of a read-only descriptor is allowed. */
	m = mmap(NULL, 10, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	TEST_TRUE(m != MAP_FAILED);
	munmap(m, 10);
	/* Offsets must be page aligned. */
	TEST_ERRNO(mmap(NULL, 10, PROT_READ, MAP_PRIVATE, ro, 100), EINVAL);
	close(ro);
	/* The mapping outlives the descriptor. */
	m = mmap(NULL, 10, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	TEST_RES(m[5], '5');
	munmap(m, 10);
	/* A bigger file with a mapping at a page offset. */
	REQUIRE((fd = open("big", O_RDWR | O_CREAT, 0644)) >= 0);
	REQUIRE(ftruncate(fd, 3 * 4096) == 0);
	REQUIRE(pwrite(fd, "page2", 5, 2 * 4096) == 5);
	m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 2 * 4096);
	TEST_TRUE(m != MAP_FAILED);
	TEST_RES(memcmp(m, "page2", 5), 0);
	munmap(m, 4096);
	close(fd);
}

static void mmap_shared(void)
{
	int fd;
	char *m, buf[16];
	REQUIRE(ukt_write_file("f", "abcdefghij") == 0);
	REQUIRE((fd = open("f", O_RDWR)) >= 0);
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_TRUE(m != MAP_FAILED);
	m[0] = 'A';
	TEST_RES(msync(m, 4096, MS_SYNC), 0);
	TEST_RES(pread(fd, buf, 10, 0), 10);
	TEST_RES(memcmp(buf, "Abcdefghij", 10), 0);
	/* A write through the file is visible in the shared mapping. */
	REQUIRE(pwrite(fd, "Z", 1, 9) == 1);
	TEST_RES(m[9], 'Z');
	TEST_RES(msync(m, 4096, MS_ASYNC), 0);
	TEST_RES(msync(m, 4096, MS_INVALIDATE), 0);
	TEST_ERRNO(msync(m + 1, 4096, MS_SYNC), EINVAL);
	TEST_ERRNO(msync(m, 4096, MS_SYNC | MS_ASYNC), EINVAL);
	TEST_RES(munmap(m, 4096), 0);
	/* The file keeps the data after munmap and close. */
	close(fd);
	fd = open("f", O_RDONLY);
	TEST_RES(read(fd, buf, 10), 10);
	TEST_RES(buf[0], 'A');
	/* Shared writable needs a writable descriptor. */
	TEST_ERRNO(mmap(NULL, 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EACCES);
	close(fd);
	fd = open("f", O_WRONLY);
	TEST_ERRNO(mmap(NULL, 10, PROT_READ, MAP_SHARED, fd, 0), EACCES);
	close(fd);
}

static void mmap_errors(void)
{
	TEST_ERRNO(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, -1, 0), EBADF);
	TEST_ERRNO(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 777, 0), EBADF);
	TEST_ERRNO(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
	TEST_ERRNO(mmap(NULL, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL); /* no type */
	TEST_ERRNO(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_SHARED | MAP_ANONYMOUS, -1, 0), EINVAL);
	TEST_ERRNO(mmap((void *)4095, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
		   EINVAL);
	int p[2];
	REQUIRE(pipe(p) == 0);
	TEST_ERRNO(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, p[0], 0), ENODEV);
	close(p[0]);
	close(p[1]);
	REQUIRE(mkdir("d", 0755) == 0);
	int dfd = open("d", O_RDONLY);
	TEST_ERRNO(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, dfd, 0), ENODEV);
	close(dfd);
	TEST_ERRNO(munmap((void *)4095, 4096), EINVAL);
	TEST_ERRNO(munmap(NULL, 0), EINVAL);
}

static void mmap_anon(void)
{
	char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_TRUE(m != MAP_FAILED);
	TEST_RES(m[0] | m[4096] | m[3 * 4096 - 1], 0);
	memset(m, 0x5a, 3 * 4096);
	TEST_RES(m[8191], 0x5a);
	/* Unmapping the middle page leaves the others. */
	TEST_RES(munmap(m + 4096, 4096), 0);
	TEST_RES(m[0], 0x5a);
	TEST_RES(m[2 * 4096], 0x5a);
	/* MAP_FIXED over the hole gives fresh zeros. */
	char *f = mmap(m + 4096, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	TEST_TRUE(f == m + 4096);
	TEST_RES(f[0], 0);
	/* madvise */
	TEST_RES(madvise(m, 3 * 4096, MADV_NORMAL), 0);
	TEST_RES(madvise(m, 4096, MADV_WILLNEED), 0);
	TEST_RES(madvise(m, 4096, MADV_DONTNEED), 0);
	TEST_RES(m[0], 0); /* anonymous private pages read back as zero */
	TEST_ERRNO(madvise(m + 1, 4096, MADV_NORMAL), EINVAL);
	TEST_ERRNO(madvise(m, 4096, 12345), EINVAL);
	TEST_RES(posix_madvise(m, 4096, POSIX_MADV_SEQUENTIAL), 0);
	/* mprotect */
	TEST_RES(mprotect(m, 4096, PROT_READ), 0);
	TEST_RES(mprotect(m, 4096, PROT_READ | PROT_WRITE), 0);
	m[0] = 1;
	TEST_ERRNO(syscall(SYS_mprotect, m + 1, 4096, PROT_READ), EINVAL);
	TEST_RES(munmap(m, 3 * 4096), 0);
	/* A large allocation through malloc (mmap underneath) is zeroed by calloc. */
	char *big = calloc(1, 8 << 20);
	TEST_TRUE(big != NULL);
	TEST_RES(big[(8 << 20) - 1], 0);
	free(big);
	/* mremap grows an anonymous mapping. */
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(m != MAP_FAILED);
	m[0] = 7;
	char *r = mremap(m, 4096, 8 * 4096, MREMAP_MAYMOVE);
	TEST_TRUE(r != MAP_FAILED);
	TEST_RES(r[0], 7);
	TEST_RES(r[8 * 4096 - 1], 0);
	munmap(r, 8 * 4096);
}

int main(void)
{
	ukt_setup();
	RUN(mmap_private);
	RUN(mmap_shared);
	RUN(mmap_errors);
	RUN(mmap_anon);
	return ukt_finish();
}
