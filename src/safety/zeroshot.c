/* zeroshot.c — model-based detection scores; see zeroshot.h. */
#include "safety/zeroshot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gpt2.h"

const char *sg_rank_bucket(int rank) {
    return rank <= 10 ? "top-10" : rank <= 100 ? "top-100" : rank <= 1000 ? "top-1000" : "beyond";
}

/* log-sum-exp of logits[0..V). */
static double log_sum_exp(const float *logits, int V) {
    double max = logits[0];
    for (int v = 1; v < V; v++) max = logits[v] > max ? logits[v] : max;
    double z = 0;
    for (int v = 0; v < V; v++) z += exp(logits[v] - max);
    return max + log(z);
}

/* What one text accumulates over its positions. */
typedef struct {
    double ll, mu, var, logrank; /* under the (first) model */
    double nll_p, nll_o, x,
        xvar; /* the pair: performer loss, observer loss, cross-entropy and its variance */
    int *ranks;
} acc;

/* Single model (lo == NULL): the model's own statistics at one position. */
static void step_single(const float *l, int V, int target, acc *a, int j) {
    double lse = log_sum_exp(l, V), mu = 0, m2 = 0;
    float t = l[target];
    int rank = 1;
    for (int v = 0; v < V; v++) {
        double lp = l[v] - lse, p = exp(lp);
        mu += p * lp;
        m2 += p * lp * lp;
        rank += l[v] > t;
    }
    a->ll += t - lse;
    a->mu += mu;
    a->var += m2 - mu * mu > 0 ? m2 - mu * mu : 0;
    a->logrank += log((double)rank);
    if (a->ranks) a->ranks[j - 1] = rank;
}

/* The pair at one position: lo observer, lp performer logits. */
static void step_pair(const float *lo, const float *lp, int V, int target, acc *a) {
    double lse_o = log_sum_exp(lo, V), lse_p = log_sum_exp(lp, V), x = 0, x2 = 0;
    for (int v = 0; v < V; v++) {
        double po = exp(lo[v] - lse_o), nl = lse_p - lp[v];
        x += po * nl;
        x2 += po * nl * nl;
    }
    a->x += x;
    a->xvar += x2 - x * x > 0 ? x2 - x * x : 0;
    a->nll_p += lse_p - lp[target];
    a->nll_o += lse_o - lo[target];
}

/* Runs texts toks[i*T .. i*T+T) for i < n through one model (m[1] NULL) or
 * the observer m[0] and performer m[1] in lockstep, CHUNK texts at a time,
 * each in its own slot: every decode step advances all of them in one pass
 * over the weights. */
#define CHUNK 32
static sg_error *run(const sg_gpt2_weights *const m[2], const int *toks, int n, int T, acc *a) {
    int V = m[0]->config.vocab_size, pair = m[1] != NULL, chunk = n < CHUNK ? n : CHUNK;
    sg_gpt2 *g[2] = {NULL, NULL};
    float *l[2] = {malloc((size_t)chunk * V * sizeof(float)),
                   pair ? malloc((size_t)chunk * V * sizeof(float)) : NULL};
    int *slots[2] = {malloc((size_t)chunk * sizeof(int)), malloc((size_t)chunk * sizeof(int))};
    int *next = malloc((size_t)chunk * sizeof *next);
    sg_error *err =
        l[0] && (!pair || l[1]) && slots[0] && slots[1] && next ? NULL : sg_error_new("out of memory");
    for (int k = 0; k <= pair && !err; k++) err = sg_gpt2_new(m[k], chunk, &g[k]);
    for (int c0 = 0; c0 < n && !err; c0 += chunk) {
        int nc = n - c0 < chunk ? n - c0 : chunk, got[2] = {0, 0};
        for (int k = 0; k <= pair && !err; k++)
            for (int i = 0; i < nc && !err; i++) {
                if ((slots[k][i] = sg_gpt2_slot_acquire(g[k])) < 0) {
                    err = sg_error_new("no free slot");
                    break;
                }
                got[k]++;
                err =
                    sg_gpt2_prefill(g[k], slots[k][i], toks + (size_t)(c0 + i) * T, 1, l[k] + (size_t)i * V);
            }
        for (int j = 1; j < T && !err; j++) {
            for (int i = 0; i < nc; i++) {
                int t = toks[(size_t)(c0 + i) * T + j];
                if (pair)
                    step_pair(l[0] + (size_t)i * V, l[1] + (size_t)i * V, V, t, &a[c0 + i]);
                else
                    step_single(l[0] + (size_t)i * V, V, t, &a[c0 + i], j);
                next[i] = t;
            }
            for (int k = 0; k <= pair && !err && j + 1 < T; k++)
                err = sg_gpt2_decode(g[k], slots[k], next, nc, l[k]);
        }
        for (int k = 0; k <= pair; k++)
            for (int i = 0; i < got[k]; i++) sg_gpt2_slot_release(g[k], slots[k][i]);
    }
    sg_gpt2_free(g[0]);
    sg_gpt2_free(g[1]);
    free(l[0]);
    free(l[1]);
    free(slots[0]);
    free(slots[1]);
    free(next);
    return err;
}

static sg_error *check_tokens(const int *toks, size_t n, int V) {
    for (size_t i = 0; i < n; i++)
        if (toks[i] < 0 || toks[i] >= V)
            return sg_error_new("token %d at position %zu is outside the model's vocabulary (%d)", toks[i], i,
                                V);
    return NULL;
}

sg_error *sg_zeroshot_score_many(const sg_gpt2_weights *w, const int *tokens, int n_texts, int T,
                                 sg_zeroshot *out) {
    memset(out, 0, (size_t)n_texts * sizeof *out);
    if (T > w->config.n_ctx)
        return sg_error_new("texts of %d tokens exceed the context %d", T, w->config.n_ctx);
    if (T < 2) return sg_error_new("need at least 2 tokens to score, got %d", T);
    sg_error *err = check_tokens(tokens, (size_t)n_texts * T, w->config.vocab_size);
    acc *a = err ? NULL : calloc((size_t)n_texts, sizeof *a);
    if (!err && !a) err = sg_error_new("out of memory");
    const sg_gpt2_weights *m[2] = {w, NULL};
    if (!err) err = run(m, tokens, n_texts, T, a);
    for (int i = 0; i < n_texts && !err; i++) {
        out[i].n_scored = T - 1;
        out[i].score = a[i].var > 0 ? (a[i].ll - a[i].mu) / sqrt(a[i].var) : 0;
        out[i].log_rank = -a[i].logrank / (T - 1);
        out[i].log_likelihood = a[i].ll / (T - 1);
    }
    free(a);
    return err;
}

sg_error *sg_zeroshot_score(const sg_gpt2_weights *w, const int *tokens, int n, int want_ranks,
                            sg_zeroshot *out) {
    memset(out, 0, sizeof *out);
    if (n > w->config.n_ctx) n = w->config.n_ctx;
    sg_error *err = check_tokens(tokens, (size_t)(n > 0 ? n : 0), w->config.vocab_size);
    if (err) return err;
    if (n < 2) return sg_error_new("need at least 2 tokens to score, got %d", n);
    acc a = {0};
    if (want_ranks && !(a.ranks = malloc((size_t)n * sizeof *a.ranks))) return sg_error_new("out of memory");
    const sg_gpt2_weights *m[2] = {w, NULL};
    if ((err = run(m, tokens, 1, n, &a))) {
        free(a.ranks);
        return err;
    }
    out->n_scored = n - 1;
    out->score = a.var > 0 ? (a.ll - a.mu) / sqrt(a.var) : 0;
    out->log_rank = -a.logrank / (n - 1);
    out->log_likelihood = a.ll / (n - 1);
    out->ranks = a.ranks;
    return NULL;
}

sg_error *sg_zeroshot_binoculars_many(const sg_gpt2_weights *observer, const sg_gpt2_weights *performer,
                                      const int *tokens, int n_texts, int T, sg_binoculars *out) {
    memset(out, 0, (size_t)n_texts * sizeof *out);
    int V = performer->config.vocab_size;
    if (observer->config.vocab_size != V)
        return sg_error_new("binoculars: the observer has %d ids, the performer %d; they need one tokenizer",
                            observer->config.vocab_size, V);
    int ctx =
        observer->config.n_ctx < performer->config.n_ctx ? observer->config.n_ctx : performer->config.n_ctx;
    if (T > ctx) return sg_error_new("texts of %d tokens exceed the pair's context %d", T, ctx);
    if (T < 2) return sg_error_new("need at least 2 tokens to score, got %d", T);
    sg_error *err = check_tokens(tokens, (size_t)n_texts * T, V);
    acc *a = err ? NULL : calloc((size_t)n_texts, sizeof *a);
    if (!err && !a) err = sg_error_new("out of memory");
    const sg_gpt2_weights *m[2] = {observer, performer};
    if (!err) err = run(m, tokens, n_texts, T, a);
    for (int i = 0; i < n_texts && !err; i++) {
        sg_binoculars *b = &out[i];
        b->n_scored = T - 1;
        b->log_ppl = a[i].nll_p / (T - 1);
        b->x_ppl = a[i].x / (T - 1);
        b->score = b->x_ppl > 0 ? b->log_ppl / b->x_ppl : 0;
        b->log_ratio = (a[i].nll_o - a[i].nll_p) / (T - 1);
        b->analytic = a[i].xvar > 0 ? (a[i].x - a[i].nll_p) / sqrt(a[i].xvar) : 0;
    }
    free(a);
    return err;
}

sg_error *sg_zeroshot_binoculars(const sg_gpt2_weights *observer, const sg_gpt2_weights *performer,
                                 const int *tokens, int n, sg_binoculars *out) {
    int ctx =
        observer->config.n_ctx < performer->config.n_ctx ? observer->config.n_ctx : performer->config.n_ctx;
    return sg_zeroshot_binoculars_many(observer, performer, tokens, 1, n > ctx ? ctx : n, out);
}
