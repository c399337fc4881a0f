/* store_release.h — the records of the staged release (store_release.c):
 * stage moves, risk assessments, mitigations, evaluations, sign-offs,
 * incidents, and the change counter the server polls. Used by src/release. */
#ifndef SG_STORE_RELEASE_H
#define SG_STORE_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/* ---- the staged release (src/release) ------------------------------------
 * Records of the release process. Strings are fixed-size and truncated on
 * read; every table is append-only except incidents (closed in place). */

#define SG_REL_NAME_MAX 128
#define SG_REL_TEXT_MAX 2048

typedef struct {
    int64_t id, time_ms;
    char from_stage[SG_REL_NAME_MAX], to_stage[SG_REL_NAME_MAX];
    char kind[32]; /* "start", "advance", "rollback" */
    char actor[SG_REL_NAME_MAX];
    char reason[SG_REL_TEXT_MAX];
    char evidence[SG_REL_TEXT_MAX]; /* the gate report at the time of the move */
    int override;                   /* 1: moved with --force despite unmet gates */
} sg_stage_move;

typedef struct {
    int64_t id, time_ms;
    char stage[SG_REL_NAME_MAX], status[32], author[SG_REL_NAME_MAX];
    char file[SG_REL_TEXT_MAX];
    char digest[65]; /* hex BLAKE2b-256 of the document */
} sg_risk_record;

typedef struct {
    int64_t id, time_ms;
    char item[SG_REL_NAME_MAX], status[32], actor[SG_REL_NAME_MAX];
    char note[SG_REL_TEXT_MAX];
} sg_mitigation_record;

typedef struct {
    int64_t id, time_ms, run_id;
    char suite[SG_REL_NAME_MAX], model[SG_REL_NAME_MAX], metric[SG_REL_NAME_MAX];
    double value;
    char dataset[SG_REL_TEXT_MAX];
    char code_version[64];
    char source[32]; /* "run" (computed by stagegate) or "recorded" (entered by an operator) */
} sg_eval_record;

typedef struct {
    int64_t id, time_ms;
    char stage[SG_REL_NAME_MAX], reviewer[SG_REL_NAME_MAX];
    char note[SG_REL_TEXT_MAX];
} sg_signoff_record;

typedef struct {
    int64_t id, opened_ms;
    char severity[32];
    char reason[SG_REL_TEXT_MAX]; /* internal: never shown to API callers */
    char suspend_audience[SG_REL_NAME_MAX], suspend_model[SG_REL_NAME_MAX]; /* "" = none */
    int rollback;
    char opened_by[SG_REL_NAME_MAX];
    int64_t closed_ms; /* 0 = open */
    char closed_by[SG_REL_NAME_MAX], close_note[SG_REL_TEXT_MAX];
} sg_incident_record;

/* Appends a record (its id is ignored; *id may be NULL). */
sg_error *sg_store_stage_move_add(sg_store *store, const sg_stage_move *m, int64_t *id) SG_MUST_CHECK;
sg_error *sg_store_risk_add(sg_store *store, const sg_risk_record *r, const char *body,
                            int64_t *id) SG_MUST_CHECK;
sg_error *sg_store_mitigation_add(sg_store *store, const sg_mitigation_record *m, int64_t *id) SG_MUST_CHECK;
sg_error *sg_store_signoff_add(sg_store *store, const sg_signoff_record *s, int64_t *id) SG_MUST_CHECK;
sg_error *sg_store_incident_add(sg_store *store, const sg_incident_record *inc, int64_t *id) SG_MUST_CHECK;
/* Stores the metrics of one evaluation run together; they share a run id
 * (the first row's id), written to each record and to *run_id. */
sg_error *sg_store_eval_add(sg_store *store, sg_eval_record *recs, size_t n, int64_t *run_id) SG_MUST_CHECK;

/* Closes an open incident; *changed is false when it does not exist or is closed. */
sg_error *sg_store_incident_close(sg_store *store, int64_t id, int64_t now_ms, const char *by,
                                  const char *note, bool *changed) SG_MUST_CHECK;

/* Lists, oldest first, of records with time >= since_ms (0 = all). Free *out
 * with free(). */
sg_error *sg_store_stage_moves(sg_store *store, int64_t since_ms, sg_stage_move **out,
                               size_t *n) SG_MUST_CHECK;
sg_error *sg_store_risks(sg_store *store, sg_risk_record **out, size_t *n) SG_MUST_CHECK;
sg_error *sg_store_mitigations(sg_store *store, sg_mitigation_record **out, size_t *n) SG_MUST_CHECK;
sg_error *sg_store_signoffs(sg_store *store, sg_signoff_record **out, size_t *n) SG_MUST_CHECK;
sg_error *sg_store_incidents(sg_store *store, int64_t since_ms, sg_incident_record **out,
                             size_t *n) SG_MUST_CHECK;
/* Evaluation results; `model` NULL = every model. */
sg_error *sg_store_evals(sg_store *store, const char *model, sg_eval_record **out, size_t *n) SG_MUST_CHECK;
/* The latest result of suite/model/metric; *found false when none. */
sg_error *sg_store_eval_latest(sg_store *store, const char *suite, const char *model, const char *metric,
                               sg_eval_record *out, bool *found) SG_MUST_CHECK;

/* The release change counter: grows with every stage move and every incident
 * opened or closed, from any process. One indexed row: cheap to poll. */
sg_error *sg_store_release_version(sg_store *store, int64_t *version) SG_MUST_CHECK;

#endif
