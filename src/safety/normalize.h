/* normalize.h — text to the evasion-resistant form the content filter matches
 * on, with a map from every normalised byte back to the original bytes.
 *
 * Per code point: Unicode compatibility decomposition (the K of NFKC: fullwidth,
 * math alphanumerics, ligatures), default-ignorable characters (zero-width
 * joiners, soft hyphens) dropped, combining marks stripped; then a confusables
 * table (Cyrillic, Greek and other look-alikes to a Latin skeleton, with l and
 * I folded into i), case folding, and leetspeak (4->a, 3->e, $->s, ...) applied
 * only inside tokens that contain a letter, and to a symbol only when a letter
 * or digit follows it in the token or it ends a word and is not a plain '!',
 * so "$5" and "hello!" stay as they are while "$pam" and "nude$" do not.
 * Words come out separated by one space, with a space at both ends, and runs of
 * the same character collapse to one ("kiiill" and "k1ll" both read "ki").
 * Patterns go through exactly the same transform, so doubled letters agree.
 *
 * Two views: SG_NORM_WORDS keeps every separator as a word boundary;
 * SG_NORM_JOINED also removes separators inside words ("s.p.a.m") and spaces
 * between one-character tokens ("s p a m"). The filter matches both. */
#ifndef SG_NORMALIZE_H
#define SG_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef enum { SG_NORM_WORDS, SG_NORM_JOINED } sg_norm_view;

typedef struct {
    char *text; /* normalised UTF-8, NUL-terminated, " word word " */
    size_t len;
    size_t *orig_start; /* [len]: first original byte behind normalised byte i */
    size_t *orig_end;   /* [len]: one past the last original byte behind byte i */
} sg_norm_text;

typedef struct sg_normalizer sg_normalizer;

/* A normaliser with the default leetspeak table plus `n_leet` extra mappings:
 * leet_from[i] (one character) reads as leet_to[i] (one character). */
sg_error *sg_normalizer_new(char *const *leet_from, char *const *leet_to, int n_leet,
                            sg_normalizer **out) SG_MUST_CHECK;
void sg_normalizer_free(sg_normalizer *nz);

/* Normalises `len` bytes of `text` (invalid UTF-8 bytes become separators). */
sg_error *sg_normalize(const sg_normalizer *nz, const char *text, size_t len, sg_norm_view view,
                       sg_norm_text *out) SG_MUST_CHECK;
void sg_norm_text_free(sg_norm_text *t);

/* The skeleton of one code point after decomposition (confusables and case
 * folding, no leetspeak); exposed for tests. */
uint32_t sg_skeleton_char(uint32_t cp);

#endif
