/* The console streams seek when the shell gave the program a file (`prog < file`) and
 * answer ESPIPE for pipes, as on Linux. Prints what it saw; the test compares with the
 * native build. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char a[4] = {0}, b[4] = {0};
	ssize_t n = read(0, a, 3);
	off_t cur = lseek(0, 0, SEEK_CUR);
	int e = cur < 0 ? errno : 0;
	printf("read %zd '%s' cur %lld errno %s\n", n, a, (long long)cur, e ? strerror(e) : "-");
	if (cur >= 0) {
		printf("set %lld\n", (long long)lseek(0, 1, SEEK_SET));
		n = read(0, b, 3);
		printf("read %zd '%s'\n", n, b);
		printf("end %lld\n", (long long)lseek(0, 0, SEEK_END));
		errno = 0;
		cur = lseek(0, -100, SEEK_SET);
		printf("bad %lld %s\n", (long long)cur, strerror(errno));
	}
	/* stdio gives back what it buffered but did not hand out, at exit. */
	char line[8];
	lseek(0, 0, SEEK_SET);
	if (fgets(line, 3, stdin))
		printf("fgets '%s'\n", line);
	return 0;
}
