/* watermark_key.c — the watermark key derived from the key store; see watermark_key.h. */
#include "safety/watermark_key.h"

#include <sodium.h>

#include "access/keys.h"
#include "base/init.h"
#include "store/store.h"

static const char PURPOSE[] = "stagegate watermark key v1";

sg_error *sg_watermark_key_from_db(const char *db_path, unsigned char key[SG_WATERMARK_KEY_BYTES],
                                   char fingerprint[17]) {
    SG_ASSERT_INIT();
    sg_store *store = NULL;
    sg_error *err = sg_store_open(db_path, &store);
    if (!err) err = sg_keys_derive_for_db(store, db_path, PURPOSE, key, SG_WATERMARK_KEY_BYTES);
    if (!err && fingerprint) {
        unsigned char fp[8];
        crypto_generichash(fp, sizeof fp, key, SG_WATERMARK_KEY_BYTES, NULL, 0);
        sodium_bin2hex(fingerprint, 17, fp, sizeof fp);
    }
    sg_store_close(store);
    if (err) return sg_error_wrap(err, "watermark key from %s", db_path);
    return NULL;
}
