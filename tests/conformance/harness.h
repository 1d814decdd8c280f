/* ukit conformance harness: a few macros and a scratch directory, nothing else.
 *
 * Every case prints exactly one line:
 *     ok <file>:<line> <text>
 *     FAIL <file>:<line> <text>: got X want Y
 * and the program ends with the line "N passed, M failed" (exit status 0 only when M is 0).
 * A case is named by <file>:<line>, so keep one check per source line and never put a
 * check inside a loop or a helper called from several places: the driver
 * (tests/tests/conformance.rs) keys known failures by that name.
 *
 * Each test file runs its groups (RUN(fn)) in a fresh directory of its own,
 * $UKT_TMP/<group> (default UKT_TMP: /tmp/ukt-<pid>), so that no case sees another's
 * leftovers; the whole tree is removed at the end.
 *
 * Only what an ordinary Linux program uses: libc calls and, where libc has no wrapper,
 * syscall(). The suite must pass 100% natively (musl-gcc -static) on Linux: Linux is the
 * reference for every expectation written here.
 */
#ifndef UKT_HARNESS_H
#define UKT_HARNESS_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static int ukt_passed, ukt_failed;
static char ukt_root[1024];

static const char *ukt_base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static void ukt_ok(const char *file, int line, const char *text)
{
	ukt_passed++;
	printf("ok %s:%d %s\n", ukt_base(file), line, text);
	fflush(stdout);
}

static void ukt_fail(const char *file, int line, const char *text, const char *got, const char *want)
{
	ukt_failed++;
	printf("FAIL %s:%d %s: got %s want %s\n", ukt_base(file), line, text, got, want);
	fflush(stdout);
}

/* `expr` (an integer or a pointer) must equal `want`. */
#define TEST_RES(expr, want)                                                              \
	do {                                                                                  \
		errno = 0;                                                                        \
		long ukt_g_ = (long)(expr);                                                       \
		int ukt_e_ = errno;                                                               \
		long ukt_w_ = (long)(want);                                                       \
		if (ukt_g_ == ukt_w_) {                                                           \
			ukt_ok(__FILE__, __LINE__, #expr " == " #want);                               \
		} else {                                                                          \
			char ukt_gs_[96], ukt_ws_[48];                                                \
			snprintf(ukt_gs_, sizeof ukt_gs_, "%ld (errno %d %s)", ukt_g_, ukt_e_,        \
				 strerror(ukt_e_));                                                        \
			snprintf(ukt_ws_, sizeof ukt_ws_, "%ld", ukt_w_);                             \
			ukt_fail(__FILE__, __LINE__, #expr " == " #want, ukt_gs_, ukt_ws_);           \
		}                                                                                 \
	} while (0)

/* `expr` must fail (-1 for an integer result; NULL or MAP_FAILED for a pointer) with
 * errno `err`. */
#define TEST_ERRNO(expr, err)                                                             \
	do {                                                                                  \
		errno = 0;                                                                        \
		long ukt_g_ = (long)(expr);                                                       \
		int ukt_e_ = errno;                                                               \
		int ukt_ptr_ = __builtin_classify_type(expr) == 5;                                \
		int ukt_failed_ = ukt_g_ == -1 || (ukt_ptr_ && ukt_g_ == 0);                       \
		if (ukt_failed_ && ukt_e_ == (int)(err)) {                                             \
			ukt_ok(__FILE__, __LINE__, #expr " fails with " #err);                        \
		} else {                                                                          \
			char ukt_gs_[96], ukt_ws_[64];                                                \
			snprintf(ukt_gs_, sizeof ukt_gs_, "%ld (errno %d %s)", ukt_g_, ukt_e_,        \
				 strerror(ukt_e_));                                                        \
			snprintf(ukt_ws_, sizeof ukt_ws_, "failure with errno %d %s", (int)(err),          \
				 strerror(err));                                                           \
			ukt_fail(__FILE__, __LINE__, #expr " fails with " #err, ukt_gs_, ukt_ws_);    \
		}                                                                                 \
	} while (0)

/* `cond` must hold. */
#define TEST_TRUE(cond)                                                                   \
	do {                                                                                  \
		errno = 0;                                                                        \
		int ukt_c_ = !!(cond);                                                            \
		int ukt_e_ = errno;                                                               \
		if (ukt_c_) {                                                                     \
			ukt_ok(__FILE__, __LINE__, #cond);                                            \
		} else {                                                                          \
			char ukt_gs_[96];                                                             \
			snprintf(ukt_gs_, sizeof ukt_gs_, "false (errno %d %s)", ukt_e_,              \
				 strerror(ukt_e_));                                                        \
			ukt_fail(__FILE__, __LINE__, #cond, ukt_gs_, "true");                         \
		}                                                                                 \
	} while (0)

/* Setup that a group cannot continue without. It is a case like the others; when it
 * fails the rest of the group is abandoned, so the group's later cases are missing from
 * the output and the driver counts them as failed too. */
#define REQUIRE(cond)                                                                     \
	do {                                                                                  \
		errno = 0;                                                                        \
		if (cond) {                                                                       \
			ukt_ok(__FILE__, __LINE__, "REQUIRE " #cond);                                 \
		} else {                                                                          \
			char ukt_gs_[96];                                                             \
			snprintf(ukt_gs_, sizeof ukt_gs_, "false (errno %d %s)", errno,               \
				 strerror(errno));                                                         \
			ukt_fail(__FILE__, __LINE__, "REQUIRE " #cond, ukt_gs_, "true");              \
			return;                                                                       \
		}                                                                                 \
	} while (0)

/* Removes `path` and everything below it (no nftw: only the calls under test). */
static void ukt_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (d) {
			struct dirent *e;
			while ((e = readdir(d))) {
				if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
					continue;
				char sub[PATH_MAX];
				snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
				ukt_rm_rf(sub);
			}
			closedir(d);
		}
		chmod(path, 0700);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* Makes a fresh file with `len` bytes of `data` (or "" when data is NULL). Returns 0 on
 * success. */
__attribute__((unused)) static int ukt_write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	size_t n = data ? strlen(data) : 0;
	ssize_t w = n ? write(fd, data, n) : 0;
	close(fd);
	return w == (ssize_t)n ? 0 : -1;
}

static void ukt_setup(void)
{
	const char *t = getenv("UKT_TMP");
	if (t && *t)
		snprintf(ukt_root, sizeof ukt_root, "%s", t);
	else
		snprintf(ukt_root, sizeof ukt_root, "/tmp/ukt-%d", (int)getpid());
	ukt_rm_rf(ukt_root);
	umask(022);
	if (mkdir(ukt_root, 0755) != 0 && errno != EEXIST) {
		printf("cannot create the scratch directory %s: %s\n", ukt_root, strerror(errno));
		printf("0 passed, 1 failed\n");
		exit(1);
	}
}

/* Runs one group of cases in its own fresh directory $UKT_TMP/<name>. */
static void ukt_run(const char *file, int line, const char *name, void (*fn)(void))
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/%s", ukt_root, name);
	ukt_rm_rf(dir);
	if (mkdir(dir, 0755) != 0 || chdir(dir) != 0) {
		char got[96];
		snprintf(got, sizeof got, "errno %d %s", errno, strerror(errno));
		ukt_fail(file, line, name, got, "a fresh group directory");
		return;
	}
	umask(022);
	fn();
	if (chdir(ukt_root) != 0)
		perror("chdir back to the scratch root");
	ukt_rm_rf(dir);
}

/* Prints nothing when the directory is made (only a failure is reported, keyed by the
 * line of the RUN). */
#define RUN(fn) ukt_run(__FILE__, __LINE__, #fn, fn)

static int ukt_finish(void)
{
	if (chdir("/") != 0)
		perror("chdir /");
	ukt_rm_rf(ukt_root);
	printf("%d passed, %d failed\n", ukt_passed, ukt_failed);
	fflush(stdout);
	return ukt_failed ? 1 : 0;
}

#endif
