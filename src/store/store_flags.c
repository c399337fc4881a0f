/* store_flags.c — completions and community flags (store_flags.h). */
#include "store/store_flags.h"

#include <string.h>

#include "store/store_int.h"

#define FLAG_COLUMNS                                                                                         \
    "id, completion_id, key_id, audit_seq, category, comment, created_ms, status, resolved_ms"

static const sgs_query COMPLETION_ADD = {"INSERT INTO completions (id, key_id, audit_seq, created_ms) "
                                         "VALUES (?,?,?,?)",
                                         "recording completion"};
static const sgs_query COMPLETION_GET = {"SELECT key_id, audit_seq FROM completions WHERE id = ?",
                                         "reading completion"};
static const sgs_query FLAG_ADD = {"INSERT INTO flags (completion_id, key_id, audit_seq, category, comment, "
                                   "created_ms) VALUES (?,?,?,?,?,?)",
                                   "recording flag"};
static const sgs_query FLAG_LIST = {"SELECT " FLAG_COLUMNS " FROM flags ORDER BY id", "listing flags"};
static const sgs_query FLAG_GET = {"SELECT " FLAG_COLUMNS " FROM flags WHERE id = ?", "reading flag"};
static const sgs_query FLAG_RESOLVE = {"UPDATE flags SET status = ?, resolved_ms = ? WHERE id = ? "
                                       "AND status = 'open'",
                                       "resolving flag"};
static const sgs_query FLAG_COUNTS = {
    "SELECT count(*), coalesce(sum(CASE WHEN status = 'open' THEN 1 ELSE 0 END),0), "
    "coalesce(sum(CASE WHEN status = 'upheld' THEN 1 ELSE 0 END),0), "
    "coalesce(sum(CASE WHEN status = 'dismissed' THEN 1 ELSE 0 END),0) FROM flags WHERE ?1 = 0 OR key_id = "
    "?1",
    "counting flags"};

/* ---- completions ------------------------------------------------------------------------ */

sg_error *sg_store_completion_add(sg_store *s, const char *id, int64_t key_id, int64_t audit_seq,
                                  int64_t created_ms) {
    sgs_q q;
    sg_error *err = sgs_open(&q, &s->writer, &COMPLETION_ADD);
    if (err) return err;
    sgs_text(&q, id);
    sgs_int(&q, key_id);
    sgs_int(&q, audit_seq);
    sgs_int(&q, created_ms);
    return sgs_run(&q, NULL);
}

typedef struct {
    int64_t key_id, audit_seq;
} completion;

static void read_completion(const sgs_q *q, void *rec) {
    completion *c = rec;
    c->key_id = sgs_col_int(q, 0);
    c->audit_seq = sgs_col_int(q, 1);
}

sg_error *sg_store_completion_get(sg_store *s, const char *id, int64_t *key_id, int64_t *audit_seq,
                                  bool *found) {
    *found = false;
    sgs_q q;
    sg_error *err = sgs_open(&q, s->reader, &COMPLETION_GET);
    if (err) return err;
    sgs_text(&q, id);
    completion c;
    if ((err = sgs_one(&q, read_completion, &c, found))) return err;
    if (*found) {
        *key_id = c.key_id;
        *audit_seq = c.audit_seq;
    }
    return NULL;
}

/* ---- flags ----------------------------------------------------------------------------- */

sg_error *sg_store_flag_add(sg_store *s, const sg_flag_record *f, int64_t *id) {
    sgs_q q;
    sg_error *err = sgs_open(&q, &s->writer, &FLAG_ADD);
    if (err) return err;
    sgs_text(&q, f->completion_id);
    sgs_int(&q, f->key_id);
    sgs_int(&q, f->audit_seq);
    sgs_text(&q, f->category);
    sgs_text(&q, f->comment);
    sgs_int(&q, f->created_ms);
    sgs_result res;
    if ((err = sgs_run(&q, &res))) return err;
    if (id) *id = res.id;
    return NULL;
}

static void read_flag(const sgs_q *q, void *rec) {
    sg_flag_record *r = rec;
    memset(r, 0, sizeof *r);
    r->id = sgs_col_int(q, 0);
    sgs_col_text(q, 1, r->completion_id, sizeof r->completion_id);
    r->key_id = sgs_col_int(q, 2);
    r->audit_seq = sgs_col_int(q, 3);
    sgs_col_text(q, 4, r->category, sizeof r->category);
    sgs_col_text(q, 5, r->comment, sizeof r->comment);
    r->created_ms = sgs_col_int(q, 6);
    sgs_col_text(q, 7, r->status, sizeof r->status);
    r->resolved_ms = sgs_col_int(q, 8);
}

sg_error *sg_store_flag_list(sg_store *s, sg_flag_record **out, size_t *n) {
    sgs_q q;
    *out = NULL;
    *n = 0;
    sg_error *err = sgs_open(&q, s->reader, &FLAG_LIST);
    return err ? err : sgs_list(&q, read_flag, sizeof **out, (void **)out, n);
}

sg_error *sg_store_flag_get(sg_store *s, int64_t id, sg_flag_record *out, bool *found) {
    *found = false;
    sgs_q q;
    sg_error *err = sgs_open(&q, s->reader, &FLAG_GET);
    if (err) return err;
    sgs_int(&q, id);
    return sgs_one(&q, read_flag, out, found);
}

sg_error *sg_store_flag_resolve(sg_store *s, int64_t id, const char *status, int64_t now_ms, bool *changed) {
    *changed = false;
    sgs_q q;
    sg_error *err = sgs_open(&q, &s->writer, &FLAG_RESOLVE);
    if (err) return err;
    sgs_text(&q, status);
    sgs_int(&q, now_ms);
    sgs_int(&q, id);
    sgs_result res;
    if ((err = sgs_run(&q, &res))) return err;
    *changed = res.changes > 0;
    return NULL;
}

static void read_counts(const sgs_q *q, void *rec) {
    sg_flag_counts *c = rec;
    c->total = sgs_col_int(q, 0);
    c->open = sgs_col_int(q, 1);
    c->upheld = sgs_col_int(q, 2);
    c->dismissed = sgs_col_int(q, 3);
}

sg_error *sg_store_flag_counts(sg_store *s, int64_t key_id, sg_flag_counts *out) {
    memset(out, 0, sizeof *out);
    sgs_q q;
    sg_error *err = sgs_open(&q, s->reader, &FLAG_COUNTS);
    if (err) return err;
    sgs_int(&q, key_id);
    return sgs_one(&q, read_counts, out, NULL);
}
