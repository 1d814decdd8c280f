/* The process calls ukit does not have yet fail with an error a program can handle,
 * never a hang or a crash (docs/processes.md): vfork through syscall() is ENOSYS, and programs the loader cannot run (a dynamically linked Linux binary, a
 * static non-PIE one, a static-PIE one with its own `syscall` instructions) are
 * ENOEXEC. argv[1..3] are the first three files. ukit only: natively every
 * one of these works. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *err(int e)
{
	return e == ENOSYS ? "ENOSYS" : e == ENOEXEC ? "ENOEXEC" : strerror(e);
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	errno = 0;
	long r = syscall(SYS_vfork);
	printf("syscall(SYS_vfork): %ld %s\n", r, err(errno));
	for (int i = 1; i <= 3; i++) {
		char *args[] = {argv[i], NULL};
		pid_t pid;
		int e = posix_spawn(&pid, argv[i], NULL, NULL, args, environ);
		if (e == 0)
			waitpid(pid, NULL, 0);
		printf("posix_spawn of file %d: %s\n", i, e ? err(e) : "started");
	}
	printf("still running\n");
	return 0;
}
