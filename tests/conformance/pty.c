/* Pseudo-terminals: /dev/ptmx and /dev/pts/N (posix_openpt, grantpt, unlockpt, ptsname,
 * openpty), termios, both directions, the line discipline (canonical lines, erase,
 * kill, end of file, echo, output processing, raw mode, ISIG characters), window size,
 * hang-ups. The pty is not the process's controlling terminal (the harness cannot make
 * it one on both sides), so ISIG characters flush and echo but signal nobody. */
#include "harness.h"
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>

static volatile sig_atomic_t got_int;
static void on_int(int s)
{
	(void)s;
	got_int++;
}

/* Reads what the master has within `ms` milliseconds into buf (NUL-terminated). */
static int drain(int m, char *buf, int size, int ms)
{
	int n = 0;
	struct pollfd p = { .fd = m, .events = POLLIN };
	while (n < size - 1 && poll(&p, 1, ms) == 1 && (p.revents & POLLIN)) {
		int r = read(m, buf + n, size - 1 - n);
		if (r <= 0)
			break;
		n += r;
		ms = 20;
	}
	buf[n] = 0;
	return n;
}

static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms);
}

/* A master and its slave, unlocked and open. */
static int open_pair(int *m, int *s)
{
	*m = posix_openpt(O_RDWR | O_NOCTTY);
	if (*m < 0 || grantpt(*m) || unlockpt(*m))
		return -1;
	char *name = ptsname(*m);
	if (!name)
		return -1;
	*s = open(name, O_RDWR | O_NOCTTY);
	return *s < 0 ? -1 : 0;
}

static void open_and_names(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	REQUIRE(m >= 0);
	TEST_RES(grantpt(m), 0);
	char *name = ptsname(m);
	TEST_TRUE(name != NULL);
	char saved[64];
	snprintf(saved, sizeof saved, "%s", name ? name : "");
	TEST_RES(strncmp(saved, "/dev/pts/", 9), 0);
	/* Locked until unlockpt. */
	TEST_ERRNO(open(saved, O_RDWR | O_NOCTTY), EIO);
	TEST_RES(unlockpt(m), 0);
	int s = open(saved, O_RDWR | O_NOCTTY);
	TEST_TRUE(s >= 0);
	TEST_TRUE(isatty(m));
	TEST_TRUE(isatty(s));
	char tn[64];
	TEST_RES(ttyname_r(s, tn, sizeof tn), 0);
	TEST_RES(strcmp(tn, saved), 0);
	struct stat a, b;
	TEST_RES(stat(saved, &a), 0);
	TEST_RES(fstat(s, &b), 0);
	TEST_TRUE(S_ISCHR(a.st_mode));
	TEST_RES(a.st_rdev, b.st_rdev);
	TEST_RES(a.st_ino, b.st_ino);
	TEST_ERRNO(lseek(s, 0, SEEK_SET), ESPIPE);
	TEST_ERRNO(lseek(m, 0, SEEK_SET), ESPIPE);
	int n = -1;
	TEST_RES(ioctl(m, TIOCGPTN, &n), 0);
	TEST_TRUE(n >= 0);
	TEST_ERRNO(ioctl(s, TIOCGPTN, &n), ENOTTY);
	close(s);
	close(m);
	/* The name is gone with the master. */
	TEST_ERRNO(open(saved, O_RDWR | O_NOCTTY), ENOENT);
}

static void canonical_lines(void)
{
	int m, s;
	char buf[128];
	REQUIRE(open_pair(&m, &s) == 0);
	struct termios t;
	TEST_RES(tcgetattr(s, &t), 0);
	TEST_TRUE(t.c_lflag & ICANON);
	TEST_TRUE(t.c_lflag & ECHO);
	TEST_TRUE(t.c_lflag & ISIG);
	TEST_RES(t.c_cc[VINTR], 3);
	TEST_RES(t.c_cc[VEOF], 4);
	/* A line arrives whole; its echo comes back with \r\n. */
	TEST_RES(write(m, "hello\n", 6), 6);
	TEST_RES(read(s, buf, sizeof buf), 6);
	TEST_RES(memcmp(buf, "hello\n", 6), 0);
	TEST_RES(drain(m, buf, sizeof buf, 500), 7);
	TEST_RES(strcmp(buf, "hello\r\n"), 0);
	/* Half a line is not readable yet. */
	TEST_RES(write(m, "ab", 2), 2);
	TEST_RES(readable(s, 50), 0);
	TEST_RES(write(m, "\r", 1), 1); /* ICRNL */
	TEST_RES(readable(s, 500), 1);
	TEST_RES(read(s, buf, sizeof buf), 3);
	TEST_RES(memcmp(buf, "ab\n", 3), 0);
	drain(m, buf, sizeof buf, 100);
	/* Erase and kill. */
	TEST_RES(write(m, "abc\177\n", 5), 5);
	TEST_RES(read(s, buf, sizeof buf), 3);
	TEST_RES(memcmp(buf, "ab\n", 3), 0);
	TEST_RES(drain(m, buf, sizeof buf, 500), 8);
	TEST_RES(strcmp(buf, "abc\b \b\r\n"), 0);
	TEST_RES(write(m, "xyz\025ok\n", 7), 7);
	TEST_RES(read(s, buf, sizeof buf), 3);
	TEST_RES(memcmp(buf, "ok\n", 3), 0);
	drain(m, buf, sizeof buf, 100);
	/* A short buffer takes part of a line; the rest follows. */
	TEST_RES(write(m, "abcdef\n", 7), 7);
	TEST_RES(read(s, buf, 3), 3);
	TEST_RES(read(s, buf, sizeof buf), 4);
	TEST_RES(memcmp(buf, "def\n", 4), 0);
	/* End of file: ^D alone reads as 0, after text it ends the line. */
	TEST_RES(write(m, "\004", 1), 1);
	TEST_RES(read(s, buf, sizeof buf), 0);
	TEST_RES(write(m, "xy\004", 3), 3);
	TEST_RES(read(s, buf, sizeof buf), 2);
	/* FIONREAD counts the complete lines. */
	TEST_RES(write(m, "abc\n", 4), 4);
	TEST_RES(readable(s, 500), 1);
	int avail = -1;
	TEST_RES(ioctl(s, FIONREAD, &avail), 0);
	TEST_RES(avail, 4);
	TEST_RES(tcflush(s, TCIFLUSH), 0);
	TEST_RES(readable(s, 20), 0);
	/* Output processing: \n becomes \r\n towards the master. */
	TEST_RES(write(s, "out\n", 4), 4);
	drain(m, buf, sizeof buf, 500);
	TEST_TRUE(strstr(buf, "out\r\n") != NULL);
	close(s);
	close(m);
}

static void raw_mode(void)
{
	int m, s;
	char buf[64];
	REQUIRE(open_pair(&m, &s) == 0);
	struct termios t;
	REQUIRE(tcgetattr(s, &t) == 0);
	cfmakeraw(&t);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	TEST_RES(tcsetattr(s, TCSANOW, &t), 0);
	struct termios back;
	TEST_RES(tcgetattr(s, &back), 0);
	TEST_RES(back.c_lflag & (ICANON | ECHO | ISIG), 0);
	/* Bytes pass at once and unchanged, without echo. */
	TEST_RES(write(m, "a\r\003", 3), 3);
	TEST_RES(readable(s, 500), 1);
	TEST_RES(read(s, buf, sizeof buf), 3);
	TEST_RES(memcmp(buf, "a\r\003", 3), 0);
	TEST_RES(readable(m, 20), 0);
	TEST_RES(write(s, "x\n", 2), 2);
	TEST_RES(drain(m, buf, sizeof buf, 500), 2);
	TEST_RES(strcmp(buf, "x\n"), 0);
	/* VMIN 0, VTIME 0: a read returns at once. */
	t.c_cc[VMIN] = 0;
	TEST_RES(tcsetattr(s, TCSANOW, &t), 0);
	TEST_RES(read(s, buf, sizeof buf), 0);
	/* Non-blocking: EAGAIN. */
	t.c_cc[VMIN] = 1;
	TEST_RES(tcsetattr(s, TCSANOW, &t), 0);
	TEST_RES(fcntl(s, F_SETFL, O_NONBLOCK), 0);
	TEST_ERRNO(read(s, buf, sizeof buf), EAGAIN);
	close(s);
	close(m);
}

static void isig_chars(void)
{
	int m, s;
	char buf[64];
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_int;
	REQUIRE(sigaction(SIGINT, &sa, NULL) == 0);
	REQUIRE(open_pair(&m, &s) == 0);
	/* Not our controlling terminal: ^C signals nobody, but flushes both queues (the
	 * pending line and the unread echo of "junk") and echoes ^C. */
	TEST_RES(write(m, "junk\003", 5), 5);
	TEST_RES(write(m, "ok\n", 3), 3);
	TEST_RES(read(s, buf, sizeof buf), 3);
	TEST_RES(memcmp(buf, "ok\n", 3), 0);
	TEST_RES(got_int, 0);
	TEST_RES(drain(m, buf, sizeof buf, 500), 6);
	TEST_RES(strcmp(buf, "^Cok\r\n"), 0);
	/* With ISIG off, ^C is an ordinary byte. */
	struct termios t;
	REQUIRE(tcgetattr(s, &t) == 0);
	t.c_lflag &= ~(ISIG | ECHO);
	TEST_RES(tcsetattr(s, TCSANOW, &t), 0);
	TEST_RES(write(m, "\003\n", 2), 2);
	TEST_RES(read(s, buf, sizeof buf), 2);
	TEST_RES(buf[0], 3);
	close(s);
	close(m);
	signal(SIGINT, SIG_DFL);
}

static void winsize_and_openpty(void)
{
	int m, s;
	char name[64];
	struct winsize ws = { .ws_row = 33, .ws_col = 101 };
	TEST_RES(openpty(&m, &s, name, NULL, &ws), 0);
	struct winsize got;
	memset(&got, 0, sizeof got);
	TEST_RES(ioctl(s, TIOCGWINSZ, &got), 0);
	TEST_RES(got.ws_row, 33);
	TEST_RES(got.ws_col, 101);
	ws.ws_row = 40;
	TEST_RES(ioctl(m, TIOCSWINSZ, &ws), 0);
	TEST_RES(ioctl(s, TIOCGWINSZ, &got), 0);
	TEST_RES(got.ws_row, 40);
	TEST_RES(strncmp(name, "/dev/pts/", 9), 0);
	TEST_ERRNO(ioctl(s, TIOCGWINSZ, (void *)8), EFAULT);
	close(s);
	close(m);
}

static void hangups(void)
{
	int m, s;
	char buf[16];
	/* The slave gone: the master reads EIO once the output is drained. */
	REQUIRE(open_pair(&m, &s) == 0);
	TEST_RES(write(s, "z", 1), 1);
	close(s);
	TEST_RES(read(m, buf, sizeof buf), 1);
	TEST_ERRNO(read(m, buf, sizeof buf), EIO);
	close(m);
	/* The master gone: the slave reads end of file and cannot write. */
	REQUIRE(open_pair(&m, &s) == 0);
	close(m);
	TEST_RES(read(s, buf, sizeof buf), 0);
	TEST_ERRNO(write(s, "x", 1), EIO);
	struct pollfd p = { .fd = s, .events = POLLIN };
	TEST_RES(poll(&p, 1, 0), 1);
	TEST_TRUE(p.revents & POLLHUP);
	close(s);
}

int main(void)
{
	ukt_setup();
	RUN(open_and_names);
	RUN(canonical_lines);
	RUN(raw_mode);
	RUN(isig_chars);
	RUN(winsize_and_openpty);
	RUN(hangups);
	return ukt_finish();
}
