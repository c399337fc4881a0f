/* test_keys.c — API key secrets, keyed hashes, authentication outcomes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/keys.h"
#include "base/fileio.h"
#include "base/init.h"

typedef struct {
    char dir[64], db[128], keyfile[128];
    sg_store *store;
    sg_keys *keys;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sg_keys_XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->db, sizeof f->db, "%s/k.db", f->dir);
    snprintf(f->keyfile, sizeof f->keyfile, "%s/k.db.key", f->dir);
    if (sg_store_open(f->db, &f->store)) return -1;
    if (sg_keys_open(f->store, f->keyfile, &f->keys)) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    sg_keys_close(f->keys);
    sg_store_close(f->store);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc;
}

static int64_t create(fixture *f, const char *name, int64_t expires_ms, char secret[SG_KEY_SECRET_LEN + 1]) {
    sg_key_spec spec = {
        .name = name, .audience = "internal_devs", .rpm = 30, .tpm = 4000, .expires_ms = expires_ms};
    int64_t id = 0;
    assert_null(sg_keys_create(f->keys, &spec, secret, &id));
    return id;
}

static sg_auth_result auth(fixture *f, const char *header, int64_t now_ms, sg_principal *p) {
    sg_auth_result r;
    assert_null(sg_keys_authenticate(f->keys, header, now_ms, p, &r));
    return r;
}

static void secret_shape_and_key_file(void **state) {
    fixture *f = *state;
    char s1[SG_KEY_SECRET_LEN + 1], s2[SG_KEY_SECRET_LEN + 1];
    create(f, "a", 0, s1);
    create(f, "b", 0, s2);
    assert_int_equal(strlen(s1), SG_KEY_SECRET_LEN);
    assert_memory_equal(s1, "sg-", 3);
    assert_int_equal(strspn(s1 + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
    assert_string_not_equal(s1, s2);
    struct stat st;
    assert_int_equal(stat(f->keyfile, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
    /* The database never holds the secret (nor its random part). */
    char *data;
    size_t n;
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", f->db);
    assert_null(sg_file_read(wal, &data, &n));
    assert_null(memmem(data, n, s1 + 3, 20));
    assert_non_null(memmem(data, n, "internal_devs", 13)); /* the file is what we think it is */
    free(data);
}

static void authentication_outcomes(void **state) {
    fixture *f = *state;
    char secret[SG_KEY_SECRET_LEN + 1], header[128];
    int64_t id = create(f, "alice", 0, secret);
    sg_principal p;
    snprintf(header, sizeof header, "Bearer %s", secret);
    assert_int_equal(auth(f, header, 1, &p), SG_AUTH_OK);
    assert_int_equal(p.key_id, id);
    assert_string_equal(p.name, "alice");
    assert_string_equal(p.audience, "internal_devs");
    assert_int_equal(p.rpm, 30);
    assert_int_equal(p.tpm, 4000);
    snprintf(header, sizeof header, "  bearer \t%s  ", secret);
    assert_int_equal(auth(f, header, 1, &p), SG_AUTH_OK);

    assert_int_equal(auth(f, NULL, 1, &p), SG_AUTH_MISSING);
    assert_int_equal(auth(f, "Basic dXNlcjpwYXNz", 1, &p), SG_AUTH_MALFORMED);
    assert_int_equal(auth(f, "Bearer", 1, &p), SG_AUTH_MALFORMED);
    assert_int_equal(auth(f, "Bearer sk-abc", 1, &p), SG_AUTH_MALFORMED);
    snprintf(header, sizeof header, "Bearer %sx", secret);
    assert_int_equal(auth(f, header, 1, &p), SG_AUTH_MALFORMED);
    /* Right shape, one character off: unknown. */
    char wrong[SG_KEY_SECRET_LEN + 1];
    memcpy(wrong, secret, sizeof wrong);
    wrong[10] = wrong[10] == 'A' ? 'B' : 'A';
    snprintf(header, sizeof header, "Bearer %s", wrong);
    assert_int_equal(auth(f, header, 1, &p), SG_AUTH_UNKNOWN);
    assert_int_equal(p.key_id, 0);
}

static void revocation_and_expiry_apply_on_next_request(void **state) {
    fixture *f = *state;
    char s1[SG_KEY_SECRET_LEN + 1], s2[SG_KEY_SECRET_LEN + 1], s3[SG_KEY_SECRET_LEN + 1], h[128];
    int64_t id1 = create(f, "one", 0, s1);
    create(f, "two", 0, s2);
    create(f, "three", 5000, s3);
    sg_principal p;
    snprintf(h, sizeof h, "Bearer %s", s1);
    assert_int_equal(auth(f, h, 1, &p), SG_AUTH_OK);
    /* Revoke through a second connection, as the CLI would beside the server. */
    sg_store *other;
    sg_keys *okeys;
    assert_null(sg_store_open(f->db, &other));
    assert_null(sg_keys_open(other, f->keyfile, &okeys));
    char ref[32];
    snprintf(ref, sizeof ref, "%lld", (long long)id1);
    int64_t rid;
    bool already;
    assert_null(sg_keys_revoke(okeys, ref, 100, &rid, &already));
    assert_int_equal(rid, id1);
    assert_false(already);
    assert_null(sg_keys_revoke(okeys, ref, 200, &rid, &already));
    assert_true(already);
    assert_int_equal(auth(f, h, 2, &p), SG_AUTH_REVOKED);
    /* Revoke by the secret itself. */
    assert_null(sg_keys_revoke(okeys, s2, 100, &rid, &already));
    snprintf(h, sizeof h, "Bearer %s", s2);
    assert_int_equal(auth(f, h, 2, &p), SG_AUTH_REVOKED);
    sg_error *err = sg_keys_revoke(okeys, "9999", 100, &rid, &already);
    assert_non_null(err);
    assert_string_equal(sg_error_message(err), "no key with id 9999");
    sg_error_free(err);
    err = sg_keys_revoke(okeys, "bogus", 100, &rid, &already);
    assert_non_null(err);
    sg_error_free(err);
    sg_keys_close(okeys);
    sg_store_close(other);
    /* Expiry: valid before, refused from the instant it expires. */
    snprintf(h, sizeof h, "Bearer %s", s3);
    assert_int_equal(auth(f, h, 4999, &p), SG_AUTH_OK);
    assert_int_equal(p.expires_ms, 5000);
    assert_int_equal(auth(f, h, 5000, &p), SG_AUTH_EXPIRED);
}

static void hashing_key_matters(void **state) {
    fixture *f = *state;
    char secret[SG_KEY_SECRET_LEN + 1], h[128];
    create(f, "k", 0, secret);
    snprintf(h, sizeof h, "Bearer %s", secret);
    /* Same database, a different hashing key: the secret no longer verifies. */
    char other_key[160];
    snprintf(other_key, sizeof other_key, "%s/other.key", f->dir);
    sg_keys *k2;
    assert_null(sg_keys_open(f->store, other_key, &k2));
    sg_principal p;
    sg_auth_result r;
    assert_null(sg_keys_authenticate(k2, h, 1, &p, &r));
    assert_int_equal(r, SG_AUTH_UNKNOWN);
    sg_keys_close(k2);
    /* A key file others can read is refused. */
    assert_int_equal(chmod(other_key, 0644), 0);
    sg_error *err = sg_keys_open(f->store, other_key, &k2);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "chmod 600"));
    sg_error_free(err);
}

static void find_by_id_or_secret(void **state) {
    fixture *f = *state;
    char secret[SG_KEY_SECRET_LEN + 1];
    int64_t id = create(f, "findme", 0, secret);
    sg_key_record rec;
    bool found;
    assert_null(sg_keys_find(f->keys, secret, &rec, &found));
    assert_true(found);
    assert_int_equal(rec.id, id);
    assert_string_equal(rec.hint, secret + SG_KEY_SECRET_LEN - 4);
    char ref[32];
    snprintf(ref, sizeof ref, "%lld", (long long)id);
    assert_null(sg_keys_find(f->keys, ref, &rec, &found));
    assert_true(found);
    assert_string_equal(rec.name, "findme");
}

static void create_validates(void **state) {
    fixture *f = *state;
    char secret[SG_KEY_SECRET_LEN + 1];
    int64_t id;
    sg_key_spec bad = {.name = "", .audience = "x"};
    sg_error *err = sg_keys_create(f->keys, &bad, secret, &id);
    assert_non_null(err);
    sg_error_free(err);
    sg_key_spec bad2 = {.name = "n", .audience = "x", .rpm = -1};
    err = sg_keys_create(f->keys, &bad2, secret, &id);
    assert_non_null(err);
    sg_error_free(err);
}

static void durations(void **state) {
    (void)state;
    int64_t ms;
    assert_null(sg_parse_duration_ms("30d", &ms));
    assert_int_equal(ms, 30LL * 86400 * 1000);
    assert_null(sg_parse_duration_ms("2w", &ms));
    assert_int_equal(ms, 14LL * 86400 * 1000);
    assert_null(sg_parse_duration_ms("90m", &ms));
    assert_int_equal(ms, 90LL * 60 * 1000);
    const char *bad[] = {"", "d", "0d", "-3d", "3", "3y", "3 d", "99999999999999999999d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sg_error *err = sg_parse_duration_ms(bad[i], &ms);
        assert_non_null(err);
        sg_error_free(err);
    }
}

/* Sub-keys are keyed BLAKE2b of the purpose string under DB.key; the expected
 * bytes come from Python's hashlib.blake2b (key = bytes 0..31), so existing
 * watermarks, sealed release keys and fingerprints keep verifying. */
static void derive_is_keyed_blake2b_of_purpose(void **state) {
    fixture *f = *state;
    char db[160], keyfile[168];
    snprintf(db, sizeof db, "%s/d.db", f->dir);
    snprintf(keyfile, sizeof keyfile, "%s.key", db);
    unsigned char secret[32];
    for (int i = 0; i < 32; i++) secret[i] = (unsigned char)i;
    FILE *kf = fopen(keyfile, "wb");
    assert_non_null(kf);
    assert_int_equal(fwrite(secret, 1, sizeof secret, kf), sizeof secret);
    assert_int_equal(fclose(kf), 0);
    assert_int_equal(chmod(keyfile, 0600), 0);
    static const struct {
        const char *purpose;
        size_t n;
        const char *hex;
    } cases[] = {
        {"stagegate watermark key v1", 32,
         "ecf9c3ac33881b89d5be96548309e17a760823e9aaef7d5ce74748ff406635d0"},
        {"stagegate release signing key wrap v1", 32,
         "b4a15e585dced118990060742b0c3f949f8f58afc2326c19ae67c12cfa3d70aa"},
        {"stagegate weight fingerprint key v1", 32,
         "e57475b034568fa591e111f67f74108390022c4b62bb9001f546f0ebabacf1c6"},
        {"x", 16, "f45ba5cb604802a55ababcaafa2f1b8c"},
    };
    sg_store *store;
    assert_null(sg_store_open(db, &store));
    sg_keys *keys;
    assert_null(sg_keys_open(store, keyfile, &keys));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char a[64], b[64];
        char hex[129];
        sg_keys_derive(keys, cases[i].purpose, a, cases[i].n);
        sodium_bin2hex(hex, sizeof hex, a, cases[i].n);
        assert_string_equal(hex, cases[i].hex);
        assert_null(sg_keys_derive_for_db(store, db, cases[i].purpose, b, cases[i].n));
        assert_memory_equal(a, b, cases[i].n);
    }
    sg_keys_close(keys);
    sg_store_close(store);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(secret_shape_and_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(derive_is_keyed_blake2b_of_purpose, setup, teardown),
        cmocka_unit_test_setup_teardown(authentication_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(revocation_and_expiry_apply_on_next_request, setup, teardown),
        cmocka_unit_test_setup_teardown(hashing_key_matters, setup, teardown),
        cmocka_unit_test_setup_teardown(find_by_id_or_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(create_validates, setup, teardown),
        cmocka_unit_test(durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
