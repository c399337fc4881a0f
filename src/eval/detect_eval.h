/* detect_eval.h — the "detection" evaluation suite: zero-shot detection of the
 * model's own text (zeroshot.h) against human text. N prompts are cut from
 * held-out human text; the model completes each with T tokens at temperature
 * 1 and again with top-k 40; the human continuations of the same prompts are
 * the negatives. Each text is scored alone (the detector never sees the
 * prompt). Reports, per sampling and per score (Fast-DetectGPT, log-rank,
 * likelihood), the AUROC and the true-positive rate at 1% false positives
 * (threshold = the human scores' 99th percentile), and the calibrated
 * threshold for `stagegate detect --zs-threshold`. */
#ifndef SG_DETECT_EVAL_H
#define SG_DETECT_EVAL_H

#include <jansson.h>
#include <stdint.h>

#include "base/error.h"
#include "engine/checkpoint.h"
#include "engine/tokenizer.h"

typedef struct {
    int samples, tokens, prompt_tokens;
    uint64_t seed;
    const char *heldout_dir;
} sg_detect_eval_config;

sg_error *sg_detect_eval_run(const sg_gpt2_weights *w, const sg_tokenizer *tok,
                             const sg_detect_eval_config *cfg, json_t **out) SG_MUST_CHECK;

/* Area under the ROC curve of positives pos[0..np) over negatives neg[0..nn)
 * (Mann-Whitney, ties count one half). */
double sg_auroc(const double *pos, int np, const double *neg, int nn);

#endif
