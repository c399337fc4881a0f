/* store_flags.h — community flags (store_flags.c): which key received which
 * completion, and the flags callers raise on them (src/server/guard.h). */
#ifndef SG_STORE_FLAGS_H
#define SG_STORE_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

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
