/* test_client.c - what wa_client_call says about a call that failed: "provably not sent" must
 * never be said of a request a peer may have acted on. A tiny HTTP peer on loopback plays the
 * bridge being stopped in the middle of a send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wa_client.h"

struct peer {
    int listener;
    int port;
    int requests; /* requests it read on its one connection */
};

/* Reads one request head (and whatever body came with it); 0 when the peer closed. */
static int read_request(int fd)
{
    char buf[4096];
    size_t have = 0;
    while (have < sizeof buf - 1) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0) return 0;
        have += (size_t)n;
        buf[have] = '\0';
        if (strstr(buf, "\r\n\r\n")) return 1;
    }
    return 1;
}

/* Answers the first request on a kept-alive connection, reads the second one, then goes away
 * without answering it: its listener first, so the client's reconnect is refused. */
static void *serve(void *arg)
{
    struct peer *p = arg;
    int c = accept(p->listener, NULL, NULL);
    if (c < 0) return NULL;
    if (read_request(c)) {
        p->requests++;
        const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        if (write(c, ok, sizeof ok - 1) < 0) return NULL;
    }
    if (read_request(c)) p->requests++;
    close(p->listener);
    close(c);
    return NULL;
}

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_reused_connection_dies_after_the_request(void **state)
{
    (void)state;
    struct peer p = {0};
    p.listener = listen_loopback(&p.port);
    pthread_t t;
    pthread_create(&t, NULL, serve, &p);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/send", p.port);
    CURL *h = curl_easy_init();
    struct wa_client_result r;
    wa_client_call(h, "POST", url, NULL, "{\"a\":1}", 7, NULL, 1000, 3000, &r);
    assert_int_equal(r.status, 200);
    wa_buf_free(&r.body);
    /* The second call goes out on the kept-alive connection; the peer reads it and is gone.
     * libcurl then tries a fresh connection, which is refused: the call must still say that
     * the request left, since the peer may have acted on it. */
    wa_client_call(h, "POST", url, NULL, "{\"a\":2}", 7, NULL, 1000, 3000, &r);
    pthread_join(t, NULL);
    print_message("code %d (%s) refused %d sent %d\n", r.code, r.error, r.refused, r.sent);
    assert_int_equal(p.requests, 2);
    assert_int_equal(r.status, 0);
    assert_true(r.sent);
    assert_false(r.refused);
    wa_buf_free(&r.body);
    curl_easy_cleanup(h);
}

static void test_nothing_listens(void **state)
{
    (void)state;
    int port;
    int fd = listen_loopback(&port);
    close(fd); /* the port is free again: a connect is refused */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/send", port);
    CURL *h = curl_easy_init();
    struct wa_client_result r;
    wa_client_call(h, "POST", url, NULL, "{}", 2, NULL, 1000, 3000, &r);
    assert_true(r.refused);
    assert_false(r.sent);
    wa_buf_free(&r.body);
    curl_easy_cleanup(h);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reused_connection_dies_after_the_request),
        cmocka_unit_test(test_nothing_listens),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
