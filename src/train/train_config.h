/* train_config.h — the settings of a training or fine-tuning run: defaults,
 * a YAML config file (flat `key: value` mapping, lists for file sets), flags
 * with the same names, and the JSON record of the exact settings used.
 * docs/TRAINING.md lists every key. */
#ifndef SG_TRAIN_CONFIG_H
#define SG_TRAIN_CONFIG_H

#include <stddef.h>

#include "base/error.h"

#define SG_TRAIN_MAX_FILES 64

typedef struct {
    /* data */
    char *corpus[SG_TRAIN_MAX_FILES]; /* files or directories of *.txt */
    int n_corpus;
    char *val_corpus[SG_TRAIN_MAX_FILES]; /* explicit validation documents */
    int n_val_corpus;
    double val_fraction; /* share of corpus documents held out when no val_corpus */
    char *shard;         /* token shard: input when no corpus, else the cache path */
    char *tokenizer;     /* directory with vocab.json + merges.txt */
    /* model */
    int layers, heads, embd, n_ctx; /* n_ctx 0 = context */
    char *init_from;                /* start from this checkpoint (fine-tuning) */
    /* optimisation */
    int context, batch, grad_accum;
    long steps, warmup;
    double lr, lr_floor, beta1, beta2, eps, weight_decay, clip;
    double dropout_embd, dropout_attn, dropout_resid;
    double layer_lr_decay; /* fine-tuning: layer l gets decay^(L-1-l) */
    int freeze_layers;     /* fine-tuning: layers below this (and embeddings) frozen */
    long long seed;
    /* bookkeeping */
    long eval_interval, checkpoint_interval, log_interval;
    int eval_batches;
    char *dtype; /* f32 | f16 | bf16 for model.safetensors */
    char *out;
    int resume;
    long stop_after; /* save and stop once this many steps are done (0 = run to `steps`) */
    int threads;     /* 0 = OpenMP / OpenBLAS default */
} sg_train_config;

void sg_train_config_defaults(sg_train_config *c);
void sg_train_config_free(sg_train_config *c);

/* Sets `key` (underscores or dashes) from its text; `where` prefixes errors
 * (e.g. "train.yaml:3:8"). List keys append. */
sg_error *sg_train_config_set(sg_train_config *c, const char *key, const char *value,
                              const char *where) SG_MUST_CHECK;
/* The settings, for front ends that offer each as an option: the name
 * (underscores) and kind of the i-th key, or NULL past the last one. */
typedef enum {
    SG_TRAIN_KEY_INT,
    SG_TRAIN_KEY_DOUBLE,
    SG_TRAIN_KEY_STRING,
    SG_TRAIN_KEY_LIST, /* strings; each setting appends */
    SG_TRAIN_KEY_SWITCH,
} sg_train_key_kind;
const char *sg_train_config_key(size_t i, sg_train_key_kind *kind);

sg_error *sg_train_config_load_yaml(sg_train_config *c, const char *path) SG_MUST_CHECK;
/* Checks ranges and combinations after all sources are applied. */
sg_error *sg_train_config_validate(const sg_train_config *c) SG_MUST_CHECK;
/* The settings as a JSON object text (malloc'd), loadable again as YAML. */
char *sg_train_config_to_json(const sg_train_config *c);

#endif
