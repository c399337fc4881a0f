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
#include <omp.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define SG_HAVE_AVX2 1
#else
#define SG_HAVE_AVX2 0
#endif

/* Below this many multiply-adds a kernel runs on one thread: waking the
 * others would cost more than it saves (and much more on a loaded machine). */
#define SG_PARALLEL_MIN ((size_t)1 << 18)

/* Sequences per pass over a weight panel (more are done in further passes,
 * which read the panel from cache). */
#define SG_MATVEC_MAX_BATCH 8

void sg_set_threads(int n) {
    if (n < 1) n = 1;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

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

/* W is [in, out] row-major, so a column block is strided: reading a narrow
 * block row by row touches a new page per row and defeats the prefetchers.
 * Instead each thread takes a wide panel of columns and walks the rows four
 * at a time, reading four long contiguous spans; the panel's outputs for all
 * sequences stay in L1/L2 (acc). Each output is an FMA chain over rows
 * 0..in-1 in order, whatever the panel, thread or batch size. */

enum { MV_PANEL_MAX = 512 };

#if SG_HAVE_AVX2
static inline float hsum(__m256 s) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}
#endif

/* fp32 weights */
#define WT float
#define LOADV(p) _mm256_loadu_ps(p)
#define LOADS(x) (x)
#define MV_NAME(f) f
#include "engine/matvec_impl.inc"
#undef WT
#undef LOADV
#undef LOADS
#undef MV_NAME

/* bf16 weights: the top half of an fp32, widened by a shift */
static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
#define WT uint16_t
#define LOADV(p)                                                                                             \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#define LOADS(x) bf16_to_f32(x)
#define MV_NAME(f) f##_bf16
#include "engine/matvec_impl.inc"
#undef WT
#undef LOADV
#undef LOADS
#undef MV_NAME

/* ---- prefill ---------------------------------------------------------- */

void sg_matmul(float *Y, const float *X, const float *W, const float *b, int m, int in, int out) {
    if (b)
        for (int r = 0; r < m; r++) memcpy(Y + (size_t)r * out, b, sizeof(float) * out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, out, in, 1.0f, X, in, W, out, b ? 1.0f : 0.0f,
                Y, out);
}

void sg_attention_causal(float *out, const float *q, int ldq, const float *K, const float *V, int past, int m,
                         int C, int n_head, float *scratch) {
    int hs = C / n_head, nk = past + m;
    float scale = 1.0f / sqrtf((float)hs);
    for (int h = 0; h < n_head; h++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, nk, hs, scale, q + h * hs, ldq, K + h * hs, C,
                    0.0f, scratch, nk);
#pragma omp parallel for schedule(static) if (m >= 64)
        for (int r = 0; r < m; r++) {
            float *s = scratch + (size_t)r * nk;
            int valid = past + r + 1;
            sg_softmax(s, valid);
            for (int t = valid; t < nk; t++) s[t] = 0;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, hs, nk, 1.0f, scratch, nk, V + h * hs, C,
                    0.0f, out + h * hs, C);
    }
}
