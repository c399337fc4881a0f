/* gpt2.c — the GPT-2 forward pass with a key/value cache per slot.
 *
 * Exactly GPT-2: token + position embeddings, L pre-LN blocks (causal
 * self-attention with 1/sqrt(head size), GELU-tanh MLP), a final layer norm
 * and the LM head tied to wte. Prefill pushes a whole prompt through sgemm;
 * decode advances several slots by one token each with the batched matvec.
 * The cache of a slot is [L][K|V][n_ctx][C]. */
#include "engine/gpt2.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels.h"
#include "engine/safetensors.h"

struct sg_gpt2 {
    const sg_gpt2_weights *w;
    sg_gpt2_config cfg;
    int max_slots;
    int *len;   /* tokens cached per slot, -1 when the slot is free */
    float **kv; /* per slot: [L][2][n_ctx][C] */
    /* decode scratch for up to max_slots sequences */
    float *x, *xn, *qkv, *att, *hid;
    float *scores; /* [threads][n_ctx] */
    int n_threads;
    /* bf16 copies for decode (sg_gpt2_use_bf16), else NULL */
    uint16_t *bf16;
    struct bf16_layer {
        const uint16_t *c_attn, *attn_proj, *c_fc, *mlp_proj;
    } * bf16_layers;
    const uint16_t *bf16_wte;
};

static size_t kv_floats(const sg_gpt2_config *c) { return (size_t)c->n_layer * 2 * c->n_ctx * c->n_embd; }

static float *cache_k(const sg_gpt2 *m, int slot, int layer) {
    const sg_gpt2_config *c = &m->cfg;
    return m->kv[slot] + (size_t)layer * 2 * c->n_ctx * c->n_embd;
}

static float *cache_v(const sg_gpt2 *m, int slot, int layer) {
    return cache_k(m, slot, layer) + (size_t)m->cfg.n_ctx * m->cfg.n_embd;
}

sg_error *sg_gpt2_new(const sg_gpt2_weights *weights, int max_slots, sg_gpt2 **out) {
    *out = NULL;
    const sg_gpt2_config *c = &weights->config;
    if (max_slots < 1) return sg_error_new("gpt2: max_slots must be at least 1, got %d", max_slots);
    if (c->n_layer < 1 || c->n_head < 1 || c->n_embd < 1 || c->n_ctx < 1 || c->vocab_size < 1 ||
        c->n_inner < 1)
        return sg_error_new("gpt2: invalid config (n_layer %d, n_head %d, n_embd %d, n_ctx %d, vocab %d)",
                            c->n_layer, c->n_head, c->n_embd, c->n_ctx, c->vocab_size);
    if (c->n_embd % c->n_head)
        return sg_error_new("gpt2: n_embd %d is not a multiple of n_head %d", c->n_embd, c->n_head);
    sg_gpt2 *m = calloc(1, sizeof *m);
    if (!m) return sg_error_new("gpt2: out of memory");
    m->w = weights;
    m->cfg = *c;
    m->max_slots = max_slots;
    m->n_threads = omp_get_max_threads();
    size_t C = c->n_embd, n = max_slots;
    m->len = malloc(sizeof(int) * n);
    m->kv = calloc(n, sizeof(float *));
    m->x = malloc(sizeof(float) * n * C);
    m->xn = malloc(sizeof(float) * n * C);
    m->qkv = malloc(sizeof(float) * n * 3 * C);
    m->att = malloc(sizeof(float) * n * C);
    m->hid = malloc(sizeof(float) * n * (c->n_inner > (int)C ? (size_t)c->n_inner : C));
    m->scores = malloc(sizeof(float) * m->n_threads * c->n_ctx);
    int ok = m->len && m->kv && m->x && m->xn && m->qkv && m->att && m->hid && m->scores;
    for (int s = 0; ok && s < max_slots; s++) {
        m->len[s] = -1;
        /* calloc: the pages of an unused cache cost no memory until written. */
        m->kv[s] = calloc(kv_floats(c), sizeof(float));
        ok = m->kv[s] != NULL;
    }
    if (!ok) {
        sg_gpt2_free(m);
        return sg_error_new("gpt2: out of memory allocating the cache for %d slots (%zu MB each)", max_slots,
                            kv_floats(c) * sizeof(float) >> 20);
    }
    *out = m;
    return NULL;
}

void sg_gpt2_free(sg_gpt2 *m) {
    if (!m) return;
    if (m->kv)
        for (int s = 0; s < m->max_slots; s++) free(m->kv[s]);
    free(m->kv);
    free(m->len);
    free(m->x);
    free(m->xn);
    free(m->qkv);
    free(m->att);
    free(m->hid);
    free(m->scores);
    free(m->bf16);
    free(m->bf16_layers);
    free(m);
}

const sg_gpt2_config *sg_gpt2_config_of(const sg_gpt2 *m) { return &m->cfg; }

int sg_gpt2_max_slots(const sg_gpt2 *m) { return m->max_slots; }

static uint16_t *to_bf16(uint16_t *dst, const float *src, size_t n) {
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) dst[i] = sg_f32_to_bf16(src[i]);
    return dst;
}

sg_error *sg_gpt2_use_bf16(sg_gpt2 *m) {
    if (m->bf16) return NULL;
    const sg_gpt2_config *c = &m->cfg;
    size_t C = c->n_embd, NI = c->n_inner;
    size_t per = C * 3 * C + C * C + 2 * C * NI, total = per * c->n_layer + (size_t)c->vocab_size * C;
    m->bf16 = malloc(sizeof(uint16_t) * total);
    m->bf16_layers = malloc(sizeof *m->bf16_layers * c->n_layer);
    if (!m->bf16 || !m->bf16_layers) {
        free(m->bf16), free(m->bf16_layers);
        m->bf16 = NULL, m->bf16_layers = NULL;
        return sg_error_new("gpt2: out of memory for %zu MB of bf16 weights", total * 2 >> 20);
    }
    uint16_t *p = m->bf16;
    for (int l = 0; l < c->n_layer; l++) {
        const sg_gpt2_layer *L = &m->w->layers[l];
        struct bf16_layer *b = &m->bf16_layers[l];
        b->c_attn = to_bf16(p, L->c_attn_w, C * 3 * C), p += C * 3 * C;
        b->attn_proj = to_bf16(p, L->attn_proj_w, C * C), p += C * C;
        b->c_fc = to_bf16(p, L->c_fc_w, C * NI), p += C * NI;
        b->mlp_proj = to_bf16(p, L->mlp_proj_w, NI * C), p += NI * C;
    }
    m->bf16_wte = to_bf16(p, m->w->wte, (size_t)c->vocab_size * C);
    return NULL;
}

/* Y = X·W + b for the decode path, from the bf16 copy when there is one. */
static void linear(float *Y, const float *X, const float *W, const uint16_t *Wb, const float *b, int n,
                   int in, int out) {
    if (Wb)
        sg_matvec_batch_bf16(Y, X, Wb, b, n, in, out);
    else
        sg_matvec_batch(Y, X, W, b, n, in, out);
}

int sg_gpt2_slot_acquire(sg_gpt2 *m) {
    for (int s = 0; s < m->max_slots; s++)
        if (m->len[s] < 0) {
            m->len[s] = 0;
            return s;
        }
    return -1;
}

void sg_gpt2_slot_release(sg_gpt2 *m, int slot) {
    if (slot >= 0 && slot < m->max_slots) m->len[slot] = -1;
}

int sg_gpt2_slot_length(const sg_gpt2 *m, int slot) {
    if (slot < 0 || slot >= m->max_slots || m->len[slot] < 0) return -1;
    return m->len[slot];
}

static sg_error *check_token(const sg_gpt2 *m, int tok, int i) {
    if (tok < 0 || tok >= m->cfg.vocab_size)
        return sg_error_new("gpt2: token %d at position %d is out of range [0, %d)", tok, i,
                            m->cfg.vocab_size);
    return NULL;
}

static void embed(const sg_gpt2 *m, float *x, int tok, int pos) {
    int C = m->cfg.n_embd;
    const float *te = m->w->wte + (size_t)tok * C, *pe = m->w->wpe + (size_t)pos * C;
    for (int i = 0; i < C; i++) x[i] = te[i] + pe[i];
}

static void add_inplace(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

sg_error *sg_gpt2_prefill(sg_gpt2 *m, int slot, const int *tokens, int n, float *logits) {
    const sg_gpt2_config *c = &m->cfg;
    if (slot < 0 || slot >= m->max_slots || m->len[slot] < 0)
        return sg_error_new("gpt2: prefill on slot %d, which is not acquired", slot);
    if (n < 1) return sg_error_new("gpt2: prefill needs at least one token");
    int past = m->len[slot];
    if (past + n > c->n_ctx)
        return sg_error_new("gpt2: %d tokens after %d cached exceed the context of %d", n, past, c->n_ctx);
    for (int i = 0; i < n; i++) {
        sg_error *err = check_token(m, tokens[i], i);
        if (err) return err;
    }
    size_t C = c->n_embd, NI = c->n_inner, nn = n;
    size_t wide = NI > 3 * C ? NI : 3 * C;
    float *x = malloc(sizeof(float) * nn * C), *xn = malloc(sizeof(float) * nn * C);
    float *buf = malloc(sizeof(float) * nn * wide), *att = malloc(sizeof(float) * nn * C);
    float *scratch = malloc(sizeof(float) * nn * (past + n));
    if (!x || !xn || !buf || !att || !scratch) {
        free(x), free(xn), free(buf), free(att), free(scratch);
        return sg_error_new("gpt2: out of memory in prefill of %d tokens", n);
    }
    for (int r = 0; r < n; r++) embed(m, x + r * C, tokens[r], past + r);
    for (int l = 0; l < c->n_layer; l++) {
        const sg_gpt2_layer *L = &m->w->layers[l];
        float *K = cache_k(m, slot, l), *V = cache_v(m, slot, l);
        sg_layernorm(xn, x, L->ln_1_w, L->ln_1_b, n, C, c->ln_epsilon);
        sg_matmul(buf, xn, L->c_attn_w, L->c_attn_b, n, C, 3 * C);
        for (int r = 0; r < n; r++) {
            memcpy(K + (past + r) * C, buf + r * 3 * C + C, sizeof(float) * C);
            memcpy(V + (past + r) * C, buf + r * 3 * C + 2 * C, sizeof(float) * C);
        }
        sg_attention_causal(att, buf, 3 * C, K, V, past, n, C, c->n_head, scratch);
        sg_matmul(xn, att, L->attn_proj_w, L->attn_proj_b, n, C, C);
        add_inplace(x, xn, nn * C);
        sg_layernorm(xn, x, L->ln_2_w, L->ln_2_b, n, C, c->ln_epsilon);
        sg_matmul(buf, xn, L->c_fc_w, L->c_fc_b, n, C, NI);
        sg_gelu(buf, nn * NI);
        sg_matmul(xn, buf, L->mlp_proj_w, L->mlp_proj_b, n, NI, C);
        add_inplace(x, xn, nn * C);
    }
    sg_layernorm(xn, x + (nn - 1) * C, m->w->ln_f_w, m->w->ln_f_b, 1, C, c->ln_epsilon);
    if (logits) sg_lm_head(logits, xn, m->w->wte, 1, C, c->vocab_size);
    m->len[slot] = past + n;
    free(x), free(xn), free(buf), free(att), free(scratch);
    return NULL;
}

sg_error *sg_gpt2_decode(sg_gpt2 *m, const int *slots, const int *tokens, int n, float *logits) {
    const sg_gpt2_config *c = &m->cfg;
    if (n < 1 || n > m->max_slots)
        return sg_error_new("gpt2: decode of %d sequences (1..%d)", n, m->max_slots);
    for (int i = 0; i < n; i++) {
        int s = slots[i];
        if (s < 0 || s >= m->max_slots || m->len[s] < 0)
            return sg_error_new("gpt2: decode on slot %d, which is not acquired", s);
        if (m->len[s] >= c->n_ctx) return sg_error_new("gpt2: slot %d is full (%d tokens)", s, c->n_ctx);
        for (int j = 0; j < i; j++)
            if (slots[j] == s) return sg_error_new("gpt2: slot %d appears twice in one decode", s);
        sg_error *err = check_token(m, tokens[i], i);
        if (err) return err;
    }
    size_t C = c->n_embd, NI = c->n_inner;
    int NH = c->n_head, hs = (int)C / NH;
    for (int i = 0; i < n; i++) embed(m, m->x + i * C, tokens[i], m->len[slots[i]]);
    for (int l = 0; l < c->n_layer; l++) {
        const sg_gpt2_layer *L = &m->w->layers[l];
        const struct bf16_layer *B = m->bf16 ? &m->bf16_layers[l] : &(struct bf16_layer){0};
        sg_layernorm(m->xn, m->x, L->ln_1_w, L->ln_1_b, n, C, c->ln_epsilon);
        linear(m->qkv, m->xn, L->c_attn_w, B->c_attn, L->c_attn_b, n, C, 3 * C);
        for (int i = 0; i < n; i++) {
            int pos = m->len[slots[i]];
            memcpy(cache_k(m, slots[i], l) + pos * C, m->qkv + i * 3 * C + C, sizeof(float) * C);
            memcpy(cache_v(m, slots[i], l) + pos * C, m->qkv + i * 3 * C + 2 * C, sizeof(float) * C);
        }
        size_t work = 0;
        for (int i = 0; i < n; i++) work += (size_t)(m->len[slots[i]] + 1) * C;
#pragma omp parallel for schedule(dynamic, 1) num_threads(m->n_threads) if (work >= ((size_t)1 << 16))
        for (int task = 0; task < n * NH; task++) {
            int i = task / NH, h = task % NH, s = slots[i];
            float *scores = m->scores + (size_t)omp_get_thread_num() * c->n_ctx;
            sg_attention_head(m->att + i * C + h * hs, m->qkv + i * 3 * C + h * hs, cache_k(m, s, l) + h * hs,
                              cache_v(m, s, l) + h * hs, m->len[s] + 1, C, hs, scores);
        }
        linear(m->xn, m->att, L->attn_proj_w, B->attn_proj, L->attn_proj_b, n, C, C);
        add_inplace(m->x, m->xn, n * C);
        sg_layernorm(m->xn, m->x, L->ln_2_w, L->ln_2_b, n, C, c->ln_epsilon);
        linear(m->hid, m->xn, L->c_fc_w, B->c_fc, L->c_fc_b, n, C, NI);
        sg_gelu(m->hid, n * NI);
        linear(m->xn, m->hid, L->mlp_proj_w, B->mlp_proj, L->mlp_proj_b, n, NI, C);
        add_inplace(m->x, m->xn, n * C);
    }
    sg_layernorm(m->xn, m->x, m->w->ln_f_w, m->w->ln_f_b, n, C, c->ln_epsilon);
    if (m->bf16)
        sg_lm_head_bf16(logits, m->xn, m->bf16_wte, n, C, c->vocab_size);
    else
        sg_lm_head(logits, m->xn, m->w->wte, n, C, c->vocab_size);
    for (int i = 0; i < n; i++) m->len[slots[i]]++;
    return NULL;
}
