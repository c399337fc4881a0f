/* watermark.h — the keyed green-list watermark of Kirchenbauer et al. (2023)
 * and its detector.
 *
 * At each step a secret 64-bit seed is drawn from the 32-byte key and the
 * previous token with keyed BLAKE2b; token v is "green" when a mix of (seed, v)
 * falls below a fraction gamma of the 64-bit range, so a pseudo-random gamma
 * of the vocabulary is green for every context. Generation adds delta to the
 * green logits (an sg_logits_processor). Detection counts green tokens over
 * the unique (previous token, token) pairs of a text, so repeated text cannot
 * inflate the score: z = (green - gamma T) / sqrt(T gamma (1 - gamma)),
 * p = 1 - Phi(z), watermarked when z >= the threshold (4 by default). Without
 * the key the green lists are unpredictable. */
#ifndef SG_WATERMARK_H
#define SG_WATERMARK_H

#include <stdint.h>

#include "base/error.h"
#include "engine/sampler.h"

#define SG_WATERMARK_KEY_BYTES 32

typedef struct sg_watermark sg_watermark;

/* gamma in (0, 1), delta >= 0. The key is copied into locked memory and
 * wiped on free. */
sg_error *sg_watermark_new(const unsigned char key[SG_WATERMARK_KEY_BYTES], double gamma, double delta,
                           sg_watermark **out) SG_MUST_CHECK;
void sg_watermark_free(sg_watermark *wm);

/* The logits processor that adds delta to the green logits given the last
 * token of the sequence (no change before the first token). `wm` must
 * outlive the generation. */
sg_logits_processor sg_watermark_processor(sg_watermark *wm);

/* Is `token` green after `prev`? */
int sg_watermark_is_green(const sg_watermark *wm, int prev, int token);

typedef struct {
    int tokens_scored; /* unique (previous, token) pairs */
    int green;
    double z;
    double p_value;  /* one-sided, 1 - Phi(z) */
    int watermarked; /* z >= threshold */
} sg_watermark_score;

/* Scores tokens[0..n) (the first token only serves as context). */
sg_error *sg_watermark_detect(const sg_watermark *wm, const int *tokens, int n, double z_threshold,
                              sg_watermark_score *out) SG_MUST_CHECK;

#endif
