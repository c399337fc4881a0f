/* request.h — the body of POST /v1/completions, parsed and validated.
 *
 * Follows OpenAI's completions parameters: model, prompt (a string, a list
 * of strings, a list of token ids, or a list of such lists), max_tokens
 * (default 16), temperature (0-2, default 1), top_p (0-1, default 1), n,
 * stop (a string or up to SG_MAX_STOP), seed, stream,
 * stream_options.include_usage, logprobs (0 to SG_MAX_LOGPROBS), echo, user. Parameters we do not implement are accepted
 * only at their neutral value; unknown keys are refused. Every problem is
 * reported with the offending parameter's name, for a 400 answer. */
#ifndef SG_REQUEST_H
#define SG_REQUEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/generate.h"
#include "server/api_error.h"

#define SG_REQ_MAX_PROMPTS 16
#define SG_REQ_MAX_N 16

typedef struct {
    const char *text; /* borrowed from the JSON (valid until it is freed), or NULL for token ids */
    size_t text_len;
    int *ids; /* malloc'd token ids when the prompt was given as ids */
    int n_ids;
} sg_prompt;

typedef struct {
    const char *model;
    sg_prompt prompts[SG_REQ_MAX_PROMPTS];
    int n_prompts;
    int max_tokens;
    double temperature, top_p;
    int n;
    const char *stop[SG_MAX_STOP];
    size_t stop_len[SG_MAX_STOP];
    int n_stop;
    int has_seed;
    uint64_t seed;
    int stream, include_usage, echo;
    int logprobs; /* -1 when absent */
    const char *user;
} sg_completion_request;

/* Messages and parameter names of the parser's errors are at most this long (with the NUL). */
#define SG_REQ_MESSAGE_MAX 256
#define SG_REQ_PARAM_MAX 32

/* Parses `root` (kept alive by the caller). NULL, or a 400 naming the
 * parameter (audited as "invalid"). */
sg_api_error *sg_completion_request_parse(json_t *root, sg_completion_request *out) SG_MUST_CHECK;
void sg_completion_request_clear(sg_completion_request *req);

#endif
