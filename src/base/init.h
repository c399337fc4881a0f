/* init.h — the library's one start-up call. A program (main(), every test,
 * fuzzer and bench program) calls sg_init() once before any other stagegate
 * function; it initialises libsodium (its CPU feature selection and random
 * source), so no module calls sodium_init() itself. Calling it again is
 * harmless. Modules that use libsodium check the precondition with
 * SG_ASSERT_INIT() (an assert: a programming error, not a run-time one).
 *
 *     int main(int argc, char **argv) {
 *         sg_error *err = sg_init();
 *         if (err) { fprintf(stderr, "%s\n", sg_error_message(err)); return 1; }
 *         ...
 */
#ifndef SG_INIT_H
#define SG_INIT_H

#include <assert.h>
#include <stdbool.h>

#include "base/error.h"

sg_error *sg_init(void) SG_MUST_CHECK;

/* Whether sg_init() has succeeded. */
bool sg_init_done(void);

#define SG_ASSERT_INIT() assert(sg_init_done() && "sg_init() was not called")

#endif
