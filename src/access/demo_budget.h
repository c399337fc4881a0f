/* demo_budget.h — the web demo's token budgets: buckets counted in tokens
 * per session, per network prefix (/24 for IPv4, /64 for IPv6) and for the
 * whole demo, each refilling continuously at its per-minute rate. A request
 * reserves prompt + max_tokens in all three at once (all or nothing, under
 * one mutex) and refunds what it did not use, as the API's rate limits do.
 *
 * The session and network tables are bounded: when one is full, the least
 * recently used entry is dropped only if its bucket has refilled completely
 * (it holds no information); otherwise the newcomer is refused. So a flood
 * of new sessions can neither grow memory nor evict (and so reset) the
 * buckets of sessions that have spent tokens. */
#ifndef SG_DEMO_BUDGET_H
#define SG_DEMO_BUDGET_H

#include <stdint.h>

#include "access/ratelimit.h"
#include "base/error.h"

typedef struct sg_demo_budget sg_demo_budget;

/* Tables of at most `max_entries` sessions and as many networks. */
sg_error *sg_demo_budget_new(int max_entries, sg_clock_fn clock, void *clock_ctx,
                             sg_demo_budget **out) SG_MUST_CHECK;
void sg_demo_budget_free(sg_demo_budget *b);

typedef struct {
    int64_t session_tpm, network_tpm, global_tpm;
} sg_demo_limits;

typedef enum {
    SG_DEMO_BUDGET_SESSION,
    SG_DEMO_BUDGET_NETWORK,
    SG_DEMO_BUDGET_GLOBAL,
    SG_DEMO_BUDGET_TABLE_FULL /* no room for a new session or network now */
} sg_demo_budget_scope;

/* Reserves `tokens`. SG_RL_LIMITED: *retry_after_s says when it would fit,
 * *scope which budget refused; SG_RL_TOO_LARGE: it never fits. */
sg_rl_decision sg_demo_budget_reserve(sg_demo_budget *b, uint64_t session, uint64_t network,
                                      const sg_demo_limits *l, int64_t tokens, double *retry_after_s,
                                      sg_demo_budget_scope *scope);
void sg_demo_budget_refund(sg_demo_budget *b, uint64_t session, uint64_t network, const sg_demo_limits *l,
                           int64_t tokens);
/* Entries in use (sessions, networks), for tests and metrics. */
void sg_demo_budget_counts(sg_demo_budget *b, int *sessions, int *networks);

#endif
