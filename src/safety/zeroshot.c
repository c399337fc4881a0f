/* zeroshot.c — model-based detection scores; see zeroshot.h. */
#include "safety/zeroshot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gpt2.h"

const char *sg_rank_bucket(int rank) {
    return rank <= 10 ? "top-10" : rank <= 100 ? "top-100" : rank <= 1000 ? "top-1000" : "beyond";
}

sg_error *sg_zeroshot_score(const sg_gpt2_weights *w, const int *tokens, int n, int want_ranks,
                            sg_zeroshot *out) {
    memset(out, 0, sizeof *out);
    int V = w->config.vocab_size;
    if (n > w->config.n_ctx) n = w->config.n_ctx;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return sg_error_new("token %d at position %d is outside the model's vocabulary (%d)", tokens[i],
                                i, V);
    if (n < 2) return sg_error_new("need at least 2 tokens to score, got %d", n);
    sg_gpt2 *model = NULL;
    sg_error *err = sg_gpt2_new(w, 1, &model);
    if (err) return err;
    float *logits = malloc((size_t)V * sizeof *logits);
    if (want_ranks) out->ranks = malloc((size_t)n * sizeof *out->ranks);
    if (!logits || (want_ranks && !out->ranks)) {
        free(logits);
        free(out->ranks);
        out->ranks = NULL;
        sg_gpt2_free(model);
        return sg_error_new("out of memory");
    }
    int slot = sg_gpt2_slot_acquire(model);
    double sum_ll = 0, sum_mu = 0, sum_var = 0, sum_logrank = 0;
    err = sg_gpt2_prefill(model, slot, tokens, 1, logits);
    for (int j = 1; j < n && !err; j++) {
        /* logits predict tokens[j] */
        double max = logits[0];
        for (int v = 1; v < V; v++) max = logits[v] > max ? logits[v] : max;
        double z = 0;
        for (int v = 0; v < V; v++) z += exp(logits[v] - max);
        double lse = max + log(z), mu = 0, m2 = 0;
        float target = logits[tokens[j]];
        int rank = 1;
        for (int v = 0; v < V; v++) {
            double l = logits[v] - lse, p = exp(l);
            mu += p * l;
            m2 += p * l * l;
            rank += logits[v] > target;
        }
        sum_ll += target - lse;
        sum_mu += mu;
        sum_var += m2 - mu * mu > 0 ? m2 - mu * mu : 0;
        sum_logrank += log((double)rank);
        if (out->ranks) out->ranks[j - 1] = rank;
        if (j + 1 < n) err = sg_gpt2_decode(model, &slot, &tokens[j], 1, logits);
    }
    sg_gpt2_slot_release(model, slot);
    sg_gpt2_free(model);
    free(logits);
    if (err) {
        free(out->ranks);
        out->ranks = NULL;
        return err;
    }
    out->n_scored = n - 1;
    out->score = sum_var > 0 ? (sum_ll - sum_mu) / sqrt(sum_var) : 0;
    out->log_rank = -sum_logrank / (n - 1);
    out->log_likelihood = sum_ll / (n - 1);
    return NULL;
}

/* log-sum-exp of logits[0..V). */
static double log_sum_exp(const float *logits, int V) {
    double max = logits[0];
    for (int v = 1; v < V; v++) max = logits[v] > max ? logits[v] : max;
    double z = 0;
    for (int v = 0; v < V; v++) z += exp(logits[v] - max);
    return max + log(z);
}

sg_error *sg_zeroshot_binoculars(const sg_gpt2_weights *observer, const sg_gpt2_weights *performer,
                                 const int *tokens, int n, sg_binoculars *out) {
    memset(out, 0, sizeof *out);
    int V = performer->config.vocab_size;
    if (observer->config.vocab_size != V)
        return sg_error_new("binoculars: the observer has %d ids, the performer %d; they need one tokenizer",
                            observer->config.vocab_size, V);
    int ctx =
        observer->config.n_ctx < performer->config.n_ctx ? observer->config.n_ctx : performer->config.n_ctx;
    if (n > ctx) n = ctx;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return sg_error_new("token %d at position %d is outside the models' vocabulary (%d)", tokens[i],
                                i, V);
    if (n < 2) return sg_error_new("need at least 2 tokens to score, got %d", n);
    sg_gpt2 *mo = NULL, *mp = NULL;
    sg_error *err = sg_gpt2_new(observer, 1, &mo);
    if (!err) err = sg_gpt2_new(performer, 1, &mp);
    float *lo = malloc((size_t)V * sizeof *lo), *lp = malloc((size_t)V * sizeof *lp);
    if (!err && (!lo || !lp)) err = sg_error_new("out of memory");
    int so = err ? -1 : sg_gpt2_slot_acquire(mo), sp = err ? -1 : sg_gpt2_slot_acquire(mp);
    double sum_nll = 0, sum_x = 0, sum_nll_o = 0, sum_var = 0;
    if (!err) err = sg_gpt2_prefill(mo, so, tokens, 1, lo);
    if (!err) err = sg_gpt2_prefill(mp, sp, tokens, 1, lp);
    for (int j = 1; j < n && !err; j++) {
        double lse_o = log_sum_exp(lo, V), lse_p = log_sum_exp(lp, V), x = 0, x2 = 0;
        for (int v = 0; v < V; v++) {
            double po = exp(lo[v] - lse_o), nl = lse_p - lp[v];
            x += po * nl;
            x2 += po * nl * nl;
        }
        sum_x += x;
        sum_var += x2 - x * x > 0 ? x2 - x * x : 0;
        sum_nll += lse_p - lp[tokens[j]];
        sum_nll_o += lse_o - lo[tokens[j]];
        if (j + 1 < n) {
            err = sg_gpt2_decode(mo, &so, &tokens[j], 1, lo);
            if (!err) err = sg_gpt2_decode(mp, &sp, &tokens[j], 1, lp);
        }
    }
    if (so >= 0) sg_gpt2_slot_release(mo, so);
    if (sp >= 0) sg_gpt2_slot_release(mp, sp);
    sg_gpt2_free(mo);
    sg_gpt2_free(mp);
    free(lo);
    free(lp);
    if (err) return err;
    out->n_scored = n - 1;
    out->log_ppl = sum_nll / (n - 1);
    out->x_ppl = sum_x / (n - 1);
    out->score = out->x_ppl > 0 ? out->log_ppl / out->x_ppl : 0;
    out->log_ratio = (sum_nll_o - sum_nll) / (n - 1);
    out->analytic = sum_var > 0 ? (sum_x - sum_nll) / sqrt(sum_var) : 0;
    return NULL;
}
