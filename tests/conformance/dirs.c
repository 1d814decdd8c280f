/* mkdir/mkdirat, rmdir, getdents64 (and readdir over it), chdir/fchdir/getcwd,
 * rename/renameat/renameat2. */
#include "harness.h"

#define UKT_RENAME_NOREPLACE 1
#define UKT_RENAME_EXCHANGE 2

static void mkdir_rmdir(void)
{
	struct stat st;
	TEST_RES(mkdir("a", 0750), 0);
	TEST_RES(stat("a", &st), 0);
	TEST_TRUE(S_ISDIR(st.st_mode));
	TEST_RES(st.st_mode & 0777, 0750);
	TEST_ERRNO(mkdir("a", 0755), EEXIST);
	TEST_ERRNO(mkdir("x/y", 0755), ENOENT);
	REQUIRE(ukt_write_file("f", "") == 0);
	TEST_ERRNO(mkdir("f", 0755), EEXIST);
	TEST_ERRNO(mkdir("f/y", 0755), ENOTDIR);
	TEST_ERRNO(mkdir("", 0755), ENOENT);
	TEST_RES(mkdir("a/b", 0755), 0);
	TEST_RES(mkdir("trail/", 0755), 0); /* a trailing slash is fine */
	umask(077);
	TEST_RES(mkdir("m", 0777), 0);
	TEST_RES(stat("m", &st), 0);
	TEST_RES(st.st_mode & 0777, 0700);
	umask(022);
	int dfd = open("a", O_RDONLY | O_DIRECTORY);
	TEST_RES(mkdirat(dfd, "c", 0755), 0);
	TEST_RES(access("a/c", F_OK), 0);
	TEST_ERRNO(mkdirat(-1, "c", 0755), EBADF);
	TEST_ERRNO(rmdir("a"), ENOTEMPTY);
	TEST_RES(rmdir("a/b"), 0);
	TEST_RES(unlinkat(dfd, "c", AT_REMOVEDIR), 0);
	TEST_RES(rmdir("a"), 0);
	TEST_ERRNO(rmdir("a"), ENOENT);
	TEST_ERRNO(rmdir("f"), ENOTDIR);
	TEST_ERRNO(rmdir("."), EINVAL);
	TEST_ERRNO(rmdir("m/.."), ENOTEMPTY);
	TEST_ERRNO(syscall(SYS_mkdir, (void *)1, 0755), EFAULT);
	/* A directory has a link count of 2 + its subdirectories. */
	REQUIRE(mkdir("n", 0755) == 0);
	REQUIRE(mkdir("n/s1", 0755) == 0);
	REQUIRE(mkdir("n/s2", 0755) == 0);
	TEST_RES(stat("n", &st), 0);
	TEST_RES(st.st_nlink, 4);
	close(dfd);
}

/* Collects the names in `path` through getdents64; returns how many, or -1. */
struct ukt_dirent64 {
	unsigned long long d_ino;
	long long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int names_in(const char *path, char names[][32], unsigned char *types, int max)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	char buf[512];
	int n = 0;
	long r;
	while ((r = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < r;) {
			struct ukt_dirent64 *d = (struct ukt_dirent64 *)(buf + off);
			if (n < max) {
				snprintf(names[n], 32, "%s", d->d_name);
				types[n] = d->d_type;
			}
			n++;
			off += d->d_reclen;
		}
	}
	close(fd);
	return r < 0 ? -1 : n;
}

static int find_name(char names[][32], int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return i;
	return -1;
}

static void getdents_cases(void)
{
	char names[64][32];
	unsigned char types[64];
	REQUIRE(mkdir("d", 0755) == 0);
	REQUIRE(mkdir("d/sub", 0755) == 0);
	REQUIRE(ukt_write_file("d/file", "x") == 0);
	REQUIRE(symlink("file", "d/link") == 0);
	int n = names_in("d", names, types, 64);
	TEST_RES(n, 5);
	TEST_TRUE(find_name(names, n, ".") >= 0);
	TEST_TRUE(find_name(names, n, "..") >= 0);
	int i = find_name(names, n, "sub");
	TEST_TRUE(i >= 0 && types[i] == DT_DIR);
	i = find_name(names, n, "file");
	TEST_TRUE(i >= 0 && types[i] == DT_REG);
	i = find_name(names, n, "link");
	TEST_TRUE(i >= 0 && types[i] == DT_LNK);
	/* Many entries, read in several small batches. */
	REQUIRE(mkdir("many", 0755) == 0);
	char p[64];
	for (int k = 0; k < 40; k++) {
		snprintf(p, sizeof p, "many/entry-%02d", k);
		ukt_write_file(p, "");
	}
	TEST_RES(names_in("many", names, types, 64), 42);
	TEST_TRUE(find_name(names, 42, "entry-00") >= 0 && find_name(names, 42, "entry-39") >= 0);
	/* Entries removed are gone from the listing. */
	TEST_RES(unlink("d/file"), 0);
	TEST_RES(names_in("d", names, types, 64), 4);
	/* Error paths. */
	char buf[256];
	int fd = open("d/sub", O_RDONLY | O_DIRECTORY);
	TEST_ERRNO(syscall(SYS_getdents64, fd, buf, 1), EINVAL);
	TEST_ERRNO(syscall(SYS_getdents64, fd, (void *)1, sizeof buf), EFAULT);
	TEST_ERRNO(syscall(SYS_getdents64, -1, buf, sizeof buf), EBADF);
	close(fd);
	REQUIRE(ukt_write_file("plain", "x") == 0);
	fd = open("plain", O_RDONLY);
	TEST_ERRNO(syscall(SYS_getdents64, fd, buf, sizeof buf), ENOTDIR);
	close(fd);
	/* readdir (libc over getdents64), rewinddir. */
	DIR *dir = opendir("d");
	TEST_TRUE(dir != NULL);
	int count = 0;
	while (readdir(dir))
		count++;
	TEST_RES(count, 4);
	rewinddir(dir);
	TEST_TRUE(readdir(dir) != NULL);
	TEST_RES(closedir(dir), 0);
	TEST_ERRNO(opendir("missing"), ENOENT);
	TEST_ERRNO(opendir("plain"), ENOTDIR);
	/* An empty directory lists only . and .. */
	REQUIRE(mkdir("empty", 0755) == 0);
	TEST_RES(names_in("empty", names, types, 64), 2);
}

static void cwd_cases(void)
{
	char base[PATH_MAX], buf[PATH_MAX];
	REQUIRE(getcwd(base, sizeof base) != NULL);
	REQUIRE(mkdir("sub", 0755) == 0);
	REQUIRE(mkdir("sub/deeper", 0755) == 0);
	TEST_RES(chdir("sub"), 0);
	TEST_TRUE(getcwd(buf, sizeof buf) != NULL);
	TEST_TRUE(strlen(buf) == strlen(base) + 4 && !strcmp(buf + strlen(base), "/sub"));
	TEST_RES(access("deeper", F_OK), 0);
	TEST_RES(chdir(".."), 0);
	TEST_TRUE(getcwd(buf, sizeof buf) != NULL && !strcmp(buf, base));
	int fd = open("sub/deeper", O_RDONLY | O_DIRECTORY);
	TEST_RES(fchdir(fd), 0);
	TEST_TRUE(getcwd(buf, sizeof buf) != NULL && !strcmp(buf + strlen(base), "/sub/deeper"));
	TEST_RES(chdir(base), 0);
	close(fd);
	TEST_ERRNO(chdir("missing"), ENOENT);
	REQUIRE(ukt_write_file("f", "") == 0);
	TEST_ERRNO(chdir("f"), ENOTDIR);
	fd = open("f", O_RDONLY);
	TEST_ERRNO(fchdir(fd), ENOTDIR);
	close(fd);
	TEST_ERRNO(fchdir(-1), EBADF);
	TEST_ERRNO(getcwd(buf, 1), ERANGE);
	TEST_ERRNO(syscall(SYS_getcwd, buf, 0), ERANGE);
	TEST_ERRNO(syscall(SYS_getcwd, (void *)1, sizeof buf), EFAULT);
	long r = syscall(SYS_getcwd, buf, sizeof buf);
	TEST_RES(r, (long)strlen(base) + 1); /* the raw call counts the NUL */
	/* "/" and "/.." are the root. */
	TEST_RES(chdir("/.."), 0);
	TEST_TRUE(getcwd(buf, sizeof buf) != NULL && !strcmp(buf, "/"));
	TEST_RES(chdir(base), 0);
	/* Relative paths resolve from the new cwd. */
	TEST_RES(chdir("sub"), 0);
	TEST_RES(ukt_write_file("rel", "r"), 0);
	TEST_RES(chdir(base), 0);
	TEST_RES(access("sub/rel", F_OK), 0);
}

static void rename_cases(void)
{
	struct stat st;
	char buf[16];
	REQUIRE(ukt_write_file("a", "AAA") == 0);
	REQUIRE(ukt_write_file("b", "B") == 0);
	REQUIRE(mkdir("d", 0755) == 0);
	REQUIRE(mkdir("e", 0755) == 0);
	TEST_RES(rename("a", "c"), 0);
	TEST_ERRNO(access("a", F_OK), ENOENT);
	TEST_RES(stat("c", &st), 0);
	TEST_RES(st.st_size, 3);
	/* Replacing an existing file. */
	TEST_RES(rename("c", "b"), 0);
	int fd = open("b", O_RDONLY);
	TEST_RES(read(fd, buf, sizeof buf), 3);
	close(fd);
	/* Into a directory and back. */
	TEST_RES(rename("b", "d/b"), 0);
	TEST_RES(access("d/b", F_OK), 0);
	/* Directories: onto an empty one works, onto a non-empty one does not. */
	TEST_RES(rename("e", "e2"), 0);
	REQUIRE(mkdir("empty", 0755) == 0);
	TEST_RES(rename("e2", "empty"), 0);
	TEST_ERRNO(rename("empty", "d"), ENOTEMPTY);
	REQUIRE(ukt_write_file("f", "") == 0);
	TEST_ERRNO(rename("empty", "f"), ENOTDIR);
	TEST_ERRNO(rename("f", "empty"), EISDIR);
	TEST_ERRNO(rename("d", "d/inside"), EINVAL);
	TEST_ERRNO(rename("missing", "x"), ENOENT);
	TEST_ERRNO(rename("f", "nodir/x"), ENOENT);
	TEST_RES(rename("f", "f"), 0); /* same file: nothing happens */
	TEST_RES(access("f", F_OK), 0);
	/* renameat with directory descriptors. */
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	TEST_RES(renameat(dfd, "b", AT_FDCWD, "back"), 0);
	TEST_RES(access("back", F_OK), 0);
	TEST_ERRNO(renameat(-1, "b", AT_FDCWD, "x"), EBADF);
	/* renameat2 flags. */
	REQUIRE(ukt_write_file("p", "P") == 0);
	REQUIRE(ukt_write_file("q", "QQ") == 0);
	TEST_ERRNO(syscall(SYS_renameat2, AT_FDCWD, "p", AT_FDCWD, "q", UKT_RENAME_NOREPLACE), EEXIST);
	TEST_RES(syscall(SYS_renameat2, AT_FDCWD, "p", AT_FDCWD, "r", UKT_RENAME_NOREPLACE), 0);
	TEST_ERRNO(syscall(SYS_renameat2, AT_FDCWD, "r", dfd, "q", UKT_RENAME_EXCHANGE), ENOENT);
	close(dfd);
}

static void rename_exchange(void)
{
	struct stat st;
	REQUIRE(ukt_write_file("p", "P") == 0);
	REQUIRE(ukt_write_file("q", "QQ") == 0);
	TEST_RES(syscall(SYS_renameat2, AT_FDCWD, "p", AT_FDCWD, "q", UKT_RENAME_EXCHANGE), 0);
	TEST_RES(stat("p", &st), 0);
	TEST_RES(st.st_size, 2);
	TEST_RES(stat("q", &st), 0);
	TEST_RES(st.st_size, 1);
	TEST_ERRNO(syscall(SYS_renameat2, AT_FDCWD, "p", AT_FDCWD, "none", UKT_RENAME_EXCHANGE), ENOENT);
	TEST_ERRNO(syscall(SYS_renameat2, AT_FDCWD, "p", AT_FDCWD, "q",
			   UKT_RENAME_EXCHANGE | UKT_RENAME_NOREPLACE), EINVAL);
	TEST_ERRNO(syscall(SYS_renameat2, AT_FDCWD, "p", AT_FDCWD, "q", 0x100), EINVAL);
	TEST_RES(syscall(SYS_renameat2, AT_FDCWD, "p", AT_FDCWD, "q", 0), 0);
	TEST_ERRNO(access("p", F_OK), ENOENT);
}

int main(void)
{
	ukt_setup();
	RUN(mkdir_rmdir);
	RUN(getdents_cases);
	RUN(cwd_cases);
	RUN(rename_cases);
	RUN(rename_exchange);
	return ukt_finish();
}
