/* test_ratelimit.c — token buckets: exact admission under races, refunds,
 * continuous refill (with an injected clock), header values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "access/ratelimit.h"
#include "base/init.h"
#include "base/log.h"

static double fake_now;
static double fake_clock(void *ctx) {
    (void)ctx;
    return fake_now;
}

typedef struct {
    sg_ratelimit *rl;
    int64_t rpm, tpm, tokens;
    int attempts;
    atomic_int *admitted;
    atomic_int *went_negative;
} racer;

static void *race(void *arg) {
    racer *r = arg;
    for (int i = 0; i < r->attempts; i++) {
        sg_ratelimit_status st;
        if (sg_ratelimit_reserve(r->rl, 7, r->rpm, r->tpm, r->tokens, &st) == SG_RL_ADMITTED)
            atomic_fetch_add(r->admitted, 1);
        if (st.remaining_requests < 0 || st.remaining_tokens < 0) atomic_fetch_add(r->went_negative, 1);
    }
    return NULL;
}

static int run_race(int64_t rpm, int64_t tpm, int64_t tokens, sg_ratelimit **rl_out) {
    sg_ratelimit *rl;
    fake_now = 100.0; /* frozen: no refill during the race */
    assert_null(sg_ratelimit_new(fake_clock, NULL, &rl));
    enum { THREADS = 8 };
    atomic_int admitted = 0, negative = 0;
    pthread_t th[THREADS];
    racer r = {rl, rpm, tpm, tokens, 200, &admitted, &negative};
    for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_create(&th[i], NULL, race, &r), 0);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&negative), 0);
    *rl_out = rl;
    return atomic_load(&admitted);
}

static void racing_threads_admit_exactly_capacity(void **state) {
    (void)state;
    sg_ratelimit *rl;
    /* 8 threads x 200 attempts on a bucket of 50 requests: exactly 50 pass. */
    assert_int_equal(run_race(50, 0, 10, &rl), 50);
    sg_ratelimit_status st;
    sg_ratelimit_peek(rl, 7, 50, 0, &st);
    assert_int_equal(st.remaining_requests, 0);
    sg_ratelimit_free(rl);
    /* Token bucket of 1000 with 30-token reservations: floor(1000/30) = 33. */
    assert_int_equal(run_race(0, 1000, 30, &rl), 33);
    sg_ratelimit_peek(rl, 7, 0, 1000, &st);
    assert_int_equal(st.remaining_tokens, 10);
    sg_ratelimit_free(rl);
}

/* With the real clock the bucket refills during the race: admissions may
 * exceed the capacity only by what refilled, never more. */
static void real_clock_race_never_overshoots(void **state) {
    (void)state;
    sg_ratelimit *rl;
    assert_null(sg_ratelimit_new(NULL, NULL, &rl));
    enum { THREADS = 8 };
    atomic_int admitted = 0, negative = 0;
    pthread_t th[THREADS];
    const int64_t tpm = 6000; /* 100 tokens per second */
    racer r = {rl, 0, tpm, 7, 2000, &admitted, &negative};
    double t0 = sg_monotonic_s();
    for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_create(&th[i], NULL, race, &r), 0);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    double elapsed = sg_monotonic_s() - t0;
    assert_int_equal(atomic_load(&negative), 0);
    double bound = ((double)tpm + elapsed * (double)tpm / 60.0) / 7.0;
    assert_true(atomic_load(&admitted) >= (int)(tpm / 7));
    assert_true(atomic_load(&admitted) <= (int)bound + 1);
    sg_ratelimit_free(rl);
}

static void refusal_takes_nothing_and_refund_gives_back(void **state) {
    (void)state;
    sg_ratelimit *rl;
    fake_now = 0;
    assert_null(sg_ratelimit_new(fake_clock, NULL, &rl));
    sg_ratelimit_status st;
    assert_int_equal(sg_ratelimit_reserve(rl, 1, 10, 1000, 600, &st), SG_RL_ADMITTED);
    assert_int_equal(st.remaining_tokens, 400);
    assert_int_equal(st.remaining_requests, 9);
    /* Not enough tokens: refused, and the request bucket is untouched. */
    assert_int_equal(sg_ratelimit_reserve(rl, 1, 10, 1000, 500, &st), SG_RL_LIMITED);
    assert_int_equal(st.remaining_requests, 9);
    assert_int_equal(st.remaining_tokens, 400);
    assert_true(fabs(st.retry_after_s - 100 * 60.0 / 1000) < 1e-9); /* 100 tokens at 1000/min */
    /* The request used 250 of its 600 tokens: 350 come back. */
    sg_ratelimit_refund(rl, 1, 350);
    sg_ratelimit_peek(rl, 1, 10, 1000, &st);
    assert_int_equal(st.remaining_tokens, 750);
    /* Refunds never overfill. */
    sg_ratelimit_refund(rl, 1, 5000);
    sg_ratelimit_peek(rl, 1, 10, 1000, &st);
    assert_int_equal(st.remaining_tokens, 1000);
    /* Keys are independent. */
    assert_int_equal(sg_ratelimit_reserve(rl, 2, 10, 1000, 1000, &st), SG_RL_ADMITTED);
    assert_int_equal(st.remaining_tokens, 0);
    /* More than the bucket can ever hold. */
    assert_int_equal(sg_ratelimit_reserve(rl, 3, 10, 1000, 1001, &st), SG_RL_TOO_LARGE);
    /* Unlimited (0) always admits. */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(sg_ratelimit_reserve(rl, 4, 0, 0, 1 << 20, NULL), SG_RL_ADMITTED);
    sg_ratelimit_free(rl);
}

static void refill_is_continuous(void **state) {
    (void)state;
    sg_ratelimit *rl;
    fake_now = 1000;
    assert_null(sg_ratelimit_new(fake_clock, NULL, &rl));
    sg_ratelimit_status st;
    for (int i = 0; i < 60; i++)
        assert_int_equal(sg_ratelimit_reserve(rl, 1, 60, 0, 0, NULL), SG_RL_ADMITTED);
    assert_int_equal(sg_ratelimit_reserve(rl, 1, 60, 0, 0, &st), SG_RL_LIMITED);
    assert_true(fabs(st.retry_after_s - 1.0) < 1e-9); /* 60/min = one per second */
    assert_true(fabs(st.reset_requests_s - 60.0) < 1e-9);
    fake_now += 0.5;
    assert_int_equal(sg_ratelimit_reserve(rl, 1, 60, 0, 0, &st), SG_RL_LIMITED);
    assert_true(fabs(st.retry_after_s - 0.5) < 1e-9);
    fake_now += 0.5;
    assert_int_equal(sg_ratelimit_reserve(rl, 1, 60, 0, 0, &st), SG_RL_ADMITTED);
    assert_int_equal(sg_ratelimit_reserve(rl, 1, 60, 0, 0, &st), SG_RL_LIMITED);
    /* After a long idle time the bucket is full, never more. */
    fake_now += 3600;
    sg_ratelimit_peek(rl, 1, 60, 0, &st);
    assert_int_equal(st.remaining_requests, 60);
    assert_true(st.reset_requests_s == 0);
    /* Lowering the limit shrinks the bucket; raising it does not fill it. */
    sg_ratelimit_peek(rl, 1, 10, 0, &st);
    assert_int_equal(st.limit_requests, 10);
    assert_int_equal(st.remaining_requests, 10);
    sg_ratelimit_peek(rl, 1, 100, 0, &st);
    assert_int_equal(st.remaining_requests, 10);
    sg_ratelimit_free(rl);
}

static void token_reset_and_durations(void **state) {
    (void)state;
    sg_ratelimit *rl;
    fake_now = 0;
    assert_null(sg_ratelimit_new(fake_clock, NULL, &rl));
    sg_ratelimit_status st;
    assert_int_equal(sg_ratelimit_reserve(rl, 1, 0, 600, 60, &st), SG_RL_ADMITTED);
    char buf[32];
    sg_format_duration(st.reset_tokens_s, buf, sizeof buf);
    assert_string_equal(buf, "6s"); /* 60 tokens at 10/s */
    sg_ratelimit_free(rl);

    struct {
        double s;
        const char *text;
    } cases[] = {
        {0, "0s"},     {-1, "0s"},        {0.02, "20ms"},   {0.0001, "1ms"},     {1, "1s"},
        {360, "6m0s"}, {90.5, "1m30.5s"}, {3600, "1h0m0s"}, {59.999, "59.999s"}, {7322.25, "2h2m2.25s"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sg_format_duration(cases[i].s, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
    }
    assert_int_equal(sg_retry_after_seconds(0.2), 1);
    assert_int_equal(sg_retry_after_seconds(1.0), 1);
    assert_int_equal(sg_retry_after_seconds(1.01), 2);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(racing_threads_admit_exactly_capacity),
        cmocka_unit_test(real_clock_race_never_overshoots),
        cmocka_unit_test(refusal_takes_nothing_and_refund_gives_back),
        cmocka_unit_test(refill_is_continuous),
        cmocka_unit_test(token_reset_and_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
