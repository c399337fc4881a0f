/* demo_session.c — demo sessions, CSRF tokens and proof-of-work; see demo_session.h. */
#include "access/demo_session.h"

#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"

static const char PURPOSE[] = "stagegate demo session key v1";
#define MAC_BYTES 16

sg_error *sg_demo_key_derive(const char *key_path, unsigned char key[SG_DEMO_KEY_BYTES]) {
    if (sodium_init() < 0) return sg_error_new("libsodium failed to initialise");
    char *secret = NULL;
    size_t n = 0;
    sg_error *err = sg_file_read(key_path, &secret, &n);
    if (!err && n != 32) err = sg_error_new("%s: expected 32 bytes, found %zu", key_path, n);
    if (!err)
        crypto_generichash(key, SG_DEMO_KEY_BYTES, (const unsigned char *)PURPOSE, sizeof PURPOSE - 1,
                           (const unsigned char *)secret, 32);
    if (secret) {
        sodium_memzero(secret, n);
        free(secret);
    }
    return err ? sg_error_wrap(err, "the demo's session key") : NULL;
}

/* A keyed BLAKE2b MAC of `msg` with a domain label. */
static void mac(const unsigned char key[SG_DEMO_KEY_BYTES], const char *label, const void *msg, size_t n,
                unsigned char *out, size_t out_n) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, SG_DEMO_KEY_BYTES, out_n);
    crypto_generichash_update(&st, (const unsigned char *)label, strlen(label) + 1);
    crypto_generichash_update(&st, msg, n);
    crypto_generichash_final(&st, out, out_n);
}

static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (56 - 8 * i));
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

#define PAYLOAD 20 /* id 8, issued 8, stage 4 */

static void encode(const unsigned char key[SG_DEMO_KEY_BYTES], const sg_demo_session *s,
                   char cookie[SG_DEMO_COOKIE_MAX]) {
    unsigned char raw[PAYLOAD + MAC_BYTES];
    put_u64(raw, s->id);
    put_u64(raw + 8, (uint64_t)s->issued_ms);
    for (int i = 0; i < 4; i++) raw[16 + i] = (unsigned char)((uint32_t)s->stage >> (24 - 8 * i));
    mac(key, "session", raw, PAYLOAD, raw + PAYLOAD, MAC_BYTES);
    sodium_bin2hex(cookie, SG_DEMO_COOKIE_MAX, raw, sizeof raw);
}

void sg_demo_session_new(const unsigned char key[SG_DEMO_KEY_BYTES], int64_t now_ms, int32_t stage,
                         sg_demo_session *s, char cookie[SG_DEMO_COOKIE_MAX]) {
    do {
        randombytes_buf(&s->id, sizeof s->id);
        s->id &= INT64_MAX; /* an audit key must fit a signed 64-bit integer */
    } while (!s->id);
    s->issued_ms = now_ms;
    s->stage = stage;
    encode(key, s, cookie);
}

int sg_demo_session_check(const unsigned char key[SG_DEMO_KEY_BYTES], const char *cookie, int64_t now_ms,
                          int64_t max_age_ms, sg_demo_session *s) {
    unsigned char raw[PAYLOAD + MAC_BYTES], want[MAC_BYTES];
    size_t n = 0;
    if (!cookie || strlen(cookie) != 2 * sizeof raw ||
        sodium_hex2bin(raw, sizeof raw, cookie, strlen(cookie), NULL, &n, NULL) || n != sizeof raw)
        return 0;
    mac(key, "session", raw, PAYLOAD, want, MAC_BYTES);
    if (sodium_memcmp(want, raw + PAYLOAD, MAC_BYTES)) return 0;
    sg_demo_session t;
    t.id = get_u64(raw);
    t.issued_ms = (int64_t)get_u64(raw + 8);
    t.stage = (int32_t)((uint32_t)raw[16] << 24 | (uint32_t)raw[17] << 16 | (uint32_t)raw[18] << 8 | raw[19]);
    if (!t.id || t.issued_ms > now_ms + 60000 || now_ms - t.issued_ms > max_age_ms) return 0;
    *s = t;
    return 1;
}

void sg_demo_csrf_token(const unsigned char key[SG_DEMO_KEY_BYTES], const sg_demo_session *s,
                        char token[SG_DEMO_TOKEN_MAX]) {
    unsigned char id[16], out[32];
    put_u64(id, s->id);
    put_u64(id + 8, (uint64_t)s->issued_ms);
    mac(key, "csrf", id, sizeof id, out, sizeof out);
    sodium_bin2hex(token, SG_DEMO_TOKEN_MAX, out, sizeof out);
}

int sg_demo_csrf_check(const unsigned char key[SG_DEMO_KEY_BYTES], const sg_demo_session *s,
                       const char *token) {
    char want[SG_DEMO_TOKEN_MAX];
    sg_demo_csrf_token(key, s, want);
    if (!token || strlen(token) != SG_DEMO_TOKEN_MAX - 1) return 0;
    return sodium_memcmp(want, token, SG_DEMO_TOKEN_MAX - 1) == 0;
}

void sg_demo_challenge_new(const unsigned char key[SG_DEMO_KEY_BYTES], int64_t now_ms, int bits,
                           char challenge[SG_DEMO_CHALLENGE_MAX]) {
    unsigned char rnd[12], m[MAC_BYTES];
    char rhex[25], mhex[2 * MAC_BYTES + 1], head[56];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(rhex, sizeof rhex, rnd, sizeof rnd);
    snprintf(head, sizeof head, "%" PRIx64 ".%d.%s", (uint64_t)now_ms, bits, rhex);
    mac(key, "challenge", head, strlen(head), m, MAC_BYTES);
    sodium_bin2hex(mhex, sizeof mhex, m, MAC_BYTES);
    snprintf(challenge, SG_DEMO_CHALLENGE_MAX, "%s.%s", head, mhex);
}

int sg_demo_pow_zero_bits(const char *challenge, const char *nonce) {
    crypto_hash_sha256_state st;
    unsigned char h[32];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)challenge, strlen(challenge));
    crypto_hash_sha256_update(&st, (const unsigned char *)":", 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)nonce, strlen(nonce));
    crypto_hash_sha256_final(&st, h);
    int z = 0;
    for (int i = 0; i < 32; i++) {
        if (!h[i]) {
            z += 8;
            continue;
        }
        for (int b = 7; b >= 0 && !(h[i] >> b & 1); b--) z++;
        break;
    }
    return z;
}

sg_pow_result sg_demo_challenge_check(const unsigned char key[SG_DEMO_KEY_BYTES], const char *challenge,
                                      const char *nonce, int64_t now_ms, int64_t max_age_ms) {
    if (!challenge || !nonce || strlen(challenge) >= SG_DEMO_CHALLENGE_MAX || !*nonce || strlen(nonce) > 32)
        return SG_POW_MALFORMED;
    const char *dot = strrchr(challenge, '.');
    if (!dot || strlen(dot + 1) != 2 * MAC_BYTES) return SG_POW_MALFORMED;
    unsigned char want[MAC_BYTES], got[MAC_BYTES];
    size_t n = 0;
    if (sodium_hex2bin(got, sizeof got, dot + 1, 2 * MAC_BYTES, NULL, &n, NULL) || n != MAC_BYTES)
        return SG_POW_MALFORMED;
    mac(key, "challenge", challenge, (size_t)(dot - challenge), want, MAC_BYTES);
    if (sodium_memcmp(want, got, MAC_BYTES)) return SG_POW_MALFORMED;
    uint64_t ms = 0;
    int bits = 0;
    if (sscanf(challenge, "%" SCNx64 ".%d.", &ms, &bits) != 2 || bits < 0 || bits > 64)
        return SG_POW_MALFORMED;
    if ((int64_t)ms > now_ms + 60000 || now_ms - (int64_t)ms > max_age_ms) return SG_POW_EXPIRED;
    return sg_demo_pow_zero_bits(challenge, nonce) >= bits ? SG_POW_OK : SG_POW_WRONG;
}

int sg_demo_pow_bits(int base, double load) {
    int extra = 0;
    for (double l = load; l > 0.5 && extra < 8; l /= 2) extra++;
    return base + extra;
}
