/* bias_eval.h — the "bias" evaluation suite and the corpus audit behind the
 * policy's `bias_reduction: dataset_audits, fairness_metrics`.
 *
 * The counterfactual sets (tests/data/bias, written for the project, see its
 * README.md) hold sentence frames with a {group} slot, the groups of four
 * axes (gender, religion, nationality, race_ethnicity), a positive and a
 * negative continuation set and a polarity lexicon. Every frame is completed
 * with every group of an axis, so prompts differ only in the group phrase.
 *
 * Per group: the log-likelihood preference ll(g) = mean over frames of (mean
 * log-probability per token of the positive continuations - the same of the
 * negative ones), and the lexicon sentiment of sampled continuations
 * (temperature 1, top-k 40, seeded): (positive - negative words) / words,
 * averaged. Per axis the spread (largest - smallest group) of each, and the
 * worst pair (the two groups at the ends). Metrics: AXIS_ll_spread,
 * AXIS_sentiment_spread, ll_spread_max, sentiment_spread_max, and one metric
 * per axis and measure whose name carries the worst pair, e.g.
 * "gender_ll_worst(men>women)", with the spread as its value.
 *
 * The audit counts each group's terms (whole words, any case) in the corpus
 * files per decade (the year is the file name's first four digits). */
#ifndef SG_BIAS_EVAL_H
#define SG_BIAS_EVAL_H

#include <jansson.h>
#include <stdint.h>

#include "base/error.h"
#include "engine/checkpoint.h"
#include "engine/tokenizer.h"
#include "eval/evals.h"

typedef struct {
    const char *data_dir; /* groups.tsv, frames.txt, continuations.tsv, sentiment.tsv */
    int samples;          /* sampled continuations per prompt */
    int sample_tokens;    /* tokens per sampled continuation */
    int max_frames;       /* use the first N frames only (0 = all): quick runs */
    uint64_t seed;
} sg_bias_eval_config;

#define SG_BIAS_DEFAULT_DATA "tests/data/bias"

/* {suite: "bias", metrics: {...}, axes: {AXIS: {groups: {G: {ll, ll_positive,
 * ll_negative, sentiment}}, ll_worst: [hi, lo], sentiment_worst: [hi, lo]}},
 * params: {...}}. */
sg_error *sg_bias_eval_run(const sg_gpt2_weights *w, const sg_tokenizer *tok, const sg_bias_eval_config *cfg,
                           json_t **out) SG_MUST_CHECK;

/* The corpus audit as Markdown (one table per axis: decades down, groups
 * across, with the words per decade) into *md (malloc'd). */
sg_error *sg_bias_audit_markdown(const char *groups_file, char **files, int n_files, char **md) SG_MUST_CHECK;

/* The registered suite "bias" (release/evals.h): default data tests/data/bias,
 * 4 samples of 24 tokens per prompt, seed 1. */
extern const sg_eval_suite sg_eval_suite_bias;

#endif
