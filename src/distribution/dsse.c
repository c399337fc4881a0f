/* dsse.c — DSSE PAE, signing and verification; see dsse.h. */
#include "distribution/dsse.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned char *sg_dsse_pae(const char *type, const unsigned char *payload, size_t n, size_t *out_len) {
    size_t tl = strlen(type);
    char head[96];
    int hl = snprintf(head, sizeof head, "DSSEv1 %zu ", tl);
    char mid[32];
    int ml = snprintf(mid, sizeof mid, " %zu ", n);
    size_t total = (size_t)hl + tl + (size_t)ml + n;
    unsigned char *out = malloc(total ? total : 1);
    if (!out) return NULL;
    unsigned char *p = out;
    memcpy(p, head, (size_t)hl), p += hl;
    memcpy(p, type, tl), p += tl;
    memcpy(p, mid, (size_t)ml), p += ml;
    if (n) memcpy(p, payload, n);
    *out_len = total;
    return out;
}

static char *b64(const unsigned char *bin, size_t n) {
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    if (s) sodium_bin2base64(s, cap, bin, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

sg_error *sg_dsse_sign(const char *type, const unsigned char *payload, size_t n,
                       const unsigned char sk[crypto_sign_SECRETKEYBYTES], const char *keyid,
                       char **envelope) {
    *envelope = NULL;
    size_t pae_len = 0;
    unsigned char *pae = sg_dsse_pae(type, payload, n, &pae_len);
    if (!pae) return sg_error_new("out of memory");
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, pae, pae_len, sk);
    free(pae);
    char *p64 = b64(payload, n), *s64 = b64(sig, sizeof sig);
    json_t *env = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "payloadType", type, "payload", p64 ? p64 : "",
                            "signatures", "keyid", keyid, "sig", s64 ? s64 : "");
    free(p64);
    free(s64);
    if (!env) return sg_error_new("out of memory");
    *envelope = json_dumps(env, JSON_INDENT(2));
    json_decref(env);
    return *envelope ? NULL : sg_error_new("out of memory");
}

static sg_error *unb64(const char *s, unsigned char **out, size_t *n, const char *what) {
    size_t len = strlen(s);
    *out = malloc(len + 1);
    if (!*out) return sg_error_new("out of memory");
    if (sodium_base642bin(*out, len + 1, s, len, NULL, n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(*out);
        *out = NULL;
        return sg_error_new("malformed DSSE envelope: %s is not valid base64", what);
    }
    return NULL;
}

sg_error *sg_dsse_verify(const char *envelope, size_t len, const char *type,
                         const unsigned char pk[crypto_sign_PUBLICKEYBYTES], char **payload,
                         size_t *payload_len) {
    *payload = NULL;
    *payload_len = 0;
    json_error_t jerr;
    json_t *env = json_loadb(envelope, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!env) return sg_error_new("malformed DSSE envelope: %d:%d: %s", jerr.line, jerr.column, jerr.text);
    sg_error *err = NULL;
    const char *ptype = json_string_value(json_object_get(env, "payloadType"));
    const char *p64 = json_string_value(json_object_get(env, "payload"));
    json_t *sigs = json_object_get(env, "signatures");
    unsigned char *body = NULL;
    size_t body_len = 0;
    if (!ptype || !p64 || !json_is_array(sigs)) {
        err = sg_error_new(
            "malformed DSSE envelope: needs string payloadType, string payload, array signatures");
        goto done;
    }
    if (strcmp(ptype, type) != 0) {
        err = sg_error_new("DSSE payloadType is '%s', expected '%s'", ptype, type);
        goto done;
    }
    if ((err = unb64(p64, &body, &body_len, "payload"))) goto done;
    size_t pae_len = 0;
    unsigned char *pae = sg_dsse_pae(ptype, body, body_len, &pae_len);
    if (!pae) {
        err = sg_error_new("out of memory");
        goto done;
    }
    int ok = 0;
    size_t i;
    json_t *s;
    json_array_foreach(sigs, i, s) {
        const char *sig64 = json_string_value(json_object_get(s, "sig"));
        unsigned char *sig = NULL;
        size_t sig_len = 0;
        if (!sig64) continue;
        sg_error *e = unb64(sig64, &sig, &sig_len, "sig");
        if (e) {
            sg_error_free(e);
            continue;
        }
        if (sig_len == crypto_sign_BYTES && crypto_sign_verify_detached(sig, pae, pae_len, pk) == 0) ok = 1;
        free(sig);
        if (ok) break;
    }
    free(pae);
    if (!ok) {
        err = sg_error_new("bad signature: no signature of the manifest verifies with the release key");
        goto done;
    }
    *payload = malloc(body_len + 1);
    if (!*payload) {
        err = sg_error_new("out of memory");
        goto done;
    }
    memcpy(*payload, body, body_len);
    (*payload)[body_len] = '\0';
    *payload_len = body_len;
done:
    free(body);
    json_decref(env);
    return err;
}
