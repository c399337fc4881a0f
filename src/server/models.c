/* models.c — lazily loaded models, one scheduler each (see models.h). */
#include "server/models.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

struct sg_models {
    pthread_mutex_t mu;
    sg_model_entry **entries;
    int n, cap;
    int max_batch, queue_size;
    sg_metrics *metrics;
};

sg_models *sg_models_new(int max_batch, int queue_size, sg_metrics *metrics) {
    sg_models *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->mu, NULL);
    m->max_batch = max_batch > 0 ? max_batch : 16;
    m->queue_size = queue_size > 0 ? queue_size : 64;
    m->metrics = metrics;
    return m;
}

static void entry_free(sg_model_entry *e) {
    if (!e) return;
    sg_sched_free(e->sched);
    sg_gpt2_free(e->gpt2);
    sg_tokenizer_free(e->tokenizer);
    sg_checkpoint_close(e->checkpoint);
    free(e->name);
    free(e->dir);
    free(e);
}

void sg_models_free(sg_models *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++) entry_free(m->entries[i]);
    free(m->entries);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static sg_error *load(sg_models *m, const char *name, const char *dir, sg_model_entry **out) {
    sg_model_entry *e = calloc(1, sizeof *e);
    if (!e) return sg_error_new("out of memory");
    e->name = strdup(name);
    e->dir = strdup(dir);
    sg_error *err = NULL;
    if (!e->name || !e->dir) err = sg_error_new("out of memory");
    if (!err) err = sg_checkpoint_open(dir, &e->checkpoint);
    if (!err) err = sg_tokenizer_load(dir, &e->tokenizer);
    const sg_gpt2_weights *w = err ? NULL : sg_checkpoint_weights(e->checkpoint);
    if (!err) err = sg_gpt2_new(w, m->max_batch, &e->gpt2);
    if (!err) err = sg_sched_new(e->gpt2, m->queue_size, m->metrics, &e->sched);
    if (err) {
        entry_free(e);
        return sg_error_wrap(err, "loading model '%s' from %s", name, dir);
    }
    e->n_ctx = w->config.n_ctx;
    e->vocab_size = w->config.vocab_size;
    e->eot = sg_tokenizer_eot(e->tokenizer);
    int tok_vocab = sg_tokenizer_vocab_size(e->tokenizer);
    int model_vocab = e->vocab_size;
    if (tok_vocab > model_vocab) {
        entry_free(e);
        return sg_error_new("model '%s': the tokenizer has %d tokens but the model only %d", name, tok_vocab,
                            model_vocab);
    }
    unsigned char h[8];
    char desc[512];
    snprintf(desc, sizeof desc, "%s|%d|%d|%d|%d", dir, w->config.n_layer, w->config.n_head, w->config.n_embd,
             w->config.vocab_size);
    crypto_generichash(h, sizeof h, (const unsigned char *)desc, strlen(desc), NULL, 0);
    memcpy(e->fingerprint, "fp_", 3);
    sodium_bin2hex(e->fingerprint + 3, sizeof e->fingerprint - 3, h, 8);
    sg_info("loaded model '%s' from %s (%d layers, %d embd, ctx %d, batch %d)", name, dir, w->config.n_layer,
            w->config.n_embd, w->config.n_ctx, m->max_batch);
    *out = e;
    return NULL;
}

sg_error *sg_models_get(sg_models *m, const char *name, const char *dir, sg_model_entry **out) {
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n; i++) {
        if (!strcmp(m->entries[i]->name, name) && !strcmp(m->entries[i]->dir, dir)) {
            *out = m->entries[i];
            pthread_mutex_unlock(&m->mu);
            return NULL;
        }
    }
    sg_error *err = NULL;
    if (m->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 8;
        sg_model_entry **e = realloc(m->entries, (size_t)cap * sizeof *e);
        if (!e)
            err = sg_error_new("out of memory");
        else
            m->entries = e, m->cap = cap;
    }
    if (!err) err = load(m, name, dir, out);
    if (!err) m->entries[m->n++] = *out;
    pthread_mutex_unlock(&m->mu);
    return err;
}
