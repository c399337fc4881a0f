/* watermark_eval.h — the "watermark" evaluation suite: with a model, a key,
 * gamma and delta, generate N completions of T tokens (multinomial sampling,
 * temperature 1) from prompts cut from held-out human text, with and without
 * the watermark, and measure: the true-positive rate at the z threshold; the
 * false-positive rate and z distribution on the human continuations of the
 * same prompts; the perplexity cost (perplexity of watermarked completions
 * over unwatermarked ones, both under the model's unmodified distribution);
 * and the true-positive rate after 10% and 25% of the tokens are replaced at
 * random. The JSON result {suite: "watermark", metrics: {tpr, fpr,
 * perplexity_cost, tpr_replace_10, tpr_replace_25, ...}} is what the gates read. */
#ifndef SG_WATERMARK_EVAL_H
#define SG_WATERMARK_EVAL_H

#include <jansson.h>
#include <stdint.h>

#include "base/error.h"
#include "engine/checkpoint.h"
#include "engine/gpt2.h"
#include "engine/tokenizer.h"
#include "safety/watermark.h"

typedef struct {
    int samples;       /* completions (and human passages) */
    int tokens;        /* T, completion length */
    int prompt_tokens; /* prompt length cut from held-out text */
    double gamma, delta, z_threshold;
    uint64_t seed;
    const char *heldout_dir;
} sg_watermark_eval_config;

sg_error *sg_watermark_eval_run(const sg_gpt2_weights *w, const sg_tokenizer *tok,
                                const unsigned char key[SG_WATERMARK_KEY_BYTES],
                                const sg_watermark_eval_config *cfg, json_t **out) SG_MUST_CHECK;

/* Shared with the detection suite. All held-out text (.txt files of `dir`,
 * in name order) tokenized and concatenated; free *ids. */
sg_error *sg_eval_heldout_tokens(const sg_tokenizer *tok, const char *dir, int **ids, int *n) SG_MUST_CHECK;

/* One completion of exactly T tokens per prompt (n prompts of n_prompt
 * tokens), all in one batch on `model` (n slots), temperature 1, top_k (0 =
 * off), with the watermark `wm` or none; out[i*T ..] gets the tokens and
 * *sum_logp / *count the log-probabilities under the unmodified distribution. */
sg_error *sg_eval_generate(sg_gpt2 *model, const int *const *prompts, int n_prompt, int n, int T, int top_k,
                           sg_watermark *wm, uint64_t seed, int *out, double *sum_logp,
                           int *count) SG_MUST_CHECK;

#endif
