/* A pipeline of two programs from one folder, as a shell would run `gen 3 | upper`:
 * the launcher makes a pipe, starts both with posix_spawn (file actions put the pipe
 * on their stdout and stdin), closes its own ends and waits for both; then it runs a
 * `#!` script whose interpreter is `upper`. argv[1] is the folder holding `gen` and
 * `upper` (natively: programs built with musl-gcc; on ukit: program files built with
 * uk-cc --uk-program, in the image's root or a host folder). tests/tests/processes.rs
 * compares the output with the native run. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Everything `fd` gives until end of file, printed after `what`; then closed. */
static void drain(const char *what, int fd)
{
	char buf[4096];
	size_t have = 0;
	ssize_t n;
	while (have < sizeof buf - 1 && (n = read(fd, buf + have, sizeof buf - 1 - have)) > 0)
		have += n;
	buf[have] = 0;
	printf("%s said:\n%s", what, buf);
	close(fd);
}

static void report(const char *what, pid_t pid)
{
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		printf("%s: waitpid failed\n", what);
	else if (WIFEXITED(st))
		printf("%s exited %d\n", what, WEXITSTATUS(st));
	else
		printf("%s killed by %d\n", what, WTERMSIG(st));
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	char gen[512], upper[512];
	snprintf(gen, sizeof gen, "%s/gen", argv[1]);
	snprintf(upper, sizeof upper, "%s/upper", argv[1]);

	int p[2], out[2];
	if (pipe2(p, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return 3;
	posix_spawn_file_actions_t fg, fu;
	posix_spawn_file_actions_init(&fg);
	posix_spawn_file_actions_adddup2(&fg, p[1], 1);
	posix_spawn_file_actions_init(&fu);
	posix_spawn_file_actions_adddup2(&fu, p[0], 0);
	posix_spawn_file_actions_adddup2(&fu, out[1], 1);
	char *gargs[] = {"gen", "3", NULL};
	char *uargs[] = {"upper", NULL};
	pid_t g, u;
	fflush(stdout);
	int r1 = posix_spawn(&g, gen, &fg, NULL, gargs, environ);
	int r2 = posix_spawn(&u, upper, &fu, NULL, uargs, environ);
	printf("spawned: %s %s\n", strerror(r1), strerror(r2));
	fflush(stdout);
	/* upper sees end of file once gen and the launcher have closed the write end. */
	close(p[0]);
	close(p[1]);
	close(out[1]);
	drain("upper", out[0]);
	if (!r1)
		report("gen", g);
	if (!r2)
		report("upper", u);

	/* A script run through its #! line: upper gets "-x", the script and its args. */
	char script[] = "/tmp/pipeline-script-XXXXXX";
	int fd = mkstemp(script);
	if (fd < 0)
		return 4;
	char line[600];
	int n = snprintf(line, sizeof line, "#!%s -x\n", upper);
	if (write(fd, line, n) != n)
		return 5;
	close(fd);
	chmod(script, 0755);
	char *sargs[] = {"script", "one", "two", NULL};
	pid_t s;
	if (pipe2(out, O_CLOEXEC))
		return 6;
	posix_spawn_file_actions_t fs;
	posix_spawn_file_actions_init(&fs);
	posix_spawn_file_actions_adddup2(&fs, out[1], 1);
	fflush(stdout);
	int r3 = posix_spawn(&s, script, &fs, NULL, sargs, environ);
	printf("script spawned: %s\n", strerror(r3));
	close(out[1]);
	drain("script", out[0]);
	if (!r3)
		report("script", s);
	unlink(script);
	return 0;
}
