/* pid 1 (the image's first process, ukit only) ignores signals from its own children
 * unless it has a handler, as Linux's init does in its namespace: a child's SIGTERM
 * and SIGKILL to pid 1 do nothing, its SIGUSR1 runs pid 1's handler. argv[1] is the
 * program file of this source (uk-cc --uk-program), run as the child. */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
	(void)sig;
	got = 1;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "child")) {
		pid_t parent = getppid();
		kill(parent, SIGTERM);
		kill(parent, SIGKILL);
		kill(parent, SIGUSR1);
		return 0;
	}
	if (argc < 2)
		return 2;
	signal(SIGUSR1, on_usr1);
	char *args[] = {"init_signals", "child", "x", NULL};
	pid_t pid;
	if (posix_spawn(&pid, argv[1], NULL, NULL, args, environ))
		return 3;
	int st = 0;
	waitpid(pid, &st, 0);
	printf("pid %d alive after SIGTERM and SIGKILL from its child; SIGUSR1 handled: %s\n",
	       (int)getpid(), got ? "yes" : "no");
	return 0;
}
