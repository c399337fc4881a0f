/* tokenizer.h — GPT-2 byte-level BPE: loads vocab.json + merges.txt (the
 * Hugging Face layout) and encodes/decodes exactly like GPT-2.
 *
 * Encoding: the text is split by GPT-2's pre-tokenizer regex (PCRE2, JIT,
 * UTF + UCP), each pre-token's bytes are mapped to byte tokens and merged in
 * merge-rank order (lowest rank first, every occurrence left to right).
 *
 * Invalid UTF-8. GPT-2's encoder.py, tiktoken and HF tokenizers all take
 * Unicode strings, so none of them can be handed invalid UTF-8 (tiktoken
 * replaces lone surrogates by U+FFFD, losing them). Here the regex runs with
 * PCRE2_MATCH_INVALID_UTF: an invalid sequence never matches and acts as a
 * boundary, like the end of the text for the pre-token before it and the
 * start for the one after. Each maximal run of bytes left between matches
 * (only invalid bytes can be left: every valid character matches one of the
 * alternatives) becomes one pre-token, merged at byte level like any other.
 * So decode(encode(x)) == x for every byte string x, and valid UTF-8 encodes
 * exactly as GPT-2 does.
 *
 * Whitespace. PCRE2's \s under UCP is Unicode White_Space, as in the Python
 * `regex` module that GPT-2 used (and tiktoken's Rust regex): U+0085 is
 * whitespace, U+FEFF is not. The JavaScript reference (gpt-3-encoder) differs
 * on exactly these two characters. One known difference from Python remains:
 * PCRE2 counts U+180E (Mongolian vowel separator, whitespace before Unicode
 * 6.3) as whitespace. \p{L} and \p{N} follow the Unicode tables of the
 * installed PCRE2 (10.42: Unicode 14), so letters added to Unicode later are
 * classed as "other" until PCRE2 is upgraded.
 *
 * A loaded tokenizer is immutable except for an internal cache of
 * pre-token -> ids guarded by a read-write lock: every function here may be
 * called from several threads at once on one tokenizer. */
#ifndef SG_TOKENIZER_H
#define SG_TOKENIZER_H

#include <stddef.h>

#include "base/error.h"

typedef struct sg_tokenizer sg_tokenizer;

#define SG_TOKENIZER_EOT_TEXT "<|endoftext|>"

/* Loads `dir`/vocab.json and `dir`/merges.txt. Errors name the file and line. */
sg_error *sg_tokenizer_load(const char *dir, sg_tokenizer **out) SG_MUST_CHECK;
void sg_tokenizer_free(sg_tokenizer *t);

/* Encodes `len` bytes of `text` into a malloc'd array *ids of *n_ids ids
 * (*ids may be NULL when *n_ids is 0; free it either way). With allow_special,
 * "<|endoftext|>" becomes the end-of-text id; otherwise it is ordinary text. */
sg_error *sg_tokenizer_encode(const sg_tokenizer *t, const char *text, size_t len, int allow_special,
                              int **ids, int *n_ids) SG_MUST_CHECK;

/* Decodes ids into a malloc'd byte buffer (NUL-terminated, *len excludes the
 * NUL). An id outside [0, vocab size) is an error naming its position. */
sg_error *sg_tokenizer_decode(const sg_tokenizer *t, const int *ids, int n, char **bytes,
                              size_t *len) SG_MUST_CHECK;

/* The raw bytes of one token (not NUL-terminated), or NULL for a bad id. */
const char *sg_tokenizer_token_bytes(const sg_tokenizer *t, int id, size_t *len);

int sg_tokenizer_vocab_size(const sg_tokenizer *t);
/* The id of "<|endoftext|>", or -1 when the vocabulary has none. */
int sg_tokenizer_eot(const sg_tokenizer *t);

/* GPT-2's byte <-> unicode map, shared with BPE training: the code point that
 * stands for byte b in vocab.json/merges.txt, and the inverse (-1 when the code
 * point stands for no byte). */
unsigned sg_bpe_byte_to_cp(unsigned char b);
int sg_bpe_cp_to_byte(unsigned cp);
/* The i-th byte in GPT-2's base-vocabulary order (ids 0..255 of GPT-2's vocab). */
unsigned char sg_bpe_base_byte(int i);

/* GPT-2's pre-tokenizer, exposed for BPE training. A compiled splitter is
 * shareable between threads; each call allocates its own match state.
 * `fn` is called with each pre-token in order (their concatenation is the
 * input); a non-NULL error from fn stops the walk and is returned. */
typedef struct sg_pretok sg_pretok;
sg_error *sg_pretok_new(sg_pretok **out) SG_MUST_CHECK;
void sg_pretok_free(sg_pretok *p);
typedef sg_error *(*sg_pretok_fn)(void *ctx, const unsigned char *piece, size_t len);
sg_error *sg_pretok_split(const sg_pretok *p, const unsigned char *text, size_t len, sg_pretok_fn fn,
                          void *ctx) SG_MUST_CHECK;

#endif
