/* Program file for tests/c/pipeline.c: prints argv[1] numbered lines. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	for (int i = 1; i <= n; i++)
		printf("line %d from gen, pid is mine, parent is the launcher: %s\n", i,
		       getppid() > 0 ? "yes" : "no");
	return 0;
}
