/* ratelimit.c — token buckets per key (see ratelimit.h). */
#include "access/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

typedef struct {
    double capacity; /* the per-minute limit; 0 = unlimited */
    double level;    /* available now, 0 <= level <= capacity */
} bucket;

typedef struct entry {
    int64_t key_id;
    double last; /* clock at the last refill */
    bucket requests, tokens;
    struct entry *next;
} entry;

#define N_SLOTS 1024

struct sg_ratelimit {
    pthread_mutex_t lock;
    sg_clock_fn clock;
    void *clock_ctx;
    entry *slots[N_SLOTS];
};

static double default_clock(void *ctx) {
    (void)ctx;
    return sg_monotonic_s();
}

sg_error *sg_ratelimit_new(sg_clock_fn clock, void *clock_ctx, sg_ratelimit **out) {
    sg_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl) return sg_error_new("out of memory");
    pthread_mutex_init(&rl->lock, NULL);
    rl->clock = clock ? clock : default_clock;
    rl->clock_ctx = clock_ctx;
    *out = rl;
    return NULL;
}

void sg_ratelimit_free(sg_ratelimit *rl) {
    if (!rl) return;
    for (size_t i = 0; i < N_SLOTS; i++) {
        for (entry *e = rl->slots[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static size_t slot_of(int64_t key_id) { return (size_t)((uint64_t)key_id * 0x9E3779B97F4A7C15ull >> 54); }

/* The entry for key_id, created full; NULL only when out of memory. */
static entry *find(sg_ratelimit *rl, int64_t key_id, bool create) {
    size_t i = slot_of(key_id);
    for (entry *e = rl->slots[i]; e; e = e->next)
        if (e->key_id == key_id) return e;
    if (!create) return NULL;
    entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->key_id = key_id;
    e->last = rl->clock(rl->clock_ctx);
    e->next = rl->slots[i];
    rl->slots[i] = e;
    return e;
}

static void resize(bucket *b, int64_t limit) {
    double cap = limit > 0 ? (double)limit : 0;
    if (cap == b->capacity) return;
    if (b->capacity == 0)
        b->level = cap; /* first use, or was unlimited: start full */
    else if (b->level > cap)
        b->level = cap;
    b->capacity = cap;
}

static void refill(bucket *b, double elapsed) {
    if (b->capacity == 0 || elapsed <= 0) return;
    b->level += elapsed * b->capacity / 60.0;
    if (b->level > b->capacity) b->level = b->capacity;
}

/* Seconds until `b` holds `need`. */
static double wait_for(const bucket *b, double need) {
    if (b->capacity == 0 || b->level >= need) return 0;
    return (need - b->level) * 60.0 / b->capacity;
}

/* Brings the entry up to date: limits, then refill to now. */
static void advance(sg_ratelimit *rl, entry *e, int64_t rpm, int64_t tpm) {
    double now = rl->clock(rl->clock_ctx);
    double elapsed = now - e->last;
    e->last = now;
    refill(&e->requests, elapsed);
    refill(&e->tokens, elapsed);
    resize(&e->requests, rpm);
    resize(&e->tokens, tpm);
}

static void fill_status(const entry *e, sg_ratelimit_status *st) {
    double retry = st->retry_after_s;
    memset(st, 0, sizeof *st);
    st->retry_after_s = retry;
    st->limit_requests = (int64_t)e->requests.capacity;
    st->limit_tokens = (int64_t)e->tokens.capacity;
    st->remaining_requests = (int64_t)floor(e->requests.level);
    st->remaining_tokens = (int64_t)floor(e->tokens.level);
    st->reset_requests_s = wait_for(&e->requests, e->requests.capacity);
    st->reset_tokens_s = wait_for(&e->tokens, e->tokens.capacity);
}

sg_rl_decision sg_ratelimit_reserve(sg_ratelimit *rl, int64_t key_id, int64_t rpm, int64_t tpm,
                                    int64_t tokens, sg_ratelimit_status *status) {
    sg_ratelimit_status local;
    if (!status) status = &local;
    memset(status, 0, sizeof *status);
    if (tokens < 0) tokens = 0;
    if (tpm > 0 && tokens > tpm) {
        status->limit_requests = rpm > 0 ? rpm : 0;
        status->limit_tokens = tpm;
        return SG_RL_TOO_LARGE;
    }
    pthread_mutex_lock(&rl->lock);
    entry *e = find(rl, key_id, true);
    if (!e) { /* out of memory: refuse rather than admit unmetered */
        pthread_mutex_unlock(&rl->lock);
        status->retry_after_s = 1;
        return SG_RL_LIMITED;
    }
    advance(rl, e, rpm, tpm);
    double need_tokens = (double)tokens;
    bool ok_req = e->requests.capacity == 0 || e->requests.level >= 1.0;
    bool ok_tok = e->tokens.capacity == 0 || e->tokens.level >= need_tokens;
    sg_rl_decision d;
    if (ok_req && ok_tok) {
        if (e->requests.capacity > 0) e->requests.level -= 1.0;
        if (e->tokens.capacity > 0) e->tokens.level -= need_tokens;
        status->retry_after_s = 0;
        d = SG_RL_ADMITTED;
    } else {
        double a = wait_for(&e->requests, 1.0), b = wait_for(&e->tokens, need_tokens);
        status->retry_after_s = a > b ? a : b;
        d = SG_RL_LIMITED;
    }
    fill_status(e, status);
    pthread_mutex_unlock(&rl->lock);
    return d;
}

void sg_ratelimit_refund(sg_ratelimit *rl, int64_t key_id, int64_t tokens) {
    if (tokens <= 0) return;
    pthread_mutex_lock(&rl->lock);
    entry *e = find(rl, key_id, false);
    if (e && e->tokens.capacity > 0) {
        e->tokens.level += (double)tokens;
        if (e->tokens.level > e->tokens.capacity) e->tokens.level = e->tokens.capacity;
    }
    pthread_mutex_unlock(&rl->lock);
}

void sg_ratelimit_peek(sg_ratelimit *rl, int64_t key_id, int64_t rpm, int64_t tpm,
                       sg_ratelimit_status *status) {
    memset(status, 0, sizeof *status);
    pthread_mutex_lock(&rl->lock);
    entry *e = find(rl, key_id, true);
    if (e) {
        advance(rl, e, rpm, tpm);
        fill_status(e, status);
    }
    pthread_mutex_unlock(&rl->lock);
}

void sg_format_duration(double seconds, char *buf, size_t cap) {
    if (!(seconds > 0)) {
        snprintf(buf, cap, "0s");
        return;
    }
    int64_t ms = (int64_t)ceil(seconds * 1000.0 - 1e-6);
    if (ms < 1) ms = 1;
    if (ms < 1000) {
        snprintf(buf, cap, "%lldms", (long long)ms);
        return;
    }
    int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    char sec[32];
    if (frac) {
        snprintf(sec, sizeof sec, "%lld.%03lld", (long long)s, (long long)frac);
        size_t n = strlen(sec);
        while (sec[n - 1] == '0') sec[--n] = '\0';
    } else {
        snprintf(sec, sizeof sec, "%lld", (long long)s);
    }
    if (h)
        snprintf(buf, cap, "%lldh%lldm%ss", (long long)h, (long long)m, sec);
    else if (m)
        snprintf(buf, cap, "%lldm%ss", (long long)m, sec);
    else
        snprintf(buf, cap, "%ss", sec);
}

int64_t sg_retry_after_seconds(double seconds) {
    int64_t s = (int64_t)ceil(seconds);
    return s < 1 ? 1 : s;
}
