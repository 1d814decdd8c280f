/* Passing open files over AF_UNIX sockets: sendmsg/recvmsg with SCM_RIGHTS (man 7 unix,
 * man 3 cmsg). Stream and datagram sockets, socketpair and named ones, the control
 * buffer's edge cases, limits, and a descriptor passed from a forked child. */
#include "harness.h"

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#define MAXFDS 300

/* sendmsg of `len` bytes with one SCM_RIGHTS message holding `n` descriptors. */
static ssize_t send_fds(int s, const int *fds, int n, const char *data, size_t len)
{
	static union {
		char buf[CMSG_SPACE(MAXFDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {(void *)data, len};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (n > 0) {
		memset(&u, 0, sizeof u);
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(n * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	return sendmsg(s, &m, MSG_NOSIGNAL);
}

/* What one recvmsg returned. */
struct got {
	ssize_t n;
	int nfds;
	int fds[MAXFDS];
	int flags;
	size_t controllen;
	size_t cmsg_len;
};

/* recvmsg into `buf` with a control buffer of `ctl` bytes (none when 0). */
static struct got recv_fds(int s, char *buf, size_t len, size_t ctl, int flags)
{
	static union {
		char buf[CMSG_SPACE(MAXFDS * sizeof(int)) + 64];
		struct cmsghdr align;
	} u;
	struct got g = {0};
	struct iovec iov = {buf, len};
	struct msghdr m = {0};
	memset(&u, 0, sizeof u);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl ? u.buf : NULL;
	m.msg_controllen = ctl;
	g.n = recvmsg(s, &m, flags);
	g.flags = m.msg_flags;
	g.controllen = m.msg_controllen;
	if (g.n < 0)
		return g;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
		g.cmsg_len = c->cmsg_len;
		g.nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(g.fds, CMSG_DATA(c), g.nfds * sizeof(int));
	}
	return g;
}

/* The lowest descriptor open() would get now. */
static int lowest_free(void)
{
	int fd = dup(0);
	close(fd);
	return fd;
}

static void stream_basics(void)
{
	int sv[2], p[2];
	char buf[16] = {0};
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(pipe(p) == 0);
	TEST_RES(send_fds(sv[0], &p[1], 1, "x", 1), 1);
	/* Taken at sendmsg: closing the sender's descriptor does not matter. */
	TEST_RES(close(p[1]), 0);
	int want = lowest_free();
	struct got g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.n, 1);
	TEST_RES(buf[0], 'x');
	TEST_RES(g.nfds, 1);
	TEST_RES(g.fds[0], want);
	TEST_RES(g.flags & MSG_CTRUNC, 0);
	TEST_RES(g.cmsg_len, CMSG_LEN(sizeof(int)));
	TEST_RES(g.controllen, CMSG_SPACE(sizeof(int)));
	TEST_RES(fcntl(g.fds[0], F_GETFD), 0);
	/* The received descriptor is the pipe's write end. */
	TEST_RES(write(g.fds[0], "hi", 2), 2);
	TEST_RES(read(p[0], buf, sizeof buf), 2);
	TEST_RES(memcmp(buf, "hi", 2), 0);
	TEST_RES(close(g.fds[0]), 0);
	TEST_RES(read(p[0], buf, sizeof buf), 0);
	/* No files: no control message, msg_controllen 0. */
	TEST_RES(send(sv[0], "y", 1, 0), 1);
	g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.n, 1);
	TEST_RES(g.controllen, 0);
	TEST_RES(g.flags, 0);
	close(p[0]);
	close(sv[0]);
	close(sv[1]);
}

static void cloexec(void)
{
	int sv[2];
	char buf[4];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	TEST_RES(send_fds(sv[0], &sv[0], 1, "a", 1), 1);
	struct got g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), MSG_CMSG_CLOEXEC);
	TEST_RES(g.nfds, 1);
	TEST_RES(fcntl(g.fds[0], F_GETFD), FD_CLOEXEC);
	close(g.fds[0]);
	close(sv[0]);
	close(sv[1]);
}

static void regular_file_shares_offset(void)
{
	int sv[2];
	char buf[8];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	REQUIRE(fd >= 0);
	TEST_RES(write(fd, "abc", 3), 3);
	TEST_RES(send_fds(sv[0], &fd, 1, "f", 1), 1);
	struct got g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.nfds, 1);
	/* One open file description: the offset is shared. */
	TEST_RES(lseek(g.fds[0], 0, SEEK_CUR), 3);
	TEST_RES(write(g.fds[0], "de", 2), 2);
	TEST_RES(lseek(fd, 0, SEEK_CUR), 5);
	TEST_RES(lseek(fd, 1, SEEK_SET), 1);
	TEST_RES(read(g.fds[0], buf, 2), 2);
	TEST_RES(memcmp(buf, "bc", 2), 0);
	TEST_RES(fcntl(g.fds[0], F_GETFL) & O_ACCMODE, O_RDWR);
	close(g.fds[0]);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

static void stream_boundaries(void)
{
	int sv[2], a[2], b[2];
	char buf[16];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(pipe(a) == 0);
	REQUIRE(pipe(b) == 0);
	/* Two writes with files: each read brings one batch with its own bytes. */
	TEST_RES(send_fds(sv[0], &a[0], 1, "ab", 2), 2);
	TEST_RES(send_fds(sv[0], &b[0], 1, "cd", 2), 2);
	struct got g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.n, 2);
	TEST_RES(memcmp(buf, "ab", 2), 0);
	TEST_RES(g.nfds, 1);
	close(g.fds[0]);
	g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.n, 2);
	TEST_RES(memcmp(buf, "cd", 2), 0);
	TEST_RES(g.nfds, 1);
	close(g.fds[0]);
	/* Files then plain bytes: the read ends with the files' bytes. */
	TEST_RES(send_fds(sv[0], &a[0], 1, "ef", 2), 2);
	TEST_RES(send(sv[0], "gh", 2, 0), 2);
	g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.n, 2);
	TEST_RES(g.nfds, 1);
	close(g.fds[0]);
	g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.n, 2);
	TEST_RES(g.nfds, 0);
	/* Plain bytes then files: glued into one read that brings the files. */
	TEST_RES(send(sv[0], "ij", 2, 0), 2);
	TEST_RES(send_fds(sv[0], &a[0], 1, "kl", 2), 2);
	g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.n, 4);
	TEST_RES(memcmp(buf, "ijkl", 4), 0);
	TEST_RES(g.nfds, 1);
	close(g.fds[0]);
	/* A short read takes the files with the first part; the rest comes without. */
	TEST_RES(send_fds(sv[0], &a[0], 1, "mnop", 4), 4);
	g = recv_fds(sv[1], buf, 1, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.n, 1);
	TEST_RES(g.nfds, 1);
	close(g.fds[0]);
	g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.n, 3);
	TEST_RES(g.nfds, 0);
	/* MSG_PEEK: new descriptors, and the files stay queued. */
	TEST_RES(send_fds(sv[0], &a[0], 1, "q", 1), 1);
	g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), MSG_PEEK);
	TEST_RES(g.n, 1);
	TEST_RES(g.nfds, 1);
	close(g.fds[0]);
	g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.n, 1);
	TEST_RES(g.nfds, 1);
	close(g.fds[0]);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	close(sv[0]);
	close(sv[1]);
}

static void truncated_control(void)
{
	int sv[2], p[2], other[2];
	char buf[16];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(pipe(p) == 0);
	REQUIRE(pipe(other) == 0);
	/* Room for one descriptor: the second is closed, MSG_CTRUNC. */
	int two[2] = {other[0], p[1]};
	TEST_RES(send_fds(sv[0], two, 2, "t", 1), 1);
	TEST_RES(close(p[1]), 0);
	struct got g = recv_fds(sv[1], buf, sizeof buf, CMSG_LEN(sizeof(int)), 0);
	TEST_RES(g.n, 1);
	TEST_RES(g.nfds, 1);
	TEST_RES(g.flags & MSG_CTRUNC, MSG_CTRUNC);
	TEST_RES(g.controllen, CMSG_LEN(sizeof(int)));
	TEST_RES(read(p[0], buf, sizeof buf), 0);
	close(g.fds[0]);
	close(p[0]);
	/* No control buffer at all. */
	REQUIRE(pipe(p) == 0);
	TEST_RES(send_fds(sv[0], &p[1], 1, "u", 1), 1);
	TEST_RES(close(p[1]), 0);
	g = recv_fds(sv[1], buf, sizeof buf, 0, 0);
	TEST_RES(g.n, 1);
	TEST_RES(g.flags & MSG_CTRUNC, MSG_CTRUNC);
	TEST_RES(g.controllen, 0);
	TEST_RES(read(p[0], buf, sizeof buf), 0);
	close(p[0]);
	/* A buffer smaller than a header. */
	REQUIRE(pipe(p) == 0);
	TEST_RES(send_fds(sv[0], &p[1], 1, "v", 1), 1);
	TEST_RES(close(p[1]), 0);
	g = recv_fds(sv[1], buf, sizeof buf, 8, 0);
	TEST_RES(g.n, 1);
	TEST_RES(g.flags & MSG_CTRUNC, MSG_CTRUNC);
	TEST_RES(g.controllen, 0);
	TEST_RES(read(p[0], buf, sizeof buf), 0);
	close(p[0]);
	/* A plain read of the bytes drops (closes) the files. */
	REQUIRE(pipe(p) == 0);
	TEST_RES(send_fds(sv[0], &p[1], 1, "w", 1), 1);
	TEST_RES(close(p[1]), 0);
	TEST_RES(read(sv[1], buf, sizeof buf), 1);
	TEST_RES(read(p[0], buf, sizeof buf), 0);
	close(p[0]);
	close(other[0]);
	close(other[1]);
	close(sv[0]);
	close(sv[1]);
}

static void several_messages_and_limits(void)
{
	int sv[2], p[2];
	char buf[16];
	static int many[MAXFDS];
	union {
		char buf[2 * CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(pipe(p) == 0);
	/* Two SCM_RIGHTS messages in one sendmsg arrive as one of two descriptors. */
	memset(&u, 0, sizeof u);
	struct iovec iov = {"m", 1};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof u.buf;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[0], sizeof(int));
	c = CMSG_NXTHDR(&m, c);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[1], sizeof(int));
	TEST_RES(sendmsg(sv[0], &m, 0), 1);
	struct got g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(4 * sizeof(int)), 0);
	TEST_RES(g.nfds, 2);
	TEST_RES(g.cmsg_len, CMSG_LEN(2 * sizeof(int)));
	TEST_RES(write(g.fds[1], "z", 1), 1);
	TEST_RES(read(g.fds[0], buf, 1), 1);
	close(g.fds[0]);
	close(g.fds[1]);
	/* A bad descriptor in the list: EBADF, nothing sent. */
	int bad[2] = {p[0], lowest_free()};
	TEST_ERRNO(send_fds(sv[0], bad, 2, "b", 1), EBADF);
	/* A header shorter than itself: EINVAL. */
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_len = sizeof(struct cmsghdr) - 1;
	TEST_ERRNO(sendmsg(sv[0], &m, 0), EINVAL);
	/* Many descriptors in one message (SCM_MAX_FD is 253, but the reference kernel
	 * refuses control buffers over 1 KiB with ENOMEM, so 252: 1024 bytes). */
	for (int i = 0; i < MAXFDS; i++)
		many[i] = p[0];
	TEST_RES(send_fds(sv[0], many, 252, "c", 1), 1);
	g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(MAXFDS * sizeof(int)), 0);
	TEST_RES(g.n, 1);
	TEST_RES(g.nfds, 252);
	TEST_RES(g.flags & MSG_CTRUNC, 0);
	for (int i = 0; i < g.nfds; i++)
		close(g.fds[i]);
	/* Nothing else was queued. */
	TEST_ERRNO(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void rlimit_nofile(void)
{
	int sv[2], p[2];
	char buf[16];
	struct rlimit old, lim;
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(pipe(p) == 0);
	REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
	TEST_RES(send_fds(sv[0], &p[1], 1, "r", 1), 1);
	TEST_RES(close(p[1]), 0);
	/* No descriptor free: the file is closed and MSG_CTRUNC says so. */
	lim = old;
	lim.rlim_cur = lowest_free();
	TEST_RES(setrlimit(RLIMIT_NOFILE, &lim), 0);
	struct got g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(setrlimit(RLIMIT_NOFILE, &old), 0);
	TEST_RES(g.n, 1);
	TEST_RES(g.nfds, 0);
	TEST_RES(g.flags & MSG_CTRUNC, MSG_CTRUNC);
	TEST_RES(read(p[0], buf, sizeof buf), 0);
	close(p[0]);
	close(sv[0]);
	close(sv[1]);
}

static void datagrams(void)
{
	int sv[2], p[2];
	char buf[16];
	REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	REQUIRE(pipe(p) == 0);
	TEST_RES(send_fds(sv[0], &p[0], 1, "one", 3), 3);
	TEST_RES(send_fds(sv[0], &p[1], 1, "two", 3), 3);
	struct got g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.n, 3);
	TEST_RES(memcmp(buf, "one", 3), 0);
	TEST_RES(g.nfds, 1);
	int r = g.fds[0];
	g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.n, 3);
	TEST_RES(memcmp(buf, "two", 3), 0);
	TEST_RES(g.nfds, 1);
	TEST_RES(write(g.fds[0], "d", 1), 1);
	TEST_RES(read(r, buf, 1), 1);
	TEST_RES(buf[0], 'd');
	close(g.fds[0]);
	close(r);
	/* An empty datagram still carries its files. */
	TEST_RES(send_fds(sv[0], &p[0], 1, "", 0), 0);
	g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.n, 0);
	TEST_RES(g.nfds, 1);
	close(g.fds[0]);
	/* A datagram read by recv(): its files are closed. */
	TEST_RES(send_fds(sv[0], &p[1], 1, "x", 1), 1);
	TEST_RES(close(p[1]), 0);
	TEST_RES(recv(sv[1], buf, sizeof buf, 0), 1);
	TEST_RES(read(p[0], buf, sizeof buf), 0);
	close(p[0]);
	close(sv[0]);
	close(sv[1]);
}

static void named_sockets(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct sockaddr_un d = {.sun_family = AF_UNIX};
	char buf[16];
	int p[2];
	REQUIRE(pipe(p) == 0);
	strcpy(a.sun_path, "stream.sock");
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	REQUIRE(l >= 0);
	REQUIRE(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
	REQUIRE(listen(l, 4) == 0);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	REQUIRE(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
	int s = accept(l, NULL, NULL);
	REQUIRE(s >= 0);
	TEST_RES(send_fds(c, &p[1], 1, "n", 1), 1);
	struct got g = recv_fds(s, buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.nfds, 1);
	TEST_RES(write(g.fds[0], "s", 1), 1);
	TEST_RES(read(p[0], buf, 1), 1);
	close(g.fds[0]);
	/* The accepted side sends back. */
	TEST_RES(send_fds(s, &p[0], 1, "m", 1), 1);
	g = recv_fds(c, buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.nfds, 1);
	close(g.fds[0]);
	/* A bound datagram socket, addressed with sendmsg's name. */
	strcpy(d.sun_path, "dgram.sock");
	int r = socket(AF_UNIX, SOCK_DGRAM, 0);
	REQUIRE(bind(r, (struct sockaddr *)&d, sizeof d) == 0);
	int w = socket(AF_UNIX, SOCK_DGRAM, 0);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof u);
	struct iovec iov = {"d", 1};
	struct msghdr m = {0};
	m.msg_name = &d;
	m.msg_namelen = sizeof d;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof u.buf;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
	TEST_RES(sendmsg(w, &m, 0), 1);
	g = recv_fds(r, buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.n, 1);
	TEST_RES(g.nfds, 1);
	close(g.fds[0]);
	close(w);
	close(r);
	close(s);
	close(c);
	close(l);
	close(p[0]);
	close(p[1]);
}

static void passing_sockets(void)
{
	int sv[2];
	char buf[16];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	/* A socket's own descriptor over itself: the receiver gets that socket. */
	TEST_RES(send_fds(sv[0], &sv[0], 1, "s", 1), 1);
	struct got g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.nfds, 1);
	TEST_RES(send(g.fds[0], "via", 3, 0), 3);
	TEST_RES(recv(sv[1], buf, sizeof buf, 0), 3);
	close(g.fds[0]);
	/* Left in flight: the receiving end queued in its own queue, then all closed. */
	TEST_RES(send_fds(sv[0], &sv[1], 1, "k", 1), 1);
	TEST_RES(send_fds(sv[1], &sv[0], 1, "k", 1), 1);
	TEST_RES(close(sv[0]), 0);
	TEST_RES(close(sv[1]), 0);
	/* Readiness: POLLIN while bytes with files wait, not after they are read. */
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct pollfd pf = {sv[1], POLLIN, 0};
	TEST_RES(poll(&pf, 1, 0), 0);
	TEST_RES(send_fds(sv[0], &sv[0], 1, "p", 1), 1);
	TEST_RES(poll(&pf, 1, 0), 1);
	TEST_RES(pf.revents, POLLIN);
	g = recv_fds(sv[1], buf, sizeof buf, CMSG_SPACE(sizeof(int)), 0);
	TEST_RES(g.nfds, 1);
	TEST_RES(poll(&pf, 1, 0), 0);
	close(g.fds[0]);
	close(sv[0]);
	close(sv[1]);
}

static void from_a_child(void)
{
	int sv[2];
	char buf[16] = {0};
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		/* The child makes a pipe and a file, fills them, sends both, exits. */
		int p[2];
		if (pipe(p) != 0)
			_exit(1);
		if (write(p[1], "child", 5) != 5)
			_exit(2);
		int fd = open("childfile", O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, "xyz", 3) != 3)
			_exit(3);
		int two[2] = {p[0], fd};
		_exit(send_fds(sv[1], two, 2, "c", 1) == 1 ? 0 : 4);
	}
	close(sv[1]);
	int st = -1;
	TEST_RES(waitpid(pid, &st, 0), pid);
	TEST_RES(st, 0);
	struct got g = recv_fds(sv[0], buf, sizeof buf, CMSG_SPACE(2 * sizeof(int)), 0);
	TEST_RES(g.n, 1);
	TEST_RES(g.nfds, 2);
	/* The pipe outlives the child that made it; its writer is gone. */
	TEST_RES(read(g.fds[0], buf, sizeof buf), 5);
	TEST_RES(memcmp(buf, "child", 5), 0);
	TEST_RES(read(g.fds[0], buf, sizeof buf), 0);
	/* The file's offset is where the child left it. */
	TEST_RES(lseek(g.fds[1], 0, SEEK_CUR), 3);
	close(g.fds[0]);
	close(g.fds[1]);
	close(sv[0]);
}

int main(void)
{
	ukt_setup();
	RUN(stream_basics);
	RUN(cloexec);
	RUN(regular_file_shares_offset);
	RUN(stream_boundaries);
	RUN(truncated_control);
	RUN(several_messages_and_limits);
	RUN(rlimit_nofile);
	RUN(datagrams);
	RUN(named_sockets);
	RUN(passing_sockets);
	RUN(from_a_child);
	return ukt_finish();
}
