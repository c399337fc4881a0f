/* completion.c — POST /v1/completions as a pipeline, one function per step
 * (see completion.h). The router has authenticated the caller (the route
 * needs a key); then:
 *
 *   parse     the body: UTF-8, JSON, the parameters (400 naming one)
 *   decide    incident (403), the policy at the current stage (403/404), the model (503)
 *   guard     the input safety controls per prompt: block (400), hard-coded
 *             response (answered here, the model does not run), redact, flag
 *   tokenize  prompts into token ids; context length and batch capacity (400)
 *   reserve   prompt + max_tokens from the key's buckets (429, retry-after)
 *   submit    the job (prompts x n sequences) to the model's scheduler (503 when full)
 *   respond   JSON once the job ends, or SSE as it runs (stream.c); refund
 *             and audit (completion_run.c)
 *
 * Each step returns NULL or an sg_api_error; the route answers and audits
 * the first error. Steps add the headers their answer needs (x-ratelimit-*,
 * retry-after) to the request themselves. */
#include "server/completion.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/audit.h"
#include "base/log.h"
#include "base/utf8.h"
#include "release/policy.h"
#include "server/guard.h"
#include "server/openai.h"
#include "server/stream.h"

/* A refusal of this route: its message is also the audit reason, which is
 * at most REASON_MAX bytes (with the NUL), as it has always been. */
#define REASON_MAX 512

static sg_api_error *refusev(int status, const char *type, const char *param, const char *code,
                             sg_audit_sink_decision decision, const char *fmt, va_list ap) {
    char msg[REASON_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return sg_api_error_new(status, type, param, code, decision, "%s", msg);
}

static sg_api_error *refuse(int status, const char *type, const char *param, const char *code,
                            sg_audit_sink_decision decision, const char *fmt, ...) SG_PRINTF(6, 7);
static sg_api_error *refuse(int status, const char *type, const char *param, const char *code,
                            sg_audit_sink_decision decision, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sg_api_error *e = refusev(status, type, param, code, decision, fmt, ap);
    va_end(ap);
    return e;
}

/* A 400 on the request itself, audited as "invalid". */
static sg_api_error *invalid(const char *param, const char *code, const char *fmt, ...) SG_PRINTF(3, 4);
static sg_api_error *invalid(const char *param, const char *code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sg_api_error *e = refusev(400, SG_API_INVALID_REQUEST, param, code, SG_AUDIT_INVALID, fmt, ap);
    va_end(ap);
    return e;
}

static sg_api_error *out_of_memory(void) {
    return refuse(500, SG_API_SERVER_ERROR, NULL, NULL, SG_AUDIT_ERROR, "out of memory");
}

/* ---- parse ------------------------------------------------------------------------ */

static sg_api_error *parse(sg_completion *c, const sg_http_request *req) {
    size_t bad;
    if (!sg_utf8_valid(req->body, req->body_len, &bad))
        return invalid(NULL, "invalid_utf8", "the request body is not valid UTF-8 (byte %zu)", bad);
    json_error_t jerr;
    c->body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!c->body)
        return invalid(NULL, "invalid_json",
                       "we could not parse the JSON body of your request: %s at line %d, column %d",
                       jerr.text, jerr.line, jerr.column);
    sg_api_error *err = sg_completion_request_parse(c->body, &c->req);
    if (err) return err;
    if (c->req.echo && c->req.logprobs >= 0)
        return invalid("echo", NULL, "'echo' together with 'logprobs' is not supported");
    return NULL;
}

/* ---- decide ------------------------------------------------------------------------ */

static sg_api_error *decide(sg_completion *c) {
    const sg_policy *p = c->pref->policy;
    /* an open incident suspending this audience or model: 403 naming the
     * incident, never its internal reason */
    int64_t incident = sg_release_suspended(&c->pref->release, c->who.audience, c->req.model);
    if (incident)
        return refuse(403, SG_API_PERMISSION_DENIED, NULL, "suspended_by_incident", SG_AUDIT_FORBIDDEN,
                      "access is suspended by incident #%lld", (long long)incident);
    char why[400];
    sg_policy_verdict v = sg_policy_decide(p, c->pref->stage, c->who.audience, c->req.model, why, sizeof why);
    if (v == SG_POLICY_DENY_UNKNOWN_MODEL)
        return refuse(404, SG_API_INVALID_REQUEST, "model", "model_not_found", SG_AUDIT_NOT_FOUND,
                      "the model '%s' does not exist or you do not have access to it", c->req.model);
    if (v != SG_POLICY_ALLOW)
        return refuse(403, SG_API_PERMISSION_DENIED, "model", "model_not_released", SG_AUDIT_FORBIDDEN, "%s",
                      why);
    const sg_policy_model *pm = sg_policy_find_model(p, c->req.model);
    sg_error *err = sg_models_get(c->srv->models, pm->name, pm->path, &c->model);
    if (err) {
        sg_log(SG_LOG_ERROR, "%s", sg_error_message(err));
        sg_error_free(err);
        return refuse(503, SG_API_SERVER_ERROR, "model", "model_unavailable", SG_AUDIT_ERROR,
                      "the model '%s' could not be loaded", c->req.model);
    }
    return NULL;
}

/* ---- guard ------------------------------------------------------------------------- */

/* Appends "; "-separated text to the audit reason. */
static void add_reason(sg_completion *c, const char *fmt, ...) SG_PRINTF(2, 3);
static void add_reason(sg_completion *c, const char *fmt, ...) {
    char part[sizeof c->reason];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(part, sizeof part, fmt, ap);
    va_end(ap);
    size_t l = strlen(c->reason);
    snprintf(c->reason + l, sizeof c->reason - l, "%s%s", l ? "; " : "", part);
}

/* The input controls on prompt i (server/guard.h). */
static sg_api_error *guard_prompt(sg_completion *c, int i) {
    const sg_policy *p = c->pref->policy;
    sg_prompt *pr = &c->req.prompts[i];
    char *decoded = NULL;
    size_t tlen = pr->text_len;
    sg_error *err = NULL;
    if (!pr->text && (err = sg_tokenizer_decode(c->model->tokenizer, pr->ids, pr->n_ids, &decoded, &tlen))) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", sg_error_message(err));
        sg_error_free(err);
        return invalid("prompt", NULL, "prompt %d: %s", i, msg);
    }
    sg_guard_input gi;
    err = sg_guard_check_input(c->pref->guard, p, c->pref->stage, pr->text ? pr->text : decoded, tlen, &gi);
    free(decoded);
    if (err) {
        sg_log(SG_LOG_ERROR, "%s", sg_error_message(err));
        sg_error_free(err);
        return refuse(500, SG_API_SERVER_ERROR, NULL, NULL, SG_AUDIT_ERROR, "the content filter failed");
    }
    if (gi.flagged[0]) add_reason(c, "prompt %d flagged: %s", i, gi.flagged);
    sg_api_error *refused = NULL;
    if (gi.verdict == SG_VERDICT_BLOCK) {
        refused = refuse(400, SG_API_INVALID_REQUEST, "prompt", "content_filter", SG_AUDIT_FILTERED,
                         "the prompt was refused by the content filter (category '%s')", gi.category);
    } else if (gi.verdict == SG_VERDICT_HARDCODED) {
        c->hardcoded = gi.response; /* owned by the policy, which outlives the request */
        snprintf(c->hardcoded_category, sizeof c->hardcoded_category, "%s", gi.category);
    } else if (gi.verdict == SG_VERDICT_REDACT) {
        c->redacted[i] = gi.text;
        gi.text = NULL;
        free(pr->ids);
        pr->ids = NULL;
        pr->n_ids = 0;
        pr->text = c->redacted[i];
        pr->text_len = gi.text_len;
        add_reason(c, "prompt %d redacted (category '%s')", i, gi.category);
    }
    sg_guard_input_clear(&gi);
    return refused;
}

/* Every prompt, as the stage enables the controls; prompts given as token
 * ids are decoded and checked the same way. Stops at a hard-coded response. */
static sg_api_error *guard(sg_completion *c) {
    for (int i = 0; i < c->req.n_prompts && !c->hardcoded; i++) {
        sg_api_error *err = guard_prompt(c, i);
        if (err) return err;
    }
    c->output_filter = sg_guard_output_on(c->pref->policy, c->pref->stage) &&
                       sg_filter_n_categories(sg_guard_filter(c->pref->guard)) > 0;
    return NULL;
}

/* ---- tokenize ---------------------------------------------------------------------- */

static sg_api_error *tokenize_prompt(sg_completion *c, int i) {
    const sg_model_entry *m = c->model;
    sg_prompt *pr = &c->req.prompts[i];
    if (pr->text && pr->text_len == 0) { /* an empty prompt is the end-of-text token */
        if (m->eot < 0) return invalid("prompt", NULL, "the prompt is empty");
        if (!(c->prompt_ids[i] = malloc(sizeof(int)))) return out_of_memory();
        c->prompt_ids[i][0] = m->eot;
        c->prompt_n[i] = 1;
    } else if (pr->text) {
        sg_error *err =
            sg_tokenizer_encode(m->tokenizer, pr->text, pr->text_len, 0, &c->prompt_ids[i], &c->prompt_n[i]);
        if (err) {
            char msg[300];
            snprintf(msg, sizeof msg, "%s", sg_error_message(err));
            sg_error_free(err);
            return invalid("prompt", NULL, "cannot tokenize the prompt: %s", msg);
        }
    } else {
        for (int k = 0; k < pr->n_ids; k++)
            if (pr->ids[k] >= m->vocab_size)
                return invalid("prompt", NULL,
                               "token %d of prompt %d is %d, outside the vocabulary of %d tokens", k, i,
                               pr->ids[k], m->vocab_size);
        if (!(c->prompt_ids[i] = malloc((size_t)pr->n_ids * sizeof(int)))) return out_of_memory();
        memcpy(c->prompt_ids[i], pr->ids, (size_t)pr->n_ids * sizeof(int));
        c->prompt_n[i] = pr->n_ids;
    }
    if (c->prompt_n[i] + c->req.max_tokens > m->n_ctx)
        return invalid(
            "max_tokens", "context_length_exceeded",
            "this model's maximum context length is %d tokens, however you requested %d tokens (%d in "
            "the prompt, %d for the completion)",
            m->n_ctx, c->prompt_n[i] + c->req.max_tokens, c->prompt_n[i], c->req.max_tokens);
    return NULL;
}

static sg_api_error *tokenize(sg_completion *c) {
    int np = c->req.n_prompts;
    c->prompt_ids = calloc((size_t)np, sizeof *c->prompt_ids);
    c->prompt_n = calloc((size_t)np, sizeof *c->prompt_n);
    if (!c->prompt_ids || !c->prompt_n) return out_of_memory();
    for (int i = 0; i < np; i++) {
        sg_api_error *err = tokenize_prompt(c, i);
        if (err) return err;
    }
    c->n_choices = np * c->req.n;
    int capacity = sg_sched_capacity(c->model->sched);
    if (c->n_choices > capacity)
        return invalid("n", NULL,
                       "this request asks for %d completions but the server runs at most %d at once",
                       c->n_choices, capacity);
    for (int i = 0; i < np; i++) c->prompt_tokens += (long)c->prompt_n[i] * c->req.n;
    c->reserved = c->prompt_tokens + (long)c->req.max_tokens * c->n_choices;
    return NULL;
}

/* ---- reserve ----------------------------------------------------------------------- */

/* Takes `tokens` (and one request) from the key's buckets; the headers go on
 * the answer either way. *st gets the buckets' state. */
static sg_rl_decision take(sg_completion *c, sg_http_request *req, long tokens, int64_t *tpm,
                           sg_ratelimit_status *st) {
    int64_t rpm;
    sg_api_limits(c->pref, &c->who, &rpm, tpm);
    sg_rl_decision d = sg_ratelimit_reserve(c->srv->ratelimit, c->who.key_id, rpm, *tpm, tokens, st);
    sg_api_ratelimit_headers(req, st);
    if (d != SG_RL_ADMITTED) sg_metrics_rate_limited(c->srv->metrics, c->who.audience);
    return d;
}

/* A caller without a key (the web demo, api.h): its own budget instead of
 * the key's buckets; a refusal says which budget, with retry-after. */
static sg_api_error *take_caller(sg_completion *c, sg_http_request *req, long tokens) {
    double retry = 0;
    char why[200] = "";
    int r = c->caller.reserve(c->caller.ctx, c->caller.keys, tokens, &retry, why, sizeof why);
    if (r == 0) return NULL;
    sg_metrics_rate_limited(c->srv->metrics, c->who.audience);
    if (r == 1) sg_http_add_header(req, "retry-after", "%lld", (long long)sg_retry_after_seconds(retry));
    return refuse(429, "tokens", NULL, "rate_limit_exceeded", SG_AUDIT_RATE_LIMITED, "%s", why);
}

static sg_api_error *reserve(sg_completion *c, sg_http_request *req) {
    if (c->has_caller) {
        sg_api_error *e = take_caller(c, req, c->reserved);
        if (e) c->reserved = 0;
        return e;
    }
    int64_t tpm;
    sg_ratelimit_status st;
    sg_rl_decision d = take(c, req, c->reserved, &tpm, &st);
    if (d == SG_RL_ADMITTED) return NULL;
    long needed = c->prompt_tokens + (long)c->req.max_tokens * c->n_choices;
    c->reserved = 0;
    if (d == SG_RL_TOO_LARGE)
        return refuse(429, "tokens", NULL, "rate_limit_exceeded", SG_AUDIT_RATE_LIMITED,
                      "request too large for %s: it needs %ld tokens (prompt + max_tokens) but the limit "
                      "is %lld tokens per minute",
                      c->req.model, needed, (long long)tpm);
    int64_t ra = sg_retry_after_seconds(st.retry_after_s);
    sg_http_add_header(req, "retry-after", "%lld", (long long)ra);
    int on_requests = st.limit_requests && st.remaining_requests < 1;
    return refuse(429, on_requests ? "requests" : "tokens", NULL, "rate_limit_exceeded",
                  SG_AUDIT_RATE_LIMITED,
                  "rate limit reached for key %lld on %s: limit %lld, remaining %lld, requested %ld; please "
                  "try again in "
                  "%llds",
                  (long long)c->who.key_id, on_requests ? "requests per min (RPM)" : "tokens per min (TPM)",
                  (long long)(on_requests ? st.limit_requests : st.limit_tokens),
                  (long long)(on_requests ? st.remaining_requests : st.remaining_tokens),
                  on_requests ? 1L : needed, (long long)ra);
}

/* ---- submit ------------------------------------------------------------------------ */

/* The job: prompts x n sequences, with the stage's watermark and output filter. */
static sg_error *build_job(sg_completion *c) {
    const sg_model_entry *m = c->model;
    c->job = sg_job_new(c->n_choices, c->srv->request_timeout_s);
    c->choices = calloc((size_t)c->n_choices, sizeof *c->choices);
    if (!c->job || !c->choices) return sg_error_new("out of memory");
    for (int i = 0; i < c->n_choices; i++) {
        sg_buf_init(&c->choices[i].text, 0);
        sg_buf_init(&c->choices[i].shown, 0);
    }
    uint64_t seed =
        c->req.has_seed ? c->req.seed : randombytes_random() | ((uint64_t)randombytes_random() << 32);
    for (int i = 0; i < c->n_choices; i++) {
        sg_generation_params gp = {0};
        gp.max_tokens = c->req.max_tokens;
        gp.sampling.temperature = (float)c->req.temperature;
        gp.sampling.top_k = 0;
        gp.sampling.top_p = (float)c->req.top_p;
        gp.sampling.seed = seed + (uint64_t)(i % c->req.n);
        gp.eot_token = m->eot;
        gp.logprobs = c->req.logprobs > 0 ? c->req.logprobs : 0;
        sg_error *err =
            sg_job_set_seq(c->job, i, c->prompt_ids[i / c->req.n], c->prompt_n[i / c->req.n], &gp);
        if (err) {
            sg_error_free(err);
            break;
        }
    }
    int wm_on = sg_guard_watermark_on(c->pref->policy, c->pref->stage);
    for (int i = 0; i < c->n_choices; i++) {
        if (wm_on) sg_job_set_processor(c->job, i, sg_watermark_processor(c->srv->wm));
        sg_error *err;
        if (c->output_filter &&
            (err = sg_filter_stream_new(sg_guard_filter(c->pref->guard), &c->choices[i].fs)))
            return sg_error_wrap(err, "output filter");
    }
    return NULL;
}

static sg_api_error *submit(sg_completion *c, sg_http_request *req) {
    sg_error *err = build_job(c);
    if (err) {
        sg_log(SG_LOG_ERROR, "%s", sg_error_message(err));
        sg_error_free(err);
        sg_completion_refund(c, c->reserved);
        return out_of_memory();
    }
    sg_completion_new_id(c);
    c->t_submit = sg_monotonic_s();
    sg_submit_result sr = sg_sched_submit(c->model->sched, c->job);
    if (sr == SG_SUBMIT_OK) return NULL;
    sg_completion_refund(c, c->reserved);
    sg_http_add_header(req, "retry-after", "1");
    return refuse(503, SG_API_SERVER_ERROR, NULL, "overloaded", SG_AUDIT_OVERLOADED,
                  sr == SG_SUBMIT_QUEUE_FULL
                      ? "the server is overloaded: the queue for '%s' is full, retry shortly"
                      : "the server is shutting down (model '%s')",
                  c->req.model);
}

/* ---- respond ----------------------------------------------------------------------- */

/* Non-streaming: waits for the job, passes the texts through the output
 * filter, finalizes and answers. A client that left (499) or the deadline
 * (504) is finalized as such; the error returned then is audited already. */
static sg_api_error *respond_json(sg_completion *c, sg_http_request *req) {
    sg_completion_wait_result w = sg_completion_wait(c);
    double t_generated = sg_monotonic_s();
    if (w == SG_COMPLETION_GONE) { /* the client left: cancel, refund, record */
        sg_completion_finalize(c, SG_AUDIT_CANCELLED, 499);
        return refuse(499, SG_API_INVALID_REQUEST, NULL, NULL, SG_AUDIT_NONE, "client closed the request");
    }
    if (w == SG_COMPLETION_TIMED_OUT) {
        sg_completion_finalize(c, SG_AUDIT_TIMEOUT, 504);
        return refuse(504, "timeout", NULL, "timeout", SG_AUDIT_NONE,
                      "the completion did not finish within %g s", c->srv->request_timeout_s);
    }
    if (c->output_filter) { /* the same stream filter over the whole text */
        for (int i = 0; i < c->n_choices; i++) {
            sg_completion_choice *ch = &c->choices[i];
            sg_buf piece;
            sg_buf_init(&piece, 0);
            char ignore = 0;
            sg_completion_filter(c, ch, ch->text.len, 1, &piece, &ignore);
            sg_buf_free(&ch->text);
            ch->text = piece;
        }
    }
    sg_completion_finalize(c, SG_AUDIT_ALLOWED, 200);
    json_t *o = sg_completion_envelope(c);
    json_object_set_new(o, "choices", sg_completion_choices(c));
    json_object_set_new(o, "usage", sg_completion_usage(c));
    /* The gateway's own share (auth, policy, rate limit, tokenizing, audit,
     * JSON) apart from waiting for the batch: what bench_server.sh reports. */
    double gen = t_generated - c->t_submit, total = sg_monotonic_s() - c->t0;
    sg_http_add_header(req, "server-timing", "gateway;dur=%.3f, generate;dur=%.3f", (total - gen) * 1e3,
                       gen * 1e3);
    sg_http_respond_json(req, 200, o);
    return NULL;
}

/* ---- a hard-coded response ----------------------------------------------------------- */

static int count_tokens(const sg_tokenizer *tok, const char *text, size_t len) {
    int *ids = NULL, n = 0;
    sg_error *err = sg_tokenizer_encode(tok, text, len, 0, &ids, &n);
    if (err) sg_error_free(err), n = 0;
    free(ids);
    return n;
}

/* hardcoded_responses on and a category with that action matched a prompt:
 * every choice is the category's predetermined text and the model does not
 * run; it costs what it would as a completion (the same buckets), is
 * answered like one (JSON or SSE) and audited as "hardcoded". */
static sg_api_error *respond_hardcoded(sg_completion *c, sg_http_request *req) {
    const sg_model_entry *m = c->model;
    const char *response = c->hardcoded;
    size_t rlen = strlen(response);
    sg_completion_new_id(c);
    long prompt_tokens = 0;
    for (int i = 0; i < c->req.n_prompts; i++) {
        const sg_prompt *pr = &c->req.prompts[i];
        prompt_tokens += pr->text ? count_tokens(m->tokenizer, pr->text, pr->text_len) : pr->n_ids;
    }
    int n_choices = c->req.n_prompts * c->req.n;
    long out_tokens = (long)count_tokens(m->tokenizer, response, rlen) * n_choices;
    if (c->has_caller) {
        sg_api_error *e = take_caller(c, req, prompt_tokens + out_tokens);
        if (e) return e;
    }
    int64_t tpm;
    sg_ratelimit_status st = {0};
    sg_rl_decision d = c->has_caller ? SG_RL_ADMITTED : take(c, req, prompt_tokens + out_tokens, &tpm, &st);
    if (d != SG_RL_ADMITTED) {
        if (d != SG_RL_TOO_LARGE)
            sg_http_add_header(req, "retry-after", "%lld",
                               (long long)sg_retry_after_seconds(st.retry_after_s));
        sg_api_error *e =
            refuse(429, "requests", NULL, "rate_limit_exceeded", SG_AUDIT_RATE_LIMITED,
                   "rate limit reached for key %lld; please try again later", (long long)c->who.key_id);
        sg_api_error_set_reason(e, "rate limit (hardcoded response)");
        return e;
    }
    char why[300];
    snprintf(why, sizeof why, "hardcoded response (category '%s')", c->hardcoded_category);
    int64_t seq = 0;
    const sg_policy *p = c->pref->policy;
    int keep_text = p->audit_text != SG_AUDIT_TEXT_NONE;
    char *pt = keep_text ? sg_completion_joined_prompts(c) : NULL;
    sg_audit_event e = {.key_id = c->who.key_id,
                        .audience = c->who.audience,
                        .model = c->req.model,
                        .stage = sg_policy_ref_stage_name(c->pref),
                        .decision = SG_AUDIT_HARDCODED,
                        .reason = why,
                        .prompt_tokens = prompt_tokens,
                        .completion_tokens = out_tokens,
                        .text_mode = p->audit_text,
                        .prompt_text = pt,
                        .completion_text = keep_text ? response : NULL,
                        .seq = &seq};
    sg_api_record(c->srv, &e, c->t0, 200);
    free(pt);
    if (seq && c->who.key_id) sg_guard_completion_served(c->srv->store, c->id, c->who.key_id, seq);

    json_t *choices = json_array();
    for (int i = 0; i < n_choices; i++)
        json_array_append_new(choices, sg_openai_choice(response, rlen, i, NULL, "stop"));
    json_t *usage = sg_openai_usage(prompt_tokens, out_tokens);
    const char *fp = m->fingerprint;
    if (!c->req.stream) {
        json_t *o = sg_openai_envelope(SG_OPENAI_TEXT_COMPLETION, c->id, c->created, c->req.model, fp);
        json_object_set_new(o, "choices", choices);
        json_object_set_new(o, "usage", usage);
        sg_http_respond_json(req, 200, o);
        return NULL;
    }
    sg_error *err = NULL;
    size_t i;
    json_t *ch;
    json_array_foreach(choices, i, ch) {
        json_t *o = sg_openai_envelope(SG_OPENAI_TEXT_COMPLETION, c->id, c->created, c->req.model, fp);
        json_t *one = json_array();
        json_array_append(one, ch);
        json_object_set_new(o, "choices", one);
        if (!err)
            err = sg_stream_event(&c->out, o);
        else
            json_decref(o);
    }
    if (c->req.include_usage && !err) {
        json_t *o = sg_openai_envelope(SG_OPENAI_TEXT_COMPLETION, c->id, c->created, c->req.model, fp);
        json_object_set_new(o, "choices", json_array());
        json_object_set_new(o, "usage", json_incref(usage));
        err = sg_stream_event(&c->out, o);
    }
    if (!err) err = sg_stream_end(&c->out);
    json_decref(choices);
    json_decref(usage);
    if (err) {
        sg_log(SG_LOG_ERROR, "hardcoded response: %s", sg_error_message(err));
        sg_error_free(err);
        sg_http_respond_error(req, 500, SG_API_SERVER_ERROR, NULL, NULL, "out of memory");
        return NULL;
    }
    sg_http_respond_text(req, 200, "text/event-stream", c->out.data);
    return NULL;
}

/* ---- the route ---------------------------------------------------------------------- */

/* The steps in order; NULL once the request is answered (or handed to the
 * stream: *streamed), else the error to answer. */
static sg_api_error *run(sg_completion *c, sg_http_request *req, int *streamed) {
    sg_api_error *err;
    if ((err = parse(c, req)) || (err = decide(c)) || (err = guard(c))) return err;
    if (c->hardcoded) return respond_hardcoded(c, req);
    if ((err = tokenize(c)) || (err = reserve(c, req)) || (err = submit(c, req))) return err;
    if (!c->req.stream) return respond_json(c, req);
    sg_stream_respond(c, req);
    *streamed = 1;
    return NULL;
}

void sg_completion_route(sg_api_call *call) {
    sg_completion *c = sg_completion_new(call);
    if (!c) {
        sg_http_respond_error(call->req, 500, SG_API_SERVER_ERROR, NULL, NULL, "out of memory");
        return;
    }
    int streamed = 0;
    sg_api_error *err = run(c, call->req, &streamed);
    if (err) sg_api_fail(call, c->req.model, err);
    if (!streamed) sg_completion_free(c); /* else the stream frees it */
}
