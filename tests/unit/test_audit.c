/* test_audit.c — the hash-chained audit log: verification finds the first
 * changed, removed or reordered record; text modes; retention; usage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/init.h"
#include "access/audit.h"
#include "store/store_keys.h"

#define N_RECORDS 10

typedef struct {
    char dir[64], db[128];
    sg_store *store;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sg_audit_XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->db, sizeof f->db, "%s/a.db", f->dir);
    if (sg_store_open(f->db, &f->store)) return -1;
    for (int i = 1; i <= N_RECORDS; i++) {
        char reason[32], prompt[32];
        snprintf(reason, sizeof reason, "request %d", i);
        snprintf(prompt, sizeof prompt, "prompt number %d", i);
        sg_audit_record e = {.time_ms = 1700000000000LL + i,
                             .audience = "internal_devs",
                             .model = "sg-tiny",
                             .stage = "internal",
                             .decision = i % 3 ? "allowed" : "429",
                             .reason = reason,
                             .prompt_tokens = i,
                             .completion_tokens = 2 * i,
                             .latency_us = 100 * i,
                             .text_mode = SG_AUDIT_TEXT_FULL,
                             .prompt_text = prompt,
                             .completion_text = "ok"};
        int64_t seq;
        if (sg_audit_append(f->store, &e, &seq) || seq != i) return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    sg_store_close(f->store);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc;
}

/* Tampering happens behind the store's back, with plain SQL on the file. */
static void tamper(fixture *f, const char *sql) {
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) fail_msg("%s: %s", sql, msg);
    assert_true(sqlite3_changes(db) > 0);
    sqlite3_close(db);
}

static sg_audit_report verify(fixture *f) {
    sg_audit_report rep;
    assert_null(sg_audit_verify(f->store, &rep));
    return rep;
}

static void intact_log_verifies(void **state) {
    fixture *f = *state;
    sg_audit_report rep = verify(f);
    assert_true(rep.intact);
    assert_int_equal(rep.records, N_RECORDS);
    assert_int_equal(rep.head_seq, N_RECORDS);
    assert_int_equal(strlen(rep.head_hash), 64);
    assert_int_equal(rep.bad_seq, 0);
}

static void changed_record_is_named(void **state) {
    fixture *f = *state;
    tamper(f, "UPDATE audit SET decision = 'allowed' WHERE seq = 6");
    sg_audit_report rep = verify(f);
    assert_false(rep.intact);
    assert_int_equal(rep.bad_seq, 6);
    assert_non_null(strstr(rep.problem, "record 6 has been changed"));
}

static void changed_token_count_is_named(void **state) {
    fixture *f = *state;
    tamper(f, "UPDATE audit SET completion_tokens = 1 WHERE seq = 4");
    sg_audit_report rep = verify(f);
    assert_false(rep.intact);
    assert_int_equal(rep.bad_seq, 4);
}

static void changed_text_is_named(void **state) {
    fixture *f = *state;
    tamper(f, "UPDATE audit SET prompt_text = 'something else' WHERE seq = 3");
    sg_audit_report rep = verify(f);
    assert_false(rep.intact);
    assert_int_equal(rep.bad_seq, 3);
    assert_non_null(strstr(rep.problem, "text does not match"));
}

static void removed_record_is_named(void **state) {
    fixture *f = *state;
    tamper(f, "DELETE FROM audit WHERE seq = 7");
    sg_audit_report rep = verify(f);
    assert_false(rep.intact);
    assert_int_equal(rep.bad_seq, 7);
    assert_non_null(strstr(rep.problem, "record 7 has been removed"));
}

static void removed_first_records_are_named(void **state) {
    fixture *f = *state;
    tamper(f, "DELETE FROM audit WHERE seq <= 2");
    sg_audit_report rep = verify(f);
    assert_false(rep.intact);
    assert_int_equal(rep.bad_seq, 1);
    assert_non_null(strstr(rep.problem, "records 1 to 2 have been removed"));
}

static void removed_and_renumbered_is_named(void **state) {
    fixture *f = *state;
    tamper(f, "DELETE FROM audit WHERE seq = 5; UPDATE audit SET seq = seq - 1 WHERE seq > 5");
    sg_audit_report rep = verify(f);
    assert_false(rep.intact);
    assert_int_equal(rep.bad_seq, 5);
    assert_non_null(strstr(rep.problem, "record 5 does not follow record 4"));
}

static void reordered_records_are_named(void **state) {
    fixture *f = *state;
    /* Swap records 3 and 4 (everything but their position). */
    tamper(f, "UPDATE audit SET seq = -3 WHERE seq = 3;"
              "UPDATE audit SET seq = 3 WHERE seq = 4;"
              "UPDATE audit SET seq = 4 WHERE seq = -3;");
    sg_audit_report rep = verify(f);
    assert_false(rep.intact);
    assert_int_equal(rep.bad_seq, 3);
    assert_non_null(strstr(rep.problem, "record 3 does not follow record 2"));
}

static void rehashed_record_breaks_the_next_link(void **state) {
    fixture *f = *state;
    /* A forger who rewrites record 8 and recomputes its own hash (here: takes
     * record 9's hash) is still caught, at the next record. */
    tamper(
        f,
        "UPDATE audit SET (time_ms, key_id, audience, model, stage, decision, reason, prompt_tokens, "
        "completion_tokens, latency_us, text_mode, prompt_digest, completion_digest, prompt_text, "
        "completion_text, prev_hash, hash) = (SELECT time_ms, key_id, audience, model, stage, decision, "
        "reason, prompt_tokens, completion_tokens, latency_us, text_mode, prompt_digest, completion_digest, "
        "prompt_text, completion_text, prev_hash, hash FROM audit WHERE seq = 9) WHERE seq = 8");
    sg_audit_report rep = verify(f);
    assert_false(rep.intact);
    assert_int_equal(rep.bad_seq, 8); /* self-consistent, but not linked to record 7 */
    assert_non_null(strstr(rep.problem, "record 8 does not follow record 7"));
}

static void text_modes_and_retention(void **state) {
    fixture *f = *state;
    sg_audit_record e = {.time_ms = 1800000000000LL,
                         .decision = "allowed",
                         .prompt_text = "secret prompt",
                         .completion_text = "secret answer"};
    int64_t seq_none, seq_hashed;
    e.text_mode = SG_AUDIT_TEXT_NONE;
    assert_null(sg_audit_append(f->store, &e, &seq_none));
    e.text_mode = SG_AUDIT_TEXT_HASHED;
    assert_null(sg_audit_append(f->store, &e, &seq_hashed));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT text_mode, prompt_digest, prompt_text, completion_text "
                                        "FROM audit WHERE seq IN (?, ?, 1) ORDER BY seq",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, seq_none);
    sqlite3_bind_int64(st, 2, seq_hashed);
    char digest[65];
    sg_audit_text_digest("secret prompt", digest);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW); /* record 1: full */
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "full");
    assert_string_equal((const char *)sqlite3_column_text(st, 2), "prompt number 1");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW); /* none */
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "none");
    assert_null(sqlite3_column_text(st, 1));
    assert_null(sqlite3_column_text(st, 2));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW); /* hashed */
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "hashed");
    assert_string_equal((const char *)sqlite3_column_text(st, 1), digest);
    assert_null(sqlite3_column_text(st, 2));
    assert_null(sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* Retention drops the old texts; the chain still verifies. */
    int64_t purged;
    assert_null(sg_audit_purge_text(f->store, 1700000000000LL + 6, &purged));
    assert_int_equal(purged, 5);
    sg_audit_report rep = verify(f);
    assert_true(rep.intact);
    assert_int_equal(rep.records, N_RECORDS + 2);
}

static void usage_is_metered_by_decision(void **state) {
    fixture *f = *state;
    sg_key_record k = {.rpm = 0};
    snprintf(k.name, sizeof k.name, "u");
    snprintf(k.audience, sizeof k.audience, "a");
    snprintf(k.hint, sizeof k.hint, "h");
    memset(k.hash, 7, sizeof k.hash);
    int64_t id;
    assert_null(sg_store_key_insert(f->store, &k, &id));
    const char *decisions[] = {"allowed", "429", "filtered", "403", "hardcoded"};
    for (int i = 0; i < 5; i++) {
        sg_audit_record e = {
            .key_id = id, .decision = decisions[i], .prompt_tokens = 10, .completion_tokens = 5};
        assert_null(sg_audit_append(f->store, &e, NULL));
    }
    sg_usage total;
    assert_null(sg_store_usage_get(f->store, id, &total, NULL, NULL));
    assert_int_equal(total.requests, 3);
    assert_int_equal(total.prompt_tokens, 30);
    assert_int_equal(total.completion_tokens, 15);
    assert_true(verify(f).intact);
    sg_audit_record bad = {.decision = NULL};
    sg_error *err = sg_audit_append(f->store, &bad, NULL);
    assert_non_null(err);
    sg_error_free(err);
}

typedef struct {
    int64_t first, last;
    int n;
} tail_seen;

static int see(const sg_audit_record *r, void *ctx) {
    tail_seen *t = ctx;
    if (!t->n) t->first = r->seq;
    t->last = r->seq;
    t->n++;
    return 0;
}

static void tail_gives_last_records(void **state) {
    fixture *f = *state;
    tail_seen t = {0};
    assert_null(sg_audit_tail(f->store, 3, see, &t));
    assert_int_equal(t.n, 3);
    assert_int_equal(t.first, N_RECORDS - 2);
    assert_int_equal(t.last, N_RECORDS);
    tail_seen all = {0};
    assert_null(sg_audit_tail(f->store, 1000, see, &all));
    assert_int_equal(all.n, N_RECORDS);
}

static void anchor_catches_truncation_and_rewrites(void **state) {
    fixture *f = *state;
    sg_audit_report rep = verify(f);
    char anchor[65];
    memcpy(anchor, rep.head_hash, sizeof anchor);
    assert_null(sg_audit_verify_anchored(f->store, N_RECORDS, anchor, &rep));
    assert_true(rep.intact);
    /* More records after the anchor are fine. */
    sg_audit_record e = {.decision = "allowed"};
    assert_null(sg_audit_append(f->store, &e, NULL));
    assert_null(sg_audit_verify_anchored(f->store, N_RECORDS, anchor, &rep));
    assert_true(rep.intact);
    /* Cutting off the end is invisible to the chain alone, not to the anchor. */
    tamper(f, "DELETE FROM audit WHERE seq >= 9");
    assert_true(verify(f).intact);
    assert_null(sg_audit_verify_anchored(f->store, N_RECORDS, anchor, &rep));
    assert_false(rep.intact);
    assert_int_equal(rep.bad_seq, 9);
    assert_string_equal(rep.problem, "records 9 to 10 have been removed: the log ends before the anchor");
    /* A different hash at the anchor: the chain was rewritten. */
    anchor[0] = anchor[0] == '0' ? '1' : '0';
    assert_null(sg_audit_verify_anchored(f->store, 8, anchor, &rep));
    assert_false(rep.intact);
    assert_int_equal(rep.bad_seq, 8);
    assert_non_null(strstr(rep.problem, "not the anchored record"));
    sg_error *err = sg_audit_verify_anchored(f->store, 8, "abc", &rep);
    assert_non_null(err);
    sg_error_free(err);
}

typedef struct {
    sg_store *store;
    int64_t key_id;
    int ok, failed;
} appender;

static void *append_many(void *arg) {
    appender *a = arg;
    for (int i = 0; i < 40; i++) {
        sg_audit_record e = {
            .key_id = a->key_id, .decision = "allowed", .prompt_tokens = 1, .completion_tokens = 1};
        sg_error *err = sg_audit_append(a->store, &e, NULL);
        if (err) {
            a->failed++;
            sg_error_free(err);
        } else {
            a->ok++;
        }
    }
    return NULL;
}

static void concurrent_appends_share_commits_and_stay_chained(void **state) {
    fixture *f = *state;
    sg_key_record k = {.rpm = 0};
    snprintf(k.name, sizeof k.name, "c");
    snprintf(k.audience, sizeof k.audience, "a");
    snprintf(k.hint, sizeof k.hint, "h");
    memset(k.hash, 9, sizeof k.hash);
    int64_t id;
    assert_null(sg_store_key_insert(f->store, &k, &id));
    enum { THREADS = 8 };
    appender a[THREADS];
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        /* Thread 0 meters usage to a key that does not exist: each of its
         * records fails (foreign key), and must not take others with it. */
        a[t] = (appender){.store = f->store, .key_id = t == 0 ? 999 : id};
        assert_int_equal(pthread_create(&th[t], NULL, append_many, &a[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    assert_int_equal(a[0].ok, 0);
    assert_int_equal(a[0].failed, 40);
    for (int t = 1; t < THREADS; t++) {
        assert_int_equal(a[t].ok, 40);
        assert_int_equal(a[t].failed, 0);
    }
    sg_audit_report rep = verify(f);
    assert_true(rep.intact);
    assert_int_equal(rep.records, N_RECORDS + (THREADS - 1) * 40);
    sg_usage total;
    assert_null(sg_store_usage_get(f->store, id, &total, NULL, NULL));
    assert_int_equal(total.requests, (THREADS - 1) * 40);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(intact_log_verifies),
        T(changed_record_is_named),
        T(changed_token_count_is_named),
        T(changed_text_is_named),
        T(removed_record_is_named),
        T(removed_first_records_are_named),
        T(removed_and_renumbered_is_named),
        T(reordered_records_are_named),
        T(rehashed_record_breaks_the_next_link),
        T(text_modes_and_retention),
        T(usage_is_metered_by_decision),
        T(tail_gives_last_records),
        T(anchor_catches_truncation_and_rewrites),
        T(concurrent_appends_share_commits_and_stay_chained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
