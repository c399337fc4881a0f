/* openai.h — the JSON the server answers with, in OpenAI's shapes.
 *
 * Builders only: each takes plain values (texts, counts, names) and returns
 * a new jansson object, so the pipeline that produced the values needs no
 * JSON and another response format (chat completions) is another set of
 * builders over the same values. Every text a model produced goes through
 * sg_openai_text, which replaces invalid UTF-8 with U+FFFD: token bytes
 * need not be whole characters, a JSON string must be.
 *
 *   completion  {id, object, created, model, system_fingerprint, choices, usage}
 *   choice      {text, index, logprobs, finish_reason}
 *   logprobs    {tokens, token_logprobs, top_logprobs, text_offset}
 *   usage       {prompt_tokens, completion_tokens, total_tokens}
 *   model list  {object: "list", data: [{id, object: "model", created, owned_by}]}
 *   error       {error: {message, type, param, code}} */
#ifndef SG_OPENAI_H
#define SG_OPENAI_H

#include <jansson.h>
#include <stddef.h>

/* The object names of text completions (whole answers and stream chunks alike). */
#define SG_OPENAI_TEXT_COMPLETION "text_completion"

/* A JSON string of s[0..n) with invalid UTF-8 replaced by U+FFFD. */
json_t *sg_openai_text(const char *s, size_t n);

/* The head of a completion or chunk: {id, object, created, model, system_fingerprint}. */
json_t *sg_openai_envelope(const char *object, const char *id, long long created, const char *model,
                           const char *fingerprint);
/* One choice; `logprobs` is taken (NULL: null), `finish` NULL is null. */
json_t *sg_openai_choice(const char *text, size_t n, int index, json_t *logprobs, const char *finish);
json_t *sg_openai_usage(long prompt_tokens, long completion_tokens);

/* An empty logprobs object, then one token at a time: its bytes, log-prob,
 * its top alternatives (an object from sg_openai_top_new, taken) and the
 * byte offset of the token in the returned text. */
json_t *sg_openai_logprobs_new(void);
void sg_openai_logprobs_add(json_t *logprobs, const char *token, size_t n, double logprob, json_t *top,
                            size_t offset);
json_t *sg_openai_top_new(void);
void sg_openai_top_add(json_t *top, const char *token, size_t n, double logprob);

/* GET /v1/models: a list to which sg_openai_models_add adds one model. */
json_t *sg_openai_models_new(void);
void sg_openai_models_add(json_t *list, const char *id, const char *owned_by);

/* The error object; param and code may be NULL (null). A message that is
 * not UTF-8 is never echoed back. */
json_t *sg_openai_error(const char *type, const char *param, const char *code, const char *message);

#endif
