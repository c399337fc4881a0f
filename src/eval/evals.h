/* evals.h — the evaluation registry: named suites that measure a model and
 * return metrics, and the run that stores them (store_release.h sg_eval_record) with
 * the model, the time, the data and the code version, for the release gates
 * and the model card to read.
 *
 * Built in: "perplexity" (mean token loss and perplexity of the checkpoint
 * on held-out human text, default data/sotu/heldout, via train/trainer.h),
 * and the safety suites "filter", "watermark", "detection"
 * (eval/eval_safety.h). More plug in with sg_eval_register; results
 * measured elsewhere can be entered with sg_eval_record_metrics (stored with
 * source "recorded"). */
#ifndef SG_EVALS_H
#define SG_EVALS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "release/policy.h"
#include "store/store_release.h"

#define SG_EVAL_MAX_METRICS 32

typedef struct {
    char name[SG_REL_NAME_MAX];
    double value;
} sg_eval_metric;

/* What a suite gets. */
typedef struct {
    const char *model_name;  /* as in the policy (or the directory's name) */
    const char *model_dir;   /* checkpoint directory */
    const char *data;        /* dataset path (file or directory); NULL = the suite's default */
    const sg_policy *policy; /* may be NULL */
    const char *db_path;     /* the store's file (the watermark key lives beside it); may be NULL */
    int threads;             /* 0 = library default */
} sg_eval_context;

typedef struct {
    const char *name;
    const char *description;
    const char *default_data; /* relative to the working directory */
    sg_error *(*run)(const sg_eval_context *ctx, sg_eval_metric *metrics, int *n_metrics);
} sg_eval_suite;

/* Adds a suite (the pointer must stay valid); an error if the name is taken. */
sg_error *sg_eval_register(const sg_eval_suite *suite) SG_MUST_CHECK;
/* The suites, built-in first; NULL past the end. */
const sg_eval_suite *sg_eval_suite_at(int i);
const sg_eval_suite *sg_eval_find(const char *name);

/* The code version stored with results ("git describe" of the build). */
const char *sg_eval_code_version(void);

/* Runs `suite` and stores every metric it returns as one run at now_ms.
 * *run_id gets the run's id; metrics/n_metrics (may be NULL) what was stored.
 * Writes an "eval-run" audit record. */
sg_error *sg_eval_run_and_store(sg_store *store, const char *suite, const sg_eval_context *ctx,
                                int64_t now_ms, int64_t *run_id, sg_eval_metric *metrics,
                                int *n_metrics) SG_MUST_CHECK;

/* Stores metrics measured outside stagegate (source "recorded"). */
sg_error *sg_eval_record_metrics(sg_store *store, const char *suite, const char *model, const char *dataset,
                                 const sg_eval_metric *metrics, int n, int64_t now_ms,
                                 int64_t *run_id) SG_MUST_CHECK;

#endif
