/* test_cli_parse.c — the command-line parser of src/cli (cli_parse.h): every
 * accepted form, typed values and their ranges, repeatable, required and
 * positional arguments, callbacks, the one error wording, and the help text
 * generated from the table. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli_parse.h"

typedef struct {
    const char *model, *mode, *stops[3];
    int n_stops, verbose, quiet, count;
    long big;
    double ratio;
    char seen[256]; /* what the callback was handed, in order */
} opts;

static sg_error *note(void *dst, const sg_cli_opt *opt, const char *value) {
    opts *o = dst;
    if (value && !strcmp(value, "refuse")) return sg_error_new("refused '%s'", value);
    size_t n = strlen(o->seen);
    snprintf(o->seen + n, sizeof o->seen - n, "%s%s=%s", n ? "," : "", opt->name, value ? value : "(flag)");
    return NULL;
}

#define OFF(f) offsetof(opts, f)
static const sg_cli_opt table[] = {
    {"model", 'm', SG_CLI_STRING, OFF(model), .arg = "DIR", .help = "the model", .required = 1},
    {"mode", 0, SG_CLI_ENUM, OFF(mode), .help = "how", .choices = "fast|exact"},
    {"stop", 0, SG_CLI_STRING, OFF(stops), .arg = "TEXT", .help = "stop text", .repeat = 3,
     .count_off = OFF(n_stops)},
    {"verbose", 'v', SG_CLI_FLAG, OFF(verbose), .help = "say more"},
    {"quiet", 'q', SG_CLI_FLAG, OFF(quiet), .help = "say less"},
    {"max-tokens", 'n', SG_CLI_INT, OFF(count), .arg = "N", .help = "tokens", .min = 1, .max = 4096},
    {"big", 0, SG_CLI_LONG, OFF(big), .arg = "N", .help = "a big number", .min = 0, .max = INFINITY},
    {"ratio", 0, SG_CLI_DOUBLE, OFF(ratio), .arg = "R", .help = "a ratio", .min = 0, .max = 1},
    {"note", 0, SG_CLI_STRING, 0, .arg = "X", .help = "handed to a callback", .call = note},
    {"tick", 0, SG_CLI_FLAG, 0, .help = "a flag handed to a callback", .call = note},
    {0},
};
#undef OFF
static const sg_cli_cmd cmd = {
    .name = "demo run",
    .summary = "a demonstration",
    .args = "FILE...",
    .min_args = 1,
    .max_args = 3,
    .opts = table,
    .description = "What it does.\n",
};

/* Parses the words (argv[0] = "run"); returns the error message (owned by a
 * static buffer) or NULL, with the options and positionals. */
static char message[512];
static char *words[32];
static int n_args, help;
static const char *parse(opts *o, const char *first, ...) {
    va_list ap;
    int argc = 0;
    words[argc++] = "run";
    va_start(ap, first);
    for (const char *w = first; w; w = va_arg(ap, const char *)) words[argc++] = (char *)w;
    va_end(ap);
    words[argc] = NULL;
    memset(o, 0, sizeof *o);
    o->count = 64;
    o->ratio = 0.5;
    n_args = -1;
    sg_error *err = sg_cli_parse_args(&cmd, argc, words, o, &n_args, &help);
    if (!err) return NULL;
    snprintf(message, sizeof message, "%s", sg_error_message(err));
    sg_error_free(err);
    return message;
}

static void long_and_short_forms(void **state) {
    (void)state;
    opts o;
    assert_null(parse(&o, "--model", "d1", "f", NULL));
    assert_string_equal(o.model, "d1");
    assert_null(parse(&o, "--model=d2", "f", NULL));
    assert_string_equal(o.model, "d2");
    assert_null(parse(&o, "-m", "d3", "f", NULL));
    assert_string_equal(o.model, "d3");
    assert_null(parse(&o, "-md4", "f", NULL));
    assert_string_equal(o.model, "d4");
    /* a value may start with '-' or contain '=' */
    assert_null(parse(&o, "--model", "-x", "--model=a=b", "f", NULL));
    assert_string_equal(o.model, "a=b");
    /* clustered short flags, and a short option with its value last */
    assert_null(parse(&o, "-vq", "-vn", "12", "-m", "d", "f", NULL));
    assert_int_equal(o.verbose, 1);
    assert_int_equal(o.quiet, 1);
    assert_int_equal(o.count, 12);
    assert_false(help);
}

static void typed_values_and_ranges(void **state) {
    (void)state;
    opts o;
    assert_null(parse(&o, "-m", "d", "--max-tokens=4096", "--big", "9000000000", "--ratio", "0.25", "--mode",
                      "exact", "f", NULL));
    assert_int_equal(o.count, 4096);
    assert_true(o.big == 9000000000L);
    assert_true(o.ratio == 0.25);
    assert_string_equal(o.mode, "exact");
    assert_string_equal(parse(&o, "-m", "d", "--max-tokens", "abc", "f", NULL),
                        "--max-tokens: expected an integer from 1 to 4096, got 'abc'");
    /* the short name is reported under the long one */
    assert_string_equal(parse(&o, "-m", "d", "-n", "4097", "f", NULL),
                        "--max-tokens: expected an integer from 1 to 4096, got '4097'");
    assert_string_equal(parse(&o, "-m", "d", "-n", "12x", "f", NULL),
                        "--max-tokens: expected an integer from 1 to 4096, got '12x'");
    assert_string_equal(parse(&o, "-m", "d", "--max-tokens=", "f", NULL),
                        "--max-tokens: expected an integer from 1 to 4096, got ''");
    assert_string_equal(parse(&o, "-m", "d", "--big", "-1", "f", NULL),
                        "--big: expected an integer of at least 0, got '-1'");
    assert_string_equal(parse(&o, "-m", "d", "--big", "99999999999999999999", "f", NULL),
                        "--big: expected an integer of at least 0, got '99999999999999999999'");
    assert_string_equal(parse(&o, "-m", "d", "--ratio", "1.5", "f", NULL),
                        "--ratio: expected a number from 0 to 1, got '1.5'");
    assert_string_equal(parse(&o, "-m", "d", "--ratio", "nan", "f", NULL),
                        "--ratio: expected a number from 0 to 1, got 'nan'");
    assert_string_equal(parse(&o, "-m", "d", "--mode", "slow", "f", NULL),
                        "--mode: expected one of fast, exact, got 'slow'");
    /* defaults stay when an option is not given */
    assert_null(parse(&o, "-m", "d", "f", NULL));
    assert_int_equal(o.count, 64);
    assert_true(o.ratio == 0.5);
    assert_null(o.mode);
}

static void repeatable_required_and_positional(void **state) {
    (void)state;
    opts o;
    assert_null(parse(&o, "a", "--stop", "x", "-m", "d", "b", "--stop=y", NULL));
    assert_int_equal(o.n_stops, 2);
    assert_string_equal(o.stops[0], "x");
    assert_string_equal(o.stops[1], "y");
    assert_int_equal(n_args, 2); /* positionals moved to argv[1..] in order */
    assert_string_equal(words[1], "a");
    assert_string_equal(words[2], "b");
    assert_string_equal(
        parse(&o, "-m", "d", "--stop", "1", "--stop", "2", "--stop", "3", "--stop", "4", "f", NULL),
        "--stop: given more than 3 times");
    assert_string_equal(parse(&o, "f", NULL), "--model DIR is required");
    assert_string_equal(parse(&o, "-m", "d", NULL), "missing FILE...");
    assert_string_equal(parse(&o, "-m", "d", "1", "2", "3", "4", NULL), "unexpected argument '4'");
    /* "-" is an argument, and "--" ends the options */
    assert_null(parse(&o, "-m", "d", "-", "--", "--model", "-v", NULL));
    assert_int_equal(n_args, 3);
    assert_string_equal(words[1], "-");
    assert_string_equal(words[2], "--model");
    assert_string_equal(words[3], "-v");
    assert_string_equal(o.model, "d");
    assert_int_equal(o.verbose, 0);
}

static void unknown_and_malformed_options(void **state) {
    (void)state;
    opts o;
    assert_string_equal(parse(&o, "-m", "d", "--modle", "x", "f", NULL),
                        "unknown option '--modle' (did you mean '--model'?)");
    assert_string_equal(parse(&o, "-m", "d", "--max-token=3", "f", NULL),
                        "unknown option '--max-token' (did you mean '--max-tokens'?)");
    assert_string_equal(parse(&o, "-m", "d", "--frobnicate", "f", NULL), "unknown option '--frobnicate'");
    /* a prefix of one name points at it; of several, at none */
    assert_string_equal(parse(&o, "-m", "d", "--verb", "f", NULL),
                        "unknown option '--verb' (did you mean '--verbose'?)");
    assert_string_equal(parse(&o, "-m", "d", "--m", "f", NULL), "unknown option '--m'");
    assert_string_equal(parse(&o, "-m", "d", "-x", "f", NULL), "unknown option '-x'");
    assert_string_equal(parse(&o, "-m", "d", "-vx", "f", NULL), "unknown option '-x' in '-vx'");
    assert_string_equal(parse(&o, "f", "--model", NULL), "--model: missing value DIR");
    assert_string_equal(parse(&o, "f", "-m", NULL), "-m: missing value DIR");
    assert_string_equal(parse(&o, "-m", "d", "--verbose=yes", "f", NULL),
                        "--verbose: takes no value, got 'yes'");
}

static void help_wins_and_is_generated_from_the_table(void **state) {
    (void)state;
    opts o;
    /* --help is honoured even next to errors */
    assert_null(parse(&o, "--frobnicate", "--help", NULL));
    assert_true(help);
    assert_null(parse(&o, "-h", NULL));
    assert_true(help);
    /* but not after "--" */
    assert_null(parse(&o, "-m", "d", "--", "--help", NULL));
    assert_false(help);

    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    opts d = {.count = 64, .ratio = 0.5};
    sg_cli_help(&cmd, &d, f);
    fclose(f);
    assert_non_null(strstr(text, "usage: stagegate demo run FILE... -m DIR [options]\n"));
    assert_non_null(strstr(text, "\na demonstration\n"));
    assert_non_null(strstr(text, "  -m, --model DIR            the model (required)\n"));
    assert_non_null(strstr(text, "      --mode fast|exact      how (one of fast, exact)\n"));
    assert_non_null(
        strstr(text, "  -n, --max-tokens N         tokens (integer from 1 to 4096; default 64)\n"));
    assert_non_null(strstr(text, "      --ratio R              a ratio (number from 0 to 1; default 0.5)\n"));
    assert_non_null(strstr(text, "      --stop TEXT            stop text (repeatable, up to 3)\n"));
    assert_non_null(strstr(text, "  -v, --verbose              say more\n"));
    assert_non_null(strstr(text, "  -h, --help                 print this help and exit\n"));
    /* the description comes last */
    size_t n = strlen(text);
    assert_true(n > 14 && !strcmp(text + n - 14, "What it does.\n"));
    free(text);
}

static void callbacks_get_checked_values_in_order(void **state) {
    (void)state;
    opts o;
    assert_null(parse(&o, "-m", "d", "--note", "a", "--tick", "--note=b", "f", NULL));
    assert_string_equal(o.seen, "note=a,tick=(flag),note=b");
    assert_string_equal(parse(&o, "-m", "d", "--note", "refuse", "f", NULL), "--note: refused 'refuse'");
    assert_string_equal(parse(&o, "-m", "d", "--tick=1", "f", NULL), "--tick: takes no value, got '1'");
}

static int ran;
static int member(int argc, char **argv) {
    (void)argc;
    ran = argv[0][0];
    return 7;
}

static void groups_dispatch_by_name(void **state) {
    (void)state;
    static const sg_cli_sub subs[] = {{"run", member, &cmd, NULL}, {"list", member, NULL, "list them"}, {0}};
    char *argv[] = {"demo", "list", "--x", NULL};
    assert_int_equal(sg_cli_dispatch("demo", "Demo.", subs, 3, argv), 7);
    assert_int_equal(ran, 'l');
    char *bad[] = {"demo", "lsit", NULL};
    assert_int_equal(sg_cli_dispatch("demo", "Demo.", subs, 2, bad), 2);
    assert_int_equal(sg_cli_dispatch("demo", "Demo.", subs, 1, bad), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(long_and_short_forms),
        cmocka_unit_test(typed_values_and_ranges),
        cmocka_unit_test(repeatable_required_and_positional),
        cmocka_unit_test(unknown_and_malformed_options),
        cmocka_unit_test(help_wins_and_is_generated_from_the_table),
        cmocka_unit_test(callbacks_get_checked_values_in_order),
        cmocka_unit_test(groups_dispatch_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
