/* Cost of one system call that does (almost) nothing: getppid through musl's syscall().
 * In a ukit image this is a function call into the shim; natively it traps into Linux.
 * Usage: syscall_noop [N]   (default 10,000,000 calls). Prints "ns/call <x>". */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000000L;
	if (n <= 0) {
		fprintf(stderr, "usage: %s [calls > 0]\n", argv[0]);
		return 2;
	}
	struct timespec a, b;
	long acc = 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		acc += syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
	/* acc keeps the calls observable; a negative sum means the call failed. */
	printf("ns/call %.2f calls %ld ok %s\n", ns / (double)n, n, acc >= 0 ? "yes" : "no");
	return acc >= 0 ? 0 : 1;
}
