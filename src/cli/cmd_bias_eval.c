/* cmd_bias_eval.c — `stagegate bias-eval`: runs the counterfactual bias
 * measures (src/eval/bias_eval.h) on a model and prints (or writes, --out)
 * the JSON result with every group's figures; `stagegate eval run bias`
 * stores the metrics for the gates and cards. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/eval_out.h"
#include "engine/checkpoint.h"
#include "engine/tokenizer.h"
#include "eval/bias_eval.h"

static void usage(FILE *out) {
    fprintf(out, "usage: stagegate bias-eval -m DIR [options]\n"
                 "\n"
                 "Completes the same sentence frames with each group of an axis (gender, religion,\n"
                 "nationality, race/ethnicity) and reports, per group, the log-likelihood preference of\n"
                 "positive over negative continuations and the lexicon sentiment of sampled continuations;\n"
                 "per axis the spread and the worst pair.\n"
                 "  -m DIR          the model (checkpoint + tokenizer files)\n"
                 "  --data DIR      the sets (default " SG_BIAS_DEFAULT_DATA ")\n"
                 "  --samples K     sampled continuations per prompt (default 4)\n"
                 "  --tokens T      tokens per sampled continuation (default 24)\n"
                 "  --frames N      only the first N frames (default all; quick runs)\n"
                 "  --seed S        sampling seed (default 1)\n"
                 "  --out FILE      also write the JSON result to FILE\n");
}

int sg_cmd_bias_eval(int argc, char **argv) {
    const char *dir = NULL, *out_path = NULL;
    sg_bias_eval_config cfg = {SG_BIAS_DEFAULT_DATA, 4, 24, 0, 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && has)
            dir = argv[++i];
        else if (!strcmp(a, "--data") && has)
            cfg.data_dir = argv[++i];
        else if (!strcmp(a, "--out") && has)
            out_path = argv[++i];
        else if (has && (!strcmp(a, "--samples") || !strcmp(a, "--tokens") || !strcmp(a, "--frames") ||
                         !strcmp(a, "--seed"))) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end || v < 0) {
                fprintf(stderr, "stagegate bias-eval: %s wants a non-negative integer, got '%s'\n", a,
                        argv[i]);
                return 2;
            }
            if (!strcmp(a, "--samples"))
                cfg.samples = (int)v;
            else if (!strcmp(a, "--tokens"))
                cfg.sample_tokens = (int)v;
            else if (!strcmp(a, "--frames"))
                cfg.max_frames = (int)v;
            else
                cfg.seed = (uint64_t)v;
        } else {
            fprintf(stderr, "stagegate bias-eval: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "stagegate bias-eval: need -m DIR\n");
        return 2;
    }
    sg_checkpoint *ck = NULL;
    sg_tokenizer *tok = NULL;
    json_t *r = NULL;
    sg_error *err = sg_checkpoint_open(dir, &ck);
    if (!err) err = sg_tokenizer_load(dir, &tok);
    if (!err) err = sg_bias_eval_run(sg_checkpoint_weights(ck), tok, &cfg, &r);
    sg_tokenizer_free(tok);
    sg_checkpoint_close(ck);
    if (sg_eval_save("bias-eval", err, r, out_path)) return 1;
    return sg_eval_print_json(r);
}
