/* A minimal HTTP/1.1 client for the guest API tests, run *inside* a container (built static
 * by the tests and bind-mounted in), since busybox's wget speaks neither unix sockets nor shows
 * error bodies. Usage:
 *   guest_client unix:/run/fasco/guest/api.sock|tcp:PORT METHOD TARGET [BODY]
 * Prints the whole response (status line, headers, body) and exits 0 once it ends; 2 when it
 * cannot connect. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s unix:PATH|tcp:PORT METHOD TARGET [BODY]\n", argv[0]);
        return 64;
    }
    int fd;
    if (strncmp(argv[1], "unix:", 5) == 0) {
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        strncpy(address.sun_path, argv[1] + 5, sizeof(address.sun_path) - 1);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) { perror("connect"); return 2; }
    } else if (strncmp(argv[1], "tcp:", 4) == 0) {
        struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1] + 4))};
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) { perror("connect"); return 2; }
    } else {
        fprintf(stderr, "bad address %s\n", argv[1]);
        return 64;
    }
    const char *body = argc > 4 ? argv[4] : "";
    char head[8192];
    int length = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n\r\n", argv[2], argv[3],
                          strlen(body));
    if (length < 0 || (size_t)length >= sizeof(head)) return 64;
    if (write(fd, head, (size_t)length) != length) { perror("write"); return 2; }
    if (*body && write(fd, body, strlen(body)) != (ssize_t)strlen(body)) { perror("write"); return 2; }
    char buffer[4096];
    ssize_t count;
    while ((count = read(fd, buffer, sizeof(buffer))) > 0) fwrite(buffer, 1, (size_t)count, stdout);
    return 0;
}
