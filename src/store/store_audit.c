/* store_audit.c — audit rows (store_audit.h): the batch that group commit
 * writes (store.c runs the queue), the walk, count and retention. */
#include "store/store_audit.h"

#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define AUDIT_COLUMNS                                                                                        \
    "seq, time_ms, key_id, audience, model, stage, decision, reason, prompt_tokens, "                        \
    "completion_tokens, latency_us, text_mode, prompt_digest, completion_digest, prompt_text, "              \
    "completion_text, prev_hash, hash"

static const sgs_query AUDIT_LAST = {"SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                                     "reading the audit head"};
static const sgs_query AUDIT_INSERT = {"INSERT INTO audit (" AUDIT_COLUMNS
                                       ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                       "inserting audit record"};
static const sgs_query AUDIT_EACH = {"SELECT " AUDIT_COLUMNS " FROM audit WHERE seq >= ? ORDER BY seq",
                                     "reading the audit log"};
static const sgs_query AUDIT_COUNT = {"SELECT count(*), coalesce(max(seq), 0) FROM audit",
                                      "counting audit records"};
static const sgs_query AUDIT_PURGE = {"UPDATE audit SET prompt_text = NULL, completion_text = NULL "
                                      "WHERE time_ms < ? AND (prompt_text IS NOT NULL OR completion_text "
                                      "IS NOT NULL)",
                                      "purging audit texts"};

static const char *const mode_names[] = {"none", "hashed", "full"};

const char *sg_audit_text_mode_name(sg_audit_text_mode mode) {
    return mode >= SG_AUDIT_TEXT_NONE && mode <= SG_AUDIT_TEXT_FULL ? mode_names[mode] : NULL;
}

sg_error *sg_audit_text_mode_parse(const char *name, sg_audit_text_mode *mode) {
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, mode_names[i])) {
            *mode = (sg_audit_text_mode)i;
            return NULL;
        }
    return sg_error_new("unknown audit text mode '%s' (expected none, hashed or full)", name ? name : "");
}

/* ---- appending ------------------------------------------------------------------------ */

static sg_error *insert_row(sgs_conn *c, const sg_audit_record *row) {
    sgs_q q;
    sg_error *err = sgs_open_in(&q, c, &AUDIT_INSERT);
    if (err) return err;
    sgs_int(&q, row->seq);
    sgs_int(&q, row->time_ms);
    sgs_int(&q, row->key_id);
    sgs_text(&q, row->audience);
    sgs_text(&q, row->model);
    sgs_text(&q, row->stage);
    sgs_str(&q, row->decision);
    sgs_text(&q, row->reason);
    sgs_int(&q, row->prompt_tokens);
    sgs_int(&q, row->completion_tokens);
    sgs_int(&q, row->latency_us);
    const char *mode = sg_audit_text_mode_name(row->text_mode);
    sgs_text(&q, mode ? mode : "none");
    sgs_text(&q, row->prompt_digest);
    sgs_text(&q, row->completion_digest);
    sgs_text(&q, row->prompt_text);
    sgs_text(&q, row->completion_text);
    sgs_blob(&q, row->prev_hash, SG_HASH_BYTES);
    sgs_blob(&q, row->hash, SG_HASH_BYTES);
    return sgs_run(&q, NULL);
}

typedef struct {
    int64_t seq;
    unsigned char hash[SG_HASH_BYTES];
} head;

static void read_head(const sgs_q *q, void *rec) {
    head *h = rec;
    h->seq = sgs_col_int(q, 0);
    sgs_col_blob(q, 1, h->hash, sizeof h->hash);
}

/* Writes `n` queued records starting at `first` in one transaction, chaining
 * each to the one before. Caller holds the writer's lock. */
sg_error *sgs_audit_write_batch(sgs_conn *c, sgs_pending *first, size_t n) {
    sg_error *err = sgs_begin(c, "starting audit transaction");
    if (err) return err;
    head last = {0}; /* zeros: the first record */
    sgs_q q;
    if ((err = sgs_open_in(&q, c, &AUDIT_LAST))) goto rollback;
    if ((err = sgs_one(&q, read_head, &last, &(bool){false}))) goto rollback;
    sgs_pending *p = first;
    for (size_t i = 0; i < n; i++, p = p->next) {
        sg_audit_record *row = p->row;
        row->seq = ++last.seq;
        p->seal(row, last.hash, p->ctx);
        if ((err = insert_row(c, row))) goto rollback;
        if (p->usage && row->key_id > 0 &&
            (err =
                 sgs_usage_add_in(c, row->key_id, row->time_ms, row->prompt_tokens, row->completion_tokens)))
            goto rollback;
        memcpy(last.hash, row->hash, SG_HASH_BYTES);
    }
    if ((err = sgs_commit(c, "committing audit records"))) goto rollback;
    return NULL;
rollback:
    sgs_rollback(c);
    return err;
}

sg_error *sg_store_audit_append(sg_store *s, sg_audit_record *row, bool usage, sg_audit_seal_fn seal,
                                void *ctx) {
    sgs_pending me = {.row = row, .usage = usage, .seal = seal, .ctx = ctx};
    return sgs_group_commit(s, &me);
}

/* ---- reading ---------------------------------------------------------------------------- */

/* A row read back: the record, and the strings it points to (owned here). */
typedef struct {
    sg_audit_record r;
    char *s[11];
} read_back;

static const char *keep(read_back *b, int *n, char *t) { return b->s[(*n)++] = t; }

static void read_row(const sgs_q *q, read_back *b) {
    memset(b, 0, sizeof *b);
    sg_audit_record *r = &b->r;
    int n = 0;
    r->seq = sgs_col_int(q, 0);
    r->time_ms = sgs_col_int(q, 1);
    r->key_id = sgs_col_int(q, 2);
    r->audience = keep(b, &n, sgs_col_dup(q, 3));
    r->model = keep(b, &n, sgs_col_dup(q, 4));
    r->stage = keep(b, &n, sgs_col_dup(q, 5));
    r->decision = keep(b, &n, sgs_col_dup(q, 6));
    r->reason = keep(b, &n, sgs_col_dup(q, 7));
    r->prompt_tokens = sgs_col_int(q, 8);
    r->completion_tokens = sgs_col_int(q, 9);
    r->latency_us = sgs_col_int(q, 10);
    char *mode = sgs_col_dup(q, 11);
    sg_error *err = sg_audit_text_mode_parse(mode, &r->text_mode);
    if (err) r->text_mode = SG_AUDIT_TEXT_UNKNOWN; /* verify reports the record as changed */
    sg_error_free(err);
    free(mode);
    r->prompt_digest = keep(b, &n, sgs_col_dup(q, 12));
    r->completion_digest = keep(b, &n, sgs_col_dup(q, 13));
    r->prompt_text = keep(b, &n, sgs_col_dup(q, 14));
    r->completion_text = keep(b, &n, sgs_col_dup(q, 15));
    sgs_col_blob(q, 16, r->prev_hash, SG_HASH_BYTES);
    sgs_col_blob(q, 17, r->hash, SG_HASH_BYTES);
}

static void read_back_clear(read_back *b) {
    for (size_t i = 0; i < sizeof b->s / sizeof b->s[0]; i++) free(b->s[i]);
}

typedef struct {
    sg_audit_record_fn fn;
    void *ctx;
} walk;

static int walk_row(const sgs_q *q, void *ctx) {
    walk *w = ctx;
    read_back b;
    read_row(q, &b);
    int stop = w->fn(&b.r, w->ctx);
    read_back_clear(&b);
    return stop;
}

sg_error *sg_store_audit_each(sg_store *s, int64_t from_seq, sg_audit_record_fn fn, void *ctx) {
    /* A file database gets a connection of its own for the walk, so that a
     * long verify holds no lock the request path needs (and fn may use the
     * store). One statement over it is one consistent snapshot. */
    bool own = s->reader != &s->writer;
    sgs_conn walk_conn = {0}, *c = s->reader;
    sg_error *err = NULL;
    if (own) {
        c = &walk_conn;
        pthread_mutex_init(&walk_conn.lock, NULL);
        if ((err = sgs_conn_open(c, s->drv, s->target, true))) {
            err = sg_error_wrap(err, "reading the audit log");
            goto done;
        }
    }
    sgs_q q;
    if ((err = sgs_open(&q, c, &AUDIT_EACH))) goto done;
    sgs_int(&q, from_seq);
    err = sgs_each(&q, walk_row, &(walk){fn, ctx});
done:
    if (own) {
        sgs_conn_close(&walk_conn);
        pthread_mutex_destroy(&walk_conn.lock);
    }
    return err;
}

static void read_count(const sgs_q *q, void *rec) {
    int64_t *v = rec;
    v[0] = sgs_col_int(q, 0);
    v[1] = sgs_col_int(q, 1);
}

sg_error *sg_store_audit_count(sg_store *s, int64_t *count, int64_t *last_seq) {
    sgs_q q;
    int64_t v[2] = {0, 0};
    sg_error *err = sgs_open(&q, s->reader, &AUDIT_COUNT);
    if (!err) err = sgs_one(&q, read_count, v, NULL);
    if (!err) {
        *count = v[0];
        *last_seq = v[1];
    }
    return err;
}

sg_error *sg_store_audit_purge_text(sg_store *s, int64_t before_ms, int64_t *purged) {
    sgs_q q;
    sg_error *err = sgs_open(&q, &s->writer, &AUDIT_PURGE);
    if (err) return err;
    sgs_int(&q, before_ms);
    sgs_result res;
    if ((err = sgs_run(&q, &res))) return err;
    if (purged) *purged = res.changes;
    return NULL;
}
