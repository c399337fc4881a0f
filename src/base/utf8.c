/* utf8.c — UTF-8 validity and character boundaries (see utf8.h). */
#include "base/utf8.h"

int sg_utf8_valid(const char *str, size_t n, size_t *bad_offset) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07;
        } else {
            break;
        }
        if (i + len > n) break;
        size_t k = 1;
        for (; k < len && sg_utf8_is_continuation(s[i + k]); k++) cp = (cp << 6) | (s[i + k] & 0x3F);
        if (k < len) break;
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) break;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) break;
        i += len;
    }
    if (i == n) return 1;
    if (bad_offset) *bad_offset = i;
    return 0;
}

size_t sg_utf8_complete_prefix(const char *s, size_t n) {
    size_t i = n, back = 0;
    while (i > 0 && back < 4 && sg_utf8_is_continuation((unsigned char)s[i - 1])) i--, back++;
    if (i == 0) return n;
    unsigned char c = (unsigned char)s[i - 1];
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return (n - (i - 1) < need) ? i - 1 : n;
}

size_t sg_utf8_char_start(const char *s, size_t at) {
    for (int back = 0; at > 0 && back < 3 && sg_utf8_is_continuation((unsigned char)s[at]); back++) at--;
    return at;
}
