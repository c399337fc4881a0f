/* watermark.c — green-list watermark and detector; see watermark.h. */
#include "safety/watermark.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/init.h"

struct sg_watermark {
    unsigned char *key; /* sodium_malloc'd, SG_WATERMARK_KEY_BYTES */
    double gamma, delta;
    uint64_t threshold; /* green when mix(seed, token) < threshold */
};

sg_error *sg_watermark_new(const unsigned char key[SG_WATERMARK_KEY_BYTES], double gamma, double delta,
                           sg_watermark **out) {
    *out = NULL;
    if (!(gamma > 0 && gamma < 1)) return sg_error_new("watermark gamma must be in (0, 1), got %g", gamma);
    if (!(delta >= 0 && isfinite(delta))) return sg_error_new("watermark delta must be >= 0, got %g", delta);
    SG_ASSERT_INIT();
    sg_watermark *wm = calloc(1, sizeof *wm);
    if (!wm || !(wm->key = sodium_malloc(SG_WATERMARK_KEY_BYTES))) {
        free(wm);
        return sg_error_new("out of memory");
    }
    memcpy(wm->key, key, SG_WATERMARK_KEY_BYTES);
    wm->gamma = gamma;
    wm->delta = delta;
    wm->threshold = (uint64_t)(gamma * 18446744073709551616.0);
    *out = wm;
    return NULL;
}

void sg_watermark_free(sg_watermark *wm) {
    if (!wm) return;
    sodium_free(wm->key); /* wipes before freeing */
    free(wm);
}

/* The secret per-context seed: BLAKE2b keyed with the watermark key. */
static uint64_t context_seed(const sg_watermark *wm, int prev) {
    unsigned char in[4] = {(unsigned char)prev, (unsigned char)(prev >> 8), (unsigned char)(prev >> 16),
                           (unsigned char)(prev >> 24)};
    unsigned char h[8];
    crypto_generichash(h, sizeof h, in, sizeof in, wm->key, SG_WATERMARK_KEY_BYTES);
    uint64_t s = 0;
    for (int i = 0; i < 8; i++) s |= (uint64_t)h[i] << (8 * i);
    return s;
}

/* A 64-bit mixer (splitmix64's finaliser) of the seed and the token. */
static uint64_t mix(uint64_t seed, int token) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * ((uint64_t)(uint32_t)token + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int sg_watermark_is_green(const sg_watermark *wm, int prev, int token) {
    return mix(context_seed(wm, prev), token) < wm->threshold;
}

static void apply(void *ctx, const int *tokens, int n_tokens, float *logits, int vocab) {
    const sg_watermark *wm = ctx;
    if (n_tokens <= 0) return;
    uint64_t seed = context_seed(wm, tokens[n_tokens - 1]);
    float d = (float)wm->delta;
    for (int v = 0; v < vocab; v++)
        if (mix(seed, v) < wm->threshold) logits[v] += d;
}

sg_logits_processor sg_watermark_processor(sg_watermark *wm) { return (sg_logits_processor){apply, wm}; }

sg_error *sg_watermark_detect(const sg_watermark *wm, const int *tokens, int n, double z_threshold,
                              sg_watermark_score *out) {
    memset(out, 0, sizeof *out);
    out->p_value = 1;
    if (n < 2) return NULL;
    /* Open-addressing set of the (prev, token) pairs already scored. */
    size_t cap = 16;
    while (cap < 2 * (size_t)n) cap *= 2;
    uint64_t *set = malloc(cap * sizeof *set);
    if (!set) return sg_error_new("out of memory");
    memset(set, 0xFF, cap * sizeof *set); /* all ones = empty: tokens are < 2^31 */
    for (int i = 1; i < n; i++) {
        uint64_t key = (uint64_t)(uint32_t)tokens[i - 1] << 32 | (uint32_t)tokens[i];
        size_t h = (size_t)(mix(0, (int)(key ^ (key >> 29))) & (cap - 1));
        while (set[h] != UINT64_MAX && set[h] != key) h = (h + 1) & (cap - 1);
        if (set[h] == key) continue;
        set[h] = key;
        out->tokens_scored++;
        out->green += sg_watermark_is_green(wm, tokens[i - 1], tokens[i]);
    }
    free(set);
    double t = out->tokens_scored, g = wm->gamma;
    out->z = (out->green - g * t) / sqrt(t * g * (1 - g));
    out->p_value = 0.5 * erfc(out->z / sqrt(2.0));
    out->watermarked = out->z >= z_threshold;
    return NULL;
}
