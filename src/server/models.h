/* models.h — the models the server has loaded, by name, loaded lazily on
 * their first request: checkpoint (mapped), tokenizer, inference model and
 * its scheduler thread. A policy reload that points a name at another
 * directory loads that directory next time; loaded models stay until the
 * server stops (requests in flight may still use them). Thread-safe. */
#ifndef SG_MODELS_H
#define SG_MODELS_H

#include "base/error.h"
#include "engine/checkpoint.h"
#include "engine/gpt2.h"
#include "engine/tokenizer.h"
#include "server/metrics.h"
#include "server/scheduler.h"

typedef struct {
    char *name, *dir;
    sg_checkpoint *checkpoint;
    sg_tokenizer *tokenizer;
    sg_gpt2 *gpt2;
    sg_sched *sched;
    int n_ctx, vocab_size, eot;
    char fingerprint[24]; /* system_fingerprint: "fp_" + a digest of the directory and weights size */
} sg_model_entry;

typedef struct sg_models sg_models;

/* `max_batch` sequences per model, `queue_size` waiting requests per model. */
sg_models *sg_models_new(int max_batch, int queue_size, sg_metrics *metrics);
void sg_models_free(sg_models *models);

/* The model `name` served from `dir`, loading it on first use. */
sg_error *sg_models_get(sg_models *models, const char *name, const char *dir,
                        sg_model_entry **out) SG_MUST_CHECK;

#endif
