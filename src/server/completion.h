/* completion.h — private to src/server: one completion request while it
 * runs, shared by the files that handle it:
 *
 *   completion.c      the pipeline, one function per step: authenticate (the
 *                     router) -> parse -> decide -> guard -> tokenize ->
 *                     reserve -> submit -> respond; each step returns NULL or
 *                     an sg_api_error that the route answers and audits
 *   completion_run.c  the running job: generated tokens into text, stop
 *                     strings, the output filter, waiting, the final record
 *                     (refund + audit), the answer's JSON
 *   stream.c          the same answer as server-sent events
 *
 * Nothing here parses JSON or speaks HTTP beyond the sg_http_request handed
 * through: a chat route would parse its own body into the same request,
 * reuse the steps, and build its own answer from the same state. */
#ifndef SG_COMPLETION_H
#define SG_COMPLETION_H

#include <jansson.h>
#include <stdint.h>

#include "base/buf.h"
#include "server/api_int.h"
#include "server/request.h"
#include "server/scheduler.h"

#define SG_COMPLETION_MAX_CHOICES (SG_REQ_MAX_PROMPTS * SG_REQ_MAX_N)

/* One choice (prompt i / n, sample i % n) as it is generated. */
typedef struct {
    sg_buf text;        /* generated text (without end-of-text), truncated at a stop string */
    size_t *offsets;    /* byte offset of each consumed token */
    int consumed;       /* tokens of the sequence taken into `text` */
    int stopped;        /* a stop string matched (or the filter blocked) */
    size_t emitted;     /* streaming: bytes already sent */
    int logprobs_sent;  /* streaming: tokens whose logprobs were sent */
    int finish_sent;    /* streaming: the choice's last chunk went out */
    const char *finish; /* "stop" / "length" / "content_filter" once known */
    /* the output filter (content_filter on at the stage) */
    sg_filter_stream *fs;
    size_t fed;   /* bytes of `text` pushed into fs */
    sg_buf shown; /* what was released to the client */
    int blocked;  /* a block category matched: finish_reason content_filter */
    char category[128];
} sg_completion_choice;

typedef struct {
    sg_server *srv;
    sg_policy_ref *pref; /* its own count: a stream outlives the route handler */
    json_t *body;        /* the request JSON (the request's strings point into it) */
    sg_completion_request req;
    sg_model_entry *model;
    sg_job *job;
    sg_completion_choice *choices;
    int n_choices;
    int **prompt_ids;
    int *prompt_n;
    long prompt_tokens; /* summed over choices */
    long reserved;      /* tokens reserved from the bucket */
    sg_principal who;
    char id[40];
    long long created;
    double t0;
    double t_submit; /* when the job went to the scheduler */
    int fd;
    int finalized;
    /* streaming */
    sg_buf out;
    size_t out_pos;
    int done_sent;
    /* safety controls (server/guard.h) */
    int output_filter;                  /* content_filter on: completions pass the output filter */
    char *redacted[SG_REQ_MAX_PROMPTS]; /* redacted prompts (the request's prompts point here) */
    char reason[512];                   /* for the audit record: flags raised, redactions */
    const char *hardcoded;              /* a hard-coded response answers instead of the model */
    sg_api_caller caller;               /* has_caller: not a key holder (the web demo): its budget */
    int has_caller;
    char hardcoded_category[128];
} sg_completion;

/* completion_run.c */
sg_completion *sg_completion_new(const sg_api_call *call);
void sg_completion_free(sg_completion *c);
void sg_completion_new_id(sg_completion *c);
/* Gives back reserved tokens to the budget they came from (the key's, or the caller's). */
void sg_completion_refund(sg_completion *c, long tokens);
/* Takes newly generated tokens into the choices' texts and applies stop
 * strings; with the job lock held. Sets cancel[i] for choices to cancel. */
void sg_completion_pump(sg_completion *c, char *cancel);
/* Bytes of a choice that may be sent now: not splitting a character, not a
 * possible beginning of a stop string. */
size_t sg_completion_sendable(const sg_completion *c, const sg_completion_choice *ch);
/* Passes text[fed..upto) of a choice through its output filter (and at the
 * end, `final`, what the filter still holds); the released bytes go to
 * `piece` and ch->shown. A block ends the choice ("content_filter") and sets
 * *cancel; a filter error fails closed, as a block. */
void sg_completion_filter(sg_completion *c, sg_completion_choice *ch, size_t upto, int final, sg_buf *piece,
                          char *cancel);

typedef enum { SG_COMPLETION_DONE, SG_COMPLETION_TIMED_OUT, SG_COMPLETION_GONE } sg_completion_wait_result;
/* Waits for the whole job (non-streaming), noticing a client that leaves. */
sg_completion_wait_result sg_completion_wait(sg_completion *c);
/* Once: waits until every sequence left the batch, refunds the unused
 * reservation, commits the audit record (an output filter block turns
 * "allowed" into "filtered") and notes which key got the completion. */
void sg_completion_finalize(sg_completion *c, sg_audit_sink_decision decision, int status);

long sg_completion_tokens(const sg_completion *c);
/* Prompt tokens of one choice's prompt, as usage reports them. */
long sg_completion_prompt_tokens(const sg_completion *c);
/* Appends a prompt's text (decoded when given as token ids). */
sg_error *sg_completion_prompt_text(const sg_completion *c, const sg_prompt *p, sg_buf *b) SG_MUST_CHECK;
/* The prompts joined for the audit log (malloc'd, never NULL unless out of memory). */
char *sg_completion_joined_prompts(const sg_completion *c);

/* JSON of the answer (server/openai.h) */
json_t *sg_completion_envelope(const sg_completion *c);
json_t *sg_completion_usage(const sg_completion *c);
/* Tokens [from, to) of choice i as a logprobs object; offsets from `base`. */
json_t *sg_completion_logprobs(const sg_completion *c, int i, int from, int to, size_t base);
/* Every choice, whole (non-streaming). */
json_t *sg_completion_choices(const sg_completion *c);

#endif
