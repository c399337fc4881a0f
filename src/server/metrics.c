/* metrics.c — Prometheus counters for the server (see metrics.h). */
#include "server/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"

#define MAX_SERIES 128
#define N_BUCKETS 12

/* A label value safe for the exposition format. */
static void copy_label(char *dst, size_t cap, const char *src) {
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (src[i] == '"' || src[i] == '\\' || (unsigned char)src[i] < 0x20) ? '_' : src[i];
    dst[i] = 0;
}

static const double bucket_le[N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,   0.25,   0.5,   1,    2.5,   10};

typedef struct {
    int status;
    char audience[64];
    unsigned long long requests;
} req_series;

typedef struct {
    char audience[64];
    unsigned long long count;
} refusal_series;

struct sg_metrics {
    pthread_mutex_t mu;
    req_series req[MAX_SERIES];
    int n_req;
    refusal_series refused[MAX_SERIES];
    int n_refused;
    unsigned long long tokens_in, tokens_out;
    unsigned long long buckets[N_BUCKETS];
    unsigned long long lat_count;
    double lat_sum;
    long queue_depth, batch_size;
    unsigned long long steps, step_sequences;
};

sg_metrics *sg_metrics_new(void) {
    sg_metrics *m = calloc(1, sizeof *m);
    if (m) pthread_mutex_init(&m->mu, NULL);
    return m;
}

void sg_metrics_free(sg_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void sg_metrics_request(sg_metrics *m, int status, const char *audience, long tokens_in, long tokens_out,
                        double seconds) {
    if (!audience) audience = "";
    pthread_mutex_lock(&m->mu);
    int i;
    for (i = 0; i < m->n_req; i++)
        if (m->req[i].status == status && !strcmp(m->req[i].audience, audience)) break;
    if (i == m->n_req && m->n_req < MAX_SERIES) {
        m->req[i].status = status;
        copy_label(m->req[i].audience, sizeof m->req[i].audience, audience);
        m->n_req++;
    }
    if (i < m->n_req) m->req[i].requests++;
    if (tokens_in > 0) m->tokens_in += (unsigned long long)tokens_in;
    if (tokens_out > 0) m->tokens_out += (unsigned long long)tokens_out;
    for (int b = 0; b < N_BUCKETS; b++)
        if (seconds <= bucket_le[b]) m->buckets[b]++;
    m->lat_count++;
    m->lat_sum += seconds;
    pthread_mutex_unlock(&m->mu);
}

void sg_metrics_rate_limited(sg_metrics *m, const char *audience) {
    if (!audience) audience = "";
    pthread_mutex_lock(&m->mu);
    int i;
    for (i = 0; i < m->n_refused; i++)
        if (!strcmp(m->refused[i].audience, audience)) break;
    if (i == m->n_refused && m->n_refused < MAX_SERIES) {
        copy_label(m->refused[i].audience, sizeof m->refused[i].audience, audience);
        m->n_refused++;
    }
    if (i < m->n_refused) m->refused[i].count++;
    pthread_mutex_unlock(&m->mu);
}

void sg_metrics_add_queue(sg_metrics *m, int delta) {
    pthread_mutex_lock(&m->mu);
    m->queue_depth += delta;
    pthread_mutex_unlock(&m->mu);
}

void sg_metrics_add_batch(sg_metrics *m, int delta) {
    pthread_mutex_lock(&m->mu);
    m->batch_size += delta;
    pthread_mutex_unlock(&m->mu);
}

void sg_metrics_step(sg_metrics *m, int batch_size) {
    pthread_mutex_lock(&m->mu);
    m->steps++;
    m->step_sequences += (unsigned long long)batch_size;
    pthread_mutex_unlock(&m->mu);
}

/* Appends to `s` unless an earlier append failed (then *err holds why). */
static void put(sg_buf *s, sg_error **err, const char *fmt, ...) SG_PRINTF(3, 4);
static void put(sg_buf *s, sg_error **err, const char *fmt, ...) {
    if (*err) return;
    va_list ap;
    va_start(ap, fmt);
    *err = sg_buf_vprintf(s, fmt, ap);
    va_end(ap);
}

char *sg_metrics_render(sg_metrics *m) {
    sg_buf s;
    sg_buf_init(&s, 0);
    sg_error *err = NULL;
    pthread_mutex_lock(&m->mu);
    put(&s, &err,
        "# HELP stagegate_requests_total HTTP requests by status and audience.\n"
        "# TYPE stagegate_requests_total counter\n");
    for (int i = 0; i < m->n_req; i++)
        put(&s, &err, "stagegate_requests_total{status=\"%d\",audience=\"%s\"} %llu\n", m->req[i].status,
            m->req[i].audience, m->req[i].requests);
    put(&s, &err,
        "# HELP stagegate_prompt_tokens_total Prompt tokens of admitted requests.\n"
        "# TYPE stagegate_prompt_tokens_total counter\n"
        "stagegate_prompt_tokens_total %llu\n",
        m->tokens_in);
    put(&s, &err,
        "# HELP stagegate_completion_tokens_total Generated tokens.\n"
        "# TYPE stagegate_completion_tokens_total counter\n"
        "stagegate_completion_tokens_total %llu\n",
        m->tokens_out);
    put(&s, &err,
        "# HELP stagegate_rate_limited_total Requests refused by a rate limit, by audience.\n"
        "# TYPE stagegate_rate_limited_total counter\n");
    for (int i = 0; i < m->n_refused; i++)
        put(&s, &err, "stagegate_rate_limited_total{audience=\"%s\"} %llu\n", m->refused[i].audience,
            m->refused[i].count);
    put(&s, &err,
        "# HELP stagegate_queue_depth Requests waiting for a batch slot.\n"
        "# TYPE stagegate_queue_depth gauge\n"
        "stagegate_queue_depth %ld\n",
        m->queue_depth);
    put(&s, &err,
        "# HELP stagegate_batch_size Sequences currently generating.\n"
        "# TYPE stagegate_batch_size gauge\n"
        "stagegate_batch_size %ld\n",
        m->batch_size);
    put(&s, &err,
        "# HELP stagegate_decode_steps_total Batched decode steps, and the sequences they advanced.\n"
        "# TYPE stagegate_decode_steps_total counter\n"
        "stagegate_decode_steps_total %llu\n"
        "# TYPE stagegate_decode_step_sequences_total counter\n"
        "stagegate_decode_step_sequences_total %llu\n",
        m->steps, m->step_sequences);
    put(&s, &err,
        "# HELP stagegate_request_duration_seconds Request latency.\n"
        "# TYPE stagegate_request_duration_seconds histogram\n");
    for (int b = 0; b < N_BUCKETS; b++)
        put(&s, &err, "stagegate_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bucket_le[b],
            m->buckets[b]);
    put(&s, &err, "stagegate_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", m->lat_count);
    put(&s, &err, "stagegate_request_duration_seconds_sum %.6f\n", m->lat_sum);
    put(&s, &err, "stagegate_request_duration_seconds_count %llu\n", m->lat_count);
    pthread_mutex_unlock(&m->mu);
    char *text = NULL;
    if (!err) err = sg_buf_take(&s, &text, NULL);
    if (err) {
        sg_log(SG_LOG_ERROR, "rendering the metrics: %s", sg_error_message(err));
        sg_error_free(err);
    }
    sg_buf_free(&s);
    return text;
}
