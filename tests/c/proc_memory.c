/* Kernel memory per process: starts and ends of processes and threads must not leave
 * kernel heap behind. Reads the kernel heap in use (/proc/meminfo "Slab", which ukit
 * fills from its heap counter) around many cycles of each kind, after a warm-up, and
 * prints "<kind> <bytes grown> <cycles>" for the test (tests/tests/processes.rs) to
 * judge. argv[1]: this program as a program file (for the exec cycles); "child" runs
 * as the exec'd child, which ends at once.
 */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static long slab(void)
{
	char buf[4096] = {0};
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strstr(buf, "\nSlab:");
	return p ? atol(p + 6) * 1024 : -1;
}

static const char *self;

static void vfork_exit(void)
{
	pid_t p = vfork();
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
}

static void vfork_exec(void)
{
	char *args[] = {(char *)"x", (char *)"child", NULL};
	pid_t p = vfork();
	if (p == 0) {
		execve(self, args, environ);
		_exit(1);
	}
	waitpid(p, NULL, 0);
}

static void spawn(void)
{
	char *args[] = {(char *)"x", (char *)"child", NULL};
	pid_t p;
	if (posix_spawn(&p, self, NULL, NULL, args, environ) == 0)
		waitpid(p, NULL, 0);
}

static void spawn_enoent(void)
{
	char *args[] = {(char *)"x", NULL};
	pid_t p;
	if (posix_spawn(&p, "/nonexistent/program", NULL, NULL, args, environ) == 0)
		waitpid(p, NULL, 0);
}

static void *nothing(void *a)
{
	return a;
}

static void thread(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, nothing, NULL) == 0)
		pthread_join(t, NULL);
}

static void measure(const char *name, void (*op)(void), int n)
{
	for (int i = 0; i < n / 4; i++)
		op();
	long before = slab();
	for (int i = 0; i < n; i++)
		op();
	long after = slab();
	printf("%s %ld %d\n", name, before < 0 || after < 0 ? -1 : after - before, n);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "child"))
		return 0;
	if (argc < 2)
		return 2;
	self = argv[1];
	measure("vfork_exit", vfork_exit, 2000);
	measure("vfork_exec", vfork_exec, 300);
	measure("posix_spawn", spawn, 300);
	measure("posix_spawn_enoent", spawn_enoent, 1000);
	measure("thread", thread, 2000);
	return 0;
}
