/* watermark_key.h — the watermark's secret key, held by the key store.
 *
 * The key is never written anywhere: it is derived on demand from the
 * store's secret hashing key (the "DB.key" file beside the database, created
 * with mode 0600 by the access module) by sg_keys_derive over a fixed
 * purpose string, so it is independent of every other use of that secret and
 * stays out of the database and the policy file. Rotating DB.key rotates it. */
#ifndef SG_WATERMARK_KEY_H
#define SG_WATERMARK_KEY_H

#include "base/error.h"
#include "safety/watermark.h"

/* Opens (creating if needed) the store at `db_path` and derives the key.
 * `fingerprint` (17 bytes, may be NULL) receives 16 hex digits identifying
 * the key without revealing it. Wipe `key` with sodium_memzero after use. */
sg_error *sg_watermark_key_from_db(const char *db_path, unsigned char key[SG_WATERMARK_KEY_BYTES],
                                   char fingerprint[17]) SG_MUST_CHECK;

#endif
