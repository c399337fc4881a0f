/* sampler.h — from logits to the next token: a chain of logits processors
 * (temperature, top-k, top-p, and any the caller adds such as a watermark or
 * banned tokens) followed by a seeded draw. Temperature 0 is greedy. */
#ifndef SG_SAMPLER_H
#define SG_SAMPLER_H

#include <stdint.h>

#include "base/error.h"

typedef struct {
    float temperature; /* 0 = greedy */
    int top_k;         /* 0 = off */
    float top_p;       /* 1 = off */
    uint64_t seed;
} sg_sampling;

/* A logits processor: edits logits [vocab] in place, given the tokens so far
 * (prompt and generated) of the sequence. */
typedef struct {
    void (*apply)(void *ctx, const int *tokens, int n_tokens, float *logits, int vocab);
    void *ctx;
} sg_logits_processor;

/* Up to this many processors per sampler, applied in the order added. */
#define SG_SAMPLER_MAX_PROCESSORS 8

/* The state of sampling for one sequence: its settings, its own random
 * generator (xoshiro256** seeded from sampling.seed with splitmix64, so the
 * same seed gives the same draws), its processors and scratch. */
typedef struct {
    sg_sampling cfg;
    int vocab;
    uint64_t rng[4];
    sg_logits_processor procs[SG_SAMPLER_MAX_PROCESSORS];
    int n_procs;
    int *idx;    /* [vocab] scratch: candidate ids */
    float *prob; /* [vocab] scratch: unnormalised probabilities */
} sg_sampler;

/* Validates cfg (temperature >= 0 and finite, top_k >= 0, 0 < top_p <= 1)
 * and allocates scratch for `vocab` logits. */
sg_error *sg_sampler_init(sg_sampler *s, const sg_sampling *cfg, int vocab) SG_MUST_CHECK;
void sg_sampler_free(sg_sampler *s);

/* Appends a processor; returns -1 when SG_SAMPLER_MAX_PROCESSORS are in place. */
int sg_sampler_add_processor(sg_sampler *s, sg_logits_processor p);

/* Picks the next token from logits [vocab] (edited in place): the processors
 * run first (given the sequence's tokens so far), then temperature 0 takes the
 * argmax (lowest id on ties); otherwise logits are divided by the temperature,
 * cut to the top_k most likely, then to the smallest most-likely set whose
 * probability reaches top_p (within the top-k set), and one token is drawn
 * from what is left. Ordering ties break by lower id. A processor may ban a
 * token by setting its logit to -INFINITY (or NaN); when no token is left
 * the result is -1. */
int sg_sampler_sample(sg_sampler *s, float *logits, const int *tokens, int n_tokens);

/* At most this many alternatives per token (OpenAI's `logprobs` limit). */
#define SG_MAX_LOGPROBS 5

/* log p(token) under softmax(logits), and the k (0..SG_MAX_LOGPROBS) most
 * likely ids with their log-probabilities, most likely first. */
void sg_logprobs(const float *logits, int vocab, int token, int k, float *logprob, int *top_tokens,
                 float *top_logprobs);

#endif
