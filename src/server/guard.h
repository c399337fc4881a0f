/* guard.h — the safety controls of the running server, each switched on or
 * off per release stage by the policy's safety_protocols_enabled:
 *
 *   content_filter       input filter on prompts (block -> 400 "content_filter",
 *                        redact, flag) and the streaming output filter
 *   hardcoded_responses  categories answered with their predetermined text
 *                        instead of running the model
 *   moderation_api       POST /v1/moderations (OpenAI shape)
 *   watermark            completions carry the keyed green-list watermark
 *   detection            POST /v1/detect {text, model?}
 *   user_feedback_loop   POST /v1/flags {completion_id, category, comment};
 *                        upheld flags suspend a key (flags.suspend_after)
 *
 * An sg_guard is built per loaded policy (its compiled content filter); the
 * route handlers get what they need from the server through sg_guard_ctx, so
 * this module needs neither the router (routes.c) nor the server's locks. */
#ifndef SG_GUARD_H
#define SG_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "access/keys.h"
#include "base/error.h"
#include "release/policy.h"
#include "safety/filter.h"
#include "safety/watermark.h"
#include "server/api_error.h"
#include "server/http.h"
#include "server/models.h"
#include "store/store.h"

/* Watermark parameters of the server (Kirchenbauer et al. defaults, as `stagegate generate`). */
#define SG_GUARD_WM_GAMMA 0.25
#define SG_GUARD_WM_DELTA 2.0
#define SG_GUARD_WM_Z 4.0 /* detection threshold */
#define SG_GUARD_ZS 2.0   /* zero-shot threshold, as `stagegate detect` */

typedef struct sg_guard sg_guard;

/* Compiles the policy's content filter (an empty one when it has none). */
sg_error *sg_guard_new(const sg_policy *policy, sg_guard **out) SG_MUST_CHECK;
void sg_guard_free(sg_guard *g);
const sg_filter *sg_guard_filter(const sg_guard *g);

/* Is the output filter on at `stage` (content_filter)? */
int sg_guard_output_on(const sg_policy *p, int stage);
/* Is the watermark on at `stage`? */
int sg_guard_watermark_on(const sg_policy *p, int stage);

/* The input decision for one prompt, with the actions the stage enables. */
typedef struct {
    sg_filter_verdict verdict; /* PASS, FLAG, REDACT, HARDCODED or BLOCK */
    char category[128];        /* the deciding category ("" for PASS) */
    const char *response;      /* HARDCODED: the predetermined text (owned by the guard's filter) */
    char *text;                /* REDACT: the redacted prompt (free()) */
    size_t text_len;
    char flagged[256]; /* FLAG categories found, comma separated (any verdict) */
} sg_guard_input;

sg_error *sg_guard_check_input(const sg_guard *g, const sg_policy *p, int stage, const char *text, size_t len,
                               sg_guard_input *out) SG_MUST_CHECK;
void sg_guard_input_clear(sg_guard_input *in);

/* Runs a whole completion text through the output stream filter (what the
 * streaming path does chunk by chunk). *out (free()) is the releasable text;
 * *blocked names whether a block category cut it, *category its name. */
sg_error *sg_guard_filter_output(const sg_guard *g, const char *text, size_t len, char **out, size_t *out_len,
                                 int *blocked, char category[128]) SG_MUST_CHECK;

/* What the route handlers need from the server. */
typedef struct {
    const sg_guard *guard;
    const sg_policy *policy;
    int stage;
    const char *stage_name;
    const sg_principal *who; /* authenticated caller */
    sg_store *store;
    sg_keys *keys;
    sg_models *models;
    const sg_watermark *wm; /* the server's watermark (key from the store) */
} sg_guard_ctx;

/* POST /v1/moderations, /v1/detect, /v1/flags: each answers the request and
 * audits it (NULL), or returns the error to answer: a 403 naming the
 * protocol and stage when it is off (audited here), a 400/404 naming the
 * parameter, a 500 when the store fails. */
sg_api_error *sg_guard_moderations(const sg_guard_ctx *ctx, sg_http_request *req) SG_MUST_CHECK;
sg_api_error *sg_guard_detect(const sg_guard_ctx *ctx, sg_http_request *req) SG_MUST_CHECK;
sg_api_error *sg_guard_flag(const sg_guard_ctx *ctx, sg_http_request *req) SG_MUST_CHECK;

/* Records which key received completion `id` and its audit record (for flags). */
void sg_guard_completion_served(sg_store *store, const char *id, int64_t key_id, int64_t audit_seq);

/* Resolves flag `id` (uphold or dismiss). When upholding brings the key's
 * upheld flags to the policy's flags.suspend_after (policy may be NULL =
 * never), the key is revoked and the suspension audited with its reason;
 * *suspended_key (may be NULL) gets that key id or 0. */
sg_error *sg_guard_resolve_flag(sg_store *store, sg_keys *keys, const sg_policy *policy, int64_t id,
                                int uphold, int64_t *suspended_key) SG_MUST_CHECK;

#endif
