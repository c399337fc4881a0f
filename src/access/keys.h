/* keys.h — API keys: creation, authentication, revocation.
 *
 * A secret is "sg-" followed by 32 random bytes (libsodium randombytes) in
 * unpadded base64url: 46 characters, 256 bits of randomness. It is shown once;
 * the store keeps only BLAKE2b-256 keyed with the server's hashing key
 * (crypto_generichash), a short hint (the last 4 characters) and the key's
 * name, audience, limits and expiry.
 *
 * The hashing key lives outside the database, in a file beside it:
 * "DB.key" (32 random bytes, mode 0600, created on first use). A copy of the
 * database alone therefore does not let anyone test guessed secrets offline.
 * Back the file up with the database: without it no existing key verifies.
 *
 * Authentication reads the store on every request (an indexed lookup of the
 * keyed hash, a few microseconds), so revocation and expiry take effect on
 * the very next request, in every process sharing the database. The found
 * row's hash is compared again with sodium_memcmp (constant time); the lookup
 * itself is by a keyed hash the client cannot compute, so its timing tells
 * an attacker nothing about the secret.
 */
#ifndef SG_KEYS_H
#define SG_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store_keys.h"

#define SG_KEY_SECRET_LEN 46 /* "sg-" + 43 base64url characters */

typedef struct sg_keys sg_keys;

/* Opens the key service over `store`, with the hashing key in `key_path`
 * (created with mode 0600 when missing; refused when readable by others).
 * sg_keys_key_path gives the conventional "DB.key" for a database path. */
sg_error *sg_keys_open(sg_store *store, const char *key_path, sg_keys **out) SG_MUST_CHECK;
void sg_keys_close(sg_keys *keys);
/* malloc'd "db_path.key" (NULL on out of memory). */
char *sg_keys_key_path(const char *db_path);

/* Sub-keys of the server secret: the one place where a secret is derived
 * from the hashing key. `n` bytes (crypto_generichash_BYTES_MIN to _MAX) of
 * BLAKE2b keyed with the hashing key over the purpose string, e.g.
 * "stagegate watermark key v1"; each purpose gives an independent key, and
 * rotating DB.key rotates them all. Wipe `out` after use. */
void sg_keys_derive(const sg_keys *keys, const char *purpose, unsigned char *out, size_t n);
/* The same for the database at `db_path` whose store is open: opens its key
 * service (creating DB.key when missing), derives, and closes it again. */
sg_error *sg_keys_derive_for_db(sg_store *store, const char *db_path, const char *purpose, unsigned char *out,
                                size_t n) SG_MUST_CHECK;

typedef struct {
    const char *name;
    const char *audience;
    int64_t rpm, tpm;   /* 0 = policy default */
    int64_t expires_ms; /* absolute; 0 = never */
} sg_key_spec;

/* Creates a key; writes the NUL-terminated secret into `secret` (shown once:
 * the caller prints it and wipes it) and returns the new id. */
sg_error *sg_keys_create(sg_keys *keys, const sg_key_spec *spec, char secret[SG_KEY_SECRET_LEN + 1],
                         int64_t *id) SG_MUST_CHECK;

typedef enum {
    SG_AUTH_OK,
    SG_AUTH_MISSING,   /* no Authorization header */
    SG_AUTH_MALFORMED, /* not "Bearer sg-..." of the right shape */
    SG_AUTH_UNKNOWN,   /* well-formed, but no such key */
    SG_AUTH_REVOKED,
    SG_AUTH_EXPIRED,
} sg_auth_result;

/* A short English description of a result ("the API key has been revoked"). */
const char *sg_auth_result_message(sg_auth_result r);

/* Who is calling: what a valid key grants. */
typedef struct {
    int64_t key_id;
    char name[SG_KEY_NAME_MAX];
    char audience[SG_KEY_AUDIENCE_MAX];
    int64_t rpm, tpm; /* 0 = policy default */
    int64_t expires_ms;
} sg_principal;

/* Authenticates an Authorization header value ("Bearer sg-..."; NULL when
 * absent) at time `now_ms`. An error only for store failures; otherwise
 * *result says why a key is refused, and *out is filled when SG_AUTH_OK. */
sg_error *sg_keys_authenticate(sg_keys *keys, const char *authorization, int64_t now_ms, sg_principal *out,
                               sg_auth_result *result) SG_MUST_CHECK;

/* Resolves a key reference: a numeric id (as `keys list` shows it) or the
 * secret itself. *found is false when there is no such key. */
sg_error *sg_keys_find(sg_keys *keys, const char *ref, sg_key_record *out, bool *found) SG_MUST_CHECK;

/* Revokes the key named by `ref` (id or secret). Errors name an unknown key;
 * *already is set when it was revoked before. */
sg_error *sg_keys_revoke(sg_keys *keys, const char *ref, int64_t now_ms, int64_t *id,
                         bool *already) SG_MUST_CHECK;

/* "30d", "12h", "90m", "45s", "2w" (a positive integer and a unit) into
 * milliseconds. */
sg_error *sg_parse_duration_ms(const char *text, int64_t *ms) SG_MUST_CHECK;

#endif
