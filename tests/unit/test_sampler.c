/* test_sampler.c — the sampler: greedy, seeds, top-k/top-p sets (checked
 * against a brute-force sort), temperature, processors, logprobs. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/init.h"
#include "engine/sampler.h"

static sg_sampler make(float temperature, int top_k, float top_p, uint64_t seed, int vocab) {
    sg_sampler s;
    sg_sampling cfg = {temperature, top_k, top_p, seed};
    sg_error *err = sg_sampler_init(&s, &cfg, vocab);
    assert_null(err);
    return s;
}

/* Draws n tokens from fresh copies of `logits`, counting hits per id. */
static void draw(sg_sampler *s, const float *logits, int vocab, int n, int *counts) {
    float *buf = malloc(sizeof(float) * vocab);
    memset(counts, 0, sizeof(int) * vocab);
    for (int i = 0; i < n; i++) {
        memcpy(buf, logits, sizeof(float) * vocab);
        int t = sg_sampler_sample(s, buf, NULL, 0);
        assert_true(t >= 0 && t < vocab);
        counts[t]++;
    }
    free(buf);
}

static void test_greedy_is_argmax(void **state) {
    (void)state;
    float logits[6] = {0.1f, 2.0f, -1.0f, 3.5f, 3.5f, 0};
    sg_sampler s = make(0, 0, 1, 1, 6);
    assert_int_equal(sg_sampler_sample(&s, logits, NULL, 0), 3); /* tie: lower id */
    /* greedy ignores top-k / top-p and the seed */
    sg_sampler_free(&s);
    s = make(0, 1, 0.1f, 99, 6);
    float l2[6] = {0.1f, 2.0f, -1.0f, 0.5f, 4.5f, 0};
    assert_int_equal(sg_sampler_sample(&s, l2, NULL, 0), 4);
    sg_sampler_free(&s);
}

static void test_seed_determinism(void **state) {
    (void)state;
    enum { V = 1000, N = 200 };
    float logits[V], buf[V];
    for (int i = 0; i < V; i++) logits[i] = sinf(i * 0.37f) * 3;
    int a[N], b[N], c[N];
    for (int run = 0; run < 3; run++) {
        sg_sampler s = make(0.9f, 50, 0.95f, run == 2 ? 43 : 42, V);
        for (int i = 0; i < N; i++) {
            memcpy(buf, logits, sizeof buf);
            int t = sg_sampler_sample(&s, buf, NULL, 0);
            (run == 0 ? a : run == 1 ? b : c)[i] = t;
        }
        sg_sampler_free(&s);
    }
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
}

/* The k best ids by (logit desc, id asc). */
static const float *rank_keys;
static int rank_cmp(const void *pa, const void *pb) {
    int a = *(const int *)pa, b = *(const int *)pb;
    if (rank_keys[a] != rank_keys[b]) return rank_keys[a] > rank_keys[b] ? -1 : 1;
    return a - b;
}

static void test_top_k_set(void **state) {
    (void)state;
    enum { V = 500, K = 7 };
    float logits[V];
    for (int i = 0; i < V; i++) logits[i] = (float)((i * 7919) % 101) / 10.0f; /* many ties */
    int order[V];
    for (int i = 0; i < V; i++) order[i] = i;
    rank_keys = logits;
    qsort(order, V, sizeof(int), rank_cmp);
    int in_top[V] = {0};
    for (int i = 0; i < K; i++) in_top[order[i]] = 1;
    sg_sampler s = make(5.0f, K, 1, 3, V); /* hot: all K get drawn */
    int counts[V];
    draw(&s, logits, V, 3000, counts);
    for (int i = 0; i < V; i++) {
        if (in_top[i])
            assert_true(counts[i] > 0);
        else
            assert_int_equal(counts[i], 0);
    }
    sg_sampler_free(&s);
}

static void test_top_p_small(void **state) {
    (void)state;
    /* probabilities 0.5, 0.3, 0.15, 0.05 at ids 2, 0, 3, 1 */
    float logits[4] = {logf(0.3f), logf(0.05f), logf(0.5f), logf(0.15f)};
    int counts[4];
    sg_sampler s = make(1, 0, 0.79f, 5, 4);
    draw(&s, logits, 4, 2000, counts);
    assert_true(counts[2] > 0 && counts[0] > 0);
    assert_int_equal(counts[3], 0);
    assert_int_equal(counts[1], 0);
    /* renormalised over {2, 0}: 0.625 vs 0.375 */
    assert_true(fabs(counts[2] / 2000.0 - 0.625) < 0.05);
    sg_sampler_free(&s);
    s = make(1, 0, 0.81f, 5, 4);
    draw(&s, logits, 4, 2000, counts);
    assert_true(counts[2] > 0 && counts[0] > 0 && counts[3] > 0);
    assert_int_equal(counts[1], 0);
    sg_sampler_free(&s);
    /* top-p so small that only the best survives */
    s = make(1, 0, 0.01f, 5, 4);
    draw(&s, logits, 4, 200, counts);
    assert_int_equal(counts[2], 200);
    sg_sampler_free(&s);
}

/* Top-p over a GPT-2-sized vocabulary against a brute-force nucleus. */
static void test_top_p_large(void **state) {
    (void)state;
    enum { V = 50257 };
    float *logits = malloc(sizeof(float) * V);
    int *order = malloc(sizeof(int) * V), *counts = malloc(sizeof(int) * V);
    char *in = calloc(V, 1);
    uint64_t x = 12345;
    for (int i = 0; i < V; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        logits[i] = (float)((x >> 40) % 1000) / 1000.0f * 4.0f; /* flat-ish: a wide nucleus */
    }
    for (int i = 0; i < 40; i++) logits[(i * 977) % V] = 8.0f - i * 0.05f;
    const float T = 0.7f, P = 0.9f;
    double total = 0;
    float mx = 8.0f;
    for (int i = 0; i < V; i++) total += expf((logits[i] - mx) / T);
    for (int i = 0; i < V; i++) order[i] = i;
    rank_keys = logits;
    qsort(order, V, sizeof(int), rank_cmp);
    double cum = 0;
    int n_in = 0;
    for (int i = 0; i < V; i++) {
        cum += expf((logits[order[i]] - mx) / T);
        in[order[i]] = 1;
        n_in++;
        if (cum >= P * total) break;
    }
    assert_true(n_in > 40); /* the nucleus reaches into the flat part */
    sg_sampler s = make(T, 0, P, 11, V);
    draw(&s, logits, V, 1000, counts);
    int outside = 0, distinct = 0;
    for (int i = 0; i < V; i++) {
        if (counts[i] && !in[i]) outside++;
        distinct += counts[i] > 0;
    }
    assert_int_equal(outside, 0);
    assert_true(distinct > 40);
    assert_true(n_in < V / 2); /* and the nucleus excludes much */
    sg_sampler_free(&s);
    free(logits), free(order), free(counts), free(in);
}

static void test_temperature_distribution(void **state) {
    (void)state;
    float logits[3] = {0, 1, 2};
    int counts[3];
    const int N = 20000;
    for (int t = 0; t < 2; t++) {
        float T = t ? 2.0f : 1.0f;
        sg_sampler s = make(T, 0, 1, 77, 3);
        draw(&s, logits, 3, N, counts);
        double z = 1 + exp(1 / T) + exp(2 / T);
        for (int i = 0; i < 3; i++) {
            double p = exp(i / T) / z, f = (double)counts[i] / N;
            assert_true(fabs(f - p) < 4 * sqrt(p * (1 - p) / N) + 1e-3);
        }
        sg_sampler_free(&s);
    }
}

typedef struct {
    int banned;
    int calls, last_n;
    int last_token;
} ban_ctx;

static void ban_apply(void *ctx, const int *tokens, int n, float *logits, int vocab) {
    ban_ctx *b = ctx;
    b->calls++;
    b->last_n = n;
    b->last_token = n ? tokens[n - 1] : -1;
    if (b->banned < 0)
        for (int i = 0; i < vocab; i++) logits[i] = -INFINITY;
    else
        logits[b->banned] = -INFINITY;
}

static void test_processors(void **state) {
    (void)state;
    float logits[5] = {1, 5, 2, 0, 4.9f};
    int toks[3] = {9, 8, 7};
    ban_ctx b = {.banned = 1};
    sg_sampler s = make(0, 0, 1, 0, 5);
    assert_int_equal(sg_sampler_add_processor(&s, (sg_logits_processor){ban_apply, &b}), 0);
    assert_int_equal(sg_sampler_sample(&s, logits, toks, 3), 4);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.last_n, 3);
    assert_int_equal(b.last_token, 7);
    /* sampling never picks a banned token */
    sg_sampler_free(&s);
    s = make(3.0f, 0, 1, 0, 5);
    sg_sampler_add_processor(&s, (sg_logits_processor){ban_apply, &b});
    int counts[5];
    float l2[5] = {1, 5, 2, 0, 4.9f};
    draw(&s, l2, 5, 1000, counts);
    assert_int_equal(counts[1], 0);
    assert_true(counts[0] > 0 && counts[4] > 0);
    /* everything banned: -1 */
    b.banned = -1;
    float l3[5] = {1, 5, 2, 0, 4.9f};
    assert_int_equal(sg_sampler_sample(&s, l3, NULL, 0), -1);
    /* the chain is bounded */
    for (int i = 1; i < SG_SAMPLER_MAX_PROCESSORS; i++)
        assert_int_equal(sg_sampler_add_processor(&s, (sg_logits_processor){ban_apply, &b}), 0);
    assert_int_equal(sg_sampler_add_processor(&s, (sg_logits_processor){ban_apply, &b}), -1);
    sg_sampler_free(&s);
}

static void test_logprobs(void **state) {
    (void)state;
    float logits[6] = {0.5f, -1, 3, 2.5f, 3, -INFINITY};
    double z = 0;
    for (int i = 0; i < 6; i++) z += exp(logits[i]);
    float lp, top_lp[5];
    int top[5];
    sg_logprobs(logits, 6, 3, 4, &lp, top, top_lp);
    assert_true(fabs(lp - (2.5 - log(z))) < 1e-6);
    int want[4] = {2, 4, 3, 0};
    assert_memory_equal(top, want, sizeof want);
    for (int i = 0; i < 4; i++) assert_true(fabs(top_lp[i] - (logits[want[i]] - log(z))) < 1e-6);
    sg_logprobs(logits, 6, 5, 0, &lp, top, top_lp);
    assert_true(isinf(lp) && lp < 0);
}

static void test_bad_settings(void **state) {
    (void)state;
    sg_sampler s;
    const sg_sampling bad[] = {{-1, 0, 1, 0}, {NAN, 0, 1, 0}, {1, -2, 1, 0}, {1, 0, 0, 0}, {1, 0, 1.5f, 0}};
    const char *word[] = {"temperature", "temperature", "top_k", "top_p", "top_p"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sg_error *err = sg_sampler_init(&s, &bad[i], 10);
        assert_non_null(err);
        assert_non_null(strstr(sg_error_message(err), word[i]));
        sg_error_free(err);
    }
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_is_argmax), cmocka_unit_test(test_seed_determinism),
        cmocka_unit_test(test_top_k_set),        cmocka_unit_test(test_top_p_small),
        cmocka_unit_test(test_top_p_large),      cmocka_unit_test(test_temperature_distribution),
        cmocka_unit_test(test_processors),       cmocka_unit_test(test_logprobs),
        cmocka_unit_test(test_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
