/* The smallest useful program: image size and launch-to-exit time. */
#include <stdio.h>

int main(void)
{
	printf("hello, world\n");
	return 0;
}
