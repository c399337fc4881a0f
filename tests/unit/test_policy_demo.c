/* test_policy_demo.c — the policy's `demo:` section: defaults and values,
 * where the demo opens (model access hosted or above, the audience served),
 * and each mistake reported at its FILE:LINE:COLUMN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/init.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "release/policy.h"
#include "release/policy_demo.h"

/* A two-stage policy (gradual, then hosted) followed by `demo`. */
static sg_error *load(const char *demo, sg_policy **p) {
    char text[4096];
    snprintf(text, sizeof text,
             "model_name: \"m\"\n"                      /* 1 */
             "models:\n"                                /* 2 */
             "  small: \"small\"\n"                     /* 3 */
             "release_stages:\n"                        /* 4 */
             "  - name: \"Closed\"\n"                   /* 5 */
             "    audience: [\"devs\", \"visitors\"]\n" /* 6 */
             "    models: [\"small\"]\n"                /* 7 */
             "    access: \"gradual\"\n"                /* 8 */
             "  - name: \"Hosted\"\n"                   /* 9 */
             "    audience: \"visitors\"\n"             /* 10 */
             "    models: [\"small\"]\n"                /* 11 */
             "    access: \"hosted\"\n"                 /* 12 */
             "%s",
             demo);
    return sg_policy_load_string("p.yaml", text, strlen(text), NULL, p);
}

static void parses_values_and_defaults(void **state) {
    (void)state;
    sg_policy *p = NULL;
    sg_error *err = load("demo:\n"
                         "  audience: \"visitors\"\n"
                         "  models: [\"small\"]\n"
                         "  max_tokens: {min: 2, max: 40, default: 20}\n"
                         "  temperature: {max: 1.2}\n"
                         "  budgets: {session_tpm: 500, network_tpm: 900, global_tpm: 9000}\n"
                         "  flag_reasons: [\"wrong\", \"harmful\"]\n"
                         "  disclaimer: \"research demo\"\n"
                         "  paused: true\n",
                         &p);
    assert_null(err);
    const sg_policy_demo *d = p->demo;
    assert_non_null(d);
    assert_string_equal(d->audience, "visitors");
    assert_int_equal(d->n_models, 1);
    assert_true(d->max_tokens.min == 2 && d->max_tokens.max == 40 && d->max_tokens.def == 20);
    assert_true(d->temperature.max == 1.2 && d->temperature.def == 0.8); /* the rest: defaults */
    assert_int_equal(d->session_tpm, 500);
    assert_int_equal(d->global_tpm, 9000);
    assert_int_equal(d->n_flag_reasons, 2);
    assert_string_equal(d->flag_reasons[1], "harmful");
    assert_string_equal(d->disclaimer, "research demo");
    assert_int_equal(d->form_max_tokens, 24);
    assert_true(d->paused);
    /* open at the hosted stage only */
    assert_false(sg_policy_demo_at(p, 0));
    assert_true(sg_policy_demo_at(p, 1));
    sg_policy_free(p);
    /* no demo section: never open */
    assert_null(load("", &p));
    assert_null(p->demo);
    assert_false(sg_policy_demo_at(p, 1));
    sg_policy_free(p);
}

static void expect_error(const char *demo, const char *where_what) {
    sg_policy *p = NULL;
    sg_error *err = load(demo, &p);
    assert_non_null(err);
    if (!strstr(sg_error_message(err), where_what))
        fail_msg("expected '%s' in:\n%s", where_what, sg_error_message(err));
    sg_error_free(err);
    assert_null(p);
}

static void mistakes_at_their_line_and_column(void **state) {
    (void)state;
    expect_error("demo:\n  audience: \"visitors\"\n  models: [\"small\", \"huge\"]\n",
                 "p.yaml:15:21: demo.models: 'huge' is not a model of this policy");
    expect_error(
        "demo:\n  audience: \"nobody\"\n  models: [\"small\"]\n",
        "p.yaml:14:13: demo.audience 'nobody' is not served at any stage whose model access is 'hosted'");
    expect_error("demo:\n  audience: \"visitors\"\n  models: [\"small\"]\n  max_tokens: {min: 10, max: 5}\n",
                 "p.yaml:16:15: 'demo.max_tokens': min (10) is above max (5)");
    expect_error("demo:\n  audience: \"visitors\"\n  models: [\"small\"]\n  top_p: {default: 0.05}\n",
                 "p.yaml:16:20: 'demo.top_p.default' (0.05) must lie within min and max (0.1)");
    expect_error("demo:\n  audience: \"visitors\"\n  models: [\"small\"]\n  temperature: {max: 3}\n",
                 "p.yaml:16:22: 'demo.temperature.max' must be between 0 and 2");
    expect_error("demo:\n  audience: \"visitors\"\n  models: [\"small\"]\n"
                 "  budgets: {session_tpm: 100, network_tpm: 50}\n",
                 "p.yaml:16:12: 'demo.budgets' must satisfy session_tpm <= network_tpm <= global_tpm");
    expect_error("demo:\n  models: [\"small\"]\n", "p.yaml:14:3: 'demo' needs an 'audience'");
    expect_error("demo:\n  audience: \"visitors\"\n  models: [\"small\"]\n  max_tokens: {max: \"ten\"}\n",
                 "p.yaml:16:21: 'demo.max_tokens.max' must be an integer");
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_values_and_defaults),
        cmocka_unit_test(mistakes_at_their_line_and_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
