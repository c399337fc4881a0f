/* guard.c — the server's safety controls per release stage (see guard.h). */
#include "server/guard.h"

#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "safety/moderation.h"
#include "safety/zeroshot.h"
#include "server/audit_sink.h"
#include "store/store_flags.h"

struct sg_guard {
    sg_filter *filter;
};

sg_error *sg_guard_new(const sg_policy *p, sg_guard **out) {
    sg_guard *g = calloc(1, sizeof *g);
    if (!g) return sg_error_new("out of memory");
    sg_error *err = sg_filter_new(&p->filter, &g->filter);
    if (err) {
        free(g);
        return sg_error_wrap(err, "compiling the content filter");
    }
    *out = g;
    return NULL;
}

void sg_guard_free(sg_guard *g) {
    if (!g) return;
    sg_filter_free(g->filter);
    free(g);
}

const sg_filter *sg_guard_filter(const sg_guard *g) { return g->filter; }

int sg_guard_output_on(const sg_policy *p, int stage) {
    return sg_policy_protocol_enabled(p, stage, "content_filter");
}

int sg_guard_watermark_on(const sg_policy *p, int stage) {
    return sg_policy_protocol_enabled(p, stage, "watermark");
}

/* Whether the stage enables the action of a category. */
static int action_on(const sg_policy *p, int stage, sg_filter_action a) {
    if (a == SG_FILTER_HARDCODED) return sg_policy_protocol_enabled(p, stage, "hardcoded_responses");
    return sg_policy_protocol_enabled(p, stage, "content_filter");
}

sg_error *sg_guard_check_input(const sg_guard *g, const sg_policy *p, int stage, const char *text, size_t len,
                               sg_guard_input *out) {
    memset(out, 0, sizeof *out);
    out->verdict = SG_VERDICT_PASS;
    if (!action_on(p, stage, SG_FILTER_BLOCK) && !action_on(p, stage, SG_FILTER_HARDCODED)) return NULL;
    sg_filter_matches all = {0};
    sg_error *err = sg_filter_scan(g->filter, text, len, SG_FILTER_INPUT, &all);
    if (err) return sg_error_wrap(err, "filtering the prompt");
    /* keep the matches whose action this stage enables */
    sg_filter_matches on = {0};
    on.items = calloc(all.n ? all.n : 1, sizeof *on.items);
    if (!on.items) {
        sg_filter_matches_free(&all);
        return sg_error_new("out of memory");
    }
    int deciding = -1;
    for (size_t i = 0; i < all.n; i++) {
        const sg_filter_match *m = &all.items[i];
        if (!action_on(p, stage, m->action)) continue;
        on.items[on.n++] = *m;
        sg_filter_verdict v = sg_filter_verdict_of(m->action);
        if (v > out->verdict) out->verdict = v, deciding = m->category;
        if (m->action == SG_FILTER_FLAG) {
            const char *name = sg_filter_category_name(g->filter, m->category);
            if (!strstr(out->flagged, name)) {
                size_t l = strlen(out->flagged);
                snprintf(out->flagged + l, sizeof out->flagged - l, "%s%s", l ? "," : "", name);
            }
        }
    }
    on.cap = on.n;
    if (deciding >= 0)
        snprintf(out->category, sizeof out->category, "%s", sg_filter_category_name(g->filter, deciding));
    if (out->verdict == SG_VERDICT_HARDCODED) {
        /* the category's predetermined answer (the policy outlives the request) */
        for (int c = 0; c < p->filter.n_categories && !out->response; c++)
            if (!strcmp(p->filter.categories[c].name, out->category))
                out->response = p->filter.categories[c].response;
        if (!out->response) out->response = "";
    } else if (!err && out->verdict == SG_VERDICT_REDACT) {
        out->text = sg_filter_redact(text, len, &on, &out->text_len);
        if (!out->text) err = sg_error_new("out of memory");
    }
    free(on.items);
    sg_filter_matches_free(&all);
    return err;
}

void sg_guard_input_clear(sg_guard_input *in) {
    free(in->text);
    in->text = NULL;
}

sg_error *sg_guard_filter_output(const sg_guard *g, const char *text, size_t len, char **out, size_t *out_len,
                                 int *blocked, char category[128]) {
    *out = NULL;
    *out_len = 0;
    *blocked = 0;
    category[0] = 0;
    sg_filter_stream *fs;
    sg_error *err = sg_filter_stream_new(g->filter, &fs);
    if (err) return err;
    char *buf = malloc(len + 1);
    size_t n = 0;
    if (!buf) err = sg_error_new("out of memory");
    sg_filter_chunk ch;
    for (int step = 0; step < 2 && !err; step++) {
        err = step ? sg_filter_stream_finish(fs, &ch) : sg_filter_stream_push(fs, text, len, &ch);
        if (err) break;
        char *nb = realloc(buf, n + ch.len + 1);
        if (!nb) {
            err = sg_error_new("out of memory");
            break;
        }
        buf = nb;
        memcpy(buf + n, ch.text, ch.len);
        n += ch.len;
        if (ch.blocked) {
            *blocked = 1;
            snprintf(category, 128, "%s", sg_filter_category_name(g->filter, ch.category));
            break;
        }
    }
    sg_filter_stream_free(fs);
    if (err) {
        free(buf);
        return err;
    }
    buf[n] = 0;
    *out = buf;
    *out_len = n;
    return NULL;
}

/* ---- routes -------------------------------------------------------------------- */

static void audit(const sg_guard_ctx *ctx, const char *model, sg_audit_sink_decision decision,
                  const char *reason, int64_t *seq) {
    sg_audit_event e = {0};
    e.key_id = ctx->who->key_id;
    e.audience = ctx->who->audience;
    e.model = model;
    e.stage = ctx->stage_name;
    e.decision = decision;
    e.reason = reason;
    e.text_mode = SG_AUDIT_TEXT_NONE;
    e.seq = seq;
    sg_audit_sink_write(ctx->store, &e);
}

/* A 400 or 404 of these routes, naming `param`; not an access decision, so not audited. */
static sg_api_error *refuse(int status, const char *param, const char *code, const char *fmt, ...)
    SG_PRINTF(4, 5);
static sg_api_error *refuse(int status, const char *param, const char *code, const char *fmt, ...) {
    char msg[SG_API_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sg_api_error_new(status, SG_API_INVALID_REQUEST, param, code, SG_AUDIT_NONE, "%s", msg);
}

/* NULL when `protocol` is on at the current stage, else a 403 (audited here). */
static sg_api_error *protocol_off(const sg_guard_ctx *ctx, const char *protocol, const char *what) {
    if (sg_policy_protocol_enabled(ctx->policy, ctx->stage, protocol)) return NULL;
    char why[300];
    snprintf(why, sizeof why, "%s is not available at stage '%s' (safety protocol '%s' is off)", what,
             ctx->stage_name, protocol);
    audit(ctx, NULL, SG_AUDIT_FORBIDDEN, why, NULL);
    return sg_api_error_new(403, SG_API_PERMISSION_DENIED, NULL, "protocol_disabled", SG_AUDIT_NONE, "%s",
                            why);
}

/* The body as a JSON object into *out; with `allowed` (NULL-terminated), a
 * key not in it is refused, naming it. */
static sg_api_error *parse_body(const sg_http_request *req, const char *const *allowed, json_t **out) {
    json_error_t jerr;
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body)
        return refuse(400, NULL, "invalid_json",
                      "we could not parse the JSON body of your request: %s at line %d, column %d", jerr.text,
                      jerr.line, jerr.column);
    if (!json_is_object(body)) {
        json_decref(body);
        return refuse(400, NULL, "invalid_json", "the request body must be a JSON object");
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        int known = !allowed;
        for (int i = 0; allowed && allowed[i] && !known; i++) known = !strcmp(key, allowed[i]);
        if (!known) {
            sg_api_error *refused = refuse(400, key, NULL, "unknown parameter '%s'", key);
            json_decref(body);
            return refused;
        }
    }
    *out = body;
    return NULL;
}

sg_api_error *sg_guard_moderations(const sg_guard_ctx *ctx, sg_http_request *req) {
    json_t *body = NULL;
    sg_api_error *refused = protocol_off(ctx, "moderation_api", "the moderation endpoint");
    if (refused || (refused = parse_body(req, NULL, &body))) return refused;
    json_t *out = NULL;
    sg_error *err = sg_moderate_request(ctx->guard->filter, body, "stagegate-filter", &out);
    json_decref(body);
    if (err) {
        refused = refuse(400, NULL, NULL, "%s", sg_error_message(err));
        sg_error_free(err);
        return refused;
    }
    int flagged = 0;
    json_t *results = json_object_get(out, "results"), *r;
    size_t i;
    json_array_foreach(results, i, r) flagged += json_is_true(json_object_get(r, "flagged"));
    char why[64];
    snprintf(why, sizeof why, "moderation: %zu input(s), %d flagged", json_array_size(results), flagged);
    audit(ctx, NULL, SG_AUDIT_MODERATION, why, NULL);
    sg_http_respond_json(req, 200, out);
    return NULL;
}

sg_api_error *sg_guard_detect(const sg_guard_ctx *ctx, sg_http_request *req) {
    json_t *body = NULL;
    static const char *const keys[] = {"text", "model", NULL};
    sg_api_error *refused = protocol_off(ctx, "detection", "the detection endpoint");
    if (refused || (refused = parse_body(req, keys, &body))) return refused;
    json_t *jt = json_object_get(body, "text"), *jm = json_object_get(body, "model");
    if (!json_is_string(jt) || json_string_length(jt) == 0 || (jm && !json_is_string(jm))) {
        refused =
            refuse(400, json_is_string(jt) ? "model" : "text", NULL, "%s",
                   json_is_string(jt) && json_string_length(jt) ? "'model' must be a string"
                                                                : "'text' is required: a non-empty string");
        json_decref(body);
        return refused;
    }
    /* the model that scores: the one asked for, or the first this key may use now */
    const sg_policy_model *pm = NULL;
    if (jm) {
        pm = sg_policy_find_model(ctx->policy, json_string_value(jm));
        if (pm && sg_policy_decide(ctx->policy, ctx->stage, ctx->who->audience, pm->name, NULL, 0) !=
                      SG_POLICY_ALLOW)
            pm = NULL;
    } else {
        for (int i = 0; i < ctx->policy->n_models && !pm; i++)
            if (sg_policy_decide(ctx->policy, ctx->stage, ctx->who->audience, ctx->policy->models[i].name,
                                 NULL, 0) == SG_POLICY_ALLOW)
                pm = &ctx->policy->models[i];
    }
    if (!pm) {
        refused = refuse(404, "model", "model_not_found",
                         jm ? "the model '%s' does not exist or you do not have access to it"
                            : "no model is available to this key at stage '%s'",
                         jm ? json_string_value(jm) : ctx->stage_name);
        json_decref(body);
        return refused;
    }
    sg_model_entry *m = NULL;
    int *ids = NULL, n = 0;
    sg_zeroshot zs = {0};
    sg_watermark_score ws = {0};
    sg_error *err = sg_models_get(ctx->models, pm->name, pm->path, &m);
    if (!err)
        err = sg_tokenizer_encode(m->tokenizer, json_string_value(jt), json_string_length(jt), 0, &ids, &n);
    if (!err && n < 2) err = sg_error_new("'text' is too short: it must be at least 2 tokens");
    if (!err) err = sg_watermark_detect(ctx->wm, ids, n, SG_GUARD_WM_Z, &ws);
    if (!err) err = sg_zeroshot_score(sg_checkpoint_weights(m->checkpoint), ids, n, 0, &zs);
    if (err) {
        refused = refuse(400, "text", NULL, "%s", sg_error_message(err));
        sg_error_free(err);
        free(ids);
        json_decref(body);
        return refused;
    }
    json_t *o = json_object(), *w = json_object(), *z = json_object();
    json_object_set_new(w, "z", json_real(ws.z));
    json_object_set_new(w, "p_value", json_real(ws.p_value));
    json_object_set_new(w, "green", json_integer(ws.green));
    json_object_set_new(w, "tokens_scored", json_integer(ws.tokens_scored));
    json_object_set_new(w, "gamma", json_real(SG_GUARD_WM_GAMMA));
    json_object_set_new(w, "threshold", json_real(SG_GUARD_WM_Z));
    json_object_set_new(w, "detected", json_boolean(ws.watermarked));
    json_object_set_new(z, "score", json_real(zs.score));
    json_object_set_new(z, "log_rank", json_real(zs.log_rank));
    json_object_set_new(z, "log_likelihood", json_real(zs.log_likelihood));
    json_object_set_new(z, "tokens_scored", json_integer(zs.n_scored));
    json_object_set_new(z, "threshold", json_real(SG_GUARD_ZS));
    json_object_set_new(z, "detected", json_boolean(zs.score >= SG_GUARD_ZS));
    json_object_set_new(o, "object", json_string("detection"));
    json_object_set_new(o, "model", json_string(pm->name));
    json_object_set_new(o, "tokens", json_integer(n));
    json_object_set_new(o, "watermark", w);
    json_object_set_new(o, "zero_shot", z);
    json_object_set_new(o, "tokens_scored", json_integer(ws.tokens_scored));
    const char *verdict = ws.watermarked            ? "watermarked"
                          : zs.score >= SG_GUARD_ZS ? "likely_generated"
                                                    : "not_detected";
    json_object_set_new(o, "verdict", json_string(verdict));
    char why[128];
    snprintf(why, sizeof why, "detect: %d tokens, z=%.2f, %s", n, ws.z, verdict);
    audit(ctx, pm->name, SG_AUDIT_DETECTION, why, NULL);
    free(zs.ranks);
    free(ids);
    json_decref(body);
    sg_http_respond_json(req, 200, o);
    return NULL;
}

sg_api_error *sg_guard_flag(const sg_guard_ctx *ctx, sg_http_request *req) {
    json_t *body = NULL;
    static const char *const keys[] = {"completion_id", "category", "comment", NULL};
    sg_api_error *refused = protocol_off(ctx, "user_feedback_loop", "community flagging");
    if (refused || (refused = parse_body(req, keys, &body))) return refused;
    json_t *jid = json_object_get(body, "completion_id"), *jc = json_object_get(body, "category"),
           *jn = json_object_get(body, "comment");
    const char *bad =
        !json_is_string(jid) || json_string_length(jid) == 0 || json_string_length(jid) >= 64
            ? "completion_id"
        : !json_is_string(jc) || json_string_length(jc) == 0 || json_string_length(jc) >= SG_KEY_NAME_MAX
            ? "category"
        : jn && (!json_is_string(jn) || json_string_length(jn) >= 1024) ? "comment"
                                                                        : NULL;
    if (bad) {
        json_decref(body);
        if (!strcmp(bad, "comment"))
            return refuse(400, bad, NULL, "'comment' must be a string of under 1024 bytes");
        return refuse(400, bad, NULL, "'%s' is required: a non-empty string of under %d bytes", bad,
                      !strcmp(bad, "category") ? SG_KEY_NAME_MAX : 64);
    }
    sg_flag_record f = {0};
    snprintf(f.completion_id, sizeof f.completion_id, "%s", json_string_value(jid));
    snprintf(f.category, sizeof f.category, "%s", json_string_value(jc));
    snprintf(f.comment, sizeof f.comment, "%s", jn ? json_string_value(jn) : "");
    json_decref(body);
    int64_t owner = 0;
    bool found = false;
    sg_error *err = sg_store_completion_get(ctx->store, f.completion_id, &owner, &f.audit_seq, &found);
    if (err) {
        sg_log(SG_LOG_ERROR, "flags: %s", sg_error_message(err));
        sg_error_free(err);
        return sg_api_error_new(500, SG_API_SERVER_ERROR, NULL, NULL, SG_AUDIT_NONE,
                                "the store is unavailable");
    }
    /* only the key that received a completion may flag it; others learn nothing about it */
    if (!found || owner != ctx->who->key_id) {
        return refuse(404, "completion_id", "completion_not_found",
                      "no completion '%s' was served to this key", f.completion_id);
    }
    f.key_id = owner;
    f.created_ms = sg_now_ms();
    int64_t id = 0;
    err = sg_store_flag_add(ctx->store, &f, &id);
    if (err) {
        sg_log(SG_LOG_ERROR, "flags: %s", sg_error_message(err));
        sg_error_free(err);
        return sg_api_error_new(500, SG_API_SERVER_ERROR, NULL, NULL, SG_AUDIT_NONE,
                                "the flag could not be stored");
    }
    char why[300];
    snprintf(why, sizeof why, "flag #%lld on %s (audit #%lld): %s", (long long)id, f.completion_id,
             (long long)f.audit_seq, f.category);
    audit(ctx, NULL, SG_AUDIT_FLAGGED, why, NULL);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(id));
    json_object_set_new(o, "object", json_string("flag"));
    json_object_set_new(o, "completion_id", json_string(f.completion_id));
    json_object_set_new(o, "category", json_string(f.category));
    json_object_set_new(o, "status", json_string("open"));
    json_object_set_new(o, "audit_seq", json_integer(f.audit_seq));
    sg_http_respond_json(req, 201, o);
    return NULL;
}

void sg_guard_completion_served(sg_store *store, const char *id, int64_t key_id, int64_t audit_seq) {
    sg_error *err = sg_store_completion_add(store, id, key_id, audit_seq, sg_now_ms());
    if (err) {
        sg_log(SG_LOG_ERROR, "recording completion %s: %s", id, sg_error_message(err));
        sg_error_free(err);
    }
}

sg_error *sg_guard_resolve_flag(sg_store *store, sg_keys *keys, const sg_policy *policy, int64_t id,
                                int uphold, int64_t *suspended_key) {
    if (suspended_key) *suspended_key = 0;
    sg_flag_record f;
    bool found = false, changed = false;
    sg_error *err = sg_store_flag_get(store, id, &f, &found);
    if (err) return err;
    if (!found) return sg_error_new("there is no flag #%lld", (long long)id);
    if (strcmp(f.status, "open")) return sg_error_new("flag #%lld is already %s", (long long)id, f.status);
    err = sg_store_flag_resolve(store, id, uphold ? "upheld" : "dismissed", sg_now_ms(), &changed);
    if (err) return err;
    if (!changed) return sg_error_new("flag #%lld was resolved meanwhile", (long long)id);
    char why[300];
    snprintf(why, sizeof why, "flag #%lld on %s (audit #%lld, %s) %s", (long long)id, f.completion_id,
             (long long)f.audit_seq, f.category, uphold ? "upheld" : "dismissed");
    sg_audit_event e = {0};
    e.key_id = f.key_id;
    e.decision = uphold ? SG_AUDIT_FLAG_UPHELD : SG_AUDIT_FLAG_DISMISSED;
    e.reason = why;
    e.text_mode = SG_AUDIT_TEXT_NONE;
    if (sg_audit_sink_write(store, &e)) return sg_error_new("the audit record could not be written");
    /* a web demo session (negative key id, server/demo.h) has no key to revoke */
    if (!uphold || !policy || policy->suspend_after_flags <= 0 || f.key_id <= 0) return NULL;
    sg_flag_counts counts;
    if ((err = sg_store_flag_counts(store, f.key_id, &counts))) return err;
    if (counts.upheld < policy->suspend_after_flags) return NULL;
    char ref[32];
    snprintf(ref, sizeof ref, "%lld", (long long)f.key_id);
    int64_t kid = 0;
    bool already = false;
    if ((err = sg_keys_revoke(keys, ref, sg_now_ms(), &kid, &already)))
        return sg_error_wrap(err, "suspending the key");
    if (already) return NULL;
    snprintf(why, sizeof why,
             "key %lld suspended: %lld upheld flags reached flags.suspend_after = %d (last: flag #%lld)",
             (long long)f.key_id, (long long)counts.upheld, policy->suspend_after_flags, (long long)id);
    e.decision = SG_AUDIT_SUSPENDED;
    e.reason = why;
    if (sg_audit_sink_write(store, &e)) return sg_error_new("the audit record could not be written");
    sg_warn("%s", why);
    if (suspended_key) *suspended_key = f.key_id;
    return NULL;
}
