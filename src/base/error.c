/* error.c — heap-allocated error values with formatted messages. */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sg_error {
    char *message;
};

/* Returned when memory for an error cannot be had; never freed. */
static struct sg_error out_of_memory = {.message = "out of memory"};

static char *vformat(const char *fmt, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (s) vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

sg_error *sg_error_new(const char *fmt, ...) {
    sg_error *err = malloc(sizeof *err);
    if (!err) return &out_of_memory;
    va_list ap;
    va_start(ap, fmt);
    err->message = vformat(fmt, ap);
    va_end(ap);
    if (!err->message) {
        free(err);
        return &out_of_memory;
    }
    return err;
}

sg_error *sg_error_wrap(sg_error *inner, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *context = vformat(fmt, ap);
    va_end(ap);
    if (!context) return inner ? inner : &out_of_memory;
    if (!inner) {
        sg_error *err = malloc(sizeof *err);
        if (!err) {
            free(context);
            return &out_of_memory;
        }
        err->message = context;
        return err;
    }
    if (inner == &out_of_memory) {
        free(context);
        return inner;
    }
    size_t n = strlen(context) + 2 + strlen(inner->message) + 1;
    char *joined = malloc(n);
    if (joined) {
        snprintf(joined, n, "%s: %s", context, inner->message);
        free(inner->message);
        inner->message = joined;
    }
    free(context);
    return inner;
}

const char *sg_error_message(const sg_error *err) { return err ? err->message : "no error"; }

void sg_error_free(sg_error *err) {
    if (!err || err == &out_of_memory) return;
    free(err->message);
    free(err);
}
