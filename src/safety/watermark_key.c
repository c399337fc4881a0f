/* watermark_key.c — the watermark key derived from the key store; see watermark_key.h. */
#include "safety/watermark_key.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "access/keys.h"
#include "base/fileio.h"
#include "base/init.h"
#include "store/store.h"

static const char PURPOSE[] = "stagegate watermark key v1";

sg_error *sg_watermark_key_from_db(const char *db_path, unsigned char key[SG_WATERMARK_KEY_BYTES],
                                   char fingerprint[17]) {
    SG_ASSERT_INIT();
    sg_store *store = NULL;
    sg_keys *keys = NULL;
    char *key_path = sg_keys_key_path(db_path);
    if (!key_path) return sg_error_new("out of memory");
    /* Opening the key service creates DB.key if needed and checks its mode. */
    sg_error *err = sg_store_open(db_path, &store);
    if (!err) err = sg_keys_open(store, key_path, &keys);
    char *secret = NULL;
    size_t n = 0;
    if (!err) err = sg_file_read(key_path, &secret, &n);
    if (!err && n != 32) err = sg_error_new("%s: expected 32 bytes, found %zu", key_path, n);
    if (!err) {
        crypto_generichash(key, SG_WATERMARK_KEY_BYTES, (const unsigned char *)PURPOSE, sizeof PURPOSE - 1,
                           (const unsigned char *)secret, 32);
        if (fingerprint) {
            unsigned char fp[8];
            crypto_generichash(fp, sizeof fp, key, SG_WATERMARK_KEY_BYTES, NULL, 0);
            sodium_bin2hex(fingerprint, 17, fp, sizeof fp);
        }
    }
    if (secret) {
        sodium_memzero(secret, n);
        free(secret);
    }
    sg_keys_close(keys);
    sg_store_close(store);
    free(key_path);
    if (err) return sg_error_wrap(err, "watermark key from %s", db_path);
    return NULL;
}
