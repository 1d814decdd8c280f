/* Recurses without end: the stack runs into an unmapped guard page, which must end in
 * a fault report on the console and a non-zero exit status. */
#include <stdio.h>
#include <string.h>

static int depth(volatile char *prev, int n) {
    volatile char buf[512];
    memset((char *)buf, n & 0xff, sizeof buf);
    buf[0] = prev ? prev[0] : 0;
    return depth(buf, n + 1) + buf[1];
}

int main(void) {
    printf("recursing\n");
    fflush(stdout);
    return depth(0, 0);
}
