/* /dev/tty on a terminal: run under script(1), natively and as a ukit image, and the two
 * outputs compared (tests/tests/console.rs). Without a terminal the open is ENXIO. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

int main(void)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
	if (fd < 0) {
		printf("open /dev/tty: %s\n", strerror(errno));
		return 0;
	}
	printf("isatty %d\n", isatty(fd));
	errno = 0;
	long r = (long)lseek(fd, 0, SEEK_CUR);
	printf("lseek %ld %s\n", r, r < 0 ? strerror(errno) : "-");
	struct termios t;
	int g = tcgetattr(fd, &t);
	printf("tcgetattr %d icanon %d echo %d\n", g, !!(t.c_lflag & ICANON), !!(t.c_lflag & ECHO));
	struct stat st;
	fstat(fd, &st);
	printf("chr %d rdev %u,%u\n", S_ISCHR(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
	fflush(stdout);
	dprintf(fd, "written to the terminal\n");
	close(fd);
	return 0;
}
