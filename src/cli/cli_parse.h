/* cli_parse.h — the one command-line parser of the `stagegate` program.
 *
 * Every subcommand describes its options in one static table (sg_cli_opt:
 * long and short name, type, where the value goes in the command's options
 * struct, help text, range, choices) and its positional arguments in an
 * sg_cli_cmd. sg_cli_parse reads argv against that table and sg_cli_help
 * prints the --help text from the same table, so the two cannot disagree.
 *
 * Accepted forms: "--name VALUE", "--name=VALUE", "-x VALUE", "-xVALUE",
 * clustered short flags ("-ds"), "--" to end the options, "-" as a positional
 * argument. "--help"/"-h" print the help to stdout (exit status 0). Errors
 * print one line to stderr (exit status 2), always in the form
 *     stagegate CMD: --max-tokens: expected an integer from 1 to 4096, got 'abc'
 *     stagegate CMD: unknown option '--polcy' (did you mean '--policy'?)
 *     stagegate CMD: --policy: missing value FILE
 *     stagegate CMD: --policy FILE is required
 *
 * Subcommand groups (`keys create|list|...`) use sg_cli_dispatch, whose help
 * lists each member's usage line, generated from the member's table. */
#ifndef SG_CLI_PARSE_H
#define SG_CLI_PARSE_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

/* The type of an option's value, and what the options struct holds for it. */
typedef enum {
    SG_CLI_FLAG,   /* no value; int, set to 1 */
    SG_CLI_STRING, /* const char * (points into argv) */
    SG_CLI_INT,    /* int; range checked (and always within int) */
    SG_CLI_LONG,   /* long; range checked */
    SG_CLI_DOUBLE, /* double; finite, range checked */
    SG_CLI_ENUM,   /* const char *, one of `choices` */
} sg_cli_type;

/* The value is kept at byte offset `off` of the command's options struct.
 * With repeat > 0 the option may be given up to `repeat` times: the slot at
 * `off` is an array of `repeat` values of the type, and the int at count_off
 * says how many were given. With `call`, the value is instead handed to
 * call(dst, option, value) in command-line order (value NULL for a flag); a
 * returned error is reported like a bad value. */
typedef struct sg_cli_opt {
    const char *name; /* long name without "--"; NULL ends a table */
    char short_name;  /* "-x", or 0 */
    sg_cli_type type;
    size_t off;
    const char *arg;     /* the value's name in help and errors: "N", "FILE" */
    const char *help;    /* one line */
    double min, max;     /* INT, LONG, DOUBLE: accepted range when min < max; an end may be +-INFINITY */
    const char *choices; /* ENUM: "f32|f16|bf16" */
    const char *def;     /* the default as --help shows it, when the slot's initial value does not say it */
    int required;
    int repeat;
    size_t count_off;
    sg_error *(*call)(void *dst, const struct sg_cli_opt *opt, const char *value);
} sg_cli_opt;

/* A command: its name as typed ("tokenizer train"), its positional arguments,
 * its options, and the text --help prints after the options. */
typedef struct {
    const char *name;
    const char *summary;    /* one line, for the group's help */
    const char *args;       /* positional synopsis, e.g. "FILE|DIR...", or NULL */
    int min_args, max_args; /* max_args < 0: any number */
    const sg_cli_opt *opts;
    const char *description;
    /* When set, positional arguments go here, in order with the options,
     * instead of being collected into argv. */
    sg_error *(*on_arg)(void *dst, const char *arg);
} sg_cli_cmd;

/* Parses argv[1..argc) (argv[0] is the command's word) into dst, which holds
 * the defaults on entry. Positional arguments are moved to argv[1..*n_args]
 * (n_args may be NULL when the command takes none). Returns -1 when the
 * command should run; otherwise the exit status after printing: 0 for
 * --help (to stdout), 2 for an error (to stderr). Usage:
 *     int rc = sg_cli_parse(&cmd, argc, argv, &opts, &n);
 *     if (rc >= 0) return rc; */
int sg_cli_parse(const sg_cli_cmd *cmd, int argc, char **argv, void *dst, int *n_args);

/* The parse itself, for tests and for callers that report differently: the
 * error message lacks the "stagegate CMD: " prefix; *help is set to 1 when
 * --help was asked for (and then nothing else is checked). */
sg_error *sg_cli_parse_args(const sg_cli_cmd *cmd, int argc, char **argv, void *dst, int *n_args,
                            int *help) SG_MUST_CHECK;

/* The --help text: the usage line, one line per option (type, range, default
 * taken from dst when dst is not NULL), then the description. */
void sg_cli_help(const sg_cli_cmd *cmd, const void *dst, FILE *out);

/* The usage line alone, without "usage: " and without a newline. */
void sg_cli_synopsis(const sg_cli_cmd *cmd, FILE *out);

/* Prints "stagegate CMD: " and the message to stderr; returns 2 (a usage
 * error found after parsing, e.g. two options that exclude each other). */
int sg_cli_usage(const char *cmd, const char *fmt, ...) SG_PRINTF(2, 3);

/* Prints err as "stagegate CMD: message" to stderr and frees it; returns 1. */
int sg_cli_fail(const char *cmd, sg_error *err);

/* One member of a subcommand group: cmd gives its usage line and summary in
 * the group's help (NULL for a member that is itself a group: then summary). */
typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the member's name */
    const sg_cli_cmd *cmd;
    const char *summary;
} sg_cli_sub;

/* Runs the member argv[1] of group `group` (subs ends with a NULL name).
 * No member: "expected a sub-command: a, b" (2); an unknown one: "unknown
 * sub-command 'x'" (2); "--help" prints the group's help to stdout (0). */
int sg_cli_dispatch(const char *group, const char *description, const sg_cli_sub *subs, int argc,
                    char **argv);

#endif
