/* api.c — routes of the gated API server and the completion request path
 * (see api.h). */
#include "server/api.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/audit.h"
#include "access/keys.h"
#include "access/ratelimit.h"
#include "base/log.h"
#include "base/utf8.h"
#include "eval/cards.h"
#include "release/policy.h"
#include "release/report.h"
#include "release/stages.h"
#include "safety/watermark_key.h"
#include "server/audit_sink.h"
#include "server/demo.h"
#include "server/guard.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/models.h"
#include "server/request.h"
#include "server/scheduler.h"
#include "store/store_release.h"

/* A loaded policy, shared by every policy_ref made from it. */
typedef struct {
    sg_policy *policy;
    sg_guard *guard; /* its safety controls (compiled content filter) */
    int refs;
} shared_policy;

/* What a request runs under: the policy and the release state (current
 * stage, open incidents) read from the store when the ref was made. A stage
 * move or an incident makes a new ref over the same policy; a reload makes
 * one over the new policy. Requests in flight keep the ref they started with. */
typedef struct {
    sg_policy *policy;
    shared_policy *shared;
    sg_release_state release;
    int stage; /* release.stage: the stage requests are decided at */
    int refs;
} policy_ref;

struct sg_server {
    char *policy_path;
    pthread_mutex_t policy_mu;
    policy_ref *policy;
    sg_store *store;
    sg_keys *keys;
    sg_ratelimit *ratelimit;
    sg_metrics *metrics;
    sg_models *models;
    sg_http *http;
    char *db_path;
    sg_watermark *wm; /* the watermark, keyed from the store (safety/watermark_key.h) */
    double request_timeout_s;
    /* the release watcher: polls the store's release version */
    pthread_t watcher;
    int watcher_running;
    pthread_mutex_t watch_mu;
    pthread_cond_t watch_cv;
    double next_report_s;  /* monotonic time of the next scheduled report */
    volatile int stopping; /* set by sg_server_stop: waiting requests give up */
    sg_demo *demo;         /* the hosted web demo (server/demo.h) */
};

static policy_ref *policy_acquire(sg_server *s) {
    pthread_mutex_lock(&s->policy_mu);
    policy_ref *r = s->policy;
    r->refs++;
    pthread_mutex_unlock(&s->policy_mu);
    return r;
}

static void policy_release(sg_server *s, policy_ref *r) {
    pthread_mutex_lock(&s->policy_mu);
    int left = --r->refs;
    pthread_mutex_unlock(&s->policy_mu);
    if (!left) {
        pthread_mutex_lock(&s->policy_mu);
        int policy_left = --r->shared->refs;
        pthread_mutex_unlock(&s->policy_mu);
        if (!policy_left) {
            sg_guard_free(r->shared->guard);
            sg_policy_free(r->shared->policy);
            free(r->shared);
        }
        sg_release_state_free(&r->release);
        free(r);
    }
}

static const char *stage_name(const policy_ref *r) { return r->policy->stages[r->stage].name; }

/* ---- text helpers --------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
} bytes;

static int bytes_put(bytes *b, const void *data, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) return -1;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = 0;
    return 0;
}

/* A JSON string of `s[0..n)` with invalid UTF-8 replaced by U+FFFD. */
static json_t *json_text(const char *s, size_t n) {
    size_t bad;
    if (sg_utf8_valid(s, n, &bad)) return json_stringn(s, n);
    bytes b = {0};
    size_t i = 0;
    while (i < n) {
        if (sg_utf8_valid(s + i, n - i, &bad)) {
            bytes_put(&b, s + i, n - i);
            break;
        }
        bytes_put(&b, s + i, bad);
        bytes_put(&b, "\xEF\xBF\xBD", 3);
        i += bad + 1;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++; /* skip the rest of the broken character */
    }
    json_t *j = json_stringn(b.buf ? b.buf : "", b.len);
    free(b.buf);
    return j;
}

/* ---- one completion request ---------------------------------------------- */

typedef struct {
    bytes text;        /* generated text (without end-of-text), truncated at a stop string */
    size_t *offsets;   /* byte offset of each consumed token */
    int consumed;      /* tokens of the sequence taken into `text` */
    int stopped;       /* a stop string matched */
    size_t emitted;    /* streaming: bytes already sent */
    int logprobs_sent; /* streaming: tokens whose logprobs were sent */
    int finish_sent;
    const char *finish; /* "stop" / "length" / "content_filter" once known */
    /* the output filter (content_filter on at the stage): streaming */
    sg_filter_stream *fs;
    size_t fed;  /* bytes of `text` pushed into fs */
    bytes shown; /* what was released to the client */
    int blocked; /* a block category matched: finish_reason content_filter */
    char category[128];
} choice_state;

typedef struct {
    sg_server *srv;
    policy_ref *pref;
    json_t *body; /* the request JSON (stop strings point into it) */
    sg_completion_request req;
    sg_model_entry *model;
    sg_job *job;
    choice_state *choices;
    int n_choices;
    int **prompt_ids;
    int *prompt_n;
    long prompt_tokens; /* summed over choices */
    long reserved;      /* tokens reserved from the bucket */
    sg_principal who;
    char id[40];
    long long created;
    double t0;
    int fd;
    int finalized;
    int status;
    /* streaming */
    bytes out;
    size_t out_pos;
    int done_sent;
    /* safety controls (server/guard.h) */
    int output_filter;                  /* content_filter on: completions pass the output filter */
    char *redacted[SG_REQ_MAX_PROMPTS]; /* redacted prompts (the request's prompts point here) */
    char reason[512];                   /* for the audit record: flags raised, redactions */
    const sg_api_caller *caller;        /* not a key holder (the web demo); &caller_copy or NULL */
    sg_api_caller caller_copy;
} completion;

/* Gives back reserved tokens to whichever budget they came from. */
static void refund(completion *c, long tokens) {
    if (tokens <= 0) return;
    if (c->caller)
        c->caller->refund(c->caller->ctx, c->caller->keys, tokens);
    else
        sg_ratelimit_refund(c->srv->ratelimit, c->who.key_id, tokens);
}

static void completion_free(completion *c) {
    if (!c) return;
    for (int i = 0; c->choices && i < c->n_choices; i++) {
        free(c->choices[i].text.buf);
        free(c->choices[i].offsets);
        free(c->choices[i].shown.buf);
        sg_filter_stream_free(c->choices[i].fs);
    }
    for (int i = 0; i < SG_REQ_MAX_PROMPTS; i++) free(c->redacted[i]);
    free(c->choices);
    for (int i = 0; i < c->req.n_prompts; i++)
        if (c->prompt_ids) free(c->prompt_ids[i]);
    free(c->prompt_ids);
    free(c->prompt_n);
    sg_job_release(c->job);
    sg_completion_request_clear(&c->req);
    json_decref(c->body);
    free(c->out.buf);
    if (c->pref) policy_release(c->srv, c->pref);
    free(c);
}

/* Records one decision in the audit log (durably) and the metrics; *seq
 * (may be NULL) gets the audit record's number. */
static void record_seq(sg_server *srv, const sg_principal *who, const char *model, const char *stage,
                       const char *decision, const char *reason, long prompt_tokens, long completion_tokens,
                       double t0, int status, const char *prompt_text, const char *completion_text,
                       sg_audit_text_mode text_mode, int64_t *seq) {
    double latency = sg_monotonic_s() - t0;
    sg_audit_event e = {0};
    e.key_id = who ? who->key_id : 0;
    e.audience = who ? who->audience : NULL;
    e.model = model;
    e.stage = stage;
    e.decision = decision;
    e.reason = reason;
    e.prompt_tokens = prompt_tokens;
    e.completion_tokens = completion_tokens;
    e.latency_s = latency;
    e.text_mode = text_mode;
    e.prompt_text = prompt_text;
    e.completion_text = completion_text;
    e.seq = seq;
    sg_audit_sink_write(srv->store, &e);
    sg_metrics_request(srv->metrics, status, who ? who->audience : "", prompt_tokens, completion_tokens,
                       latency);
}

static void record(sg_server *srv, const sg_principal *who, const char *model, const char *stage,
                   const char *decision, const char *reason, long prompt_tokens, long completion_tokens,
                   double t0, int status, const char *prompt_text, const char *completion_text,
                   sg_audit_text_mode text_mode) {
    record_seq(srv, who, model, stage, decision, reason, prompt_tokens, completion_tokens, t0, status,
               prompt_text, completion_text, text_mode, NULL);
}

/* Takes newly generated tokens into the choices' texts and applies stop
 * strings. With the job lock held; returns a bitmask-free list of sequences
 * to cancel in `cancel` (1 = cancel). */
static void pump(completion *c, char *cancel) {
    const sg_tokenizer *tok = c->model->tokenizer;
    for (int i = 0; i < c->n_choices; i++) {
        choice_state *ch = &c->choices[i];
        const sg_job_seq *seq = sg_job_seq_at(c->job, i);
        while (!ch->stopped && ch->consumed < seq->n) {
            int t = seq->tokens[ch->consumed];
            size_t start = ch->text.len;
            size_t *off = realloc(ch->offsets, (size_t)(ch->consumed + 1) * sizeof *off);
            if (!off) break;
            ch->offsets = off;
            ch->offsets[ch->consumed] = start;
            ch->consumed++;
            if (t != c->model->eot) {
                size_t n;
                const char *b = sg_tokenizer_token_bytes(tok, t, &n);
                if (b) bytes_put(&ch->text, b, n);
            }
            for (int k = 0; k < c->req.n_stop && ch->text.len; k++) {
                size_t sl = c->req.stop_len[k];
                size_t from = start >= sl - 1 ? start - (sl - 1) : 0;
                if (ch->text.len - from < sl) continue;
                const char *hit = memmem(ch->text.buf + from, ch->text.len - from, c->req.stop[k], sl);
                if (hit) {
                    ch->text.len = (size_t)(hit - ch->text.buf);
                    ch->text.buf[ch->text.len] = 0;
                    ch->stopped = 1;
                    ch->finish = "stop";
                    cancel[i] = 1;
                    break;
                }
            }
        }
        if (!ch->finish && seq->finish != SG_FINISH_NONE && ch->consumed == seq->n)
            ch->finish = seq->finish == SG_FINISH_STOP ? "stop" : "length";
    }
}

/* Bytes of choice i that may be sent now: not splitting a character, not a
 * possible beginning of a stop string. */
static size_t sendable(const completion *c, const choice_state *ch) {
    size_t len = ch->text.len;
    if (ch->finish) return len;
    size_t hold = 0;
    for (int k = 0; k < c->req.n_stop; k++) {
        size_t sl = c->req.stop_len[k];
        for (size_t l = sl - 1 < len ? sl - 1 : len; l > hold; l--)
            if (!memcmp(ch->text.buf + len - l, c->req.stop[k], l)) {
                hold = l;
                break;
            }
    }
    return sg_utf8_complete_prefix(ch->text.buf ? ch->text.buf : "", len - hold);
}

/* OpenAI's logprobs object for tokens [from, to) of choice i. */
static json_t *logprobs_json(const completion *c, int i, int from, int to, size_t base_offset) {
    const choice_state *ch = &c->choices[i];
    const sg_job_seq *seq = sg_job_seq_at(c->job, i);
    json_t *tokens = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
    for (int k = from; k < to; k++) {
        if (ch->offsets[k] > ch->text.len || (ch->stopped && ch->offsets[k] == ch->text.len && k > 0)) break;
        size_t n;
        const char *b = sg_tokenizer_token_bytes(c->model->tokenizer, seq->tokens[k], &n);
        json_array_append_new(tokens, json_text(b ? b : "", b ? n : 0));
        json_array_append_new(lps, json_real(seq->logprobs[k]));
        json_t *top = json_object();
        for (int a = 0; a < c->req.logprobs; a++) {
            const char *tb = sg_tokenizer_token_bytes(c->model->tokenizer, seq->top_tokens[k][a], &n);
            if (!tb) continue;
            json_t *key = json_text(tb, n);
            json_object_set_new(top, json_string_value(key), json_real(seq->top_logprobs[k][a]));
            json_decref(key);
        }
        json_array_append_new(tops, top);
        json_array_append_new(offs, json_integer((json_int_t)(base_offset + ch->offsets[k])));
    }
    json_t *o = json_object();
    json_object_set_new(o, "tokens", tokens);
    json_object_set_new(o, "token_logprobs", lps);
    json_object_set_new(o, "top_logprobs", tops);
    json_object_set_new(o, "text_offset", offs);
    return o;
}

static long completion_tokens(const completion *c) {
    long n = 0;
    for (int i = 0; i < c->n_choices; i++) n += c->choices[i].consumed;
    return n;
}

static json_t *usage_json(const completion *c) {
    json_t *u = json_object();
    long out = completion_tokens(c);
    json_object_set_new(u, "prompt_tokens", json_integer(c->prompt_tokens / (c->req.n ? c->req.n : 1)));
    json_object_set_new(u, "completion_tokens", json_integer(out));
    json_object_set_new(u, "total_tokens", json_integer(c->prompt_tokens / (c->req.n ? c->req.n : 1) + out));
    return u;
}

static json_t *envelope(const completion *c) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(c->id));
    json_object_set_new(o, "object", json_string("text_completion"));
    json_object_set_new(o, "created", json_integer(c->created));
    json_object_set_new(o, "model", json_string(c->req.model));
    json_object_set_new(o, "system_fingerprint", json_string(c->model->fingerprint));
    return o;
}

/* Appends a prompt's text to b (decoding it when it was given as token ids). */
static void put_prompt_text(bytes *b, const completion *c, const sg_prompt *p) {
    if (p->text) {
        bytes_put(b, p->text, p->text_len);
        return;
    }
    char *t;
    size_t n;
    sg_error *err = sg_tokenizer_decode(c->model->tokenizer, p->ids, p->n_ids, &t, &n);
    if (err) {
        sg_error_free(err);
        return;
    }
    bytes_put(b, t, n);
    free(t);
}

/* Joined prompt or completion texts for the audit log. */
static char *joined_prompts(const completion *c) {
    bytes b = {0};
    for (int i = 0; i < c->req.n_prompts; i++) {
        if (i) bytes_put(&b, "\n\n", 2);
        put_prompt_text(&b, c, &c->req.prompts[i]);
    }
    if (!b.buf) bytes_put(&b, "", 0);
    return b.buf;
}

static char *joined_completions(const completion *c) {
    bytes b = {0};
    for (int i = 0; i < c->n_choices; i++) {
        if (i) bytes_put(&b, "\n\n", 2);
        const bytes *t = c->output_filter && c->req.stream ? &c->choices[i].shown : &c->choices[i].text;
        bytes_put(&b, t->buf ? t->buf : "", t->len);
    }
    if (!b.buf) bytes_put(&b, "", 0);
    return b.buf;
}

/* Once every sequence has left the batch: refund the unused reservation and
 * commit the audit record. Runs exactly once per admitted request. */
static void finalize(completion *c, const char *decision, int status) {
    if (c->finalized) return;
    c->finalized = 1;
    sg_job_cancel(c->job, -1);
    sg_job_lock(c->job);
    while (!sg_job_done(c->job)) sg_job_wait(c->job, 50);
    sg_job_unlock(c->job);
    long used = c->prompt_tokens + completion_tokens(c);
    if (c->reserved > used) refund(c, c->reserved - used);
    const sg_policy *p = c->pref->policy;
    char *pt = NULL, *ct = NULL;
    if (p->audit_text != SG_AUDIT_TEXT_NONE) {
        pt = joined_prompts(c);
        ct = joined_completions(c);
    }
    /* an output filter block turns the outcome into "filtered", naming the category */
    int blocked = -1;
    for (int i = 0; i < c->n_choices; i++)
        if (c->choices[i].blocked && blocked < 0) blocked = i;
    char reason[700];
    snprintf(reason, sizeof reason, "%s", c->reason);
    if (blocked >= 0 && !strcmp(decision, "allowed")) {
        decision = "filtered";
        size_t l = strlen(reason);
        snprintf(reason + l, sizeof reason - l, "%soutput blocked by the content filter (category '%s')",
                 l ? "; " : "", c->choices[blocked].category);
    }
    int64_t seq = 0;
    record_seq(c->srv, &c->who, c->req.model, stage_name(c->pref), decision, reason[0] ? reason : NULL,
               c->prompt_tokens / (c->req.n ? c->req.n : 1), completion_tokens(c), c->t0, status, pt, ct,
               p->audit_text, &seq);
    if (seq && c->who.key_id && (!strcmp(decision, "allowed") || !strcmp(decision, "filtered")))
        sg_guard_completion_served(c->srv->store, c->id, c->who.key_id, seq);
    free(pt);
    free(ct);
}

/* Waits for the whole job (non-streaming), noticing a client that leaves. */
static int wait_job(completion *c) {
    char cancel[SG_REQ_MAX_PROMPTS * SG_REQ_MAX_N];
    for (;;) {
        memset(cancel, 0, sizeof cancel);
        sg_job_lock(c->job);
        pump(c, cancel);
        int all = 1;
        for (int i = 0; i < c->n_choices; i++)
            if (!c->choices[i].finish) all = 0;
        if (!all && !sg_job_done(c->job)) sg_job_wait(c->job, 20);
        int timed_out = sg_job_timed_out(c->job);
        sg_job_unlock(c->job);
        for (int i = 0; i < c->n_choices; i++)
            if (cancel[i]) sg_job_cancel(c->job, i);
        if (all) return 0;
        if (timed_out) return 1;
        if (sg_http_fd_gone(c->fd) || c->srv->stopping) return 2;
    }
}

static json_t *choices_json(completion *c) {
    json_t *arr = json_array();
    for (int i = 0; i < c->n_choices; i++) {
        choice_state *ch = &c->choices[i];
        json_t *o = json_object();
        size_t base = 0;
        if (c->req.echo) {
            bytes b = {0};
            put_prompt_text(&b, c, &c->req.prompts[i / c->req.n]);
            base = b.len;
            bytes_put(&b, ch->text.buf ? ch->text.buf : "", ch->text.len);
            json_object_set_new(o, "text", json_text(b.buf ? b.buf : "", b.len));
            free(b.buf);
        } else {
            json_object_set_new(o, "text", json_text(ch->text.buf ? ch->text.buf : "", ch->text.len));
        }
        json_object_set_new(o, "index", json_integer(i));
        json_object_set_new(o, "logprobs",
                            c->req.logprobs >= 0 ? logprobs_json(c, i, 0, ch->consumed, base) : json_null());
        json_object_set_new(o, "finish_reason", json_string(ch->finish ? ch->finish : "length"));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* ---- streaming ------------------------------------------------------------ */

static void emit_event(completion *c, json_t *chunk) {
    char *s = json_dumps(chunk, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(chunk);
    if (!s) return;
    bytes_put(&c->out, "data: ", 6);
    bytes_put(&c->out, s, strlen(s));
    bytes_put(&c->out, "\n\n", 2);
    free(s);
}

static json_t *chunk_for(completion *c, int i, const char *text, size_t n, const char *finish) {
    choice_state *ch = &c->choices[i];
    json_t *o = envelope(c);
    json_t *choice = json_object();
    json_object_set_new(choice, "text", json_text(text, n));
    json_object_set_new(choice, "index", json_integer(i));
    if (c->req.logprobs >= 0) {
        int upto = ch->consumed;
        if (!finish) { /* only tokens whose bytes are fully sent */
            while (upto > ch->logprobs_sent && ch->offsets[upto - 1] >= ch->emitted) upto--;
        }
        json_object_set_new(choice, "logprobs", logprobs_json(c, i, ch->logprobs_sent, upto, 0));
        ch->logprobs_sent = upto;
    } else {
        json_object_set_new(choice, "logprobs", json_null());
    }
    json_object_set_new(choice, "finish_reason", finish ? json_string(finish) : json_null());
    json_t *arr = json_array();
    json_array_append_new(arr, choice);
    json_object_set_new(o, "choices", arr);
    if (c->req.include_usage) json_object_set_new(o, "usage", json_null());
    return o;
}

/* The output filter (server/guard.h): passes text[fed..upto) of a choice
 * through its stream filter, and at the end (`final`) what the filter still
 * holds back; appends the released bytes to `piece` and to ch->shown. A block
 * ends the choice with finish_reason "content_filter" and sets *cancel. A
 * filter error fails closed (as a block). */
static void filter_take(completion *c, choice_state *ch, const sg_filter_chunk *fc, bytes *piece,
                        char *cancel) {
    bytes_put(piece, fc->text ? fc->text : "", fc->len);
    bytes_put(&ch->shown, fc->text ? fc->text : "", fc->len);
    if (fc->blocked) {
        ch->blocked = 1;
        snprintf(ch->category, sizeof ch->category, "%s",
                 fc->category >= 0
                     ? sg_filter_category_name(sg_guard_filter(c->pref->shared->guard), fc->category)
                     : "?");
        ch->finish = "content_filter";
        ch->stopped = 1;
        *cancel = 1;
    }
}

static void filter_piece(completion *c, choice_state *ch, size_t upto, int final, bytes *piece,
                         char *cancel) {
    sg_filter_chunk fc;
    sg_error *err = NULL;
    bytes_put(piece, "", 0);
    if (upto > ch->fed && !ch->blocked) {
        err = sg_filter_stream_push(ch->fs, ch->text.buf + ch->fed, upto - ch->fed, &fc);
        ch->fed = upto;
        if (!err) filter_take(c, ch, &fc, piece, cancel);
    }
    if (!err && final && !ch->blocked) {
        err = sg_filter_stream_finish(ch->fs, &fc);
        if (!err) filter_take(c, ch, &fc, piece, cancel);
    }
    if (err) {
        sg_log(SG_LOG_ERROR, "output filter: %s", sg_error_message(err));
        sg_error_free(err);
        sg_filter_chunk none = {.text = "", .len = 0, .blocked = 1, .category = -1};
        filter_take(c, ch, &none, piece, cancel);
    }
}

/* Produces SSE events for whatever is new; returns 1 once the stream is complete. */
static int stream_produce(completion *c) {
    char cancel[SG_REQ_MAX_PROMPTS * SG_REQ_MAX_N];
    memset(cancel, 0, sizeof cancel);
    sg_job_lock(c->job);
    pump(c, cancel);
    int all = 1;
    for (int i = 0; i < c->n_choices; i++) {
        choice_state *ch = &c->choices[i];
        if (ch->finish_sent) continue;
        size_t upto = sendable(c, ch);
        if (c->output_filter) {
            bytes piece = {0};
            filter_piece(c, ch, upto, ch->finish != NULL, &piece, &cancel[i]);
            if (upto > ch->emitted) ch->emitted = upto;
            if (piece.len || ch->finish) {
                emit_event(c, chunk_for(c, i, piece.buf, piece.len, ch->finish));
                if (ch->finish) ch->finish_sent = 1;
            }
            free(piece.buf);
        } else if (upto > ch->emitted || ch->finish) {
            size_t from = ch->emitted;
            ch->emitted = upto > ch->emitted ? upto : ch->emitted;
            emit_event(
                c, chunk_for(c, i, ch->text.buf ? ch->text.buf + from : "", ch->emitted - from, ch->finish));
            if (ch->finish) ch->finish_sent = 1;
        }
        if (!ch->finish_sent) all = 0;
    }
    int timed_out = sg_job_timed_out(c->job);
    sg_job_unlock(c->job);
    for (int i = 0; i < c->n_choices; i++)
        if (cancel[i]) sg_job_cancel(c->job, i);
    if (!all && timed_out) {
        for (int i = 0; i < c->n_choices; i++) {
            choice_state *ch = &c->choices[i];
            if (ch->finish_sent) continue;
            ch->finish = "length";
            if (c->output_filter) {
                bytes piece = {0};
                char ignore = 0;
                filter_piece(c, ch, ch->text.len, 1, &piece, &ignore);
                emit_event(c, chunk_for(c, i, piece.buf, piece.len, ch->finish));
                free(piece.buf);
            } else {
                emit_event(c, chunk_for(c, i, ch->text.buf ? ch->text.buf + ch->emitted : "",
                                        ch->text.len - ch->emitted, "length"));
            }
            ch->emitted = ch->text.len;
            ch->finish_sent = 1;
        }
        all = 1;
    }
    if (!all) return 0;
    finalize(c, "allowed", 200);
    if (c->req.include_usage) {
        json_t *o = envelope(c);
        json_object_set_new(o, "choices", json_array());
        json_object_set_new(o, "usage", usage_json(c));
        emit_event(c, o);
    }
    bytes_put(&c->out, "data: [DONE]\n\n", 14);
    return 1;
}

static ssize_t stream_read(void *ctx, char *buf, size_t max) {
    completion *c = ctx;
    for (;;) {
        if (c->out_pos < c->out.len) {
            size_t n = c->out.len - c->out_pos;
            if (n > max) n = max;
            memcpy(buf, c->out.buf + c->out_pos, n);
            c->out_pos += n;
            if (c->out_pos == c->out.len) c->out_pos = c->out.len = 0;
            return (ssize_t)n;
        }
        if (c->done_sent) return -1;
        if (stream_produce(c)) {
            c->done_sent = 1;
            continue;
        }
        if (c->out.len) continue;
        if (sg_http_fd_gone(c->fd) || c->srv->stopping) return -2;
        sg_job_lock(c->job);
        sg_job_wait(c->job, 20);
        sg_job_unlock(c->job);
    }
}

static void stream_done(void *ctx) {
    completion *c = ctx;
    if (!c->finalized) finalize(c, "cancelled", 499); /* the client went away mid-stream */
    completion_free(c);
}

/* ---- routes ----------------------------------------------------------------- */

static void add_ratelimit_headers(sg_http_request *req, const sg_ratelimit_status *st) {
    char buf[32];
    if (st->limit_requests) {
        sg_http_add_header(req, "x-ratelimit-limit-requests", "%lld", (long long)st->limit_requests);
        sg_http_add_header(req, "x-ratelimit-remaining-requests", "%lld", (long long)st->remaining_requests);
        sg_format_duration(st->reset_requests_s, buf, sizeof buf);
        sg_http_add_header(req, "x-ratelimit-reset-requests", "%s", buf);
    }
    if (st->limit_tokens) {
        sg_http_add_header(req, "x-ratelimit-limit-tokens", "%lld", (long long)st->limit_tokens);
        sg_http_add_header(req, "x-ratelimit-remaining-tokens", "%lld", (long long)st->remaining_tokens);
        sg_format_duration(st->reset_tokens_s, buf, sizeof buf);
        sg_http_add_header(req, "x-ratelimit-reset-tokens", "%s", buf);
    }
}

static void limits_for(const policy_ref *r, const sg_principal *who, int64_t *rpm, int64_t *tpm) {
    sg_policy_limits pl = sg_policy_rate_limit(r->policy, r->stage, who->audience);
    *rpm = who->rpm ? who->rpm : (pl.enforced ? pl.rpm : 0);
    *tpm = who->tpm ? who->tpm : (pl.enforced ? pl.tpm : 0);
}

/* Authenticates; on failure answers 401 (audited) and returns 0. */
static int authenticate(sg_server *srv, sg_http_request *req, const policy_ref *pref, double t0,
                        sg_principal *who) {
    sg_auth_result res;
    sg_error *err =
        sg_keys_authenticate(srv->keys, sg_http_header_get(req, "Authorization"), sg_now_ms(), who, &res);
    if (err) {
        sg_log(SG_LOG_ERROR, "authentication failed: %s", sg_error_message(err));
        sg_error_free(err);
        sg_http_respond_error(req, 500, "server_error", NULL, NULL, "the key store is unavailable");
        sg_metrics_request(srv->metrics, 500, "", 0, 0, sg_monotonic_s() - t0);
        return 0;
    }
    if (res == SG_AUTH_OK) return 1;
    const char *msg = sg_auth_result_message(res);
    sg_http_add_header(req, "www-authenticate", "Bearer");
    sg_http_respond_error(req, 401, "invalid_request_error", NULL, "invalid_api_key", "%s", msg);
    record(srv, NULL, NULL, stage_name(pref), "401", msg, 0, 0, t0, 401, NULL, NULL, SG_AUDIT_TEXT_NONE);
    return 0;
}

static void new_completion_id(completion *c) {
    c->created = (long long)time(NULL);
    unsigned char rnd[12];
    randombytes_buf(rnd, sizeof rnd);
    memcpy(c->id, "cmpl-", 5);
    sodium_bin2hex(c->id + 5, sizeof c->id - 5, rnd, sizeof rnd);
}

static int count_tokens(const sg_tokenizer *tok, const char *text, size_t len) {
    int *ids = NULL, n = 0;
    sg_error *err = sg_tokenizer_encode(tok, text, len, 0, &ids, &n);
    if (err) sg_error_free(err), n = 0;
    free(ids);
    return n;
}

/* A hard-coded response (hardcoded_responses on, a category with that action
 * matched the prompt): every choice is the category's predetermined text and
 * the model does not run; answered like a completion (JSON or SSE) and
 * audited as "hardcoded". */
static void respond_hardcoded(completion *c, sg_http_request *req, const char *response,
                              const char *category) {
    sg_server *srv = c->srv;
    const sg_model_entry *m = c->model;
    new_completion_id(c);
    size_t rlen = strlen(response);
    long prompt_tokens = 0;
    for (int i = 0; i < c->req.n_prompts; i++) {
        const sg_prompt *pr = &c->req.prompts[i];
        prompt_tokens += pr->text ? count_tokens(m->tokenizer, pr->text, pr->text_len) : pr->n_ids;
    }
    int n_choices = c->req.n_prompts * c->req.n;
    long out_tokens = (long)count_tokens(m->tokenizer, response, rlen) * n_choices;
    /* the answer costs what it would as a completion: same request and token buckets */
    int64_t rpm, tpm;
    limits_for(c->pref, &c->who, &rpm, &tpm);
    sg_ratelimit_status st = {0};
    sg_rl_decision d;
    char cwhy[200] = "";
    if (c->caller) {
        int r = c->caller->reserve(c->caller->ctx, c->caller->keys, prompt_tokens + out_tokens,
                                   &st.retry_after_s, cwhy, sizeof cwhy);
        d = r == 0 ? SG_RL_ADMITTED : r == 1 ? SG_RL_LIMITED : SG_RL_TOO_LARGE;
    } else {
        d = sg_ratelimit_reserve(srv->ratelimit, c->who.key_id, rpm, tpm, prompt_tokens + out_tokens, &st);
        add_ratelimit_headers(req, &st);
    }
    if (d != SG_RL_ADMITTED) {
        sg_metrics_rate_limited(srv->metrics, c->who.audience);
        if (d != SG_RL_TOO_LARGE)
            sg_http_add_header(req, "retry-after", "%lld",
                               (long long)sg_retry_after_seconds(st.retry_after_s));
        sg_http_respond_error(req, 429, "requests", NULL, "rate_limit_exceeded",
                              "rate limit reached for key %lld; please try again later",
                              (long long)c->who.key_id);
        record(srv, &c->who, c->req.model, stage_name(c->pref), "429", "rate limit (hardcoded response)", 0,
               0, c->t0, 429, NULL, NULL, SG_AUDIT_TEXT_NONE);
        return;
    }
    json_t *choices = json_array();
    for (int i = 0; i < n_choices; i++) {
        json_t *ch = json_object();
        json_object_set_new(ch, "text", json_stringn(response, rlen));
        json_object_set_new(ch, "index", json_integer(i));
        json_object_set_new(ch, "logprobs", json_null());
        json_object_set_new(ch, "finish_reason", json_string("stop"));
        json_array_append_new(choices, ch);
    }
    json_t *usage = json_object();
    json_object_set_new(usage, "prompt_tokens", json_integer(prompt_tokens));
    json_object_set_new(usage, "completion_tokens", json_integer(out_tokens));
    json_object_set_new(usage, "total_tokens", json_integer(prompt_tokens + out_tokens));
    char why[300];
    snprintf(why, sizeof why, "hardcoded response (category '%s')", category);
    int64_t seq = 0;
    const sg_policy *p = c->pref->policy;
    char *pt = p->audit_text != SG_AUDIT_TEXT_NONE ? joined_prompts(c) : NULL;
    record_seq(srv, &c->who, c->req.model, stage_name(c->pref), "hardcoded", why, prompt_tokens, out_tokens,
               c->t0, 200, pt, p->audit_text != SG_AUDIT_TEXT_NONE ? response : NULL, p->audit_text, &seq);
    free(pt);
    if (seq && c->who.key_id) sg_guard_completion_served(srv->store, c->id, c->who.key_id, seq);
    if (!c->req.stream) {
        json_t *o = envelope(c);
        json_object_set_new(o, "choices", choices);
        json_object_set_new(o, "usage", usage);
        sg_http_respond_json(req, 200, o);
        return;
    }
    size_t i;
    json_t *ch;
    json_array_foreach(choices, i, ch) {
        json_t *o = envelope(c), *one = json_array();
        json_array_append(one, ch);
        json_object_set_new(o, "choices", one);
        emit_event(c, o);
    }
    if (c->req.include_usage) {
        json_t *o = envelope(c);
        json_object_set_new(o, "choices", json_array());
        json_object_set_new(o, "usage", json_incref(usage));
        emit_event(c, o);
    }
    bytes_put(&c->out, "data: [DONE]\n\n", 14);
    json_decref(choices);
    json_decref(usage);
    sg_http_respond_text(req, 200, "text/event-stream", c->out.buf);
}

void sg_server_complete(sg_server *srv, sg_http_request *req, const sg_api_caller *caller) {
    completion *c = calloc(1, sizeof *c);
    if (!c) {
        sg_http_respond_error(req, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    c->srv = srv;
    c->t0 = sg_monotonic_s();
    c->pref = policy_acquire(srv);
    c->fd = sg_http_request_fd(req);
    const sg_policy *p = c->pref->policy;
    const char *stage = stage_name(c->pref);
    char why[512];

    if (caller) {
        c->caller_copy = *caller;
        c->caller = &c->caller_copy;
        c->who = caller->who;
    } else if (!authenticate(srv, req, c->pref, c->t0, &c->who)) {
        goto out;
    }
    sg_principal *who = &c->who;
#define REJECT(status, type, param, code, decision, ...)                                                     \
    do {                                                                                                     \
        snprintf(why, sizeof why, __VA_ARGS__);                                                              \
        sg_http_respond_error(req, status, type, param, code, "%s", why);                                    \
        record(srv, who, c->req.model, stage, decision, why, 0, 0, c->t0, status, NULL, NULL,                \
               SG_AUDIT_TEXT_NONE);                                                                          \
        goto out;                                                                                            \
    } while (0)

    /* The body. */
    size_t bad;
    if (!sg_utf8_valid(req->body, req->body_len, &bad))
        REJECT(400, "invalid_request_error", NULL, "invalid_utf8", "invalid",
               "the request body is not valid UTF-8 (byte %zu)", bad);
    json_error_t jerr;
    c->body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!c->body)
        REJECT(400, "invalid_request_error", NULL, "invalid_json", "invalid",
               "we could not parse the JSON body of your request: %s at line %d, column %d", jerr.text,
               jerr.line, jerr.column);
    sg_request_error rerr;
    if (sg_completion_request_parse(c->body, &c->req, &rerr))
        REJECT(400, "invalid_request_error", rerr.param[0] ? rerr.param : NULL, NULL, "invalid", "%s",
               rerr.message);
    if (c->req.echo && c->req.logprobs >= 0)
        REJECT(400, "invalid_request_error", "echo", NULL, "invalid",
               "'echo' together with 'logprobs' is not supported");

    /* The policy. */
    char pwhy[400];
    /* An open incident suspending this audience or model: 403 naming the
     * incident, never its internal reason. */
    int64_t incident = sg_release_suspended(&c->pref->release, who->audience, c->req.model);
    if (incident)
        REJECT(403, "permission_denied", NULL, "suspended_by_incident", "403",
               "access is suspended by incident #%lld", (long long)incident);
    sg_policy_verdict v = sg_policy_decide(p, c->pref->stage, who->audience, c->req.model, pwhy, sizeof pwhy);
    if (v == SG_POLICY_DENY_UNKNOWN_MODEL)
        REJECT(404, "invalid_request_error", "model", "model_not_found", "404",
               "the model '%s' does not exist or you do not have access to it", c->req.model);
    if (v != SG_POLICY_ALLOW)
        REJECT(403, "permission_denied", "model", "model_not_released", "403", "%s", pwhy);
    const sg_policy_model *pm = sg_policy_find_model(p, c->req.model);
    sg_error *err = sg_models_get(srv->models, pm->name, pm->path, &c->model);
    if (err) {
        sg_log(SG_LOG_ERROR, "%s", sg_error_message(err));
        sg_error_free(err);
        REJECT(503, "server_error", "model", "model_unavailable", "error",
               "the model '%s' could not be loaded", c->req.model);
    }
    const sg_model_entry *m = c->model;

    /* The safety controls on the prompts (server/guard.h), as the stage
     * enables them: block, hard-coded response, redaction, flag. Prompts given
     * as token ids are decoded and checked the same way. */
    const sg_guard *guard = c->pref->shared->guard;
    for (int i = 0; i < c->req.n_prompts; i++) {
        sg_prompt *pr = &c->req.prompts[i];
        char *decoded = NULL;
        size_t tlen = pr->text_len;
        if (!pr->text) {
            err = sg_tokenizer_decode(m->tokenizer, pr->ids, pr->n_ids, &decoded, &tlen);
            if (err) {
                char msg[300];
                snprintf(msg, sizeof msg, "%s", sg_error_message(err));
                sg_error_free(err);
                REJECT(400, "invalid_request_error", "prompt", NULL, "invalid", "prompt %d: %s", i, msg);
            }
        }
        sg_guard_input gi;
        err = sg_guard_check_input(guard, p, c->pref->stage, pr->text ? pr->text : decoded, tlen, &gi);
        free(decoded);
        if (err) {
            sg_log(SG_LOG_ERROR, "%s", sg_error_message(err));
            sg_error_free(err);
            REJECT(500, "server_error", NULL, NULL, "error", "the content filter failed");
        }
        size_t l = strlen(c->reason);
        if (gi.flagged[0])
            snprintf(c->reason + l, sizeof c->reason - l, "%sprompt %d flagged: %s", l ? "; " : "", i,
                     gi.flagged);
        if (gi.verdict == SG_VERDICT_BLOCK) {
            sg_guard_input_clear(&gi);
            REJECT(400, "invalid_request_error", "prompt", "content_filter", "filtered",
                   "the prompt was refused by the content filter (category '%s')", gi.category);
        }
        if (gi.verdict == SG_VERDICT_HARDCODED) {
            respond_hardcoded(c, req, gi.response, gi.category);
            sg_guard_input_clear(&gi);
            goto out;
        }
        if (gi.verdict == SG_VERDICT_REDACT) {
            c->redacted[i] = gi.text;
            gi.text = NULL;
            free(pr->ids);
            pr->ids = NULL;
            pr->n_ids = 0;
            pr->text = c->redacted[i];
            pr->text_len = gi.text_len;
            l = strlen(c->reason);
            snprintf(c->reason + l, sizeof c->reason - l, "%sprompt %d redacted (category '%s')",
                     l ? "; " : "", i, gi.category);
        }
        sg_guard_input_clear(&gi);
    }
    c->output_filter =
        sg_guard_output_on(p, c->pref->stage) && sg_filter_n_categories(sg_guard_filter(guard)) > 0;

    /* Prompts into token ids. */
    int np = c->req.n_prompts;
    c->prompt_ids = calloc((size_t)np, sizeof *c->prompt_ids);
    c->prompt_n = calloc((size_t)np, sizeof *c->prompt_n);
    if (!c->prompt_ids || !c->prompt_n) REJECT(500, "server_error", NULL, NULL, "error", "out of memory");
    for (int i = 0; i < np; i++) {
        sg_prompt *pr = &c->req.prompts[i];
        if (pr->text) {
            if (pr->text_len == 0) {
                if (m->eot < 0)
                    REJECT(400, "invalid_request_error", "prompt", NULL, "invalid", "the prompt is empty");
                c->prompt_ids[i] = malloc(sizeof(int));
                if (!c->prompt_ids[i]) REJECT(500, "server_error", NULL, NULL, "error", "out of memory");
                c->prompt_ids[i][0] = m->eot;
                c->prompt_n[i] = 1;
            } else {
                err = sg_tokenizer_encode(m->tokenizer, pr->text, pr->text_len, 0, &c->prompt_ids[i],
                                          &c->prompt_n[i]);
                if (err) {
                    char msg[300];
                    snprintf(msg, sizeof msg, "%s", sg_error_message(err));
                    sg_error_free(err);
                    REJECT(400, "invalid_request_error", "prompt", NULL, "invalid",
                           "cannot tokenize the prompt: %s", msg);
                }
            }
        } else {
            for (int k = 0; k < pr->n_ids; k++)
                if (pr->ids[k] >= m->vocab_size)
                    REJECT(400, "invalid_request_error", "prompt", NULL, "invalid",
                           "token %d of prompt %d is %d, outside the vocabulary of %d tokens", k, i,
                           pr->ids[k], m->vocab_size);
            c->prompt_ids[i] = malloc((size_t)pr->n_ids * sizeof(int));
            if (!c->prompt_ids[i]) REJECT(500, "server_error", NULL, NULL, "error", "out of memory");
            memcpy(c->prompt_ids[i], pr->ids, (size_t)pr->n_ids * sizeof(int));
            c->prompt_n[i] = pr->n_ids;
        }
        if (c->prompt_n[i] + c->req.max_tokens > m->n_ctx)
            REJECT(400, "invalid_request_error", "max_tokens", "context_length_exceeded", "invalid",
                   "this model's maximum context length is %d tokens, however you requested %d tokens (%d in "
                   "the "
                   "prompt, %d for the completion)",
                   m->n_ctx, c->prompt_n[i] + c->req.max_tokens, c->prompt_n[i], c->req.max_tokens);
    }
    c->n_choices = np * c->req.n;
    if (c->n_choices > sg_sched_capacity(m->sched))
        REJECT(400, "invalid_request_error", "n", NULL, "invalid",
               "this request asks for %d completions but the server runs at most %d at once", c->n_choices,
               sg_sched_capacity(m->sched));
    for (int i = 0; i < np; i++) c->prompt_tokens += (long)c->prompt_n[i] * c->req.n;
    c->reserved = c->prompt_tokens + (long)c->req.max_tokens * c->n_choices;

    /* Rate limits: reserve everything this request may use. */
    int64_t rpm, tpm;
    limits_for(c->pref, who, &rpm, &tpm);
    sg_ratelimit_status st = {0};
    sg_rl_decision d;
    char cwhy[200] = "";
    if (c->caller) {
        int r = c->caller->reserve(c->caller->ctx, c->caller->keys, c->reserved, &st.retry_after_s, cwhy,
                                   sizeof cwhy);
        d = r == 0 ? SG_RL_ADMITTED : r == 1 ? SG_RL_LIMITED : SG_RL_TOO_LARGE;
    } else {
        d = sg_ratelimit_reserve(srv->ratelimit, who->key_id, rpm, tpm, c->reserved, &st);
        add_ratelimit_headers(req, &st);
    }
    if (d != SG_RL_ADMITTED && c->caller) {
        c->reserved = 0;
        sg_metrics_rate_limited(srv->metrics, who->audience);
        if (d == SG_RL_LIMITED)
            sg_http_add_header(req, "retry-after", "%lld",
                               (long long)sg_retry_after_seconds(st.retry_after_s));
        REJECT(429, "tokens", NULL, "rate_limit_exceeded", "429", "%s", cwhy);
    }
    if (d != SG_RL_ADMITTED) {
        c->reserved = 0;
        sg_metrics_rate_limited(srv->metrics, who->audience);
        if (d == SG_RL_TOO_LARGE)
            REJECT(
                429, "tokens", NULL, "rate_limit_exceeded", "429",
                "request too large for %s: it needs %ld tokens (prompt + max_tokens) but the limit is %lld "
                "tokens per minute",
                c->req.model, c->prompt_tokens + (long)c->req.max_tokens * c->n_choices, (long long)tpm);
        int64_t ra = sg_retry_after_seconds(st.retry_after_s);
        sg_http_add_header(req, "retry-after", "%lld", (long long)ra);
        int on_requests = st.limit_requests && st.remaining_requests < 1;
        REJECT(429, on_requests ? "requests" : "tokens", NULL, "rate_limit_exceeded", "429",
               "rate limit reached for key %lld on %s: limit %lld, remaining %lld, requested %ld; please try "
               "again "
               "in %llds",
               (long long)who->key_id, on_requests ? "requests per min (RPM)" : "tokens per min (TPM)",
               (long long)(on_requests ? st.limit_requests : st.limit_tokens),
               (long long)(on_requests ? st.remaining_requests : st.remaining_tokens),
               on_requests   ? 1L
               : c->reserved ? c->reserved
                             : c->prompt_tokens + (long)c->req.max_tokens * c->n_choices,
               (long long)ra);
    }

    /* The job: prompts x n sequences. */
    c->job = sg_job_new(c->n_choices, srv->request_timeout_s);
    c->choices = calloc((size_t)c->n_choices, sizeof *c->choices);
    uint64_t seed =
        c->req.has_seed ? c->req.seed : randombytes_random() | ((uint64_t)randombytes_random() << 32);
    for (int i = 0; c->job && c->choices && i < c->n_choices; i++) {
        sg_generation_params gp = {0};
        gp.max_tokens = c->req.max_tokens;
        gp.sampling.temperature = (float)c->req.temperature;
        gp.sampling.top_k = 0;
        gp.sampling.top_p = (float)c->req.top_p;
        gp.sampling.seed = seed + (uint64_t)(i % c->req.n);
        gp.eot_token = m->eot;
        gp.logprobs = c->req.logprobs > 0 ? c->req.logprobs : 0;
        err = sg_job_set_seq(c->job, i, c->prompt_ids[i / c->req.n], c->prompt_n[i / c->req.n], &gp);
        if (err) {
            sg_error_free(err);
            break;
        }
    }
    int wm_on = sg_guard_watermark_on(p, c->pref->stage);
    for (int i = 0; c->job && c->choices && i < c->n_choices; i++) {
        if (wm_on) sg_job_set_processor(c->job, i, sg_watermark_processor(srv->wm));
        if (c->output_filter && (err = sg_filter_stream_new(sg_guard_filter(guard), &c->choices[i].fs))) {
            sg_log(SG_LOG_ERROR, "output filter: %s", sg_error_message(err));
            sg_error_free(err);
            sg_job_release(c->job);
            c->job = NULL;
        }
    }
    if (!c->job || !c->choices) {
        refund(c, c->reserved);
        REJECT(500, "server_error", NULL, NULL, "error", "out of memory");
    }
    new_completion_id(c);

    double t_submit = sg_monotonic_s();
    sg_submit_result sr = sg_sched_submit(m->sched, c->job);
    if (sr != SG_SUBMIT_OK) {
        refund(c, c->reserved);
        sg_http_add_header(req, "retry-after", "1");
        REJECT(503, "server_error", NULL, "overloaded", "503",
               sr == SG_SUBMIT_QUEUE_FULL
                   ? "the server is overloaded: the queue for '%s' is full, retry shortly"
                   : "the server is shutting down (model '%s')",
               c->req.model);
    }

    if (c->req.stream) {
        sg_http_respond_stream(req, 200, "text/event-stream", stream_read, stream_done, c);
        return; /* c now belongs to the stream */
    }
    int w = wait_job(c);
    double t_generated = sg_monotonic_s();
    if (w == 2) { /* the client left: cancel, refund, record */
        finalize(c, "cancelled", 499);
        sg_http_respond_error(req, 499, "invalid_request_error", NULL, NULL, "client closed the request");
        goto out;
    }
    if (w == 1) {
        finalize(c, "timeout", 504);
        sg_http_respond_error(req, 504, "timeout", NULL, "timeout",
                              "the completion did not finish within %g s", srv->request_timeout_s);
        goto out;
    }
    if (c->output_filter) { /* the same stream filter over the whole text */
        for (int i = 0; i < c->n_choices; i++) {
            choice_state *ch = &c->choices[i];
            bytes piece = {0};
            char ignore = 0;
            filter_piece(c, ch, ch->text.len, 1, &piece, &ignore);
            free(ch->text.buf);
            ch->text = piece;
        }
    }
    finalize(c, "allowed", 200);
    json_t *o = envelope(c);
    json_object_set_new(o, "choices", choices_json(c));
    json_object_set_new(o, "usage", usage_json(c));
    /* The gateway's own share (auth, policy, rate limit, tokenizing, audit,
     * JSON) apart from waiting for the batch: what bench_server.sh reports. */
    double gen = t_generated - t_submit, total = sg_monotonic_s() - c->t0;
    sg_http_add_header(req, "server-timing", "gateway;dur=%.3f, generate;dur=%.3f", (total - gen) * 1e3,
                       gen * 1e3);
    sg_http_respond_json(req, 200, o);
#undef REJECT
out:
    completion_free(c);
}

static void handle_models(sg_server *srv, sg_http_request *req) {
    double t0 = sg_monotonic_s();
    policy_ref *pref = policy_acquire(srv);
    const sg_policy *p = pref->policy;
    sg_principal who;
    if (authenticate(srv, req, pref, t0, &who)) {
        int64_t rpm, tpm;
        limits_for(pref, &who, &rpm, &tpm);
        sg_ratelimit_status st;
        sg_ratelimit_peek(srv->ratelimit, who.key_id, rpm, tpm, &st);
        add_ratelimit_headers(req, &st);
        json_t *data = json_array();
        for (int i = 0; i < p->n_models; i++) {
            if (sg_policy_decide(p, pref->stage, who.audience, p->models[i].name, NULL, 0) !=
                    SG_POLICY_ALLOW ||
                sg_release_suspended(&pref->release, who.audience, p->models[i].name))
                continue;
            json_t *m = json_object();
            json_object_set_new(m, "id", json_string(p->models[i].name));
            json_object_set_new(m, "object", json_string("model"));
            json_object_set_new(m, "created", json_integer(0));
            json_object_set_new(m, "owned_by", json_string(p->model_name ? p->model_name : "stagegate"));
            json_array_append_new(data, m);
        }
        json_t *o = json_object();
        json_object_set_new(o, "object", json_string("list"));
        json_object_set_new(o, "data", data);
        sg_http_respond_json(req, 200, o);
        sg_metrics_request(srv->metrics, 200, who.audience, 0, 0, sg_monotonic_s() - t0);
    }
    policy_release(srv, pref);
}

/* GET /v1/system-card, /v1/cards/MODEL, /v1/datasheets/MODEL: the release
 * documents (eval/cards.h), served as the current stage releases their
 * component group (cards: risk_analysis; datasheet: replication):
 * fully_closed -> 403; gradual, hosted, api -> a key of an audience the
 * stage serves; downloadable, fully_open -> anyone. */
static void handle_document(sg_server *srv, sg_http_request *req, const char *kind, const char *model) {
    double t0 = sg_monotonic_s();
    policy_ref *pref = policy_acquire(srv);
    const sg_policy *p = pref->policy;
    sg_component group = !strcmp(kind, "datasheet") ? SG_COMPONENT_REPLICATION : SG_COMPONENT_RISK_ANALYSIS;
    sg_access_level level = sg_policy_component_level(p, pref->stage, group);
    sg_principal who;
    char *text = NULL;
    sg_error *err = NULL;
    if (level == SG_ACCESS_FULLY_CLOSED) {
        sg_http_respond_error(req, 403, "permission_denied", NULL, "not_released",
                              "the %s component is not released at stage '%s'", sg_component_name(group),
                              stage_name(pref));
        goto out;
    }
    if (level < SG_ACCESS_DOWNLOADABLE) {
        if (!authenticate(srv, req, pref, t0, &who)) goto out;
        int64_t incident = sg_release_suspended(&pref->release, who.audience, NULL);
        if (!sg_policy_audience_at(p, pref->stage, who.audience) || incident) {
            char why[256];
            if (incident)
                snprintf(why, sizeof why, "access is suspended by incident #%lld", (long long)incident);
            else
                snprintf(why, sizeof why, "the %s component is not released to audience '%s' at stage '%s'",
                         sg_component_name(group), who.audience, stage_name(pref));
            sg_http_respond_error(req, 403, "permission_denied", NULL,
                                  incident ? "suspended_by_incident" : "not_released", "%s", why);
            record(srv, &who, model, stage_name(pref), "403", why, 0, 0, t0, 403, NULL, NULL,
                   SG_AUDIT_TEXT_NONE);
            goto out;
        }
    }
    if (model && !sg_policy_find_model(p, model)) {
        sg_http_respond_error(req, 404, "invalid_request_error", "model", "model_not_found",
                              "the model '%s' does not exist", model);
        goto out;
    }
    if (!strcmp(kind, "system-card"))
        err = sg_card_system(srv->store, p, &text);
    else if (!strcmp(kind, "card"))
        err = sg_card_model(srv->store, p, model, &text);
    else
        err = sg_card_datasheet(srv->store, p, model, &text);
    if (err) {
        sg_log(SG_LOG_ERROR, "%s: %s", req->path, sg_error_message(err));
        sg_error_free(err);
        sg_http_respond_error(req, 500, "server_error", NULL, NULL, "the document could not be generated");
        goto out;
    }
    sg_http_respond_text(req, 200, "text/markdown; charset=utf-8", text);
out:
    free(text);
    policy_release(srv, pref);
}

/* POST /v1/moderations, /v1/detect, /v1/flags: authenticated, then the
 * guard module (server/guard.h) answers as the current stage allows. */
void sg_server_guard(sg_server *srv, sg_http_request *req, const sg_principal *as) {
    double t0 = sg_monotonic_s();
    policy_ref *pref = policy_acquire(srv);
    sg_principal who;
    if (as) who = *as;
    if (as || authenticate(srv, req, pref, t0, &who)) {
        sg_guard_ctx ctx = {.guard = pref->shared->guard,
                            .policy = pref->policy,
                            .stage = pref->stage,
                            .stage_name = stage_name(pref),
                            .who = &who,
                            .store = srv->store,
                            .keys = srv->keys,
                            .models = srv->models,
                            .wm = srv->wm};
        int64_t incident = sg_release_suspended(&pref->release, who.audience, NULL);
        if (incident)
            sg_http_respond_error(req, 403, "permission_denied", NULL, "suspended_by_incident",
                                  "access is suspended by incident #%lld", (long long)incident);
        else if (!strcmp(req->path, "/v1/moderations"))
            sg_guard_moderations(&ctx, req);
        else if (!strcmp(req->path, "/v1/detect"))
            sg_guard_detect(&ctx, req);
        else
            sg_guard_flag(&ctx, req);
        sg_metrics_request(srv->metrics, req->status, who.audience, 0, 0, sg_monotonic_s() - t0);
    }
    policy_release(srv, pref);
}

static void handle(void *ctx, sg_http_request *req) {
    sg_server *srv = ctx;
    int get = !strcmp(req->method, "GET"), post = !strcmp(req->method, "POST");
    if (!strcmp(req->path, "/v1/completions")) {
        if (post) return sg_server_complete(srv, req, NULL);
    } else if (!strcmp(req->path, "/v1/models")) {
        if (get) return handle_models(srv, req);
    } else if (!strcmp(req->path, "/v1/moderations") || !strcmp(req->path, "/v1/detect") ||
               !strcmp(req->path, "/v1/flags")) {
        if (post) return sg_server_guard(srv, req, NULL);
    } else if (!strcmp(req->path, "/v1/system-card") || !strncmp(req->path, "/v1/cards/", 10) ||
               !strncmp(req->path, "/v1/datasheets/", 15)) {
        if (get) {
            if (!strcmp(req->path, "/v1/system-card")) return handle_document(srv, req, "system-card", NULL);
            if (!strncmp(req->path, "/v1/cards/", 10))
                return handle_document(srv, req, "card", req->path + 10);
            return handle_document(srv, req, "datasheet", req->path + 15);
        }
    } else if (!strcmp(req->path, "/healthz")) {
        if (get) {
            policy_ref *pref = policy_acquire(srv);
            json_t *o = json_object();
            json_object_set_new(o, "status", json_string("ok"));
            json_object_set_new(o, "stage", json_string(stage_name(pref)));
            policy_release(srv, pref);
            return sg_http_respond_json(req, 200, o);
        }
    } else if (sg_demo_route(req->path)) {
        policy_ref *pref = policy_acquire(srv);
        sg_demo_ctx ctx = {.srv = srv,
                           .policy = pref->policy,
                           .stage = pref->stage,
                           .stage_name = stage_name(pref),
                           .release = &pref->release,
                           .models = srv->models,
                           .store = srv->store};
        sg_demo_handle(srv->demo, &ctx, req);
        policy_release(srv, pref);
        return;
    } else if (!strcmp(req->path, "/metrics")) {
        if (get) {
            char *text = sg_metrics_render(srv->metrics);
            sg_http_respond_text(req, 200, "text/plain; version=0.0.4", text ? text : "");
            free(text);
            return;
        }
    } else {
        return sg_http_respond_error(req, 404, "invalid_request_error", NULL, "not_found",
                                     "unknown URL %s %s", req->method, req->path);
    }
    int post_only = !strcmp(req->path, "/v1/completions") || !strcmp(req->path, "/v1/moderations") ||
                    !strcmp(req->path, "/v1/detect") || !strcmp(req->path, "/v1/flags");
    sg_http_add_header(req, "allow", "%s", post_only ? "POST" : "GET");
    sg_http_respond_error(req, 405, "invalid_request_error", NULL, "method_not_allowed",
                          "%s is not allowed on %s", req->method, req->path);
}

/* ---- lifecycle ---------------------------------------------------------------- */

static sg_error *load_policy(const char *path, shared_policy **out) {
    sg_policy *p;
    sg_error *err = sg_policy_load(path, &p);
    if (err) return err;
    for (int i = 0; i < p->n_warnings; i++) sg_warn("%s", p->warnings[i]);
    shared_policy *sp = calloc(1, sizeof *sp);
    if (!sp) {
        sg_policy_free(p);
        return sg_error_new("out of memory");
    }
    sp->policy = p;
    sp->refs = 0;
    if ((err = sg_guard_new(p, &sp->guard))) {
        sg_policy_free(p);
        free(sp);
        return err;
    }
    *out = sp;
    return NULL;
}

/* A new ref over `sp` with the release state read from the store now. */
static sg_error *make_ref(sg_server *s, shared_policy *sp, policy_ref **out) {
    policy_ref *r = calloc(1, sizeof *r);
    if (!r) return sg_error_new("out of memory");
    sg_error *err = sg_release_state_load(s->store, sp->policy, &r->release);
    if (err) {
        free(r);
        return sg_error_wrap(err, "reading the release state");
    }
    r->policy = sp->policy;
    r->shared = sp;
    r->stage = r->release.stage;
    r->refs = 1;
    pthread_mutex_lock(&s->policy_mu);
    sp->refs++;
    pthread_mutex_unlock(&s->policy_mu);
    *out = r;
    return NULL;
}

/* Makes `r` the ref new requests get; with `expected`, only if that is still
 * the installed one (a reload in between wins), else `r` is dropped. */
static void install_ref_if(sg_server *s, policy_ref *r, const policy_ref *expected) {
    pthread_mutex_lock(&s->policy_mu);
    policy_ref *old = s->policy;
    int ok = !expected || old == expected;
    if (ok) s->policy = r;
    pthread_mutex_unlock(&s->policy_mu);
    if (!ok)
        policy_release(s, r);
    else if (old)
        policy_release(s, old);
}
static void install_ref(sg_server *s, policy_ref *r) { install_ref_if(s, r, NULL); }

/* The watcher: every 100 ms reads the release version (one indexed row);
 * when a stage move or an incident changed it, installs a new ref, so the
 * change applies to the next request, without restart. Also writes the
 * monitoring report each monitoring_frequency period into DB.reports/. */
#define WATCH_INTERVAL_MS 100
static void *watch(void *arg) {
    sg_server *s = arg;
    pthread_mutex_lock(&s->watch_mu);
    while (!s->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += WATCH_INTERVAL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&s->watch_cv, &s->watch_mu, &until);
        if (s->stopping) break;
        pthread_mutex_unlock(&s->watch_mu);
        policy_ref *cur = policy_acquire(s);
        int64_t version = 0;
        sg_error *err = sg_store_release_version(s->store, &version);
        if (!err && version != cur->release.version) {
            policy_ref *r = NULL;
            if (!(err = make_ref(s, cur->shared, &r))) {
                if (r->stage != cur->stage) sg_info("release stage is now '%s'", stage_name(r));
                sg_info("release state applied (version %lld, %zu open incident%s)",
                        (long long)r->release.version, r->release.n_incidents,
                        r->release.n_incidents == 1 ? "" : "s");
                install_ref_if(s, r, cur);
            }
        }
        if (err) {
            sg_log(SG_LOG_ERROR, "release watcher: %s", sg_error_message(err));
            sg_error_free(err);
        }
        double now = sg_monotonic_s();
        if (s->db_path && now >= s->next_report_s) {
            s->next_report_s = now + (double)sg_report_period_ms(cur->policy->monitoring_frequency) / 1000.0;
            char *dir = sg_report_dir(s->db_path);
            err = dir ? sg_report_write(s->store, cur->policy, dir, sg_now_ms())
                      : sg_error_new("out of memory");
            if (err) {
                sg_log(SG_LOG_ERROR, "monitoring report: %s", sg_error_message(err));
                sg_error_free(err);
            } else {
                sg_info("monitoring report written to %s", dir);
            }
            free(dir);
        }
        policy_release(s, cur);
        pthread_mutex_lock(&s->watch_mu);
    }
    pthread_mutex_unlock(&s->watch_mu);
    return NULL;
}

sg_error *sg_server_start(const sg_server_options *o, sg_server **out) {
    if (sodium_init() < 0) return sg_error_new("libsodium failed to initialise");
    sg_server *s = calloc(1, sizeof *s);
    if (!s) return sg_error_new("out of memory");
    pthread_mutex_init(&s->policy_mu, NULL);
    pthread_mutex_init(&s->watch_mu, NULL);
    pthread_cond_init(&s->watch_cv, NULL);
    s->policy_path = strdup(o->policy_path);
    s->db_path = strdup(o->db_path);
    shared_policy *sp = NULL;
    policy_ref *r = NULL;
    sg_error *err = load_policy(o->policy_path, &sp);
    char *key_path = NULL;
    if (!err) err = sg_store_open(o->db_path, &s->store);
    if (!err && !(err = make_ref(s, sp, &r))) install_ref(s, r);
    if (sp && !r) {
        sg_guard_free(sp->guard);
        sg_policy_free(sp->policy);
        free(sp);
    }
    if (!err) {
        key_path = sg_keys_key_path(o->db_path);
        err = key_path ? sg_keys_open(s->store, key_path, &s->keys) : sg_error_new("out of memory");
        free(key_path);
    }
    if (!err) err = sg_ratelimit_new(NULL, NULL, &s->ratelimit);
    if (!err) {
        key_path = sg_keys_key_path(o->db_path);
        err = key_path ? sg_demo_new(key_path, &s->demo) : sg_error_new("out of memory");
        free(key_path);
    }
    if (!err) {
        unsigned char wkey[SG_WATERMARK_KEY_BYTES];
        err = sg_watermark_key_from_db(o->db_path, wkey, NULL);
        if (!err) err = sg_watermark_new(wkey, SG_GUARD_WM_GAMMA, SG_GUARD_WM_DELTA, &s->wm);
        sodium_memzero(wkey, sizeof wkey);
    }
    if (!err) {
        const sg_policy *p = s->policy->policy;
        s->metrics = sg_metrics_new();
        s->models = sg_models_new(p->max_batch, p->queue_size, s->metrics);
        s->request_timeout_s = p->request_timeout_s;
        /* the first report after one whole period of serving */
        s->next_report_s = sg_monotonic_s() + (double)sg_report_period_ms(p->monitoring_frequency) / 1000.0;
        if (!s->metrics || !s->models) err = sg_error_new("out of memory");
        if (!err)
            err =
                sg_http_start(o->host, o->port, (size_t)(p->max_body_bytes > 0 ? p->max_body_bytes : 1 << 20),
                              handle, s, &s->http);
    }
    if (!err) {
        if (pthread_create(&s->watcher, NULL, watch, s))
            err = sg_error_new("cannot start the release watcher thread");
        else
            s->watcher_running = 1;
    }
    if (err) {
        sg_server_stop(s);
        return err;
    }
    *out = s;
    return NULL;
}

int sg_server_port(const sg_server *s) { return sg_http_port(s->http); }

sg_error *sg_server_reload(sg_server *s) {
    shared_policy *sp = NULL;
    policy_ref *r = NULL;
    sg_error *err = load_policy(s->policy_path, &sp);
    if (!err && (err = make_ref(s, sp, &r))) {
        sg_guard_free(sp->guard);
        sg_policy_free(sp->policy);
        free(sp);
    }
    if (err) return sg_error_wrap(err, "policy reload refused, the running policy stays");
    install_ref(s, r);
    sg_info("policy reloaded from %s: current stage '%s'", s->policy_path, stage_name(r));
    return NULL;
}

void sg_server_stop(sg_server *s) {
    if (!s) return;
    pthread_mutex_lock(&s->watch_mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->watch_cv);
    pthread_mutex_unlock(&s->watch_mu);
    if (s->watcher_running) pthread_join(s->watcher, NULL);
    sg_http_stop(s->http); /* waits for connection threads: no request is in flight after this */
    sg_models_free(s->models);
    sg_metrics_free(s->metrics);
    sg_ratelimit_free(s->ratelimit);
    sg_demo_free(s->demo);
    sg_watermark_free(s->wm);
    sg_keys_close(s->keys);
    sg_store_close(s->store);
    if (s->policy) policy_release(s, s->policy);
    pthread_mutex_destroy(&s->policy_mu);
    pthread_mutex_destroy(&s->watch_mu);
    pthread_cond_destroy(&s->watch_cv);
    free(s->policy_path);
    free(s->db_path);
    free(s);
}
