/* adamw.h — the AdamW optimizer (decoupled weight decay, bias correction)
 * over one contiguous parameter block, and gradient clipping by global norm.
 *
 * Weight decay applies only to the segments marked as matrices (ndim 2), as in
 * GPT-2 / nanoGPT; biases and LayerNorm parameters are not decayed. A
 * per-element learning-rate multiplier (per-layer decay for fine-tuning; 0 to
 * freeze) is optional. The moments m, v and the step count are the whole
 * optimizer state, saved for bit-identical resumption. */
#ifndef SG_ADAMW_H
#define SG_ADAMW_H

#include <stddef.h>

#include "base/error.h"
#include "train/gpt2_train.h"

typedef struct {
    float beta1, beta2, eps, weight_decay;
} sg_adamw_config;

typedef struct {
    sg_adamw_config cfg;
    size_t n;
    long step;       /* updates done so far */
    float *m, *v;    /* [n] */
    float *decay;    /* [n]: 1 for decayed (matrix) elements, else 0 */
    float *lr_scale; /* [n] or NULL: per-element learning-rate multiplier */
} sg_adamw;

sg_error *sg_adamw_init(sg_adamw *opt, const sg_adamw_config *cfg, const sg_gpt2_config *model) SG_MUST_CHECK;
void sg_adamw_free(sg_adamw *opt);

/* Layer-wise learning-rate decay: layer l of L gets decay^(L-1-l), the
 * embeddings decay^L, ln_f 1; layers below `freeze` (and the embeddings when
 * freeze > 0) get 0. */
sg_error *sg_adamw_set_layer_lr(sg_adamw *opt, const sg_gpt2_config *model, float decay,
                                int freeze) SG_MUST_CHECK;

/* One update of params with grads at learning rate lr. */
void sg_adamw_step(sg_adamw *opt, float *params, const float *grads, float lr);

/* The global L2 norm of grads; when clip > 0 and the norm exceeds it, grads
 * are scaled down to norm `clip`. Returns the norm before clipping. */
float sg_clip_grad_norm(float *grads, size_t n, float clip);

#endif
