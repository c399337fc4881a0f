/* api.h — the gated API server: the OpenAI-compatible routes and the request
 * path every completion takes.
 *
 *   POST /v1/completions   auth (401) -> policy decision at the current stage
 *                          (403 naming model and stage) -> input guard (400
 *                          content_filter, or a hard-coded response) -> reserve
 *                          prompt + max_tokens from the key's buckets (429 +
 *                          retry-after) -> queue for the model's batch (503
 *                          when full) -> generate (JSON, or SSE with stream:
 *                          true) through the output filter -> refund the
 *                          unused tokens -> audit record committed -> reply
 *   GET  /v1/models        the models the caller's key may use now
 *   POST /v1/moderations, /v1/detect, /v1/flags
 *                          the safety endpoints (server/guard.h), as the stage enables them
 *   GET  /v1/system-card, /v1/cards/MODEL, /v1/datasheets/MODEL
 *                          the release documents (eval/cards.h) where the
 *                          current stage releases their component group
 *   GET  /, /demo, /demo/FILE  the hosted web demo (server/demo.h), through the
 *                          same completion and guard path as the API
 *   GET  /healthz          liveness and the current stage
 *   GET  /metrics          Prometheus text
 *
 * The routes are the table in routes.c; a completion's steps are completion.c.
 * The x-ratelimit-* headers go out on the answers that consult the key's
 * buckets: a completion once its tokens are reserved or refused (429), a
 * hard-coded response, and GET /v1/models; not on refusals before that point
 * (401, 400, 403, 404, 503 model unavailable) nor on the other routes.
 *
 * The policy can be reloaded while serving: a new one is swapped in only if
 * it loads cleanly; requests in flight finish under the policy they started
 * with (server/policy_ref.h). A watcher thread (server/watcher.h) polls the
 * store's release version every 100 ms: a stage move or an incident
 * (suspended audiences and models get 403 naming the incident) applies to the
 * next request, without restart; it also writes the monitoring report
 * (release/report.h) every monitoring_frequency period into DB.reports/. */
#ifndef SG_API_H
#define SG_API_H

#include <stddef.h>
#include <stdint.h>

#include "access/keys.h"
#include "base/error.h"
#include "server/http.h"

typedef struct {
    const char *policy_path;
    const char *db_path; /* the store; its hashing key is DB.key beside it */
    const char *host;    /* IPv4 address to listen on */
    int port;            /* 0 = any free port */
} sg_server_options;

typedef struct sg_server sg_server;

/* Loads the policy, opens the store and starts listening. */
sg_error *sg_server_start(const sg_server_options *options, sg_server **out) SG_MUST_CHECK;
int sg_server_port(const sg_server *server);
/* Loads the policy file again; on any error the running policy stays. */
sg_error *sg_server_reload(sg_server *server) SG_MUST_CHECK;
/* Stops accepting, finishes or cancels what is running, frees. */
void sg_server_stop(sg_server *server);

/* A caller that holds no API key: the web demo's visitor (server/demo.h).
 * Its principal stands in for authentication and its budget for the key's
 * rate limits; everything else (policy decision, input guard, scheduler,
 * output filter, watermark, audit with key = who.key_id) is the API's path. */
typedef struct {
    sg_principal who;
    /* Reserves `tokens` (prompt + max_tokens): 0 admitted; 1 not now
     * (*retry_after_s); 2 never (too large). `why` names the budget. */
    int (*reserve)(void *ctx, const uint64_t keys[2], int64_t tokens, double *retry_after_s, char *why,
                   size_t why_size);
    void (*refund)(void *ctx, const uint64_t keys[2], int64_t tokens);
    void *ctx; /* outlives every request (the demo) */
    uint64_t keys[2];
} sg_api_caller;

/* POST /v1/completions for `caller` (the routing table serves key holders). */
void sg_server_complete(sg_server *server, sg_http_request *req, const sg_api_caller *caller);
/* POST /v1/detect and /v1/flags (by req->path) for `who`. */
void sg_server_guard(sg_server *server, sg_http_request *req, const sg_principal *who);

#endif
