/* cmd_logits.c — `stagegate logits`: a debugging view of the forward pass
 * used by the reference tests. Writes logits as little-endian float32 rows of
 * vocab_size, computed one of three ways:
 *   (default)    prefill of the whole prompt: one row, the last position;
 *   --decode     prefill of the first token, then one decode per token: a row
 *                for every position (the decode path);
 *   --chunk K    prefill in chunks of K tokens: a row per chunk end (prefill
 *                appending to a non-empty cache). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "engine/checkpoint.h"
#include "engine/gpt2.h"

static void usage(FILE *out) {
    fprintf(out, "usage: stagegate logits -m DIR --ids \"ID ...\" [--decode | --chunk K] [--bf16] -o FILE\n"
                 "\n"
                 "Writes the model's logits (float32 rows of vocab_size) for a prompt: the last\n"
                 "position after one prefill (default), every position through the decode path\n"
                 "(--decode), or each chunk's last position when prefilling K tokens at a time.\n"
                 "--bf16 decodes with bf16 weights.\n");
}

int sg_cmd_logits(int argc, char **argv) {
    const char *dir = NULL, *ids_text = NULL, *path = NULL;
    int decode = 0, bf16 = 0;
    long chunk = 0;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"ids", required_argument, 0, 'i'},
        {"decode", no_argument, 0, 'd'},       {"chunk", required_argument, 0, 'k'},
        {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
        {"bf16", no_argument, 0, 'b'},         {0, 0, 0, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "m:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            dir = optarg;
            break;
        case 'i':
            ids_text = optarg;
            break;
        case 'd':
            decode = 1;
            break;
        case 'b':
            bf16 = 1;
            break;
        case 'k': {
            char *end;
            errno = 0;
            chunk = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || chunk < 1 || chunk > 1 << 20) {
                fprintf(stderr, "stagegate logits: --chunk must be a positive integer, got '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 'o':
            path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!dir || !ids_text || !path || (decode && chunk) || optind < argc) {
        usage(stderr);
        return 2;
    }
    int n = 0, cap = 64;
    int *ids = malloc(sizeof(int) * cap);
    for (const char *p = ids_text; ids;) {
        while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || x < 0 || x > 0x7fffffff) {
            fprintf(stderr, "stagegate logits: bad token id at '%.20s'\n", p);
            free(ids);
            return 2;
        }
        if (n == cap) {
            int *q = realloc(ids, sizeof(int) * (cap *= 2));
            if (!q) free(ids);
            ids = q;
            if (!ids) break;
        }
        ids[n++] = (int)x;
        p = end;
    }
    if (!ids || n == 0) {
        fprintf(stderr, "stagegate logits: %s\n", ids ? "--ids is empty" : "out of memory");
        free(ids);
        return ids ? 2 : 1;
    }

    int status = 1;
    sg_checkpoint *ck = NULL;
    sg_gpt2 *model = NULL;
    float *logits = NULL;
    FILE *f = NULL;
    sg_error *err = sg_checkpoint_open(dir, &ck);
    if (err) goto done;
    err = sg_gpt2_new(sg_checkpoint_weights(ck), 1, &model);
    if (err) goto done;
    if (bf16 && (err = sg_gpt2_use_bf16(model))) goto done;
    int V = sg_gpt2_config_of(model)->vocab_size;
    logits = malloc(sizeof(float) * V);
    f = fopen(path, "wb");
    if (!logits || !f) {
        err = sg_error_new("%s: %s", path, logits ? strerror(errno) : "out of memory");
        goto done;
    }
    int slot = sg_gpt2_slot_acquire(model);
    int step = decode ? 1 : chunk ? (int)chunk : n;
    for (int at = 0; at < n && !err; at += step) {
        int len = at + step > n ? n - at : step;
        if (decode && at > 0)
            err = sg_gpt2_decode(model, &slot, ids + at, 1, logits);
        else
            err = sg_gpt2_prefill(model, slot, ids + at, len, logits);
        if (!err && fwrite(logits, sizeof(float), V, f) != (size_t)V)
            err = sg_error_new("%s: write failed", path);
    }
    if (!err && fclose(f)) err = sg_error_new("%s: %s", path, strerror(errno));
    f = NULL;
    if (!err) status = 0;
done:
    if (err) {
        fprintf(stderr, "stagegate logits: %s\n", sg_error_message(err));
        sg_error_free(err);
    }
    if (f) fclose(f);
    free(logits);
    free(ids);
    sg_gpt2_free(model);
    if (ck) sg_checkpoint_close(ck);
    return status;
}
