/* store.h — the persistent store: API keys, per-key usage and the audit log.
 *
 * Every SQL statement of stagegate lives in src/store; other modules call the
 * typed functions below, so that a PostgreSQL implementation can later sit
 * behind the same interface. The implementation is SQLite in WAL mode with a
 * busy timeout (several processes may share the file: the server and the
 * `keys`/`audit` commands), foreign keys on and synchronous=FULL, so that a
 * committed write survives a crash or power loss.
 *
 * Schema: versioned migrations, an ordered list in store.c; the `schema_version`
 * table records which were applied. A module that needs new tables appends a
 * migration to that list (never edits an applied one).
 *
 * Threads: an sg_store is two SQLite connections, each guarded by a mutex (a
 * writer, whose audit appends are group-committed, and a reader for the
 * per-request lookups), so one sg_store may be shared by all threads.
 */
#ifndef SG_STORE_H
#define SG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "base/error.h"

#define SG_HASH_BYTES 32 /* BLAKE2b-256 digests: key hashes, audit chain */

typedef struct sg_store sg_store;

/* Opens (creating if needed) the database at `path` and applies any pending
 * migrations. ":memory:" gives a private in-memory database. */
sg_error *sg_store_open(const char *path, sg_store **out) SG_MUST_CHECK;
void sg_store_close(sg_store *store);

/* The schema version of the open database (highest migration applied) and
 * the highest this program knows. */
int sg_store_schema_version(sg_store *store);
int sg_store_schema_latest(void);

/* ---- API keys ---------------------------------------------------------- */

#define SG_KEY_NAME_MAX 128
#define SG_KEY_AUDIENCE_MAX 128
#define SG_KEY_HINT_MAX 16

typedef struct {
    int64_t id;
    char name[SG_KEY_NAME_MAX];
    char audience[SG_KEY_AUDIENCE_MAX];
    char hint[SG_KEY_HINT_MAX];        /* last characters of the secret, for display */
    unsigned char hash[SG_HASH_BYTES]; /* keyed BLAKE2b of the secret */
    int64_t rpm, tpm;                  /* per-key limits; 0 = not set (policy decides) */
    int64_t created_ms;
    int64_t expires_ms; /* 0 = never */
    int64_t revoked_ms; /* 0 = not revoked */
} sg_key_record;

/* Inserts `key` (its id is ignored) and returns the new id. */
sg_error *sg_store_key_insert(sg_store *store, const sg_key_record *key, int64_t *id) SG_MUST_CHECK;
/* Looks a key up by id or by hash; *found tells whether it exists. */
sg_error *sg_store_key_get(sg_store *store, int64_t id, sg_key_record *out, bool *found) SG_MUST_CHECK;
sg_error *sg_store_key_by_hash(sg_store *store, const unsigned char hash[SG_HASH_BYTES], sg_key_record *out,
                               bool *found) SG_MUST_CHECK;
/* All keys in id order (free *out with free()). */
sg_error *sg_store_key_list(sg_store *store, sg_key_record **out, size_t *n) SG_MUST_CHECK;
/* Marks a key revoked at `now_ms` (kept for the audit trail). *changed is
 * false when the id does not exist or the key was already revoked. */
sg_error *sg_store_key_revoke(sg_store *store, int64_t id, int64_t now_ms, bool *changed) SG_MUST_CHECK;

/* ---- usage --------------------------------------------------------------- */

typedef struct {
    char day[11]; /* "YYYY-MM-DD" (UTC); "" for a total */
    int64_t requests, prompt_tokens, completion_tokens;
} sg_usage;

/* Adds one request's usage to the key's counters for the UTC day of `time_ms`.
 * (sg_store_audit_append does this in the same transaction as the record.) */
sg_error *sg_store_usage_add(sg_store *store, int64_t key_id, int64_t time_ms, int64_t prompt_tokens,
                             int64_t completion_tokens) SG_MUST_CHECK;
/* Totals over all days, and the per-day rows newest first (free *days). */
sg_error *sg_store_usage_get(sg_store *store, int64_t key_id, sg_usage *total, sg_usage **days,
                             size_t *n_days) SG_MUST_CHECK;

/* ---- audit log ----------------------------------------------------------- */

/* One stored audit record. Strings are NULL when absent. The chain algorithm
 * (what goes into `hash`) belongs to src/access/audit.c; the store only keeps
 * rows in sequence order. */
typedef struct {
    int64_t seq; /* 1, 2, 3... assigned by the store */
    int64_t time_ms;
    int64_t key_id; /* 0 = no key (e.g. a 401) */
    char *audience, *model, *stage, *decision, *reason;
    int64_t prompt_tokens, completion_tokens;
    int64_t latency_us;
    char *text_mode;                         /* "none", "hashed" or "full" */
    char *prompt_digest, *completion_digest; /* hex BLAKE2b of the texts */
    char *prompt_text, *completion_text;     /* only with "full", until purged */
    unsigned char prev_hash[SG_HASH_BYTES];
    unsigned char hash[SG_HASH_BYTES];
} sg_audit_row;

/* Frees the strings of a row filled by the store (not the row itself). */
void sg_audit_row_clear(sg_audit_row *row);

/* Called inside the append transaction with the sequence number and the hash
 * of the last record (zeros for the first): fills row->prev_hash and row->hash. */
typedef void (*sg_audit_seal_fn)(sg_audit_row *row, const unsigned char last_hash[SG_HASH_BYTES], void *ctx);

/* Appends `row` durably: assigns row->seq, calls `seal`, inserts, and when
 * `usage` is true adds the row's tokens to the usage of row->key_id, all in
 * one transaction. Returns after the commit is on disk. Concurrent appends
 * are group-committed (one transaction and fsync for all waiting threads;
 * a failing record is retried alone so it cannot fail the others). */
sg_error *sg_store_audit_append(sg_store *store, sg_audit_row *row, bool usage, sg_audit_seal_fn seal,
                                void *ctx) SG_MUST_CHECK;

/* Calls `fn` for each record with seq >= from_seq in sequence order, over one
 * consistent snapshot; a non-zero return from fn stops the walk. The row is
 * valid during the call. A file database is walked through a connection of
 * its own (the request path is never blocked, fn may use the store); with
 * ":memory:" the walk holds the store's lock and fn must not use the store. */
typedef int (*sg_audit_row_fn)(const sg_audit_row *row, void *ctx);
sg_error *sg_store_audit_each(sg_store *store, int64_t from_seq, sg_audit_row_fn fn, void *ctx) SG_MUST_CHECK;

/* Number of records and the highest sequence number (0 when empty). */
sg_error *sg_store_audit_count(sg_store *store, int64_t *count, int64_t *last_seq) SG_MUST_CHECK;

/* Retention: drops the stored prompt/completion texts of records older than
 * `before_ms` (their digests stay, so the chain still verifies). */
sg_error *sg_store_audit_purge_text(sg_store *store, int64_t before_ms, int64_t *purged) SG_MUST_CHECK;

/* ---- the staged release (src/release) ------------------------------------
 * Records of the release process. Strings are fixed-size and truncated on
 * read; every table is append-only except incidents (closed in place). */

#define SG_REL_NAME_MAX 128
#define SG_REL_TEXT_MAX 2048

typedef struct {
    int64_t id, time_ms;
    char from_stage[SG_REL_NAME_MAX], to_stage[SG_REL_NAME_MAX];
    char kind[32]; /* "start", "advance", "rollback" */
    char actor[SG_REL_NAME_MAX];
    char reason[SG_REL_TEXT_MAX];
    char evidence[SG_REL_TEXT_MAX]; /* the gate report at the time of the move */
    int override;                   /* 1: moved with --force despite unmet gates */
} sg_stage_move;

typedef struct {
    int64_t id, time_ms;
    char stage[SG_REL_NAME_MAX], status[32], author[SG_REL_NAME_MAX];
    char file[SG_REL_TEXT_MAX];
    char digest[65]; /* hex BLAKE2b-256 of the document */
} sg_risk_record;

typedef struct {
    int64_t id, time_ms;
    char item[SG_REL_NAME_MAX], status[32], actor[SG_REL_NAME_MAX];
    char note[SG_REL_TEXT_MAX];
} sg_mitigation_record;

typedef struct {
    int64_t id, time_ms, run_id;
    char suite[SG_REL_NAME_MAX], model[SG_REL_NAME_MAX], metric[SG_REL_NAME_MAX];
    double value;
    char dataset[SG_REL_TEXT_MAX];
    char code_version[64];
    char source[32]; /* "run" (computed by stagegate) or "recorded" (entered by an operator) */
} sg_eval_record;

typedef struct {
    int64_t id, time_ms;
    char stage[SG_REL_NAME_MAX], reviewer[SG_REL_NAME_MAX];
    char note[SG_REL_TEXT_MAX];
} sg_signoff_record;

typedef struct {
    int64_t id, opened_ms;
    char severity[32];
    char reason[SG_REL_TEXT_MAX]; /* internal: never shown to API callers */
    char suspend_audience[SG_REL_NAME_MAX], suspend_model[SG_REL_NAME_MAX]; /* "" = none */
    int rollback;
    char opened_by[SG_REL_NAME_MAX];
    int64_t closed_ms; /* 0 = open */
    char closed_by[SG_REL_NAME_MAX], close_note[SG_REL_TEXT_MAX];
} sg_incident_record;

/* Appends a record (its id is ignored; *id may be NULL). */
sg_error *sg_store_stage_move_add(sg_store *store, const sg_stage_move *m, int64_t *id) SG_MUST_CHECK;
sg_error *sg_store_risk_add(sg_store *store, const sg_risk_record *r, const char *body,
                            int64_t *id) SG_MUST_CHECK;
sg_error *sg_store_mitigation_add(sg_store *store, const sg_mitigation_record *m, int64_t *id) SG_MUST_CHECK;
sg_error *sg_store_signoff_add(sg_store *store, const sg_signoff_record *s, int64_t *id) SG_MUST_CHECK;
sg_error *sg_store_incident_add(sg_store *store, const sg_incident_record *inc, int64_t *id) SG_MUST_CHECK;
/* Stores the metrics of one evaluation run together; they share a run id
 * (the first row's id), written to each record and to *run_id. */
sg_error *sg_store_eval_add(sg_store *store, sg_eval_record *recs, size_t n, int64_t *run_id) SG_MUST_CHECK;

/* Closes an open incident; *changed is false when it does not exist or is closed. */
sg_error *sg_store_incident_close(sg_store *store, int64_t id, int64_t now_ms, const char *by,
                                  const char *note, bool *changed) SG_MUST_CHECK;

/* Lists, oldest first, of records with time >= since_ms (0 = all). Free *out
 * with free(). */
sg_error *sg_store_stage_moves(sg_store *store, int64_t since_ms, sg_stage_move **out,
                               size_t *n) SG_MUST_CHECK;
sg_error *sg_store_risks(sg_store *store, sg_risk_record **out, size_t *n) SG_MUST_CHECK;
sg_error *sg_store_mitigations(sg_store *store, sg_mitigation_record **out, size_t *n) SG_MUST_CHECK;
sg_error *sg_store_signoffs(sg_store *store, sg_signoff_record **out, size_t *n) SG_MUST_CHECK;
sg_error *sg_store_incidents(sg_store *store, int64_t since_ms, sg_incident_record **out,
                             size_t *n) SG_MUST_CHECK;
/* Evaluation results; `model` NULL = every model. */
sg_error *sg_store_evals(sg_store *store, const char *model, sg_eval_record **out, size_t *n) SG_MUST_CHECK;
/* The latest result of suite/model/metric; *found false when none. */
sg_error *sg_store_eval_latest(sg_store *store, const char *suite, const char *model, const char *metric,
                               sg_eval_record *out, bool *found) SG_MUST_CHECK;

/* The release change counter: grows with every stage move and every incident
 * opened or closed, from any process. One indexed row: cheap to poll. */
sg_error *sg_store_release_version(sg_store *store, int64_t *version) SG_MUST_CHECK;

/* ---- downloadable releases (src/distribution) ----------------------------- */

#define SG_PATH_MAX 4096

typedef struct {
    int64_t id;
    char name[SG_KEY_NAME_MAX];
    unsigned char public_key[crypto_box_PUBLICKEYBYTES]; /* X25519 */
    int64_t created_ms;
    int64_t revoked_ms; /* 0 = active */
} sg_licensee_record;

/* Inserts a licensee; an error naming the licensee if the name is taken. */
sg_error *sg_store_licensee_insert(sg_store *store, const char *name,
                                   const unsigned char public_key[crypto_box_PUBLICKEYBYTES],
                                   int64_t created_ms, int64_t *id) SG_MUST_CHECK;
/* By name (id_or_0 == 0) or by id. */
sg_error *sg_store_licensee_get(sg_store *store, const char *name, int64_t id, sg_licensee_record *out,
                                bool *found) SG_MUST_CHECK;
/* All licensees in id order (free *out). */
sg_error *sg_store_licensee_list(sg_store *store, sg_licensee_record **out, size_t *n) SG_MUST_CHECK;
/* *changed is false when no such active licensee exists. */
sg_error *sg_store_licensee_revoke(sg_store *store, const char *name, int64_t now_ms,
                                   bool *changed) SG_MUST_CHECK;

/* The release signing key: one row; `sealed` is the secret key encrypted by
 * the caller. Insert fails when a key exists already. */
sg_error *sg_store_release_key_insert(sg_store *store,
                                      const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                                      const unsigned char *sealed, size_t sealed_len,
                                      int64_t created_ms) SG_MUST_CHECK;
/* *sealed is malloc'd (free it); *found false when no key was created. */
sg_error *sg_store_release_key_get(sg_store *store, unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                                   unsigned char **sealed, size_t *sealed_len, bool *found) SG_MUST_CHECK;

/* One issued bundle. */
#define SG_ISSUE_NONCE_BYTES 32 /* random per issue; with the fingerprint key, the seed */
typedef struct {
    int64_t id;
    int64_t licensee_id;
    char licensee[SG_KEY_NAME_MAX]; /* filled by the list (join) */
    char model[SG_KEY_NAME_MAX];
    char stage[SG_KEY_NAME_MAX];
    char original_path[SG_PATH_MAX]; /* absolute path of the original model.safetensors */
    char original_blake2b[65];
    unsigned char nonce[SG_ISSUE_NONCE_BYTES]; /* with the fingerprint key, determines the fingerprint */
    double epsilon;
    char license_sha256[65];
    char bundle_sha256[65];
    int64_t issued_ms;
} sg_issue_record;

sg_error *sg_store_issue_insert(sg_store *store, const sg_issue_record *issue, int64_t *id) SG_MUST_CHECK;
/* All issues in id order with the licensee's name (free *out). */
sg_error *sg_store_issue_list(sg_store *store, sg_issue_record **out, size_t *n) SG_MUST_CHECK;

/* ---- community flags (migration 4; src/server/guard.h) -------------------- */

/* Which key received completion `id` ("cmpl-..."), and its audit record. */
sg_error *sg_store_completion_add(sg_store *store, const char *id, int64_t key_id, int64_t audit_seq,
                                  int64_t created_ms) SG_MUST_CHECK;
sg_error *sg_store_completion_get(sg_store *store, const char *id, int64_t *key_id, int64_t *audit_seq,
                                  bool *found) SG_MUST_CHECK;

typedef struct {
    int64_t id;
    char completion_id[64];
    int64_t key_id;    /* the key that received the completion and raised the flag */
    int64_t audit_seq; /* the completion's audit record */
    char category[SG_KEY_NAME_MAX];
    char comment[1024];
    int64_t created_ms;
    char status[16]; /* "open", "upheld" or "dismissed" */
    int64_t resolved_ms;
} sg_flag_record;

typedef struct {
    int64_t total, open, upheld, dismissed;
} sg_flag_counts;

sg_error *sg_store_flag_add(sg_store *store, const sg_flag_record *flag, int64_t *id) SG_MUST_CHECK;
sg_error *sg_store_flag_list(sg_store *store, sg_flag_record **out, size_t *n) SG_MUST_CHECK;
sg_error *sg_store_flag_get(sg_store *store, int64_t id, sg_flag_record *out, bool *found) SG_MUST_CHECK;
/* Sets an open flag's status ("upheld" / "dismissed"); *changed false when it was not open. */
sg_error *sg_store_flag_resolve(sg_store *store, int64_t id, const char *status, int64_t now_ms,
                                bool *changed) SG_MUST_CHECK;
/* Counts for one key, or for all keys with key_id 0. */
sg_error *sg_store_flag_counts(sg_store *store, int64_t key_id, sg_flag_counts *out) SG_MUST_CHECK;

#endif
