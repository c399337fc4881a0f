/* yaml_doc.c — a YAML document tree read with FILE:LINE:COL errors, typed
 * readers and key matching; see yaml_doc.h. */
#include "base/yaml_doc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/check.h"

/* ------------------------------------------------------------ reporting */

void sg_yaml_oom(sg_yaml_doc *d) { d->oom = 1; }
int sg_yaml_failed(const sg_yaml_doc *d) { return d->oom; }

char *sg_yaml_strdup(sg_yaml_doc *d, const char *s) {
    char *r = strdup(s);
    if (!r) d->oom = 1;
    return r;
}

int sg_yaml_line(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 1; }
int sg_yaml_column(const yaml_node_t *n) { return n ? (int)n->start_mark.column + 1 : 1; }

/* "FILE:LINE:COL: <tag>message" formatted into a fresh string, or NULL. */
static char *located(const sg_yaml_doc *d, const yaml_node_t *at, const char *tag, const char *fmt,
                     va_list ap) {
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_error *err = sg_buf_printf(&b, "%s:%d:%d: %s", d->file, sg_yaml_line(at), sg_yaml_column(at), tag);
    if (!err) err = sg_buf_vprintf(&b, fmt, ap);
    char *s = NULL;
    if (!err) err = sg_buf_take(&b, &s, NULL);
    sg_buf_free(&b);
    if (err) {
        sg_error_free(err);
        return NULL;
    }
    return s;
}

static void add_error_line(sg_yaml_doc *d, const char *line) {
    sg_error *err = d->errors.len ? sg_buf_putc(&d->errors, '\n') : NULL;
    if (!err) err = sg_buf_puts(&d->errors, line);
    if (err) {
        sg_error_free(err);
        d->oom = 1;
    }
}

void sg_yaml_error(sg_yaml_doc *d, const yaml_node_t *at, const char *fmt, ...) {
    SG_ASSERT(d && fmt, "a document and a message");
    d->n_errors++;
    if (d->n_errors > SG_YAML_MAX_ERRORS) return;
    if (d->n_errors == SG_YAML_MAX_ERRORS) {
        add_error_line(d, "too many errors; stopping here");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *line = located(d, at, "", fmt, ap);
    va_end(ap);
    if (line)
        add_error_line(d, line);
    else
        d->oom = 1;
    free(line);
}

void sg_yaml_warn(sg_yaml_doc *d, const yaml_node_t *at, const char *fmt, ...) {
    SG_ASSERT(d && fmt, "a document and a message");
    if (d->n_warnings >= SG_YAML_MAX_WARNINGS) return;
    va_list ap;
    va_start(ap, fmt);
    char *line = located(d, at, "warning: ", fmt, ap);
    va_end(ap);
    char **w = line ? realloc(d->warnings, sizeof *w * ((size_t)d->n_warnings + 1)) : NULL;
    if (!w) {
        d->oom = 1;
        free(line);
        return;
    }
    d->warnings = w;
    d->warnings[d->n_warnings++] = line;
}

/* ------------------------------------------------------------ documents */

sg_error *sg_yaml_doc_open(sg_yaml_doc *d, const char *file, const char *what, const char *text, size_t len) {
    SG_ASSERT(d && file && what && (text || !len), "a document, its names and the text");
    memset(d, 0, sizeof *d);
    d->file = file;
    d->what = what;
    d->budget = SG_YAML_NODE_BUDGET;
    sg_buf_init(&d->errors, 0);
    if (!yaml_parser_initialize(&d->parser)) return sg_error_new("out of memory");
    yaml_parser_set_input_string(&d->parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&d->parser, &d->doc)) {
        sg_error *err;
        const yaml_parser_t *p = &d->parser;
        yaml_mark_t m = p->problem_mark;
        if (p->error == YAML_MEMORY_ERROR)
            err = sg_error_new("out of memory");
        else if (p->context)
            err = sg_error_new("%s:%zu:%zu: YAML syntax error: %s (%s started at %zu:%zu)", file, m.line + 1,
                               m.column + 1, p->problem ? p->problem : "error", p->context,
                               p->context_mark.line + 1, p->context_mark.column + 1);
        else
            err = sg_error_new("%s:%zu:%zu: YAML syntax error: %s", file, m.line + 1, m.column + 1,
                               p->problem ? p->problem : "error");
        yaml_parser_delete(&d->parser);
        return err;
    }
    for (yaml_node_t *n = d->doc.nodes.start; n < d->doc.nodes.top; n++) {
        int items = sg_yaml_length(n);
        if (items > SG_YAML_MAX_ITEMS)
            sg_yaml_error(d, n, "%s of %d entries; at most %d are supported", sg_yaml_kind(n), items,
                          SG_YAML_MAX_ITEMS);
    }
    d->walkable = yaml_document_get_root_node(&d->doc) && !d->n_errors;
    return NULL;
}

yaml_node_t *sg_yaml_doc_root(sg_yaml_doc *d) {
    return d->walkable ? yaml_document_get_root_node(&d->doc) : NULL;
}

int sg_yaml_doc_empty(const sg_yaml_doc *d) { return d->doc.nodes.start == d->doc.nodes.top; }

int sg_yaml_seen(sg_yaml_doc *d, const yaml_node_t *n) {
    size_t count = (size_t)(d->doc.nodes.top - d->doc.nodes.start), i = (size_t)(n - d->doc.nodes.start);
    SG_ASSERT(i < count, "a node of this document");
    if (!d->visited && !(d->visited = calloc(count, 1))) {
        d->oom = 1;
        return -1;
    }
    int seen = d->visited[i];
    d->visited[i] = 1;
    return seen;
}

sg_error *sg_yaml_doc_finish(sg_yaml_doc *d, char ***warnings, int *n_warnings) {
    *warnings = NULL;
    *n_warnings = 0;
    yaml_node_t *root = yaml_document_get_root_node(&d->doc);
    if (d->walkable && !d->oom) {
        /* A second document in the file is ignored: say so. */
        yaml_document_t next;
        if (yaml_parser_load(&d->parser, &next)) {
            yaml_node_t *r2 = yaml_document_get_root_node(&next);
            if (r2 && d->one_document)
                sg_yaml_error(d, r2, "a second YAML document: %s is one document", d->what);
            else if (r2)
                sg_yaml_warn(d, r2, "only the first YAML document of the file is read");
            yaml_document_delete(&next);
        } else if (d->parser.error == YAML_MEMORY_ERROR) {
            d->oom = 1;
        }
    }
    if (d->budget <= 0) { /* reported even past SG_YAML_MAX_ERRORS */
        char *line = NULL;
        sg_buf b;
        sg_buf_init(&b, 0);
        sg_error *e = sg_buf_printf(&b, "%s:%d:%d: %s is too large or uses too many aliases", d->file,
                                    sg_yaml_line(root), sg_yaml_column(root), d->what);
        if (!e) e = sg_buf_take(&b, &line, NULL);
        sg_buf_free(&b);
        if (e) {
            sg_error_free(e);
            d->oom = 1;
        } else {
            add_error_line(d, line);
        }
        free(line);
        d->n_errors++;
    }
    yaml_document_delete(&d->doc);
    yaml_parser_delete(&d->parser);
    free(d->visited);
    d->visited = NULL;
    sg_error *err = NULL;
    if (d->oom)
        err = sg_error_new("out of memory");
    else if (d->n_errors)
        err = sg_error_new("%s", d->errors.data ? d->errors.data : "invalid document");
    sg_buf_free(&d->errors);
    if (err) {
        for (int i = 0; i < d->n_warnings; i++) free(d->warnings[i]);
        free(d->warnings);
    } else {
        *warnings = d->warnings;
        *n_warnings = d->n_warnings;
    }
    d->warnings = NULL;
    d->n_warnings = 0;
    return err;
}

/* ---------------------------------------------------------------- nodes */

int sg_yaml_budget_left(const sg_yaml_doc *d) { return d->budget > 0; }

static yaml_node_t *visit(sg_yaml_doc *d, yaml_node_item_t id) {
    d->budget--;
    return yaml_document_get_node(&d->doc, id);
}

const char *sg_yaml_scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

int sg_yaml_is_null(const yaml_node_t *n) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *s = sg_yaml_scalar(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

const char *sg_yaml_kind(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return sg_yaml_is_null(n) ? "null" : "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

int sg_yaml_length(const yaml_node_t *n) {
    if (n->type == YAML_SEQUENCE_NODE)
        return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (n->type == YAML_MAPPING_NODE) return (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    return 0;
}

yaml_node_t *sg_yaml_item(sg_yaml_doc *d, const yaml_node_t *list, int i) {
    SG_ASSERT(list->type == YAML_SEQUENCE_NODE && i >= 0 && i < sg_yaml_length(list), "an item of a list");
    if (d->budget <= 0) return NULL;
    return visit(d, list->data.sequence.items.start[i]);
}

int sg_yaml_pair(sg_yaml_doc *d, const yaml_node_t *map, int i, yaml_node_t **key, yaml_node_t **value) {
    SG_ASSERT(map->type == YAML_MAPPING_NODE && i >= 0 && i < sg_yaml_length(map), "a pair of a mapping");
    *key = *value = NULL;
    if (d->budget <= 0) return 0;
    *key = visit(d, map->data.mapping.pairs.start[i].key);
    *value = visit(d, map->data.mapping.pairs.start[i].value);
    return *key && *value;
}

void *sg_yaml_alloc_entries(sg_yaml_doc *d, const yaml_node_t *n, yaml_node_type_t type, const char *must_be,
                            size_t size, int *count) {
    *count = 0;
    if (n->type != type) {
        sg_yaml_error(d, n, "%s, not %s", must_be, sg_yaml_kind(n));
        return NULL;
    }
    int total = sg_yaml_length(n);
    void *items = calloc((size_t)total + 1, size);
    if (!items) {
        d->oom = 1;
        return NULL;
    }
    *count = total;
    return items;
}

/* -------------------------------------------------------- typed readers */

int sg_yaml_string(sg_yaml_doc *d, const yaml_node_t *n, const char *key, char **out) {
    if (n->type != YAML_SCALAR_NODE) {
        sg_yaml_error(d, n, "'%s' must be a string, not %s", key, sg_yaml_kind(n));
        return 0;
    }
    if (sg_yaml_is_null(n)) {
        sg_yaml_error(d, n, "'%s' must be a string, not null", key);
        return 0;
    }
    if (strlen(sg_yaml_scalar(n)) != n->data.scalar.length) {
        sg_yaml_error(d, n, "'%s' contains a NUL character", key);
        return 0;
    }
    free(*out);
    *out = sg_yaml_strdup(d, sg_yaml_scalar(n));
    return *out != NULL;
}

int sg_yaml_long(sg_yaml_doc *d, const yaml_node_t *n, const char *key, long lo, long hi, long *out) {
    if (n->type != YAML_SCALAR_NODE) {
        sg_yaml_error(d, n, "'%s' must be an integer, not %s", key, sg_yaml_kind(n));
        return 0;
    }
    const char *s = sg_yaml_scalar(n);
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        sg_yaml_error(d, n, "'%s' must be an integer, not the string \"%s\"", key, s);
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno) {
        sg_yaml_error(d, n, "'%s' must be an integer, got '%s'", key, s);
        return 0;
    }
    if (v < lo || v > hi) {
        sg_yaml_error(d, n, "'%s' must be between %ld and %ld, got %lld", key, lo, hi, v);
        return 0;
    }
    *out = (long)v;
    return 1;
}

int sg_yaml_int(sg_yaml_doc *d, const yaml_node_t *n, const char *key, int lo, int hi, int *out) {
    long v;
    if (!sg_yaml_long(d, n, key, lo, hi, &v)) return 0;
    *out = (int)v;
    return 1;
}

int sg_yaml_double(sg_yaml_doc *d, const yaml_node_t *n, const char *key, double *out) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        sg_yaml_error(d, n, "'%s' must be a number, not %s", key,
                      n->type == YAML_SCALAR_NODE ? "a quoted string" : sg_yaml_kind(n));
        return 0;
    }
    const char *s = sg_yaml_scalar(n);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v)) {
        sg_yaml_error(d, n, "'%s' must be a finite number, got '%s'", key, s);
        return 0;
    }
    *out = v;
    return 1;
}

int sg_yaml_bool(sg_yaml_doc *d, const yaml_node_t *n, const char *key, int *out) {
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        const char *s = sg_yaml_scalar(n);
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) return *out = 1, 1;
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) return *out = 0, 1;
    }
    sg_yaml_error(d, n, "'%s' must be true or false", key);
    return 0;
}

int sg_yaml_enum(sg_yaml_doc *d, const yaml_node_t *n, const char *key, const char *const *names, int count,
                 int *out) {
    char *s = NULL;
    if (!sg_yaml_string(d, n, key, &s)) return 0;
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
    sg_yaml_error(d, n, "unknown %s '%s' (expected one of: %s)", key, s, expected);
    free(s);
    return 0;
}

int sg_yaml_string_list(sg_yaml_doc *d, const yaml_node_t *n, const char *key, int single_ok, char ***out,
                        int *count, yaml_node_t ***nodes) {
    int total;
    if (sg_yaml_is_null(n)) /* "key:" with nothing after it: an empty list */
        total = 0;
    else if (single_ok && n->type == YAML_SCALAR_NODE)
        total = 1;
    else if (n->type == YAML_SEQUENCE_NODE)
        total = sg_yaml_length(n);
    else {
        sg_yaml_error(d, n, "'%s' must be a list%s, not %s", key, single_ok ? " or a string" : "",
                      sg_yaml_kind(n));
        return 0;
    }
    char **a = calloc((size_t)total + 1, sizeof *a);
    yaml_node_t **an = nodes ? calloc((size_t)total + 1, sizeof *an) : NULL;
    if (!a || (nodes && !an)) {
        free(a);
        free(an);
        d->oom = 1;
        return 0;
    }
    int k = 0, ok = 1;
    for (int i = 0; i < total && !d->oom; i++) {
        yaml_node_t *item = n->type == YAML_SEQUENCE_NODE ? sg_yaml_item(d, n, i) : (yaml_node_t *)n;
        if (!item) continue;
        char *s = NULL;
        if (!sg_yaml_string(d, item, key, &s)) {
            ok = 0;
            continue;
        }
        if (nodes) an[k] = item;
        a[k++] = s;
    }
    if (single_ok && n->type == YAML_SCALAR_NODE && !k) { /* the one string was bad: no list */
        free(a);
        free(an);
        return 0;
    }
    *out = a;
    *count = k;
    if (nodes) *nodes = an;
    return ok && !d->oom;
}

/* ------------------------------------------------------------- mappings */

static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) return 99;
    int m[41][41];
    for (size_t i = 0; i <= la; i++) m[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) m[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int sub = m[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = m[i - 1][j] + 1, ins = m[i][j - 1] + 1;
            m[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return m[la][lb];
}

int sg_yaml_closest(const char *word, const char *const *names, int count) {
    int best = -1, bestd = 3;
    for (int i = 0; i < count; i++) {
        int dist = edit_distance(word, names[i]);
        if (dist < bestd) bestd = dist, best = i;
    }
    return best;
}

int sg_yaml_keys(sg_yaml_doc *d, const yaml_node_t *n, const char *what, const char *const *keys, int nkeys,
                 yaml_node_t **vals, yaml_node_t **knodes) {
    for (int i = 0; i < nkeys; i++) vals[i] = knodes[i] = NULL;
    if (n->type != YAML_MAPPING_NODE) {
        sg_yaml_error(d, n, "%s must be a mapping, not %s", what, sg_yaml_kind(n));
        return 0;
    }
    int total = sg_yaml_length(n);
    for (int p = 0; p < total && d->budget > 0; p++) {
        yaml_node_t *k, *v;
        if (!sg_yaml_pair(d, n, p, &k, &v)) continue;
        if (k->type != YAML_SCALAR_NODE) {
            sg_yaml_error(d, k, "keys in %s must be strings, not %s", what, sg_yaml_kind(k));
            continue;
        }
        const char *key = sg_yaml_scalar(k);
        int found = -1;
        for (int i = 0; i < nkeys; i++)
            if (!strcmp(key, keys[i])) found = i;
        if (found < 0) {
            int best = sg_yaml_closest(key, keys, nkeys);
            if (best >= 0)
                sg_yaml_warn(d, k, "unknown key '%s' (did you mean '%s'?)", key, keys[best]);
            else
                sg_yaml_warn(d, k, "unknown key '%s'", key);
            continue;
        }
        if (vals[found]) {
            sg_yaml_error(d, k, "duplicate key '%s' (first at %d:%d)", key, sg_yaml_line(knodes[found]),
                          sg_yaml_column(knodes[found]));
            continue;
        }
        vals[found] = v;
        knodes[found] = k;
    }
    return 1;
}
