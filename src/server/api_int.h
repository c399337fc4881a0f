/* api_int.h — private to src/server: the server object and what every route
 * handler gets. api.c builds the server, routes.c dispatches requests to the
 * handlers through the routing table; the handlers live in routes.c (the
 * small routes) and completion.c (POST /v1/completions). Nothing outside
 * src/server includes this header. */
#ifndef SG_API_INT_H
#define SG_API_INT_H

#include <stdatomic.h>
#include <stdbool.h>

#include "access/keys.h"
#include "access/ratelimit.h"
#include "safety/watermark.h"
#include "server/api.h"
#include "server/api_error.h"
#include "server/demo.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/models.h"
#include "server/policy_ref.h"
#include "server/watcher.h"
#include "store/store.h"

struct sg_server {
    char *policy_path;
    char *db_path;
    sg_policy_slot policies; /* the policy ref new requests get */
    sg_store *store;
    sg_keys *keys;
    sg_ratelimit *ratelimit;
    sg_metrics *metrics;
    sg_models *models;
    sg_http *http;
    sg_watermark *wm; /* the watermark, keyed from the store (safety/watermark_key.h) */
    double request_timeout_s;
    sg_watcher *watcher;
    atomic_bool stopping; /* set by sg_server_stop, read by HTTP threads: waiting requests give up */
    sg_demo *demo;        /* the hosted web demo (server/demo.h) */
};

/* How a route's answers count in GET /metrics (stagegate_requests_total). */
typedef enum {
    SG_ROUTE_UNCOUNTED, /* only its audited refusals count */
    SG_ROUTE_COUNTED,   /* the router counts every answer after authentication */
    SG_ROUTE_TOKENS,    /* the handler counts each outcome with its tokens, with its audit record */
} sg_route_meter;

/* Whether a route needs an API key. */
typedef enum {
    SG_ROUTE_OPEN,         /* no key */
    SG_ROUTE_KEY,          /* the router authenticates before the handler runs (401 otherwise) */
    SG_ROUTE_KEY_BY_STAGE, /* the handler authenticates when the stage asks for a key */
} sg_route_key;

typedef struct sg_api_call sg_api_call;
typedef void (*sg_route_handler)(sg_api_call *call);

typedef struct {
    const char *method;
    const char *path; /* exact, or a prefix when it ends in '/' */
    sg_route_handler handler;
    sg_route_key key;
    sg_route_meter meter;
} sg_route;

/* One request as a handler sees it. */
struct sg_api_call {
    sg_server *srv;
    sg_http_request *req;
    const sg_route *route;
    const char *rest;            /* the path after a prefix route's prefix ("" for exact routes) */
    sg_policy_ref *pref;         /* acquired by the router for the whole request */
    const sg_principal *who;     /* the authenticated caller, NULL before (or without) a key */
    sg_principal principal;      /* what `who` points at */
    double t0;                   /* monotonic time the request arrived */
    const sg_api_caller *caller; /* a caller without a key (the web demo, api.h), else NULL */
};

/* The HTTP handler of the server (routes.c). */
void sg_api_handle(void *ctx, sg_http_request *req);

/* Authenticates the request's bearer key into call->who. A 401 (audited,
 * www-authenticate added) or, when the key store fails, a 500 (counted). */
sg_api_error *sg_api_authenticate(sg_api_call *call) SG_MUST_CHECK;

/* Answers `err` (taken): audits it when it carries a decision (on `model`,
 * may be NULL) and counts it unless the route's router counts its answers. */
void sg_api_fail(sg_api_call *call, const char *model, sg_api_error *err);

/* Records one decision: the audit record, durably (e->latency_s is taken
 * from t0) and the request metrics with `status`. */
void sg_api_record(sg_server *srv, sg_audit_event *e, double t0, int status);

/* The caller's limits at the ref's stage: the key's own, else the policy's. */
void sg_api_limits(const sg_policy_ref *ref, const sg_principal *who, int64_t *rpm, int64_t *tpm);
/* The x-ratelimit-* headers of a bucket status. */
void sg_api_ratelimit_headers(sg_http_request *req, const sg_ratelimit_status *st);

static inline bool sg_api_stopping(sg_server *srv) { return atomic_load(&srv->stopping); }

/* POST /v1/completions (completion.c). */
void sg_completion_route(sg_api_call *call);

#endif
