/* cmd_detect_eval.c — `stagegate detect-eval`: runs the zero-shot detection
 * evaluation suite (src/eval/detect_eval.h) on a model and prints (or
 * stores, --out) the JSON result. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/eval_out.h"
#include "engine/checkpoint.h"
#include "engine/tokenizer.h"
#include "eval/detect_eval.h"

static void usage(FILE *out) {
    fprintf(out, "usage: stagegate detect-eval -m DIR [options]\n"
                 "\n"
                 "Zero-shot detection of the model's own text: completions at temperature 1 and top-k 40\n"
                 "against the human continuations of the same held-out prompts. Prints AUROC and the\n"
                 "true-positive rate at 1%% false positives for Fast-DetectGPT, log-rank and likelihood.\n"
                 "  -m DIR             the model (checkpoint + tokenizer files)\n"
                 "  --samples N        completions per sampling, and human passages (default 100)\n"
                 "  --tokens T         passage length (default 200)\n"
                 "  --prompt-tokens P  prompt length (default 32)\n"
                 "  --seed S           sampling seed (default 1)\n"
                 "  --heldout DIR      human text, .txt files (default data/sotu/heldout)\n"
                 "  --out FILE         also write the JSON result to FILE\n");
}

int sg_cmd_detect_eval(int argc, char **argv) {
    const char *dir = NULL, *out_path = NULL;
    sg_detect_eval_config cfg = {100, 200, 32, 1, "data/sotu/heldout"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && has)
            dir = argv[++i];
        else if (!strcmp(a, "--heldout") && has)
            cfg.heldout_dir = argv[++i];
        else if (!strcmp(a, "--out") && has)
            out_path = argv[++i];
        else if (has && (!strcmp(a, "--samples") || !strcmp(a, "--tokens") || !strcmp(a, "--prompt-tokens") ||
                         !strcmp(a, "--seed"))) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end || v < 0) {
                fprintf(stderr, "stagegate detect-eval: %s wants a non-negative integer, got '%s'\n", a,
                        argv[i]);
                return 2;
            }
            if (!strcmp(a, "--samples"))
                cfg.samples = (int)v;
            else if (!strcmp(a, "--tokens"))
                cfg.tokens = (int)v;
            else if (!strcmp(a, "--prompt-tokens"))
                cfg.prompt_tokens = (int)v;
            else
                cfg.seed = (uint64_t)v;
        } else {
            fprintf(stderr, "stagegate detect-eval: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "stagegate detect-eval: need -m DIR\n");
        return 2;
    }
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
