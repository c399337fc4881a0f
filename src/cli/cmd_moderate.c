/* cmd_moderate.c — `stagegate moderate`: runs text from stdin through the
 * content filter and prints the result in the shape of POST /v1/moderations. */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/filter_load.h"
#include "cli/read_all.h"
#include "safety/default_rules.h"
#include "safety/filter.h"
#include "safety/moderation.h"

typedef struct {
    const char *policy;
    int lines;
} moderate_opts;
static const sg_cli_opt table[] = {
    {"policy", 0, SG_CLI_STRING, offsetof(moderate_opts, policy), .arg = "FILE",
     .help = "use the content_filter categories of this release policy", .def = "the built-in categories"},
    {"lines", 0, SG_CLI_FLAG, offsetof(moderate_opts, lines), .arg = NULL,
     .help = "each input line is a separate input (one result per line)"},
    {0},
};
static const sg_cli_cmd cmd = {
    .name = "moderate",
    .summary = "moderation result for text on stdin (/v1/moderations shape)",
    .opts = table,
    .description = "Reads text on stdin and prints the moderation result as JSON:\n"
                   "{id, model, results: [{flagged, categories, category_scores}]}.\n",
};

int sg_cmd_moderate(int argc, char **argv) {
    moderate_opts o = {0};
    int rc = sg_cli_parse(&cmd, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    int lines = o.lines;
    const char *policy = o.policy;
    size_t len;
    char *text = sg_read_stream(stdin, &len);
    if (!text) {
        fprintf(stderr, "stagegate moderate: out of memory reading stdin\n");
        return 1;
    }
    sg_filter *f = NULL;
    sg_error *err = sg_filter_load(policy, &f);
    int n = 0;
    const char **inputs = NULL;
    size_t *lens = NULL;
    if (!err) {
        size_t max = 1;
        for (size_t i = 0; i < len; i++) max += text[i] == '\n';
        inputs = malloc(max * sizeof *inputs);
        lens = malloc(max * sizeof *lens);
        if (!inputs || !lens) err = sg_error_new("out of memory");
    }
    if (!err && !lines) {
        inputs[0] = text;
        lens[0] = len;
        n = 1;
    } else if (!err) {
        for (size_t s = 0; s < len;) {
            size_t e = s;
            while (e < len && text[e] != '\n') e++;
            inputs[n] = text + s;
            lens[n++] = e - s;
            s = e + 1;
        }
    }
    json_t *result = NULL;
    if (!err) err = sg_moderate(f, inputs, lens, n, "stagegate-filter", &result);
    rc = 0;
    if (err) {
        fprintf(stderr, "stagegate moderate: %s\n", sg_error_message(err));
        sg_error_free(err);
        rc = 1;
    } else {
        json_dumpf(result, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
    }
    json_decref(result);
    free(inputs);
    free(lens);
    sg_filter_free(f);
    free(text);
    return rc;
}
