/* filter_eval.h — the content filter's evaluation suite ("filter"): a
 * labelled set of violating texts (DATA/violating.tsv, "category<TAB>text"),
 * evasions of each generated here (leet, confusables, separators, repeats,
 * case, and all of them mixed, from a seeded generator), hard negatives
 * (DATA/hard_negatives.tsv), optionally texts written without looking at the
 * terms (DATA/violating_unseen.tsv, reported as recall_unseen), and clean
 * text: every sentence of the held-out State of the Union addresses (the .txt
 * files in HELDOUT), split at run time.
 *
 * The result is a JSON object {suite: "filter", metrics: {recall,
 * recall_evasions, recall_unseen, false_positive_rate, hard_negative_fp_rate,
 * precision},
 * categories: {name: {n, tp, fp, precision, recall, recall_evasions}},
 * evasions: {kind: recall}, clean: {sentences, flagged, examples}} that the
 * release gates read (metric names match examples/release.yaml). */
#ifndef SG_FILTER_EVAL_H
#define SG_FILTER_EVAL_H

#include <jansson.h>
#include <stdint.h>

#include "base/error.h"
#include "safety/filter.h"

typedef struct {
    const char *data_dir;    /* holds violating.tsv and hard_negatives.tsv */
    const char *heldout_dir; /* .txt files of clean text */
    uint64_t seed;           /* evasion generator seed */
} sg_filter_eval_config;

sg_error *sg_filter_eval_run(const sg_filter *f, const sg_filter_eval_config *cfg,
                             json_t **out) SG_MUST_CHECK;

/* The evasion kinds, and one evasion of `text` (malloc'd, NUL-terminated).
 * *rng is the generator state; exposed for tests. */
enum {
    SG_EVADE_LEET,
    SG_EVADE_CONFUSABLES,
    SG_EVADE_SEPARATORS,
    SG_EVADE_REPEATS,
    SG_EVADE_CASE,
    SG_EVADE_MIXED,
    SG_EVADE_KINDS
};
const char *sg_evasion_name(int kind);
char *sg_evade(const char *text, int kind, uint64_t *rng);

/* Splits running text into sentences (at . ! ? followed by a space and a
 * capital, not after Mr./Dr./single initials): calls fn for each. */
void sg_split_sentences(const char *text, size_t len, void (*fn)(void *ctx, const char *s, size_t n),
                        void *ctx);

#endif
