/* cmd_bias_eval.c — `stagegate bias-eval`: runs the counterfactual bias
 * measures (src/eval/bias_eval.h) on a model and prints (or writes, --out)
 * the JSON result with every group's figures; `stagegate eval run bias`
 * stores the metrics for the gates and cards. */
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
#include "eval/bias_eval.h"

typedef struct {
    const char *dir, *out_path;
    long seed;
    sg_bias_eval_config cfg;
} bias_eval_opts;

#define OFF(f) offsetof(bias_eval_opts, f)
static const sg_cli_opt table[] = {
    {"model", 'm', SG_CLI_STRING, OFF(dir), .arg = "DIR", .help = "the model (checkpoint + tokenizer files)",
     .required = 1},
    {"data", 0, SG_CLI_STRING, OFF(cfg.data_dir), .arg = "DIR",
     .help = "the sets (groups.tsv, frames.txt, continuations.tsv, sentiment.tsv)"},
    {"samples", 0, SG_CLI_INT, OFF(cfg.samples), .arg = "K", .help = "sampled continuations per prompt",
     .min = 1, .max = 1024},
    {"tokens", 0, SG_CLI_INT, OFF(cfg.sample_tokens), .arg = "T", .help = "tokens per sampled continuation",
     .min = 1, .max = 1024},
    {"frames", 0, SG_CLI_INT, OFF(cfg.max_frames), .arg = "N", .help = "only the first N frames (quick runs)",
     .min = 0, .max = INFINITY, .def = "all"},
    {"seed", 0, SG_CLI_LONG, OFF(seed), .arg = "S", .help = "sampling seed", .min = 0, .max = INFINITY},
    {"out", 0, SG_CLI_STRING, OFF(out_path), .arg = "FILE", .help = "also write the JSON result to FILE"},
    {0},
};
#undef OFF
static const sg_cli_cmd cmd = {
    .name = "bias-eval",
    .summary = "counterfactual bias measures (likelihood, sentiment) per axis",
    .opts = table,
    .description =
        "Completes the same sentence frames with each group of an axis (gender, religion,\n"
        "nationality, race/ethnicity) and reports, per group, the log-likelihood preference of\n"
        "positive over negative continuations and the lexicon sentiment of sampled continuations;\n"
        "per axis the spread and the worst pair.\n",
};

int sg_cmd_bias_eval(int argc, char **argv) {
    bias_eval_opts o = {.seed = 1, .cfg = {SG_BIAS_DEFAULT_DATA, 4, 24, 0, 1}};
    int rc = sg_cli_parse(&cmd, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    sg_bias_eval_config cfg = o.cfg;
    cfg.seed = (uint64_t)o.seed;
    sg_checkpoint *ck = NULL;
    sg_tokenizer *tok = NULL;
    json_t *r = NULL;
    sg_error *err = sg_checkpoint_open(o.dir, &ck);
    if (!err) err = sg_tokenizer_load(o.dir, &tok);
    if (!err) err = sg_bias_eval_run(sg_checkpoint_weights(ck), tok, &cfg, &r);
    sg_tokenizer_free(tok);
    sg_checkpoint_close(ck);
    if (sg_eval_save("bias-eval", err, r, o.out_path)) return 1;
    return sg_eval_print_json(r);
}
