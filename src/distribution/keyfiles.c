/* keyfiles.c — licensee key files, the release signing key and derived
 * secrets; see keyfiles.h. */
#include "distribution/keyfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/keys.h"
#include "base/fileio.h"
#include "base/init.h"
#include "base/log.h"
#include "store/store_distribution.h"

#define PUB_TAG "stagegate-licensee-public-v1"
#define SEC_TAG "stagegate-licensee-secret-v1"
#define REL_TAG "stagegate-release-public-v1"
#define WRAP_PURPOSE "stagegate release signing key wrap v1"

_Static_assert(crypto_box_PUBLICKEYBYTES == crypto_sign_PUBLICKEYBYTES,
               "key ids and fingerprints take X25519 and Ed25519 public keys alike");

void sg_key_fingerprint(const unsigned char pk[crypto_box_PUBLICKEYBYTES],
                        unsigned char out[crypto_generichash_BYTES]) {
    crypto_generichash(out, crypto_generichash_BYTES, pk, crypto_box_PUBLICKEYBYTES, NULL, 0);
}

void sg_key_id(const unsigned char pk[crypto_box_PUBLICKEYBYTES], char hex[SG_KEY_ID_HEX_LEN]) {
    unsigned char fp[crypto_generichash_BYTES];
    sg_key_fingerprint(pk, fp);
    sodium_bin2hex(hex, SG_KEY_ID_HEX_LEN, fp, (SG_KEY_ID_HEX_LEN - 1) / 2);
}

/* Writes "TAG HEX\n" to `path` with `mode`, refusing to replace a file. */
static sg_error *write_key_line(const char *path, const char *tag, const unsigned char *key, size_t n,
                                mode_t mode) {
    char hex[2 * crypto_sign_SECRETKEYBYTES + 1];
    sodium_bin2hex(hex, sizeof hex, key, n);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        sg_error *err = sg_error_new("%s: %s", path,
                                     errno == EEXIST ? "exists already (not overwritten)" : strerror(errno));
        sodium_memzero(hex, sizeof hex);
        return err;
    }
    char line[256];
    int len = snprintf(line, sizeof line, "%s %s\n", tag, hex);
    sg_error *err = NULL;
    if (fchmod(fd, mode) != 0 || write(fd, line, (size_t)len) != len || fsync(fd) != 0)
        err = sg_error_new("writing %s: %s", path, strerror(errno));
    close(fd);
    sodium_memzero(hex, sizeof hex);
    sodium_memzero(line, sizeof line);
    if (err) unlink(path);
    return err;
}

/* Reads "TAG HEX\n" from `path` into n bytes. */
static sg_error *read_key_line(const char *path, const char *tag, unsigned char *key, size_t n, int secret) {
    if (secret) {
        struct stat st;
        if (stat(path, &st) != 0) return sg_error_new("%s: %s", path, strerror(errno));
        if (st.st_mode & 077)
            return sg_error_new("%s is accessible to group or others (mode %03o): run chmod 600 %s", path,
                                (unsigned)(st.st_mode & 0777), path);
    }
    char *text = NULL;
    size_t len = 0;
    sg_error *err = sg_file_read(path, &text, &len);
    if (err) return err;
    size_t tl = strlen(tag);
    const char *end = NULL;
    size_t got = 0;
    if (len < tl + 1 || memcmp(text, tag, tl) != 0 || text[tl] != ' ') {
        const char *other = !strncmp(text, PUB_TAG, strlen(PUB_TAG))   ? "a licensee public key"
                            : !strncmp(text, SEC_TAG, strlen(SEC_TAG)) ? "a licensee secret key"
                            : !strncmp(text, REL_TAG, strlen(REL_TAG)) ? "a release public key"
                                                                       : "not a stagegate key file";
        err = sg_error_new("%s:1:1: expected a '%s' line, found %s", path, tag, other);
    } else if (sodium_hex2bin(key, n, text + tl + 1, len - tl - 1, NULL, &got, &end) != 0 || got != n ||
               (*end != '\n' && *end != '\0')) {
        err = sg_error_new("%s:1:%zu: expected %zu hex-encoded bytes", path, tl + 2, n);
    }
    sodium_memzero(text, len);
    free(text);
    return err;
}

sg_error *sg_licensee_keygen(const char *base) {
    SG_ASSERT_INIT();
    size_t n = strlen(base) + 5;
    char *pub = malloc(n), *key = malloc(n);
    if (!pub || !key) {
        free(pub);
        free(key);
        return sg_error_new("out of memory");
    }
    snprintf(pub, n, "%s.pub", base);
    snprintf(key, n, "%s.key", base);
    unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    crypto_box_keypair(pk, sk);
    sg_error *err = NULL;
    if (access(pub, F_OK) == 0) err = sg_error_new("%s: exists already (not overwritten)", pub);
    if (!err) err = write_key_line(key, SEC_TAG, sk, sizeof sk, 0600);
    if (!err) {
        err = write_key_line(pub, PUB_TAG, pk, sizeof pk, 0644);
        if (err) unlink(key);
    }
    sodium_memzero(sk, sizeof sk);
    free(pub);
    free(key);
    return err;
}

sg_error *sg_licensee_read_public(const char *path, unsigned char pk[crypto_box_PUBLICKEYBYTES]) {
    return read_key_line(path, PUB_TAG, pk, crypto_box_PUBLICKEYBYTES, 0);
}

sg_error *sg_licensee_read_secret(const char *path, unsigned char pk[crypto_box_PUBLICKEYBYTES],
                                  unsigned char sk[crypto_box_SECRETKEYBYTES]) {
    SG_ASSERT_INIT();
    sg_error *err = read_key_line(path, SEC_TAG, sk, crypto_box_SECRETKEYBYTES, 1);
    if (!err && crypto_scalarmult_base(pk, sk) != 0)
        err = sg_error_new("%s: invalid X25519 secret key", path);
    return err;
}

sg_error *sg_release_public_write(const char *path, const unsigned char pk[crypto_sign_PUBLICKEYBYTES]) {
    char hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
    sodium_bin2hex(hex, sizeof hex, pk, crypto_sign_PUBLICKEYBYTES);
    char line[160];
    int len = snprintf(line, sizeof line, "%s %s\n", REL_TAG, hex);
    return sg_file_write_atomic(path, line, (size_t)len);
}

sg_error *sg_release_public_read(const char *path, unsigned char pk[crypto_sign_PUBLICKEYBYTES]) {
    return read_key_line(path, REL_TAG, pk, crypto_sign_PUBLICKEYBYTES, 0);
}

#define SEALED_LEN (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + crypto_sign_SECRETKEYBYTES)

sg_error *sg_release_key_create(sg_store *store, const char *db_path,
                                unsigned char pk[crypto_sign_PUBLICKEYBYTES]) {
    unsigned char wrap[crypto_secretbox_KEYBYTES], sealed[SEALED_LEN];
    SG_ASSERT_INIT();
    unsigned char *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!sk) return sg_error_new("out of memory");
    sg_error *err = sg_keys_derive_for_db(store, db_path, WRAP_PURPOSE, wrap, sizeof wrap);
    if (!err) {
        crypto_sign_keypair(pk, sk);
        randombytes_buf(sealed, crypto_secretbox_NONCEBYTES);
        crypto_secretbox_easy(sealed + crypto_secretbox_NONCEBYTES, sk, crypto_sign_SECRETKEYBYTES, sealed,
                              wrap);
        err = sg_store_release_key_insert(store, pk, sealed, sizeof sealed, sg_now_ms());
    }
    sodium_memzero(wrap, sizeof wrap);
    sodium_free(sk);
    return err;
}

sg_error *sg_release_key_load(sg_store *store, const char *db_path,
                              unsigned char pk[crypto_sign_PUBLICKEYBYTES],
                              unsigned char sk[crypto_sign_SECRETKEYBYTES]) {
    unsigned char *sealed = NULL;
    size_t n = 0;
    bool found = false;
    sg_error *err = sg_store_release_key_get(store, pk, &sealed, &n, &found);
    if (err) return err;
    if (!found)
        return sg_error_new("no release key in %s: run `stagegate release keygen --db %s -o release.pub`",
                            db_path, db_path);
    unsigned char wrap[crypto_secretbox_KEYBYTES];
    err = sg_keys_derive_for_db(store, db_path, WRAP_PURPOSE, wrap, sizeof wrap);
    if (!err && n != SEALED_LEN)
        err = sg_error_new("stored release key has %zu bytes, expected %d", n, SEALED_LEN);
    if (!err && crypto_secretbox_open_easy(sk, sealed + crypto_secretbox_NONCEBYTES,
                                           n - crypto_secretbox_NONCEBYTES, sealed, wrap) != 0)
        err = sg_error_new(
            "the release key cannot be decrypted: %s.key is not the key file it was created with", db_path);
    unsigned char derived[crypto_sign_PUBLICKEYBYTES];
    if (!err &&
        (crypto_sign_ed25519_sk_to_pk(derived, sk) != 0 || sodium_memcmp(derived, pk, sizeof derived) != 0))
        err = sg_error_new("the stored release key does not match its public key");
    if (err) sodium_memzero(sk, crypto_sign_SECRETKEYBYTES);
    sodium_memzero(wrap, sizeof wrap);
    free(sealed);
    return err;
}
