/* generate.h — text generation over a running batch (continuous batching).
 *
 * A batch owns a model and a tokenizer-independent set of running sequences.
 * Callers add sequences (token ids + sampling settings) at any time, call
 * sg_batch_step repeatedly, and each step advances every running sequence by
 * one token in one decode pass. Sequences finish on max_tokens, end-of-text,
 * a stop sequence, or cancellation, and leave the batch at once. The CLI, the
 * server's scheduler and the tests all drive generation through this API. */
#ifndef SG_GENERATE_H
#define SG_GENERATE_H

#include <stdint.h>

#include "base/error.h"
#include "engine/gpt2.h"
#include "engine/sampler.h"

#define SG_MAX_STOP 4 /* stop sequences per sequence (OpenAI's limit too) */

typedef enum {
    SG_FINISH_NONE = 0, /* still running */
    SG_FINISH_LENGTH,   /* max_tokens reached, or the context is full */
    SG_FINISH_STOP,     /* end-of-text or a stop sequence */
    SG_FINISH_CANCELLED,
} sg_finish_reason;

typedef struct {
    int max_tokens;       /* new tokens at most */
    sg_sampling sampling; /* temperature, top-k, top-p, seed */
    /* Stop sequences as token ids (owned by the caller until the sequence
     * ends); they match the generated tokens only, not the prompt. */
    const int *stop[SG_MAX_STOP];
    int stop_len[SG_MAX_STOP];
    int n_stop;
    int eot_token; /* end-of-text id, -1 for none */
    int logprobs;  /* 0..SG_MAX_LOGPROBS top alternatives per token */
} sg_generation_params;

/* What one step produced for one sequence. */
typedef struct {
    int seq_id;
    /* The new token; -1 when the sequence finished without one (end-of-text,
     * cancelled, max_tokens 0, or every token banned by a processor). A stop
     * sequence's tokens are output: a caller hiding them holds back text. */
    int token;
    float logprob;                   /* log p(token) under the unmodified distribution */
    int top_tokens[SG_MAX_LOGPROBS]; /* the `logprobs` most likely alternatives */
    float top_logprobs[SG_MAX_LOGPROBS];
    sg_finish_reason finish; /* != NONE: the sequence has left the batch */
} sg_batch_event;

typedef struct sg_batch sg_batch;

sg_error *sg_batch_new(sg_gpt2 *model, sg_batch **out) SG_MUST_CHECK;
void sg_batch_free(sg_batch *batch);

/* Adds a sequence; prefill happens on the next step. Fails when no slot is
 * free or the prompt does not fit the context. */
sg_error *sg_batch_add(sg_batch *batch, const int *prompt, int n_prompt, const sg_generation_params *params,
                       int *seq_id) SG_MUST_CHECK;

/* Installs an extra logits processor (e.g. a watermark) for one sequence. */
void sg_batch_set_processor(sg_batch *batch, int seq_id, sg_logits_processor processor);

/* Advances every running sequence by one token. `events` has room for at
 * least sg_batch_capacity entries; *n_events is set. */
sg_error *sg_batch_step(sg_batch *batch, sg_batch_event *events, int *n_events) SG_MUST_CHECK;

/* Marks a sequence cancelled: the next step reports it (token -1,
 * SG_FINISH_CANCELLED) and frees its slot. Unknown ids are ignored. The batch
 * is not thread-safe: call this from the thread that steps it. */
void sg_batch_cancel(sg_batch *batch, int seq_id);
int sg_batch_running(const sg_batch *batch);
int sg_batch_capacity(const sg_batch *batch);

#endif
