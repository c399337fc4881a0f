/* keys.c — API key secrets, their keyed hashes and authentication (keys.h). */
#include "access/keys.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/init.h"
#include "base/log.h"

#define HASH_KEY_BYTES 32
#define SECRET_RANDOM_BYTES 32
#define SECRET_PREFIX "sg-"

struct sg_keys {
    sg_store *store;
    unsigned char hash_key[HASH_KEY_BYTES];
};

char *sg_keys_key_path(const char *db_path) {
    size_t n = strlen(db_path) + 5;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s.key", db_path);
    return p;
}

static sg_error *read_key_file(const char *path, unsigned char key[HASH_KEY_BYTES], bool *missing) {
    *missing = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            *missing = true;
            return NULL;
        }
        return sg_error_new("key file %s: %s", path, strerror(errno));
    }
    struct stat st;
    sg_error *err = NULL;
    if (fstat(fd, &st) != 0)
        err = sg_error_new("key file %s: %s", path, strerror(errno));
    else if (st.st_mode & 077)
        err = sg_error_new("key file %s is accessible to group or others (mode %03o): run chmod 600 %s", path,
                           (unsigned)(st.st_mode & 0777), path);
    else if (st.st_size != HASH_KEY_BYTES)
        err = sg_error_new("key file %s: expected %d bytes, found %lld", path, HASH_KEY_BYTES,
                           (long long)st.st_size);
    else if (read(fd, key, HASH_KEY_BYTES) != HASH_KEY_BYTES)
        err = sg_error_new("key file %s: short read", path);
    close(fd);
    return err;
}

/* Writes a fresh key to a private temporary and links it into place, so that
 * concurrent first uses agree on one key and nobody reads a partial file. */
static sg_error *create_key_file(const char *path) {
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) return sg_error_new("out of memory");
    snprintf(tmp, n, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        sg_error *err = sg_error_new("creating key file %s: %s", path, strerror(errno));
        free(tmp);
        return err;
    }
    unsigned char key[HASH_KEY_BYTES];
    randombytes_buf(key, sizeof key);
    sg_error *err = NULL;
    if (fchmod(fd, 0600) != 0 || write(fd, key, sizeof key) != (ssize_t)sizeof key || fsync(fd) != 0)
        err = sg_error_new("writing key file %s: %s", tmp, strerror(errno));
    sodium_memzero(key, sizeof key);
    close(fd);
    if (!err && link(tmp, path) != 0 && errno != EEXIST)
        err = sg_error_new("creating key file %s: %s", path, strerror(errno));
    unlink(tmp);
    free(tmp);
    return err;
}

sg_error *sg_keys_open(sg_store *store, const char *key_path, sg_keys **out) {
    *out = NULL;
    SG_ASSERT_INIT();
    sg_keys *k = sodium_malloc(sizeof *k);
    if (!k) return sg_error_new("out of memory");
    k->store = store;
    bool missing;
    sg_error *err = read_key_file(key_path, k->hash_key, &missing);
    if (!err && missing) {
        err = create_key_file(key_path);
        if (!err) err = read_key_file(key_path, k->hash_key, &missing);
        if (!err && missing) err = sg_error_new("key file %s vanished after creation", key_path);
    }
    if (err) {
        sodium_free(k);
        return err;
    }
    *out = k;
    return NULL;
}

void sg_keys_close(sg_keys *k) {
    if (k) sodium_free(k); /* zeroes the hashing key */
}

void sg_keys_derive(const sg_keys *k, const char *purpose, unsigned char *out, size_t n) {
    assert(n >= crypto_generichash_BYTES_MIN && n <= crypto_generichash_BYTES_MAX);
    crypto_generichash(out, n, (const unsigned char *)purpose, strlen(purpose), k->hash_key, HASH_KEY_BYTES);
}

sg_error *sg_keys_derive_for_db(sg_store *store, const char *db_path, const char *purpose, unsigned char *out,
                                size_t n) {
    char *key_path = sg_keys_key_path(db_path);
    if (!key_path) return sg_error_new("out of memory");
    sg_keys *keys = NULL;
    sg_error *err = sg_keys_open(store, key_path, &keys);
    if (!err) sg_keys_derive(keys, purpose, out, n);
    sg_keys_close(keys);
    free(key_path);
    return err;
}

static void hash_secret(const sg_keys *k, const char *secret, size_t len, unsigned char out[SG_HASH_BYTES]) {
    crypto_generichash(out, SG_HASH_BYTES, (const unsigned char *)secret, len, k->hash_key, HASH_KEY_BYTES);
}

static bool is_secret_shaped(const char *s, size_t len) {
    if (len != SG_KEY_SECRET_LEN || strncmp(s, SECRET_PREFIX, 3) != 0) return false;
    for (size_t i = 3; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') return false;
    return true;
}

static bool valid_label(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n >= max) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    return true;
}

sg_error *sg_keys_create(sg_keys *k, const sg_key_spec *spec, char secret[SG_KEY_SECRET_LEN + 1],
                         int64_t *id) {
    if (!spec->name || !valid_label(spec->name, SG_KEY_NAME_MAX))
        return sg_error_new("key name must be 1-%d printable characters", SG_KEY_NAME_MAX - 1);
    if (!spec->audience || !valid_label(spec->audience, SG_KEY_AUDIENCE_MAX))
        return sg_error_new("audience must be 1-%d printable characters", SG_KEY_AUDIENCE_MAX - 1);
    if (spec->rpm < 0 || spec->tpm < 0) return sg_error_new("rate limits must not be negative");
    unsigned char raw[SECRET_RANDOM_BYTES];
    randombytes_buf(raw, sizeof raw);
    memcpy(secret, SECRET_PREFIX, 3);
    sodium_bin2base64(secret + 3, SG_KEY_SECRET_LEN + 1 - 3, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    sg_key_record rec;
    memset(&rec, 0, sizeof rec);
    snprintf(rec.name, sizeof rec.name, "%s", spec->name);
    snprintf(rec.audience, sizeof rec.audience, "%s", spec->audience);
    snprintf(rec.hint, sizeof rec.hint, "%s", secret + SG_KEY_SECRET_LEN - 4);
    hash_secret(k, secret, SG_KEY_SECRET_LEN, rec.hash);
    rec.rpm = spec->rpm;
    rec.tpm = spec->tpm;
    rec.created_ms = sg_now_ms();
    rec.expires_ms = spec->expires_ms;
    sg_error *err = sg_store_key_insert(k->store, &rec, id);
    if (err) sodium_memzero(secret, SG_KEY_SECRET_LEN + 1);
    return err;
}

const char *sg_auth_result_message(sg_auth_result r) {
    switch (r) {
    case SG_AUTH_OK:
        return "ok";
    case SG_AUTH_MISSING:
        return "no API key provided: send the header 'Authorization: Bearer sg-...'";
    case SG_AUTH_MALFORMED:
        return "malformed Authorization header: expected 'Bearer sg-...' with a stagegate key";
    case SG_AUTH_UNKNOWN:
        return "incorrect API key provided";
    case SG_AUTH_REVOKED:
        return "the API key has been revoked";
    case SG_AUTH_EXPIRED:
        return "the API key has expired";
    }
    return "unknown authentication result";
}

/* Extracts the token of "Bearer TOKEN" (scheme case-insensitive, surrounding
 * blanks allowed). */
static bool bearer_token(const char *h, const char **tok, size_t *len) {
    while (*h == ' ' || *h == '\t') h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t')) return false;
    h += 6;
    while (*h == ' ' || *h == '\t') h++;
    size_t n = strlen(h);
    while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t')) n--;
    *tok = h;
    *len = n;
    return n > 0;
}

/* Looks a well-shaped secret up and re-checks the hash in constant time. */
static sg_error *lookup_secret(sg_keys *k, const char *secret, size_t len, sg_key_record *rec, bool *found) {
    unsigned char h[SG_HASH_BYTES];
    hash_secret(k, secret, len, h);
    sg_error *err = sg_store_key_by_hash(k->store, h, rec, found);
    if (!err && *found && sodium_memcmp(h, rec->hash, SG_HASH_BYTES) != 0) *found = false;
    sodium_memzero(h, sizeof h);
    return err;
}

sg_error *sg_keys_authenticate(sg_keys *k, const char *authorization, int64_t now_ms, sg_principal *out,
                               sg_auth_result *result) {
    memset(out, 0, sizeof *out);
    if (!authorization) {
        *result = SG_AUTH_MISSING;
        return NULL;
    }
    const char *tok;
    size_t len;
    if (!bearer_token(authorization, &tok, &len) || !is_secret_shaped(tok, len)) {
        *result = SG_AUTH_MALFORMED;
        return NULL;
    }
    sg_key_record rec;
    bool found;
    sg_error *err = lookup_secret(k, tok, len, &rec, &found);
    if (err) return sg_error_wrap(err, "authenticating");
    if (!found)
        *result = SG_AUTH_UNKNOWN;
    else if (rec.revoked_ms)
        *result = SG_AUTH_REVOKED;
    else if (rec.expires_ms && now_ms >= rec.expires_ms)
        *result = SG_AUTH_EXPIRED;
    else
        *result = SG_AUTH_OK;
    if (*result != SG_AUTH_OK) return NULL;
    out->key_id = rec.id;
    memcpy(out->name, rec.name, sizeof out->name);
    memcpy(out->audience, rec.audience, sizeof out->audience);
    out->rpm = rec.rpm;
    out->tpm = rec.tpm;
    out->expires_ms = rec.expires_ms;
    return NULL;
}

sg_error *sg_keys_find(sg_keys *k, const char *ref, sg_key_record *out, bool *found) {
    *found = false;
    size_t len = strlen(ref);
    if (len > 0 && len <= 18 && strspn(ref, "0123456789") == len) {
        long long id = strtoll(ref, NULL, 10);
        return sg_store_key_get(k->store, id, out, found);
    }
    if (is_secret_shaped(ref, len)) return lookup_secret(k, ref, len, out, found);
    return sg_error_new("'%.20s%s' is neither a key id nor a key secret (sg-...)", ref,
                        len > 20 ? "..." : "");
}

sg_error *sg_keys_revoke(sg_keys *k, const char *ref, int64_t now_ms, int64_t *id, bool *already) {
    sg_key_record rec;
    bool found;
    *already = false;
    sg_error *err = sg_keys_find(k, ref, &rec, &found);
    if (err) return err;
    if (!found) {
        bool numeric = strspn(ref, "0123456789") == strlen(ref);
        return numeric ? sg_error_new("no key with id %s", ref) : sg_error_new("no key with that secret");
    }
    *id = rec.id;
    bool changed;
    if ((err = sg_store_key_revoke(k->store, rec.id, now_ms, &changed))) return err;
    *already = !changed;
    return NULL;
}

sg_error *sg_parse_duration_ms(const char *text, int64_t *ms) {
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (end == text || errno || n <= 0 || !isdigit((unsigned char)text[0]))
        return sg_error_new("duration '%s': expected a positive number and a unit (s, m, h, d, w), e.g. 30d",
                            text);
    int64_t unit;
    if (!strcmp(end, "s"))
        unit = 1000;
    else if (!strcmp(end, "m"))
        unit = 60 * 1000;
    else if (!strcmp(end, "h"))
        unit = 3600 * 1000;
    else if (!strcmp(end, "d"))
        unit = 86400 * 1000;
    else if (!strcmp(end, "w"))
        unit = 7LL * 86400 * 1000;
    else
        return sg_error_new("duration '%s': unknown unit '%s' (use s, m, h, d or w)", text, end);
    if (n > INT64_MAX / unit) return sg_error_new("duration '%s' is too long", text);
    *ms = n * unit;
    return NULL;
}
