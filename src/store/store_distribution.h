/* store_distribution.h — downloadable releases (store_distribution.c):
 * licensees, the release signing key, issued bundles. Used by
 * src/distribution and the pack/trace/licensee commands. */
#ifndef SG_STORE_DISTRIBUTION_H
#define SG_STORE_DISTRIBUTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "base/error.h"
#include "store/store.h"

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

#endif
