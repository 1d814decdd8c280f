/* POSIX operation costs, the same source for ukit and native Linux.
 * Prints "<name> <ns per op>" lines:
 *   thread_create_join   pthread_create + pthread_join of a thread that returns at once
 *   yield_switch         sched_yield between two threads (one switch per call)
 *   futex_pingpong       one round trip: wake the other thread through a futex and wait back
 *   pipe_roundtrip       one byte to the other thread through a pipe and one byte back
 *   file_open_read_close open + read 64 bytes + close of a small file in argv[1]
 */
#define _GNU_SOURCE
#include <fcntl.h>
/* linux/futex.h is not in every sysroot: the two constants we need. */
#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *nothing(void *a) { return a; }

static volatile int stop_yield;
static void *yielder(void *a) {
    (void)a;
    while (!stop_yield) sched_yield();
    return 0;
}

static _Atomic int fword;
static long futex(void *addr, int op, int val) { return syscall(SYS_futex, addr, op, val, 0, 0, 0); }
static void *ponger(void *a) {
    long n = (long)a;
    for (long i = 0; i < n; i++) {
        while (atomic_load(&fword) != 1) futex(&fword, FUTEX_WAIT_PRIVATE, 0);
        atomic_store(&fword, 0);
        futex(&fword, FUTEX_WAKE_PRIVATE, 1);
    }
    return 0;
}

static int p1[2], p2[2];
static void *echo(void *a) {
    long n = (long)a;
    char c;
    for (long i = 0; i < n; i++) {
        if (read(p1[0], &c, 1) != 1) break;
        if (write(p2[1], &c, 1) != 1) break;
    }
    return 0;
}

int main(int argc, char **argv) {
    long n;
    double t;
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    int scale = argc > 2 ? atoi(argv[2]) : 1;

    n = 2000 * scale;
    t = now_ns();
    for (long i = 0; i < n; i++) {
        pthread_t th;
        if (pthread_create(&th, 0, nothing, 0)) { perror("pthread_create"); return 1; }
        pthread_join(th, 0);
    }
    printf("thread_create_join %.1f\n", (now_ns() - t) / n);

    n = 200000 * scale;
    pthread_t y;
    stop_yield = 0;
    pthread_create(&y, 0, yielder, 0);
    t = now_ns();
    for (long i = 0; i < n; i++) sched_yield();
    double dt = now_ns() - t;
    stop_yield = 1;
    pthread_join(y, 0);
    printf("yield_switch %.1f\n", dt / n);

    n = 50000 * scale;
    pthread_t f;
    pthread_create(&f, 0, ponger, (void *)n);
    t = now_ns();
    for (long i = 0; i < n; i++) {
        atomic_store(&fword, 1);
        futex(&fword, FUTEX_WAKE_PRIVATE, 1);
        while (atomic_load(&fword) != 0) futex(&fword, FUTEX_WAIT_PRIVATE, 1);
    }
    printf("futex_pingpong %.1f\n", (now_ns() - t) / n);
    pthread_join(f, 0);

    n = 50000 * scale;
    if (pipe(p1) || pipe(p2)) { perror("pipe"); return 1; }
    pthread_t e;
    pthread_create(&e, 0, echo, (void *)n);
    t = now_ns();
    for (long i = 0; i < n; i++) {
        char c = 'x';
        if (write(p1[1], &c, 1) != 1 || read(p2[0], &c, 1) != 1) { perror("pipe io"); return 1; }
    }
    printf("pipe_roundtrip %.1f\n", (now_ns() - t) / n);
    pthread_join(e, 0);

    char path[512];
    snprintf(path, sizeof path, "%s/ukit-bench-file-%d", dir, (int)getpid());
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) { perror(path); return 1; }
    if (write(fd, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64) != 64) return 1;
    close(fd);
    n = 100000 * scale;
    char buf[64];
    t = now_ns();
    for (long i = 0; i < n; i++) {
        fd = open(path, O_RDONLY);
        if (fd < 0 || read(fd, buf, 64) != 64) { perror("open/read"); return 1; }
        close(fd);
    }
    printf("file_open_read_close %.1f\n", (now_ns() - t) / n);
    unlink(path);
    return 0;
}
