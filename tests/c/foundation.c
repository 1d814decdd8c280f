/* Acceptance program of the foundation: libc basics that exercise the kernel underneath
 * (FPU state through printf/strtod, large memory through malloc/mmap, argv/envp from boot,
 * wall and monotonic clocks, sleeping, exit status). Its stdout must be byte-identical when
 * built with uk-cc and with musl-gcc -static; nothing printed depends on the run. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void print_doubles(void)
{
	static const double v[] = {
		0.0, -0.0, 1.0, -2.25, 0.1, 3.141592653589793, -123456.789,
		1e-300, -4.9406564584124654e-324, 2.2250738585072014e-308,
		1e22, -1.7976931348623157e308, 6.02214076e23, 1.0 / 3.0,
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		printf("double[%zu]: %f | %e | %g | %.17g | %.3e | %10.4f\n",
		       i, v[i], v[i], v[i], v[i], v[i], v[i]);
	/* Arithmetic at run time, so the compiler cannot fold it into constants. */
	volatile double a = 1.1, b = 2.2;
	printf("sum %.17g prod %.17g quot %.17g\n", a + b, a * b, a / b);
}

static int big_malloc(void)
{
	const size_t size = 100u << 20; /* 100 MiB */
	unsigned char *p = malloc(size);
	if (!p) {
		printf("malloc(100MiB) failed: %s\n", strerror(errno));
		return 1;
	}
	uint32_t x = 0x12345678u;
	for (size_t i = 0; i < size; i++) {
		x = x * 1664525u + 1013904223u;
		p[i] = (unsigned char)(x >> 24);
	}
	uint64_t sum = 0;
	for (size_t i = 0; i < size; i++)
		sum = sum * 31u + p[i];
	printf("malloc 100MiB checksum %016llx\n", (unsigned long long)sum);
	free(p);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static int sort_ints(void)
{
	enum { N = 100000 };
	int *v = malloc(N * sizeof *v);
	if (!v) {
		printf("malloc for qsort failed\n");
		return 1;
	}
	uint32_t x = 42;
	long long total = 0;
	for (int i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		v[i] = (int)(x >> 1) - (1 << 30);
		total += v[i];
	}
	qsort(v, N, sizeof *v, cmp_int);
	long long after = 0;
	int sorted = 1;
	for (int i = 0; i < N; i++) {
		after += v[i];
		if (i && v[i - 1] > v[i])
			sorted = 0;
	}
	printf("qsort %d ints: %s, min %d, median %d, max %d, sum %s\n", N,
	       sorted ? "sorted" : "NOT SORTED", v[0], v[N / 2], v[N - 1],
	       total == after ? "kept" : "CHANGED");
	free(v);
	return !sorted || total != after;
}

static void parse_doubles(void)
{
	static const char *const s[] = {
		"3.14159", "-1e-5", "1e400", "-1e400", "1e-400", "0x1.8p3",
		"nan", "-inf", "  42.5abc", "4.9406564584124654e-324", "junk", "",
	};
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
		char *end;
		errno = 0;
		double d = strtod(s[i], &end);
		int e = errno;
		printf("strtod(\"%s\") = %.17g used %d errno %s\n", s[i], d,
		       (int)(end - s[i]), e == ERANGE ? "ERANGE" : e ? "other" : "0");
	}
}

static int check_time(void)
{
	time_t t = time(NULL);
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	/* 2020-01-01 .. 2100-01-01: wrong clocks (0, boot time, garbage) fall outside. */
	int ok = t > 1577836800 && t < 4102444800 &&
		 rt.tv_sec - t >= 0 && rt.tv_sec - t <= 2;
	printf("time %s\n", ok ? "plausible" : "IMPLAUSIBLE");
	if (!ok)
		fprintf(stderr, "time(NULL)=%lld realtime=%lld\n", (long long)t,
			(long long)rt.tv_sec);
	return !ok;
}

static int check_sleep(void)
{
	struct timespec a, b, req = {0, 50 * 1000 * 1000};
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (nanosleep(&req, NULL) != 0) {
		printf("nanosleep failed: %s\n", strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	long long ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
	if (ns >= 50000000LL) {
		printf("slept ok\n");
		return 0;
	}
	printf("slept short\n");
	fprintf(stderr, "nanosleep(50ms) took %lld ns\n", ns);
	return 1;
}

int main(int argc, char **argv)
{
	int bad = 0;
	/* argv[0] is the path the test chose, which differs between the two builds. */
	printf("argc %d\n", argc);
	for (int i = 1; i < argc; i++)
		printf("argv[%d] = \"%s\"\n", i, argv[i]);
	const char *var = getenv("UK_FOUNDATION_VAR");
	printf("getenv UK_FOUNDATION_VAR = %s\n", var ? var : "(unset)");
	print_doubles();
	bad |= big_malloc();
	bad |= sort_ints();
	parse_doubles();
	bad |= check_time();
	bad |= check_sleep();
	printf("done%s\n", bad ? " WITH ERRORS" : "");
	/* stdout is a pipe in the test, so this exit also checks that buffers are flushed. */
	exit(bad ? 1 : 3);
}
