/* demo.h — the hosted web demo, served by the server itself at stages whose
 * model access is `hosted` or above (the policy's `demo:` section,
 * release/policy_demo.h):
 *
 *   GET  /, /demo            the page (web/index.html filled in: model, stage,
 *                            watermark, intended use; paused; bounds)
 *   GET  /demo/FILE          web/ assets: gzip, ETag, 304, strict CSP
 *   GET  /demo/api/state     what the page shows, the proof-of-work challenge
 *                            and the queue
 *   POST /demo/api/session   {challenge, nonce} -> the session cookie + CSRF token
 *   POST /demo/api/complete  {prompt, max_tokens?, temperature?, top_p?}: SSE
 *   POST /demo/api/flag      {completion_id, category, comment?} -> ticket
 *   POST /demo/api/detect    {text}
 *   POST /demo/form          the no-JavaScript fallback (not streamed)
 *   GET  /demo/card          the model card, where the stage releases the
 *                            risk-analysis components at `hosted` or above
 *
 * Every completion, flag and detection goes through the API's own path
 * (sg_server_complete / sg_server_guard in api.h) with the session as the
 * principal: audience = demo.audience, key = the session id. Token budgets
 * are access/demo_budget.h, sessions and proof-of-work access/demo_session.h.
 * Every POST needs an Origin matching Host; the JSON routes also need the
 * session cookie (SameSite=Strict, HttpOnly) and its CSRF token. */
#ifndef SG_DEMO_H
#define SG_DEMO_H

#include "release/policy.h"
#include "release/stages.h"
#include "server/http.h"
#include "server/models.h"
#include "store/store.h"

typedef struct sg_server sg_server;
typedef struct sg_demo sg_demo;

/* The sub-key comes from the store's secret at `key_path` (DB.key). */
sg_error *sg_demo_new(const char *key_path, sg_demo **out) SG_MUST_CHECK;
void sg_demo_free(sg_demo *d);

/* Is `path` one of the demo's? */
int sg_demo_route(const char *path);

/* The server's state for one request. */
typedef struct {
    sg_server *srv;
    const sg_policy *policy;
    int stage;
    const char *stage_name;
    const sg_release_state *release;
    sg_models *models;
    sg_store *store; /* for the model card */
} sg_demo_ctx;

void sg_demo_handle(sg_demo *d, const sg_demo_ctx *ctx, sg_http_request *req);

#endif
