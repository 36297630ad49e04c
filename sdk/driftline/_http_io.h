/* One HTTP request sent and the start of its answer read, on a socket, without the GIL: the
 * part of driftline._exchange that driftline._body's encode_exchange() shares (each module
 * compiles its own copy of these static functions).
 *
 * It reads until the answer's head and, when the head has a Content-Length, that many
 * bytes of body are in; or the head is in and has none (chunked, or closed at the end);
 * or `limit` bytes are read; or the peer closes. The caller parses what was read and
 * reads on from the socket if the answer goes further (_transport._Prefetched).
 */
#ifndef DRIFTLINE_HTTP_IO_H
#define DRIFTLINE_HTTP_IO_H

#include <Python.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

static double
monotonic(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* Wait until fd is ready for `events`: 0, or an errno value (ETIMEDOUT at the deadline). */
static int
wait_for(int fd, short events, double deadline)
{
    for (;;) {
        double left = deadline - monotonic();
        if (left <= 0) {
            return ETIMEDOUT;
        }
        struct pollfd ready = {.fd = fd, .events = events};
        int n = poll(&ready, 1, left < 86400.0 ? (int)(left * 1000.0) + 1 : 86400000);
        if (n > 0) {
            return 0;
        }
        if (n < 0 && errno != EINTR) {
            return errno;
        }
    }
}

/* The status code on the status line of a head that ends at `end`, or 0 without one. */
static int
answer_status(const char *buf, const char *end)
{
    const char *code = memchr(buf, ' ', (size_t)(end - buf));
    int status = 0;
    for (int i = 1; code != NULL && i <= 3; i++) {
        if (end - code <= i || code[i] < '0' || code[i] > '9') {
            return 0;
        }
        status = status * 10 + (code[i] - '0');
    }
    return status;
}

/* The length of the whole answer once its head is among the `got` bytes of `buf`: the head
 * plus its Content-Length; the head alone when its status has no body (1xx, 204, 304: RFC
 * 9110 6.4.1), or when it has no valid Content-Length (chunked, or ended by closing), which
 * *framed set to 0 tells apart; -1 while the head is not complete. `framed` may be NULL. */
static Py_ssize_t
answer_length(const char *buf, Py_ssize_t got, int *framed)
{
    int unused;
    framed = framed != NULL ? framed : &unused;
    *framed = 1;
    const char *end = memmem(buf, (size_t)got, "\r\n\r\n", 4);
    if (end == NULL) {
        return -1;
    }
    Py_ssize_t head = end - buf + 4;
    int status = answer_status(buf, end);
    if (status < 200 || status == 204 || status == 304) {
        return head;
    }
    for (const char *line = memchr(buf, '\n', (size_t)(end - buf)); line != NULL && line < end;
         line = memchr(line + 1, '\n', (size_t)(end - line - 1))) {
        const char *name = line + 1;
        if (end - name < 15 || strncasecmp(name, "content-length:", 15) != 0) {
            continue;
        }
        const char *digit = name + 15;
        while (digit < end && (*digit == ' ' || *digit == '\t')) {
            digit++;
        }
        Py_ssize_t body = 0;
        const char *first = digit;
        while (digit < end && *digit >= '0' && *digit <= '9' && body < PY_SSIZE_T_MAX / 10 - 9) {
            body = body * 10 + (*digit - '0');
            digit++;
        }
        /* No digits, or not only digits: http.client will say what is wrong with it. */
        if (digit == first || (*digit != '\r' && *digit != ' ' && *digit != '\t')) {
            break;
        }
        return head + body;
    }
    *framed = 0;
    return head;
}

/* After a send or recv that failed: 0 to try it again (once fd is ready for `events`, if
 * it would have blocked), else the errno value to give up with. */
static int
again(int fd, short events, double deadline)
{
    if (errno == EINTR) {
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return wait_for(fd, events, deadline);
    }
    return errno;
}

/* Send all of `request`, then read into `buf` as this file's comment says. Returns 0 and
 * sets *got, or returns an errno value. MSG_DONTWAIT and poll keep the deadline on a
 * blocking socket too. */
static int
send_and_read(int fd, const char *request, Py_ssize_t size, char *buf, Py_ssize_t limit,
              double deadline, Py_ssize_t *got)
{
    int error = 0;
    Py_ssize_t sent = 0;
    while (sent < size && !error) {
        ssize_t n = send(fd, request + sent, (size_t)(size - sent), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            sent += n;
        }
        else {
            error = again(fd, POLLOUT, deadline);
        }
    }
    Py_ssize_t want = -1;
    while (!error && *got < limit && (want < 0 || *got < want)) {
        ssize_t n = recv(fd, buf + *got, (size_t)(limit - *got), MSG_DONTWAIT);
        if (n > 0) {
            *got += n;
            want = answer_length(buf, *got, NULL);
        }
        else if (n == 0) {
            break; /* closed by the peer: what came is the answer, or nothing */
        }
        else {
            error = again(fd, POLLIN, deadline);
        }
    }
    return error;
}

#endif /* DRIFTLINE_HTTP_IO_H */
