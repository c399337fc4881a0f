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
#include "engine/checkpoint.h"
#include "train/train_config.h"

/* What a run reports as it goes. The library prints nothing: the caller's
 * callback decides what to show (the command line prints these as lines). */
typedef enum {
    SG_TRAIN_STARTED,     /* n_params, model, train_tokens, batch, context, grad_accum, steps */
    SG_TRAIN_RESUMED,     /* step: the step the run continues from */
    SG_TRAIN_SHORT_VAL,   /* val_tokens: fewer than context + 1, so no validation loss */
    SG_TRAIN_STEP,        /* after every optimizer step: step (done), steps, start_step, loss,
                           * tokens_per_s, elapsed_s (since the start), val_loss (NAN: not evaluated) */
    SG_TRAIN_STOPPED,     /* step: stop_after reached */
    SG_TRAIN_INTERRUPTED, /* step: *stop was set */
    SG_TRAIN_SAVED,       /* step, dir, why ("interval", "interrupted" or "done") */
} sg_train_event_kind;

typedef struct {
    sg_train_event_kind kind;
    long step, steps, start_step;
    double loss, val_loss, tokens_per_s, elapsed_s;
    size_t n_params, train_tokens, val_tokens;
    const sg_gpt2_config *model;
    int batch, context, grad_accum;
    const char *dir, *why;
} sg_train_event;

/* Called on the training thread; the event lives for the call only. */
typedef void (*sg_train_progress_fn)(const sg_train_event *event, void *user);

/* Runs the training described by `cfg` (validated here), reporting to
 * `progress` (may be NULL). Stops early, saving everything, when *stop
 * becomes non-zero (set it from a signal handler). */
sg_error *sg_train_run(const sg_train_config *cfg, volatile int *stop, sg_train_progress_fn progress,
                       void *user) SG_MUST_CHECK;

/* Mean loss and token count of a checkpoint over text files (each file a
 * document, windows of `context` tokens, 0 = n_ctx). */
sg_error *sg_eval_perplexity(const char *model_dir, char **files, int n_files, int context, double *loss,
                             size_t *tokens) SG_MUST_CHECK;

#endif
