/* demo_session.h — access to the hosted web demo without API keys.
 *
 * A visitor first solves a small proof-of-work: the server hands out a
 * challenge (issue time, difficulty and randomness, MAC'd so the server keeps
 * no state for it) and the page finds a nonce such that
 * SHA-256(challenge ":" nonce) starts with `bits` zero bits. The answer buys
 * a session cookie carrying the session id, issue time and release stage,
 * MAC'd with a sub-key of the store's secret (DB.key, never the key itself),
 * and a CSRF token bound to the session. Every compare is constant-time.
 * Nothing here knows HTTP; src/server/demo.c puts it on the wire. */
#ifndef SG_DEMO_SESSION_H
#define SG_DEMO_SESSION_H

#include <stdint.h>

#include "base/error.h"

#define SG_DEMO_KEY_BYTES 32
#define SG_DEMO_COOKIE_MAX 80    /* the cookie value, NUL included */
#define SG_DEMO_TOKEN_MAX 65     /* the CSRF token, NUL included */
#define SG_DEMO_CHALLENGE_MAX 96 /* a challenge, NUL included */

/* Derives the demo's sub-key from the store's secret in `key_path` (DB.key). */
sg_error *sg_demo_key_derive(const char *key_path, unsigned char key[SG_DEMO_KEY_BYTES]) SG_MUST_CHECK;

typedef struct {
    uint64_t id;       /* random, never 0; the audit key of the session's requests */
    int64_t issued_ms; /* wall clock */
    int32_t stage;     /* the release stage it was issued at */
} sg_demo_session;

/* A new session (random id) and its cookie value. */
void sg_demo_session_new(const unsigned char key[SG_DEMO_KEY_BYTES], int64_t now_ms, int32_t stage,
                         sg_demo_session *s, char cookie[SG_DEMO_COOKIE_MAX]);
/* Checks a cookie value's MAC and age (issued within max_age_ms, not in the
 * future); 1 and *s filled when valid. */
int sg_demo_session_check(const unsigned char key[SG_DEMO_KEY_BYTES], const char *cookie, int64_t now_ms,
                          int64_t max_age_ms, sg_demo_session *s);
/* The session's CSRF token (hex), and its constant-time check. */
void sg_demo_csrf_token(const unsigned char key[SG_DEMO_KEY_BYTES], const sg_demo_session *s,
                        char token[SG_DEMO_TOKEN_MAX]);
int sg_demo_csrf_check(const unsigned char key[SG_DEMO_KEY_BYTES], const sg_demo_session *s,
                       const char *token);

/* A proof-of-work challenge of `bits` difficulty ("MS.BITS.RAND.MAC", hex). */
void sg_demo_challenge_new(const unsigned char key[SG_DEMO_KEY_BYTES], int64_t now_ms, int bits,
                           char challenge[SG_DEMO_CHALLENGE_MAX]);
typedef enum {
    SG_POW_OK,
    SG_POW_MALFORMED, /* not a challenge of ours (bad MAC or shape) */
    SG_POW_EXPIRED,   /* older than max_age_ms */
    SG_POW_WRONG      /* the nonce does not meet the difficulty */
} sg_pow_result;
sg_pow_result sg_demo_challenge_check(const unsigned char key[SG_DEMO_KEY_BYTES], const char *challenge,
                                      const char *nonce, int64_t now_ms, int64_t max_age_ms);
/* Leading zero bits of SHA-256(challenge ":" nonce). */
int sg_demo_pow_zero_bits(const char *challenge, const char *nonce);

/* The difficulty for the current load: `base` bits, one more per doubling of
 * the load above half the capacity (load = busy / capacity, 0..), capped at base + 8. */
int sg_demo_pow_bits(int base, double load);

#endif
