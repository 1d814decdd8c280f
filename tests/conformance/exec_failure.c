/* A failed execve leaves the caller's memory as it was: the process's own failed exec
 * and a vfork child's (ENOENT, ENOEXEC for a file without #! and for a file that is not
 * a valid ELF), repeated while the program's heap is busy and signals run handlers on a
 * malloc'd alternate stack (what CPython's subprocess and faulthandler do). Fresh
 * anonymous maps read as zero afterwards, and the heap's contents and musl's own checks
 * (mallocng aborts on a damaged slot) survive. (ukit freed the kernel stack of the
 * thread that loads a program without clearing it, and program maps took those pages
 * as if zero: musl's mallocng crashed in a later malloc or free.)
 */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define SLOTS 64
#define ROUNDS 120

static void *slots[SLOTS];
static size_t sizes[SLOTS];
static unsigned seed = 1;
static volatile sig_atomic_t hits;

static unsigned next_rand(void)
{
	seed = seed * 1103515245 + 12345;
	return seed >> 8;
}

/* Frees and allocates some slots, each filled with a pattern of its own. */
static void churn(void)
{
	for (int k = 0; k < 40; k++) {
		int i = next_rand() % SLOTS;
		free(slots[i]);
		sizes[i] = next_rand() % 3000 + 1;
		slots[i] = malloc(sizes[i]);
		if (!slots[i])
			continue;
		for (size_t j = 0; j < sizes[i]; j++)
			((unsigned char *)slots[i])[j] = (unsigned char)(i + j);
	}
}

/* Slots whose pattern changed. */
static int damaged_slots(void)
{
	int bad = 0;
	for (int i = 0; i < SLOTS; i++) {
		if (!slots[i])
			continue;
		for (size_t j = 0; j < sizes[i]; j++) {
			if (((unsigned char *)slots[i])[j] != (unsigned char)(i + j)) {
				bad++;
				break;
			}
		}
	}
	return bad;
}

static void free_all(void)
{
	for (int i = 0; i < SLOTS; i++) {
		free(slots[i]);
		slots[i] = NULL;
	}
}

/* Maps a few fresh anonymous ranges and counts the bytes that do not read as zero. */
static long nonzero_in_fresh_maps(void)
{
	long bad = 0;
	for (int k = 0; k < 24; k++) {
		size_t len = (size_t)(k % 4 + 1) * 4096;
		unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -1;
		for (size_t j = 0; j < len; j++)
			bad += p[j] != 0;
		munmap(p, len);
	}
	return bad;
}

static void on_signal(int sig)
{
	char buf[256];
	memset(buf, sig, sizeof buf);
	__asm__ volatile("" : : "r"(buf) : "memory");
	hits++;
}

/* The programs that cannot run, made in the group's directory. */
static const char *const bad_programs[3] = {"./missing", "./text", "./garbage"};
static const int bad_errnos[3] = {ENOENT, ENOEXEC, ENOEXEC};

static int make_bad_programs(void)
{
	if (ukt_write_file("text", "no interpreter line here\n") ||
	    ukt_write_file("garbage", "\177ELF but nothing after the magic\n"))
		return -1;
	return chmod("text", 0755) | chmod("garbage", 0755);
}

static void own_failed_exec(void)
{
	REQUIRE(make_bad_programs() == 0);
	int wrong_errno = 0;
	long nonzero = 0;
	for (int n = 0; n < ROUNDS; n++) {
		churn();
		char *args[] = {(char *)bad_programs[n % 3], NULL};
		errno = 0;
		if (execve(bad_programs[n % 3], args, environ) != -1 || errno != bad_errnos[n % 3])
			wrong_errno++;
		long z = nonzero_in_fresh_maps();
		nonzero += z < 0 ? 1 : z;
	}
	TEST_RES(wrong_errno, 0);
	TEST_RES(nonzero, 0);
	TEST_RES(damaged_slots(), 0);
	free_all();
}

static void vfork_failed_exec(void)
{
	REQUIRE(make_bad_programs() == 0);
	/* An alternate signal stack in the heap and handlers that run on it, as CPython's
	 * faulthandler sets them up (SA_ONSTACK, SA_NODEFER). */
	churn();
	stack_t ss = {.ss_sp = malloc(16384), .ss_size = 16384};
	REQUIRE(ss.ss_sp != NULL);
	REQUIRE(sigaltstack(&ss, NULL) == 0);
	churn();
	struct sigaction sa = {.sa_handler = on_signal,
			       .sa_flags = SA_RESTART | SA_ONSTACK | SA_NODEFER};
	struct sigaction old_usr1, old_usr2;
	REQUIRE(sigaction(SIGUSR1, &sa, &old_usr1) == 0);
	REQUIRE(sigaction(SIGUSR2, &sa, &old_usr2) == 0);
	hits = 0;
	int wrong_errno = 0, wrong_status = 0, sent = 0;
	long nonzero = 0;
	for (int n = 0; n < ROUNDS; n++) {
		churn();
		int p[2];
		if (pipe2(p, O_CLOEXEC) != 0) {
			wrong_errno++;
			continue;
		}
		/* As CPython's _posixsubprocess: every signal blocked around vfork, the
		 * child resets its handlers and unblocks before exec. */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		const char *path = bad_programs[n % 3];
		pid_t pid = vfork();
		if (pid == 0) {
			struct sigaction dfl = {.sa_handler = SIG_DFL};
			sigaction(SIGUSR1, &dfl, NULL);
			sigaction(SIGUSR2, &dfl, NULL);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			char *args[] = {(char *)path, NULL};
			execve(path, args, environ);
			int e = errno;
			if (write(p[1], &e, sizeof e) != sizeof e)
				_exit(126);
			_exit(127);
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		close(p[1]);
		int e = 0;
		if (read(p[0], &e, sizeof e) != sizeof e || e != bad_errnos[n % 3])
			wrong_errno++;
		close(p[0]);
		int st = 0;
		if (pid < 0 || waitpid(pid, &st, 0) != pid || st != 127 << 8)
			wrong_status++;
		if (n % 3 == 0) {
			kill(getpid(), n % 2 ? SIGUSR1 : SIGUSR2);
			sent++;
		}
		long z = nonzero_in_fresh_maps();
		nonzero += z < 0 ? 1 : z;
	}
	TEST_RES(wrong_errno, 0);
	TEST_RES(wrong_status, 0);
	TEST_RES(nonzero, 0);
	TEST_RES(hits, sent);
	TEST_RES(damaged_slots(), 0);
	stack_t off = {.ss_flags = SS_DISABLE};
	TEST_RES(sigaltstack(&off, NULL), 0);
	sigaction(SIGUSR1, &old_usr1, NULL);
	sigaction(SIGUSR2, &old_usr2, NULL);
	free(ss.ss_sp);
	free_all();
}

int main(void)
{
	ukt_setup();
	RUN(own_failed_exec);
	RUN(vfork_failed_exec);
	return ukt_finish();
}
