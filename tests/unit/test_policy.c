/* test_policy.c — the release policy loader: the starter schema, the
 * extensions, errors and warnings at exact line:column, and the access
 * decisions the gateway makes. Runs from the source directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/init.h"
#include "base/log.h"
#include "release/policy.h"
#include "safety/filter.h"

static sg_policy *load_ok(const char *yaml) {
    sg_policy *p = NULL;
    sg_error *err = sg_policy_load_string("t.yaml", yaml, strlen(yaml), NULL, &p);
    if (err) fail_msg("unexpected error: %s", sg_error_message(err));
    assert_non_null(p);
    return p;
}

/* Loading must fail with exactly `expected` as the whole message. */
static void expect_error(const char *yaml, const char *expected) {
    sg_policy *p = (sg_policy *)1;
    sg_error *err = sg_policy_load_string("t.yaml", yaml, strlen(yaml), NULL, &p);
    if (!err) fail_msg("expected error '%s' but the policy loaded", expected);
    assert_null(p);
    if (strcmp(sg_error_message(err), expected))
        fail_msg("error\n  got:      %s\n  expected: %s", sg_error_message(err), expected);
    sg_error_free(err);
}

static int has(char *const *list, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

/* ------------------------------------------------------------ starter */

/* The starter file of the product brief, if this checkout sits next to it. */
static void shared_starter_loads_as_it_stands(void **state) {
    (void)state;
    const char *path = "../shared/policy-examples/starter.yaml";
    if (access(path, R_OK) != 0) skip();
    sg_policy *p;
    sg_error *err = sg_policy_load(path, &p);
    if (err) fail_msg("%s", sg_error_message(err));
    assert_int_equal(p->n_warnings, 0);
    assert_string_equal(p->model_name, "MyGenerativeAI");
    assert_int_equal(p->deployment_strategy, SG_DEPLOY_STAGED_RELEASE);
    assert_int_equal(p->n_stages, 2);
    assert_string_equal(p->stages[1].name, "Limited Beta");
    assert_int_equal(p->stages[1].duration_days, 60);
    assert_int_equal(p->n_mitigations, 3);
    assert_string_equal(p->mitigations[1].risk, "bias_reduction");
    assert_string_equal(p->mitigations[1].mitigation, "dataset_audits, fairness_metrics");
    assert_int_equal(p->monitoring_frequency, SG_MONITOR_DAILY);
    assert_string_equal(p->incident_response_plan, "link_to_internal_wiki/incident_plan");
    assert_true(sg_policy_audience_at(p, 1, "internal_devs"));
    assert_true(sg_policy_protocol_enabled(p, 1, "moderation_api"));
    assert_false(sg_policy_protocol_enabled(p, 1, "rate_limit"));
    sg_policy_free(p);
}

/* Our own file in the starter's exact shapes (quoted strings, inline
 * comments, risk_mitigation_plan as one-key maps), read field by field. */
static void starter_shaped_fixture(void **state) {
    (void)state;
    sg_policy *p;
    sg_error *err = sg_policy_load("tests/fixtures/policies/starter-shaped.yaml", &p);
    if (err) fail_msg("%s", sg_error_message(err));
    assert_int_equal(p->n_warnings, 0);
    assert_string_equal(p->model_name, "HarborChat");
    assert_string_equal(p->version, "v0.3-beta");
    assert_int_equal(p->deployment_strategy, SG_DEPLOY_STAGED_RELEASE);
    assert_int_equal(p->n_stages, 3);
    const sg_policy_stage *s = p->stages;
    assert_string_equal(s[0].name, "Staff Preview");
    assert_string_equal(s[1].name, "Partner Pilot");
    assert_string_equal(s[2].name, "General Availability");
    assert_int_equal(s[0].line, 6);
    assert_int_equal(s[0].column, 5);
    assert_int_equal(s[0].n_audiences, 1);
    assert_string_equal(s[0].audiences[0], "internal_devs");
    assert_int_equal(s[0].duration_days, 21);
    assert_int_equal(s[1].duration_days, 45);
    assert_int_equal(s[0].risk_assessment_status, SG_RISK_COMPLETED);
    assert_int_equal(s[1].risk_assessment_status, SG_RISK_IN_PROGRESS);
    assert_int_equal(s[2].risk_assessment_status, SG_RISK_PENDING);
    assert_int_equal(s[1].n_protocols, 3);
    assert_string_equal(s[1].protocols[2], "user_feedback_loop");
    /* Audiences accumulate. */
    assert_int_equal(s[2].n_effective_audiences, 3);
    assert_true(has(s[2].effective_audiences, 3, "internal_devs"));
    assert_true(has(s[2].effective_audiences, 3, "trusted_partners"));
    assert_true(has(s[2].effective_audiences, 3, "public"));
    assert_int_equal(s[1].n_effective_audiences, 2);
    /* Gates default from the starter keys. */
    assert_int_equal(s[1].gates.min_days, 21);
    assert_int_equal(s[2].gates.min_days, 45);
    assert_int_equal(s[1].gates.risk_assessment, SG_RISK_IN_PROGRESS);
    assert_int_equal(s[2].gates.n_safety_protocols, 3);
    assert_string_equal(s[2].gates.safety_protocols[1], "rate_limit");
    /* Defaults of the extensions. */
    assert_int_equal(p->n_models, 0);
    assert_int_equal(p->current_stage, 0);
    assert_int_equal(s[0].components[SG_COMPONENT_MODEL], SG_ACCESS_GRADUAL);
    assert_int_equal(s[2].components[SG_COMPONENT_REPLICATION], SG_ACCESS_FULLY_CLOSED);
    assert_int_equal(p->audit_text, SG_AUDIT_TEXT_HASHED);
    assert_int_equal(p->filter.n_categories, 0);
    assert_int_equal(p->n_mitigations, 3);
    assert_string_equal(p->mitigations[0].risk, "spam_generation");
    assert_string_equal(p->mitigations[1].mitigation, "output_filter, human_review_queue");
    assert_int_equal(p->monitoring_frequency, SG_MONITOR_WEEKLY);
    assert_string_equal(p->incident_response_plan, "runbooks/incident.md");
    /* Nothing is served: no models. */
    char why[256];
    assert_int_equal(sg_policy_decide(p, 0, "internal_devs", "anything", why, sizeof why),
                     SG_POLICY_DENY_UNKNOWN_MODEL);
    assert_string_equal(why, "model 'anything' does not exist");
    sg_policy_free(p);
}

/* ------------------------------------------------------ example policy */

static void example_release_decisions(void **state) {
    (void)state;
    sg_policy *p;
    sg_error *err = sg_policy_load("examples/release.yaml", &p);
    if (err) fail_msg("%s", sg_error_message(err));
    assert_int_equal(p->n_warnings, 0);
    assert_int_equal(p->n_stages, 4);
    assert_int_equal(p->n_models, 4);
    assert_string_equal(sg_policy_find_model(p, "sotu-small")->path, "models/sotu-small");
    assert_string_equal(sg_policy_find_model(p, "sotu-xl")->path, "models/sotu-xl");
    int cur = p->current_stage;
    assert_int_equal(cur, 0);
    assert_int_equal(sg_policy_stage_index(p, "Public API"), 2);

    char why[256];
    /* The current stage serves the smallest model to internal_devs only. */
    assert_int_equal(sg_policy_decide(p, cur, "internal_devs", "sotu-small", why, sizeof why),
                     SG_POLICY_ALLOW);
    assert_string_equal(why, "");
    assert_int_equal(sg_policy_decide(p, cur, "internal_devs", "sotu-medium", why, sizeof why),
                     SG_POLICY_DENY_NOT_RELEASED);
    assert_string_equal(why, "model 'sotu-medium' is not released at stage 'Internal Alpha'");
    assert_int_equal(sg_policy_decide(p, cur, "public", "sotu-small", why, sizeof why),
                     SG_POLICY_DENY_AUDIENCE);
    assert_string_equal(why,
                        "model 'sotu-small' is not released to audience 'public' at stage 'Internal Alpha'");
    assert_int_equal(sg_policy_decide(p, cur, "internal_devs", "gpt-4", why, sizeof why),
                     SG_POLICY_DENY_UNKNOWN_MODEL);
    /* Stage 2: the public gets the two smaller sizes only. */
    assert_int_equal(sg_policy_decide(p, 2, "public", "sotu-medium", NULL, 0), SG_POLICY_ALLOW);
    assert_int_equal(sg_policy_decide(p, 2, "public", "sotu-large", why, sizeof why),
                     SG_POLICY_DENY_AUDIENCE);
    assert_string_equal(why, "model 'sotu-large' is not released to audience 'public' at stage 'Public API'");
    assert_int_equal(sg_policy_decide(p, 2, "trusted_partners", "sotu-large", NULL, 0), SG_POLICY_ALLOW);
    assert_int_equal(sg_policy_decide(p, 2, "internal_devs", "sotu-xl", NULL, 0),
                     SG_POLICY_DENY_NOT_RELEASED);
    assert_int_equal(sg_policy_decide(p, 3, "researchers", "sotu-xl", NULL, 0), SG_POLICY_ALLOW);
    assert_int_equal(sg_policy_decide(p, 3, "public", "sotu-large", NULL, 0), SG_POLICY_ALLOW);
    assert_int_equal(sg_policy_decide(p, 7, "public", "sotu-small", NULL, 0), SG_POLICY_DENY_NOT_RELEASED);

    /* Rate limits: own entry, inherited entry, default, none. */
    sg_policy_limits l = sg_policy_rate_limit(p, 0, "internal_devs");
    assert_int_equal(l.rpm, 600);
    assert_int_equal(l.tpm, 200000);
    assert_true(l.enforced);
    l = sg_policy_rate_limit(p, 3, "internal_devs"); /* stage 0's entry beats stage 2's default */
    assert_int_equal(l.rpm, 600);
    l = sg_policy_rate_limit(p, 3, "public");
    assert_int_equal(l.rpm, 20);
    assert_int_equal(l.tpm, 10000);
    l = sg_policy_rate_limit(p, 3, "researchers");
    assert_int_equal(l.rpm, 10);
    l = sg_policy_rate_limit(p, 1, "researchers");
    assert_int_equal(l.rpm, 0);
    assert_int_equal(l.tpm, 0);

    /* Components on the gradient. */
    assert_int_equal(sg_policy_component_level(p, 0, SG_COMPONENT_MODEL), SG_ACCESS_GRADUAL);
    assert_int_equal(sg_policy_component_level(p, 2, SG_COMPONENT_MODEL), SG_ACCESS_API);
    assert_int_equal(sg_policy_component_level(p, 3, SG_COMPONENT_MODEL), SG_ACCESS_DOWNLOADABLE);
    assert_int_equal(sg_policy_component_level(p, 3, SG_COMPONENT_RISK_ANALYSIS), SG_ACCESS_FULLY_OPEN);
    assert_int_equal(sg_policy_component_level(p, 1, SG_COMPONENT_REPLICATION), SG_ACCESS_FULLY_CLOSED);
    assert_string_equal(sg_access_level_name(SG_ACCESS_DOWNLOADABLE), "downloadable");

    /* Protocols per stage, exactly as listed. */
    assert_true(sg_policy_protocol_enabled(p, 0, "watermark"));
    assert_false(sg_policy_protocol_enabled(p, 0, "moderation_api"));
    assert_true(sg_policy_protocol_enabled(p, 2, "detection"));

    /* Gates. */
    const sg_policy_gates *g = &p->stages[2].gates;
    assert_int_equal(g->min_days, 30);
    assert_int_equal(g->risk_assessment, SG_RISK_COMPLETED);
    assert_int_equal(g->n_evaluations, 3);
    assert_string_equal(g->evaluations[1].suite, "watermark");
    assert_true(g->evaluations[1].has_min);
    assert_false(g->evaluations[1].has_max);
    assert_true(g->evaluations[1].min == 0.98);
    assert_int_equal(g->signoffs, 2);
    assert_int_equal(g->n_reviewers, 3);
    assert_int_equal(p->stages[3].gates.min_days, 60);

    /* The content filter fills sg_filter_rules. */
    const sg_filter_rules *r = &p->filter;
    assert_int_equal(r->n_categories, 8);
    int found_pii = 0, found_self = 0;
    for (int i = 0; i < r->n_categories; i++) {
        const sg_filter_category *c = &r->categories[i];
        if (!strcmp(c->name, "pii")) {
            found_pii = 1;
            assert_int_equal(c->n_patterns, 4);
            assert_int_equal(c->action, SG_FILTER_REDACT);
            assert_false(c->on_input);
            assert_true(c->on_output);
        }
        if (!strcmp(c->name, "self-harm")) {
            found_self = 1;
            assert_int_equal(c->action, SG_FILTER_HARDCODED);
            assert_non_null(c->response);
            assert_true(c->on_input);
            assert_false(c->on_output);
        }
    }
    assert_true(found_pii && found_self);
    assert_int_equal(r->n_leet, 9);
    assert_string_equal(r->leet_from[0], "4");
    assert_string_equal(r->leet_to[0], "a");
    sg_policy_free(p);
}

/* ------------------------------------------------------------- errors */

#define HEAD "model_name: \"m\"\n"
#define STAGE1 "release_stages:\n  - name: \"A\"\n    audience: \"internal_devs\"\n"

static void errors_have_exact_positions(void **state) {
    (void)state;
    /* Wrong types. */
    expect_error(HEAD STAGE1 "    duration_days: \"30\"\n",
                 "t.yaml:5:20: 'duration_days' must be an integer, not the string \"30\"");
    expect_error(HEAD STAGE1 "    duration_days: 3.5\n",
                 "t.yaml:5:20: 'duration_days' must be an integer, got '3.5'");
    expect_error(HEAD STAGE1 "    duration_days: -1\n",
                 "t.yaml:5:20: 'duration_days' must be between 0 and 36500, got -1");
    expect_error(HEAD STAGE1 "    safety_protocols_enabled: \"content_filter\"\n",
                 "t.yaml:5:31: 'safety_protocols_enabled' must be a list, not a scalar");
    expect_error(HEAD STAGE1 "    audience: {a: b}\n", "t.yaml:5:5: duplicate key 'audience' (first at 4:5)");
    expect_error(HEAD "release_stages:\n  - name: \"A\"\n    audience: {a: b}\n",
                 "t.yaml:4:15: 'audience' must be a list or a string, not a mapping");
    expect_error(HEAD "release_stages: \"A\"\n",
                 "t.yaml:2:17: 'release_stages' must be a list, not a scalar");
    expect_error(HEAD "release_stages: []\n",
                 "t.yaml:2:17: 'release_stages' is empty: a release needs at least one stage");
    expect_error(HEAD STAGE1 "    replace_audiences: yes\n",
                 "t.yaml:5:24: 'replace_audiences' must be true or false");
    /* Unknown enum values. */
    expect_error(
        HEAD STAGE1 "    access: \"leaked\"\n",
        "t.yaml:5:13: unknown access level 'leaked' (expected one of: fully_closed, gradual, hosted, api, "
        "downloadable, fully_open)");
    expect_error(
        HEAD "monitoring_frequency: \"sometimes\" # comment\n" STAGE1,
        "t.yaml:2:23: unknown monitoring_frequency 'sometimes' (expected one of: hourly, daily, weekly, "
        "monthly)");
    expect_error(
        HEAD STAGE1 "    risk_assessment_status: \"done\"\n",
        "t.yaml:5:29: unknown risk_assessment_status 'done' (expected one of: none, not_started, pending, "
        "in_progress, completed)");
    /* Missing required keys. */
    expect_error(STAGE1, "t.yaml:1:1: missing required key 'model_name'");
    expect_error(HEAD, "t.yaml:1:1: missing required key 'release_stages'");
    expect_error(HEAD "release_stages:\n  - audience: \"x\"\n",
                 "t.yaml:3:5: release stage 1 is missing 'name'");
    expect_error(HEAD "release_stages:\n  - name: \"A\"\n",
                 "t.yaml:3:5: the first release stage ('A') is missing 'audience'");
    /* References. */
    expect_error(HEAD STAGE1 "  - name: \"A\"\n    audience: \"public\"\n",
                 "t.yaml:5:11: duplicate stage name 'A' (first at 3:5)");
    expect_error(HEAD "models:\n  small: \"s\"\n" STAGE1 "    models: [\"small\", \"big\"]\n",
                 "t.yaml:7:23: stage 'A' releases undefined model 'big'");
    expect_error(HEAD "current_stage: \"Z\"\n" STAGE1,
                 "t.yaml:2:16: current_stage 'Z' is not a release stage");
    expect_error(HEAD "models:\n  small: \"s\"\n" STAGE1 "    models: [\"small\"]\n"
                      "  - name: \"B\"\n    gates:\n      evaluations:\n"
                      "        - {suite: \"ppl\", model: \"tiny\", metric: \"perplexity\", max: 9}\n",
                 "t.yaml:11:33: evaluation gate names undefined model 'tiny'");
    expect_error(HEAD "models:\n  small: \"s\"\n  big: \"b\"\n" STAGE1 "    models: [\"small\"]\n"
                      "    audience_models:\n      internal_devs: [\"big\"]\n",
                 "t.yaml:10:23: model 'big' is not released at stage 'A'");
    expect_error(HEAD STAGE1
                 "  - name: \"B\"\n    gates:\n      signoffs: {count: 3, reviewers: [\"a\", \"b\"]}\n",
                 "t.yaml:7:25: 3 sign-offs required but only 2 reviewers named");
    expect_error(HEAD STAGE1
                 "  - name: \"B\"\n    gates:\n      evaluations:\n        - {suite: \"s\", model: \"m\"}\n",
                 "t.yaml:8:31: evaluation gate names undefined model 'm'\n"
                 "t.yaml:8:11: evaluation gate is missing 'metric'\n"
                 "t.yaml:8:11: evaluation gate needs 'min' or 'max'");
    /* Content filter. */
    expect_error(HEAD STAGE1 "content_filter:\n  categories:\n    - name: \"pii\"\n      patterns: ['a(b']\n",
                 "t.yaml:8:22: pattern in category 'pii' does not compile: missing closing parenthesis");
    expect_error(
        HEAD STAGE1 "content_filter:\n  categories:\n    - name: \"pii\"\n      patterns: [\"\\\\d(x\"]\n",
        "t.yaml:8:18: pattern in category 'pii' does not compile: missing closing parenthesis at offset 4");
    expect_error(HEAD STAGE1 "content_filter:\n  categories:\n    - name: \"x\"\n      terms: [\"t\"]\n"
                             "      action: \"hardcoded\"\n",
                 "t.yaml:9:15: category 'x' has action hardcoded but no 'response'");
    expect_error(HEAD STAGE1 "content_filter:\n  categories:\n    - name: \"x\"\n      terms: [\"t\"]\n"
                             "      on: [\"input\", \"sideways\"]\n",
                 "t.yaml:9:21: unknown on 'sideways' (expected one of: input, output)");
    /* Several errors are all reported, one per line. */
    expect_error(
        HEAD STAGE1 "    duration_days: x\n    access: \"open\"\n",
        "t.yaml:5:20: 'duration_days' must be an integer, got 'x'\n"
        "t.yaml:6:13: unknown access level 'open' (expected one of: fully_closed, gradual, hosted, api, "
        "downloadable, fully_open)");
    expect_error(
        HEAD "release_stages:\n  - name: \"A\"\n    audience: [\"devs\", \"default\"]\n",
        "t.yaml:4:24: 'default' is reserved (the rate limit of unlisted audiences): pick another audience "
        "name");
    expect_error(
        HEAD "release_stages:\n  - name: \"A\"\n    audience: \"all devs\"\n",
        "t.yaml:4:15: audience must be 1-64 characters of letters, digits, '_', '-' or '.', got 'all devs'");
    expect_error(HEAD "release_stages:\n  - name: \"A\"\n    audience:\n",
                 "t.yaml:4:14: the first release stage ('A') has no audience");
    expect_error(HEAD "release_stages:\n", "t.yaml:2:16: 'release_stages' must be a list, not null");
    /* YAML syntax. */
    expect_error("model_name: \"m\n", "t.yaml:2:1: YAML syntax error: found unexpected end of stream (while "
                                      "scanning a quoted scalar started at 1:13)");
    expect_error("", "t.yaml:1:1: the policy is empty");
    expect_error("- a\n", "t.yaml:1:1: the policy must be a mapping, not a list");
    expect_error(HEAD STAGE1 "    name: \"\\0x\"\n", "t.yaml:5:5: duplicate key 'name' (first at 3:5)");
    expect_error(HEAD "release_stages:\n  - name: \"\\0x\"\n    audience: a\n",
                 "t.yaml:3:11: 'name' contains a NUL character");
}

static void file_errors_name_the_file(void **state) {
    (void)state;
    sg_policy *p;
    sg_error *err = sg_policy_load("tests/fixtures/policies/bad-type.yaml", &p);
    assert_non_null(err);
    assert_string_equal(sg_error_message(err),
                        "tests/fixtures/policies/bad-type.yaml:5:20: 'duration_days' must be "
                        "an integer, not the string \"thirty\"");
    sg_error_free(err);
    err = sg_policy_load("tests/fixtures/policies/no-such.yaml", &p);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "no-such.yaml"));
    sg_error_free(err);
}

/* ----------------------------------------------------------- warnings */

static void unknown_keys_are_warnings(void **state) {
    (void)state;
    sg_policy *p =
        load_ok(HEAD "ownr: \"me\"\n" STAGE1 "    modles: []\n    safety_protocols_enabled: [\"watermark\", "
                     "\"ratelimit\", \"vibes\"]\n"
                     "audit: {text: \"full\", retention: 3}\n");
    assert_int_equal(p->n_warnings, 5);
    assert_string_equal(p->warnings[0], "t.yaml:2:1: warning: unknown key 'ownr'");
    assert_string_equal(p->warnings[1], "t.yaml:6:5: warning: unknown key 'modles' (did you mean 'models'?)");
    assert_string_equal(
        p->warnings[2],
        "t.yaml:7:45: warning: unknown safety protocol 'ratelimit' (did you mean 'rate_limit'?)");
    assert_string_equal(
        p->warnings[3],
        "t.yaml:7:58: warning: unknown safety protocol 'vibes' (stagegate does not enforce it)");
    assert_string_equal(p->warnings[4], "t.yaml:8:23: warning: unknown key 'retention'");
    assert_int_equal(p->audit_text, SG_AUDIT_TEXT_FULL);
    assert_int_equal(strlen(p->digest), 64);
    /* An unknown protocol is still "enabled" as written: the policy is not edited. */
    assert_true(sg_policy_protocol_enabled(p, 0, "vibes"));
    sg_policy_free(p);
}

/* -------------------------------------------------------- semantics */

static void audiences_and_models_accumulate(void **state) {
    (void)state;
    sg_policy *p =
        load_ok(HEAD "models: {a: \"/m/a\", b: \"/m/b\", c: \"/m/c\"}\n"
                     "release_stages:\n"
                     "  - {name: \"S1\", audience: \"devs\", models: \"a\"}\n"
                     "  - {name: \"S2\", audience: [\"partners\", \"devs\"], models: [\"b\"]}\n"
                     "  - {name: \"S3\", audience: \"public\", replace_audiences: true, models: [\"c\"],\n"
                     "     replace_models: true}\n"
                     "  - {name: \"S4\", audience: \"press\", access: \"fully_closed\"}\n"
                     "current_stage: \"S2\"\n");
    assert_int_equal(p->current_stage, 1);
    assert_int_equal(p->stages[1].n_effective_audiences, 2);
    assert_string_equal(p->stages[1].effective_audiences[0], "devs");
    assert_string_equal(p->stages[1].effective_audiences[1], "partners");
    assert_int_equal(p->stages[1].n_effective_models, 2);
    assert_true(sg_policy_audience_at(p, 1, "partners"));
    assert_false(sg_policy_audience_at(p, 2, "devs"));
    assert_int_equal(p->stages[2].n_effective_audiences, 1);
    assert_int_equal(p->stages[3].n_effective_audiences, 2);
    assert_int_equal(sg_policy_decide(p, 1, "partners", "a", NULL, 0), SG_POLICY_ALLOW);
    assert_int_equal(sg_policy_decide(p, 2, "public", "a", NULL, 0), SG_POLICY_DENY_NOT_RELEASED);
    assert_int_equal(sg_policy_decide(p, 2, "public", "c", NULL, 0), SG_POLICY_ALLOW);
    assert_int_equal(sg_policy_decide(p, 2, "devs", "c", NULL, 0), SG_POLICY_DENY_AUDIENCE);
    char why[128];
    assert_int_equal(sg_policy_decide(p, 3, "press", "c", why, sizeof why), SG_POLICY_DENY_CLOSED);
    assert_string_equal(why, "model access is fully closed at stage 'S4': model 'c' is not served");
    /* Empty lists may be written as nothing; NULL names are refused, not crashed on. */
    sg_policy_free(p);
    p = load_ok(HEAD "models: {a: \"/m/a\"}\n" STAGE1 "    models:\n    safety_protocols_enabled:\n");
    assert_int_equal(p->stages[0].n_models, 0);
    assert_int_equal(p->stages[0].n_protocols, 0);
    assert_int_equal(sg_policy_decide(p, 0, NULL, "a", NULL, 0), SG_POLICY_DENY_NOT_RELEASED);
    assert_int_equal(sg_policy_decide(p, 0, "internal_devs", NULL, NULL, 0), SG_POLICY_DENY_UNKNOWN_MODEL);
    assert_false(sg_policy_audience_at(p, 0, NULL));
    sg_policy_free(p);
    p = load_ok(HEAD "models: {c: \"/m/c\"}\n" STAGE1 "    models: c\n");
    assert_int_equal(sg_policy_decide(p, 0, NULL, "c", NULL, 0), SG_POLICY_DENY_AUDIENCE);
    /* A short buffer truncates, never overflows. */
    char tiny[8];
    sg_policy_decide(p, 0, "devs", "c", tiny, sizeof tiny);
    assert_string_equal(tiny, "model '");
    sg_policy_free(p);
}

static void internal_only_keeps_the_first_audience(void **state) {
    (void)state;
    sg_policy *p;
    sg_error *err = sg_policy_load("tests/fixtures/policies/internal-only.yaml", &p);
    if (err) fail_msg("%s", sg_error_message(err));
    assert_int_equal(p->deployment_strategy, SG_DEPLOY_INTERNAL_ONLY);
    assert_int_equal(p->n_warnings, 1);
    assert_non_null(
        strstr(p->warnings[0], "internal-only.yaml:15:15: warning: deployment_strategy is internal_only"));
    assert_false(sg_policy_audience_at(p, 1, "public"));
    assert_true(sg_policy_audience_at(p, 1, "red_team"));
    assert_int_equal(sg_policy_decide(p, 1, "public", "tiny", NULL, 0), SG_POLICY_DENY_AUDIENCE);
    assert_int_equal(sg_policy_decide(p, 1, "red_team", "tiny", NULL, 0), SG_POLICY_ALLOW);
    /* Relative checkpoint paths resolve against the policy's directory. */
    assert_string_equal(p->models[0].path, "tests/fixtures/policies/ckpt/tiny");
    assert_int_equal(p->monitoring_frequency, SG_MONITOR_HOURLY);
    sg_policy_free(p);
}

static void full_release_has_no_gates(void **state) {
    (void)state;
    sg_policy *p = load_ok(HEAD "deployment_strategy: \"full_release\"\n" STAGE1 "    duration_days: 10\n"
                                "    safety_protocols_enabled: [\"content_filter\"]\n"
                                "  - name: \"B\"\n    risk_assessment_status: \"completed\"\n"
                                "    gates: {signoffs: 2}\n");
    assert_int_equal(p->n_warnings, 1);
    assert_string_equal(
        p->warnings[0],
        "t.yaml:10:5: warning: deployment_strategy is full_release: the gates of stage 'B' are not "
        "applied");
    const sg_policy_gates *g = &p->stages[1].gates;
    assert_int_equal(g->min_days, 0);
    assert_int_equal(g->signoffs, 0);
    assert_int_equal(g->risk_assessment, SG_RISK_NONE);
    assert_int_equal(g->n_safety_protocols, 0);
    sg_policy_free(p);
}

static void gates_override_stage_defaults(void **state) {
    (void)state;
    sg_policy *p =
        load_ok(HEAD "models: {m: \"m\"}\n" STAGE1 "    duration_days: 10\n"
                     "  - name: \"B\"\n"
                     "    duration_days: 5\n"
                     "    risk_assessment_status: \"pending\"\n"
                     "    safety_protocols_enabled: [\"content_filter\", \"watermark\"]\n"
                     "    gates:\n"
                     "      min_days: 3\n"
                     "      risk_assessment: \"completed\"\n"
                     "      safety_protocols: [\"watermark\"]\n"
                     "      signoffs: {reviewers: [\"ann\", \"bo\"]}\n"
                     "      evaluations:\n"
                     "        - {suite: \"ppl\", model: \"m\", metric: \"perplexity\", min: 1, max: 40.5}\n"
                     "  - name: \"C\"\n"
                     "    gates: {signoffs: 1}\n");
    const sg_policy_gates *g = &p->stages[1].gates;
    assert_int_equal(g->min_days, 3);
    assert_int_equal(g->risk_assessment, SG_RISK_COMPLETED);
    assert_int_equal(p->stages[1].risk_assessment_status, SG_RISK_PENDING);
    assert_int_equal(g->n_safety_protocols, 1);
    assert_string_equal(g->safety_protocols[0], "watermark");
    assert_int_equal(g->signoffs, 2);
    assert_int_equal(g->n_reviewers, 2);
    assert_int_equal(g->n_evaluations, 1);
    assert_true(g->evaluations[0].has_min && g->evaluations[0].has_max);
    assert_true(g->evaluations[0].max == 40.5);
    g = &p->stages[2].gates;
    assert_int_equal(g->min_days, 5);
    assert_int_equal(g->signoffs, 1);
    assert_int_equal(g->n_reviewers, 0);
    assert_int_equal(g->risk_assessment, SG_RISK_NONE);
    sg_policy_free(p);
}

static void top_level_settings(void **state) {
    (void)state;
    sg_policy *p =
        load_ok(HEAD STAGE1 "server: {max_body_bytes: 4096, queue_size: 3, request_timeout_s: 5, "
                            "max_batch: 2}\n"
                            "flags: {suspend_after: 0}\naudit: {text: \"none\", retention_days: 7}\n"
                            "license: \"/srv/LICENSE\"\n");
    assert_int_equal(p->max_body_bytes, 4096);
    assert_int_equal(p->queue_size, 3);
    assert_int_equal(p->request_timeout_s, 5);
    assert_int_equal(p->max_batch, 2);
    assert_int_equal(p->suspend_after_flags, 0);
    assert_int_equal(p->audit_text, SG_AUDIT_TEXT_NONE);
    assert_int_equal(p->audit_retention_days, 7);
    assert_string_equal(p->license, "/srv/LICENSE");
    sg_policy_free(p);
    /* Defaults. */
    p = load_ok(HEAD STAGE1);
    /* BLAKE2b-256 of the text, as Python's hashlib.blake2b(digest_size=32) gives it. */
    assert_string_equal(p->digest, "46c7222ca03e80206c073c5b2b5491ca8e6222e75ba5d18d704a50f681d188a0");
    assert_int_equal(p->max_body_bytes, 1 << 20);
    assert_int_equal(p->queue_size, 64);
    assert_int_equal(p->suspend_after_flags, 3);
    assert_int_equal(p->audit_retention_days, 90);
    assert_null(p->license);
    assert_null(p->incident_response_plan);
    sg_policy_free(p);
    /* Paths fold against the base directory. */
    const char *y = HEAD "models: {x: \"../models/x\", y: \"./y/../z\"}\nlicense: \"L\"\n" STAGE1;
    assert_null(sg_policy_load_string("t.yaml", y, strlen(y), "conf", &p));
    assert_string_equal(p->models[0].path, "models/x");
    assert_string_equal(p->models[1].path, "conf/z");
    assert_string_equal(p->license, "conf/L");
    sg_policy_free(p);
    assert_null(sg_policy_load_string("t.yaml", y, strlen(y), "../a", &p));
    assert_string_equal(p->models[0].path, "../models/x");
    sg_policy_free(p);
}

/* Aliases let a small file name the same subtree very many times (1000
 * stages, each with the same 1000 evaluation gates): the loader must give up
 * quickly with an error instead of walking 10^6 gates. */
static void alias_bombs_are_refused(void **state) {
    (void)state;
    size_t cap = 64 * 1024, n = 0;
    char *y = malloc(cap);
    assert_non_null(y);
    n += (size_t)snprintf(y + n, cap - n,
                          "model_name: \"m\"\nmodels: {m: \"m\"}\n"
                          "defs: &ev {suite: s, model: m, metric: x, max: 1}\n"
                          "more: &st {name: \"A\", audience: a, gates: {evaluations: [");
    for (int i = 0; i < 1000; i++) n += (size_t)snprintf(y + n, cap - n, "%s*ev", i ? ", " : "");
    n += (size_t)snprintf(y + n, cap - n, "]}}\nrelease_stages: [");
    for (int i = 0; i < 1000; i++) n += (size_t)snprintf(y + n, cap - n, "%s*st", i ? ", " : "");
    n += (size_t)snprintf(y + n, cap - n, "]\n");
    assert_true(n < cap - 1);
    sg_policy *p;
    double t0 = sg_monotonic_s();
    sg_error *err = sg_policy_load_string("t.yaml", y, n, NULL, &p);
    double elapsed = sg_monotonic_s() - t0;
    assert_non_null(err);
    assert_non_null(
        strstr(sg_error_message(err), "t.yaml:1:1: the policy is too large or uses too many aliases"));
    assert_true(elapsed < 20.0); /* generous: ASan builds on a loaded machine */
    sg_error_free(err);
    free(y);
}

/* Lists are checked for duplicates pair by pair: very long ones are refused. */
static void huge_lists_are_refused(void **state) {
    (void)state;
    size_t cap = 64 * 1024, n = 0;
    char *y = malloc(cap);
    assert_non_null(y);
    n += (size_t)snprintf(y + n, cap - n, HEAD STAGE1 "    safety_protocols_enabled: [");
    for (int i = 0; i < 5000; i++) n += (size_t)snprintf(y + n, cap - n, "%sp%d", i ? "," : "", i);
    n += (size_t)snprintf(y + n, cap - n, "]\n");
    sg_policy *p;
    sg_error *err = sg_policy_load_string("t.yaml", y, n, NULL, &p);
    assert_non_null(err);
    assert_string_equal(sg_error_message(err),
                        "t.yaml:5:31: a list of 5000 entries; at most 4096 are supported");
    sg_error_free(err);
    free(y);
}

static void json_view_of_a_policy(void **state) {
    (void)state;
    sg_policy *p;
    sg_error *err = sg_policy_load("examples/release.yaml", &p);
    if (err) fail_msg("%s", sg_error_message(err));
    json_t *j;
    assert_null(sg_policy_to_json(p, &j));
    assert_string_equal(json_string_value(json_object_get(j, "current_stage")), "Internal Alpha");
    assert_string_equal(json_string_value(json_object_get(j, "digest")), p->digest);
    json_t *stages = json_object_get(j, "stages");
    assert_int_equal(json_array_size(stages), 4);
    json_t *api = json_array_get(stages, 2);
    assert_string_equal(json_string_value(json_object_get(api, "name")), "Public API");
    assert_false(json_is_true(json_object_get(api, "current")));
    assert_int_equal(json_array_size(json_object_get(api, "effective_audiences")), 4); /* + demo_visitors */
    assert_string_equal(json_string_value(json_object_get(json_object_get(api, "access"), "replication")),
                        "hosted");
    json_t *pub = json_object_get(json_object_get(api, "audience_models"), "public");
    assert_int_equal(json_array_size(pub), 2);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(api, "rate_limits"), "public"), "tpm")),
                     10000);
    json_t *gates = json_object_get(api, "gates");
    assert_int_equal(json_integer_value(json_object_get(gates, "min_days")), 30);
    json_t *ev = json_array_get(json_object_get(gates, "evaluations"), 2);
    assert_string_equal(json_string_value(json_object_get(ev, "metric")), "false_positive_rate");
    assert_true(json_real_value(json_object_get(ev, "max")) == 0.005);
    assert_null(json_object_get(ev, "min"));
    json_t *cats = json_object_get(json_object_get(j, "content_filter"), "categories");
    assert_int_equal(json_array_size(cats), 8);
    /* Terms are not exposed, only counted. */
    assert_true(json_is_integer(json_object_get(json_array_get(cats, 0), "terms")));
    assert_int_equal(json_array_size(json_object_get(j, "risk_mitigation_plan")), 4);
    assert_int_equal(json_array_size(json_object_get(j, "warnings")), 0);
    json_decref(j);
    sg_policy_free(p);
}

/* Patterns are compiled once, while loading: the rules carry the compiled
 * patterns, the filter built from them matches with them, and an unknown
 * built-in detector is an error at its line and column. */
static void patterns_are_compiled_once(void **state) {
    (void)state;
    sg_policy *p = load_ok(HEAD STAGE1 "content_filter:\n  categories:\n    - name: \"pii\"\n"
                                       "      patterns: ['\\bsecret-\\d+\\b', 'builtin:email']\n");
    const sg_filter_category *cat = &p->filter.categories[0];
    assert_int_equal(cat->n_patterns, 2);
    assert_non_null(cat->compiled);
    assert_non_null(cat->compiled[0]);
    assert_non_null(cat->compiled[1]);
    sg_filter *f;
    assert_null(sg_filter_new(&p->filter, &f));
    sg_policy_free(p); /* the filter keeps copies of the compiled patterns */
    const char *text = "mail ann@example.org about secret-42";
    sg_filter_matches m;
    assert_null(sg_filter_scan(f, text, strlen(text), SG_FILTER_ANY, &m));
    assert_int_equal(m.n, 2);
    assert_string_equal(m.items[0].kind, "email");
    assert_string_equal(m.items[1].kind, "pattern");
    assert_int_equal(m.items[1].start, strlen("mail ann@example.org about "));
    sg_filter_matches_free(&m);
    sg_filter_free(f);
    expect_error(
        HEAD STAGE1 "content_filter:\n  categories:\n    - name: \"pii\"\n      patterns: [builtin:ssn]\n",
        "t.yaml:8:18: pattern in category 'pii' does not compile: unknown built-in detector 'builtin:ssn'");
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_starter_loads_as_it_stands),
        cmocka_unit_test(starter_shaped_fixture),
        cmocka_unit_test(example_release_decisions),
        cmocka_unit_test(errors_have_exact_positions),
        cmocka_unit_test(file_errors_name_the_file),
        cmocka_unit_test(unknown_keys_are_warnings),
        cmocka_unit_test(audiences_and_models_accumulate),
        cmocka_unit_test(internal_only_keeps_the_first_audience),
        cmocka_unit_test(full_release_has_no_gates),
        cmocka_unit_test(gates_override_stage_defaults),
        cmocka_unit_test(top_level_settings),
        cmocka_unit_test(alias_bombs_are_refused),
        cmocka_unit_test(huge_lists_are_refused),
        cmocka_unit_test(json_view_of_a_policy),
        cmocka_unit_test(patterns_are_compiled_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
