/* audit.h — the tamper-evident audit log: one record per access decision.
 *
 * Each record carries the time, key id, audience, model, release stage, the
 * decision ("allowed", "401", "403", "429", "filtered", "hardcoded", "400",
 * "503"... : HTTP statuses for refusals, words for outcomes), a reason, the
 * prompt and completion token counts and the latency. Prompt and completion
 * text are kept per policy: none, hashed (BLAKE2b-256 hex digests only) or
 * full (text and digests; the text can later be purged by retention, the
 * digests stay).
 *
 * Chain: hash_N = BLAKE2b-256(hash_{N-1} || canonical(record_N)), hash_0 = 32
 * zero bytes; each row stores its prev_hash and hash. The canonical form is
 * "sg-audit-v1\n" then every field, in a fixed order, as "name=LEN:VALUE\n"
 * (absent strings as "name=-\n"); texts enter only through their digests.
 * sg_audit_verify walks the log from record 1 and names the first record that
 * was changed, removed or moved. Cutting records off the end is invisible to
 * any chain by itself: keep the head that verify prints (sequence number and
 * hash) somewhere else, and pass it back as an anchor to check that the log
 * still reaches it unchanged.
 *
 * Durability: sg_audit_append returns after a synchronous=FULL commit, so a
 * request acknowledged after it is on disk.
 */
#ifndef SG_AUDIT_H
#define SG_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store_audit.h"

/* A record to append is an sg_audit_record (store/store_audit.h, with the
 * text modes): the caller fills what happened, time_ms 0 = now, and
 * prompt_text/completion_text with the texts; sg_audit_append derives the
 * digests and keeps the texts as text_mode says. */

/* Whether a decision counts toward the key's usage: everything except
 * refusals written as HTTP status codes ("401", "429"...). */
bool sg_audit_decision_metered(const char *decision);

/* Appends `rec` durably (its seq, digests and hashes are ignored); metered
 * decisions with a key also add to that key's usage in the same
 * transaction. *seq (may be NULL) gets its number. */
sg_error *sg_audit_append(sg_store *store, const sg_audit_record *rec, int64_t *seq) SG_MUST_CHECK;

typedef struct {
    bool intact;
    int64_t records;   /* records read */
    int64_t bad_seq;   /* the first bad record, 0 when intact */
    char problem[256]; /* what is wrong with it */
    int64_t head_seq;  /* the last record and its hash (hex), for anchoring */
    char head_hash[2 * SG_HASH_BYTES + 1];
} sg_audit_report;

/* Checks the whole chain. An error only when the store cannot be read. */
sg_error *sg_audit_verify(sg_store *store, sg_audit_report *report) SG_MUST_CHECK;

/* The same, and also that record `anchor_seq` still exists with the hash
 * `anchor_hash` (hex), as an earlier verify reported it: this catches records
 * cut off the end, or a chain rewritten from some record on. An error for a
 * malformed anchor. */
sg_error *sg_audit_verify_anchored(sg_store *store, int64_t anchor_seq, const char *anchor_hash,
                                   sg_audit_report *report) SG_MUST_CHECK;

/* Calls fn for the last `n` records, oldest first. */
sg_error *sg_audit_tail(sg_store *store, int64_t n, sg_audit_record_fn fn, void *ctx) SG_MUST_CHECK;

/* Retention: drops full texts older than `before_ms` (digests remain). */
sg_error *sg_audit_purge_text(sg_store *store, int64_t before_ms, int64_t *purged) SG_MUST_CHECK;

/* Hex BLAKE2b-256 of a text, as stored in the digest fields. */
void sg_audit_text_digest(const char *text, char hex[2 * SG_HASH_BYTES + 1]);

/* An operator event (a stage move, an incident, a licensee added, a bundle
 * issued...): no key, no text. time_ms 0 = now; strings may be NULL. */
sg_error *sg_audit_note(sg_store *store, int64_t time_ms, const char *decision, const char *stage,
                        const char *audience, const char *model, const char *reason) SG_MUST_CHECK;

#endif
