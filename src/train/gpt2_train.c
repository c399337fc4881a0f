/* gpt2_train.c — GPT-2 forward and backward for training (see gpt2_train.h).
 *
 * Shapes: B sequences of T tokens, C channels, NH heads of hs = C/NH, F MLP
 * width, V vocabulary, L layers. Activations are row-major [B*T, ·]. Weights
 * are HF Conv1D [in, out], so a linear layer is out = inp · W + b. */
#include "train/gpt2_train.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

struct sg_train_model {
    sg_gpt2_config c;
    int maxB, maxT;
    float *params, *grads;
    size_t n_params;
    sg_gpt2_weights w, g;
    sg_gpt2_layer *wl, *gl;

    /* activations */
    float *act_block;
    float *encoded;                   /* [BT, C] */
    float *ln1, *ln1_mean, *ln1_rstd; /* per layer */
    float *qkv, *atty, *att;          /* [BT,3C], [BT,C], [B,NH,T,T] */
    float *residual2, *ln2, *ln2_mean, *ln2_rstd;
    float *fch, *fch_gelu, *residual3;         /* [BT,F], [BT,F], [BT,C] */
    float *lnf, *lnf_mean, *lnf_rstd, *logits; /* [BT,C], [BT], [BT], [BT,V] */
    /* scratch */
    float *tmp, *dresidual, *dbuf, *dbuf2, *dqkv, *dfch; /* [BT,C] x4, [BT,3C], [BT,F] */
    float *attn_scratch;                                 /* per thread 3 [T,T] */
    int n_threads;                                       /* OpenMP threads at creation */
    float *ones;                                         /* [BT] of 1, for bias gradients */

    /* the last forward */
    int B, T, has_targets, train;
    const int *inputs, *targets;
    sg_dropout drop;
    uint64_t drop_seed;
    double loss;
};

/* ---- layout ------------------------------------------------------------- */

int sg_train_model_segments(const sg_gpt2_config *c, sg_train_segment *out) {
    size_t C = (size_t)c->n_embd, F = (size_t)c->n_inner, V = (size_t)c->vocab_size, T = (size_t)c->n_ctx;
    static const char *kinds[12] = {
        "ln_1.weight", "ln_1.bias", "c_attn.weight", "c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
        "ln_2.weight", "ln_2.bias", "c_fc.weight",   "c_fc.bias",   "mlp.c_proj.weight",  "mlp.c_proj.bias"};
    size_t sizes[12] = {C, C, C * 3 * C, 3 * C, C * C, C, C, C, C * F, F, F * C, C};
    int n = 0;
    size_t off = 0;
#define SEG(k, l, sz, mat)                                                                                   \
    do {                                                                                                     \
        if (out)                                                                                             \
            out[n] = (sg_train_segment){                                                                     \
                .kind = (k), .layer = (l), .offset = off, .numel = (sz), .is_matrix = (mat)};                \
        off += (sz);                                                                                         \
        n++;                                                                                                 \
    } while (0)
    SEG("wte", -1, V * C, 1);
    SEG("wpe", -1, T * C, 1);
    for (int l = 0; l < c->n_layer; l++)
        for (int k = 0; k < 12; k++) SEG(kinds[k], l, sizes[k], k == 2 || k == 4 || k == 8 || k == 10);
    SEG("ln_f.weight", -1, C, 0);
    SEG("ln_f.bias", -1, C, 0);
#undef SEG
    return n;
}

size_t sg_train_param_count(const sg_gpt2_config *c) {
    int n = sg_train_model_segments(c, NULL);
    sg_train_segment *s = malloc(sizeof *s * (size_t)n);
    if (!s) return 0;
    sg_train_model_segments(c, s);
    size_t total = s[n - 1].offset + s[n - 1].numel;
    free(s);
    return total;
}

static void point_weights(const sg_gpt2_config *c, float *block, sg_gpt2_weights *w, sg_gpt2_layer *layers) {
    size_t C = (size_t)c->n_embd, F = (size_t)c->n_inner;
    float *p = block;
    w->config = *c;
    w->wte = p, p += (size_t)c->vocab_size * C;
    w->wpe = p, p += (size_t)c->n_ctx * C;
    for (int l = 0; l < c->n_layer; l++) {
        sg_gpt2_layer *y = &layers[l];
        y->ln_1_w = p, p += C;
        y->ln_1_b = p, p += C;
        y->c_attn_w = p, p += C * 3 * C;
        y->c_attn_b = p, p += 3 * C;
        y->attn_proj_w = p, p += C * C;
        y->attn_proj_b = p, p += C;
        y->ln_2_w = p, p += C;
        y->ln_2_b = p, p += C;
        y->c_fc_w = p, p += C * F;
        y->c_fc_b = p, p += F;
        y->mlp_proj_w = p, p += F * C;
        y->mlp_proj_b = p, p += C;
    }
    w->ln_f_w = p, p += C;
    w->ln_f_b = p;
    w->layers = layers;
    w->block = block;
    w->block_floats = (size_t)(p + C - block);
}

sg_error *sg_train_model_new(const sg_gpt2_config *c, int B, int T, sg_train_model **out) {
    *out = NULL;
    if (c->n_layer < 1 || c->n_head < 1 || c->n_embd < 1 || c->vocab_size < 1 || c->n_ctx < 1 ||
        c->n_inner < 1)
        return sg_error_new(
            "model shape: layers, heads, width, vocab, context and MLP width must be positive");
    if (c->n_embd % c->n_head)
        return sg_error_new("model shape: width %d is not a multiple of the head count %d", c->n_embd,
                            c->n_head);
    if (B < 1 || T < 1) return sg_error_new("batch %d x context %d: both must be positive", B, T);
    if (T > c->n_ctx)
        return sg_error_new("context %d is longer than the positional table (n_ctx %d)", T, c->n_ctx);
    sg_train_model *m = calloc(1, sizeof *m);
    if (!m) return sg_error_new("out of memory");
    m->c = *c;
    m->maxB = B;
    m->maxT = T;
    m->n_threads = omp_get_max_threads();
    m->n_params = sg_train_param_count(c);
    size_t L = (size_t)c->n_layer, C = (size_t)c->n_embd, F = (size_t)c->n_inner, V = (size_t)c->vocab_size;
    size_t NH = (size_t)c->n_head, BT = (size_t)B * (size_t)T;
    m->params = calloc(m->n_params, sizeof(float));
    m->grads = calloc(m->n_params, sizeof(float));
    m->wl = calloc(L, sizeof *m->wl);
    m->gl = calloc(L, sizeof *m->gl);
    size_t sizes[] = {
        BT * C, /* encoded */
        L * BT * C,
        L * BT,
        L * BT, /* ln1 */
        L * BT * 3 * C,
        L * BT * C,
        L * (size_t)B * NH * T * T, /* qkv atty att */
        L * BT * C,
        L * BT * C,
        L * BT,
        L * BT, /* residual2 ln2 */
        L * BT * F,
        L * BT * F,
        L * BT * C, /* fch fch_gelu residual3 */
        BT * C,
        BT,
        BT,
        BT * V, /* lnf logits */
        BT * C,
        BT * C,
        BT * C,
        BT * C,
        BT * 3 * C,
        BT * F,                                    /* scratch */
        (size_t)omp_get_max_threads() * 3 * T * T, /* attention scratch */
        BT,                                        /* ones */
    };
    float **ptrs[] = {&m->encoded,      &m->ln1,       &m->ln1_mean, &m->ln1_rstd, &m->qkv,      &m->atty,
                      &m->att,          &m->residual2, &m->ln2,      &m->ln2_mean, &m->ln2_rstd, &m->fch,
                      &m->fch_gelu,     &m->residual3, &m->lnf,      &m->lnf_mean, &m->lnf_rstd, &m->logits,
                      &m->tmp,          &m->dresidual, &m->dbuf,     &m->dbuf2,    &m->dqkv,     &m->dfch,
                      &m->attn_scratch, &m->ones};
    size_t n = sizeof sizes / sizeof sizes[0], total = 0;
    for (size_t i = 0; i < n; i++) total += sizes[i];
    m->act_block = calloc(total, sizeof(float));
    if (!m->params || !m->grads || !m->wl || !m->gl || !m->act_block) {
        size_t np = m->n_params;
        sg_train_model_free(m);
        return sg_error_new(
            "out of memory for a %zu-parameter model at batch %d x %d (%zu MB of activations)", np, B, T,
            total * sizeof(float) >> 20);
    }
    float *p = m->act_block;
    for (size_t i = 0; i < n; i++) *ptrs[i] = p, p += sizes[i];
    for (size_t i = 0; i < BT; i++) m->ones[i] = 1.0f;
    point_weights(c, m->params, &m->w, m->wl);
    point_weights(c, m->grads, &m->g, m->gl);
    *out = m;
    return NULL;
}

void sg_train_model_free(sg_train_model *m) {
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m->wl);
    free(m->gl);
    free(m->act_block);
    free(m);
}

const sg_gpt2_config *sg_train_model_config(const sg_train_model *m) { return &m->c; }
float *sg_train_model_params(sg_train_model *m, size_t *n) {
    if (n) *n = m->n_params;
    return m->params;
}
float *sg_train_model_grads(sg_train_model *m, size_t *n) {
    if (n) *n = m->n_params;
    return m->grads;
}
const sg_gpt2_weights *sg_train_model_weights(const sg_train_model *m) { return &m->w; }
const sg_gpt2_weights *sg_train_model_grad_weights(const sg_train_model *m) { return &m->g; }
const float *sg_train_model_logits(const sg_train_model *m) { return m->logits; }

sg_error *sg_train_model_load(sg_train_model *m, const sg_gpt2_weights *src) {
    const sg_gpt2_config *a = &m->c, *b = &src->config;
    if (a->n_layer != b->n_layer || a->n_head != b->n_head || a->n_embd != b->n_embd ||
        a->n_ctx != b->n_ctx || a->vocab_size != b->vocab_size || a->n_inner != b->n_inner)
        return sg_error_new(
            "shape mismatch: model has layers %d heads %d embd %d n_ctx %d vocab %d inner %d, "
            "weights have %d %d %d %d %d %d",
            a->n_layer, a->n_head, a->n_embd, a->n_ctx, a->vocab_size, a->n_inner, b->n_layer, b->n_head,
            b->n_embd, b->n_ctx, b->vocab_size, b->n_inner);
    int n = sg_gpt2_tensors(src, NULL);
    sg_gpt2_tensor *ts = malloc(sizeof *ts * (size_t)n), *td = malloc(sizeof *td * (size_t)n);
    if (!ts || !td) {
        free(ts);
        free(td);
        return sg_error_new("out of memory");
    }
    sg_gpt2_tensors(src, ts);
    sg_gpt2_tensors(&m->w, td);
    for (int i = 0; i < n; i++) memcpy(td[i].data, ts[i].data, ts[i].numel * sizeof(float));
    free(ts);
    free(td);
    return NULL;
}

void sg_train_zero_grad(sg_train_model *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }

/* ---- dropout ------------------------------------------------------------ */

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

float sg_dropout_mask(uint64_t seed, uint64_t site, uint64_t i, float p) {
    uint64_t x = mix64(seed ^ mix64(site * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL) ^
                       (i * 0xd1b54a32d192ed03ULL));
    float u = (float)(x >> 40) * (1.0f / 16777216.0f);
    return u < p ? 0.0f : 1.0f / (1.0f - p);
}

/* Sites: 0 embedding; per layer 1 + 3l + {0 attention, 1 attn residual, 2 MLP residual}. */
static void apply_dropout(float *x, size_t n, uint64_t seed, uint64_t site, float p) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] *= sg_dropout_mask(seed, site, i, p);
}

/* ---- kernels ------------------------------------------------------------ */

static void sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *Bm,
                  int ldb, float beta, float *Cm, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                A, lda, Bm, ldb, beta, Cm, ldc);
}

/* out[N, OC] = inp[N, IC] · W[IC, OC] + b */
static void linear_forward(float *out, const float *inp, const float *W, const float *b, int N, int IC,
                           int OC) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) memcpy(out + (size_t)i * OC, b, (size_t)OC * sizeof(float));
    sgemm(0, 0, N, OC, IC, 1.0f, inp, IC, W, OC, 1.0f, out, OC);
}

/* dinp = dout · W^T (overwritten), dW += inp^T · dout, db += column sums of dout. */
static void linear_backward(float *dinp, float *dW, float *db, const float *dout, const float *inp,
                            const float *W, const float *ones, int N, int IC, int OC) {
    sgemm(0, 1, N, IC, OC, 1.0f, dout, OC, W, OC, 0.0f, dinp, IC);
    sgemm(1, 0, IC, OC, N, 1.0f, inp, IC, dout, OC, 1.0f, dW, OC);
    cblas_sgemv(CblasRowMajor, CblasTrans, N, OC, 1.0f, dout, OC, ones, 1, 1.0f, db, 1);
}

static void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                              const float *b, int N, int C, float eps) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *y = out + (size_t)i * C;
        float m = 0.0f;
        for (int c = 0; c < C; c++) m += x[c];
        m /= (float)C;
        float v = 0.0f;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= (float)C;
        float s = 1.0f / sqrtf(v + eps);
        for (int c = 0; c < C; c++) y[c] = (x[c] - m) * s * w[c] + b[c];
        mean[i] = m;
        rstd[i] = s;
    }
}

/* dinp += LN'(dout); dw, db accumulate. */
static void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                               const float *w, const float *mean, const float *rstd, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        float m = mean[i], s = rstd[i], dmean = 0.0f, dnorm_mean = 0.0f;
        for (int c = 0; c < C; c++) {
            float norm = (x[c] - m) * s, dn = w[c] * dy[c];
            dmean += dn;
            dnorm_mean += dn * norm;
        }
        dmean /= (float)C;
        dnorm_mean /= (float)C;
        for (int c = 0; c < C; c++) {
            float norm = (x[c] - m) * s, dn = w[c] * dy[c];
            dx[c] += (dn - dmean - norm * dnorm_mean) * s;
        }
    }
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
        float m = mean[i], s = rstd[i];
        for (int c = 0; c < C; c++) {
            dw[c] += (x[c] - m) * s * dy[c];
            db[c] += dy[c];
        }
    }
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

/* gelu_new: 0.5 x (1 + tanh(u)), u = k (x + 0.044715 x^3); 0.5 (1 + tanh(u))
 * is the logistic function of 2u, which costs one expf instead of a tanhf. */
static inline float gelu_gate(float x) {
    float u = GELU_K * (x + 0.044715f * x * x * x);
    return 1.0f / (1.0f + expf(-2.0f * u));
}

static void gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] * gelu_gate(inp[i]);
}

/* d[i] = gelu'(inp[i]) * d[i] */
static void gelu_backward(float *d, const float *inp, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i], s = gelu_gate(x), th = 2.0f * s - 1.0f;
        float local = s + 0.5f * x * (1.0f - th * th) * GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        d[i] *= local;
    }
}

/* Attention runs its (batch, head) pairs in parallel, each with
 * single-threaded sgemm calls; OpenBLAS's own threads are parked meanwhile. */
static int blas_single_begin(const sg_train_model *m) {
    if (m->n_threads <= 1 || omp_in_parallel()) return 0;
    int before = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return before;
}

static void blas_single_end(int before) {
    if (before > 0) openblas_set_num_threads(before);
}

/* Causal self-attention of one layer. qkv [B,T,3C] -> out [B,T,C]; att keeps
 * the softmax probabilities [B,NH,T,T] (zero above the diagonal). */
static void attention_forward(sg_train_model *m, int l, float *out, float *att, const float *qkv, int B,
                              int T) {
    int C = m->c.n_embd, NH = m->c.n_head, hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    float pa = m->train ? m->drop.attn : 0.0f;
    int par = blas_single_begin(m);
#pragma omp parallel for schedule(dynamic, 1) num_threads(m->n_threads) if (par)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        float *pd = m->attn_scratch + (size_t)omp_get_thread_num() * 3 * T * T;
        {
            const float *q = qkv + (size_t)b * T * C3 + (size_t)h * hs, *k = q + C, *v = q + 2 * C;
            float *P = att + ((size_t)b * NH + h) * T * T;
            sgemm(0, 1, T, T, hs, scale, q, C3, k, C3, 0.0f, P, T);
#pragma omp parallel for schedule(static)
            for (int i = 0; i < T; i++) {
                float *row = P + (size_t)i * T, mx = -INFINITY, sum = 0.0f;
                for (int j = 0; j <= i; j++) mx = row[j] > mx ? row[j] : mx;
                for (int j = 0; j <= i; j++) sum += (row[j] = expf(row[j] - mx));
                float inv = 1.0f / sum;
                for (int j = 0; j <= i; j++) row[j] *= inv;
                for (int j = i + 1; j < T; j++) row[j] = 0.0f;
            }
            const float *Pd = P;
            if (pa > 0.0f) {
                uint64_t site = 1 + 3 * (uint64_t)l, base = ((uint64_t)b * NH + h) * T * T;
#pragma omp parallel for schedule(static)
                for (size_t i = 0; i < (size_t)T * T; i++)
                    pd[i] = P[i] * sg_dropout_mask(m->drop_seed, site, base + i, pa);
                Pd = pd;
            }
            sgemm(0, 0, T, hs, T, 1.0f, Pd, T, v, C3, 0.0f, out + (size_t)b * T * C + (size_t)h * hs, C);
        }
    }
    blas_single_end(par);
}

/* dqkv (overwritten) from dout [B,T,C]. */
static void attention_backward(sg_train_model *m, int l, float *dqkv, const float *dout, const float *att,
                               const float *qkv, int B, int T) {
    int C = m->c.n_embd, NH = m->c.n_head, hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    float pa = m->train ? m->drop.attn : 0.0f;
    memset(dqkv, 0, (size_t)B * T * C3 * sizeof(float));
    int par = blas_single_begin(m);
#pragma omp parallel for schedule(dynamic, 1) num_threads(m->n_threads) if (par)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        float *pd = m->attn_scratch + (size_t)omp_get_thread_num() * 3 * T * T;
        float *dP = pd + (size_t)T * T, *dS = dP + (size_t)T * T;
        {
            size_t qo = (size_t)b * T * C3 + (size_t)h * hs;
            const float *q = qkv + qo, *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + qo, *dk = dq + C, *dv = dq + 2 * C;
            const float *P = att + ((size_t)b * NH + h) * T * T;
            const float *dO = dout + (size_t)b * T * C + (size_t)h * hs;
            uint64_t site = 1 + 3 * (uint64_t)l, base = ((uint64_t)b * NH + h) * T * T;
            const float *Pd = P;
            if (pa > 0.0f) {
#pragma omp parallel for schedule(static)
                for (size_t i = 0; i < (size_t)T * T; i++)
                    pd[i] = P[i] * sg_dropout_mask(m->drop_seed, site, base + i, pa);
                Pd = pd;
            }
            sgemm(0, 1, T, T, hs, 1.0f, dO, C, v, C3, 0.0f, dP, T);
            sgemm(1, 0, T, hs, T, 1.0f, Pd, T, dO, C, 1.0f, dv, C3);
#pragma omp parallel for schedule(static)
            for (int i = 0; i < T; i++) {
                const float *p = P + (size_t)i * T;
                float *dp = dP + (size_t)i * T, *ds = dS + (size_t)i * T;
                if (pa > 0.0f)
                    for (int j = 0; j <= i; j++)
                        dp[j] *= sg_dropout_mask(m->drop_seed, site, base + (size_t)i * T + j, pa);
                float dot = 0.0f;
                for (int j = 0; j <= i; j++) dot += p[j] * dp[j];
                for (int j = 0; j <= i; j++) ds[j] = p[j] * (dp[j] - dot) * scale;
                for (int j = i + 1; j < T; j++) ds[j] = 0.0f;
            }
            sgemm(0, 0, T, hs, T, 1.0f, dS, T, k, C3, 1.0f, dq, C3);
            sgemm(1, 0, T, hs, T, 1.0f, dS, T, q, C3, 1.0f, dk, C3);
        }
    }
    blas_single_end(par);
}

/* ---- forward / backward ------------------------------------------------- */

#define LAYER(ptr, l, per) ((ptr) + (size_t)(l) * (per))

sg_error *sg_train_forward(sg_train_model *m, const int *inputs, const int *targets, int B, int T, int train,
                           const sg_dropout *dropout, uint64_t dropout_seed, float *loss) {
    const sg_gpt2_config *c = &m->c;
    if (B < 1 || B > m->maxB || T < 1 || T > m->maxT)
        return sg_error_new("batch %d x %d exceeds the model's %d x %d", B, T, m->maxB, m->maxT);
    int C = c->n_embd, F = c->n_inner, V = c->vocab_size, L = c->n_layer, NH = c->n_head;
    int BT = B * T;
    for (int i = 0; i < BT; i++) {
        if (inputs[i] < 0 || inputs[i] >= V)
            return sg_error_new("token %d at %d is outside the vocabulary (%d)", inputs[i], i, V);
        if (targets && (targets[i] < 0 || targets[i] >= V))
            return sg_error_new("target %d at %d is outside the vocabulary (%d)", targets[i], i, V);
    }
    m->B = B, m->T = T, m->inputs = inputs, m->targets = targets, m->has_targets = targets != NULL;
    m->train = train && dropout;
    m->drop = dropout ? *dropout : (sg_dropout){0};
    m->drop_seed = dropout_seed;
    size_t mBT = (size_t)m->maxB * m->maxT, attper = (size_t)m->maxB * NH * m->maxT * m->maxT;

#pragma omp parallel for schedule(static)
    for (int i = 0; i < BT; i++) {
        const float *te = m->w.wte + (size_t)inputs[i] * C, *pe = m->w.wpe + (size_t)(i % T) * C;
        float *o = m->encoded + (size_t)i * C;
        for (int k = 0; k < C; k++) o[k] = te[k] + pe[k];
    }
    if (m->train && m->drop.embd > 0.0f)
        apply_dropout(m->encoded, (size_t)BT * C, dropout_seed, 0, m->drop.embd);

    for (int l = 0; l < L; l++) {
        const sg_gpt2_layer *w = &m->wl[l];
        const float *residual = l == 0 ? m->encoded : LAYER(m->residual3, l - 1, mBT * C);
        float *ln1 = LAYER(m->ln1, l, mBT * C), *ln1m = LAYER(m->ln1_mean, l, mBT),
              *ln1r = LAYER(m->ln1_rstd, l, mBT);
        float *qkv = LAYER(m->qkv, l, mBT * 3 * C), *atty = LAYER(m->atty, l, mBT * C),
              *att = LAYER(m->att, l, attper);
        float *res2 = LAYER(m->residual2, l, mBT * C), *ln2 = LAYER(m->ln2, l, mBT * C);
        float *ln2m = LAYER(m->ln2_mean, l, mBT), *ln2r = LAYER(m->ln2_rstd, l, mBT);
        float *fch = LAYER(m->fch, l, mBT * F), *fchg = LAYER(m->fch_gelu, l, mBT * F);
        float *res3 = LAYER(m->residual3, l, mBT * C);

        layernorm_forward(ln1, ln1m, ln1r, residual, w->ln_1_w, w->ln_1_b, BT, C, c->ln_epsilon);
        linear_forward(qkv, ln1, w->c_attn_w, w->c_attn_b, BT, C, 3 * C);
        attention_forward(m, l, atty, att, qkv, B, T);
        linear_forward(m->tmp, atty, w->attn_proj_w, w->attn_proj_b, BT, C, C);
        if (m->train && m->drop.resid > 0.0f)
            apply_dropout(m->tmp, (size_t)BT * C, dropout_seed, 2 + 3 * (uint64_t)l, m->drop.resid);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < (size_t)BT * C; i++) res2[i] = residual[i] + m->tmp[i];
        layernorm_forward(ln2, ln2m, ln2r, res2, w->ln_2_w, w->ln_2_b, BT, C, c->ln_epsilon);
        linear_forward(fch, ln2, w->c_fc_w, w->c_fc_b, BT, C, F);
        gelu_forward(fchg, fch, (size_t)BT * F);
        linear_forward(m->tmp, fchg, w->mlp_proj_w, w->mlp_proj_b, BT, F, C);
        if (m->train && m->drop.resid > 0.0f)
            apply_dropout(m->tmp, (size_t)BT * C, dropout_seed, 3 + 3 * (uint64_t)l, m->drop.resid);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < (size_t)BT * C; i++) res3[i] = res2[i] + m->tmp[i];
    }
    const float *last = LAYER(m->residual3, L - 1, mBT * C);
    layernorm_forward(m->lnf, m->lnf_mean, m->lnf_rstd, last, m->w.ln_f_w, m->w.ln_f_b, BT, C, c->ln_epsilon);
    sgemm(0, 1, BT, V, C, 1.0f, m->lnf, C, m->w.wte, C, 0.0f, m->logits, V);

    if (targets) {
        double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total)
        for (int i = 0; i < BT; i++) {
            float *row = m->logits + (size_t)i * V, mx = -INFINITY;
            for (int v = 0; v < V; v++) mx = row[v] > mx ? row[v] : mx;
            double sum = 0.0;
            for (int v = 0; v < V; v++) sum += (row[v] = expf(row[v] - mx));
            float inv = (float)(1.0 / sum);
            float pt = row[targets[i]];
            total += -(log((double)pt) - log(sum));
            for (int v = 0; v < V; v++) row[v] *= inv;
        }
        m->loss = total / BT;
        if (loss) *loss = (float)m->loss;
    }
    return NULL;
}

sg_error *sg_train_backward(sg_train_model *m, float scale) {
    if (!m->has_targets) return sg_error_new("backward needs a forward pass with targets");
    const sg_gpt2_config *c = &m->c;
    int B = m->B, T = m->T, BT = B * T, C = c->n_embd, F = c->n_inner, V = c->vocab_size, L = c->n_layer;
    int NH = c->n_head;
    size_t mBT = (size_t)m->maxB * m->maxT, attper = (size_t)m->maxB * NH * m->maxT * m->maxT;
    float dscale = scale / (float)BT;
    int resid_drop = m->train && m->drop.resid > 0.0f;

    /* d logits = (p - onehot) / BT, in place; has_targets is spent. */
#pragma omp parallel for schedule(static)
    for (int i = 0; i < BT; i++) {
        float *row = m->logits + (size_t)i * V;
        row[m->targets[i]] -= 1.0f;
        for (int v = 0; v < V; v++) row[v] *= dscale;
    }
    m->has_targets = 0;
    sgemm(1, 0, V, C, BT, 1.0f, m->logits, V, m->lnf, C, 1.0f, m->g.wte, C);
    sgemm(0, 0, BT, C, V, 1.0f, m->logits, V, m->w.wte, C, 0.0f, m->dbuf, C);
    memset(m->dresidual, 0, (size_t)BT * C * sizeof(float));
    layernorm_backward(m->dresidual, m->g.ln_f_w, m->g.ln_f_b, m->dbuf, LAYER(m->residual3, L - 1, mBT * C),
                       m->w.ln_f_w, m->lnf_mean, m->lnf_rstd, BT, C);

    for (int l = L - 1; l >= 0; l--) {
        const sg_gpt2_layer *w = &m->wl[l];
        sg_gpt2_layer *g = &m->gl[l];
        const float *residual = l == 0 ? m->encoded : LAYER(m->residual3, l - 1, mBT * C);
        float *ln1 = LAYER(m->ln1, l, mBT * C), *ln1m = LAYER(m->ln1_mean, l, mBT),
              *ln1r = LAYER(m->ln1_rstd, l, mBT);
        float *qkv = LAYER(m->qkv, l, mBT * 3 * C), *atty = LAYER(m->atty, l, mBT * C),
              *att = LAYER(m->att, l, attper);
        float *res2 = LAYER(m->residual2, l, mBT * C), *ln2 = LAYER(m->ln2, l, mBT * C);
        float *ln2m = LAYER(m->ln2_mean, l, mBT), *ln2r = LAYER(m->ln2_rstd, l, mBT);
        float *fch = LAYER(m->fch, l, mBT * F), *fchg = LAYER(m->fch_gelu, l, mBT * F);
        size_t nC = (size_t)BT * C;

        /* residual3 = residual2 + drop(mlp) */
        const float *dmlp = m->dresidual;
        if (resid_drop) {
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < nC; i++)
                m->dbuf2[i] =
                    m->dresidual[i] * sg_dropout_mask(m->drop_seed, 3 + 3 * (uint64_t)l, i, m->drop.resid);
            dmlp = m->dbuf2;
        }
        linear_backward(m->dfch, g->mlp_proj_w, g->mlp_proj_b, dmlp, fchg, w->mlp_proj_w, m->ones, BT, F, C);
        gelu_backward(m->dfch, fch, (size_t)BT * F);
        linear_backward(m->dbuf, g->c_fc_w, g->c_fc_b, m->dfch, ln2, w->c_fc_w, m->ones, BT, C, F);
        layernorm_backward(m->dresidual, g->ln_2_w, g->ln_2_b, m->dbuf, res2, w->ln_2_w, ln2m, ln2r, BT, C);

        /* residual2 = residual + drop(attn) */
        const float *dattn = m->dresidual;
        if (resid_drop) {
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < nC; i++)
                m->dbuf2[i] =
                    m->dresidual[i] * sg_dropout_mask(m->drop_seed, 2 + 3 * (uint64_t)l, i, m->drop.resid);
            dattn = m->dbuf2;
        }
        linear_backward(m->dbuf, g->attn_proj_w, g->attn_proj_b, dattn, atty, w->attn_proj_w, m->ones, BT, C,
                        C);
        attention_backward(m, l, m->dqkv, m->dbuf, att, qkv, B, T);
        linear_backward(m->dbuf, g->c_attn_w, g->c_attn_b, m->dqkv, ln1, w->c_attn_w, m->ones, BT, C, 3 * C);
        layernorm_backward(m->dresidual, g->ln_1_w, g->ln_1_b, m->dbuf, residual, w->ln_1_w, ln1m, ln1r, BT,
                           C);
    }

    if (m->train && m->drop.embd > 0.0f)
        apply_dropout(m->dresidual, (size_t)BT * C, m->drop_seed, 0, m->drop.embd);
    for (int i = 0; i < BT; i++) {
        const float *d = m->dresidual + (size_t)i * C;
        float *te = m->g.wte + (size_t)m->inputs[i] * C, *pe = m->g.wpe + (size_t)(i % T) * C;
        for (int k = 0; k < C; k++) {
            te[k] += d[k];
            pe[k] += d[k];
        }
    }
    return NULL;
}
