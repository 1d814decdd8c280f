/* link/linkat, symlink/symlinkat, readlink/readlinkat, unlink/unlinkat. */
#include "harness.h"

static void hard_links(void)
{
	struct stat st, st2;
	char buf[16];
	REQUIRE(ukt_write_file("f", "shared") == 0);
	TEST_RES(link("f", "g"), 0);
	TEST_RES(stat("f", &st), 0);
	TEST_RES(st.st_nlink, 2);
	TEST_RES(stat("g", &st2), 0);
	TEST_RES(st2.st_ino, st.st_ino);
	/* Writing through one name is seen through the other. */
	int fd = open("g", O_WRONLY | O_APPEND);
	TEST_RES(write(fd, "!", 1), 1);
	close(fd);
	fd = open("f", O_RDONLY);
	TEST_RES(read(fd, buf, sizeof buf), 7);
	close(fd);
	TEST_RES(unlink("f"), 0);
	TEST_RES(stat("g", &st), 0);
	TEST_RES(st.st_nlink, 1);
	TEST_ERRNO(link("g", "g"), EEXIST);
	TEST_ERRNO(link("missing", "h"), ENOENT);
	TEST_ERRNO(link("g", "nodir/h"), ENOENT);
	REQUIRE(mkdir("d", 0755) == 0);
	TEST_ERRNO(link("d", "d2"), EPERM); /* no hard links to directories */
	TEST_RES(linkat(AT_FDCWD, "g", AT_FDCWD, "d/h", 0), 0);
	TEST_RES(access("d/h", F_OK), 0);
	TEST_ERRNO(linkat(-1, "g", AT_FDCWD, "x", 0), EBADF);
	TEST_ERRNO(linkat(AT_FDCWD, "g", AT_FDCWD, "x", 0x1), EINVAL);
	/* linkat of a symlink: without AT_SYMLINK_FOLLOW the link itself is linked. */
	REQUIRE(symlink("g", "sl") == 0);
	TEST_RES(linkat(AT_FDCWD, "sl", AT_FDCWD, "sl2", 0), 0);
	TEST_RES(lstat("sl2", &st), 0);
	TEST_TRUE(S_ISLNK(st.st_mode));
	TEST_RES(linkat(AT_FDCWD, "sl", AT_FDCWD, "sl3", AT_SYMLINK_FOLLOW), 0);
	TEST_RES(lstat("sl3", &st), 0);
	TEST_TRUE(S_ISREG(st.st_mode));
}

static void sym_links(void)
{
	char buf[64];
	struct stat st;
	REQUIRE(ukt_write_file("target", "T") == 0);
	TEST_RES(symlink("target", "s"), 0);
	TEST_RES(readlink("s", buf, sizeof buf), 6);
	TEST_RES(memcmp(buf, "target", 6), 0);
	TEST_RES(readlink("s", buf, 3), 3); /* truncated, no NUL */
	TEST_RES(memcmp(buf, "tar", 3), 0);
	TEST_ERRNO(readlink("target", buf, sizeof buf), EINVAL);
	TEST_ERRNO(readlink("missing", buf, sizeof buf), ENOENT);
	TEST_ERRNO(syscall(SYS_readlink, "s", buf, 0), EINVAL);
	TEST_ERRNO(syscall(SYS_readlink, "s", (void *)1, 64), EFAULT);
	TEST_ERRNO(symlink("x", "s"), EEXIST);
	TEST_ERRNO(symlink("x", "nodir/s"), ENOENT);
	TEST_ERRNO(symlink("", "empty"), ENOENT);
	/* A dangling link can be made and read, but not followed. */
	TEST_RES(symlink("nowhere", "dangling"), 0);
	TEST_RES(lstat("dangling", &st), 0);
	TEST_ERRNO(stat("dangling", &st), ENOENT);
	/* Relative targets resolve from the link's directory. */
	REQUIRE(mkdir("d", 0755) == 0);
	REQUIRE(ukt_write_file("d/inner", "I") == 0);
	TEST_RES(symlink("inner", "d/rel"), 0);
	TEST_RES(stat("d/rel", &st), 0);
	TEST_RES(st.st_size, 1);
	/* An absolute target. */
	char abs[PATH_MAX];
	REQUIRE(getcwd(abs, sizeof abs) != NULL);
	strcat(abs, "/target");
	TEST_RES(symlink(abs, "absl"), 0);
	TEST_RES(stat("absl", &st), 0);
	TEST_RES(readlink("absl", buf, sizeof buf), (long)strlen(abs) < 64 ? (long)strlen(abs) : 64);
	/* A link to a directory works as a path component. */
	TEST_RES(symlink("d", "dl"), 0);
	TEST_RES(stat("dl/inner", &st), 0);
	/* symlinkat / readlinkat. */
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	TEST_RES(symlinkat("inner", dfd, "rel2"), 0);
	TEST_RES(readlinkat(dfd, "rel2", buf, sizeof buf), 5);
	TEST_ERRNO(readlinkat(-1, "rel2", buf, sizeof buf), EBADF);
	TEST_ERRNO(symlinkat("x", -1, "y"), EBADF);
	close(dfd);
	/* Removing the link leaves the target. */
	TEST_RES(unlink("s"), 0);
	TEST_RES(access("target", F_OK), 0);
}

static void unlink_cases(void)
{
	REQUIRE(ukt_write_file("f", "") == 0);
	REQUIRE(mkdir("d", 0755) == 0);
	REQUIRE(ukt_write_file("d/in", "") == 0);
	TEST_RES(unlink("f"), 0);
	TEST_ERRNO(unlink("f"), ENOENT);
	TEST_ERRNO(unlink("d"), EISDIR);
	TEST_ERRNO(unlink("d/in/x"), ENOTDIR);
	TEST_ERRNO(unlink(""), ENOENT);
	TEST_ERRNO(syscall(SYS_unlink, (void *)1), EFAULT);
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	TEST_ERRNO(unlinkat(dfd, "in", AT_REMOVEDIR), ENOTDIR);
	TEST_RES(unlinkat(dfd, "in", 0), 0);
	TEST_ERRNO(unlinkat(dfd, "in", 0), ENOENT);
	TEST_ERRNO(unlinkat(dfd, "x", 0x1), EINVAL);
	TEST_ERRNO(unlinkat(-1, "x", 0), EBADF);
	close(dfd);
	TEST_ERRNO(unlinkat(AT_FDCWD, "d", 0), EISDIR);
	TEST_RES(unlinkat(AT_FDCWD, "d", AT_REMOVEDIR), 0);
	/* A file unlinked while open keeps its data until closed. */
	int fd = open("tmp", O_RDWR | O_CREAT, 0644);
	TEST_RES(unlink("tmp"), 0);
	TEST_RES(write(fd, "abc", 3), 3);
	struct stat st;
	TEST_RES(fstat(fd, &st), 0);
	TEST_RES(st.st_nlink, 0);
	char buf[4];
	TEST_RES(pread(fd, buf, 3, 0), 3);
	close(fd);
	/* A name may be reused right away. */
	TEST_TRUE((fd = open("tmp", O_RDWR | O_CREAT | O_EXCL, 0644)) >= 0);
	close(fd);
	/* Unlinking a symlink to a directory removes the link only. */
	REQUIRE(mkdir("e", 0755) == 0);
	REQUIRE(symlink("e", "el") == 0);
	TEST_RES(unlink("el"), 0);
	TEST_RES(access("e", F_OK), 0);
}

int main(void)
{
	ukt_setup();
	RUN(hard_links);
	RUN(sym_links);
	RUN(unlink_cases);
	return ukt_finish();
}
