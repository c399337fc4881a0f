/* cmd_checkpoint.c — `stagegate checkpoint init|info|convert`: create
 * random-weight GPT-2 checkpoints, describe one, change its dtype. */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "engine/checkpoint.h"

#define DTYPES "f32|f16|bf16"

typedef struct {
    const char *shape, *tokenizer, *outdir, *seed, *dtype;
    int dims[6]; /* L H C V T I */
    int zeros;
} init_opts;

#define DIM(name, i, what)                                                                                   \
    {                                                                                                        \
        name, 0, SG_CLI_INT, offsetof(init_opts, dims) + (i) * sizeof(int), "N", what,                       \
            .min = 1, .max = 1 << 24, .def = "from --shape"                                                  \
    }
static const sg_cli_opt init_table[] = {
    {"shape", 0, SG_CLI_STRING, offsetof(init_opts, shape), .arg = "NAME",
     .help = "a GPT-2 shape: 124M, 355M, 774M or 1.5B"},
    DIM("layers", 0, "transformer layers"),
    DIM("heads", 1, "attention heads"),
    DIM("embd", 2, "embedding width"),
    DIM("vocab", 3, "vocabulary size"),
    DIM("ctx", 4, "context length"),
    {"inner", 0, SG_CLI_INT, offsetof(init_opts, dims) + 5 * sizeof(int), .arg = "N", .help = "MLP width",
     .min = 1, .max = 1 << 24, .def = "4 * embd"},
    {"seed", 0, SG_CLI_STRING, offsetof(init_opts, seed), .arg = "S",
     .help = "seed of the random initialisation (unsigned 64-bit)"},
    {"dtype", 0, SG_CLI_STRING, offsetof(init_opts, dtype), .arg = DTYPES, .help = "weight dtype"},
    {"tokenizer", 0, SG_CLI_STRING, offsetof(init_opts, tokenizer), .arg = "DIR",
     .help = "copy vocab.json and merges.txt (or encoder.json and vocab.bpe) from DIR"},
    {"zeros", 0, SG_CLI_FLAG, offsetof(init_opts, zeros), .arg = NULL,
     .help = "all-zero weights written as a sparse file (fast, for testing large shapes)"},
    {"output", 'o', SG_CLI_STRING, offsetof(init_opts, outdir), .arg = "DIR", .help = "output directory"},
    {0},
};
#undef DIM
static const sg_cli_cmd init_cmd = {
    .name = "checkpoint init",
    .summary = "write a GPT-2 checkpoint (config.json, model.safetensors) with GPT-2's random initialisation",
    .opts = init_table,
    .description = "Give --shape, or all of --layers --heads --embd --vocab --ctx (and optionally --inner).\n"
                   "The weights get GPT-2's random initialisation for the seed; --zeros writes all-zero\n"
                   "weights as a sparse file instead.\n",
};

typedef struct {
    int check;
} info_opts;
static const sg_cli_opt info_table[] = {
    {"check", 0, SG_CLI_FLAG, offsetof(info_opts, check), .arg = NULL,
     .help = "also scan every weight for NaN/infinity"},
    {0},
};
static const sg_cli_cmd info_cmd = {
    .name = "checkpoint info",
    .summary = "load and validate DIR; print its shape, parameters, dtype and sizes",
    .args = "DIR",
    .min_args = 1,
    .max_args = 1,
    .opts = info_table,
};

typedef struct {
    const char *outdir, *dtype;
} convert_opts;
static const sg_cli_opt convert_table[] = {
    {"dtype", 0, SG_CLI_STRING, offsetof(convert_opts, dtype), .arg = DTYPES, .help = "the new weight dtype",
     .required = 1},
    {"output", 'o', SG_CLI_STRING, offsetof(convert_opts, outdir), .arg = "OUT", .help = "output directory",
     .required = 1},
    {0},
};
static const sg_cli_cmd convert_cmd = {
    .name = "checkpoint convert",
    .summary = "rewrite DIR's weights as another dtype into OUT (tokenizer files copied)",
    .args = "DIR",
    .min_args = 1,
    .max_args = 1,
    .opts = convert_table,
};

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "stagegate checkpoint: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return 2;
}

static int file_exists(const char *dir, const char *name) {
    char *p = sg_path_join(dir, name);
    struct stat sb;
    int ok = p && stat(p, &sb) == 0;
    free(p);
    return ok;
}

static int cmd_init(int argc, char **argv) {
    init_opts o = {.seed = "1", .dtype = "f32"};
    int rc = sg_cli_parse(&init_cmd, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    const char *shape = o.shape, *tokenizer = o.tokenizer, *outdir = o.outdir, *seed_arg = o.seed;
    const int *dims = o.dims;
    int zeros = o.zeros;
    sg_dtype dtype;
    sg_error *err = sg_dtype_parse(o.dtype, &dtype);
    if (err) {
        fprintf(stderr, "stagegate checkpoint: %s\n", sg_error_message(err));
        sg_error_free(err);
        return 2;
    }
    if (!outdir) return usage_error("%s", "init needs -o DIR");
    char *end;
    uint64_t seed = strtoull(seed_arg, &end, 10);
    if (!*seed_arg || *end) return usage_error("bad seed '%s'", seed_arg);

    sg_gpt2_config c;
    if (shape) {
        for (int i = 0; i < 6; i++)
            if (dims[i]) return usage_error("%s", "give either --shape or the dimensions, not both");
        if ((err = sg_gpt2_config_preset(shape, &c))) return sg_cli_fail("checkpoint", err);
    } else {
        for (int i = 0; i < 5; i++)
            if (!dims[i])
                return usage_error("%s",
                                   "init needs --shape, or all of --layers --heads --embd --vocab --ctx");
        c = (sg_gpt2_config){.n_layer = dims[0],
                             .n_head = dims[1],
                             .n_embd = dims[2],
                             .vocab_size = dims[3],
                             .n_ctx = dims[4],
                             .n_inner = dims[5] ? dims[5] : 4 * dims[2],
                             .ln_epsilon = 1e-5f};
        if ((err = sg_gpt2_config_validate(&c))) return sg_cli_fail("checkpoint", err);
    }
    char seed_str[32];
    snprintf(seed_str, sizeof seed_str, "%" PRIu64, seed);
    const char *meta_random[] = {"created_by", "stagegate checkpoint init", "init", "gpt2-normal", "seed",
                                 seed_str};
    const char *meta_zeros[] = {"created_by", "stagegate checkpoint init", "init", "zeros"};
    if (zeros) {
        err = sg_checkpoint_save_zeros(outdir, &c, dtype, meta_zeros, 2);
    } else {
        sg_gpt2_weights *w;
        if ((err = sg_gpt2_weights_alloc(&c, &w))) return sg_cli_fail("checkpoint", err);
        sg_gpt2_weights_init_random(w, seed);
        err = sg_checkpoint_save(outdir, w, dtype, meta_random, 3);
        sg_gpt2_weights_free(w);
    }
    if (!err && tokenizer) err = sg_checkpoint_copy_tokenizer(tokenizer, outdir);
    if (err) return sg_cli_fail("checkpoint", err);
    const char *name = sg_gpt2_config_shape_name(&c);
    printf("wrote %s: %s%s%zu parameters, %s%s\n", outdir, name ? name : "", name ? ", " : "",
           sg_gpt2_param_count(&c), sg_dtype_name(dtype), zeros ? ", zeros" : "");
    return 0;
}

static int cmd_info(int argc, char **argv) {
    info_opts o = {0};
    int n_args, rc = sg_cli_parse(&info_cmd, argc, argv, &o, &n_args);
    if (rc >= 0) return rc;
    int check = o.check;
    const char *dir = argv[1];
    sg_checkpoint *ck;
    sg_error *err = sg_checkpoint_open(dir, &ck);
    if (err) return sg_cli_fail("checkpoint", err);
    const sg_gpt2_weights *w = sg_checkpoint_weights(ck);
    const sg_gpt2_config *c = &w->config;
    const sg_safetensors *st = sg_checkpoint_file(ck);
    const char *name = sg_gpt2_config_shape_name(c);
    size_t params = sg_gpt2_param_count(c), mapped, copied;
    sg_checkpoint_bytes(ck, &mapped, &copied);
    printf("checkpoint  %s\n", dir);
    printf("shape       %s (layers %d, heads %d, embd %d, vocab %d, ctx %d, inner %d)\n",
           name ? name : "custom", c->n_layer, c->n_head, c->n_embd, c->vocab_size, c->n_ctx, c->n_inner);
    printf("params      %zu (%.1fM)\n", params, (double)params / 1e6);
    printf("dtype       %s\n", sg_dtype_name(sg_checkpoint_dtype(ck)));
    printf("file        %zu bytes, %d tensors, header %zu bytes\n", st->map.size, st->n_tensors,
           st->header_size);
    printf("memory      %zu bytes mapped in place, %zu bytes converted\n", mapped, copied);
    printf("tokenizer   %s\n", file_exists(dir, "vocab.json") && file_exists(dir, "merges.txt")
                                   ? "vocab.json, merges.txt"
                                   : "absent");
    for (int i = 0; i < st->n_meta; i++) printf("metadata    %s=%s\n", st->meta[2 * i], st->meta[2 * i + 1]);
    int status = 0;
    if (check) {
        int n = sg_gpt2_tensors(w, NULL);
        sg_gpt2_tensor *t = calloc((size_t)n, sizeof *t);
        size_t bad = 0;
        if (!t || sg_gpt2_tensors(w, t) != n) {
            sg_checkpoint_close(ck);
            free(t);
            return sg_cli_fail("checkpoint", sg_error_new("out of memory"));
        }
        for (int i = 0; i < n; i++) {
            size_t here = 0;
            for (size_t j = 0; j < t[i].numel; j++) here += !isfinite(t[i].data[j]);
            if (here)
                fprintf(stderr, "stagegate checkpoint: tensor '%s': %zu non-finite values\n", t[i].name,
                        here);
            bad += here;
        }
        free(t);
        printf("check       %s\n", bad ? "FAILED: non-finite values" : "all values finite");
        status = bad ? 1 : 0;
    }
    sg_checkpoint_close(ck);
    return status;
}

static int cmd_convert(int argc, char **argv) {
    convert_opts o = {0};
    int n_args, rc = sg_cli_parse(&convert_cmd, argc, argv, &o, &n_args);
    if (rc >= 0) return rc;
    const char *outdir = o.outdir, *dtype_arg = o.dtype;
    sg_dtype dtype;
    sg_error *err = sg_dtype_parse(dtype_arg, &dtype);
    if (err) {
        fprintf(stderr, "stagegate checkpoint: %s\n", sg_error_message(err));
        sg_error_free(err);
        return 2;
    }
    const char *dir = argv[1];
    sg_checkpoint *ck;
    if ((err = sg_checkpoint_open(dir, &ck))) return sg_cli_fail("checkpoint", err);
    const sg_safetensors *st = sg_checkpoint_file(ck);
    /* Keep the source's metadata, note where it came from. */
    const char **kv = calloc(2 * (size_t)st->n_meta + 2, sizeof *kv);
    if (!kv) {
        sg_checkpoint_close(ck);
        return sg_cli_fail("checkpoint", sg_error_new("out of memory"));
    }
    int n = 0;
    for (int i = 0; i < st->n_meta; i++) {
        if (!strcmp(st->meta[2 * i], "converted_from")) continue;
        kv[2 * n] = st->meta[2 * i];
        kv[2 * n + 1] = st->meta[2 * i + 1];
        n++;
    }
    kv[2 * n] = "converted_from";
    kv[2 * n + 1] = sg_dtype_name(sg_checkpoint_dtype(ck));
    n++;
    err = sg_checkpoint_save(outdir, sg_checkpoint_weights(ck), dtype, kv, n);
    free(kv);
    if (!err && file_exists(dir, "vocab.json") && file_exists(dir, "merges.txt"))
        err = sg_checkpoint_copy_tokenizer(dir, outdir);
    sg_checkpoint_close(ck);
    if (err) return sg_cli_fail("checkpoint", err);
    printf("wrote %s: %s\n", outdir, sg_dtype_name(dtype));
    return 0;
}

int sg_cmd_checkpoint(int argc, char **argv) {
    static const sg_cli_sub subs[] = {
        {"init", cmd_init, &init_cmd, NULL},
        {"info", cmd_info, &info_cmd, NULL},
        {"convert", cmd_convert, &convert_cmd, NULL},
        {0},
    };
    return sg_cli_dispatch("checkpoint", "Create, inspect and convert GPT-2 checkpoints.", subs, argc, argv);
}
