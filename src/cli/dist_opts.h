/* dist_opts.h — the option parsing shared by the downloadable-release
 * commands (licensee, release, pack, unpack, verify, trace). */
#ifndef SG_DIST_OPTS_H
#define SG_DIST_OPTS_H

#include "base/error.h"

/* Parses argv[first..] into values[i] for "--names[i] VALUE" / "--names[i]=VALUE"
 * (names is NULL-terminated; a name ending in '!' is a flag without value, set
 * to "1") and up to max_pos positional arguments. Returns 0, or 2 after
 * printing "stagegate CMD: ..." and the usage text to stderr. "--help"/"-h"
 * print the usage to stdout and return 1. */
int sg_dist_parse(const char *cmd, const char *usage, int argc, char **argv, int first,
                  const char *const *names, const char **values, const char **positional, int max_pos,
                  int *n_pos);
/* Prints "stagegate CMD: message", frees err, returns 1. */
int sg_dist_fail(const char *cmd, sg_error *err);
/* Prints "stagegate CMD: what" and the usage to stderr, returns 2. */
int sg_dist_usage(const char *cmd, const char *usage, const char *what);

#endif
