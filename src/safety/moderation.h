/* moderation.h — the OpenAI /v1/moderations result for texts run through the
 * content filter: {id, model, results: [{flagged, categories: {name: bool},
 * category_scores: {name: number}}]}, one result per input, every category of
 * the filter listed. The filter is rule-based, so a score is 1 when a rule of
 * the category matched and 0 otherwise. Shared by `stagegate moderate` and
 * the server's POST /v1/moderations. */
#ifndef SG_MODERATION_H
#define SG_MODERATION_H

#include <jansson.h>
#include <stddef.h>

#include "base/error.h"
#include "safety/filter.h"

/* `lens[i]` bytes of `inputs[i]` for i < n; `model` names the filter in the
 * result (e.g. "stagegate-filter"). The new object goes to *out. */
sg_error *sg_moderate(const sg_filter *f, const char *const *inputs, const size_t *lens, int n,
                      const char *model, json_t **out) SG_MUST_CHECK;

/* The whole POST /v1/moderations exchange: validates the request body
 * ({"input": string or array of strings, "model": optional string}) and
 * builds the response. A bad body gives an error naming the field, for a 400. */
sg_error *sg_moderate_request(const sg_filter *f, const json_t *body, const char *default_model,
                              json_t **out) SG_MUST_CHECK;

#endif
