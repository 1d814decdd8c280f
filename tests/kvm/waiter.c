/* Prints "ready" and then sleeps until stopped from outside: a stand-in for a server.
 * With the argument `handler` it catches SIGTERM, says so and exits 7 (a server's own
 * clean shutdown); without, SIGTERM's default action ends it (status 143). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "handler")) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_term;
		sigaction(SIGTERM, &sa, 0);
	}
	puts("ready");
	fflush(stdout);
	while (!stop)
		sleep(60);
	puts("stopping on SIGTERM");
	return 7;
}
