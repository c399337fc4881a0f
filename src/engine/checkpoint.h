/* checkpoint.h — GPT-2 weights and Hugging Face checkpoint directories.
 *
 * A checkpoint directory holds config.json, model.safetensors, vocab.json and
 * merges.txt, exactly as Hugging Face writes GPT-2. Opening one maps the
 * weights: F32 tensors are used in place (no copy); F16/BF16 are converted to
 * F32 once. Conv1D weights stay in their [in, out] layout: y = x·W + b.
 * The language-model head is tied to wte. */
#ifndef SG_CHECKPOINT_H
#define SG_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct {
    int n_layer;      /* L */
    int n_head;       /* NH */
    int n_embd;       /* C */
    int n_ctx;        /* T: n_positions, the positional table's length */
    int vocab_size;   /* V */
    int n_inner;      /* MLP width, 4*C unless the config says otherwise */
    float ln_epsilon; /* layer_norm_epsilon, 1e-5 */
} sg_gpt2_config;

/* One transformer block; names follow HF's tensor names. */
typedef struct {
    float *ln_1_w, *ln_1_b;             /* [C] */
    float *c_attn_w, *c_attn_b;         /* [C, 3C], [3C]: q, k, v side by side */
    float *attn_proj_w, *attn_proj_b;   /* [C, C], [C] */
    float *ln_2_w, *ln_2_b;             /* [C] */
    float *c_fc_w, *c_fc_b;             /* [C, n_inner], [n_inner] */
    float *mlp_proj_w, *mlp_proj_b;     /* [n_inner, C], [C] */
} sg_gpt2_layer;

/* All weights of a model. Pointers may point into a read-only file mapping:
 * treat them as read-only unless you allocated them yourself. */
typedef struct {
    sg_gpt2_config config;
    float *wte;             /* [V, C], also the LM head */
    float *wpe;             /* [T, C] */
    float *ln_f_w, *ln_f_b; /* [C] */
    sg_gpt2_layer *layers;  /* [L] */
} sg_gpt2_weights;

#endif
