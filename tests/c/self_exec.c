/* execve of the program's own file starts the program anew: its globals, .bss and heap
 * are the file's initial ones again, whatever the caller had changed; arguments and
 * the environment arrive; descriptors marked close-on-exec are closed; the exit status
 * goes to the parent. Done by posix_spawn, by vfork + execve, by fork + execve, and by
 * the first process replacing itself. argv[0] must be the program's path. On ukit the
 * image recognises its own file (the same GNU build id) and gives the new process a
 * fresh view of the program's data (docs/processes.md). */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int counter = 5;
static char zeros[4096];

static int child(int argc, char **argv)
{
	/* fd 9 was close-on-exec, fd 8 not. */
	printf("child %s: counter=%d zeros=%d argc=%d env=%s fd8=%s fd9=%s\n", argv[2], counter,
	       zeros[100], argc, getenv("SELF_EXEC_MARK") ? getenv("SELF_EXEC_MARK") : "-",
	       fcntl(8, F_GETFD) != -1 ? "open" : "closed", fcntl(9, F_GETFD) != -1 ? "open" : "closed");
	fflush(stdout);
	return atoi(argv[2]);
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "child"))
		return child(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "last")) {
		printf("replaced: counter=%d pid1-same=%s\n", counter, argv[2]);
		return 4;
	}
	counter = 99;
	memset(zeros, 7, sizeof zeros);
	setenv("SELF_EXEC_MARK", "marked", 1);
	if (dup2(1, 8) != 8 || dup2(1, 9) != 9 || fcntl(9, F_SETFD, FD_CLOEXEC) != 0)
		return 3;
	int st = 0;
	pid_t p;
	char *a1[] = {argv[0], "child", "11", NULL};
	int e = posix_spawn(&p, argv[0], NULL, NULL, a1, environ);
	if (e == 0)
		waitpid(p, &st, 0);
	printf("posix_spawn: %d, status %d\n", e, WEXITSTATUS(st));
	fflush(stdout);
	char *a2[] = {argv[0], "child", "12", NULL};
	p = vfork();
	if (p == 0) {
		execve(argv[0], a2, environ);
		_exit(127);
	}
	waitpid(p, &st, 0);
	printf("vfork+execve: status %d\n", WEXITSTATUS(st));
	fflush(stdout);
	char *a3[] = {argv[0], "child", "13", NULL};
	p = fork();
	if (p == 0) {
		counter = 1000;
		execve(argv[0], a3, environ);
		_exit(127);
	}
	waitpid(p, &st, 0);
	printf("fork+execve: status %d, counter here %d\n", WEXITSTATUS(st), counter);
	/* Nothing leaks: many runs in a row. */
	int bad = 0;
	for (int i = 0; i < 50; i++) {
		char *a4[] = {argv[0], "child", "0", NULL};
		int out = open("/dev/null", O_WRONLY);
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, out, 1);
		if (posix_spawn(&p, argv[0], &fa, NULL, a4, environ) != 0 || waitpid(p, &st, 0) != p ||
		    WEXITSTATUS(st) != 0)
			bad++;
		posix_spawn_file_actions_destroy(&fa);
		close(out);
	}
	printf("50 more runs: %d bad\n", bad);
	fflush(stdout);
	/* The first process replaces itself with a new run of its own program. */
	char pid[16];
	snprintf(pid, sizeof pid, "%s", getpid() == getpid() ? "yes" : "no");
	char *a5[] = {argv[0], "last", pid, NULL};
	execve(argv[0], a5, environ);
	printf("execve failed\n");
	return 1;
}
