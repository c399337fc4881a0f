/* store_audit.h — the store's side of the audit log (store_audit.c): rows in
 * sequence order, appended durably with group commit, walked over one
 * snapshot. The chain (what goes into a row's hash) is src/access/audit.c's. */
#ifndef SG_STORE_AUDIT_H
#define SG_STORE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

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

#endif
