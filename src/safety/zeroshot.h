/* zeroshot.h — detection of text from the model family without a watermark:
 * the model scores the text with its own probabilities.
 *
 * With l_j(v) = log p(v | x_<j): the Fast-DetectGPT analytic sampling
 * discrepancy (Bao et al. 2024) score = (sum_j l_j(x_j) - sum_j mu_j) /
 * sqrt(sum_j sigma_j^2), mu_j and sigma_j^2 the mean and variance of l_j under
 * the model's own distribution at position j (higher = more likely
 * generated); the log-rank score -mean_j log rank_j; the mean
 * log-likelihood; and each token's rank for a GLTR-style view (buckets
 * top-10, top-100, top-1000, beyond). */
#ifndef SG_ZEROSHOT_H
#define SG_ZEROSHOT_H

#include "base/error.h"
#include "engine/checkpoint.h"

typedef struct {
    int n_scored;          /* tokens scored: all but the first (context only) */
    double score;          /* Fast-DetectGPT analytic discrepancy */
    double log_rank;       /* -mean log(rank), rank 1 = the model's top choice */
    double log_likelihood; /* mean log p(x_j | x_<j) */
    int *ranks;            /* [n_scored] when asked for, else NULL; free() */
} sg_zeroshot;

/* Scores tokens[0..n) (at most the model's context; longer input is cut to
 * it) with the model `w`. */
sg_error *sg_zeroshot_score(const sg_gpt2_weights *w, const int *tokens, int n, int want_ranks,
                            sg_zeroshot *out) SG_MUST_CHECK;

typedef struct {
    int n_scored;
    double log_ppl;   /* performer's mean loss on the text (nats/token) */
    double x_ppl;     /* observer-to-performer cross-entropy (nats/token) */
    double score;     /* log_ppl / x_ppl; lower = more likely generated */
    double log_ratio; /* mean log p_perf(x_j) - mean log p_obs(x_j): the likelihood ratio of the pair */
    double analytic;  /* Fast-DetectGPT with the observer sampling and the performer scoring */
} sg_binoculars;

/* Scores tokens[0..n) (cut to the shorter context) with the observer and the
 * performer, which must have the same vocabulary size. */
sg_error *sg_zeroshot_binoculars(const sg_gpt2_weights *observer, const sg_gpt2_weights *performer,
                                 const int *tokens, int n, sg_binoculars *out) SG_MUST_CHECK;

/* Many texts of T tokens each (tokens[i*T ..]), scored together: every
 * position of all of them advances in one pass over the weights. */
sg_error *sg_zeroshot_score_many(const sg_gpt2_weights *w, const int *tokens, int n_texts, int T,
                                 sg_zeroshot *out) SG_MUST_CHECK;
sg_error *sg_zeroshot_binoculars_many(const sg_gpt2_weights *observer, const sg_gpt2_weights *performer,
                                      const int *tokens, int n_texts, int T,
                                      sg_binoculars *out) SG_MUST_CHECK;

/* "top-10", "top-100", "top-1000" or "beyond" for a rank. */
const char *sg_rank_bucket(int rank);

#endif
