/* kernels.c — numeric kernels of the GPT-2 forward pass (see kernels.h).
 *
 * The decode matvec is the hot loop of generation: it is memory bound, so it
 * reads each weight row chunk once and applies it to every sequence of the
 * batch while the chunk is in cache. Accumulation is an FMA chain over the
 * input rows in order, the same for every batch size, so a sequence gets the
 * same bits whether it decodes alone or with others. */
#include "engine/kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define SG_HAVE_AVX2 1
#else
#define SG_HAVE_AVX2 0
#endif

void sg_layernorm(float *out, const float *in, const float *w, const float *b, int rows, int C, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * C;
        float *y = out + (size_t)r * C;
        double sum = 0;
        for (int i = 0; i < C; i++) sum += x[i];
        float mean = (float)(sum / C);
        double var = 0;
        for (int i = 0; i < C; i++) {
            float d = x[i] - mean;
            var += (double)d * d;
        }
        float rstd = (float)(1.0 / sqrt(var / C + eps));
        for (int i = 0; i < C; i++) y[i] = (x[i] - mean) * rstd * w[i] + b[i];
    }
}

void sg_gelu(float *x, size_t n) {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

void sg_softmax(float *x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (x[i] > mx) mx = x[i];
    float sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

/* A dot product with a fixed accumulation order for a given n. */
static inline float dot(const float *a, const float *b, int n) {
    int i = 0;
#if SG_HAVE_AVX2
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
           s3 = _mm256_setzero_ps();
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float sum = _mm_cvtss_f32(h);
#else
    float sum = 0;
#endif
    for (; i < n; i++) sum = fmaf(a[i], b[i], sum);
    return sum;
}

void sg_attention_head(float *out, const float *q, const float *K, const float *V, int n_keys, int C, int hs,
                       float *scores) {
    float scale = 1.0f / sqrtf((float)hs);
    for (int t = 0; t < n_keys; t++) scores[t] = dot(q, K + (size_t)t * C, hs) * scale;
    sg_softmax(scores, n_keys);
    for (int i = 0; i < hs; i++) out[i] = 0;
    for (int t = 0; t < n_keys; t++) {
        const float *v = V + (size_t)t * C;
        float p = scores[t];
        for (int i = 0; i < hs; i++) out[i] = fmaf(p, v[i], out[i]);
    }
}

/* ---- decode matvec ---------------------------------------------------- */

enum { MV_CW = 32, MV_MAXG = 4, MV_PF = 8 };

#if SG_HAVE_AVX2
/* Y[g, c0:c0+32] = X[g, :] · W[:, c0:c0+32] for G (1..4) rows of X. */
static inline __attribute__((always_inline)) void mv_block(float *Y, const float *X, const float *W, int G, int in,
                                                           int out, int c0) {
    __m256 acc[MV_MAXG][4];
    for (int g = 0; g < G; g++)
        for (int k = 0; k < 4; k++) acc[g][k] = _mm256_setzero_ps();
    const float *w = W + c0;
    for (int i = 0; i < in; i++, w += out) {
        if (i + MV_PF < in) {
            _mm_prefetch((const char *)(w + (size_t)MV_PF * out), _MM_HINT_T0);
            _mm_prefetch((const char *)(w + (size_t)MV_PF * out + 16), _MM_HINT_T0);
        }
        __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8), w2 = _mm256_loadu_ps(w + 16),
               w3 = _mm256_loadu_ps(w + 24);
        for (int g = 0; g < G; g++) {
            __m256 x = _mm256_broadcast_ss(X + (size_t)g * in + i);
            acc[g][0] = _mm256_fmadd_ps(x, w0, acc[g][0]);
            acc[g][1] = _mm256_fmadd_ps(x, w1, acc[g][1]);
            acc[g][2] = _mm256_fmadd_ps(x, w2, acc[g][2]);
            acc[g][3] = _mm256_fmadd_ps(x, w3, acc[g][3]);
        }
    }
    for (int g = 0; g < G; g++)
        for (int k = 0; k < 4; k++) _mm256_storeu_ps(Y + (size_t)g * out + c0 + 8 * k, acc[g][k]);
}
#else
static inline void mv_block(float *Y, const float *X, const float *W, int G, int in, int out, int c0) {
    for (int g = 0; g < G; g++)
        for (int c = c0; c < c0 + MV_CW; c++) {
            float acc = 0;
            for (int i = 0; i < in; i++) acc = fmaf(X[(size_t)g * in + i], W[(size_t)i * out + c], acc);
            Y[(size_t)g * out + c] = acc;
        }
}
#endif

/* Columns [c0, c1) one at a time (the tail that does not fill a block). */
static void mv_cols(float *Y, const float *X, const float *W, int n, int in, int out, int c0, int c1) {
    for (int g = 0; g < n; g++)
        for (int c = c0; c < c1; c++) {
            float acc = 0;
            for (int i = 0; i < in; i++) acc = fmaf(X[(size_t)g * in + i], W[(size_t)i * out + c], acc);
            Y[(size_t)g * out + c] = acc;
        }
}

void sg_matvec_batch(float *Y, const float *X, const float *W, const float *b, int n, int in, int out) {
    int n_blocks = out / MV_CW;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int blk = 0; blk < n_blocks; blk++) {
            int c0 = blk * MV_CW;
            for (int g = 0; g < n; g += MV_MAXG) {
                int G = n - g < MV_MAXG ? n - g : MV_MAXG;
                float *y = Y + (size_t)g * out;
                const float *x = X + (size_t)g * in;
                switch (G) {
                case 1: mv_block(y, x, W, 1, in, out, c0); break;
                case 2: mv_block(y, x, W, 2, in, out, c0); break;
                case 3: mv_block(y, x, W, 3, in, out, c0); break;
                default: mv_block(y, x, W, 4, in, out, c0); break;
                }
            }
        }
#pragma omp single
        if (n_blocks * MV_CW < out) mv_cols(Y, X, W, n, in, out, n_blocks * MV_CW, out);
        if (b) {
#pragma omp for schedule(static)
            for (int g = 0; g < n; g++)
                for (int c = 0; c < out; c++) Y[(size_t)g * out + c] += b[c];
        }
    }
}

void sg_lm_head(float *Y, const float *X, const float *E, int n, int C, int V) {
#pragma omp parallel for schedule(static)
    for (int v = 0; v < V; v++) {
        const float *e = E + (size_t)v * C;
        for (int g = 0; g < n; g++) Y[(size_t)g * V + v] = dot(X + (size_t)g * C, e, C);
    }
}

/* ---- prefill ---------------------------------------------------------- */

void sg_matmul(float *Y, const float *X, const float *W, const float *b, int m, int in, int out) {
    if (b)
        for (int r = 0; r < m; r++) memcpy(Y + (size_t)r * out, b, sizeof(float) * out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, out, in, 1.0f, X, in, W, out, b ? 1.0f : 0.0f, Y,
                out);
}

void sg_attention_causal(float *out, const float *q, int ldq, const float *K, const float *V, int past, int m,
                         int C, int n_head, float *scratch) {
    int hs = C / n_head, nk = past + m;
    float scale = 1.0f / sqrtf((float)hs);
    for (int h = 0; h < n_head; h++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, nk, hs, scale, q + h * hs, ldq, K + h * hs, C, 0.0f,
                    scratch, nk);
#pragma omp parallel for schedule(static) if (m >= 64)
        for (int r = 0; r < m; r++) {
            float *s = scratch + (size_t)r * nk;
            int valid = past + r + 1;
            sg_softmax(s, valid);
            for (int t = valid; t < nk; t++) s[t] = 0;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, hs, nk, 1.0f, scratch, nk, V + h * hs, C, 0.0f,
                    out + h * hs, C);
    }
}
