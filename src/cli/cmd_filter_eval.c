/* cmd_filter_eval.c — `stagegate filter-eval`: runs the content filter's
 * evaluation suite (src/eval/filter_eval.h) and prints precision and recall
 * per category, recall on evasions and the false-positive rate on held-out
 * text; --out stores the JSON result for the release gates. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/eval_out.h"
#include "cli/filter_load.h"
#include "eval/filter_eval.h"
#include "safety/default_rules.h"

static void usage(FILE *out) {
    fprintf(out, "usage: stagegate filter-eval [--policy FILE] [--data DIR] [--heldout DIR] [--seed N]\n"
                 "                             [--json] [--out FILE]\n"
                 "\n"
                 "Evaluates the content filter on the project's labelled set: violating texts and\n"
                 "generated evasions (leet, confusables, separators, repeats, case, mixed), hard\n"
                 "negatives, and every sentence of the held-out corpus as clean text.\n"
                 "  --policy FILE  the content_filter of this release policy (default: built-in rules)\n"
                 "  --data DIR     labelled set (default tests/data/filter_eval)\n"
                 "  --heldout DIR  clean text, .txt files (default data/sotu/heldout)\n"
                 "  --seed N       evasion generator seed (default 1)\n"
                 "  --json         print the JSON result instead of the table\n"
                 "  --out FILE     also write the JSON result to FILE (atomically)\n");
}

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
    const char *policy = NULL, *out_path = NULL;
    sg_filter_eval_config cfg = {"tests/data/filter_eval", "data/sotu/heldout", 1};
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--policy") && has)
            policy = argv[++i];
        else if (!strcmp(a, "--data") && has)
            cfg.data_dir = argv[++i];
        else if (!strcmp(a, "--heldout") && has)
            cfg.heldout_dir = argv[++i];
        else if (!strcmp(a, "--out") && has)
            out_path = argv[++i];
        else if (!strcmp(a, "--seed") && has) {
            char *end;
            cfg.seed = strtoull(argv[++i], &end, 10);
            if (*end || !*argv[i]) {
                fprintf(stderr, "stagegate filter-eval: --seed wants a number, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--json"))
            as_json = 1;
        else {
            fprintf(stderr, "stagegate filter-eval: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
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
