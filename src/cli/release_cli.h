/* release_cli.h — what the release subcommands (stage, risk, signoff, eval
 * run, incident, report, card, datasheet, system-card) share: their common
 * options, opening the policy and the store with uniform error messages, and
 * who the operator is. */
#ifndef SG_RELEASE_CLI_H
#define SG_RELEASE_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "cli/cli_parse.h"
#include "release/policy.h"
#include "store/store.h"

/* The two options every release subcommand takes, for an options struct T
 * with `const char *policy, *db` fields. */
/* clang-format off */
#define SG_CLI_POLICY_DB(T)                                                                              \
    {"policy", 0, SG_CLI_STRING, offsetof(T, policy), .arg = "FILE", .help = "the release policy",       \
     .required = 1},                                                                                     \
    {"db", 0, SG_CLI_STRING, offsetof(T, db), .arg = "PATH", .help = "the store", .def = "./stagegate.db"}
/* clang-format on */

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
