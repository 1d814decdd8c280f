/* Name resolution through musl inside an image: /etc/hosts from the root file system. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "localhost";
    struct addrinfo hints = {0}, *res;
    hints.ai_family = AF_INET; hints.ai_socktype = SOCK_STREAM;
    int r = getaddrinfo(name, "80", &hints, &res);
    if (r) { printf("getaddrinfo(%s): %s\n", name, gai_strerror(r)); return 1; }
    char buf[64];
    struct sockaddr_in *sin = (struct sockaddr_in *)res->ai_addr;
    printf("%s -> %s:%d\n", name, inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf), ntohs(sin->sin_port));
    freeaddrinfo(res);
    return 0;
}
