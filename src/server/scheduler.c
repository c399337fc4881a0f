/* scheduler.c — continuous batching: the thread that owns an sg_batch
 * (see scheduler.h). */
#include "server/scheduler.h"

#include <errno.h>
#include <pthread.h>

#include "base/check.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

typedef struct {
    int *prompt;
    int n_prompt;
    sg_generation_params params;
    int seq_id;                    /* in the batch, -1 when not (yet / any more) in it */
    int cancel;                    /* requested by the reader */
    sg_logits_processor processor; /* extra processor (watermark); apply == NULL for none */
} seq_input;

struct sg_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int n_seqs;
    sg_job_seq *out;
    seq_input *in;
    double deadline; /* sg_monotonic_s, 0 = none */
    int timed_out;
    int n_done;
    sg_job *next; /* in the scheduler's queue or active list */
};

sg_job *sg_job_new(int n_seqs, double timeout_s) {
    sg_job *job = calloc(1, sizeof *job);
    if (!job) return NULL;
    job->out = calloc((size_t)n_seqs, sizeof *job->out);
    job->in = calloc((size_t)n_seqs, sizeof *job->in);
    if (!job->out || !job->in) {
        free(job->out);
        free(job->in);
        free(job);
        return NULL;
    }
    pthread_mutex_init(&job->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&job->cv, &attr);
    pthread_condattr_destroy(&attr);
    job->refs = 1;
    job->n_seqs = n_seqs;
    job->deadline = timeout_s > 0 ? sg_monotonic_s() + timeout_s : 0;
    for (int i = 0; i < n_seqs; i++) job->in[i].seq_id = -1;
    return job;
}

void sg_job_set_processor(sg_job *job, int i, sg_logits_processor processor) {
    if (i >= 0 && i < job->n_seqs) job->in[i].processor = processor;
}

sg_error *sg_job_set_seq(sg_job *job, int i, const int *prompt, int n_prompt,
                         const sg_generation_params *params) {
    if (i < 0 || i >= job->n_seqs) return sg_error_new("sequence %d out of range", i);
    if (n_prompt <= 0) return sg_error_new("empty prompt");
    seq_input *in = &job->in[i];
    free(in->prompt);
    in->prompt = malloc((size_t)n_prompt * sizeof *in->prompt);
    if (!in->prompt) return sg_error_new("out of memory");
    memcpy(in->prompt, prompt, (size_t)n_prompt * sizeof *prompt);
    in->n_prompt = n_prompt;
    in->params = *params;
    return NULL;
}

void sg_job_release(sg_job *job) {
    if (!job) return;
    pthread_mutex_lock(&job->mu);
    int refs = --job->refs;
    pthread_mutex_unlock(&job->mu);
    if (refs) return;
    for (int i = 0; i < job->n_seqs; i++) {
        free(job->in[i].prompt);
        free(job->out[i].tokens);
        free(job->out[i].logprobs);
        free(job->out[i].top_tokens);
        free(job->out[i].top_logprobs);
    }
    free(job->in);
    free(job->out);
    pthread_mutex_destroy(&job->mu);
    pthread_cond_destroy(&job->cv);
    free(job);
}

void sg_job_lock(sg_job *job) { pthread_mutex_lock(&job->mu); }
void sg_job_unlock(sg_job *job) { pthread_mutex_unlock(&job->mu); }

void sg_job_wait(sg_job *job, int ms) {
    SG_ASSERT_HELD(&job->mu);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&job->cv, &job->mu, &ts);
}

const sg_job_seq *sg_job_seq_at(const sg_job *job, int i) { return &job->out[i]; }
int sg_job_n_seqs(const sg_job *job) { return job->n_seqs; }
int sg_job_done(const sg_job *job) { return job->n_done == job->n_seqs; }
int sg_job_timed_out(const sg_job *job) { return job->timed_out; }

void sg_job_cancel(sg_job *job, int i) {
    pthread_mutex_lock(&job->mu);
    for (int k = 0; k < job->n_seqs; k++)
        if (i < 0 || k == i) job->in[k].cancel = 1;
    pthread_mutex_unlock(&job->mu);
}

/* With job->mu held: marks sequence i finished (once). */
static void finish_seq(sg_job *job, int i, sg_finish_reason why) {
    SG_ASSERT_HELD(&job->mu);
    if (job->out[i].finish != SG_FINISH_NONE) return;
    job->out[i].finish = why;
    job->n_done++;
    pthread_cond_broadcast(&job->cv);
}

/* With job->mu held: appends one event's token. */
static int append_token(sg_job *job, int i, const sg_batch_event *ev) {
    SG_ASSERT_HELD(&job->mu);
    sg_job_seq *o = &job->out[i];
    if (o->n == o->cap) {
        int cap = o->cap ? o->cap * 2 : 32;
        int *t = realloc(o->tokens, (size_t)cap * sizeof *t);
        if (t) o->tokens = t;
        float *lp = realloc(o->logprobs, (size_t)cap * sizeof *lp);
        if (lp) o->logprobs = lp;
        int(*tt)[SG_MAX_LOGPROBS] = realloc(o->top_tokens, (size_t)cap * sizeof *tt);
        if (tt) o->top_tokens = tt;
        float(*tl)[SG_MAX_LOGPROBS] = realloc(o->top_logprobs, (size_t)cap * sizeof *tl);
        if (tl) o->top_logprobs = tl;
        if (!t || !lp || !tt || !tl) return -1;
        o->cap = cap;
    }
    o->tokens[o->n] = ev->token;
    o->logprobs[o->n] = ev->logprob;
    memcpy(o->top_tokens[o->n], ev->top_tokens, sizeof ev->top_tokens);
    memcpy(o->top_logprobs[o->n], ev->top_logprobs, sizeof ev->top_logprobs);
    o->n++;
    pthread_cond_broadcast(&job->cv);
    return 0;
}

/* Where a running sequence's events go. */
typedef struct {
    sg_job *job;
    int index;
} seq_owner;

struct sg_sched {
    sg_gpt2 *model;
    sg_batch *batch;
    sg_metrics *metrics;
    pthread_t thread;
    sg_thread_owner owner; /* the scheduler thread: the only one that touches `batch` */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    int queue_size, queued;
    /* `running` counts live sequences (for metrics); the batch may still hold
     * the slots of cancelled ones until its next step. */
    sg_job *queue_head, *queue_tail;
    sg_job *active; /* jobs with sequences in the batch */
    int capacity, running;
    seq_owner *owners; /* by seq_id; grown as needed */
    int n_owners;
    sg_batch_event *events;
};

static void set_owner(sg_sched *s, int seq_id, sg_job *job, int index) {
    if (seq_id >= s->n_owners) {
        int n = s->n_owners ? s->n_owners : 64;
        while (n <= seq_id) n *= 2;
        seq_owner *o = realloc(s->owners, (size_t)n * sizeof *o);
        if (!o) return;
        memset(o + s->n_owners, 0, (size_t)(n - s->n_owners) * sizeof *o);
        s->owners = o;
        s->n_owners = n;
    }
    s->owners[seq_id].job = job;
    s->owners[seq_id].index = index;
}

static seq_owner *owner_of(sg_sched *s, int seq_id) {
    if (seq_id < 0 || seq_id >= s->n_owners || !s->owners[seq_id].job) return NULL;
    return &s->owners[seq_id];
}

/* Scheduler thread, s->mu held: moves a queued job's sequences into the batch. */
static void admit(sg_sched *s, sg_job *job) {
    SG_ASSERT_THREAD(s->owner);
    SG_ASSERT_HELD(&s->mu);
    pthread_mutex_lock(&job->mu);
    for (int i = 0; i < job->n_seqs; i++) {
        seq_input *in = &job->in[i];
        if (in->cancel) {
            finish_seq(job, i, SG_FINISH_CANCELLED);
            continue;
        }
        int id;
        sg_error *err = sg_batch_add(s->batch, in->prompt, in->n_prompt, &in->params, &id);
        if (err) {
            sg_warn("scheduler: cannot start a sequence: %s", sg_error_message(err));
            sg_error_free(err);
            finish_seq(job, i, SG_FINISH_CANCELLED);
            continue;
        }
        in->seq_id = id;
        if (in->processor.apply) sg_batch_set_processor(s->batch, id, in->processor);
        set_owner(s, id, job, i);
        s->running++;
        if (s->metrics) sg_metrics_add_batch(s->metrics, 1);
    }
    pthread_mutex_unlock(&job->mu);
}

/* Scheduler thread, s->mu and job->mu held: a sequence left the batch. */
static void left_batch(sg_sched *s, sg_job *job, int i) {
    SG_ASSERT_THREAD(s->owner);
    SG_ASSERT_HELD(&s->mu);
    SG_ASSERT_HELD(&job->mu);
    seq_input *in = &job->in[i];
    if (in->seq_id < 0) return;
    if (in->seq_id < s->n_owners) s->owners[in->seq_id].job = NULL;
    in->seq_id = -1;
    s->running--;
    if (s->metrics) sg_metrics_add_batch(s->metrics, -1);
}

/* Scheduler thread, s->mu held: applies cancellations and deadlines; drops
 * jobs that have no sequence left in the batch from the active list. */
static void sweep(sg_sched *s) {
    SG_ASSERT_THREAD(s->owner);
    SG_ASSERT_HELD(&s->mu);
    double now = sg_monotonic_s();
    sg_job **link = &s->active;
    while (*link) {
        sg_job *job = *link;
        pthread_mutex_lock(&job->mu);
        int expired = job->deadline > 0 && now > job->deadline && job->n_done < job->n_seqs;
        if (expired) job->timed_out = 1;
        int in_batch = 0;
        for (int i = 0; i < job->n_seqs; i++) {
            seq_input *in = &job->in[i];
            if (in->seq_id >= 0 && (in->cancel || expired)) {
                sg_batch_cancel(s->batch, in->seq_id);
                left_batch(s, job, i);
                finish_seq(job, i, expired && !in->cancel ? SG_FINISH_LENGTH : SG_FINISH_CANCELLED);
            }
            if (in->seq_id >= 0) in_batch = 1;
        }
        pthread_mutex_unlock(&job->mu);
        if (!in_batch) {
            *link = job->next;
            sg_job_release(job);
        } else {
            link = &job->next;
        }
    }
}

/* Scheduler thread, s->mu held: queued jobs whose sequences were all
 * cancelled, or whose deadline passed while waiting, leave the queue now. */
static void drop_dead_queued(sg_sched *s) {
    SG_ASSERT_THREAD(s->owner);
    SG_ASSERT_HELD(&s->mu);
    double now = sg_monotonic_s();
    sg_job **link = &s->queue_head, *prev = NULL;
    while (*link) {
        sg_job *job = *link;
        pthread_mutex_lock(&job->mu);
        int all_cancelled = 1;
        for (int i = 0; i < job->n_seqs; i++)
            if (!job->in[i].cancel) all_cancelled = 0;
        int expired = job->deadline > 0 && now > job->deadline;
        if (all_cancelled || expired) {
            if (expired && !all_cancelled) job->timed_out = 1;
            for (int i = 0; i < job->n_seqs; i++)
                finish_seq(job, i, expired ? SG_FINISH_LENGTH : SG_FINISH_CANCELLED);
        }
        pthread_mutex_unlock(&job->mu);
        if (all_cancelled || expired) {
            *link = job->next;
            if (s->queue_tail == job) s->queue_tail = prev;
            s->queued--;
            if (s->metrics) sg_metrics_add_queue(s->metrics, -1);
            sg_job_release(job);
        } else {
            prev = job;
            link = &job->next;
        }
    }
}

static void *sched_main(void *arg) {
    sg_sched *s = arg;
    SG_ASSERT_THREAD(s->owner); /* binds the batch to this thread */
    pthread_mutex_lock(&s->mu);
    for (;;) {
        sweep(s);
        /* Admit queued jobs in order while the batch has room for all of a job's sequences. */
        drop_dead_queued(s);
        while (s->queue_head && s->capacity - sg_batch_running(s->batch) >= s->queue_head->n_seqs) {
            sg_job *job = s->queue_head;
            s->queue_head = job->next;
            if (!s->queue_head) s->queue_tail = NULL;
            s->queued--;
            if (s->metrics) sg_metrics_add_queue(s->metrics, -1);
            admit(s, job);
            job->next = s->active;
            s->active = job;
        }
        if (s->stopping && !s->queue_head && !s->active) break;
        if (sg_batch_running(s->batch) == 0) {
            if (s->stopping) {
                sweep(s);
                continue;
            }
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += 100000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        int n_events = 0;
        int batch = s->running;
        sg_error *err = sg_batch_step(s->batch, s->events, &n_events);
        pthread_mutex_lock(&s->mu);
        if (s->metrics) sg_metrics_step(s->metrics, batch);
        if (err) {
            sg_warn("scheduler: decode step failed: %s", sg_error_message(err));
            sg_error_free(err);
            for (sg_job *job = s->active; job; job = job->next) sg_job_cancel(job, -1);
            continue;
        }
        for (int e = 0; e < n_events; e++) {
            sg_batch_event *ev = &s->events[e];
            seq_owner *o = owner_of(s, ev->seq_id);
            if (!o) continue;
            sg_job *job = o->job;
            int i = o->index;
            pthread_mutex_lock(&job->mu);
            if (ev->token >= 0 && append_token(job, i, ev)) ev->finish = SG_FINISH_CANCELLED;
            if (ev->finish != SG_FINISH_NONE) {
                left_batch(s, job, i);
                finish_seq(job, i, ev->finish);
            }
            pthread_mutex_unlock(&job->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

sg_error *sg_sched_new(sg_gpt2 *model, int queue_size, sg_metrics *metrics, sg_sched **out) {
    sg_sched *s = calloc(1, sizeof *s);
    if (!s) return sg_error_new("out of memory");
    sg_error *err = sg_batch_new(model, &s->batch);
    if (err) {
        free(s);
        return err;
    }
    s->model = model;
    s->metrics = metrics;
    s->queue_size = queue_size > 0 ? queue_size : 64;
    s->capacity = sg_batch_capacity(s->batch);
    s->events = calloc((size_t)s->capacity, sizeof *s->events);
    if (!s->events) {
        sg_batch_free(s->batch);
        free(s);
        return sg_error_new("out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&s->thread, NULL, sched_main, s)) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s->events);
        sg_batch_free(s->batch);
        free(s);
        return sg_error_new("cannot start the scheduler thread");
    }
    *out = s;
    return NULL;
}

sg_submit_result sg_sched_submit(sg_sched *s, sg_job *job) {
    if (job->n_seqs > s->capacity) return SG_SUBMIT_TOO_LARGE;
    pthread_mutex_lock(&s->mu);
    sg_submit_result r = SG_SUBMIT_OK;
    if (s->stopping) {
        r = SG_SUBMIT_STOPPED;
    } else if (s->queued >= s->queue_size) {
        r = SG_SUBMIT_QUEUE_FULL;
    } else {
        pthread_mutex_lock(&job->mu);
        job->refs++;
        pthread_mutex_unlock(&job->mu);
        job->next = NULL;
        if (s->queue_tail)
            s->queue_tail->next = job;
        else
            s->queue_head = job;
        s->queue_tail = job;
        s->queued++;
        if (s->metrics) sg_metrics_add_queue(s->metrics, 1);
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

int sg_sched_capacity(const sg_sched *s) { return s->capacity; }

void sg_sched_load(sg_sched *s, int *queued, int *running) {
    pthread_mutex_lock(&s->mu);
    *queued = s->queued;
    *running = s->running;
    pthread_mutex_unlock(&s->mu);
}

void sg_sched_free(sg_sched *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    for (sg_job *job = s->queue_head; job; job = job->next) sg_job_cancel(job, -1);
    for (sg_job *job = s->active; job; job = job->next) sg_job_cancel(job, -1);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    sg_batch_free(s->batch);
    free(s->events);
    free(s->owners);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
