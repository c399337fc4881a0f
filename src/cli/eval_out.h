/* eval_out.h — the ending shared by the evaluation commands (detect-eval,
 * watermark-eval, filter-eval): save the JSON result to --out, report an error,
 * print the result as JSON. */
#ifndef SG_EVAL_OUT_H
#define SG_EVAL_OUT_H

#include <jansson.h>

#include "base/error.h"

/* When err is NULL and out_path is set, writes r there (atomically, indented).
 * If err (or that write) failed: prints "stagegate CMD: message", frees err and
 * r, returns 1. Otherwise returns 0 and r stays the caller's. */
int sg_eval_save(const char *cmd, sg_error *err, json_t *r, const char *out_path);

/* Prints r to stdout as indented JSON and a newline, then frees r; returns 0. */
int sg_eval_print_json(json_t *r);

#endif
