/* cmd_logits.c — `stagegate logits`: a debugging view of the forward pass
 * used by the reference tests. Writes logits as little-endian float32 rows of
 * vocab_size, computed one of three ways:
 *   (default)    prefill of the whole prompt: one row, the last position;
 *   --decode     prefill of the first token, then one decode per token: a row
 *                for every position (the decode path);
 *   --chunk K    prefill in chunks of K tokens: a row per chunk end (prefill
 *                appending to a non-empty cache). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "engine/checkpoint.h"
#include "engine/gpt2.h"

typedef struct {
    const char *dir, *ids, *path;
    int decode, bf16;
    long chunk;
} logits_opts;

static const sg_cli_opt table[] = {
    {"model", 'm', SG_CLI_STRING, offsetof(logits_opts, dir), .arg = "DIR", .help = "checkpoint directory",
     .required = 1},
    {"ids", 0, SG_CLI_STRING, offsetof(logits_opts, ids), .arg = "\"ID ...\"",
     .help = "the prompt's token ids", .required = 1},
    {"decode", 0, SG_CLI_FLAG, offsetof(logits_opts, decode), .arg = NULL,
     .help = "a row for every position, through the decode path"},
    {"chunk", 0, SG_CLI_LONG, offsetof(logits_opts, chunk), .arg = "K",
     .help = "prefill K tokens at a time: a row per chunk end", .min = 1, .max = 1 << 20,
     .def = "the whole prompt"},
    {"bf16", 0, SG_CLI_FLAG, offsetof(logits_opts, bf16), .arg = NULL, .help = "decode with bf16 weights"},
    {"output", 'o', SG_CLI_STRING, offsetof(logits_opts, path), .arg = "FILE",
     .help = "where the float32 rows go", .required = 1},
    {0},
};
static const sg_cli_cmd cmd = {
    .name = "logits",
    .summary = "write a prompt's logits (debugging, reference tests)",
    .opts = table,
    .description = "Writes the model's logits (float32 rows of vocab_size) for a prompt: the last position\n"
                   "after one prefill (default), every position through the decode path (--decode), or each\n"
                   "chunk's last position when prefilling K tokens at a time (--chunk).\n",
};

int sg_cmd_logits(int argc, char **argv) {
    logits_opts o = {0};
    int rc = sg_cli_parse(&cmd, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    const char *dir = o.dir, *ids_text = o.ids, *path = o.path;
    int decode = o.decode, bf16 = o.bf16;
    long chunk = o.chunk;
    if (decode && chunk) return sg_cli_usage("logits", "--decode and --chunk exclude each other");
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
