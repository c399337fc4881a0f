/* gpt2_train.h — the GPT-2 model for training: forward over a [B, T] batch
 * keeping every activation, backward into a gradient block, dropout.
 *
 * Parameters and gradients are each one contiguous float block in the
 * canonical tensor order of checkpoint.h (wte, wpe, h.0.ln_1.weight, ...,
 * ln_f.bias), viewed through sg_gpt2_weights structs. Every matmul is an
 * OpenBLAS sgemm; elementwise work is split across threads with OpenMP.
 *
 * Dropout (embedding, attention probabilities, the two residual branches, as
 * in GPT-2) draws its masks from a counter-based hash of (seed, site, index):
 * the same seed gives the same masks, and backward regenerates them instead
 * of storing them. Dropout is applied only when forward's `train` flag is set. */
#ifndef SG_GPT2_TRAIN_H
#define SG_GPT2_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "engine/checkpoint.h"

typedef struct sg_train_model sg_train_model;

typedef struct {
    float embd, attn, resid; /* dropout probabilities, 0 = off */
} sg_dropout;

/* A model for batches of up to B sequences of up to T tokens (T <= n_ctx);
 * parameters start at zero (copy them in through sg_train_model_params). */
sg_error *sg_train_model_new(const sg_gpt2_config *config, int B, int T, sg_train_model **out) SG_MUST_CHECK;
void sg_train_model_free(sg_train_model *m);

const sg_gpt2_config *sg_train_model_config(const sg_train_model *m);
/* The parameter and gradient blocks (n floats each) and their weight views. */
float *sg_train_model_params(sg_train_model *m, size_t *n);
float *sg_train_model_grads(sg_train_model *m, size_t *n);
const sg_gpt2_weights *sg_train_model_weights(const sg_train_model *m);
const sg_gpt2_weights *sg_train_model_grad_weights(const sg_train_model *m);

/* Copies weights of the same shape into the parameter block. */
sg_error *sg_train_model_load(sg_train_model *m, const sg_gpt2_weights *src) SG_MUST_CHECK;

/* Tensor segments of the block: offset, size, and whether it is a matrix
 * (ndim 2: gets weight decay). Returns the count; fills `out` when non-NULL. */
typedef struct {
    const char *kind; /* "wte", "c_attn.weight", ... */
    int layer;        /* -1 outside the blocks */
    size_t offset, numel;
    int is_matrix;
} sg_train_segment;
int sg_train_model_segments(const sg_gpt2_config *c, sg_train_segment *out);
size_t sg_train_param_count(const sg_gpt2_config *c);

/* Forward over inputs [B*T] (B <= max B, T <= max T). With targets (same
 * shape) it returns the mean cross-entropy in *loss and keeps what backward
 * needs; targets may be NULL for logits only. With `train`, dropout is on,
 * its masks keyed by `dropout_seed`. */
sg_error *sg_train_forward(sg_train_model *m, const int *inputs, const int *targets, int B, int T, int train,
                           const sg_dropout *dropout, uint64_t dropout_seed, float *loss) SG_MUST_CHECK;
/* Logits [B*T, V] of the last forward (probabilities once a loss was computed). */
const float *sg_train_model_logits(const sg_train_model *m);

void sg_train_zero_grad(sg_train_model *m);
/* Accumulates d(loss * scale)/d(params) into the gradient block for the last
 * forward, which must have had targets. scale = 1 / grad_accum_steps. */
sg_error *sg_train_backward(sg_train_model *m, float scale) SG_MUST_CHECK;

/* The keep-mask value of dropout site `site`, element `i`: 0 or 1/(1-p). */
float sg_dropout_mask(uint64_t seed, uint64_t site, uint64_t i, float p);

#endif
