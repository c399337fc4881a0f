/* test_dsse.c — DSSE PAE (the spec's example), Ed25519 envelopes and the
 * in-toto manifest: round trips and every kind of refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/init.h"
#include "distribution/dsse.h"
#include "distribution/manifest.h"

static void test_pae(void **state) {
    (void)state;
    size_t n = 0;
    unsigned char *p =
        sg_dsse_pae("http://example.com/HelloWorld", (const unsigned char *)"hello world", 11, &n);
    const char *want = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
    free(p);
    p = sg_dsse_pae("", NULL, 0, &n);
    assert_int_equal(n, strlen("DSSEv1 0  0 "));
    assert_memory_equal(p, "DSSEv1 0  0 ", n);
    free(p);
}

/* Replaces the envelope's field `key` (string) and returns a new JSON text. */
static char *with_field(const char *env, const char *key, const char *value) {
    json_t *o = json_loads(env, 0, NULL);
    assert_non_null(o);
    json_object_set_new(o, key, json_string(value));
    char *s = json_dumps(o, 0);
    json_decref(o);
    return s;
}

static void test_sign_verify(void **state) {
    (void)state;
    unsigned char pk[32], sk[64], pk2[32], sk2[64];
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    const char *body = "{\"a\":1}";
    char *env = NULL;
    assert_null(
        sg_dsse_sign(SG_INTOTO_PAYLOAD_TYPE, (const unsigned char *)body, strlen(body), sk, "k1", &env));
    char *payload = NULL;
    size_t pl = 0;
    assert_null(sg_dsse_verify(env, strlen(env), SG_INTOTO_PAYLOAD_TYPE, pk, &payload, &pl));
    assert_int_equal(pl, strlen(body));
    assert_string_equal(payload, body);
    free(payload);

    /* another key */
    sg_error *err = sg_dsse_verify(env, strlen(env), SG_INTOTO_PAYLOAD_TYPE, pk2, &payload, &pl);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "bad signature"));
    assert_null(payload);
    sg_error_free(err);

    /* a changed payload (validly encoded) */
    char *b64 = malloc(64);
    sodium_bin2base64(b64, 64, (const unsigned char *)"{\"a\":2}", 7, sodium_base64_VARIANT_ORIGINAL);
    char *changed = with_field(env, "payload", b64);
    err = sg_dsse_verify(changed, strlen(changed), SG_INTOTO_PAYLOAD_TYPE, pk, &payload, &pl);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "bad signature"));
    sg_error_free(err);
    free(changed);
    free(b64);

    /* the type is signed too: changing it breaks the signature */
    changed = with_field(env, "payloadType", "application/json");
    err = sg_dsse_verify(changed, strlen(changed), "application/json", pk, &payload, &pl);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "bad signature"));
    sg_error_free(err);
    err = sg_dsse_verify(changed, strlen(changed), SG_INTOTO_PAYLOAD_TYPE, pk, &payload, &pl);
    assert_non_null(strstr(sg_error_message(err), "payloadType"));
    sg_error_free(err);
    free(changed);

    /* malformed */
    const char *bad[] = {
        "", "{", "[]", "{\"payloadType\":\"x\"}",
        "{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"!!\",\"signatures\":[]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = sg_dsse_verify(bad[i], strlen(bad[i]), SG_INTOTO_PAYLOAD_TYPE, pk, &payload, &pl);
        assert_non_null(err);
        assert_null(payload);
        sg_error_free(err);
    }
    free(env);
}

static sg_manifest sample(void) {
    sg_manifest m;
    memset(&m, 0, sizeof m);
    snprintf(m.model, sizeof m.model, "tiny");
    snprintf(m.stage, sizeof m.stage, "Download");
    snprintf(m.licensee, sizeof m.licensee, "alice");
    snprintf(m.issued, sizeof m.issued, "2026-11-23T15:00:00Z");
    memset(m.recipient, 'a', 64);
    memset(m.license_sha256, 'b', 64);
    memset(m.bundle_blake2b, 'c', 64);
    m.n_files = 2;
    snprintf(m.files[0].name, sizeof m.files[0].name, "config.json");
    m.files[0].size = 12;
    memset(m.files[0].sha256, '0', 64);
    snprintf(m.files[1].name, sizeof m.files[1].name, "model.safetensors");
    m.files[1].size = 6000000000ull; /* > 4 GiB: sizes are 64-bit */
    memset(m.files[1].sha256, 'f', 64);
    return m;
}

static void expect_parse_error(const char *json, const char *text) {
    sg_manifest out;
    sg_error *err = sg_manifest_parse(json, strlen(json), &out);
    assert_non_null(err);
    if (!strstr(sg_error_message(err), text)) fail_msg("'%s' lacks '%s'", sg_error_message(err), text);
    sg_error_free(err);
}

static void test_manifest(void **state) {
    (void)state;
    sg_manifest m = sample(), back;
    char *json = NULL;
    assert_null(sg_manifest_to_json(&m, &json));
    assert_null(sg_manifest_parse(json, strlen(json), &back));
    assert_memory_equal(&m, &back, sizeof m);
    assert_non_null(sg_manifest_find(&back, "model.safetensors"));
    assert_null(sg_manifest_find(&back, "LICENSE"));

    /* a path in a name, duplicates, missing digest, wrong types */
    char *s = strdup(json);
    char *p = strstr(s, "config.json");
    memcpy(p, "../fig.json", 11);
    expect_parse_error(s, "no valid file name");
    free(s);
    s = strdup(json);
    p = strstr(s, "model.safetensors");
    memcpy(p, "config.json\"     ", 17);
    /* the JSON is now broken or names config.json twice; either way refused */
    sg_manifest out;
    sg_error *err = sg_manifest_parse(s, strlen(s), &out);
    assert_non_null(err);
    sg_error_free(err);
    free(s);
    expect_parse_error("{\"_type\":\"x\"}", "_type");
    expect_parse_error("{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicateType\":\"y\"}",
                       "predicateType");
    expect_parse_error(
        "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicateType\":\"urn:stagegate:bundle:v1\","
        "\"subject\":[],\"predicate\":{}}",
        "subject");
    free(json);

    assert_true(sg_manifest_name_ok("model.safetensors"));
    assert_false(sg_manifest_name_ok(".hidden"));
    assert_false(sg_manifest_name_ok("a/b"));
    assert_false(sg_manifest_name_ok(""));
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pae),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_manifest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
