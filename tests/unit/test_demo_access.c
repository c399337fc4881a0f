/* test_demo_access.c — the web demo's access layer: session cookies (MAC,
 * age, tampering), CSRF tokens, proof-of-work challenges (difficulty, expiry,
 * forgery), the load-dependent difficulty, and the bounded token-bucket
 * tables (all-or-nothing reservation over session, network and global
 * budgets, refunds, refill, and a flood of new sessions that can neither grow
 * the tables nor evict sessions that have spent tokens). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/init.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "access/demo_budget.h"
#include "access/demo_session.h"

static unsigned char key[SG_DEMO_KEY_BYTES], other[SG_DEMO_KEY_BYTES];

static int setup(void **state) {
    (void)state;
    if (sodium_init() < 0) return -1;
    randombytes_buf(key, sizeof key);
    randombytes_buf(other, sizeof other);
    return 0;
}

static void session_cookie_round_trip_and_tampering(void **state) {
    (void)state;
    sg_demo_session s, back;
    char cookie[SG_DEMO_COOKIE_MAX];
    sg_demo_session_new(key, 1000000, 2, &s, cookie);
    assert_true(s.id != 0 && s.id <= (uint64_t)INT64_MAX);
    assert_true(sg_demo_session_check(key, cookie, 1000000 + 5000, 60000, &back));
    assert_true(back.id == s.id && back.issued_ms == 1000000 && back.stage == 2);
    /* another key, too old, from the future, every flipped character */
    assert_false(sg_demo_session_check(other, cookie, 1000000, 60000, &back));
    assert_false(sg_demo_session_check(key, cookie, 1000000 + 60001, 60000, &back));
    assert_false(sg_demo_session_check(key, cookie, 1000000 - 60001, 60000, &back));
    for (size_t i = 0; i < strlen(cookie); i++) {
        char t[SG_DEMO_COOKIE_MAX];
        memcpy(t, cookie, sizeof t);
        t[i] = t[i] == '0' ? '1' : '0';
        assert_false(sg_demo_session_check(key, t, 1000000, 60000, &back));
    }
    assert_false(sg_demo_session_check(key, "", 1000000, 60000, &back));
    assert_false(sg_demo_session_check(key, NULL, 1000000, 60000, &back));
}

static void csrf_token_is_bound_to_the_session(void **state) {
    (void)state;
    sg_demo_session a, b;
    char ca[SG_DEMO_COOKIE_MAX], cb[SG_DEMO_COOKIE_MAX], ta[SG_DEMO_TOKEN_MAX], tb[SG_DEMO_TOKEN_MAX];
    sg_demo_session_new(key, 5, 0, &a, ca);
    sg_demo_session_new(key, 5, 0, &b, cb);
    sg_demo_csrf_token(key, &a, ta);
    sg_demo_csrf_token(key, &b, tb);
    assert_true(sg_demo_csrf_check(key, &a, ta));
    assert_false(sg_demo_csrf_check(key, &a, tb));
    assert_false(sg_demo_csrf_check(key, &a, NULL));
    assert_false(sg_demo_csrf_check(key, &a, "short"));
}

static const char *solve(const char *challenge, int bits, char nonce[32]) {
    for (unsigned n = 0;; n++) {
        snprintf(nonce, 32, "%u", n);
        if (sg_demo_pow_zero_bits(challenge, nonce) >= bits) return nonce;
    }
}

static void proof_of_work(void **state) {
    (void)state;
    char c[SG_DEMO_CHALLENGE_MAX], nonce[32];
    sg_demo_challenge_new(key, 10000, 10, c);
    solve(c, 10, nonce);
    assert_int_equal(sg_demo_challenge_check(key, c, nonce, 10000 + 1000, 120000), SG_POW_OK);
    assert_int_equal(sg_demo_challenge_check(key, c, nonce, 10000 + 120001, 120000), SG_POW_EXPIRED);
    assert_int_equal(sg_demo_challenge_check(other, c, nonce, 10000, 120000), SG_POW_MALFORMED);
    /* a nonce that falls short of the difficulty */
    char weak[32];
    for (unsigned n = 0;; n++) {
        snprintf(weak, sizeof weak, "%u", n);
        if (sg_demo_pow_zero_bits(c, weak) < 10) break;
    }
    assert_int_equal(sg_demo_challenge_check(key, c, weak, 10000, 120000), SG_POW_WRONG);
    /* lowering the difficulty in the challenge breaks its MAC */
    char forged[SG_DEMO_CHALLENGE_MAX];
    snprintf(forged, sizeof forged, "%s", c);
    char *dot = strchr(forged, '.');
    assert_non_null(dot);
    dot[1] = '0';
    dot[2] = '.';
    assert_int_equal(sg_demo_challenge_check(key, forged, nonce, 10000, 120000), SG_POW_MALFORMED);
    assert_int_equal(sg_demo_challenge_check(key, "1.2.3", "0", 10000, 120000), SG_POW_MALFORMED);
    /* difficulty rises with the load, capped */
    assert_int_equal(sg_demo_pow_bits(12, 0), 12);
    assert_int_equal(sg_demo_pow_bits(12, 0.5), 12);
    assert_int_equal(sg_demo_pow_bits(12, 1.0), 13);
    assert_int_equal(sg_demo_pow_bits(12, 4.0), 15);
    assert_int_equal(sg_demo_pow_bits(12, 1e9), 20);
}

static double fake_now;
static double fake_clock(void *ctx) {
    (void)ctx;
    return fake_now;
}

static void budgets_reserve_all_or_nothing(void **state) {
    (void)state;
    sg_demo_budget *b;
    fake_now = 100;
    assert_null(sg_demo_budget_new(16, fake_clock, NULL, &b));
    sg_demo_limits l = {.session_tpm = 60, .network_tpm = 100, .global_tpm = 1000};
    double retry;
    sg_demo_budget_scope scope;
    assert_int_equal(sg_demo_budget_reserve(b, 1, 7, &l, 61, &retry, &scope), SG_RL_TOO_LARGE);
    assert_int_equal(scope, SG_DEMO_BUDGET_SESSION);
    assert_int_equal(sg_demo_budget_reserve(b, 1, 7, &l, 50, &retry, &scope), SG_RL_ADMITTED);
    assert_int_equal(sg_demo_budget_reserve(b, 1, 7, &l, 20, &retry, &scope), SG_RL_LIMITED);
    assert_int_equal(scope, SG_DEMO_BUDGET_SESSION);
    assert_true(fabs(retry - 10.0) < 1e-9); /* 10 tokens at 1 per second */
    /* another session on the same network: the network has 50 left */
    assert_int_equal(sg_demo_budget_reserve(b, 2, 7, &l, 55, &retry, &scope), SG_RL_LIMITED);
    assert_int_equal(scope, SG_DEMO_BUDGET_NETWORK);
    assert_int_equal(sg_demo_budget_reserve(b, 2, 7, &l, 50, &retry, &scope), SG_RL_ADMITTED);
    /* refunds give back, capped; refill is continuous */
    sg_demo_budget_refund(b, 1, 7, &l, 30); /* session 1: 40, network 7: 30 */
    assert_int_equal(sg_demo_budget_reserve(b, 1, 7, &l, 31, &retry, &scope), SG_RL_LIMITED);
    assert_int_equal(scope, SG_DEMO_BUDGET_NETWORK);
    assert_int_equal(sg_demo_budget_reserve(b, 1, 7, &l, 30, &retry, &scope), SG_RL_ADMITTED);
    assert_int_equal(sg_demo_budget_reserve(b, 1, 9, &l, 11, &retry, &scope), SG_RL_LIMITED);
    assert_int_equal(scope, SG_DEMO_BUDGET_SESSION);
    fake_now += 1.0; /* one more token for the session */
    assert_int_equal(sg_demo_budget_reserve(b, 1, 9, &l, 11, &retry, &scope), SG_RL_ADMITTED);
    sg_demo_budget_refund(b, 1, 9, &l, 1000); /* capped at the capacity */
    assert_int_equal(sg_demo_budget_reserve(b, 1, 9, &l, 61, &retry, &scope), SG_RL_TOO_LARGE);
    assert_int_equal(sg_demo_budget_reserve(b, 1, 9, &l, 60, &retry, &scope), SG_RL_ADMITTED);
    /* the global budget */
    sg_demo_limits tight = {.session_tpm = 60, .network_tpm = 60, .global_tpm = 60};
    sg_demo_budget *g;
    assert_null(sg_demo_budget_new(16, fake_clock, NULL, &g));
    assert_int_equal(sg_demo_budget_reserve(g, 1, 1, &tight, 40, &retry, &scope), SG_RL_ADMITTED);
    assert_int_equal(sg_demo_budget_reserve(g, 2, 2, &tight, 40, &retry, &scope), SG_RL_LIMITED);
    assert_int_equal(scope, SG_DEMO_BUDGET_GLOBAL);
    sg_demo_budget_free(g);
    sg_demo_budget_free(b);
}

static void a_flood_of_sessions_cannot_evict_spenders(void **state) {
    (void)state;
    sg_demo_budget *b;
    fake_now = 0;
    assert_null(sg_demo_budget_new(8, fake_clock, NULL, &b));
    sg_demo_limits l = {.session_tpm = 60, .network_tpm = 1000000, .global_tpm = 1000000};
    double retry;
    sg_demo_budget_scope scope;
    /* 8 sessions spend: the table is full of state that matters */
    for (uint64_t s = 1; s <= 8; s++)
        assert_int_equal(sg_demo_budget_reserve(b, s, 1, &l, 60, &retry, &scope), SG_RL_ADMITTED);
    for (uint64_t s = 100; s < 1100; s++) {
        assert_int_equal(sg_demo_budget_reserve(b, s, 1, &l, 1, &retry, &scope), SG_RL_LIMITED);
        assert_int_equal(scope, SG_DEMO_BUDGET_TABLE_FULL);
    }
    int sessions, networks;
    sg_demo_budget_counts(b, &sessions, &networks);
    assert_int_equal(sessions, 8);
    /* and the spenders are still empty: no eviction reset them */
    for (uint64_t s = 1; s <= 8; s++) {
        assert_int_equal(sg_demo_budget_reserve(b, s, 1, &l, 1, &retry, &scope), SG_RL_LIMITED);
        assert_int_equal(scope, SG_DEMO_BUDGET_SESSION);
    }
    /* once their buckets have refilled they carry nothing: newcomers replace them */
    fake_now += 61;
    for (uint64_t s = 2000; s < 2100; s++)
        assert_int_equal(sg_demo_budget_reserve(b, s, 1, &l, 0, &retry, &scope), SG_RL_ADMITTED);
    sg_demo_budget_counts(b, &sessions, &networks);
    assert_int_equal(sessions, 8);
    sg_demo_budget_free(b);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(session_cookie_round_trip_and_tampering),
        cmocka_unit_test(csrf_token_is_bound_to_the_session),
        cmocka_unit_test(proof_of_work),
        cmocka_unit_test(budgets_reserve_all_or_nothing),
        cmocka_unit_test(a_flood_of_sessions_cannot_evict_spenders),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
