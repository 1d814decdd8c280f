/* A UDP program, built by tests/tests/no_flags_net.rs with plain `uk-cc -O2` (no ukit
 * flags) and with musl-gcc, whose outputs must be byte-identical.
 *
 *   udp_echo serve PORT COUNT   answer COUNT datagrams on 0.0.0.0:PORT, each with
 *                               "echo " and its bytes, to whoever sent it; then exit 0
 *   udp_echo loop               a server thread and a client over 127.0.0.1 in this one
 *                               process: datagrams of 0..1400 bytes, connected and
 *                               unconnected sends, MSG_PEEK, truncation (MSG_TRUNC)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) {
    printf("%s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

static int bound(uint32_t addr, int port) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0)
        die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(addr);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0)
        die("bind");
    return s;
}

/* Answers `count` datagrams on `s`; returns the bytes received. */
static long answer(int s, int count, int quiet) {
    static char buf[65536], reply[65536 + 5];
    long total = 0;
    for (int i = 1; i <= count; i++) {
        struct sockaddr_in from;
        socklen_t flen = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
        if (n < 0)
            die("recvfrom");
        memcpy(reply, "echo ", 5);
        memcpy(reply + 5, buf, (size_t)n);
        if (sendto(s, reply, (size_t)n + 5, 0, (struct sockaddr *)&from, flen) != n + 5)
            die("sendto");
        total += n;
        if (!quiet)
            printf("datagram %d: %zd bytes\n", i, n);
    }
    return total;
}

static int serve(int port, int count) {
    int s = bound(INADDR_ANY, port);
    printf("listening\n");
    long total = answer(s, count, 0);
    printf("done: %ld bytes in %d datagrams\n", total, count);
    return 0;
}

struct server {
    int sock;
    int count;
    long total;
};

static void *server_thread(void *arg) {
    struct server *sv = arg;
    sv->total = answer(sv->sock, sv->count, 1);
    return NULL;
}

static void fill(char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + (seed + i * 7) % 26);
}

static int loop(void) {
    enum { N = 30 };
    struct server sv = {.sock = bound(INADDR_LOOPBACK, 0), .count = N + 2};
    struct sockaddr_in srv;
    socklen_t slen = sizeof srv;
    if (getsockname(sv.sock, (struct sockaddr *)&srv, &slen) < 0)
        die("getsockname");
    pthread_t t;
    if (pthread_create(&t, NULL, server_thread, &sv) != 0)
        die("pthread_create");

    int c = bound(INADDR_LOOPBACK, 0);
    static char out[2048], in[2048];
    int good = 0;
    for (int i = 0; i < N; i++) {
        size_t n = (size_t)(i * 1400 / (N - 1));
        fill(out, n, (unsigned)i);
        if (sendto(c, out, n, 0, (struct sockaddr *)&srv, slen) != (ssize_t)n)
            die("sendto");
        struct sockaddr_in from;
        socklen_t flen = sizeof from;
        ssize_t r = recvfrom(c, in, sizeof in, 0, (struct sockaddr *)&from, &flen);
        if (r < 0)
            die("recvfrom");
        if (r == (ssize_t)n + 5 && memcmp(in, "echo ", 5) == 0 &&
            memcmp(in + 5, out, n) == 0 && from.sin_port == srv.sin_port &&
            from.sin_addr.s_addr == htonl(INADDR_LOOPBACK))
            good++;
        else
            printf("datagram %d (%zu bytes): wrong answer of %zd bytes\n", i, n, r);
    }
    printf("unconnected: %d of %d answers exact, from 127.0.0.1 and the server's port\n",
           good, N);

    /* Connected: send()/recv(), a peek, then a read into a short buffer. */
    if (connect(c, (struct sockaddr *)&srv, slen) < 0)
        die("connect");
    fill(out, 100, 99);
    if (send(c, out, 100, 0) != 100)
        die("send");
    ssize_t peek = recv(c, in, sizeof in, MSG_PEEK);
    ssize_t got = recv(c, in, sizeof in, 0);
    printf("connected: peek %zd, recv %zd, %s\n", peek, got,
           got == 105 && memcmp(in + 5, out, 100) == 0 ? "exact" : "WRONG");
    if (send(c, out, 100, 0) != 100)
        die("send");
    ssize_t trunc = recv(c, in, 10, MSG_TRUNC);
    printf("truncated: recv of 10 with MSG_TRUNC says %zd, first bytes \"%.10s\"\n", trunc,
           in);
    pthread_join(t, NULL);
    printf("server: %ld bytes in %d datagrams\n", sv.total, sv.count);
    close(c);
    close(sv.sock);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && strcmp(argv[1], "serve") == 0)
        return serve(atoi(argv[2]), atoi(argv[3]));
    if (argc == 2 && strcmp(argv[1], "loop") == 0)
        return loop();
    fprintf(stderr, "usage: %s serve PORT COUNT | loop\n", argv[0]);
    return 2;
}
