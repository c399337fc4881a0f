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
#include "engine/safetensors.h" /* sg_dtype */

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
    float *ln_1_w, *ln_1_b;           /* [C] */
    float *c_attn_w, *c_attn_b;       /* [C, 3C], [3C]: q, k, v side by side */
    float *attn_proj_w, *attn_proj_b; /* [C, C], [C] */
    float *ln_2_w, *ln_2_b;           /* [C] */
    float *c_fc_w, *c_fc_b;           /* [C, n_inner], [n_inner] */
    float *mlp_proj_w, *mlp_proj_b;   /* [n_inner, C], [C] */
} sg_gpt2_layer;

/* All weights of a model. Pointers may point into a read-only file mapping:
 * treat them as read-only unless you allocated them yourself. */
typedef struct {
    sg_gpt2_config config;
    float *wte;             /* [V, C], also the LM head */
    float *wpe;             /* [T, C] */
    float *ln_f_w, *ln_f_b; /* [C] */
    sg_gpt2_layer *layers;  /* [L] */
    float *block;           /* the owned contiguous block (sg_gpt2_weights_alloc), else NULL */
    size_t block_floats;
} sg_gpt2_weights;

/* ---- weights ------------------------------------------------------------ */

/* One tensor of a model, by its HF name (without "transformer."). ndim == 2
 * marks matrices (weight decay applies to them), 1 vectors. */
typedef struct {
    char name[64];
    float *data;
    int ndim;
    int shape[2];
    size_t numel;
} sg_gpt2_tensor;

/* All tensors in canonical order: wte, wpe, per layer i h.i.ln_1.weight,
 * h.i.ln_1.bias, h.i.attn.c_attn.weight/.bias, h.i.attn.c_proj.weight/.bias,
 * h.i.ln_2.weight/.bias, h.i.mlp.c_fc.weight/.bias, h.i.mlp.c_proj.weight/.bias,
 * then ln_f.weight, ln_f.bias. Returns the count (2 + 12L + 2); fills `out`
 * (room for that many) when non-NULL. With w->layers NULL only shapes and
 * names are filled (data NULL): pass a weights struct holding just a config. */
int sg_gpt2_tensors(const sg_gpt2_weights *w, sg_gpt2_tensor *out);

/* Number of parameters (wte counted once: the LM head is tied). */
size_t sg_gpt2_param_count(const sg_gpt2_config *c);

/* Checks a config's values are positive, consistent (C % NH == 0) and sane. */
sg_error *sg_gpt2_config_validate(const sg_gpt2_config *c) SG_MUST_CHECK;

/* The config of a named GPT-2 shape "124M", "355M", "774M" or "1.5B"
 * (vocab 50257, context 1024). */
sg_error *sg_gpt2_config_preset(const char *shape, sg_gpt2_config *out) SG_MUST_CHECK;
/* The preset name a config matches, or NULL. */
const char *sg_gpt2_config_shape_name(const sg_gpt2_config *c);

/* Zeroed weights in one contiguous float block, tensors in canonical order. */
sg_error *sg_gpt2_weights_alloc(const sg_gpt2_config *c, sg_gpt2_weights **out) SG_MUST_CHECK;
/* A contiguous, writable copy of any weights (e.g. of a mapped checkpoint). */
sg_error *sg_gpt2_weights_clone(const sg_gpt2_weights *src, sg_gpt2_weights **out) SG_MUST_CHECK;
/* The contiguous block and its length, or NULL when not contiguous/owned. */
float *sg_gpt2_weights_block(const sg_gpt2_weights *w, size_t *n_floats);
/* Frees weights from sg_gpt2_weights_alloc/clone (not a checkpoint's). */
void sg_gpt2_weights_free(sg_gpt2_weights *w);
/* GPT-2 initialisation: weights N(0, 0.02), the residual projections
 * (attn.c_proj, mlp.c_proj) N(0, 0.02/sqrt(2L)), LayerNorm weight 1 bias 0,
 * biases 0. Deterministic for a seed whatever the thread count. */
void sg_gpt2_weights_init_random(sg_gpt2_weights *w, uint64_t seed);

/* ---- config.json -------------------------------------------------------- */

/* Reads an HF GPT-2 config.json: n_layer, n_head, n_embd, n_positions (or
 * n_ctx), vocab_size, layer_norm_epsilon (default 1e-5), activation_function
 * (gelu_new or absent), n_inner (null/absent: 4*n_embd). Errors name the field. */
sg_error *sg_gpt2_config_load(const char *config_json_path, sg_gpt2_config *out) SG_MUST_CHECK;
/* Writes config.json in HF's GPT-2 shape (atomically). */
sg_error *sg_gpt2_config_save(const char *config_json_path, const sg_gpt2_config *c) SG_MUST_CHECK;

/* ---- checkpoint directories --------------------------------------------- */

typedef struct sg_checkpoint sg_checkpoint;

/* Opens DIR/config.json + DIR/model.safetensors, validates every tensor
 * against the config and maps the weights (F32 in place, F16/BF16 converted
 * once). Tensor names may carry a "transformer." prefix; h.i.attn.bias,
 * h.i.attn.masked_bias and lm_head.weight (tied) are ignored. */
sg_error *sg_checkpoint_open(const char *dir, sg_checkpoint **out) SG_MUST_CHECK;
const sg_gpt2_weights *sg_checkpoint_weights(const sg_checkpoint *ck);
/* The underlying file: dtypes, metadata (sg_safetensors_meta), sizes. */
const sg_safetensors *sg_checkpoint_file(const sg_checkpoint *ck);
/* The dtype of the weights as stored (of wte; files are normally uniform). */
sg_dtype sg_checkpoint_dtype(const sg_checkpoint *ck);
/* Bytes of weights used in place from the mapping vs copied/converted. */
void sg_checkpoint_bytes(const sg_checkpoint *ck, size_t *mapped, size_t *copied);
void sg_checkpoint_close(sg_checkpoint *ck);

/* Creates DIR (and parents) and writes config.json and model.safetensors
 * atomically, tensors in canonical order as `dtype`. metadata_kv holds
 * n_metadata key,value string pairs for __metadata__. */
sg_error *sg_checkpoint_save(const char *dir, const sg_gpt2_weights *w, sg_dtype dtype,
                             const char *const *metadata_kv, int n_metadata) SG_MUST_CHECK;
/* Same, for an all-zero model of config `c`, written as a sparse file
 * (no weights in memory, no data on disk): for testing the large shapes. */
sg_error *sg_checkpoint_save_zeros(const char *dir, const sg_gpt2_config *c, sg_dtype dtype,
                                   const char *const *metadata_kv, int n_metadata) SG_MUST_CHECK;
/* Copies vocab.json and merges.txt from from_dir (a checkpoint directory, or
 * a directory with GPT-2's encoder.json and vocab.bpe under those names). */
sg_error *sg_checkpoint_copy_tokenizer(const char *from_dir, const char *to_dir) SG_MUST_CHECK;

#endif
