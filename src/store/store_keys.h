/* store_keys.h — the store's API keys and per-key daily usage (store_keys.c).
 * Keys are looked up on the reader connection on every request (so that a
 * revocation is effective on the next one); usage is written by the audit
 * append in the same transaction as its record. */
#ifndef SG_STORE_KEYS_H
#define SG_STORE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/* ---- API keys ---------------------------------------------------------- */

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

#endif
