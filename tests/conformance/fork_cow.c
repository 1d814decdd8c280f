/* What a forked parent and child see of each other's private memory, whoever writes
 * first: each keeps its own bytes. On ukit fork copies lazily (copy-on-write), so these
 * cases reach every order: the parent writing before the child has read, the child
 * writing first, the kernel writing into a page not yet copied (read(2) into it), a
 * child forking again before anyone wrote, a parent that exits while its child has not
 * touched its copy, a thread of the parent writing while the child reads, and a map
 * made read-only and then writable again after the fork.
 *
 * Children report through their exit status and never print case lines; stdout is
 * flushed before every fork.
 */
#include "harness.h"
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE 4096
#define BIG (4 << 20)

/* The wait status of `p`, or -1. */
static int status_of(pid_t p)
{
	int st;
	return waitpid(p, &st, 0) == p ? st : -1;
}

/* The pattern byte at position `i` for `seed`. */
static unsigned char pat(size_t i, unsigned seed)
{
	return (unsigned char)(i * 31 + seed + (i >> 12));
}

/* Fill `n` bytes with the pattern of `seed`. */
static void fill(unsigned char *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pat(i, seed);
}

/* 0 when bytes [from, to) of `b` hold the pattern of `seed` (positions counted from
 * `b`). */
static int differs_at(const unsigned char *b, size_t from, size_t to, unsigned seed)
{
	for (size_t i = from; i < to; i++)
		if (b[i] != pat(i, seed))
			return 1;
	return 0;
}

/* 0 when `b` holds fill(b, n, seed). */
static int differs(const unsigned char *b, size_t n, unsigned seed)
{
	return differs_at(b, 0, n, seed);
}

/* Block until one byte arrives on `fd`. */
static void await(int fd)
{
	char c;
	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
}

static void parent_writes_first(void)
{
	unsigned char *b = malloc(BIG);
	REQUIRE(b != NULL);
	fill(b, BIG, 1);
	int go[2];
	REQUIRE(pipe(go) == 0);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		await(go[0]);
		/* The parent has rewritten its copy by now. */
		_exit(differs(b, BIG, 1));
	}
	TEST_TRUE(p > 0);
	fill(b, BIG, 2);
	TEST_RES(write(go[1], "x", 1), 1);
	TEST_RES(status_of(p), 0);
	TEST_RES(differs(b, BIG, 2), 0);
	close(go[0]);
	close(go[1]);
	free(b);
}

static void child_writes_first(void)
{
	unsigned char *b = malloc(BIG);
	REQUIRE(b != NULL);
	fill(b, BIG, 3);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		int bad = differs(b, BIG, 3);
		fill(b, BIG, 4);
		_exit(bad || differs(b, BIG, 4));
	}
	TEST_TRUE(p > 0);
	TEST_RES(status_of(p), 0);
	TEST_RES(differs(b, BIG, 3), 0);
	free(b);
}

/* Some pages written on each side, others on neither. */
static void both_write_some_pages(void)
{
	unsigned char *b = malloc(BIG);
	REQUIRE(b != NULL);
	fill(b, BIG, 5);
	int go[2], back[2];
	REQUIRE(pipe(go) == 0 && pipe(back) == 0);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		for (size_t i = 0; i < BIG; i += 3 * PAGE)
			b[i] = 0xc1;
		if (write(back[1], "x", 1) != 1)
			_exit(2);
		await(go[0]);
		for (size_t i = 0; i < BIG; i++) {
			unsigned char want = i % (3 * PAGE) == 0 ? 0xc1 : pat(i, 5);
			if (b[i] != want)
				_exit(1);
		}
		_exit(0);
	}
	TEST_TRUE(p > 0);
	await(back[0]);
	for (size_t i = PAGE; i < BIG; i += 2 * PAGE)
		b[i] = 0x9a;
	TEST_RES(write(go[1], "x", 1), 1);
	TEST_RES(status_of(p), 0);
	int bad = 0;
	for (size_t i = 0; i < BIG; i++) {
		unsigned char want = i % (2 * PAGE) == PAGE ? 0x9a : pat(i, 5);
		bad |= b[i] != want;
	}
	TEST_RES(bad, 0);
	free(b);
}

/* read(2) fills a buffer the kernel has not copied yet, in the child and in the
 * parent. */
static void kernel_writes_into_a_shared_page(void)
{
	unsigned char *b = malloc(BIG);
	REQUIRE(b != NULL);
	fill(b, BIG, 6);
	int fds[2];
	REQUIRE(pipe(fds) == 0);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		char msg[] = "from the parent";
		ssize_t n = read(fds[0], b + 3 * PAGE - 4, sizeof msg);
		if (n != (ssize_t)sizeof msg || memcmp(b + 3 * PAGE - 4, msg, sizeof msg) != 0)
			_exit(1);
		_exit(differs_at(b, 0, 3 * PAGE - 4, 6) || differs_at(b, 3 * PAGE + 12, BIG, 6));
	}
	TEST_TRUE(p > 0);
	TEST_RES(write(fds[1], "from the parent", 16), 16);
	TEST_RES(status_of(p), 0);
	TEST_RES(differs(b, BIG, 6), 0);
	TEST_RES(write(fds[1], "from the child!", 16), 16);
	TEST_RES(read(fds[0], b + 5 * PAGE - 2, 16), 16);
	TEST_RES(memcmp(b + 5 * PAGE - 2, "from the child!", 16), 0);
	TEST_RES(differs_at(b, 0, 5 * PAGE - 2, 6), 0);
	TEST_RES(differs_at(b, 5 * PAGE + 14, BIG, 6), 0);
	close(fds[0]);
	close(fds[1]);
	free(b);
}

/* A child forks a grandchild before anyone wrote; then all three write. */
static void forks_of_forks(void)
{
	unsigned char *b = malloc(BIG);
	REQUIRE(b != NULL);
	fill(b, BIG, 7);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		pid_t g = fork();
		if (g == 0) {
			int bad = differs(b, BIG, 7);
			fill(b, BIG, 9);
			_exit(bad || differs(b, BIG, 9));
		}
		if (g < 0)
			_exit(2);
		fill(b, BIG / 2, 8);
		int st;
		if (waitpid(g, &st, 0) != g || st != 0)
			_exit(3);
		_exit(differs_at(b, 0, BIG / 2, 8) || differs_at(b, BIG / 2, BIG, 7));
	}
	TEST_TRUE(p > 0);
	fill(b, PAGE, 10);
	TEST_RES(status_of(p), 0);
	TEST_RES(differs(b, PAGE, 10), 0);
	TEST_RES(differs_at(b, PAGE, BIG, 7), 0);
	free(b);
}

/* A parent that exits first: its child still has the bytes it had at the fork. */
static void parent_exits_first(void)
{
	unsigned char *b = malloc(BIG);
	REQUIRE(b != NULL);
	fill(b, BIG, 11);
	int fds[2];
	REQUIRE(pipe(fds) == 0);
	fflush(stdout);
	pid_t mid = fork();
	if (mid == 0) {
		pid_t parent = getpid();
		pid_t g = fork();
		if (g == 0) {
			close(fds[0]);
			/* Wait until the middle process has gone (at most 5 s). */
			for (int i = 0; i < 5000 && getppid() == parent; i++)
				usleep(1000);
			char ok = differs(b, BIG, 11) ? 'n' : 'y';
			fill(b, BIG, 12);
			if (differs(b, BIG, 12))
				ok = 'n';
			if (write(fds[1], &ok, 1) != 1)
				_exit(1);
			_exit(0);
		}
		/* The middle process writes its copy and exits at once. */
		fill(b, BIG, 13);
		_exit(g > 0 ? 0 : 1);
	}
	TEST_TRUE(mid > 0);
	TEST_RES(status_of(mid), 0);
	close(fds[1]);
	char ok = 0;
	TEST_RES(read(fds[0], &ok, 1), 1);
	TEST_RES(ok, 'y');
	TEST_RES(differs(b, BIG, 11), 0);
	close(fds[0]);
	free(b);
}

static unsigned char *shared_buf;
static volatile int writer_stop;

static void *writer(void *arg)
{
	(void)arg;
	unsigned n = 0;
	while (!writer_stop) {
		shared_buf[(n * 4099) % BIG] = (unsigned char)n;
		n++;
	}
	return NULL;
}

/* Another thread of the parent writes the buffer the whole time a child checks its
 * copy of a part the thread never touches... and of the bytes the thread does. */
static void a_thread_writes_while_the_child_reads(void)
{
	shared_buf = malloc(BIG);
	REQUIRE(shared_buf != NULL);
	memset(shared_buf, 0x5a, BIG);
	writer_stop = 0;
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, writer, NULL) == 0);
	usleep(1000);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		/* Only the caller is in the child: the buffer stays as it was at the fork. */
		unsigned char snap[64];
		memcpy(snap, shared_buf, sizeof snap);
		usleep(50 * 1000);
		_exit(memcmp(snap, shared_buf, sizeof snap) != 0);
	}
	TEST_TRUE(p > 0);
	TEST_RES(status_of(p), 0);
	writer_stop = 1;
	TEST_RES(pthread_join(t, NULL), 0);
	free(shared_buf);
}

/* mprotect after the fork: read-only, then writable again, on both sides. */
static void protection_changes_after_the_fork(void)
{
	unsigned char *m = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(m != MAP_FAILED);
	fill(m, 16 * PAGE, 14);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		if (mprotect(m, 8 * PAGE, PROT_READ) != 0)
			_exit(1);
		if (differs(m, 16 * PAGE, 14))
			_exit(2);
		if (mprotect(m, 8 * PAGE, PROT_READ | PROT_WRITE) != 0)
			_exit(3);
		memset(m, 0x11, 16 * PAGE);
		_exit(0);
	}
	TEST_TRUE(p > 0);
	TEST_RES(mprotect(m + 4 * PAGE, 4 * PAGE, PROT_READ), 0);
	TEST_RES(differs(m, 16 * PAGE, 14), 0);
	TEST_RES(status_of(p), 0);
	TEST_RES(mprotect(m + 4 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE), 0);
	memset(m + 4 * PAGE, 0x22, PAGE);
	TEST_RES(m[4 * PAGE + 100], 0x22);
	TEST_RES(differs(m, 4 * PAGE, 14), 0);
	TEST_RES(munmap(m, 16 * PAGE), 0);
}

/* madvise(MADV_DONTNEED) after the fork clears only the caller's copy. */
static void dontneed_after_the_fork(void)
{
	unsigned char *m = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(m != MAP_FAILED);
	fill(m, 8 * PAGE, 15);
	int go[2];
	REQUIRE(pipe(go) == 0);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		await(go[0]);
		_exit(differs(m, 8 * PAGE, 15));
	}
	TEST_TRUE(p > 0);
	TEST_RES(madvise(m, 8 * PAGE, MADV_DONTNEED), 0);
	TEST_RES(m[PAGE + 3], 0);
	TEST_RES(write(go[1], "x", 1), 1);
	TEST_RES(status_of(p), 0);
	close(go[0]);
	close(go[1]);
	TEST_RES(munmap(m, 8 * PAGE), 0);
}

/* Many forks of a large heap that each child writes once; the parent's bytes stay. */
static void many_children_each_write(void)
{
	unsigned char *b = malloc(BIG);
	REQUIRE(b != NULL);
	fill(b, BIG, 16);
	int bad = 0;
	fflush(stdout);
	for (int i = 0; i < 20; i++) {
		pid_t p = fork();
		if (p == 0) {
			size_t at = (size_t)i * (BIG / 20);
			b[at] ^= 0xff;
			_exit(b[at] != (unsigned char)~pat(at, 16) || differs_at(b, at + 1, BIG, 16));
		}
		if (p < 0 || status_of(p) != 0)
			bad++;
	}
	TEST_RES(bad, 0);
	TEST_RES(differs(b, BIG, 16), 0);
	free(b);
}

/* A signal handler running on an alternate stack in the heap: the kernel writes the
 * handler's frame into a page a fork has lent, in the parent and in the child. */
static volatile sig_atomic_t handled;
static unsigned char *alt_base;
#define ALT_SIZE (64 * 1024)

static void on_usr1(int sig)
{
	(void)sig;
	volatile unsigned char here[512];
	here[0] = 1;
	/* Running on the heap's stack, and writing there. */
	handled = (const unsigned char *)here >= alt_base && (const unsigned char *)here < alt_base + ALT_SIZE ? 1 : 2;
}

static void handler_on_a_heap_stack(void)
{
	size_t size = ALT_SIZE;
	alt_base = malloc(size);
	REQUIRE(alt_base != NULL);
	fill(alt_base, size, 17);
	stack_t ss = {.ss_sp = alt_base, .ss_size = size, .ss_flags = 0};
	REQUIRE(sigaltstack(&ss, NULL) == 0);
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_ONSTACK};
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		handled = 0;
		raise(SIGUSR1);
		_exit(handled == 1 ? 0 : 1);
	}
	TEST_TRUE(p > 0);
	handled = 0;
	TEST_RES(raise(SIGUSR1), 0);
	TEST_RES(handled, 1);
	TEST_RES(status_of(p), 0);
	/* The bottom of the alternate stack, far below what the handler used, kept its
	 * bytes. */
	TEST_RES(differs(alt_base, 1024, 17), 0);
	ss.ss_flags = SS_DISABLE;
	TEST_RES(sigaltstack(&ss, NULL), 0);
	signal(SIGUSR1, SIG_DFL);
	free(alt_base);
}

/* A thread of the parent blocked in read(2) into a heap buffer when the fork comes: the
 * kernel completes the read into the parent's page, the child's copy keeps the old
 * bytes. */
static int reader_fd;
static unsigned char *reader_buf;

static void *reader(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)read(reader_fd, reader_buf + 100, 32);
}

static void a_read_completes_after_the_fork(void)
{
	reader_buf = malloc(BIG);
	REQUIRE(reader_buf != NULL);
	fill(reader_buf, BIG, 18);
	int fds[2], back[2];
	REQUIRE(pipe(fds) == 0 && pipe(back) == 0);
	reader_fd = fds[0];
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, reader, NULL) == 0);
	usleep(20 * 1000);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		/* Wait until the parent's thread has its bytes, then look at ours. */
		char c;
		if (read(back[0], &c, 1) != 1)
			_exit(2);
		_exit(differs(reader_buf, BIG, 18));
	}
	TEST_TRUE(p > 0);
	TEST_RES(write(fds[1], "thirty-two bytes from the writer", 32), 32);
	void *r;
	TEST_RES(pthread_join(t, &r), 0);
	TEST_RES((intptr_t)r, 32);
	TEST_RES(memcmp(reader_buf + 100, "thirty-two bytes from the writer", 32), 0);
	TEST_RES(write(back[1], "x", 1), 1);
	TEST_RES(status_of(p), 0);
	TEST_RES(differs_at(reader_buf, 132, BIG, 18), 0);
	close(fds[0]);
	close(fds[1]);
	close(back[0]);
	close(back[1]);
	free(reader_buf);
}

/* fork from a signal handler that runs on an alternate stack in the heap: the caller's
 * stack is then that heap block. */
static volatile pid_t forked_in_handler;

static void fork_in_handler(int sig)
{
	(void)sig;
	unsigned char local[256];
	memset(local, 0x3c, sizeof local);
	pid_t p = fork();
	if (p == 0)
		_exit(local[17] == 0x3c ? 0 : 1);
	forked_in_handler = p;
}

static void fork_on_a_heap_stack(void)
{
	size_t size = 64 * 1024;
	unsigned char *alt = malloc(size);
	REQUIRE(alt != NULL);
	stack_t ss = {.ss_sp = alt, .ss_size = size, .ss_flags = 0};
	REQUIRE(sigaltstack(&ss, NULL) == 0);
	struct sigaction sa = {.sa_handler = fork_in_handler, .sa_flags = SA_ONSTACK};
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGUSR2, &sa, NULL) == 0);
	fflush(stdout);
	forked_in_handler = 0;
	TEST_RES(raise(SIGUSR2), 0);
	TEST_TRUE(forked_in_handler > 0);
	TEST_RES(status_of(forked_in_handler), 0);
	ss.ss_flags = SS_DISABLE;
	TEST_RES(sigaltstack(&ss, NULL), 0);
	signal(SIGUSR2, SIG_DFL);
	free(alt);
}

int main(void)
{
	ukt_setup();
	RUN(parent_writes_first);
	RUN(child_writes_first);
	RUN(both_write_some_pages);
	RUN(kernel_writes_into_a_shared_page);
	RUN(forks_of_forks);
	RUN(parent_exits_first);
	RUN(a_thread_writes_while_the_child_reads);
	RUN(protection_changes_after_the_fork);
	RUN(dontneed_after_the_fork);
	RUN(many_children_each_write);
	RUN(handler_on_a_heap_stack);
	RUN(a_read_completes_after_the_fork);
	RUN(fork_on_a_heap_stack);
	return ukt_finish();
}
