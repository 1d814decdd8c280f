/* Program file for tests/c/pipeline.c: copies stdin to stdout in upper case until end
 * of file and exits with the number of lines; with "-x" (from a #! line) it prints its
 * arguments instead, the script's path shown by its base name. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "-x")) {
		printf("interpreter got %d args:", argc);
		for (int i = 1; i < argc; i++) {
			const char *a = argv[i];
			if (i == 2 && strrchr(a, '/'))
				a = "<script>";
			printf(" %s", a);
		}
		printf("\n");
		return 0;
	}
	int c, lines = 0;
	while ((c = getchar()) != EOF) {
		putchar(toupper(c));
		if (c == '\n')
			lines++;
	}
	return lines;
}
