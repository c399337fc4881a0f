/* test_store.c — the SQLite store: migrations, keys, usage, audit rows, and the
 * release, distribution and flag records. */
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
#include "store/store_audit.h"
#include "store/store_distribution.h"
#include "store/store_flags.h"
#include "store/store_keys.h"
#include "store/store_release.h"

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

static void seal_counting(sg_audit_record *row, const unsigned char last[SG_HASH_BYTES], void *ctx) {
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

static int collect(const sg_audit_record *r, void *ctx) {
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
        sg_audit_record row = {.time_ms = 1700000000000LL,
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

/* Licensees are unique by name, the release key is one row, an issue lists
 * with its licensee's name; refusals are worded for the operator. */
static void distribution_records(void **state) {
    (void)state;
    sg_store *s;
    assert_null(sg_store_open(":memory:", &s));
    unsigned char pub[crypto_box_PUBLICKEYBYTES];
    memset(pub, 7, sizeof pub);
    int64_t alice, bob;
    assert_null(sg_store_licensee_insert(s, "alice", pub, 100, &alice));
    assert_null(sg_store_licensee_insert(s, "bob", pub, 200, &bob));
    sg_error *err = sg_store_licensee_insert(s, "alice", pub, 300, &bob);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "a licensee named 'alice' exists already"));
    sg_error_free(err);
    sg_licensee_record l;
    bool found, changed;
    assert_null(sg_store_licensee_get(s, "bob", 0, &l, &found));
    assert_true(found);
    assert_int_equal(l.id, bob);
    assert_memory_equal(l.public_key, pub, sizeof pub);
    assert_null(sg_store_licensee_get(s, NULL, alice, &l, &found));
    assert_true(found);
    assert_string_equal(l.name, "alice");
    assert_null(sg_store_licensee_get(s, "carol", 0, &l, &found));
    assert_false(found);
    assert_null(sg_store_licensee_revoke(s, "alice", 400, &changed));
    assert_true(changed);
    assert_null(sg_store_licensee_revoke(s, "alice", 500, &changed));
    assert_false(changed);
    sg_licensee_record *ls;
    size_t n;
    assert_null(sg_store_licensee_list(s, &ls, &n));
    assert_int_equal(n, 2);
    assert_int_equal(ls[0].revoked_ms, 400);
    assert_int_equal(ls[1].revoked_ms, 0);
    free(ls);

    unsigned char rpub[32], got[32], *sealed;
    size_t sealed_len;
    memset(rpub, 9, sizeof rpub);
    assert_null(sg_store_release_key_get(s, got, &sealed, &sealed_len, &found));
    assert_false(found);
    assert_null(sg_store_release_key_insert(s, rpub, (const unsigned char *)"sealed!", 7, 600));
    err = sg_store_release_key_insert(s, rpub, (const unsigned char *)"again", 5, 700);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "this database has a release key already"));
    sg_error_free(err);
    assert_null(sg_store_release_key_get(s, got, &sealed, &sealed_len, &found));
    assert_true(found);
    assert_memory_equal(got, rpub, 32);
    assert_int_equal(sealed_len, 7);
    assert_memory_equal(sealed, "sealed!", 7);
    free(sealed);

    sg_issue_record is = {.licensee_id = bob, .epsilon = 0.5, .issued_ms = 800};
    snprintf(is.model, sizeof is.model, "sotu-small");
    snprintf(is.stage, sizeof is.stage, "research");
    snprintf(is.original_path, sizeof is.original_path, "/models/sotu-small/model.safetensors");
    memset(is.nonce, 3, sizeof is.nonce);
    int64_t issue_id;
    assert_null(sg_store_issue_insert(s, &is, &issue_id));
    sg_issue_record *issues;
    assert_null(sg_store_issue_list(s, &issues, &n));
    assert_int_equal(n, 1);
    assert_int_equal(issues[0].id, issue_id);
    assert_string_equal(issues[0].licensee, "bob");
    assert_string_equal(issues[0].original_path, is.original_path);
    assert_memory_equal(issues[0].nonce, is.nonce, sizeof is.nonce);
    assert_true(issues[0].epsilon == 0.5);
    free(issues);
    sg_store_close(s);
}

/* An evaluation run shares the first row's id; the latest result wins; the
 * release version counts stage moves and incidents opened or closed. */
static void release_records(void **state) {
    (void)state;
    sg_store *s;
    assert_null(sg_store_open(":memory:", &s));
    int64_t v;
    assert_null(sg_store_release_version(s, &v));
    assert_int_equal(v, 0);
    sg_eval_record recs[2] = {{.time_ms = 10, .value = 1.5}, {.time_ms = 10, .value = 2.5}};
    for (int i = 0; i < 2; i++) {
        snprintf(recs[i].suite, sizeof recs[i].suite, "perplexity");
        snprintf(recs[i].model, sizeof recs[i].model, "m");
        snprintf(recs[i].metric, sizeof recs[i].metric, i ? "bits" : "perplexity");
        snprintf(recs[i].source, sizeof recs[i].source, "run");
    }
    int64_t run;
    assert_null(sg_store_eval_add(s, recs, 2, &run));
    assert_int_equal(recs[0].run_id, run);
    assert_int_equal(recs[1].run_id, run);
    recs[0].value = 1.25;
    int64_t run2;
    assert_null(sg_store_eval_add(s, recs, 1, &run2));
    assert_true(run2 > run);
    sg_eval_record latest;
    bool found;
    assert_null(sg_store_eval_latest(s, "perplexity", "m", "perplexity", &latest, &found));
    assert_true(found);
    assert_true(latest.value == 1.25);
    assert_int_equal(latest.run_id, run2);
    assert_null(sg_store_eval_latest(s, "perplexity", "other", "perplexity", &latest, &found));
    assert_false(found);
    sg_eval_record *evals;
    size_t n;
    assert_null(sg_store_evals(s, "m", &evals, &n));
    assert_int_equal(n, 3);
    assert_int_equal(evals[0].run_id, evals[1].run_id);
    free(evals);
    assert_null(sg_store_evals(s, "other", &evals, &n));
    assert_int_equal(n, 0);
    free(evals);

    sg_stage_move m = {.time_ms = 20};
    snprintf(m.from_stage, sizeof m.from_stage, "internal");
    snprintf(m.to_stage, sizeof m.to_stage, "research");
    snprintf(m.kind, sizeof m.kind, "advance");
    assert_null(sg_store_stage_move_add(s, &m, NULL));
    sg_incident_record inc = {.opened_ms = 30};
    snprintf(inc.severity, sizeof inc.severity, "high");
    int64_t inc_id;
    assert_null(sg_store_incident_add(s, &inc, &inc_id));
    bool changed;
    assert_null(sg_store_incident_close(s, inc_id, 40, "ops", "fixed", &changed));
    assert_true(changed);
    assert_null(sg_store_incident_close(s, inc_id, 50, "ops", "again", &changed));
    assert_false(changed);
    assert_null(sg_store_release_version(s, &v));
    assert_int_equal(v, 3);
    sg_stage_move *moves;
    assert_null(sg_store_stage_moves(s, 21, &moves, &n));
    assert_int_equal(n, 0);
    free(moves);
    assert_null(sg_store_stage_moves(s, 0, &moves, &n));
    assert_int_equal(n, 1);
    assert_string_equal(moves[0].to_stage, "research");
    free(moves);
    sg_incident_record *incs;
    assert_null(sg_store_incidents(s, 35, &incs, &n)); /* closed after 35: in the period */
    assert_int_equal(n, 1);
    assert_string_equal(incs[0].close_note, "fixed");
    free(incs);
    assert_null(sg_store_incidents(s, 45, &incs, &n));
    assert_int_equal(n, 0);
    free(incs);
    sg_store_close(s);
}

/* Flag counts per key and in total, by status. */
static void flag_counts(void **state) {
    (void)state;
    sg_store *s;
    assert_null(sg_store_open(":memory:", &s));
    assert_null(sg_store_completion_add(s, "cmpl-1", 5, 1, 100));
    int64_t key_id, seq;
    bool found, changed;
    assert_null(sg_store_completion_get(s, "cmpl-1", &key_id, &seq, &found));
    assert_true(found);
    assert_int_equal(key_id, 5);
    assert_null(sg_store_completion_get(s, "cmpl-2", &key_id, &seq, &found));
    assert_false(found);
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        sg_flag_record f = {.key_id = i < 2 ? 5 : 6, .audit_seq = 1, .created_ms = 100 + i};
        snprintf(f.completion_id, sizeof f.completion_id, "cmpl-1");
        snprintf(f.category, sizeof f.category, "harmful");
        assert_null(sg_store_flag_add(s, &f, &ids[i]));
    }
    assert_null(sg_store_flag_resolve(s, ids[0], "upheld", 200, &changed));
    assert_true(changed);
    assert_null(sg_store_flag_resolve(s, ids[0], "dismissed", 300, &changed));
    assert_false(changed);
    assert_null(sg_store_flag_resolve(s, ids[2], "dismissed", 300, &changed));
    sg_flag_counts c;
    assert_null(sg_store_flag_counts(s, 5, &c));
    assert_int_equal(c.total, 2);
    assert_int_equal(c.open, 1);
    assert_int_equal(c.upheld, 1);
    assert_int_equal(c.dismissed, 0);
    assert_null(sg_store_flag_counts(s, 0, &c));
    assert_int_equal(c.total, 3);
    assert_int_equal(c.dismissed, 1);
    sg_flag_record f;
    assert_null(sg_store_flag_get(s, ids[0], &f, &found));
    assert_true(found);
    assert_string_equal(f.status, "upheld");
    assert_int_equal(f.resolved_ms, 200);
    sg_store_close(s);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migrations_apply_once_and_persist),
        cmocka_unit_test(wal_mode_is_on),
        cmocka_unit_test(keys_insert_get_list_revoke),
        cmocka_unit_test(usage_accumulates_per_day),
        cmocka_unit_test(audit_rows_are_sequenced_and_chained),
        cmocka_unit_test(distribution_records),
        cmocka_unit_test(release_records),
        cmocka_unit_test(flag_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
