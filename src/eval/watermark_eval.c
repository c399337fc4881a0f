/* watermark_eval.c — the "watermark" evaluation suite; see watermark_eval.h. */
#include "eval/watermark_eval.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "engine/generate.h"

static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

sg_error *sg_eval_heldout_tokens(const sg_tokenizer *tok, const char *dir, int **ids, int *n) {
    *ids = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return sg_error_new("%s: cannot open the held-out directory", dir);
    char *names[256];
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)) && k < 256) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".txt")) names[k++] = sg_path_join(dir, e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)k, sizeof *names, cmp_str);
    sg_error *err = k ? NULL : sg_error_new("%s: no .txt files", dir);
    for (int i = 0; i < k && !err; i++) {
        char *text = NULL;
        size_t len;
        int *part = NULL, np = 0;
        if (!names[i]) err = sg_error_new("out of memory");
        if (!err) err = sg_file_read(names[i], &text, &len);
        if (!err) err = sg_tokenizer_encode(tok, text, len, 0, &part, &np);
        if (!err) {
            int *p = realloc(*ids, (size_t)(*n + np) * sizeof *p);
            if (!p)
                err = sg_error_new("out of memory");
            else {
                memcpy(p + *n, part, (size_t)np * sizeof *p);
                *ids = p;
                *n += np;
            }
        }
        free(text);
        free(part);
    }
    for (int i = 0; i < k; i++) free(names[i]);
    if (err) {
        free(*ids);
        *ids = NULL;
    }
    return err;
}

sg_error *sg_eval_generate(sg_gpt2 *model, const int *const *prompts, int n_prompt, int n, int T, int top_k,
                           sg_watermark *wm, uint64_t seed, int *out, double *sum_logp, int *count) {
    sg_batch *batch;
    sg_error *err = sg_batch_new(model, &batch);
    if (err) return err;
    int *seq = malloc((size_t)n * sizeof *seq), *len = calloc((size_t)n, sizeof *len);
    sg_batch_event *ev = malloc((size_t)sg_batch_capacity(batch) * sizeof *ev);
    if (!seq || !len || !ev) err = sg_error_new("out of memory");
    sg_generation_params p = {0};
    p.max_tokens = T;
    p.sampling.temperature = 1;
    p.sampling.top_p = 1;
    p.sampling.top_k = top_k;
    p.eot_token = -1;
    for (int i = 0; i < n && !err; i++) {
        p.sampling.seed = seed + (uint64_t)i;
        err = sg_batch_add(batch, prompts[i], n_prompt, &p, &seq[i]);
        if (!err && wm) sg_batch_set_processor(batch, seq[i], sg_watermark_processor(wm));
    }
    *sum_logp = 0;
    *count = 0;
    while (!err && sg_batch_running(batch) > 0) {
        int ne;
        if ((err = sg_batch_step(batch, ev, &ne))) break;
        for (int e = 0; e < ne; e++) {
            int i = 0;
            while (i < n && seq[i] != ev[e].seq_id) i++;
            if (i == n || ev[e].token < 0 || len[i] >= T) continue;
            out[(size_t)i * T + len[i]++] = ev[e].token;
            *sum_logp += ev[e].logprob;
            (*count)++;
        }
    }
    for (int i = 0; i < n && !err; i++)
        if (len[i] != T) err = sg_error_new("completion %d has %d tokens, wanted %d", i, len[i], T);
    free(seq);
    free(len);
    free(ev);
    sg_batch_free(batch);
    return err;
}

/* z of one completion, its prompt's last token as context. */
static sg_error *score(const sg_watermark *wm, int context, const int *toks, int T, double thr,
                       sg_watermark_score *s) {
    int *buf = malloc((size_t)(T + 1) * sizeof *buf);
    if (!buf) return sg_error_new("out of memory");
    buf[0] = context;
    memcpy(buf + 1, toks, (size_t)T * sizeof *buf);
    sg_error *err = sg_watermark_detect(wm, buf, T + 1, thr, s);
    free(buf);
    return err;
}

sg_error *sg_watermark_eval_run(const sg_gpt2_weights *w, const sg_tokenizer *tok,
                                const unsigned char key[SG_WATERMARK_KEY_BYTES],
                                const sg_watermark_eval_config *cfg, json_t **out) {
    *out = NULL;
    int N = cfg->samples, T = cfg->tokens, P = cfg->prompt_tokens, V = w->config.vocab_size;
    if (N < 1 || T < 2 || P < 1)
        return sg_error_new("watermark evaluation: need samples >= 1, tokens >= 2, prompt >= 1");
    if (P + T > w->config.n_ctx)
        return sg_error_new("watermark evaluation: prompt %d + completion %d exceed the context %d", P, T,
                            w->config.n_ctx);
    int *held = NULL, n_held = 0;
    sg_error *err = sg_eval_heldout_tokens(tok, cfg->heldout_dir, &held, &n_held);
    if (err) return sg_error_wrap(err, "watermark evaluation");
    int stride = (P + T);
    if ((long)N * stride > n_held) {
        free(held);
        return sg_error_new("watermark evaluation: %d held-out tokens are too few for %d passages of %d",
                            n_held, N, stride);
    }
    stride = n_held / N; /* spread the passages over the whole held-out set */
    const int **prompts = malloc((size_t)N * sizeof *prompts);
    int *wm_out = malloc((size_t)N * T * sizeof *wm_out),
        *plain_out = malloc((size_t)N * T * sizeof *plain_out);
    sg_watermark *wm = NULL, *det = NULL;
    sg_gpt2 *model = NULL;
    if (!prompts || !wm_out || !plain_out) err = sg_error_new("out of memory");
    for (int i = 0; i < N && !err; i++) prompts[i] = held + (size_t)i * stride;
    if (!err) err = sg_watermark_new(key, cfg->gamma, cfg->delta, &wm);
    if (!err) err = sg_watermark_new(key, cfg->gamma, 0, &det);
    if (!err) err = sg_gpt2_new(w, N, &model);
    double lp_wm = 0, lp_plain = 0;
    int c_wm = 0, c_plain = 0;
    if (!err) err = sg_eval_generate(model, prompts, P, N, T, 0, wm, cfg->seed, wm_out, &lp_wm, &c_wm);
    if (!err)
        err = sg_eval_generate(model, prompts, P, N, T, 0, NULL, cfg->seed, plain_out, &lp_plain, &c_plain);

    int tp = 0, fp = 0, plain_fp = 0, tp10 = 0, tp25 = 0;
    double z_sum = 0, hz_sum = 0, hz_sq = 0, hz_max = -1e9;
    json_t *hz = json_array();
    uint64_t rng = cfg->seed ^ 0xA5A5A5A5ull;
    int *edited = malloc((size_t)T * sizeof *edited);
    if (!edited && !err) err = sg_error_new("out of memory");
    for (int i = 0; i < N && !err; i++) {
        int ctx = prompts[i][P - 1];
        const int *g = wm_out + (size_t)i * T;
        sg_watermark_score s;
        if ((err = score(det, ctx, g, T, cfg->z_threshold, &s))) break;
        tp += s.watermarked;
        z_sum += s.z;
        if ((err = score(det, ctx, plain_out + (size_t)i * T, T, cfg->z_threshold, &s))) break;
        plain_fp += s.watermarked;
        /* the human continuation of the same prompt */
        if ((err = score(det, ctx, prompts[i] + P, T, cfg->z_threshold, &s))) break;
        fp += s.watermarked;
        hz_sum += s.z;
        hz_sq += s.z * s.z;
        hz_max = s.z > hz_max ? s.z : hz_max;
        json_array_append_new(hz, json_real(s.z));
        for (int frac = 10; frac <= 25; frac += 15) {
            memcpy(edited, g, (size_t)T * sizeof *edited);
            for (int j = 0; j < T; j++)
                if (next_u64(&rng) % 100 < (uint64_t)frac) edited[j] = (int)(next_u64(&rng) % (uint64_t)V);
            if ((err = score(det, ctx, edited, T, cfg->z_threshold, &s))) break;
            if (frac == 10)
                tp10 += s.watermarked;
            else
                tp25 += s.watermarked;
        }
    }
    free(edited);
    sg_gpt2_free(model);
    sg_watermark_free(wm);
    sg_watermark_free(det);
    free(prompts);
    free(wm_out);
    free(plain_out);
    free(held);
    if (err) {
        json_decref(hz);
        return sg_error_wrap(err, "watermark evaluation");
    }
    double ppl_wm = exp(-lp_wm / c_wm), ppl_plain = exp(-lp_plain / c_plain);
    double hz_mean = hz_sum / N, hz_std = sqrt(fmax(0, hz_sq / N - hz_mean * hz_mean));
    json_t *m = json_object();
    json_object_set_new(m, "tpr", json_real((double)tp / N));
    json_object_set_new(m, "fpr", json_real((double)fp / N));
    json_object_set_new(m, "fpr_unwatermarked_model_text", json_real((double)plain_fp / N));
    json_object_set_new(m, "perplexity_cost", json_real(ppl_wm / ppl_plain - 1));
    json_object_set_new(m, "perplexity_watermarked", json_real(ppl_wm));
    json_object_set_new(m, "perplexity_plain", json_real(ppl_plain));
    json_object_set_new(m, "tpr_replace_10", json_real((double)tp10 / N));
    json_object_set_new(m, "tpr_replace_25", json_real((double)tp25 / N));
    json_object_set_new(m, "z_mean_watermarked", json_real(z_sum / N));
    json_object_set_new(m, "z_human_mean", json_real(hz_mean));
    json_object_set_new(m, "z_human_std", json_real(hz_std));
    json_object_set_new(m, "z_human_max", json_real(hz_max));
    json_t *o = json_object();
    json_object_set_new(o, "suite", json_string("watermark"));
    json_object_set_new(o, "metrics", m);
    json_t *params = json_object();
    json_object_set_new(params, "samples", json_integer(N));
    json_object_set_new(params, "tokens", json_integer(T));
    json_object_set_new(params, "prompt_tokens", json_integer(P));
    json_object_set_new(params, "gamma", json_real(cfg->gamma));
    json_object_set_new(params, "delta", json_real(cfg->delta));
    json_object_set_new(params, "z_threshold", json_real(cfg->z_threshold));
    json_object_set_new(params, "seed", json_integer((json_int_t)cfg->seed));
    json_object_set_new(o, "params", params);
    json_object_set_new(o, "z_human", hz);
    *out = o;
    return NULL;
}
