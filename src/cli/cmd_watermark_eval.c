/* cmd_watermark_eval.c — `stagegate watermark-eval`: runs the watermark
 * evaluation suite (src/eval/watermark_eval.h) on a model with the key of a
 * store and prints (or stores, --out) the JSON result. */
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/eval_out.h"
#include "engine/checkpoint.h"
#include "engine/tokenizer.h"
#include "eval/watermark_eval.h"
#include "safety/watermark_key.h"

typedef struct {
    const char *dir, *db, *out_path;
    long seed;
    sg_watermark_eval_config cfg;
} watermark_eval_opts;

#define OFF(f) offsetof(watermark_eval_opts, f)
static const sg_cli_opt table[] = {
    {"model", 'm', SG_CLI_STRING, OFF(dir), .arg = "DIR", .help = "the model (checkpoint + tokenizer files)",
     .required = 1},
    {"db", 0, SG_CLI_STRING, OFF(db), .arg = "PATH", .help = "the store holding the watermark key"},
    {"samples", 0, SG_CLI_INT, OFF(cfg.samples), .arg = "N", .help = "completions", .min = 0,
     .max = INFINITY},
    {"tokens", 0, SG_CLI_INT, OFF(cfg.tokens), .arg = "T", .help = "completion length", .min = 0,
     .max = INFINITY},
    {"prompt-tokens", 0, SG_CLI_INT, OFF(cfg.prompt_tokens), .arg = "P", .help = "prompt length", .min = 0,
     .max = INFINITY},
    {"gamma", 0, SG_CLI_DOUBLE, OFF(cfg.gamma), .arg = "G", .help = "watermark green fraction"},
    {"delta", 0, SG_CLI_DOUBLE, OFF(cfg.delta), .arg = "D", .help = "watermark logit bias"},
    {"z-threshold", 0, SG_CLI_DOUBLE, OFF(cfg.z_threshold), .arg = "Z", .help = "detection threshold"},
    {"seed", 0, SG_CLI_LONG, OFF(seed), .arg = "S", .help = "sampling seed", .min = 0, .max = INFINITY},
    {"heldout", 0, SG_CLI_STRING, OFF(cfg.heldout_dir), .arg = "DIR", .help = "human text, .txt files"},
    {"out", 0, SG_CLI_STRING, OFF(out_path), .arg = "FILE", .help = "also write the JSON result to FILE"},
    {0},
};
#undef OFF
static const sg_cli_cmd cmd = {
    .name = "watermark-eval",
    .summary = "evaluate the watermark (tpr, fpr, perplexity cost, edits)",
    .opts = table,
    .description =
        "Generates completions from prompts cut from held-out text with and without the watermark\n"
        "and reports tpr (at the z threshold), fpr and the z distribution on the human\n"
        "continuations, the perplexity cost, and tpr after replacing 10%/25% of tokens.\n",
};

int sg_cmd_watermark_eval(int argc, char **argv) {
    watermark_eval_opts o = {
        .db = "stagegate.db", .seed = 1, .cfg = {50, 200, 32, 0.25, 2.0, 4.0, 1, "data/sotu/heldout"}};
    int rc = sg_cli_parse(&cmd, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    const char *dir = o.dir, *db = o.db, *out_path = o.out_path;
    sg_watermark_eval_config cfg = o.cfg;
    cfg.seed = (uint64_t)o.seed;
    sg_checkpoint *ck = NULL;
    sg_tokenizer *tok = NULL;
    json_t *r = NULL;
    unsigned char key[SG_WATERMARK_KEY_BYTES];
    sg_error *err = sg_watermark_key_from_db(db, key, NULL);
    if (!err) err = sg_checkpoint_open(dir, &ck);
    if (!err) err = sg_tokenizer_load(dir, &tok);
    if (!err) err = sg_watermark_eval_run(sg_checkpoint_weights(ck), tok, key, &cfg, &r);
    sodium_memzero(key, sizeof key);
    sg_tokenizer_free(tok);
    sg_checkpoint_close(ck);
    if (sg_eval_save("watermark-eval", err, r, out_path)) return 1;
    return sg_eval_print_json(r);
}
