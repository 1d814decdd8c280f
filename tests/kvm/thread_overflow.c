/* A thread recursing without end runs into the guard page musl maps below its stack
 * (mmap PROT_NONE, then mprotect of the rest): that must be a fault report and a
 * non-zero exit, not a hang or a silent overwrite of the neighbouring memory. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int depth(volatile char *prev, int n) {
    volatile char buf[1024];
    memset((char *)buf, n & 0xff, sizeof buf);
    buf[0] = prev ? prev[0] : 0;
    return depth(buf, n + 1) + buf[1];
}

static void *run(void *arg) {
    (void)arg;
    printf("thread recursing\n");
    fflush(stdout);
    return (void *)(long)depth(0, 0);
}

int main(void) {
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    if (pthread_create(&t, &a, run, 0) != 0) {
        printf("pthread_create failed\n");
        return 2;
    }
    void *r;
    pthread_join(t, &r);
    printf("the thread returned: overflow not caught\n");
    return 0;
}
