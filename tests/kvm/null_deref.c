/* Reads through a NULL pointer: on kvm page 0 is unmapped, so this must end in a
 * page-fault report on the console and a non-zero exit status. */
#include <stdio.h>

int main(void) {
    volatile int *p = (volatile int *)0;
    printf("about to dereference NULL\n");
    fflush(stdout);
    return *p;
}
