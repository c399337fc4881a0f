/* store.c — the store's core (store.h): opening a database through its
 * backend, the writer and reader connections, applying the backend's
 * migrations, and the group commit of audit appends. The domains' SQL is in
 * store_DOMAIN.c; the design is at the top of store_int.h. */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

const sgs_driver *sgs_driver_for(const char *target) {
    (void)target; /* a second backend is chosen here, by the target's form */
    return &sgs_sqlite;
}

static int n_migrations(const sgs_driver *drv) {
    int n = 0;
    while (drv->migrations[n]) n++;
    return n;
}

/* ---- migrations ------------------------------------------------------------------ */

static const sgs_query SCHEMA_VERSION = {"SELECT coalesce(max(version), 0) FROM schema_version",
                                         "reading schema version"};
static const sgs_query SCHEMA_RECORD = {"INSERT INTO schema_version VALUES (?, ?)", "recording migration"};

static void read_int(const sgs_q *q, void *rec) { *(int64_t *)rec = sgs_col_int(q, 0); }

/* Caller holds the writer's lock (or is alone, while opening). */
static sg_error *read_version(sgs_conn *c, int *version) {
    sgs_q q;
    int64_t v = 0;
    sg_error *err = sgs_open_in(&q, c, &SCHEMA_VERSION);
    if (!err) err = sgs_one(&q, read_int, &v, NULL);
    *version = (int)v;
    return err;
}

/* Applies pending migrations, each in a write transaction that re-reads the
 * version, so two processes opening a new database at once do not race. */
static sg_error *migrate(sg_store *s) {
    sgs_conn *c = &s->writer;
    const int latest = n_migrations(s->drv);
    sg_error *err = s->drv->exec(c->db, s->drv->schema_version_table, "creating schema_version");
    if (err) return err;
    if ((err = read_version(c, &s->version))) return err;
    if (s->version > latest)
        return sg_error_new("database schema version %d is newer than this program (%d): upgrade stagegate",
                            s->version, latest);
    while (s->version < latest) {
        if ((err = sgs_begin(c, "starting migration"))) return err;
        int v = 0;
        if ((err = read_version(c, &v))) goto fail;
        if (v < latest) {
            if ((err = s->drv->exec(c->db, s->drv->migrations[v], "applying migration"))) {
                err = sg_error_wrap(err, "schema migration %d", v + 1);
                goto fail;
            }
            sgs_q q;
            if ((err = sgs_open_in(&q, c, &SCHEMA_RECORD))) goto fail;
            sgs_int(&q, v + 1);
            sgs_int(&q, (int64_t)time(NULL) * 1000);
            if ((err = sgs_run(&q, NULL))) goto fail;
            v++;
        }
        if ((err = sgs_commit(c, "committing migration"))) goto fail;
        s->version = v;
    }
    return NULL;
fail:
    sgs_rollback(c);
    return err;
}

/* ---- opening and closing ------------------------------------------------------------ */

sg_error *sg_store_open(const char *path, sg_store **out) {
    *out = NULL;
    sg_store *s = calloc(1, sizeof *s);
    if (!s) return sg_error_new("out of memory");
    s->drv = sgs_driver_for(path);
    pthread_mutex_init(&s->writer.lock, NULL);
    pthread_mutex_init(&s->rd.lock, NULL);
    pthread_mutex_init(&s->gc_lock, NULL);
    pthread_cond_init(&s->gc_cond, NULL);
    s->gc_tail = &s->gc_queue;
    bool single = s->drv->single_connection(path);
    s->reader = single ? &s->writer : &s->rd;
    s->target = strdup(path);
    if (!s->target) {
        free(s);
        return sg_error_new("out of memory");
    }
    sg_error *err = sgs_conn_open(&s->writer, s->drv, path, false);
    if (!err) err = migrate(s);
    if (!err && !single) err = sgs_conn_open(&s->rd, s->drv, path, false);
    if (err) {
        sg_store_close(s);
        return sg_error_wrap(err, "opening database %s", path);
    }
    *out = s;
    return NULL;
}

void sg_store_close(sg_store *s) {
    if (!s) return;
    sgs_conn_close(&s->rd);
    sgs_conn_close(&s->writer);
    pthread_mutex_destroy(&s->writer.lock);
    pthread_mutex_destroy(&s->rd.lock);
    pthread_mutex_destroy(&s->gc_lock);
    pthread_cond_destroy(&s->gc_cond);
    free(s->target);
    free(s);
}

int sg_store_schema_version(sg_store *s) { return s->version; }
int sg_store_schema_latest(void) { return n_migrations(sgs_driver_for("")); }

/* ---- group commit ---------------------------------------------------------------------
 * An append joins a queue; the first appender finding no flush under way
 * becomes the leader, takes the whole queue and writes it in one transaction
 * (one fsync), then wakes the others. Under concurrency many records share
 * an fsync; alone, an append is a plain transaction. Each caller still
 * returns only after its own record is committed. */

/* The leader's work: the batch together, or each record alone when the
 * batch fails (so that one bad record does not fail its neighbours). */
static void flush_batch(sg_store *s, sgs_pending *batch) {
    sgs_conn *c = &s->writer;
    size_t n = 0;
    for (sgs_pending *p = batch; p; p = p->next) n++;
    sgs_conn_lock(c);
    sg_error *err = sgs_audit_write_batch(c, batch, n);
    if (err && n > 1) {
        sg_error_free(err);
        for (sgs_pending *p = batch; p; p = p->next) p->err = sgs_audit_write_batch(c, p, 1);
    } else {
        batch->err = err;
    }
    sgs_conn_unlock(c);
}

sg_error *sgs_group_commit(sg_store *s, sgs_pending *me) {
    pthread_mutex_lock(&s->gc_lock);
    *s->gc_tail = me;
    s->gc_tail = &me->next;
    while (!me->done) {
        if (s->gc_flushing) {
            pthread_cond_wait(&s->gc_cond, &s->gc_lock);
            continue;
        }
        s->gc_flushing = true;
        sgs_pending *batch = s->gc_queue;
        s->gc_queue = NULL;
        s->gc_tail = &s->gc_queue;
        pthread_mutex_unlock(&s->gc_lock);
        flush_batch(s, batch);
        pthread_mutex_lock(&s->gc_lock);
        for (sgs_pending *p = batch, *next; p; p = next) {
            next = p->next; /* p belongs to a waiting thread: read before marking done */
            p->done = true;
        }
        s->gc_flushing = false;
        pthread_cond_broadcast(&s->gc_cond);
    }
    pthread_mutex_unlock(&s->gc_lock);
    return me->err;
}
