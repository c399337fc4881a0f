/* test_generate.c — sg_batch over a small random model: a sequence produces
 * the same tokens alone or in a batch that others join and leave; seeds;
 * stop sequences; end-of-text; max_tokens and a full context; cancel;
 * capacity; processors; logprobs; bad input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/init.h"
#include "engine/checkpoint.h"
#include "engine/generate.h"

enum { SLOTS = 4, NMAX = 256 };

typedef struct {
    sg_gpt2_weights *w;
    sg_gpt2 *model;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    sg_gpt2_config c = {.n_layer = 2,
                        .n_head = 2,
                        .n_embd = 40,
                        .n_ctx = 48,
                        .vocab_size = 97,
                        .n_inner = 160,
                        .ln_epsilon = 1e-5f};
    sg_error *err = sg_gpt2_weights_alloc(&c, &f->w);
    assert_null(err);
    sg_gpt2_weights_init_random(f->w, 1234);
    /* GPT-2's 0.02 makes a random model repeat one token; scale the
     * matrices up so outputs vary and ties are rare. */
    int nt = sg_gpt2_tensors(f->w, NULL);
    sg_gpt2_tensor *t = malloc(sizeof *t * nt);
    sg_gpt2_tensors(f->w, t);
    for (int i = 0; i < nt; i++)
        if (t[i].ndim == 2)
            for (size_t j = 0; j < t[i].numel; j++) t[i].data[j] *= 12;
    free(t);
    err = sg_gpt2_new(f->w, SLOTS, &f->model);
    assert_null(err);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    sg_gpt2_free(f->model);
    sg_gpt2_weights_free(f->w);
    free(f);
    return 0;
}

static sg_generation_params params(int max_tokens, float temperature, uint64_t seed) {
    sg_generation_params p = {0};
    p.max_tokens = max_tokens;
    p.sampling = (sg_sampling){temperature, 0, 1, seed};
    p.eot_token = -1;
    return p;
}

typedef struct {
    int tokens[NMAX], n;
    sg_finish_reason finish;
    int events;
} result;

/* Runs one sequence alone to the end. */
static result run_alone(sg_gpt2 *model, const int *prompt, int n_prompt, const sg_generation_params *p) {
    result r = {0};
    sg_batch *b;
    sg_error *err = sg_batch_new(model, &b);
    assert_null(err);
    int id;
    err = sg_batch_add(b, prompt, n_prompt, p, &id);
    assert_null(err);
    sg_batch_event ev[SLOTS];
    while (sg_batch_running(b)) {
        int n;
        err = sg_batch_step(b, ev, &n);
        assert_null(err);
        assert_int_equal(n, 1);
        assert_int_equal(ev[0].seq_id, id);
        r.events++;
        if (ev[0].token >= 0) r.tokens[r.n++] = ev[0].token;
        r.finish = ev[0].finish;
    }
    sg_batch_free(b);
    return r;
}

static const int P1[] = {3, 14, 15, 92, 65, 35}, P2[] = {2, 71, 82},
                 P3[] = {1, 1, 2, 3, 5, 8, 13, 21, 34, 55};

static void test_alone_equals_batched(void **state) {
    fixture *f = *state;
    const int *prompts[3] = {P1, P2, P3};
    int lens[3] = {6, 3, 10}, max[3] = {30, 12, 25};
    float temps[3] = {0, 0.8f, 1.2f};
    result alone[3];
    for (int i = 0; i < 3; i++) {
        sg_generation_params p = params(max[i], temps[i], 100 + i);
        alone[i] = run_alone(f->model, prompts[i], lens[i], &p);
        assert_int_equal(alone[i].n, max[i]);
        assert_int_equal(alone[i].finish, SG_FINISH_LENGTH);
    }
    /* Batched: sequence i joins at step 3*i; 1 leaves first, 0 and 2 later. */
    sg_batch *b;
    sg_error *err = sg_batch_new(f->model, &b);
    assert_null(err);
    int ids[3], added = 0;
    result got[3];
    memset(got, 0, sizeof got);
    sg_batch_event ev[SLOTS];
    for (int step = 0; added < 3 || sg_batch_running(b); step++) {
        if (added < 3 && step == 3 * added) {
            sg_generation_params p = params(max[added], temps[added], 100 + added);
            err = sg_batch_add(b, prompts[added], lens[added], &p, &ids[added]);
            assert_null(err);
            added++;
        }
        int before = sg_batch_running(b), n;
        err = sg_batch_step(b, ev, &n);
        assert_null(err);
        assert_int_equal(n, before); /* one event per running sequence */
        for (int e = 0; e < n; e++) {
            int i = 0;
            while (i < 3 && ids[i] != ev[e].seq_id) i++;
            assert_true(i < 3);
            if (ev[e].token >= 0) got[i].tokens[got[i].n++] = ev[e].token;
            got[i].finish = ev[e].finish;
        }
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(got[i].n, alone[i].n);
        assert_memory_equal(got[i].tokens, alone[i].tokens, sizeof(int) * alone[i].n);
        assert_int_equal(got[i].finish, SG_FINISH_LENGTH);
    }
    sg_batch_free(b);
}

static void test_greedy_matches_forward(void **state) {
    fixture *f = *state;
    /* Greedy generation = argmax of the model's own logits, step by step. */
    sg_generation_params p = params(10, 0, 0);
    result r = run_alone(f->model, P1, 6, &p);
    int V = sg_gpt2_config_of(f->model)->vocab_size;
    float *logits = malloc(sizeof(float) * V);
    int slot = sg_gpt2_slot_acquire(f->model);
    sg_error *err = sg_gpt2_prefill(f->model, slot, P1, 6, logits);
    assert_null(err);
    for (int i = 0; i < 10; i++) {
        int best = 0;
        for (int v = 1; v < V; v++)
            if (logits[v] > logits[best]) best = v;
        assert_int_equal(r.tokens[i], best);
        err = sg_gpt2_decode(f->model, &slot, &best, 1, logits);
        assert_null(err);
    }
    assert_int_equal(sg_gpt2_slot_length(f->model, slot), 16);
    sg_gpt2_slot_release(f->model, slot);
    free(logits);
    /* the outputs are not degenerate */
    int distinct = 0;
    for (int i = 0; i < r.n; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= r.tokens[j] == r.tokens[i];
        distinct += !seen;
    }
    assert_true(distinct >= 3);
}

static void test_seeds(void **state) {
    fixture *f = *state;
    sg_generation_params p = params(20, 1.0f, 7);
    result a = run_alone(f->model, P2, 3, &p), b = run_alone(f->model, P2, 3, &p);
    assert_memory_equal(a.tokens, b.tokens, sizeof(int) * 20);
    p.sampling.seed = 8;
    result c = run_alone(f->model, P2, 3, &p);
    assert_memory_not_equal(a.tokens, c.tokens, sizeof(int) * 20);
}

static void test_stop_sequences(void **state) {
    fixture *f = *state;
    sg_generation_params p = params(30, 0.9f, 5);
    result full = run_alone(f->model, P3, 10, &p);
    assert_int_equal(full.n, 30);
    /* Stop at the pair of tokens at positions 11-12: the output is cut at the
     * first place where the generated text ends with that pair. */
    int stop[2] = {full.tokens[11], full.tokens[12]};
    int cut = -1;
    for (int i = 1; i < full.n && cut < 0; i++)
        if (full.tokens[i - 1] == stop[0] && full.tokens[i] == stop[1]) cut = i + 1;
    int never[3] = {96, 96, 96};
    p.stop[0] = never;
    p.stop_len[0] = 3;
    p.stop[1] = stop;
    p.stop_len[1] = 2;
    p.n_stop = 2;
    result r = run_alone(f->model, P3, 10, &p);
    assert_int_equal(r.finish, SG_FINISH_STOP);
    assert_int_equal(r.n, cut);
    assert_memory_equal(r.tokens, full.tokens, sizeof(int) * cut);
    /* A stop sequence only matches generated tokens, not the prompt's end. */
    int tail[1] = {P3[9]};
    p.stop[0] = tail;
    p.stop_len[0] = 1;
    p.n_stop = 1;
    r = run_alone(f->model, P3, 10, &p);
    int first = -1;
    for (int i = 0; i < full.n && first < 0; i++)
        if (full.tokens[i] == P3[9]) first = i + 1;
    assert_int_equal(r.n, first < 0 ? 30 : first);
}

static void test_eot(void **state) {
    fixture *f = *state;
    sg_generation_params p = params(30, 0.9f, 6);
    result full = run_alone(f->model, P1, 6, &p);
    int eot = full.tokens[7], first = 0;
    while (full.tokens[first] != eot) first++;
    p.eot_token = eot;
    result r = run_alone(f->model, P1, 6, &p);
    assert_int_equal(r.finish, SG_FINISH_STOP);
    assert_int_equal(r.n, first); /* the end-of-text token itself is not output */
    assert_int_equal(r.events, first + 1);
    assert_memory_equal(r.tokens, full.tokens, sizeof(int) * first);
}

static void test_length_limits(void **state) {
    fixture *f = *state;
    int n_ctx = sg_gpt2_config_of(f->model)->n_ctx;
    /* max_tokens 0: ends at once, nothing generated */
    sg_generation_params p = params(0, 0, 0);
    result r = run_alone(f->model, P1, 6, &p);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.finish, SG_FINISH_LENGTH);
    /* a full context ends the sequence before max_tokens */
    int *prompt = malloc(sizeof(int) * n_ctx);
    for (int i = 0; i < n_ctx; i++) prompt[i] = (i * 7) % 97;
    p = params(100, 0, 0);
    r = run_alone(f->model, prompt, n_ctx - 3, &p);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.finish, SG_FINISH_LENGTH);
    /* a prompt that fills the context is refused */
    sg_batch *b;
    sg_error *err = sg_batch_new(f->model, &b);
    assert_null(err);
    int id;
    err = sg_batch_add(b, prompt, n_ctx, &p, &id);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "no room"));
    sg_error_free(err);
    sg_batch_free(b);
    free(prompt);
}

static void test_cancel_and_capacity(void **state) {
    fixture *f = *state;
    sg_batch *b;
    sg_error *err = sg_batch_new(f->model, &b);
    assert_null(err);
    assert_int_equal(sg_batch_capacity(b), SLOTS);
    sg_generation_params p = params(40, 0.7f, 1);
    int ids[SLOTS + 1];
    for (int i = 0; i < SLOTS; i++) {
        err = sg_batch_add(b, P1, 6, &p, &ids[i]);
        assert_null(err);
    }
    err = sg_batch_add(b, P1, 6, &p, &ids[SLOTS]);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "busy"));
    sg_error_free(err);
    sg_batch_event ev[SLOTS];
    int n;
    err = sg_batch_step(b, ev, &n);
    assert_null(err);
    assert_int_equal(n, SLOTS);
    sg_batch_cancel(b, ids[1]);
    sg_batch_cancel(b, 12345); /* unknown ids are ignored */
    err = sg_batch_step(b, ev, &n);
    assert_null(err);
    assert_int_equal(n, SLOTS);
    int cancelled = 0;
    for (int e = 0; e < n; e++)
        if (ev[e].seq_id == ids[1]) {
            assert_int_equal(ev[e].finish, SG_FINISH_CANCELLED);
            assert_int_equal(ev[e].token, -1);
            cancelled++;
        } else {
            assert_int_equal(ev[e].finish, SG_FINISH_NONE);
            assert_true(ev[e].token >= 0);
        }
    assert_int_equal(cancelled, 1);
    assert_int_equal(sg_batch_running(b), SLOTS - 1);
    /* the freed slot takes a new sequence, which prefills while the others decode */
    err = sg_batch_add(b, P2, 3, &p, &ids[SLOTS]);
    assert_null(err);
    err = sg_batch_step(b, ev, &n);
    assert_null(err);
    assert_int_equal(n, SLOTS);
    sg_batch_free(b); /* frees running sequences */
}

static void ban_argmax(void *ctx, const int *tokens, int n, float *logits, int vocab) {
    (void)tokens, (void)n;
    int *count = ctx;
    (*count)++;
    int best = 0;
    for (int v = 1; v < vocab; v++)
        if (logits[v] > logits[best]) best = v;
    logits[best] = -INFINITY;
}

static void test_processor_and_logprobs(void **state) {
    fixture *f = *state;
    sg_generation_params p = params(1, 0, 0);
    p.logprobs = 3;
    sg_batch *b;
    sg_error *err = sg_batch_new(f->model, &b);
    assert_null(err);
    int id, calls = 0, n;
    err = sg_batch_add(b, P1, 6, &p, &id);
    assert_null(err);
    sg_batch_set_processor(b, id, (sg_logits_processor){ban_argmax, &calls});
    sg_batch_event ev[SLOTS];
    err = sg_batch_step(b, ev, &n);
    assert_null(err);
    assert_int_equal(n, 1);
    assert_int_equal(calls, 1);
    assert_int_equal(ev[0].finish, SG_FINISH_LENGTH);
    /* greedy with the argmax banned: the runner-up; logprobs from the
     * unmodified distribution, so the banned token is still the top one */
    assert_int_equal(ev[0].token, ev[0].top_tokens[1]);
    assert_true(ev[0].top_logprobs[0] >= ev[0].top_logprobs[1]);
    assert_true(ev[0].top_logprobs[1] >= ev[0].top_logprobs[2]);
    assert_true(fabsf(ev[0].logprob - ev[0].top_logprobs[1]) < 1e-6f);
    /* and they are log-softmax of the forward pass */
    int V = sg_gpt2_config_of(f->model)->vocab_size;
    float *logits = malloc(sizeof(float) * V);
    int slot = sg_gpt2_slot_acquire(f->model);
    err = sg_gpt2_prefill(f->model, slot, P1, 6, logits);
    assert_null(err);
    sg_gpt2_slot_release(f->model, slot);
    double z = 0;
    for (int v = 0; v < V; v++) z += exp(logits[v]);
    assert_true(fabs(ev[0].logprob - (logits[ev[0].token] - log(z))) < 1e-4);
    free(logits);
    sg_batch_free(b);
}

/* bf16 decode: close to fp32, and still the same tokens batched or alone. */
static void test_bf16_decode(void **state) {
    fixture *f = *state;
    int V = sg_gpt2_config_of(f->model)->vocab_size;
    float *a = malloc(sizeof(float) * V), *b = malloc(sizeof(float) * V);
    int slot = sg_gpt2_slot_acquire(f->model), next = 7;
    sg_error *err = sg_gpt2_prefill(f->model, slot, P1, 6, NULL);
    assert_null(err);
    err = sg_gpt2_decode(f->model, &slot, &next, 1, a);
    assert_null(err);
    sg_gpt2_slot_release(f->model, slot);
    err = sg_gpt2_use_bf16(f->model);
    assert_null(err);
    slot = sg_gpt2_slot_acquire(f->model);
    err = sg_gpt2_prefill(f->model, slot, P1, 6, NULL);
    assert_null(err);
    err = sg_gpt2_decode(f->model, &slot, &next, 1, b);
    assert_null(err);
    sg_gpt2_slot_release(f->model, slot);
    float max_ref = 0, max_err = 0;
    for (int v = 0; v < V; v++) {
        max_ref = fmaxf(max_ref, fabsf(a[v]));
        max_err = fmaxf(max_err, fabsf(a[v] - b[v]));
    }
    assert_true(max_err > 0);               /* it did use other weights */
    assert_true(max_err < 0.03f * max_ref); /* bf16 keeps ~3 digits */
    free(a), free(b);
    test_alone_equals_batched(state);
}

static void test_bad_input(void **state) {
    fixture *f = *state;
    sg_batch *b;
    sg_error *err = sg_batch_new(f->model, &b);
    assert_null(err);
    int id, bad_tok[2] = {1, 97};
    sg_generation_params p = params(5, 0, 0);
    struct {
        const int *prompt;
        int n;
        sg_generation_params p;
        const char *want;
    } cases[6];
    for (int i = 0; i < 6; i++) cases[i].prompt = P1, cases[i].n = 6, cases[i].p = p;
    cases[0].n = 0, cases[0].want = "empty";
    cases[1].prompt = bad_tok, cases[1].n = 2, cases[1].want = "token 97 at position 1";
    cases[2].p.max_tokens = -1, cases[2].want = "max_tokens";
    cases[3].p.sampling.top_p = 0, cases[3].want = "top_p";
    cases[4].p.n_stop = 1, cases[4].p.stop_len[0] = 0, cases[4].want = "stop sequence 0";
    cases[5].p.logprobs = 6, cases[5].want = "logprobs";
    for (int i = 0; i < 6; i++) {
        err = sg_batch_add(b, cases[i].prompt, cases[i].n, &cases[i].p, &id);
        assert_non_null(err);
        if (!strstr(sg_error_message(err), cases[i].want)) fail_msg("case %d: %s", i, sg_error_message(err));
        sg_error_free(err);
    }
    assert_int_equal(sg_batch_running(b), 0);
    /* the failures leaked no slot */
    for (int i = 0; i < SLOTS; i++) {
        err = sg_batch_add(b, P1, 6, &p, &id);
        assert_null(err);
    }
    sg_batch_free(b);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alone_equals_batched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_greedy_matches_forward, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_sequences, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_length_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_capacity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_processor_and_logprobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bf16_decode, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
