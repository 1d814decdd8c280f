/* select(2) on sockets: each set answers only for itself. An idle connected socket is
 * writable but not readable, so a read set alone times out; POLLERR counts for the read
 * and write sets, and only urgent data (POLLPRI) for the except set. TCP over loopback and
 * AF_UNIX stream pairs. */
#include "harness.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <signal.h>

/* select() with a timeout of `ms` on the sets given (NULL: not asked); returns select's
 * result. */
static int sel(int fd, fd_set *r, fd_set *w, fd_set *e, int ms)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = ms * 1000 };
	if (r) {
		FD_ZERO(r);
		FD_SET(fd, r);
	}
	if (w) {
		FD_ZERO(w);
		FD_SET(fd, w);
	}
	if (e) {
		FD_ZERO(e);
		FD_SET(fd, e);
	}
	return select(fd + 1, r, w, e, &tv);
}

/* A connected TCP pair over 127.0.0.1: fds in p[0] (client) and p[1] (accepted). */
static int tcp_pair(int p[2])
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof a;
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4) ||
	    getsockname(ls, (struct sockaddr *)&a, &l))
		return -1;
	p[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (p[0] < 0 || connect(p[0], (struct sockaddr *)&a, sizeof a))
		return -1;
	p[1] = accept(ls, NULL, NULL);
	close(ls);
	return p[1] < 0 ? -1 : 0;
}

static void tcp_idle(void)
{
	int p[2];
	fd_set r, w, e;
	REQUIRE(tcp_pair(p) == 0);
	/* The case: a read set alone on an idle connection waits, then 0. */
	TEST_RES(sel(p[0], &r, NULL, NULL, 50), 0);
	TEST_RES(FD_ISSET(p[0], &r), 0);
	TEST_RES(sel(p[0], NULL, &w, NULL, 0), 1);
	TEST_TRUE(FD_ISSET(p[0], &w));
	TEST_RES(sel(p[0], NULL, NULL, &e, 0), 0);
	TEST_RES(sel(p[0], &r, &w, &e, 0), 1);
	TEST_RES(FD_ISSET(p[0], &r), 0);
	TEST_TRUE(FD_ISSET(p[0], &w));
	TEST_RES(FD_ISSET(p[0], &e), 0);
	/* Data makes it readable; both bits count. */
	REQUIRE(write(p[1], "x", 1) == 1);
	TEST_RES(sel(p[0], &r, NULL, NULL, 1000), 1);
	TEST_TRUE(FD_ISSET(p[0], &r));
	TEST_RES(sel(p[0], &r, &w, NULL, 0), 2);
	/* Urgent data is the except set's. */
	char c;
	REQUIRE(read(p[0], &c, 1) == 1);
	REQUIRE(send(p[1], "u", 1, MSG_OOB) == 1);
	TEST_RES(sel(p[0], NULL, NULL, &e, 1000), 1);
	TEST_TRUE(FD_ISSET(p[0], &e));
	close(p[0]);
	close(p[1]);
}

static void tcp_peer_closed(void)
{
	int p[2];
	fd_set r, w;
	REQUIRE(tcp_pair(p) == 0);
	/* End of file reads as readable. */
	close(p[1]);
	TEST_RES(sel(p[0], &r, NULL, NULL, 1000), 1);
	TEST_TRUE(FD_ISSET(p[0], &r));
	TEST_RES(read(p[0], &r, 1), 0);
	TEST_RES(sel(p[0], &r, &w, NULL, 0), 2);
	close(p[0]);
}

static void unix_idle(void)
{
	int p[2];
	fd_set r, w, e;
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0);
	TEST_RES(sel(p[0], &r, NULL, NULL, 50), 0);
	TEST_RES(FD_ISSET(p[0], &r), 0);
	TEST_RES(sel(p[0], NULL, &w, NULL, 0), 1);
	TEST_RES(sel(p[0], NULL, NULL, &e, 0), 0);
	TEST_RES(sel(p[0], &r, &w, &e, 0), 1);
	TEST_TRUE(FD_ISSET(p[0], &w));
	REQUIRE(write(p[1], "x", 1) == 1);
	TEST_RES(sel(p[0], &r, NULL, NULL, 0), 1);
	TEST_TRUE(FD_ISSET(p[0], &r));
	/* A peer gone: readable (end of file) and writable (the write would fail at once). */
	char c;
	REQUIRE(read(p[0], &c, 1) == 1);
	close(p[1]);
	TEST_RES(sel(p[0], &r, NULL, NULL, 0), 1);
	TEST_RES(sel(p[0], NULL, &w, NULL, 0), 1);
	TEST_RES(sel(p[0], NULL, NULL, &e, 0), 0);
	close(p[0]);
}

static void unix_listener(void)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	strcpy(a.sun_path, "l.sock");
	fd_set r, w;
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	REQUIRE(ls >= 0);
	REQUIRE(bind(ls, (struct sockaddr *)&a, sizeof a) == 0);
	REQUIRE(listen(ls, 2) == 0);
	/* A listener with nobody waiting: neither readable nor writable. */
	TEST_RES(sel(ls, &r, NULL, NULL, 20), 0);
	TEST_RES(sel(ls, NULL, &w, NULL, 0), 0);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	REQUIRE(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
	TEST_RES(sel(ls, &r, NULL, NULL, 1000), 1);
	TEST_TRUE(FD_ISSET(ls, &r));
	close(c);
	close(ls);
}

int main(void)
{
	ukt_setup();
	signal(SIGPIPE, SIG_IGN);
	RUN(tcp_idle);
	RUN(tcp_peer_closed);
	RUN(unix_idle);
	RUN(unix_listener);
	return ukt_finish();
}
