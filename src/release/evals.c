/* evals.c — evaluation registry, the perplexity suite, storing runs (evals.h). */
#include "release/evals.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "release/journal.h"
#include "train/dataset.h"
#include "train/trainer.h"

#ifndef SG_CODE_VERSION
#define SG_CODE_VERSION "0.1.0"
#endif

const char *sg_eval_code_version(void) { return SG_CODE_VERSION; }

/* ---- perplexity ------------------------------------------------------------ */

static sg_error *run_perplexity(const sg_eval_context *ctx, sg_eval_metric *m, int *n) {
    char *paths[1] = {(char *)ctx->data};
    char **files = NULL;
    int n_files = 0;
    sg_error *err = sg_dataset_expand(paths, 1, &files, &n_files);
    if (!err && n_files == 0) err = sg_error_new("%s: no text files", ctx->data);
    double loss = 0;
    size_t tokens = 0;
    if (!err) err = sg_eval_perplexity(ctx->model_dir, files, n_files, 0, &loss, &tokens);
    sg_dataset_free_paths(files, n_files);
    if (err) return err;
    if (!isfinite(loss)) return sg_error_new("perplexity: the loss is not finite (%g)", loss);
    snprintf(m[0].name, sizeof m[0].name, "loss");
    m[0].value = loss;
    snprintf(m[1].name, sizeof m[1].name, "perplexity");
    m[1].value = exp(loss);
    snprintf(m[2].name, sizeof m[2].name, "tokens");
    m[2].value = (double)tokens;
    snprintf(m[3].name, sizeof m[3].name, "files");
    m[3].value = n_files;
    *n = 4;
    return NULL;
}

static const sg_eval_suite perplexity_suite = {
    "perplexity",
    "mean token loss (nats) and perplexity on held-out human text (State of the Union 2011-2018)",
    "data/sotu/heldout",
    run_perplexity,
};

/* ---- registry ----------------------------------------------------------------- */

#define MAX_SUITES 32
static const sg_eval_suite *suites[MAX_SUITES] = {&perplexity_suite};
static int n_suites = 1;
static pthread_mutex_t suites_lock = PTHREAD_MUTEX_INITIALIZER;

sg_error *sg_eval_register(const sg_eval_suite *suite) {
    sg_error *err = NULL;
    pthread_mutex_lock(&suites_lock);
    for (int i = 0; i < n_suites && !err; i++)
        if (!strcmp(suites[i]->name, suite->name)) err = sg_error_new("evaluation suite '%s' exists", suite->name);
    if (!err && n_suites == MAX_SUITES) err = sg_error_new("too many evaluation suites");
    if (!err) suites[n_suites++] = suite;
    pthread_mutex_unlock(&suites_lock);
    return err;
}

const sg_eval_suite *sg_eval_suite_at(int i) {
    pthread_mutex_lock(&suites_lock);
    const sg_eval_suite *s = i >= 0 && i < n_suites ? suites[i] : NULL;
    pthread_mutex_unlock(&suites_lock);
    return s;
}

const sg_eval_suite *sg_eval_find(const char *name) {
    const sg_eval_suite *s;
    for (int i = 0; (s = sg_eval_suite_at(i)); i++)
        if (!strcmp(s->name, name)) return s;
    return NULL;
}

/* ---- storing ------------------------------------------------------------------ */

static sg_error *store_metrics(sg_store *store, const char *suite, const char *model, const char *dataset,
                               const char *source, const sg_eval_metric *m, int n, int64_t now_ms, int64_t *run_id) {
    if (n <= 0) return sg_error_new("evaluation %s returned no metrics", suite);
    sg_eval_record recs[SG_EVAL_MAX_METRICS];
    if (n > SG_EVAL_MAX_METRICS) n = SG_EVAL_MAX_METRICS;
    for (int i = 0; i < n; i++) {
        if (!isfinite(m[i].value)) return sg_error_new("evaluation %s: metric %s is not finite", suite, m[i].name);
        sg_eval_record *r = &recs[i];
        memset(r, 0, sizeof *r);
        r->time_ms = now_ms;
        snprintf(r->suite, sizeof r->suite, "%s", suite);
        snprintf(r->model, sizeof r->model, "%s", model);
        snprintf(r->metric, sizeof r->metric, "%s", m[i].name);
        r->value = m[i].value;
        snprintf(r->dataset, sizeof r->dataset, "%s", dataset ? dataset : "");
        snprintf(r->code_version, sizeof r->code_version, "%s", sg_eval_code_version());
        snprintf(r->source, sizeof r->source, "%s", source);
    }
    int64_t run = 0;
    sg_error *err = sg_store_eval_add(store, recs, (size_t)n, &run);
    if (err) return err;
    if (run_id) *run_id = run;
    char text[1024];
    int len = snprintf(text, sizeof text, "run #%lld of %s on %s (%s):", (long long)run, suite, model, source);
    for (int i = 0; i < n && len > 0 && (size_t)len < sizeof text; i++)
        len += snprintf(text + len, sizeof text - (size_t)len, " %s=%.6g", m[i].name, m[i].value);
    return sg_journal_event(store, "eval-run", NULL, NULL, model, text);
}

sg_error *sg_eval_run_and_store(sg_store *store, const char *suite_name, const sg_eval_context *ctx, int64_t now_ms,
                                int64_t *run_id, sg_eval_metric *metrics, int *n_metrics) {
    const sg_eval_suite *suite = sg_eval_find(suite_name);
    if (!suite) {
        char names[512] = "";
        const sg_eval_suite *s;
        for (int i = 0; (s = sg_eval_suite_at(i)); i++) {
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", s->name);
        }
        return sg_error_new("unknown evaluation suite '%s' (available: %s)", suite_name, names);
    }
    sg_eval_context c = *ctx;
    if (!c.data) c.data = suite->default_data;
    sg_eval_metric m[SG_EVAL_MAX_METRICS];
    memset(m, 0, sizeof m);
    int n = 0;
    sg_error *err = suite->run(&c, m, &n);
    if (err) return sg_error_wrap(err, "evaluation %s of %s", suite->name, c.model_name);
    if ((err = store_metrics(store, suite->name, c.model_name, c.data, "run", m, n, now_ms, run_id))) return err;
    if (metrics) memcpy(metrics, m, sizeof m[0] * (size_t)n);
    if (n_metrics) *n_metrics = n;
    return NULL;
}

sg_error *sg_eval_record_metrics(sg_store *store, const char *suite, const char *model, const char *dataset,
                                 const sg_eval_metric *metrics, int n, int64_t now_ms, int64_t *run_id) {
    return store_metrics(store, suite, model, dataset, "recorded", metrics, n, now_ms, run_id);
}
