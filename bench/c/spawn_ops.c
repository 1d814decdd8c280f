/* Process operation costs, the same source for ukit and native Linux (bench/processes).
 * Run as "spawn_ops N": prints "<name> <us per op>" lines, then the memory one waiting
 * child adds ("child_kib <KiB>": MemTotal - MemFree of sysinfo with and without it):
 *   posix_spawn_wait   posix_spawn of this program (which exits at once) + waitpid
 *   vfork_exec_wait    vfork + execve of it + waitpid
 *   vfork_exit_wait    vfork + _exit in the child + waitpid (no exec)
 *   fork_exit_wait     fork + _exit in the child + waitpid (the caller has a 4 MiB heap
 *                      block, so the copy is not trivially small)
 *   fork_write_exit_wait  the same, the child writing one byte in every page of the
 *                      block before it exits (its copy of the block is then made)
 *   fork_exec_wait     fork + execve of this program + waitpid (the caller holding the
 *                      block)
 *   fork_child_kib     the memory one waiting forked child adds
 * Run as "spawn_ops hold K" it holds a 4 MiB block, prints "ready", waits for a line on
 * stdin, forks K children that wait, prints "forked PID...", waits for another line,
 * and ends them: bench/processes measures the host memory in between.
 * The program to run is $SPAWN_SELF (natively the program itself; on ukit a program
 * file built from this source with uk-cc --uk-program). */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static long used_kib(void)
{
	struct sysinfo s;
	sysinfo(&s);
	return (long)((s.totalram - s.freeram) * s.mem_unit / 1024);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "exit"))
		return 0;
	if (argc > 1 && !strcmp(argv[1], "wait")) {
		for (;;)
			pause();
	}
	if (argc > 2 && !strcmp(argv[1], "hold")) {
		int k = atoi(argv[2]);
		pid_t kids[16];
		char line[64];
		char *block = malloc(4 << 20);
		if (!block || k < 1 || k > 16)
			return 6;
		memset(block, 1, 4 << 20);
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof line, stdin))
			return 7;
		for (int i = 0; i < k; i++) {
			kids[i] = fork();
			if (kids[i] == 0) {
				for (;;)
					pause();
			}
		}
		usleep(200000);
		printf("forked");
		for (int i = 0; i < k; i++)
			printf(" %d", (int)kids[i]);
		printf("\n");
		fflush(stdout);
		if (!fgets(line, sizeof line, stdin))
			return 8;
		for (int i = 0; i < k; i++) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
		return 0;
	}
	const char *self = getenv("SPAWN_SELF");
	int n = argc > 1 ? atoi(argv[1]) : 200;
	if (!self || n <= 0)
		return 2;
	char *ex[] = {"spawn_ops", "exit", NULL};
	double t0 = now_us();
	for (int i = 0; i < n; i++) {
		pid_t p;
		if (posix_spawn(&p, self, NULL, NULL, ex, environ))
			return 3;
		waitpid(p, NULL, 0);
	}
	double t1 = now_us();
	for (int i = 0; i < n; i++) {
		pid_t p = vfork();
		if (p == 0) {
			execve(self, ex, environ);
			_exit(127);
		}
		waitpid(p, NULL, 0);
	}
	double t2 = now_us();
	for (int i = 0; i < n; i++) {
		pid_t p = vfork();
		if (p == 0)
			_exit(0);
		waitpid(p, NULL, 0);
	}
	double t3 = now_us();
	char *block = malloc(4 << 20);
	if (!block)
		return 5;
	memset(block, 1, 4 << 20);
	double t4 = now_us();
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		waitpid(p, NULL, 0);
	}
	double t5 = now_us();
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			for (size_t at = 0; at < (4 << 20); at += 4096)
				block[at] = (char)i;
			_exit(0);
		}
		waitpid(p, NULL, 0);
	}
	double t6 = now_us();
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			execve(self, ex, environ);
			_exit(127);
		}
		waitpid(p, NULL, 0);
	}
	double t7 = now_us();
	printf("posix_spawn_wait %.2f\nvfork_exec_wait %.2f\nvfork_exit_wait %.2f\nfork_exit_wait %.2f\n",
	       (t1 - t0) / n, (t2 - t1) / n, (t3 - t2) / n, (t5 - t4) / n);
	printf("fork_write_exit_wait %.2f\nfork_exec_wait %.2f\n", (t6 - t5) / n, (t7 - t6) / n);
	long fb = used_kib();
	pid_t f = fork();
	if (f == 0) {
		for (;;)
			pause();
	}
	usleep(100000);
	long fw = used_kib();
	kill(f, SIGKILL);
	waitpid(f, NULL, 0);
	printf("fork_child_kib %ld\n", fw - fb);
	char *wt[] = {"spawn_ops", "wait", NULL};
	long before = used_kib();
	pid_t p;
	if (posix_spawn(&p, self, NULL, NULL, wt, environ))
		return 4;
	usleep(100000);
	long with = used_kib();
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	printf("child_kib %ld\n", with - before);
	return 0;
}
