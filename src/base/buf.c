/* buf.c — the growable byte buffer (see buf.h). */
#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sg_buf_init(sg_buf *b, size_t max) {
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : SG_BUF_DEFAULT_CAP;
    b->deferred = NULL;
}

/* Room for `extra` more bytes plus the NUL. */
static sg_error *buf_reserve(sg_buf *b, size_t extra) {
    if (extra > b->max - b->len)
        return sg_error_new("buffer full: %zu + %zu bytes exceed its cap of %zu", b->len, extra, b->max);
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return NULL;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) return sg_error_new("out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return NULL;
}

sg_error *sg_buf_append(sg_buf *b, const void *data, size_t n) {
    sg_error *err = buf_reserve(b, n);
    if (err) return err;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return NULL;
}

sg_error *sg_buf_puts(sg_buf *b, const char *s) { return sg_buf_append(b, s, strlen(s)); }

sg_error *sg_buf_putc(sg_buf *b, char c) { return sg_buf_append(b, &c, 1); }

sg_error *sg_buf_vprintf(sg_buf *b, const char *fmt, va_list ap) {
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, again);
    va_end(again);
    if (n < 0) return sg_error_new("formatting '%s' failed", fmt);
    sg_error *err = buf_reserve(b, (size_t)n);
    if (err) return err;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return NULL;
}

sg_error *sg_buf_printf(sg_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sg_error *err = sg_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return err;
}

void sg_buf_addf(sg_buf *b, const char *fmt, ...) {
    if (b->deferred) return;
    va_list ap;
    va_start(ap, fmt);
    b->deferred = sg_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void sg_buf_add(sg_buf *b, const void *data, size_t n) {
    if (!b->deferred) b->deferred = sg_buf_append(b, data, n);
}

void sg_buf_reset(sg_buf *b) {
    sg_error_free(b->deferred);
    b->deferred = NULL;
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

sg_error *sg_buf_take(sg_buf *b, char **out, size_t *len) {
    *out = NULL;
    if (b->deferred) {
        sg_error *err = b->deferred;
        b->deferred = NULL;
        sg_buf_free(b);
        return err;
    }
    if (!b->data) {
        sg_error *err = buf_reserve(b, 0);
        if (err) return err;
        b->data[0] = '\0';
    }
    *out = b->data;
    if (len) *len = b->len;
    sg_buf_init(b, b->max);
    return NULL;
}

void sg_buf_free(sg_buf *b) {
    sg_error_free(b->deferred);
    free(b->data);
    sg_buf_init(b, b->max);
}
