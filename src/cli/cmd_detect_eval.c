/* cmd_detect_eval.c — `stagegate detect-eval`: runs the zero-shot detection
 * evaluation suite (src/eval/detect_eval.h) on a model and prints (or
 * stores, --out) the JSON result. */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/eval_out.h"
#include "engine/checkpoint.h"
#include "engine/tokenizer.h"
#include "eval/detect_eval.h"

typedef struct {
    const char *dir, *out_path;
    long seed;
    sg_detect_eval_config cfg;
} detect_eval_opts;

#define OFF(f) offsetof(detect_eval_opts, f)
static const sg_cli_opt table[] = {
    {"model", 'm', SG_CLI_STRING, OFF(dir), .arg = "DIR", .help = "the model (checkpoint + tokenizer files)",
     .required = 1},
    {"samples", 0, SG_CLI_INT, OFF(cfg.samples), .arg = "N",
     .help = "completions per sampling, and human passages", .min = 0, .max = INFINITY},
    {"tokens", 0, SG_CLI_INT, OFF(cfg.tokens), .arg = "T", .help = "passage length", .min = 0,
     .max = INFINITY},
    {"prompt-tokens", 0, SG_CLI_INT, OFF(cfg.prompt_tokens), .arg = "P", .help = "prompt length", .min = 0,
     .max = INFINITY},
    {"seed", 0, SG_CLI_LONG, OFF(seed), .arg = "S", .help = "sampling seed", .min = 0, .max = INFINITY},
    {"heldout", 0, SG_CLI_STRING, OFF(cfg.heldout_dir), .arg = "DIR", .help = "human text, .txt files"},
    {"out", 0, SG_CLI_STRING, OFF(out_path), .arg = "FILE", .help = "also write the JSON result to FILE"},
    {0},
};
#undef OFF
static const sg_cli_cmd cmd = {
    .name = "detect-eval",
    .summary = "evaluate zero-shot detection (AUROC, tpr at 1% fpr)",
    .opts = table,
    .description = "Zero-shot detection of the model's own text: completions at temperature 1 and top-k 40\n"
                   "against the human continuations of the same held-out prompts. Prints AUROC and the\n"
                   "true-positive rate at 1% false positives for Fast-DetectGPT, log-rank and likelihood.\n",
};

int sg_cmd_detect_eval(int argc, char **argv) {
    detect_eval_opts o = {.seed = 1, .cfg = {100, 200, 32, 1, "data/sotu/heldout"}};
    int rc = sg_cli_parse(&cmd, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    const char *dir = o.dir, *out_path = o.out_path;
    sg_detect_eval_config cfg = o.cfg;
    cfg.seed = (uint64_t)o.seed;
    sg_checkpoint *ck = NULL;
    sg_tokenizer *tok = NULL;
    json_t *r = NULL;
    sg_error *err = sg_checkpoint_open(dir, &ck);
    if (!err) err = sg_tokenizer_load(dir, &tok);
    if (!err) err = sg_detect_eval_run(sg_checkpoint_weights(ck), tok, &cfg, &r);
    sg_tokenizer_free(tok);
    sg_checkpoint_close(ck);
    if (sg_eval_save("detect-eval", err, r, out_path)) return 1;
    return sg_eval_print_json(r);
}
