/* utf8.h — UTF-8 validity and character boundaries, in one place.
 *
 * Streams cut text into chunks and filters hold text back; every such cut
 * must fall on a character boundary, and every request body must be valid
 * UTF-8. These are the only functions that look at UTF-8 byte patterns. */
#ifndef SG_UTF8_H
#define SG_UTF8_H

#include <stddef.h>

/* Whether `s[0..n)` is valid UTF-8 (no overlongs, surrogates or > U+10FFFF);
 * on failure, *bad_offset (if non-NULL) is the byte where it goes wrong. */
int sg_utf8_valid(const char *s, size_t n, size_t *bad_offset);

/* Whether byte `c` continues a character (10xxxxxx). */
static inline int sg_utf8_is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

/* The end of the longest prefix of s[0..n) that does not split a character
 * at its end (an incomplete trailing sequence is left out). */
size_t sg_utf8_complete_prefix(const char *s, size_t n);

/* The start of the character that contains byte `at` of s (moves back over
 * at most three continuation bytes). */
size_t sg_utf8_char_start(const char *s, size_t at);

#endif
