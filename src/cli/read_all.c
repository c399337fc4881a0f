/* read_all.c — see read_all.h. */
#include "cli/read_all.h"

#include <stdlib.h>

char *sg_read_stream(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0, k;
    char *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == cap) {
            char *p = realloc(buf, cap *= 2);
            if (!p) free(buf);
            buf = p;
        }
    }
    if (!buf) return NULL;
    buf[n] = '\0';
    *len = n;
    return buf;
}
