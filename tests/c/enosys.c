/* An unknown system call must fail with ENOSYS (never crash), and ukit must log it once
 * however often it is made. Linux itself answers ENOSYS for 999, so the native build
 * prints the same lines. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	for (int i = 1; i <= 2; i++) {
		errno = 0;
		long r = syscall(999, 1, 2, 3, 4, 5, 6);
		int e = errno;
		printf("call %d: syscall(999) = %ld errno %d %s\n", i, r, e,
		       e == ENOSYS ? "ENOSYS" : strerror(e));
	}
	/* The program goes on normally afterwards. */
	printf("still running\n");
	return 0;
}
