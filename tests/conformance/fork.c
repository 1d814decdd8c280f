/* fork: the child gets a copy of the caller's memory (globals, heap, stack, private
 * maps, brk) at the same addresses, shares MAP_SHARED maps and open file descriptions
 * (offsets), inherits signal actions and the mask but no pending signals; wait
 * statuses (exit codes, killed by a signal), WNOHANG loops, zombies until reaped,
 * orphans going to the subreaper, SIGCHLD, kill to a group of forked children, pipes
 * across processes (EOF once the last writer is gone, SIGPIPE), fork with threads
 * (only the caller is in the child; a lock another thread held stays held), futexes
 * and new threads in the child, fork in a forked child, fork then execve, and fork in
 * a program that execve started.
 *
 * Children of fork report through their exit status (or a pipe) and never print case
 * lines; stdout is flushed before every fork. The exec'd child is this program run
 * again with "child MODE ..." (UKT_SELF: natively the program itself; on ukit a program
 * file built from this source with uk-cc --uk-program).
 */
#include "harness.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

/* linux/futex.h is not in musl's include path. */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1

static const char *self_path(void)
{
	const char *s = getenv("UKT_SELF");
	return s && *s ? s : "/proc/self/exe";
}

static int counter = 7;
static char big[1 << 16];

/* fork, then in the child run `f` and _exit with what it returns. */
static pid_t fork_run(int (*f)(void))
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0)
		_exit(f());
	return p;
}

/* The wait status of `p`, or -1. */
static int status_of(pid_t p)
{
	int st;
	return waitpid(p, &st, 0) == p ? st : -1;
}

/* ---- the exec'd child side ---- */

/* A program started by execve forks: its child changes a global and exits with it; the
 * parent's copy must be unchanged. */
static int exec_forker(void)
{
	static int g = 3;
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		g = 40;
		_exit(g + 2);
	}
	int st = status_of(p);
	return (p > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 42 && g == 3) ? 0 : 1;
}

/* Maps file argv[3] shared, waits 200 ms, stores 1 in its first word and wakes a
 * waiter there: a futex of another process that maps the same file (at whatever
 * address) must wake. */
static int exec_waker(const char *path)
{
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return 2;
	int *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w == MAP_FAILED)
		return 3;
	usleep(200000);
	__atomic_store_n(w, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
	return 0;
}

static int child_main(int argc, char **argv)
{
	if (!strcmp(argv[2], "exit") && argc > 3)
		return atoi(argv[3]);
	if (!strcmp(argv[2], "waker") && argc > 3)
		return exec_waker(argv[3]);
	if (!strcmp(argv[2], "forker"))
		return exec_forker();
	return 99;
}

/* ---- memory ---- */

static char *heap;
static char *anon;
static int *shared;
static void *brk_area;

static int child_writes(void)
{
	counter += 100;
	memset(big, 'c', sizeof big);
	strcpy(heap, "child");
	strcpy(anon, "child");
	*shared = 1234;
	memset(brk_area, 'c', 4096);
	return 0;
}

static int child_sees(void)
{
	/* What the parent had at fork time. */
	int ok = counter == 8 && big[100] == 'p' && !strcmp(heap, "parent") && !strcmp(anon, "parent") &&
		 ((char *)brk_area)[10] == 'p';
	return ok ? 0 : 1;
}

static void memory(void)
{
	counter = 8;
	memset(big, 'p', sizeof big);
	heap = malloc(200000);
	REQUIRE(heap != NULL);
	strcpy(heap, "parent");
	anon = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(anon != MAP_FAILED);
	strcpy(anon, "parent");
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(shared != MAP_FAILED);
	*shared = 1;
	/* musl's sbrk only reads the break: move it with the system call. */
	long cur = syscall(SYS_brk, 0);
	REQUIRE(syscall(SYS_brk, cur + 8192) == cur + 8192);
	brk_area = (void *)cur;
	memset(brk_area, 'p', 8192);
	pid_t p = fork_run(child_sees);
	TEST_RES(p > 0, 1);
	int st = status_of(p);
	TEST_RES(WIFEXITED(st) && WEXITSTATUS(st) == 0, 1);
	p = fork_run(child_writes);
	st = status_of(p);
	TEST_RES(WIFEXITED(st) && WEXITSTATUS(st) == 0, 1);
	/* The child's writes to private memory stay in the child... */
	TEST_RES(counter, 8);
	TEST_RES(big[5000], 'p');
	TEST_RES(strcmp(heap, "parent"), 0);
	TEST_RES(strcmp(anon, "parent"), 0);
	TEST_RES(((char *)brk_area)[4000], 'p');
	/* ...and a shared map is the same memory. */
	TEST_RES(*shared, 1234);
	/* The parent's memory after many forks and exits is intact and usable. */
	char *more = malloc(1 << 20);
	TEST_TRUE(more != NULL);
	free(more);
	free(heap);
	munmap(anon, 1 << 20);
	munmap(shared, 4096);
}

/* A parent that unmaps what its child still uses: the child keeps its copy. */
static int *late;
static int late_fd[2];

static int child_reads_late(void)
{
	char c;
	/* Wait until the parent has unmapped its own copy. */
	if (read(late_fd[0], &c, 1) != 1)
		return 2;
	return late[1000] == 77 ? 0 : 1;
}

static void unmap_in_parent(void)
{
	late = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(late != MAP_FAILED);
	late[1000] = 77;
	REQUIRE(pipe(late_fd) == 0);
	pid_t p = fork_run(child_reads_late);
	TEST_RES(munmap(late, 1 << 16), 0);
	/* New maps of the parent, filled, while the child still has the old range. */
	char *m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_TRUE(m != MAP_FAILED);
	memset(m, 0x5a, 1 << 16);
	TEST_RES(write(late_fd[1], "x", 1), 1);
	int st = status_of(p);
	TEST_RES(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
	TEST_RES(m[100], 0x5a);
	close(late_fd[0]);
	close(late_fd[1]);
}

/* ---- statuses and waiting ---- */

static int exit_5(void)
{
	return 5;
}

static int sleep_long(void)
{
	for (;;)
		pause();
	return 0;
}

static int segv(void)
{
	volatile int *p = NULL;
	*p = 1;
	return 0;
}

static volatile int zero;

static int divide_by_zero(void)
{
	return 10 / zero;
}

static int ids_child(void)
{
	/* Its own pid, the caller as parent, the caller's group and session. */
	return getpid() != getppid() ? 0 : 1;
}

static void statuses(void)
{
	pid_t me = getpid();
	pid_t p = fork_run(exit_5);
	TEST_TRUE(p > 0 && p != me);
	int st = status_of(p);
	TEST_RES(WIFEXITED(st), 1);
	TEST_RES(WEXITSTATUS(st), 5);
	/* Reaped: nothing left to wait for. */
	TEST_ERRNO(waitpid(p, &st, WNOHANG), ECHILD);
	p = fork_run(sleep_long);
	TEST_RES(kill(p, SIGTERM), 0);
	st = status_of(p);
	TEST_RES(WIFSIGNALED(st), 1);
	TEST_RES(WTERMSIG(st), SIGTERM);
	p = fork_run(segv);
	st = status_of(p);
	TEST_RES(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, 1);
	p = fork_run(divide_by_zero);
	st = status_of(p);
	TEST_RES(WIFSIGNALED(st) && WTERMSIG(st) == SIGFPE, 1);
	p = fork_run(ids_child);
	st = status_of(p);
	TEST_RES(WIFEXITED(st) && WEXITSTATUS(st) == 0, 1);
	TEST_RES(getpgid(0), getpgid(0));
}

static void wnohang_and_zombies(void)
{
	int fd[2];
	REQUIRE(pipe(fd) == 0);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		char c;
		close(fd[1]);
		_exit(read(fd[0], &c, 1) == 1 ? 9 : 1);
	}
	close(fd[0]);
	int st = 0;
	/* Running: WNOHANG has nothing yet. */
	TEST_RES(waitpid(p, &st, WNOHANG), 0);
	TEST_RES(write(fd[1], "g", 1), 1);
	close(fd[1]);
	/* A WNOHANG loop until it has ended (bounded: 2 s). */
	pid_t got = 0;
	for (int i = 0; i < 2000 && got == 0; i++) {
		got = waitpid(p, &st, WNOHANG);
		if (got == 0)
			usleep(1000);
	}
	TEST_RES(got, p);
	TEST_RES(WEXITSTATUS(st), 9);
	/* A zombie is still a process until it is reaped. */
	p = fork_run(exit_5);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	TEST_RES(waitid(P_PID, p, &si, WEXITED | WNOWAIT), 0);
	TEST_RES(kill(p, 0), 0);
	TEST_RES(si.si_status, 5);
	TEST_RES(waitpid(p, &st, 0), p);
	TEST_ERRNO(kill(p, 0), ESRCH);
}

/* An orphan goes to the nearest subreaper (this process). */
static int orphan_pipe[2];

static int make_orphan(void)
{
	pid_t g = fork();
	if (g == 0) {
		char c;
		/* Wait until the middle process is gone, then report the new parent. */
		usleep(100000);
		pid_t pp = getppid();
		close(orphan_pipe[0]);
		if (write(orphan_pipe[1], &pp, sizeof pp) != sizeof pp)
			_exit(2);
		(void)c;
		_exit(0);
	}
	return g > 0 ? 0 : 1;
}

static void orphans(void)
{
	REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	REQUIRE(pipe(orphan_pipe) == 0);
	pid_t mid = fork_run(make_orphan);
	int st = status_of(mid);
	TEST_RES(WIFEXITED(st) && WEXITSTATUS(st) == 0, 1);
	close(orphan_pipe[1]);
	pid_t pp = 0;
	TEST_RES(read(orphan_pipe[0], &pp, sizeof pp), (long)sizeof pp);
	TEST_RES(pp, getpid());
	/* The grandchild is now this process's child. */
	TEST_TRUE(waitpid(-1, &st, 0) > 0);
	TEST_RES(WIFEXITED(st) && WEXITSTATUS(st) == 0, 1);
	close(orphan_pipe[0]);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

/* ---- signals ---- */

static volatile sig_atomic_t chld_pid, usr1_seen;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	chld_pid = si->si_pid;
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen = 1;
}

static int child_signal_state(void)
{
	sigset_t pend, mask;
	sigpending(&pend);
	sigprocmask(SIG_SETMASK, NULL, &mask);
	struct sigaction sa;
	sigaction(SIGUSR2, NULL, &sa);
	/* Pending signals are not inherited; the mask and actions are. */
	if (sigismember(&pend, SIGUSR1))
		return 1;
	if (!sigismember(&mask, SIGUSR1))
		return 2;
	if (sa.sa_handler != SIG_IGN)
		return 3;
	return 0;
}

static void signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGCHLD, &sa, NULL);
	chld_pid = 0;
	pid_t p = fork_run(exit_5);
	int st = status_of(p);
	TEST_RES(chld_pid, p);
	TEST_RES(WEXITSTATUS(st), 5);
	signal(SIGCHLD, SIG_DFL);
	/* Pending SIGUSR1 (blocked) stays with the parent only. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, SIG_IGN);
	raise(SIGUSR1);
	p = fork_run(child_signal_state);
	st = status_of(p);
	TEST_RES(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
	usr1_seen = 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	TEST_RES(usr1_seen, 1);
	signal(SIGUSR2, SIG_DFL);
	/* kill to a process group of forked children. */
	pid_t a = fork_run(sleep_long);
	TEST_RES(setpgid(a, a), 0);
	pid_t b = fork_run(sleep_long);
	TEST_RES(setpgid(b, a), 0);
	TEST_RES(kill(-a, SIGKILL), 0);
	st = status_of(a);
	TEST_RES(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, 1);
	st = status_of(b);
	TEST_RES(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, 1);
}

/* ---- pipes and files across processes ---- */

static int pipe_fd[2];

static int pipe_writer(void)
{
	close(pipe_fd[0]);
	for (int i = 0; i < 100; i++)
		if (write(pipe_fd[1], "0123456789", 10) != 10)
			return 1;
	return 0;
}

static int epipe_writer(void)
{
	close(pipe_fd[0]);
	/* The reader is gone: SIGPIPE (default action: the process ends). */
	(void)write(pipe_fd[1], "x", 1);
	return 3;
}

static int file_fd;

static int file_child(void)
{
	/* The child writes through the shared open file description: the offset moves for
	 * both. */
	return write(file_fd, "child", 5) == 5 ? 0 : 1;
}

static void pipes_and_files(void)
{
	REQUIRE(pipe(pipe_fd) == 0);
	pid_t p = fork_run(pipe_writer);
	pid_t q = fork_run(pipe_writer);
	close(pipe_fd[1]);
	char buf[256];
	long total = 0;
	ssize_t n;
	while ((n = read(pipe_fd[0], buf, sizeof buf)) > 0)
		total += n;
	/* Both writers' bytes, then end of file once the last one has exited. */
	TEST_RES(total, 2000);
	TEST_RES(n, 0);
	TEST_RES(WEXITSTATUS(status_of(p)), 0);
	TEST_RES(WEXITSTATUS(status_of(q)), 0);
	close(pipe_fd[0]);
	REQUIRE(pipe(pipe_fd) == 0);
	close(pipe_fd[0]);
	p = fork_run(epipe_writer);
	close(pipe_fd[1]);
	int st = status_of(p);
	TEST_RES(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE, 1);
	file_fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	REQUIRE(file_fd >= 0);
	TEST_RES(write(file_fd, "parent", 6), 6);
	p = fork_run(file_child);
	TEST_RES(WEXITSTATUS(status_of(p)), 0);
	TEST_RES(lseek(file_fd, 0, SEEK_CUR), 11);
	close(file_fd);
}

/* ---- threads ---- */

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static volatile int thread_go;

static void *holder(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&held);
	thread_go = 1;
	while (thread_go != 2)
		usleep(1000);
	pthread_mutex_unlock(&held);
	return NULL;
}

static void *add_one(void *arg)
{
	*(int *)arg += 1;
	return NULL;
}

static int child_of_threads(void)
{
	/* The holder thread is not in the child: its lock stays held. */
	if (pthread_mutex_trylock(&held) != EBUSY)
		return 1;
	/* New threads, joined through futexes on the child's copy of memory. */
	int v = 0;
	for (int i = 0; i < 5; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, add_one, &v) != 0)
			return 2;
		if (pthread_join(t, NULL) != 0)
			return 3;
	}
	return v == 5 ? 0 : 4;
}

static void threads(void)
{
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, holder, NULL) == 0);
	while (!thread_go)
		usleep(1000);
	pid_t p = fork_run(child_of_threads);
	int st = status_of(p);
	TEST_RES(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
	thread_go = 2;
	TEST_RES(pthread_join(t, NULL), 0);
	/* The parent's lock works as before. */
	TEST_RES(pthread_mutex_trylock(&held), 0);
	pthread_mutex_unlock(&held);
}

/* A thread that waits (a condition variable: a futex) from before a fork is woken
 * after it: the word's address is then the parent's copy of a range the child also
 * has. */
static pthread_mutex_t cv_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int cv_go;

static void *cv_waiter(void *arg)
{
	pthread_mutex_lock(&cv_lock);
	while (!cv_go)
		pthread_cond_wait(&cv, &cv_lock);
	pthread_mutex_unlock(&cv_lock);
	return arg;
}

static void wait_across_fork(void)
{
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, cv_waiter, NULL) == 0);
	usleep(100000);
	pid_t p = fork_run(exit_5);
	TEST_RES(WEXITSTATUS(status_of(p)), 5);
	pthread_mutex_lock(&cv_lock);
	cv_go = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&cv_lock);
	struct timespec limit;
	clock_gettime(CLOCK_REALTIME, &limit);
	limit.tv_sec += 5;
	TEST_RES(pthread_timedjoin_np(t, NULL, &limit), 0);
}

/* ---- nesting and exec ---- */

static int grandchild(void)
{
	counter = 3;
	pid_t g = fork_run(exit_5);
	int st = status_of(g);
	return (WIFEXITED(st) && WEXITSTATUS(st) == 5 && counter == 3) ? 0 : 1;
}

static int exec_self(void)
{
	char *argv[] = {(char *)self_path(), "child", "exit", "6", NULL};
	execve(self_path(), argv, environ);
	return 127;
}

static int exec_forker_child(void)
{
	char *argv[] = {(char *)self_path(), "child", "forker", NULL};
	execve(self_path(), argv, environ);
	return 127;
}

/* A futex in a shared file map between unrelated processes (the waker is a new
 * program, not a fork child): keyed by the file's page, not by the address. */
static void shared_futex(void)
{
	int fd = open("word", O_RDWR | O_CREAT | O_TRUNC, 0644);
	REQUIRE(fd >= 0 && ftruncate(fd, 4096) == 0);
	int *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(w != MAP_FAILED);
	char path[PATH_MAX];
	REQUIRE(getcwd(path, sizeof path - 8) != NULL);
	strcat(path, "/word");
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		char *argv[] = {(char *)self_path(), "child", "waker", path, NULL};
		execve(self_path(), argv, environ);
		_exit(127);
	}
	struct timespec t0, t1, limit = {5, 0};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long r = syscall(SYS_futex, w, FUTEX_WAIT, 0, &limit, NULL, 0);
	int e = errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Woken (or the word had changed already), never the 5 s timeout. */
	TEST_RES(r == 0 || e == EAGAIN, 1);
	TEST_RES(t1.tv_sec - t0.tv_sec < 4, 1);
	TEST_RES(*w, 1);
	TEST_RES(WEXITSTATUS(status_of(p)), 0);
	munmap(w, 4096);
	close(fd);
}

/* clone() without CLONE_VM: a new process on a copy of the memory, running a function
 * on a stack of that copy. */
static char clone_stack[64 * 1024] __attribute__((aligned(16)));

static int cloned(void *arg)
{
	counter += *(int *)arg;
	return counter;
}

static void clone_process(void)
{
	counter = 2;
	int add = 7;
	fflush(stdout);
	pid_t p = clone(cloned, clone_stack + sizeof clone_stack, SIGCHLD, &add);
	TEST_TRUE(p > 0);
	int st = status_of(p);
	TEST_RES(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 9);
	TEST_RES(counter, 2);
}

static void nesting_and_exec(void)
{
	counter = 1;
	pid_t p = fork_run(grandchild);
	TEST_RES(WEXITSTATUS(status_of(p)), 0);
	TEST_RES(counter, 1);
	p = fork_run(exec_self);
	TEST_RES(WEXITSTATUS(status_of(p)), 6);
	/* A program started by execve forks in its turn. */
	p = fork_run(exec_forker_child);
	TEST_RES(WEXITSTATUS(status_of(p)), 0);
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "child"))
		return child_main(argc, argv);
	ukt_setup();
	RUN(memory);
	RUN(unmap_in_parent);
	RUN(statuses);
	RUN(wnohang_and_zombies);
	RUN(orphans);
	RUN(signals);
	RUN(pipes_and_files);
	RUN(threads);
	RUN(nesting_and_exec);
	RUN(shared_futex);
	RUN(clone_process);
	RUN(wait_across_fork);
	return ukt_finish();
}
