/* test_checkpoint.c — safetensors parsing/writing, GPT-2 weights and
 * checkpoint directories, including every kind of bad file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/init.h"
#include "engine/checkpoint.h"
#include "engine/safetensors.h"

/* ---- helpers ----------------------------------------------------------- */

static char tmp_root[64];

static int setup(void **state) {
    (void)state;
    snprintf(tmp_root, sizeof tmp_root, "/tmp/sg_ckpt_test_XXXXXX");
    return mkdtemp(tmp_root) ? 0 : -1;
}

static void rm_rf(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = sg_path_join(dir, e->d_name);
        if (e->d_type == DT_DIR)
            rm_rf(p);
        else
            unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

static int teardown(void **state) {
    (void)state;
    rm_rf(tmp_root);
    return 0;
}

static char *tmp_path(const char *name) { return sg_path_join(tmp_root, name); }

static const sg_gpt2_config tiny = {.n_layer = 2,
                                    .n_head = 2,
                                    .n_embd = 8,
                                    .n_ctx = 16,
                                    .vocab_size = 33,
                                    .n_inner = 24,
                                    .ln_epsilon = 1e-5f};

/* Asserts err is non-NULL and its message contains every given fragment. */
static void expect_error(sg_error *err, const char *a, const char *b) {
    if (!err) fail_msg("expected an error containing '%s'", a);
    const char *m = sg_error_message(err);
    if (!strstr(m, a) || (b && !strstr(m, b)))
        fail_msg("error '%s' lacks '%s'%s%s", m, a, b ? " / " : "", b ? b : "");
    sg_error_free(err);
}

/* A safetensors file from a JSON header and a data region. */
static void write_st(const char *path, const char *header, const void *data, size_t data_len) {
    size_t h = strlen(header);
    unsigned char *buf = malloc(8 + h + data_len + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    if (data_len) memcpy(buf + 8 + h, data, data_len);
    assert_null(sg_file_write_atomic(path, buf, 8 + h + data_len));
    free(buf);
}

static sg_error *parse_buf(const char *header, size_t data_len) {
    char *path = tmp_path("t.safetensors");
    unsigned char *zeros = calloc(1, data_len + 1);
    write_st(path, header, zeros, data_len);
    free(zeros);
    sg_safetensors *st = NULL;
    sg_error *err = sg_safetensors_open(path, &st);
    sg_safetensors_close(st);
    free(path);
    return err;
}

/* ---- parameter counts and layout --------------------------------------- */

static void param_counts_match_gpt2(void **state) {
    (void)state;
    const char *shapes[] = {"124M", "355M", "774M", "1.5B"};
    const size_t want[] = {124439808, 354823168, 774030080, 1557611200};
    for (int i = 0; i < 4; i++) {
        sg_gpt2_config c;
        assert_null(sg_gpt2_config_preset(shapes[i], &c));
        assert_int_equal(sg_gpt2_param_count(&c), want[i]);
        assert_string_equal(sg_gpt2_config_shape_name(&c), shapes[i]);
        sg_gpt2_weights shape_only = {.config = c};
        int n = sg_gpt2_tensors(&shape_only, NULL);
        assert_int_equal(n, 4 + 12 * c.n_layer);
        sg_gpt2_tensor *t = calloc((size_t)n, sizeof *t);
        assert_int_equal(sg_gpt2_tensors(&shape_only, t), n);
        size_t total = 0;
        for (int j = 0; j < n; j++) total += t[j].numel;
        assert_int_equal(total, want[i]);
        assert_string_equal(t[0].name, "wte.weight");
        assert_string_equal(t[4].name, "h.0.attn.c_attn.weight");
        assert_int_equal(t[4].shape[0], c.n_embd);
        assert_int_equal(t[4].shape[1], 3 * c.n_embd);
        assert_string_equal(t[n - 1].name, "ln_f.bias");
        free(t);
    }
    expect_error(sg_gpt2_config_preset("7B", &(sg_gpt2_config){0}), "unknown shape '7B'", NULL);
}

static void alloc_is_contiguous_canonical(void **state) {
    (void)state;
    sg_gpt2_weights *w;
    assert_null(sg_gpt2_weights_alloc(&tiny, &w));
    size_t nf;
    float *block = sg_gpt2_weights_block(w, &nf);
    assert_non_null(block);
    assert_int_equal(nf, sg_gpt2_param_count(&tiny));
    int n = sg_gpt2_tensors(w, NULL);
    sg_gpt2_tensor t[64];
    assert_true(n <= 64);
    sg_gpt2_tensors(w, t);
    float *p = block;
    for (int i = 0; i < n; i++) {
        assert_ptr_equal(t[i].data, p);
        for (size_t j = 0; j < t[i].numel; j++) assert_true(p[j] == 0.0f);
        p += t[i].numel;
    }
    assert_ptr_equal(w->wte, block);
    assert_ptr_equal(w->layers[1].mlp_proj_b + tiny.n_embd, w->ln_f_w);
    sg_gpt2_weights_free(w);
}

static void init_random_gpt2_statistics(void **state) {
    (void)state;
    sg_gpt2_config c = {.n_layer = 4,
                        .n_head = 4,
                        .n_embd = 128,
                        .n_ctx = 64,
                        .vocab_size = 1000,
                        .n_inner = 512,
                        .ln_epsilon = 1e-5f};
    sg_gpt2_weights *a, *b;
    assert_null(sg_gpt2_weights_alloc(&c, &a));
    assert_null(sg_gpt2_weights_alloc(&c, &b));
    sg_gpt2_weights_init_random(a, 42);
    sg_gpt2_weights_init_random(b, 42);
    size_t n;
    float *pa = sg_gpt2_weights_block(a, &n), *pb = sg_gpt2_weights_block(b, NULL);
    assert_memory_equal(pa, pb, n * sizeof(float));
    sg_gpt2_weights_init_random(b, 43);
    assert_memory_not_equal(pa, pb, 1000 * sizeof(float));
    /* wte: mean ~0, std ~0.02 */
    size_t k = (size_t)c.vocab_size * c.n_embd;
    double s = 0, s2 = 0;
    for (size_t i = 0; i < k; i++) s += a->wte[i], s2 += (double)a->wte[i] * a->wte[i];
    double mean = s / k, sd = sqrt(s2 / k - mean * mean);
    assert_true(fabs(mean) < 0.001);
    assert_true(fabs(sd - 0.02) < 0.0005);
    /* residual projections: 0.02 / sqrt(2L) */
    k = (size_t)c.n_inner * c.n_embd;
    s2 = 0;
    for (size_t i = 0; i < k; i++) s2 += (double)a->layers[3].mlp_proj_w[i] * a->layers[3].mlp_proj_w[i];
    assert_true(fabs(sqrt(s2 / k) - 0.02 / sqrt(8.0)) < 0.0005);
    for (int i = 0; i < c.n_embd; i++) {
        assert_true(a->layers[0].ln_1_w[i] == 1.0f && a->layers[0].ln_1_b[i] == 0.0f);
        assert_true(a->ln_f_w[i] == 1.0f && a->layers[2].attn_proj_b[i] == 0.0f);
    }
    for (int i = 0; i < 3 * c.n_embd; i++) assert_true(a->layers[1].c_attn_b[i] == 0.0f);
    sg_gpt2_weights_free(a);
    sg_gpt2_weights_free(b);
}

/* ---- conversions ------------------------------------------------------- */

static void half_conversions_exact(void **state) {
    (void)state;
    /* Every finite f16 survives f16 -> f32 -> f16. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if (!((h & 0x7c00) == 0x7c00 && (h & 0x3ff))) /* not an f16 NaN */
            assert_int_equal(sg_f32_to_f16(sg_f16_to_f32((uint16_t)h)), h);
        if (!((h & 0x7f80) == 0x7f80 && (h & 0x7f))) /* not a bf16 NaN */
            assert_int_equal(sg_f32_to_bf16(sg_bf16_to_f32((uint16_t)h)), h);
    }
    assert_true(sg_f16_to_f32(0x3c00) == 1.0f);
    assert_true(sg_f16_to_f32(0x0001) == 0x1p-24f);
    assert_true(sg_f16_to_f32(0x7bff) == 65504.0f);
    assert_int_equal(sg_f32_to_f16(65520.0f), 0x7c00); /* rounds up to infinity */
    assert_int_equal(sg_f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(sg_f32_to_f16(1.0f + 0x1p-11f), 0x3c00); /* tie to even */
    assert_int_equal(sg_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
    assert_int_equal(sg_f32_to_f16(0x1p-25f), 0x0000); /* tie to even: zero */
    assert_int_equal(sg_f32_to_f16(0x1.8p-25f), 0x0001);
    assert_true(isnan(sg_f16_to_f32(sg_f32_to_f16(NAN))));
    assert_true(isnan(sg_bf16_to_f32(sg_f32_to_bf16(NAN))));
    assert_int_equal(sg_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80); /* tie to even */
    assert_int_equal(sg_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
    assert_int_equal(sg_f32_to_bf16(-2.5f), 0xc020);
}

/* ---- round trips ------------------------------------------------------- */

/* Values representable in every dtype: small multiples of 1/64. */
static void fill_representable(sg_gpt2_weights *w) {
    size_t n;
    float *p = sg_gpt2_weights_block(w, &n);
    for (size_t i = 0; i < n; i++) p[i] = (float)((int)(i * 7919 % 257) - 128) / 64.0f;
}

static void assert_same_weights(const sg_gpt2_weights *a, const sg_gpt2_weights *b) {
    assert_memory_equal(&a->config, &b->config, sizeof a->config);
    sg_gpt2_tensor ta[64], tb[64];
    int n = sg_gpt2_tensors(a, ta);
    assert_int_equal(sg_gpt2_tensors(b, tb), n);
    for (int i = 0; i < n; i++) {
        assert_string_equal(ta[i].name, tb[i].name);
        assert_int_equal(ta[i].numel, tb[i].numel);
        assert_memory_equal(ta[i].data, tb[i].data, ta[i].numel * sizeof(float));
    }
}

static void round_trip_all_dtypes(void **state) {
    (void)state;
    sg_gpt2_weights *w;
    assert_null(sg_gpt2_weights_alloc(&tiny, &w));
    fill_representable(w);
    for (int d = SG_DTYPE_F32; d <= SG_DTYPE_BF16; d++) {
        char name[32];
        snprintf(name, sizeof name, "rt_%s/sub", sg_dtype_name((sg_dtype)d));
        char *dir = tmp_path(name);
        const char *meta[] = {"stage", "research", "step", "12"};
        assert_null(sg_checkpoint_save(dir, w, (sg_dtype)d, meta, 2));
        sg_checkpoint *ck;
        assert_null(sg_checkpoint_open(dir, &ck));
        assert_int_equal(sg_checkpoint_dtype(ck), d);
        assert_same_weights(w, sg_checkpoint_weights(ck));
        const sg_safetensors *st = sg_checkpoint_file(ck);
        assert_string_equal(sg_safetensors_meta(st, "stage"), "research");
        assert_string_equal(sg_safetensors_meta(st, "step"), "12");
        assert_string_equal(sg_safetensors_meta(st, "format"), "pt");
        size_t mapped, copied;
        sg_checkpoint_bytes(ck, &mapped, &copied);
        size_t total = sg_gpt2_param_count(&tiny) * 4;
        if (d == SG_DTYPE_F32) {
            assert_int_equal(mapped, total); /* no copy at all */
            assert_int_equal(copied, 0);
            assert_true((const unsigned char *)sg_checkpoint_weights(ck)->wte >= st->data_region);
        } else {
            assert_int_equal(copied, total);
        }
        /* A clone is writable and identical. */
        sg_gpt2_weights *c;
        assert_null(sg_gpt2_weights_clone(sg_checkpoint_weights(ck), &c));
        assert_same_weights(w, c);
        sg_gpt2_weights_free(c);
        sg_checkpoint_close(ck);
        free(dir);
    }
    sg_gpt2_weights_free(w);
}

static void random_f16_close_to_f32(void **state) {
    (void)state;
    sg_gpt2_weights *w;
    assert_null(sg_gpt2_weights_alloc(&tiny, &w));
    sg_gpt2_weights_init_random(w, 7);
    char *dir = tmp_path("rand16");
    assert_null(sg_checkpoint_save(dir, w, SG_DTYPE_F16, NULL, 0));
    sg_checkpoint *ck;
    assert_null(sg_checkpoint_open(dir, &ck));
    const sg_gpt2_weights *r = sg_checkpoint_weights(ck);
    for (int i = 0; i < tiny.vocab_size * tiny.n_embd; i++) {
        float a = w->wte[i], b = r->wte[i];
        assert_true(fabsf(a - b) <= fabsf(a) * 0x1p-11f + 0x1p-24f);
    }
    sg_checkpoint_close(ck);
    free(dir);
    sg_gpt2_weights_free(w);
}

/* ---- HF layouts: prefix, ignored buffers, config variants --------------- */

/* Writes a checkpoint dir by hand: each tiny tensor under `prefix`, plus extras. */
static void write_custom(const char *dir, const char *prefix, const char *extra_json, size_t extra_bytes,
                         const char *config_json, size_t misalign) {
    mkdir(dir, 0755);
    sg_gpt2_weights *w;
    assert_null(sg_gpt2_weights_alloc(&tiny, &w));
    fill_representable(w);
    sg_gpt2_tensor t[64];
    int n = sg_gpt2_tensors(w, t);
    char *hdr = malloc(65536);
    size_t k = 0, off = 0;
    k += (size_t)sprintf(hdr + k, "{");
    for (int i = 0; i < n; i++) {
        size_t nb = t[i].numel * 4;
        if (t[i].ndim == 2)
            k += (size_t)sprintf(hdr + k,
                                 "\"%s%s\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]},",
                                 prefix, t[i].name, t[i].shape[0], t[i].shape[1], off, off + nb);
        else
            k += (size_t)sprintf(hdr + k,
                                 "\"%s%s\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]},",
                                 prefix, t[i].name, t[i].shape[0], off, off + nb);
        off += nb;
    }
    size_t data_len = off + extra_bytes;
    if (extra_json)
        k += (size_t)sprintf(hdr + k, extra_json, off, off + extra_bytes);
    else
        hdr[k - 1] = '}';
    while ((8 + k) % 4 != misalign) hdr[k++] = ' '; /* trailing spaces: where the data starts */
    hdr[k] = '\0';
    size_t nf;
    float *block = sg_gpt2_weights_block(w, &nf);
    unsigned char *data = calloc(1, data_len + 1);
    memcpy(data, block, nf * 4);
    char *sub = sg_path_join(dir, "model.safetensors");
    write_st(sub, hdr, data, data_len);
    free(sub);
    char *cfg = sg_path_join(dir, "config.json");
    assert_null(sg_file_write_atomic(cfg, config_json, strlen(config_json)));
    free(cfg);
    free(data);
    free(hdr);
    sg_gpt2_weights_free(w);
}

static const char *tiny_config =
    "{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 8, \"n_positions\": 16, \"vocab_size\": 33,"
    " \"n_inner\": 24, \"layer_norm_epsilon\": 1e-05, \"activation_function\": \"gelu_new\"}";

static void hf_prefix_and_ignored_tensors(void **state) {
    (void)state;
    char *dir = tmp_path("hf");
    /* The data region starts 2 bytes off 4-byte alignment: every tensor is copied. */
    write_custom(
        dir, "transformer.",
        "\"transformer.h.0.attn.bias\":{\"dtype\":\"BOOL\",\"shape\":[1,1,4,4],\"data_offsets\":[%zu,%zu]},"
        "\"lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
        16, tiny_config, 2);
    sg_checkpoint *ck;
    sg_error *err = sg_checkpoint_open(dir, &ck);
    if (err) fail_msg("%s", sg_error_message(err));
    size_t mapped, copied, total = sg_gpt2_param_count(&tiny) * 4;
    sg_checkpoint_bytes(ck, &mapped, &copied);
    assert_int_equal(mapped, 0);
    assert_int_equal(copied, total);
    sg_gpt2_weights *w;
    assert_null(sg_gpt2_weights_alloc(&tiny, &w));
    fill_representable(w);
    assert_same_weights(w, sg_checkpoint_weights(ck));
    sg_gpt2_weights_free(w);
    sg_checkpoint_close(ck);
    /* Without the prefix, with n_ctx instead of n_positions, aligned: used in place. */
    write_custom(
        dir, "", NULL, 0,
        "{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 8, \"n_ctx\": 16, \"vocab_size\": 33, \"n_inner\": 24}",
        0);
    err = sg_checkpoint_open(dir, &ck);
    if (err) fail_msg("%s", sg_error_message(err));
    sg_checkpoint_bytes(ck, &mapped, &copied);
    assert_int_equal(mapped, total);
    assert_int_equal(copied, 0);
    assert_int_equal(sg_checkpoint_weights(ck)->config.n_inner, 24);
    assert_int_equal(sg_checkpoint_weights(ck)->config.n_ctx, 16);
    assert_true(sg_checkpoint_weights(ck)->config.ln_epsilon == 1e-5f);
    sg_checkpoint_close(ck);
    free(dir);
}

static void config_json_round_trip_and_errors(void **state) {
    (void)state;
    char *path = tmp_path("config.json");
    sg_gpt2_config c;
    assert_null(sg_gpt2_config_preset("124M", &c));
    assert_null(sg_gpt2_config_save(path, &c));
    char *text;
    assert_null(sg_file_read(path, &text, NULL));
    assert_non_null(strstr(text, "\"model_type\": \"gpt2\""));
    assert_non_null(strstr(text, "\"GPT2LMHeadModel\""));
    assert_non_null(strstr(text, "\"bos_token_id\": 50256"));
    assert_non_null(strstr(text, "\"layer_norm_epsilon\": 1e-5"));
    assert_non_null(strstr(text, "\"n_inner\": null"));
    free(text);
    sg_gpt2_config r;
    assert_null(sg_gpt2_config_load(path, &r));
    assert_memory_equal(&c, &r, sizeof c);
    assert_null(sg_gpt2_config_save(path, &tiny));
    assert_null(sg_file_read(path, &text, NULL));
    assert_non_null(strstr(text, "\"eos_token_id\": 32"));
    assert_non_null(strstr(text, "\"n_inner\": 24"));
    free(text);

    static const struct {
        const char *json, *a, *b;
    } bad[] = {
        {"{\"n_head\": 2, \"n_embd\": 8, \"n_positions\": 16, \"vocab_size\": 33}",
         "missing field \"n_layer\"", NULL},
        {"{\"n_layer\": \"2\", \"n_head\": 2, \"n_embd\": 8, \"n_positions\": 16, \"vocab_size\": 33}",
         "\"n_layer\"", "found a string"},
        {"{\"n_layer\": 2, \"n_head\": 3, \"n_embd\": 8, \"n_positions\": 16, \"vocab_size\": 33}",
         "n_embd = 8", "n_head = 3"},
        {"{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 8, \"n_positions\": 16, \"vocab_size\": -1}",
         "\"vocab_size\"", "out of range"},
        {"{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 8, \"n_positions\": 16, \"vocab_size\": 33,"
         " \"activation_function\": \"relu\"}",
         "\"activation_function\"", "\"relu\""},
        {"{\"n_layer\": 2, \"n_layer\": 3}", "duplicate", NULL},
        {"{\"n_layer\": 2,\n \"n_head\": }", "config.json:2:", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(sg_file_write_atomic(path, bad[i].json, strlen(bad[i].json)));
        expect_error(sg_gpt2_config_load(path, &r), bad[i].a, bad[i].b);
    }
    free(path);
}

/* ---- bad files --------------------------------------------------------- */

static const char *one_f32 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";

static void safetensors_bad_headers(void **state) {
    (void)state;
    char *path = tmp_path("bad.safetensors");
    sg_safetensors *st;
    /* truncated before the length */
    assert_null(sg_file_write_atomic(path, "\x10\0\0", 3));
    expect_error(sg_safetensors_open(path, &st), "truncated: 3 bytes", NULL);
    /* header length past the end */
    unsigned char len_only[12] = {0xff, 0x00, 0x00, 0x01, 0, 0, 0, 0, '{', '}', ' ', ' '};
    assert_null(sg_file_write_atomic(path, len_only, sizeof len_only));
    expect_error(sg_safetensors_open(path, &st), "header length 16777471 is past the end", "12 bytes");
    /* header length over the cap */
    unsigned char huge[8] = {0, 0, 0, 0, 1, 0, 0, 0};
    assert_null(sg_file_write_atomic(path, huge, sizeof huge));
    expect_error(sg_safetensors_open(path, &st), "exceeds the 100000000-byte limit", NULL);
    free(path);

    static const struct {
        const char *header;
        size_t data;
        const char *a, *b;
    } bad[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]", 16, "header JSON", "line 1"},
        {"[1,2,3]", 0, "not an object", NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
         16, "duplicate", NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 12, "tensor 'a'",
         "out of range"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
         16, "tensors 'a' [0, 16) and 'b' [8, 16) overlap", NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", 16, "tensor 'a'",
         "needs 24 bytes, data_offsets [0, 16) hold 16"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,0]}}", 16, "end before begin", NULL},
        {"{\"a\":{\"dtype\":\"Q4\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, "unknown dtype \"Q4\"",
         NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2,2],\"data_offsets\":[0,16]}}", 16, "shape[0]", NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2]}}", 16, "\"data_offsets\" must be", NULL},
        {"{\"a\":{\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, "\"dtype\"", NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,16]}}",
         16, "shape overflows", NULL},
        {"{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ value of \"k\"", NULL},
        {"{\"a\":7}", 0, "tensor 'a': expected an object", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_error(parse_buf(bad[i].header, bad[i].data), bad[i].a, bad[i].b);
    /* the good one parses, and an unsupported dtype is recognised by name */
    assert_null(parse_buf(one_f32, 16));
    assert_null(parse_buf("{\"m\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                          "\"__metadata__\":{\"format\":\"pt\"}}",
                          16));
}

/* Saves tiny, then rewrites one piece of its header with `edit`. */
static sg_error *open_edited(const char *from, const char *to, const char *cfg_from, const char *cfg_to) {
    char *dir = tmp_path("edited");
    sg_gpt2_weights *w;
    assert_null(sg_gpt2_weights_alloc(&tiny, &w));
    assert_null(sg_checkpoint_save(dir, w, SG_DTYPE_F32, NULL, 0));
    sg_gpt2_weights_free(w);
    char *st_path = sg_path_join(dir, "model.safetensors"), *cfg_path = sg_path_join(dir, "config.json");
    if (from) {
        char *data;
        size_t len;
        assert_null(sg_file_read(st_path, &data, &len));
        char *hit = memmem(data, len, from, strlen(from));
        assert_non_null(hit);
        assert_int_equal(strlen(from), strlen(to)); /* same length: offsets stay valid */
        memcpy(hit, to, strlen(to));
        assert_null(sg_file_write_atomic(st_path, data, len));
        free(data);
    }
    if (cfg_from) {
        char *data;
        size_t len;
        assert_null(sg_file_read(cfg_path, &data, &len));
        char *hit = strstr(data, cfg_from);
        assert_non_null(hit);
        size_t a = (size_t)(hit - data), fl = strlen(cfg_from), tl = strlen(cfg_to);
        char *out = malloc(len - fl + tl + 1);
        memcpy(out, data, a);
        memcpy(out + a, cfg_to, tl);
        memcpy(out + a + tl, hit + fl, len - a - fl);
        assert_null(sg_file_write_atomic(cfg_path, out, len - fl + tl));
        free(out);
        free(data);
    }
    sg_checkpoint *ck = NULL;
    sg_error *err = sg_checkpoint_open(dir, &ck);
    sg_checkpoint_close(ck);
    free(st_path);
    free(cfg_path);
    free(dir);
    return err;
}

static void checkpoint_bad_files(void **state) {
    (void)state;
    assert_null(open_edited(NULL, NULL, NULL, NULL));
    /* missing tensor (renamed to something ignored-looking but unknown) */
    expect_error(open_edited("\"h.1.ln_2.bias\"", "\"h.1.ln_2.bial\"", NULL, NULL),
                 "unexpected tensor 'h.1.ln_2.bial'", NULL);
    expect_error(open_edited("\"h.1.ln_2.bias\"", "\"h.1.attn.bias\"", NULL, NULL),
                 "missing tensor 'h.1.ln_2.bias'", NULL);
    /* wrong shape: c_attn [8, 24] declared [24, 8] */
    expect_error(open_edited("\"shape\":[8,24]", "\"shape\":[24,8]", NULL, NULL),
                 "tensor 'h.0.attn.c_attn.weight': expected [8, 24], found [24, 8]", NULL);
    /* unsupported dtype */
    expect_error(open_edited("\"h.0.ln_1.weight\":{\"dtype\":\"F32\"",
                             "\"h.0.ln_1.weight\":{\"dtype\":\"I32\"", NULL, NULL),
                 "tensor 'h.0.ln_1.weight' has dtype I32, which is unsupported", NULL);
    /* config/tensor disagreement */
    expect_error(open_edited(NULL, NULL, "\"n_embd\": 8", "\"n_embd\": 4"), "says vocab_size=33, n_embd=4",
                 "wte.weight [33, 8]");
    expect_error(open_edited(NULL, NULL, "\"n_positions\": 16", "\"n_positions\": 32"), "says n_positions=32",
                 "wpe.weight [16, 8]");
    expect_error(open_edited(NULL, NULL, "\"n_layer\": 2", "\"n_layer\": 1"), "says n_layer=1",
                 "has 2 layers (h.0 .. h.1)");
    expect_error(open_edited(NULL, NULL, "\"n_layer\": 2", "\"n_layer\": 3"), "says n_layer=3",
                 "has 2 layers");
    expect_error(open_edited(NULL, NULL, "\"n_inner\": 24", "\"n_inner\": 16"), "says n_inner=16",
                 "has h.0.mlp.c_fc.weight [8, 24]");
    /* no model.safetensors, but a pickle or shards instead */
    char *dir = tmp_path("edited"), *st_path = sg_path_join(dir, "model.safetensors");
    char *bin = sg_path_join(dir, "pytorch_model.bin"),
         *idx = sg_path_join(dir, "model.safetensors.index.json");
    sg_checkpoint *ck0;
    unlink(st_path);
    expect_error(sg_checkpoint_open(dir, &ck0), "model.safetensors: No such file", NULL);
    assert_null(sg_file_write_atomic(bin, "x", 1));
    expect_error(sg_checkpoint_open(dir, &ck0), "only PyTorch pickle weights (pytorch_model.bin)", NULL);
    assert_null(sg_file_write_atomic(idx, "{}", 2));
    expect_error(sg_checkpoint_open(dir, &ck0), "sharded safetensors checkpoints are not supported", NULL);
    unlink(bin), unlink(idx), free(bin), free(idx), free(st_path), free(dir);
    /* missing files */
    char *nowhere = tmp_path("nowhere");
    sg_checkpoint *ck;
    expect_error(sg_checkpoint_open(nowhere, &ck), "nowhere/config.json", "No such file");
    free(nowhere);
}

static void truncated_checkpoint(void **state) {
    (void)state;
    char *dir = tmp_path("trunc");
    sg_gpt2_weights *w;
    assert_null(sg_gpt2_weights_alloc(&tiny, &w));
    assert_null(sg_checkpoint_save(dir, w, SG_DTYPE_F32, NULL, 0));
    sg_gpt2_weights_free(w);
    char *st_path = sg_path_join(dir, "model.safetensors");
    struct stat sb;
    assert_int_equal(stat(st_path, &sb), 0);
    assert_int_equal(truncate(st_path, sb.st_size - 100), 0);
    sg_checkpoint *ck;
    expect_error(sg_checkpoint_open(dir, &ck), "out of range", "truncated?");
    free(st_path);
    free(dir);
}

static void writer_checks_byte_count(void **state) {
    (void)state;
    char *path = tmp_path("w.safetensors");
    sg_st_spec specs[2] = {{.name = "x", .dtype = SG_DTYPE_BF16, .ndim = 1, .shape = {3}},
                           {.name = "y", .dtype = SG_DTYPE_F32, .ndim = 2, .shape = {1, 2}}};
    sg_st_writer *w;
    assert_null(sg_st_writer_open(path, specs, 2, NULL, 0, &w));
    float xs[5] = {1, 2, 3, 4, 5};
    assert_null(sg_st_writer_write_f32(w, xs, 4)); /* spans both tensors */
    expect_error(sg_st_writer_finish(w), "4 tensor bytes declared but not written", NULL);
    assert_int_equal(access(path, F_OK), -1); /* nothing committed */
    assert_null(sg_st_writer_open(path, specs, 2, NULL, 0, &w));
    assert_null(sg_st_writer_write_f32(w, xs, 5));
    expect_error(sg_st_writer_write(w, xs, 1), "more tensor bytes", NULL);
    assert_null(sg_st_writer_finish(w));
    sg_safetensors *st;
    assert_null(sg_safetensors_open(path, &st));
    assert_int_equal((st->header_size + 8) % 8, 0);
    const sg_st_tensor *y = sg_safetensors_find(st, "y");
    assert_non_null(y);
    float yv[2];
    sg_convert_to_f32(SG_DTYPE_F32, y->data, yv, 2);
    assert_true(yv[0] == 4 && yv[1] == 5);
    const sg_st_tensor *x = sg_safetensors_find(st, "x");
    assert_string_equal(x->dtype_name, "BF16");
    float xv[3];
    sg_convert_to_f32(x->dtype, x->data, xv, 3);
    assert_true(xv[0] == 1 && xv[2] == 3);
    sg_safetensors_close(st);
    free(path);
}

static void zeros_and_tokenizer_copy(void **state) {
    (void)state;
    char *dir = tmp_path("zeros"), *tok = tmp_path("tok"), *dst = tmp_path("zeros2");
    assert_null(sg_checkpoint_save_zeros(dir, &tiny, SG_DTYPE_BF16, NULL, 0));
    sg_checkpoint *ck;
    assert_null(sg_checkpoint_open(dir, &ck));
    const sg_gpt2_weights *w = sg_checkpoint_weights(ck);
    for (int i = 0; i < tiny.n_embd; i++) assert_true(w->ln_f_w[i] == 0.0f);
    sg_checkpoint_close(ck);
    /* encoder.json/vocab.bpe are accepted as vocab.json/merges.txt */
    char *a = sg_path_join(tok, "encoder.json"), *b = sg_path_join(tok, "vocab.bpe");
    assert_int_equal(mkdir(tok, 0755), 0);
    expect_error(sg_checkpoint_copy_tokenizer(tok, dst), "no vocab.json (or encoder.json)", NULL);
    assert_null(sg_file_write_atomic(a, "{\"a\": 0}", 8));
    assert_null(sg_file_write_atomic(b, "#version: 0.2\n", 14));
    assert_null(sg_checkpoint_copy_tokenizer(tok, dst));
    char *v = sg_path_join(dst, "vocab.json"), *m = sg_path_join(dst, "merges.txt"), *data;
    assert_null(sg_file_read(v, &data, NULL));
    assert_string_equal(data, "{\"a\": 0}");
    free(data);
    assert_null(sg_file_read(m, &data, NULL));
    assert_string_equal(data, "#version: 0.2\n");
    free(data);
    free(v), free(m), free(a), free(b), free(dir), free(tok), free(dst);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(param_counts_match_gpt2),       cmocka_unit_test(alloc_is_contiguous_canonical),
        cmocka_unit_test(init_random_gpt2_statistics),   cmocka_unit_test(half_conversions_exact),
        cmocka_unit_test(round_trip_all_dtypes),         cmocka_unit_test(random_f16_close_to_f32),
        cmocka_unit_test(hf_prefix_and_ignored_tensors), cmocka_unit_test(config_json_round_trip_and_errors),
        cmocka_unit_test(safetensors_bad_headers),       cmocka_unit_test(checkpoint_bad_files),
        cmocka_unit_test(truncated_checkpoint),          cmocka_unit_test(writer_checks_byte_count),
        cmocka_unit_test(zeros_and_tokenizer_copy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
