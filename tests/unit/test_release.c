/* test_release.c — the staged release: gates refusing then accepting,
 * min_days against the clock, sign-off rules, history, rollback, incidents
 * (suspension, rollback, close), deployment strategies, evaluation storage,
 * the report. Real SQLite (in memory), real policies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/audit.h"
#include "base/init.h"
#include "eval/evals.h"
#include "release/incidents.h"
#include "release/report.h"
#include "release/stages.h"

#define DAY (86400LL * 1000)
static const int64_t T0 = 1700000000000LL;

static const char policy_yaml[] =
    "model_name: \"t\"\n"
    "version: \"v1\"\n"
    "deployment_strategy: \"%s\"\n"
    "current_stage: \"A\"\n"
    "models: {m-small: \"m1\", m-large: \"m2\"}\n"
    "release_stages:\n"
    "  - name: \"A\"\n"
    "    audience: \"internal_devs\"\n"
    "    duration_days: 7\n"
    "    risk_assessment_status: \"completed\"\n"
    "    safety_protocols_enabled: [\"rate_limit\"]\n"
    "    models: [\"m-small\"]\n"
    "    access: \"gradual\"\n"
    "  - name: \"B\"\n"
    "    audience: \"partners\"\n"
    "    duration_days: 7\n"
    "    risk_assessment_status: \"completed\"\n"
    "    safety_protocols_enabled: [\"rate_limit\", \"watermark\"]\n"
    "    models: [\"m-large\"]\n"
    "    access: \"api\"\n"
    "    gates:\n"
    "      evaluations:\n"
    "        - {suite: \"perplexity\", model: \"m-small\", metric: \"perplexity\", max: 50}\n"
    "      signoffs: {count: 2, reviewers: [\"ann\", \"bob\", \"cy\"]}\n"
    "  - name: \"C\"\n"
    "    audience: \"public\"\n"
    "    duration_days: 7\n"
    "    risk_assessment_status: \"none\"\n"
    "    safety_protocols_enabled: [\"rate_limit\"]\n"
    "    access: \"api\"\n"
    "    gates: {min_days: 0}\n"
    "monitoring_frequency: \"weekly\"\n"
    "incident_response_plan: \"wiki/incidents\"\n";

typedef struct {
    sg_policy *p;
    sg_store *s;
} fixture;

static void open_fixture(fixture *f, const char *strategy) {
    char text[4096];
    snprintf(text, sizeof text, policy_yaml, strategy);
    sg_error *err = sg_policy_load_string("test.yaml", text, strlen(text), NULL, &f->p);
    if (err) fail_msg("%s", sg_error_message(err));
    assert_null(sg_store_open(":memory:", &f->s));
}

static void close_fixture(fixture *f) {
    sg_store_close(f->s);
    sg_policy_free(f->p);
}

static const sg_gate_result *gate(const sg_gate_report *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->gates[i].name, name)) return &r->gates[i];
    return NULL;
}

static int stage_now(fixture *f) {
    sg_release_state st;
    assert_null(sg_release_state_load(f->s, f->p, &st));
    int s = st.stage;
    sg_release_state_free(&st);
    return s;
}

static void add_eval(fixture *f, const char *model, const char *metric, double v, int64_t t) {
    sg_eval_metric m = {.value = v};
    snprintf(m.name, sizeof m.name, "%s", metric);
    assert_null(sg_eval_record_metrics(f->s, "perplexity", model, "heldout", &m, 1, t, NULL));
}

static void add_signoff(fixture *f, const char *stage, const char *who, int64_t t) {
    sg_signoff_record r = {.time_ms = t};
    snprintf(r.stage, sizeof r.stage, "%s", stage);
    snprintf(r.reviewer, sizeof r.reviewer, "%s", who);
    assert_null(sg_store_signoff_add(f->s, &r, NULL));
}

static void add_risk(fixture *f, const char *stage, const char *status, int64_t t) {
    sg_risk_record r = {.time_ms = t};
    snprintf(r.stage, sizeof r.stage, "%s", stage);
    snprintf(r.status, sizeof r.status, "%s", status);
    snprintf(r.author, sizeof r.author, "ann");
    snprintf(r.file, sizeof r.file, "ra.md");
    assert_null(sg_store_risk_add(f->s, &r, "assessment", NULL));
}

static void test_gates_refuse_then_accept(void **state) {
    (void)state;
    fixture f;
    open_fixture(&f, "staged_release");
    sg_gate_report r;
    int moved = 1;
    assert_null(sg_release_advance(f.s, f.p, "ann", 0, NULL, T0, &r, &moved));
    assert_int_equal(moved, 0);
    assert_int_equal(r.all_met, 0);
    assert_int_equal(r.to, 1);
    assert_int_equal(gate(&r, "min_days")->met, 0);
    assert_int_equal(gate(&r, "risk_assessment")->met, 0);
    assert_int_equal(gate(&r, "evaluation")->met, 0);
    assert_int_equal(gate(&r, "signoffs")->met, 0);
    assert_int_equal(gate(&r, "incidents")->met, 1);
    assert_int_equal(stage_now(&f), 0);

    /* evidence arrives; a failing evaluation is replaced by a passing one */
    add_risk(&f, "B", "in_progress", T0 + 1);
    add_eval(&f, "m-small", "perplexity", 80.0, T0 + 2);
    add_signoff(&f, "B", "ann", T0 + 3);
    add_signoff(&f, "B", "ann", T0 + 4);     /* the same reviewer counts once */
    add_signoff(&f, "B", "mallory", T0 + 5); /* not a named reviewer */
    sg_release_state st;
    assert_null(sg_release_state_load(f.s, f.p, &st));
    assert_null(sg_release_gates(f.s, f.p, &st, T0 + 7 * DAY - 1, &r));
    assert_int_equal(gate(&r, "min_days")->met, 0); /* one millisecond short of 7 days */
    assert_int_equal(gate(&r, "risk_assessment")->met, 0);
    assert_int_equal(gate(&r, "evaluation")->met, 0);
    assert_non_null(strstr(gate(&r, "evaluation")->evidence, "perplexity = 80"));
    assert_int_equal(gate(&r, "signoffs")->met, 0);
    assert_non_null(strstr(gate(&r, "signoffs")->evidence, "1 of 2: ann"));
    sg_release_state_free(&st);

    add_risk(&f, "B", "completed", T0 + 6);
    add_eval(&f, "m-small", "perplexity", 42.0, T0 + 7);
    add_signoff(&f, "B", "cy", T0 + 8);
    assert_null(sg_release_advance(f.s, f.p, "ann", 0, NULL, T0 + 7 * DAY - 1, &r, &moved));
    assert_int_equal(moved, 0); /* only min_days left */
    for (int i = 0; i < r.n; i++) assert_int_equal(r.gates[i].met, strcmp(r.gates[i].name, "min_days") != 0);
    assert_null(sg_release_advance(f.s, f.p, "ann", 0, NULL, T0 + 7 * DAY, &r, &moved));
    assert_int_equal(moved, 1);
    assert_int_equal(r.all_met, 1);
    assert_int_equal(stage_now(&f), 1);
    close_fixture(&f);
}

static void test_force_history_rollback(void **state) {
    (void)state;
    fixture f;
    open_fixture(&f, "staged_release");
    sg_gate_report r;
    int moved = 0;
    sg_error *err = sg_release_advance(f.s, f.p, "boss", 1, "", T0, &r, &moved);
    assert_non_null(err); /* force needs a reason */
    assert_non_null(strstr(sg_error_message(err), "--reason"));
    sg_error_free(err);
    assert_null(sg_release_advance(f.s, f.p, "boss", 1, "board decision", T0 + 10, &r, &moved));
    assert_int_equal(moved, 1);
    /* C has min_days 0, no risk gate, no sign-offs: only its protocols and incidents */
    assert_null(sg_release_advance(f.s, f.p, "ann", 0, NULL, T0 + 20, &r, &moved));
    assert_int_equal(moved, 1);
    assert_int_equal(stage_now(&f), 2);
    /* the last stage cannot advance, even forced */
    err = sg_release_advance(f.s, f.p, "ann", 1, "x", T0 + 30, &r, &moved);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "last stage"));
    sg_error_free(err);
    /* rollback: needs a reason, must go backwards */
    err = sg_release_rollback(f.s, f.p, -1, "ann", NULL, T0 + 40);
    assert_non_null(err);
    sg_error_free(err);
    err = sg_release_rollback(f.s, f.p, 2, "ann", "x", T0 + 40);
    assert_non_null(err);
    sg_error_free(err);
    assert_null(sg_release_rollback(f.s, f.p, 0, "ann", "regression found", T0 + 50));
    assert_int_equal(stage_now(&f), 0);

    sg_stage_move *mv = NULL;
    size_t n = 0;
    assert_null(sg_store_stage_moves(f.s, 0, &mv, &n));
    assert_int_equal(n, 4);
    assert_string_equal(mv[0].kind, "start");
    assert_string_equal(mv[1].kind, "advance");
    assert_int_equal(mv[1].override, 1);
    assert_string_equal(mv[1].actor, "boss");
    assert_string_equal(mv[1].reason, "board decision");
    assert_non_null(strstr(mv[1].evidence, "[UNMET] signoffs"));
    assert_int_equal(mv[2].override, 0);
    assert_string_equal(mv[3].kind, "rollback");
    assert_string_equal(mv[3].to_stage, "A");
    free(mv);
    assert_null(sg_store_stage_moves(f.s, T0 + 15, &mv, &n));
    assert_int_equal(n, 2);
    free(mv);

    /* every move is in the audit log */
    int64_t count = 0, last = 0;
    assert_null(sg_store_audit_count(f.s, &count, &last));
    assert_int_equal(count, 4);
    close_fixture(&f);
}

static void test_signoffs_reset_on_reentry(void **state) {
    (void)state;
    fixture f;
    open_fixture(&f, "staged_release");
    sg_gate_report r;
    int moved;
    add_signoff(&f, "B", "ann", T0 + 1);
    add_signoff(&f, "B", "bob", T0 + 2);
    assert_null(sg_release_ensure_started(f.s, f.p, "ann", T0));
    sg_release_state st;
    assert_null(sg_release_state_load(f.s, f.p, &st));
    assert_null(sg_release_gates(f.s, f.p, &st, T0 + 3, &r));
    assert_int_equal(gate(&r, "signoffs")->met, 1);
    sg_release_state_free(&st);
    /* leave A and come back: the sign-offs given before are no longer counted */
    assert_null(sg_release_advance(f.s, f.p, "ann", 1, "x", T0 + 4, &r, &moved));
    assert_null(sg_release_rollback(f.s, f.p, -1, "ann", "back", T0 + 5));
    assert_null(sg_release_state_load(f.s, f.p, &st));
    assert_int_equal(st.entered_ms, T0 + 5);
    assert_null(sg_release_gates(f.s, f.p, &st, T0 + 6, &r));
    assert_int_equal(gate(&r, "signoffs")->met, 0);
    sg_release_state_free(&st);
    close_fixture(&f);
}

static void test_incidents(void **state) {
    (void)state;
    fixture f;
    open_fixture(&f, "staged_release");
    sg_incident_record in = {.rollback = 0};
    snprintf(in.severity, sizeof in.severity, "urgent");
    snprintf(in.reason, sizeof in.reason, "leak");
    int64_t id = 0;
    sg_error *err = sg_incident_open(f.s, f.p, &in, T0, &id);
    assert_non_null(err); /* unknown severity */
    sg_error_free(err);
    snprintf(in.severity, sizeof in.severity, "high");
    snprintf(in.suspend_audience, sizeof in.suspend_audience, "nobody");
    err = sg_incident_open(f.s, f.p, &in, T0, &id);
    assert_non_null(err); /* unknown audience */
    assert_non_null(strstr(sg_error_message(err), "nobody"));
    sg_error_free(err);
    snprintf(in.suspend_audience, sizeof in.suspend_audience, "partners");
    in.rollback = 1;
    err = sg_incident_open(f.s, f.p, &in, T0, &id);
    assert_non_null(err); /* cannot roll back from the first stage */
    sg_error_free(err);
    in.rollback = 0;

    int64_t v0 = 0, v1 = 0;
    assert_null(sg_store_release_version(f.s, &v0));
    assert_null(sg_incident_open(f.s, f.p, &in, T0 + 1, &id));
    assert_null(sg_store_release_version(f.s, &v1));
    assert_true(v1 > v0); /* the server's cue */
    sg_release_state st;
    assert_null(sg_release_state_load(f.s, f.p, &st));
    assert_int_equal(st.n_incidents, 1);
    assert_int_equal(sg_release_suspended(&st, "partners", "m-small"), id);
    assert_int_equal(sg_release_suspended(&st, "internal_devs", "m-small"), 0);
    sg_gate_report r;
    assert_null(sg_release_gates(f.s, f.p, &st, T0 + 2, &r));
    assert_int_equal(gate(&r, "incidents")->met, 0);
    sg_release_state_free(&st);

    /* a model suspension and a rollback */
    int moved;
    assert_null(sg_release_advance(f.s, f.p, "ann", 1, "x", T0 + 3, &r, &moved));
    assert_int_equal(stage_now(&f), 1);
    sg_incident_record in2 = {.rollback = 1};
    snprintf(in2.severity, sizeof in2.severity, "critical");
    snprintf(in2.reason, sizeof in2.reason, "weights leaked");
    snprintf(in2.suspend_model, sizeof in2.suspend_model, "m-large");
    int64_t id2 = 0;
    assert_null(sg_incident_open(f.s, f.p, &in2, T0 + 4, &id2));
    assert_int_equal(stage_now(&f), 0);
    assert_null(sg_release_state_load(f.s, f.p, &st));
    assert_int_equal(sg_release_suspended(&st, "internal_devs", "m-large"), id2);
    sg_release_state_free(&st);

    assert_null(sg_incident_close(f.s, f.p, id, "ann", "fixed", T0 + 5));
    err = sg_incident_close(f.s, f.p, id, "ann", "again", T0 + 6);
    assert_non_null(err); /* already closed */
    sg_error_free(err);
    err = sg_incident_close(f.s, f.p, 999, "ann", "", T0 + 6);
    assert_non_null(err);
    sg_error_free(err);
    assert_null(sg_release_state_load(f.s, f.p, &st));
    assert_int_equal(st.n_incidents, 1);
    assert_int_equal(sg_release_suspended(&st, "partners", NULL), 0);
    sg_release_state_free(&st);
    sg_incident_record *all = NULL;
    size_t n = 0;
    assert_null(sg_store_incidents(f.s, 0, &all, &n));
    assert_int_equal(n, 2);
    assert_int_equal(all[0].closed_ms, T0 + 5);
    assert_string_equal(all[0].close_note, "fixed");
    free(all);

    /* request records as the server writes them (time = now: the report's window) */
    assert_null(sg_audit_note(f.s, 0, "allowed", "A", "internal_devs", "m-small", NULL));
    assert_null(sg_audit_note(f.s, 0, "allowed", "A", "internal_devs", "m-small", NULL));
    assert_null(sg_audit_note(f.s, 0, "429", "A", "internal_devs", "m-small", "rate"));
    assert_null(sg_audit_note(f.s, 0, "filtered", "A", "internal_devs", "m-small", "violence"));
    assert_null(sg_audit_note(f.s, 0, "403", "A", "partners", "m-small", "incident #1"));
    json_t *now_rep = NULL;
    int64_t now = (int64_t)time(NULL) * 1000;
    assert_null(sg_report_build(f.s, f.p, now - DAY, now + DAY, &now_rep));
    assert_int_equal(json_integer_value(json_object_get(now_rep, "requests")),
                     5); /* release events excluded */
    json_t *refusals = json_object_get(now_rep, "refusals");
    assert_int_equal(json_integer_value(json_object_get(refusals, "429")), 1);
    assert_int_equal(json_integer_value(json_object_get(refusals, "403")), 1);
    assert_int_equal(json_integer_value(json_object_get(refusals, "filter")), 1);
    json_t *usage = json_object_get(now_rep, "usage");
    assert_int_equal(json_array_size(usage), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(usage, 0), "audience")),
                        "internal_devs");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(usage, 0), "requests")), 2);
    json_decref(now_rep);

    /* the report sees both incidents and the moves */
    json_t *rep = NULL;
    assert_null(sg_report_build(f.s, f.p, T0 - DAY, T0 + DAY, &rep));
    assert_int_equal(json_array_size(json_object_get(rep, "incidents")), 2);
    assert_int_equal(json_array_size(json_object_get(rep, "stage_changes")), 3);
    assert_string_equal(json_string_value(json_object_get(rep, "incident_response_plan")), "wiki/incidents");
    assert_string_equal(json_string_value(json_object_get(rep, "monitoring_frequency")), "weekly");
    char *text = sg_report_text(rep);
    assert_non_null(strstr(text, "## Incidents"));
    free(text);
    json_decref(rep);
    close_fixture(&f);
}

static void test_strategies(void **state) {
    (void)state;
    fixture f;
    sg_gate_report r;
    int moved = 0;
    open_fixture(&f, "internal_only");
    sg_error *err = sg_release_advance(f.s, f.p, "ann", 1, "please", T0, &r, &moved);
    assert_non_null(err); /* never leaves the first stage, not even forced */
    assert_non_null(strstr(sg_error_message(err), "internal_only"));
    sg_error_free(err);
    assert_int_equal(moved, 0);
    assert_int_equal(stage_now(&f), 0);
    close_fixture(&f);

    open_fixture(&f, "full_release");
    assert_null(sg_release_advance(f.s, f.p, "ann", 0, NULL, T0, &r, &moved));
    assert_int_equal(moved, 1); /* no gates */
    assert_int_equal(r.n, 1);
    assert_string_equal(r.gates[0].name, "full_release");
    close_fixture(&f);
}

static void test_evals(void **state) {
    (void)state;
    fixture f;
    open_fixture(&f, "staged_release");
    assert_non_null(sg_eval_find("perplexity"));
    assert_null(sg_eval_find("nope"));
    static const sg_eval_suite dup = {"perplexity", "again", NULL, NULL};
    sg_error *err = sg_eval_register(&dup);
    assert_non_null(err);
    sg_error_free(err);
    sg_eval_context ctx = {.model_name = "m-small", .model_dir = "/nonexistent"};
    err = sg_eval_run_and_store(f.s, "nope", &ctx, T0, NULL, NULL, NULL);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "available: perplexity"));
    sg_error_free(err);
    err = sg_eval_run_and_store(f.s, "perplexity", &ctx, T0, NULL, NULL, NULL);
    assert_non_null(err); /* no such checkpoint: nothing stored */
    sg_error_free(err);
    sg_eval_metric m[2] = {{"tpr", 0.99}, {"fpr", 0.01}};
    int64_t run = 0;
    assert_null(sg_eval_record_metrics(f.s, "watermark", "m-small", "", m, 2, T0, &run));
    m[0].value = 0.5;
    assert_null(sg_eval_record_metrics(f.s, "watermark", "m-small", "", m, 1, T0 + 1, NULL));
    sg_eval_record rec;
    bool found = false;
    assert_null(sg_store_eval_latest(f.s, "watermark", "m-small", "tpr", &rec, &found));
    assert_true(found);
    assert_true(rec.value == 0.5);
    assert_null(sg_store_eval_latest(f.s, "watermark", "m-small", "fpr", &rec, &found));
    assert_true(found);
    assert_int_equal(rec.run_id, run);
    assert_string_equal(rec.source, "recorded");
    assert_string_equal(rec.code_version, sg_eval_code_version());
    assert_null(sg_store_eval_latest(f.s, "watermark", "m-large", "tpr", &rec, &found));
    assert_false(found);
    sg_eval_metric bad = {"x", INFINITY};
    err = sg_eval_record_metrics(f.s, "w", "m-small", "", &bad, 1, T0, NULL);
    assert_non_null(err); /* not finite */
    sg_error_free(err);
    close_fixture(&f);
}

static void test_report_files(void **state) {
    (void)state;
    fixture f;
    open_fixture(&f, "staged_release");
    char dir[] = "/tmp/sg_reports_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[64];
    snprintf(sub, sizeof sub, "%s/db.reports", dir);
    assert_null(sg_release_ensure_started(f.s, f.p, "ann", T0));
    assert_null(sg_report_write(f.s, f.p, sub, T0 + 1000)); /* creates the directory */
    char path[128];
    snprintf(path, sizeof path, "%s/report-20231114T221321Z.json", sub);
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j) fail_msg("%s: %s", path, jerr.text);
    assert_string_equal(json_string_value(json_object_get(j, "current_stage")), "A");
    assert_string_equal(json_string_value(json_object_get(j, "since")), "2023-11-07T22:13:21Z"); /* weekly */
    assert_int_equal(json_array_size(json_object_get(j, "stage_changes")), 1);
    json_decref(j);
    snprintf(path, sizeof path, "%s/report-20231114T221321Z.md", sub);
    FILE *md = fopen(path, "r");
    assert_non_null(md);
    char line[256] = "";
    assert_non_null(fgets(line, sizeof line, md));
    assert_string_equal(line, "# Release report: t\n");
    fclose(md);
    char *rd = sg_report_dir("/x/y.db");
    assert_string_equal(rd, "/x/y.db.reports");
    free(rd);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    close_fixture(&f);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gates_refuse_then_accept),
        cmocka_unit_test(test_force_history_rollback),
        cmocka_unit_test(test_signoffs_reset_on_reentry),
        cmocka_unit_test(test_incidents),
        cmocka_unit_test(test_strategies),
        cmocka_unit_test(test_report_files),
        cmocka_unit_test(test_evals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
