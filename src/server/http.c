/* http.c — libmicrohttpd glue: body collection with a size limit, response
 * helpers (errors in OpenAI's shape, built by server/openai.h), disconnect
 * detection (see http.h). */
#include "server/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "server/openai.h"

struct sg_http {
    struct MHD_Daemon *daemon;
    sg_http_handler handler;
    void *ctx;
    size_t max_body;
    int port;
};

/* Per-connection request state (MHD's con_cls). */
typedef struct {
    sg_http_request req;
    char *body;
    size_t len, cap;
    int too_large;
} conn_state;

const char *sg_http_header_get(const sg_http_request *req, const char *name) {
    return MHD_lookup_connection_value((struct MHD_Connection *)req->connection, MHD_HEADER_KIND, name);
}

void sg_http_add_header(sg_http_request *req, const char *name, const char *fmt, ...) {
    if (req->n_headers >= SG_HTTP_MAX_HEADERS) return;
    sg_http_header *h = &req->headers[req->n_headers++];
    snprintf(h->name, sizeof h->name, "%s", name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->value, sizeof h->value, fmt, ap);
    va_end(ap);
}

static void queue(sg_http_request *req, int status, struct MHD_Response *resp, const char *content_type) {
    if (!resp) {
        sg_warn("http: could not create a response");
        return;
    }
    if (content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (int i = 0; i < req->n_headers; i++)
        MHD_add_response_header(resp, req->headers[i].name, req->headers[i].value);
    req->status = status;
    req->responded = 1;
    MHD_queue_response((struct MHD_Connection *)req->connection, (unsigned)status, resp);
    MHD_destroy_response(resp);
}

static int captured(sg_http_request *req, int status, const char *text, size_t n) {
    if (!req->capture) return 0;
    free(req->capture->body);
    req->capture->body = malloc(n + 1);
    if (req->capture->body) memcpy(req->capture->body, text, n), req->capture->body[n] = 0;
    req->capture->len = req->capture->body ? n : 0;
    req->capture->status = status;
    req->status = status;
    req->responded = 1;
    return 1;
}

void sg_http_respond_static(sg_http_request *req, int status, const char *content_type, const void *data,
                            size_t len) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    queue(req, status, resp, content_type);
}

void sg_http_client_network(const sg_http_request *req, char out[64]) {
    out[0] = 0;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info((struct MHD_Connection *)req->connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr) return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET) {
        const unsigned char *a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
        snprintf(out, 64, "%u.%u.%u.0/24", a[0], a[1], a[2]);
    } else if (sa->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        snprintf(out, 64, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", a[0], a[1], a[2], a[3], a[4], a[5],
                 a[6], a[7]);
    }
}

void sg_http_respond_text(sg_http_request *req, int status, const char *content_type, const char *text) {
    size_t n = strlen(text);
    if (captured(req, status, text, n)) return;
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, (void *)text, MHD_RESPMEM_MUST_COPY);
    queue(req, status, resp, content_type);
}

void sg_http_respond_json(sg_http_request *req, int status, json_t *json) {
    char *text = json ? json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(json);
    if (!text) {
        sg_http_respond_text(
            req, 500, "application/json",
            "{\"error\":{\"message\":\"could not encode the response\",\"type\":\"server_error\","
            "\"param\":null,\"code\":null}}");
        return;
    }
    size_t n = strlen(text);
    if (captured(req, status, text, n)) {
        free(text);
        return;
    }
    char *body = malloc(n + 2);
    if (body) {
        memcpy(body, text, n);
        body[n] = '\n';
        body[n + 1] = 0;
    }
    free(text);
    if (!body) return;
    struct MHD_Response *resp = MHD_create_response_from_buffer(n + 1, body, MHD_RESPMEM_MUST_FREE);
    queue(req, status, resp, "application/json");
}

void sg_http_respond_error(sg_http_request *req, int status, const char *type, const char *param,
                           const char *code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sg_http_respond_json(req, status, sg_openai_error(type, param, code, msg));
}

typedef struct {
    sg_http_stream_read read;
    sg_http_stream_done done;
    void *ctx;
} stream_state;

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream_state *st = cls;
    ssize_t n = st->read(st->ctx, buf, max);
    if (n == -1) return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    return n;
}

static void stream_free(void *cls) {
    stream_state *st = cls;
    if (st->done) st->done(st->ctx);
    free(st);
}

void sg_http_respond_stream(sg_http_request *req, int status, const char *content_type,
                            sg_http_stream_read read, sg_http_stream_done done, void *ctx) {
    stream_state *st = malloc(sizeof *st);
    if (!st) {
        if (done) done(ctx);
        return;
    }
    st->read = read;
    st->done = done;
    st->ctx = ctx;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_reader, st, stream_free);
    if (!resp) {
        stream_free(st);
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    queue(req, status, resp, content_type);
}

int sg_http_request_fd(const sg_http_request *req) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info((struct MHD_Connection *)req->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

int sg_http_fd_gone(int fd) {
    if (fd < 0) return 0;
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return 0;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)version;
    sg_http *http = cls;
    conn_state *cs = *con_cls;
    if (!cs) {
        cs = calloc(1, sizeof *cs);
        if (!cs) return MHD_NO;
        cs->req.method = method;
        cs->req.path = url;
        cs->req.connection = connection;
        *con_cls = cs;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cs->too_large || cs->len + n > http->max_body) {
            cs->too_large = 1;
            return MHD_YES;
        }
        if (cs->len + n + 1 > cs->cap) {
            size_t cap = cs->cap ? cs->cap : 4096;
            while (cap < cs->len + n + 1) cap *= 2;
            char *b = realloc(cs->body, cap);
            if (!b) return MHD_NO;
            cs->body = b;
            cs->cap = cap;
        }
        memcpy(cs->body + cs->len, upload_data, n);
        cs->len += n;
        cs->body[cs->len] = 0;
        return MHD_YES;
    }
    if (cs->req.responded) return MHD_YES;
    cs->req.body = cs->body ? cs->body : "";
    cs->req.body_len = cs->len;
    if (cs->too_large) {
        sg_http_respond_error(&cs->req, 413, "invalid_request_error", NULL, "request_too_large",
                              "request body is larger than the limit of %zu bytes", http->max_body);
    } else {
        http->handler(http->ctx, &cs->req);
        if (!cs->req.responded)
            sg_http_respond_error(&cs->req, 500, "server_error", NULL, NULL, "the request was not answered");
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)connection, (void)toe;
    conn_state *cs = *con_cls;
    if (!cs) return;
    free(cs->body);
    free(cs);
    *con_cls = NULL;
}

sg_error *sg_http_start(const char *host, int port, size_t max_body, sg_http_handler handler, void *ctx,
                        sg_http **out) {
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return sg_error_new("listen address '%s' is not an IPv4 address", host);
    sg_http *http = calloc(1, sizeof *http);
    if (!http) return sg_error_new("out of memory");
    http->handler = handler;
    http->ctx = ctx;
    http->max_body = max_body;
    http->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, http, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, http, MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    if (!http->daemon) {
        free(http);
        return sg_error_new("cannot listen on %s:%d (address in use or not permitted?)", host, port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);
    http->port = info ? info->port : port;
    *out = http;
    return NULL;
}

int sg_http_port(const sg_http *http) { return http->port; }

void sg_http_stop(sg_http *http) {
    if (!http) return;
    MHD_stop_daemon(http->daemon);
    free(http);
}
