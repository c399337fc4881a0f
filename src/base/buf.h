/* buf.h — the one growable byte buffer: appends that fail loudly.
 *
 * An sg_buf grows on demand up to a cap chosen at init; an append that would
 * pass the cap (or cannot allocate) returns an error and leaves the buffer as
 * it was, so text is never dropped silently. `data` is always NUL-terminated
 * after a successful append (or NULL while the buffer is empty).
 *
 *     sg_buf b;
 *     sg_buf_init(&b, SG_BUF_DEFAULT_CAP);
 *     sg_error *err = sg_buf_printf(&b, "%d tokens", n);
 *     ...
 *     sg_buf_free(&b);
 */
#ifndef SG_BUF_H
#define SG_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "base/error.h"

/* The default cap: 64 MiB, more than any response, report or card. */
#define SG_BUF_DEFAULT_CAP ((size_t)64 << 20)

typedef struct {
    char *data;         /* NUL-terminated contents, or NULL while empty */
    size_t len;         /* bytes in use, not counting the NUL */
    size_t cap;         /* bytes allocated */
    size_t max;         /* the largest `len` this buffer accepts */
    sg_error *deferred; /* the first failure of sg_buf_addf, handed out by sg_buf_take */
} sg_buf;

/* An empty buffer that accepts at most `max` bytes (0: SG_BUF_DEFAULT_CAP). */
void sg_buf_init(sg_buf *b, size_t max);
sg_error *sg_buf_append(sg_buf *b, const void *data, size_t n) SG_MUST_CHECK;
sg_error *sg_buf_puts(sg_buf *b, const char *s) SG_MUST_CHECK;
sg_error *sg_buf_putc(sg_buf *b, char c) SG_MUST_CHECK;
sg_error *sg_buf_printf(sg_buf *b, const char *fmt, ...) SG_PRINTF(2, 3) SG_MUST_CHECK;
sg_error *sg_buf_vprintf(sg_buf *b, const char *fmt, va_list ap) SG_MUST_CHECK;
/* For generators that write many pieces (reports, cards, tables): appends
 * like sg_buf_printf, but a failure is kept in the buffer instead of being
 * returned; later appends are then ignored and sg_buf_take returns it. */
void sg_buf_addf(sg_buf *b, const char *fmt, ...) SG_PRINTF(2, 3);
/* The same for raw bytes. */
void sg_buf_add(sg_buf *b, const void *data, size_t n);
/* Forgets the contents (and a deferred failure) but keeps the allocation. */
void sg_buf_reset(sg_buf *b);
/* Hands the contents to the caller (malloc'd, NUL-terminated, never NULL on
 * success) and leaves the buffer empty; or returns the deferred failure of
 * sg_buf_addf (and frees the contents). */
sg_error *sg_buf_take(sg_buf *b, char **out, size_t *len) SG_MUST_CHECK;
void sg_buf_free(sg_buf *b);

#endif
