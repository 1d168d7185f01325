/* The lab cluster's hello server (scripts/cluster): answers every TCP connection on port 8080 with one line,
 * "<node> <pod> <client address>", and closes it; on port 8090 it echoes for as long as a connection stays open.
 * The client address shows whether a Service kept the client's own source (externalTrafficPolicy: Local) or
 * kube-proxy masqueraded it. Built static, FROM scratch, so the image needs no base and no network to build.
 * NODE_NAME and POD_NAME come from the Downward API. Like a well-behaved server it keeps answering for 3 s after
 * SIGTERM, while kube-proxy takes the terminating pod out of its rules: a connection refused during a rollout or
 * drain is then the load balancer's fault. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void stop_later(int signal_number) {
    (void)signal_number;
    alarm(3);
}

static void stop(int signal_number) {
    (void)signal_number;
    _exit(0);
}

/* A listener on `port`, IPv6 and IPv4 where the pod has IPv6, else IPv4 only; exits on failure. */
static int listen_on(int port) {
    int family = AF_INET6;
    int listener = socket(AF_INET6, SOCK_STREAM, 0);
    if (listener < 0) {
        family = AF_INET;
        listener = socket(AF_INET, SOCK_STREAM, 0);
    }
    if (listener < 0) {
        perror("hello: socket");
        exit(1);
    }
    int on = 1, off = 0;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_storage address;
    memset(&address, 0, sizeof address);
    socklen_t length;
    if (family == AF_INET6) {
        setsockopt(listener, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        struct sockaddr_in6 *any = (struct sockaddr_in6 *)&address;
        any->sin6_family = AF_INET6;
        any->sin6_port = htons((unsigned short)port);
        length = sizeof *any;
    } else {
        struct sockaddr_in *any = (struct sockaddr_in *)&address;
        any->sin_family = AF_INET;
        any->sin_port = htons((unsigned short)port);
        length = sizeof *any;
    }
    if (bind(listener, (struct sockaddr *)&address, length) < 0 || listen(listener, 128) < 0) {
        fprintf(stderr, "hello: cannot listen on port %d\n", port);
        exit(1);
    }
    return listener;
}

/* Port 8090: echoes every connection until the client closes it (a process per connection), so a client can hold
 * a connection open through a VIP and see whether it survives a rollout. */
static void echo_forever(int listener) {
    signal(SIGCHLD, SIG_IGN);
    for (;;) {
        int connection = accept(listener, NULL, NULL);
        if (connection < 0) continue;
        if (fork() == 0) {
            char buffer[256];
            ssize_t size;
            while ((size = read(connection, buffer, sizeof buffer)) > 0)
                if (write(connection, buffer, (size_t)size) != size) break;
            _exit(0);
        }
        close(connection);
    }
}

int main(void) {
    const char *node = getenv("NODE_NAME");
    const char *pod = getenv("POD_NAME");
    signal(SIGTERM, stop_later);
    signal(SIGALRM, stop);
    signal(SIGPIPE, SIG_IGN);
    int listener = listen_on(8080);
    int echo = listen_on(8090);
    if (fork() == 0) {
        close(listener);
        echo_forever(echo);
    }
    close(echo);
    fprintf(stderr, "hello: %s on %s listening on ports 8080 and 8090 (echo)\n", pod ? pod : "-", node ? node : "-");
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peer_length = sizeof peer;
        int connection = accept(listener, (struct sockaddr *)&peer, &peer_length);
        if (connection < 0) continue;
        char client[INET6_ADDRSTRLEN] = "-";
        if (peer.ss_family == AF_INET6) {
            struct sockaddr_in6 *six = (struct sockaddr_in6 *)&peer;
            if (IN6_IS_ADDR_V4MAPPED(&six->sin6_addr))
                inet_ntop(AF_INET, &six->sin6_addr.s6_addr[12], client, sizeof client);
            else
                inet_ntop(AF_INET6, &six->sin6_addr, client, sizeof client);
        } else if (peer.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, client, sizeof client);
        }
        char line[256];
        int size = snprintf(line, sizeof line, "%s %s %s\n", node ? node : "-", pod ? pod : "-", client);
        if (size > 0) (void)!write(connection, line, (size_t)size < sizeof line ? (size_t)size : sizeof line - 1);
        close(connection);
    }
}
