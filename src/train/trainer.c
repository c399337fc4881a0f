/* trainer.c — the training loop and its files (see trainer.h). */
#include "train/trainer.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "engine/checkpoint.h"
#include "engine/tokenizer.h"
#include "train/adamw.h"
#include "train/dataset.h"
#include "train/gpt2_train.h"
#include "train/schedule.h"

/* ---- optimizer state file ----------------------------------------------- */

#define STATE_MAGIC "SGTSTATE"
#define STATE_VERSION 1u

typedef struct {
    char magic[8];
    uint32_t version;
    int32_t shape[6]; /* layers heads embd n_ctx vocab inner */
    uint64_t n_params;
    int64_t step;
    uint64_t rng;
    int64_t seed;
} state_header;

static void shape_of(const sg_gpt2_config *c, int32_t s[6]) {
    s[0] = c->n_layer, s[1] = c->n_head, s[2] = c->n_embd, s[3] = c->n_ctx, s[4] = c->vocab_size,
    s[5] = c->n_inner;
}

static sg_error *state_save(const char *path, const sg_gpt2_config *c, const float *params,
                            const sg_adamw *opt, uint64_t rng, long long seed) {
    state_header h = {
        .version = STATE_VERSION, .n_params = opt->n, .step = opt->step, .rng = rng, .seed = seed};
    memcpy(h.magic, STATE_MAGIC, 8);
    shape_of(c, h.shape);
    sg_atomic_file *f;
    sg_error *err = sg_atomic_file_open(path, &f);
    if (err) return err;
    size_t bytes = opt->n * sizeof(float);
    if ((err = sg_atomic_file_write(f, &h, sizeof h)) || (err = sg_atomic_file_write(f, params, bytes)) ||
        (err = sg_atomic_file_write(f, opt->m, bytes)) || (err = sg_atomic_file_write(f, opt->v, bytes))) {
        sg_atomic_file_abort(f);
        return err;
    }
    return sg_atomic_file_commit(f);
}

static sg_error *state_load(const char *path, const sg_gpt2_config *c, float *params, sg_adamw *opt,
                            uint64_t *rng, long long seed) {
    sg_file_map map;
    sg_error *err = sg_file_map_open(path, &map);
    if (err) return sg_error_wrap(err, "resume");
    state_header h;
    int32_t want[6];
    shape_of(c, want);
    size_t bytes = opt->n * sizeof(float);
    static const char *names[6] = {"layers", "heads", "embd", "n_ctx", "vocab", "n_inner"};
    if (map.size < sizeof h || (memcpy(&h, map.data, sizeof h), memcmp(h.magic, STATE_MAGIC, 8)) ||
        h.version != STATE_VERSION) {
        err = sg_error_new("resume: %s is not a stagegate training state (version %u)", path, STATE_VERSION);
        goto done;
    }
    for (int i = 0; i < 6; i++)
        if (h.shape[i] != want[i]) {
            err = sg_error_new("resume: incompatible checkpoint %s: %s is %d there but %d in this config",
                               path, names[i], h.shape[i], want[i]);
            goto done;
        }
    if (h.n_params != opt->n || map.size != sizeof h + 3 * bytes) {
        err = sg_error_new("resume: %s holds %llu parameters in %zu bytes, expected %zu", path,
                           (unsigned long long)h.n_params, map.size, opt->n);
        goto done;
    }
    if (h.seed != seed) {
        err = sg_error_new("resume: %s was trained with seed %lld, this config has %lld", path,
                           (long long)h.seed, seed);
        goto done;
    }
    memcpy(params, map.data + sizeof h, bytes);
    memcpy(opt->m, map.data + sizeof h + bytes, bytes);
    memcpy(opt->v, map.data + sizeof h + 2 * bytes, bytes);
    opt->step = h.step;
    *rng = h.rng;
done:
    sg_file_unmap(&map);
    return err;
}

/* ---- evaluation ------------------------------------------------------------ */

/* Mean loss over consecutive windows of T+1 tokens (stride T), at most
 * max_windows of them (0 = all); no dropout. */
static sg_error *eval_loss(sg_train_model *m, const int *tokens, size_t n, int B, int T, long max_windows,
                           int *inputs, int *targets, double *loss, size_t *count) {
    size_t windows = n > (size_t)T ? (n - 1) / (size_t)T : 0;
    if (max_windows > 0 && windows > (size_t)max_windows) windows = (size_t)max_windows;
    double total = 0.0;
    size_t counted = 0;
    for (size_t w0 = 0; w0 < windows; w0 += (size_t)B) {
        int b = (int)(windows - w0 < (size_t)B ? windows - w0 : (size_t)B);
        for (int i = 0; i < b; i++) {
            memcpy(inputs + (size_t)i * T, tokens + (w0 + i) * T, (size_t)T * sizeof(int));
            memcpy(targets + (size_t)i * T, tokens + (w0 + i) * T + 1, (size_t)T * sizeof(int));
        }
        float l;
        sg_error *err = sg_train_forward(m, inputs, targets, b, T, 0, NULL, 0, &l);
        if (err) return err;
        total += (double)l * b * T;
        counted += (size_t)b * T;
    }
    *loss = counted ? total / (double)counted : NAN;
    if (count) *count = counted;
    return NULL;
}

sg_error *sg_eval_perplexity(const char *model_dir, char **files, int n_files, int context, double *loss,
                             size_t *tokens) {
    sg_checkpoint *ck = NULL;
    sg_tokenizer *tok = NULL;
    sg_train_model *m = NULL;
    sg_dataset data = {0};
    int *inputs = NULL, *targets = NULL;
    sg_error *err = sg_checkpoint_open(model_dir, &ck);
    if (err) goto done;
    if ((err = sg_tokenizer_load(model_dir, &tok))) goto done;
    const sg_gpt2_weights *w = sg_checkpoint_weights(ck);
    if (sg_tokenizer_vocab_size(tok) > w->config.vocab_size) {
        err = sg_error_new("%s: tokenizer has %d ids but the model only %d", model_dir,
                           sg_tokenizer_vocab_size(tok), w->config.vocab_size);
        goto done;
    }
    int T = context ? context : w->config.n_ctx, B = 4;
    if (T > w->config.n_ctx) {
        err = sg_error_new("context %d is longer than the positional table (n_ctx %d)", T, w->config.n_ctx);
        goto done;
    }
    if ((err = sg_dataset_build(tok, model_dir, files, n_files, files, 0, 0.0, NULL, &data))) goto done;
    if (data.n_train < 2) {
        err = sg_error_new("the evaluation text has %zu token(s); it needs at least 2", data.n_train);
        goto done;
    }
    if ((size_t)T + 1 > data.n_train) T = (int)data.n_train - 1;
    if ((err = sg_train_model_new(&w->config, B, T, &m))) goto done;
    if ((err = sg_train_model_load(m, w))) goto done;
    inputs = malloc(sizeof(int) * (size_t)B * T);
    targets = malloc(sizeof(int) * (size_t)B * T);
    if (!inputs || !targets) {
        err = sg_error_new("out of memory");
        goto done;
    }
    err = eval_loss(m, data.train, data.n_train, B, T, 0, inputs, targets, loss, tokens);
done:
    free(inputs);
    free(targets);
    sg_dataset_free(&data);
    sg_train_model_free(m);
    sg_tokenizer_free(tok);
    sg_checkpoint_close(ck);
    return err;
}

/* ---- the run ------------------------------------------------------------- */

typedef struct {
    const sg_train_config *cfg;
    sg_train_model *model;
    sg_adamw opt;
    uint64_t rng;
    char *tok_dir;
    sg_train_progress_fn progress;
    void *user;
} run;

static void report(const run *r, sg_train_event ev) {
    if (r->progress) r->progress(&ev, r->user);
}

static sg_error *save_all(run *r, const char *why) {
    const sg_train_config *c = r->cfg;
    sg_dtype dt = !strcmp(c->dtype, "bf16")  ? SG_DTYPE_BF16
                  : !strcmp(c->dtype, "f16") ? SG_DTYPE_F16
                                             : SG_DTYPE_F32;
    char step[32], seed[32];
    snprintf(step, sizeof step, "%ld", r->opt.step);
    snprintf(seed, sizeof seed, "%lld", c->seed);
    const char *meta[] = {"stagegate.trained_steps", step, "stagegate.seed", seed, "stagegate.producer",
                          "stagegate train"};
    sg_error *err = sg_checkpoint_save(c->out, sg_train_model_weights(r->model), dt, meta, 3);
    if (!err && strcmp(r->tok_dir, c->out)) err = sg_checkpoint_copy_tokenizer(r->tok_dir, c->out);
    char *sp = sg_path_join(c->out, "train_state.bin");
    if (!err)
        err = state_save(sp, sg_train_model_config(r->model), sg_train_model_params(r->model, NULL), &r->opt,
                         r->rng, c->seed);
    free(sp);
    if (!err)
        report(r, (sg_train_event){.kind = SG_TRAIN_SAVED, .step = r->opt.step, .dir = c->out, .why = why});
    return err ? sg_error_wrap(err, "saving checkpoint to %s", c->out) : NULL;
}

static uint64_t dropout_seed(long long seed, long step, int micro) {
    uint64_t s = (uint64_t)seed * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)step << 16) ^ (uint64_t)micro;
    return sg_rng_next(&s);
}

sg_error *sg_train_run(const sg_train_config *cfg, volatile int *stop, sg_train_progress_fn progress,
                       void *user) {
    sg_error *err = sg_train_config_validate(cfg);
    if (err) return err;
    run r = {.cfg = cfg, .progress = progress, .user = user};
    sg_tokenizer *tok = NULL;
    sg_checkpoint *init = NULL;
    sg_dataset data = {0};
    char **files = NULL, **vfiles = NULL;
    int n_files = 0, n_vfiles = 0;
    int *inputs = NULL, *targets = NULL;
    FILE *log = NULL;
    char *cache = NULL;
    if (cfg->threads > 0) {
        omp_set_num_threads(cfg->threads);
        openblas_set_num_threads(cfg->threads);
    }
    if (mkdir(cfg->out, 0755) != 0 && errno != EEXIST) {
        err = sg_error_new("%s: %s", cfg->out, strerror(errno));
        goto done;
    }

    /* model shape: from the checkpoint we start from, else the config */
    sg_gpt2_config mc = {.n_layer = cfg->layers,
                         .n_head = cfg->heads,
                         .n_embd = cfg->embd,
                         .n_ctx = cfg->n_ctx ? cfg->n_ctx : cfg->context,
                         .n_inner = 4 * cfg->embd,
                         .ln_epsilon = 1e-5f};
    if (cfg->init_from) {
        if ((err = sg_checkpoint_open(cfg->init_from, &init))) goto done;
        mc = sg_checkpoint_weights(init)->config;
        if (cfg->context > mc.n_ctx) {
            err = sg_error_new("context %d is longer than the positional table of %s (n_ctx %d)",
                               cfg->context, cfg->init_from, mc.n_ctx);
            goto done;
        }
    }
    r.tok_dir = strdup(cfg->tokenizer ? cfg->tokenizer : cfg->init_from);
    if ((err = sg_tokenizer_load(r.tok_dir, &tok))) goto done;
    if (cfg->init_from && sg_tokenizer_vocab_size(tok) > mc.vocab_size) {
        err = sg_error_new("tokenizer %s has %d ids, the model %s only %d", r.tok_dir,
                           sg_tokenizer_vocab_size(tok), cfg->init_from, mc.vocab_size);
        goto done;
    }
    if (!cfg->init_from) mc.vocab_size = sg_tokenizer_vocab_size(tok);

    /* data */
    if (cfg->n_corpus) {
        if ((err = sg_dataset_expand((char **)cfg->corpus, cfg->n_corpus, &files, &n_files))) goto done;
        if (cfg->n_val_corpus &&
            (err = sg_dataset_expand((char **)cfg->val_corpus, cfg->n_val_corpus, &vfiles, &n_vfiles)))
            goto done;
        cache = cfg->shard ? strdup(cfg->shard) : sg_path_join(cfg->out, "data.shard");
        if ((err = sg_dataset_build(tok, r.tok_dir, files, n_files, vfiles, n_vfiles, cfg->val_fraction,
                                    cache, &data)))
            goto done;
    } else if ((err = sg_dataset_load_shard(cfg->shard, &data))) {
        goto done;
    }
    if (data.vocab_size > mc.vocab_size) {
        err = sg_error_new("the data uses a %d-token vocabulary, the model has %d", data.vocab_size,
                           mc.vocab_size);
        goto done;
    }
    int B = cfg->batch, T = cfg->context;
    if (data.n_train < (size_t)T + 1) {
        err = sg_error_new("corpus too small: %zu training tokens, a window needs context + 1 = %d",
                           data.n_train, T + 1);
        goto done;
    }
    int have_val = data.n_val >= (size_t)T + 1;
    if (!have_val && data.n_val > 0)
        report(&r, (sg_train_event){.kind = SG_TRAIN_SHORT_VAL, .val_tokens = data.n_val, .context = T});

    if ((err = sg_train_model_new(&mc, B, T, &r.model))) goto done;
    sg_adamw_config ac = {(float)cfg->beta1, (float)cfg->beta2, (float)cfg->eps, (float)cfg->weight_decay};
    if ((err = sg_adamw_init(&r.opt, &ac, &mc))) goto done;
    if ((cfg->layer_lr_decay != 1.0 || cfg->freeze_layers) &&
        (err = sg_adamw_set_layer_lr(&r.opt, &mc, (float)cfg->layer_lr_decay, cfg->freeze_layers)))
        goto done;
    size_t n_params;
    float *params = sg_train_model_params(r.model, &n_params), *grads = sg_train_model_grads(r.model, NULL);
    r.rng = (uint64_t)cfg->seed ^ 0x5eedULL;
    char *sp = sg_path_join(cfg->out, "train_state.bin");
    if (cfg->resume) {
        err = state_load(sp, &mc, params, &r.opt, &r.rng, cfg->seed);
        free(sp);
        if (err) goto done;
        report(&r, (sg_train_event){.kind = SG_TRAIN_RESUMED, .step = r.opt.step});
    } else {
        free(sp);
        if (init)
            err = sg_train_model_load(r.model, sg_checkpoint_weights(init));
        else
            sg_gpt2_weights_init_random((sg_gpt2_weights *)sg_train_model_weights(r.model),
                                        (uint64_t)cfg->seed);
        if (err) goto done;
    }
    if (init) sg_checkpoint_close(init), init = NULL;

    /* the exact settings */
    char *json = sg_train_config_to_json(cfg), *cp = sg_path_join(cfg->out, "config.train.json");
    err = json && cp ? sg_file_write_atomic(cp, json, strlen(json)) : sg_error_new("out of memory");
    free(json);
    free(cp);
    if (err) goto done;
    char *lp = sg_path_join(cfg->out, "train_log.jsonl");
    log = lp ? fopen(lp, cfg->resume ? "a" : "w") : NULL;
    if (!log) err = sg_error_new("%s: %s", lp ? lp : "train_log.jsonl", strerror(errno));
    free(lp);
    if (err) goto done;

    inputs = malloc(sizeof(int) * (size_t)B * T);
    targets = malloc(sizeof(int) * (size_t)B * T);
    if (!inputs || !targets) {
        err = sg_error_new("out of memory");
        goto done;
    }
    report(&r, (sg_train_event){.kind = SG_TRAIN_STARTED,
                                .n_params = n_params,
                                .model = &mc,
                                .train_tokens = data.n_train,
                                .batch = B,
                                .context = T,
                                .grad_accum = cfg->grad_accum,
                                .steps = cfg->steps});
    sg_dropout drop = {(float)cfg->dropout_embd, (float)cfg->dropout_attn, (float)cfg->dropout_resid};
    sg_schedule sched = {(float)cfg->lr, cfg->warmup, cfg->steps, (float)cfg->lr_floor};
    long start = r.opt.step;
    double t_start = sg_monotonic_s();
    int stopped = 0;
    for (long step = r.opt.step; step < cfg->steps; step++) {
        double t0 = sg_monotonic_s();
        float lr = sg_schedule_lr(&sched, step);
        sg_train_zero_grad(r.model);
        double loss = 0.0;
        for (int micro = 0; micro < cfg->grad_accum; micro++) {
            sg_dataset_batch(data.train, data.n_train, B, T, &r.rng, inputs, targets);
            float l;
            if ((err = sg_train_forward(r.model, inputs, targets, B, T, 1, &drop,
                                        dropout_seed(cfg->seed, step, micro), &l)))
                goto done;
            if ((err = sg_train_backward(r.model, 1.0f / (float)cfg->grad_accum))) goto done;
            loss += l / cfg->grad_accum;
        }
        float norm = sg_clip_grad_norm(grads, n_params, (float)cfg->clip);
        if (!isfinite(loss) || !isfinite(norm)) {
            err = sg_error_new("step %ld: loss %g, gradient norm %g: training diverged (lower lr?)", step,
                               loss, norm);
            goto done;
        }
        sg_adamw_step(&r.opt, params, grads, lr);
        double dt = sg_monotonic_s() - t0, tps = (double)B * T * cfg->grad_accum / dt;
        long done_steps = step + 1;
        double val = NAN;
        if (have_val && cfg->eval_interval > 0 &&
            (done_steps % cfg->eval_interval == 0 || done_steps == cfg->steps)) {
            if ((err = eval_loss(r.model, data.val, data.n_val, B, T, (long)cfg->eval_batches * B, inputs,
                                 targets, &val, NULL)))
                goto done;
        }
        fprintf(log, "{\"step\": %ld, \"lr\": %.6g, \"train_loss\": %.6f, \"val_loss\": ", done_steps, lr,
                loss);
        if (isnan(val))
            fprintf(log, "null");
        else
            fprintf(log, "%.6f", val);
        fprintf(log, ", \"grad_norm\": %.6g, \"tokens_per_s\": %.1f}\n", norm, tps);
        fflush(log);
        report(&r, (sg_train_event){.kind = SG_TRAIN_STEP,
                                    .step = done_steps,
                                    .steps = cfg->steps,
                                    .start_step = start,
                                    .loss = loss,
                                    .val_loss = val,
                                    .tokens_per_s = tps,
                                    .elapsed_s = sg_monotonic_s() - t_start});
        if (cfg->stop_after > 0 && done_steps >= cfg->stop_after && done_steps < cfg->steps) {
            report(&r, (sg_train_event){.kind = SG_TRAIN_STOPPED, .step = done_steps});
            stopped = 1;
            break;
        }
        if (stop && *stop) {
            report(&r, (sg_train_event){.kind = SG_TRAIN_INTERRUPTED, .step = done_steps});
            stopped = 1;
            break;
        }
        if (cfg->checkpoint_interval > 0 && done_steps % cfg->checkpoint_interval == 0 &&
            done_steps < cfg->steps && (err = save_all(&r, "interval")))
            goto done;
    }
    err = save_all(&r, stopped ? "interrupted" : "done");
done:
    if (log) fclose(log);
    free(inputs);
    free(targets);
    free(cache);
    free(r.tok_dir);
    sg_dataset_free_paths(files, n_files);
    sg_dataset_free_paths(vfiles, n_vfiles);
    sg_dataset_free(&data);
    sg_adamw_free(&r.opt);
    sg_train_model_free(r.model);
    sg_checkpoint_close(init);
    sg_tokenizer_free(tok);
    return err;
}
