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
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

extern char **environ;

/* A /proc/meminfo field in bytes ("\nSlab:" is the kernel heap in use, which ukit fills
 * from its heap counter; "MemFree:" the free pages), or -1. */
static long meminfo(const char *field)
{
	char buf[4096] = {0};
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strstr(buf, field);
	return p ? atol(p + strlen(field)) * 1024 : -1;
}

static long slab(void)
{
	return meminfo("\nSlab:");
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

static void fork_exit(void)
{
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
}

/* A child that writes all over its copy of a 4 MiB heap block before it ends. */
static char *block;

static void fork_touch(void)
{
	pid_t p = fork();
	if (p == 0) {
		memset(block, 0x33, 4 << 20);
		_exit(0);
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

/* MemFree in bytes: the kernel heap keeps pages it once grew into, so a large kernel
 * allocation shows here for good. */
static long memfree(void)
{
	return meminfo("MemFree:");
}

/* A 16 MiB file with an execute bit that is no program: execve must refuse it
 * (ENOEXEC) without taking its size in kernel memory. */
static const char *junk = "/tmp/proc_memory.junk";

static void exec_junk(void)
{
	char *args[] = {(char *)"junk", NULL};
	pid_t p = vfork();
	if (p == 0) {
		execve(junk, args, environ);
		_exit(errno == ENOEXEC ? 0 : 1);
	}
	int st = 0;
	waitpid(p, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("exec of the junk file: status %#x (want ENOEXEC)\n", st);
}

static void measure_free(const char *name, void (*op)(void), int n)
{
	long before = memfree();
	for (int i = 0; i < n; i++)
		op();
	long after = memfree();
	printf("%s %ld %d\n", name, before < 0 || after < 0 ? -1 : before - after, n);
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
	measure("fork_exit", fork_exit, 500);
	/* Every child's copy goes back when it is reaped: free memory is what it was. */
	block = malloc(4 << 20);
	if (!block)
		return 4;
	memset(block, 0x11, 4 << 20);
	fork_touch();
	measure_free("fork_memfree", fork_touch, 50);
	mkdir("/tmp", 0777);
	int fd = open(junk, O_CREAT | O_TRUNC | O_WRONLY, 0755);
	if (fd < 0 || ftruncate(fd, 16 << 20) != 0)
		return 3;
	close(fd);
	measure_free("enoexec_memfree", exec_junk, 4);
	unlink(junk);
	return 0;
}
