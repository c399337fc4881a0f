/* train_config.c — training settings: table of keys, YAML (a flat mapping read
 * through base/yaml_doc.h, errors at file:line:column) and JSON. */
#include "train/train_config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/yaml_doc.h"

typedef enum { K_INT, K_LONG, K_LLONG, K_DOUBLE, K_STR, K_LIST, K_BOOL } kind;

typedef struct {
    const char *name;
    kind k;
    size_t off, count_off;
} key_def;

#define F(name, k)                                                                                           \
    { #name, k, offsetof(sg_train_config, name), 0 }
static const key_def keys[] = {
    {"corpus", K_LIST, offsetof(sg_train_config, corpus), offsetof(sg_train_config, n_corpus)},
    {"val_corpus", K_LIST, offsetof(sg_train_config, val_corpus), offsetof(sg_train_config, n_val_corpus)},
    F(val_fraction, K_DOUBLE),
    F(shard, K_STR),
    F(tokenizer, K_STR),
    F(layers, K_INT),
    F(heads, K_INT),
    F(embd, K_INT),
    F(n_ctx, K_INT),
    F(init_from, K_STR),
    F(context, K_INT),
    F(batch, K_INT),
    F(grad_accum, K_INT),
    F(steps, K_LONG),
    F(warmup, K_LONG),
    F(lr, K_DOUBLE),
    F(lr_floor, K_DOUBLE),
    F(beta1, K_DOUBLE),
    F(beta2, K_DOUBLE),
    F(eps, K_DOUBLE),
    F(weight_decay, K_DOUBLE),
    F(clip, K_DOUBLE),
    F(dropout_embd, K_DOUBLE),
    F(dropout_attn, K_DOUBLE),
    F(dropout_resid, K_DOUBLE),
    F(layer_lr_decay, K_DOUBLE),
    F(freeze_layers, K_INT),
    F(seed, K_LLONG),
    F(eval_interval, K_LONG),
    F(checkpoint_interval, K_LONG),
    F(log_interval, K_LONG),
    F(eval_batches, K_INT),
    F(dtype, K_STR),
    F(out, K_STR),
    F(resume, K_BOOL),
    F(stop_after, K_LONG),
    F(threads, K_INT),
};
#undef F
#define N_KEYS (sizeof keys / sizeof keys[0])

void sg_train_config_defaults(sg_train_config *c) {
    memset(c, 0, sizeof *c);
    c->val_fraction = 0.05;
    c->layers = 4, c->heads = 4, c->embd = 128;
    c->context = 128, c->batch = 16, c->grad_accum = 1;
    c->steps = 1000, c->warmup = 100;
    c->lr = 1e-3, c->lr_floor = 0.1, c->beta1 = 0.9, c->beta2 = 0.95, c->eps = 1e-8;
    c->weight_decay = 0.1, c->clip = 1.0;
    c->dropout_embd = c->dropout_attn = c->dropout_resid = 0.1;
    c->layer_lr_decay = 1.0;
    c->seed = 1337;
    c->eval_interval = 100, c->checkpoint_interval = 0, c->log_interval = 10, c->eval_batches = 8;
    c->dtype = strdup("f32");
}

void sg_train_config_free(sg_train_config *c) {
    for (size_t i = 0; i < N_KEYS; i++) {
        char *base = (char *)c + keys[i].off;
        if (keys[i].k == K_STR) {
            free(*(char **)base);
            *(char **)base = NULL;
        } else if (keys[i].k == K_LIST) {
            int *n = (int *)((char *)c + keys[i].count_off);
            for (int j = 0; j < *n; j++) free(((char **)base)[j]);
            *n = 0;
        }
    }
}

static const key_def *find_key(const char *key) {
    char norm[64];
    size_t n = strlen(key);
    if (n >= sizeof norm) return NULL;
    for (size_t i = 0; i <= n; i++) norm[i] = key[i] == '-' ? '_' : key[i];
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].name, norm)) return &keys[i];
    return NULL;
}

const char *sg_train_config_key(size_t i, sg_train_key_kind *kind) {
    if (i >= N_KEYS) return NULL;
    static const sg_train_key_kind kinds[] = {
        [K_INT] = SG_TRAIN_KEY_INT,       [K_LONG] = SG_TRAIN_KEY_INT,   [K_LLONG] = SG_TRAIN_KEY_INT,
        [K_DOUBLE] = SG_TRAIN_KEY_DOUBLE, [K_STR] = SG_TRAIN_KEY_STRING, [K_LIST] = SG_TRAIN_KEY_LIST,
        [K_BOOL] = SG_TRAIN_KEY_SWITCH,
    };
    *kind = kinds[keys[i].k];
    return keys[i].name;
}

sg_error *sg_train_config_set(sg_train_config *c, const char *key, const char *value, const char *where) {
    const key_def *k = find_key(key);
    if (!k) return sg_error_new("%s: unknown setting '%s' (docs/TRAINING.md lists them)", where, key);
    char *base = (char *)c + k->off, *end = NULL;
    errno = 0;
    switch (k->k) {
    case K_INT:
    case K_LONG:
    case K_LLONG: {
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end)
            return sg_error_new("%s: %s: '%s' is not an integer", where, k->name, value);
        if (k->k == K_INT && (v < -2147483647LL || v > 2147483647LL))
            return sg_error_new("%s: %s: %s is out of range", where, k->name, value);
        if (k->k == K_INT)
            *(int *)base = (int)v;
        else if (k->k == K_LONG)
            *(long *)base = (long)v;
        else
            *(long long *)base = v;
        return NULL;
    }
    case K_DOUBLE: {
        double v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v))
            return sg_error_new("%s: %s: '%s' is not a number", where, k->name, value);
        *(double *)base = v;
        return NULL;
    }
    case K_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes"))
            *(int *)base = 1;
        else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no"))
            *(int *)base = 0;
        else
            return sg_error_new("%s: %s: '%s' is not true or false", where, k->name, value);
        return NULL;
    case K_STR: {
        char *s = strdup(value);
        if (!s) return sg_error_new("%s: %s: out of memory", where, k->name);
        free(*(char **)base);
        *(char **)base = s;
        return NULL;
    }
    case K_LIST: {
        int *n = (int *)((char *)c + k->count_off);
        if (*n >= SG_TRAIN_MAX_FILES)
            return sg_error_new("%s: %s: more than %d entries", where, k->name, SG_TRAIN_MAX_FILES);
        char *s = strdup(value);
        if (!s) return sg_error_new("%s: %s: out of memory", where, k->name);
        ((char **)base)[(*n)++] = s;
        return NULL;
    }
    }
    return NULL;
}

/* "FILE:LINE:COL" of node n, for sg_train_config_set's messages. */
static void where_of(char *where, size_t size, const char *path, const yaml_node_t *n) {
    snprintf(where, size, "%s:%d:%d", path, sg_yaml_line(n), sg_yaml_column(n));
}

/* Checks that `n` is a scalar visited once (a second visit is an alias). */
static sg_error *plain_scalar(sg_yaml_doc *y, const char *path, const yaml_node_t *n, const char *what) {
    char where[512];
    where_of(where, sizeof where, path, n);
    int seen = sg_yaml_seen(y, n);
    if (seen < 0) return sg_error_new("out of memory");
    if (seen) return sg_error_new("%s: aliases are not supported", where);
    if (n->type == YAML_MAPPING_NODE)
        return sg_error_new("%s: nested mappings are not supported; use flat keys", where);
    if (n->type == YAML_SEQUENCE_NODE) return sg_error_new("%s: %s", where, what);
    return NULL;
}

/* One `key: value` of the flat mapping: a scalar, or a list of scalars for a
 * list setting; null (written for unset settings) clears a string setting. */
static sg_error *load_setting(sg_train_config *c, sg_yaml_doc *y, const char *path, const yaml_node_t *k,
                              const yaml_node_t *v) {
    char where[512];
    sg_error *err = plain_scalar(y, path, k, "a list is only allowed as a value");
    if (err) return err;
    const char *key = sg_yaml_scalar(k);
    const key_def *def = find_key(key);
    where_of(where, sizeof where, path, k);
    if (!def) return sg_error_new("%s: unknown setting '%s' (docs/TRAINING.md lists them)", where, key);
    if (v->type == YAML_SEQUENCE_NODE) {
        where_of(where, sizeof where, path, v);
        if (sg_yaml_seen(y, v)) return sg_error_new("%s: aliases are not supported", where);
        if (def->k != K_LIST) return sg_error_new("%s: '%s' takes a single value, not a list", where, key);
        for (int i = 0; i < sg_yaml_length(v); i++) {
            yaml_node_t *item = sg_yaml_item(y, v, i);
            if (!item) continue;
            if ((err = plain_scalar(y, path, item, "a list is only allowed as a value"))) return err;
            where_of(where, sizeof where, path, item);
            if ((err = sg_train_config_set(c, key, sg_yaml_scalar(item), where))) return err;
        }
        return NULL;
    }
    if ((err = plain_scalar(y, path, v, ""))) return err;
    if (sg_yaml_is_null(v)) {
        if (def->k == K_STR) {
            free(*(char **)((char *)c + def->off));
            *(char **)((char *)c + def->off) = NULL;
        }
        return NULL;
    }
    where_of(where, sizeof where, path, v);
    return sg_train_config_set(c, key, sg_yaml_scalar(v), where);
}

sg_error *sg_train_config_load_yaml(sg_train_config *c, const char *path) {
    char *text;
    size_t len;
    sg_error *err = sg_file_read(path, &text, &len);
    if (err) return err;
    sg_yaml_doc y;
    err = sg_yaml_doc_open(&y, path, "the config", text, len);
    if (err) {
        free(text);
        return err;
    }
    y.one_document = 1;
    yaml_node_t *root = sg_yaml_doc_root(&y);
    if (root && root->type != YAML_MAPPING_NODE) {
        char where[512];
        where_of(where, sizeof where, path, root);
        err = sg_error_new("%s: the config must be a mapping of settings", where);
    }
    for (int i = 0; root && !err && i < sg_yaml_length(root); i++) {
        yaml_node_t *k, *v;
        if (sg_yaml_pair(&y, root, i, &k, &v)) err = load_setting(c, &y, path, k, v);
    }
    char **warnings; /* none: unknown keys are errors here, a second document too */
    int n_warnings;
    sg_error *doc_err = sg_yaml_doc_finish(&y, &warnings, &n_warnings);
    free(text);
    for (int i = 0; i < n_warnings; i++) free(warnings[i]);
    free(warnings);
    if (err) {
        sg_error_free(doc_err);
        return err;
    }
    return doc_err;
}

sg_error *sg_train_config_validate(const sg_train_config *c) {
    if (c->layers < 1 || c->heads < 1 || c->embd < 1)
        return sg_error_new("layers, heads and embd must be positive");
    if (c->embd % c->heads) return sg_error_new("embd %d is not a multiple of heads %d", c->embd, c->heads);
    if (c->context < 1) return sg_error_new("context must be positive");
    if (c->n_ctx && c->context > c->n_ctx)
        return sg_error_new("context %d is longer than the positional table n_ctx %d", c->context, c->n_ctx);
    if (c->batch < 1 || c->grad_accum < 1) return sg_error_new("batch and grad_accum must be positive");
    if (c->steps < 1) return sg_error_new("steps must be positive");
    if (c->warmup < 0) return sg_error_new("warmup must be >= 0");
    if (!(c->lr > 0)) return sg_error_new("lr must be positive");
    if (!(c->lr_floor >= 0 && c->lr_floor <= 1))
        return sg_error_new("lr_floor %g must be in [0, 1] (a fraction of lr)", c->lr_floor);
    double d[3] = {c->dropout_embd, c->dropout_attn, c->dropout_resid};
    for (int i = 0; i < 3; i++)
        if (!(d[i] >= 0 && d[i] < 1)) return sg_error_new("dropout rates must be in [0, 1), got %g", d[i]);
    if (!(c->val_fraction >= 0 && c->val_fraction < 1)) return sg_error_new("val_fraction must be in [0, 1)");
    if (c->clip < 0) return sg_error_new("clip must be >= 0 (0 = off)");
    if (c->eval_batches < 1) return sg_error_new("eval_batches must be positive");
    if (!c->dtype || (strcmp(c->dtype, "f32") && strcmp(c->dtype, "f16") && strcmp(c->dtype, "bf16")))
        return sg_error_new("dtype must be f32, f16 or bf16");
    if (!c->out) return sg_error_new("no output directory (out / -o DIR)");
    if (!c->n_corpus && !c->shard) return sg_error_new("no training data: give corpus files or a shard");
    if (!c->tokenizer && !c->init_from) return sg_error_new("no tokenizer directory (tokenizer)");
    return NULL;
}

char *sg_train_config_to_json(const sg_train_config *c) {
    json_t *o = json_object();
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_def *k = &keys[i];
        const char *base = (const char *)c + k->off;
        json_t *v = NULL;
        switch (k->k) {
        case K_INT:
            v = json_integer(*(const int *)base);
            break;
        case K_LONG:
            v = json_integer(*(const long *)base);
            break;
        case K_LLONG:
            v = json_integer(*(const long long *)base);
            break;
        case K_DOUBLE:
            v = json_real(*(const double *)base);
            break;
        case K_BOOL:
            v = json_boolean(*(const int *)base);
            break;
        case K_STR:
            v = *(char *const *)base ? json_string(*(char *const *)base) : json_null();
            break;
        case K_LIST: {
            v = json_array();
            int n = *(const int *)((const char *)c + k->count_off);
            for (int j = 0; j < n; j++) json_array_append_new(v, json_string(((char *const *)base)[j]));
            break;
        }
        }
        json_object_set_new(o, k->name, v);
    }
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(o);
    return s;
}
