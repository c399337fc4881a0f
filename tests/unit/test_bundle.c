/* test_bundle.c — the bundle's chunk format and the fingerprint.
 *
 * The tamper cases here re-sign the manifest after changing the chunks (as
 * someone holding the release key could), so they exercise the encrypted
 * stream's own protections: order, truncation (FINAL tag), chunks spliced
 * from another bundle. The fingerprint tests check the perturbation's shape
 * (a quarter of each matrix, ±epsilon·rms, other tensors untouched) and that
 * the trace score of a wrong key behaves like N(0, 1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/init.h"
#include "distribution/bundle.h"
#include "distribution/dsse.h"
#include "distribution/fingerprint.h"
#include "distribution/keyfiles.h"
#include "engine/safetensors.h"

typedef struct {
    char dir[64];
    unsigned char rpk[32], rsk[64]; /* release */
    unsigned char lpk[32], lsk[32]; /* licensee */
    unsigned char *bundle;
    size_t size;
} fixture;

static char *path(fixture *f, const char *name) {
    char *p = sg_path_join(f->dir, name);
    assert_non_null(p);
    return p;
}

static void write_file(fixture *f, const char *name, const void *data, size_t n) {
    char *p = path(f, name);
    assert_null(sg_file_write_atomic(p, data, n));
    free(p);
}

static void pack(fixture *f, const char *out) {
    char *o = path(f, out), *lic = path(f, "LICENSE.txt");
    sg_pack_spec spec = {.model_dir = f->dir,
                         .license_path = lic,
                         .model_name = "m",
                         .stage = "s",
                         .licensee = "alice",
                         .recipient_pk = f->lpk,
                         .release_sk = f->rsk,
                         .release_pk = f->rpk,
                         .fp_seed = NULL,
                         .epsilon = 0,
                         .issued_ms = 1000,
                         .out_path = o};
    sg_pack_result res;
    assert_null(sg_bundle_pack(&spec, &res));
    assert_int_equal(res.manifest.n_files, 3); /* config.json, model.safetensors, LICENSE */
    free(o);
    free(lic);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sg_bundle_XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    crypto_sign_keypair(f->rpk, f->rsk);
    crypto_box_keypair(f->lpk, f->lsk);
    write_file(f, "config.json", "{\"n_layer\": 1}\n", 15);
    size_t n = 2u * SG_BUNDLE_CHUNK + 12345; /* three data chunks */
    unsigned char *w = malloc(n);
    randombytes_buf(w, n);
    write_file(f, "model.safetensors", w, n);
    free(w);
    write_file(f, "LICENSE.txt", "license\n", 8);
    pack(f, "a.sgb");
    char *p = path(f, "a.sgb");
    char *data;
    if (sg_file_read(p, &data, &f->size)) return -1;
    f->bundle = (unsigned char *)data;
    free(p);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0) return -1;
    free(f->bundle);
    free(f);
    return 0;
}

/* Splits a bundle into chunk spans. */
typedef struct {
    size_t off, len; /* including the 4-byte length */
} chunk;

static int split(const unsigned char *b, size_t size, chunk *c, int max, size_t *chunks_end) {
    uint64_t el = 0;
    for (int i = 7; i >= 0; i--) el = el << 8 | b[size - 16 + i];
    *chunks_end = size - 16 - el;
    size_t pos = SG_BUNDLE_HEADER_BYTES;
    int n = 0;
    while (pos < *chunks_end && n < max) {
        uint32_t len = (uint32_t)b[pos] | (uint32_t)b[pos + 1] << 8 | (uint32_t)b[pos + 2] << 16 |
                       (uint32_t)b[pos + 3] << 24;
        c[n].off = pos;
        c[n].len = 4 + len;
        pos += 4 + len;
        n++;
    }
    assert_int_equal(pos, *chunks_end);
    return n;
}

/* Writes header + the chunks in `order` + a re-signed manifest to name. */
static void assemble(fixture *f, const unsigned char *src, size_t size, const int *order, int n,
                     const char *name) {
    chunk c[64];
    size_t end;
    split(src, size, c, 64, &end);
    char *env = malloc(size - end - 16 + 1);
    memcpy(env, src + end, size - end - 16);
    env[size - end - 16] = '\0';
    char *payload;
    size_t pl;
    assert_null(sg_dsse_verify(env, strlen(env), SG_INTOTO_PAYLOAD_TYPE, f->rpk, &payload, &pl));
    sg_manifest m;
    assert_null(sg_manifest_parse(payload, pl, &m));
    free(payload);
    free(env);
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    crypto_generichash_update(&h, src, SG_BUNDLE_HEADER_BYTES);
    for (int i = 0; i < n; i++) crypto_generichash_update(&h, src + c[order[i]].off, c[order[i]].len);
    unsigned char d[32];
    crypto_generichash_final(&h, d, 32);
    sodium_bin2hex(m.bundle_blake2b, sizeof m.bundle_blake2b, d, 32);
    char *st, *signed_env;
    assert_null(sg_manifest_to_json(&m, &st));
    assert_null(
        sg_dsse_sign(SG_INTOTO_PAYLOAD_TYPE, (unsigned char *)st, strlen(st), f->rsk, "k", &signed_env));
    char *p = path(f, name);
    FILE *out = fopen(p, "wb");
    assert_non_null(out);
    fwrite(src, 1, SG_BUNDLE_HEADER_BYTES, out);
    for (int i = 0; i < n; i++) fwrite(src + c[order[i]].off, 1, c[order[i]].len, out);
    uint64_t el = strlen(signed_env);
    fwrite(signed_env, 1, el, out);
    unsigned char tail[16];
    for (int i = 0; i < 8; i++) tail[i] = (unsigned char)(el >> (8 * i));
    memcpy(tail + 8, SG_BUNDLE_TRAILER_MAGIC, 8);
    fwrite(tail, 1, 16, out);
    assert_int_equal(fclose(out), 0);
    free(p);
    free(st);
    free(signed_env);
}

/* Unpacks name; returns the error message ("" when it worked). */
static void expect_unpack(fixture *f, const char *name, const char *text) {
    char *p = path(f, name), *out = path(f, "out");
    sg_manifest m;
    sg_error *err = sg_bundle_unpack(p, f->lpk, f->lsk, f->rpk, out, &m);
    struct stat st;
    if (!text) {
        if (err) fail_msg("unpack %s: %s", name, sg_error_message(err));
        char cmd[200];
        snprintf(cmd, sizeof cmd, "cmp -s %s/model.safetensors %s/model.safetensors && rm -rf %s", f->dir,
                 out, out);
        assert_int_equal(system(cmd), 0);
    } else {
        if (!err) fail_msg("unpack %s succeeded, expected '%s'", name, text);
        if (!strstr(sg_error_message(err), text))
            fail_msg("unpack %s: '%s' lacks '%s'", name, sg_error_message(err), text);
        assert_int_not_equal(stat(out, &st), 0); /* nothing partial */
        sg_error_free(err);
    }
    free(p);
    free(out);
}

static void test_layout(void **state) {
    fixture *f = *state;
    assert_memory_equal(f->bundle, SG_BUNDLE_MAGIC, 8);
    assert_memory_equal(f->bundle + f->size - 8, SG_BUNDLE_TRAILER_MAGIC, 8);
    chunk c[64];
    size_t end;
    /* F+D config, F + 3 D model, F+D license, E */
    assert_int_equal(split(f->bundle, f->size, c, 64, &end), 9);
    /* a full data chunk: 4 + 1 + 1 MiB + tag */
    assert_int_equal(c[3].len, 4 + 1 + SG_BUNDLE_CHUNK + crypto_secretstream_xchacha20poly1305_ABYTES);
    expect_unpack(f, "a.sgb", NULL);
    int same[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    assemble(f, f->bundle, f->size, same, 9, "same.sgb"); /* control: re-signing alone changes nothing */
    expect_unpack(f, "same.sgb", NULL);
}

static void test_order(void **state) {
    fixture *f = *state;
    int swapped[9] = {0, 1, 2, 4, 3, 5, 6, 7, 8};
    assemble(f, f->bundle, f->size, swapped, 9, "t.sgb");
    expect_unpack(f, "t.sgb", "chunk 3 fails authentication");
    int dropped[8] = {0, 1, 2, 3, 5, 6, 7, 8};
    assemble(f, f->bundle, f->size, dropped, 8, "t.sgb");
    expect_unpack(f, "t.sgb", "chunk 4 fails authentication");
    int dup[10] = {0, 1, 2, 3, 3, 4, 5, 6, 7, 8};
    assemble(f, f->bundle, f->size, dup, 10, "t.sgb");
    expect_unpack(f, "t.sgb", "chunk 4 fails authentication");
}

static void test_truncation(void **state) {
    fixture *f = *state;
    int no_final[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    assemble(f, f->bundle, f->size, no_final, 8, "t.sgb");
    expect_unpack(f, "t.sgb", "truncated: the stream ends without its final chunk");
    int half[4] = {0, 1, 2, 3};
    assemble(f, f->bundle, f->size, half, 4, "t.sgb");
    expect_unpack(f, "t.sgb", "truncated");
}

static void test_splice(void **state) {
    fixture *f = *state;
    /* the same files packed again: same plaintext, fresh key; its chunk 3 in ours */
    pack(f, "b.sgb");
    char *p = path(f, "b.sgb");
    char *other;
    size_t on;
    assert_null(sg_file_read(p, &other, &on));
    free(p);
    assert_int_equal(on, f->size);
    chunk c[64];
    size_t end;
    split(f->bundle, f->size, c, 64, &end);
    unsigned char *mixed = malloc(f->size);
    memcpy(mixed, f->bundle, f->size);
    memcpy(mixed + c[3].off, other + c[3].off, c[3].len);
    int same[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    assemble(f, mixed, f->size, same, 9, "t.sgb");
    expect_unpack(f, "t.sgb", "chunk 3 fails authentication");
    /* their header (other sealed key) with our chunks */
    memcpy(mixed, f->bundle, f->size);
    memcpy(mixed, other, SG_BUNDLE_HEADER_BYTES);
    assemble(f, mixed, f->size, same, 9, "t.sgb");
    expect_unpack(f, "t.sgb", "chunk 0 fails authentication");
    free(mixed);
    free(other);
}

/* ---- fingerprint ---------------------------------------------------------------- */

static void write_model(const char *p, int rows, int cols, sg_dtype dt, unsigned seed) {
    sg_st_spec specs[2] = {{.name = "h.0.mlp.c_fc.weight", .dtype = dt, .ndim = 2, .shape = {rows, cols}},
                           {.name = "ln_f.weight", .dtype = SG_DTYPE_F32, .ndim = 1, .shape = {cols}}};
    sg_st_writer *w;
    assert_null(sg_st_writer_open(p, specs, 2, NULL, 0, &w));
    size_t n = (size_t)rows * cols;
    float *x = malloc(n * sizeof *x);
    srand(seed);
    for (size_t i = 0; i < n; i++) x[i] = (float)(0.02 * ((double)rand() / RAND_MAX - 0.5) * 3.4);
    assert_null(sg_st_writer_write_f32(w, x, n));
    for (int i = 0; i < cols; i++) x[i] = 1.0f;
    assert_null(sg_st_writer_write_f32(w, x, (size_t)cols));
    assert_null(sg_st_writer_finish(w));
    free(x);
}

static void test_fingerprint(void **state) {
    fixture *f = *state;
    char *orig_p = path(f, "orig.safetensors"), *copy_p = path(f, "copy.safetensors");
    int rows = 300, cols = 257; /* not a multiple of the keystream block */
    write_model(orig_p, rows, cols, SG_DTYPE_F32, 1);
    unsigned char seeds[40][32];
    randombytes_buf(seeds, sizeof seeds);
    sg_fp_reader *r;
    assert_null(sg_fp_reader_open(orig_p, seeds[0], 0.01, &r));
    sg_atomic_file *out;
    assert_null(sg_atomic_file_open(copy_p, &out));
    unsigned char buf[5000]; /* small reads: many chunk boundaries */
    size_t got;
    for (;;) {
        assert_null(sg_fp_reader_read(r, buf, sizeof buf, &got));
        if (!got) break;
        assert_null(sg_atomic_file_write(out, buf, got));
    }
    sg_fp_reader_close(r);
    assert_null(sg_atomic_file_commit(out));

    sg_safetensors *o, *c;
    assert_null(sg_safetensors_open(orig_p, &o));
    assert_null(sg_safetensors_open(copy_p, &c));
    assert_int_equal(o->map.size, c->map.size);
    const sg_st_tensor *to = sg_safetensors_find(o, "h.0.mlp.c_fc.weight"),
                       *tc = sg_safetensors_find(c, "h.0.mlp.c_fc.weight");
    const float *a = (const float *)to->data, *b = (const float *)tc->data; /* F32, 8-aligned header */
    double ss = 0;
    for (size_t i = 0; i < to->numel; i++) ss += (double)a[i] * a[i];
    double step = 0.01 * sqrt(ss / to->numel);
    size_t moved = 0;
    for (size_t i = 0; i < to->numel; i++) {
        double d = (double)b[i] - a[i];
        if (d != 0) {
            moved++;
            assert_true(fabs(fabs(d) - step) < 1e-6);
        }
    }
    double frac = (double)moved / to->numel;
    assert_true(frac > 0.23 && frac < 0.27);
    assert_memory_equal(sg_safetensors_find(o, "ln_f.weight")->data,
                        sg_safetensors_find(c, "ln_f.weight")->data, (size_t)cols * 4);

    double z[40];
    int comparable;
    char why[200];
    assert_null(sg_fp_score(o, c, (const unsigned char(*)[32])seeds, 40, z, &comparable, why, sizeof why));
    assert_true(comparable);
    assert_true(z[0] > 0.9 * sqrt(0.25 * to->numel)); /* ~ sqrt(marked elements) */
    double sum = 0, sumsq = 0;
    for (int i = 1; i < 40; i++) {
        assert_true(fabs(z[i]) < SG_FP_THRESHOLD);
        sum += z[i];
        sumsq += z[i] * z[i];
    }
    double var = sumsq / 39 - (sum / 39) * (sum / 39);
    assert_true(var > 0.3 && var < 2.5); /* wrong keys score like N(0, 1) */
    assert_true(sg_fp_confidence(z[0], 40) > 0.999);
    assert_true(sg_fp_confidence(3.0, 40) == 0);

    /* a model of another shape is not comparable */
    char *small_p = path(f, "small.safetensors");
    write_model(small_p, 10, cols, SG_DTYPE_F32, 2);
    sg_safetensors *s;
    assert_null(sg_safetensors_open(small_p, &s));
    assert_null(sg_fp_score(o, s, (const unsigned char(*)[32])seeds, 40, z, &comparable, why, sizeof why));
    assert_false(comparable);
    assert_non_null(strstr(why, "another shape"));
    sg_safetensors_close(s);
    sg_safetensors_close(o);
    sg_safetensors_close(c);
    free(orig_p);
    free(copy_p);
    free(small_p);
}

static void test_fingerprint_bf16(void **state) {
    fixture *f = *state;
    char *orig_p = path(f, "o16.safetensors"), *copy_p = path(f, "c16.safetensors");
    write_model(orig_p, 128, 128, SG_DTYPE_BF16, 3);
    unsigned char seed[2][32];
    randombytes_buf(seed, sizeof seed);
    sg_fp_reader *r;
    assert_null(sg_fp_reader_open(orig_p, seed[0], 0.01, &r));
    sg_atomic_file *out;
    assert_null(sg_atomic_file_open(copy_p, &out));
    unsigned char *buf = malloc(SG_BUNDLE_CHUNK);
    size_t got;
    do {
        assert_null(sg_fp_reader_read(r, buf, SG_BUNDLE_CHUNK, &got));
        assert_null(sg_atomic_file_write(out, buf, got));
    } while (got);
    free(buf);
    sg_fp_reader_close(r);
    assert_null(sg_atomic_file_commit(out));
    sg_safetensors *o, *c;
    assert_null(sg_safetensors_open(orig_p, &o));
    assert_null(sg_safetensors_open(copy_p, &c));
    double z[2];
    int comparable;
    char why[200];
    assert_null(sg_fp_score(o, c, (const unsigned char(*)[32])seed, 2, z, &comparable, why, sizeof why));
    assert_true(z[0] > 20); /* bf16 rounding loses some of the mark, not the signal */
    assert_true(fabs(z[1]) < SG_FP_THRESHOLD);
    sg_safetensors_close(o);
    sg_safetensors_close(c);
    free(orig_p);
    free(copy_p);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),      cmocka_unit_test(test_order),
        cmocka_unit_test(test_truncation),  cmocka_unit_test(test_splice),
        cmocka_unit_test(test_fingerprint), cmocka_unit_test(test_fingerprint_bf16),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
