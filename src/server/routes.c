/* routes.c — every route of the server in one table, the router that runs
 * them (authentication, metering, 404/405), and the small routes: the model
 * list, the release documents, the guard's endpoints, health and metrics.
 * POST /v1/completions is completion.c. */
#include <stdio.h>
#include <string.h>

#include "access/audit.h"
#include "base/log.h"
#include "eval/cards.h"
#include "server/api_int.h"
#include "server/guard.h"
#include "server/openai.h"

/* ---- recording and answering ------------------------------------------------------ */

void sg_api_record(sg_server *srv, sg_audit_event *e, double t0, int status) {
    e->latency_s = sg_monotonic_s() - t0;
    sg_audit_sink_write(srv->store, e);
    sg_metrics_request(srv->metrics, status, e->audience ? e->audience : "", (long)e->prompt_tokens,
                       (long)e->completion_tokens, e->latency_s);
}

/* Answers `err` (taken), audits it when it carries a decision, and counts it
 * when it is counted and `router_counts` (the router counts the answer
 * itself) is false. */
static void answer(sg_api_call *call, const char *model, sg_api_error *err, bool router_counts) {
    sg_api_error_respond(err, call->req);
    double latency = sg_monotonic_s() - call->t0;
    if (err->decision != SG_AUDIT_NONE) {
        sg_audit_event e = {.key_id = call->who ? call->who->key_id : 0,
                            .audience = call->who ? call->who->audience : NULL,
                            .model = model,
                            .stage = sg_policy_ref_stage_name(call->pref),
                            .decision = err->decision,
                            .reason = sg_api_error_reason(err),
                            .latency_s = latency,
                            .text_mode = SG_AUDIT_TEXT_NONE};
        sg_audit_sink_write(call->srv->store, &e);
    }
    if (err->counted && !router_counts)
        sg_metrics_request(call->srv->metrics, err->status, call->who ? call->who->audience : "", 0, 0,
                           latency);
    sg_api_error_free(err);
}

void sg_api_fail(sg_api_call *call, const char *model, sg_api_error *err) {
    answer(call, model, err, call->route->meter == SG_ROUTE_COUNTED);
}

sg_api_error *sg_api_authenticate(sg_api_call *call) {
    sg_auth_result res;
    sg_error *err = sg_keys_authenticate(call->srv->keys, sg_http_header_get(call->req, "Authorization"),
                                         sg_now_ms(), &call->principal, &res);
    if (err) {
        sg_log(SG_LOG_ERROR, "authentication failed: %s", sg_error_message(err));
        sg_error_free(err);
        return sg_api_error_counted(sg_api_error_new(500, SG_API_SERVER_ERROR, NULL, NULL, SG_AUDIT_NONE,
                                                     "the key store is unavailable"));
    }
    if (res == SG_AUTH_OK) {
        call->who = &call->principal;
        return NULL;
    }
    sg_http_add_header(call->req, "www-authenticate", "Bearer");
    return sg_api_error_new(401, SG_API_INVALID_REQUEST, NULL, "invalid_api_key", SG_AUDIT_UNAUTHENTICATED,
                            "%s", sg_auth_result_message(res));
}

/* ---- rate limit headers ------------------------------------------------------------ */

void sg_api_limits(const sg_policy_ref *r, const sg_principal *who, int64_t *rpm, int64_t *tpm) {
    sg_policy_limits pl = sg_policy_rate_limit(r->policy, r->stage, who->audience);
    *rpm = who->rpm ? who->rpm : (pl.enforced ? pl.rpm : 0);
    *tpm = who->tpm ? who->tpm : (pl.enforced ? pl.tpm : 0);
}

void sg_api_ratelimit_headers(sg_http_request *req, const sg_ratelimit_status *st) {
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

/* ---- the small routes -------------------------------------------------------------- */

/* GET /v1/models: the models the caller's key may use now. */
static void models_route(sg_api_call *call) {
    const sg_policy *p = call->pref->policy;
    int64_t rpm, tpm;
    sg_api_limits(call->pref, call->who, &rpm, &tpm);
    sg_ratelimit_status st;
    sg_ratelimit_peek(call->srv->ratelimit, call->who->key_id, rpm, tpm, &st);
    sg_api_ratelimit_headers(call->req, &st);
    json_t *list = sg_openai_models_new();
    for (int i = 0; i < p->n_models; i++) {
        const char *name = p->models[i].name;
        if (sg_policy_decide(p, call->pref->stage, call->who->audience, name, NULL, 0) != SG_POLICY_ALLOW ||
            sg_release_suspended(&call->pref->release, call->who->audience, name))
            continue;
        sg_openai_models_add(list, name, p->model_name ? p->model_name : "stagegate");
    }
    sg_http_respond_json(call->req, 200, list);
}

typedef enum { DOC_SYSTEM_CARD, DOC_MODEL_CARD, DOC_DATASHEET } document_kind;

/* The release documents (eval/cards.h), served as the current stage
 * releases their component group (cards: risk_analysis; datasheet:
 * replication): fully_closed -> 403; gradual, hosted, api -> a key of an
 * audience the stage serves; downloadable, fully_open -> anyone. */
static sg_api_error *document(sg_api_call *call, document_kind kind, const char *model) {
    const sg_policy *p = call->pref->policy;
    const char *stage = sg_policy_ref_stage_name(call->pref);
    sg_component group = kind == DOC_DATASHEET ? SG_COMPONENT_REPLICATION : SG_COMPONENT_RISK_ANALYSIS;
    sg_access_level level = sg_policy_component_level(p, call->pref->stage, group);
    if (level == SG_ACCESS_FULLY_CLOSED)
        return sg_api_error_new(403, SG_API_PERMISSION_DENIED, NULL, "not_released", SG_AUDIT_NONE,
                                "the %s component is not released at stage '%s'", sg_component_name(group),
                                stage);
    if (level < SG_ACCESS_DOWNLOADABLE) {
        sg_api_error *err = sg_api_authenticate(call);
        if (err) { /* a refused key is recorded without the model, as on every route */
            sg_api_fail(call, NULL, err);
            return NULL;
        }
        int64_t incident = sg_release_suspended(&call->pref->release, call->who->audience, NULL);
        if (!sg_policy_audience_at(p, call->pref->stage, call->who->audience) || incident) {
            char why[256];
            if (incident)
                snprintf(why, sizeof why, "access is suspended by incident #%lld", (long long)incident);
            else
                snprintf(why, sizeof why, "the %s component is not released to audience '%s' at stage '%s'",
                         sg_component_name(group), call->who->audience, stage);
            return sg_api_error_new(403, SG_API_PERMISSION_DENIED, NULL,
                                    incident ? "suspended_by_incident" : "not_released", SG_AUDIT_FORBIDDEN,
                                    "%s", why);
        }
    }
    if (model && !sg_policy_find_model(p, model))
        return sg_api_error_new(404, SG_API_INVALID_REQUEST, "model", "model_not_found", SG_AUDIT_NONE,
                                "the model '%s' does not exist", model);
    char *text = NULL;
    sg_error *err = kind == DOC_SYSTEM_CARD  ? sg_card_system(call->srv->store, p, &text)
                    : kind == DOC_MODEL_CARD ? sg_card_model(call->srv->store, p, model, &text)
                                             : sg_card_datasheet(call->srv->store, p, model, &text);
    if (err) {
        sg_log(SG_LOG_ERROR, "%s: %s", call->req->path, sg_error_message(err));
        sg_error_free(err);
        return sg_api_error_new(500, SG_API_SERVER_ERROR, NULL, NULL, SG_AUDIT_NONE,
                                "the document could not be generated");
    }
    sg_http_respond_text(call->req, 200, "text/markdown; charset=utf-8", text);
    free(text);
    return NULL;
}

static void document_route(sg_api_call *call, document_kind kind, const char *model) {
    sg_api_error *err = document(call, kind, model);
    if (err) sg_api_fail(call, model, err);
}
static void system_card_route(sg_api_call *call) { document_route(call, DOC_SYSTEM_CARD, NULL); }
static void model_card_route(sg_api_call *call) { document_route(call, DOC_MODEL_CARD, call->rest); }
static void datasheet_route(sg_api_call *call) { document_route(call, DOC_DATASHEET, call->rest); }

/* POST /v1/moderations, /v1/detect, /v1/flags: the guard module
 * (server/guard.h) answers as the current stage allows. */
static void guard_route(sg_api_call *call, sg_api_error *(*serve)(const sg_guard_ctx *, sg_http_request *)) {
    int64_t incident = sg_release_suspended(&call->pref->release, call->who->audience, NULL);
    if (incident) {
        sg_api_fail(call, NULL,
                    sg_api_error_new(403, SG_API_PERMISSION_DENIED, NULL, "suspended_by_incident",
                                     SG_AUDIT_NONE, "access is suspended by incident #%lld",
                                     (long long)incident));
        return;
    }
    sg_guard_ctx ctx = {.guard = call->pref->guard,
                        .policy = call->pref->policy,
                        .stage = call->pref->stage,
                        .stage_name = sg_policy_ref_stage_name(call->pref),
                        .who = call->who,
                        .store = call->srv->store,
                        .keys = call->srv->keys,
                        .models = call->srv->models,
                        .wm = call->srv->wm};
    sg_api_error *err = serve(&ctx, call->req);
    if (err) sg_api_fail(call, NULL, err);
}
static void moderations_route(sg_api_call *call) { guard_route(call, sg_guard_moderations); }
static void detect_route(sg_api_call *call) { guard_route(call, sg_guard_detect); }
static void flags_route(sg_api_call *call) { guard_route(call, sg_guard_flag); }

/* GET /healthz: liveness and the current stage. */
static void healthz_route(sg_api_call *call) {
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    json_object_set_new(o, "stage", json_string(sg_policy_ref_stage_name(call->pref)));
    sg_http_respond_json(call->req, 200, o);
}

/* GET /metrics: Prometheus text. */
static void metrics_route(sg_api_call *call) {
    char *text = sg_metrics_render(call->srv->metrics);
    sg_http_respond_text(call->req, 200, "text/plain; version=0.0.4", text ? text : "");
    free(text);
}

/* GET /, /demo, /demo/...; POST /demo/...: the hosted web demo (server/demo.h),
 * which hands its completions and guard calls back through
 * sg_server_complete and sg_server_guard below. */
static void demo_route(sg_api_call *call) {
    sg_demo_ctx ctx = {.srv = call->srv,
                       .policy = call->pref->policy,
                       .stage = call->pref->stage,
                       .stage_name = sg_policy_ref_stage_name(call->pref),
                       .release = &call->pref->release,
                       .models = call->srv->models,
                       .store = call->srv->store};
    sg_demo_handle(call->srv->demo, &ctx, call->req);
}

/* ---- the table and the router ------------------------------------------------------ */

/* Every route. A new route is one row here and its handler. */
static const sg_route routes[] = {
    /* method  path                 handler             key                    metering */
    {"POST", "/v1/completions", sg_completion_route, SG_ROUTE_KEY, SG_ROUTE_TOKENS},
    {"GET", "/v1/models", models_route, SG_ROUTE_KEY, SG_ROUTE_COUNTED},
    {"POST", "/v1/moderations", moderations_route, SG_ROUTE_KEY, SG_ROUTE_COUNTED},
    {"POST", "/v1/detect", detect_route, SG_ROUTE_KEY, SG_ROUTE_COUNTED},
    {"POST", "/v1/flags", flags_route, SG_ROUTE_KEY, SG_ROUTE_COUNTED},
    {"GET", "/v1/system-card", system_card_route, SG_ROUTE_KEY_BY_STAGE, SG_ROUTE_UNCOUNTED},
    {"GET", "/v1/cards/", model_card_route, SG_ROUTE_KEY_BY_STAGE, SG_ROUTE_UNCOUNTED},
    {"GET", "/v1/datasheets/", datasheet_route, SG_ROUTE_KEY_BY_STAGE, SG_ROUTE_UNCOUNTED},
    {"GET", "/healthz", healthz_route, SG_ROUTE_OPEN, SG_ROUTE_UNCOUNTED},
    {"GET", "/metrics", metrics_route, SG_ROUTE_OPEN, SG_ROUTE_UNCOUNTED},
    {"GET", "/", demo_route, SG_ROUTE_OPEN, SG_ROUTE_UNCOUNTED}, /* exactly "/" */
    {"GET", "/demo", demo_route, SG_ROUTE_OPEN, SG_ROUTE_UNCOUNTED},
    {"GET", "/demo/", demo_route, SG_ROUTE_OPEN, SG_ROUTE_UNCOUNTED},
    {"POST", "/demo/", demo_route, SG_ROUTE_OPEN, SG_ROUTE_UNCOUNTED},
};

/* Whether `path` is the route's: its path, or below it for a prefix route;
 * *rest gets what follows the prefix. */
static bool path_matches(const sg_route *r, const char *path, const char **rest) {
    size_t n = strlen(r->path);
    bool prefix = n > 1 && r->path[n - 1] == '/'; /* "/" itself is exact */
    if (prefix ? strncmp(path, r->path, n) : strcmp(path, r->path)) return false;
    *rest = path + n;
    return true;
}

void sg_api_handle(void *ctx, sg_http_request *req) {
    sg_server *srv = ctx;
    const sg_route *route = NULL;
    const char *rest = "";
    char allow[64] = "";
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !route; i++) {
        const char *r_rest;
        if (!path_matches(&routes[i], req->path, &r_rest)) continue;
        if (!strcmp(routes[i].method, req->method)) {
            route = &routes[i];
            rest = r_rest;
        } else {
            size_t l = strlen(allow);
            snprintf(allow + l, sizeof allow - l, "%s%s", l ? ", " : "", routes[i].method);
        }
    }
    if (!route && !allow[0])
        return sg_http_respond_error(req, 404, SG_API_INVALID_REQUEST, NULL, "not_found", "unknown URL %s %s",
                                     req->method, req->path);
    if (!route) {
        sg_http_add_header(req, "allow", "%s", allow);
        return sg_http_respond_error(req, 405, SG_API_INVALID_REQUEST, NULL, "method_not_allowed",
                                     "%s is not allowed on %s", req->method, req->path);
    }
    sg_api_call call = {.srv = srv, .req = req, .route = route, .rest = rest, .t0 = sg_monotonic_s()};
    call.pref = sg_policy_ref_acquire(&srv->policies);
    sg_api_error *err = route->key == SG_ROUTE_KEY ? sg_api_authenticate(&call) : NULL;
    if (err) { /* a refused key is counted here, whatever the route's metering */
        answer(&call, NULL, err, false);
    } else {
        route->handler(&call);
        if (route->meter == SG_ROUTE_COUNTED)
            sg_metrics_request(srv->metrics, req->status, call.who ? call.who->audience : "", 0, 0,
                               sg_monotonic_s() - call.t0);
    }
    sg_policy_ref_release(call.pref);
}

/* ---- callers without a key (api.h) ---------------------------------------------------- */

void sg_server_complete(sg_server *srv, sg_http_request *req, const sg_api_caller *caller) {
    static const sg_route route = {"POST", "/v1/completions", sg_completion_route, SG_ROUTE_OPEN,
                                   SG_ROUTE_TOKENS};
    sg_api_call call = {.srv = srv, .req = req, .route = &route, .rest = "", .t0 = sg_monotonic_s()};
    call.principal = caller->who;
    call.who = &call.principal;
    call.caller = caller;
    call.pref = sg_policy_ref_acquire(&srv->policies);
    sg_completion_route(&call);
    sg_policy_ref_release(call.pref);
}

void sg_server_guard(sg_server *srv, sg_http_request *req, const sg_principal *who) {
    static const sg_route detect = {"POST", "/v1/detect", detect_route, SG_ROUTE_OPEN, SG_ROUTE_COUNTED};
    static const sg_route flags = {"POST", "/v1/flags", flags_route, SG_ROUTE_OPEN, SG_ROUTE_COUNTED};
    const sg_route *route = !strcmp(req->path, "/v1/detect") ? &detect : &flags;
    sg_api_call call = {.srv = srv, .req = req, .route = route, .rest = "", .t0 = sg_monotonic_s()};
    call.principal = *who;
    call.who = &call.principal;
    call.pref = sg_policy_ref_acquire(&srv->policies);
    route->handler(&call);
    sg_metrics_request(srv->metrics, req->status, who->audience, 0, 0, sg_monotonic_s() - call.t0);
    sg_policy_ref_release(call.pref);
}
