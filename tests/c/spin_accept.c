/* A server that never blocks: it spins on poll() with a zero timeout over its
 * listening socket, accepts one connection, reads a line with MSG_DONTWAIT, answers
 * "echo: <line>", then spins on poll(.., 0) again until the peer closes. Every step
 * needs the network to make progress while the program never waits: the SYN and the
 * handshake's ACK, the request, the answer going out, the peer's FIN.
 *
 *   spin_accept PORT
 *
 * Prints "listening on PORT", then "served N bytes after P polls"; exits 0, or 2 when
 * nothing happened within 60 s (the clock is read every 4096 polls, so the spin stays
 * a spin of poll() calls). */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static long polls;
static double start;

/* One zero-timeout poll of fd for `events`; exits 2 after 60 s of spinning. */
static int spin_poll(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r = poll(&p, 1, 0);
	polls++;
	if (r < 0) {
		perror("poll");
		exit(3);
	}
	if ((polls & 0xfff) == 0 && now() - start > 60) {
		printf("timeout after %ld polls\n", polls);
		exit(2);
	}
	return r > 0 ? p.revents : 0;
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s < 0) {
		perror("socket");
		return 10;
	}
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 16) < 0) {
		perror("bind/listen");
		return 11;
	}
	printf("listening on %d\n", port);
	fflush(stdout);
	start = now();
	while (!(spin_poll(s, POLLIN) & POLLIN))
		;
	int c = accept4(s, 0, 0, SOCK_NONBLOCK);
	if (c < 0) {
		perror("accept4");
		return 13;
	}
	char buf[512];
	size_t n = 0;
	while (n < sizeof buf - 1 && !memchr(buf, '\n', n)) {
		ssize_t r = recv(c, buf + n, sizeof buf - 1 - n, MSG_DONTWAIT);
		if (r > 0)
			n += r;
		else if (r == 0)
			break;
		else if (errno == EAGAIN)
			spin_poll(c, POLLIN);
		else {
			perror("recv");
			return 14;
		}
	}
	char out[600];
	int m = snprintf(out, sizeof out, "echo: %.*s", (int)n, buf);
	if (send(c, out, m, MSG_DONTWAIT) != m) {
		perror("send");
		return 15;
	}
	/* The answer must leave and the peer's FIN arrive while we keep spinning. */
	for (;;) {
		if (spin_poll(c, POLLIN) & (POLLIN | POLLHUP)) {
			ssize_t r = recv(c, buf, sizeof buf, MSG_DONTWAIT);
			if (r == 0)
				break;
			if (r < 0 && errno != EAGAIN) {
				perror("recv");
				return 16;
			}
		}
	}
	close(c);
	close(s);
	printf("served %zu bytes after %ld polls\n", n, polls);
	return 0;
}
