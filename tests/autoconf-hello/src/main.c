/* autoconf-hello: prints what configure found, so a test can compare it with what a
 * musl-based ukit image must see. Exits non-zero if a found feature does not work. */
#include "config.h"

#include <stdio.h>
#ifdef HAVE_STDINT_H
#include <stdint.h>
#endif
#ifdef HAVE_TIME_H
#include <time.h>
#endif

#include "greet.h"

#ifdef HAVE_STDINT_H
#define STDINT 1
#else
#define STDINT 0
#endif
#ifdef HAVE_CLOCK_GETTIME
#define CLOCK 1
#else
#define CLOCK 0
#endif
#ifdef HAVE_GNU_LIBC_VERSION_H
#define GNU_HDR 1
#else
#define GNU_HDR 0
#endif
#ifdef HAVE_NO_SUCH_FUNCTION
#define NOSUCH 1
#else
#define NOSUCH 0
#endif

int main(void)
{
#ifdef HAVE_CLOCK_GETTIME
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		perror("clock_gettime");
		return 1;
	}
#endif
#ifdef HAVE_STDINT_H
	if (sizeof(int64_t) != 8)
		return 1;
#endif
	if ((int)sizeof(long) != SIZEOF_LONG)
		return 1;
	printf("%s: %s stdint=%d clock_gettime=%d gnu_libc_header=%d nosuchfunc=%d long=%d\n",
	       greet_prefix(), PACKAGE_STRING, STDINT, CLOCK, GNU_HDR, NOSUCH, SIZEOF_LONG);
	return 0;
}
