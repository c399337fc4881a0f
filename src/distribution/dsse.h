/* dsse.h — DSSE envelopes (Dead Simple Signing Envelope, as used by in-toto
 * and sigstore) signed with Ed25519.
 *
 * The signature covers PAE(payloadType, payload) =
 *   "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload
 * (LEN = ASCII decimal byte count, SP = one space), never the JSON. The
 * envelope is {"payloadType", "payload" (standard base64), "signatures":
 * [{"keyid", "sig" (standard base64)}]}. */
#ifndef SG_DSSE_H
#define SG_DSSE_H

#include <stddef.h>

#include <sodium.h>

#include "base/error.h"

#define SG_INTOTO_PAYLOAD_TYPE "application/vnd.in-toto+json"

/* The pre-authentication encoding into a malloc'd buffer (NULL on OOM). */
unsigned char *sg_dsse_pae(const char *type, const unsigned char *payload, size_t n, size_t *out_len);

/* A malloc'd envelope JSON signed with `sk` (Ed25519). */
sg_error *sg_dsse_sign(const char *type, const unsigned char *payload, size_t n,
                       const unsigned char sk[crypto_sign_SECRETKEYBYTES], const char *keyid,
                       char **envelope) SG_MUST_CHECK;

/* Parses `envelope` and checks that a signature verifies with `pk`. On
 * success *payload (malloc'd, NUL-terminated) holds the payload; its type must
 * be `type`. Errors say whether the envelope is malformed or the signature
 * does not verify. */
sg_error *sg_dsse_verify(const char *envelope, size_t len, const char *type,
                         const unsigned char pk[crypto_sign_PUBLICKEYBYTES], char **payload,
                         size_t *payload_len) SG_MUST_CHECK;

#endif
