/* cmd_filter_eval.c — `stagegate filter-eval`: runs the content filter's
 * evaluation suite (src/eval/filter_eval.h) and prints precision and recall
 * per category, recall on evasions and the false-positive rate on held-out
 * text; --out stores the JSON result for the release gates. */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/eval_out.h"
#include "cli/filter_load.h"
#include "eval/filter_eval.h"
#include "safety/default_rules.h"

typedef struct {
    const char *policy, *out_path;
    long seed;
    int as_json;
    sg_filter_eval_config cfg;
} filter_eval_opts;

#define OFF(f) offsetof(filter_eval_opts, f)
static const sg_cli_opt table[] = {
    {"policy", 0, SG_CLI_STRING, OFF(policy), .arg = "FILE",
     .help = "the content_filter of this release policy", .def = "the built-in rules"},
    {"data", 0, SG_CLI_STRING, OFF(cfg.data_dir), .arg = "DIR", .help = "the labelled set"},
    {"heldout", 0, SG_CLI_STRING, OFF(cfg.heldout_dir), .arg = "DIR", .help = "clean text, .txt files"},
    {"seed", 0, SG_CLI_LONG, OFF(seed), .arg = "N", .help = "evasion generator seed", .min = 0,
     .max = INFINITY},
    {"json", 0, SG_CLI_FLAG, OFF(as_json), .arg = NULL, .help = "print the JSON result instead of the table"},
    {"out", 0, SG_CLI_STRING, OFF(out_path), .arg = "FILE",
     .help = "also write the JSON result to FILE (atomically)"},
    {0},
};
#undef OFF
static const sg_cli_cmd cmd = {
    .name = "filter-eval",
    .summary = "evaluate the content filter (precision, recall, evasions)",
    .opts = table,
    .description = "Evaluates the content filter on the project's labelled set: violating texts and\n"
                   "generated evasions (leet, confusables, separators, repeats, case, mixed), hard\n"
                   "negatives, and every sentence of the held-out corpus as clean text.\n",
};

static double num(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : -1;
}

static void print_table(json_t *r) {
    json_t *cats = json_object_get(r, "categories"), *m = json_object_get(r, "metrics");
    printf("%-16s %5s %9s %7s %10s\n", "category", "n", "precision", "recall", "evasions");
    const char *name;
    json_t *c;
    json_object_foreach(cats, name, c) {
        printf("%-16s %5lld", name, (long long)json_integer_value(json_object_get(c, "n")));
        const char *keys[] = {"precision", "recall", "recall_evasions"};
        int widths[] = {9, 7, 10};
        for (int i = 0; i < 3; i++) {
            double v = num(c, keys[i]);
            if (v < 0)
                printf(" %*s", widths[i], "-");
            else
                printf(" %*.3f", widths[i], v);
        }
        printf("\n");
    }
    printf("\nevasion recall by kind:");
    json_t *kinds = json_object_get(r, "evasion_recall_by_kind");
    json_object_foreach(kinds, name, c)
        printf(" %s %.3f", name, json_is_number(c) ? json_number_value(c) : -1.0);
    json_t *cl = json_object_get(r, "clean");
    printf("\n\nprecision %.4f  recall %.4f  recall on evasions %.4f (%lld evasions)\n", num(m, "precision"),
           num(m, "recall"), num(m, "recall_evasions"),
           (long long)json_integer_value(json_object_get(r, "evasions")));
    printf("false positives on held-out sentences: %lld of %lld = %.4f%%\n",
           (long long)json_integer_value(json_object_get(cl, "flagged")),
           (long long)json_integer_value(json_object_get(cl, "sentences")),
           100 * num(m, "false_positive_rate"));
    if (num(m, "recall_unseen") >= 0)
        printf("recall on texts written without the term lists (violating_unseen.tsv): %.4f\n",
               num(m, "recall_unseen"));
    printf("hard negatives flagged: %lld of %lld\n",
           (long long)json_integer_value(json_object_get(cl, "hard_negatives_flagged")),
           (long long)json_integer_value(json_object_get(cl, "hard_negatives")));
    size_t i;
    json_t *ex;
    json_array_foreach(json_object_get(cl, "examples"), i, ex)
        printf("  flagged [%s]: %s\n", json_string_value(json_object_get(ex, "category")),
               json_string_value(json_object_get(ex, "text")));
}

int sg_cmd_filter_eval(int argc, char **argv) {
    filter_eval_opts o = {.seed = 1, .cfg = {"tests/data/filter_eval", "data/sotu/heldout", 1}};
    int rc = sg_cli_parse(&cmd, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    const char *policy = o.policy, *out_path = o.out_path;
    sg_filter_eval_config cfg = o.cfg;
    cfg.seed = (uint64_t)o.seed;
    int as_json = o.as_json;
    sg_filter *f;
    sg_error *err = sg_filter_load(policy, &f);
    json_t *r = NULL;
    if (!err) {
        err = sg_filter_eval_run(f, &cfg, &r);
        sg_filter_free(f);
    }
    if (sg_eval_save("filter-eval", err, r, out_path)) return 1;
    if (as_json) return sg_eval_print_json(r);
    print_table(r);
    json_decref(r);
    return 0;
}
