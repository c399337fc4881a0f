/* policy.c — loads the release policy YAML (libyaml's document API) into the
 * typed structs of policy.h, validating as it goes, and answers the access
 * questions the gateway asks per request.
 *
 * The loader walks the node tree. Each mapping is first "collected": its keys
 * are matched against the keys that mapping may have (unknown keys become
 * warnings, duplicates errors), then the values are parsed in a fixed order,
 * so that references (a stage naming a model, current_stage naming a stage)
 * can be checked where they are written, whatever order the file uses.
 * Every problem is reported at the node's line:column and loading goes on, so
 * that one run reports all errors. */
#include "release/policy.h"
#include "release/policy_demo.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/fileio.h"

#define MAX_ERRORS 50
/* Aliases let a small document name the same subtree many times; every node
 * visit costs one unit of this budget so that walking stays linear-ish. */
#define NODE_BUDGET 1000000L
/* Lists and maps are checked for duplicates pairwise: bound their length. */
#define MAX_ITEMS 4096

/* ---------------------------------------------------------------- names */

static const char *const access_names[] = {"fully_closed", "gradual",      "hosted",
                                           "api",          "downloadable", "fully_open"};
static const char *const component_names[] = {"model", "risk_analysis", "replication"};
static const char *const strategy_names[] = {"full_release", "staged_release", "internal_only"};
static const char *const risk_names[] = {"none", "not_started", "pending", "in_progress", "completed"};
static const char *const monitor_names[] = {"hourly", "daily", "weekly", "monthly"};
static const char *const audit_names[] = {"none", "hashed", "full"}; /* sg_audit_text_mode order */
static const char *const action_names[] = {"block", "redact", "hardcoded", "flag"};
static const char *const known_protocols[] = {"content_filter",     "rate_limit", "moderation_api",
                                              "user_feedback_loop", "watermark",  "detection",
                                              "hardcoded_responses"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *sg_access_level_name(sg_access_level l) {
    return (unsigned)l < SG_ACCESS_COUNT ? access_names[l] : "?";
}
const char *sg_component_name(sg_component c) {
    return (unsigned)c < SG_COMPONENT_COUNT ? component_names[c] : "?";
}
const char *sg_risk_status_name(sg_risk_status s) {
    return (unsigned)s < (unsigned)COUNT(risk_names) ? risk_names[s] : "?";
}
const char *sg_deployment_strategy_name(sg_deployment_strategy s) {
    return (unsigned)s < (unsigned)COUNT(strategy_names) ? strategy_names[s] : "?";
}
const char *sg_monitoring_frequency_name(sg_monitoring_frequency f) {
    return (unsigned)f < (unsigned)COUNT(monitor_names) ? monitor_names[f] : "?";
}

int sg_policy_known_protocol(const char *name) {
    for (int i = 0; i < COUNT(known_protocols); i++)
        if (!strcmp(name, known_protocols[i])) return 1;
    return 0;
}

/* -------------------------------------------------------- load context */

typedef struct {
    const char *file;
    yaml_document_t *doc;
    sg_policy *p;
    char *errors; /* "\n"-joined */
    size_t errors_len;
    int n_errors;
    int oom;
    long budget;
} ctx;

static int line_of(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 1; }
static int col_of(const yaml_node_t *n) { return n ? (int)n->start_mark.column + 1 : 1; }

static char *vfmt(const char *fmt, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (s) vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static char *fmt(const char *f, ...) SG_PRINTF(1, 2);
static char *fmt(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    char *s = vfmt(f, ap);
    va_end(ap);
    return s;
}

static void add_error_line(ctx *c, const char *line) {
    size_t n = strlen(line);
    char *e = realloc(c->errors, c->errors_len + n + 2);
    if (!e) {
        c->oom = 1;
        return;
    }
    c->errors = e;
    if (c->errors_len) c->errors[c->errors_len++] = '\n';
    memcpy(c->errors + c->errors_len, line, n + 1);
    c->errors_len += n;
}

static void err_at(ctx *c, const yaml_node_t *n, const char *f, ...) SG_PRINTF(3, 4);
static void err_at(ctx *c, const yaml_node_t *n, const char *f, ...) {
    c->n_errors++;
    if (c->n_errors > MAX_ERRORS) return;
    va_list ap;
    va_start(ap, f);
    char *msg = vfmt(f, ap);
    va_end(ap);
    char *line = msg ? fmt("%s:%d:%d: %s", c->file, line_of(n), col_of(n), msg) : NULL;
    if (line)
        add_error_line(c, c->n_errors == MAX_ERRORS ? "too many errors; stopping here" : line);
    else
        c->oom = 1;
    free(msg);
    free(line);
}

static void warn_at(ctx *c, const yaml_node_t *n, const char *f, ...) SG_PRINTF(3, 4);
static void warn_at(ctx *c, const yaml_node_t *n, const char *f, ...) {
    sg_policy *p = c->p;
    if (p->n_warnings >= 1000) return;
    va_list ap;
    va_start(ap, f);
    char *msg = vfmt(f, ap);
    va_end(ap);
    char *line = msg ? fmt("%s:%d:%d: warning: %s", c->file, line_of(n), col_of(n), msg) : NULL;
    char **w = line ? realloc(p->warnings, sizeof *w * ((size_t)p->n_warnings + 1)) : NULL;
    if (w) {
        p->warnings = w;
        p->warnings[p->n_warnings++] = line;
    } else {
        c->oom = 1;
        free(line);
    }
    free(msg);
}

static char *sdup(ctx *c, const char *s) {
    char *d = strdup(s);
    if (!d) c->oom = 1;
    return d;
}

static yaml_node_t *node(ctx *c, yaml_node_item_t id) {
    c->budget--;
    return yaml_document_get_node(c->doc, id);
}

static int is_null(const yaml_node_t *n);

static const char *kind_name(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return is_null(n) ? "null" : "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

static const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static int is_null(const yaml_node_t *n) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *s = scalar(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* -------------------------------------------------------- scalar values */

/* A string value: any non-null scalar without NUL bytes. */
static int get_string(ctx *c, const yaml_node_t *n, const char *key, char **out) {
    if (n->type != YAML_SCALAR_NODE) {
        err_at(c, n, "'%s' must be a string, not %s", key, kind_name(n));
        return 0;
    }
    if (is_null(n)) {
        err_at(c, n, "'%s' must be a string, not null", key);
        return 0;
    }
    if (strlen(scalar(n)) != n->data.scalar.length) {
        err_at(c, n, "'%s' contains a NUL character", key);
        return 0;
    }
    free(*out);
    *out = sdup(c, scalar(n));
    return *out != NULL;
}

/* Names of models and audiences: they appear in API keys, URLs and logs. */
static int valid_name(const char *s, int allow_slash) {
    size_t n = strlen(s);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-' || ch == '.' || (allow_slash && ch == '/')))
            return 0;
    }
    return 1;
}

static int get_name(ctx *c, const yaml_node_t *n, const char *key, char **out) {
    if (!get_string(c, n, key, out)) return 0;
    if (!valid_name(*out, 0)) {
        err_at(c, n, "'%s' must be 1-64 characters of letters, digits, '_', '-' or '.', got '%s'", key, *out);
        free(*out);
        *out = NULL;
        return 0;
    }
    return 1;
}

static int get_long(ctx *c, const yaml_node_t *n, const char *key, long lo, long hi, long *out) {
    if (n->type != YAML_SCALAR_NODE) {
        err_at(c, n, "'%s' must be an integer, not %s", key, kind_name(n));
        return 0;
    }
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        err_at(c, n, "'%s' must be an integer, not the string \"%s\"", key, scalar(n));
        return 0;
    }
    const char *s = scalar(n);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno) {
        err_at(c, n, "'%s' must be an integer, got '%s'", key, s);
        return 0;
    }
    if (v < lo || v > hi) {
        err_at(c, n, "'%s' must be between %ld and %ld, got %lld", key, lo, hi, v);
        return 0;
    }
    *out = (long)v;
    return 1;
}

static int get_int(ctx *c, const yaml_node_t *n, const char *key, int lo, int hi, int *out) {
    long v;
    if (!get_long(c, n, key, lo, hi, &v)) return 0;
    *out = (int)v;
    return 1;
}

static int get_double(ctx *c, const yaml_node_t *n, const char *key, double *out) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        err_at(c, n, "'%s' must be a number, not %s", key,
               n->type == YAML_SCALAR_NODE ? "a quoted string" : kind_name(n));
        return 0;
    }
    const char *s = scalar(n);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v)) {
        err_at(c, n, "'%s' must be a finite number, got '%s'", key, s);
        return 0;
    }
    *out = v;
    return 1;
}

static int get_bool(ctx *c, const yaml_node_t *n, const char *key, int *out) {
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        const char *s = scalar(n);
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) return *out = 1, 1;
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) return *out = 0, 1;
    }
    err_at(c, n, "'%s' must be true or false", key);
    return 0;
}

static int get_enum(ctx *c, const yaml_node_t *n, const char *key, const char *const *names, int count,
                    int *out) {
    char *s = NULL;
    if (!get_string(c, n, key, &s)) return 0;
    for (int i = 0; i < count; i++)
        if (!strcmp(s, names[i])) {
            free(s);
            *out = i;
            return 1;
        }
    char expected[512] = "";
    for (int i = 0; i < count; i++) {
        size_t len = strlen(expected);
        snprintf(expected + len, sizeof expected - len, "%s%s", i ? ", " : "", names[i]);
    }
    err_at(c, n, "unknown %s '%s' (expected one of: %s)", key, s, expected);
    free(s);
    return 0;
}

/* A list of strings, or (if `single_ok`) one string standing for a list of one.
 * Also returns the item nodes (for locating later errors) in *nodes if asked. */
static int get_string_list(ctx *c, const yaml_node_t *n, const char *key, int single_ok, char ***out,
                           int *count, yaml_node_t ***nodes) {
    if (is_null(n)) { /* "key:" with nothing after it: an empty list */
        *out = calloc(1, sizeof(char *));
        if (nodes) *nodes = calloc(1, sizeof(yaml_node_t *));
        if (!*out || (nodes && !*nodes)) c->oom = 1;
        *count = 0;
        return 1;
    }
    if (single_ok && n->type == YAML_SCALAR_NODE) {
        char **a = calloc(1, sizeof *a);
        yaml_node_t **an = nodes ? calloc(1, sizeof *an) : NULL;
        if (!a || (nodes && !an)) {
            free(a);
            free(an);
            c->oom = 1;
            return 0;
        }
        if (!get_string(c, n, key, &a[0])) {
            free(a);
            free(an);
            return 0;
        }
        *out = a;
        *count = 1;
        if (nodes) {
            an[0] = (yaml_node_t *)n;
            *nodes = an;
        }
        return 1;
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        err_at(c, n, "'%s' must be a list%s, not %s", key, single_ok ? " or a string" : "", kind_name(n));
        return 0;
    }
    int total = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    char **a = calloc((size_t)total + 1, sizeof *a);
    yaml_node_t **an = nodes ? calloc((size_t)total + 1, sizeof *an) : NULL;
    if (!a || (nodes && !an)) {
        free(a);
        free(an);
        c->oom = 1;
        return 0;
    }
    int k = 0, ok = 1;
    for (int i = 0; i < total && c->budget > 0; i++) {
        yaml_node_t *item = node(c, n->data.sequence.items.start[i]);
        if (!item) continue;
        char *s = NULL;
        if (!get_string(c, item, key, &s)) {
            ok = 0;
            continue;
        }
        if (nodes) an[k] = item;
        a[k++] = s;
    }
    *out = a;
    *count = k;
    if (nodes) *nodes = an;
    return ok;
}

static void free_strings(char **a, int n) {
    if (!a) return;
    for (int i = 0; i < n; i++) free(a[i]);
    free(a);
}

static int has_string(char *const *a, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (!strcmp(a[i], s)) return 1;
    return 0;
}

/* --------------------------------------------------------------- mappings */

static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) return 99;
    int d[41][41];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

/* Matches the keys of mapping `n` against `keys`: vals[i] gets the value of
 * keys[i] (NULL if absent), knodes[i] its key node. Unknown keys are warnings
 * (with a suggestion for near misses), duplicate keys errors. Returns 0 if `n`
 * is not a mapping (an error naming `what` has been reported). */
static int collect(ctx *c, const yaml_node_t *n, const char *what, const char *const *keys, int nkeys,
                   yaml_node_t **vals, yaml_node_t **knodes) {
    for (int i = 0; i < nkeys; i++) vals[i] = knodes[i] = NULL;
    if (n->type != YAML_MAPPING_NODE) {
        err_at(c, n, "%s must be a mapping, not %s", what, kind_name(n));
        return 0;
    }
    for (yaml_node_pair_t *pair = n->data.mapping.pairs.start;
         pair < n->data.mapping.pairs.top && c->budget > 0; pair++) {
        yaml_node_t *k = node(c, pair->key), *v = node(c, pair->value);
        if (!k || !v) continue;
        if (k->type != YAML_SCALAR_NODE) {
            err_at(c, k, "keys in %s must be strings, not %s", what, kind_name(k));
            continue;
        }
        const char *key = scalar(k);
        int found = -1;
        for (int i = 0; i < nkeys; i++)
            if (!strcmp(key, keys[i])) found = i;
        if (found < 0) {
            int best = -1, bestd = 3;
            for (int i = 0; i < nkeys; i++) {
                int d = edit_distance(key, keys[i]);
                if (d < bestd) bestd = d, best = i;
            }
            if (best >= 0)
                warn_at(c, k, "unknown key '%s' (did you mean '%s'?)", key, keys[best]);
            else
                warn_at(c, k, "unknown key '%s'", key);
            continue;
        }
        if (vals[found]) {
            err_at(c, k, "duplicate key '%s' (first at %d:%d)", key, line_of(knodes[found]),
                   col_of(knodes[found]));
            continue;
        }
        vals[found] = v;
        knodes[found] = k;
    }
    return 1;
}

/* Joins a relative `path` to `base` and folds "." and "dir/.." lexically, so
 * that "examples" + "../models/x" reads "models/x". */
static char *resolve_path(ctx *c, const char *base, const char *path) {
    if (path[0] == '/' || !base) return sdup(c, path);
    char *joined = sg_path_join(base, path);
    if (!joined) {
        c->oom = 1;
        return NULL;
    }
    size_t n = strlen(joined);
    char *out = malloc(n + 2);
    const char **parts = calloc(n + 1, sizeof *parts);
    if (!out || !parts) {
        free(out);
        free(parts);
        free(joined);
        c->oom = 1;
        return NULL;
    }
    int absolute = joined[0] == '/', np = 0, fixed = 0; /* fixed: leading ".." that cannot fold */
    for (char *save = NULL, *t = strtok_r(joined, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (!strcmp(t, ".")) continue;
        if (!strcmp(t, "..") && np > fixed) {
            np--;
            continue;
        }
        if (!strcmp(t, "..") && absolute) continue;
        if (!strcmp(t, "..")) fixed = np + 1;
        parts[np++] = t;
    }
    size_t len = 0;
    if (absolute) out[len++] = '/';
    for (int i = 0; i < np; i++) {
        size_t l = strlen(parts[i]);
        if (i) out[len++] = '/';
        memcpy(out + len, parts[i], l);
        len += l;
    }
    if (len == 0) out[len++] = '.';
    out[len] = 0;
    free(parts);
    free(joined);
    return out;
}

/* ----------------------------------------------------------------- models */

static void parse_models(ctx *c, const yaml_node_t *n, const char *base_dir) {
    sg_policy *p = c->p;
    if (n->type != YAML_MAPPING_NODE) {
        err_at(c, n, "'models' must be a mapping of model name to checkpoint directory, not %s",
               kind_name(n));
        return;
    }
    int total = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    p->models = calloc((size_t)total + 1, sizeof *p->models);
    if (!p->models) {
        c->oom = 1;
        return;
    }
    for (int i = 0; i < total && c->budget > 0; i++) {
        yaml_node_pair_t *pair = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = node(c, pair->key), *v = node(c, pair->value);
        if (!k || !v) continue;
        char *name = NULL, *dir = NULL;
        if (!get_name(c, k, "model name", &name)) continue;
        if (sg_policy_find_model(p, name)) {
            err_at(c, k, "model '%s' is defined twice", name);
            free(name);
            continue;
        }
        if (!get_string(c, v, "checkpoint directory", &dir)) {
            free(name);
            continue;
        }
        if (!*dir) {
            err_at(c, v, "model '%s' has an empty checkpoint directory", name);
            free(name);
            free(dir);
            continue;
        }
        char *resolved = resolve_path(c, base_dir, dir);
        free(dir);
        dir = resolved;
        if (!dir) {
            free(name);
            continue;
        }
        sg_policy_model *m = &p->models[p->n_models++];
        m->name = name;
        m->path = dir;
        m->line = line_of(k);
    }
}

/* ---------------------------------------------------------- protocol lists */

static void check_protocols(ctx *c, char **names, int n, yaml_node_t **nodes) {
    for (int i = 0; i < n; i++) {
        if (!sg_policy_known_protocol(names[i])) {
            int best = -1, bestd = 3;
            for (int j = 0; j < COUNT(known_protocols); j++) {
                int d = edit_distance(names[i], known_protocols[j]);
                if (d < bestd) bestd = d, best = j;
            }
            if (best >= 0)
                warn_at(c, nodes[i], "unknown safety protocol '%s' (did you mean '%s'?)", names[i],
                        known_protocols[best]);
            else
                warn_at(c, nodes[i], "unknown safety protocol '%s' (stagegate does not enforce it)",
                        names[i]);
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                warn_at(c, nodes[i], "safety protocol '%s' is listed twice", names[i]);
    }
}

/* ------------------------------------------------------------------ gates */

static void parse_eval_gate(ctx *c, const yaml_node_t *n, sg_policy_eval_gate *g) {
    static const char *const keys[] = {"suite", "model", "metric", "min", "max"};
    yaml_node_t *v[5], *k[5];
    if (!collect(c, n, "an evaluation gate", keys, 5, v, k)) return;
    if (v[0])
        get_name(c, v[0], "suite", &g->suite);
    else
        err_at(c, n, "evaluation gate is missing 'suite'");
    if (v[1]) {
        if (get_name(c, v[1], "model", &g->model) && !sg_policy_find_model(c->p, g->model))
            err_at(c, v[1], "evaluation gate names undefined model '%s'", g->model);
    } else {
        err_at(c, n, "evaluation gate is missing 'model'");
    }
    if (v[2])
        get_name(c, v[2], "metric", &g->metric);
    else
        err_at(c, n, "evaluation gate is missing 'metric'");
    if (v[3]) g->has_min = get_double(c, v[3], "min", &g->min);
    if (v[4]) g->has_max = get_double(c, v[4], "max", &g->max);
    if (!v[3] && !v[4]) err_at(c, n, "evaluation gate needs 'min' or 'max'");
    if (g->has_min && g->has_max && g->min > g->max)
        err_at(c, v[3], "evaluation gate has min %g above max %g", g->min, g->max);
}

static void parse_gates(ctx *c, const yaml_node_t *n, sg_policy_gates *g) {
    static const char *const keys[] = {"min_days", "risk_assessment", "evaluations", "signoffs",
                                       "safety_protocols"};
    yaml_node_t *v[5], *k[5];
    if (!collect(c, n, "'gates'", keys, 5, v, k)) return;
    if (v[0]) get_int(c, v[0], "min_days", 0, 36500, &g->min_days);
    if (v[1]) {
        int s;
        if (get_enum(c, v[1], "risk_assessment", risk_names, COUNT(risk_names), &s)) g->risk_assessment = s;
    }
    if (v[2]) {
        if (v[2]->type != YAML_SEQUENCE_NODE) {
            err_at(c, v[2], "'evaluations' must be a list, not %s", kind_name(v[2]));
        } else {
            int total = (int)(v[2]->data.sequence.items.top - v[2]->data.sequence.items.start);
            g->evaluations = calloc((size_t)total + 1, sizeof *g->evaluations);
            if (!g->evaluations) c->oom = 1;
            for (int i = 0; g->evaluations && i < total && c->budget > 0; i++) {
                yaml_node_t *item = node(c, v[2]->data.sequence.items.start[i]);
                if (item) parse_eval_gate(c, item, &g->evaluations[g->n_evaluations++]);
            }
        }
    }
    if (v[3]) {
        if (v[3]->type == YAML_SCALAR_NODE) {
            get_int(c, v[3], "signoffs", 0, 1000, &g->signoffs);
        } else {
            static const char *const skeys[] = {"count", "reviewers"};
            yaml_node_t *sv[2], *sk[2];
            if (collect(c, v[3], "'signoffs'", skeys, 2, sv, sk)) {
                yaml_node_t **rn = NULL;
                if (sv[1] && get_string_list(c, sv[1], "reviewers", 0, &g->reviewers, &g->n_reviewers, &rn)) {
                    for (int i = 0; i < g->n_reviewers; i++)
                        for (int j = 0; j < i; j++)
                            if (!strcmp(g->reviewers[i], g->reviewers[j]))
                                err_at(c, rn[i], "reviewer '%s' is listed twice", g->reviewers[i]);
                }
                free(rn);
                if (sv[0]) {
                    if (get_int(c, sv[0], "count", 0, 1000, &g->signoffs) && g->n_reviewers &&
                        g->signoffs > g->n_reviewers)
                        err_at(c, sv[0], "%d sign-offs required but only %d reviewers named", g->signoffs,
                               g->n_reviewers);
                } else {
                    g->signoffs = g->n_reviewers;
                }
            }
        }
    }
    if (v[4]) {
        yaml_node_t **pn = NULL;
        if (get_string_list(c, v[4], "safety_protocols", 0, &g->safety_protocols, &g->n_safety_protocols,
                            &pn))
            check_protocols(c, g->safety_protocols, g->n_safety_protocols, pn);
        free(pn);
    }
}

/* ----------------------------------------------------------------- stages */

enum {
    SK_NAME,
    SK_AUDIENCE,
    SK_DURATION,
    SK_RISK,
    SK_PROTOCOLS,
    SK_MODELS,
    SK_REPLACE_AUD,
    SK_REPLACE_MODELS,
    SK_AUDIENCE_MODELS,
    SK_ACCESS,
    SK_COMPONENTS,
    SK_RATE_LIMITS,
    SK_GATES,
    SK_COUNT
};
static const char *const stage_keys[SK_COUNT] = {
    "name",       "audience",          "duration_days",  "risk_assessment_status", "safety_protocols_enabled",
    "models",     "replace_audiences", "replace_models", "audience_models",        "access",
    "components", "rate_limits",       "gates"};

/* Appends the strings of `b` missing from a[0..*na) (a has room for them). */
static void union_into(ctx *c, char **a, int *na, char *const *b, int nb) {
    for (int i = 0; i < nb; i++)
        if (!has_string(a, *na, b[i])) {
            char *s = sdup(c, b[i]);
            if (s) a[(*na)++] = s;
        }
}

static void compute_effective(ctx *c, int idx, const yaml_node_t *audience_node) {
    sg_policy *p = c->p;
    sg_policy_stage *s = &p->stages[idx], *prev = idx ? &p->stages[idx - 1] : NULL;
    int keep_aud = prev && !s->replace_audiences;
    int internal = p->deployment_strategy == SG_DEPLOY_INTERNAL_ONLY && idx > 0;
    int cap = (internal ? p->stages[0].n_effective_audiences
                        : (keep_aud ? prev->n_effective_audiences : 0) + s->n_audiences);
    s->effective_audiences = calloc((size_t)cap + 1, sizeof(char *));
    if (!s->effective_audiences) {
        c->oom = 1;
        return;
    }
    if (internal) {
        union_into(c, s->effective_audiences, &s->n_effective_audiences, p->stages[0].effective_audiences,
                   p->stages[0].n_effective_audiences);
        for (int i = 0; i < s->n_audiences; i++)
            if (!has_string(s->effective_audiences, s->n_effective_audiences, s->audiences[i])) {
                warn_at(c, audience_node,
                        "deployment_strategy is internal_only: audience '%s' of stage '%s' is never served",
                        s->audiences[i], s->name);
                break;
            }
    } else {
        if (keep_aud)
            union_into(c, s->effective_audiences, &s->n_effective_audiences, prev->effective_audiences,
                       prev->n_effective_audiences);
        union_into(c, s->effective_audiences, &s->n_effective_audiences, s->audiences, s->n_audiences);
    }
    int keep_models = prev && !s->replace_models;
    cap = (keep_models ? prev->n_effective_models : 0) + s->n_models;
    s->effective_models = calloc((size_t)cap + 1, sizeof(char *));
    if (!s->effective_models) {
        c->oom = 1;
        return;
    }
    if (keep_models)
        union_into(c, s->effective_models, &s->n_effective_models, prev->effective_models,
                   prev->n_effective_models);
    union_into(c, s->effective_models, &s->n_effective_models, s->models, s->n_models);
}

static void parse_components(ctx *c, const yaml_node_t *n, sg_access_level *levels, int *given) {
    yaml_node_t *v[SG_COMPONENT_COUNT], *k[SG_COMPONENT_COUNT];
    if (!collect(c, n, "'components'", component_names, SG_COMPONENT_COUNT, v, k)) return;
    for (int i = 0; i < SG_COMPONENT_COUNT; i++) {
        int l;
        if (v[i] && get_enum(c, v[i], "access level", access_names, SG_ACCESS_COUNT, &l)) {
            levels[i] = (sg_access_level)l;
            given[i] = 1;
        }
    }
}

static void parse_rate_limits(ctx *c, const yaml_node_t *n, sg_policy_stage *s) {
    if (n->type != YAML_MAPPING_NODE) {
        err_at(c, n, "'rate_limits' must be a mapping of audience to {rpm, tpm}, not %s", kind_name(n));
        return;
    }
    int total = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    s->rate_limits = calloc((size_t)total + 1, sizeof *s->rate_limits);
    if (!s->rate_limits) {
        c->oom = 1;
        return;
    }
    for (int i = 0; i < total && c->budget > 0; i++) {
        yaml_node_pair_t *pair = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = node(c, pair->key), *v = node(c, pair->value);
        if (!k || !v) continue;
        char *aud = NULL;
        if (!get_name(c, k, "audience", &aud)) continue;
        int dup = 0;
        for (int j = 0; j < s->n_rate_limits; j++) dup |= !strcmp(s->rate_limits[j].audience, aud);
        if (dup) {
            err_at(c, k, "rate limit for audience '%s' is given twice", aud);
            free(aud);
            continue;
        }
        if (strcmp(aud, "default") && !has_string(s->effective_audiences, s->n_effective_audiences, aud))
            warn_at(c, k, "rate limit for audience '%s', which is not served at stage '%s'", aud, s->name);
        static const char *const keys[] = {"rpm", "tpm"};
        yaml_node_t *rv[2], *rk[2];
        sg_policy_audience_limit *rl = &s->rate_limits[s->n_rate_limits++];
        rl->audience = aud;
        if (!collect(c, v, "a rate limit", keys, 2, rv, rk)) continue;
        if (rv[0]) get_long(c, rv[0], "rpm", 0, 1000000000L, &rl->rpm);
        if (rv[1]) get_long(c, rv[1], "tpm", 0, 1000000000000L, &rl->tpm);
        if (!rv[0] && !rv[1]) err_at(c, v, "rate limit for audience '%s' needs 'rpm' or 'tpm'", aud);
    }
}

static void parse_audience_models(ctx *c, const yaml_node_t *n, sg_policy_stage *s) {
    if (n->type != YAML_MAPPING_NODE) {
        err_at(c, n, "'audience_models' must be a mapping of audience to a list of models, not %s",
               kind_name(n));
        return;
    }
    int total = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    s->audience_models = calloc((size_t)total + 1, sizeof *s->audience_models);
    if (!s->audience_models) {
        c->oom = 1;
        return;
    }
    for (int i = 0; i < total && c->budget > 0; i++) {
        yaml_node_pair_t *pair = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = node(c, pair->key), *v = node(c, pair->value);
        if (!k || !v) continue;
        char *aud = NULL;
        if (!get_name(c, k, "audience", &aud)) continue;
        int dup = 0;
        for (int j = 0; j < s->n_audience_models; j++) dup |= !strcmp(s->audience_models[j].audience, aud);
        if (dup) {
            err_at(c, k, "audience_models for audience '%s' is given twice", aud);
            free(aud);
            continue;
        }
        if (!has_string(s->effective_audiences, s->n_effective_audiences, aud))
            err_at(c, k, "audience_models names audience '%s', which is not served at stage '%s'", aud,
                   s->name);
        sg_policy_audience_models *am = &s->audience_models[s->n_audience_models++];
        am->audience = aud;
        yaml_node_t **mn = NULL;
        if (get_string_list(c, v, "audience_models", 1, &am->models, &am->n_models, &mn))
            for (int j = 0; j < am->n_models; j++)
                if (!has_string(s->effective_models, s->n_effective_models, am->models[j]))
                    err_at(c, mn[j], "model '%s' is not released at stage '%s'", am->models[j], s->name);
        free(mn);
    }
}

static void parse_stage(ctx *c, const yaml_node_t *n, int idx) {
    sg_policy *p = c->p;
    sg_policy_stage *s = &p->stages[idx];
    s->line = line_of(n);
    s->column = col_of(n);
    yaml_node_t *v[SK_COUNT], *k[SK_COUNT];
    int ok = collect(c, n, "a release stage", stage_keys, SK_COUNT, v, k);
    sg_policy_stage *prev = idx ? &p->stages[idx - 1] : NULL;
    /* Defaults (inherited from the previous stage where the gradient is concerned). */
    s->components[SG_COMPONENT_MODEL] = prev ? prev->components[SG_COMPONENT_MODEL] : SG_ACCESS_GRADUAL;
    s->components[SG_COMPONENT_RISK_ANALYSIS] =
        prev ? prev->components[SG_COMPONENT_RISK_ANALYSIS] : SG_ACCESS_FULLY_CLOSED;
    s->components[SG_COMPONENT_REPLICATION] =
        prev ? prev->components[SG_COMPONENT_REPLICATION] : SG_ACCESS_FULLY_CLOSED;
    s->gates.min_days = prev ? prev->duration_days : 0;
    if (!ok) {
        s->name = fmt("#%d", idx + 1);
        if (!s->name) c->oom = 1;
        compute_effective(c, idx, n);
        return;
    }

    if (v[SK_NAME]) {
        if (get_string(c, v[SK_NAME], "name", &s->name)) {
            if (!*s->name) err_at(c, v[SK_NAME], "stage name is empty");
            for (int j = 0; j < idx; j++)
                if (p->stages[j].name && !strcmp(p->stages[j].name, s->name))
                    err_at(c, v[SK_NAME], "duplicate stage name '%s' (first at %d:%d)", s->name,
                           p->stages[j].line, p->stages[j].column);
        }
    } else {
        err_at(c, n, "release stage %d is missing 'name'", idx + 1);
    }
    if (!s->name) {
        s->name = fmt("#%d", idx + 1);
        if (!s->name) c->oom = 1;
    }
    if (v[SK_AUDIENCE]) {
        yaml_node_t **an = NULL;
        if (get_string_list(c, v[SK_AUDIENCE], "audience", 1, &s->audiences, &s->n_audiences, &an))
            for (int i = 0; i < s->n_audiences; i++) {
                if (!valid_name(s->audiences[i], 0))
                    err_at(c, an[i],
                           "audience must be 1-64 characters of letters, digits, '_', '-' or '.', got '%s'",
                           s->audiences[i]);
                else if (!strcmp(s->audiences[i], "default"))
                    err_at(c, an[i],
                           "'default' is reserved (the rate limit of unlisted audiences): pick another "
                           "audience name");
            }
        free(an);
    } else if (idx == 0) {
        err_at(c, n, "the first release stage ('%s') is missing 'audience'", s->name);
    }
    if (v[SK_AUDIENCE] && idx == 0 && s->n_audiences == 0 && is_null(v[SK_AUDIENCE]))
        err_at(c, v[SK_AUDIENCE], "the first release stage ('%s') has no audience", s->name);
    if (v[SK_REPLACE_AUD]) get_bool(c, v[SK_REPLACE_AUD], "replace_audiences", &s->replace_audiences);
    if (v[SK_REPLACE_MODELS]) get_bool(c, v[SK_REPLACE_MODELS], "replace_models", &s->replace_models);
    if (v[SK_DURATION]) get_int(c, v[SK_DURATION], "duration_days", 0, 36500, &s->duration_days);
    if (v[SK_RISK]) {
        int r;
        if (get_enum(c, v[SK_RISK], "risk_assessment_status", risk_names, COUNT(risk_names), &r)) {
            s->risk_assessment_status = r;
            s->gates.risk_assessment = r;
        }
    }
    if (v[SK_PROTOCOLS]) {
        yaml_node_t **pn = NULL;
        if (get_string_list(c, v[SK_PROTOCOLS], "safety_protocols_enabled", 0, &s->protocols, &s->n_protocols,
                            &pn)) {
            check_protocols(c, s->protocols, s->n_protocols, pn);
            s->gates.safety_protocols = calloc((size_t)s->n_protocols + 1, sizeof(char *));
            if (!s->gates.safety_protocols)
                c->oom = 1;
            else
                union_into(c, s->gates.safety_protocols, &s->gates.n_safety_protocols, s->protocols,
                           s->n_protocols);
        }
        free(pn);
    }
    if (v[SK_MODELS]) {
        yaml_node_t **mn = NULL;
        if (get_string_list(c, v[SK_MODELS], "models", 1, &s->models, &s->n_models, &mn))
            for (int i = 0; i < s->n_models; i++)
                if (!sg_policy_find_model(p, s->models[i]))
                    err_at(c, mn[i], "stage '%s' releases undefined model '%s'", s->name, s->models[i]);
        free(mn);
    }
    int given[SG_COMPONENT_COUNT] = {0};
    if (v[SK_COMPONENTS]) parse_components(c, v[SK_COMPONENTS], s->components, given);
    if (v[SK_ACCESS]) {
        int l;
        if (get_enum(c, v[SK_ACCESS], "access level", access_names, SG_ACCESS_COUNT, &l)) {
            if (given[SG_COMPONENT_MODEL] && s->components[SG_COMPONENT_MODEL] != (sg_access_level)l)
                err_at(c, v[SK_ACCESS], "'access' (%s) contradicts components.model (%s)", access_names[l],
                       access_names[s->components[SG_COMPONENT_MODEL]]);
            s->components[SG_COMPONENT_MODEL] = (sg_access_level)l;
        }
    }
    compute_effective(c, idx, v[SK_AUDIENCE] ? v[SK_AUDIENCE] : n);
    if (v[SK_AUDIENCE_MODELS]) parse_audience_models(c, v[SK_AUDIENCE_MODELS], s);
    if (v[SK_RATE_LIMITS]) parse_rate_limits(c, v[SK_RATE_LIMITS], s);
    if (v[SK_GATES]) {
        if (p->deployment_strategy == SG_DEPLOY_FULL_RELEASE)
            warn_at(c, k[SK_GATES],
                    "deployment_strategy is full_release: the gates of stage '%s' are not applied", s->name);
        else if (idx == 0)
            warn_at(c, k[SK_GATES],
                    "the first stage is where the release starts: its gates are never checked");
        /* Explicit gate keys replace the defaults taken from the stage. */
        if (v[SK_GATES]->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *pair = v[SK_GATES]->data.mapping.pairs.start;
                 pair < v[SK_GATES]->data.mapping.pairs.top; pair++) {
                yaml_node_t *gk = node(c, pair->key);
                if (gk && gk->type == YAML_SCALAR_NODE && !strcmp(scalar(gk), "safety_protocols")) {
                    free_strings(s->gates.safety_protocols, s->gates.n_safety_protocols);
                    s->gates.safety_protocols = NULL;
                    s->gates.n_safety_protocols = 0;
                }
            }
        }
        parse_gates(c, v[SK_GATES], &s->gates);
    }
    if (p->deployment_strategy == SG_DEPLOY_FULL_RELEASE) {
        sg_policy_gates *g = &s->gates;
        g->min_days = 0;
        g->risk_assessment = SG_RISK_NONE;
        g->signoffs = 0;
        for (int i = 0; i < g->n_evaluations; i++) {
            free(g->evaluations[i].suite);
            free(g->evaluations[i].model);
            free(g->evaluations[i].metric);
        }
        g->n_evaluations = 0;
        free_strings(g->safety_protocols, g->n_safety_protocols);
        g->safety_protocols = NULL;
        g->n_safety_protocols = 0;
    }
}

static void parse_stages(ctx *c, const yaml_node_t *n) {
    sg_policy *p = c->p;
    if (n->type != YAML_SEQUENCE_NODE) {
        err_at(c, n, "'release_stages' must be a list, not %s", kind_name(n));
        return;
    }
    int total = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (total == 0) {
        err_at(c, n, "'release_stages' is empty: a release needs at least one stage");
        return;
    }
    p->stages = calloc((size_t)total, sizeof *p->stages);
    if (!p->stages) {
        c->oom = 1;
        return;
    }
    for (int i = 0; i < total && c->budget > 0 && !c->oom; i++) {
        yaml_node_t *item = node(c, n->data.sequence.items.start[i]);
        if (!item) continue;
        p->n_stages++;
        parse_stage(c, item, p->n_stages - 1);
    }
}

/* -------------------------------------------------------- content filter */

static void parse_category(ctx *c, const yaml_node_t *n, sg_filter_category *cat) {
    static const char *const keys[] = {"name", "terms", "patterns", "allow", "action", "response", "on"};
    yaml_node_t *v[7], *k[7];
    cat->action = SG_FILTER_BLOCK;
    cat->on_input = cat->on_output = 1;
    if (!collect(c, n, "a content_filter category", keys, 7, v, k)) return;
    if (v[0]) {
        if (get_string(c, v[0], "name", &cat->name) && !valid_name(cat->name, 1))
            err_at(c, v[0],
                   "category name must be 1-64 characters of letters, digits, '_', '-', '.' or '/', got '%s'",
                   cat->name);
    } else {
        err_at(c, n, "content_filter category is missing 'name'");
    }
    const char *cname = cat->name ? cat->name : "?";
    yaml_node_t **tn = NULL;
    if (v[1] && get_string_list(c, v[1], "terms", 0, &cat->terms, &cat->n_terms, &tn))
        for (int i = 0; i < cat->n_terms; i++)
            if (!*cat->terms[i]) err_at(c, tn[i], "empty term in category '%s'", cname);
    free(tn);
    if (v[2]) {
        yaml_node_t **pn = NULL;
        if (get_string_list(c, v[2], "patterns", 0, &cat->patterns, &cat->n_patterns, &pn)) {
            for (int i = 0; i < cat->n_patterns; i++) {
                int code;
                PCRE2_SIZE off;
                pcre2_code *re = pcre2_compile((PCRE2_SPTR)cat->patterns[i], PCRE2_ZERO_TERMINATED,
                                               PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
                if (re) {
                    pcre2_code_free(re);
                    continue;
                }
                PCRE2_UCHAR buf[256];
                if (pcre2_get_error_message(code, buf, sizeof buf) < 0)
                    strcpy((char *)buf, "invalid pattern");
                /* Point at the offending character when the scalar is written on one
                 * line without escapes (plain or single-quoted without ''). */
                const yaml_node_t *pat = pn[i];
                yaml_scalar_style_t st = pat->data.scalar.style;
                if (pat->start_mark.line == pat->end_mark.line &&
                    (st == YAML_PLAIN_SCALAR_STYLE ||
                     (st == YAML_SINGLE_QUOTED_SCALAR_STYLE && !strstr(cat->patterns[i], "'")))) {
                    size_t chars = 0; /* libyaml columns count characters, PCRE2 offsets bytes */
                    for (size_t b = 0; b < off && cat->patterns[i][b]; b++)
                        chars += ((unsigned char)cat->patterns[i][b] & 0xC0) != 0x80;
                    yaml_node_t at = *pat;
                    at.start_mark.column += chars + (st == YAML_SINGLE_QUOTED_SCALAR_STYLE);
                    err_at(c, &at, "pattern in category '%s' does not compile: %s", cname, (char *)buf);
                } else {
                    err_at(c, pat, "pattern in category '%s' does not compile: %s at offset %zu", cname,
                           (char *)buf, (size_t)off);
                }
            }
        }
        free(pn);
    }
    if (v[3]) get_string_list(c, v[3], "allow", 0, &cat->allow, &cat->n_allow, NULL);
    if (v[4]) {
        int a;
        if (get_enum(c, v[4], "action", action_names, COUNT(action_names), &a))
            cat->action = (sg_filter_action)a;
    }
    if (v[5]) get_string(c, v[5], "response", &cat->response);
    if (cat->action == SG_FILTER_HARDCODED && !cat->response)
        err_at(c, v[4] ? v[4] : n, "category '%s' has action hardcoded but no 'response'", cname);
    if (v[6]) {
        char **on = NULL;
        int n_on = 0;
        yaml_node_t **onn = NULL;
        if (get_string_list(c, v[6], "on", 1, &on, &n_on, &onn)) {
            cat->on_input = cat->on_output = 0;
            for (int i = 0; i < n_on; i++) {
                if (!strcmp(on[i], "input"))
                    cat->on_input = 1;
                else if (!strcmp(on[i], "output"))
                    cat->on_output = 1;
                else
                    err_at(c, onn[i], "unknown on '%s' (expected one of: input, output)", on[i]);
            }
            if (!n_on) err_at(c, v[6], "category '%s' applies to nothing: 'on' is empty", cname);
        }
        free_strings(on, n_on);
        free(onn);
    }
    if (!cat->n_terms && !cat->n_patterns)
        warn_at(c, n, "content_filter category '%s' has no terms or patterns: it never matches", cname);
}

static void parse_content_filter(ctx *c, const yaml_node_t *n) {
    sg_filter_rules *r = &c->p->filter;
    static const char *const keys[] = {"categories", "leetspeak"};
    yaml_node_t *v[2], *k[2];
    if (!collect(c, n, "'content_filter'", keys, 2, v, k)) return;
    if (v[0]) {
        if (v[0]->type != YAML_SEQUENCE_NODE) {
            err_at(c, v[0], "'categories' must be a list, not %s", kind_name(v[0]));
        } else {
            int total = (int)(v[0]->data.sequence.items.top - v[0]->data.sequence.items.start);
            r->categories = calloc((size_t)total + 1, sizeof *r->categories);
            if (!r->categories) c->oom = 1;
            for (int i = 0; r->categories && i < total && c->budget > 0; i++) {
                yaml_node_t *item = node(c, v[0]->data.sequence.items.start[i]);
                if (!item) continue;
                sg_filter_category *cat = &r->categories[r->n_categories++];
                parse_category(c, item, cat);
                for (int j = 0; cat->name && j < r->n_categories - 1; j++)
                    if (r->categories[j].name && !strcmp(r->categories[j].name, cat->name))
                        err_at(c, item, "content_filter category '%s' is defined twice", cat->name);
            }
        }
    }
    if (v[1]) {
        yaml_node_t *m = v[1];
        if (m->type != YAML_MAPPING_NODE) {
            err_at(c, m, "'leetspeak' must be a mapping of characters to the letters they stand for, not %s",
                   kind_name(m));
            return;
        }
        int total = (int)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
        r->leet_from = calloc((size_t)total + 1, sizeof(char *));
        r->leet_to = calloc((size_t)total + 1, sizeof(char *));
        if (!r->leet_from || !r->leet_to) {
            c->oom = 1;
            return;
        }
        for (int i = 0; i < total && c->budget > 0; i++) {
            yaml_node_t *lk = node(c, m->data.mapping.pairs.start[i].key);
            yaml_node_t *lv = node(c, m->data.mapping.pairs.start[i].value);
            if (!lk || !lv) continue;
            char *from = NULL, *to = NULL;
            if (!get_string(c, lk, "leetspeak key", &from) || !get_string(c, lv, "leetspeak value", &to) ||
                !*from) {
                if (from && !*from) err_at(c, lk, "empty leetspeak key");
                free(from);
                free(to);
                continue;
            }
            r->leet_from[r->n_leet] = from;
            r->leet_to[r->n_leet++] = to;
        }
    }
}

/* ------------------------------------------------------------- top level */

enum {
    TK_MODEL_NAME,
    TK_VERSION,
    TK_STRATEGY,
    TK_STAGES,
    TK_MITIGATION,
    TK_MONITORING,
    TK_INCIDENT,
    TK_MODELS,
    TK_CURRENT,
    TK_AUDIT,
    TK_SERVER,
    TK_FLAGS,
    TK_LICENSE,
    TK_FILTER,
    TK_DEMO,
    TK_COUNT
};
static const char *const top_keys[TK_COUNT] = {"model_name",
                                               "version",
                                               "deployment_strategy",
                                               "release_stages",
                                               "risk_mitigation_plan",
                                               "monitoring_frequency",
                                               "incident_response_plan",
                                               "models",
                                               "current_stage",
                                               "audit",
                                               "server",
                                               "flags",
                                               "license",
                                               "content_filter",
                                               "demo"};

static void parse_mitigations(ctx *c, const yaml_node_t *n) {
    sg_policy *p = c->p;
    if (n->type != YAML_SEQUENCE_NODE) {
        err_at(c, n, "'risk_mitigation_plan' must be a list of 'risk: mitigation' entries, not %s",
               kind_name(n));
        return;
    }
    int total = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    p->mitigations = calloc((size_t)total + 1, sizeof *p->mitigations);
    if (!p->mitigations) {
        c->oom = 1;
        return;
    }
    for (int i = 0; i < total && c->budget > 0; i++) {
        yaml_node_t *item = node(c, n->data.sequence.items.start[i]);
        if (!item) continue;
        if (item->type != YAML_MAPPING_NODE ||
            item->data.mapping.pairs.top - item->data.mapping.pairs.start != 1) {
            err_at(c, item, "each risk_mitigation_plan entry must be a one-key mapping 'risk: mitigation'");
            continue;
        }
        yaml_node_t *k = node(c, item->data.mapping.pairs.start[0].key);
        yaml_node_t *v = node(c, item->data.mapping.pairs.start[0].value);
        if (!k || !v) continue;
        sg_policy_mitigation m = {0};
        if (get_string(c, k, "risk", &m.risk) && get_string(c, v, "mitigation", &m.mitigation)) {
            for (int j = 0; j < p->n_mitigations; j++)
                if (!strcmp(p->mitigations[j].risk, m.risk))
                    warn_at(c, k, "risk '%s' appears twice in risk_mitigation_plan", m.risk);
            p->mitigations[p->n_mitigations++] = m;
        } else {
            free(m.risk);
            free(m.mitigation);
        }
    }
}

/* The loader's readers for the sections parsed in their own files
 * (policy_demo.c). */
static void rd_error(void *c, const yaml_node_t *n, const char *m) { err_at(c, n, "%s", m); }
static int rd_collect(void *c, const yaml_node_t *n, const char *what, const char *const *keys, int nkeys,
                      yaml_node_t **vals, yaml_node_t **knodes) {
    return collect(c, n, what, keys, nkeys, vals, knodes);
}
static int rd_string(void *c, const yaml_node_t *n, const char *key, char **out) {
    return get_string(c, n, key, out);
}
static int rd_integer(void *c, const yaml_node_t *n, const char *key, long lo, long hi, long *out) {
    return get_long(c, n, key, lo, hi, out);
}
static int rd_number(void *c, const yaml_node_t *n, const char *key, double *out) {
    return get_double(c, n, key, out);
}
static int rd_boolean(void *c, const yaml_node_t *n, const char *key, int *out) {
    return get_bool(c, n, key, out);
}
static int rd_strings(void *c, const yaml_node_t *n, const char *key, char ***out, int *count) {
    return get_string_list(c, n, key, 0, out, count, NULL);
}
static const yaml_node_t *rd_item(void *c, const yaml_node_t *seq, int i) {
    if (seq->type != YAML_SEQUENCE_NODE ||
        i >= (int)(seq->data.sequence.items.top - seq->data.sequence.items.start))
        return NULL;
    return node(c, seq->data.sequence.items.start[i]);
}

static void parse_top(ctx *c, const yaml_node_t *root, const char *base_dir) {
    sg_policy *p = c->p;
    yaml_node_t *v[TK_COUNT], *k[TK_COUNT];
    if (!collect(c, root, "the policy", top_keys, TK_COUNT, v, k)) return;
    int e;
    if (v[TK_MODEL_NAME])
        get_string(c, v[TK_MODEL_NAME], "model_name", &p->model_name);
    else
        err_at(c, root, "missing required key 'model_name'");
    if (v[TK_VERSION]) get_string(c, v[TK_VERSION], "version", &p->version);
    if (v[TK_STRATEGY] &&
        get_enum(c, v[TK_STRATEGY], "deployment_strategy", strategy_names, COUNT(strategy_names), &e))
        p->deployment_strategy = e;
    if (v[TK_MONITORING] &&
        get_enum(c, v[TK_MONITORING], "monitoring_frequency", monitor_names, COUNT(monitor_names), &e))
        p->monitoring_frequency = e;
    if (v[TK_INCIDENT]) get_string(c, v[TK_INCIDENT], "incident_response_plan", &p->incident_response_plan);
    if (v[TK_MITIGATION]) parse_mitigations(c, v[TK_MITIGATION]);
    if (v[TK_MODELS]) parse_models(c, v[TK_MODELS], base_dir);
    if (v[TK_STAGES])
        parse_stages(c, v[TK_STAGES]);
    else
        err_at(c, root, "missing required key 'release_stages'");
    if (v[TK_CURRENT]) {
        char *name = NULL;
        if (get_string(c, v[TK_CURRENT], "current_stage", &name) && p->n_stages) {
            p->current_stage = sg_policy_stage_index(p, name);
            if (p->current_stage < 0) {
                err_at(c, v[TK_CURRENT], "current_stage '%s' is not a release stage", name);
                p->current_stage = 0;
            }
        }
        free(name);
    }
    if (v[TK_AUDIT]) {
        static const char *const keys[] = {"text", "retention_days"};
        yaml_node_t *av[2], *ak[2];
        if (collect(c, v[TK_AUDIT], "'audit'", keys, 2, av, ak)) {
            if (av[0] && get_enum(c, av[0], "audit text", audit_names, COUNT(audit_names), &e))
                p->audit_text = e;
            if (av[1]) get_int(c, av[1], "retention_days", 0, 365000, &p->audit_retention_days);
        }
    }
    if (v[TK_SERVER]) {
        static const char *const keys[] = {"max_body_bytes", "queue_size", "request_timeout_s", "max_batch"};
        yaml_node_t *sv[4], *sk[4];
        if (collect(c, v[TK_SERVER], "'server'", keys, 4, sv, sk)) {
            if (sv[0]) get_long(c, sv[0], "max_body_bytes", 1024, 1L << 30, &p->max_body_bytes);
            if (sv[1]) get_int(c, sv[1], "queue_size", 1, 1000000, &p->queue_size);
            if (sv[2]) get_int(c, sv[2], "request_timeout_s", 1, 86400, &p->request_timeout_s);
            if (sv[3]) get_int(c, sv[3], "max_batch", 1, 1024, &p->max_batch);
        }
    }
    if (v[TK_FLAGS]) {
        static const char *const keys[] = {"suspend_after"};
        yaml_node_t *fv[1], *fk[1];
        if (collect(c, v[TK_FLAGS], "'flags'", keys, 1, fv, fk) && fv[0])
            get_int(c, fv[0], "suspend_after", 0, 1000000, &p->suspend_after_flags);
    }
    if (v[TK_LICENSE] && get_string(c, v[TK_LICENSE], "license", &p->license)) {
        char *resolved = resolve_path(c, base_dir, p->license);
        free(p->license);
        p->license = resolved;
    }
    if (v[TK_FILTER]) parse_content_filter(c, v[TK_FILTER]);
    if (v[TK_DEMO]) {
        sg_policy_reader r = {c,         rd_error,   rd_collect, rd_string, rd_integer,
                              rd_number, rd_boolean, rd_strings, rd_item};
        sg_policy_demo_parse(&r, v[TK_DEMO], p, &p->demo);
        if (!p->demo) c->oom = 1;
    }
}

/* ------------------------------------------------------------------- load */

static void free_gates(sg_policy_gates *g) {
    for (int i = 0; i < g->n_evaluations; i++) {
        free(g->evaluations[i].suite);
        free(g->evaluations[i].model);
        free(g->evaluations[i].metric);
    }
    free(g->evaluations);
    free_strings(g->reviewers, g->n_reviewers);
    free_strings(g->safety_protocols, g->n_safety_protocols);
}

void sg_policy_free(sg_policy *p) {
    if (!p) return;
    sg_policy_demo_free(p->demo);
    free(p->path);
    free(p->base_dir);
    free(p->model_name);
    free(p->version);
    for (int i = 0; i < p->n_stages; i++) {
        sg_policy_stage *s = &p->stages[i];
        free(s->name);
        free_strings(s->audiences, s->n_audiences);
        free_strings(s->effective_audiences, s->n_effective_audiences);
        free_strings(s->models, s->n_models);
        free_strings(s->effective_models, s->n_effective_models);
        for (int j = 0; j < s->n_audience_models; j++) {
            free(s->audience_models[j].audience);
            free_strings(s->audience_models[j].models, s->audience_models[j].n_models);
        }
        free(s->audience_models);
        free_strings(s->protocols, s->n_protocols);
        for (int j = 0; j < s->n_rate_limits; j++) free(s->rate_limits[j].audience);
        free(s->rate_limits);
        free_gates(&s->gates);
    }
    free(p->stages);
    for (int i = 0; i < p->n_mitigations; i++) {
        free(p->mitigations[i].risk);
        free(p->mitigations[i].mitigation);
    }
    free(p->mitigations);
    free(p->incident_response_plan);
    for (int i = 0; i < p->n_models; i++) {
        free(p->models[i].name);
        free(p->models[i].path);
    }
    free(p->models);
    free(p->license);
    for (int i = 0; i < p->filter.n_categories; i++) {
        sg_filter_category *cat = &p->filter.categories[i];
        free(cat->name);
        free_strings(cat->terms, cat->n_terms);
        free_strings(cat->patterns, cat->n_patterns);
        free_strings(cat->allow, cat->n_allow);
        free(cat->response);
    }
    free(p->filter.categories);
    free_strings(p->filter.leet_from, p->filter.n_leet);
    free_strings(p->filter.leet_to, p->filter.n_leet);
    free_strings(p->warnings, p->n_warnings);
    free(p);
}

sg_error *sg_policy_load_string(const char *name, const char *text, size_t len, const char *base_dir,
                                sg_policy **out) {
    *out = NULL;
    sg_policy *p = calloc(1, sizeof *p);
    if (!p) return sg_error_new("out of memory");
    p->path = strdup(name);
    p->base_dir = base_dir ? strdup(base_dir) : NULL;
    if (!p->path || (base_dir && !p->base_dir)) {
        sg_policy_free(p);
        return sg_error_new("out of memory");
    }
    unsigned char hash[32];
    if (sodium_init() < 0) {
        sg_policy_free(p);
        return sg_error_new("libsodium failed to initialise");
    }
    crypto_generichash(hash, sizeof hash, (const unsigned char *)text, len, NULL, 0);
    sodium_bin2hex(p->digest, sizeof p->digest, hash, sizeof hash);
    p->deployment_strategy = SG_DEPLOY_STAGED_RELEASE;
    p->monitoring_frequency = SG_MONITOR_DAILY;
    p->audit_text = SG_AUDIT_TEXT_HASHED;
    p->audit_retention_days = 90;
    p->max_body_bytes = 1L << 20;
    p->queue_size = 64;
    p->request_timeout_s = 60;
    p->max_batch = 8;
    p->suspend_after_flags = 3;

    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        sg_policy_free(p);
        return sg_error_new("out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        sg_error *err;
        yaml_mark_t m = parser.problem_mark;
        if (parser.context)
            err = sg_error_new("%s:%zu:%zu: YAML syntax error: %s (%s started at %zu:%zu)", name, m.line + 1,
                               m.column + 1, parser.problem ? parser.problem : "error", parser.context,
                               parser.context_mark.line + 1, parser.context_mark.column + 1);
        else
            err = sg_error_new("%s:%zu:%zu: YAML syntax error: %s", name, m.line + 1, m.column + 1,
                               parser.problem ? parser.problem : "error");
        yaml_parser_delete(&parser);
        sg_policy_free(p);
        return err;
    }
    ctx c = {.file = name, .doc = &doc, .p = p, .budget = NODE_BUDGET};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    for (yaml_node_t *n = doc.nodes.start; n < doc.nodes.top; n++) {
        long items =
            n->type == YAML_SEQUENCE_NODE  ? (long)(n->data.sequence.items.top - n->data.sequence.items.start)
            : n->type == YAML_MAPPING_NODE ? (long)(n->data.mapping.pairs.top - n->data.mapping.pairs.start)
                                           : 0;
        if (items > MAX_ITEMS)
            err_at(&c, n, "%s of %ld entries; at most %d are supported", kind_name(n), items, MAX_ITEMS);
    }
    if (!root) {
        err_at(&c, NULL, "the policy is empty");
    } else if (c.n_errors) {
        /* too large to walk */
    } else {
        parse_top(&c, root, base_dir);
        /* A second document in the file is ignored: say so. */
        yaml_document_t next;
        if (yaml_parser_load(&parser, &next)) {
            yaml_node_t *r2 = yaml_document_get_root_node(&next);
            if (r2) warn_at(&c, r2, "only the first YAML document of the file is read");
            yaml_document_delete(&next);
        }
    }
    if (c.budget <= 0) { /* reported even past MAX_ERRORS */
        char *line = fmt("%s:%d:%d: the policy is too large or uses too many aliases", name, line_of(root),
                         col_of(root));
        if (line)
            add_error_line(&c, line);
        else
            c.oom = 1;
        free(line);
        c.n_errors++;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);

    if (c.oom) {
        free(c.errors);
        sg_policy_free(p);
        return sg_error_new("out of memory");
    }
    if (c.n_errors) {
        sg_error *err = sg_error_new("%s", c.errors ? c.errors : "invalid policy");
        free(c.errors);
        sg_policy_free(p);
        return err;
    }
    *out = p;
    return NULL;
}

sg_error *sg_policy_load(const char *path, sg_policy **out) {
    *out = NULL;
    char *text;
    size_t len;
    sg_error *err = sg_file_read(path, &text, &len);
    if (err) return sg_error_wrap(err, "reading policy");
    char *base = NULL;
    const char *slash = strrchr(path, '/');
    if (slash) {
        base = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
        if (!base) {
            free(text);
            return sg_error_new("out of memory");
        }
    }
    err = sg_policy_load_string(path, text, len, base, out);
    free(base);
    free(text);
    return err;
}

/* -------------------------------------------------------------- questions */

int sg_policy_stage_index(const sg_policy *p, const char *stage_name) {
    for (int i = 0; i < p->n_stages; i++)
        if (p->stages[i].name && !strcmp(p->stages[i].name, stage_name)) return i;
    return -1;
}

const sg_policy_model *sg_policy_find_model(const sg_policy *p, const char *model_name) {
    for (int i = 0; i < p->n_models; i++)
        if (!strcmp(p->models[i].name, model_name)) return &p->models[i];
    return NULL;
}

int sg_policy_audience_at(const sg_policy *p, int stage, const char *audience) {
    if (stage < 0 || stage >= p->n_stages || !audience) return 0;
    const sg_policy_stage *s = &p->stages[stage];
    return has_string(s->effective_audiences, s->n_effective_audiences, audience);
}

static void say(char *why, size_t size, const char *f, ...) SG_PRINTF(3, 4);
static void say(char *why, size_t size, const char *f, ...) {
    if (!why || !size) return;
    va_list ap;
    va_start(ap, f);
    vsnprintf(why, size, f, ap);
    va_end(ap);
}

sg_policy_verdict sg_policy_decide(const sg_policy *p, int stage, const char *audience, const char *model,
                                   char *why, size_t why_size) {
    say(why, why_size, "%s", "");
    if (!model || !sg_policy_find_model(p, model)) {
        say(why, why_size, "model '%s' does not exist", model ? model : "");
        return SG_POLICY_DENY_UNKNOWN_MODEL;
    }
    if (stage < 0 || stage >= p->n_stages) {
        say(why, why_size, "model '%s' is not released: no release stage %d", model, stage);
        return SG_POLICY_DENY_NOT_RELEASED;
    }
    const sg_policy_stage *s = &p->stages[stage];
    if (s->components[SG_COMPONENT_MODEL] == SG_ACCESS_FULLY_CLOSED) {
        say(why, why_size, "model access is fully closed at stage '%s': model '%s' is not served", s->name,
            model);
        return SG_POLICY_DENY_CLOSED;
    }
    if (!has_string(s->effective_models, s->n_effective_models, model)) {
        say(why, why_size, "model '%s' is not released at stage '%s'", model, s->name);
        return SG_POLICY_DENY_NOT_RELEASED;
    }
    if (!audience) audience = "";
    int ok = has_string(s->effective_audiences, s->n_effective_audiences, audience);
    for (int i = 0; ok && i < s->n_audience_models; i++)
        if (!strcmp(s->audience_models[i].audience, audience))
            ok = has_string(s->audience_models[i].models, s->audience_models[i].n_models, model);
    if (!ok) {
        say(why, why_size, "model '%s' is not released to audience '%s' at stage '%s'", model, audience,
            s->name);
        return SG_POLICY_DENY_AUDIENCE;
    }
    return SG_POLICY_ALLOW;
}

int sg_policy_protocol_enabled(const sg_policy *p, int stage, const char *name) {
    if (stage < 0 || stage >= p->n_stages || !name) return 0;
    return has_string(p->stages[stage].protocols, p->stages[stage].n_protocols, name);
}

/* The newest entry for `audience` at stage <= `stage`, or NULL. */
static const sg_policy_audience_limit *find_limit(const sg_policy *p, int stage, const char *audience) {
    for (int i = stage; i >= 0; i--)
        for (int j = 0; j < p->stages[i].n_rate_limits; j++)
            if (!strcmp(p->stages[i].rate_limits[j].audience, audience)) return &p->stages[i].rate_limits[j];
    return NULL;
}

sg_policy_limits sg_policy_rate_limit(const sg_policy *p, int stage, const char *audience) {
    sg_policy_limits l = {0, 0, 0};
    if (stage < 0 || stage >= p->n_stages) return l;
    l.enforced = sg_policy_protocol_enabled(p, stage, "rate_limit");
    const sg_policy_audience_limit *rl = audience ? find_limit(p, stage, audience) : NULL;
    if (!rl) rl = find_limit(p, stage, "default");
    if (rl) {
        l.rpm = rl->rpm;
        l.tpm = rl->tpm;
    }
    return l;
}

sg_access_level sg_policy_component_level(const sg_policy *p, int stage, sg_component c) {
    if (stage < 0 || stage >= p->n_stages || (unsigned)c >= SG_COMPONENT_COUNT) return SG_ACCESS_FULLY_CLOSED;
    return p->stages[stage].components[c];
}

/* ------------------------------------------------------------------- JSON */

static json_t *jstrings(char *const *a, int n) {
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++) json_array_append_new(arr, json_string(a[i]));
    return arr;
}

static json_t *jstr_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *stage_json(const sg_policy *p, int idx) {
    const sg_policy_stage *s = &p->stages[idx];
    json_t *access = json_object();
    for (int c = 0; c < SG_COMPONENT_COUNT; c++)
        json_object_set_new(access, component_names[c], json_string(access_names[s->components[c]]));
    json_t *am = json_object();
    for (int i = 0; i < s->n_audience_models; i++)
        json_object_set_new(am, s->audience_models[i].audience,
                            jstrings(s->audience_models[i].models, s->audience_models[i].n_models));
    json_t *rl = json_object();
    for (int i = 0; i < s->n_rate_limits; i++)
        json_object_set_new(rl, s->rate_limits[i].audience,
                            json_pack("{s:I,s:I}", "rpm", (json_int_t)s->rate_limits[i].rpm, "tpm",
                                      (json_int_t)s->rate_limits[i].tpm));
    const sg_policy_gates *g = &s->gates;
    json_t *evals = json_array();
    for (int i = 0; i < g->n_evaluations; i++) {
        const sg_policy_eval_gate *e = &g->evaluations[i];
        json_t *o = json_pack("{s:s,s:s,s:s}", "suite", e->suite ? e->suite : "", "model",
                              e->model ? e->model : "", "metric", e->metric ? e->metric : "");
        if (o && e->has_min) json_object_set_new(o, "min", json_real(e->min));
        if (o && e->has_max) json_object_set_new(o, "max", json_real(e->max));
        json_array_append_new(evals, o);
    }
    json_t *gates = json_pack("{s:i,s:s,s:o,s:i,s:o,s:o}", "min_days", g->min_days, "risk_assessment",
                              risk_names[g->risk_assessment], "evaluations", evals, "signoffs", g->signoffs,
                              "reviewers", jstrings(g->reviewers, g->n_reviewers), "safety_protocols",
                              jstrings(g->safety_protocols, g->n_safety_protocols));
    return json_pack("{s:s,s:b,s:o,s:o,s:o,s:o,s:o,s:i,s:s,s:o,s:o,s:o,s:o}", "name", s->name, "current",
                     idx == p->current_stage, "audiences", jstrings(s->audiences, s->n_audiences),
                     "effective_audiences", jstrings(s->effective_audiences, s->n_effective_audiences),
                     "models", jstrings(s->models, s->n_models), "effective_models",
                     jstrings(s->effective_models, s->n_effective_models), "audience_models", am,
                     "duration_days", s->duration_days, "risk_assessment_status",
                     risk_names[s->risk_assessment_status], "safety_protocols_enabled",
                     jstrings(s->protocols, s->n_protocols), "access", access, "rate_limits", rl, "gates",
                     gates);
}

sg_error *sg_policy_to_json(const sg_policy *p, json_t **out) {
    *out = NULL;
    json_t *models = json_array(), *stages = json_array(), *plan = json_array(), *cats = json_array();
    for (int i = 0; models && i < p->n_models; i++)
        json_array_append_new(models,
                              json_pack("{s:s,s:s}", "name", p->models[i].name, "path", p->models[i].path));
    for (int i = 0; stages && i < p->n_stages; i++) json_array_append_new(stages, stage_json(p, i));
    for (int i = 0; plan && i < p->n_mitigations; i++)
        json_array_append_new(plan, json_pack("{s:s,s:s}", "risk", p->mitigations[i].risk, "mitigation",
                                              p->mitigations[i].mitigation));
    for (int i = 0; cats && i < p->filter.n_categories; i++) {
        const sg_filter_category *c = &p->filter.categories[i];
        json_t *on = json_array();
        if (c->on_input) json_array_append_new(on, json_string("input"));
        if (c->on_output) json_array_append_new(on, json_string("output"));
        json_array_append_new(cats, json_pack("{s:s,s:s,s:o,s:i,s:i,s:i,s:b}", "name", c->name ? c->name : "",
                                              "action", action_names[c->action], "on", on, "terms",
                                              c->n_terms, "patterns", c->n_patterns, "allow", c->n_allow,
                                              "response", c->response != NULL));
    }
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:{s:s,s:i},s:{s:I,s:i,s:i,s:i},s:{s:i},s:o,s:{s:o,s:i}"
        ",s:o}",
        "path", p->path, "digest", p->digest, "model_name", p->model_name ? p->model_name : "", "version",
        jstr_or_null(p->version), "deployment_strategy", strategy_names[p->deployment_strategy],
        "current_stage", p->n_stages ? p->stages[p->current_stage].name : "", "monitoring_frequency",
        monitor_names[p->monitoring_frequency], "incident_response_plan",
        jstr_or_null(p->incident_response_plan), "models", models, "stages", stages, "risk_mitigation_plan",
        plan, "audit", "text", audit_names[p->audit_text], "retention_days", p->audit_retention_days,
        "server", "max_body_bytes", (json_int_t)p->max_body_bytes, "queue_size", p->queue_size,
        "request_timeout_s", p->request_timeout_s, "max_batch", p->max_batch, "flags", "suspend_after",
        p->suspend_after_flags, "license", jstr_or_null(p->license), "content_filter", "categories", cats,
        "leetspeak", p->filter.n_leet, "warnings", jstrings(p->warnings, p->n_warnings));
    if (!o) return sg_error_new("out of memory building the policy's JSON");
    *out = o;
    return NULL;
}
