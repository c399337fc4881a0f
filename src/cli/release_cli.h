/* release_cli.h — what the release subcommands (stage, risk, signoff, eval
 * run, incident, report, card, datasheet, system-card) share: a small option
 * parser, opening the policy and the store with uniform error messages, and
 * who the operator is. */
#ifndef SG_RELEASE_CLI_H
#define SG_RELEASE_CLI_H

#include <stdio.h>

#include "cli/opt_table.h"
#include "release/policy.h"
#include "store/store.h"

/* One option: "--name VALUE" into *value, or a flag (value NULL) into *flag. */
typedef struct {
    const char *name;
    const char **value;
    int *flag;
} sg_cli_opt;

/* Parses argv[from..]: options from `opts`, anything else positional (up to
 * max_pos into pos). Returns 0 when parsed, 2 on a usage error (message
 * printed as "stagegate CMD: ..."), 1 for --help. */
int sg_cli_parse(const char *cmd, int argc, char **argv, int from, const sg_cli_opt *opts, const char **pos,
                 int max_pos, int *n_pos);

/* Loads the policy (printing its warnings) and opens the store (db NULL =
 * ./stagegate.db). Either output may be NULL to skip it. 0 or 1 (printed). */
int sg_cli_open(const char *cmd, const char *policy_path, const char *db, sg_policy **policy,
                sg_store **store);

/* --by, else $USER, else "operator". */
const char *sg_cli_actor(const char *by);

/* "YYYY-MM-DD HH:MM UTC". */
void sg_cli_time(long long ms, char *buf, size_t size);

/* Parses a duration "7d", "12h", "30m", "90s" into milliseconds; -1 when malformed. */
long long sg_cli_duration_ms(const char *text);

#endif
