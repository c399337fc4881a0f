/* bias_eval.c — counterfactual bias measures and the corpus audit; see bias_eval.h. */
#include "eval/bias_eval.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "engine/gpt2.h"
#include "eval/watermark_eval.h"

#define MAX_GROUPS 64
#define MAX_LINES 256
#define KEY_MAX 128 /* a metric's name (store.h SG_REL_NAME_MAX) */

/* ---- the sets ----------------------------------------------------------------- */

typedef struct {
    char *text;             /* the file, cut into lines in place */
    char *lines[MAX_LINES]; /* non-empty, non-comment lines */
    int n;
} line_file;

static sg_error *read_lines(const char *dir, const char *name, line_file *f) {
    memset(f, 0, sizeof *f);
    char *path = sg_path_join(dir, name);
    if (!path) return sg_error_new("out of memory");
    size_t len;
    sg_error *err = sg_file_read(path, &f->text, &len);
    if (err) {
        err = sg_error_wrap(err, "bias sets");
        free(path);
        return err;
    }
    int lineno = 0;
    for (char *s = f->text; s && *s && !err;) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = 0;
        lineno++;
        size_t l = strlen(s);
        if (l && s[l - 1] == '\r') s[--l] = 0;
        if (l && s[0] != '#') {
            if (f->n == MAX_LINES)
                err = sg_error_new("%s:%d: more than %d lines", path, lineno, MAX_LINES);
            else
                f->lines[f->n++] = s;
        }
        s = nl ? nl + 1 : NULL;
    }
    if (!err && !f->n) err = sg_error_new("%s: no entries", path);
    free(path);
    if (err) free(f->text), f->text = NULL;
    return err;
}

/* "a<TAB>b<TAB>c" into up to n fields (in place); the count. */
static int split_tabs(char *s, char **field, int n) {
    int k = 0;
    while (k < n) {
        field[k++] = s;
        char *t = strchr(s, '\t');
        if (!t) break;
        *t = 0;
        s = t + 1;
    }
    return k;
}

typedef struct {
    char *axis, *group, *terms;
} group_entry;

static sg_error *parse_groups(const line_file *f, const char *what, group_entry *g, int *n) {
    *n = 0;
    for (int i = 0; i < f->n; i++) {
        char *fld[3];
        int k = split_tabs(f->lines[i], fld, 3);
        if (k < 2 || !*fld[0] || !*fld[1])
            return sg_error_new("%s: entry %d: want AXIS<TAB>GROUP[<TAB>TERMS]", what, i + 1);
        if (*n == MAX_GROUPS) return sg_error_new("%s: more than %d groups", what, MAX_GROUPS);
        g[*n].axis = fld[0];
        g[*n].group = fld[1];
        g[*n].terms = k == 3 ? fld[2] : NULL;
        (*n)++;
    }
    return NULL;
}

/* ---- scoring -------------------------------------------------------------------- */

/* Mean log-probability per token of each continuation cont[c] after the
 * prompt, all continuations advanced together in slots of `m`. */
static sg_error *cont_logp(sg_gpt2 *m, const int *prompt, int np, int *const *cont, const int *nc, int C,
                           double *lp) {
    int V = sg_gpt2_config_of(m)->vocab_size;
    float *logits = malloc((size_t)C * V * sizeof *logits), *step = malloc((size_t)C * V * sizeof *step);
    int *slots = malloc((size_t)C * sizeof *slots), *pos = calloc((size_t)C, sizeof *pos);
    int *act_slot = malloc((size_t)C * sizeof *act_slot), *act_tok = malloc((size_t)C * sizeof *act_tok),
        *act_row = malloc((size_t)C * sizeof *act_row);
    sg_error *err = logits && step && slots && pos && act_slot && act_tok && act_row
                        ? NULL
                        : sg_error_new("out of memory");
    int got = 0;
    for (int c = 0; c < C && !err; c++) {
        lp[c] = 0;
        if ((slots[c] = sg_gpt2_slot_acquire(m)) < 0) {
            err = sg_error_new("no free slot");
            break;
        }
        got++;
        err = sg_gpt2_prefill(m, slots[c], prompt, np, logits + (size_t)c * V);
    }
    while (!err) {
        int k = 0;
        for (int c = 0; c < C; c++) {
            if (pos[c] >= nc[c]) continue;
            const float *l = logits + (size_t)c * V;
            double max = l[0], z = 0;
            for (int v = 1; v < V; v++) max = l[v] > max ? l[v] : max;
            for (int v = 0; v < V; v++) z += exp(l[v] - max);
            int t = cont[c][pos[c]++];
            lp[c] += l[t] - max - log(z);
            if (pos[c] < nc[c]) act_slot[k] = slots[c], act_tok[k] = t, act_row[k++] = c;
        }
        if (!k) break;
        if ((err = sg_gpt2_decode(m, act_slot, act_tok, k, step))) break;
        for (int i = 0; i < k; i++)
            memcpy(logits + (size_t)act_row[i] * V, step + (size_t)i * V, (size_t)V * sizeof *step);
    }
    for (int c = 0; c < C && !err; c++) lp[c] /= nc[c];
    for (int c = 0; c < got; c++) sg_gpt2_slot_release(m, slots[c]);
    free(logits);
    free(step);
    free(slots);
    free(pos);
    free(act_slot);
    free(act_tok);
    free(act_row);
    return err;
}

typedef struct {
    char **words;
    int *polarity;
    int n;
} lexicon;

static int cmp_word(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* (positive - negative words) / words of text; 0 without words. */
static double sentiment(const lexicon *lx, const char *text, size_t len) {
    int words = 0, score = 0;
    char w[64];
    for (size_t i = 0; i < len;) {
        if (!isalpha((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t k = 0;
        while (i < len && (isalpha((unsigned char)text[i]) || text[i] == '-')) {
            if (k + 1 < sizeof w) w[k++] = (char)tolower((unsigned char)text[i]);
            i++;
        }
        w[k] = 0;
        words++;
        char *key = w, **hit = bsearch(&key, lx->words, (size_t)lx->n, sizeof *lx->words, cmp_word);
        if (hit) score += lx->polarity[hit - lx->words];
    }
    return words ? (double)score / words : 0;
}

/* ---- the suite ------------------------------------------------------------------ */

typedef struct {
    double ll, ll_pos, ll_neg, sent;
} group_result;

static sg_error *encode_frame(const sg_tokenizer *tok, const char *frame, const char *group, int **ids,
                              int *n) {
    sg_buf b;
    sg_buf_init(&b, 0);
    const char *slot = strstr(frame, "{group}");
    sg_error *err = slot ? NULL : sg_error_new("frame without {group}: %s", frame);
    if (!err) err = sg_buf_printf(&b, "%.*s%s%s", (int)(slot - frame), frame, group, slot + 7);
    int *body = NULL, nb = 0;
    if (!err) err = sg_tokenizer_encode(tok, b.data, b.len, 0, &body, &nb);
    sg_buf_free(&b);
    if (err) return err;
    /* the start of a document, as in training: end-of-text first */
    int eot = sg_tokenizer_eot(tok), lead = eot >= 0;
    *ids = malloc((size_t)(nb + 1) * sizeof **ids);
    if (!*ids) {
        free(body);
        return sg_error_new("out of memory");
    }
    if (lead) (*ids)[0] = eot;
    memcpy(*ids + lead, body, (size_t)nb * sizeof *body);
    *n = nb + lead;
    free(body);
    return NULL;
}

sg_error *sg_bias_eval_run(const sg_gpt2_weights *w, const sg_tokenizer *tok, const sg_bias_eval_config *cfg,
                           json_t **out) {
    *out = NULL;
    const char *dir = cfg->data_dir ? cfg->data_dir : SG_BIAS_DEFAULT_DATA;
    if (cfg->samples < 1 || cfg->sample_tokens < 1)
        return sg_error_new("bias evaluation: need samples >= 1 and sample tokens >= 1");
    line_file fg, ff, fc, fs;
    memset(&ff, 0, sizeof ff), memset(&fc, 0, sizeof fc), memset(&fs, 0, sizeof fs);
    sg_error *err = read_lines(dir, "groups.tsv", &fg);
    if (!err) err = read_lines(dir, "frames.txt", &ff);
    if (!err) err = read_lines(dir, "continuations.tsv", &fc);
    if (!err) err = read_lines(dir, "sentiment.tsv", &fs);
    group_entry groups[MAX_GROUPS];
    int n_groups = 0;
    if (!err) err = parse_groups(&fg, "groups.tsv", groups, &n_groups);
    /* continuations: set, text */
    int C = fc.n, *nc = calloc((size_t)C, sizeof *nc), *positive = calloc((size_t)C, sizeof *positive);
    int **cont = calloc((size_t)C, sizeof *cont);
    int n_pos = 0, n_neg = 0;
    if (!err && (!nc || !positive || !cont)) err = sg_error_new("out of memory");
    for (int c = 0; c < C && !err; c++) {
        char *fld[2];
        if (split_tabs(fc.lines[c], fld, 2) != 2 ||
            (strcmp(fld[0], "positive") && strcmp(fld[0], "negative"))) {
            err = sg_error_new("continuations.tsv: entry %d: want positive|negative<TAB>TEXT", c + 1);
            break;
        }
        positive[c] = !strcmp(fld[0], "positive");
        n_pos += positive[c], n_neg += !positive[c];
        sg_buf b;
        sg_buf_init(&b, 0);
        err = sg_buf_printf(&b, " %s", fld[1]);
        if (!err) err = sg_tokenizer_encode(tok, b.data, b.len, 0, &cont[c], &nc[c]);
        sg_buf_free(&b);
        if (!err && nc[c] < 1) err = sg_error_new("continuations.tsv: entry %d is empty", c + 1);
    }
    if (!err && (!n_pos || !n_neg))
        err = sg_error_new("continuations.tsv: need positive and negative entries");
    /* lexicon, sorted for bsearch */
    lexicon lx = {calloc((size_t)fs.n, sizeof(char *)), calloc((size_t)fs.n, sizeof(int)), 0};
    if (!err && (!lx.words || !lx.polarity)) err = sg_error_new("out of memory");
    char **order = NULL;
    if (!err) {
        for (int i = 0; i < fs.n && !err; i++) {
            char *fld[2];
            if (split_tabs(fs.lines[i], fld, 2) != 2 || (strcmp(fld[1], "1") && strcmp(fld[1], "-1")))
                err = sg_error_new("sentiment.tsv: entry %d: want WORD<TAB>1|-1", i + 1);
            else
                lx.words[lx.n++] = fld[0];
        }
        /* sort words and carry the polarity: sort pointers, then look the polarity up */
        order = malloc((size_t)lx.n * sizeof *order);
        if (!err && !order) err = sg_error_new("out of memory");
        if (!err) {
            memcpy(order, lx.words, (size_t)lx.n * sizeof *order);
            qsort(order, (size_t)lx.n, sizeof *order, cmp_word);
            for (int i = 0; i < lx.n; i++)
                lx.polarity[i] = !strcmp(order[i] + strlen(order[i]) + 1, "-1") ? -1 : 1;
            memcpy(lx.words, order, (size_t)lx.n * sizeof *order);
        }
    }
    int n_frames = cfg->max_frames > 0 && cfg->max_frames < ff.n ? cfg->max_frames : ff.n;
    int K = cfg->samples, T = cfg->sample_tokens;
    group_result *res = calloc(MAX_GROUPS, sizeof *res);
    double *lp = malloc((size_t)C * sizeof *lp);
    int *gen = malloc((size_t)K * T * sizeof *gen);
    const int **prompts = malloc((size_t)K * sizeof *prompts);
    sg_gpt2 *model = NULL;
    if (!err && (!res || !lp || !gen || !prompts)) err = sg_error_new("out of memory");
    if (!err) err = sg_gpt2_new(w, C > K ? C : K, &model);
    for (int g = 0; g < n_groups && !err; g++) {
        for (int f = 0; f < n_frames && !err; f++) {
            int *ids = NULL, n = 0;
            if ((err = encode_frame(tok, ff.lines[f], groups[g].group, &ids, &n))) break;
            if (n + T > w->config.n_ctx) err = sg_error_new("frame %d is too long for the context", f + 1);
            if (!err) err = cont_logp(model, ids, n, cont, nc, C, lp);
            double sp = 0, sn = 0;
            for (int c = 0; c < C && !err; c++) positive[c] ? (sp += lp[c]) : (sn += lp[c]);
            res[g].ll_pos += sp / n_pos / n_frames;
            res[g].ll_neg += sn / n_neg / n_frames;
            for (int k = 0; k < K; k++) prompts[k] = ids;
            double slp;
            int cnt;
            uint64_t seed = cfg->seed + 1000003ull * (uint64_t)f; /* the same draws for every group */
            if (!err) err = sg_eval_generate(model, prompts, n, K, T, 40, NULL, seed, gen, &slp, &cnt);
            for (int k = 0; k < K && !err; k++) {
                char *text = NULL;
                size_t len = 0;
                if ((err = sg_tokenizer_decode(tok, gen + (size_t)k * T, T, &text, &len))) break;
                res[g].sent += sentiment(&lx, text, len) / K / n_frames;
                free(text);
            }
            free(ids);
        }
        res[g].ll = res[g].ll_pos - res[g].ll_neg;
    }
    sg_gpt2_free(model);
    json_t *o = NULL;
    if (!err) {
        json_t *m = json_object(), *axes = json_object();
        double ll_max = 0, s_max = 0;
        for (int g = 0; g < n_groups; g++) {
            const char *axis = groups[g].axis;
            if (json_object_get(axes, axis)) continue; /* axis done */
            int hi[2] = {g, g}, lo[2] = {g, g};
            json_t *ax = json_object(), *gs = json_object();
            for (int h = g; h < n_groups; h++) {
                if (strcmp(groups[h].axis, axis)) continue;
                if (res[h].ll > res[hi[0]].ll) hi[0] = h;
                if (res[h].ll < res[lo[0]].ll) lo[0] = h;
                if (res[h].sent > res[hi[1]].sent) hi[1] = h;
                if (res[h].sent < res[lo[1]].sent) lo[1] = h;
                json_t *gr = json_object();
                json_object_set_new(gr, "ll", json_real(res[h].ll));
                json_object_set_new(gr, "ll_positive", json_real(res[h].ll_pos));
                json_object_set_new(gr, "ll_negative", json_real(res[h].ll_neg));
                json_object_set_new(gr, "sentiment", json_real(res[h].sent));
                json_object_set_new(gs, groups[h].group, gr);
            }
            json_object_set_new(ax, "groups", gs);
            static const char *const measure[2] = {"ll", "sentiment"};
            for (int q = 0; q < 2; q++) {
                double spread = q ? res[hi[q]].sent - res[lo[q]].sent : res[hi[q]].ll - res[lo[q]].ll;
                char key[KEY_MAX];
                snprintf(key, sizeof key, "%s_%s_spread", axis, measure[q]);
                json_object_set_new(m, key, json_real(spread));
                snprintf(key, sizeof key, "%s_%s_worst(%s>%s)", axis, measure[q], groups[hi[q]].group,
                         groups[lo[q]].group);
                json_object_set_new(m, key, json_real(spread));
                snprintf(key, sizeof key, "%s_worst", measure[q]);
                json_object_set_new(ax, key, json_pack("[ss]", groups[hi[q]].group, groups[lo[q]].group));
                snprintf(key, sizeof key, "%s_spread", measure[q]);
                json_object_set_new(ax, key, json_real(spread));
                if (q)
                    s_max = spread > s_max ? spread : s_max;
                else
                    ll_max = spread > ll_max ? spread : ll_max;
            }
            json_object_set_new(axes, axis, ax);
        }
        json_object_set_new(m, "ll_spread_max", json_real(ll_max));
        json_object_set_new(m, "sentiment_spread_max", json_real(s_max));
        o = json_object();
        json_object_set_new(o, "suite", json_string("bias"));
        json_object_set_new(o, "metrics", m);
        json_object_set_new(o, "axes", axes);
        json_t *params = json_object();
        json_object_set_new(params, "data", json_string(dir));
        json_object_set_new(params, "frames", json_integer(n_frames));
        json_object_set_new(params, "groups", json_integer(n_groups));
        json_object_set_new(params, "continuations", json_integer(C));
        json_object_set_new(params, "samples", json_integer(K));
        json_object_set_new(params, "sample_tokens", json_integer(T));
        json_object_set_new(params, "seed", json_integer((json_int_t)cfg->seed));
        json_object_set_new(o, "params", params);
    }
    for (int c = 0; c < C && cont; c++) free(cont[c]);
    free(cont);
    free(nc);
    free(positive);
    free(lx.words);
    free(lx.polarity);
    free(order);
    free(res);
    free(lp);
    free(gen);
    free(prompts);
    free(fg.text);
    free(ff.text);
    free(fc.text);
    free(fs.text);
    if (err) return sg_error_wrap(err, "bias evaluation");
    *out = o;
    return NULL;
}

/* ---- the corpus audit ------------------------------------------------------------ */

#define MAX_DECADES 64

/* Whole-word, case-insensitive occurrences of `term` (lower case) in `low`
 * (the text in lower case). */
static long count_term(const char *low, size_t len, const char *term) {
    size_t tl = strlen(term);
    long k = 0;
    for (const char *p = low; tl && (p = memmem(p, len - (size_t)(p - low), term, tl)); p += tl) {
        int before = p == low || !isalnum((unsigned char)p[-1]);
        int after = (size_t)(p - low) + tl >= len || !isalnum((unsigned char)p[tl]);
        k += before && after;
    }
    return k;
}

sg_error *sg_bias_audit_markdown(const char *groups_file, char **files, int n_files, char **md) {
    *md = NULL;
    const char *slash = strrchr(groups_file, '/');
    char *dir = slash ? strndup(groups_file, (size_t)(slash - groups_file)) : strdup(".");
    if (!dir) return sg_error_new("out of memory");
    line_file fg;
    sg_error *err = read_lines(dir, slash ? slash + 1 : groups_file, &fg);
    free(dir);
    if (err) return err;
    group_entry groups[MAX_GROUPS];
    int n_groups = 0;
    err = parse_groups(&fg, groups_file, groups, &n_groups);
    long(*count)[MAX_DECADES] = calloc(MAX_GROUPS, sizeof *count);
    long words[MAX_DECADES] = {0}, docs[MAX_DECADES] = {0};
    int dmin = MAX_DECADES, dmax = -1, undated = 0;
    if (!err && !count) err = sg_error_new("out of memory");
    for (int i = 0; i < n_files && !err; i++) {
        const char *base = strrchr(files[i], '/');
        base = base ? base + 1 : files[i];
        int year = isdigit((unsigned char)base[0]) && isdigit((unsigned char)base[1]) &&
                           isdigit((unsigned char)base[2]) && isdigit((unsigned char)base[3])
                       ? atoi(base)
                       : -1;
        int d = year >= 1700 ? (year - 1700) / 10 : -1;
        if (d < 0 || d >= MAX_DECADES) {
            undated++;
            continue;
        }
        char *text = NULL;
        size_t len = 0;
        if ((err = sg_file_read(files[i], &text, &len))) break;
        for (size_t k = 0; k < len; k++) text[k] = (char)tolower((unsigned char)text[k]);
        for (size_t k = 0; k < len;) {
            if (!isalpha((unsigned char)text[k])) {
                k++;
                continue;
            }
            while (k < len && isalpha((unsigned char)text[k])) k++;
            words[d]++;
        }
        docs[d]++;
        dmin = d < dmin ? d : dmin;
        dmax = d > dmax ? d : dmax;
        for (int g = 0; g < n_groups; g++) {
            if (!groups[g].terms) continue;
            char term[128];
            for (const char *t = groups[g].terms; *t;) {
                const char *e = strchr(t, ',');
                size_t tl = e ? (size_t)(e - t) : strlen(t);
                if (tl && tl < sizeof term) {
                    for (size_t q = 0; q < tl; q++) term[q] = (char)tolower((unsigned char)t[q]);
                    term[tl] = 0;
                    count[g][d] += count_term(text, len, term);
                }
                t += tl + (e != NULL);
            }
        }
        free(text);
    }
    sg_buf b;
    sg_buf_init(&b, 0);
    if (!err && dmax < 0) err = sg_error_new("the corpus audit found no dated files (YYYY_*.txt)");
    if (!err)
        err =
            sg_buf_printf(&b,
                          "Occurrences of each group's terms (whole words, any case; the terms are in `%s`) "
                          "per decade of the corpus, by the year in each file's name%s. Counts, not "
                          "judgements: a term's frequency says how often a group is named, not how.\n",
                          groups_file, undated ? "; undated files left out" : "");
    for (int g = 0; g < n_groups && !err; g++) {
        if (g && !strcmp(groups[g].axis, groups[g - 1].axis)) continue;
        err = sg_buf_printf(&b, "\n**%s**\n\n| decade | documents | words |", groups[g].axis);
        for (int h = g; h < n_groups && !err && !strcmp(groups[h].axis, groups[g].axis); h++)
            err = sg_buf_printf(&b, " %s |", groups[h].group);
        if (!err) err = sg_buf_puts(&b, "\n|---|---|---|");
        for (int h = g; h < n_groups && !err && !strcmp(groups[h].axis, groups[g].axis); h++)
            err = sg_buf_puts(&b, "---|");
        if (!err) err = sg_buf_puts(&b, "\n");
        for (int d = dmin; d <= dmax && !err; d++) {
            if (!docs[d]) continue;
            err = sg_buf_printf(&b, "| %ds | %ld | %ld |", 1700 + 10 * d, docs[d], words[d]);
            for (int h = g; h < n_groups && !err && !strcmp(groups[h].axis, groups[g].axis); h++)
                err = sg_buf_printf(&b, " %ld |", count[h][d]);
            if (!err) err = sg_buf_puts(&b, "\n");
        }
    }
    free(count);
    free(fg.text);
    size_t len;
    if (!err) err = sg_buf_take(&b, md, &len);
    sg_buf_free(&b);
    return err;
}

/* ---- the registered suite --------------------------------------------------------- */

static sg_error *run_bias(const sg_eval_context *ctx, sg_eval_metric *m, int *n) {
    sg_checkpoint *ck = NULL;
    sg_tokenizer *tok = NULL;
    json_t *r = NULL;
    sg_bias_eval_config cfg = {ctx->data, 4, 24, 0, 1};
    sg_error *err = sg_checkpoint_open(ctx->model_dir, &ck);
    if (!err) err = sg_tokenizer_load(ctx->model_dir, &tok);
    if (!err) err = sg_bias_eval_run(sg_checkpoint_weights(ck), tok, &cfg, &r);
    *n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(r, "metrics"), k, v) {
        if (*n == SG_EVAL_MAX_METRICS) break;
        snprintf(m[*n].name, sizeof m[*n].name, "%s", k);
        m[(*n)++].value = json_number_value(v);
    }
    json_decref(r);
    sg_tokenizer_free(tok);
    sg_checkpoint_close(ck);
    return err;
}

const sg_eval_suite sg_eval_suite_bias = {
    "bias",
    "counterfactual prompts across gender, religion, nationality, race/ethnicity: spread of the "
    "positive-vs-negative log-likelihood and of the lexicon sentiment of samples, worst pair named",
    SG_BIAS_DEFAULT_DATA, run_bias};
