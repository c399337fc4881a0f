/* cards.h — the release documents, written as Markdown from the records:
 *
 *   model card   Hugging Face format: YAML front matter (license, language,
 *                datasets, metrics, tags, model-index with the stored
 *                evaluation results) and the sections of Mitchell et al.
 *                (2019), filled from the checkpoint config, the training
 *                records in the model directory (config.train.json,
 *                train_log.jsonl, heldout.json) and the store.
 *   datasheet    for the training corpus, in the question groups of Gebru
 *                et al. (2021), from the training records and the corpus
 *                files themselves (counted, not described).
 *   system card  the deployment: stages, audiences, access level per
 *                component on the gradient, safety protocols, rate limits,
 *                incidents and the release timeline (stage, date, models,
 *                audiences), like the GPT-2 release timeline.
 *
 * Nothing is invented: a section without records says so. */
#ifndef SG_CARDS_H
#define SG_CARDS_H

#include "base/error.h"
#include "release/policy.h"
#include "store/store.h"

/* Each writes a malloc'd Markdown document into *out. */
sg_error *sg_card_model(sg_store *store, const sg_policy *policy, const char *model,
                        char **out) SG_MUST_CHECK;
sg_error *sg_card_datasheet(sg_store *store, const sg_policy *policy, const char *model,
                            char **out) SG_MUST_CHECK;
sg_error *sg_card_system(sg_store *store, const sg_policy *policy, char **out) SG_MUST_CHECK;

#endif
