/* A program that replaces itself with execve, as the image's first process on ukit
 * (pid 1 there): the new program keeps the pid, the descriptors not marked
 * close-on-exec, and its exit status is the image's. argv[1] is the program to run
 * (natively this program; on ukit a program file built from this source with
 * uk-cc --uk-program). tests/tests/processes.rs compares with the native run. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "after")) {
		printf("after exec: same pid %s, fd 10 %s, fd 11 %s\n",
		       getpid() == atoi(argv[2]) ? "yes" : "no",
		       fcntl(10, F_GETFD) == -1 ? "closed" : "open",
		       fcntl(11, F_GETFD) == -1 ? "closed" : "open");
		return 7;
	}
	if (argc < 2)
		return 2;
	int fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup3(fd, 10, O_CLOEXEC) != 10 || dup2(fd, 11) != 11)
		return 3;
	char me[16];
	snprintf(me, sizeof me, "%d", (int)getpid());
	printf("before exec\n");
	fflush(stdout);
	char *args[] = {"exec_replace", "after", me, NULL};
	execve(argv[1], args, environ);
	perror("execve");
	return 1;
}
