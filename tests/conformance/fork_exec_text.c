/* A program that execve started forks children that execve in turn, one after
 * another, as a shell runs `/bin/true; /bin/true`: after each child's exec the parent
 * goes on running its own code (its text must stay executable) and sees its data as
 * it left it. The exec'd side is this program run again with "child MODE"
 * (UKT_SELF: natively the program itself; on ukit a program file built from this
 * source with uk-cc --uk-program).
 */
#include "harness.h"
#include <sys/wait.h>

extern char **environ;

static const char *self_path(void)
{
	const char *s = getenv("UKT_SELF");
	return s && *s ? s : "/proc/self/exe";
}

/* The wait status of `p`, or -1. */
static int status_of(pid_t p)
{
	int st;
	return waitpid(p, &st, 0) == p ? st : -1;
}

static int data = 5;

/* fork, and in the child exec this program as "child exit CODE". */
static pid_t fork_exec(const char *code)
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		char *argv[] = {"self", "child", "exit", (char *)code, NULL};
		execve(self_path(), argv, environ);
		_exit(127);
	}
	return p;
}

/* "child forker": three children one after another, each exec'd; exits with the sum
 * of their exit codes plus `data` (5), computed after the last one. */
static int forker(void)
{
	int sum = 0;
	const char *codes[] = {"1", "2", "3"};
	for (int i = 0; i < 3; i++) {
		pid_t p = fork_exec(codes[i]);
		if (p < 0)
			return 100;
		int st = status_of(p);
		if (!WIFEXITED(st))
			return 101;
		sum += WEXITSTATUS(st);
	}
	return sum + data;
}

static void exec_started_program_forks_and_execs_three_times(void)
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		char *argv[] = {"self", "child", "forker", NULL};
		execve(self_path(), argv, environ);
		_exit(127);
	}
	TEST_TRUE(p > 0);
	int st = status_of(p);
	TEST_TRUE(WIFEXITED(st));
	TEST_RES(WEXITSTATUS(st), 11);
}

static void this_program_forks_and_execs_three_times(void)
{
	TEST_RES(forker(), 11);
	TEST_RES(data, 5);
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "child")) {
		if (!strcmp(argv[2], "exit") && argc > 3)
			return atoi(argv[3]);
		if (!strcmp(argv[2], "forker"))
			return forker();
		return 99;
	}
	ukt_setup();
	RUN(this_program_forks_and_execs_three_times);
	RUN(exec_started_program_forks_and_execs_three_times);
	return ukt_finish();
}
