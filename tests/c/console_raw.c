/* A REPL's first step: put the terminal in raw mode (cfmakeraw + tcsetattr) and read the
 * settings back. Prints what tcgetattr says before and after, and exits without
 * restoring them (tests/tests/console.rs then looks at the terminal with stty). */
#include <stdio.h>
#include <termios.h>
#include <unistd.h>

int main(void)
{
	struct termios t, raw, u;
	if (!isatty(0) || tcgetattr(0, &t))
		return 2;
	printf("before icanon=%d echo=%d isig=%d\n", !!(t.c_lflag & ICANON),
	       !!(t.c_lflag & ECHO), !!(t.c_lflag & ISIG));
	raw = t;
	cfmakeraw(&raw);
	if (tcsetattr(0, TCSAFLUSH, &raw))
		return 3;
	if (tcgetattr(0, &u))
		return 4;
	/* Raw output: no newline translation any more, so say \r\n. */
	printf("after icanon=%d echo=%d isig=%d opost=%d\r\n", !!(u.c_lflag & ICANON),
	       !!(u.c_lflag & ECHO), !!(u.c_lflag & ISIG), !!(u.c_oflag & OPOST));
	fflush(stdout);
	return 0;
}
