/* store_audit.h — the store's side of the audit log (store_audit.c): rows in
 * sequence order, appended durably with group commit, walked over one
 * snapshot. The chain (what goes into a row's hash) is src/access/audit.c's. */
#ifndef SG_STORE_AUDIT_H
#define SG_STORE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/audit_text.h"
#include "store/store.h"

/* ---- audit log ----------------------------------------------------------- */

/* "none", "hashed" or "full" (the stored form); NULL for any other value. */
const char *sg_audit_text_mode_name(sg_audit_text_mode mode);
sg_error *sg_audit_text_mode_parse(const char *name, sg_audit_text_mode *mode) SG_MUST_CHECK;

/* One audit record: what a caller appends (src/access/audit.h) and what a
 * walk reads back, the same type. Strings are NULL when absent; a record the
 * store hands to a walk owns none of them beyond the call. The chain
 * algorithm (what goes into `hash`) belongs to src/access/audit.c; the store
 * only keeps rows in sequence order. */
typedef struct {
    int64_t seq;     /* 1, 2, 3... assigned by the store */
    int64_t time_ms; /* appending: 0 = now */
    int64_t key_id;  /* 0 = no key (e.g. a 401) */
    const char *audience, *model, *stage;
    const char *decision; /* required */
    const char *reason;
    int64_t prompt_tokens, completion_tokens;
    int64_t latency_us;
    sg_audit_text_mode text_mode;
    const char *prompt_digest, *completion_digest; /* hex BLAKE2b of the texts (sg_audit_append fills them) */
    /* Appending: the texts, kept only with SG_AUDIT_TEXT_FULL. Read back:
     * the stored texts (with "full", until purged). */
    const char *prompt_text, *completion_text;
    unsigned char prev_hash[SG_HASH_BYTES];
    unsigned char hash[SG_HASH_BYTES];
} sg_audit_record;

/* Called inside the append transaction with the sequence number and the hash
 * of the last record (zeros for the first): fills rec->prev_hash and rec->hash. */
typedef void (*sg_audit_seal_fn)(sg_audit_record *rec, const unsigned char last_hash[SG_HASH_BYTES],
                                 void *ctx);

/* Appends `rec` as it is (src/access/audit.c has prepared it) durably:
 * assigns rec->seq, calls `seal`, inserts, and when `usage` is true adds the
 * record's tokens to the usage of rec->key_id, all in
 * one transaction. Returns after the commit is on disk. Concurrent appends
 * are group-committed (one transaction and fsync for all waiting threads;
 * a failing record is retried alone so it cannot fail the others). */
sg_error *sg_store_audit_append(sg_store *store, sg_audit_record *rec, bool usage, sg_audit_seal_fn seal,
                                void *ctx) SG_MUST_CHECK;

/* Calls `fn` for each record with seq >= from_seq in sequence order, over one
 * consistent snapshot; a non-zero return from fn stops the walk. The record
 * is valid during the call. A file database is walked through a connection of
 * its own (the request path is never blocked, fn may use the store); with
 * ":memory:" the walk holds the store's lock and fn must not use the store. */
typedef int (*sg_audit_record_fn)(const sg_audit_record *rec, void *ctx);
sg_error *sg_store_audit_each(sg_store *store, int64_t from_seq, sg_audit_record_fn fn,
                              void *ctx) SG_MUST_CHECK;

/* Number of records and the highest sequence number (0 when empty). */
sg_error *sg_store_audit_count(sg_store *store, int64_t *count, int64_t *last_seq) SG_MUST_CHECK;

/* Retention: drops the stored prompt/completion texts of records older than
 * `before_ms` (their digests stay, so the chain still verifies). */
sg_error *sg_store_audit_purge_text(sg_store *store, int64_t before_ms, int64_t *purged) SG_MUST_CHECK;

#endif
