/* store_release.c — the staged release's records (store_release.h). Every
 * table is append-only except incidents (closed in place); lists are read on
 * the reader connection, oldest first. */
#include "store/store_release.h"

#include <stdlib.h>

#include "store/store_int.h"

#define MOVE_COLUMNS "id, time_ms, from_stage, to_stage, kind, actor, reason, evidence, override"
#define INCIDENT_COLUMNS                                                                                     \
    "id, opened_ms, severity, reason, suspend_audience, suspend_model, rollback, opened_by, closed_ms, "     \
    "closed_by, close_note"
#define EVAL_COLUMNS "id, time_ms, run_id, suite, model, metric, value, dataset, code_version, source"

static const sgs_query MOVE_ADD = {"INSERT INTO stage_moves (time_ms, from_stage, to_stage, kind, actor, "
                                   "reason, evidence, override) VALUES (?,?,?,?,?,?,?,?)",
                                   "recording stage move"};
static const sgs_query MOVES = {"SELECT " MOVE_COLUMNS " FROM stage_moves WHERE time_ms >= ? ORDER BY id",
                                "reading stage moves"};
static const sgs_query RISK_ADD = {"INSERT INTO risk_assessments (time_ms, stage, status, author, file, "
                                   "digest, body) VALUES (?,?,?,?,?,?,?)",
                                   "recording risk assessment"};
static const sgs_query RISKS = {"SELECT id, time_ms, stage, status, author, file, digest "
                                "FROM risk_assessments ORDER BY id",
                                "reading risk assessments"};
static const sgs_query MITIGATION_ADD = {"INSERT INTO mitigations (time_ms, item, status, actor, note) "
                                         "VALUES (?,?,?,?,?)",
                                         "recording mitigation status"};
static const sgs_query MITIGATIONS = {"SELECT id, time_ms, item, status, actor, note FROM mitigations "
                                      "ORDER BY id",
                                      "reading mitigations"};
static const sgs_query SIGNOFF_ADD = {
    "INSERT INTO signoffs (time_ms, stage, reviewer, note) VALUES (?,?,?,?)", "recording sign-off"};
static const sgs_query SIGNOFFS = {"SELECT id, time_ms, stage, reviewer, note FROM signoffs ORDER BY id",
                                   "reading sign-offs"};
static const sgs_query INCIDENT_ADD = {
    "INSERT INTO incidents (opened_ms, severity, reason, suspend_audience, "
    "suspend_model, rollback, opened_by) VALUES (?,?,?,?,?,?,?)",
    "recording incident"};
static const sgs_query INCIDENT_CLOSE = {"UPDATE incidents SET closed_ms = ?, closed_by = ?, close_note = ? "
                                         "WHERE id = ? AND closed_ms = 0",
                                         "closing incident"};
/* an incident still open, or closed after `since`, belongs to the period */
static const sgs_query INCIDENTS = {"SELECT " INCIDENT_COLUMNS " FROM incidents WHERE opened_ms >= ?1 "
                                    "OR closed_ms = 0 OR closed_ms >= ?1 ORDER BY id",
                                    "reading incidents"};
static const sgs_query EVAL_ADD = {"INSERT INTO evaluations (time_ms, run_id, suite, model, metric, value, "
                                   "dataset, code_version, source) VALUES (?,?,?,?,?,?,?,?,?)",
                                   "storing evaluation"};
static const sgs_query EVAL_RUN_ID = {"UPDATE evaluations SET run_id = ?1 WHERE id = ?1",
                                      "storing evaluation"};
static const sgs_query EVALS = {"SELECT " EVAL_COLUMNS " FROM evaluations ORDER BY id",
                                "reading evaluations"};
static const sgs_query EVALS_OF = {"SELECT " EVAL_COLUMNS " FROM evaluations WHERE model = ? ORDER BY id",
                                   "reading evaluations"};
static const sgs_query EVAL_LATEST = {"SELECT " EVAL_COLUMNS " FROM evaluations WHERE suite = ? AND "
                                      "model = ? AND metric = ? ORDER BY id DESC LIMIT 1",
                                      "reading evaluations"};
static const sgs_query VERSION = {"SELECT value FROM release_version WHERE id = 1",
                                  "reading release version"};

/* Runs an INSERT or UPDATE already bound: *id (may be NULL) gets the new id. */
static sg_error *add(sgs_q *q, int64_t *id) {
    sgs_result res;
    sg_error *err = sgs_run(q, &res);
    if (!err && id) *id = res.id;
    return err;
}

/* ---- stage moves ------------------------------------------------------------------ */

static void read_move(const sgs_q *q, void *rec) {
    sg_stage_move *m = rec;
    m->id = sgs_col_int(q, 0);
    m->time_ms = sgs_col_int(q, 1);
    sgs_col_text(q, 2, m->from_stage, sizeof m->from_stage);
    sgs_col_text(q, 3, m->to_stage, sizeof m->to_stage);
    sgs_col_text(q, 4, m->kind, sizeof m->kind);
    sgs_col_text(q, 5, m->actor, sizeof m->actor);
    sgs_col_text(q, 6, m->reason, sizeof m->reason);
    sgs_col_text(q, 7, m->evidence, sizeof m->evidence);
    m->override = (int)sgs_col_int(q, 8);
}

sg_error *sg_store_stage_move_add(sg_store *s, const sg_stage_move *m, int64_t *id) {
    sgs_q q;
    sg_error *err = sgs_open(&q, &s->writer, &MOVE_ADD);
    if (err) return err;
    sgs_int(&q, m->time_ms);
    sgs_str(&q, m->from_stage);
    sgs_str(&q, m->to_stage);
    sgs_str(&q, m->kind);
    sgs_str(&q, m->actor);
    sgs_str(&q, m->reason);
    sgs_str(&q, m->evidence);
    sgs_int(&q, m->override);
    return add(&q, id);
}

sg_error *sg_store_stage_moves(sg_store *s, int64_t since_ms, sg_stage_move **out, size_t *n) {
    sgs_q q;
    sg_error *err = sgs_open(&q, s->reader, &MOVES);
    if (err) return err;
    sgs_int(&q, since_ms);
    return sgs_list(&q, read_move, sizeof **out, (void **)out, n);
}

/* ---- risk assessments, mitigations, sign-offs ---------------------------------------- */

static void read_risk(const sgs_q *q, void *rec) {
    sg_risk_record *r = rec;
    r->id = sgs_col_int(q, 0);
    r->time_ms = sgs_col_int(q, 1);
    sgs_col_text(q, 2, r->stage, sizeof r->stage);
    sgs_col_text(q, 3, r->status, sizeof r->status);
    sgs_col_text(q, 4, r->author, sizeof r->author);
    sgs_col_text(q, 5, r->file, sizeof r->file);
    sgs_col_text(q, 6, r->digest, sizeof r->digest);
}

sg_error *sg_store_risk_add(sg_store *s, const sg_risk_record *r, const char *body, int64_t *id) {
    sgs_q q;
    sg_error *err = sgs_open(&q, &s->writer, &RISK_ADD);
    if (err) return err;
    sgs_int(&q, r->time_ms);
    sgs_str(&q, r->stage);
    sgs_str(&q, r->status);
    sgs_str(&q, r->author);
    sgs_str(&q, r->file);
    sgs_str(&q, r->digest);
    sgs_str(&q, body);
    return add(&q, id);
}

sg_error *sg_store_risks(sg_store *s, sg_risk_record **out, size_t *n) {
    sgs_q q;
    sg_error *err = sgs_open(&q, s->reader, &RISKS);
    return err ? err : sgs_list(&q, read_risk, sizeof **out, (void **)out, n);
}

static void read_mitigation(const sgs_q *q, void *rec) {
    sg_mitigation_record *m = rec;
    m->id = sgs_col_int(q, 0);
    m->time_ms = sgs_col_int(q, 1);
    sgs_col_text(q, 2, m->item, sizeof m->item);
    sgs_col_text(q, 3, m->status, sizeof m->status);
    sgs_col_text(q, 4, m->actor, sizeof m->actor);
    sgs_col_text(q, 5, m->note, sizeof m->note);
}

sg_error *sg_store_mitigation_add(sg_store *s, const sg_mitigation_record *m, int64_t *id) {
    sgs_q q;
    sg_error *err = sgs_open(&q, &s->writer, &MITIGATION_ADD);
    if (err) return err;
    sgs_int(&q, m->time_ms);
    sgs_str(&q, m->item);
    sgs_str(&q, m->status);
    sgs_str(&q, m->actor);
    sgs_str(&q, m->note);
    return add(&q, id);
}

sg_error *sg_store_mitigations(sg_store *s, sg_mitigation_record **out, size_t *n) {
    sgs_q q;
    sg_error *err = sgs_open(&q, s->reader, &MITIGATIONS);
    return err ? err : sgs_list(&q, read_mitigation, sizeof **out, (void **)out, n);
}

static void read_signoff(const sgs_q *q, void *rec) {
    sg_signoff_record *r = rec;
    r->id = sgs_col_int(q, 0);
    r->time_ms = sgs_col_int(q, 1);
    sgs_col_text(q, 2, r->stage, sizeof r->stage);
    sgs_col_text(q, 3, r->reviewer, sizeof r->reviewer);
    sgs_col_text(q, 4, r->note, sizeof r->note);
}

sg_error *sg_store_signoff_add(sg_store *s, const sg_signoff_record *r, int64_t *id) {
    sgs_q q;
    sg_error *err = sgs_open(&q, &s->writer, &SIGNOFF_ADD);
    if (err) return err;
    sgs_int(&q, r->time_ms);
    sgs_str(&q, r->stage);
    sgs_str(&q, r->reviewer);
    sgs_str(&q, r->note);
    return add(&q, id);
}

sg_error *sg_store_signoffs(sg_store *s, sg_signoff_record **out, size_t *n) {
    sgs_q q;
    sg_error *err = sgs_open(&q, s->reader, &SIGNOFFS);
    return err ? err : sgs_list(&q, read_signoff, sizeof **out, (void **)out, n);
}

/* ---- incidents ------------------------------------------------------------------------ */

static void read_incident(const sgs_q *q, void *rec) {
    sg_incident_record *r = rec;
    r->id = sgs_col_int(q, 0);
    r->opened_ms = sgs_col_int(q, 1);
    sgs_col_text(q, 2, r->severity, sizeof r->severity);
    sgs_col_text(q, 3, r->reason, sizeof r->reason);
    sgs_col_text(q, 4, r->suspend_audience, sizeof r->suspend_audience);
    sgs_col_text(q, 5, r->suspend_model, sizeof r->suspend_model);
    r->rollback = (int)sgs_col_int(q, 6);
    sgs_col_text(q, 7, r->opened_by, sizeof r->opened_by);
    r->closed_ms = sgs_col_int(q, 8);
    sgs_col_text(q, 9, r->closed_by, sizeof r->closed_by);
    sgs_col_text(q, 10, r->close_note, sizeof r->close_note);
}

sg_error *sg_store_incident_add(sg_store *s, const sg_incident_record *r, int64_t *id) {
    sgs_q q;
    sg_error *err = sgs_open(&q, &s->writer, &INCIDENT_ADD);
    if (err) return err;
    sgs_int(&q, r->opened_ms);
    sgs_str(&q, r->severity);
    sgs_str(&q, r->reason);
    sgs_str(&q, r->suspend_audience);
    sgs_str(&q, r->suspend_model);
    sgs_int(&q, r->rollback);
    sgs_str(&q, r->opened_by);
    return add(&q, id);
}

sg_error *sg_store_incident_close(sg_store *s, int64_t id, int64_t now_ms, const char *by, const char *note,
                                  bool *changed) {
    *changed = false;
    sgs_q q;
    sg_error *err = sgs_open(&q, &s->writer, &INCIDENT_CLOSE);
    if (err) return err;
    sgs_int(&q, now_ms > 0 ? now_ms : 1);
    sgs_str(&q, by);
    sgs_str(&q, note);
    sgs_int(&q, id);
    sgs_result res;
    if ((err = sgs_run(&q, &res))) return err;
    *changed = res.changes > 0;
    return NULL;
}

sg_error *sg_store_incidents(sg_store *s, int64_t since_ms, sg_incident_record **out, size_t *n) {
    sgs_q q;
    sg_error *err = sgs_open(&q, s->reader, &INCIDENTS);
    if (err) return err;
    sgs_int(&q, since_ms);
    return sgs_list(&q, read_incident, sizeof **out, (void **)out, n);
}

/* ---- evaluations -------------------------------------------------------------------------- */

static void read_eval(const sgs_q *q, void *rec) {
    sg_eval_record *r = rec;
    r->id = sgs_col_int(q, 0);
    r->time_ms = sgs_col_int(q, 1);
    r->run_id = sgs_col_int(q, 2);
    sgs_col_text(q, 3, r->suite, sizeof r->suite);
    sgs_col_text(q, 4, r->model, sizeof r->model);
    sgs_col_text(q, 5, r->metric, sizeof r->metric);
    r->value = sgs_col_real(q, 6);
    sgs_col_text(q, 7, r->dataset, sizeof r->dataset);
    sgs_col_text(q, 8, r->code_version, sizeof r->code_version);
    sgs_col_text(q, 9, r->source, sizeof r->source);
}

/* One run in one transaction: the first row's id becomes every row's run id. */
sg_error *sg_store_eval_add(sg_store *s, sg_eval_record *recs, size_t n, int64_t *run_id) {
    sgs_conn *c = &s->writer;
    sgs_conn_lock(c);
    sg_error *err = sgs_begin(c, "storing evaluation");
    if (err) goto out;
    int64_t run = 0;
    for (size_t i = 0; i < n; i++) {
        sgs_q q;
        if ((err = sgs_open_in(&q, c, &EVAL_ADD))) goto fail;
        const sg_eval_record *r = &recs[i];
        sgs_int(&q, r->time_ms);
        sgs_int(&q, run);
        sgs_str(&q, r->suite);
        sgs_str(&q, r->model);
        sgs_str(&q, r->metric);
        sgs_real(&q, r->value);
        sgs_str(&q, r->dataset);
        sgs_str(&q, r->code_version);
        sgs_str(&q, r->source);
        if (i == 0) {
            if ((err = add(&q, &run))) goto fail;
            if ((err = sgs_open_in(&q, c, &EVAL_RUN_ID))) goto fail;
            sgs_int(&q, run);
            if ((err = sgs_run(&q, NULL))) goto fail;
        } else if ((err = sgs_run(&q, NULL))) {
            goto fail;
        }
        recs[i].run_id = run;
    }
    if ((err = sgs_commit(c, "storing evaluation"))) goto fail;
    if (run_id) *run_id = run;
    goto out;
fail:
    sgs_rollback(c);
out:
    sgs_conn_unlock(c);
    return err;
}

sg_error *sg_store_evals(sg_store *s, const char *model, sg_eval_record **out, size_t *n) {
    sgs_q q;
    sg_error *err = sgs_open(&q, s->reader, model ? &EVALS_OF : &EVALS);
    if (err) return err;
    if (model) sgs_str(&q, model);
    return sgs_list(&q, read_eval, sizeof **out, (void **)out, n);
}

sg_error *sg_store_eval_latest(sg_store *s, const char *suite, const char *model, const char *metric,
                               sg_eval_record *out, bool *found) {
    *found = false;
    sgs_q q;
    sg_error *err = sgs_open(&q, s->reader, &EVAL_LATEST);
    if (err) return err;
    sgs_str(&q, suite);
    sgs_str(&q, model);
    sgs_str(&q, metric);
    sg_eval_record r = {0};
    if ((err = sgs_one(&q, read_eval, &r, found))) return err;
    if (*found) *out = r;
    return NULL;
}

static void read_version(const sgs_q *q, void *rec) { *(int64_t *)rec = sgs_col_int(q, 0); }

sg_error *sg_store_release_version(sg_store *s, int64_t *version) {
    *version = 0;
    sgs_q q;
    sg_error *err = sgs_open(&q, s->reader, &VERSION);
    return err ? err : sgs_one(&q, read_version, version, &(bool){false});
}
