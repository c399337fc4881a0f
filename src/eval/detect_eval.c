/* detect_eval.c — the "detection" evaluation suite; see detect_eval.h. */
#include "eval/detect_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gpt2.h"
#include "eval/watermark_eval.h"
#include "safety/zeroshot.h"

double sg_auroc(const double *pos, int np, const double *neg, int nn) {
    if (np == 0 || nn == 0) return NAN;
    double wins = 0;
    for (int i = 0; i < np; i++)
        for (int j = 0; j < nn; j++) wins += pos[i] > neg[j] ? 1 : pos[i] == neg[j] ? 0.5 : 0;
    return wins / ((double)np * nn);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Threshold at 1% false positives: the smallest value above 99% of the negatives. */
static double threshold_1pct(const double *neg, int n) {
    double *s = malloc((size_t)n * sizeof *s);
    if (!s) return NAN;
    memcpy(s, neg, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    int k = (int)ceil(0.99 * n) - 1;
    if (k < 0) k = 0;
    double t = s[k];
    free(s);
    return t;
}

static double tpr_above(const double *pos, int n, double t) {
    int k = 0;
    for (int i = 0; i < n; i++) k += pos[i] > t;
    return (double)k / n;
}

enum { S_FAST, S_LOGRANK, S_LL, N_SCORES };
static const char *const score_names[] = {"fast_detectgpt", "log_rank", "likelihood"};

static sg_error *score_all(const sg_gpt2_weights *w, const int *toks, int n, int T, double *out[N_SCORES]) {
    for (int i = 0; i < n; i++) {
        sg_zeroshot z;
        sg_error *err = sg_zeroshot_score(w, toks + (size_t)i * T, T, 0, &z);
        if (err) return err;
        out[S_FAST][i] = z.score;
        out[S_LOGRANK][i] = z.log_rank;
        out[S_LL][i] = z.log_likelihood;
    }
    return NULL;
}

sg_error *sg_detect_eval_run(const sg_gpt2_weights *w, const sg_tokenizer *tok,
                             const sg_detect_eval_config *cfg, json_t **out) {
    *out = NULL;
    int N = cfg->samples, T = cfg->tokens, P = cfg->prompt_tokens;
    if (N < 2 || T < 2 || P < 1)
        return sg_error_new("detection evaluation: need samples >= 2, tokens >= 2, prompt >= 1");
    if (P + T > w->config.n_ctx)
        return sg_error_new("detection evaluation: prompt %d + completion %d exceed the context %d", P, T,
                            w->config.n_ctx);
    int *held = NULL, n_held = 0;
    sg_error *err = sg_eval_heldout_tokens(tok, cfg->heldout_dir, &held, &n_held);
    if (err) return sg_error_wrap(err, "detection evaluation");
    if ((long)N * (P + T) > n_held) {
        free(held);
        return sg_error_new("detection evaluation: too little held-out text for %d passages", N);
    }
    int stride = n_held / N;
    const int **prompts = malloc((size_t)N * sizeof *prompts);
    int *gen[2] = {malloc((size_t)N * T * sizeof(int)), malloc((size_t)N * T * sizeof(int))};
    int *human = malloc((size_t)N * T * sizeof(int));
    double *sc[3][N_SCORES]; /* human, temperature 1, top-k 40 */
    int oom = !prompts || !gen[0] || !gen[1] || !human;
    for (int a = 0; a < 3; a++)
        for (int s = 0; s < N_SCORES; s++) oom |= !(sc[a][s] = malloc((size_t)N * sizeof(double)));
    sg_gpt2 *model = NULL;
    if (oom) err = sg_error_new("out of memory");
    for (int i = 0; i < N && !err; i++) {
        prompts[i] = held + (size_t)i * stride;
        memcpy(human + (size_t)i * T, prompts[i] + P, (size_t)T * sizeof(int));
    }
    if (!err) err = sg_gpt2_new(w, N, &model);
    double lp;
    int cnt;
    if (!err) err = sg_eval_generate(model, prompts, P, N, T, 0, NULL, cfg->seed, gen[0], &lp, &cnt);
    if (!err)
        err = sg_eval_generate(model, prompts, P, N, T, 40, NULL, cfg->seed + 1000003, gen[1], &lp, &cnt);
    sg_gpt2_free(model);
    if (!err) err = score_all(w, human, N, T, sc[0]);
    if (!err) err = score_all(w, gen[0], N, T, sc[1]);
    if (!err) err = score_all(w, gen[1], N, T, sc[2]);
    json_t *o = NULL;
    if (!err) {
        json_t *m = json_object(), *table = json_object();
        const char *sampling[] = {"temperature_1", "top_k_40"};
        for (int g = 0; g < 2; g++) {
            json_t *row = json_object();
            for (int s = 0; s < N_SCORES; s++) {
                double t = threshold_1pct(sc[0][s], N);
                json_t *cell = json_object();
                json_object_set_new(cell, "auroc", json_real(sg_auroc(sc[g + 1][s], N, sc[0][s], N)));
                json_object_set_new(cell, "tpr_at_1pct_fpr", json_real(tpr_above(sc[g + 1][s], N, t)));
                json_object_set_new(cell, "threshold", json_real(t));
                json_object_set_new(row, score_names[s], cell);
            }
            json_object_set_new(table, sampling[g], row);
        }
        double a1 = sg_auroc(sc[1][S_FAST], N, sc[0][S_FAST], N),
               a2 = sg_auroc(sc[2][S_FAST], N, sc[0][S_FAST], N);
        json_object_set_new(m, "auroc", json_real(a1 < a2 ? a1 : a2)); /* the harder sampling */
        json_object_set_new(m, "auroc_temperature_1", json_real(a1));
        json_object_set_new(m, "auroc_top_k_40", json_real(a2));
        json_object_set_new(m, "tpr_at_1pct_fpr",
                            json_real(tpr_above(sc[1][S_FAST], N, threshold_1pct(sc[0][S_FAST], N))));
        json_object_set_new(m, "zs_threshold", json_real(threshold_1pct(sc[0][S_FAST], N)));
        o = json_object();
        json_object_set_new(o, "suite", json_string("detection"));
        json_object_set_new(o, "metrics", m);
        json_object_set_new(o, "table", table);
        json_t *params = json_object();
        json_object_set_new(params, "samples", json_integer(N));
        json_object_set_new(params, "tokens", json_integer(T));
        json_object_set_new(params, "prompt_tokens", json_integer(P));
        json_object_set_new(params, "seed", json_integer((json_int_t)cfg->seed));
        json_object_set_new(o, "params", params);
    }
    for (int a = 0; a < 3; a++)
        for (int s = 0; s < N_SCORES; s++) free(sc[a][s]);
    free(prompts);
    free(gen[0]);
    free(gen[1]);
    free(human);
    free(held);
    if (err) return sg_error_wrap(err, "detection evaluation");
    *out = o;
    return NULL;
}
