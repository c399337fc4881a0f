/* check.c — the failure end of the executable preconditions (see check.h). */
#include "base/check.h"

#include <stdio.h>
#include <stdlib.h>

void sg_check_failed(const char *file, int line, const char *func, const char *cond, const char *what) {
    /* Like assert(): the one place the library writes to stderr on its own,
     * because the process is about to abort on a bug. */
    fprintf(stderr, "%s:%d: %s: check failed: %s (%s)\n", file, line, func, cond, what);
    abort();
}

int sg_thread_bind(sg_thread_owner *o) {
    if (!o->bound) {
        o->thread = pthread_self();
        o->bound = 1;
        return 1;
    }
    return pthread_equal(o->thread, pthread_self()) != 0;
}
