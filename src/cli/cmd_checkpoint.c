/* cmd_checkpoint.c — `stagegate checkpoint init|info|convert`: create
 * random-weight GPT-2 checkpoints, describe one, change its dtype. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "cli/commands.h"
#include "cli/opt_table.h"
#include "engine/checkpoint.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: stagegate checkpoint init (--shape 124M|355M|774M|1.5B | --layers L --heads H --embd C\n"
        "                                  --vocab V --ctx T [--inner I]) [--seed S] [--dtype f32|f16|bf16]\n"
        "                                 [--tokenizer DIR] [--zeros] -o DIR\n"
        "       stagegate checkpoint info DIR [--check]\n"
        "       stagegate checkpoint convert DIR --dtype f32|f16|bf16 -o OUT\n"
        "\n"
        "init     writes a GPT-2 checkpoint (config.json, model.safetensors) with GPT-2's random\n"
        "         initialisation for a seed (default 1); --zeros writes all-zero weights as a sparse\n"
        "         file instead (fast, for testing large shapes); --tokenizer copies vocab.json and\n"
        "         merges.txt (or encoder.json and vocab.bpe) from DIR.\n"
        "info     loads and validates DIR and prints its shape, parameters, dtype and sizes;\n"
        "         --check also scans every weight for NaN/infinity.\n"
        "convert  rewrites DIR's weights as another dtype into OUT (tokenizer files copied).\n");
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "stagegate checkpoint: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    usage(stderr);
    return 2;
}

/* A positive int option value, or -1. */
static int parse_pos_int(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    return (*s && !*end && v > 0 && v <= (1 << 24)) ? (int)v : -1;
}

static int file_exists(const char *dir, const char *name) {
    char *p = sg_path_join(dir, name);
    struct stat sb;
    int ok = p && stat(p, &sb) == 0;
    free(p);
    return ok;
}

static int cmd_init(int argc, char **argv) {
    static const struct option opts[] = {
        {"shape", required_argument, 0, 's'}, {"layers", required_argument, 0, 'L'},
        {"heads", required_argument, 0, 'H'}, {"embd", required_argument, 0, 'C'},
        {"vocab", required_argument, 0, 'V'}, {"ctx", required_argument, 0, 'T'},
        {"inner", required_argument, 0, 'I'}, {"seed", required_argument, 0, 'S'},
        {"dtype", required_argument, 0, 'd'}, {"tokenizer", required_argument, 0, 't'},
        {"zeros", no_argument, 0, 'z'},       {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0},
    };
    const char *shape = NULL, *tokenizer = NULL, *outdir = NULL, *seed_arg = "1";
    int dims[6] = {0}; /* L H C V T I */
    int zeros = 0, opt;
    sg_dtype dtype = SG_DTYPE_F32;
    sg_error *err;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        const char *which = strchr("LHCVTI", opt);
        if (which && opt) {
            int v = parse_pos_int(optarg);
            if (v < 0) return usage_error("bad number '%s'", optarg);
            dims[which - "LHCVTI"] = v;
            continue;
        }
        switch (opt) {
        case 's':
            shape = optarg;
            break;
        case 'S':
            seed_arg = optarg;
            break;
        case 'd':
            if ((err = sg_dtype_parse(optarg, &dtype))) {
                fprintf(stderr, "stagegate checkpoint: %s\n", sg_error_message(err));
                sg_error_free(err);
                return 2;
            }
            break;
        case 't':
            tokenizer = optarg;
            break;
        case 'z':
            zeros = 1;
            break;
        case 'o':
            outdir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) return usage_error("unexpected argument '%s'", argv[optind]);
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
    static const struct option opts[] = {
        {"check", no_argument, 0, 'c'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int check = 0, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (opt == 'c')
            check = 1;
        else if (opt == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc) return usage_error("%s", "info needs exactly one DIR");
    const char *dir = argv[optind];
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
    static const struct option opts[] = {{"dtype", required_argument, 0, 'd'},
                                         {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *outdir = NULL, *dtype_arg = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (opt == 'd')
            dtype_arg = optarg;
        else if (opt == 'o')
            outdir = optarg;
        else if (opt == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc || !outdir || !dtype_arg)
        return usage_error("%s", "convert needs DIR, --dtype and -o OUT");
    sg_dtype dtype;
    sg_error *err = sg_dtype_parse(dtype_arg, &dtype);
    if (err) {
        fprintf(stderr, "stagegate checkpoint: %s\n", sg_error_message(err));
        sg_error_free(err);
        return 2;
    }
    const char *dir = argv[optind];
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
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *verb = argv[1];
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(verb, "init")) return cmd_init(argc - 1, argv + 1);
    if (!strcmp(verb, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(verb, "convert")) return cmd_convert(argc - 1, argv + 1);
    return usage_error("unknown verb '%s' (init, info, convert)", verb);
}
