/* Prints "ready" and then sleeps forever: a stand-in for a server, stopped from outside. */
#include <stdio.h>
#include <unistd.h>
int main(void)
{
	puts("ready");
	fflush(stdout);
	for (;;)
		sleep(60);
}
