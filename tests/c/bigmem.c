/* Allocate N MiB (argv[1], default 3072) with malloc, touch every page, check a few, and
 * free it: what a memory-hungry native program does. Prints "touched N MiB". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 3072;
	size_t len = mib << 20;
	unsigned char *p = malloc(len);
	if (!p) {
		perror("malloc");
		return 1;
	}
	for (size_t i = 0; i < len; i += 4096)
		p[i] = (unsigned char)(i >> 12);
	for (size_t i = 0; i < len; i += 4096 * 1021)
		if (p[i] != (unsigned char)(i >> 12)) {
			printf("page %zu lost its byte\n", i >> 12);
			return 1;
		}
	free(p);
	printf("touched %zu MiB\n", mib);
	return 0;
}
