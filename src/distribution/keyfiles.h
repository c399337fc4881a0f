/* keyfiles.h — the key material of downloadable releases.
 *
 * Licensee key pairs (X25519, for crypto_box_seal) live in two text files a
 * licensee makes with `stagegate licensee keygen -o NAME`:
 *   NAME.pub  "stagegate-licensee-public-v1 HEX\n"
 *   NAME.key  "stagegate-licensee-secret-v1 HEX\n"  (mode 0600)
 * The release signing key (Ed25519) lives in the store: its secret sealed
 * with crypto_secretbox under a key derived from the store's secret file
 * (DB.key, beside the database, see src/access/keys.h), so a copy of the
 * database alone does not sign anything. Its public key is written out as
 *   release.pub "stagegate-release-public-v1 HEX\n".
 * Other secrets of the module (the fingerprint key) are derived from DB.key
 * the same way, by sg_keys_derive (access/keys.h) with a purpose string. */
#ifndef SG_KEYFILES_H
#define SG_KEYFILES_H

#include <sodium.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/* Key sizes are libsodium's: crypto_box_PUBLICKEYBYTES / _SECRETKEYBYTES
 * (X25519, licensees) and crypto_sign_PUBLICKEYBYTES / _SECRETKEYBYTES
 * (Ed25519, the release key). Both public keys are 32 bytes, so key ids and
 * fingerprints take either. */
#define SG_KEY_ID_HEX_LEN 17 /* 16 hex digits + NUL */

/* Writes base.pub and base.key (0600; refuses to overwrite either). */
sg_error *sg_licensee_keygen(const char *base) SG_MUST_CHECK;
sg_error *sg_licensee_read_public(const char *path,
                                  unsigned char pk[crypto_box_PUBLICKEYBYTES]) SG_MUST_CHECK;
/* Reads a secret key file (refused when group/other can read it) and
 * computes its public key. */
sg_error *sg_licensee_read_secret(const char *path, unsigned char pk[crypto_box_PUBLICKEYBYTES],
                                  unsigned char sk[crypto_box_SECRETKEYBYTES]) SG_MUST_CHECK;
/* BLAKE2b-256 of a public key: the recipient fingerprint in bundle headers. */
void sg_key_fingerprint(const unsigned char pk[crypto_box_PUBLICKEYBYTES],
                        unsigned char out[crypto_generichash_BYTES]);
/* Short hex id of a public key (first 8 bytes of its fingerprint). */
void sg_key_id(const unsigned char pk[crypto_box_PUBLICKEYBYTES], char hex[SG_KEY_ID_HEX_LEN]);

/* Creates the release signing key in the store (refused if one exists). */
sg_error *sg_release_key_create(sg_store *store, const char *db_path,
                                unsigned char pk[crypto_sign_PUBLICKEYBYTES]) SG_MUST_CHECK;
/* Loads it; `sk` should be sodium_malloc'd / wiped by the caller. */
sg_error *sg_release_key_load(sg_store *store, const char *db_path,
                              unsigned char pk[crypto_sign_PUBLICKEYBYTES],
                              unsigned char sk[crypto_sign_SECRETKEYBYTES]) SG_MUST_CHECK;
sg_error *sg_release_public_write(const char *path,
                                  const unsigned char pk[crypto_sign_PUBLICKEYBYTES]) SG_MUST_CHECK;
sg_error *sg_release_public_read(const char *path,
                                 unsigned char pk[crypto_sign_PUBLICKEYBYTES]) SG_MUST_CHECK;

#endif
