/* gpt2.h — the GPT-2 forward pass for inference, over a batch of sequences
 * that each own a slot of the key/value cache.
 *
 * Prefill runs a whole prompt at once (matrix-matrix); decode advances several
 * slots by one token in one pass over the weights (matrix-vector, memory
 * bound). Slots are independent: sequences join and leave between steps. */
#ifndef SG_GPT2_H
#define SG_GPT2_H

#include "base/error.h"
#include "engine/checkpoint.h"

typedef struct sg_gpt2 sg_gpt2;

/* A model over `weights` (borrowed, must outlive it) with room for
 * `max_slots` concurrent sequences of up to config.n_ctx tokens each. */
sg_error *sg_gpt2_new(const sg_gpt2_weights *weights, int max_slots, sg_gpt2 **out) SG_MUST_CHECK;
void sg_gpt2_free(sg_gpt2 *model);
const sg_gpt2_config *sg_gpt2_config_of(const sg_gpt2 *model);
int sg_gpt2_max_slots(const sg_gpt2 *model);

/* From now on, decode reads bf16 copies of the four matrices of each layer
 * and of wte (made here, owned by the model: half the bytes per token, so
 * about twice the speed when memory bound, at bf16's ~3 significant digits
 * per weight). Prefill keeps the fp32 weights. */
sg_error *sg_gpt2_use_bf16(sg_gpt2 *model) SG_MUST_CHECK;

/* A free slot (its cache empty), or -1 when all are taken. */
int sg_gpt2_slot_acquire(sg_gpt2 *model);
void sg_gpt2_slot_release(sg_gpt2 *model, int slot);
int sg_gpt2_slot_length(const sg_gpt2 *model, int slot); /* tokens cached */

/* Appends `n` tokens to `slot` and writes the logits [V] of the last one. */
sg_error *sg_gpt2_prefill(sg_gpt2 *model, int slot, const int *tokens, int n, float *logits) SG_MUST_CHECK;

/* Appends tokens[i] to slots[i] for i < n (distinct slots) in one pass and
 * writes logits [n, V]. */
sg_error *sg_gpt2_decode(sg_gpt2 *model, const int *slots, const int *tokens, int n,
                         float *logits) SG_MUST_CHECK;

#endif
