/* test_watermark.c — the green-list watermark on synthetic token streams:
 * watermarked streams from a simple distribution score z >> 4, random and
 * wrong-key streams stay near 0, repeats are scored once, edits degrade it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/init.h"
#include "eval/detect_eval.h"
#include "safety/watermark.h"

#define VOCAB 50257    /* GPT-2's vocabulary, for green-list fractions and random streams */
#define GEN_VOCAB 4096 /* the synthetic language: smaller so the test stays fast */
#define T 200

static uint64_t rng_state;
static uint64_t next_u64(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double uniform(void) { return (double)(next_u64() >> 11) / 9007199254740992.0; }

static void make_key(unsigned char key[32], unsigned char fill) {
    for (int i = 0; i < 32; i++) key[i] = (unsigned char)(fill + 7 * i);
}

/* A simple language: each step, logits of N(0, 2) noise over the vocabulary
 * (plenty of entropy), the processor applied, then a softmax draw. */
static void generate(sg_logits_processor *proc, int *tokens, int n) {
    static float logits[GEN_VOCAB];
    static double p[GEN_VOCAB];
    tokens[0] = (int)(next_u64() % GEN_VOCAB);
    for (int t = 1; t < n; t++) {
        for (int v = 0; v < GEN_VOCAB; v++) {
            double u1 = uniform() + 1e-12, u2 = uniform();
            logits[v] = (float)(2.0 * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
        }
        if (proc) proc->apply(proc->ctx, tokens, t, logits, GEN_VOCAB);
        double max = logits[0], sum = 0;
        for (int v = 1; v < GEN_VOCAB; v++) max = fmax(max, logits[v]);
        for (int v = 0; v < GEN_VOCAB; v++) sum += p[v] = exp(logits[v] - max);
        double r = uniform() * sum;
        int v = 0;
        while (v < GEN_VOCAB - 1 && (r -= p[v]) > 0) v++;
        tokens[t] = v;
    }
}

static void green_lists_have_fraction_gamma(void **state) {
    (void)state;
    unsigned char key[32];
    make_key(key, 1);
    sg_watermark *wm;
    assert_null(sg_watermark_new(key, 0.25, 2.0, &wm));
    for (int prev = 0; prev < 3; prev++) {
        int green = 0;
        for (int v = 0; v < VOCAB; v++) green += sg_watermark_is_green(wm, prev * 1000, v);
        double frac = (double)green / VOCAB;
        assert_true(fabs(frac - 0.25) < 0.01);
    }
    /* the list changes with the previous token */
    int same = 0;
    for (int v = 0; v < 1000; v++) same += sg_watermark_is_green(wm, 1, v) == sg_watermark_is_green(wm, 2, v);
    assert_true(same < 700);
    sg_watermark_free(wm);
}

static void watermarked_streams_are_detected(void **state) {
    (void)state;
    rng_state = 42;
    unsigned char key[32], other[32];
    make_key(key, 1);
    make_key(other, 2);
    sg_watermark *wm, *wrong;
    assert_null(sg_watermark_new(key, 0.25, 2.0, &wm));
    assert_null(sg_watermark_new(other, 0.25, 2.0, &wrong));
    sg_logits_processor proc = sg_watermark_processor(wm);
    int tokens[T];
    for (int trial = 0; trial < 5; trial++) {
        generate(&proc, tokens, T);
        sg_watermark_score s;
        assert_null(sg_watermark_detect(wm, tokens, T, 4.0, &s));
        assert_int_equal(s.tokens_scored, T - 1);
        assert_true(s.z > 10);
        assert_true(s.watermarked);
        assert_true(s.p_value < 1e-20);
        /* the wrong key sees nothing */
        assert_null(sg_watermark_detect(wrong, tokens, T, 4.0, &s));
        assert_true(fabs(s.z) < 4);
        assert_false(s.watermarked);
        /* 10% of the tokens replaced at random: still detected */
        for (int i = 0; i < T; i += 10) tokens[i] = (int)(next_u64() % GEN_VOCAB);
        assert_null(sg_watermark_detect(wm, tokens, T, 4.0, &s));
        assert_true(s.z > 6);
    }
    sg_watermark_free(wm);
    sg_watermark_free(wrong);
}

static void unwatermarked_streams_stay_near_zero(void **state) {
    (void)state;
    rng_state = 7;
    unsigned char key[32];
    make_key(key, 1);
    sg_watermark *wm;
    assert_null(sg_watermark_new(key, 0.25, 2.0, &wm));
    int tokens[T], flagged = 0;
    double sum = 0, sumsq = 0;
    const int trials = 300;
    for (int trial = 0; trial < trials; trial++) {
        for (int i = 0; i < T; i++) tokens[i] = (int)(next_u64() % VOCAB);
        sg_watermark_score s;
        assert_null(sg_watermark_detect(wm, tokens, T, 4.0, &s));
        sum += s.z;
        sumsq += s.z * s.z;
        flagged += s.watermarked;
    }
    double mean = sum / trials, var = sumsq / trials - mean * mean;
    assert_true(fabs(mean) < 0.3); /* z is standard normal under the null */
    assert_true(var > 0.6 && var < 1.5);
    assert_int_equal(flagged, 0);
    /* a sample from the model without the processor is not watermarked either */
    generate(NULL, tokens, T);
    sg_watermark_score s;
    assert_null(sg_watermark_detect(wm, tokens, T, 4.0, &s));
    assert_false(s.watermarked);
    sg_watermark_free(wm);
}

static void repeated_pairs_are_scored_once(void **state) {
    (void)state;
    unsigned char key[32];
    make_key(key, 3);
    sg_watermark *wm;
    assert_null(sg_watermark_new(key, 0.25, 2.0, &wm));
    /* find a green pair and repeat it: the score must not grow */
    int a = 0, b = 0;
    while (!sg_watermark_is_green(wm, a, b)) b++;
    int tokens[400];
    for (int i = 0; i < 400; i++) tokens[i] = i % 2 ? b : a;
    sg_watermark_score s;
    assert_null(sg_watermark_detect(wm, tokens, 400, 4.0, &s));
    assert_int_equal(s.tokens_scored, a == b ? 1 : 2); /* (a,b) and (b,a) */
    assert_false(s.watermarked);
    assert_null(sg_watermark_detect(wm, tokens, 1, 4.0, &s));
    assert_int_equal(s.tokens_scored, 0);
    assert_true(s.p_value == 1.0);
    sg_watermark_free(wm);
}

static void bad_parameters(void **state) {
    (void)state;
    unsigned char key[32] = {0};
    sg_watermark *wm;
    sg_error *err = sg_watermark_new(key, 1.5, 2.0, &wm);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "gamma"));
    sg_error_free(err);
    err = sg_watermark_new(key, 0.25, -1, &wm);
    assert_non_null(err);
    sg_error_free(err);
}

static void auroc_of_score_lists(void **state) {
    (void)state;
    double pos[] = {3, 4, 5}, neg[] = {0, 1, 2}, tie[] = {3, 4, 5};
    assert_true(sg_auroc(pos, 3, neg, 3) == 1.0);
    assert_true(sg_auroc(neg, 3, pos, 3) == 0.0);
    assert_true(sg_auroc(pos, 3, tie, 3) == 0.5);
    double mixed[] = {0.5, 2.5};
    assert_true(fabs(sg_auroc(mixed, 2, neg, 3) - 4.0 / 6.0) < 1e-12);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(green_lists_have_fraction_gamma),
        cmocka_unit_test(watermarked_streams_are_detected),
        cmocka_unit_test(unwatermarked_streams_stay_near_zero),
        cmocka_unit_test(repeated_pairs_are_scored_once),
        cmocka_unit_test(bad_parameters),
        cmocka_unit_test(auroc_of_score_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
