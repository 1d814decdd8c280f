/* Ignores SIGTERM and waits: what `ukport stop` must end with SIGKILL after its
 * timeout (tests/tests/instances.rs). */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	signal(SIGTERM, SIG_IGN);
	puts("ignoring SIGTERM");
	fflush(stdout);
	for (;;)
		sleep(60);
}
