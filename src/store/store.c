/* store.c — SQLite implementation of the store interface (store.h): schema
 * migrations, keys, usage and audit rows. All of stagegate's SQL is here. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- migrations ----------------------------------------------------------
 * Ordered; version N is the N-th entry. Append new ones at the end; never
 * change one that has shipped. Each runs in its own transaction. */
static const char *const migrations[] = {
    /* 1: keys, usage, audit log */
    "CREATE TABLE keys ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  audience TEXT NOT NULL,"
    "  hint TEXT NOT NULL,"
    "  hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),"
    "  rpm INTEGER NOT NULL DEFAULT 0 CHECK (rpm >= 0),"
    "  tpm INTEGER NOT NULL DEFAULT 0 CHECK (tpm >= 0),"
    "  created_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL DEFAULT 0,"
    "  revoked_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE usage ("
    "  key_id INTEGER NOT NULL REFERENCES keys(id),"
    "  day TEXT NOT NULL,"
    "  requests INTEGER NOT NULL DEFAULT 0,"
    "  prompt_tokens INTEGER NOT NULL DEFAULT 0,"
    "  completion_tokens INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (key_id, day)) WITHOUT ROWID;"
    "CREATE TABLE audit ("
    "  seq INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  key_id INTEGER NOT NULL DEFAULT 0,"
    "  audience TEXT, model TEXT, stage TEXT,"
    "  decision TEXT NOT NULL, reason TEXT,"
    "  prompt_tokens INTEGER NOT NULL DEFAULT 0,"
    "  completion_tokens INTEGER NOT NULL DEFAULT 0,"
    "  latency_us INTEGER NOT NULL DEFAULT 0,"
    "  text_mode TEXT NOT NULL,"
    "  prompt_digest TEXT, completion_digest TEXT,"
    "  prompt_text TEXT, completion_text TEXT,"
    "  prev_hash BLOB NOT NULL,"
    "  hash BLOB NOT NULL);"
    "CREATE INDEX audit_time ON audit(time_ms);",
    /* 2: the staged release (src/release): stage moves, evidence, incidents.
     * release_version counts every change the server must apply (a stage
     * move, an incident opened or closed): it polls that one row. */
    "CREATE TABLE stage_moves ("
    "  id INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  from_stage TEXT NOT NULL, to_stage TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  actor TEXT NOT NULL, reason TEXT NOT NULL, evidence TEXT NOT NULL,"
    "  override INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE risk_assessments ("
    "  id INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  stage TEXT NOT NULL, status TEXT NOT NULL, author TEXT NOT NULL,"
    "  file TEXT NOT NULL, digest TEXT NOT NULL, body TEXT NOT NULL);"
    "CREATE TABLE mitigations ("
    "  id INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  item TEXT NOT NULL, status TEXT NOT NULL, actor TEXT NOT NULL, note TEXT NOT NULL);"
    "CREATE TABLE evaluations ("
    "  id INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  run_id INTEGER NOT NULL,"
    "  suite TEXT NOT NULL, model TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL,"
    "  dataset TEXT NOT NULL, code_version TEXT NOT NULL, source TEXT NOT NULL);"
    "CREATE INDEX evaluations_key ON evaluations(suite, model, metric, id);"
    "CREATE TABLE signoffs ("
    "  id INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  stage TEXT NOT NULL, reviewer TEXT NOT NULL, note TEXT NOT NULL);"
    "CREATE TABLE incidents ("
    "  id INTEGER PRIMARY KEY,"
    "  opened_ms INTEGER NOT NULL,"
    "  severity TEXT NOT NULL, reason TEXT NOT NULL,"
    "  suspend_audience TEXT NOT NULL DEFAULT '', suspend_model TEXT NOT NULL DEFAULT '',"
    "  rollback INTEGER NOT NULL DEFAULT 0,"
    "  opened_by TEXT NOT NULL,"
    "  closed_ms INTEGER NOT NULL DEFAULT 0, closed_by TEXT NOT NULL DEFAULT '', close_note TEXT NOT NULL "
    "DEFAULT '');"
    "CREATE TABLE release_version (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);"
    "INSERT INTO release_version VALUES (1, 0);"
    "CREATE TRIGGER stage_moves_bump AFTER INSERT ON stage_moves BEGIN "
    "  UPDATE release_version SET value = value + 1 WHERE id = 1; END;"
    "CREATE TRIGGER incidents_bump_insert AFTER INSERT ON incidents BEGIN "
    "  UPDATE release_version SET value = value + 1 WHERE id = 1; END;"
    "CREATE TRIGGER incidents_bump_update AFTER UPDATE ON incidents BEGIN "
    "  UPDATE release_version SET value = value + 1 WHERE id = 1; END;",
    /* 3: downloadable releases (src/distribution): licensees, the release
     * signing key (secret sealed under a key derived from DB.key), issued
     * bundles with what trace needs to recompute their fingerprints. */
    "CREATE TABLE licensees ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
    "  created_ms INTEGER NOT NULL,"
    "  revoked_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE release_keys ("
    "  id INTEGER PRIMARY KEY,"
    "  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
    "  sealed_secret BLOB NOT NULL,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE TABLE issues ("
    "  id INTEGER PRIMARY KEY,"
    "  licensee_id INTEGER NOT NULL REFERENCES licensees(id),"
    "  model TEXT NOT NULL, stage TEXT NOT NULL,"
    "  original_path TEXT NOT NULL, original_blake2b TEXT NOT NULL,"
    "  nonce BLOB NOT NULL CHECK (length(nonce) = 32),"
    "  epsilon REAL NOT NULL,"
    "  license_sha256 TEXT NOT NULL, bundle_sha256 TEXT NOT NULL,"
    "  issued_ms INTEGER NOT NULL);",
    /* 4: community flagging (src/server/guard): which key received which
     * completion (and its audit record), and the flags callers raise on them. */
    "CREATE TABLE completions ("
    "  id TEXT PRIMARY KEY,"
    "  key_id INTEGER NOT NULL,"
    "  audit_seq INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE TABLE flags ("
    "  id INTEGER PRIMARY KEY,"
    "  completion_id TEXT NOT NULL REFERENCES completions(id),"
    "  key_id INTEGER NOT NULL,"
    "  audit_seq INTEGER NOT NULL,"
    "  category TEXT NOT NULL,"
    "  comment TEXT NOT NULL DEFAULT '',"
    "  created_ms INTEGER NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'upheld', 'dismissed')),"
    "  resolved_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX flags_key ON flags (key_id, status);",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

/* ---- prepared statements, compiled once per connection --------------------- */
enum {
    Q_KEY_INSERT,
    Q_KEY_GET,
    Q_KEY_BY_HASH,
    Q_KEY_LIST,
    Q_KEY_REVOKE,
    Q_USAGE_ADD,
    Q_USAGE_TOTAL,
    Q_USAGE_DAYS,
    Q_AUDIT_LAST,
    Q_AUDIT_INSERT,
    Q_AUDIT_EACH,
    Q_AUDIT_COUNT,
    Q_AUDIT_PURGE,
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_COUNT_
};

#define KEY_COLUMNS "id, name, audience, hint, hash, rpm, tpm, created_ms, expires_ms, revoked_ms"
#define AUDIT_COLUMNS                                                                                        \
    "seq, time_ms, key_id, audience, model, stage, decision, reason, prompt_tokens, "                        \
    "completion_tokens, latency_us, text_mode, prompt_digest, completion_digest, prompt_text, "              \
    "completion_text, prev_hash, hash"

static const char *const query_sql[Q_COUNT_] = {
    [Q_KEY_INSERT] = "INSERT INTO keys (name, audience, hint, hash, rpm, tpm, created_ms, expires_ms, "
                     "revoked_ms) VALUES (?,?,?,?,?,?,?,?,?)",
    [Q_KEY_GET] = "SELECT " KEY_COLUMNS " FROM keys WHERE id = ?",
    [Q_KEY_BY_HASH] = "SELECT " KEY_COLUMNS " FROM keys WHERE hash = ?",
    [Q_KEY_LIST] = "SELECT " KEY_COLUMNS " FROM keys ORDER BY id",
    [Q_KEY_REVOKE] = "UPDATE keys SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0",
    [Q_USAGE_ADD] = "INSERT INTO usage (key_id, day, requests, prompt_tokens, completion_tokens) "
                    "VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT (key_id, day) DO UPDATE SET "
                    "requests = requests + 1, prompt_tokens = prompt_tokens + ?3, "
                    "completion_tokens = completion_tokens + ?4",
    [Q_USAGE_TOTAL] = "SELECT count(*), coalesce(sum(requests),0), coalesce(sum(prompt_tokens),0), "
                      "coalesce(sum(completion_tokens),0) FROM usage WHERE key_id = ?",
    [Q_USAGE_DAYS] = "SELECT day, requests, prompt_tokens, completion_tokens FROM usage "
                     "WHERE key_id = ? ORDER BY day DESC",
    [Q_AUDIT_LAST] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
    [Q_AUDIT_INSERT] = "INSERT INTO audit (" AUDIT_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [Q_AUDIT_EACH] = "SELECT " AUDIT_COLUMNS " FROM audit WHERE seq >= ? ORDER BY seq",
    [Q_AUDIT_COUNT] = "SELECT count(*), coalesce(max(seq), 0) FROM audit",
    [Q_AUDIT_PURGE] = "UPDATE audit SET prompt_text = NULL, completion_text = NULL WHERE time_ms < ? "
                      "AND (prompt_text IS NOT NULL OR completion_text IS NOT NULL)",
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
};

/* One SQLite connection, its statements and the mutex that serialises it. */
typedef struct {
    sqlite3 *db;
    pthread_mutex_t lock;
    sqlite3_stmt *stmts[Q_COUNT_];
} conn;

/* Two connections: writes go through `writer`; reads (key lookups on every
 * request, usage, the audit walk) through `reader`, so that authentication
 * never waits behind an audit commit's fsync (WAL lets one reader and one
 * writer run at once). ":memory:" has a single connection for both. */
struct sg_store {
    char *path;
    conn writer, rd;
    conn *reader; /* &rd, or &writer for ":memory:" */
    /* group commit of audit records (see sg_store_audit_append) */
    pthread_mutex_t gc_lock;
    pthread_cond_t gc_cond;
    struct pending *gc_queue, **gc_tail;
    bool gc_flushing;
    int version;
};

static sg_error *db_error(conn *c, const char *what) {
    return sg_error_new("%s: %s", what, sqlite3_errmsg(c->db));
}

/* The cached statement for `q`, reset and with bindings cleared. */
static sg_error *stmt(conn *c, int q, sqlite3_stmt **out) {
    *out = NULL;
    if (!c->stmts[q]) {
        if (sqlite3_prepare_v3(c->db, query_sql[q], -1, SQLITE_PREPARE_PERSISTENT, &c->stmts[q], NULL) !=
            SQLITE_OK)
            return db_error(c, "preparing statement");
    }
    sqlite3_reset(c->stmts[q]);
    sqlite3_clear_bindings(c->stmts[q]);
    *out = c->stmts[q];
    return NULL;
}

/* Runs a statement that returns no rows. */
static sg_error *run(conn *c, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st);
    sg_error *err = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? NULL : db_error(c, what);
    sqlite3_reset(st);
    return err;
}

static sg_error *run_q(conn *c, int q, const char *what) {
    sqlite3_stmt *st = NULL;
    sg_error *err = stmt(c, q, &st);
    return err ? err : run(c, st, what);
}

static sg_error *exec(conn *c, const char *sql, const char *what) {
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sg_error *err = sg_error_new("%s: %s", what, msg ? msg : sqlite3_errmsg(c->db));
        sqlite3_free(msg);
        return err;
    }
    return NULL;
}

static sg_error *read_version(conn *c, int *version) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &st, NULL) !=
        SQLITE_OK)
        return db_error(c, "reading schema version");
    sg_error *err = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    else
        err = db_error(c, "reading schema version");
    sqlite3_finalize(st);
    return err;
}

/* Applies pending migrations, each in an IMMEDIATE transaction that re-reads
 * the version, so two processes opening a new file at once do not race. */
static sg_error *migrate(sg_store *s) {
    conn *c = &s->writer;
    sg_error *err = exec(c,
                         "CREATE TABLE IF NOT EXISTS schema_version ("
                         "version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
                         "creating schema_version");
    if (err) return err;
    if ((err = read_version(c, &s->version))) return err;
    if (s->version > N_MIGRATIONS)
        return sg_error_new("database schema version %d is newer than this program (%d): upgrade stagegate",
                            s->version, N_MIGRATIONS);
    while (s->version < N_MIGRATIONS) {
        if ((err = exec(c, "BEGIN IMMEDIATE", "starting migration"))) return err;
        int v = 0;
        if ((err = read_version(c, &v))) goto fail;
        if (v < N_MIGRATIONS) {
            if ((err = exec(c, migrations[v], "applying migration"))) {
                err = sg_error_wrap(err, "schema migration %d", v + 1);
                goto fail;
            }
            char sql[128];
            snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES (%d, %lld)", v + 1,
                     (long long)time(NULL) * 1000);
            if ((err = exec(c, sql, "recording migration"))) goto fail;
            v++;
        }
        if ((err = exec(c, "COMMIT", "committing migration"))) goto fail;
        s->version = v;
    }
    return NULL;
fail:
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

/* Switches to WAL unless it is on already. The switch takes an exclusive lock
 * and SQLite reports SQLITE_BUSY for it without consulting the busy handler,
 * so retry while other processes hold the file (up to the busy timeout). */
static sg_error *enable_wal(conn *c) {
    for (int attempt = 0;; attempt++) {
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (rc == SQLITE_OK) rc = sqlite3_step(st);
        char mode[16] = "";
        if (rc == SQLITE_ROW) snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (!strcmp(mode, "wal") || !strcmp(mode, "memory")) return NULL; /* ":memory:" has no WAL */
        int code = sqlite3_errcode(c->db) & 0xff;
        bool busy = rc != SQLITE_ROW && (code == SQLITE_BUSY || code == SQLITE_LOCKED);
        if (!busy || attempt >= 1000)
            return sg_error_new("enabling WAL mode: %s", rc == SQLITE_ROW ? mode : sqlite3_errmsg(c->db));
        usleep(10000);
    }
}

static sg_error *conn_open(conn *c, const char *path) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK)
        return sg_error_new("%s", c->db ? sqlite3_errmsg(c->db) : "out of memory");
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, 10000);
    /* WAL: readers do not block the writer. synchronous=FULL: every commit is
     * fsynced before it returns (the audit log's durability promise). */
    sg_error *err = enable_wal(c);
    if (!err) err = exec(c, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", "configuring database");
    return err;
}

static void conn_close(conn *c) {
    for (int i = 0; i < Q_COUNT_; i++) sqlite3_finalize(c->stmts[i]);
    sqlite3_close(c->db);
}

sg_error *sg_store_open(const char *path, sg_store **out) {
    *out = NULL;
    sg_store *s = calloc(1, sizeof *s);
    if (!s) return sg_error_new("out of memory");
    pthread_mutex_init(&s->writer.lock, NULL);
    pthread_mutex_init(&s->rd.lock, NULL);
    pthread_mutex_init(&s->gc_lock, NULL);
    pthread_cond_init(&s->gc_cond, NULL);
    s->gc_tail = &s->gc_queue;
    bool memory = strcmp(path, ":memory:") == 0;
    s->reader = memory ? &s->writer : &s->rd;
    s->path = strdup(path);
    if (!s->path) {
        free(s);
        return sg_error_new("out of memory");
    }
    sg_error *err = NULL;
    /* A new database holds key hashes and possibly prompts: create it private
     * (SQLite gives its -wal and -shm files the same permissions). */
    if (!memory) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
        else if (errno != EEXIST) {
            err = sg_error_new("%s", strerror(errno));
            goto fail;
        }
    }
    if ((err = conn_open(&s->writer, path))) goto fail;
    if ((err = migrate(s))) goto fail;
    if (!memory && (err = conn_open(&s->rd, path))) goto fail;
    *out = s;
    return NULL;
fail:
    sg_store_close(s);
    return sg_error_wrap(err, "opening database %s", path);
}

void sg_store_close(sg_store *s) {
    if (!s) return;
    conn_close(&s->rd);
    conn_close(&s->writer);
    pthread_mutex_destroy(&s->writer.lock);
    pthread_mutex_destroy(&s->rd.lock);
    pthread_mutex_destroy(&s->gc_lock);
    pthread_cond_destroy(&s->gc_cond);
    free(s->path);
    free(s);
}

int sg_store_schema_version(sg_store *s) { return s->version; }
int sg_store_schema_latest(void) { return N_MIGRATIONS; }

/* ---- helpers ---------------------------------------------------------------- */

static void lock(conn *c) { pthread_mutex_lock(&c->lock); }
static void unlock(conn *c) { pthread_mutex_unlock(&c->lock); }

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col) {
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static char *dup_text(sqlite3_stmt *st, int col) {
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

static void copy_hash(unsigned char dst[SG_HASH_BYTES], sqlite3_stmt *st, int col) {
    memset(dst, 0, SG_HASH_BYTES);
    const void *b = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    if (b) memcpy(dst, b, n < SG_HASH_BYTES ? (size_t)n : SG_HASH_BYTES);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *t) {
    if (t)
        sqlite3_bind_text(st, i, t, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* ---- keys -------------------------------------------------------------------- */

static void read_key(sqlite3_stmt *st, sg_key_record *k) {
    memset(k, 0, sizeof *k);
    k->id = sqlite3_column_int64(st, 0);
    copy_text(k->name, sizeof k->name, st, 1);
    copy_text(k->audience, sizeof k->audience, st, 2);
    copy_text(k->hint, sizeof k->hint, st, 3);
    copy_hash(k->hash, st, 4);
    k->rpm = sqlite3_column_int64(st, 5);
    k->tpm = sqlite3_column_int64(st, 6);
    k->created_ms = sqlite3_column_int64(st, 7);
    k->expires_ms = sqlite3_column_int64(st, 8);
    k->revoked_ms = sqlite3_column_int64(st, 9);
}

sg_error *sg_store_key_insert(sg_store *s, const sg_key_record *k, int64_t *id) {
    conn *c = &s->writer;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = stmt(c, Q_KEY_INSERT, &st);
    if (!err) {
        sqlite3_bind_text(st, 1, k->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, k->audience, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, k->hint, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 4, k->hash, SG_HASH_BYTES, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, k->rpm);
        sqlite3_bind_int64(st, 6, k->tpm);
        sqlite3_bind_int64(st, 7, k->created_ms);
        sqlite3_bind_int64(st, 8, k->expires_ms);
        sqlite3_bind_int64(st, 9, k->revoked_ms);
        err = run(c, st, "inserting key");
        if (!err) *id = sqlite3_last_insert_rowid(c->db);
    }
    unlock(c);
    return err;
}

static sg_error *key_lookup(sg_store *s, int q, int64_t id, const unsigned char *hash, sg_key_record *out,
                            bool *found) {
    conn *c = s->reader;
    *found = false;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = stmt(c, q, &st);
    if (!err) {
        if (hash)
            sqlite3_bind_blob(st, 1, hash, SG_HASH_BYTES, SQLITE_STATIC);
        else
            sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            read_key(st, out);
            *found = true;
        } else if (rc != SQLITE_DONE) {
            err = db_error(c, "looking up key");
        }
        sqlite3_reset(st);
    }
    unlock(c);
    return err;
}

sg_error *sg_store_key_get(sg_store *s, int64_t id, sg_key_record *out, bool *found) {
    return key_lookup(s, Q_KEY_GET, id, NULL, out, found);
}

sg_error *sg_store_key_by_hash(sg_store *s, const unsigned char hash[SG_HASH_BYTES], sg_key_record *out,
                               bool *found) {
    return key_lookup(s, Q_KEY_BY_HASH, 0, hash, out, found);
}

sg_error *sg_store_key_list(sg_store *s, sg_key_record **out, size_t *n) {
    conn *c = s->reader;
    *out = NULL;
    *n = 0;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = stmt(c, Q_KEY_LIST, &st);
    size_t cap = 0;
    int rc = SQLITE_DONE;
    while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            sg_key_record *grown = realloc(*out, cap * sizeof **out);
            if (!grown) {
                err = sg_error_new("out of memory");
                break;
            }
            *out = grown;
        }
        read_key(st, &(*out)[(*n)++]);
    }
    if (!err && rc != SQLITE_DONE) err = db_error(c, "listing keys");
    if (st) sqlite3_reset(st);
    unlock(c);
    if (err) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return err;
}

sg_error *sg_store_key_revoke(sg_store *s, int64_t id, int64_t now_ms, bool *changed) {
    conn *c = &s->writer;
    *changed = false;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = stmt(c, Q_KEY_REVOKE, &st);
    if (!err) {
        sqlite3_bind_int64(st, 1, now_ms > 0 ? now_ms : 1);
        sqlite3_bind_int64(st, 2, id);
        err = run(c, st, "revoking key");
        if (!err) *changed = sqlite3_changes(c->db) > 0;
    }
    unlock(c);
    return err;
}

/* ---- usage ------------------------------------------------------------------- */

static void utc_day(int64_t time_ms, char day[11]) {
    time_t t = (time_t)(time_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, 11, "%Y-%m-%d", &tm);
}

/* Caller holds the lock. */
static sg_error *usage_add_locked(conn *c, int64_t key_id, int64_t time_ms, int64_t prompt,
                                  int64_t completion) {
    char day[11];
    utc_day(time_ms, day);
    sqlite3_stmt *st = NULL;
    sg_error *err = stmt(c, Q_USAGE_ADD, &st);
    if (err) return err;
    sqlite3_bind_int64(st, 1, key_id);
    sqlite3_bind_text(st, 2, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, prompt);
    sqlite3_bind_int64(st, 4, completion);
    return run(c, st, "recording usage");
}

sg_error *sg_store_usage_add(sg_store *s, int64_t key_id, int64_t time_ms, int64_t prompt,
                             int64_t completion) {
    conn *c = &s->writer;
    lock(c);
    sg_error *err = usage_add_locked(c, key_id, time_ms, prompt, completion);
    unlock(c);
    return err;
}

sg_error *sg_store_usage_get(sg_store *s, int64_t key_id, sg_usage *total, sg_usage **days, size_t *n_days) {
    conn *c = s->reader;
    memset(total, 0, sizeof *total);
    if (days) *days = NULL;
    if (n_days) *n_days = 0;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = stmt(c, Q_USAGE_TOTAL, &st);
    int64_t rows = 0;
    if (!err) {
        sqlite3_bind_int64(st, 1, key_id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            rows = sqlite3_column_int64(st, 0);
            total->requests = sqlite3_column_int64(st, 1);
            total->prompt_tokens = sqlite3_column_int64(st, 2);
            total->completion_tokens = sqlite3_column_int64(st, 3);
        } else {
            err = db_error(c, "reading usage");
        }
        sqlite3_reset(st);
    }
    if (!err && days && rows > 0) err = stmt(c, Q_USAGE_DAYS, &st);
    if (!err && days && rows > 0) {
        sqlite3_bind_int64(st, 1, key_id);
        *days = calloc((size_t)rows, sizeof **days);
        if (!*days) err = sg_error_new("out of memory");
        while (!err && *n_days < (size_t)rows && sqlite3_step(st) == SQLITE_ROW) {
            sg_usage *u = &(*days)[(*n_days)++];
            copy_text(u->day, sizeof u->day, st, 0);
            u->requests = sqlite3_column_int64(st, 1);
            u->prompt_tokens = sqlite3_column_int64(st, 2);
            u->completion_tokens = sqlite3_column_int64(st, 3);
        }
        sqlite3_reset(st);
    }
    unlock(c);
    return err;
}

/* ---- audit ------------------------------------------------------------------- */

void sg_audit_row_clear(sg_audit_row *r) {
    free(r->audience);
    free(r->model);
    free(r->stage);
    free(r->decision);
    free(r->reason);
    free(r->text_mode);
    free(r->prompt_digest);
    free(r->completion_digest);
    free(r->prompt_text);
    free(r->completion_text);
    r->audience = r->model = r->stage = r->decision = r->reason = r->text_mode = NULL;
    r->prompt_digest = r->completion_digest = r->prompt_text = r->completion_text = NULL;
}

/* Group commit. An append joins a queue; the first appender finding no flush
 * under way becomes the leader, takes the whole queue and writes it in one
 * transaction (one fsync), then wakes the others. Under concurrency many
 * records share an fsync; alone, an append is a plain transaction. Each
 * caller still returns only after its own record is committed. */
typedef struct pending {
    sg_audit_row *row;
    bool usage;
    sg_audit_seal_fn seal;
    void *ctx;
    sg_error *err;
    bool done;
    struct pending *next;
} pending;

static sg_error *insert_audit_locked(conn *c, const sg_audit_row *row) {
    sqlite3_stmt *st = NULL;
    sg_error *err = stmt(c, Q_AUDIT_INSERT, &st);
    if (err) return err;
    sqlite3_bind_int64(st, 1, row->seq);
    sqlite3_bind_int64(st, 2, row->time_ms);
    sqlite3_bind_int64(st, 3, row->key_id);
    bind_text_or_null(st, 4, row->audience);
    bind_text_or_null(st, 5, row->model);
    bind_text_or_null(st, 6, row->stage);
    bind_text_or_null(st, 7, row->decision ? row->decision : "");
    bind_text_or_null(st, 8, row->reason);
    sqlite3_bind_int64(st, 9, row->prompt_tokens);
    sqlite3_bind_int64(st, 10, row->completion_tokens);
    sqlite3_bind_int64(st, 11, row->latency_us);
    bind_text_or_null(st, 12, row->text_mode ? row->text_mode : "none");
    bind_text_or_null(st, 13, row->prompt_digest);
    bind_text_or_null(st, 14, row->completion_digest);
    bind_text_or_null(st, 15, row->prompt_text);
    bind_text_or_null(st, 16, row->completion_text);
    sqlite3_bind_blob(st, 17, row->prev_hash, SG_HASH_BYTES, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 18, row->hash, SG_HASH_BYTES, SQLITE_TRANSIENT);
    return run(c, st, "inserting audit record");
}

/* Writes `n` queued records starting at `first` in one transaction, chaining
 * each to the one before. Caller holds the store lock. */
static sg_error *write_batch_locked(conn *c, pending *first, size_t n) {
    sg_error *err = run_q(c, Q_BEGIN, "starting audit transaction");
    if (err) return err;
    sqlite3_stmt *st = NULL;
    unsigned char last_hash[SG_HASH_BYTES] = {0};
    int64_t last_seq = 0;
    if ((err = stmt(c, Q_AUDIT_LAST, &st))) goto rollback;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        last_seq = sqlite3_column_int64(st, 0);
        copy_hash(last_hash, st, 1);
    } else if (rc != SQLITE_DONE) {
        err = db_error(c, "reading the audit head");
    }
    sqlite3_reset(st);
    if (err) goto rollback;
    pending *p = first;
    for (size_t i = 0; i < n; i++, p = p->next) {
        sg_audit_row *row = p->row;
        row->seq = ++last_seq;
        p->seal(row, last_hash, p->ctx);
        if ((err = insert_audit_locked(c, row))) goto rollback;
        if (p->usage && row->key_id > 0 &&
            (err =
                 usage_add_locked(c, row->key_id, row->time_ms, row->prompt_tokens, row->completion_tokens)))
            goto rollback;
        memcpy(last_hash, row->hash, SG_HASH_BYTES);
    }
    if ((err = run_q(c, Q_COMMIT, "committing audit records"))) goto rollback;
    return NULL;
rollback:
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

/* The leader's work: the batch together, or each record alone when the
 * batch fails (so that one bad record does not fail its neighbours). */
static void flush_batch(sg_store *s, pending *batch) {
    conn *c = &s->writer;
    size_t n = 0;
    for (pending *p = batch; p; p = p->next) n++;
    lock(c);
    sg_error *err = write_batch_locked(c, batch, n);
    if (err && n > 1) {
        sg_error_free(err);
        for (pending *p = batch; p; p = p->next) p->err = write_batch_locked(c, p, 1);
    } else {
        batch->err = err;
    }
    unlock(c);
}

sg_error *sg_store_audit_append(sg_store *s, sg_audit_row *row, bool usage, sg_audit_seal_fn seal,
                                void *ctx) {
    pending me = {.row = row, .usage = usage, .seal = seal, .ctx = ctx};
    pthread_mutex_lock(&s->gc_lock);
    *s->gc_tail = &me;
    s->gc_tail = &me.next;
    while (!me.done) {
        if (s->gc_flushing) {
            pthread_cond_wait(&s->gc_cond, &s->gc_lock);
            continue;
        }
        s->gc_flushing = true;
        pending *batch = s->gc_queue;
        s->gc_queue = NULL;
        s->gc_tail = &s->gc_queue;
        pthread_mutex_unlock(&s->gc_lock);
        flush_batch(s, batch);
        pthread_mutex_lock(&s->gc_lock);
        for (pending *p = batch, *next; p; p = next) {
            next = p->next; /* p belongs to a waiting thread: read before marking done */
            p->done = true;
        }
        s->gc_flushing = false;
        pthread_cond_broadcast(&s->gc_cond);
    }
    pthread_mutex_unlock(&s->gc_lock);
    return me.err;
}

static void read_audit(sqlite3_stmt *st, sg_audit_row *r) {
    memset(r, 0, sizeof *r);
    r->seq = sqlite3_column_int64(st, 0);
    r->time_ms = sqlite3_column_int64(st, 1);
    r->key_id = sqlite3_column_int64(st, 2);
    r->audience = dup_text(st, 3);
    r->model = dup_text(st, 4);
    r->stage = dup_text(st, 5);
    r->decision = dup_text(st, 6);
    r->reason = dup_text(st, 7);
    r->prompt_tokens = sqlite3_column_int64(st, 8);
    r->completion_tokens = sqlite3_column_int64(st, 9);
    r->latency_us = sqlite3_column_int64(st, 10);
    r->text_mode = dup_text(st, 11);
    r->prompt_digest = dup_text(st, 12);
    r->completion_digest = dup_text(st, 13);
    r->prompt_text = dup_text(st, 14);
    r->completion_text = dup_text(st, 15);
    copy_hash(r->prev_hash, st, 16);
    copy_hash(r->hash, st, 17);
}

sg_error *sg_store_audit_each(sg_store *s, int64_t from_seq, sg_audit_row_fn fn, void *ctx) {
    /* A file database gets a connection of its own for the walk, so that a
     * long verify holds no lock the request path needs. */
    conn own = {0}, *c = s->reader;
    sg_error *err = NULL;
    bool private_conn = s->reader != &s->writer;
    if (private_conn) {
        c = &own;
        if (sqlite3_open_v2(s->path, &own.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK) {
            err =
                sg_error_new("reading the audit log: %s", own.db ? sqlite3_errmsg(own.db) : "out of memory");
            sqlite3_close(own.db);
            return err;
        }
        sqlite3_busy_timeout(own.db, 10000);
    } else {
        lock(c);
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, query_sql[Q_AUDIT_EACH], -1, &st, NULL) != SQLITE_OK)
        err = db_error(c, "reading the audit log");
    int rc = SQLITE_DONE;
    if (!err) {
        sqlite3_bind_int64(st, 1, from_seq);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            sg_audit_row r;
            read_audit(st, &r);
            int stop = fn(&r, ctx);
            sg_audit_row_clear(&r);
            if (stop) {
                rc = SQLITE_DONE;
                break;
            }
        }
        if (rc != SQLITE_DONE) err = db_error(c, "reading the audit log");
    }
    sqlite3_finalize(st);
    if (private_conn)
        sqlite3_close(own.db);
    else
        unlock(c);
    return err;
}

sg_error *sg_store_audit_count(sg_store *s, int64_t *count, int64_t *last_seq) {
    conn *c = s->reader;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = stmt(c, Q_AUDIT_COUNT, &st);
    if (!err) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            *count = sqlite3_column_int64(st, 0);
            *last_seq = sqlite3_column_int64(st, 1);
        } else {
            err = db_error(c, "counting audit records");
        }
        sqlite3_reset(st);
    }
    unlock(c);
    return err;
}

sg_error *sg_store_audit_purge_text(sg_store *s, int64_t before_ms, int64_t *purged) {
    conn *c = &s->writer;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = stmt(c, Q_AUDIT_PURGE, &st);
    if (!err) {
        sqlite3_bind_int64(st, 1, before_ms);
        err = run(c, st, "purging audit texts");
        if (!err && purged) *purged = sqlite3_changes(c->db);
    }
    unlock(c);
    return err;
}

/* ---- the staged release -------------------------------------------------------
 * Rare writes and small reads: statements are prepared per call. */

static void bind_s(sqlite3_stmt *st, int i, const char *t) {
    sqlite3_bind_text(st, i, t ? t : "", -1, SQLITE_TRANSIENT);
}

typedef void (*bind_fn)(sqlite3_stmt *st, const void *rec, const void *extra);

/* Runs one INSERT/UPDATE on the writer; *id gets the new rowid, *changes the
 * number of rows changed (both may be NULL). */
static sg_error *rel_write(sg_store *s, const char *sql, bind_fn bind, const void *rec, const void *extra,
                           int64_t *id, int *changes, const char *what) {
    conn *c = &s->writer;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        err = db_error(c, what);
    } else {
        bind(st, rec, extra);
        if (sqlite3_step(st) != SQLITE_DONE) err = db_error(c, what);
        if (!err && id) *id = sqlite3_last_insert_rowid(c->db);
        if (!err && changes) *changes = sqlite3_changes(c->db);
    }
    sqlite3_finalize(st);
    unlock(c);
    return err;
}

typedef void (*read_fn)(sqlite3_stmt *st, void *rec);

/* Runs a SELECT on the reader, one `size`-byte record per row into a growing
 * array. `bind` may be NULL. */
static sg_error *rel_read(sg_store *s, const char *sql, bind_fn bind, const void *a, const void *b,
                          read_fn rd, size_t size, void **out, size_t *n, const char *what) {
    conn *c = s->reader;
    *out = NULL;
    *n = 0;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = NULL;
    size_t cap = 0;
    char *arr = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        err = db_error(c, what);
        goto done;
    }
    if (bind) bind(st, a, b);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            char *grown = realloc(arr, cap * size);
            if (!grown) {
                err = sg_error_new("out of memory");
                goto done;
            }
            arr = grown;
        }
        memset(arr + *n * size, 0, size);
        rd(st, arr + *n * size);
        (*n)++;
    }
    if (rc != SQLITE_DONE) err = db_error(c, what);
done:
    sqlite3_finalize(st);
    unlock(c);
    if (err) {
        free(arr);
        *n = 0;
    } else {
        *out = arr;
    }
    return err;
}

static void bind_since(sqlite3_stmt *st, const void *a, const void *b) {
    (void)b;
    sqlite3_bind_int64(st, 1, *(const int64_t *)a);
}

/* stage moves */
static void bind_move(sqlite3_stmt *st, const void *rec, const void *extra) {
    const sg_stage_move *m = rec;
    (void)extra;
    sqlite3_bind_int64(st, 1, m->time_ms);
    bind_s(st, 2, m->from_stage);
    bind_s(st, 3, m->to_stage);
    bind_s(st, 4, m->kind);
    bind_s(st, 5, m->actor);
    bind_s(st, 6, m->reason);
    bind_s(st, 7, m->evidence);
    sqlite3_bind_int(st, 8, m->override);
}
static void read_move(sqlite3_stmt *st, void *rec) {
    sg_stage_move *m = rec;
    m->id = sqlite3_column_int64(st, 0);
    m->time_ms = sqlite3_column_int64(st, 1);
    copy_text(m->from_stage, sizeof m->from_stage, st, 2);
    copy_text(m->to_stage, sizeof m->to_stage, st, 3);
    copy_text(m->kind, sizeof m->kind, st, 4);
    copy_text(m->actor, sizeof m->actor, st, 5);
    copy_text(m->reason, sizeof m->reason, st, 6);
    copy_text(m->evidence, sizeof m->evidence, st, 7);
    m->override = sqlite3_column_int(st, 8);
}
sg_error *sg_store_stage_move_add(sg_store *s, const sg_stage_move *m, int64_t *id) {
    return rel_write(s,
                     "INSERT INTO stage_moves (time_ms, from_stage, to_stage, kind, actor, reason, evidence, "
                     "override) VALUES (?,?,?,?,?,?,?,?)",
                     bind_move, m, NULL, id, NULL, "recording stage move");
}
sg_error *sg_store_stage_moves(sg_store *s, int64_t since_ms, sg_stage_move **out, size_t *n) {
    return rel_read(s,
                    "SELECT id, time_ms, from_stage, to_stage, kind, actor, reason, evidence, override "
                    "FROM stage_moves WHERE time_ms >= ? ORDER BY id",
                    bind_since, &since_ms, NULL, read_move, sizeof **out, (void **)out, n,
                    "reading stage moves");
}

/* risk assessments */
static void bind_risk(sqlite3_stmt *st, const void *rec, const void *extra) {
    const sg_risk_record *r = rec;
    sqlite3_bind_int64(st, 1, r->time_ms);
    bind_s(st, 2, r->stage);
    bind_s(st, 3, r->status);
    bind_s(st, 4, r->author);
    bind_s(st, 5, r->file);
    bind_s(st, 6, r->digest);
    bind_s(st, 7, extra);
}
static void read_risk(sqlite3_stmt *st, void *rec) {
    sg_risk_record *r = rec;
    r->id = sqlite3_column_int64(st, 0);
    r->time_ms = sqlite3_column_int64(st, 1);
    copy_text(r->stage, sizeof r->stage, st, 2);
    copy_text(r->status, sizeof r->status, st, 3);
    copy_text(r->author, sizeof r->author, st, 4);
    copy_text(r->file, sizeof r->file, st, 5);
    copy_text(r->digest, sizeof r->digest, st, 6);
}
sg_error *sg_store_risk_add(sg_store *s, const sg_risk_record *r, const char *body, int64_t *id) {
    return rel_write(s,
                     "INSERT INTO risk_assessments (time_ms, stage, status, author, file, digest, body) "
                     "VALUES (?,?,?,?,?,?,?)",
                     bind_risk, r, body, id, NULL, "recording risk assessment");
}
sg_error *sg_store_risks(sg_store *s, sg_risk_record **out, size_t *n) {
    return rel_read(
        s, "SELECT id, time_ms, stage, status, author, file, digest FROM risk_assessments ORDER BY id", NULL,
        NULL, NULL, read_risk, sizeof **out, (void **)out, n, "reading risk assessments");
}

/* mitigations */
static void bind_mitigation(sqlite3_stmt *st, const void *rec, const void *extra) {
    const sg_mitigation_record *m = rec;
    (void)extra;
    sqlite3_bind_int64(st, 1, m->time_ms);
    bind_s(st, 2, m->item);
    bind_s(st, 3, m->status);
    bind_s(st, 4, m->actor);
    bind_s(st, 5, m->note);
}
static void read_mitigation(sqlite3_stmt *st, void *rec) {
    sg_mitigation_record *m = rec;
    m->id = sqlite3_column_int64(st, 0);
    m->time_ms = sqlite3_column_int64(st, 1);
    copy_text(m->item, sizeof m->item, st, 2);
    copy_text(m->status, sizeof m->status, st, 3);
    copy_text(m->actor, sizeof m->actor, st, 4);
    copy_text(m->note, sizeof m->note, st, 5);
}
sg_error *sg_store_mitigation_add(sg_store *s, const sg_mitigation_record *m, int64_t *id) {
    return rel_write(s, "INSERT INTO mitigations (time_ms, item, status, actor, note) VALUES (?,?,?,?,?)",
                     bind_mitigation, m, NULL, id, NULL, "recording mitigation status");
}
sg_error *sg_store_mitigations(sg_store *s, sg_mitigation_record **out, size_t *n) {
    return rel_read(s, "SELECT id, time_ms, item, status, actor, note FROM mitigations ORDER BY id", NULL,
                    NULL, NULL, read_mitigation, sizeof **out, (void **)out, n, "reading mitigations");
}

/* sign-offs */
static void bind_signoff(sqlite3_stmt *st, const void *rec, const void *extra) {
    const sg_signoff_record *r = rec;
    (void)extra;
    sqlite3_bind_int64(st, 1, r->time_ms);
    bind_s(st, 2, r->stage);
    bind_s(st, 3, r->reviewer);
    bind_s(st, 4, r->note);
}
static void read_signoff(sqlite3_stmt *st, void *rec) {
    sg_signoff_record *r = rec;
    r->id = sqlite3_column_int64(st, 0);
    r->time_ms = sqlite3_column_int64(st, 1);
    copy_text(r->stage, sizeof r->stage, st, 2);
    copy_text(r->reviewer, sizeof r->reviewer, st, 3);
    copy_text(r->note, sizeof r->note, st, 4);
}
sg_error *sg_store_signoff_add(sg_store *s, const sg_signoff_record *r, int64_t *id) {
    return rel_write(s, "INSERT INTO signoffs (time_ms, stage, reviewer, note) VALUES (?,?,?,?)",
                     bind_signoff, r, NULL, id, NULL, "recording sign-off");
}
sg_error *sg_store_signoffs(sg_store *s, sg_signoff_record **out, size_t *n) {
    return rel_read(s, "SELECT id, time_ms, stage, reviewer, note FROM signoffs ORDER BY id", NULL, NULL,
                    NULL, read_signoff, sizeof **out, (void **)out, n, "reading sign-offs");
}

/* incidents */
#define INCIDENT_COLUMNS                                                                                     \
    "id, opened_ms, severity, reason, suspend_audience, suspend_model, rollback, opened_by, closed_ms, "     \
    "closed_by, close_note"
static void bind_incident(sqlite3_stmt *st, const void *rec, const void *extra) {
    const sg_incident_record *r = rec;
    (void)extra;
    sqlite3_bind_int64(st, 1, r->opened_ms);
    bind_s(st, 2, r->severity);
    bind_s(st, 3, r->reason);
    bind_s(st, 4, r->suspend_audience);
    bind_s(st, 5, r->suspend_model);
    sqlite3_bind_int(st, 6, r->rollback);
    bind_s(st, 7, r->opened_by);
}
static void read_incident(sqlite3_stmt *st, void *rec) {
    sg_incident_record *r = rec;
    r->id = sqlite3_column_int64(st, 0);
    r->opened_ms = sqlite3_column_int64(st, 1);
    copy_text(r->severity, sizeof r->severity, st, 2);
    copy_text(r->reason, sizeof r->reason, st, 3);
    copy_text(r->suspend_audience, sizeof r->suspend_audience, st, 4);
    copy_text(r->suspend_model, sizeof r->suspend_model, st, 5);
    r->rollback = sqlite3_column_int(st, 6);
    copy_text(r->opened_by, sizeof r->opened_by, st, 7);
    r->closed_ms = sqlite3_column_int64(st, 8);
    copy_text(r->closed_by, sizeof r->closed_by, st, 9);
    copy_text(r->close_note, sizeof r->close_note, st, 10);
}
sg_error *sg_store_incident_add(sg_store *s, const sg_incident_record *r, int64_t *id) {
    return rel_write(s,
                     "INSERT INTO incidents (opened_ms, severity, reason, suspend_audience, suspend_model, "
                     "rollback, opened_by) VALUES (?,?,?,?,?,?,?)",
                     bind_incident, r, NULL, id, NULL, "recording incident");
}
typedef struct {
    int64_t id, now_ms;
    const char *by, *note;
} close_args;
static void bind_close(sqlite3_stmt *st, const void *rec, const void *extra) {
    const close_args *a = rec;
    (void)extra;
    sqlite3_bind_int64(st, 1, a->now_ms);
    bind_s(st, 2, a->by);
    bind_s(st, 3, a->note);
    sqlite3_bind_int64(st, 4, a->id);
}
sg_error *sg_store_incident_close(sg_store *s, int64_t id, int64_t now_ms, const char *by, const char *note,
                                  bool *changed) {
    close_args a = {id, now_ms > 0 ? now_ms : 1, by, note};
    int changes = 0;
    sg_error *err = rel_write(s,
                              "UPDATE incidents SET closed_ms = ?, closed_by = ?, close_note = ? "
                              "WHERE id = ? AND closed_ms = 0",
                              bind_close, &a, NULL, NULL, &changes, "closing incident");
    *changed = !err && changes > 0;
    return err;
}
sg_error *sg_store_incidents(sg_store *s, int64_t since_ms, sg_incident_record **out, size_t *n) {
    /* an incident still open, or closed after `since`, belongs to the period */
    return rel_read(s,
                    "SELECT " INCIDENT_COLUMNS " FROM incidents WHERE opened_ms >= ?1 OR closed_ms = 0 "
                    "OR closed_ms >= ?1 ORDER BY id",
                    bind_since, &since_ms, NULL, read_incident, sizeof **out, (void **)out, n,
                    "reading incidents");
}

/* evaluations */
static void bind_eval(sqlite3_stmt *st, const void *rec, const void *extra) {
    const sg_eval_record *r = rec;
    sqlite3_bind_int64(st, 1, r->time_ms);
    sqlite3_bind_int64(st, 2, *(const int64_t *)extra);
    bind_s(st, 3, r->suite);
    bind_s(st, 4, r->model);
    bind_s(st, 5, r->metric);
    sqlite3_bind_double(st, 6, r->value);
    bind_s(st, 7, r->dataset);
    bind_s(st, 8, r->code_version);
    bind_s(st, 9, r->source);
}
static void read_eval(sqlite3_stmt *st, void *rec) {
    sg_eval_record *r = rec;
    r->id = sqlite3_column_int64(st, 0);
    r->time_ms = sqlite3_column_int64(st, 1);
    r->run_id = sqlite3_column_int64(st, 2);
    copy_text(r->suite, sizeof r->suite, st, 3);
    copy_text(r->model, sizeof r->model, st, 4);
    copy_text(r->metric, sizeof r->metric, st, 5);
    r->value = sqlite3_column_double(st, 6);
    copy_text(r->dataset, sizeof r->dataset, st, 7);
    copy_text(r->code_version, sizeof r->code_version, st, 8);
    copy_text(r->source, sizeof r->source, st, 9);
}
#define EVAL_COLUMNS "id, time_ms, run_id, suite, model, metric, value, dataset, code_version, source"
sg_error *sg_store_eval_add(sg_store *s, sg_eval_record *recs, size_t n, int64_t *run_id) {
    conn *c = &s->writer;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = exec(c, "BEGIN IMMEDIATE", "storing evaluation");
    if (err) goto out;
    if (sqlite3_prepare_v2(c->db,
                           "INSERT INTO evaluations (time_ms, run_id, suite, model, metric, value, dataset, "
                           "code_version, source) VALUES (?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) {
        err = db_error(c, "storing evaluation");
        goto fail;
    }
    int64_t run = 0;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        bind_eval(st, &recs[i], &run);
        if (sqlite3_step(st) != SQLITE_DONE) {
            err = db_error(c, "storing evaluation");
            goto fail;
        }
        if (i == 0) {
            run = sqlite3_last_insert_rowid(c->db);
            char sql[96];
            snprintf(sql, sizeof sql, "UPDATE evaluations SET run_id = %lld WHERE id = %lld", (long long)run,
                     (long long)run);
            if ((err = exec(c, sql, "storing evaluation"))) goto fail;
        }
        recs[i].run_id = run;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((err = exec(c, "COMMIT", "storing evaluation"))) goto fail;
    if (run_id) *run_id = run;
    goto out;
fail:
    sqlite3_finalize(st);
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
out:
    unlock(c);
    return err;
}
static void bind_model(sqlite3_stmt *st, const void *a, const void *b) {
    (void)b;
    if (a) bind_s(st, 1, a);
}
sg_error *sg_store_evals(sg_store *s, const char *model, sg_eval_record **out, size_t *n) {
    return rel_read(s,
                    model ? "SELECT " EVAL_COLUMNS " FROM evaluations WHERE model = ? ORDER BY id"
                          : "SELECT " EVAL_COLUMNS " FROM evaluations ORDER BY id",
                    bind_model, model, NULL, read_eval, sizeof **out, (void **)out, n, "reading evaluations");
}
typedef struct {
    const char *suite, *model, *metric;
} eval_key;
static void bind_eval_key(sqlite3_stmt *st, const void *a, const void *b) {
    const eval_key *k = a;
    (void)b;
    bind_s(st, 1, k->suite);
    bind_s(st, 2, k->model);
    bind_s(st, 3, k->metric);
}
sg_error *sg_store_eval_latest(sg_store *s, const char *suite, const char *model, const char *metric,
                               sg_eval_record *out, bool *found) {
    eval_key k = {suite, model, metric};
    sg_eval_record *rows = NULL;
    size_t n = 0;
    sg_error *err =
        rel_read(s,
                 "SELECT " EVAL_COLUMNS " FROM evaluations WHERE suite = ? AND model = ? AND metric = ? "
                 "ORDER BY id DESC LIMIT 1",
                 bind_eval_key, &k, NULL, read_eval, sizeof *rows, (void **)&rows, &n, "reading evaluations");
    *found = !err && n > 0;
    if (*found) *out = rows[0];
    free(rows);
    return err;
}

static void read_version_row(sqlite3_stmt *st, void *rec) { *(int64_t *)rec = sqlite3_column_int64(st, 0); }
sg_error *sg_store_release_version(sg_store *s, int64_t *version) {
    int64_t *rows = NULL;
    size_t n = 0;
    sg_error *err = rel_read(s, "SELECT value FROM release_version WHERE id = 1", NULL, NULL, NULL,
                             read_version_row, sizeof *rows, (void **)&rows, &n, "reading release version");
    *version = (!err && n) ? rows[0] : 0;
    free(rows);
    return err;
}

/* ---- downloadable releases ----------------------------------------------------
 * Rare operations (a few per release): statements are prepared per call. */

static sg_error *prep(conn *c, const char *sql, sqlite3_stmt **st) {
    if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) != SQLITE_OK) return db_error(c, "preparing statement");
    return NULL;
}

static void copy_blob(unsigned char *dst, size_t cap, sqlite3_stmt *st, int col) {
    memset(dst, 0, cap);
    const void *b = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (b) memcpy(dst, b, n < cap ? n : cap);
}

sg_error *sg_store_licensee_insert(sg_store *s, const char *name,
                                   const unsigned char public_key[crypto_box_PUBLICKEYBYTES],
                                   int64_t created_ms, int64_t *id) {
    conn *c = &s->writer;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = prep(c, "INSERT INTO licensees (name, public_key, created_ms) VALUES (?,?,?)", &st);
    if (!err) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 2, public_key, crypto_box_PUBLICKEYBYTES, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, created_ms);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_CONSTRAINT_UNIQUE)
            err = sg_error_new("a licensee named '%s' exists already", name);
        else if (rc != SQLITE_DONE)
            err = db_error(c, "inserting licensee");
        else
            *id = sqlite3_last_insert_rowid(c->db);
    }
    sqlite3_finalize(st);
    unlock(c);
    return err;
}

static void read_licensee(sqlite3_stmt *st, sg_licensee_record *r) {
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    copy_text(r->name, sizeof r->name, st, 1);
    copy_blob(r->public_key, sizeof r->public_key, st, 2);
    r->created_ms = sqlite3_column_int64(st, 3);
    r->revoked_ms = sqlite3_column_int64(st, 4);
}

#define LICENSEE_COLUMNS "id, name, public_key, created_ms, revoked_ms"

sg_error *sg_store_licensee_get(sg_store *s, const char *name, int64_t id, sg_licensee_record *out,
                                bool *found) {
    conn *c = s->reader;
    *found = false;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = prep(c,
                         id ? "SELECT " LICENSEE_COLUMNS " FROM licensees WHERE id = ?"
                            : "SELECT " LICENSEE_COLUMNS " FROM licensees WHERE name = ?",
                         &st);
    if (!err) {
        if (id)
            sqlite3_bind_int64(st, 1, id);
        else
            sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            read_licensee(st, out);
            *found = true;
        } else if (rc != SQLITE_DONE) {
            err = db_error(c, "looking up licensee");
        }
    }
    sqlite3_finalize(st);
    unlock(c);
    return err;
}

/* Collects every row of `sql` through `read` into a growing array. */
static sg_error *list_rows(conn *c, const char *sql, size_t size, void (*read)(sqlite3_stmt *, void *),
                           void **out, size_t *n) {
    *out = NULL;
    *n = 0;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = prep(c, sql, &st);
    size_t cap = 0;
    int rc = SQLITE_DONE;
    while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            void *grown = realloc(*out, cap * size);
            if (!grown) {
                err = sg_error_new("out of memory");
                break;
            }
            *out = grown;
        }
        read(st, (char *)*out + size * (*n)++);
    }
    if (!err && rc != SQLITE_DONE) err = db_error(c, "listing rows");
    sqlite3_finalize(st);
    unlock(c);
    if (err) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return err;
}

static void read_licensee_v(sqlite3_stmt *st, void *r) { read_licensee(st, r); }

sg_error *sg_store_licensee_list(sg_store *s, sg_licensee_record **out, size_t *n) {
    return list_rows(s->reader, "SELECT " LICENSEE_COLUMNS " FROM licensees ORDER BY id", sizeof **out,
                     read_licensee_v, (void **)out, n);
}

sg_error *sg_store_licensee_revoke(sg_store *s, const char *name, int64_t now_ms, bool *changed) {
    conn *c = &s->writer;
    *changed = false;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = prep(c, "UPDATE licensees SET revoked_ms = ? WHERE name = ? AND revoked_ms = 0", &st);
    if (!err) {
        sqlite3_bind_int64(st, 1, now_ms > 0 ? now_ms : 1);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
        err = run(c, st, "revoking licensee");
        if (!err) *changed = sqlite3_changes(c->db) > 0;
    }
    sqlite3_finalize(st);
    unlock(c);
    return err;
}

sg_error *sg_store_release_key_insert(sg_store *s, const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                                      const unsigned char *sealed, size_t sealed_len, int64_t created_ms) {
    conn *c = &s->writer;
    lock(c);
    sqlite3_stmt *st = NULL;
    /* id fixed to 1: a second key is refused by the primary key */
    sg_error *err =
        prep(c, "INSERT INTO release_keys (id, public_key, sealed_secret, created_ms) VALUES (1,?,?,?)", &st);
    if (!err) {
        sqlite3_bind_blob(st, 1, public_key, 32, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 2, sealed, (int)sealed_len, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, created_ms);
        int rc = sqlite3_step(st);
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
            err = sg_error_new("this database has a release key already");
        else if (rc != SQLITE_DONE)
            err = db_error(c, "storing release key");
    }
    sqlite3_finalize(st);
    unlock(c);
    return err;
}

sg_error *sg_store_release_key_get(sg_store *s, unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                                   unsigned char **sealed, size_t *sealed_len, bool *found) {
    conn *c = s->reader;
    *found = false;
    *sealed = NULL;
    *sealed_len = 0;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err = prep(c, "SELECT public_key, sealed_secret FROM release_keys WHERE id = 1", &st);
    if (!err) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            copy_blob(public_key, 32, st, 0);
            size_t n = (size_t)sqlite3_column_bytes(st, 1);
            *sealed = malloc(n ? n : 1);
            if (!*sealed)
                err = sg_error_new("out of memory");
            else {
                if (n) memcpy(*sealed, sqlite3_column_blob(st, 1), n);
                *sealed_len = n;
                *found = true;
            }
        } else if (rc != SQLITE_DONE) {
            err = db_error(c, "reading release key");
        }
    }
    sqlite3_finalize(st);
    unlock(c);
    return err;
}

sg_error *sg_store_issue_insert(sg_store *s, const sg_issue_record *r, int64_t *id) {
    conn *c = &s->writer;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err =
        prep(c,
             "INSERT INTO issues (licensee_id, model, stage, original_path, original_blake2b, nonce, "
             "epsilon, license_sha256, bundle_sha256, issued_ms) VALUES (?,?,?,?,?,?,?,?,?,?)",
             &st);
    if (!err) {
        sqlite3_bind_int64(st, 1, r->licensee_id);
        sqlite3_bind_text(st, 2, r->model, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, r->stage, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, r->original_path, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, r->original_blake2b, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 6, r->nonce, sizeof r->nonce, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 7, r->epsilon);
        sqlite3_bind_text(st, 8, r->license_sha256, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 9, r->bundle_sha256, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 10, r->issued_ms);
        err = run(c, st, "recording issued bundle");
        if (!err && id) *id = sqlite3_last_insert_rowid(c->db);
    }
    sqlite3_finalize(st);
    unlock(c);
    return err;
}

static void read_issue(sqlite3_stmt *st, void *p) {
    sg_issue_record *r = p;
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->licensee_id = sqlite3_column_int64(st, 1);
    copy_text(r->licensee, sizeof r->licensee, st, 2);
    copy_text(r->model, sizeof r->model, st, 3);
    copy_text(r->stage, sizeof r->stage, st, 4);
    copy_text(r->original_path, sizeof r->original_path, st, 5);
    copy_text(r->original_blake2b, sizeof r->original_blake2b, st, 6);
    copy_blob(r->nonce, sizeof r->nonce, st, 7);
    r->epsilon = sqlite3_column_double(st, 8);
    copy_text(r->license_sha256, sizeof r->license_sha256, st, 9);
    copy_text(r->bundle_sha256, sizeof r->bundle_sha256, st, 10);
    r->issued_ms = sqlite3_column_int64(st, 11);
}

sg_error *sg_store_issue_list(sg_store *s, sg_issue_record **out, size_t *n) {
    return list_rows(
        s->reader,
        "SELECT i.id, i.licensee_id, l.name, i.model, i.stage, i.original_path, i.original_blake2b, "
        "i.nonce, i.epsilon, i.license_sha256, i.bundle_sha256, i.issued_ms FROM issues i "
        "JOIN licensees l ON l.id = i.licensee_id ORDER BY i.id",
        sizeof **out, read_issue, (void **)out, n);
}

/* ---- community flags (migration 4) ------------------------------------------ */

sg_error *sg_store_completion_add(sg_store *s, const char *id, int64_t key_id, int64_t audit_seq,
                                  int64_t created_ms) {
    conn *c = &s->writer;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err =
        prep(c, "INSERT INTO completions (id, key_id, audit_seq, created_ms) VALUES (?,?,?,?)", &st);
    if (!err) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, key_id);
        sqlite3_bind_int64(st, 3, audit_seq);
        sqlite3_bind_int64(st, 4, created_ms);
        err = run(c, st, "recording completion");
    }
    sqlite3_finalize(st);
    unlock(c);
    return err;
}

sg_error *sg_store_completion_get(sg_store *s, const char *id, int64_t *key_id, int64_t *audit_seq,
                                  bool *found) {
    conn *c = s->reader;
    lock(c);
    sqlite3_stmt *st = NULL;
    *found = false;
    sg_error *err = prep(c, "SELECT key_id, audit_seq FROM completions WHERE id = ?", &st);
    if (!err) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *found = true;
            *key_id = sqlite3_column_int64(st, 0);
            *audit_seq = sqlite3_column_int64(st, 1);
        } else if (rc != SQLITE_DONE) {
            err = db_error(c, "reading completion");
        }
    }
    sqlite3_finalize(st);
    unlock(c);
    return err;
}

sg_error *sg_store_flag_add(sg_store *s, const sg_flag_record *f, int64_t *id) {
    conn *c = &s->writer;
    lock(c);
    sqlite3_stmt *st = NULL;
    sg_error *err =
        prep(c,
             "INSERT INTO flags (completion_id, key_id, audit_seq, category, comment, created_ms) "
             "VALUES (?,?,?,?,?,?)",
             &st);
    if (!err) {
        sqlite3_bind_text(st, 1, f->completion_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, f->key_id);
        sqlite3_bind_int64(st, 3, f->audit_seq);
        sqlite3_bind_text(st, 4, f->category, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, f->comment, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, f->created_ms);
        err = run(c, st, "recording flag");
        if (!err && id) *id = sqlite3_last_insert_rowid(c->db);
    }
    sqlite3_finalize(st);
    unlock(c);
    return err;
}

#define FLAG_COLUMNS                                                                                         \
    "id, completion_id, key_id, audit_seq, category, comment, created_ms, status, resolved_ms"

static void read_flag(sqlite3_stmt *st, void *p) {
    sg_flag_record *r = p;
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    copy_text(r->completion_id, sizeof r->completion_id, st, 1);
    r->key_id = sqlite3_column_int64(st, 2);
    r->audit_seq = sqlite3_column_int64(st, 3);
    copy_text(r->category, sizeof r->category, st, 4);
    copy_text(r->comment, sizeof r->comment, st, 5);
    r->created_ms = sqlite3_column_int64(st, 6);
    copy_text(r->status, sizeof r->status, st, 7);
    r->resolved_ms = sqlite3_column_int64(st, 8);
}

sg_error *sg_store_flag_list(sg_store *s, sg_flag_record **out, size_t *n) {
    return list_rows(s->reader, "SELECT " FLAG_COLUMNS " FROM flags ORDER BY id", sizeof **out, read_flag,
                     (void **)out, n);
}

sg_error *sg_store_flag_get(sg_store *s, int64_t id, sg_flag_record *out, bool *found) {
    conn *c = s->reader;
    lock(c);
    sqlite3_stmt *st = NULL;
    *found = false;
    sg_error *err = prep(c, "SELECT " FLAG_COLUMNS " FROM flags WHERE id = ?", &st);
    if (!err) {
        sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *found = true;
            read_flag(st, out);
        } else if (rc != SQLITE_DONE) {
            err = db_error(c, "reading flag");
        }
    }
    sqlite3_finalize(st);
    unlock(c);
    return err;
}

sg_error *sg_store_flag_resolve(sg_store *s, int64_t id, const char *status, int64_t now_ms, bool *changed) {
    conn *c = &s->writer;
    lock(c);
    sqlite3_stmt *st = NULL;
    *changed = false;
    sg_error *err =
        prep(c, "UPDATE flags SET status = ?, resolved_ms = ? WHERE id = ? AND status = 'open'", &st);
    if (!err) {
        sqlite3_bind_text(st, 1, status, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_int64(st, 3, id);
        err = run(c, st, "resolving flag");
        if (!err) *changed = sqlite3_changes(c->db) > 0;
    }
    sqlite3_finalize(st);
    unlock(c);
    return err;
}

sg_error *sg_store_flag_counts(sg_store *s, int64_t key_id, sg_flag_counts *out) {
    conn *c = s->reader;
    lock(c);
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof *out);
    sg_error *err =
        prep(c,
             "SELECT count(*), coalesce(sum(status = 'open'),0), coalesce(sum(status = 'upheld'),0), "
             "coalesce(sum(status = 'dismissed'),0) FROM flags WHERE ?1 = 0 OR key_id = ?1",
             &st);
    if (!err) {
        sqlite3_bind_int64(st, 1, key_id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            out->total = sqlite3_column_int64(st, 0);
            out->open = sqlite3_column_int64(st, 1);
            out->upheld = sqlite3_column_int64(st, 2);
            out->dismissed = sqlite3_column_int64(st, 3);
        } else {
            err = db_error(c, "counting flags");
        }
    }
    sqlite3_finalize(st);
    unlock(c);
    return err;
}
