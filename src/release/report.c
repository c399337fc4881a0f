/* report.c — the monitoring report (report.h). */
#include "release/report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/fileio.h"
#include "release/stages.h"
#include "store/store_audit.h"
#include "store/store_flags.h"
#include "store/store_keys.h"

int64_t sg_report_period_ms(sg_monitoring_frequency f) {
    switch (f) {
    case SG_MONITOR_HOURLY:
        return 3600LL * 1000;
    case SG_MONITOR_DAILY:
        return 86400LL * 1000;
    case SG_MONITOR_WEEKLY:
        return 7 * 86400LL * 1000;
    case SG_MONITOR_MONTHLY:
        return 30 * 86400LL * 1000;
    }
    return 86400LL * 1000;
}

static void iso_time(int64_t ms, char *buf, size_t size) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Request decisions are "allowed" and outcomes of the request path; release
 * and operator events (stage-*, incident-*, key-*...) are not requests. */
static int is_request(const sg_audit_record *r) {
    if (!r->decision) return 0;
    if (r->stage && !strcmp(r->stage, "operator")) return 0;
    static const char *const events[] = {"stage-", "incident-", "risk-",  "signoff", "eval-run",
                                         "key-",   "keys-",     "report", "flag_",   "suspended"};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        if (!strncmp(r->decision, events[i], strlen(events[i]))) return 0;
    return 1;
}

static const char *refusal_cause(const char *d) {
    if (!strcmp(d, "401") || !strcmp(d, "403") || !strcmp(d, "429") || !strcmp(d, "404")) return d;
    if (!strcmp(d, "filtered") || !strcmp(d, "blocked") || !strcmp(d, "block") || !strcmp(d, "hardcoded"))
        return "filter";
    return NULL;
}

typedef struct {
    int64_t since, until;
    json_t *usage;    /* "audience\tmodel" -> {requests, prompt_tokens, completion_tokens} */
    json_t *refusals; /* cause -> count */
    json_t *keys;     /* key id -> requests */
    json_t *decisions;
    int64_t requests;
} walk;

static void bump(json_t *obj, const char *k, json_int_t by) {
    json_t *v = json_object_get(obj, k);
    json_object_set_new(obj, k, json_integer((v ? json_integer_value(v) : 0) + by));
}

static int on_row(const sg_audit_record *r, void *ctx) {
    walk *w = ctx;
    if (r->time_ms < w->since || r->time_ms > w->until || !is_request(r)) return 0;
    w->requests++;
    bump(w->decisions, r->decision, 1);
    if (r->key_id > 0) {
        char k[32];
        snprintf(k, sizeof k, "%lld", (long long)r->key_id);
        bump(w->keys, k, 1);
    }
    const char *cause = refusal_cause(r->decision);
    if (cause) bump(w->refusals, cause, 1);
    if (!strcmp(r->decision, "allowed")) {
        char k[512];
        snprintf(k, sizeof k, "%s\t%s", r->audience ? r->audience : "-", r->model ? r->model : "-");
        json_t *u = json_object_get(w->usage, k);
        if (!u) {
            u = json_pack("{s:I,s:I,s:I}", "requests", (json_int_t)0, "prompt_tokens", (json_int_t)0,
                          "completion_tokens", (json_int_t)0);
            json_object_set_new(w->usage, k, u);
        }
        bump(u, "requests", 1);
        bump(u, "prompt_tokens", r->prompt_tokens);
        bump(u, "completion_tokens", r->completion_tokens);
    }
    return 0;
}

static int cmp_keys(const void *a, const void *b) {
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "requests"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "requests"));
    return x < y ? 1 : x > y ? -1 : 0;
}

sg_error *sg_report_build(sg_store *store, const sg_policy *p, int64_t since_ms, int64_t now_ms,
                          json_t **out) {
    *out = NULL;
    walk w = {since_ms, now_ms, json_object(), json_object(), json_object(), json_object(), 0};
    sg_error *err = sg_store_audit_each(store, 1, on_row, &w);
    json_t *rep = json_object();
    sg_release_state st = {0};
    if (err) goto done;
    char a[40], b[40];
    iso_time(since_ms, a, sizeof a);
    iso_time(now_ms, b, sizeof b);
    json_object_set_new(rep, "release", json_string(p->model_name ? p->model_name : ""));
    json_object_set_new(rep, "since", json_string(a));
    json_object_set_new(rep, "until", json_string(b));
    if ((err = sg_release_state_load(store, p, &st))) goto done;
    json_object_set_new(rep, "current_stage", json_string(p->stages[st.stage].name));
    json_object_set_new(rep, "monitoring_frequency",
                        json_string(sg_monitoring_frequency_name(p->monitoring_frequency)));
    json_object_set_new(rep, "incident_response_plan",
                        p->incident_response_plan ? json_string(p->incident_response_plan) : json_null());
    json_object_set_new(rep, "requests", json_integer(w.requests));
    json_object_set(rep, "decisions", w.decisions);
    json_object_set(rep, "refusals", w.refusals);
    sg_flag_counts fc; /* community flags (server/guard.h), all time */
    if ((err = sg_store_flag_counts(store, 0, &fc))) goto done;
    json_object_set_new(rep, "flags",
                        json_pack("{s:I,s:I,s:I,s:I}", "total", (json_int_t)fc.total, "open",
                                  (json_int_t)fc.open, "upheld", (json_int_t)fc.upheld, "dismissed",
                                  (json_int_t)fc.dismissed));

    json_t *usage = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(w.usage, k, v) {
        const char *tab = strchr(k, '\t');
        json_t *row = json_deep_copy(v);
        json_object_set_new(row, "audience", json_stringn(k, (size_t)(tab - k)));
        json_object_set_new(row, "model", json_string(tab + 1));
        json_array_append_new(usage, row);
    }
    json_object_set_new(rep, "usage", usage);

    /* top keys, with their names */
    sg_key_record *keys = NULL;
    size_t nk = 0;
    if ((err = sg_store_key_list(store, &keys, &nk))) goto done;
    size_t n_top = json_object_size(w.keys), i = 0;
    json_t **top = calloc(n_top + 1, sizeof *top);
    json_object_foreach(w.keys, k, v) {
        long long id = atoll(k);
        json_t *row = json_pack("{s:I,s:I}", "key_id", (json_int_t)id, "requests", json_integer_value(v));
        for (size_t j = 0; j < nk; j++)
            if (keys[j].id == id) {
                json_object_set_new(row, "name", json_string(keys[j].name));
                json_object_set_new(row, "audience", json_string(keys[j].audience));
            }
        if (top)
            top[i++] = row;
        else
            json_decref(row);
    }
    free(keys);
    if (top) qsort(top, i, sizeof *top, cmp_keys);
    json_t *topa = json_array();
    for (size_t j = 0; j < i; j++) {
        if (j < 10) json_array_append(topa, top[j]);
        json_decref(top[j]);
    }
    free(top);
    json_object_set_new(rep, "top_keys", topa);

    /* incidents and stage changes of the period */
    sg_incident_record *inc = NULL;
    size_t ni = 0;
    if ((err = sg_store_incidents(store, since_ms, &inc, &ni))) goto done;
    json_t *ia = json_array();
    for (size_t j = 0; j < ni; j++) {
        if (inc[j].opened_ms > now_ms) continue;
        iso_time(inc[j].opened_ms, a, sizeof a);
        json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:b}", "id", (json_int_t)inc[j].id, "severity",
                              inc[j].severity, "opened", a, "reason", inc[j].reason, "suspend_audience",
                              inc[j].suspend_audience, "suspend_model", inc[j].suspend_model, "rollback",
                              inc[j].rollback);
        if (inc[j].closed_ms) {
            iso_time(inc[j].closed_ms, b, sizeof b);
            json_object_set_new(o, "closed", json_string(b));
        } else {
            json_object_set_new(o, "closed", json_null());
        }
        json_array_append_new(ia, o);
    }
    free(inc);
    json_object_set_new(rep, "incidents", ia);
    sg_stage_move *mv = NULL;
    size_t nm = 0;
    if ((err = sg_store_stage_moves(store, since_ms, &mv, &nm))) goto done;
    json_t *ma = json_array();
    for (size_t j = 0; j < nm; j++) {
        if (mv[j].time_ms > now_ms) continue;
        iso_time(mv[j].time_ms, a, sizeof a);
        json_array_append_new(ma, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "time", a, "kind", mv[j].kind,
                                            "from", mv[j].from_stage, "to", mv[j].to_stage, "by", mv[j].actor,
                                            "reason", mv[j].reason, "override", mv[j].override));
    }
    free(mv);
    json_object_set_new(rep, "stage_changes", ma);
done:
    json_decref(w.usage);
    json_decref(w.refusals);
    json_decref(w.keys);
    json_decref(w.decisions);
    sg_release_state_free(&st);
    if (err) {
        json_decref(rep);
        return err;
    }
    *out = rep;
    return NULL;
}

/* growable text */
typedef struct {
    char *s;
    size_t len, cap;
} buf;
static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
        char *s = realloc(b->s, cap);
        if (!s) return;
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static const char *str(const json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}
static long long num(const json_t *o, const char *k) {
    return (long long)json_integer_value(json_object_get(o, k));
}

char *sg_report_text(const json_t *r) {
    buf b = {0};
    put(&b, "# Release report: %s\n\n", str(r, "release"));
    put(&b, "Period: %s to %s. Current stage: %s. Monitoring: %s. Incident response plan: %s.\n\n",
        str(r, "since"), str(r, "until"), str(r, "current_stage"), str(r, "monitoring_frequency"),
        json_is_string(json_object_get(r, "incident_response_plan")) ? str(r, "incident_response_plan")
                                                                     : "(none)");
    put(&b, "## Usage per audience and model\n\n");
    json_t *u = json_object_get(r, "usage");
    if (!json_array_size(u))
        put(&b, "No allowed requests in the period.\n");
    else
        put(&b,
            "| audience | model | requests | prompt tokens | completion tokens |\n|---|---|---|---|---|\n");
    size_t i;
    json_t *v;
    json_array_foreach(u, i, v)
        put(&b, "| %s | %s | %lld | %lld | %lld |\n", str(v, "audience"), str(v, "model"), num(v, "requests"),
            num(v, "prompt_tokens"), num(v, "completion_tokens"));
    put(&b, "\n## Refusals by cause\n\n");
    json_t *ref = json_object_get(r, "refusals");
    if (!json_object_size(ref)) put(&b, "None.\n");
    const char *k;
    json_object_foreach(ref, k, v) put(&b, "- %s: %lld\n", k, (long long)json_integer_value(v));
    json_t *fl = json_object_get(r, "flags");
    if (fl)
        put(&b, "\nCommunity flags: %lld (open %lld, upheld %lld, dismissed %lld).\n", num(fl, "total"),
            num(fl, "open"), num(fl, "upheld"), num(fl, "dismissed"));
    put(&b, "\nAll request outcomes (%lld requests):", num(r, "requests"));
    json_object_foreach(json_object_get(r, "decisions"), k, v)
        put(&b, " %s=%lld", k, (long long)json_integer_value(v));
    put(&b, "\n\n## Top keys\n\n");
    json_t *tk = json_object_get(r, "top_keys");
    if (!json_array_size(tk)) put(&b, "None.\n");
    json_array_foreach(tk, i, v) put(&b, "- key %lld (%s, %s): %lld requests\n", num(v, "key_id"),
                                     str(v, "name"), str(v, "audience"), num(v, "requests"));
    put(&b, "\n## Incidents\n\n");
    json_t *ia = json_object_get(r, "incidents");
    if (!json_array_size(ia)) put(&b, "None.\n");
    json_array_foreach(ia, i, v) {
        put(&b, "- #%lld %s, opened %s, %s%s%s%s%s: %s\n", num(v, "id"), str(v, "severity"), str(v, "opened"),
            json_is_string(json_object_get(v, "closed")) ? "closed " : "OPEN",
            json_is_string(json_object_get(v, "closed")) ? str(v, "closed") : "",
            str(v, "suspend_audience")[0] ? ", suspends audience " : "", str(v, "suspend_audience"),
            json_is_true(json_object_get(v, "rollback")) ? ", rolled back" : "", str(v, "reason"));
    }
    put(&b, "\n## Stage changes\n\n");
    json_t *ma = json_object_get(r, "stage_changes");
    if (!json_array_size(ma)) put(&b, "None.\n");
    json_array_foreach(ma, i, v) put(
        &b, "- %s %s: %s -> %s by %s%s: %s\n", str(v, "time"), str(v, "kind"), str(v, "from"), str(v, "to"),
        str(v, "by"), json_is_true(json_object_get(v, "override")) ? " (OVERRIDE)" : "", str(v, "reason"));
    return b.s;
}

char *sg_report_dir(const char *db) {
    size_t n = strlen(db) + sizeof ".reports";
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s.reports", db);
    return s;
}

sg_error *sg_report_write(sg_store *store, const sg_policy *p, const char *dir, int64_t now_ms) {
    if (mkdir(dir, 0700) && errno != EEXIST) return sg_error_new("%s: %s", dir, strerror(errno));
    json_t *rep = NULL;
    sg_error *err =
        sg_report_build(store, p, now_ms - sg_report_period_ms(p->monitoring_frequency), now_ms, &rep);
    if (err) return err;
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32], name[64];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    char *js = json_dumps(rep, JSON_INDENT(2) | JSON_SORT_KEYS);
    char *md = sg_report_text(rep);
    json_decref(rep);
    if (!js || !md) err = sg_error_new("out of memory");
    for (int i = 0; i < 2 && !err; i++) {
        snprintf(name, sizeof name, "report-%s.%s", stamp, i ? "md" : "json");
        char *path = sg_path_join(dir, name);
        const char *text = i ? md : js;
        err = path ? sg_file_write_atomic(path, text, strlen(text)) : sg_error_new("out of memory");
        free(path);
    }
    free(js);
    free(md);
    return err;
}
