/* What servers do around fork (found running redis and nginx with their own process
 * models): nginx's master sets up a socketpair channel to each worker with FIONBIO,
 * FIOASYNC and F_SETOWN before forking it; musl's malloc puts a PROT_NONE guard page
 * over the start of the brk area, and a fork must copy the rest of that area (the
 * guard page stays a guard page in the child); a listening socket forked into two
 * processes accepts in both; a forked worker gives up root with setgid, setgroups
 * and setuid while its parent stays root.
 *
 * Children report through their exit status and never print case lines; stdout is
 * flushed before every fork.
 */
#include "harness.h"
#include <signal.h>
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* The wait status of `p`, or -1. */
static int status_of(pid_t p)
{
	int st;
	return waitpid(p, &st, 0) == p ? st : -1;
}

/* nginx's ngx_spawn_process, before its fork. */
static void channel_setup(void)
{
	int sv[2], on = 1;
	/* nginx handles SIGIO; ukit takes FIOASYNC but sends no SIGIO (docs/processes.md),
	 * so the signal is ignored here rather than checked. */
	signal(SIGIO, SIG_IGN);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	TEST_RES(ioctl(sv[0], FIONBIO, &on), 0);
	TEST_RES(ioctl(sv[1], FIONBIO, &on), 0);
	TEST_RES(ioctl(sv[0], FIOASYNC, &on), 0);
	TEST_RES(fcntl(sv[0], F_SETOWN, getpid()), 0);
	TEST_RES(fcntl(sv[0], F_SETFD, FD_CLOEXEC), 0);
	TEST_RES(fcntl(sv[0], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	/* The channel works across the fork: the child writes, the parent reads. */
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		close(sv[0]);
		_exit(write(sv[1], "w", 1) == 1 ? 0 : 1);
	}
	TEST_RES(status_of(p), 0);
	char c = 0;
	TEST_RES(read(sv[0], &c, 1), 1);
	TEST_RES(c, 'w');
	close(sv[0]);
	close(sv[1]);
}

/* musl's mallocng: brk(0), brk(+2 pages), a PROT_NONE map over the first page. */
static void brk_with_guard_page(void)
{
	char *b = (char *)syscall(SYS_brk, 0);
	b += -(unsigned long)b & 4095;
	REQUIRE(syscall(SYS_brk, b + 3 * 4096) == (long)(b + 3 * 4096));
	TEST_RES(mmap(b, 4096, PROT_NONE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0), b);
	b[4096] = 42;
	b[2 * 4096 + 7] = 43;
	fflush(stdout);
	pid_t p = fork();
	if (p == 0)
		_exit(b[4096] == 42 && b[2 * 4096 + 7] == 43 ? 0 : 1);
	TEST_RES(status_of(p), 0);
	/* The parent's copy is unchanged and still writable. */
	b[4096]++;
	TEST_RES(b[4096], 43);
}

/* One listening socket, accepting in the parent and in a forked child. */
static void shared_listener(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	REQUIRE(l >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	REQUIRE(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
	REQUIRE(listen(l, 8) == 0);
	REQUIRE(getsockname(l, (struct sockaddr *)&a, &alen) == 0);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		/* The child accepts one connection and answers "c". */
		int s = accept(l, 0, 0);
		_exit(s >= 0 && write(s, "c", 1) == 1 ? 0 : 1);
	}
	int c = socket(AF_INET, SOCK_STREAM, 0);
	TEST_RES(connect(c, (struct sockaddr *)&a, sizeof a), 0);
	char ch = 0;
	TEST_RES(read(c, &ch, 1), 1);
	TEST_RES(ch, 'c');
	TEST_RES(status_of(p), 0);
	/* The child is gone; the parent's copy of the socket still accepts. */
	int c2 = socket(AF_INET, SOCK_STREAM, 0);
	TEST_RES(connect(c2, (struct sockaddr *)&a, sizeof a), 0);
	int s = accept(l, 0, 0);
	TEST_TRUE(s >= 0);
	close(s);
	close(c2);
	close(c);
	close(l);
}

/* nginx's worker as root: setgid, setgroups, setuid to nobody in the forked child; the
 * parent stays root. */
static int drop_privileges(void)
{
	gid_t none[1] = {65534};
	if (setgid(65534) != 0 || setgroups(1, none) != 0 || setuid(65534) != 0)
		return 1;
	if (getuid() != 65534 || geteuid() != 65534 || getgid() != 65534 || getegid() != 65534)
		return 2;
	/* No way back once every id is nobody's. */
	if (setuid(0) != -1 || errno != EPERM)
		return 3;
	return 0;
}

static void worker_ids(void)
{
	if (geteuid() != 0)
		return; /* the native run as an ordinary user cannot check this */
	fflush(stdout);
	pid_t p = fork();
	if (p == 0)
		_exit(drop_privileges());
	TEST_RES(status_of(p), 0);
	TEST_RES(geteuid(), 0);
	TEST_RES(getgid(), 0);
}

int main(void)
{
	ukt_setup();
	RUN(channel_setup);
	RUN(brk_with_guard_page);
	RUN(shared_listener);
	RUN(worker_ids);
	return ukt_finish();
}
