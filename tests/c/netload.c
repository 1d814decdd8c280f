/* Network client for the liveness and load tests (tests/tests/net_*.rs, bench/): built
 * natively and run on the host or inside a test's network namespace. Every wait is
 * bounded.
 *
 *   netload echo HOST PORT TOKEN TIMEOUT_MS
 *       connect, send "TOKEN\n", print the answer up to its first newline (or until the
 *       server closes), then close.
 *   netload connclose HOST PORT N TIMEOUT_MS [SRCPORT]
 *       N times, one after the other: connect (at most TIMEOUT_MS), send an HTTP/1.0
 *       GET, read until the server closes, close. With SRCPORT every connection comes
 *       from that one port, so each new one meets the previous one in the server's
 *       TIME_WAIT. Prints the first failures, then "connclose N ok O timeouts T
 *       errors E ms M done D" as the last line (D < N when the environment variable
 *       NETLOAD_MAX_MS ran out first: a bound for benchmarks of a slow server).
 *   netload hold HOST PORT N SECONDS TIMEOUT_MS
 *       open N HTTP/1.1 keep-alive connections at once, GET / on each, keep them all
 *       idle for SECONDS, then GET / on each again. Prints "hold N first F second S
 *       ms M" (F, S: connections that got a whole 200 answer in each round).
 *
 * Exit status 0 when the run completed (the counts say how well), 1 on bad usage or
 * a local failure (socket limits). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in peer;

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Waits for `events` on fd until `deadline` (ms): the revents, 0 on timeout. */
static int wait_fd(int fd, short events, double deadline)
{
	for (;;) {
		double left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, (int)left + 1);
		if (r > 0)
			return p.revents;
		if (r < 0 && errno != EINTR)
			return POLLERR;
	}
}

/* A non-blocking socket connecting to `peer` (from `srcport` if not 0): the fd, or
 * -1 with errno set. */
static int start_connect(int srcport)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -1;
	if (srcport) {
		int one = 1;
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(srcport) };
		if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
			int e = errno;
			close(s);
			errno = e;
			return -1;
		}
	}
	if (connect(s, (struct sockaddr *)&peer, sizeof peer) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

/* Sends all of buf before `deadline`. */
static int send_all(int s, const char *buf, size_t n, double deadline)
{
	while (n > 0) {
		ssize_t r = send(s, buf, n, MSG_NOSIGNAL);
		if (r > 0) {
			buf += r;
			n -= r;
		} else if (r < 0 && errno == EAGAIN) {
			if (!wait_fd(s, POLLOUT, deadline))
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

static int do_echo(const char *token, int timeout)
{
	double deadline = now_ms() + timeout;
	int s = start_connect(0);
	if (s < 0 || !(wait_fd(s, POLLOUT, deadline) & POLLOUT)) {
		printf("connect failed\n");
		return 0;
	}
	char line[512];
	int n = snprintf(line, sizeof line, "%s\n", token);
	if (send_all(s, line, n, deadline) < 0) {
		printf("send failed\n");
		return 0;
	}
	char buf[4096];
	size_t got = 0;
	while (got < sizeof buf - 1 && !memchr(buf, '\n', got) && wait_fd(s, POLLIN, deadline)) {
		ssize_t r = recv(s, buf + got, sizeof buf - 1 - got, 0);
		if (r <= 0)
			break;
		got += r;
	}
	fwrite(buf, 1, got, stdout);
	close(s);
	return 0;
}

static int do_connclose(long n, int timeout, int srcport)
{
	static const char req[] = "GET / HTTP/1.0\r\nHost: netload\r\n\r\n";
	long ok = 0, timeouts = 0, errors = 0, i;
	double t0 = now_ms();
	const char *max = getenv("NETLOAD_MAX_MS");
	double stop = max ? t0 + atof(max) : 0;
	for (i = 0; i < n && (!stop || now_ms() < stop); i++) {
		double deadline = now_ms() + timeout;
		int s;
		/* The previous connection from SRCPORT may still be closing on our side. */
		while ((s = start_connect(srcport)) < 0 && (errno == EADDRNOTAVAIL || errno == EADDRINUSE) &&
		       now_ms() < deadline)
			usleep(1000);
		if (s < 0) {
			if (errors++ < 10)
				printf("connection %ld: socket/bind/connect: %s\n", i, strerror(errno));
			continue;
		}
		int ev = wait_fd(s, POLLOUT, deadline);
		int err = 0;
		socklen_t len = sizeof err;
		getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
		if (!ev) {
			struct sockaddr_in me;
			socklen_t ml = sizeof me;
			getsockname(s, (struct sockaddr *)&me, &ml);
			if (timeouts++ < 10)
				printf("connection %ld from port %d: no answer within %d ms\n", i,
				       ntohs(me.sin_port), timeout);
			close(s);
			continue;
		}
		if (err || send_all(s, req, sizeof req - 1, deadline) < 0) {
			if (errors++ < 10)
				printf("connection %ld: connect/send: %s\n", i, strerror(err ? err : errno));
			close(s);
			continue;
		}
		char buf[8192];
		int done = 0;
		while (wait_fd(s, POLLIN, deadline)) {
			ssize_t r = recv(s, buf, sizeof buf, 0);
			if (r == 0) {
				done = 1;
				break;
			}
			if (r < 0 && errno != EAGAIN)
				break;
		}
		if (done)
			ok++;
		else if (errors++ < 10)
			printf("connection %ld: the answer did not end with a close: %s\n", i,
			       strerror(errno));
		close(s);
	}
	printf("connclose %ld ok %ld timeouts %ld errors %ld ms %.0f done %ld\n", n, ok, timeouts,
	       errors, now_ms() - t0, i);
	return 0;
}

/* Reads one HTTP answer (headers, then Content-Length bytes) on s; 1 when it was a
 * whole 200. */
static int read_answer(int s, double deadline)
{
	char buf[16384];
	size_t got = 0;
	long need = -1;
	while (wait_fd(s, POLLIN, deadline)) {
		ssize_t r = recv(s, buf + got, sizeof buf - got, 0);
		if (r <= 0)
			return 0;
		got += r;
		if (need < 0) {
			char *end = memmem(buf, got, "\r\n\r\n", 4);
			if (!end)
				continue;
			char *cl = memmem(buf, end - buf, "Content-Length: ", 16);
			if (!cl || strncmp(buf, "HTTP/1.1 200", 12))
				return 0;
			need = (end + 4 - buf) + atol(cl + 16);
		}
		if ((long)got >= need)
			return (long)got == need;
		if (got == sizeof buf)
			return 0;
	}
	return 0;
}

/* One GET / on each live connection, all sent first, then all answers read. Marks
 * failed connections -1. Returns how many got a whole 200. */
static long get_round(int *fds, long n, double deadline)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: netload\r\n\r\n";
	for (long i = 0; i < n; i++)
		if (fds[i] >= 0 && send_all(fds[i], req, sizeof req - 1, deadline) < 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	long ok = 0;
	for (long i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		if (read_answer(fds[i], deadline)) {
			ok++;
		} else {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	return ok;
}

static int do_hold(long n, int seconds, int timeout)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)n + 16) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)n + 16 ? rl.rlim_max : (rlim_t)n + 16;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int *fds = calloc(n, sizeof *fds);
	if (!fds)
		return 1;
	double t0 = now_ms(), deadline = t0 + timeout;
	for (long i = 0; i < n; i++) {
		fds[i] = start_connect(0);
		if (fds[i] < 0 && (errno == EMFILE || errno == ENFILE)) {
			fprintf(stderr, "netload: out of descriptors at %ld\n", i);
			return 1;
		}
	}
	for (long i = 0; i < n; i++)
		if (fds[i] >= 0 && !(wait_fd(fds[i], POLLOUT, deadline) & POLLOUT)) {
			close(fds[i]);
			fds[i] = -1;
		}
	long first = get_round(fds, n, deadline);
	sleep(seconds);
	long second = get_round(fds, n, now_ms() + timeout);
	printf("hold %ld first %ld second %ld ms %.0f\n", n, first, second, now_ms() - t0);
	for (long i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: netload echo|connclose|hold HOST PORT ...\n");
		return 1;
	}
	peer.sin_family = AF_INET;
	peer.sin_port = htons(atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &peer.sin_addr) != 1) {
		fprintf(stderr, "netload: bad address %s\n", argv[2]);
		return 1;
	}
	setvbuf(stdout, 0, _IONBF, 0);
	if (!strcmp(argv[1], "echo") && argc == 6)
		return do_echo(argv[4], atoi(argv[5]));
	if (!strcmp(argv[1], "connclose") && argc >= 6)
		return do_connclose(atol(argv[4]), atoi(argv[5]), argc > 6 ? atoi(argv[6]) : 0);
	if (!strcmp(argv[1], "hold") && argc == 7)
		return do_hold(atol(argv[4]), atoi(argv[5]), atoi(argv[6]));
	fprintf(stderr, "netload: bad arguments\n");
	return 1;
}
