/* stat/fstat/lstat/fstatat(newfstatat)/statx, access/faccessat/faccessat2, umask,
 * chmod/fchmod/fchmodat, chown/fchown/lchown, utimensat/futimens, statfs/fstatfs. */
#include "harness.h"
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <time.h>

/* statx without linux/ headers: the layout is part of the kernel ABI. */
struct ukt_statx_ts {
	long long tv_sec;
	unsigned tv_nsec;
	int pad;
};
struct ukt_statx {
	unsigned stx_mask, stx_blksize;
	unsigned long long stx_attributes;
	unsigned stx_nlink, stx_uid, stx_gid;
	unsigned short stx_mode, pad1;
	unsigned long long stx_ino, stx_size, stx_blocks, stx_attributes_mask;
	struct ukt_statx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
	unsigned stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
	unsigned long long spare[14];
};
#define UKT_STATX_TYPE 0x1U
#define UKT_STATX_MODE 0x2U
#define UKT_STATX_SIZE 0x200U
#define UKT_STATX_BASIC_STATS 0x7ffU

static void stat_basic(void)
{
	struct stat st, st2;
	REQUIRE(ukt_write_file("f", "12345") == 0);
	TEST_RES(stat("f", &st), 0);
	TEST_TRUE(S_ISREG(st.st_mode));
	TEST_RES(st.st_size, 5);
	TEST_RES(st.st_nlink, 1);
	TEST_RES(st.st_mode & 07777, 0644);
	TEST_RES(st.st_uid, getuid());
	TEST_TRUE(st.st_blksize > 0);
	TEST_TRUE(st.st_ino != 0);
	int fd = open("f", O_RDONLY);
	TEST_RES(fstat(fd, &st2), 0);
	TEST_RES(st2.st_ino, st.st_ino);
	TEST_RES(st2.st_dev, st.st_dev);
	close(fd);
	REQUIRE(mkdir("d", 0755) == 0);
	TEST_RES(stat("d", &st), 0);
	TEST_TRUE(S_ISDIR(st.st_mode));
	TEST_RES(stat("d/", &st), 0);
	TEST_RES(stat(".", &st), 0);
	TEST_TRUE(S_ISDIR(st.st_mode));
	TEST_ERRNO(stat("f/", &st), ENOTDIR);
	TEST_ERRNO(stat("missing", &st), ENOENT);
	TEST_ERRNO(stat("", &st), ENOENT);
	TEST_ERRNO(stat("f/x", &st), ENOTDIR);
	TEST_ERRNO(syscall(SYS_stat, "f", (struct stat *)1), EFAULT);
	TEST_ERRNO(syscall(SYS_stat, (char *)1, &st), EFAULT);
	TEST_ERRNO(fstat(-1, &st), EBADF);
	TEST_ERRNO(fstat(4000, &st), EBADF);
	/* Distinct files have distinct inode numbers. */
	REQUIRE(ukt_write_file("g", "") == 0);
	stat("f", &st);
	stat("g", &st2);
	TEST_TRUE(st.st_ino != st2.st_ino);
}

static void lstat_fstatat(void)
{
	struct stat st;
	REQUIRE(ukt_write_file("f", "abc") == 0);
	REQUIRE(symlink("f", "l") == 0);
	REQUIRE(mkdir("d", 0755) == 0);
	REQUIRE(ukt_write_file("d/in", "12") == 0);
	TEST_RES(lstat("l", &st), 0);
	TEST_TRUE(S_ISLNK(st.st_mode));
	TEST_RES(st.st_size, 1); /* the length of the target name */
	TEST_RES(stat("l", &st), 0);
	TEST_TRUE(S_ISREG(st.st_mode));
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	TEST_RES(fstatat(dfd, "in", &st, 0), 0);
	TEST_RES(st.st_size, 2);
	TEST_RES(fstatat(AT_FDCWD, "l", &st, AT_SYMLINK_NOFOLLOW), 0);
	TEST_TRUE(S_ISLNK(st.st_mode));
	TEST_RES(fstatat(AT_FDCWD, "l", &st, 0), 0);
	TEST_TRUE(S_ISREG(st.st_mode));
	int fd = open("f", O_RDONLY);
	TEST_RES(fstatat(fd, "", &st, AT_EMPTY_PATH), 0);
	TEST_RES(st.st_size, 3);
	TEST_ERRNO(fstatat(fd, "", &st, 0), ENOENT);
	TEST_ERRNO(fstatat(fd, "x", &st, 0), ENOTDIR);
	TEST_ERRNO(fstatat(-1, "in", &st, 0), EBADF);
	TEST_ERRNO(fstatat(dfd, "in", &st, 0x40000000), EINVAL);
	TEST_ERRNO(syscall(SYS_newfstatat, dfd, "missing", &st, 0), ENOENT);
	close(fd);
	close(dfd);
}

static void statx_cases(void)
{
	struct ukt_statx sx;
	REQUIRE(ukt_write_file("f", "statx!") == 0);
	memset(&sx, 0, sizeof sx);
	TEST_RES(syscall(SYS_statx, AT_FDCWD, "f", 0, UKT_STATX_BASIC_STATS, &sx), 0);
	TEST_TRUE((sx.stx_mask & (UKT_STATX_TYPE | UKT_STATX_MODE | UKT_STATX_SIZE)) ==
		  (UKT_STATX_TYPE | UKT_STATX_MODE | UKT_STATX_SIZE));
	TEST_RES(sx.stx_size, 6);
	TEST_TRUE(S_ISREG(sx.stx_mode));
	TEST_RES(sx.stx_mode & 0777, 0644);
	struct stat st;
	stat("f", &st);
	TEST_RES(sx.stx_ino, st.st_ino);
	TEST_RES(sx.stx_mtime.tv_sec, st.st_mtime);
	int fd = open("f", O_RDONLY);
	TEST_RES(syscall(SYS_statx, fd, "", AT_EMPTY_PATH, UKT_STATX_BASIC_STATS, &sx), 0);
	TEST_RES(sx.stx_size, 6);
	close(fd);
	TEST_ERRNO(syscall(SYS_statx, AT_FDCWD, "missing", 0, UKT_STATX_BASIC_STATS, &sx), ENOENT);
	TEST_ERRNO(syscall(SYS_statx, AT_FDCWD, "f", 0, UKT_STATX_BASIC_STATS, (void *)1), EFAULT);
	TEST_ERRNO(syscall(SYS_statx, -1, "f", 0, UKT_STATX_BASIC_STATS, &sx), EBADF);
	TEST_ERRNO(syscall(SYS_statx, AT_FDCWD, "f", 0, 0x80000000U, &sx), EINVAL);
}

static void access_cases(void)
{
	REQUIRE(ukt_write_file("f", "x") == 0);
	REQUIRE(ukt_write_file("x", "x") == 0);
	REQUIRE(chmod("x", 0755) == 0);
	TEST_RES(access("f", F_OK), 0);
	TEST_RES(access("f", R_OK | W_OK), 0);
	TEST_ERRNO(access("f", X_OK), EACCES); /* even root needs one x bit */
	TEST_RES(access("x", X_OK), 0);
	TEST_RES(access(".", X_OK), 0);
	TEST_ERRNO(access("missing", F_OK), ENOENT);
	TEST_ERRNO(access("f/y", F_OK), ENOTDIR);
	TEST_ERRNO(access("f", 0x100), EINVAL);
	TEST_ERRNO(access((char *)1, F_OK), EFAULT);
	TEST_RES(faccessat(AT_FDCWD, "f", R_OK, 0), 0);
	TEST_RES(faccessat(AT_FDCWD, "f", R_OK, AT_EACCESS), 0);
	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	TEST_RES(faccessat(dfd, "x", X_OK, 0), 0);
	TEST_ERRNO(faccessat(-1, "f", F_OK, 0), EBADF);
	TEST_RES(syscall(SYS_faccessat, dfd, "f", F_OK), 0);
	TEST_RES(syscall(SYS_faccessat2, dfd, "f", R_OK, AT_EACCESS), 0);
	TEST_RES(syscall(SYS_faccessat2, dfd, "x", X_OK, 0), 0);
	TEST_ERRNO(syscall(SYS_faccessat2, dfd, "f", X_OK, 0), EACCES);
	TEST_ERRNO(syscall(SYS_faccessat2, dfd, "f", F_OK, 0x1234), EINVAL);
	TEST_ERRNO(syscall(SYS_faccessat2, dfd, "nope", F_OK, 0), ENOENT);
	close(dfd);
}

static void mode_owner(void)
{
	struct stat st;
	REQUIRE(ukt_write_file("f", "x") == 0);
	TEST_RES(umask(027), 022);
	TEST_RES(umask(022), 027);
	TEST_RES(chmod("f", 0604), 0);
	TEST_RES(stat("f", &st), 0);
	TEST_RES(st.st_mode & 07777, 0604);
	int fd = open("f", O_RDONLY);
	TEST_RES(fchmod(fd, 0711), 0);
	TEST_RES(fstat(fd, &st), 0);
	TEST_RES(st.st_mode & 07777, 0711);
	TEST_TRUE(S_ISREG(st.st_mode)); /* the type bits are kept */
	TEST_RES(fchmodat(AT_FDCWD, "f", 0644, 0), 0);
	TEST_RES(stat("f", &st), 0);
	TEST_RES(st.st_mode & 07777, 0644);
	TEST_ERRNO(chmod("missing", 0644), ENOENT);
	TEST_ERRNO(fchmod(-1, 0644), EBADF);
	/* Ownership (root may give a file away; stored and reported back). */
	TEST_RES(chown("f", 1234, 5678), 0);
	TEST_RES(stat("f", &st), 0);
	TEST_RES(st.st_uid, 1234);
	TEST_RES(st.st_gid, 5678);
	TEST_RES(fchown(fd, -1, 42), 0); /* -1 leaves the owner alone */
	TEST_RES(fstat(fd, &st), 0);
	TEST_RES(st.st_uid, 1234);
	TEST_RES(st.st_gid, 42);
	TEST_RES(fchown(fd, 0, 0), 0);
	TEST_ERRNO(chown("missing", 0, 0), ENOENT);
	TEST_ERRNO(fchown(-1, 0, 0), EBADF);
	REQUIRE(symlink("f", "l") == 0);
	TEST_RES(lchown("l", 0, 0), 0);
	TEST_RES(fchownat(AT_FDCWD, "f", 0, 0, 0), 0);
	close(fd);
}

static void times_cases(void)
{
	struct stat st;
	struct timespec ts[2];
	REQUIRE(ukt_write_file("f", "x") == 0);
	ts[0].tv_sec = 1000000000;
	ts[0].tv_nsec = 5000;
	ts[1].tv_sec = 1200000000;
	ts[1].tv_nsec = 7000;
	TEST_RES(utimensat(AT_FDCWD, "f", ts, 0), 0);
	TEST_RES(stat("f", &st), 0);
	TEST_RES(st.st_atime, 1000000000);
	TEST_RES(st.st_mtime, 1200000000);
	TEST_RES(st.st_mtim.tv_nsec, 7000);
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = 1300000000;
	ts[1].tv_nsec = 0;
	TEST_RES(utimensat(AT_FDCWD, "f", ts, 0), 0);
	TEST_RES(stat("f", &st), 0);
	TEST_RES(st.st_atime, 1000000000);
	TEST_RES(st.st_mtime, 1300000000);
	/* NULL means now. */
	time_t before = time(NULL);
	TEST_RES(utimensat(AT_FDCWD, "f", NULL, 0), 0);
	TEST_RES(stat("f", &st), 0);
	TEST_TRUE(st.st_mtime >= before - 1 && st.st_mtime <= time(NULL) + 1);
	int fd = open("f", O_RDONLY);
	ts[0].tv_sec = 5;
	ts[0].tv_nsec = 0;
	ts[1].tv_sec = 6;
	ts[1].tv_nsec = UTIME_NOW;
	TEST_RES(futimens(fd, ts), 0);
	TEST_RES(fstat(fd, &st), 0);
	TEST_RES(st.st_atime, 5);
	TEST_TRUE(st.st_mtime >= before - 1);
	close(fd);
	ts[0].tv_nsec = 1000000000;
	TEST_ERRNO(utimensat(AT_FDCWD, "f", ts, 0), EINVAL);
	TEST_ERRNO(utimensat(AT_FDCWD, "missing", NULL, 0), ENOENT);
	/* Writing updates the modification time. */
	ts[0].tv_sec = 10;
	ts[0].tv_nsec = 0;
	ts[1].tv_sec = 10;
	ts[1].tv_nsec = 0;
	REQUIRE(utimensat(AT_FDCWD, "f", ts, 0) == 0);
	fd = open("f", O_WRONLY);
	TEST_RES(write(fd, "y", 1), 1);
	TEST_RES(fstat(fd, &st), 0);
	TEST_TRUE(st.st_mtime >= before - 1);
	close(fd);
}

static void statfs_cases(void)
{
	struct statfs sf;
	struct statvfs sv;
	TEST_RES(statfs(".", &sf), 0);
	TEST_TRUE(sf.f_bsize > 0);
	TEST_TRUE(sf.f_namelen >= 255);
	int fd = open(".", O_RDONLY);
	TEST_RES(fstatfs(fd, &sf), 0);
	TEST_RES(fstatvfs(fd, &sv), 0);
	TEST_TRUE(sv.f_bsize > 0);
	TEST_RES(statvfs("/", &sv), 0);
	close(fd);
	TEST_ERRNO(statfs("missing", &sf), ENOENT);
	TEST_ERRNO(fstatfs(-1, &sf), EBADF);
	TEST_ERRNO(syscall(SYS_statfs, ".", (struct statfs *)1), EFAULT);
}

int main(void)
{
	ukt_setup();
	RUN(stat_basic);
	RUN(lstat_fstatat);
	RUN(statx_cases);
	RUN(access_cases);
	RUN(mode_owner);
	RUN(times_cases);
	RUN(statfs_cases);
	return ukt_finish();
}
