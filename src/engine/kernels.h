/* kernels.h — the numeric kernels of the GPT-2 forward pass: layer norm,
 * GELU (tanh form), softmax, attention over a key/value cache, the batched
 * decode matvec that streams a weight matrix once for all sequences, the
 * tied LM head, and the prefill matmul (OpenBLAS sgemm).
 *
 * Matrices are row-major. Linear layers keep HF's Conv1D layout: W is
 * [in, out] and y = x·W + b. Results do not depend on how many sequences are
 * batched together: each output element is accumulated in the same order. */
#ifndef SG_KERNELS_H
#define SG_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Threads for the kernels: OpenMP (decode) and OpenBLAS (prefill). n >= 1. */
void sg_set_threads(int n);

/* out[r] = (in[r] - mean) / sqrt(var + eps) * w + b for each of `rows` rows of C. */
void sg_layernorm(float *out, const float *in, const float *w, const float *b, int rows, int C, float eps);

/* x = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) in place, n elements. */
void sg_gelu(float *x, size_t n);

/* x = softmax(x) in place over n elements (max-subtracted). */
void sg_softmax(float *x, int n);

/* Attention of one query position against `n_keys` cached positions for one
 * head of size hs: q [hs], K and V rows of stride C (pointers already offset
 * to the head), out [hs], scores scratch of n_keys floats. Scale 1/sqrt(hs). */
void sg_attention_head(float *out, const float *q, const float *K, const float *V, int n_keys, int C, int hs,
                       float *scores);

/* Y[n, out] = X[n, in] · W[in, out] + b (b may be NULL). Streams W once for
 * all n rows of X; vectorised and split over threads by output columns. */
void sg_matvec_batch(float *Y, const float *X, const float *W, const float *b, int n, int in, int out);

/* Y[n, V] = X[n, C] · E[V, C]^T: the tied LM head (E = wte). Streams E once. */
void sg_lm_head(float *Y, const float *X, const float *E, int n, int C, int V);

/* The same two kernels with bf16 weights (the top 16 bits of an fp32;
 * half the bytes per token), accumulating in fp32. */
void sg_matvec_batch_bf16(float *Y, const float *X, const uint16_t *W, const float *b, int n, int in,
                          int out);
void sg_lm_head_bf16(float *Y, const float *X, const uint16_t *E, int n, int C, int V);

/* Y[m, out] = X[m, in] · W[in, out] + b via cblas_sgemm (prefill). */
void sg_matmul(float *Y, const float *X, const float *W, const float *b, int m, int in, int out);

/* Causal self-attention for a block of `m` new positions following `past`
 * cached ones: q [m, C] (row stride ldq), K and V [past + m, C] cached keys
 * and values (row stride C) with the new ones already written, out [m, C].
 * scratch holds m * (past + m) floats. */
void sg_attention_causal(float *out, const float *q, int ldq, const float *K, const float *V, int past, int m,
                         int C, int n_head, float *scratch);

#endif
