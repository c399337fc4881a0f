/* cmd_eval.c — `stagegate eval perplexity` (loss and perplexity of a
 * checkpoint on text), `stagegate eval gradients` (the training step on
 * given token batches, for checking against a reference implementation), and
 * the release's stored evaluations: `eval run SUITE` (a registered suite,
 * eval/evals.h, results stored for the gates and cards), `eval record`
 * (results measured elsewhere) and `eval list`. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/release_cli.h"
#include "engine/checkpoint.h"
#include "engine/tokenizer.h"
#include "eval/evals.h"
#include "train/adamw.h"
#include "train/dataset.h"
#include "train/gpt2_train.h"
#include "train/schedule.h"
#include "train/train_config.h"
#include "train/trainer.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: stagegate eval perplexity -m DIR [--context N] [--threads N] [--json] FILES...\n"
        "         loss (nats/token), perplexity and token count of checkpoint DIR on FILES\n"
        "       stagegate eval sample -m DIR [-n TOKENS] [--temperature T] [--top-k K] [--seed S] PROMPT\n"
        "         a quick sample through the training forward pass (model cards, smoke tests)\n"
        "       stagegate eval gradients -m DIR --tokens FILE --batch B --context T --steps N\n"
        "         [--lr --warmup --lr-floor --beta1 --beta2 --eps --weight-decay --clip\n"
        "          --dropout P --seed S] -o OUT_DIR\n"
        "         FILE holds int32 tokens [N, B, T+1]; writes OUT_DIR/grads.f32 (the gradient of\n"
        "         batch 0, canonical tensor order) and OUT_DIR/losses.txt (N AdamW steps)\n"
        "       stagegate eval run SUITE -m MODEL [--policy FILE] [--db PATH] [--data PATH] [--threads N]\n"
        "         runs a registered suite and stores its metrics (model, time, code version) for the\n"
        "         release gates and model cards; MODEL is a model of the policy, or a directory\n"
        "       stagegate eval record SUITE -m MODEL --metric NAME=VALUE... [--dataset TEXT] [--db PATH]\n"
        "         stores results measured outside stagegate (marked \"recorded\")\n"
        "       stagegate eval list [--db PATH] [-m MODEL] [--suites]\n");
}

static int perplexity(int argc, char **argv) {
    const char *model = NULL;
    int context = 0, json = 0, n = 0;
    char **files = calloc((size_t)argc, sizeof *files);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--context") && i + 1 < argc)
            context = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            int th = atoi(argv[++i]);
            if (th > 0) omp_set_num_threads(th), openblas_set_num_threads(th);
        } else if (argv[i][0] == '-') {
            free(files);
            usage(stderr);
            return 2;
        } else
            files[n++] = argv[i];
    }
    if (!model || !n || context < 0) {
        free(files);
        usage(stderr);
        return 2;
    }
    char **expanded = NULL;
    int n_expanded = 0;
    double loss = 0;
    size_t tokens = 0;
    sg_error *err = sg_dataset_expand(files, n, &expanded, &n_expanded);
    if (!err) err = sg_eval_perplexity(model, expanded, n_expanded, context, &loss, &tokens);
    sg_dataset_free_paths(expanded, n_expanded);
    free(files);
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
    const char *model = NULL, *tokens = NULL, *out = NULL;
    sg_train_config c;
    sg_train_config_defaults(&c);
    c.dropout_embd = c.dropout_attn = c.dropout_resid = 0.0;
    sg_error *err = NULL;
    sg_checkpoint *ck = NULL;
    sg_train_model *m = NULL;
    sg_adamw opt = {0};
    sg_file_map map = {0};
    FILE *lf = NULL;
    int rc = 1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) {
            usage(stderr);
            sg_train_config_free(&c);
            return 2;
        }
        const char *a = argv[i], *v = argv[++i];
        if (!strcmp(a, "-m"))
            model = v;
        else if (!strcmp(a, "--tokens"))
            tokens = v;
        else if (!strcmp(a, "-o"))
            out = v;
        else if (!strcmp(a, "--dropout")) {
            if (!(err = sg_train_config_set(&c, "dropout_embd", v, "command line")) &&
                !(err = sg_train_config_set(&c, "dropout_attn", v, "command line")))
                err = sg_train_config_set(&c, "dropout_resid", v, "command line");
        } else if (!strncmp(a, "--", 2))
            err = sg_train_config_set(&c, a + 2, v, "command line");
        else
            err = sg_error_new("unexpected argument %s", a);
        if (err) goto done;
    }
    if (!model || !tokens || !out) {
        usage(stderr);
        sg_train_config_free(&c);
        return 2;
    }
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
    const char *cmd = "eval", *verb = argv[0], *model = NULL, *policy_path = NULL, *db = NULL, *data = NULL,
               *threads = NULL, *dataset = NULL, *pos[64];
    int suites_only = 0, n_pos = 0;
    sg_cli_opt opts[] = {{"-m", &model, NULL},
                         {"--policy", &policy_path, NULL},
                         {"--db", &db, NULL},
                         {"--data", &data, NULL},
                         {"--threads", &threads, NULL},
                         {"--dataset", &dataset, NULL},
                         {"--suites", NULL, &suites_only},
                         {NULL, NULL, NULL}};
    /* --metric repeats: collect them by hand, pass the rest to the parser */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    sg_eval_metric metrics[SG_EVAL_MAX_METRICS];
    int n_metrics = 0, n_rest = 0, rc = 0;
    if (!rest) return 1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--metric")) {
            char *eq = i + 1 < argc ? strchr(argv[i + 1], '=') : NULL;
            char *end = NULL;
            double v = eq ? strtod(eq + 1, &end) : 0;
            if (!eq || eq == argv[i + 1] || end == eq + 1 || *end || n_metrics == SG_EVAL_MAX_METRICS) {
                fprintf(stderr, "stagegate eval: --metric takes NAME=NUMBER\n");
                free(rest);
                return 2;
            }
            snprintf(metrics[n_metrics].name, sizeof metrics[n_metrics].name, "%.*s", (int)(eq - argv[i + 1]),
                     argv[i + 1]);
            metrics[n_metrics++].value = v;
            i++;
        } else {
            rest[n_rest++] = argv[i];
        }
    }
    rc = sg_cli_parse(cmd, n_rest, rest, 1, opts, pos, 64, &n_pos);
    free(rest);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc) return rc;
    if (!strcmp(verb, "list")) {
        if (n_pos) {
            usage(stderr);
            return 2;
        }
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
    if (n_pos != 1 || !model) {
        usage(stderr);
        return 2;
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
            int th = atoi(threads);
            if (th > 0) omp_set_num_threads(th), openblas_set_num_threads(th);
            ctx.threads = th;
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
    const char *model = NULL, *prompt = NULL;
    int n_new = 60, top_k = 40;
    double temperature = 0.8;
    uint64_t rng = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && !strcmp(a, "-m"))
            model = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "-n"))
            n_new = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--temperature"))
            temperature = atof(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--top-k"))
            top_k = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--seed"))
            rng = strtoull(argv[++i], NULL, 10);
        else if (a[0] != '-' && !prompt)
            prompt = a;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!model || !prompt || n_new < 1 || top_k < 1 || !(temperature > 0)) {
        usage(stderr);
        return 2;
    }
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
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "perplexity")) return perplexity(argc - 1, argv + 1);
    if (!strcmp(argv[1], "gradients")) return gradients(argc - 1, argv + 1);
    if (!strcmp(argv[1], "run") || !strcmp(argv[1], "record") || !strcmp(argv[1], "list"))
        return stored(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sample")) return sample(argc - 1, argv + 1);
    fprintf(stderr, "stagegate eval: unknown verb '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
