/* sampler.h — from logits to the next token: a chain of logits processors
 * (temperature, top-k, top-p, and any the caller adds such as a watermark or
 * banned tokens) followed by a seeded draw. Temperature 0 is greedy. */
#ifndef SG_SAMPLER_H
#define SG_SAMPLER_H

#include <stdint.h>

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

#endif
