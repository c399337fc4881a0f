/* stages.h — where the release stands and how it moves: the current stage
 * and its history in the store, the open incidents, and the evidence gates
 * that guard the next stage.
 *
 * The policy says which stages exist and what each gate asks for; the store
 * holds what happened (stage moves, risk assessments, evaluation results,
 * sign-offs, incidents). The current stage is the destination of the last
 * recorded move, or the policy's current_stage before any. Every move is
 * written to the audit log (sg_audit_note in access/audit.h).
 *
 * Gates to enter stage N+1 (policy.h, sg_policy_gates), each met or unmet
 * with the evidence that decided it:
 *   min_days         days since the release entered stage N
 *   risk_assessment  the latest assessment recorded for stage N+1 has at
 *                    least the required status
 *   evaluation       the latest stored result of suite/model/metric is
 *                    within min/max
 *   signoffs         distinct named reviewers (from the allowed list, if
 *                    any) signed off stage N+1 since the release entered N
 *   safety_protocol  each required protocol is implemented and enabled at N+1
 *   incidents        no incident is open
 * deployment_strategy: internal_only never advances past the first stage
 * (not even with force); full_release has no gates.
 *
 * A running server keeps an sg_release_state and reloads it when
 * sg_store_release_version changes (one indexed row, cheap to poll): stage
 * moves and incidents then apply within the poll interval, without restart. */
#ifndef SG_STAGES_H
#define SG_STAGES_H

#include <stdint.h>

#include "base/error.h"
#include "release/policy.h"
#include "store/store_release.h"

typedef struct {
    int stage;                     /* index into policy->stages */
    int64_t entered_ms;            /* when the release entered it (0: no move recorded yet) */
    int64_t version;               /* sg_store_release_version when loaded */
    sg_incident_record *incidents; /* open incidents, oldest first */
    size_t n_incidents;
} sg_release_state;

/* Reads the current stage and open incidents. An error when the stored stage
 * is not a stage of this policy. */
sg_error *sg_release_state_load(sg_store *store, const sg_policy *policy,
                                sg_release_state *out) SG_MUST_CHECK;
void sg_release_state_free(sg_release_state *state);

/* The id of an open incident that suspends `audience` or `model` (either may
 * be NULL), 0 when none does. */
int64_t sg_release_suspended(const sg_release_state *state, const char *audience, const char *model);

/* Records the policy's starting stage as the first move if nothing is
 * recorded yet, so that time in stage is counted from now. */
sg_error *sg_release_ensure_started(sg_store *store, const sg_policy *policy, const char *actor,
                                    int64_t now_ms) SG_MUST_CHECK;

#define SG_GATE_MAX 64

typedef struct {
    char name[64];      /* "min_days", "risk_assessment", "evaluation", "signoffs", "safety_protocol", ... */
    char what[192];     /* what is required, e.g. "perplexity/sotu-small perplexity <= 60" */
    char evidence[384]; /* what is on record */
    int met;
} sg_gate_result;

typedef struct {
    int from, to;      /* stage indexes; to = -1 when there is no next stage */
    int all_met;       /* every gate met (and a next stage exists, and the strategy allows) */
    char blocked[256]; /* why no gates apply at all: last stage, internal_only ("" otherwise) */
    int n;
    sg_gate_result gates[SG_GATE_MAX];
} sg_gate_report;

/* Evaluates the gates of the stage after the current one at time now_ms. */
sg_error *sg_release_gates(sg_store *store, const sg_policy *policy, const sg_release_state *state,
                           int64_t now_ms, sg_gate_report *report) SG_MUST_CHECK;

/* The gate report as text, one gate per line ("  [met] name: what -- evidence"). */
void sg_gate_report_format(const sg_gate_report *r, char *buf, size_t size);

/* Moves to the next stage when every gate is met, or with force (then a
 * reason is required and the move is recorded as an override). *moved says
 * whether it moved; the report is filled either way. internal_only and the
 * last stage refuse even with force. */
sg_error *sg_release_advance(sg_store *store, const sg_policy *policy, const char *actor, int force,
                             const char *reason, int64_t now_ms, sg_gate_report *report,
                             int *moved) SG_MUST_CHECK;

/* Moves back to stage `to` (-1: the previous stage), which must be before
 * the current one. A reason is required. */
sg_error *sg_release_rollback(sg_store *store, const sg_policy *policy, int to, const char *actor,
                              const char *reason, int64_t now_ms) SG_MUST_CHECK;

#endif
