/* train_opts.h — the training settings (train/train_config.h) as options of
 * `train`, `finetune` and `eval gradients`: one option per setting, named
 * like the YAML key with dashes (--grad-accum), typed like the setting. The
 * values are recorded in command-line order and applied by
 * sg_train_opts_apply after the config file, so that a flag overrides it. */
#ifndef SG_TRAIN_OPTS_H
#define SG_TRAIN_OPTS_H

#include "cli/cli_parse.h"
#include "train/train_config.h"

/* What the parse recorded. It must be the first member of the command's
 * options struct; `v` has room for argc entries (each takes an argument). */
typedef struct {
    struct {
        const char *key, *value;
    } * v;
    int n;
} sg_train_flags;

/* The option names (dashed) and defaults (as --help shows them) that a table
 * points into: it must live as long as the table. */
#define SG_TRAIN_OPTS_MAX 96
typedef struct {
    char names[SG_TRAIN_OPTS_MAX][48];
    char defaults[SG_TRAIN_OPTS_MAX][48];
} sg_train_opts_text;

/* Fills `out` (room for cap entries, NULL-terminated) with `extra` (may be
 * NULL) followed by one option per setting, whose --help default is taken
 * from `defaults`. With shorts, "out" is also -o and "init_from" also -m.
 * Returns out, or NULL when cap (or SG_TRAIN_OPTS_MAX) is too small. */
sg_cli_opt *sg_train_opts_table(sg_cli_opt *out, size_t cap, const sg_cli_opt *extra, int shorts,
                                const sg_train_config *defaults, sg_train_opts_text *text);

/* An sg_cli_cmd on_arg that records a positional argument as a corpus file. */
sg_error *sg_train_opts_corpus(void *dst, const char *arg);

/* Applies the recorded settings to c, in order ("command line" in errors). */
sg_error *sg_train_opts_apply(const sg_train_flags *f, sg_train_config *c) SG_MUST_CHECK;

#endif
