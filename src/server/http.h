/* http.h — the HTTP layer of the server: libmicrohttpd glue.
 *
 * Owns the daemon (one thread per connection, so a handler may block while
 * the scheduler generates), collects request bodies up to a size limit
 * (413 beyond it), and hands each complete request to one handler. The
 * handler answers through the sg_http_respond_* helpers: JSON, OpenAI-shaped
 * errors {"error":{"message","type","param","code"}}, or a streamed body
 * produced by a callback (server-sent events). Headers added to the request
 * with sg_http_add_header go out on whichever response it gets. */
#ifndef SG_HTTP_H
#define SG_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

#define SG_HTTP_MAX_HEADERS 16

typedef struct {
    char name[40];
    char value[320]; /* room for a Content-Security-Policy or a Set-Cookie */
} sg_http_header;

/* A response kept in memory instead of sent (a handler answering through
 * another handler, e.g. the web demo's form rendering a completion). */
typedef struct {
    int status;
    char *body; /* malloc'd */
    size_t len;
} sg_http_capture;

typedef struct sg_http_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query string */
    const char *body;   /* NUL-terminated; "" when none */
    size_t body_len;
    void *connection;                            /* the struct MHD_Connection */
    sg_http_header headers[SG_HTTP_MAX_HEADERS]; /* extra response headers */
    int n_headers;
    int status; /* set by the respond helpers, for metrics */
    int responded;
    sg_http_capture *capture; /* when set, text and JSON responses land here */
} sg_http_request;

/* The application: must answer every request with exactly one respond call. */
typedef void (*sg_http_handler)(void *ctx, sg_http_request *req);

typedef struct sg_http sg_http;

/* Starts listening on host:port (port 0 picks a free one). */
sg_error *sg_http_start(const char *host, int port, size_t max_body, sg_http_handler handler, void *ctx,
                        sg_http **out) SG_MUST_CHECK;
int sg_http_port(const sg_http *http); /* the bound port */
/* Stops accepting, waits for connection threads, frees. */
void sg_http_stop(sg_http *http);

/* A request header's value (case-insensitive name), or NULL. */
const char *sg_http_header_get(const sg_http_request *req, const char *name);
void sg_http_add_header(sg_http_request *req, const char *name, const char *fmt, ...) SG_PRINTF(3, 4);

/* Responses. `json` is stolen (decref'd). */
void sg_http_respond_json(sg_http_request *req, int status, json_t *json);
void sg_http_respond_text(sg_http_request *req, int status, const char *content_type, const char *text);
/* OpenAI's error shape; param and code may be NULL (null in the JSON). */
void sg_http_respond_error(sg_http_request *req, int status, const char *type, const char *param,
                           const char *code, const char *fmt, ...) SG_PRINTF(6, 7);

/* `len` bytes that outlive the response (static data, e.g. web/ assets). */
void sg_http_respond_static(sg_http_request *req, int status, const char *content_type, const void *data,
                            size_t len);

/* The client's network prefix, for per-network limits: "a.b.c.0/24" for
 * IPv4, the /64 for IPv6; "" when unknown. */
void sg_http_client_network(const sg_http_request *req, char out[64]);

/* A streamed body: `read` blocks until it has bytes, fills buf with up to
 * max of them and returns the count; it returns -1 at the end of the stream
 * and -2 to abort the connection. `done` runs exactly once when the response
 * is released (finished, or the client went away). */
typedef ssize_t (*sg_http_stream_read)(void *ctx, char *buf, size_t max);
typedef void (*sg_http_stream_done)(void *ctx);
void sg_http_respond_stream(sg_http_request *req, int status, const char *content_type,
                            sg_http_stream_read read, sg_http_stream_done done, void *ctx);

/* The client's socket, and whether the client has closed its side (checked
 * without blocking): a handler or stream waiting on generation uses it to
 * notice a disconnect. */
int sg_http_request_fd(const sg_http_request *req);
int sg_http_fd_gone(int fd);

#endif
