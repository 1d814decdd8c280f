/* BSD sockets over loopback: TCP (1 MiB echo, half close, non-blocking connect,
 * SO_REUSEADDR, epoll edge-triggered accept), UDP, AF_UNIX pairs and named sockets
 * (stream + datagram), options, sendfile, SIGPIPE, error paths. Loopback only. */
#include "harness.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

static volatile sig_atomic_t got_sig;
static void on_sig(int s)
{
	got_sig = s;
}

static struct sockaddr_in lo(int port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* A TCP listener on 127.0.0.1 with a free port; returns the fd, the port in *port. */
static int tcp_listener(int *port, int flags)
{
	int s = socket(AF_INET, SOCK_STREAM | flags, 0);
	if (s < 0)
		return -1;
	struct sockaddr_in a = lo(0);
	socklen_t l = sizeof a;
	if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16) ||
	    getsockname(s, (struct sockaddr *)&a, &l)) {
		close(s);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return s;
}

static int tcp_connect(int port)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = lo(port);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a)) {
		if (c >= 0)
			close(c);
		return -1;
	}
	return c;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

/* ---- TCP echo of 1 MiB: server thread, a writer thread and the reading main ---- */

#define ECHO_LEN (1 << 20)
static unsigned char *echo_out;

static void *echo_server(void *arg)
{
	int ls = *(int *)arg;
	int c = accept(ls, NULL, NULL);
	if (c < 0)
		return (void *)1;
	char buf[16384];
	for (;;) {
		ssize_t n = read(c, buf, sizeof buf);
		if (n <= 0)
			break;
		if (write_all(c, buf, n))
			break;
	}
	close(c);
	return NULL;
}

static void *echo_writer(void *arg)
{
	int c = *(int *)arg;
	size_t off = 0;
	while (off < ECHO_LEN) {
		size_t n = ECHO_LEN - off < 7000 ? ECHO_LEN - off : 7000;
		if (write_all(c, (char *)echo_out + off, n))
			return (void *)1;
		off += n;
	}
	shutdown(c, SHUT_WR);
	return NULL;
}

static void tcp_echo_1mib(void)
{
	int port, c;
	pthread_t srv, wr;
	echo_out = malloc(ECHO_LEN);
	unsigned char *in = malloc(ECHO_LEN + 1);
	REQUIRE(echo_out && in);
	for (size_t i = 0; i < ECHO_LEN; i++)
		echo_out[i] = (unsigned char)(i * 7 + i / 251);
	int ls = tcp_listener(&port, 0);
	REQUIRE(ls >= 0);
	REQUIRE(pthread_create(&srv, NULL, echo_server, &ls) == 0);
	REQUIRE((c = tcp_connect(port)) >= 0);
	struct sockaddr_in me, peer;
	socklen_t l = sizeof me;
	TEST_RES(getsockname(c, (struct sockaddr *)&me, &l), 0);
	TEST_RES(l, sizeof me);
	TEST_TRUE(me.sin_addr.s_addr == htonl(INADDR_LOOPBACK) && me.sin_port != 0);
	l = sizeof peer;
	TEST_RES(getpeername(c, (struct sockaddr *)&peer, &l), 0);
	TEST_RES(ntohs(peer.sin_port), port);
	REQUIRE(pthread_create(&wr, NULL, echo_writer, &c) == 0);
	size_t got = 0;
	for (;;) {
		ssize_t n = read(c, in + got, ECHO_LEN + 1 - got);
		if (n <= 0)
			break;
		got += n;
	}
	void *r1, *r2;
	pthread_join(wr, &r1);
	pthread_join(srv, &r2);
	TEST_RES(got, ECHO_LEN);
	TEST_RES(memcmp(in, echo_out, ECHO_LEN), 0);
	TEST_TRUE(r1 == NULL && r2 == NULL);
	close(c);
	close(ls);
	free(in);
	free(echo_out);
}

/* ---- names: getsockname/getpeername on both ends ---- */

static void tcp_names(void)
{
	int port, c, s;
	int ls = tcp_listener(&port, 0);
	REQUIRE(ls >= 0);
	struct sockaddr_in a;
	socklen_t l = sizeof a;
	TEST_ERRNO(getpeername(ls, (struct sockaddr *)&a, &l), ENOTCONN);
	REQUIRE((c = tcp_connect(port)) >= 0);
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	REQUIRE((s = accept(ls, (struct sockaddr *)&from, &fl)) >= 0);
	TEST_RES(fl, sizeof from);
	TEST_RES(from.sin_family, AF_INET);
	struct sockaddr_in cn;
	l = sizeof cn;
	TEST_RES(getsockname(c, (struct sockaddr *)&cn, &l), 0);
	TEST_RES(from.sin_port, cn.sin_port);
	struct sockaddr_in sn;
	l = sizeof sn;
	TEST_RES(getsockname(s, (struct sockaddr *)&sn, &l), 0);
	TEST_RES(ntohs(sn.sin_port), port);
	/* A short buffer gets a truncated address and the real length. */
	char tiny[4];
	l = sizeof tiny;
	TEST_RES(getsockname(s, (struct sockaddr *)tiny, &l), 0);
	TEST_RES(l, sizeof(struct sockaddr_in));
	close(s);
	close(c);
	close(ls);
}

/* ---- half close ---- */

static void tcp_half_close(void)
{
	int port, c, s;
	char buf[32];
	int ls = tcp_listener(&port, 0);
	REQUIRE(ls >= 0);
	REQUIRE((c = tcp_connect(port)) >= 0);
	REQUIRE((s = accept(ls, NULL, NULL)) >= 0);
	TEST_RES(write(c, "question", 8), 8);
	TEST_RES(shutdown(c, SHUT_WR), 0);
	TEST_RES(recv(s, buf, sizeof buf, MSG_WAITALL), 8);
	TEST_RES(read(s, buf, sizeof buf), 0);
	TEST_RES(write(s, "answer", 6), 6);
	TEST_RES(close(s), 0);
	TEST_RES(recv(c, buf, sizeof buf, MSG_WAITALL), 6);
	TEST_RES(memcmp(buf, "answer", 6), 0);
	TEST_RES(read(c, buf, sizeof buf), 0);
	TEST_ERRNO(send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
	close(c);
	close(ls);
}

/* ---- non-blocking connect to a closed port ---- */

static int closed_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = lo(0);
	socklen_t l = sizeof a;
	if (bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &l))
		return -1;
	close(s);
	return ntohs(a.sin_port);
}

static void tcp_nonblock_refused(void)
{
	int port = closed_port();
	REQUIRE(port > 0);
	struct sockaddr_in a = lo(port);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	REQUIRE(s >= 0);
	TEST_ERRNO(connect(s, (struct sockaddr *)&a, sizeof a), EINPROGRESS);
	struct pollfd p = { .fd = s, .events = POLLOUT };
	TEST_RES(poll(&p, 1, 5000), 1);
	TEST_TRUE(p.revents & (POLLOUT | POLLERR));
	int err = -1;
	socklen_t l = sizeof err;
	TEST_RES(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l), 0);
	TEST_RES(err, ECONNREFUSED);
	TEST_RES(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l), 0);
	TEST_RES(err, 0);
	close(s);
	/* The same outcome through a second connect. */
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	REQUIRE(s >= 0);
	TEST_ERRNO(connect(s, (struct sockaddr *)&a, sizeof a), EINPROGRESS);
	p.fd = s;
	TEST_RES(poll(&p, 1, 5000), 1);
	TEST_ERRNO(connect(s, (struct sockaddr *)&a, sizeof a), ECONNREFUSED);
	close(s);
	/* Blocking connect: refused at once. */
	s = socket(AF_INET, SOCK_STREAM, 0);
	TEST_ERRNO(connect(s, (struct sockaddr *)&a, sizeof a), ECONNREFUSED);
	close(s);
}

static void tcp_nonblock_connect_ok(void)
{
	int port;
	int ls = tcp_listener(&port, 0);
	REQUIRE(ls >= 0);
	struct sockaddr_in a = lo(port);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	/* EINPROGRESS even though the loopback peer answers at once. */
	TEST_ERRNO(connect(s, (struct sockaddr *)&a, sizeof a), EINPROGRESS);
	struct pollfd p = { .fd = s, .events = POLLOUT };
	TEST_RES(poll(&p, 1, 5000), 1);
	TEST_RES(p.revents, POLLOUT);
	int err = -1;
	socklen_t l = sizeof err;
	TEST_RES(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l), 0);
	TEST_RES(err, 0);
	/* The next connect reports the completed connection (0), later ones EISCONN. */
	TEST_RES(connect(s, (struct sockaddr *)&a, sizeof a), 0);
	TEST_ERRNO(connect(s, (struct sockaddr *)&a, sizeof a), EISCONN);
	int c = accept(ls, NULL, NULL);
	TEST_TRUE(c >= 0);
	char b;
	TEST_ERRNO(recv(s, &b, 1, 0), EAGAIN);
	close(c);
	close(s);
	close(ls);
}

/* ---- epoll edge-triggered accept loop ---- */

static void tcp_epoll_et_accept(void)
{
	int port, n = 0, c[4];
	int ls = tcp_listener(&port, SOCK_NONBLOCK);
	REQUIRE(ls >= 0);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	REQUIRE(ep >= 0);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.fd = ls };
	TEST_RES(epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev), 0);
	struct epoll_event out[4];
	TEST_RES(epoll_wait(ep, out, 4, 0), 0);
	REQUIRE((c[0] = tcp_connect(port)) >= 0);
	REQUIRE((c[1] = tcp_connect(port)) >= 0);
	REQUIRE((c[2] = tcp_connect(port)) >= 0);
	TEST_RES(epoll_wait(ep, out, 4, 2000), 1);
	TEST_RES(out[0].data.fd, ls);
	int last_err = 0;
	for (;;) {
		int s = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s < 0) {
			last_err = errno;
			break;
		}
		n++;
		close(s);
	}
	TEST_RES(last_err, EAGAIN);
	TEST_RES(n, 3);
	TEST_RES(epoll_wait(ep, out, 4, 0), 0);
	REQUIRE((c[3] = tcp_connect(port)) >= 0);
	TEST_RES(epoll_wait(ep, out, 4, 2000), 1);
	int s = accept(ls, NULL, NULL);
	TEST_TRUE(s >= 0);
	/* Data readiness on the connection, edge-triggered too. */
	struct epoll_event ev2 = { .events = EPOLLIN | EPOLLET, .data.fd = s };
	TEST_RES(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev2), 0);
	TEST_RES(write(c[3], "abc", 3), 3);
	TEST_RES(epoll_wait(ep, out, 4, 2000), 1);
	TEST_RES(out[0].data.fd, s);
	TEST_RES(epoll_wait(ep, out, 4, 0), 0);
	close(s);
	close(c[0]);
	close(c[1]);
	close(c[2]);
	close(c[3]);
	close(ep);
	close(ls);
}

/* ---- SO_REUSEADDR rebind after an active close ---- */

static void tcp_reuseaddr(void)
{
	int one = 1, port, c, s;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	TEST_RES(setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
	struct sockaddr_in a = lo(0);
	socklen_t l = sizeof a;
	REQUIRE(bind(ls, (struct sockaddr *)&a, sizeof a) == 0);
	REQUIRE(getsockname(ls, (struct sockaddr *)&a, &l) == 0);
	port = ntohs(a.sin_port);
	REQUIRE(listen(ls, 4) == 0);
	REQUIRE((c = tcp_connect(port)) >= 0);
	REQUIRE((s = accept(ls, NULL, NULL)) >= 0);
	/* The server closes first: its side of the connection lingers in TIME_WAIT. */
	close(s);
	char b;
	TEST_RES(read(c, &b, 1), 0);
	close(c);
	close(ls);
	int again = socket(AF_INET, SOCK_STREAM, 0);
	TEST_ERRNO(bind(again, (struct sockaddr *)&a, sizeof a), EADDRINUSE);
	close(again);
	again = socket(AF_INET, SOCK_STREAM, 0);
	TEST_RES(setsockopt(again, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
	TEST_RES(bind(again, (struct sockaddr *)&a, sizeof a), 0);
	TEST_RES(listen(again, 4), 0);
	TEST_TRUE((c = tcp_connect(port)) >= 0);
	close(c);
	/* SO_REUSEADDR never binds over a listener (asyncio counts on EADDRINUSE). */
	int third = socket(AF_INET, SOCK_STREAM, 0);
	TEST_RES(setsockopt(third, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
	TEST_ERRNO(bind(third, (struct sockaddr *)&a, sizeof a), EADDRINUSE);
	struct sockaddr_in any = a;
	any.sin_addr.s_addr = htonl(INADDR_ANY);
	TEST_ERRNO(bind(third, (struct sockaddr *)&any, sizeof any), EADDRINUSE);
	close(third);
	close(again);
}

/* ---- socket options ---- */

static void tcp_options(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	REQUIRE(s >= 0);
	int v = -1, one = 1;
	socklen_t l = sizeof v;
	TEST_RES(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l), 0);
	TEST_RES(v, SOCK_STREAM);
	TEST_RES(getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, &l), 0);
	TEST_RES(v, 0);
	TEST_RES(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
	TEST_RES(getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, &l), 0);
	TEST_TRUE(v != 0);
	TEST_RES(setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one), 0);
	TEST_RES(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one), 0);
	TEST_RES(getsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, &l), 0);
	TEST_TRUE(v != 0);
	TEST_RES(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
	TEST_RES(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &l), 0);
	TEST_TRUE(v != 0);
	int idle = 30;
	TEST_RES(setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle), 0);
	TEST_RES(getsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, &l), 0);
	TEST_RES(v, 30);
	TEST_RES(setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof idle), 0);
	TEST_RES(setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &idle, sizeof idle), 0);
	TEST_RES(setsockopt(s, IPPROTO_TCP, TCP_DEFER_ACCEPT, &idle, sizeof idle), 0);
	int qlen = 5;
	TEST_RES(setsockopt(s, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof qlen), 0);
	int sz = 65536;
	TEST_RES(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz), 0);
	TEST_RES(getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &l), 0);
	TEST_TRUE(v >= 65536);
	TEST_RES(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz), 0);
	TEST_RES(getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, &l), 0);
	TEST_TRUE(v >= 65536);
	struct linger lg = { 1, 5 }, lg2;
	socklen_t ll = sizeof lg2;
	TEST_RES(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
	TEST_RES(getsockopt(s, SOL_SOCKET, SO_LINGER, &lg2, &ll), 0);
	TEST_TRUE(lg2.l_onoff != 0 && lg2.l_linger == 5);
	TEST_ERRNO(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, 2), EINVAL);
	TEST_ERRNO(getsockopt(s, SOL_SOCKET, 12345, &v, &l), ENOPROTOOPT);
	TEST_ERRNO(setsockopt(s, 12345, 1, &one, sizeof one), ENOPROTOOPT);
	TEST_RES(getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &l), 0);
	TEST_RES(v, 0);
	TEST_RES(listen(s, 1), 0);
	TEST_RES(getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &l), 0);
	TEST_RES(v, 1);
	close(s);
	int s6 = socket(AF_INET6, SOCK_STREAM, 0);
	TEST_TRUE(s6 >= 0);
	TEST_RES(getsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l), 0);
	TEST_RES(v, 0);
	close(s6);
}

static void tcp_rcvtimeo(void)
{
	int port, c, s;
	int ls = tcp_listener(&port, 0);
	REQUIRE(ls >= 0);
	REQUIRE((c = tcp_connect(port)) >= 0);
	REQUIRE((s = accept(ls, NULL, NULL)) >= 0);
	struct timeval tv = { 0, 100000 };
	TEST_RES(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	struct timeval tv2;
	socklen_t l = sizeof tv2;
	TEST_RES(getsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv2, &l), 0);
	TEST_TRUE(tv2.tv_sec == 0 && tv2.tv_usec == 100000);
	char b;
	TEST_ERRNO(recv(c, &b, 1, 0), EAGAIN);
	/* FIONREAD / FIONBIO / MSG_PEEK / MSG_DONTWAIT */
	TEST_RES(write(s, "12345", 5), 5);
	struct pollfd p = { .fd = c, .events = POLLIN };
	TEST_RES(poll(&p, 1, 2000), 1);
	int n = -1;
	TEST_RES(ioctl(c, FIONREAD, &n), 0);
	TEST_RES(n, 5);
	char buf[8];
	TEST_RES(recv(c, buf, 2, MSG_PEEK), 2);
	TEST_RES(recv(c, buf, 8, 0), 5);
	TEST_ERRNO(recv(c, buf, 8, MSG_DONTWAIT), EAGAIN);
	int on = 1;
	TEST_RES(ioctl(c, FIONBIO, &on), 0);
	TEST_ERRNO(read(c, buf, 8), EAGAIN);
	TEST_TRUE(fcntl(c, F_GETFL) & O_NONBLOCK);
	close(s);
	close(c);
	close(ls);
}

/* ---- IPv6 dual stack ---- */

static void tcp_v6_dual_stack(void)
{
	int s6 = socket(AF_INET6, SOCK_STREAM, 0);
	REQUIRE(s6 >= 0);
	struct sockaddr_in6 a;
	memset(&a, 0, sizeof a);
	a.sin6_family = AF_INET6;
	a.sin6_addr = in6addr_any;
	socklen_t l = sizeof a;
	REQUIRE(bind(s6, (struct sockaddr *)&a, sizeof a) == 0);
	REQUIRE(listen(s6, 4) == 0);
	REQUIRE(getsockname(s6, (struct sockaddr *)&a, &l) == 0);
	TEST_RES(l, sizeof a);
	TEST_RES(a.sin6_family, AF_INET6);
	int c = tcp_connect(ntohs(a.sin6_port));
	TEST_TRUE(c >= 0);
	struct sockaddr_in6 from;
	l = sizeof from;
	int s = accept(s6, (struct sockaddr *)&from, &l);
	TEST_TRUE(s >= 0);
	TEST_RES(l, sizeof from);
	TEST_TRUE(IN6_IS_ADDR_V4MAPPED(&from.sin6_addr));
	TEST_RES(from.sin6_addr.s6_addr[15], 1);
	close(s);
	close(c);
	close(s6);
}

/* ---- UDP ---- */

static void udp_basic(void)
{
	int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
	REQUIRE(a >= 0 && b >= 0);
	struct sockaddr_in aa = lo(0), ba = lo(0), from;
	socklen_t l = sizeof aa;
	REQUIRE(bind(a, (struct sockaddr *)&aa, sizeof aa) == 0);
	REQUIRE(getsockname(a, (struct sockaddr *)&aa, &l) == 0);
	REQUIRE(bind(b, (struct sockaddr *)&ba, sizeof ba) == 0);
	REQUIRE(getsockname(b, (struct sockaddr *)&ba, &l) == 0);
	TEST_ERRNO(send(a, "x", 1, 0), EDESTADDRREQ);
	TEST_RES(sendto(b, "hello", 5, 0, (struct sockaddr *)&aa, sizeof aa), 5);
	TEST_RES(sendto(b, "world!", 6, 0, (struct sockaddr *)&aa, sizeof aa), 6);
	struct pollfd p = { .fd = a, .events = POLLIN };
	TEST_RES(poll(&p, 1, 2000), 1);
	int n = -1;
	TEST_RES(ioctl(a, FIONREAD, &n), 0);
	TEST_RES(n, 5);
	char buf[16];
	l = sizeof from;
	TEST_RES(recvfrom(a, buf, sizeof buf, 0, (struct sockaddr *)&from, &l), 5);
	TEST_RES(l, sizeof from);
	TEST_RES(from.sin_port, ba.sin_port);
	TEST_RES(memcmp(buf, "hello", 5), 0);
	/* Truncation is reported through recvmsg's MSG_TRUNC. */
	struct iovec iov = { buf, 3 };
	struct msghdr m;
	memset(&m, 0, sizeof m);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	TEST_RES(recvmsg(a, &m, 0), 3);
	TEST_TRUE(m.msg_flags & MSG_TRUNC);
	TEST_ERRNO(recv(a, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	/* Connected UDP. */
	TEST_RES(connect(b, (struct sockaddr *)&aa, sizeof aa), 0);
	l = sizeof from;
	TEST_RES(getpeername(b, (struct sockaddr *)&from, &l), 0);
	TEST_RES(from.sin_port, aa.sin_port);
	TEST_RES(send(b, "ping", 4, 0), 4);
	TEST_RES(recv(a, buf, sizeof buf, 0), 4);
	/* sendmsg with a gathered datagram. */
	struct iovec two[2] = { { "ab", 2 }, { "cde", 3 } };
	memset(&m, 0, sizeof m);
	m.msg_name = &aa;
	m.msg_namelen = sizeof aa;
	m.msg_iov = two;
	m.msg_iovlen = 2;
	TEST_RES(sendmsg(b, &m, 0), 5);
	TEST_RES(recv(a, buf, sizeof buf, 0), 5);
	TEST_RES(memcmp(buf, "abcde", 5), 0);
	int v;
	l = sizeof v;
	TEST_RES(getsockopt(a, SOL_SOCKET, SO_TYPE, &v, &l), 0);
	TEST_RES(v, SOCK_DGRAM);
	TEST_ERRNO(listen(a, 1), EOPNOTSUPP);
	close(a);
	close(b);
}

/* A port of this image no UDP socket is bound to. */
static int closed_udp_port(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = lo(0);
	socklen_t l = sizeof a;
	if (bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &l))
		return -1;
	close(s);
	return ntohs(a.sin_port);
}

/* A connected UDP socket learns that its peer's port is closed (Linux: the ICMP port
 * unreachable its datagram caused): the next send or recv fails with ECONNREFUSED, once;
 * SO_ERROR reports and clears it; poll shows POLLERR. An unconnected sender hears
 * nothing (a resolver's lookup with no name server waits for its timeout). */
static void udp_refused(void)
{
	int port = closed_udp_port();
	REQUIRE(port > 0);
	struct sockaddr_in a = lo(port);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	REQUIRE(s >= 0);
	TEST_RES(connect(s, (struct sockaddr *)&a, sizeof a), 0);
	TEST_RES(send(s, "x", 1, 0), 1);
	struct pollfd p = { .fd = s, .events = POLLIN };
	TEST_RES(poll(&p, 1, 2000), 1);
	TEST_RES(p.revents, POLLERR);
	char buf[4];
	TEST_ERRNO(recv(s, buf, sizeof buf, MSG_DONTWAIT), ECONNREFUSED);
	TEST_ERRNO(recv(s, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	TEST_RES(send(s, "x", 1, 0), 1);
	TEST_RES(poll(&p, 1, 2000), 1);
	TEST_ERRNO(send(s, "x", 1, 0), ECONNREFUSED);
	TEST_RES(send(s, "x", 1, 0), 1);
	TEST_RES(poll(&p, 1, 2000), 1);
	int e = -1;
	socklen_t l = sizeof e;
	TEST_RES(getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l), 0);
	TEST_RES(e, ECONNREFUSED);
	TEST_RES(getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l), 0);
	TEST_RES(e, 0);
	/* A blocking receive ends with the error (its timeout is the way out). */
	struct timeval tv = { 2, 0 };
	REQUIRE(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	TEST_RES(write(s, "x", 1), 1);
	TEST_ERRNO(read(s, buf, sizeof buf), ECONNREFUSED);
	/* Unconnected: the datagram is dropped silently. */
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	REQUIRE(u >= 0);
	TEST_RES(sendto(u, "x", 1, 0, (struct sockaddr *)&a, sizeof a), 1);
	struct pollfd pu = { .fd = u, .events = POLLIN };
	TEST_RES(poll(&pu, 1, 200), 0);
	TEST_ERRNO(recv(u, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	/* Once a socket is bound to the port, the datagram arrives and nothing is refused. */
	struct sockaddr_in b = lo(port);
	int r = socket(AF_INET, SOCK_DGRAM, 0);
	REQUIRE(r >= 0 && bind(r, (struct sockaddr *)&b, sizeof b) == 0);
	TEST_RES(send(s, "y", 1, 0), 1);
	TEST_RES(recv(r, buf, sizeof buf, 0), 1);
	TEST_RES(poll(&p, 1, 100), 0);
	close(r);
	close(u);
	close(s);
}

/* ---- AF_UNIX pairs ---- */

static void unix_pairs(void)
{
	int sv[2];
	char buf[32];
	TEST_RES(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	TEST_TRUE(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
	TEST_RES(write(sv[0], "abc", 3), 3);
	TEST_RES(write(sv[0], "def", 3), 3);
	int n = -1;
	TEST_RES(ioctl(sv[1], FIONREAD, &n), 0);
	TEST_RES(n, 6);
	TEST_RES(read(sv[1], buf, sizeof buf), 6);
	TEST_RES(write(sv[1], "back", 4), 4);
	TEST_RES(read(sv[0], buf, sizeof buf), 4);
	struct stat st;
	TEST_RES(fstat(sv[0], &st), 0);
	TEST_TRUE(S_ISSOCK(st.st_mode));
	struct sockaddr_un un;
	socklen_t l = sizeof un;
	TEST_RES(getpeername(sv[0], (struct sockaddr *)&un, &l), 0);
	TEST_RES(l, sizeof(sa_family_t));
	TEST_RES(close(sv[1]), 0);
	TEST_RES(read(sv[0], buf, sizeof buf), 0);
	TEST_ERRNO(send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
	close(sv[0]);

	/* Datagram pairs keep message boundaries. */
	TEST_RES(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv), 0);
	TEST_RES(send(sv[0], "one", 3, 0), 3);
	TEST_RES(send(sv[0], "second", 6, 0), 6);
	TEST_RES(send(sv[0], "", 0, 0), 0);
	TEST_RES(recv(sv[1], buf, sizeof buf, 0), 3);
	TEST_RES(recv(sv[1], buf, sizeof buf, 0), 6);
	TEST_RES(recv(sv[1], buf, sizeof buf, 0), 0);
	TEST_ERRNO(recv(sv[1], buf, sizeof buf, 0), EAGAIN);
	close(sv[0]);
	close(sv[1]);
	TEST_ERRNO(socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP);
}

/* SIGPIPE on a stream whose peer is gone, unless MSG_NOSIGNAL. */
static void unix_sigpipe(void)
{
	int sv[2];
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sigemptyset(&sa.sa_mask);
	TEST_RES(sigaction(SIGPIPE, &sa, &old), 0);
	TEST_RES(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	got_sig = 0;
	TEST_ERRNO(send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
	TEST_RES(got_sig, 0);
	TEST_ERRNO(write(sv[0], "x", 1), EPIPE);
	TEST_RES(got_sig, SIGPIPE);
	close(sv[0]);
	sigaction(SIGPIPE, &old, NULL);
}

/* MSG_WAITALL collects several writes. */
static void *slow_writer(void *arg)
{
	int fd = *(int *)arg;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	for (int i = 0; i < 3; i++) {
		nanosleep(&ts, NULL);
		if (write(fd, "xyz", 3) != 3)
			return (void *)1;
	}
	return NULL;
}

static void unix_waitall(void)
{
	int sv[2];
	pthread_t t;
	char buf[16];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(pthread_create(&t, NULL, slow_writer, &sv[0]) == 0);
	TEST_RES(recv(sv[1], buf, 9, MSG_WAITALL), 9);
	TEST_RES(memcmp(buf, "xyzxyzxyz", 9), 0);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
}

/* ---- AF_UNIX named sockets ---- */

static struct sockaddr_un un_addr(const char *path, socklen_t *len)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	strcpy(a.sun_path, path);
	*len = offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
	return a;
}

static void unix_named_stream(void)
{
	socklen_t al;
	struct sockaddr_un a = un_addr("srv.sock", &al);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	REQUIRE(ls >= 0);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	TEST_ERRNO(connect(c, (struct sockaddr *)&a, al), ENOENT);
	TEST_RES(bind(ls, (struct sockaddr *)&a, al), 0);
	int dup = socket(AF_UNIX, SOCK_STREAM, 0);
	TEST_ERRNO(bind(dup, (struct sockaddr *)&a, al), EADDRINUSE);
	close(dup);
	TEST_ERRNO(connect(c, (struct sockaddr *)&a, al), ECONNREFUSED);
	TEST_RES(listen(ls, 4), 0);
	TEST_RES(connect(c, (struct sockaddr *)&a, al), 0);
	TEST_ERRNO(connect(c, (struct sockaddr *)&a, al), EISCONN);
	struct sockaddr_un from;
	socklen_t fl = sizeof from;
	int s = accept(ls, (struct sockaddr *)&from, &fl);
	TEST_TRUE(s >= 0);
	TEST_RES(fl, sizeof(sa_family_t));
	struct sockaddr_un nm;
	socklen_t nl = sizeof nm;
	TEST_RES(getsockname(ls, (struct sockaddr *)&nm, &nl), 0);
	TEST_RES(nl, al);
	TEST_RES(strcmp(nm.sun_path, "srv.sock"), 0);
	nl = sizeof nm;
	TEST_RES(getpeername(c, (struct sockaddr *)&nm, &nl), 0);
	TEST_RES(strcmp(nm.sun_path, "srv.sock"), 0);
	TEST_RES(write(c, "hi", 2), 2);
	char buf[8];
	TEST_RES(read(s, buf, sizeof buf), 2);
	TEST_RES(shutdown(c, SHUT_WR), 0);
	TEST_RES(read(s, buf, sizeof buf), 0);
	TEST_RES(write(s, "yo", 2), 2);
	TEST_RES(read(c, buf, sizeof buf), 2);
	close(s);
	close(c);
	close(ls);
	unlink("srv.sock");

	/* A path that is an ordinary file is in use. */
	TEST_RES(ukt_write_file("plain", "x"), 0);
	struct sockaddr_un p = un_addr("plain", &al);
	int x = socket(AF_UNIX, SOCK_STREAM, 0);
	TEST_ERRNO(bind(x, (struct sockaddr *)&p, al), EADDRINUSE);
	close(x);

	/* Abstract names. */
	struct sockaddr_un ab;
	memset(&ab, 0, sizeof ab);
	ab.sun_family = AF_UNIX;
	snprintf(ab.sun_path + 1, sizeof ab.sun_path - 1, "ukt-abstract-%d", (int)getpid());
	socklen_t abl = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ab.sun_path + 1);
	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	TEST_RES(bind(ls, (struct sockaddr *)&ab, abl), 0);
	TEST_RES(listen(ls, 1), 0);
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	TEST_RES(connect(c, (struct sockaddr *)&ab, abl), 0);
	struct pollfd pf = { .fd = ls, .events = POLLIN };
	TEST_RES(poll(&pf, 1, 1000), 1);
	s = accept(ls, NULL, NULL);
	TEST_TRUE(s >= 0);
	close(s);
	close(c);
	close(ls);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	TEST_ERRNO(connect(c, (struct sockaddr *)&ab, abl), ECONNREFUSED);
	close(c);
}

static void unix_named_dgram(void)
{
	socklen_t l1, l2;
	struct sockaddr_un a1 = un_addr("d1", &l1), a2 = un_addr("d2", &l2);
	int s1 = socket(AF_UNIX, SOCK_DGRAM, 0), s2 = socket(AF_UNIX, SOCK_DGRAM, 0);
	REQUIRE(s1 >= 0 && s2 >= 0);
	TEST_RES(bind(s1, (struct sockaddr *)&a1, l1), 0);
	TEST_RES(bind(s2, (struct sockaddr *)&a2, l2), 0);
	TEST_RES(sendto(s2, "dgram", 5, 0, (struct sockaddr *)&a1, l1), 5);
	char buf[16];
	struct sockaddr_un from;
	socklen_t fl = sizeof from;
	TEST_RES(recvfrom(s1, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl), 5);
	TEST_RES(fl, l2);
	TEST_RES(strcmp(from.sun_path, "d2"), 0);
	TEST_RES(connect(s1, (struct sockaddr *)&a2, l2), 0);
	TEST_RES(send(s1, "back", 4, 0), 4);
	TEST_RES(recv(s2, buf, sizeof buf, 0), 4);
	int s3 = socket(AF_UNIX, SOCK_DGRAM, 0);
	socklen_t l3;
	struct sockaddr_un none = un_addr("nobody", &l3);
	TEST_ERRNO(sendto(s3, "x", 1, 0, (struct sockaddr *)&none, l3), ENOENT);
	TEST_ERRNO(send(s3, "x", 1, 0), ENOTCONN);
	close(s3);
	close(s1);
	close(s2);
	unlink("d1");
	unlink("d2");
}

/* ---- sendfile from a file into a socket ---- */

static void *drain(void *arg)
{
	int fd = *(int *)arg;
	static char in[300000];
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, in + got, sizeof in - got);
		if (n <= 0)
			break;
		got += n;
	}
	for (size_t i = 0; i < got; i++)
		if (in[i] != (char)(i % 251))
			return (void *)-1;
	return (void *)got;
}

static void sendfile_to_socket(void)
{
	static char data[200000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (char)(i % 251);
	int f = open("file", O_RDWR | O_CREAT | O_TRUNC, 0644);
	REQUIRE(f >= 0);
	REQUIRE(write(f, data, sizeof data) == sizeof data);
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, drain, &sv[1]) == 0);
	off_t off = 0;
	TEST_RES(sendfile(sv[0], f, &off, sizeof data), sizeof data);
	TEST_RES(off, sizeof data);
	close(sv[0]);
	void *got;
	pthread_join(t, &got);
	TEST_RES((long)got, (long)sizeof data);
	close(sv[1]);
	close(f);
}

/* ---- error paths ---- */

static void socket_errors(void)
{
	int p[2];
	REQUIRE(pipe(p) == 0);
	struct sockaddr_in a = lo(0);
	socklen_t l = sizeof a;
	TEST_ERRNO(socket(12345, SOCK_STREAM, 0), EAFNOSUPPORT);
	TEST_ERRNO(socket(AF_INET, 77, 0), EINVAL);
	TEST_ERRNO(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
	TEST_ERRNO(bind(-1, (struct sockaddr *)&a, sizeof a), EBADF);
	TEST_ERRNO(bind(p[0], (struct sockaddr *)&a, sizeof a), ENOTSOCK);
	TEST_ERRNO(getsockname(p[0], (struct sockaddr *)&a, &l), ENOTSOCK);
	TEST_ERRNO(listen(p[0], 1), ENOTSOCK);
	TEST_ERRNO(accept(p[0], NULL, NULL), ENOTSOCK);
	TEST_ERRNO(send(p[1], "x", 1, 0), ENOTSOCK);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	REQUIRE(s >= 0);
	TEST_ERRNO(bind(s, (struct sockaddr *)&a, 3), EINVAL);
	TEST_ERRNO(syscall(SYS_bind, s, (void *)8, sizeof a), EFAULT);
	TEST_ERRNO(syscall(SYS_getsockname, s, (void *)8, (void *)8), EFAULT);
	TEST_ERRNO(getpeername(s, (struct sockaddr *)&a, &l), ENOTCONN);
	char b;
	TEST_ERRNO(recv(s, &b, 1, 0), ENOTCONN);
	TEST_ERRNO(shutdown(s, SHUT_RDWR), ENOTCONN);
	TEST_ERRNO(accept(s, NULL, NULL), EINVAL);
	TEST_ERRNO(shutdown(s, 7), EINVAL);
	TEST_RES(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	TEST_ERRNO(bind(s, (struct sockaddr *)&a, sizeof a), EINVAL);
	l = sizeof a;
	REQUIRE(getsockname(s, (struct sockaddr *)&a, &l) == 0);
	int s2 = socket(AF_INET, SOCK_STREAM, 0);
	TEST_ERRNO(bind(s2, (struct sockaddr *)&a, sizeof a), EADDRINUSE);
	struct sockaddr_in6 a6;
	memset(&a6, 0, sizeof a6);
	a6.sin6_family = AF_INET6;
	TEST_ERRNO(connect(s2, (struct sockaddr *)&a6, sizeof a6), EAFNOSUPPORT);
	TEST_ERRNO(accept4(s, NULL, NULL, 0x1234), EINVAL);
	close(s2);
	close(s);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	ukt_setup();
	signal(SIGPIPE, SIG_IGN);
	RUN(tcp_echo_1mib);
	RUN(tcp_names);
	RUN(tcp_half_close);
	RUN(tcp_nonblock_refused);
	RUN(tcp_nonblock_connect_ok);
	RUN(tcp_epoll_et_accept);
	RUN(tcp_reuseaddr);
	RUN(tcp_options);
	RUN(tcp_rcvtimeo);
	RUN(tcp_v6_dual_stack);
	RUN(udp_basic);
	RUN(udp_refused);
	RUN(unix_pairs);
	RUN(unix_sigpipe);
	RUN(unix_waitall);
	RUN(unix_named_stream);
	RUN(unix_named_dgram);
	RUN(sendfile_to_socket);
	RUN(socket_errors);
	return ukt_finish();
}
