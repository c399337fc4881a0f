/* test_train.c — the training model, optimizer, schedule, dataset and config
 * (src/train): layout agrees with the checkpoint module, dropout is off at
 * inference and reproducible in training, gradients with dropout on match
 * finite differences, AdamW decays matrices only, schedule shape, batches,
 * shards and config errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/init.h"
#include "engine/checkpoint.h"
#include "train/adamw.h"
#include "train/dataset.h"
#include "train/gpt2_train.h"
#include "train/schedule.h"
#include "train/train_config.h"

static const sg_gpt2_config tiny = {
    .n_layer = 2, .n_head = 2, .n_embd = 8, .n_ctx = 8, .vocab_size = 11, .n_inner = 32, .ln_epsilon = 1e-5f};

static sg_train_model *tiny_model(int B, int T) {
    sg_train_model *m;
    assert_null(sg_train_model_new(&tiny, B, T, &m));
    sg_gpt2_weights_init_random((sg_gpt2_weights *)sg_train_model_weights(m), 3);
    /* non-trivial LayerNorm and biases so every path carries gradient */
    size_t n;
    float *p = sg_train_model_params(m, &n);
    for (size_t i = 0; i < n; i++) p[i] += 0.05f * sinf((float)i * 0.7f);
    return m;
}

static void layout_matches_checkpoint_order(void **state) {
    (void)state;
    sg_train_model *m = tiny_model(1, 4);
    size_t n;
    float *block = sg_train_model_params(m, &n);
    assert_int_equal(n, sg_gpt2_param_count(&tiny));
    int nt = sg_gpt2_tensors(sg_train_model_weights(m), NULL);
    assert_int_equal(nt, sg_train_model_segments(&tiny, NULL));
    sg_gpt2_tensor *t = calloc((size_t)nt, sizeof *t);
    sg_train_segment *s = calloc((size_t)nt, sizeof *s);
    sg_gpt2_tensors(sg_train_model_weights(m), t);
    sg_train_model_segments(&tiny, s);
    for (int i = 0; i < nt; i++) {
        assert_ptr_equal(t[i].data, block + s[i].offset);
        assert_int_equal(t[i].numel, s[i].numel);
        assert_int_equal(t[i].ndim == 2, s[i].is_matrix);
    }
    free(t);
    free(s);
    sg_train_model_free(m);
}

static void dropout_off_at_inference_and_reproducible(void **state) {
    (void)state;
    int B = 2, T = 6, in[12], tg[12];
    for (int i = 0; i < B * T; i++) in[i] = (i * 7) % 11, tg[i] = (i * 5 + 1) % 11;
    sg_train_model *m = tiny_model(B, T);
    sg_dropout d = {0.3f, 0.3f, 0.3f};
    float l0, l1, l2, l3, l4;
    assert_null(sg_train_forward(m, in, tg, B, T, 0, NULL, 0, &l0));
    assert_null(sg_train_forward(m, in, tg, B, T, 0, &d, 42, &l1)); /* inference: dropout ignored */
    assert_true(l0 == l1);
    assert_null(sg_train_forward(m, in, tg, B, T, 1, &d, 42, &l2));
    assert_null(sg_train_forward(m, in, tg, B, T, 1, &d, 42, &l3));
    assert_null(sg_train_forward(m, in, tg, B, T, 1, &d, 43, &l4));
    assert_true(l2 == l3);
    assert_true(l2 != l0);
    assert_true(l2 != l4);
    /* the mask keeps about 1-p and scales by 1/(1-p) */
    int kept = 0;
    for (int i = 0; i < 100000; i++) {
        float v = sg_dropout_mask(9, 4, (uint64_t)i, 0.25f);
        assert_true(v == 0.0f || fabsf(v - 1.0f / 0.75f) < 1e-6f);
        kept += v != 0.0f;
    }
    assert_true(abs(kept - 75000) < 1000);
    sg_train_model_free(m);
}

/* Central differences in float on a tiny model, dropout on (fixed masks). */
static void gradients_match_finite_differences_with_dropout(void **state) {
    (void)state;
    int B = 2, T = 5, in[10], tg[10];
    for (int i = 0; i < B * T; i++) in[i] = (i * 3 + 2) % 11, tg[i] = (i * 4 + 1) % 11;
    sg_train_model *m = tiny_model(B, T);
    sg_dropout d = {0.2f, 0.2f, 0.2f};
    size_t n;
    float *p = sg_train_model_params(m, &n), *g = sg_train_model_grads(m, NULL), loss;
    sg_train_zero_grad(m);
    assert_null(sg_train_forward(m, in, tg, B, T, 1, &d, 77, &loss));
    assert_null(sg_train_backward(m, 1.0f));
    float *analytic = malloc(n * sizeof(float));
    memcpy(analytic, g, n * sizeof(float));
    int checked = 0, bad = 0;
    for (size_t i = 0; i < n; i += 7) {
        float orig = p[i], h = 2e-3f, lp, lm;
        p[i] = orig + h;
        assert_null(sg_train_forward(m, in, tg, B, T, 1, &d, 77, &lp));
        p[i] = orig - h;
        assert_null(sg_train_forward(m, in, tg, B, T, 1, &d, 77, &lm));
        p[i] = orig;
        float num = (lp - lm) / (2 * h);
        if (fabsf(num - analytic[i]) > 2e-3f + 0.05f * fabsf(analytic[i])) {
            print_message("param %zu: analytic %g numeric %g\n", i, analytic[i], num);
            bad++;
        }
        checked++;
    }
    assert_true(checked > 100);
    assert_int_equal(bad, 0);
    free(analytic);
    sg_train_model_free(m);
}

static void adamw_decays_matrices_only(void **state) {
    (void)state;
    sg_adamw opt;
    sg_adamw_config c = {0.9f, 0.95f, 1e-8f, 0.5f};
    assert_null(sg_adamw_init(&opt, &c, &tiny));
    size_t n = opt.n;
    float *p = malloc(n * sizeof(float)), *g = calloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = 1.0f;
    sg_adamw_step(&opt, p, g, 0.1f); /* zero gradient: only weight decay moves */
    int ns = sg_train_model_segments(&tiny, NULL);
    sg_train_segment *s = calloc((size_t)ns, sizeof *s);
    sg_train_model_segments(&tiny, s);
    for (int k = 0; k < ns; k++) {
        float want = s[k].is_matrix ? 1.0f - 0.1f * 0.5f : 1.0f;
        assert_float_equal(p[s[k].offset], want, 1e-6);
    }
    /* layer-wise lr: freeze layer 0 and the embeddings */
    assert_null(sg_adamw_set_layer_lr(&opt, &tiny, 0.5f, 1));
    for (size_t i = 0; i < n; i++) g[i] = 1.0f, p[i] = 1.0f;
    sg_adamw_step(&opt, p, g, 0.1f);
    for (int k = 0; k < ns; k++) {
        float v = p[s[k].offset];
        if (s[k].layer == 0 || (s[k].layer < 0 && s[k].kind[0] == 'w'))
            assert_true(v == 1.0f);
        else
            assert_true(v < 1.0f);
    }
    sg_error *err = sg_adamw_set_layer_lr(&opt, &tiny, 0.5f, 3);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "has 2 layers"));
    sg_error_free(err);
    /* clipping */
    for (size_t i = 0; i < n; i++) g[i] = 2.0f;
    float norm = sg_clip_grad_norm(g, n, 1.0f);
    assert_float_equal(norm, 2.0f * sqrtf((float)n), 1e-2);
    assert_float_equal(sg_clip_grad_norm(g, n, 0.0f), 1.0f, 1e-4);
    free(s);
    free(p);
    free(g);
    sg_adamw_free(&opt);
}

static void schedule_warmup_then_cosine(void **state) {
    (void)state;
    sg_schedule s = {.peak = 1.0f, .warmup = 10, .total = 110, .floor_frac = 0.1f};
    assert_float_equal(sg_schedule_lr(&s, 0), 0.1f, 1e-6);
    assert_float_equal(sg_schedule_lr(&s, 9), 1.0f, 1e-6);
    assert_float_equal(sg_schedule_lr(&s, 10), 1.0f, 1e-6);
    assert_float_equal(sg_schedule_lr(&s, 60), 0.55f, 1e-5);
    assert_float_equal(sg_schedule_lr(&s, 110), 0.1f, 1e-6);
    assert_float_equal(sg_schedule_lr(&s, 500), 0.1f, 1e-6);
    for (long i = 11; i < 110; i++) assert_true(sg_schedule_lr(&s, i) <= sg_schedule_lr(&s, i - 1));
}

static void batches_and_shards(void **state) {
    (void)state;
    int tokens[50];
    for (int i = 0; i < 50; i++) tokens[i] = i;
    uint64_t r1 = 5, r2 = 5;
    int in[24], tg[24], in2[24], tg2[24];
    sg_dataset_batch(tokens, 50, 3, 8, &r1, in, tg);
    sg_dataset_batch(tokens, 50, 3, 8, &r2, in2, tg2);
    assert_memory_equal(in, in2, sizeof in);
    for (int i = 0; i < 24; i++) {
        assert_int_equal(tg[i], in[i] + 1);
        assert_true(in[i] >= 0 && tg[i] < 50);
    }
    char dir[] = "/tmp/sg_train_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/s.shard", dir);
    sg_dataset d = {.vocab_size = 60,
                    .train = tokens,
                    .n_train = 40,
                    .val = tokens + 40,
                    .n_val = 10,
                    .docs_train = 2,
                    .docs_val = 1};
    assert_null(sg_dataset_save_shard(&d, path));
    sg_dataset e;
    assert_null(sg_dataset_load_shard(path, &e));
    assert_int_equal(e.n_train, 40);
    assert_int_equal(e.n_val, 10);
    assert_memory_equal(e.train, tokens, 40 * sizeof(int));
    assert_memory_equal(e.val, tokens + 40, 10 * sizeof(int));
    sg_dataset_free(&e);
    /* truncated shard: a clear error */
    FILE *f = fopen(path, "r+");
    assert_int_equal(ftruncate(fileno(f), 80), 0);
    fclose(f);
    sg_error *err = sg_dataset_load_shard(path, &e);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "does not match"));
    sg_error_free(err);
    unlink(path);
    rmdir(dir);
}

static void config_keys_and_errors(void **state) {
    (void)state;
    sg_train_config c;
    sg_train_config_defaults(&c);
    assert_null(sg_train_config_set(&c, "weight-decay", "0.25", "x"));
    assert_float_equal(c.weight_decay, 0.25, 1e-12);
    sg_error *err = sg_train_config_set(&c, "layers", "3.5", "flag");
    assert_non_null(err);
    assert_string_equal(sg_error_message(err), "flag: layers: '3.5' is not an integer");
    sg_error_free(err);
    c.out = strdup("/tmp/x");
    c.tokenizer = strdup("/tmp/t");
    assert_null(sg_train_config_set(&c, "corpus", "a.txt", "x"));
    c.embd = 30, c.heads = 4;
    err = sg_train_config_validate(&c);
    assert_non_null(err);
    assert_string_equal(sg_error_message(err), "embd 30 is not a multiple of heads 4");
    sg_error_free(err);
    c.embd = 32;
    assert_null(sg_train_config_validate(&c));
    /* the JSON record round-trips through the YAML loader */
    char *json = sg_train_config_to_json(&c);
    char path[] = "/tmp/sg_cfg_XXXXXX";
    int fd = mkstemp(path);
    assert_true(write(fd, json, strlen(json)) == (ssize_t)strlen(json));
    close(fd);
    sg_train_config d;
    sg_train_config_defaults(&d);
    assert_null(sg_train_config_load_yaml(&d, path));
    char *json2 = sg_train_config_to_json(&d);
    assert_string_equal(json, json2);
    unlink(path);
    free(json);
    free(json2);
    sg_train_config_free(&c);
    sg_train_config_free(&d);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_matches_checkpoint_order),
        cmocka_unit_test(dropout_off_at_inference_and_reproducible),
        cmocka_unit_test(gradients_match_finite_differences_with_dropout),
        cmocka_unit_test(adamw_decays_matrices_only),
        cmocka_unit_test(schedule_warmup_then_cosine),
        cmocka_unit_test(batches_and_shards),
        cmocka_unit_test(config_keys_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
