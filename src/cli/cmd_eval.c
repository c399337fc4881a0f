/* cmd_eval.c — `stagegate eval perplexity` (loss and perplexity of a
 * checkpoint on text), `stagegate eval gradients` (the training step on
 * given token batches, for checking against a reference implementation), and
 * the release's stored evaluations: `eval run SUITE` (a registered suite,
 * eval/evals.h, results stored for the gates and cards), `eval record`
 * (results measured elsewhere) and `eval list`. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/release_cli.h"
#include "cli/train_opts.h"
#include "engine/checkpoint.h"
#include "engine/tokenizer.h"
#include "eval/evals.h"
#include "train/adamw.h"
#include "train/dataset.h"
#include "train/gpt2_train.h"
#include "train/schedule.h"
#include "train/train_config.h"
#include "train/trainer.h"

#define OPT_MODEL(T, what)                                                                                   \
    { "model", 'm', SG_CLI_STRING, offsetof(T, model), .arg = "DIR", .help = what, .required = 1 }

typedef struct {
    const char *model;
    int context, threads, json;
} perplexity_opts;
static const sg_cli_opt perplexity_table[] = {
    OPT_MODEL(perplexity_opts, "checkpoint directory"),
    {"context", 0, SG_CLI_INT, offsetof(perplexity_opts, context), .arg = "N",
     .help = "window length, 0 = the model's n_ctx", .min = 0, .max = INFINITY},
    {"threads", 0, SG_CLI_INT, offsetof(perplexity_opts, threads), .arg = "N", .help = "threads",
     .def = "all cores"},
    {"json", 0, SG_CLI_FLAG, offsetof(perplexity_opts, json), .arg = NULL, .help = "print one JSON object"},
    {0},
};
static const sg_cli_cmd perplexity_cmd = {
    .name = "eval perplexity",
    .summary = "loss (nats/token), perplexity and token count of checkpoint DIR on FILES",
    .args = "FILES...",
    .min_args = 1,
    .max_args = -1,
    .opts = perplexity_table,
};

typedef struct {
    const char *model, *seed;
    int n_new, top_k;
    double temperature;
} sample_opts;
static const sg_cli_opt sample_table[] = {
    OPT_MODEL(sample_opts, "checkpoint directory (with its tokenizer)"),
    {"max-tokens", 'n', SG_CLI_INT, offsetof(sample_opts, n_new), .arg = "TOKENS",
     .help = "new tokens at most", .min = 1, .max = INFINITY},
    {"temperature", 0, SG_CLI_DOUBLE, offsetof(sample_opts, temperature), .arg = "T",
     .help = "sampling temperature, > 0"},
    {"top-k", 0, SG_CLI_INT, offsetof(sample_opts, top_k), .arg = "K",
     .help = "sample from the K most likely tokens", .min = 1, .max = INFINITY},
    {"seed", 0, SG_CLI_STRING, offsetof(sample_opts, seed), .arg = "S",
     .help = "random seed (unsigned 64-bit)"},
    {0},
};
static const sg_cli_cmd sample_cmd = {
    .name = "eval sample",
    .summary = "a quick sample through the training forward pass (model cards, smoke tests)",
    .args = "PROMPT",
    .min_args = 1,
    .max_args = 1,
    .opts = sample_table,
};

typedef struct {
    sg_train_flags flags; /* first: the training settings record here */
    const char *model, *tokens, *out;
} gradients_opts;

/* --dropout P sets the three dropout settings. */
static sg_error *set_dropout(void *dst, const sg_cli_opt *opt, const char *value) {
    (void)opt;
    sg_train_flags *f = dst;
    static const char *const keys[] = {"dropout_embd", "dropout_attn", "dropout_resid"};
    for (int i = 0; i < 3; i++) {
        f->v[f->n].key = keys[i];
        f->v[f->n++].value = value;
    }
    return NULL;
}
static const sg_cli_opt gradients_extra[] = {
    OPT_MODEL(gradients_opts, "checkpoint directory"),
    {"tokens", 0, SG_CLI_STRING, offsetof(gradients_opts, tokens), .arg = "FILE",
     .help = "int32 tokens [N, B, T+1]", .required = 1},
    {"output", 'o', SG_CLI_STRING, offsetof(gradients_opts, out), .arg = "OUT_DIR",
     .help = "where grads.f32 and losses.txt go", .required = 1},
    {"dropout", 0, SG_CLI_DOUBLE, 0, .arg = "P", .help = "all three dropout settings", .def = "0",
     .call = set_dropout},
    {0},
};
static sg_cli_cmd gradients_cmd = {
    .name = "eval gradients",
    .summary = "the training step on given token batches (to check against a reference implementation)",
    .description = "FILE holds int32 tokens [N, B, T+1] for --steps N --batch B --context T; writes\n"
                   "OUT_DIR/grads.f32 (the gradient of batch 0, canonical tensor order) and\n"
                   "OUT_DIR/losses.txt (N AdamW steps). Every training setting is an option.\n",
};

typedef struct {
    const char *model, *policy, *db, *data, *dataset;
    int threads, suites_only, n_metrics;
    sg_eval_metric metrics[SG_EVAL_MAX_METRICS];
} stored_opts;

/* --metric NAME=NUMBER */
static sg_error *add_metric(void *dst, const sg_cli_opt *opt, const char *value) {
    (void)opt;
    stored_opts *o = dst;
    const char *eq = strchr(value, '=');
    char *end = NULL;
    double v = eq ? strtod(eq + 1, &end) : 0;
    if (!eq || eq == value || end == eq + 1 || *end)
        return sg_error_new("expected NAME=NUMBER, got '%s'", value);
    if (o->n_metrics == SG_EVAL_MAX_METRICS)
        return sg_error_new("given more than %d times", SG_EVAL_MAX_METRICS);
    snprintf(o->metrics[o->n_metrics].name, sizeof o->metrics[o->n_metrics].name, "%.*s", (int)(eq - value),
             value);
    o->metrics[o->n_metrics++].value = v;
    return NULL;
}
#define OPT_DB                                                                                               \
    {                                                                                                        \
        "db", 0, SG_CLI_STRING, offsetof(stored_opts, db), .arg = "PATH", .help = "the store",               \
                                                           .def = "./stagegate.db"                           \
    }
#define OPT_POLICY                                                                                           \
    {                                                                                                        \
        "policy", 0, SG_CLI_STRING, offsetof(stored_opts, policy),                                           \
            .arg = "FILE", .help = "the release policy (names the models)"                                   \
    }
static const sg_cli_opt run_table[] = {
    {"model", 'm', SG_CLI_STRING, offsetof(stored_opts, model), .arg = "MODEL",
     .help = "a model of the policy, or a directory", .required = 1},
    OPT_POLICY,
    OPT_DB,
    {"data", 0, SG_CLI_STRING, offsetof(stored_opts, data), .arg = "PATH", .help = "the suite's data",
     .def = "the suite's own"},
    {"threads", 0, SG_CLI_INT, offsetof(stored_opts, threads), .arg = "N", .help = "threads", .min = 1,
     .max = 1024, .def = "all cores"},
    {0},
};
static const sg_cli_opt record_table[] = {
    {"model", 'm', SG_CLI_STRING, offsetof(stored_opts, model), .arg = "MODEL", .help = "the model measured",
     .required = 1},
    {"metric", 0, SG_CLI_STRING, 0, .arg = "NAME=VALUE", .help = "a result; repeat for several",
     .required = 1, .call = add_metric},
    {"dataset", 0, SG_CLI_STRING, offsetof(stored_opts, dataset), .arg = "TEXT",
     .help = "what it was measured on"},
    OPT_POLICY,
    OPT_DB,
    {0},
};
static const sg_cli_opt list_table[] = {
    OPT_DB,
    {"model", 'm', SG_CLI_STRING, offsetof(stored_opts, model), .arg = "MODEL",
     .help = "only this model's results"},
    {"suites", 0, SG_CLI_FLAG, offsetof(stored_opts, suites_only), .arg = NULL,
     .help = "only the registered suites"},
    {0},
};
#undef OPT_DB
#undef OPT_POLICY
static const sg_cli_cmd run_cmd = {
    .name = "eval run",
    .summary = "run a registered suite and store its metrics for the release gates and model cards",
    .args = "SUITE",
    .min_args = 1,
    .max_args = 1,
    .opts = run_table,
    .description =
        "The metrics are stored with the model, the time and the code version. `stagegate eval list\n"
        "--suites` names the suites.\n",
};
static const sg_cli_cmd record_cmd = {
    .name = "eval record",
    .summary = "store results measured outside stagegate (marked \"recorded\")",
    .args = "SUITE",
    .min_args = 1,
    .max_args = 1,
    .opts = record_table,
};
static const sg_cli_cmd list_cmd = {
    .name = "eval list",
    .summary = "the registered suites and the stored results",
    .opts = list_table,
};

static int perplexity(int argc, char **argv) {
    perplexity_opts o = {0};
    int n, rc = sg_cli_parse(&perplexity_cmd, argc, argv, &o, &n);
    if (rc >= 0) return rc;
    const char *model = o.model;
    int context = o.context, json = o.json;
    if (o.threads > 0) omp_set_num_threads(o.threads), openblas_set_num_threads(o.threads);
    char **files = argv + 1;
    char **expanded = NULL;
    int n_expanded = 0;
    double loss = 0;
    size_t tokens = 0;
    sg_error *err = sg_dataset_expand(files, n, &expanded, &n_expanded);
    if (!err) err = sg_eval_perplexity(model, expanded, n_expanded, context, &loss, &tokens);
    sg_dataset_free_paths(expanded, n_expanded);
    if (err) {
        fprintf(stderr, "stagegate eval: %s\n", sg_error_message(err));
        sg_error_free(err);
        return 1;
    }
    if (json)
        printf("{\"loss\": %.6f, \"perplexity\": %.4f, \"tokens\": %zu}\n", loss, exp(loss), tokens);
    else
        printf("loss %.4f  perplexity %.3f  tokens %zu\n", loss, exp(loss), tokens);
    return 0;
}

static int gradients(int argc, char **argv) {
    sg_train_config c;
    sg_train_config_defaults(&c);
    c.dropout_embd = c.dropout_attn = c.dropout_resid = 0.0;
    static sg_cli_opt table[100];
    static sg_train_opts_text text;
    gradients_cmd.opts =
        sg_train_opts_table(table, sizeof table / sizeof table[0], gradients_extra, 0, &c, &text);
    if (!gradients_cmd.opts) {
        sg_train_config_free(&c);
        return sg_cli_fail("eval", sg_error_new("too many training settings for the option table"));
    }
    gradients_opts o = {.flags.v = calloc(2 * (size_t)argc, sizeof *o.flags.v)};
    if (!o.flags.v) {
        sg_train_config_free(&c);
        return sg_cli_fail("eval", sg_error_new("out of memory"));
    }
    int rc = sg_cli_parse(&gradients_cmd, argc, argv, &o, NULL);
    if (rc >= 0) {
        free(o.flags.v);
        sg_train_config_free(&c);
        return rc;
    }
    const char *model = o.model, *tokens = o.tokens, *out = o.out;
    sg_error *err = sg_train_opts_apply(&o.flags, &c);
    free(o.flags.v);
    sg_checkpoint *ck = NULL;
    sg_train_model *m = NULL;
    sg_adamw opt = {0};
    sg_file_map map = {0};
    FILE *lf = NULL;
    rc = 1;
    if (err) goto done;
    if ((err = sg_checkpoint_open(model, &ck))) goto done;
    const sg_gpt2_weights *w = sg_checkpoint_weights(ck);
    int B = c.batch, T = c.context;
    if ((err = sg_train_model_new(&w->config, B, T, &m)) || (err = sg_train_model_load(m, w))) goto done;
    sg_adamw_config ac = {(float)c.beta1, (float)c.beta2, (float)c.eps, (float)c.weight_decay};
    if ((err = sg_adamw_init(&opt, &ac, &w->config))) goto done;
    if ((err = sg_file_map_open(tokens, &map))) goto done;
    size_t per = (size_t)B * (T + 1);
    if (map.size != (size_t)c.steps * per * sizeof(int32_t)) {
        err = sg_error_new("%s: %zu bytes, expected %ld x %d x %d int32 tokens", tokens, map.size, c.steps, B,
                           T + 1);
        goto done;
    }
    char *lp = sg_path_join(out, "losses.txt");
    lf = lp ? fopen(lp, "w") : NULL;
    free(lp);
    if (!lf) {
        err = sg_error_new("%s: cannot write losses.txt", out);
        goto done;
    }
    size_t n;
    float *params = sg_train_model_params(m, &n), *grads = sg_train_model_grads(m, NULL);
    sg_schedule sched = {(float)c.lr, c.warmup, c.steps, (float)c.lr_floor};
    sg_dropout drop = {(float)c.dropout_embd, (float)c.dropout_attn, (float)c.dropout_resid};
    int *in = malloc(sizeof(int) * (size_t)B * T), *tg = malloc(sizeof(int) * (size_t)B * T);
    for (long s = 0; s < c.steps && !err; s++) {
        const int32_t *src = (const int32_t *)map.data + (size_t)s * per;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                in[b * T + t] = src[(size_t)b * (T + 1) + t];
                tg[b * T + t] = src[(size_t)b * (T + 1) + t + 1];
            }
        float loss;
        sg_train_zero_grad(m);
        if ((err = sg_train_forward(m, in, tg, B, T, 1, &drop, (uint64_t)c.seed + (uint64_t)s, &loss)) ||
            (err = sg_train_backward(m, 1.0f)))
            break;
        if (s == 0) {
            char *gp = sg_path_join(out, "grads.f32");
            err = sg_file_write_atomic(gp, grads, n * sizeof(float));
            free(gp);
        }
        fprintf(lf, "%.9g\n", loss);
        sg_clip_grad_norm(grads, n, (float)c.clip);
        sg_adamw_step(&opt, params, grads, sg_schedule_lr(&sched, s));
    }
    free(in);
    free(tg);
    if (!err) rc = 0;
done:
    if (lf) fclose(lf);
    sg_file_unmap(&map);
    sg_adamw_free(&opt);
    sg_train_model_free(m);
    sg_checkpoint_close(ck);
    sg_train_config_free(&c);
    if (err) {
        fprintf(stderr, "stagegate eval: %s\n", sg_error_message(err));
        sg_error_free(err);
    }
    return rc;
}

/* ---- stored evaluations (eval/evals.h) ---------------------------------- */

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

static int stored(int argc, char **argv) {
    const char *cmd = "eval", *verb = argv[0];
    const sg_cli_cmd *spec = !strcmp(verb, "list")     ? &list_cmd
                             : !strcmp(verb, "record") ? &record_cmd
                                                       : &run_cmd;
    stored_opts o = {0};
    int n_pos, rc = sg_cli_parse(spec, argc, argv, &o, &n_pos);
    if (rc >= 0) return rc;
    const char *model = o.model, *policy_path = o.policy, *db = o.db, *data = o.data, *dataset = o.dataset;
    const char *const *pos = (const char *const *)argv + 1;
    int suites_only = o.suites_only, n_metrics = o.n_metrics, threads = o.threads;
    sg_eval_metric *metrics = o.metrics;
    if (!strcmp(verb, "list")) {
        const sg_eval_suite *su;
        printf("suites:\n");
        for (int i = 0; (su = sg_eval_suite_at(i)); i++)
            printf("  %-12s %s (default data: %s)\n", su->name, su->description,
                   su->default_data ? su->default_data : "-");
        if (suites_only) return 0;
        sg_store *store = NULL;
        if ((rc = sg_cli_open(cmd, NULL, db, NULL, &store))) return rc;
        sg_eval_record *r = NULL;
        size_t n = 0;
        sg_error *err = sg_store_evals(store, model, &r, &n);
        sg_store_close(store);
        if (err) return sg_cli_fail(cmd, err);
        printf("results:%s\n", n ? "" : " none stored");
        for (size_t i = 0; i < n; i++) {
            char when[40];
            sg_cli_time(r[i].time_ms, when, sizeof when);
            printf("  run #%-4lld %-12s %-14s %-22s %-12.6g %s  %s  code %s  data %s\n",
                   (long long)r[i].run_id, r[i].suite, r[i].model, r[i].metric, r[i].value, when, r[i].source,
                   r[i].code_version, r[i].dataset);
        }
        free(r);
        return 0;
    }
    const char *suite = pos[0];
    sg_policy *p = NULL;
    sg_store *store = NULL;
    if ((rc = sg_cli_open(cmd, policy_path, db, policy_path ? &p : NULL, &store))) return rc;
    sg_error *err = NULL;
    int64_t run = 0;
    if (!strcmp(verb, "record")) {
        if (!n_metrics)
            err = sg_error_new("record needs at least one --metric NAME=VALUE");
        else
            err = sg_eval_record_metrics(store, suite, model, dataset, metrics, n_metrics, sg_now_ms(), &run);
    } else {
        sg_eval_context ctx = {.model_name = model,
                               .model_dir = model,
                               .data = data,
                               .policy = p,
                               .db_path = db ? db : "./stagegate.db"};
        if (threads) {
            omp_set_num_threads(threads), openblas_set_num_threads(threads);
            ctx.threads = threads;
        }
        const sg_policy_model *pm = p ? sg_policy_find_model(p, model) : NULL;
        if (pm)
            ctx.model_dir = pm->path;
        else if (p)
            err = sg_error_new("model '%s' is not a model of policy %s", model, p->path);
        else
            ctx.model_name = base_name(model);
        if (!err) err = sg_eval_run_and_store(store, suite, &ctx, sg_now_ms(), &run, metrics, &n_metrics);
    }
    if (!err) {
        printf("stored run #%lld: %s on %s (code %s)\n", (long long)run, suite, model,
               sg_eval_code_version());
        for (int i = 0; i < n_metrics; i++) printf("  %-22s %.6g\n", metrics[i].name, metrics[i].value);
    }
    sg_store_close(store);
    sg_policy_free(p);
    return err ? sg_cli_fail(cmd, err) : 0;
}

/* Top-k sampling through the training model's forward pass: the whole window
 * is recomputed for each token (no cache), fine for the short samples of a
 * model card. Serving uses the engine (`stagegate generate`). */
static int sample(int argc, char **argv) {
    sample_opts o = {.n_new = 60, .top_k = 40, .temperature = 0.8, .seed = "1"};
    int n_pos, rc = sg_cli_parse(&sample_cmd, argc, argv, &o, &n_pos);
    if (rc >= 0) return rc;
    const char *model = o.model, *prompt = argv[1];
    int n_new = o.n_new, top_k = o.top_k;
    double temperature = o.temperature;
    char *seed_end;
    uint64_t rng = strtoull(o.seed, &seed_end, 10);
    if (!o.seed[0] || *seed_end)
        return sg_cli_usage("eval", "--seed: expected an unsigned integer, got '%s'", o.seed);
    if (!(temperature > 0))
        return sg_cli_usage("eval", "--temperature: expected a number above 0, got %g", temperature);
    sg_checkpoint *ck = NULL;
    sg_tokenizer *tok = NULL;
    sg_train_model *m = NULL;
    int *ids = NULL, n = 0;
    char *text = NULL;
    size_t len;
    sg_error *err = sg_checkpoint_open(model, &ck);
    if (!err) err = sg_tokenizer_load(model, &tok);
    if (!err) err = sg_tokenizer_encode(tok, prompt, strlen(prompt), 1, &ids, &n);
    if (err) goto done;
    const sg_gpt2_weights *w = sg_checkpoint_weights(ck);
    int T = w->config.n_ctx, V = w->config.vocab_size, vt = sg_tokenizer_vocab_size(tok);
    if (n < 1 || (err = sg_train_model_new(&w->config, 1, T, &m)) || (err = sg_train_model_load(m, w))) {
        if (!err) err = sg_error_new("empty prompt");
        goto done;
    }
    int *grown = realloc(ids, sizeof(int) * (size_t)(n + n_new));
    float *cand = malloc(sizeof(float) * (size_t)V);
    if (!grown || !cand) {
        free(cand);
        err = sg_error_new("out of memory");
        goto done;
    }
    ids = grown;
    for (int s = 0; s < n_new && !err; s++) {
        int start = n > T ? n - T : 0, len_w = n - start;
        if ((err = sg_train_forward(m, ids + start, NULL, 1, len_w, 0, NULL, 0, NULL))) break;
        const float *logits = sg_train_model_logits(m) + (size_t)(len_w - 1) * V;
        /* the k-th largest logit over the tokenizer's ids as the cut-off */
        memcpy(cand, logits, sizeof(float) * (size_t)vt);
        int k = top_k < vt ? top_k : vt;
        for (int i = 0; i < k; i++) { /* partial selection sort: k is small */
            int best = i;
            for (int j = i + 1; j < vt; j++)
                if (cand[j] > cand[best]) best = j;
            float t = cand[i];
            cand[i] = cand[best], cand[best] = t;
        }
        float cut = cand[k - 1], mx = cand[0];
        double total = 0.0;
        for (int j = 0; j < vt; j++)
            if (logits[j] >= cut) total += exp((logits[j] - mx) / temperature);
        double u = (double)(sg_rng_next(&rng) >> 11) * 0x1.0p-53 * total, acc = 0.0;
        int pick = 0;
        for (int j = 0; j < vt; j++)
            if (logits[j] >= cut) {
                acc += exp((logits[j] - mx) / temperature);
                pick = j;
                if (acc >= u) break;
            }
        ids[n++] = pick;
        if (pick == sg_tokenizer_eot(tok)) break;
    }
    free(cand);
    if (!err) err = sg_tokenizer_decode(tok, ids, n, &text, &len);
    if (!err) fwrite(text, 1, len, stdout), fputc('\n', stdout);
done:
    free(text);
    free(ids);
    sg_train_model_free(m);
    sg_tokenizer_free(tok);
    sg_checkpoint_close(ck);
    if (err) {
        fprintf(stderr, "stagegate eval: %s\n", sg_error_message(err));
        sg_error_free(err);
        return 1;
    }
    return 0;
}

int sg_cmd_eval(int argc, char **argv) {
    static const sg_cli_sub subs[] = {
        {"perplexity", perplexity, &perplexity_cmd, NULL},
        {"sample", sample, &sample_cmd, NULL},
        {"gradients", gradients, &gradients_cmd, NULL},
        {"run", stored, &run_cmd, NULL},
        {"record", stored, &record_cmd, NULL},
        {"list", stored, &list_cmd, NULL},
        {0},
    };
    return sg_cli_dispatch("eval", "Perplexity, samples, gradients; the release's stored evaluations.", subs,
                           argc, argv);
}
