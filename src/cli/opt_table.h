/* opt_table.h — helpers every subcommand shares: a table-driven option parser
 * writing into a caller's options struct, the usage-error message, and the
 * error report "stagegate CMD: message". */
#ifndef SG_OPT_TABLE_H
#define SG_OPT_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* One option: "--name VALUE" / "--name=VALUE" store a const char * at byte
 * offset off of the options struct; with is_flag, "--name" alone stores a bool
 * true there instead. */
typedef struct {
    const char *name;
    size_t off;
    bool is_flag;
} sg_opt_spec;

/* Prints "stagegate CMD: " fmt (with arg) and the usage text to stderr; returns 2. */
int sg_opt_usage_error(const char *cmd, const char *usage, const char *fmt, const char *arg);

/* Parses argv[first..] against the n_opts options into dst. positional, when not
 * NULL, takes one argument not starting with "--" (else it is an error); with no
 * positional slot, any unknown argument starting with '-' is an unknown option.
 * Returns 0, or 2 after sg_opt_usage_error. */
int sg_opt_parse(const char *cmd, const char *usage, int argc, char **argv, int first,
                 const sg_opt_spec *opts, size_t n_opts, void *dst, const char **positional);

/* Prints err as "stagegate CMD: message" to stderr and frees it; returns 1. */
int sg_cli_fail(const char *cmd, sg_error *err);

#endif
