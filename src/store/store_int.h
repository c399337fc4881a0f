/* store_int.h — private to src/store: what the store's own files share.
 * Nothing outside src/store includes this file (callers use store.h and the
 * store_DOMAIN.h headers).
 *
 * Layout. The store is three layers, each a set of files:
 *
 *   store_keys.c  store_audit.c  store_release.c  store_distribution.c  store_flags.c
 *        the domains: their SQL, how a record's fields are bound and read
 *                             |
 *   store.c  (sg_store: the two connections, migrations, group commit)
 *   store_stmt.c  (the one statement helper: sgs_open, bind, run/one/list/each)
 *                             |
 *   sgs_driver: one backend, a table of functions (a connection, prepare,
 *               bind, step, column, the migrations list)
 *   sqlite_driver.c + sqlite_schema.c  (today the only one)
 *
 * The seam is sgs_driver, a statement interface rather than a table of
 * domain operations: the domain files hold the SQL once and do not know
 * which database runs it, and a backend is a small amount of code with no
 * knowledge of keys or audit records. Adding PostgreSQL (issue 16) is adding
 * files, not branches: pg_driver.c (libpq: a PGconn per sgs_db, prepared
 * statements with their parameters typed as bound, `?`/`?N` rewritten to
 * `$N` at prepare time, last_id from `SELECT lastval()`, SQLSTATE 23505 as
 * SGS_UNIQUE, and a begin_write that is BEGIN plus a transaction-scoped
 * advisory lock, so that the batch writer's "read the chain head, append
 * after it" stays correct with several replicas, as BEGIN IMMEDIATE makes
 * it for several processes on SQLite) and pg_schema.c (its own ordered
 * migrations: BIGINT identity for INTEGER PRIMARY KEY, BYTEA for BLOB,
 * PL/pgSQL triggers for release_version), and one line in sgs_driver_for()
 * choosing it by the `postgresql://` prefix.
 *
 * What this asks of the domain files: SQL in the common subset of SQLite and
 * PostgreSQL (placeholders `?` or `?N`, no SQLite-only functions, no boolean
 * arithmetic), and the schema only in a driver's migrations. Should a
 * domain's algorithm have to differ per backend (issue 16's audit queue
 * table with one sequencer is faster than one advisory lock), that one
 * operation becomes a hook in sgs_driver, with today's code as SQLite's.
 *
 * Connections and locks (the truth behind store.h's "Threads"): an sg_store
 * has a writer connection and a reader connection, each behind its own
 * mutex, and a group-commit queue for audit appends behind a third. A
 * function takes the mutex of the one connection it uses for its whole
 * duration (sgs_open ... the finishing call), so one sg_store serves every
 * thread. ":memory:" has one connection for both roles (reader == &writer).
 */
#ifndef SG_STORE_INT_H
#define SG_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"
#include "store/store_audit.h"

/* ---- the backend interface ------------------------------------------------ */

typedef struct sgs_db sgs_db;     /* one connection of a backend */
typedef struct sgs_stmt sgs_stmt; /* one prepared statement of a backend */

/* What a step did. A constraint failure is told apart so that a domain can
 * word it ("a licensee named 'x' exists already"). */
typedef enum { SGS_ROW, SGS_DONE, SGS_UNIQUE, SGS_CONSTRAINT, SGS_ERROR } sgs_step;

typedef struct {
    const char *name;
    /* The schema: version N is migrations[N-1], each one script; the list
     * ends with NULL. Append, never edit one that has shipped. The
     * schema_version table (version, applied_ms) is created by its own
     * statement, run before the list. */
    const char *const *migrations;
    const char *schema_version_table;
    /* Whether `target` can have only one connection (SQLite ":memory:"). */
    bool (*single_connection)(const char *target);
    /* Opens a connection. `walk`: a plain extra connection for a long read
     * (the audit walk), without creating or configuring the database. */
    sg_error *(*open)(const char *target, bool walk, sgs_db **out);
    void (*close)(sgs_db *db);
    /* Runs a script that returns no rows (migrations, COMMIT, ROLLBACK). */
    sg_error *(*exec)(sgs_db *db, const char *sql, const char *what);
    /* Starts a write transaction that excludes every other writer at once. */
    sg_error *(*begin_write)(sgs_db *db, const char *what);
    sg_error *(*prepare)(sgs_db *db, const char *sql, sgs_stmt **out);
    void (*finalize)(sgs_stmt *st);
    void (*reset)(sgs_stmt *st); /* ready to run again, bindings cleared */
    /* Parameters are numbered from 1; text and blob are copied. */
    void (*bind_int)(sgs_stmt *st, int i, int64_t v);
    void (*bind_real)(sgs_stmt *st, int i, double v);
    void (*bind_text)(sgs_stmt *st, int i, const char *t); /* NULL binds SQL NULL */
    void (*bind_blob)(sgs_stmt *st, int i, const void *p, size_t n);
    sgs_step (*step)(sgs_stmt *st);
    /* Columns are numbered from 0; valid until the next step or reset. */
    int64_t (*col_int)(sgs_stmt *st, int i);
    double (*col_real)(sgs_stmt *st, int i);
    const char *(*col_text)(sgs_stmt *st, int i); /* NULL for SQL NULL */
    const void *(*col_blob)(sgs_stmt *st, int i, size_t *n);
    int64_t (*changes)(sgs_db *db);    /* rows changed by the last statement */
    int64_t (*last_id)(sgs_db *db);    /* id given by the last INSERT */
    const char *(*errmsg)(sgs_db *db); /* the last error, for messages */
} sgs_driver;

extern const sgs_driver sgs_sqlite;               /* sqlite_driver.c */
extern const char *const sgs_sqlite_migrations[]; /* sqlite_schema.c */

/* The backend for a --db target. */
const sgs_driver *sgs_driver_for(const char *target);

/* ---- connections ------------------------------------------------------------ */

/* One statement of a domain: its SQL and what it does, for error messages
 * ("looking up key: ..."). Defined `static const` in the domain's file;
 * each connection prepares it once, on first use, and keeps it. */
typedef struct {
    const char *sql;
    const char *what;
} sgs_query;

typedef struct {
    const sgs_query *query;
    sgs_stmt *st;
} sgs_cached;

typedef struct {
    const sgs_driver *drv;
    sgs_db *db;
    pthread_mutex_t lock;
    sgs_cached *cache;
    size_t n_cache, cap_cache;
} sgs_conn;

/* Group commit: one waiting audit append (see store.c). */
typedef struct sgs_pending {
    sg_audit_record *row;
    bool usage;
    sg_audit_seal_fn seal;
    void *ctx;
    sg_error *err;
    bool done;
    struct sgs_pending *next;
} sgs_pending;

struct sg_store {
    const sgs_driver *drv;
    char *target;
    sgs_conn writer, rd;
    sgs_conn *reader; /* &rd, or &writer for a single-connection target */
    pthread_mutex_t gc_lock;
    pthread_cond_t gc_cond;
    sgs_pending *gc_queue, **gc_tail;
    bool gc_flushing;
    int version;
};

sg_error *sgs_conn_open(sgs_conn *c, const sgs_driver *drv, const char *target, bool walk) SG_MUST_CHECK;
void sgs_conn_close(sgs_conn *c); /* finalizes the cached statements; no-op when never opened */
void sgs_conn_lock(sgs_conn *c);
void sgs_conn_unlock(sgs_conn *c);

/* Transactions, with the connection's lock held by the caller. */
sg_error *sgs_begin(sgs_conn *c, const char *what) SG_MUST_CHECK;
sg_error *sgs_commit(sgs_conn *c, const char *what) SG_MUST_CHECK;
void sgs_rollback(sgs_conn *c);

/* Puts `me` in the group-commit queue and returns when its record is
 * committed (or failed): store.c. The leader writes each batch through
 * sgs_audit_write_batch (store_audit.c) on the writer, lock held. */
sg_error *sgs_group_commit(sg_store *s, sgs_pending *me) SG_MUST_CHECK;
sg_error *sgs_audit_write_batch(sgs_conn *c, sgs_pending *first, size_t n) SG_MUST_CHECK;
/* Adds one request's usage (store_keys.c); the caller holds c's lock. */
sg_error *sgs_usage_add_in(sgs_conn *c, int64_t key_id, int64_t time_ms, int64_t prompt,
                           int64_t completion) SG_MUST_CHECK;

/* ---- the statement helper: the one way the domain files run SQL ------------
 *
 *   sgs_q q;
 *   sg_error *err = sgs_open(&q, s->reader, &KEY_GET);   (locks, prepares once)
 *   if (err) return err;
 *   sgs_int(&q, id);                                    (binds ?1, ?2... in order)
 *   return sgs_one(&q, read_key, out, found);           (steps, reads, unlocks)
 *
 * Every finishing call (sgs_run, sgs_one, sgs_list, sgs_each) resets the
 * statement and releases the lock that sgs_open took, success or not. */

typedef struct {
    sgs_conn *c;
    sgs_stmt *st;
    const sgs_query *query;
    int arg;     /* the last parameter bound */
    bool locked; /* sgs_open took the lock (sgs_open_in did not) */
} sgs_q;

sg_error *sgs_open(sgs_q *q, sgs_conn *c, const sgs_query *query) SG_MUST_CHECK;
/* The same inside a transaction: the caller holds c's lock. */
sg_error *sgs_open_in(sgs_q *q, sgs_conn *c, const sgs_query *query) SG_MUST_CHECK;

void sgs_int(sgs_q *q, int64_t v);
void sgs_real(sgs_q *q, double v);
void sgs_text(sgs_q *q, const char *t); /* NULL binds SQL NULL */
void sgs_str(sgs_q *q, const char *t);  /* NULL binds "" */
void sgs_blob(sgs_q *q, const void *p, size_t n);

/* Reading the current row. */
int64_t sgs_col_int(const sgs_q *q, int i);
double sgs_col_real(const sgs_q *q, int i);
void sgs_col_text(const sgs_q *q, int i, char *dst, size_t cap); /* truncated; "" for NULL */
char *sgs_col_dup(const sgs_q *q, int i);                        /* malloc'd; NULL for NULL */
void sgs_col_blob(const sgs_q *q, int i, void *dst, size_t cap); /* zero-padded, truncated */
const void *sgs_col_bytes(const sgs_q *q, int i, size_t *n);

typedef struct {
    int64_t changes; /* rows changed */
    int64_t id;      /* id given by an INSERT */
    sgs_step step;   /* SGS_UNIQUE / SGS_CONSTRAINT when the error is a constraint */
} sgs_result;

/* A statement run for its effect (a row it returns is ignored). */
sg_error *sgs_run(sgs_q *q, sgs_result *res) SG_MUST_CHECK;
/* The first row, read by `rd` into `rec`; *found false when there is none
 * (`rec` untouched). `found` may be NULL when a row always comes. */
typedef void (*sgs_read_fn)(const sgs_q *q, void *rec);
sg_error *sgs_one(sgs_q *q, sgs_read_fn rd, void *rec, bool *found) SG_MUST_CHECK;
/* Every row into a malloc'd array of `size`-byte records (zeroed before `rd`). */
sg_error *sgs_list(sgs_q *q, sgs_read_fn rd, size_t size, void **out, size_t *n) SG_MUST_CHECK;
/* Calls fn for each row; a non-zero return stops the walk. */
typedef int (*sgs_row_fn)(const sgs_q *q, void *ctx);
sg_error *sgs_each(sgs_q *q, sgs_row_fn fn, void *ctx) SG_MUST_CHECK;

#endif
