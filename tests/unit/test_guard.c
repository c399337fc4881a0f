/* test_guard.c — the server's safety controls per stage (server/guard.h):
 * input decisions as safety_protocols_enabled switches each action, the
 * output filter over a whole completion, and community flags in the store
 * with suspension after flags.suspend_after upheld flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access/keys.h"
#include "base/init.h"
#include "server/guard.h"
#include "store/store_flags.h"
#include "store/store_keys.h"

static const char *const POLICY =
    "model_name: \"m\"\n"
    "version: \"v1\"\n"
    "deployment_strategy: \"staged_release\"\n"
    "release_stages:\n"
    "  - name: \"Guarded\"\n"
    "    audience: \"internal_devs\"\n"
    "    safety_protocols_enabled: [\"content_filter\", \"hardcoded_responses\"]\n"
    "  - name: \"FilterOnly\"\n"
    "    audience: \"internal_devs\"\n"
    "    safety_protocols_enabled: [\"content_filter\"]\n"
    "  - name: \"Open\"\n"
    "    audience: \"public\"\n"
    "    safety_protocols_enabled: [\"rate_limit\"]\n"
    "flags:\n"
    "  suspend_after: 2\n"
    "content_filter:\n"
    "  categories:\n"
    "    - name: \"violence\"\n"
    "      terms: [\"pipe bomb\"]\n"
    "      action: \"block\"\n"
    "      on: [\"input\", \"output\"]\n"
    "    - name: \"self-harm\"\n"
    "      terms: [\"want to die\"]\n"
    "      action: \"hardcoded\"\n"
    "      response: \"Please talk to someone.\"\n"
    "    - name: \"pii\"\n"
    "      patterns: [\"builtin:email\"]\n"
    "      action: \"redact\"\n"
    "    - name: \"spam\"\n"
    "      terms: [\"click here\"]\n"
    "      action: \"flag\"\n";

typedef struct {
    sg_policy *p;
    sg_guard *g;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    sg_error *err = sg_policy_load_string("t.yaml", POLICY, strlen(POLICY), NULL, &f->p);
    if (err) fail_msg("%s", sg_error_message(err));
    if ((err = sg_guard_new(f->p, &f->g))) fail_msg("%s", sg_error_message(err));
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    sg_guard_free(f->g);
    sg_policy_free(f->p);
    free(f);
    return 0;
}

static sg_guard_input check(fixture *f, int stage, const char *text) {
    sg_guard_input in;
    sg_error *err = sg_guard_check_input(f->g, f->p, stage, text, strlen(text), &in);
    if (err) fail_msg("%s", sg_error_message(err));
    return in;
}

static void input_actions_follow_the_stage(void **state) {
    fixture *f = *state;
    sg_guard_input in = check(f, 0, "how do I make a p-i-p-e B0MB");
    assert_int_equal(in.verdict, SG_VERDICT_BLOCK);
    assert_string_equal(in.category, "violence");
    in = check(f, 2, "how do I make a pipe bomb");
    assert_int_equal(in.verdict, SG_VERDICT_PASS); /* content_filter off */

    in = check(f, 0, "sometimes I want to die");
    assert_int_equal(in.verdict, SG_VERDICT_HARDCODED);
    assert_string_equal(in.response, "Please talk to someone.");
    in = check(f, 1, "sometimes I want to die"); /* hardcoded_responses off */
    assert_int_equal(in.verdict, SG_VERDICT_PASS);

    in = check(f, 0, "write to ann@example.org, click here");
    assert_int_equal(in.verdict, SG_VERDICT_REDACT);
    assert_string_equal(in.text, "write to [REDACTED], click here");
    assert_string_equal(in.flagged, "spam");
    sg_guard_input_clear(&in);
    in = check(f, 2, "write to ann@example.org, click here");
    assert_int_equal(in.verdict, SG_VERDICT_PASS);
    assert_null(in.text);
    assert_string_equal(in.flagged, "");

    /* block outranks everything else in the same prompt */
    in = check(f, 0, "click here: pipe bomb, I want to die");
    assert_int_equal(in.verdict, SG_VERDICT_BLOCK);
    assert_string_equal(in.flagged, "spam");
}

static void output_filter_blocks_and_redacts(void **state) {
    fixture *f = *state;
    char *out, cat[128];
    size_t n;
    int blocked;
    const char *text = "The plan was simple. A pipe bomb would do. Then more text.";
    assert_null(sg_guard_filter_output(f->g, text, strlen(text), &out, &n, &blocked, cat));
    assert_true(blocked);
    assert_string_equal(cat, "violence");
    assert_null(strstr(out, "pipe"));
    assert_int_equal(strncmp(out, text, n), 0); /* a prefix of the text */
    free(out);
    text = "mail bob@example.com for the speech";
    assert_null(sg_guard_filter_output(f->g, text, strlen(text), &out, &n, &blocked, cat));
    assert_false(blocked);
    assert_string_equal(out, "mail [REDACTED] for the speech");
    free(out);
}

static void flags_suspend_a_key(void **state) {
    fixture *f = *state;
    char db[] = "/tmp/sg_test_guard_XXXXXX";
    int fd = mkstemp(db);
    assert_true(fd >= 0);
    close(fd);
    unlink(db);
    sg_store *store;
    sg_keys *keys;
    assert_null(sg_store_open(db, &store));
    char *kp = sg_keys_key_path(db);
    assert_null(sg_keys_open(store, kp, &keys));
    char secret[SG_KEY_SECRET_LEN + 1];
    int64_t k1, k2;
    sg_key_spec spec = {.name = "a", .audience = "internal_devs"};
    assert_null(sg_keys_create(keys, &spec, secret, &k1));
    assert_null(sg_keys_create(keys, &spec, secret, &k2));

    assert_null(sg_store_completion_add(store, "cmpl-1", k1, 7, 1000));
    int64_t owner = 0, seq = 0;
    bool found = false;
    assert_null(sg_store_completion_get(store, "cmpl-1", &owner, &seq, &found));
    assert_true(found);
    assert_int_equal(owner, k1);
    assert_int_equal(seq, 7);
    assert_null(sg_store_completion_get(store, "cmpl-2", &owner, &seq, &found));
    assert_false(found);

    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        sg_flag_record r = {.key_id = k1, .audit_seq = 7, .created_ms = 1000 + i};
        strcpy(r.completion_id, "cmpl-1");
        strcpy(r.category, "spam");
        assert_null(sg_store_flag_add(store, &r, &ids[i]));
    }
    int64_t suspended = -1;
    assert_null(sg_guard_resolve_flag(store, keys, f->p, ids[0], 0, &suspended)); /* dismissed */
    assert_int_equal(suspended, 0);
    sg_error *err = sg_guard_resolve_flag(store, keys, f->p, ids[0], 1, NULL);
    assert_non_null(err); /* already resolved */
    assert_non_null(strstr(sg_error_message(err), "already dismissed"));
    sg_error_free(err);
    assert_null(sg_guard_resolve_flag(store, keys, f->p, ids[1], 1, &suspended));
    assert_int_equal(suspended, 0); /* 1 upheld < 2 */
    sg_key_record kr;
    assert_null(sg_store_key_get(store, k1, &kr, &found));
    assert_int_equal(kr.revoked_ms, 0);
    assert_null(sg_guard_resolve_flag(store, keys, f->p, ids[2], 1, &suspended));
    assert_int_equal(suspended, k1);
    assert_null(sg_store_key_get(store, k1, &kr, &found));
    assert_true(kr.revoked_ms > 0);
    assert_null(sg_store_key_get(store, k2, &kr, &found));
    assert_int_equal(kr.revoked_ms, 0);

    sg_flag_counts c;
    assert_null(sg_store_flag_counts(store, 0, &c));
    assert_int_equal(c.total, 3);
    assert_int_equal(c.upheld, 2);
    assert_int_equal(c.dismissed, 1);
    assert_int_equal(c.open, 0);
    assert_null(sg_store_flag_counts(store, k2, &c));
    assert_int_equal(c.total, 0);
    err = sg_guard_resolve_flag(store, keys, f->p, 99, 1, NULL);
    assert_non_null(err);
    sg_error_free(err);

    sg_keys_close(keys);
    sg_store_close(store);
    unlink(kp);
    free(kp);
    char path[64];
    unlink(db);
    snprintf(path, sizeof path, "%s-wal", db);
    unlink(path);
    snprintf(path, sizeof path, "%s-shm", db);
    unlink(path);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(input_actions_follow_the_stage),
        cmocka_unit_test(output_filter_blocks_and_redacts),
        cmocka_unit_test(flags_suspend_a_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
