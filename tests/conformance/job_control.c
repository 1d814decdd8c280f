/* Job control: stop signals stop a child (SIGSTOP, raise, a blocked SIGTSTP once it is
 * unblocked), SIGCONT continues it (and runs its handler), SIGKILL ends a stopped one,
 * other signals wait until it is continued; the parent hears of stops and continues
 * through wait4 (WUNTRACED, WCONTINUED), waitid (WSTOPPED, WCONTINUED, WNOWAIT) and
 * SIGCHLD (CLD_STOPPED, CLD_CONTINUED; none with SA_NOCLDSTOP), each event once;
 * SIGTSTP to an orphaned process group is discarded; a group left orphaned with a
 * stopped member gets SIGHUP and SIGCONT.
 *
 * Children are this program run again as "child MODE" (UKT_SELF, as in processes.c).
 * Children that must be ready before a signal is sent say so with one byte on their
 * standard output, a pipe to the parent.
 */
#include "harness.h"
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static const char *self_path(void)
{
	const char *s = getenv("UKT_SELF");
	return s && *s ? s : "/proc/self/exe";
}

static void nap_ms(int ms)
{
	struct timespec t = {0, ms * 1000000L};
	nanosleep(&t, NULL);
}

/* ---- the child side ---- */

static volatile sig_atomic_t got_signal;

static void note(int sig)
{
	got_signal = sig;
}

static int say(char c)
{
	return write(1, &c, 1) == 1;
}

static int child_main(const char *mode)
{
	if (!strcmp(mode, "pause")) {
		for (;;)
			pause();
	}
	if (!strcmp(mode, "ticker")) {
		/* A byte every millisecond, as long as it runs. */
		for (;;) {
			if (!say('t'))
				return 1;
			nap_ms(1);
		}
	}
	if (!strcmp(mode, "selfstop")) {
		raise(SIGSTOP);
		return 7;
	}
	if (!strcmp(mode, "contcatch")) {
		/* SIGCONT's handler runs once the child is continued. */
		signal(SIGCONT, note);
		if (!say('r'))
			return 1;
		while (got_signal != SIGCONT)
			pause();
		return 42;
	}
	if (!strcmp(mode, "blocktstp")) {
		/* SIGTSTP blocked: it waits; SIGUSR1 says to unblock it, which stops us. */
		sigset_t m;
		sigemptyset(&m);
		sigaddset(&m, SIGTSTP);
		sigprocmask(SIG_BLOCK, &m, NULL);
		signal(SIGUSR1, note);
		if (!say('r'))
			return 1;
		while (got_signal != SIGUSR1)
			pause();
		/* Still running although SIGTSTP is pending. */
		if (!say('b'))
			return 2;
		sigprocmask(SIG_UNBLOCK, &m, NULL);
		return 5;
	}
	if (!strcmp(mode, "orphan")) {
		/* A new session: the child's group is orphaned, SIGTSTP is discarded. */
		if (setsid() != getpid())
			return 1;
		raise(SIGTSTP);
		return 9;
	}
	if (!strcmp(mode, "hupmiddle")) {
		/* A session of its own, in which a group will be left orphaned. */
		if (setsid() != getpid())
			return 1;
		char *args[] = {(char *)"child", (char *)"child", (char *)"hupleader", NULL};
		pid_t pid;
		int st;
		if (posix_spawn(&pid, self_path(), NULL, NULL, args, environ))
			return 2;
		return waitpid(pid, &st, 0) == pid && st == 0 ? 0 : 3;
	}
	if (!strcmp(mode, "hupleader")) {
		/* Lead a group whose only other member stops; say its pid and end: the group
		 * is orphaned (its member's new parent is in another session). */
		if (setpgid(0, 0))
			return 1;
		char *args[] = {(char *)"child", (char *)"child", (char *)"selfstop", NULL};
		pid_t pid;
		int st;
		if (posix_spawn(&pid, self_path(), NULL, NULL, args, environ))
			return 2;
		if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st))
			return 3;
		char line[16];
		int n = snprintf(line, sizeof line, "%d\n", (int)pid);
		return write(1, line, n) == n ? 0 : 4;
	}
	return 100;
}

/* ---- helpers for the parent ---- */

/* posix_spawn of this program as "child MODE"; its standard output goes to `out` when
 * out >= 0; in its own process group when `own_group`. The pid, or -errno. */
static pid_t spawn_child(const char *mode, int out, int own_group)
{
	char *args[] = {(char *)"child", (char *)"child", (char *)mode, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	if (out >= 0)
		posix_spawn_file_actions_adddup2(&fa, out, 1);
	if (own_group) {
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
		posix_spawnattr_setpgroup(&at, 0);
	}
	pid_t pid;
	int r = posix_spawn(&pid, self_path(), &fa, &at, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return r ? -r : pid;
}

/* waitpid's status for `pid` with `options`, or -1. */
static int wait_status(pid_t pid, int options)
{
	int st = 0;
	if (waitpid(pid, &st, options) != pid)
		return -1;
	return st;
}

/* One byte from `fd` (waiting at most 10 s), or -1. */
static int read_byte(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	unsigned char c;
	if (poll(&p, 1, 10000) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return c;
}

/* Bytes readable from non-blocking `fd` right now. */
static int drain(int fd)
{
	char buf[4096];
	int n = 0, r;
	while ((r = read(fd, buf, sizeof buf)) > 0)
		n += r;
	return n;
}

/* The state letter of /proc/PID/stat, or '?'. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512] = {0};
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	int n = read(fd, buf, sizeof buf - 1);
	close(fd);
	const char *p = n > 0 ? strrchr(buf, ')') : NULL;
	return p && p[1] == ' ' ? p[2] : '?';
}

/* ---- groups ---- */

static void stop_and_continue(void)
{
	pid_t pid = spawn_child("pause", -1, 0);
	REQUIRE(pid > 0);
	TEST_RES(kill(pid, SIGSTOP), 0);
	int st = wait_status(pid, WUNTRACED);
	TEST_TRUE(WIFSTOPPED(st));
	TEST_RES(WSTOPSIG(st), SIGSTOP);
	/* Reported once. */
	TEST_RES(waitpid(pid, &st, WUNTRACED | WNOHANG), 0);
	TEST_RES(proc_state(pid), 'T');
	/* Without WUNTRACED a stop is not reported. */
	TEST_RES(waitpid(pid, &st, WNOHANG), 0);
	TEST_RES(kill(pid, SIGCONT), 0);
	st = wait_status(pid, WCONTINUED);
	TEST_TRUE(WIFCONTINUED(st));
	TEST_RES(waitpid(pid, &st, WCONTINUED | WNOHANG), 0);
	TEST_TRUE(proc_state(pid) != 'T');
	/* SIGKILL ends a stopped child. */
	TEST_RES(kill(pid, SIGSTOP), 0);
	TEST_RES(WSTOPSIG(wait_status(pid, WUNTRACED)), SIGSTOP);
	TEST_RES(kill(pid, SIGKILL), 0);
	TEST_RES(wait_status(pid, WUNTRACED | WCONTINUED), SIGKILL);
}

static void stopped_means_not_running(void)
{
	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	pid_t pid = spawn_child("ticker", p[1], 0);
	close(p[1]);
	REQUIRE(pid > 0);
	TEST_RES(read_byte(p[0]), 't');
	TEST_RES(kill(pid, SIGSTOP), 0);
	TEST_TRUE(WIFSTOPPED(wait_status(pid, WUNTRACED)));
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	drain(p[0]);
	/* It had every chance to write meanwhile. */
	nap_ms(50);
	TEST_RES(drain(p[0]), 0);
	fcntl(p[0], F_SETFL, 0);
	TEST_RES(kill(pid, SIGCONT), 0);
	TEST_RES(read_byte(p[0]), 't');
	TEST_RES(kill(pid, SIGKILL), 0);
	TEST_RES(wait_status(pid, 0), SIGKILL);
	close(p[0]);
}

static void other_signals_wait(void)
{
	/* A SIGTERM sent to a stopped child waits until SIGCONT, then ends it. */
	pid_t pid = spawn_child("pause", -1, 0);
	REQUIRE(pid > 0);
	TEST_RES(kill(pid, SIGSTOP), 0);
	TEST_TRUE(WIFSTOPPED(wait_status(pid, WUNTRACED)));
	TEST_RES(kill(pid, SIGTERM), 0);
	int st;
	TEST_RES(waitpid(pid, &st, WNOHANG), 0);
	TEST_RES(proc_state(pid), 'T');
	TEST_RES(kill(pid, SIGCONT), 0);
	TEST_RES(wait_status(pid, 0), SIGTERM);
}

static void self_stop(void)
{
	/* raise(SIGSTOP) stops the caller; after SIGCONT it goes on. */
	pid_t pid = spawn_child("selfstop", -1, 0);
	REQUIRE(pid > 0);
	int st = wait_status(pid, WUNTRACED);
	TEST_TRUE(WIFSTOPPED(st));
	TEST_RES(WSTOPSIG(st), SIGSTOP);
	TEST_RES(kill(pid, SIGCONT), 0);
	TEST_RES(wait_status(pid, 0), 7 << 8);
}

static void sigcont_handler(void)
{
	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	pid_t pid = spawn_child("contcatch", p[1], 0);
	close(p[1]);
	REQUIRE(pid > 0);
	REQUIRE(read_byte(p[0]) == 'r');
	TEST_RES(kill(pid, SIGSTOP), 0);
	TEST_TRUE(WIFSTOPPED(wait_status(pid, WUNTRACED)));
	TEST_RES(kill(pid, SIGCONT), 0);
	/* Its handler ran: it ended with 42. */
	TEST_RES(wait_status(pid, 0), 42 << 8);
	close(p[0]);
}

static void blocked_stop_signal(void)
{
	/* A blocked SIGTSTP waits; unblocked, it stops the child (own group: not orphaned). */
	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	pid_t pid = spawn_child("blocktstp", p[1], 1);
	close(p[1]);
	REQUIRE(pid > 0);
	REQUIRE(read_byte(p[0]) == 'r');
	TEST_RES(kill(pid, SIGTSTP), 0);
	TEST_RES(kill(pid, SIGUSR1), 0);
	TEST_RES(read_byte(p[0]), 'b');
	int st = wait_status(pid, WUNTRACED);
	TEST_TRUE(WIFSTOPPED(st));
	TEST_RES(WSTOPSIG(st), SIGTSTP);
	TEST_RES(kill(pid, SIGCONT), 0);
	TEST_RES(wait_status(pid, 0), 5 << 8);
	close(p[0]);
}

static void orphaned_group(void)
{
	/* The child's new session makes its group orphaned: SIGTSTP is discarded. */
	pid_t pid = spawn_child("orphan", -1, 0);
	REQUIRE(pid > 0);
	int st = wait_status(pid, WUNTRACED);
	TEST_RES(st, 9 << 8);
	if (WIFSTOPPED(st)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static void sigchld_codes(void)
{
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	struct timespec ten = {10, 0};
	siginfo_t si;
	pid_t pid = spawn_child("pause", -1, 0);
	REQUIRE(pid > 0);
	TEST_RES(kill(pid, SIGSTOP), 0);
	memset(&si, 0, sizeof si);
	TEST_RES(sigtimedwait(&chld, &si, &ten), SIGCHLD);
	TEST_RES(si.si_code, CLD_STOPPED);
	TEST_RES(si.si_status, SIGSTOP);
	TEST_RES(si.si_pid, pid);
	TEST_TRUE(WIFSTOPPED(wait_status(pid, WUNTRACED)));
	TEST_RES(kill(pid, SIGCONT), 0);
	memset(&si, 0, sizeof si);
	TEST_RES(sigtimedwait(&chld, &si, &ten), SIGCHLD);
	TEST_RES(si.si_code, CLD_CONTINUED);
	TEST_RES(si.si_status, SIGCONT);
	TEST_TRUE(WIFCONTINUED(wait_status(pid, WCONTINUED)));
	/* SA_NOCLDSTOP: no SIGCHLD for stops and continues, one for the end. */
	struct sigaction a = {.sa_handler = note, .sa_flags = SA_NOCLDSTOP}, olda;
	sigemptyset(&a.sa_mask);
	sigaction(SIGCHLD, &a, &olda);
	TEST_RES(kill(pid, SIGSTOP), 0);
	TEST_TRUE(WIFSTOPPED(wait_status(pid, WUNTRACED)));
	sigset_t pend;
	sigpending(&pend);
	TEST_RES(sigismember(&pend, SIGCHLD), 0);
	TEST_RES(kill(pid, SIGCONT), 0);
	TEST_TRUE(WIFCONTINUED(wait_status(pid, WCONTINUED)));
	sigpending(&pend);
	TEST_RES(sigismember(&pend, SIGCHLD), 0);
	TEST_RES(kill(pid, SIGKILL), 0);
	TEST_RES(wait_status(pid, 0), SIGKILL);
	memset(&si, 0, sizeof si);
	TEST_RES(sigtimedwait(&chld, &si, &ten), SIGCHLD);
	TEST_RES(si.si_code, CLD_KILLED);
	sigaction(SIGCHLD, &olda, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static void waitid_events(void)
{
	siginfo_t si;
	pid_t pid = spawn_child("pause", -1, 0);
	REQUIRE(pid > 0);
	TEST_RES(kill(pid, SIGSTOP), 0);
	memset(&si, 0, sizeof si);
	TEST_RES(waitid(P_PID, pid, &si, WSTOPPED), 0);
	TEST_RES(si.si_pid, pid);
	TEST_RES(si.si_signo, SIGCHLD);
	TEST_RES(si.si_code, CLD_STOPPED);
	TEST_RES(si.si_status, SIGSTOP);
	memset(&si, 0xff, sizeof si);
	TEST_RES(waitid(P_PID, pid, &si, WSTOPPED | WNOHANG), 0);
	TEST_RES(si.si_pid, 0);
	/* A stopped child has not exited. */
	memset(&si, 0xff, sizeof si);
	TEST_RES(waitid(P_PID, pid, &si, WEXITED | WNOHANG), 0);
	TEST_RES(si.si_pid, 0);
	TEST_RES(kill(pid, SIGCONT), 0);
	/* WNOWAIT leaves the event to be reported again. */
	memset(&si, 0, sizeof si);
	TEST_RES(waitid(P_PID, pid, &si, WCONTINUED | WNOWAIT), 0);
	TEST_RES(si.si_code, CLD_CONTINUED);
	TEST_RES(si.si_status, SIGCONT);
	memset(&si, 0, sizeof si);
	TEST_RES(waitid(P_ALL, 0, &si, WCONTINUED), 0);
	TEST_RES(si.si_pid, pid);
	TEST_RES(si.si_code, CLD_CONTINUED);
	memset(&si, 0xff, sizeof si);
	TEST_RES(waitid(P_PID, pid, &si, WCONTINUED | WNOHANG), 0);
	TEST_RES(si.si_pid, 0);
	TEST_ERRNO(waitid(P_PID, pid, &si, WNOHANG), EINVAL);
	TEST_RES(kill(pid, SIGKILL), 0);
	memset(&si, 0, sizeof si);
	TEST_RES(waitid(P_PID, pid, &si, WEXITED | WSTOPPED), 0);
	TEST_RES(si.si_code, CLD_KILLED);
	TEST_RES(si.si_status, SIGKILL);
}

static void orphaned_stopped_group(void)
{
	/* Its group orphaned with a stopped member, the grandchild gets SIGHUP then
	 * SIGCONT, and dies of the SIGHUP. It comes to this process (natively a subreaper;
	 * on ukit pid 1, which this process is there). */
	REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	pid_t mid = spawn_child("hupmiddle", p[1], 0);
	close(p[1]);
	REQUIRE(mid > 0);
	char line[16] = {0};
	for (size_t i = 0; i < sizeof line - 1; i++) {
		int c = read_byte(p[0]);
		if (c < 0 || c == '\n')
			break;
		line[i] = (char)c;
	}
	pid_t stopped_one = atoi(line);
	REQUIRE(stopped_one > 0);
	TEST_RES(wait_status(mid, 0), 0);
	/* A way out if nothing ends it: kill it after 10 s. */
	int st = 0;
	pid_t got = 0;
	for (int i = 0; i < 1000 && got == 0; i++) {
		got = waitpid(stopped_one, &st, WNOHANG);
		if (got == 0)
			nap_ms(10);
	}
	if (got == 0) {
		kill(stopped_one, SIGKILL);
		waitpid(stopped_one, &st, 0);
	}
	TEST_TRUE(WIFSIGNALED(st));
	TEST_RES(WTERMSIG(st), SIGHUP);
	close(p[0]);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

/* A vfork caller stopped while its child runs stays stopped after the child exits,
 * until SIGCONT (here from a forked helper 300 ms later). The caller is a child of
 * this program (pid 1 of an image ignores stop signals, as init does); it exits with 0
 * when it was held at least 250 ms, 1 when not. */
static int vfork_caller(void)
{
	pid_t helper = fork();
	if (helper == 0) {
		usleep(300000);
		kill(getppid(), SIGCONT);
		_exit(0);
	}
	if (helper < 0)
		return 2;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t c = vfork();
	if (c == 0) {
		kill(getppid(), SIGSTOP);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	int st;
	waitpid(c, &st, 0);
	waitpid(helper, &st, 0);
	return ms >= 250 ? 0 : 1;
}

static void vfork_caller_stopped(void)
{
	fflush(stdout);
	pid_t t = fork();
	if (t == 0)
		_exit(vfork_caller());
	REQUIRE(t > 0);
	int st = 0;
	TEST_RES(waitpid(t, &st, WUNTRACED), t);
	/* The stop is reported to this parent too; continue-wait for the exit. */
	if (WIFSTOPPED(st))
		waitpid(t, &st, 0);
	TEST_RES(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "child"))
		return child_main(argv[2]);
	ukt_setup();
	RUN(stop_and_continue);
	RUN(stopped_means_not_running);
	RUN(other_signals_wait);
	RUN(self_stop);
	RUN(sigcont_handler);
	RUN(blocked_stop_signal);
	RUN(orphaned_group);
	RUN(sigchld_codes);
	RUN(waitid_events);
	RUN(orphaned_stopped_group);
	RUN(vfork_caller_stopped);
	return ukt_finish();
}
