/* Prints its arguments and one environment variable, and exits with the status given
 * as its first argument: checks that both round-trip through the kernel command line. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    printf("hello from ukit on kvm: argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=<%s>\n", i, argv[i]);
    const char *v = getenv("UK_KVM_VAR");
    printf("UK_KVM_VAR=<%s>\n", v ? v : "(unset)");
    return argc > 1 ? atoi(argv[1]) : 0;
}
