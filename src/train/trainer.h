/* trainer.h — a whole training run: data, model, optimizer, schedule, the
 * loop with gradient accumulation, evaluation, logging, checkpoints, resume
 * and Ctrl-C.
 *
 * The output directory receives an HF checkpoint (config.json,
 * model.safetensors, vocab.json, merges.txt), train_log.jsonl (one JSON
 * object per step), config.train.json (the exact settings, loadable with
 * --config) and train_state.bin: the F32 parameters, the AdamW moments, the
 * step and the batch PRNG state, from which `resume` continues bit for bit.
 * Every file is written atomically (temporary, fsync, rename). */
#ifndef SG_TRAINER_H
#define SG_TRAINER_H

#include <stddef.h>

#include "base/error.h"
#include "train/train_config.h"

/* Runs the training described by `cfg` (validated here). Stops early,
 * saving everything, when *stop becomes non-zero (set it from a signal
 * handler). */
sg_error *sg_train_run(const sg_train_config *cfg, volatile int *stop) SG_MUST_CHECK;

/* Mean loss and token count of a checkpoint over text files (each file a
 * document, windows of `context` tokens, 0 = n_ctx). */
sg_error *sg_eval_perplexity(const char *model_dir, char **files, int n_files, int context, double *loss,
                             size_t *tokens) SG_MUST_CHECK;

#endif
