/* sampler.c — logits to the next token (see sampler.h).
 *
 * Candidates are ordered by (logit descending, id ascending), a strict total
 * order, so top-k and top-p keep exactly defined sets and a seed gives the
 * same token on every machine that computes the same logits. Top-p without
 * top-k avoids sorting the whole vocabulary: it sorts only the tokens above a
 * probability threshold, lowered until they hold at least top_p of the mass
 * (then the nucleus is inside them). */
#include "engine/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(uint64_t *s) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double next_unit(uint64_t *s) { return (double)(next_u64(s) >> 11) * 0x1.0p-53; }

sg_error *sg_sampler_init(sg_sampler *s, const sg_sampling *cfg, int vocab) {
    memset(s, 0, sizeof *s);
    if (!(cfg->temperature >= 0) || isinf(cfg->temperature))
        return sg_error_new("sampling: temperature must be a finite number >= 0, got %g", cfg->temperature);
    if (cfg->top_k < 0) return sg_error_new("sampling: top_k must be >= 0 (0 = off), got %d", cfg->top_k);
    if (!(cfg->top_p > 0 && cfg->top_p <= 1))
        return sg_error_new("sampling: top_p must be in (0, 1] (1 = off), got %g", cfg->top_p);
    if (vocab < 1) return sg_error_new("sampling: vocabulary size must be positive, got %d", vocab);
    s->cfg = *cfg;
    s->vocab = vocab;
    uint64_t x = cfg->seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
    s->idx = malloc(sizeof(int) * vocab);
    s->prob = malloc(sizeof(float) * vocab);
    if (!s->idx || !s->prob) {
        sg_sampler_free(s);
        return sg_error_new("sampling: out of memory");
    }
    return NULL;
}

void sg_sampler_free(sg_sampler *s) {
    free(s->idx);
    free(s->prob);
    s->idx = NULL;
    s->prob = NULL;
}

int sg_sampler_add_processor(sg_sampler *s, sg_logits_processor p) {
    if (s->n_procs >= SG_SAMPLER_MAX_PROCESSORS) return -1;
    s->procs[s->n_procs++] = p;
    return 0;
}

/* a ranks before b: larger logit first, then lower id. */
static inline int before(const float *v, int a, int b) { return v[a] > v[b] || (v[a] == v[b] && a < b); }

/* qsort has no context argument: the keys go through a thread-local. */
static _Thread_local const float *tl_keys;

static int cmp_rank(const void *pa, const void *pb) {
    int a = *(const int *)pa, b = *(const int *)pb;
    return before(tl_keys, a, b) ? -1 : before(tl_keys, b, a) ? 1 : 0;
}

static void sort_ids(int *ids, int n, const float *keys) {
    tl_keys = keys;
    qsort(ids, n, sizeof(int), cmp_rank);
}

/* Moves the k best ids (by `before`) of ids[0..n) to ids[0..k), unordered. */
static void select_top(int *ids, int n, int k, const float *v) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        /* median of three as pivot */
        int a = ids[lo], b = ids[mid], c = ids[hi], p;
        if (before(v, a, b))
            p = before(v, b, c) ? b : (before(v, a, c) ? c : a);
        else
            p = before(v, a, c) ? a : (before(v, b, c) ? c : b);
        int i = lo, j = hi;
        while (i <= j) {
            while (before(v, ids[i], p)) i++;
            while (before(v, p, ids[j])) j--;
            if (i <= j) {
                int t = ids[i];
                ids[i] = ids[j];
                ids[j] = t;
                i++, j--;
            }
        }
        if (k - 1 <= j)
            hi = j;
        else if (k - 1 >= i)
            lo = i;
        else
            break;
    }
}

/* Moves the nucleus to ids[0..return): the smallest set of best-ranked ids
 * whose mass (prob) reaches `goal`, found by partitioning around pivots as
 * in quickselect (expected linear time, no full sort). The order within it
 * is arbitrary but a deterministic function of the input. */
static int select_nucleus(int *ids, int n, const float *prob, const float *v, double goal) {
    int lo = 0, hi = n;
    double acc = 0; /* mass of ids[0..lo), all in the nucleus */
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2, a = ids[lo], b = ids[mid], c = ids[hi - 1], p;
        if (before(v, a, b))
            p = before(v, b, c) ? b : (before(v, a, c) ? c : a);
        else
            p = before(v, a, c) ? a : (before(v, b, c) ? c : b);
        /* [lo, m): ranked before p; then p; then the rest */
        int m = lo;
        double mass = 0;
        for (int i = lo; i < hi; i++)
            if (before(v, ids[i], p)) {
                int t = ids[m];
                ids[m] = ids[i];
                ids[i] = t;
                mass += prob[ids[m]];
                m++;
            }
        for (int i = m; i < hi; i++)
            if (ids[i] == p) {
                ids[i] = ids[m];
                ids[m] = p;
                break;
            }
        if (acc + mass >= goal) {
            hi = m;
        } else if (acc + mass + prob[p] >= goal) {
            return m + 1;
        } else {
            acc += mass + prob[p];
            lo = m + 1;
        }
    }
    return hi > lo ? lo + 1 : lo > 0 ? lo : n;
}

int sg_sampler_sample(sg_sampler *s, float *logits, const int *tokens, int n_tokens) {
    int V = s->vocab;
    for (int i = 0; i < s->n_procs; i++) s->procs[i].apply(s->procs[i].ctx, tokens, n_tokens, logits, V);
    /* NaN counts as banned: make it -inf so comparisons stay a total order. */
    int best = -1;
    for (int i = 0; i < V; i++) {
        if (isnan(logits[i])) logits[i] = -INFINITY;
        if (logits[i] > -INFINITY && (best < 0 || logits[i] > logits[best])) best = i;
    }
    if (best < 0) return -1;
    if (s->cfg.temperature == 0) return best;

    /* Unnormalised probabilities at the temperature. */
    float inv_t = 1.0f / s->cfg.temperature, mx = logits[best];
    double total = 0;
    int n = 0;
    for (int i = 0; i < V; i++) {
        if (logits[i] == -INFINITY) {
            s->prob[i] = 0;
            continue;
        }
        s->prob[i] = expf((logits[i] - mx) * inv_t);
        total += s->prob[i];
        s->idx[n++] = i;
    }
    int k = s->cfg.top_k;
    float top_p = s->cfg.top_p;
    int sorted = 0;
    if (k > 0 && k < n) {
        select_top(s->idx, n, k, logits);
        n = k;
        sort_ids(s->idx, n, logits);
        sorted = 1;
        total = 0;
        for (int i = 0; i < n; i++) total += s->prob[s->idx[i]];
    }
    if (top_p < 1) {
        double goal = top_p * total;
        if (!sorted) {
            n = select_nucleus(s->idx, n, s->prob, logits, goal);
            total = 0;
            for (int i = 0; i < n; i++) total += s->prob[s->idx[i]];
        } else {
            double cum = 0;
            for (int i = 0; i < n; i++) {
                cum += s->prob[s->idx[i]];
                if (cum >= goal) {
                    n = i + 1;
                    break;
                }
            }
            total = 0;
            for (int i = 0; i < n; i++) total += s->prob[s->idx[i]];
        }
    }
    double u = next_unit(s->rng) * total, cum = 0;
    for (int i = 0; i < n; i++) {
        cum += s->prob[s->idx[i]];
        if (u < cum) return s->idx[i];
    }
    return s->idx[n - 1]; /* rounding: u landed at the very end */
}

void sg_logprobs(const float *logits, int vocab, int token, int k, float *logprob, int *top_tokens,
                 float *top_logprobs) {
    float mx = -INFINITY;
    for (int i = 0; i < vocab; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int i = 0; i < vocab; i++) sum += expf(logits[i] - mx);
    double lse = mx + log(sum);
    if (logprob) *logprob = token >= 0 && token < vocab ? (float)(logits[token] - lse) : -INFINITY;
    if (k > SG_MAX_LOGPROBS) k = SG_MAX_LOGPROBS;
    int n = 0;
    for (int i = 0; i < vocab && k > 0; i++) {
        if (n == k && !before(logits, i, top_tokens[n - 1])) continue;
        int j = n < k ? n++ : n - 1;
        while (j > 0 && before(logits, i, top_tokens[j - 1])) {
            top_tokens[j] = top_tokens[j - 1];
            j--;
        }
        top_tokens[j] = i;
    }
    for (int i = 0; i < n; i++) top_logprobs[i] = (float)(logits[top_tokens[i]] - lse);
}
