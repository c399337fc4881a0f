/* demo.c — the hosted web demo's routes (see demo.h). */
#include "server/demo.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access/demo_budget.h"
#include "access/demo_session.h"
#include "base/buf.h"
#include "base/log.h"
#include "eval/cards.h"
#include "release/policy_demo.h"
#include "server/api.h"
#include "server/guard.h"
#include "server/web_assets.h"

#define COOKIE "sg_demo"
#define SESSION_MAX_AGE_MS (24LL * 3600 * 1000)
#define CHALLENGE_MAX_AGE_MS (120LL * 1000)
#define POW_BASE_BITS 12
#define REPLAY_SLOTS 4096
#define PROMPT_MAX 2000

/* Content-Security-Policy of every demo response: this origin only. */
static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                          "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

struct sg_demo {
    unsigned char key[SG_DEMO_KEY_BYTES];
    pthread_mutex_t mu;
    sg_demo_budget *budget;                 /* made on first use with the policy's max_sessions */
    sg_demo_limits limits;                  /* the policy's, refreshed per request */
    unsigned char replay[REPLAY_SLOTS][16]; /* digests of spent challenges (a ring) */
    int replay_next;
};

const sg_web_asset *sg_web_asset_find(const char *path) {
    for (int i = 0; i < sg_web_n_assets; i++)
        if (!strcmp(sg_web_assets[i].path, path)) return &sg_web_assets[i];
    return NULL;
}

sg_error *sg_demo_new(const char *key_path, sg_demo **out) {
    sg_demo *d = calloc(1, sizeof *d);
    if (!d) return sg_error_new("out of memory");
    sg_error *err = sg_demo_key_derive(key_path, d->key);
    if (err) {
        free(d);
        return err;
    }
    pthread_mutex_init(&d->mu, NULL);
    *out = d;
    return NULL;
}

void sg_demo_free(sg_demo *d) {
    if (!d) return;
    sodium_memzero(d->key, sizeof d->key);
    sg_demo_budget_free(d->budget);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

int sg_demo_route(const char *path) {
    return !strcmp(path, "/") || !strcmp(path, "/demo") || !strncmp(path, "/demo/", 6);
}

/* ---- what the page shows ------------------------------------------------ */

typedef struct {
    const sg_policy_demo *cfg;
    int open;          /* the stage has the demo (hosted or above, audience served) */
    int paused;        /* operator pause or an incident */
    int64_t incident;  /* the suspending incident, 0 = none */
    const char *model; /* the model offered: the first of demo.models the stage allows */
    int watermark, detection, flags;
    int stage_no, n_stages;
} view;

static void view_of(const sg_demo_ctx *ctx, view *v) {
    memset(v, 0, sizeof *v);
    const sg_policy *p = ctx->policy;
    v->cfg = p->demo;
    v->stage_no = ctx->stage + 1;
    v->n_stages = p->n_stages;
    if (!v->cfg) return;
    v->open = sg_policy_demo_at(p, ctx->stage);
    for (int i = 0; i < v->cfg->n_models && !v->model; i++)
        if (sg_policy_decide(p, ctx->stage, v->cfg->audience, v->cfg->models[i], NULL, 0) == SG_POLICY_ALLOW)
            v->model = v->cfg->models[i];
    if (!v->model) {
        v->open = 0;
        v->model = v->cfg->models[0];
    }
    v->incident = sg_release_suspended(ctx->release, v->cfg->audience, v->model);
    v->paused = v->cfg->paused || v->incident;
    v->watermark = sg_guard_watermark_on(p, ctx->stage);
    v->detection = sg_policy_protocol_enabled(p, ctx->stage, "detection");
    v->flags = sg_policy_protocol_enabled(p, ctx->stage, "user_feedback_loop");
}

/* The public text of a pause: the operator's notice and the incident's
 * number and severity, never its internal reason. */
static void paused_text(const sg_demo_ctx *ctx, const view *v, char *out, size_t n) {
    const char *notice = v->cfg->paused_notice
                             ? v->cfg->paused_notice
                             : "The demo is paused while the release team looks into a report.";
    const char *severity = "";
    for (size_t i = 0; v->incident && i < ctx->release->n_incidents; i++)
        if (ctx->release->incidents[i].id == v->incident) severity = ctx->release->incidents[i].severity;
    if (v->incident)
        snprintf(out, n, "%s (incident #%lld%s%s)", notice, (long long)v->incident,
                 *severity ? ", severity " : "", severity);
    else
        snprintf(out, n, "%s", notice);
}

static const char *access_words(sg_access_level a) {
    switch (a) {
    case SG_ACCESS_FULLY_CLOSED:
        return "closed";
    case SG_ACCESS_GRADUAL:
        return "gradual access";
    case SG_ACCESS_HOSTED:
        return "hosted access";
    case SG_ACCESS_API:
        return "API access";
    case SG_ACCESS_DOWNLOADABLE:
        return "downloadable";
    default:
        return "fully open";
    }
}

static long param_count(const sg_demo_ctx *ctx, const char *model) {
    const sg_policy_model *pm = sg_policy_find_model(ctx->policy, model);
    sg_model_entry *m = NULL;
    if (!pm) return 0;
    sg_error *err = sg_models_get(ctx->models, pm->name, pm->path, &m);
    if (err) {
        sg_error_free(err);
        return 0;
    }
    const sg_gpt2_config *c = &sg_checkpoint_weights(m->checkpoint)->config;
    long C = c->n_embd, I = c->n_inner;
    return (long)c->vocab_size * C + (long)c->n_ctx * C +
           c->n_layer * (4 * C + 3 * C * C + 3 * C + C * C + C + C * I + I + I * C + C) + 2 * C;
}

/* ---- small helpers -------------------------------------------------------- */

/* Appends whose first failure the buffer keeps (sg_buf_add): the caller checks once. */
static void puts_(sg_buf *o, const char *s) { sg_buf_add(o, s, strlen(s)); }
static void put_html(sg_buf *o, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            puts_(o, "&lt;");
            break;
        case '>':
            puts_(o, "&gt;");
            break;
        case '&':
            puts_(o, "&amp;");
            break;
        case '"':
            puts_(o, "&quot;");
            break;
        case '\'':
            puts_(o, "&#39;");
            break;
        default:
            sg_buf_add(o, s, 1);
        }
    }
}
static void printf_html(sg_buf *o, const char *fmt, ...) SG_PRINTF(2, 3);
static void printf_html(sg_buf *o, const char *fmt, ...) {
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put_html(o, tmp);
}

static void common_headers(sg_http_request *req) {
    sg_http_add_header(req, "content-security-policy", "%s", CSP);
    sg_http_add_header(req, "x-content-type-options", "nosniff");
    sg_http_add_header(req, "referrer-policy", "no-referrer");
}

static void respond_error(sg_http_request *req, int status, const char *code, const char *msg) {
    sg_http_add_header(req, "cache-control", "no-store");
    sg_http_respond_error(req, status, "invalid_request_error", NULL, code, "%s", msg);
}

/* The value of cookie `name` in the Cookie header, into out. */
static int cookie_get(const sg_http_request *req, const char *name, char *out, size_t n) {
    const char *h = sg_http_header_get(req, "Cookie");
    size_t nl = strlen(name);
    for (const char *p = h; p && *p;) {
        while (*p == ' ' || *p == ';') p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            size_t vl = len - nl - 1;
            if (vl >= n) return 0;
            memcpy(out, p + nl + 1, vl);
            out[vl] = 0;
            return 1;
        }
        p += len;
    }
    return 0;
}

/* State-changing routes: the Origin must be this server (scheme://Host). */
static int origin_ok(const sg_http_request *req) {
    const char *origin = sg_http_header_get(req, "Origin"), *host = sg_http_header_get(req, "Host");
    if (!origin || !host) return 0;
    const char *rest = !strncmp(origin, "http://", 7)    ? origin + 7
                       : !strncmp(origin, "https://", 8) ? origin + 8
                                                         : NULL;
    return rest && !strcasecmp(rest, host);
}

/* The valid session of this request at this stage, if any. */
static int session_of(sg_demo *d, const sg_demo_ctx *ctx, const sg_http_request *req, sg_demo_session *s) {
    char value[SG_DEMO_COOKIE_MAX + 8];
    if (!cookie_get(req, COOKIE, value, sizeof value)) return 0;
    if (!sg_demo_session_check(d->key, value, sg_now_ms(), SESSION_MAX_AGE_MS, s)) return 0;
    return s->stage == ctx->stage;
}

static uint64_t network_key(const sg_demo *d, const sg_http_request *req) {
    char net[64];
    sg_http_client_network(req, net);
    uint64_t k = 0;
    crypto_generichash((unsigned char *)&k, sizeof k, (const unsigned char *)net, strlen(net), d->key,
                       sizeof d->key);
    return k | 1;
}

/* ---- the budget, as the API pipeline's caller ------------------------------ */

static int budget_reserve(void *vd, const uint64_t keys[2], int64_t tokens, double *retry, char *why,
                          size_t n) {
    sg_demo *d = vd;
    pthread_mutex_lock(&d->mu);
    sg_demo_limits l = d->limits;
    pthread_mutex_unlock(&d->mu);
    sg_demo_budget_scope scope = SG_DEMO_BUDGET_SESSION;
    sg_rl_decision r = sg_demo_budget_reserve(d->budget, keys[0], keys[1], &l, tokens, retry, &scope);
    static const char *const names[] = {"this session's", "this network's", "the demo's",
                                        "the demo's session"};
    if (r == SG_RL_TOO_LARGE) {
        snprintf(why, n, "this request needs %lld tokens, more than %s budget holds", (long long)tokens,
                 names[scope]);
        return 2;
    }
    if (r == SG_RL_LIMITED) {
        snprintf(why, n, "%s token budget is used up for now; please try again in %llds", names[scope],
                 (long long)sg_retry_after_seconds(*retry));
        return 1;
    }
    return 0;
}

static void budget_refund(void *vd, const uint64_t keys[2], int64_t tokens) {
    sg_demo *d = vd;
    pthread_mutex_lock(&d->mu);
    sg_demo_limits l = d->limits;
    pthread_mutex_unlock(&d->mu);
    sg_demo_budget_refund(d->budget, keys[0], keys[1], &l, tokens);
}

static sg_error *refresh_limits(sg_demo *d, const sg_policy_demo *cfg) {
    sg_error *err = NULL;
    pthread_mutex_lock(&d->mu);
    d->limits = (sg_demo_limits){cfg->session_tpm, cfg->network_tpm, cfg->global_tpm};
    if (!d->budget) err = sg_demo_budget_new(cfg->max_sessions, NULL, NULL, &d->budget);
    pthread_mutex_unlock(&d->mu);
    return err;
}

static void caller_for(sg_demo *d, const view *v, uint64_t session, uint64_t network, sg_api_caller *c) {
    memset(c, 0, sizeof *c);
    c->who.key_id = -(int64_t)(session & INT64_MAX); /* demo sessions: negative audit keys, no key row */
    snprintf(c->who.name, sizeof c->who.name, "demo-%016llx", (unsigned long long)session);
    snprintf(c->who.audience, sizeof c->who.audience, "%s", v->cfg->audience);
    c->reserve = budget_reserve;
    c->refund = budget_refund;
    c->ctx = d;
    c->keys[0] = session;
    c->keys[1] = network;
}

/* ---- the page ---------------------------------------------------------------- */

typedef struct {
    const char *prompt, *output, *status, *error;
    sg_buf *receipt; /* HTML, or NULL */
    double temperature, top_p;
    int max_tokens;
} page_fill;

static void fmt_num(char *out, size_t n, double x) { snprintf(out, n, "%g", x); }

static sg_error *render_page(const sg_demo_ctx *ctx, const view *v, const page_fill *f, sg_buf *page) {
    const sg_web_asset *tpl = sg_web_asset_find("/index.html");
    if (!tpl) return sg_error_new("web/index.html is not in the binary");
    const sg_policy_demo *cfg = v->cfg;
    const sg_policy_stage *st = &ctx->policy->stages[ctx->stage];
    sg_buf notice, stage_line, reasons;
    sg_buf_init(&notice, 1 << 16);
    sg_buf_init(&stage_line, 1 << 12);
    sg_buf_init(&reasons, 1 << 14);
    long params = param_count(ctx, v->model);
    printf_html(&stage_line, "Stage %d of %d of the release (%s): %s", v->stage_no, v->n_stages,
                ctx->stage_name, access_words(st->components[SG_COMPONENT_MODEL]));
    puts_(&notice, "<ul>\n<li>Model: <strong>");
    put_html(&notice, v->model);
    puts_(&notice, "</strong>");
    if (params)
        printf_html(&notice, ", a GPT-2-architecture language model of %.1fM parameters",
                    (double)params / 1e6);
    puts_(&notice, "</li>\n<li>Release: ");
    put_html(&notice, stage_line.data);
    puts_(&notice, "</li>\n<li>Watermark: ");
    puts_(&notice, v->watermark
                       ? "on. Every output carries a statistical watermark that this server can detect."
                       : "off at this stage.");
    puts_(&notice, "</li>\n");
    if (cfg->intended_use) {
        puts_(&notice, "<li>What it is for: ");
        put_html(&notice, cfg->intended_use);
        puts_(&notice, "</li>\n");
    }
    if (cfg->not_for) {
        puts_(&notice, "<li>What it is not for: ");
        put_html(&notice, cfg->not_for);
        puts_(&notice, "</li>\n");
    }
    if (st->components[SG_COMPONENT_RISK_ANALYSIS] >= SG_ACCESS_HOSTED)
        puts_(&notice, "<li><a href=\"/demo/card\">The model card</a> (released at this stage)</li>\n");
    puts_(&notice, "<li>What you type and what the model writes are logged for safety review.</li>\n</ul>\n");
    for (int i = 0; i < cfg->n_flag_reasons; i++) {
        puts_(&reasons, "<option>");
        put_html(&reasons, cfg->flag_reasons[i]);
        puts_(&reasons, "</option>");
    }
    char ptext[600];
    paused_text(ctx, v, ptext, sizeof ptext);
    char title[200], t_min[32], t_max[32], t_def[32], m_min[32], m_max[32], m_def[32], p_min[32], p_max[32],
        p_def[32], form_max[32];
    snprintf(title, sizeof title, "%s demo", v->model);
    fmt_num(t_min, sizeof t_min, cfg->temperature.min);
    fmt_num(t_max, sizeof t_max, cfg->temperature.max);
    fmt_num(t_def, sizeof t_def, f->temperature);
    fmt_num(m_min, sizeof m_min, cfg->max_tokens.min);
    fmt_num(m_max, sizeof m_max, cfg->max_tokens.max);
    fmt_num(m_def, sizeof m_def, (double)f->max_tokens);
    fmt_num(p_min, sizeof p_min, cfg->top_p.min);
    fmt_num(p_max, sizeof p_max, cfg->top_p.max);
    fmt_num(p_def, sizeof p_def, f->top_p);
    snprintf(form_max, sizeof form_max, "%d", cfg->form_max_tokens);
    const char *state = !v->open ? "closed" : v->paused ? "paused" : "open";
    const char *hidden = "hidden", *shown = "";
    int has_result = f->output || (f->receipt && f->receipt->len);
    char closed_text[300];
    snprintf(closed_text, sizeof closed_text,
             "The demo is not open at the current stage of the release (%s).", ctx->stage_name);
    struct {
        const char *key, *value;
        int raw; /* already HTML */
    } fills[] = {
        {"title", title, 0},
        {"state", state, 0},
        {"model", v->model, 0},
        {"stage_line", stage_line.data ? stage_line.data : "", 1},
        {"notice", notice.data ? notice.data : "", 1},
        {"paused_hidden", v->open && !v->paused ? hidden : (v->open ? shown : shown), 1},
        {"paused_text", v->open ? ptext : closed_text, 0},
        {"open_hidden", v->open && !v->paused ? shown : hidden, 1},
        {"prompt", f->prompt ? f->prompt : "", 0},
        {"t_min", t_min, 0},
        {"t_max", t_max, 0},
        {"t_def", t_def, 0},
        {"m_min", m_min, 0},
        {"m_max", m_max, 0},
        {"m_def", m_def, 0},
        {"p_min", p_min, 0},
        {"p_max", p_max, 0},
        {"p_def", p_def, 0},
        {"status", f->status ? f->status : "", 0},
        {"error", f->error ? f->error : "", 0},
        {"result_hidden", has_result && v->open && !v->paused ? shown : hidden, 1},
        {"output", f->output ? f->output : "", 0},
        {"receipt", f->receipt && f->receipt->data ? f->receipt->data : "", 1},
        {"reasons", reasons.data ? reasons.data : "", 1},
        {"check_hidden", v->open && !v->paused && v->detection ? shown : hidden, 1},
        {"form_max", form_max, 0},
        {"disclaimer", cfg->disclaimer ? cfg->disclaimer : "", 0},
    };
    sg_buf *o = page;
    sg_error *unknown = NULL;
    const char *s = (const char *)tpl->data, *e = s + tpl->len;
    while (s < e) {
        const char *m = strstr(s, "{{");
        if (!m) {
            sg_buf_add(o, s, (size_t)(e - s));
            break;
        }
        sg_buf_add(o, s, (size_t)(m - s));
        const char *close = strstr(m, "}}");
        if (!close) {
            sg_buf_add(o, m, (size_t)(e - m));
            break;
        }
        size_t kl = (size_t)(close - m - 2);
        int found = 0;
        for (size_t i = 0; i < sizeof fills / sizeof fills[0]; i++)
            if (strlen(fills[i].key) == kl && !strncmp(fills[i].key, m + 2, kl)) {
                if (fills[i].raw)
                    puts_(o, fills[i].value);
                else
                    put_html(o, fills[i].value);
                found = 1;
            }
        if (!found && !unknown)
            unknown = sg_error_new("web/index.html: unknown field {{%.*s}}", (int)kl, m + 2);
        s = close + 2;
    }
    sg_error *err = unknown;
    sg_buf *parts[] = {page, &notice, &stage_line, &reasons};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (!err)
            err = parts[i]->deferred;
        else
            sg_error_free(parts[i]->deferred);
        parts[i]->deferred = NULL;
    }
    sg_buf_free(&notice);
    sg_buf_free(&stage_line);
    sg_buf_free(&reasons);
    return err;
}

/* Sends a rendered page with an ETag of its bytes (304 when unchanged). */
static void send_page(sg_http_request *req, int status, sg_buf *page) {
    unsigned char h[12];
    char etag[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)page->data, page->len, NULL, 0);
    etag[0] = '"';
    sodium_bin2hex(etag + 1, 25, h, sizeof h);
    strcat(etag, "\"");
    common_headers(req);
    sg_http_add_header(req, "cache-control", "no-cache");
    sg_http_add_header(req, "etag", "%s", etag);
    const char *inm = sg_http_header_get(req, "If-None-Match");
    if (status == 200 && inm && !strcmp(inm, etag)) {
        sg_http_respond_static(req, 304, NULL, "", 0);
        return;
    }
    sg_http_respond_text(req, status, "text/html; charset=utf-8", page->data ? page->data : "");
}

static void serve_page(const sg_demo_ctx *ctx, const view *v, sg_http_request *req, const page_fill *f,
                       int status) {
    sg_buf page;
    sg_buf_init(&page, 1 << 20);
    sg_error *err = render_page(ctx, v, f, &page);
    if (err) {
        sg_log(SG_LOG_ERROR, "demo page: %s", sg_error_message(err));
        sg_error_free(err);
        respond_error(req, 500, NULL, "the demo page could not be rendered");
    } else {
        send_page(req, status, &page);
    }
    sg_buf_free(&page);
}

static void serve_asset(sg_http_request *req, const char *path) {
    const sg_web_asset *a = sg_web_asset_find(path);
    if (!a || !strcmp(path, "/index.html")) {
        respond_error(req, 404, "not_found", "no such file");
        return;
    }
    common_headers(req);
    sg_http_add_header(req, "etag", "%s", a->etag);
    sg_http_add_header(req, "cache-control", "no-cache");
    sg_http_add_header(req, "vary", "Accept-Encoding");
    const char *inm = sg_http_header_get(req, "If-None-Match");
    if (inm && !strcmp(inm, a->etag)) {
        sg_http_respond_static(req, 304, NULL, "", 0);
        return;
    }
    const char *ae = sg_http_header_get(req, "Accept-Encoding");
    if (ae && strstr(ae, "gzip")) {
        sg_http_add_header(req, "content-encoding", "gzip");
        sg_http_respond_static(req, 200, a->content_type, a->gzip, a->gzip_len);
    } else {
        sg_http_respond_static(req, 200, a->content_type, a->data, a->len);
    }
}

/* ---- JSON routes ------------------------------------------------------------- */

static json_t *bound_json(const sg_demo_bound *b) {
    return json_pack("{s:f,s:f,s:f}", "min", b->min, "max", b->max, "default", b->def);
}

static double sched_load(const sg_demo_ctx *ctx, const view *v, int *queued, int *running, int *capacity) {
    *queued = *running = 0;
    *capacity = 1;
    const sg_policy_model *pm = sg_policy_find_model(ctx->policy, v->model);
    sg_model_entry *m = NULL;
    sg_error *err = pm ? sg_models_get(ctx->models, pm->name, pm->path, &m) : NULL;
    if (err) sg_error_free(err);
    if (!m) return 0;
    sg_sched_load(m->sched, queued, running);
    *capacity = sg_sched_capacity(m->sched);
    return (double)(*queued + *running) / (double)(*capacity > 0 ? *capacity : 1);
}

static void handle_state(sg_demo *d, const sg_demo_ctx *ctx, const view *v, sg_http_request *req) {
    const sg_policy_demo *cfg = v->cfg;
    int queued, running, capacity;
    double load = sched_load(ctx, v, &queued, &running, &capacity);
    char challenge[SG_DEMO_CHALLENGE_MAX], ptext[600];
    int bits = sg_demo_pow_bits(POW_BASE_BITS, load);
    sg_demo_challenge_new(d->key, sg_now_ms(), bits, challenge);
    paused_text(ctx, v, ptext, sizeof ptext);
    json_t *reasons = json_array();
    for (int i = 0; i < cfg->n_flag_reasons; i++)
        json_array_append_new(reasons, json_string(cfg->flag_reasons[i]));
    sg_demo_session s;
    char token[SG_DEMO_TOKEN_MAX] = "";
    if (session_of(d, ctx, req, &s)) sg_demo_csrf_token(d->key, &s, token);
    json_t *o = json_pack(
        "{s:b,s:b,s:s?,s:s,s:s,s:i,s:i,s:b,s:b,s:b,s:{s:o,s:o,s:o},s:i,s:o,s:{s:s,s:i},s:s?,s:{s:i,s:i,s:i}}",
        "open", v->open, "paused", v->paused, "paused_text", v->paused || !v->open ? ptext : NULL, "model",
        v->model, "stage", ctx->stage_name, "stage_number", v->stage_no, "stages", v->n_stages, "watermark",
        v->watermark, "detection", v->detection, "flags", v->flags, "bounds", "max_tokens",
        bound_json(&cfg->max_tokens), "temperature", bound_json(&cfg->temperature), "top_p",
        bound_json(&cfg->top_p), "form_max_tokens", cfg->form_max_tokens, "flag_reasons", reasons, "pow",
        "challenge", challenge, "bits", bits, "token", token[0] ? token : NULL, "queue", "waiting", queued,
        "running", running, "capacity", capacity);
    common_headers(req);
    sg_http_add_header(req, "cache-control", "no-store");
    sg_http_respond_json(req, 200, o);
}

static json_t *body_json(sg_http_request *req) {
    json_error_t e;
    json_t *b = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(b)) {
        json_decref(b);
        respond_error(req, 400, "invalid_json", "the body must be a JSON object");
        return NULL;
    }
    return b;
}

/* Was a challenge answered before? Records it if not. */
static int replayed(sg_demo *d, const char *challenge) {
    unsigned char h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)challenge, strlen(challenge), NULL, 0);
    pthread_mutex_lock(&d->mu);
    int seen = 0;
    for (int i = 0; i < REPLAY_SLOTS && !seen; i++) seen = !sodium_memcmp(d->replay[i], h, sizeof h);
    if (!seen) {
        memcpy(d->replay[d->replay_next], h, sizeof h);
        d->replay_next = (d->replay_next + 1) % REPLAY_SLOTS;
    }
    pthread_mutex_unlock(&d->mu);
    return seen;
}

static void handle_session(sg_demo *d, const sg_demo_ctx *ctx, sg_http_request *req) {
    json_t *b = body_json(req);
    if (!b) return;
    const char *challenge = json_string_value(json_object_get(b, "challenge"));
    const char *nonce = json_string_value(json_object_get(b, "nonce"));
    sg_pow_result r = sg_demo_challenge_check(d->key, challenge, nonce, sg_now_ms(), CHALLENGE_MAX_AGE_MS);
    if (r == SG_POW_OK && replayed(d, challenge)) r = SG_POW_MALFORMED;
    if (r != SG_POW_OK) {
        json_decref(b);
        respond_error(req, r == SG_POW_EXPIRED ? 409 : 400, "proof_of_work",
                      r == SG_POW_EXPIRED ? "the challenge has expired: fetch a new one"
                      : r == SG_POW_WRONG ? "the answer does not meet the challenge's difficulty"
                                          : "not a valid, unused challenge of this server");
        return;
    }
    json_decref(b);
    sg_demo_session s;
    char cookie[SG_DEMO_COOKIE_MAX], token[SG_DEMO_TOKEN_MAX];
    sg_demo_session_new(d->key, sg_now_ms(), ctx->stage, &s, cookie);
    sg_demo_csrf_token(d->key, &s, token);
    const char *proto = sg_http_header_get(req, "X-Forwarded-Proto");
    int tls = proto && !strcasecmp(proto, "https");
    sg_http_add_header(req, "set-cookie", "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s", COOKIE,
                       cookie, SESSION_MAX_AGE_MS / 1000, tls ? "; Secure" : "");
    sg_http_add_header(req, "cache-control", "no-store");
    common_headers(req);
    sg_http_respond_json(req, 201, json_pack("{s:s}", "token", token));
}

/* Reads a bounded number: absent = the operator's default. */
static int bounded(json_t *b, const char *key, const sg_demo_bound *bd, double *out, char *why, size_t n) {
    json_t *v = json_object_get(b, key);
    if (!v) {
        *out = bd->def;
        return 1;
    }
    if (!json_is_number(v) || json_number_value(v) < bd->min || json_number_value(v) > bd->max) {
        snprintf(why, n, "'%s' must be a number from %g to %g", key, bd->min, bd->max);
        return 0;
    }
    *out = json_number_value(v);
    return 1;
}

/* Checks a visitor's request and builds the API body of the completion. */
static char *completion_body(const view *v, json_t *b, int stream, int cap_tokens, char *why, size_t n) {
    const char *key;
    json_t *val;
    json_object_foreach(b, key, val) {
        if (strcmp(key, "prompt") && strcmp(key, "max_tokens") && strcmp(key, "temperature") &&
            strcmp(key, "top_p")) {
            snprintf(why, n, "unknown parameter '%s'", key);
            return NULL;
        }
    }
    json_t *jp = json_object_get(b, "prompt");
    if (!json_is_string(jp) || !json_string_length(jp) || json_string_length(jp) > PROMPT_MAX) {
        snprintf(why, n, "'prompt' must be a text of 1 to %d bytes", PROMPT_MAX);
        return NULL;
    }
    double mt, t, tp;
    if (!bounded(b, "max_tokens", &v->cfg->max_tokens, &mt, why, n) ||
        !bounded(b, "temperature", &v->cfg->temperature, &t, why, n) ||
        !bounded(b, "top_p", &v->cfg->top_p, &tp, why, n))
        return NULL;
    if (mt != floor(mt)) {
        snprintf(why, n, "'max_tokens' must be a whole number");
        return NULL;
    }
    if (cap_tokens && mt > cap_tokens) mt = cap_tokens;
    json_t *o = json_pack("{s:s,s:O,s:i,s:f,s:f,s:b}", "model", v->model, "prompt", jp, "max_tokens", (int)mt,
                          "temperature", t, "top_p", tp, "stream", stream);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* The JSON routes need a session of this stage and its CSRF token. */
static int session_required(sg_demo *d, const sg_demo_ctx *ctx, sg_http_request *req, sg_demo_session *s) {
    if (!session_of(d, ctx, req, s)) {
        respond_error(req, 401, "no_session",
                      "no demo session (or it is from an earlier stage): reload the page");
        return 0;
    }
    if (!sg_demo_csrf_check(d->key, s, sg_http_header_get(req, "X-Demo-Token"))) {
        respond_error(req, 403, "bad_token", "the request lacks this session's token");
        return 0;
    }
    return 1;
}

static void refuse_paused(const sg_demo_ctx *ctx, const view *v, sg_http_request *req) {
    char ptext[600];
    paused_text(ctx, v, ptext, sizeof ptext);
    respond_error(req, v->open ? 503 : 403, v->open ? "demo_paused" : "demo_closed",
                  v->open ? ptext : "the demo is not open at the current stage of the release");
}

static void handle_complete(sg_demo *d, const sg_demo_ctx *ctx, const view *v, sg_http_request *req) {
    sg_demo_session s;
    if (!session_required(d, ctx, req, &s)) return;
    if (v->cfg->paused) return refuse_paused(ctx, v, req); /* incidents: the pipeline refuses (403) */
    json_t *b = body_json(req);
    if (!b) return;
    char why[300];
    char *body = completion_body(v, b, 1, 0, why, sizeof why);
    json_decref(b);
    if (!body) return respond_error(req, 400, "invalid_parameter", why);
    sg_api_caller caller;
    caller_for(d, v, s.id, network_key(d, req), &caller);
    const char *old = req->body;
    size_t old_len = req->body_len;
    req->body = body;
    req->body_len = strlen(body);
    common_headers(req);
    sg_server_complete(ctx->srv, req, &caller);
    req->body = old;
    req->body_len = old_len;
    free(body);
}

static void handle_guarded(sg_demo *d, const sg_demo_ctx *ctx, const view *v, sg_http_request *req,
                           int flag) {
    sg_demo_session s;
    if (!session_required(d, ctx, req, &s)) return;
    json_t *b = body_json(req);
    if (!b) return;
    if (flag) {
        const char *cat = json_string_value(json_object_get(b, "category"));
        int ok = 0;
        for (int i = 0; cat && i < v->cfg->n_flag_reasons; i++) ok |= !strcmp(cat, v->cfg->flag_reasons[i]);
        if (!ok) {
            json_decref(b);
            return respond_error(req, 400, "invalid_parameter",
                                 "'category' must be one of the demo's flag reasons");
        }
    } else {
        json_t *t = json_object_get(b, "text");
        if (json_object_size(b) != 1 || !json_is_string(t)) {
            json_decref(b);
            return respond_error(req, 400, "invalid_parameter", "the body must be {\"text\": \"...\"}");
        }
        json_object_set_new(b, "model", json_string(v->model));
    }
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    if (!body) return respond_error(req, 500, NULL, "out of memory");
    sg_api_caller caller;
    caller_for(d, v, s.id, 0, &caller);
    const char *old = req->body, *old_path = req->path;
    size_t old_len = req->body_len;
    req->body = body;
    req->body_len = strlen(body);
    req->path = flag ? "/v1/flags" : "/v1/detect";
    common_headers(req);
    sg_http_add_header(req, "cache-control", "no-store");
    sg_server_guard(ctx->srv, req, &caller.who);
    req->body = old;
    req->path = old_path;
    req->body_len = old_len;
    free(body);
}

/* ---- the no-JavaScript form ---------------------------------------------------- */

static int hexval(int c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* application/x-www-form-urlencoded into a JSON object of strings. */
static json_t *form_fields(const char *s, size_t n) {
    json_t *o = json_object();
    const char *e = s + n;
    while (s < e) {
        const char *amp = memchr(s, '&', (size_t)(e - s));
        const char *end = amp ? amp : e;
        const char *eq = memchr(s, '=', (size_t)(end - s));
        if (eq) {
            char key[32], *val = malloc((size_t)(end - eq));
            size_t kn = (size_t)(eq - s), vn = 0;
            if (val && kn < sizeof key) {
                memcpy(key, s, kn);
                key[kn] = 0;
                for (const char *p = eq + 1; p < end; p++) {
                    if (*p == '+')
                        val[vn++] = ' ';
                    else if (*p == '%' && p + 2 < end && hexval(p[1]) >= 0 && hexval(p[2]) >= 0)
                        val[vn++] = (char)(hexval(p[1]) * 16 + hexval(p[2])), p += 2;
                    else
                        val[vn++] = *p;
                }
                json_t *js = json_stringn(val, vn);
                if (js) json_object_set_new(o, key, js);
            }
            free(val);
        }
        s = end + 1;
    }
    return o;
}

static void handle_form(sg_demo *d, const sg_demo_ctx *ctx, const view *v, sg_http_request *req) {
    page_fill f = {.temperature = v->cfg->temperature.def,
                   .top_p = v->cfg->top_p.def,
                   .max_tokens = v->cfg->form_max_tokens};
    json_t *fields = form_fields(req->body, req->body_len), *b = json_object();
    const char *key;
    json_t *val;
    json_object_foreach(fields, key, val) {
        const char *s = json_string_value(val);
        if (!strcmp(key, "prompt"))
            json_object_set(b, key, val);
        else if (*s && (!strcmp(key, "max_tokens") || !strcmp(key, "temperature") || !strcmp(key, "top_p")))
            json_object_set_new(b, key, json_real(strtod(s, NULL)));
    }
    f.prompt = json_string_value(json_object_get(b, "prompt"));
    char why[300] = "";
    if (v->paused || !v->open) {
        json_decref(fields);
        json_decref(b);
        refuse_paused(ctx, v, req);
        return;
    }
    char *body = completion_body(v, b, 0, v->cfg->form_max_tokens, why, sizeof why);
    sg_buf receipt;
    sg_buf_init(&receipt, 1 << 14);
    char *output = NULL, status[200] = "";
    int code = 200;
    if (!body) {
        f.error = why;
        code = 400;
    } else {
        sg_demo_session s;
        uint64_t net = network_key(d, req);
        uint64_t sid = session_of(d, ctx, req, &s) ? s.id : (net & INT64_MAX) | 1;
        sg_api_caller caller;
        caller_for(d, v, sid, net, &caller);
        sg_http_capture cap = {0};
        const char *old = req->body;
        size_t old_len = req->body_len;
        req->body = body;
        req->body_len = strlen(body);
        req->capture = &cap;
        sg_server_complete(ctx->srv, req, &caller);
        req->capture = NULL;
        req->responded = 0;
        req->body = old;
        req->body_len = old_len;
        json_t *r = cap.body ? json_loads(cap.body, 0, NULL) : NULL;
        if (cap.status == 200 && r) {
            json_t *ch = json_array_get(json_object_get(r, "choices"), 0);
            output = strdup(json_string_value(json_object_get(ch, "text"))
                                ? json_string_value(json_object_get(ch, "text"))
                                : "");
            f.output = output;
            const char *fin = json_string_value(json_object_get(ch, "finish_reason"));
            sg_buf *o = &receipt;
            puts_(o, "<dt>Completion</dt><dd>");
            put_html(o, json_string_value(json_object_get(r, "id")));
            puts_(o, "</dd><dt>Stage</dt><dd>");
            put_html(o, ctx->stage_name);
            puts_(o, "</dd><dt>Model</dt><dd>");
            put_html(o, v->model);
            puts_(o, "</dd><dt>Watermark</dt><dd>");
            puts_(o, v->watermark ? "on" : "off");
            puts_(o, "</dd><dt>Filter</dt><dd>");
            puts_(o,
                  fin && !strcmp(fin, "content_filter") ? "output blocked by the content filter" : "passed");
            puts_(o, "</dd>");
            sg_error_free(receipt.deferred); /* a receipt cut short is still shown */
            receipt.deferred = NULL;
            snprintf(status, sizeof status, "Done.");
            f.status = status;
        } else {
            code = cap.status == 429 ? 429 : cap.status ? cap.status : 500;
            const char *msg = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
            snprintf(why, sizeof why, "%s", msg ? msg : "the request failed");
            for (int i = 0; i < req->n_headers; i++)
                if (!strcasecmp(req->headers[i].name, "retry-after"))
                    snprintf(why, sizeof why, "The demo is busy for you right now: try again in %.32s s.",
                             req->headers[i].value);
            f.error = why;
        }
        json_decref(r);
        free(cap.body);
    }
    f.receipt = &receipt;
    serve_page(ctx, v, req, &f, code);
    sg_buf_free(&receipt);
    free(output);
    free(body);
    json_decref(fields);
    json_decref(b);
}

static void handle_card(const sg_demo_ctx *ctx, const view *v, sg_http_request *req) {
    if (ctx->policy->stages[ctx->stage].components[SG_COMPONENT_RISK_ANALYSIS] < SG_ACCESS_HOSTED)
        return respond_error(req, 403, "not_released", "the model card is not released at this stage");
    char *text = NULL;
    sg_error *err = sg_card_model(ctx->store, ctx->policy, v->model, &text);
    if (err) {
        sg_log(SG_LOG_ERROR, "demo card: %s", sg_error_message(err));
        sg_error_free(err);
        return respond_error(req, 500, NULL, "the model card could not be generated");
    }
    common_headers(req);
    sg_http_respond_text(req, 200, "text/plain; charset=utf-8", text);
    free(text);
}

void sg_demo_handle(sg_demo *d, const sg_demo_ctx *ctx, sg_http_request *req) {
    const char *path = req->path;
    int get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD"),
        post = !strcmp(req->method, "POST");
    if (!ctx->policy->demo) return respond_error(req, 404, "not_found", "this release has no web demo");
    sg_error *err = refresh_limits(d, ctx->policy->demo);
    if (err) {
        sg_log(SG_LOG_ERROR, "demo: %s", sg_error_message(err));
        sg_error_free(err);
        return respond_error(req, 500, NULL, "the demo is unavailable");
    }
    view v;
    view_of(ctx, &v);
    int page = !strcmp(path, "/") || !strcmp(path, "/demo") || !strcmp(path, "/demo/");
    int api = !strncmp(path, "/demo/api/", 10) || !strcmp(path, "/demo/form");
    if (post && !origin_ok(req))
        return respond_error(req, 403, "bad_origin", "cross-origin requests are refused");
    if (page && get) {
        page_fill f = {.temperature = v.cfg->temperature.def,
                       .top_p = v.cfg->top_p.def,
                       .max_tokens = (int)v.cfg->max_tokens.def};
        return serve_page(ctx, &v, req, &f, 200);
    }
    if (!strcmp(path, "/demo/api/state") && get) return handle_state(d, ctx, &v, req);
    if (!strcmp(path, "/demo/card") && get) return handle_card(ctx, &v, req);
    if (!strcmp(path, "/demo/api/session") && post) return handle_session(d, ctx, req);
    if (!strcmp(path, "/demo/api/complete") && post) return handle_complete(d, ctx, &v, req);
    if (!strcmp(path, "/demo/api/flag") && post) return handle_guarded(d, ctx, &v, req, 1);
    if (!strcmp(path, "/demo/api/detect") && post) return handle_guarded(d, ctx, &v, req, 0);
    if (!strcmp(path, "/demo/form") && post) return handle_form(d, ctx, &v, req);
    if (page || api) {
        sg_http_add_header(req, "allow", "%s", page || !strcmp(path, "/demo/api/state") ? "GET" : "POST");
        return respond_error(req, 405, "method_not_allowed", "method not allowed");
    }
    if (get) return serve_asset(req, path + 5);
    respond_error(req, 405, "method_not_allowed", "method not allowed");
}
