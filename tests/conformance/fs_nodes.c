/* Nodes beyond files and directories, and the modes new nodes get: the umask (umask(0)
 * then create gives the mode asked for), mknod of regular files, FIFOs (mkfifo: open
 * rules, data through, stat), refused device nodes, and AF_UNIX sockets bound to a path
 * (a socket node that stat shows, connect reaches, unlink removes). Run in the scratch
 * directory: a host directory on linuxu (hostfs), the ramfs root on kvm. */
#include "harness.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

static int mode_of(const char *p)
{
	struct stat st;
	if (lstat(p, &st) != 0)
		return -1;
	return st.st_mode;
}

static void umask_modes(void)
{
	TEST_RES(umask(0), 022);
	int fd = open("f0666", O_CREAT | O_WRONLY, 0666);
	REQUIRE(fd >= 0);
	close(fd);
	TEST_RES(mode_of("f0666"), S_IFREG | 0666);
	TEST_RES(mkdir("d0777", 0777), 0);
	TEST_RES(mode_of("d0777"), S_IFDIR | 0777);
	TEST_RES(umask(027), 0);
	fd = open("f0640", O_CREAT | O_WRONLY, 0666);
	REQUIRE(fd >= 0);
	close(fd);
	TEST_RES(mode_of("f0640"), S_IFREG | 0640);
	TEST_RES(mkdir("d0750", 0777), 0);
	TEST_RES(mode_of("d0750"), S_IFDIR | 0750);
	TEST_RES(mknod("n0640", S_IFREG | 0666, 0), 0);
	TEST_RES(mode_of("n0640"), S_IFREG | 0640);
	umask(022);
}

static void mknod_kinds(void)
{
	TEST_RES(mknod("reg", S_IFREG | 0600, 0), 0);
	TEST_RES(mode_of("reg"), S_IFREG | 0600);
	TEST_RES(mknod("plain", 0600, 0), 0); /* type 0 is a regular file */
	TEST_RES(mode_of("plain"), S_IFREG | 0600);
	TEST_ERRNO(mknod("reg", S_IFREG | 0600, 0), EEXIST);
	TEST_RES(mkfifo("fifo", 0644), 0);
	TEST_RES(mode_of("fifo"), S_IFIFO | 0644);
	TEST_ERRNO(mkfifo("fifo", 0644), EEXIST);
	TEST_RES(mknodat(AT_FDCWD, "fifo2", S_IFIFO | 0600, 0), 0);
	TEST_RES(mode_of("fifo2"), S_IFIFO | 0600);
	TEST_RES(mknod("sock", S_IFSOCK | 0600, 0), 0);
	TEST_RES(mode_of("sock"), S_IFSOCK | 0600);
	TEST_ERRNO(mknod("bad", 0170000 | 0600, 0), EINVAL);
	TEST_ERRNO(mknod("nodir/x", S_IFIFO | 0600, 0), ENOENT);
	TEST_ERRNO(syscall(SYS_mknod, (void *)8, S_IFIFO | 0600, 0), EFAULT);
	/* Opening a socket node is ENXIO. */
	TEST_ERRNO(open("sock", O_RDONLY), ENXIO);
	TEST_RES(unlink("fifo2"), 0);
	TEST_RES(unlink("sock"), 0);
	TEST_RES(mode_of("sock"), -1);
}

static void *open_writer(void *arg)
{
	(void)arg;
	usleep(20000);
	int fd = open("fifo", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "late", 4) != 4)
			perror("write");
		close(fd);
	}
	return NULL;
}

static void fifo_io(void)
{
	REQUIRE(mkfifo("fifo", 0600) == 0);
	/* No reader: a non-blocking writer cannot open. */
	TEST_ERRNO(open("fifo", O_WRONLY | O_NONBLOCK), ENXIO);
	/* A non-blocking reader opens at once; then a writer can. */
	int r = open("fifo", O_RDONLY | O_NONBLOCK);
	TEST_TRUE(r >= 0);
	char buf[16];
	/* No writer yet: end of file, not EAGAIN. */
	TEST_RES(read(r, buf, sizeof buf), 0);
	int w = open("fifo", O_WRONLY | O_NONBLOCK);
	TEST_TRUE(w >= 0);
	TEST_RES(write(w, "abc", 3), 3);
	TEST_RES(read(r, buf, sizeof buf), 3);
	TEST_RES(memcmp(buf, "abc", 3), 0);
	struct stat st, st2;
	TEST_RES(fstat(w, &st), 0);
	TEST_TRUE(S_ISFIFO(st.st_mode));
	TEST_RES(stat("fifo", &st2), 0);
	TEST_RES(st.st_ino, st2.st_ino);
	TEST_ERRNO(lseek(r, 0, SEEK_SET), ESPIPE);
	TEST_ERRNO(write(r, "x", 1), EBADF);
	/* The last writer gone: end of file. */
	close(w);
	TEST_RES(read(r, buf, sizeof buf), 0);
	close(r);
	/* O_RDWR never waits and is both ends. */
	int rw = open("fifo", O_RDWR);
	TEST_TRUE(rw >= 0);
	TEST_RES(write(rw, "xy", 2), 2);
	TEST_RES(read(rw, buf, sizeof buf), 2);
	close(rw);
	/* A blocking reader waits for a writer (a thread opens one 20 ms later). */
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, open_writer, NULL) == 0);
	r = open("fifo", O_RDONLY);
	TEST_TRUE(r >= 0);
	struct pollfd pfd = { .fd = r, .events = POLLIN };
	TEST_RES(poll(&pfd, 1, 2000), 1);
	TEST_RES(read(r, buf, 4), 4);
	TEST_RES(memcmp(buf, "late", 4), 0);
	pthread_join(t, NULL);
	close(r);
	TEST_RES(unlink("fifo"), 0);
}

static void refused_devices(void)
{
	/* Devices need privilege ukit does not grant; natively too in this harness the
	 * directory case is EPERM whatever the caller. */
	TEST_ERRNO(mknod("dir", S_IFDIR | 0755, 0), EPERM);
}

static struct sockaddr_un un(const char *p, socklen_t *len)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	strcpy(a.sun_path, p);
	*len = sizeof(sa_family_t) + strlen(p) + 1;
	return a;
}

static void unix_socket_nodes(void)
{
	socklen_t al;
	struct sockaddr_un a = un("s.sock", &al);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	REQUIRE(ls >= 0);
	REQUIRE(bind(ls, (struct sockaddr *)&a, al) == 0);
	/* The socket file is there, with the umask applied to 0777. */
	TEST_RES(mode_of("s.sock"), S_IFSOCK | 0755);
	TEST_RES(listen(ls, 4), 0);
	/* Reached by another spelling of the path, and through a symlink. */
	struct sockaddr_un b = un("./s.sock", &al);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	TEST_RES(connect(c, (struct sockaddr *)&b, al), 0);
	int s = accept(ls, NULL, NULL);
	TEST_TRUE(s >= 0);
	TEST_RES(write(c, "hi", 2), 2);
	char buf[4];
	TEST_RES(read(s, buf, sizeof buf), 2);
	close(s);
	close(c);
	REQUIRE(symlink("s.sock", "link.sock") == 0);
	struct sockaddr_un l = un("link.sock", &al);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	TEST_RES(connect(c, (struct sockaddr *)&l, al), 0);
	close(c);
	/* A socket node nobody is bound to refuses; unlinking the node makes the bound
	 * socket unreachable. */
	REQUIRE(mknod("dead.sock", S_IFSOCK | 0600, 0) == 0);
	struct sockaddr_un d = un("dead.sock", &al);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	TEST_ERRNO(connect(c, (struct sockaddr *)&d, al), ECONNREFUSED);
	close(c);
	TEST_RES(unlink("s.sock"), 0);
	TEST_RES(mode_of("s.sock"), -1);
	a = un("s.sock", &al);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	TEST_ERRNO(connect(c, (struct sockaddr *)&a, al), ENOENT);
	close(c);
	/* The node outlives the socket: binding the path again is EADDRINUSE until it is
	 * unlinked. */
	close(ls);
	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	TEST_RES(bind(ls, (struct sockaddr *)&a, al), 0);
	close(ls);
	TEST_RES(mode_of("s.sock"), S_IFSOCK | 0755);
	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	TEST_ERRNO(bind(ls, (struct sockaddr *)&a, al), EADDRINUSE);
	TEST_RES(unlink("s.sock"), 0);
	TEST_RES(bind(ls, (struct sockaddr *)&a, al), 0);
	close(ls);
	/* Datagram sockets by path too. */
	struct sockaddr_un g = un("g.sock", &al);
	int gs = socket(AF_UNIX, SOCK_DGRAM, 0);
	TEST_RES(bind(gs, (struct sockaddr *)&g, al), 0);
	TEST_RES(mode_of("g.sock"), S_IFSOCK | 0755);
	int gc = socket(AF_UNIX, SOCK_DGRAM, 0);
	TEST_RES(sendto(gc, "d", 1, 0, (struct sockaddr *)&g, al), 1);
	TEST_RES(recv(gs, buf, sizeof buf, 0), 1);
	close(gc);
	close(gs);
}

int main(void)
{
	ukt_setup();
	signal(SIGPIPE, SIG_IGN);
	RUN(umask_modes);
	RUN(mknod_kinds);
	RUN(fifo_io);
	RUN(refused_devices);
	RUN(unix_socket_nodes);
	return ukt_finish();
}
