/* Processes: posix_spawn (file actions, attributes), vfork + execve, FD_CLOEXEC at exec,
 * signal actions at exec, #! scripts, wait statuses (exit code, killed by a signal),
 * WNOHANG loops, waitid, SIGCHLD, kill to a process and to a process group, process
 * groups and sessions, interval timers across execve, reparented zombies.
 *
 * The children are this same program run again with "child MODE ...": the driver
 * passes its path in UKT_SELF (natively the program itself; on ukit a program file
 * built with uk-cc --uk-program from this source, which the image loads with execve).
 * A child reports through its exit status and never prints case lines.
 */
#include "harness.h"
#include <signal.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static const char *self_path(void)
{
	const char *s = getenv("UKT_SELF");
	return s && *s ? s : "/proc/self/exe";
}

/* ---- the child side ---- */

/* Deep enough to run off any stack: 1 KiB a level. */
__attribute__((noinline)) static int dive(int n)
{
	volatile char buf[1024];
	buf[0] = (char)n;
	return n ? dive(n - 1) + buf[0] : 0;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static int fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static int child_main(int argc, char **argv)
{
	const char *mode = argv[2];
	if (!strcmp(mode, "exit") && argc > 3)
		return atoi(argv[3]);
	if (!strcmp(mode, "say") && argc > 3) {
		/* One write to descriptor 1 (whatever the parent's file actions made of it). */
		size_t n = strlen(argv[3]);
		return write(1, argv[3], n) == (ssize_t)n ? 0 : 1;
	}
	if (!strcmp(mode, "fds"))
		/* Descriptors 10 (close-on-exec in the parent) and 11 (not). */
		return (fd_open(10) ? 1 : 0) | (fd_open(11) ? 2 : 0);
	if (!strcmp(mode, "sigs")) {
		/* SIGUSR1 had a handler in the parent (default now), SIGUSR2 was ignored (still
		 * ignored), SIGUSR1 blocked in the parent's mask (still blocked). */
		struct sigaction a1, a2;
		sigset_t m;
		sigaction(SIGUSR1, NULL, &a1);
		sigaction(SIGUSR2, NULL, &a2);
		sigprocmask(SIG_BLOCK, NULL, &m);
		return (a1.sa_handler == SIG_DFL ? 1 : 0) | (a2.sa_handler == SIG_IGN ? 2 : 0) |
		       (sigismember(&m, SIGUSR1) ? 4 : 0);
	}
	if (!strcmp(mode, "ownpgrp"))
		return getpgid(0) == getpid() ? 0 : 1;
	if (!strcmp(mode, "setsid")) {
		pid_t me = getpid();
		if (setsid() != me)
			return 1;
		return getsid(0) == me && getpgid(0) == me ? 0 : 2;
	}
	if (!strcmp(mode, "ppid") && argc > 3)
		return getppid() == atoi(argv[3]) ? 0 : 1;
	if (!strcmp(mode, "pause")) {
		for (;;)
			pause();
	}
	if (!strcmp(mode, "abort"))
		abort();
	if (!strcmp(mode, "middle")) {
		/* Start a grandchild that asks for SIGTERM when its parent dies, give it
		 * time to ask, and end without waiting for it. */
		char *args[] = {(char *)"child", (char *)"child", (char *)"pdeath", NULL};
		pid_t pid;
		if (posix_spawn(&pid, self_path(), NULL, NULL, args, environ))
			return 1;
		struct timespec t = {0, 300 * 1000000L};
		nanosleep(&t, NULL);
		return 0;
	}
	if (!strcmp(mode, "pdeath")) {
		if (prctl(PR_SET_PDEATHSIG, SIGTERM))
			return 2;
		for (;;)
			pause();
	}
	if (!strcmp(mode, "procself")) {
		/* Its own /proc/self: the pid in stat, the parent in status. */
		char buf[4096] = {0};
		int fd = open("/proc/self/stat", O_RDONLY);
		if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0)
			return 1;
		close(fd);
		if (atoi(buf) != getpid())
			return 2;
		fd = open("/proc/self/status", O_RDONLY);
		memset(buf, 0, sizeof buf);
		if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0)
			return 3;
		close(fd);
		const char *pp = strstr(buf, "\nPPid:\t");
		return pp && atoi(pp + 7) == getppid() ? 0 : 4;
	}
	if (!strcmp(mode, "segv")) {
		*(volatile int *)(long)argc = 1; /* an address in the first page */
		return 60;
	}
	if (!strcmp(mode, "overflow"))
		return dive(1 << 30) == 7 ? 61 : 62;
	if (!strcmp(mode, "checkpid") && argc > 3)
		return getpid() == atoi(argv[3]) ? 0 : 1;
	if (!strcmp(mode, "reexec")) {
		/* The process replaces itself: same pid after the exec. */
		char me[16];
		snprintf(me, sizeof me, "%d", (int)getpid());
		char *args[] = {(char *)"child", (char *)"child", (char *)"checkpid", me, NULL};
		execve(self_path(), args, environ);
		return 50;
	}
	if (!strcmp(mode, "timersexec")) {
		/* An interval timer and a POSIX timer, both far off, then exec. */
		struct itimerval it = {.it_value = {30, 0}};
		if (setitimer(ITIMER_REAL, &it, NULL))
			return 53;
		timer_t t;
		struct itimerspec ts = {.it_value = {30, 0}};
		if (timer_create(CLOCK_MONOTONIC, NULL, &t) || timer_settime(t, 0, &ts, NULL))
			return 54;
		char id[32];
		snprintf(id, sizeof id, "%ld", (long)(intptr_t)t);
		char *args[] = {(char *)"child", (char *)"child", (char *)"timersafter", id, NULL};
		execve(self_path(), args, environ);
		return 55;
	}
	if (!strcmp(mode, "timersafter") && argc > 3) {
		/* ITIMER_REAL is still armed; the POSIX timer is gone. */
		struct itimerval it;
		getitimer(ITIMER_REAL, &it);
		int armed = it.it_value.tv_sec > 0 && it.it_value.tv_sec <= 30;
		struct itimerspec ts;
		long r = syscall(SYS_timer_gettime, atol(argv[3]), &ts);
		int gone = r == -1 && errno == EINVAL;
		return (armed ? 1 : 0) | (gone ? 2 : 0);
	}
	if (!strcmp(mode, "zmiddle")) {
		/* Start a grandchild, let it end (a zombie, not reaped) and end too. */
		char *args[] = {(char *)"child", (char *)"child", (char *)"exit", (char *)"6", NULL};
		pid_t pid;
		if (posix_spawn(&pid, self_path(), NULL, NULL, args, environ))
			return 1;
		siginfo_t si;
		return waitid(P_PID, pid, &si, WEXITED | WNOWAIT) ? 2 : 0;
	}
	if (!strcmp(mode, "threxec")) {
		/* A second thread that never ends by itself: exec ends it. */
		pthread_t t;
		if (pthread_create(&t, NULL, sleeper, NULL))
			return 51;
		char *args[] = {(char *)"child", (char *)"child", (char *)"exit", (char *)"22", NULL};
		execve(self_path(), args, environ);
		return 52;
	}
	return 100;
}

/* ---- helpers for the parent ---- */

/* posix_spawn of this program as "child MODE [ARG]"; the pid, or -errno. */
static pid_t spawn_child(const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
			 const char *mode, const char *arg)
{
	char *args[] = {(char *)"child", (char *)"child", (char *)mode, (char *)arg, NULL};
	pid_t pid;
	int r = posix_spawn(&pid, self_path(), fa, at, args, environ);
	return r ? -r : pid;
}

/* The wait status of `pid`, or -1. */
static int status_of(pid_t pid)
{
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

static void nap_ms(int ms)
{
	struct timespec t = {0, ms * 1000000L};
	nanosleep(&t, NULL);
}

/* ---- groups ---- */

static void spawn_and_wait(void)
{
	pid_t pid = spawn_child(NULL, NULL, "exit", "7");
	REQUIRE(pid > 0);
	int st = status_of(pid);
	TEST_TRUE(WIFEXITED(st));
	TEST_RES(WEXITSTATUS(st), 7);
	TEST_ERRNO(waitpid(pid, NULL, WNOHANG), ECHILD);
	/* The child's parent is the caller. */
	char me[16];
	snprintf(me, sizeof me, "%d", (int)getpid());
	pid = spawn_child(NULL, NULL, "ppid", me);
	REQUIRE(pid > 0);
	TEST_RES(status_of(pid), 0);
	/* posix_spawn reports the exec's errno. */
	pid_t p2;
	char *args[] = {(char *)"x", NULL};
	TEST_RES(posix_spawn(&p2, "/nonexistent/program", NULL, NULL, args, environ), ENOENT);
	TEST_RES(ukt_write_file("plain", "no interpreter line\n"), 0);
	TEST_RES(chmod("plain", 0755), 0);
	TEST_RES(posix_spawn(&p2, "plain", NULL, NULL, args, environ), ENOEXEC);
	TEST_RES(chmod("plain", 0644), 0);
	TEST_RES(posix_spawn(&p2, "plain", NULL, NULL, args, environ), EACCES);
	/* A process that replaces itself keeps its pid; its other threads end. */
	pid = spawn_child(NULL, NULL, "reexec", NULL);
	REQUIRE(pid > 0);
	TEST_RES(status_of(pid), 0);
	pid = spawn_child(NULL, NULL, "threxec", NULL);
	REQUIRE(pid > 0);
	TEST_RES(status_of(pid), 22 << 8);
}

static void file_actions(void)
{
	posix_spawn_file_actions_t fa;
	REQUIRE(posix_spawn_file_actions_init(&fa) == 0);
	TEST_RES(posix_spawn_file_actions_addopen(&fa, 5, "out", O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
	TEST_RES(posix_spawn_file_actions_adddup2(&fa, 5, 1), 0);
	TEST_RES(posix_spawn_file_actions_addclose(&fa, 5), 0);
	pid_t pid = spawn_child(&fa, NULL, "say", "hello");
	REQUIRE(pid > 0);
	TEST_RES(status_of(pid), 0);
	char buf[16] = {0};
	int fd = open("out", O_RDONLY);
	TEST_RES(read(fd, buf, sizeof buf), 5);
	TEST_RES(strcmp(buf, "hello"), 0);
	close(fd);
	posix_spawn_file_actions_destroy(&fa);
}

static void attributes(void)
{
	posix_spawnattr_t at;
	REQUIRE(posix_spawnattr_init(&at) == 0);
	TEST_RES(posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP), 0);
	TEST_RES(posix_spawnattr_setpgroup(&at, 0), 0);
	pid_t pid = spawn_child(NULL, &at, "ownpgrp", NULL);
	REQUIRE(pid > 0);
	TEST_RES(status_of(pid), 0);
	posix_spawnattr_destroy(&at);
	/* Without the attribute, the child is in the caller's group and session. */
	pid = spawn_child(NULL, NULL, "pause", NULL);
	REQUIRE(pid > 0);
	TEST_RES(getpgid(pid), getpgid(0));
	TEST_RES(getsid(pid), getsid(0));
	/* After its exec, the parent may no longer move it. */
	TEST_ERRNO(setpgid(pid, pid), EACCES);
	TEST_RES(kill(pid, SIGKILL), 0);
	TEST_RES(status_of(pid), SIGKILL);
	pid = spawn_child(NULL, NULL, "setsid", NULL);
	REQUIRE(pid > 0);
	TEST_RES(status_of(pid), 0);
}

static void close_on_exec(void)
{
	int a = open("/dev/null", O_RDONLY);
	REQUIRE(a >= 0);
	TEST_RES(dup3(a, 10, O_CLOEXEC), 10);
	TEST_RES(dup2(a, 11), 11);
	close(a);
	pid_t pid = spawn_child(NULL, NULL, "fds", NULL);
	REQUIRE(pid > 0);
	int st = status_of(pid);
	/* 10 closed at exec, 11 kept. */
	TEST_RES(WEXITSTATUS(st), 2);
	close(10);
	close(11);
}

static volatile int vfork_shared;

static void noop(int sig)
{
	(void)sig;
}

static void vfork_exec(void)
{
	struct sigaction h = {.sa_handler = SIG_IGN};
	struct sigaction old1, old2;
	sigaction(SIGUSR2, &h, &old2);
	h.sa_handler = noop;
	sigaction(SIGUSR1, &h, &old1);
	sigset_t m, oldm;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m, &oldm);
	char *args[] = {(char *)"child", (char *)"child", (char *)"sigs", NULL};
	const char *path = self_path();
	pid_t pid = vfork();
	if (pid == 0) {
		execve(path, args, environ);
		_exit(127);
	}
	REQUIRE(pid > 0);
	/* Handled: default after exec; ignored: still ignored; the mask is kept. */
	TEST_RES(WEXITSTATUS(status_of(pid)), 7);
	sigprocmask(SIG_SETMASK, &oldm, NULL);
	sigaction(SIGUSR1, &old1, NULL);
	sigaction(SIGUSR2, &old2, NULL);
	/* A vfork child that exits without exec: it ran on the caller's memory. */
	vfork_shared = 0;
	pid = vfork();
	if (pid == 0) {
		vfork_shared = 42;
		_exit(5);
	}
	REQUIRE(pid > 0);
	TEST_RES(vfork_shared, 42);
	TEST_RES(status_of(pid), 5 << 8);
	/* A failed exec in the child returns to it. */
	pid = vfork();
	if (pid == 0) {
		execve("/nonexistent/program", args, environ);
		_exit(errno == ENOENT ? 33 : 34);
	}
	REQUIRE(pid > 0);
	TEST_RES(WEXITSTATUS(status_of(pid)), 33);
}

static void scripts(void)
{
	char line[PATH_MAX + 32];
	snprintf(line, sizeof line, "#!%s child-script\n", self_path());
	TEST_RES(ukt_write_file("script.sh", line), 0);
	TEST_RES(chmod("script.sh", 0755), 0);
	char *args[] = {(char *)"script.sh", (char *)"hello", NULL};
	pid_t pid;
	REQUIRE(posix_spawn(&pid, "script.sh", NULL, NULL, args, environ) == 0);
	TEST_RES(WEXITSTATUS(status_of(pid)), 11);
}

static void wait_statuses(void)
{
	pid_t pid = spawn_child(NULL, NULL, "pause", NULL);
	REQUIRE(pid > 0);
	TEST_RES(waitpid(pid, NULL, WNOHANG), 0);
	TEST_RES(kill(pid, 0), 0);
	TEST_RES(kill(pid, SIGTERM), 0);
	int st = status_of(pid);
	TEST_TRUE(WIFSIGNALED(st));
	TEST_RES(WTERMSIG(st), SIGTERM);
	TEST_ERRNO(kill(pid, 0), ESRCH);
	pid = spawn_child(NULL, NULL, "abort", NULL);
	REQUIRE(pid > 0);
	st = status_of(pid);
	TEST_TRUE(WIFSIGNALED(st));
	TEST_RES(WTERMSIG(st), SIGABRT);
	/* A fault ends the child only, killed by SIGSEGV: a NULL write, a stack overflow. */
	pid = spawn_child(NULL, NULL, "segv", NULL);
	REQUIRE(pid > 0);
	TEST_RES(status_of(pid), SIGSEGV);
	pid = spawn_child(NULL, NULL, "overflow", NULL);
	REQUIRE(pid > 0);
	TEST_RES(status_of(pid), SIGSEGV);
	/* A WNOHANG loop sees the child once it has ended. */
	pid = spawn_child(NULL, NULL, "exit", "3");
	REQUIRE(pid > 0);
	pid_t got = 0;
	for (int i = 0; i < 2000 && got == 0; i++) {
		got = waitpid(-1, &st, WNOHANG);
		if (got == 0)
			nap_ms(1);
	}
	TEST_RES(got, pid);
	TEST_RES(st, 3 << 8);
	TEST_ERRNO(waitpid(-1, NULL, WNOHANG), ECHILD);
	TEST_ERRNO(wait(NULL), ECHILD);
}

static void waitid_cases(void)
{
	pid_t pid = spawn_child(NULL, NULL, "exit", "9");
	REQUIRE(pid > 0);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	/* WNOWAIT leaves the child to be waited for again. */
	TEST_RES(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
	TEST_RES(si.si_pid, pid);
	TEST_RES(si.si_code, CLD_EXITED);
	TEST_RES(si.si_status, 9);
	memset(&si, 0, sizeof si);
	TEST_RES(waitid(P_ALL, 0, &si, WEXITED), 0);
	TEST_RES(si.si_pid, pid);
	TEST_RES(si.si_signo, SIGCHLD);
	TEST_ERRNO(waitid(P_ALL, 0, &si, WEXITED | WNOHANG), ECHILD);
	TEST_ERRNO(waitid(P_ALL, 0, &si, WNOHANG), EINVAL);
	pid = spawn_child(NULL, NULL, "pause", NULL);
	REQUIRE(pid > 0);
	memset(&si, 0xff, sizeof si);
	TEST_RES(waitid(P_PID, pid, &si, WEXITED | WNOHANG), 0);
	TEST_RES(si.si_pid, 0);
	TEST_RES(kill(pid, SIGKILL), 0);
	TEST_RES(waitid(P_PID, pid, &si, WEXITED), 0);
	TEST_RES(si.si_code, CLD_KILLED);
	TEST_RES(si.si_status, SIGKILL);
}

static volatile sig_atomic_t chld_count, chld_pid, chld_code, chld_status;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	chld_count++;
	chld_pid = si->si_pid;
	chld_code = si->si_code;
	chld_status = si->si_status;
}

static void sigchld(void)
{
	struct sigaction a = {.sa_sigaction = on_chld, .sa_flags = SA_SIGINFO | SA_RESTART};
	struct sigaction old;
	sigemptyset(&a.sa_mask);
	REQUIRE(sigaction(SIGCHLD, &a, &old) == 0);
	chld_count = 0;
	pid_t pid = spawn_child(NULL, NULL, "exit", "4");
	REQUIRE(pid > 0);
	TEST_RES(status_of(pid), 4 << 8);
	TEST_RES(chld_count, 1);
	TEST_RES(chld_pid, pid);
	TEST_RES(chld_code, CLD_EXITED);
	TEST_RES(chld_status, 4);
	sigaction(SIGCHLD, &old, NULL);
	/* With SIGCHLD ignored, children are reaped at once: wait finds none. */
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigaction(SIGCHLD, &ign, &old);
	pid = spawn_child(NULL, NULL, "exit", "0");
	REQUIRE(pid > 0);
	TEST_ERRNO(waitpid(pid, NULL, 0), ECHILD);
	sigaction(SIGCHLD, &old, NULL);
}

static void group_kill(void)
{
	posix_spawnattr_t at;
	REQUIRE(posix_spawnattr_init(&at) == 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&at, 0);
	pid_t a = spawn_child(NULL, &at, "pause", NULL);
	REQUIRE(a > 0);
	posix_spawnattr_setpgroup(&at, a);
	pid_t b = spawn_child(NULL, &at, "pause", NULL);
	REQUIRE(b > 0);
	TEST_RES(getpgid(b), a);
	TEST_RES(kill(-a, 0), 0);
	TEST_RES(kill(-a, SIGTERM), 0);
	TEST_RES(status_of(a), SIGTERM);
	TEST_RES(status_of(b), SIGTERM);
	TEST_ERRNO(kill(-a, 0), ESRCH);
	/* A wait for a group waits for its members only. */
	posix_spawnattr_setpgroup(&at, 0);
	a = spawn_child(NULL, &at, "exit", "1");
	REQUIRE(a > 0);
	TEST_ERRNO(waitpid(0, NULL, 0), ECHILD);
	TEST_RES(waitpid(-a, NULL, 0), a);
	posix_spawnattr_destroy(&at);
}

/* The whole of a small /proc file. */
static int read_proc(const char *path, char *buf, size_t len)
{
	memset(buf, 0, len);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	int n = read(fd, buf, len - 1);
	close(fd);
	return n;
}

static void proc_of_children(void)
{
	pid_t pid = spawn_child(NULL, NULL, "pause", NULL);
	REQUIRE(pid > 0);
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	/* Linux closes the spawn pipe a moment before it lays out the new arguments. */
	int got = 0;
	for (int i = 0; i < 1000 && got <= 0; i++) {
		got = read_proc(path, buf, sizeof buf);
		if (got <= 0)
			nap_ms(1);
	}
	TEST_RES(got, 18);
	TEST_RES(memcmp(buf, "child\0child\0pause\0", 18), 0);
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	TEST_TRUE(read_proc(path, buf, sizeof buf) > 0);
	TEST_RES(atoi(buf), pid);
	/* Field 4, after the name in parentheses: the parent. */
	const char *close_paren = strrchr(buf, ')');
	TEST_TRUE(close_paren && atoi(close_paren + 4) == getpid());
	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	char target[PATH_MAX] = {0}, want[PATH_MAX] = {0};
	TEST_TRUE(readlink(path, target, sizeof target - 1) > 0);
	TEST_TRUE(realpath(self_path(), want) != NULL);
	TEST_RES(strcmp(target, want), 0);
	TEST_RES(kill(pid, SIGKILL), 0);
	TEST_RES(status_of(pid), SIGKILL);
	snprintf(path, sizeof path, "/proc/%d", (int)pid);
	TEST_ERRNO(access(path, F_OK), ENOENT);
	pid = spawn_child(NULL, NULL, "procself", NULL);
	REQUIRE(pid > 0);
	TEST_RES(status_of(pid), 0);
}

static void orphans(void)
{
	/* Orphans come to the nearest subreaper (natively this process; on ukit pid 1,
	 * which this process is there); a parent-death signal fires when their parent
	 * ends. */
	REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	int on = 0;
	TEST_RES(prctl(PR_GET_CHILD_SUBREAPER, &on), 0);
	TEST_RES(on, 1);
	pid_t a = spawn_child(NULL, NULL, "middle", NULL);
	REQUIRE(a > 0);
	TEST_RES(status_of(a), 0);
	int st = 0;
	pid_t b = waitpid(-1, &st, 0);
	TEST_TRUE(b > 0 && b != a);
	TEST_TRUE(WIFSIGNALED(st));
	TEST_RES(WTERMSIG(st), SIGTERM);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static void timers_across_exec(void)
{
	/* Interval timers survive execve; POSIX timers do not (execve(2)). */
	pid_t pid = spawn_child(NULL, NULL, "timersexec", NULL);
	REQUIRE(pid > 0);
	TEST_RES(status_of(pid), 3 << 8);
}

static void reparented_zombie(void)
{
	/* A zombie whose parent ends comes to the subreaper (natively this process, on
	 * ukit pid 1, which it is there), which is told at once: its SIGCHLD names the
	 * zombie (the middle's own SIGCHLD finds the signal already pending). */
	REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	struct timespec zero = {0, 0}, ten = {10, 0};
	while (sigtimedwait(&chld, NULL, &zero) == SIGCHLD)
		;
	pid_t a = spawn_child(NULL, NULL, "zmiddle", NULL);
	REQUIRE(a > 0);
	TEST_RES(status_of(a), 0);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	TEST_RES(sigtimedwait(&chld, &si, &ten), SIGCHLD);
	TEST_TRUE(si.si_pid > 0 && si.si_pid != a);
	TEST_RES(si.si_code, CLD_EXITED);
	TEST_RES(si.si_status, 6);
	int st = 0;
	TEST_RES(waitpid(-1, &st, 0), si.si_pid);
	TEST_RES(st, 6 << 8);
	sigprocmask(SIG_SETMASK, &old, NULL);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "child"))
		return child_main(argc, argv);
	if (argc > 3 && !strcmp(argv[1], "child-script")) {
		const char *s = strrchr(argv[2], '/');
		s = s ? s + 1 : argv[2];
		return !strcmp(s, "script.sh") && !strcmp(argv[3], "hello") ? 11 : 12;
	}
	ukt_setup();
	RUN(spawn_and_wait);
	RUN(file_actions);
	RUN(attributes);
	RUN(close_on_exec);
	RUN(vfork_exec);
	RUN(scripts);
	RUN(wait_statuses);
	RUN(waitid_cases);
	RUN(sigchld);
	RUN(group_kill);
	RUN(orphans);
	RUN(proc_of_children);
	RUN(timers_across_exec);
	RUN(reparented_zombie);
	return ukt_finish();
}
