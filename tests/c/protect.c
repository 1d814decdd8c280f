/* Memory protection is enforced by the MMU: a store into a read-only map, a thread
 * running into its stack guard page and the main stack overflowing all end the program
 * with SIGSEGV, as natively. `reopen` is the control: protection lifted again lets the
 * store through, and unmapped protected pages come back usable. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int depth(int n)
{
	volatile char pad[1024];
	pad[0] = (char)n;
	return n > 1000000 ? pad[0] : depth(n + 1) + pad[0];
}

static void *deep(void *arg)
{
	(void)arg;
	return (void *)(long)depth(0);
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	if (!strcmp(what, "ro")) {
		char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		p[0] = 42;
		if (mprotect(p, 4096, PROT_READ))
			return 2;
		printf("read %d\n", p[0]);
		fflush(stdout);
		p[1] = 1;
		puts("wrote to a read-only page");
		return 0;
	}
	if (!strcmp(what, "reopen")) {
		for (int i = 0; i < 64; i++) {
			char *p = mmap(0, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED || mprotect(p, 8192, PROT_READ) ||
			    mprotect(p, 8192, PROT_READ | PROT_WRITE))
				return 2;
			p[0] = p[4096] = 1;
			if (munmap(p, 8192))
				return 3;
			/* Pages given back are writable for the next user (malloc). */
			char *q = malloc(100000);
			memset(q, 7, 100000);
			free(q);
		}
		puts("reopened");
		return 0;
	}
	if (!strcmp(what, "thread")) {
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 64 * 1024);
		pthread_t t;
		if (pthread_create(&t, &a, deep, 0))
			return 2;
		void *r;
		pthread_join(t, &r);
		puts("thread returned");
		return 0;
	}
	if (!strcmp(what, "main")) {
		printf("%d\n", depth(0));
		return 0;
	}
	puts("usage: protect ro|reopen|thread|main");
	return 1;
}
