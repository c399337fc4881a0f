/* sqlite_driver.c — the SQLite backend of the store (sgs_driver, store_int.h):
 * a connection per sgs_db in WAL mode with synchronous=FULL, and the
 * statement calls mapped one to one onto SQLite's. The schema is in
 * sqlite_schema.c. Nothing here knows a table. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"

/* sgs_db and sgs_stmt are SQLite's own objects under the interface's names. */
static sqlite3 *D(sgs_db *db) { return (sqlite3 *)db; }
static sqlite3_stmt *S(sgs_stmt *st) { return (sqlite3_stmt *)st; }

static bool sq_single_connection(const char *target) { return strcmp(target, ":memory:") == 0; }

static sg_error *sq_exec(sgs_db *db, const char *sql, const char *what) {
    char *msg = NULL;
    if (sqlite3_exec(D(db), sql, NULL, NULL, &msg) != SQLITE_OK) {
        sg_error *err = sg_error_new("%s: %s", what, msg ? msg : sqlite3_errmsg(D(db)));
        sqlite3_free(msg);
        return err;
    }
    return NULL;
}

/* Switches to WAL unless it is on already. The switch takes an exclusive lock
 * and SQLite reports SQLITE_BUSY for it without consulting the busy handler,
 * so retry while other processes hold the file (up to the busy timeout). */
static sg_error *enable_wal(sqlite3 *db) {
    for (int attempt = 0;; attempt++) {
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (rc == SQLITE_OK) rc = sqlite3_step(st);
        char mode[16] = "";
        if (rc == SQLITE_ROW) snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (!strcmp(mode, "wal") || !strcmp(mode, "memory")) return NULL; /* ":memory:" has no WAL */
        int code = sqlite3_errcode(db) & 0xff;
        bool busy = rc != SQLITE_ROW && (code == SQLITE_BUSY || code == SQLITE_LOCKED);
        if (!busy || attempt >= 1000)
            return sg_error_new("enabling WAL mode: %s", rc == SQLITE_ROW ? mode : sqlite3_errmsg(db));
        usleep(10000);
    }
}

static sg_error *sq_open(const char *target, bool walk, sgs_db **out) {
    *out = NULL;
    sqlite3 *db = NULL;
    if (walk) {
        if (sqlite3_open_v2(target, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
            sg_error *err = sg_error_new("%s", db ? sqlite3_errmsg(db) : "out of memory");
            sqlite3_close(db);
            return err;
        }
        sqlite3_busy_timeout(db, 10000);
        *out = (sgs_db *)db;
        return NULL;
    }
    /* A new database holds key hashes and possibly prompts: create it private
     * (SQLite gives its -wal and -shm files the same permissions). */
    if (!sq_single_connection(target)) {
        int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
        else if (errno != EEXIST)
            return sg_error_new("%s", strerror(errno));
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(target, &db, flags, NULL) != SQLITE_OK) {
        sg_error *err = sg_error_new("%s", db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return err;
    }
    *out = (sgs_db *)db;
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 10000);
    /* WAL: readers do not block the writer. synchronous=FULL: every commit is
     * fsynced before it returns (the audit log's durability promise). */
    sg_error *err = enable_wal(db);
    if (!err) err = sq_exec(*out, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", "configuring database");
    return err; /* on error the caller closes *out */
}

static void sq_close(sgs_db *db) { sqlite3_close(D(db)); }

static sg_error *sq_begin_write(sgs_db *db, const char *what) { return sq_exec(db, "BEGIN IMMEDIATE", what); }

static sg_error *sq_prepare(sgs_db *db, const char *sql, sgs_stmt **out) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(D(db), sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        *out = NULL;
        return sg_error_new("%s", sqlite3_errmsg(D(db)));
    }
    *out = (sgs_stmt *)st;
    return NULL;
}

static void sq_finalize(sgs_stmt *st) { sqlite3_finalize(S(st)); }

static void sq_reset(sgs_stmt *st) {
    sqlite3_reset(S(st));
    sqlite3_clear_bindings(S(st));
}

static void sq_bind_int(sgs_stmt *st, int i, int64_t v) { sqlite3_bind_int64(S(st), i, v); }
static void sq_bind_real(sgs_stmt *st, int i, double v) { sqlite3_bind_double(S(st), i, v); }
static void sq_bind_text(sgs_stmt *st, int i, const char *t) {
    if (t)
        sqlite3_bind_text(S(st), i, t, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(S(st), i);
}
static void sq_bind_blob(sgs_stmt *st, int i, const void *p, size_t n) {
    sqlite3_bind_blob(S(st), i, p, (int)n, SQLITE_TRANSIENT);
}

static sgs_step sq_step(sgs_stmt *st) {
    int rc = sqlite3_step(S(st));
    if (rc == SQLITE_ROW) return SGS_ROW;
    if (rc == SQLITE_DONE) return SGS_DONE;
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) return SGS_UNIQUE;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return SGS_CONSTRAINT;
    return SGS_ERROR;
}

static int64_t sq_col_int(sgs_stmt *st, int i) { return sqlite3_column_int64(S(st), i); }
static double sq_col_real(sgs_stmt *st, int i) { return sqlite3_column_double(S(st), i); }
static const char *sq_col_text(sgs_stmt *st, int i) { return (const char *)sqlite3_column_text(S(st), i); }
static const void *sq_col_blob(sgs_stmt *st, int i, size_t *n) {
    const void *b = sqlite3_column_blob(S(st), i);
    *n = (size_t)sqlite3_column_bytes(S(st), i);
    return b;
}

static int64_t sq_changes(sgs_db *db) { return sqlite3_changes(D(db)); }
static int64_t sq_last_id(sgs_db *db) { return sqlite3_last_insert_rowid(D(db)); }
static const char *sq_errmsg(sgs_db *db) { return sqlite3_errmsg(D(db)); }

const sgs_driver sgs_sqlite = {
    .name = "sqlite",
    .migrations = sgs_sqlite_migrations,
    .schema_version_table = "CREATE TABLE IF NOT EXISTS schema_version ("
                            "version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
    .single_connection = sq_single_connection,
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .begin_write = sq_begin_write,
    .prepare = sq_prepare,
    .finalize = sq_finalize,
    .reset = sq_reset,
    .bind_int = sq_bind_int,
    .bind_real = sq_bind_real,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .step = sq_step,
    .col_int = sq_col_int,
    .col_real = sq_col_real,
    .col_text = sq_col_text,
    .col_blob = sq_col_blob,
    .changes = sq_changes,
    .last_id = sq_last_id,
    .errmsg = sq_errmsg,
};
