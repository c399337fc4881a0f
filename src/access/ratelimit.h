/* ratelimit.h — exact per-key token buckets for requests and for tokens.
 *
 * Each key has two buckets whose capacity is its per-minute limit (rpm, tpm)
 * and which refill continuously at capacity/60 per second. A request reserves
 * 1 request and prompt + max_tokens tokens up front, all or nothing, under one
 * mutex: concurrent requests can never drive a bucket below zero. When the
 * request finishes, the tokens it did not use are refunded.
 *
 * State is in-process (one server process). Replicas would keep the same two
 * numbers per key (level, last refill time) in a shared store and run the
 * reserve step atomically there (a Redis script or a PostgreSQL row lock);
 * the arithmetic below would not change.
 */
#ifndef SG_RATELIMIT_H
#define SG_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* A monotonic clock in seconds; NULL selects sg_monotonic_s. Tests inject one. */
typedef double (*sg_clock_fn)(void *ctx);

typedef struct sg_ratelimit sg_ratelimit;

sg_error *sg_ratelimit_new(sg_clock_fn clock, void *clock_ctx, sg_ratelimit **out) SG_MUST_CHECK;
void sg_ratelimit_free(sg_ratelimit *rl);

typedef enum {
    SG_RL_ADMITTED, /* reserved */
    SG_RL_LIMITED,  /* not now: retry after status.retry_after_s */
    SG_RL_TOO_LARGE /* more tokens than the bucket holds: never admissible */
} sg_rl_decision;

/* What the x-ratelimit-* headers report. A limit of 0 means unlimited (the
 * corresponding remaining/reset values are then 0 and should not be sent). */
typedef struct {
    int64_t limit_requests, limit_tokens;
    int64_t remaining_requests, remaining_tokens;
    double reset_requests_s, reset_tokens_s; /* until the bucket is full again */
    double retry_after_s;                    /* when refused: until admissible */
} sg_ratelimit_status;

/* Reserves 1 request and `tokens` tokens for `key_id` with limits rpm/tpm
 * (0 = unlimited; a change of limit resizes the bucket, never filling it).
 * Nothing is taken unless the decision is SG_RL_ADMITTED. `status` may be NULL. */
sg_rl_decision sg_ratelimit_reserve(sg_ratelimit *rl, int64_t key_id, int64_t rpm, int64_t tpm,
                                    int64_t tokens, sg_ratelimit_status *status);

/* Gives back `tokens` reserved but not used (capped at the capacity). */
void sg_ratelimit_refund(sg_ratelimit *rl, int64_t key_id, int64_t tokens);

/* The current state without taking anything. */
void sg_ratelimit_peek(sg_ratelimit *rl, int64_t key_id, int64_t rpm, int64_t tpm,
                       sg_ratelimit_status *status);

/* A duration the way OpenAI's headers write it: "0s", "20ms", "1s", "6m0s",
 * "1m30.5s", "1h0m0s" (rounded up to the millisecond). */
void sg_format_duration(double seconds, char *buf, size_t cap);

/* Whole seconds for a retry-after header: rounded up, at least 1. */
int64_t sg_retry_after_seconds(double seconds);

#endif
