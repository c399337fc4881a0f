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

#include "base/error.h"

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

#endif
