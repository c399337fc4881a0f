/* test_store.c — the SQLite store: migrations, keys, usage, audit rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/init.h"
#include "store/store.h"

typedef struct {
    char dir[64];
    char path[128];
} tmpdb;

static void tmpdb_make(tmpdb *t) {
    snprintf(t->dir, sizeof t->dir, "/tmp/sg_store_XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/test.db", t->dir);
}

static void tmpdb_remove(tmpdb *t) {
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", t->dir);
    assert_int_equal(system(cmd), 0);
}

static sg_key_record make_key(const char *name, unsigned char fill) {
    sg_key_record k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "%s", name);
    snprintf(k.audience, sizeof k.audience, "internal_devs");
    snprintf(k.hint, sizeof k.hint, "abcd");
    memset(k.hash, fill, sizeof k.hash);
    k.rpm = 60;
    k.created_ms = 1000;
    return k;
}

static void migrations_apply_once_and_persist(void **state) {
    (void)state;
    tmpdb t;
    tmpdb_make(&t);
    sg_store *s;
    assert_null(sg_store_open(t.path, &s));
    assert_int_equal(sg_store_schema_version(s), sg_store_schema_latest());
    assert_true(sg_store_schema_latest() >= 1);
    sg_store_close(s);
    assert_null(sg_store_open(t.path, &s));
    assert_int_equal(sg_store_schema_version(s), sg_store_schema_latest());
    sg_store_close(s);

    /* A database from a newer program is refused with a clear message. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(t.path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES (999, 0)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    sg_error *err = sg_store_open(t.path, &s);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "schema version 999 is newer"));
    sg_error_free(err);
    tmpdb_remove(&t);
}

static void wal_mode_is_on(void **state) {
    (void)state;
    tmpdb t;
    tmpdb_make(&t);
    sg_store *s;
    assert_null(sg_store_open(t.path, &s));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(t.path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    sg_store_close(s);
    tmpdb_remove(&t);
}

static void keys_insert_get_list_revoke(void **state) {
    (void)state;
    sg_store *s;
    assert_null(sg_store_open(":memory:", &s));
    sg_key_record a = make_key("alice", 0xaa), b = make_key("bob", 0xbb), out;
    int64_t ida, idb;
    assert_null(sg_store_key_insert(s, &a, &ida));
    assert_null(sg_store_key_insert(s, &b, &idb));
    assert_true(idb > ida);
    bool found;
    assert_null(sg_store_key_get(s, idb, &out, &found));
    assert_true(found);
    assert_string_equal(out.name, "bob");
    assert_int_equal(out.rpm, 60);
    assert_memory_equal(out.hash, b.hash, sizeof b.hash);
    assert_null(sg_store_key_by_hash(s, a.hash, &out, &found));
    assert_true(found);
    assert_int_equal(out.id, ida);
    unsigned char other[SG_HASH_BYTES];
    memset(other, 0xcc, sizeof other);
    assert_null(sg_store_key_by_hash(s, other, &out, &found));
    assert_false(found);
    assert_null(sg_store_key_get(s, 999, &out, &found));
    assert_false(found);

    /* The hash is unique: a second key with the same hash is refused. */
    int64_t idc;
    sg_error *err = sg_store_key_insert(s, &a, &idc);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "UNIQUE"));
    sg_error_free(err);

    sg_key_record *list;
    size_t n;
    assert_null(sg_store_key_list(s, &list, &n));
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "alice");
    assert_string_equal(list[1].name, "bob");
    free(list);

    bool changed;
    assert_null(sg_store_key_revoke(s, ida, 5000, &changed));
    assert_true(changed);
    assert_null(sg_store_key_revoke(s, ida, 6000, &changed));
    assert_false(changed); /* already revoked: keeps the first time */
    assert_null(sg_store_key_get(s, ida, &out, &found));
    assert_int_equal(out.revoked_ms, 5000);
    assert_null(sg_store_key_revoke(s, 12345, 5000, &changed));
    assert_false(changed);
    sg_store_close(s);
}

static void usage_accumulates_per_day(void **state) {
    (void)state;
    sg_store *s;
    assert_null(sg_store_open(":memory:", &s));
    sg_key_record a = make_key("alice", 0xaa);
    int64_t id;
    assert_null(sg_store_key_insert(s, &a, &id));
    const int64_t day1 = 1700000000000LL, day2 = day1 + 86400000LL;
    assert_null(sg_store_usage_add(s, id, day1, 10, 5));
    assert_null(sg_store_usage_add(s, id, day1 + 1000, 3, 2));
    assert_null(sg_store_usage_add(s, id, day2, 7, 1));
    sg_usage total, *days;
    size_t n;
    assert_null(sg_store_usage_get(s, id, &total, &days, &n));
    assert_int_equal(total.requests, 3);
    assert_int_equal(total.prompt_tokens, 20);
    assert_int_equal(total.completion_tokens, 8);
    assert_int_equal(n, 2);
    assert_string_equal(days[0].day, "2023-11-15"); /* newest first */
    assert_int_equal(days[0].requests, 1);
    assert_string_equal(days[1].day, "2023-11-14");
    assert_int_equal(days[1].prompt_tokens, 13);
    free(days);
    /* Foreign keys are enforced: usage of a key that does not exist fails. */
    sg_error *err = sg_store_usage_add(s, 4242, day1, 1, 1);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "FOREIGN KEY"));
    sg_error_free(err);
    sg_store_close(s);
}

static void seal_counting(sg_audit_row *row, const unsigned char last[SG_HASH_BYTES], void *ctx) {
    int *calls = ctx;
    (*calls)++;
    memcpy(row->prev_hash, last, SG_HASH_BYTES);
    memset(row->hash, (int)row->seq, SG_HASH_BYTES);
}

typedef struct {
    int64_t seqs[8];
    int n;
    char decisions[8][16];
} collected;

static int collect(const sg_audit_row *r, void *ctx) {
    collected *c = ctx;
    c->seqs[c->n] = r->seq;
    snprintf(c->decisions[c->n], sizeof c->decisions[0], "%s", r->decision);
    c->n++;
    return 0;
}

static void audit_rows_are_sequenced_and_chained(void **state) {
    (void)state;
    sg_store *s;
    assert_null(sg_store_open(":memory:", &s));
    sg_key_record a = make_key("alice", 0xaa);
    int64_t id;
    assert_null(sg_store_key_insert(s, &a, &id));
    int calls = 0;
    const char *decisions[] = {"allowed", "429", "allowed"};
    for (int i = 0; i < 3; i++) {
        sg_audit_row row = {.time_ms = 1700000000000LL,
                            .key_id = id,
                            .decision = (char *)decisions[i],
                            .prompt_tokens = 4,
                            .completion_tokens = 6};
        assert_null(sg_store_audit_append(s, &row, i != 1, seal_counting, &calls));
        assert_int_equal(row.seq, i + 1);
        unsigned char expect_prev[SG_HASH_BYTES];
        memset(expect_prev, i, SG_HASH_BYTES); /* hash of the previous row (zeros first) */
        assert_memory_equal(row.prev_hash, expect_prev, SG_HASH_BYTES);
    }
    assert_int_equal(calls, 3);
    int64_t count, last;
    assert_null(sg_store_audit_count(s, &count, &last));
    assert_int_equal(count, 3);
    assert_int_equal(last, 3);
    collected c = {0};
    assert_null(sg_store_audit_each(s, 2, collect, &c));
    assert_int_equal(c.n, 2);
    assert_int_equal(c.seqs[0], 2);
    assert_string_equal(c.decisions[0], "429");
    sg_usage total;
    assert_null(sg_store_usage_get(s, id, &total, NULL, NULL));
    assert_int_equal(total.requests, 2); /* the unmetered row did not count */
    assert_int_equal(total.completion_tokens, 12);
    sg_store_close(s);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migrations_apply_once_and_persist),    cmocka_unit_test(wal_mode_is_on),
        cmocka_unit_test(keys_insert_get_list_revoke),          cmocka_unit_test(usage_accumulates_per_day),
        cmocka_unit_test(audit_rows_are_sequenced_and_chained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
