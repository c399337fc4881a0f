/* store_stmt.c — the store's one statement helper (store_int.h): connections
 * with their cache of prepared statements, transactions, binding in order,
 * and the four ways to finish a statement (run, one row, all rows, each row).
 * Backend-neutral: everything goes through the connection's sgs_driver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* ---- connections ---------------------------------------------------------------- */

sg_error *sgs_conn_open(sgs_conn *c, const sgs_driver *drv, const char *target, bool walk) {
    c->drv = drv;
    return drv->open(target, walk, &c->db);
}

void sgs_conn_close(sgs_conn *c) {
    for (size_t i = 0; i < c->n_cache; i++) c->drv->finalize(c->cache[i].st);
    free(c->cache);
    c->cache = NULL;
    c->n_cache = c->cap_cache = 0;
    if (c->db) c->drv->close(c->db);
    c->db = NULL;
}

void sgs_conn_lock(sgs_conn *c) { pthread_mutex_lock(&c->lock); }
void sgs_conn_unlock(sgs_conn *c) { pthread_mutex_unlock(&c->lock); }

static sg_error *db_error(sgs_conn *c, const char *what) {
    return sg_error_new("%s: %s", what, c->drv->errmsg(c->db));
}

sg_error *sgs_begin(sgs_conn *c, const char *what) { return c->drv->begin_write(c->db, what); }
sg_error *sgs_commit(sgs_conn *c, const char *what) { return c->drv->exec(c->db, "COMMIT", what); }
void sgs_rollback(sgs_conn *c) {
    sg_error *err = c->drv->exec(c->db, "ROLLBACK", "rolling back");
    sg_error_free(err); /* nothing to undo, or the transaction is gone already */
}

/* ---- statements ------------------------------------------------------------------ */

/* The connection's statement for `query`, prepared on first use. A
 * connection runs a few dozen distinct statements: a linear search over
 * pointers is cheaper than anything SQLite does next. */
static sg_error *cached(sgs_conn *c, const sgs_query *query, sgs_stmt **out) {
    for (size_t i = 0; i < c->n_cache; i++)
        if (c->cache[i].query == query) {
            *out = c->cache[i].st;
            return NULL;
        }
    if (c->n_cache == c->cap_cache) {
        size_t cap = c->cap_cache ? 2 * c->cap_cache : 32;
        sgs_cached *grown = realloc(c->cache, cap * sizeof *grown);
        if (!grown) return sg_error_new("out of memory");
        c->cache = grown;
        c->cap_cache = cap;
    }
    sg_error *err = c->drv->prepare(c->db, query->sql, out);
    if (err) return sg_error_wrap(err, "%s: preparing statement", query->what);
    c->cache[c->n_cache++] = (sgs_cached){query, *out};
    return NULL;
}

sg_error *sgs_open_in(sgs_q *q, sgs_conn *c, const sgs_query *query) {
    *q = (sgs_q){.c = c, .query = query};
    sg_error *err = cached(c, query, &q->st);
    if (!err) c->drv->reset(q->st);
    return err;
}

sg_error *sgs_open(sgs_q *q, sgs_conn *c, const sgs_query *query) {
    sgs_conn_lock(c);
    sg_error *err = sgs_open_in(q, c, query);
    if (err)
        sgs_conn_unlock(c);
    else
        q->locked = true;
    return err;
}

static void finish(sgs_q *q) {
    if (q->st) q->c->drv->reset(q->st);
    if (q->locked) sgs_conn_unlock(q->c);
    q->locked = false;
}

void sgs_int(sgs_q *q, int64_t v) { q->c->drv->bind_int(q->st, ++q->arg, v); }
void sgs_real(sgs_q *q, double v) { q->c->drv->bind_real(q->st, ++q->arg, v); }
void sgs_text(sgs_q *q, const char *t) { q->c->drv->bind_text(q->st, ++q->arg, t); }
void sgs_str(sgs_q *q, const char *t) { q->c->drv->bind_text(q->st, ++q->arg, t ? t : ""); }
void sgs_blob(sgs_q *q, const void *p, size_t n) { q->c->drv->bind_blob(q->st, ++q->arg, p, n); }

int64_t sgs_col_int(const sgs_q *q, int i) { return q->c->drv->col_int(q->st, i); }
double sgs_col_real(const sgs_q *q, int i) { return q->c->drv->col_real(q->st, i); }

void sgs_col_text(const sgs_q *q, int i, char *dst, size_t cap) {
    const char *t = q->c->drv->col_text(q->st, i);
    snprintf(dst, cap, "%s", t ? t : "");
}

char *sgs_col_dup(const sgs_q *q, int i) {
    const char *t = q->c->drv->col_text(q->st, i);
    return t ? strdup(t) : NULL;
}

const void *sgs_col_bytes(const sgs_q *q, int i, size_t *n) { return q->c->drv->col_blob(q->st, i, n); }

void sgs_col_blob(const sgs_q *q, int i, void *dst, size_t cap) {
    size_t n = 0;
    const void *b = sgs_col_bytes(q, i, &n);
    memset(dst, 0, cap);
    if (b) memcpy(dst, b, n < cap ? n : cap);
}

/* ---- finishing a statement --------------------------------------------------------- */

sg_error *sgs_run(sgs_q *q, sgs_result *res) {
    sgs_step rc = q->c->drv->step(q->st);
    sg_error *err = NULL;
    if (rc == SGS_ROW || rc == SGS_DONE) {
        if (res) {
            res->changes = q->c->drv->changes(q->c->db);
            res->id = q->c->drv->last_id(q->c->db);
        }
    } else {
        err = db_error(q->c, q->query->what);
    }
    if (res) res->step = rc;
    finish(q);
    return err;
}

sg_error *sgs_one(sgs_q *q, sgs_read_fn rd, void *rec, bool *found) {
    if (found) *found = false;
    sgs_step rc = q->c->drv->step(q->st);
    sg_error *err = NULL;
    if (rc == SGS_ROW) {
        rd(q, rec);
        if (found) *found = true;
    } else if (rc != SGS_DONE) {
        err = db_error(q->c, q->query->what);
    } else if (!found) {
        err = sg_error_new("%s: no row", q->query->what);
    }
    finish(q);
    return err;
}

sg_error *sgs_list(sgs_q *q, sgs_read_fn rd, size_t size, void **out, size_t *n) {
    *out = NULL;
    *n = 0;
    char *arr = NULL;
    size_t cap = 0;
    sg_error *err = NULL;
    sgs_step rc;
    while ((rc = q->c->drv->step(q->st)) == SGS_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char *grown = realloc(arr, cap * size);
            if (!grown) {
                err = sg_error_new("out of memory");
                break;
            }
            arr = grown;
        }
        memset(arr + *n * size, 0, size);
        rd(q, arr + *n * size);
        (*n)++;
    }
    if (!err && rc != SGS_DONE) err = db_error(q->c, q->query->what);
    finish(q);
    if (err) {
        free(arr);
        *n = 0;
    } else {
        *out = arr;
    }
    return err;
}

sg_error *sgs_each(sgs_q *q, sgs_row_fn fn, void *ctx) {
    sgs_step rc;
    while ((rc = q->c->drv->step(q->st)) == SGS_ROW)
        if (fn(q, ctx)) {
            rc = SGS_DONE;
            break;
        }
    sg_error *err = rc == SGS_DONE ? NULL : db_error(q->c, q->query->what);
    finish(q);
    return err;
}
