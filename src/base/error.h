/* error.h — the error value that every fallible stagegate function returns.
 *
 * A function that can fail returns `sg_error *`: NULL on success, otherwise an
 * owned error carrying a human-readable message. The caller either handles it
 * (and calls sg_error_free) or passes it up, optionally wrapped with context:
 *
 *     sg_error *err = sg_checkpoint_open(dir, &ck);
 *     if (err) return sg_error_wrap(err, "loading model %s", name);
 */
#ifndef SG_ERROR_H
#define SG_ERROR_H

#define SG_MUST_CHECK __attribute__((warn_unused_result))
#define SG_PRINTF(a, b) __attribute__((format(printf, a, b)))

typedef struct sg_error sg_error;

/* A new error with a printf-formatted message. Never returns NULL. */
sg_error *sg_error_new(const char *fmt, ...) SG_PRINTF(1, 2) SG_MUST_CHECK;

/* Prefix `inner`'s message with context ("context: inner"); takes ownership
 * of inner and returns it (or a new error if inner was NULL). */
sg_error *sg_error_wrap(sg_error *inner, const char *fmt, ...) SG_PRINTF(2, 3) SG_MUST_CHECK;

const char *sg_error_message(const sg_error *err);
void sg_error_free(sg_error *err);

#endif
