/* Shared file maps are the file: stores through a map, read(2)/write(2) and other maps
 * of the same file see each other at once, without msync; unmapping writes nothing a
 * map did not store (issue 8). */
#include "harness.h"
#include <stdint.h>
#include <sys/mman.h>

#define PG 4096

/* pwrite into a file mapped read-only and shared is visible through the map (the
 * kernel writes the file, never through the program's read-only map). */
static void pwrite_into_read_only_map(void)
{
	int fd;
	char *m;
	REQUIRE(ukt_write_file("f", "abcdefghij") == 0);
	REQUIRE((fd = open("f", O_RDWR)) >= 0);
	m = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	REQUIRE(m != MAP_FAILED);
	TEST_RES(m[3], 'd');
	TEST_RES(pwrite(fd, "XYZ", 3, 3), 3);
	TEST_RES(m[3], 'X');
	TEST_RES(m[5], 'Z');
	/* write(2) at the file position, and appending past the old end. */
	TEST_RES(lseek(fd, 0, SEEK_END), 10);
	TEST_RES(write(fd, "KL", 2), 2);
	TEST_RES(m[10], 'K');
	TEST_RES(m[11], 'L');
	TEST_RES(munmap(m, PG), 0);
	/* A read-only descriptor, a map at a page offset. */
	REQUIRE(ftruncate(fd, 3 * PG) == 0);
	int ro = open("f", O_RDONLY);
	REQUIRE(ro >= 0);
	m = mmap(NULL, PG, PROT_READ, MAP_SHARED, ro, 2 * PG);
	REQUIRE(m != MAP_FAILED);
	TEST_RES(m[7], 0);
	TEST_RES(pwrite(fd, "q", 1, 2 * PG + 7), 1);
	TEST_RES(m[7], 'q');
	TEST_RES(munmap(m, PG), 0);
	close(ro);
	close(fd);
}

/* Two shared maps of one file (through two descriptors) see each other's stores at
 * once, and so does read(2): no msync needed. */
static void two_maps_and_read_agree(void)
{
	int a, b;
	char *m1, *m2, buf[8];
	REQUIRE(ukt_write_file("f", "0123456789") == 0);
	REQUIRE((a = open("f", O_RDWR)) >= 0);
	REQUIRE((b = open("f", O_RDWR)) >= 0);
	m1 = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, a, 0);
	m2 = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, b, 0);
	REQUIRE(m1 != MAP_FAILED && m2 != MAP_FAILED);
	TEST_TRUE(m1 != m2);
	m1[2] = 'A';
	TEST_RES(m2[2], 'A');
	m2[4] = 'B';
	TEST_RES(m1[4], 'B');
	TEST_RES(pread(a, buf, 5, 0), 5);
	TEST_RES(memcmp(buf, "01A3B", 5), 0);
	/* The same page mapped twice through one descriptor. */
	char *m3 = mmap(NULL, PG, PROT_READ, MAP_SHARED, a, 0);
	REQUIRE(m3 != MAP_FAILED);
	m1[9] = 'C';
	TEST_RES(m3[9], 'C');
	TEST_RES(munmap(m3, PG), 0);
	TEST_RES(munmap(m1, PG), 0);
	TEST_RES(munmap(m2, PG), 0);
	close(a);
	close(b);
	/* After every map is gone the file holds the stores. */
	REQUIRE((a = open("f", O_RDONLY)) >= 0);
	TEST_RES(read(a, buf, 8), 8);
	TEST_RES(memcmp(buf, "01A3B567", 8), 0);
	close(a);
}

/* A store into a shared map is visible to read(2) right away, without msync. */
static void store_then_read(void)
{
	int fd;
	char *m, buf[4];
	REQUIRE((fd = open("g", O_RDWR | O_CREAT | O_TRUNC, 0644)) >= 0);
	REQUIRE(ftruncate(fd, 2 * PG) == 0);
	m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(m != MAP_FAILED);
	memcpy(m + PG - 2, "wxyz", 4); /* across the page boundary */
	TEST_RES(pread(fd, buf, 4, PG - 2), 4);
	TEST_RES(memcmp(buf, "wxyz", 4), 0);
	/* A second descriptor reads it too (another open file description). */
	int other = open("g", O_RDONLY);
	REQUIRE(other >= 0);
	TEST_RES(pread(other, buf, 2, PG), 2);
	TEST_RES(memcmp(buf, "yz", 2), 0);
	close(other);
	TEST_RES(munmap(m, 2 * PG), 0);
	close(fd);
}

/* munmap of a read-only shared map writes nothing back: a store made through another
 * map after the read-only one was made survives its munmap. */
static void unmapping_a_read_only_map_writes_nothing(void)
{
	int fd;
	char *ro, *rw, c;
	REQUIRE(ukt_write_file("f", "abcdefgh") == 0);
	REQUIRE((fd = open("f", O_RDWR)) >= 0);
	ro = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	rw = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(ro != MAP_FAILED && rw != MAP_FAILED);
	rw[1] = 'Q';
	TEST_RES(munmap(ro, PG), 0);
	TEST_RES(pread(fd, &c, 1, 1), 1);
	TEST_RES(c, 'Q');
	TEST_RES(pwrite(fd, "R", 1, 2), 1);
	TEST_RES(munmap(rw, PG), 0);
	TEST_RES(pread(fd, &c, 1, 2), 1);
	TEST_RES(c, 'R');
	TEST_RES(pread(fd, &c, 1, 1), 1);
	TEST_RES(c, 'Q');
	close(fd);
}

/* A read-only shared map stays read-only in the MMU while the file changes under it,
 * and mprotect can make a map of a writable descriptor writable. */
static void protection_and_truncate(void)
{
	int fd;
	char *m;
	REQUIRE((fd = open("h", O_RDWR | O_CREAT | O_TRUNC, 0644)) >= 0);
	REQUIRE(pwrite(fd, "abc", 3, PG + 10) == 3);
	m = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	REQUIRE(m != MAP_FAILED);
	TEST_RES(mprotect(m, PG, PROT_READ | PROT_WRITE), 0);
	m[5] = 'w';
	char c;
	TEST_RES(pread(fd, &c, 1, 5), 1);
	TEST_RES(c, 'w');
	TEST_RES(msync(m, 2 * PG, MS_SYNC), 0);
	/* Shrinking the file clears what lies past the new end in the last page. */
	TEST_RES(ftruncate(fd, PG + 11), 0);
	TEST_RES(m[PG + 10], 'a');
	TEST_RES(m[PG + 11], 0);
	/* Growing it again reads zeros there, through the map and read(2). */
	TEST_RES(ftruncate(fd, PG + 100), 0);
	TEST_RES(m[PG + 12], 0);
	TEST_RES(pread(fd, &c, 1, PG + 12), 1);
	TEST_RES(c, 0);
	TEST_RES(munmap(m, 2 * PG), 0);
	close(fd);
}

/* mremap of a shared map keeps showing the file: shrink, grow (perhaps moving). */
static void mremap_shared(void)
{
	int fd;
	char *m, *n;
	REQUIRE((fd = open("r", O_RDWR | O_CREAT | O_TRUNC, 0644)) >= 0);
	REQUIRE(ftruncate(fd, 4 * PG) == 0);
	m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(m != MAP_FAILED);
	m[PG] = 'p';
	n = mremap(m, 2 * PG, 4 * PG, MREMAP_MAYMOVE);
	REQUIRE(n != MAP_FAILED);
	TEST_RES(n[PG], 'p');
	n[3 * PG] = 's';
	char c;
	TEST_RES(pread(fd, &c, 1, 3 * PG), 1);
	TEST_RES(c, 's');
	TEST_RES(pwrite(fd, "t", 1, 3 * PG + 1), 1);
	TEST_RES(n[3 * PG + 1], 't');
	TEST_TRUE(mremap(n, 4 * PG, PG, 0) == n);
	TEST_RES(n[0], 0);
	TEST_RES(munmap(n, PG), 0);
	close(fd);
}

/* The pattern of Python's mmap.mmap(fd, n, access=ACCESS_READ) and close(): a file
 * opened read-only, fstat, a dup kept by the map object, PROT_READ + MAP_SHARED, reads,
 * then munmap and both closes (in the order Python uses, and the other order). */
static void read_only_map_of_read_only_file(void)
{
	char data[3 * PG / 2];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = 'a' + i % 26;
	int w = open("ro", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	REQUIRE(w >= 0 && write(w, data, sizeof data) == (ssize_t)sizeof data);
	close(w);
	int fd = open("ro", O_RDONLY);
	REQUIRE(fd >= 0);
	struct stat st;
	TEST_RES(fstat(fd, &st), 0);
	int dupfd = dup(fd);
	TEST_TRUE(dupfd >= 0);
	char *m = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, dupfd, 0);
	TEST_TRUE(m != MAP_FAILED);
	TEST_RES(m[0], 'a');
	TEST_RES(memcmp(m, data, sizeof data), 0);
	TEST_RES(munmap(m, st.st_size), 0);
	TEST_RES(close(dupfd), 0);
	/* Again, closing every descriptor before the munmap. */
	m = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	TEST_TRUE(m != MAP_FAILED);
	TEST_RES(close(fd), 0);
	TEST_RES(m[PG], data[PG]);
	TEST_RES(msync(m, PG, MS_SYNC), 0);
	TEST_RES(munmap(m, st.st_size), 0);
	/* The file is unchanged. */
	char back[sizeof data];
	fd = open("ro", O_RDONLY);
	TEST_RES(read(fd, back, sizeof back), (ssize_t)sizeof back);
	TEST_RES(memcmp(back, data, sizeof data), 0);
	close(fd);
}

int main(void)
{
	ukt_setup();
	RUN(pwrite_into_read_only_map);
	RUN(two_maps_and_read_agree);
	RUN(store_then_read);
	RUN(unmapping_a_read_only_map_writes_nothing);
	RUN(protection_and_truncate);
	RUN(mremap_shared);
	RUN(read_only_map_of_read_only_file);
	return ukt_finish();
}
