/* A TCP echo server, built by tests/tests/no_flags_net.rs with plain `uk-cc -O2` (no
 * ukit flags: the kernel gets networking because the program calls socket()) and with
 * musl-gcc, whose outputs must be byte-identical.
 *
 *   tcp_echo serve PORT CONNS   echo on 0.0.0.0:PORT for CONNS connections, one at a
 *                               time, each until the peer half-closes; then exit 0
 *   tcp_echo loop               a server thread and a client thread over 127.0.0.1 in
 *                               this one process: 3 connections of varied writes, each
 *                               checked byte for byte and summarised with a hash
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

/* Echoes one connection until the peer half-closes; returns the bytes echoed. */
static long echo_conn(int c) {
    char buf[8192];
    long total = 0;
    for (;;) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("read");
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(c, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                die("write");
            off += w;
        }
        total += n;
    }
    return total;
}

static int listener(uint32_t addr, int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        die("socket");
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(addr);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0)
        die("bind");
    if (listen(s, 8) < 0)
        die("listen");
    return s;
}

static int serve(int port, int conns) {
    int s = listener(INADDR_ANY, port);
    printf("listening\n");
    fflush(stdout);
    for (int i = 1; i <= conns; i++) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            die("accept");
        long n = echo_conn(c);
        close(c);
        printf("connection %d: %ld bytes echoed\n", i, n);
        fflush(stdout);
    }
    close(s);
    printf("done\n");
    return 0;
}

/* In-process loopback. */
struct server {
    int sock;
    int conns;
    long echoed[3];
};

static void *server_thread(void *arg) {
    struct server *sv = arg;
    for (int i = 0; i < sv->conns; i++) {
        int c = accept(sv->sock, NULL, NULL);
        if (c < 0)
            die("accept");
        sv->echoed[i] = echo_conn(c);
        close(c);
    }
    return NULL;
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int loop(void) {
    struct server sv = {.sock = listener(INADDR_LOOPBACK, 0), .conns = 3};
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    if (getsockname(sv.sock, (struct sockaddr *)&a, &alen) < 0)
        die("getsockname");
    printf("server bound to %s, port %s\n", inet_ntoa(a.sin_addr),
           ntohs(a.sin_port) ? "ephemeral" : "zero");
    pthread_t t;
    if (pthread_create(&t, NULL, server_thread, &sv) != 0)
        die("pthread_create");

    static const size_t sizes[3] = {1, 65536, 300000};
    for (int k = 0; k < 3; k++) {
        size_t size = sizes[k];
        unsigned char *out = malloc(size), *in = malloc(size);
        uint32_t x = 0x9e3779b9u * (uint32_t)(k + 1);
        for (size_t i = 0; i < size; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            out[i] = (unsigned char)x;
        }
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0)
            die("socket");
        if (k == 2) {
            int one = 1;
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
            die("connect");
        /* Writes of varied sizes, interleaved with reads so neither side's buffers
         * fill up. */
        size_t sent = 0, got = 0, step = 1;
        while (got < size) {
            if (sent < size) {
                size_t n = step < size - sent ? step : size - sent;
                ssize_t w = write(c, out + sent, n);
                if (w <= 0)
                    die("client write");
                sent += (size_t)w;
                step = step * 3 + 1;
                if (step > 20000)
                    step = 7;
                if (sent == size)
                    shutdown(c, SHUT_WR);
            }
            if (got < sent) {
                ssize_t r = read(c, in + got, sent - got);
                if (r <= 0)
                    die("client read");
                got += (size_t)r;
            }
        }
        char extra;
        ssize_t eof = read(c, &extra, 1);
        close(c);
        printf("connection %d: %zu bytes, %s, eof %s, hash %016llx\n", k + 1, size,
               memcmp(in, out, size) == 0 ? "identical" : "DIFFERENT",
               eof == 0 ? "yes" : "no", (unsigned long long)fnv(0xcbf29ce484222325ull, in, size));
        free(out);
        free(in);
    }
    pthread_join(t, NULL);
    for (int k = 0; k < 3; k++)
        printf("server echoed %ld bytes on connection %d\n", sv.echoed[k], k + 1);
    close(sv.sock);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && strcmp(argv[1], "serve") == 0)
        return serve(atoi(argv[2]), atoi(argv[3]));
    if (argc == 2 && strcmp(argv[1], "loop") == 0)
        return loop();
    fprintf(stderr, "usage: %s serve PORT CONNS | loop\n", argv[0]);
    return 2;
}
