/* train_config.c — training settings: table of keys, YAML and JSON. */
#include "train/train_config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

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
    case K_STR:
        free(*(char **)base);
        *(char **)base = strdup(value);
        return NULL;
    case K_LIST: {
        int *n = (int *)((char *)c + k->count_off);
        if (*n >= SG_TRAIN_MAX_FILES)
            return sg_error_new("%s: %s: more than %d entries", where, k->name, SG_TRAIN_MAX_FILES);
        ((char **)base)[(*n)++] = strdup(value);
        return NULL;
    }
    }
    return NULL;
}

sg_error *sg_train_config_load_yaml(sg_train_config *c, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return sg_error_new("%s: %s", path, strerror(errno));
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    sg_error *err = NULL;
    char where[512], key[64] = "";
    int depth = 0, in_seq = 0, have_key = 0, done = 0;
    while (!err && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            err = sg_error_new("%s:%zu:%zu: %s", path, p.problem_mark.line + 1, p.problem_mark.column + 1,
                               p.problem ? p.problem : "YAML syntax error");
            break;
        }
        snprintf(where, sizeof where, "%s:%zu:%zu", path, ev.start_mark.line + 1, ev.start_mark.column + 1);
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_MAPPING_START_EVENT:
            if (depth++ > 0)
                err = sg_error_new("%s: nested mappings are not supported; use flat keys", where);
            break;
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_SEQUENCE_START_EVENT:
            if (!have_key || in_seq)
                err = sg_error_new("%s: a list is only allowed as a value", where);
            else if (!find_key(key) || find_key(key)->k != K_LIST)
                err = sg_error_new("%s: '%s' takes a single value, not a list", where, key);
            in_seq = 1;
            break;
        case YAML_SEQUENCE_END_EVENT:
            in_seq = 0, have_key = 0;
            break;
        case YAML_SCALAR_EVENT: {
            const char *s = (const char *)ev.data.scalar.value;
            if (depth != 1)
                err = sg_error_new("%s: the config must be a mapping of settings", where);
            else if (in_seq)
                err = sg_train_config_set(c, key, s, where);
            else if (!have_key) {
                if (!find_key(s))
                    err = sg_error_new("%s: unknown setting '%s' (docs/TRAINING.md lists them)", where, s);
                snprintf(key, sizeof key, "%s", s);
                have_key = 1;
            } else {
                /* null clears a string setting (JSON records write null for unset) */
                const key_def *k = find_key(key);
                int is_null = !strcmp(s, "null") || !strcmp(s, "~") || (!*s && ev.data.scalar.plain_implicit);
                if (is_null && k->k == K_STR) {
                    free(*(char **)((char *)c + k->off));
                    *(char **)((char *)c + k->off) = NULL;
                } else if (!is_null) {
                    err = sg_train_config_set(c, key, s, where);
                }
                have_key = 0;
            }
            break;
        }
        case YAML_ALIAS_EVENT:
            err = sg_error_new("%s: aliases are not supported", where);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    fclose(f);
    return err;
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
