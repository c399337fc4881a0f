/* cmd_watermark_eval.c — `stagegate watermark-eval`: runs the watermark
 * evaluation suite (src/eval/watermark_eval.h) on a model with the key of a
 * store and prints (or stores, --out) the JSON result. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/eval_out.h"
#include "engine/checkpoint.h"
#include "engine/tokenizer.h"
#include "eval/watermark_eval.h"
#include "safety/watermark_key.h"

static void usage(FILE *out) {
    fprintf(out, "usage: stagegate watermark-eval -m DIR [--db PATH] [options]\n"
                 "\n"
                 "Generates completions from prompts cut from held-out text with and without the\n"
                 "watermark and reports tpr (at the z threshold), fpr and the z distribution on the\n"
                 "human continuations, the perplexity cost, and tpr after replacing 10%%/25%% of tokens.\n"
                 "  -m DIR             the model (checkpoint + tokenizer files)\n"
                 "  --db PATH          the store holding the watermark key (default stagegate.db)\n"
                 "  --samples N        completions (default 50)\n"
                 "  --tokens T         completion length (default 200)\n"
                 "  --prompt-tokens P  prompt length (default 32)\n"
                 "  --gamma G --delta D --z-threshold Z   (defaults 0.25, 2, 4)\n"
                 "  --seed S           sampling seed (default 1)\n"
                 "  --heldout DIR      human text, .txt files (default data/sotu/heldout)\n"
                 "  --out FILE         also write the JSON result to FILE\n");
}

static int num(const char *s, double *v) {
    char *end;
    *v = strtod(s, &end);
    return end == s || *end;
}

int sg_cmd_watermark_eval(int argc, char **argv) {
    const char *dir = NULL, *db = "stagegate.db", *out_path = NULL;
    sg_watermark_eval_config cfg = {50, 200, 32, 0.25, 2.0, 4.0, 1, "data/sotu/heldout"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        double v = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && has)
            dir = argv[++i];
        else if (!strcmp(a, "--db") && has)
            db = argv[++i];
        else if (!strcmp(a, "--heldout") && has)
            cfg.heldout_dir = argv[++i];
        else if (!strcmp(a, "--out") && has)
            out_path = argv[++i];
        else if (has && (!strcmp(a, "--samples") || !strcmp(a, "--tokens") || !strcmp(a, "--prompt-tokens") ||
                         !strcmp(a, "--gamma") || !strcmp(a, "--delta") || !strcmp(a, "--z-threshold") ||
                         !strcmp(a, "--seed"))) {
            if (num(argv[++i], &v)) {
                fprintf(stderr, "stagegate watermark-eval: %s wants a number, got '%s'\n", a, argv[i]);
                return 2;
            }
            if (!strcmp(a, "--samples"))
                cfg.samples = (int)v;
            else if (!strcmp(a, "--tokens"))
                cfg.tokens = (int)v;
            else if (!strcmp(a, "--prompt-tokens"))
                cfg.prompt_tokens = (int)v;
            else if (!strcmp(a, "--gamma"))
                cfg.gamma = v;
            else if (!strcmp(a, "--delta"))
                cfg.delta = v;
            else if (!strcmp(a, "--z-threshold"))
                cfg.z_threshold = v;
            else
                cfg.seed = (uint64_t)v;
        } else {
            fprintf(stderr, "stagegate watermark-eval: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "stagegate watermark-eval: need -m DIR\n");
        return 2;
    }
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
