/* A read-only map must be enforced by the MMU: reads work, a store faults with a
 * report that names a write to a read-only page, and the image exits non-zero. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int main(void) {
    volatile char *p = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    p[0] = 'u';
    p[4096] = 'k';
    if (mprotect((void *)p, 4096, PROT_READ) != 0) {
        perror("mprotect");
        return 3;
    }
    /* The page after it stays writable. */
    p[4097] = 'i';
    printf("read back %c%c%c\n", p[0], p[4096], p[4097]);
    printf("writing to the read-only page\n");
    fflush(stdout);
    p[1] = 'x';
    printf("the write went through: not enforced\n");
    return 0;
}
