/* checkpoint.c — GPT-2 weights (layout, allocation, initialisation), HF
 * config.json, and checkpoint directories over safetensors. */
#include "engine/checkpoint.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "base/log.h"

/* ---- canonical tensor layout ------------------------------------------ */

typedef struct {
    sg_gpt2_tensor t;
    float **slot; /* the pointer field in the weights struct, NULL without layers */
    float std;    /* init: > 0 normal, 0 zeros, -1 ones */
} tensor_desc;

static void add(tensor_desc *out, int *n, float **slot, float std, int ndim, int d0, int d1, const char *fmt,
                int i) {
    if (out) {
        tensor_desc *d = &out[*n];
        memset(d, 0, sizeof *d);
        snprintf(d->t.name, sizeof d->t.name, fmt, i);
        d->slot = slot;
        d->t.data = slot ? *slot : NULL;
        d->t.ndim = ndim;
        d->t.shape[0] = d0;
        d->t.shape[1] = ndim == 2 ? d1 : 1;
        d->t.numel = (size_t)d0 * (size_t)(ndim == 2 ? d1 : 1);
        d->std = std;
    }
    (*n)++;
}

/* The canonical order; `w` is only written through the slots by callers. */
static int describe(const sg_gpt2_weights *cw, tensor_desc *out) {
    sg_gpt2_weights *w = (sg_gpt2_weights *)cw;
    const sg_gpt2_config *c = &w->config;
    int n = 0, C = c->n_embd, I = c->n_inner;
    int has = w->layers != NULL;
    float std = 0.02f, proj_std = 0.02f / sqrtf(2.0f * (float)(c->n_layer > 0 ? c->n_layer : 1));
    add(out, &n, has ? &w->wte : NULL, std, 2, c->vocab_size, C, "wte.weight", 0);
    add(out, &n, has ? &w->wpe : NULL, std, 2, c->n_ctx, C, "wpe.weight", 0);
    for (int l = 0; l < c->n_layer; l++) {
        sg_gpt2_layer *L = has ? &w->layers[l] : NULL;
#define SLOT(f) (L ? &L->f : NULL)
        add(out, &n, SLOT(ln_1_w), -1, 1, C, 0, "h.%d.ln_1.weight", l);
        add(out, &n, SLOT(ln_1_b), 0, 1, C, 0, "h.%d.ln_1.bias", l);
        add(out, &n, SLOT(c_attn_w), std, 2, C, 3 * C, "h.%d.attn.c_attn.weight", l);
        add(out, &n, SLOT(c_attn_b), 0, 1, 3 * C, 0, "h.%d.attn.c_attn.bias", l);
        add(out, &n, SLOT(attn_proj_w), proj_std, 2, C, C, "h.%d.attn.c_proj.weight", l);
        add(out, &n, SLOT(attn_proj_b), 0, 1, C, 0, "h.%d.attn.c_proj.bias", l);
        add(out, &n, SLOT(ln_2_w), -1, 1, C, 0, "h.%d.ln_2.weight", l);
        add(out, &n, SLOT(ln_2_b), 0, 1, C, 0, "h.%d.ln_2.bias", l);
        add(out, &n, SLOT(c_fc_w), std, 2, C, I, "h.%d.mlp.c_fc.weight", l);
        add(out, &n, SLOT(c_fc_b), 0, 1, I, 0, "h.%d.mlp.c_fc.bias", l);
        add(out, &n, SLOT(mlp_proj_w), proj_std, 2, I, C, "h.%d.mlp.c_proj.weight", l);
        add(out, &n, SLOT(mlp_proj_b), 0, 1, C, 0, "h.%d.mlp.c_proj.bias", l);
#undef SLOT
    }
    add(out, &n, has ? &w->ln_f_w : NULL, -1, 1, C, 0, "ln_f.weight", 0);
    add(out, &n, has ? &w->ln_f_b : NULL, 0, 1, C, 0, "ln_f.bias", 0);
    return n;
}

static tensor_desc *describe_alloc(const sg_gpt2_weights *w, int *n) {
    *n = describe(w, NULL);
    tensor_desc *d = malloc((size_t)*n * sizeof *d);
    if (d) describe(w, d);
    return d;
}

int sg_gpt2_tensors(const sg_gpt2_weights *w, sg_gpt2_tensor *out) {
    int n = describe(w, NULL);
    if (!out) return n;
    tensor_desc *d = malloc((size_t)n * sizeof *d);
    if (!d) return -1;
    describe(w, d);
    for (int i = 0; i < n; i++) out[i] = d[i].t;
    free(d);
    return n;
}

size_t sg_gpt2_param_count(const sg_gpt2_config *c) {
    size_t C = (size_t)c->n_embd, I = (size_t)c->n_inner;
    size_t per_layer = 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + 2 * C + (C * I + I) + (I * C + C);
    return (size_t)c->vocab_size * C + (size_t)c->n_ctx * C + (size_t)c->n_layer * per_layer + 2 * C;
}

/* ---- configs ----------------------------------------------------------- */

sg_error *sg_gpt2_config_validate(const sg_gpt2_config *c) {
    struct {
        const char *name;
        int v, max;
    } f[] = {
        {"n_layer", c->n_layer, 1024},          {"n_head", c->n_head, 1024},
        {"n_embd", c->n_embd, 65536},           {"n_positions", c->n_ctx, 1 << 20},
        {"vocab_size", c->vocab_size, 1 << 24}, {"n_inner", c->n_inner, 1 << 18},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v <= 0 || f[i].v > f[i].max)
            return sg_error_new("%s = %d out of range (1..%d)", f[i].name, f[i].v, f[i].max);
    if (c->n_embd % c->n_head)
        return sg_error_new("n_embd = %d is not a multiple of n_head = %d", c->n_embd, c->n_head);
    if (!(c->ln_epsilon > 0) || !(c->ln_epsilon < 1))
        return sg_error_new("layer_norm_epsilon = %g out of range (0, 1)", (double)c->ln_epsilon);
    return NULL;
}

static const struct {
    const char *name;
    int L, NH, C;
} presets[] = {
    {"124M", 12, 12, 768},
    {"355M", 24, 16, 1024},
    {"774M", 36, 20, 1280},
    {"1.5B", 48, 25, 1600},
};

sg_error *sg_gpt2_config_preset(const char *shape, sg_gpt2_config *out) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (!strcasecmp(shape, presets[i].name)) {
            *out = (sg_gpt2_config){.n_layer = presets[i].L,
                                    .n_head = presets[i].NH,
                                    .n_embd = presets[i].C,
                                    .n_ctx = 1024,
                                    .vocab_size = 50257,
                                    .n_inner = 4 * presets[i].C,
                                    .ln_epsilon = 1e-5f};
            return NULL;
        }
    return sg_error_new("unknown shape '%s' (expected 124M, 355M, 774M or 1.5B)", shape);
}

const char *sg_gpt2_config_shape_name(const sg_gpt2_config *c) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (c->n_layer == presets[i].L && c->n_head == presets[i].NH && c->n_embd == presets[i].C &&
            c->n_ctx == 1024 && c->vocab_size == 50257 && c->n_inner == 4 * c->n_embd)
            return presets[i].name;
    return NULL;
}

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* A required (or, with dflt >= 0, optional) positive integer field. */
static sg_error *int_field(const char *path, json_t *root, const char *key, int dflt, int *out) {
    json_t *v = json_object_get(root, key);
    if (!v || (json_is_null(v) && dflt >= 0)) {
        if (dflt >= 0) {
            *out = dflt;
            return NULL;
        }
        return sg_error_new("%s: missing field \"%s\"", path, key);
    }
    if (!json_is_integer(v))
        return sg_error_new("%s: field \"%s\" must be a positive integer, found %s", path, key, json_kind(v));
    json_int_t x = json_integer_value(v);
    if (x <= 0 || x > (1 << 24))
        return sg_error_new("%s: field \"%s\" = %lld out of range (1..%d)", path, key, (long long)x, 1 << 24);
    *out = (int)x;
    return NULL;
}

sg_error *sg_gpt2_config_load(const char *path, sg_gpt2_config *out) {
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    sg_error *err = sg_file_read(path, &text, &len);
    if (err) return err;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root) return sg_error_new("%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return sg_error_new("%s: expected a JSON object", path);
    }
    sg_gpt2_config c = {0};
    const char *pos_key = json_object_get(root, "n_positions") ? "n_positions" : "n_ctx";
    if ((err = int_field(path, root, "n_layer", -1, &c.n_layer)) ||
        (err = int_field(path, root, "n_head", -1, &c.n_head)) ||
        (err = int_field(path, root, "n_embd", -1, &c.n_embd)) ||
        (err = int_field(path, root, pos_key, -1, &c.n_ctx)) ||
        (err = int_field(path, root, "vocab_size", -1, &c.vocab_size)) ||
        (err = int_field(path, root, "n_inner", 0, &c.n_inner)))
        goto out;
    if (c.n_inner == 0) c.n_inner = 4 * c.n_embd;
    json_t *eps = json_object_get(root, "layer_norm_epsilon");
    c.ln_epsilon = 1e-5f;
    if (eps) {
        if (!json_is_number(eps)) {
            err = sg_error_new("%s: field \"layer_norm_epsilon\" must be a number, found %s", path,
                               json_kind(eps));
            goto out;
        }
        c.ln_epsilon = (float)json_number_value(eps);
    }
    json_t *act = json_object_get(root, "activation_function");
    if (act && !json_is_null(act) &&
        (!json_is_string(act) || strcmp(json_string_value(act), "gelu_new") != 0)) {
        err =
            sg_error_new("%s: field \"activation_function\" must be \"gelu_new\", found %s%s%s", path,
                         json_is_string(act) ? "\"" : json_kind(act),
                         json_is_string(act) ? json_string_value(act) : "", json_is_string(act) ? "\"" : "");
        goto out;
    }
    if ((err = sg_gpt2_config_validate(&c))) {
        err = sg_error_wrap(err, "%s", path);
        goto out;
    }
    *out = c;
out:
    json_decref(root);
    return err;
}

sg_error *sg_gpt2_config_save(const char *path, const sg_gpt2_config *c) {
    sg_error *err = sg_gpt2_config_validate(c);
    if (err) return sg_error_wrap(err, "%s", path);
    int special = c->vocab_size == 50257 ? 50256 : c->vocab_size - 1;
    /* The shortest decimal that reads back as the same float epsilon. */
    int prec = 1;
    char buf[32];
    for (; prec < 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)c->ln_epsilon);
        if (strtof(buf, NULL) == c->ln_epsilon) break;
    }
    json_t *root = json_pack(
        "{s:s, s:[s], s:f, s:i, s:f, s:i, s:f, s:f, s:s, s:i, s:i, s:i, s:o, s:i, s:i, s:f, s:i}",
        "activation_function", "gelu_new", "architectures", "GPT2LMHeadModel", "attn_pdrop", 0.1,
        "bos_token_id", special, "embd_pdrop", 0.1, "eos_token_id", special, "initializer_range", 0.02,
        "layer_norm_epsilon", strtod(buf, NULL), "model_type", "gpt2", "n_ctx", c->n_ctx, "n_embd", c->n_embd,
        "n_head", c->n_head, "n_inner", c->n_inner == 4 * c->n_embd ? json_null() : json_integer(c->n_inner),
        "n_layer", c->n_layer, "n_positions", c->n_ctx, "resid_pdrop", 0.1, "vocab_size", c->vocab_size);
    char *text =
        root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(prec)) : NULL;
    json_decref(root);
    if (!text) return sg_error_new("%s: out of memory", path);
    size_t n = strlen(text);
    char *withnl = realloc(text, n + 2);
    if (!withnl) {
        free(text);
        return sg_error_new("%s: out of memory", path);
    }
    withnl[n] = '\n';
    withnl[n + 1] = '\0';
    err = sg_file_write_atomic_mode(path, SG_FILE_PUBLIC, withnl, n + 1);
    free(withnl);
    return err;
}

/* ---- owned weights ----------------------------------------------------- */

typedef struct {
    sg_gpt2_weights w; /* first: the public pointer is this */
    size_t bytes;
    int mmapped;
} owned_weights;

sg_error *sg_gpt2_weights_alloc(const sg_gpt2_config *c, sg_gpt2_weights **out) {
    *out = NULL;
    sg_error *err = sg_gpt2_config_validate(c);
    if (err) return err;
    owned_weights *o = calloc(1, sizeof *o);
    if (!o) return sg_error_new("out of memory");
    o->w.config = *c;
    o->w.layers = calloc((size_t)c->n_layer, sizeof *o->w.layers);
    size_t n = sg_gpt2_param_count(c);
    o->bytes = n * sizeof(float);
    void *block = NULL;
    if (o->bytes >= (1 << 20)) {
        /* Large blocks straight from the kernel: page aligned, zero pages on demand. */
        block = mmap(NULL, o->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (block == MAP_FAILED) block = NULL;
        o->mmapped = 1;
    } else if (posix_memalign(&block, 64, o->bytes ? o->bytes : 64) == 0) {
        memset(block, 0, o->bytes);
    } else {
        block = NULL;
    }
    if (!block || !o->w.layers) {
        if (block && o->mmapped)
            munmap(block, o->bytes);
        else
            free(block);
        free(o->w.layers);
        free(o);
        return sg_error_new("out of memory allocating %zu parameters (%.1f MB)", n, (double)n * 4 / 1e6);
    }
    o->w.block = block;
    o->w.block_floats = n;
    int nt;
    tensor_desc *d = describe_alloc(&o->w, &nt);
    if (!d) {
        sg_gpt2_weights_free(&o->w);
        return sg_error_new("out of memory");
    }
    float *p = block;
    for (int i = 0; i < nt; i++) {
        *d[i].slot = p;
        p += d[i].t.numel;
    }
    free(d);
    *out = &o->w;
    return NULL;
}

float *sg_gpt2_weights_block(const sg_gpt2_weights *w, size_t *n_floats) {
    if (n_floats) *n_floats = w->block ? w->block_floats : 0;
    return w->block;
}

void sg_gpt2_weights_free(sg_gpt2_weights *w) {
    if (!w) return;
    owned_weights *o = (owned_weights *)w;
    if (o->w.block) {
        if (o->mmapped)
            munmap(o->w.block, o->bytes);
        else
            free(o->w.block);
    }
    free(o->w.layers);
    free(o);
}

sg_error *sg_gpt2_weights_clone(const sg_gpt2_weights *src, sg_gpt2_weights **out) {
    sg_error *err = sg_gpt2_weights_alloc(&src->config, out);
    if (err) return err;
    int n;
    tensor_desc *s = describe_alloc(src, &n), *d = describe_alloc(*out, &n);
    if (!s || !d) {
        free(s);
        free(d);
        sg_gpt2_weights_free(*out);
        *out = NULL;
        return sg_error_new("out of memory");
    }
    for (int i = 0; i < n; i++) memcpy(d[i].t.data, s[i].t.data, s[i].t.numel * sizeof(float));
    free(s);
    free(d);
    return NULL;
}

/* Counter-based normal samples: pair p of the whole model (canonical float
 * index 2p, 2p+1) comes from one splitmix64 draw and Box-Muller, so results
 * do not depend on threads or chunking. */
static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void fill_normal(float *x, size_t n, size_t base, uint64_t seed, float std) {
    uint64_t key = splitmix64(seed ^ 0x5354414745474154ull); /* "STAGEGAT" */
    long long npairs = (long long)((n + 1) / 2);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (long long p = 0; p < npairs; p++) {
        size_t i = 2 * (size_t)p;
        uint64_t r = splitmix64(key + (base + i));
        float u1 = ((float)(uint32_t)(r >> 40) + 1.0f) * 0x1p-24f; /* (0, 1] */
        float u2 = (float)(uint32_t)(r & 0xffffff) * 0x1p-24f;     /* [0, 1) */
        float rad = std * sqrtf(-2.0f * logf(u1)), ang = 6.28318530717958647692f * u2;
        x[i] = rad * cosf(ang);
        if (i + 1 < n) x[i + 1] = rad * sinf(ang);
    }
}

void sg_gpt2_weights_init_random(sg_gpt2_weights *w, uint64_t seed) {
    int n;
    tensor_desc *d = describe_alloc(w, &n);
    if (!d) return;
    size_t base = 0;
    for (int i = 0; i < n; i++) {
        float *x = d[i].t.data;
        size_t k = d[i].t.numel;
        if (d[i].std > 0)
            fill_normal(x, k, base, seed, d[i].std);
        else
            for (size_t j = 0; j < k; j++) x[j] = d[i].std < 0 ? 1.0f : 0.0f;
        base += k;
    }
    free(d);
}

/* ---- checkpoint directories ------------------------------------------- */

struct sg_checkpoint {
    sg_safetensors *st;
    sg_gpt2_weights w;
    float **owned; /* converted or realigned tensors */
    int n_owned;
    size_t mapped_bytes, copied_bytes;
    sg_dtype dtype;
};

void sg_checkpoint_close(sg_checkpoint *ck) {
    if (!ck) return;
    for (int i = 0; i < ck->n_owned; i++) free(ck->owned[i]);
    free(ck->owned);
    free(ck->w.layers);
    sg_safetensors_close(ck->st);
    free(ck);
}

const sg_gpt2_weights *sg_checkpoint_weights(const sg_checkpoint *ck) { return &ck->w; }
const sg_safetensors *sg_checkpoint_file(const sg_checkpoint *ck) { return ck->st; }
sg_dtype sg_checkpoint_dtype(const sg_checkpoint *ck) { return ck->dtype; }

void sg_checkpoint_bytes(const sg_checkpoint *ck, size_t *mapped, size_t *copied) {
    if (mapped) *mapped = ck->mapped_bytes;
    if (copied) *copied = ck->copied_bytes;
}

static const char *strip_prefix(const char *name) {
    return strncmp(name, "transformer.", 12) ? name : name + 12;
}

/* "h.N.rest" -> N (and *rest), else -1. */
static long layer_index(const char *name, const char **rest) {
    if (strncmp(name, "h.", 2) || name[2] < '0' || name[2] > '9') return -1;
    char *end;
    errno = 0;
    long i = strtol(name + 2, &end, 10);
    if (errno || *end != '.' || i > 1000000) return -1;
    if (rest) *rest = end + 1;
    return i;
}

static int is_ignored(const char *name) {
    const char *rest;
    if (!strcmp(name, "lm_head.weight")) return 1;
    return layer_index(name, &rest) >= 0 && (!strcmp(rest, "attn.bias") || !strcmp(rest, "attn.masked_bias"));
}

static void format_shape(char *buf, size_t n, const int64_t *shape, int ndim) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

/* Config vs file disagreements, explained in the config's terms. */
static sg_error *check_against_config(const sg_safetensors *st, const sg_st_tensor **by_canon,
                                      const sg_gpt2_config *c, const char *cfg_path) {
    const sg_st_tensor *wte = by_canon[0], *wpe = by_canon[1];
    char s[128];
    if (wte && wte->ndim == 2 && (wte->shape[0] != c->vocab_size || wte->shape[1] != c->n_embd)) {
        format_shape(s, sizeof s, wte->shape, 2);
        return sg_error_new("%s says vocab_size=%d, n_embd=%d but %s has wte.weight %s", cfg_path,
                            c->vocab_size, c->n_embd, st->path, s);
    }
    if (wpe && wpe->ndim == 2 && (wpe->shape[0] != c->n_ctx || wpe->shape[1] != c->n_embd)) {
        format_shape(s, sizeof s, wpe->shape, 2);
        return sg_error_new("%s says n_positions=%d, n_embd=%d but %s has wpe.weight %s", cfg_path, c->n_ctx,
                            c->n_embd, st->path, s);
    }
    const sg_st_tensor *fc = c->n_layer > 0 ? by_canon[2 + 8] : NULL; /* h.0.mlp.c_fc.weight */
    if (fc && fc->ndim == 2 && fc->shape[0] == c->n_embd && fc->shape[1] != c->n_inner) {
        format_shape(s, sizeof s, fc->shape, 2);
        return sg_error_new("%s says n_inner=%d but %s has %s %s", cfg_path, c->n_inner, st->path, fc->name,
                            s);
    }
    long max_layer = -1;
    for (int i = 0; i < st->n_tensors; i++) {
        long l = layer_index(strip_prefix(st->tensors[i].name), NULL);
        if (l > max_layer) max_layer = l;
    }
    if (max_layer + 1 != c->n_layer)
        return sg_error_new("%s says n_layer=%d but %s has %ld layers (h.0 .. h.%ld)", cfg_path, c->n_layer,
                            st->path, max_layer + 1, max_layer);
    return NULL;
}

/* When model.safetensors is absent, say what is there instead. */
static sg_error *explain_missing_weights(const char *dir, const char *st_path, sg_error *err) {
    struct stat sb;
    if (stat(st_path, &sb) == 0) return err;
    static const struct {
        const char *file, *why;
    } other[] = {
        {"model.safetensors.index.json",
         "sharded safetensors checkpoints are not supported; merge the shards"},
        {"pytorch_model.bin", "only PyTorch pickle weights (pytorch_model.bin) are present; convert them to "
                              "model.safetensors (pickles are never loaded: they can run code)"},
    };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        char *p = sg_path_join(dir, other[i].file);
        int there = p && stat(p, &sb) == 0;
        free(p);
        if (there) {
            sg_error_free(err);
            return sg_error_new("%s: no model.safetensors: %s", dir, other[i].why);
        }
    }
    return err;
}

sg_error *sg_checkpoint_open(const char *dir, sg_checkpoint **out) {
    *out = NULL;
    char *cfg_path = sg_path_join(dir, "config.json"), *st_path = sg_path_join(dir, "model.safetensors");
    sg_checkpoint *ck = calloc(1, sizeof *ck);
    tensor_desc *d = NULL;
    const sg_st_tensor **found = NULL;
    sg_error *err = NULL;
    if (!cfg_path || !st_path || !ck) {
        err = sg_error_new("out of memory");
        goto fail;
    }
    if ((err = sg_gpt2_config_load(cfg_path, &ck->w.config))) goto fail;
    if ((err = sg_safetensors_open(st_path, &ck->st))) {
        err = explain_missing_weights(dir, st_path, err);
        goto fail;
    }
    const sg_gpt2_config *c = &ck->w.config;
    ck->w.layers = calloc((size_t)c->n_layer, sizeof *ck->w.layers);
    int n;
    d = describe_alloc(&ck->w, &n);
    found = calloc((size_t)n, sizeof *found);
    ck->owned = calloc((size_t)n, sizeof *ck->owned);
    if (!ck->w.layers || !d || !found || !ck->owned) {
        err = sg_error_new("out of memory");
        goto fail;
    }
    /* Match file tensors to canonical names. */
    const sg_safetensors *st = ck->st;
    for (int i = 0; i < st->n_tensors; i++) {
        const sg_st_tensor *t = &st->tensors[i];
        const char *name = strip_prefix(t->name);
        if (is_ignored(name)) continue;
        int j = 0;
        while (j < n && strcmp(d[j].t.name, name)) j++;
        if (j == n) {
            long l = layer_index(name, NULL);
            if (l >= c->n_layer) continue; /* reported below as a layer-count mismatch */
            err = sg_error_new("%s: unexpected tensor '%s' (not part of a GPT-2 model)", st->path, t->name);
            goto fail;
        }
        if (found[j]) {
            err = sg_error_new("%s: tensor '%s' appears twice ('%s' and '%s')", st->path, name,
                               found[j]->name, t->name);
            goto fail;
        }
        found[j] = t;
    }
    if ((err = check_against_config(st, found, c, cfg_path))) goto fail;
    for (int j = 0; j < n; j++) {
        const sg_st_tensor *t = found[j];
        const sg_gpt2_tensor *want = &d[j].t;
        if (!t) {
            err = sg_error_new("%s: missing tensor '%s'", st->path, want->name);
            goto fail;
        }
        if (!t->supported) {
            err = sg_error_new("%s: tensor '%s' has dtype %s, which is unsupported (F32, F16 and BF16 are)",
                               st->path, t->name, t->dtype_name);
            goto fail;
        }
        int64_t ws[2] = {want->shape[0], want->shape[1]};
        if (t->ndim != want->ndim || t->shape[0] != ws[0] || (want->ndim == 2 && t->shape[1] != ws[1])) {
            char e[64], f[160];
            format_shape(e, sizeof e, ws, want->ndim);
            format_shape(f, sizeof f, t->shape, t->ndim);
            err = sg_error_new("%s: tensor '%s': expected %s, found %s", st->path, t->name, e, f);
            goto fail;
        }
        if (j == 0) ck->dtype = t->dtype;
        if (t->dtype == SG_DTYPE_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
            *d[j].slot = (float *)(uintptr_t)t->data; /* in place, read-only mapping */
            ck->mapped_bytes += t->nbytes;
        } else {
            float *buf = malloc(t->numel * sizeof(float) + 1);
            if (!buf) {
                err = sg_error_new("out of memory converting tensor '%s'", t->name);
                goto fail;
            }
            ck->owned[ck->n_owned++] = buf;
            sg_convert_to_f32(t->dtype, t->data, buf, t->numel);
            *d[j].slot = buf;
            ck->copied_bytes += t->numel * sizeof(float);
        }
    }
    free(d);
    free(found);
    free(cfg_path);
    free(st_path);
    *out = ck;
    return NULL;
fail:
    free(d);
    free(found);
    free(cfg_path);
    free(st_path);
    sg_checkpoint_close(ck);
    return err;
}

/* mkdir -p */
static sg_error *make_dirs(const char *dir) {
    char *p = strdup(dir);
    if (!p) return sg_error_new("out of memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char keep = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                sg_error *err = sg_error_new("mkdir %s: %s", p, strerror(errno));
                free(p);
                return err;
            }
            *s = keep;
            if (!keep) break;
        }
    }
    free(p);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return sg_error_new("%s: not a directory", dir);
    return NULL;
}

static sg_error *save_impl(const char *dir, const sg_gpt2_config *c, const sg_gpt2_weights *w, sg_dtype dtype,
                           const char *const *metadata_kv, int n_metadata) {
    sg_error *err = make_dirs(dir);
    if (err) return err;
    char *cfg_path = sg_path_join(dir, "config.json"), *st_path = sg_path_join(dir, "model.safetensors");
    sg_gpt2_weights shape_only = {.config = *c};
    int n;
    tensor_desc *d = describe_alloc(w ? w : &shape_only, &n);
    sg_st_spec *specs = calloc((size_t)n, sizeof *specs);
    const char **kv = calloc(2 * (size_t)n_metadata + 2, sizeof *kv);
    sg_st_writer *wr = NULL;
    if (!cfg_path || !st_path || !d || !specs || !kv) {
        err = sg_error_new("out of memory");
        goto out;
    }
    int nkv = 0, has_format = 0;
    for (int i = 0; i < n_metadata; i++) has_format |= !strcmp(metadata_kv[2 * i], "format");
    if (!has_format) {
        kv[0] = "format";
        kv[1] = "pt";
        nkv = 1;
    }
    for (int i = 0; i < n_metadata; i++, nkv++) {
        kv[2 * nkv] = metadata_kv[2 * i];
        kv[2 * nkv + 1] = metadata_kv[2 * i + 1];
    }
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        specs[i] = (sg_st_spec){.name = d[i].t.name,
                                .dtype = dtype,
                                .ndim = d[i].t.ndim,
                                .shape = {d[i].t.shape[0], d[i].t.shape[1]}};
        total += d[i].t.numel * sg_dtype_size(dtype);
    }
    if ((err = sg_gpt2_config_save(cfg_path, c))) goto out;
    if ((err = sg_st_writer_open(st_path, specs, n, kv, nkv, &wr))) goto out;
    if (!w) {
        err = sg_st_writer_write_zeros(wr, total);
    } else {
        for (int i = 0; i < n && !err; i++) err = sg_st_writer_write_f32(wr, d[i].t.data, d[i].t.numel);
    }
    if (err) {
        sg_st_writer_abort(wr);
        goto out;
    }
    err = sg_st_writer_finish(wr);
out:
    if (err) err = sg_error_wrap(err, "saving checkpoint %s", dir);
    free(kv);
    free(specs);
    free(d);
    free(cfg_path);
    free(st_path);
    return err;
}

sg_error *sg_checkpoint_save(const char *dir, const sg_gpt2_weights *w, sg_dtype dtype,
                             const char *const *metadata_kv, int n_metadata) {
    return save_impl(dir, &w->config, w, dtype, metadata_kv, n_metadata);
}

sg_error *sg_checkpoint_save_zeros(const char *dir, const sg_gpt2_config *c, sg_dtype dtype,
                                   const char *const *metadata_kv, int n_metadata) {
    return save_impl(dir, c, NULL, dtype, metadata_kv, n_metadata);
}

sg_error *sg_checkpoint_copy_tokenizer(const char *from_dir, const char *to_dir) {
    static const char *const files[][2] = {{"vocab.json", "encoder.json"}, {"merges.txt", "vocab.bpe"}};
    sg_error *err = make_dirs(to_dir);
    for (int i = 0; i < 2 && !err; i++) {
        char *src = sg_path_join(from_dir, files[i][0]), *alt = sg_path_join(from_dir, files[i][1]);
        char *dst = sg_path_join(to_dir, files[i][0]), *data = NULL;
        size_t len = 0;
        if (!src || !alt || !dst) {
            err = sg_error_new("out of memory");
        } else {
            struct stat sb;
            const char *from = stat(src, &sb) == 0 ? src : stat(alt, &sb) == 0 ? alt : NULL;
            if (!from)
                err = sg_error_new("%s: no %s (or %s) to copy", from_dir, files[i][0], files[i][1]);
            else if (!(err = sg_file_read(from, &data, &len)))
                err = sg_file_write_atomic_mode(dst, SG_FILE_PUBLIC, data, len);
        }
        free(data);
        free(src);
        free(alt);
        free(dst);
    }
    return err;
}
