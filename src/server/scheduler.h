/* scheduler.h — continuous batching for one model.
 *
 * One thread owns the model's sg_batch. Requests ("jobs", each one or more
 * sequences: prompts x n) wait in a bounded queue and join the running batch
 * between decode steps as soon as it has room for all their sequences; each
 * step's tokens are appended to their job and its waiter is woken, so HTTP
 * threads stream tokens as they come. A job can be cancelled (client gone,
 * a stop string matched) and has a deadline, after which its sequences are
 * cancelled. sg_batch is only ever touched by the scheduler thread. */
#ifndef SG_SCHEDULER_H
#define SG_SCHEDULER_H

#include "base/error.h"
#include "engine/generate.h"
#include "server/metrics.h"

typedef struct {
    int *tokens;                        /* generated token ids */
    float *logprobs;                    /* log p of each */
    int (*top_tokens)[SG_MAX_LOGPROBS]; /* alternatives per token (when params.logprobs > 0) */
    float (*top_logprobs)[SG_MAX_LOGPROBS];
    int n, cap;
    sg_finish_reason finish; /* NONE while running */
} sg_job_seq;

typedef struct sg_job sg_job;

/* A job of n_seqs sequences; set each with sg_job_set_seq before submitting.
 * `timeout_s` <= 0 means none. The creator holds one reference. */
sg_job *sg_job_new(int n_seqs, double timeout_s);
/* `prompt` is copied; params.stop pointers must outlive the job. */
sg_error *sg_job_set_seq(sg_job *job, int i, const int *prompt, int n_prompt,
                         const sg_generation_params *params) SG_MUST_CHECK;
void sg_job_release(sg_job *job);
/* An extra logits processor for sequence i (e.g. the watermark), installed
 * when it joins the batch; its ctx must outlive the job. Before submitting. */
void sg_job_set_processor(sg_job *job, int i, sg_logits_processor processor);

/* Reading progress: lock, look at the sequences, wait for more, unlock. */
void sg_job_lock(sg_job *job);
void sg_job_unlock(sg_job *job);
/* With the lock held: waits until something changes or `ms` pass. */
void sg_job_wait(sg_job *job, int ms);
const sg_job_seq *sg_job_seq_at(const sg_job *job, int i);
int sg_job_n_seqs(const sg_job *job);
int sg_job_done(const sg_job *job);      /* every sequence finished */
int sg_job_timed_out(const sg_job *job); /* the deadline cancelled it */
/* Cancels one sequence (i >= 0) or all (i < 0); call it without the lock held. */
void sg_job_cancel(sg_job *job, int i);

typedef struct sg_sched sg_sched;

typedef enum {
    SG_SUBMIT_OK = 0,
    SG_SUBMIT_QUEUE_FULL,
    SG_SUBMIT_TOO_LARGE,
    SG_SUBMIT_STOPPED
} sg_submit_result;

/* Starts the scheduler thread for `model` (borrowed; must outlive the scheduler). */
sg_error *sg_sched_new(sg_gpt2 *model, int queue_size, sg_metrics *metrics, sg_sched **out) SG_MUST_CHECK;
/* Cancels everything still running or queued, joins the thread, frees. */
void sg_sched_free(sg_sched *s);
/* Queues the job (the scheduler takes its own reference). */
sg_submit_result sg_sched_submit(sg_sched *s, sg_job *job);
int sg_sched_capacity(const sg_sched *s);
/* Jobs waiting in the queue and sequences running now (the web demo shows them). */
void sg_sched_load(sg_sched *s, int *queued, int *running);

#endif
