/* eval_safety.c — the safety suites in the evaluation registry (eval_safety.h). */
#include "eval/eval_safety.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "engine/checkpoint.h"
#include "engine/tokenizer.h"
#include "eval/detect_eval.h"
#include "eval/filter_eval.h"
#include "eval/watermark_eval.h"
#include "safety/default_rules.h"
#include "safety/filter.h"
#include "safety/watermark_key.h"

/* Every number of result["metrics"]. */
static sg_error *take_metrics(json_t *result, sg_eval_metric *m, int *n) {
    json_t *metrics = json_object_get(result, "metrics");
    if (!json_is_object(metrics)) return sg_error_new("the suite's result has no metrics object");
    const char *k;
    json_t *v;
    *n = 0;
    json_object_foreach(metrics, k, v) {
        if (!json_is_number(v) || *n == SG_EVAL_MAX_METRICS) continue;
        snprintf(m[*n].name, sizeof m[*n].name, "%s", k);
        m[*n].value = json_number_value(v);
        (*n)++;
    }
    return *n ? NULL : sg_error_new("the suite returned no numeric metrics");
}

static sg_error *run_filter(const sg_eval_context *ctx, sg_eval_metric *m, int *n) {
    const sg_filter_rules *rules =
        ctx->policy && ctx->policy->filter.n_categories ? &ctx->policy->filter : sg_default_filter_rules();
    sg_filter *f = NULL;
    json_t *r = NULL;
    sg_filter_eval_config cfg = {"tests/data/filter_eval", ctx->data, 1};
    sg_error *err = sg_filter_new(rules, &f);
    if (!err) err = sg_filter_eval_run(f, &cfg, &r);
    if (!err) err = take_metrics(r, m, n);
    json_decref(r);
    sg_filter_free(f);
    return err;
}

static sg_error *run_model_suite(const sg_eval_context *ctx, sg_eval_metric *m, int *n, int watermark) {
    sg_checkpoint *ck = NULL;
    sg_tokenizer *tok = NULL;
    json_t *r = NULL;
    unsigned char key[SG_WATERMARK_KEY_BYTES];
    sg_error *err = NULL;
    if (watermark) {
        if (!ctx->db_path)
            return sg_error_new("the watermark suite needs the database holding the key (--db)");
        err = sg_watermark_key_from_db(ctx->db_path, key, NULL);
    }
    if (!err) err = sg_checkpoint_open(ctx->model_dir, &ck);
    if (!err) err = sg_tokenizer_load(ctx->model_dir, &tok);
    if (!err && watermark) {
        sg_watermark_eval_config cfg = {50, 200, 32, 0.25, 2.0, 4.0, 1, ctx->data};
        err = sg_watermark_eval_run(sg_checkpoint_weights(ck), tok, key, &cfg, &r);
    } else if (!err) {
        sg_detect_eval_config cfg = {100, 200, 32, 1, ctx->data};
        err = sg_detect_eval_run(sg_checkpoint_weights(ck), tok, &cfg, &r);
    }
    sodium_memzero(key, sizeof key);
    if (!err) err = take_metrics(r, m, n);
    json_decref(r);
    sg_tokenizer_free(tok);
    sg_checkpoint_close(ck);
    return err;
}

static sg_error *run_watermark(const sg_eval_context *ctx, sg_eval_metric *m, int *n) {
    return run_model_suite(ctx, m, n, 1);
}
static sg_error *run_detection(const sg_eval_context *ctx, sg_eval_metric *m, int *n) {
    return run_model_suite(ctx, m, n, 0);
}

const sg_eval_suite sg_eval_suite_filter = {
    "filter", "content filter recall (plain and evasions), false-positive rate on held-out human text",
    "data/sotu/heldout", run_filter};
const sg_eval_suite sg_eval_suite_watermark = {
    "watermark", "watermark tpr at the z threshold, fpr on human text, perplexity cost, tpr after edits",
    "data/sotu/heldout", run_watermark};
const sg_eval_suite sg_eval_suite_detection = {
    "detection", "zero-shot detection (Fast-DetectGPT, log-rank, likelihood): AUROC and tpr at 1% fpr",
    "data/sotu/heldout", run_detection};
