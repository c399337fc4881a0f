/* init.c — the library's start-up call; see init.h. */
#include "base/init.h"

#include <sodium.h>
#include <stdatomic.h>

static atomic_bool initialised;

sg_error *sg_init(void) {
    if (sodium_init() < 0) return sg_error_new("libsodium failed to initialise");
    atomic_store(&initialised, true);
    return NULL;
}

bool sg_init_done(void) { return atomic_load(&initialised); }
