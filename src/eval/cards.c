/* cards.c — model card, datasheet and system card (cards.h). */
#include "eval/cards.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/fileio.h"
#include "engine/checkpoint.h"
#include "release/stages.h"
#include "train/dataset.h"

/* ---- text building ------------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || b->oom) return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static sg_error *finish(buf *b, char **out) {
    if (b->oom || !b->s) {
        free(b->s);
        return sg_error_new("out of memory writing a document");
    }
    *out = b->s;
    return NULL;
}

/* A YAML double-quoted scalar. */
static void put_yaml_str(buf *b, const char *s) {
    put(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            put(b, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            put(b, "\\x%02x", (unsigned char)*s);
        else
            put(b, "%c", *s);
    }
    put(b, "\"");
}

static void date_of(int64_t ms, char *d, size_t size) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(d, size, "%Y-%m-%d %H:%M UTC", &tm);
}

static void put_list(buf *b, char **items, int n, const char *none) {
    if (!n) put(b, "%s", none);
    for (int i = 0; i < n; i++) put(b, "%s%s", i ? ", " : "", items[i]);
}

/* ---- records of a model directory ----------------------------------------- */

typedef struct {
    const char *name, *dir;
    int have_config;
    sg_gpt2_config config;
    json_t *train;                               /* config.train.json or NULL */
    json_t *heldout;                             /* heldout.json or NULL */
    long log_lines;                              /* train_log.jsonl */
    json_t *log_first, *log_last, *log_last_val; /* the first, last, last with val_loss */
} model_records;

static json_t *load_json(const char *dir, const char *name) {
    char *path = sg_path_join(dir, name);
    json_t *j = path ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    return j;
}

static void read_records(const sg_policy *p, const char *model, model_records *r) {
    memset(r, 0, sizeof *r);
    r->name = model;
    const sg_policy_model *pm = sg_policy_find_model(p, model);
    r->dir = pm ? pm->path : NULL;
    if (!r->dir) return;
    char *cfg = sg_path_join(r->dir, "config.json");
    sg_error *err = cfg ? sg_gpt2_config_load(cfg, &r->config) : sg_error_new("out of memory");
    free(cfg);
    r->have_config = !err;
    sg_error_free(err);
    r->train = load_json(r->dir, "config.train.json");
    r->heldout = load_json(r->dir, "heldout.json");
    char *logp = sg_path_join(r->dir, "train_log.jsonl");
    FILE *f = logp ? fopen(logp, "r") : NULL;
    free(logp);
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j) continue;
        r->log_lines++;
        if (!r->log_first) r->log_first = json_incref(j);
        if (json_is_number(json_object_get(j, "val_loss"))) {
            json_decref(r->log_last_val);
            r->log_last_val = json_incref(j);
        }
        json_decref(r->log_last);
        r->log_last = j;
    }
    fclose(f);
}

static void free_records(model_records *r) {
    json_decref(r->train);
    json_decref(r->heldout);
    json_decref(r->log_first);
    json_decref(r->log_last);
    json_decref(r->log_last_val);
}

static double jnum(const json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

/* ---- the corpus, measured ------------------------------------------------- */

typedef struct {
    int files, readable;
    long long bytes, words, common, non_ascii;
    int year_min, year_max;
} corpus_stats;

static int is_common(const char *w, size_t n) {
    static const char *const words[] = {"the", "of", "and", "to", "in", "a", "that", "is", "for", "be"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i]) == n && !strncasecmp(words[i], w, n)) return 1;
    return 0;
}

static void measure_corpus(const json_t *list, corpus_stats *cs) {
    memset(cs, 0, sizeof *cs);
    cs->year_min = 99999;
    size_t n = json_array_size(list);
    if (!n) return;
    char **paths = calloc(n, sizeof *paths);
    if (!paths) return;
    for (size_t i = 0; i < n; i++) paths[i] = (char *)json_string_value(json_array_get(list, i));
    char **files = NULL;
    int nf = 0;
    sg_error *err = sg_dataset_expand(paths, (int)n, &files, &nf);
    free(paths);
    if (err) {
        sg_error_free(err);
        return;
    }
    cs->readable = 1;
    cs->files = nf;
    for (int i = 0; i < nf; i++) {
        const char *base = strrchr(files[i], '/');
        base = base ? base + 1 : files[i];
        if (isdigit((unsigned char)base[0]) && isdigit((unsigned char)base[1]) &&
            isdigit((unsigned char)base[2]) && isdigit((unsigned char)base[3]) && base[4] == '_') {
            int y = atoi(base);
            if (y < cs->year_min) cs->year_min = y;
            if (y > cs->year_max) cs->year_max = y;
        }
        char *text = NULL;
        size_t size = 0;
        if ((err = sg_file_read(files[i], &text, &size))) {
            sg_error_free(err);
            continue;
        }
        cs->bytes += (long long)size;
        for (size_t k = 0; k < size;) {
            if ((unsigned char)text[k] >= 0x80) cs->non_ascii++;
            if (!isalpha((unsigned char)text[k])) {
                k++;
                continue;
            }
            size_t s = k;
            while (k < size && isalpha((unsigned char)text[k])) k++;
            cs->words++;
            cs->common += is_common(text + s, k - s);
        }
        free(text);
    }
    sg_dataset_free_paths(files, nf);
}

/* "en" when the corpus reads as English by its function words (the ten most
 * common English words are over 15% of word tokens in English prose, a few
 * percent at most in other languages); NULL when it cannot be told. */
static const char *corpus_language(const corpus_stats *cs) {
    if (!cs->readable || cs->words < 1000) return NULL;
    return (double)cs->common / (double)cs->words > 0.15 ? "en" : NULL;
}

static void put_corpus_list(buf *b, const json_t *list) {
    size_t i;
    json_t *v;
    if (!json_array_size(list)) put(b, "(none recorded)");
    json_array_foreach(list, i, v) put(b, "%s`%s`", i ? ", " : "", json_string_value(v));
}

/* ---- model card ------------------------------------------------------------ */

/* Sizes a suite reports (token and file counts) are not measures of the model. */
static int is_measure(const char *metric) {
    return strcmp(metric, "tokens") && strcmp(metric, "files") && strncmp(metric, "n_", 2);
}

static int released_stage(const sg_policy *p, const char *model) {
    for (int s = 0; s < p->n_stages; s++)
        for (int i = 0; i < p->stages[s].n_effective_models; i++)
            if (!strcmp(p->stages[s].effective_models[i], model)) return s;
    return -1;
}

sg_error *sg_card_model(sg_store *store, const sg_policy *p, const char *model, char **out) {
    *out = NULL;
    if (!sg_policy_find_model(p, model))
        return sg_error_new("model '%s' is not a model of policy %s", model, p->path);
    model_records r;
    read_records(p, model, &r);
    sg_eval_record *ev = NULL;
    size_t ne = 0;
    sg_release_state st = {0};
    sg_risk_record *risks = NULL;
    size_t nr = 0;
    sg_mitigation_record *mit = NULL;
    size_t nm = 0;
    sg_incident_record *inc = NULL;
    size_t ni = 0;
    sg_error *err = sg_store_evals(store, model, &ev, &ne);
    if (!err) err = sg_release_state_load(store, p, &st);
    if (!err) err = sg_store_risks(store, &risks, &nr);
    if (!err) err = sg_store_mitigations(store, &mit, &nm);
    if (!err) err = sg_store_incidents(store, 0, &inc, &ni);
    if (err) goto done;

    /* latest result per suite/metric */
    size_t *latest = calloc(ne + 1, sizeof *latest), nl = 0;
    if (!latest) {
        err = sg_error_new("out of memory");
        goto done;
    }
    for (size_t i = ne; i-- > 0;) {
        int seen = 0;
        for (size_t k = 0; k < nl; k++)
            if (!strcmp(ev[latest[k]].suite, ev[i].suite) && !strcmp(ev[latest[k]].metric, ev[i].metric))
                seen = 1;
        if (!seen) latest[nl++] = i;
    }
    corpus_stats cs;
    json_t *corpus = r.train ? json_object_get(r.train, "corpus") : NULL;
    json_t *val_corpus = r.train ? json_object_get(r.train, "val_corpus") : NULL;
    measure_corpus(corpus, &cs);
    const char *lang = corpus_language(&cs);
    const char *license = NULL;
    if (p->license) {
        license = strrchr(p->license, '/');
        license = license ? license + 1 : p->license;
    }
    char d[40];
    buf b = {0};

    /* front matter */
    put(&b, "---\n");
    if (license) {
        put(&b, "license: other\nlicense_name: ");
        put_yaml_str(&b, license);
        put(&b, "\n");
    }
    if (lang) put(&b, "language:\n- %s\n", lang);
    if (json_array_size(corpus)) {
        put(&b, "datasets:\n");
        size_t i;
        json_t *v;
        json_array_foreach(corpus, i, v) {
            put(&b, "- ");
            put_yaml_str(&b, json_string_value(v));
            put(&b, "\n");
        }
    }
    int n_measures = 0;
    for (size_t k = 0; k < nl; k++) n_measures += is_measure(ev[latest[k]].metric);
    if (n_measures) {
        put(&b, "metrics:\n");
        for (size_t k = 0; k < nl; k++) {
            int dup = !is_measure(ev[latest[k]].metric);
            for (size_t j = 0; j < k; j++)
                if (!strcmp(ev[latest[j]].metric, ev[latest[k]].metric)) dup = 1;
            if (!dup) put(&b, "- %s\n", ev[latest[k]].metric);
        }
    }
    put(&b, "tags:\n- gpt2\n- text-generation\n- stagegate\n- %s\n",
        p->deployment_strategy == SG_DEPLOY_STAGED_RELEASE ? "staged-release"
        : p->deployment_strategy == SG_DEPLOY_FULL_RELEASE ? "full-release"
                                                           : "internal-only");
    put(&b, "pipeline_tag: text-generation\n");
    if (n_measures) {
        /* one result per suite and dataset, with its measures */
        put(&b, "model-index:\n- name: ");
        put_yaml_str(&b, model);
        put(&b, "\n  results:\n");
        for (size_t k = 0; k < nl; k++) {
            const sg_eval_record *e = &ev[latest[k]];
            int first = 1, any = 0;
            for (size_t j = 0; j < k; j++)
                if (!strcmp(ev[latest[j]].suite, e->suite) && !strcmp(ev[latest[j]].dataset, e->dataset))
                    first = 0;
            for (size_t j = k; j < nl; j++)
                if (!strcmp(ev[latest[j]].suite, e->suite) && !strcmp(ev[latest[j]].dataset, e->dataset) &&
                    is_measure(ev[latest[j]].metric))
                    any = 1;
            if (!first || !any) continue;
            put(&b, "  - task:\n      type: text-generation\n    dataset:\n      name: ");
            put_yaml_str(&b, e->dataset[0] ? e->dataset : e->suite);
            put(&b, "\n      type: ");
            put_yaml_str(&b, e->suite);
            put(&b, "\n    metrics:\n");
            for (size_t j = k; j < nl; j++) {
                const sg_eval_record *m = &ev[latest[j]];
                if (strcmp(m->suite, e->suite) || strcmp(m->dataset, e->dataset) || !is_measure(m->metric))
                    continue;
                put(&b, "    - type: ");
                put_yaml_str(&b, m->metric);
                put(&b, "\n      value: %.6g\n      name: ", m->value);
                char name[512];
                snprintf(name, sizeof name, "%s (%s suite, run #%lld, code %s)", m->metric, m->suite,
                         (long long)m->run_id, m->code_version);
                put_yaml_str(&b, name);
                put(&b, "\n      verified: false\n");
            }
        }
    }
    put(&b, "---\n\n");

    put(&b, "# Model card: %s\n\n", model);
    put(&b,
        "Generated by stagegate from the training records in `%s` and the evaluation results stored in the "
        "release "
        "database; release stage at generation: **%s**. Sections follow Mitchell et al., *Model Cards for "
        "Model "
        "Reporting* (2019). Where no record exists, the section says so.\n\n",
        r.dir, p->stages[st.stage].name);

    /* model details */
    put(&b, "## Model details\n\n");
    put(&b, "- Release: %s %s, model `%s` (checkpoint directory `%s`)\n", p->model_name ? p->model_name : "",
        p->version ? p->version : "", model, r.dir);
    if (r.have_config) {
        put(&b, "- Architecture: GPT-2 (decoder-only transformer, pre-LayerNorm, GELU, tied input/output "
                "embeddings)\n");
        put(&b, "- Shape: %d layers, %d heads, embedding width %d, context %d tokens, vocabulary %d\n",
            r.config.n_layer, r.config.n_head, r.config.n_embd, r.config.n_ctx, r.config.vocab_size);
        put(&b, "- Parameters: %zu\n", sg_gpt2_param_count(&r.config));
    } else {
        put(&b, "- No readable config.json in the model directory: architecture not on record.\n");
    }
    if (r.train) {
        put(&b,
            "- Training settings (config.train.json): %lld steps, batch %lld x context %lld, peak learning "
            "rate %g, "
            "warmup %lld, weight decay %g, seed %lld, stored as %s\n",
            (long long)jnum(r.train, "steps"), (long long)jnum(r.train, "batch"),
            (long long)jnum(r.train, "context"), jnum(r.train, "lr"), (long long)jnum(r.train, "warmup"),
            jnum(r.train, "weight_decay"), (long long)jnum(r.train, "seed"),
            json_string_value(json_object_get(r.train, "dtype"))
                ? json_string_value(json_object_get(r.train, "dtype"))
                : "(dtype not recorded)");
    } else {
        put(&b, "- No training configuration (config.train.json) on record.\n");
    }
    put(&b, "- License: %s\n\n", license ? license : "no license is declared in the release policy");

    /* intended use */
    int rs = released_stage(p, model);
    put(&b, "## Intended use\n\n");
    if (rs < 0) {
        put(&b, "The release policy does not release this model at any stage.\n\n");
    } else {
        put(&b,
            "Per the release policy, `%s` is released from stage **%s** on. At the current stage (%s) it is "
            "available through the gateway (access level `%s`) to:",
            model, p->stages[rs].name, p->stages[st.stage].name,
            sg_access_level_name(sg_policy_component_level(p, st.stage, SG_COMPONENT_MODEL)));
        int any = 0;
        const sg_policy_stage *cs_ = &p->stages[st.stage];
        for (int a = 0; a < cs_->n_effective_audiences; a++)
            if (sg_policy_decide(p, st.stage, cs_->effective_audiences[a], model, NULL, 0) ==
                SG_POLICY_ALLOW) {
                put(&b, "%s %s", any ? "," : "", cs_->effective_audiences[a]);
                any = 1;
            }
        put(&b, "%s.\n\n", any ? "" : " no audience yet");
    }
    put(&b, "### Out-of-scope uses\n\n");
    put(&b, "- Use by audiences the current stage does not serve, or outside the gateway while the model "
            "component is "
            "below `downloadable`.\n");
    if (p->filter.n_categories) {
        put(&b, "- Content the policy's content filter acts on:");
        for (int i = 0; i < p->filter.n_categories; i++)
            put(&b, "%s %s", i ? "," : "", p->filter.categories[i].name);
        put(&b, ".\n");
    }
    put(&b, "- No further statement of intended or out-of-scope use is on record.\n\n");

    /* factors */
    put(&b, "## Factors\n\n");
    put(&b, "No evaluation broken down by groups, instrumentation or environment is on record. ");
    put(&b, "The stored evaluations cover the suites listed under Metrics.\n\n");

    /* metrics */
    put(&b, "## Metrics\n\n");
    if (!n_measures) put(&b, "No evaluation results are stored for this model.\n\n");
    for (size_t k = 0; k < nl; k++) {
        const sg_eval_record *e = &ev[latest[k]];
        if (!is_measure(e->metric)) continue;
        put(&b, "- `%s` from suite `%s`%s\n", e->metric, e->suite,
            !strcmp(e->metric, "perplexity") ? ": exp(mean next-token cross-entropy in nats); lower is better"
            : !strcmp(e->metric, "loss") ? ": mean next-token cross-entropy (nats per token); lower is better"
                                         : "");
    }
    if (n_measures) put(&b, "\n");

    /* evaluation data */
    put(&b, "## Evaluation data\n\n");
    if (!nl) put(&b, "No evaluation data on record.\n");
    for (size_t k = 0; k < nl; k++) {
        int dup = 0;
        for (size_t j = 0; j < k; j++)
            if (!strcmp(ev[latest[j]].suite, ev[latest[k]].suite) &&
                !strcmp(ev[latest[j]].dataset, ev[latest[k]].dataset))
                dup = 1;
        if (!dup)
            put(&b, "- suite `%s`: %s\n", ev[latest[k]].suite,
                ev[latest[k]].dataset[0] ? ev[latest[k]].dataset : "(dataset not recorded)");
    }
    if (val_corpus && json_array_size(val_corpus)) {
        put(&b, "- validation during training: ");
        put_corpus_list(&b, val_corpus);
        put(&b, "\n");
    }
    put(&b, "\n");

    /* training data */
    put(&b, "## Training data\n\n");
    if (!corpus) {
        put(&b, "No training corpus is on record (config.train.json absent or without `corpus`).\n\n");
    } else {
        put(&b, "Corpus (config.train.json): ");
        put_corpus_list(&b, corpus);
        put(&b, ".\n");
        if (cs.readable) {
            put(&b, "Measured now: %d files, %lld bytes, %lld words", cs.files, cs.bytes, cs.words);
            if (cs.year_max) put(&b, ", documents dated %d-%d by file name", cs.year_min, cs.year_max);
            put(&b, ". See the datasheet (`stagegate datasheet -m %s`).\n\n", model);
        } else {
            put(&b, "The corpus files are not readable from the working directory; not measured.\n\n");
        }
    }

    /* quantitative analyses */
    put(&b, "## Quantitative analyses\n\n");
    if (nl) {
        put(&b, "| suite | metric | value | run | date | code version | source "
                "|\n|---|---|---|---|---|---|---|\n");
        for (size_t k = 0; k < nl; k++) {
            const sg_eval_record *e = &ev[latest[k]];
            date_of(e->time_ms, d, sizeof d);
            put(&b, "| %s | %s | %.6g | #%lld | %s | %s | %s |\n", e->suite, e->metric, e->value,
                (long long)e->run_id, d, e->code_version, e->source);
        }
        put(&b, "\n%zu result%s stored in total for this model (latest per suite and metric shown).\n\n", ne,
            ne == 1 ? "" : "s");
    } else {
        put(&b, "No stored evaluation results.\n\n");
    }
    if (r.log_last) {
        put(&b,
            "Training log (train_log.jsonl, %ld entries): train loss %.4f at step %lld -> %.4f at step %lld",
            r.log_lines, jnum(r.log_first, "train_loss"), (long long)jnum(r.log_first, "step"),
            jnum(r.log_last, "train_loss"), (long long)jnum(r.log_last, "step"));
        if (r.log_last_val)
            put(&b, "; last validation loss %.4f (perplexity %.2f) at step %lld",
                jnum(r.log_last_val, "val_loss"), exp(jnum(r.log_last_val, "val_loss")),
                (long long)jnum(r.log_last_val, "step"));
        put(&b, ".\n");
    } else {
        put(&b, "No training log (train_log.jsonl) on record.\n");
    }
    if (r.heldout)
        put(&b,
            "Held-out evaluation at training time (heldout.json): loss %.4f, perplexity %.3f over %lld "
            "tokens.\n",
            jnum(r.heldout, "loss"), jnum(r.heldout, "perplexity"), (long long)jnum(r.heldout, "tokens"));
    put(&b, "\n");

    /* ethical considerations */
    put(&b, "## Ethical considerations\n\n");
    if (!p->n_mitigations) put(&b, "The release policy has no risk_mitigation_plan.\n");
    for (int i = 0; i < p->n_mitigations; i++) {
        const sg_mitigation_record *last = NULL;
        for (size_t k = 0; k < nm; k++)
            if (!strcmp(mit[k].item, p->mitigations[i].risk)) last = &mit[k];
        put(&b, "- **%s**: %s (status: %s)\n", p->mitigations[i].risk, p->mitigations[i].mitigation,
            last ? last->status : "not recorded");
    }
    put(&b, "\nRisk assessments on record:%s\n", nr ? "" : " none.");
    for (size_t i = 0; i < nr; i++) {
        date_of(risks[i].time_ms, d, sizeof d);
        put(&b, "- stage %s: %s by %s, %s (`%s`, BLAKE2b %.16s)\n", risks[i].stage, risks[i].status,
            risks[i].author, d, risks[i].file, risks[i].digest);
    }
    put(&b, "\n");

    /* caveats */
    put(&b, "## Caveats and recommendations\n\n");
    int n_inc = 0;
    for (size_t i = 0; i < ni; i++) {
        if (inc[i].suspend_model[0] && strcmp(inc[i].suspend_model, model)) continue;
        date_of(inc[i].opened_ms, d, sizeof d);
        put(&b, "- Incident #%lld (%s) opened %s%s%s\n", (long long)inc[i].id, inc[i].severity, d,
            inc[i].closed_ms ? ", closed" : ", OPEN",
            inc[i].suspend_model[0] ? ", suspended this model" : "");
        n_inc++;
    }
    if (!n_inc) put(&b, "- No incidents on record.\n");
    if (!nl) put(&b, "- No evaluation results: the model's quality and safety are unmeasured.\n");
    put(&b, "- Incident response plan: %s\n",
        p->incident_response_plan ? p->incident_response_plan : "none in the policy");
    put(&b, "- No further caveats are on record.\n");
    free(latest);
    err = finish(&b, out);
done:
    free(ev);
    free(risks);
    free(mit);
    free(inc);
    sg_release_state_free(&st);
    free_records(&r);
    return err;
}

/* ---- datasheet -------------------------------------------------------------- */

sg_error *sg_card_datasheet(sg_store *store, const sg_policy *p, const char *model, char **out) {
    *out = NULL;
    if (!sg_policy_find_model(p, model))
        return sg_error_new("model '%s' is not a model of policy %s", model, p->path);
    model_records r;
    read_records(p, model, &r);
    sg_release_state st = {0};
    sg_error *err = sg_release_state_load(store, p, &st);
    if (err) {
        free_records(&r);
        return err;
    }
    json_t *corpus = r.train ? json_object_get(r.train, "corpus") : NULL;
    json_t *val = r.train ? json_object_get(r.train, "val_corpus") : NULL;
    corpus_stats cs, vs;
    measure_corpus(corpus, &cs);
    measure_corpus(val, &vs);
    buf b = {0};
    put(&b, "# Datasheet: training corpus of %s\n\n", model);
    put(&b,
        "Generated by stagegate from the training records of `%s` (config.train.json) and the corpus files "
        "themselves, in the question groups of Gebru et al., *Datasheets for Datasets* (2021). Answers that "
        "need a human account are marked as not on record.\n\n",
        r.dir);
    put(&b, "## Motivation\n\n");
    put(&b, "Used to train the `%s` model of the %s release.", model, p->model_name ? p->model_name : "");
    put(&b, " Who created the dataset, for what purpose, and who funded it: not on record.\n\n");
    put(&b, "## Composition\n\n");
    if (!corpus) {
        put(&b, "No corpus on record for this model.\n\n");
    } else {
        put(&b, "- Training corpus: ");
        put_corpus_list(&b, corpus);
        put(&b, "\n");
        if (cs.readable) {
            put(&b, "- %d documents (one per file), %lld bytes, %lld words, %lld non-ASCII bytes\n", cs.files,
                cs.bytes, cs.words, cs.non_ascii);
            if (cs.year_max) put(&b, "- Dates from file names: %d to %d\n", cs.year_min, cs.year_max);
            const char *lang = corpus_language(&cs);
            put(&b, "- Language: %s\n", lang ? "English (by function-word frequency)" : "not determined");
        } else {
            put(&b, "- The files are not readable from the working directory: not measured.\n");
        }
        if (val && json_array_size(val)) {
            put(&b, "- Held-out validation corpus: ");
            put_corpus_list(&b, val);
            if (vs.readable) {
                put(&b, " (%d documents, %lld bytes", vs.files, vs.bytes);
                if (vs.year_max) put(&b, ", %d to %d", vs.year_min, vs.year_max);
                put(&b, ")");
            }
            put(&b, "\n");
        } else if (r.train) {
            put(&b, "- Validation: a fraction %g of the corpus documents held out\n",
                jnum(r.train, "val_fraction"));
        }
        put(&b, "- Whether it contains personal, sensitive or offensive content: not on record (the "
                "release's content "
                "filter applies to prompts and completions, not to the corpus).\n\n");
    }
    put(&b,
        "## Collection process\n\nHow, when and by whom the documents were collected: not on record.\n\n");
    put(&b, "## Preprocessing, cleaning, labelling\n\n");
    if (r.train) {
        const char *tok = json_string_value(json_object_get(r.train, "tokenizer"));
        put(&b, "Tokenized with the byte-level BPE tokenizer %s%s%s", tok ? "`" : "",
            tok ? tok : "of the checkpoint", tok ? "`" : "");
        if (r.have_config) put(&b, " (vocabulary %d)", r.config.vocab_size);
        put(&b,
            "; documents cut into windows of %lld tokens. No other cleaning or labelling is on record.\n\n",
            (long long)jnum(r.train, "context"));
    } else {
        put(&b, "Not on record.\n\n");
    }
    put(&b, "## Uses\n\nModels of this release trained on this corpus (by their config.train.json):");
    int n_users = 0;
    for (int i = 0; i < p->n_models; i++) {
        json_t *t = load_json(p->models[i].path, "config.train.json");
        if (t && corpus && json_equal(json_object_get(t, "corpus"), corpus)) {
            put(&b, "%s `%s`", n_users ? "," : "", p->models[i].name);
            n_users++;
        }
        json_decref(t);
    }
    put(&b, "%s.\nOther tasks it should not be used for: not on record.\n\n", n_users ? "" : " none found");
    put(&b,
        "## Distribution\n\nThe training records and data belong to the release's `replication` component, "
        "released at the current stage (%s) at access level `%s`.\n\n",
        p->stages[st.stage].name,
        sg_access_level_name(sg_policy_component_level(p, st.stage, SG_COMPONENT_REPLICATION)));
    put(&b, "## Maintenance\n\nWho maintains the dataset, and how errata and updates are handled: not on "
            "record.\n");
    sg_release_state_free(&st);
    free_records(&r);
    return finish(&b, out);
}

/* ---- system card ------------------------------------------------------------- */

sg_error *sg_card_system(sg_store *store, const sg_policy *p, char **out) {
    *out = NULL;
    sg_release_state st = {0};
    sg_stage_move *mv = NULL;
    size_t nmv = 0;
    sg_incident_record *inc = NULL;
    size_t ni = 0;
    sg_error *err = sg_release_state_load(store, p, &st);
    if (!err) err = sg_store_stage_moves(store, 0, &mv, &nmv);
    if (!err) err = sg_store_incidents(store, 0, &inc, &ni);
    if (err) goto done;
    char d[40];
    buf b = {0};
    put(&b, "# System card: %s %s\n\n", p->model_name ? p->model_name : "", p->version ? p->version : "");
    put(&b,
        "Generated by stagegate from the release policy `%s` (BLAKE2b %.16s) and the release records. "
        "Deployment strategy: `%s`. Current stage: **%s** (%d of %d).\n\n",
        p->path, p->digest, sg_deployment_strategy_name(p->deployment_strategy), p->stages[st.stage].name,
        st.stage + 1, p->n_stages);
    put(&b, "## Stages\n\n| # | stage | audiences | models | model | risk analysis | replication | min days "
            "| gates |\n"
            "|---|---|---|---|---|---|---|---|---|\n");
    for (int s = 0; s < p->n_stages; s++) {
        const sg_policy_stage *sp = &p->stages[s];
        put(&b, "| %d%s | %s | ", s + 1, s == st.stage ? " (current)" : "", sp->name);
        put_list(&b, sp->effective_audiences, sp->n_effective_audiences, "-");
        put(&b, " | ");
        put_list(&b, sp->effective_models, sp->n_effective_models, "-");
        put(&b, " | %s | %s | %s | %d | ",
            sg_access_level_name(sg_policy_component_level(p, s, SG_COMPONENT_MODEL)),
            sg_access_level_name(sg_policy_component_level(p, s, SG_COMPONENT_RISK_ANALYSIS)),
            sg_access_level_name(sg_policy_component_level(p, s, SG_COMPONENT_REPLICATION)),
            sp->gates.min_days);
        const sg_policy_gates *g = &sp->gates;
        int parts = 0;
        if (s == 0) put(&b, "(first stage)"), parts++;
        if (s && g->risk_assessment != SG_RISK_NONE)
            put(&b, "%srisk assessment %s", parts++ ? "; " : "", sg_risk_status_name(g->risk_assessment));
        for (int e = 0; s && e < g->n_evaluations; e++) {
            put(&b, "%s%s/%s %s", parts++ ? "; " : "", g->evaluations[e].suite, g->evaluations[e].model,
                g->evaluations[e].metric);
            if (g->evaluations[e].has_min) put(&b, " >= %g", g->evaluations[e].min);
            if (g->evaluations[e].has_max) put(&b, " <= %g", g->evaluations[e].max);
        }
        if (s && g->signoffs)
            put(&b, "%s%d sign-off%s", parts++ ? "; " : "", g->signoffs, g->signoffs == 1 ? "" : "s");
        put(&b, " |\n");
    }
    put(&b, "\n## Safety protocols\n\n");
    for (int s = 0; s < p->n_stages; s++) {
        put(&b, "- %s%s: ", p->stages[s].name, s == st.stage ? " (current, active)" : "");
        put_list(&b, p->stages[s].protocols, p->stages[s].n_protocols, "none");
        put(&b, "\n");
    }
    put(&b, "\n## Rate limits at the current stage\n\n");
    const sg_policy_stage *cur = &p->stages[st.stage];
    for (int a = 0; a < cur->n_effective_audiences; a++) {
        sg_policy_limits l = sg_policy_rate_limit(p, st.stage, cur->effective_audiences[a]);
        if (!l.enforced)
            put(&b, "- %s: not enforced (rate_limit protocol off)\n", cur->effective_audiences[a]);
        else
            put(&b, "- %s: %ld requests/min, %ld tokens/min (0 = unlimited)\n", cur->effective_audiences[a],
                l.rpm, l.tpm);
    }
    put(&b, "\n## Release timeline\n\n");
    if (!nmv)
        put(&b, "No stage moves recorded: the release has not started.\n");
    else
        put(&b, "| date | event | stage | models | audiences | by | why |\n|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < nmv; i++) {
        int s = sg_policy_stage_index(p, mv[i].to_stage);
        date_of(mv[i].time_ms, d, sizeof d);
        put(&b, "| %s | %s%s | %s | ", d, mv[i].kind, mv[i].override ? " (override)" : "", mv[i].to_stage);
        if (s >= 0) {
            put_list(&b, p->stages[s].effective_models, p->stages[s].n_effective_models, "-");
            put(&b, " | ");
            put_list(&b, p->stages[s].effective_audiences, p->stages[s].n_effective_audiences, "-");
        } else {
            put(&b, "(not in this policy) | -");
        }
        put(&b, " | %s | ", mv[i].actor);
        for (const char *c = mv[i].reason; *c; c++) put(&b, "%c", *c == '|' || *c == '\n' ? ' ' : *c);
        put(&b, " |\n");
    }
    put(&b, "\n## Incidents\n\n");
    if (!ni) put(&b, "None recorded.\n");
    for (size_t i = 0; i < ni; i++) {
        date_of(inc[i].opened_ms, d, sizeof d);
        put(&b, "- #%lld %s, opened %s, %s%s%s%s%s%s\n", (long long)inc[i].id, inc[i].severity, d,
            inc[i].closed_ms ? "closed" : "OPEN", inc[i].suspend_audience[0] ? "; suspended audience " : "",
            inc[i].suspend_audience, inc[i].suspend_model[0] ? "; suspended model " : "",
            inc[i].suspend_model, inc[i].rollback ? "; rolled back one stage" : "");
    }
    put(&b, "\nMonitoring: %s. Incident response plan: %s.\n",
        sg_monitoring_frequency_name(p->monitoring_frequency),
        p->incident_response_plan ? p->incident_response_plan : "none in the policy");
    err = finish(&b, out);
done:
    free(mv);
    free(inc);
    sg_release_state_free(&st);
    return err;
}
