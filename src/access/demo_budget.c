/* demo_budget.c — the demo's bounded token-bucket tables; see demo_budget.h. */
#include "access/demo_budget.h"

#include <pthread.h>
#include <stdlib.h>

#include "base/log.h"

typedef struct {
    uint64_t key; /* 0 = free slot */
    double level, t;
    int prev, next; /* LRU list, most recent at head */
} entry;

/* Open addressing over 2*cap slots indexing `cap` entries. */
typedef struct {
    entry *e;
    int *slot; /* slot -> entry index, -1 empty, -2 deleted */
    int cap, nslots, used, head, tail, free_head;
} table;

struct sg_demo_budget {
    pthread_mutex_t mu;
    sg_clock_fn clock;
    void *clock_ctx;
    table sessions, networks;
    double global_level, global_t;
    int global_init;
};

static double now(const sg_demo_budget *b) { return b->clock ? b->clock(b->clock_ctx) : sg_monotonic_s(); }

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static int table_init(table *t, int cap) {
    t->cap = cap;
    t->nslots = 2 * cap;
    t->e = calloc((size_t)cap, sizeof *t->e);
    t->slot = malloc((size_t)t->nslots * sizeof *t->slot);
    if (!t->e || !t->slot) return 0;
    for (int i = 0; i < t->nslots; i++) t->slot[i] = -1;
    for (int i = 0; i < cap; i++) t->e[i].next = i + 1 < cap ? i + 1 : -1;
    t->free_head = 0;
    t->head = t->tail = -1;
    return 1;
}

static int find_slot(const table *t, uint64_t key) {
    for (int i = 0, s = (int)(mix(key) % (uint64_t)t->nslots); i < t->nslots; i++, s = (s + 1) % t->nslots) {
        if (t->slot[s] == -1) return -1;
        if (t->slot[s] >= 0 && t->e[t->slot[s]].key == key) return s;
    }
    return -1;
}

static void unlink_e(table *t, int i) {
    entry *e = &t->e[i];
    if (e->prev >= 0)
        t->e[e->prev].next = e->next;
    else
        t->head = e->next;
    if (e->next >= 0)
        t->e[e->next].prev = e->prev;
    else
        t->tail = e->prev;
}
static void push_head(table *t, int i) {
    t->e[i].prev = -1;
    t->e[i].next = t->head;
    if (t->head >= 0) t->e[t->head].prev = i;
    t->head = i;
    if (t->tail < 0) t->tail = i;
}

static double refill(double level, double t0, double t, int64_t tpm) {
    double l = level + (t - t0) * (double)tpm / 60.0;
    return l > (double)tpm ? (double)tpm : l;
}

/* The entry for `key`, made (full) if needed; -1 when the table is full of
 * entries that still carry spending. */
static int lookup(table *t, uint64_t key, int64_t tpm, double tnow, int create) {
    int s = find_slot(t, key);
    if (s >= 0) {
        int i = t->slot[s];
        unlink_e(t, i);
        push_head(t, i);
        return i;
    }
    if (!create) return -1;
    if (t->used == t->cap) { /* drop the LRU entry if it has refilled completely */
        int i = t->tail;
        if (refill(t->e[i].level, t->e[i].t, tnow, tpm) < (double)tpm) return -1;
        t->slot[find_slot(t, t->e[i].key)] = -2;
        unlink_e(t, i);
        t->e[i].next = t->free_head;
        t->free_head = i;
        t->used--;
        /* rebuild the index when deletions accumulate: keep probes short */
        int tomb = 0;
        for (int k = 0; k < t->nslots; k++) tomb += t->slot[k] == -2;
        if (tomb > t->cap / 2) {
            for (int k = 0; k < t->nslots; k++) t->slot[k] = -1;
            for (int k = t->head; k >= 0; k = t->e[k].next)
                for (int q = (int)(mix(t->e[k].key) % (uint64_t)t->nslots);; q = (q + 1) % t->nslots)
                    if (t->slot[q] == -1) {
                        t->slot[q] = k;
                        break;
                    }
        }
    }
    int i = t->free_head;
    t->free_head = t->e[i].next;
    t->e[i].key = key;
    t->e[i].level = (double)tpm;
    t->e[i].t = tnow;
    for (int q = (int)(mix(key) % (uint64_t)t->nslots);; q = (q + 1) % t->nslots)
        if (t->slot[q] < 0) {
            t->slot[q] = i;
            break;
        }
    push_head(t, i);
    t->used++;
    return i;
}

sg_error *sg_demo_budget_new(int max_entries, sg_clock_fn clock, void *clock_ctx, sg_demo_budget **out) {
    if (max_entries < 1) return sg_error_new("the demo's tables need at least one entry");
    sg_demo_budget *b = calloc(1, sizeof *b);
    if (!b) return sg_error_new("out of memory");
    b->clock = clock;
    b->clock_ctx = clock_ctx;
    if (!table_init(&b->sessions, max_entries) || !table_init(&b->networks, max_entries)) {
        sg_demo_budget_free(b);
        return sg_error_new("out of memory");
    }
    pthread_mutex_init(&b->mu, NULL);
    *out = b;
    return NULL;
}

void sg_demo_budget_free(sg_demo_budget *b) {
    if (!b) return;
    free(b->sessions.e);
    free(b->sessions.slot);
    free(b->networks.e);
    free(b->networks.slot);
    if (b->sessions.e && b->networks.slot) pthread_mutex_destroy(&b->mu);
    free(b);
}

/* Seconds until `level` reaches `need` at `tpm` per minute. */
static double wait_for(double level, double need, int64_t tpm) { return (need - level) * 60.0 / (double)tpm; }

sg_rl_decision sg_demo_budget_reserve(sg_demo_budget *b, uint64_t session, uint64_t network,
                                      const sg_demo_limits *l, int64_t tokens, double *retry_after_s,
                                      sg_demo_budget_scope *scope) {
    *retry_after_s = 0;
    if (tokens > l->session_tpm || tokens > l->network_tpm || tokens > l->global_tpm) {
        *scope = tokens > l->global_tpm    ? SG_DEMO_BUDGET_GLOBAL
                 : tokens > l->network_tpm ? SG_DEMO_BUDGET_NETWORK
                                           : SG_DEMO_BUDGET_SESSION;
        return SG_RL_TOO_LARGE;
    }
    pthread_mutex_lock(&b->mu);
    double t = now(b);
    if (!b->global_init) b->global_level = (double)l->global_tpm, b->global_t = t, b->global_init = 1;
    b->global_level = refill(b->global_level, b->global_t, t, l->global_tpm);
    b->global_t = t;
    int si = lookup(&b->sessions, session, l->session_tpm, t, 1);
    int ni = si < 0 ? -1 : lookup(&b->networks, network, l->network_tpm, t, 1);
    sg_rl_decision d = SG_RL_ADMITTED;
    if (si < 0 || ni < 0) {
        *scope = SG_DEMO_BUDGET_TABLE_FULL;
        *retry_after_s = 1;
        d = SG_RL_LIMITED;
    } else {
        entry *s = &b->sessions.e[si], *n = &b->networks.e[ni];
        s->level = refill(s->level, s->t, t, l->session_tpm), s->t = t;
        n->level = refill(n->level, n->t, t, l->network_tpm), n->t = t;
        double need = (double)tokens, w = 0;
        if (s->level < need && wait_for(s->level, need, l->session_tpm) > w)
            w = wait_for(s->level, need, l->session_tpm), *scope = SG_DEMO_BUDGET_SESSION;
        if (n->level < need && wait_for(n->level, need, l->network_tpm) > w)
            w = wait_for(n->level, need, l->network_tpm), *scope = SG_DEMO_BUDGET_NETWORK;
        if (b->global_level < need && wait_for(b->global_level, need, l->global_tpm) > w)
            w = wait_for(b->global_level, need, l->global_tpm), *scope = SG_DEMO_BUDGET_GLOBAL;
        if (w > 0) {
            *retry_after_s = w;
            d = SG_RL_LIMITED;
        } else {
            s->level -= need;
            n->level -= need;
            b->global_level -= need;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return d;
}

void sg_demo_budget_refund(sg_demo_budget *b, uint64_t session, uint64_t network, const sg_demo_limits *l,
                           int64_t tokens) {
    if (tokens <= 0) return;
    pthread_mutex_lock(&b->mu);
    int si = lookup(&b->sessions, session, l->session_tpm, now(b), 0);
    int ni = lookup(&b->networks, network, l->network_tpm, now(b), 0);
    if (si >= 0) {
        entry *e = &b->sessions.e[si];
        e->level = e->level + (double)tokens > (double)l->session_tpm ? (double)l->session_tpm
                                                                      : e->level + (double)tokens;
    }
    if (ni >= 0) {
        entry *e = &b->networks.e[ni];
        e->level = e->level + (double)tokens > (double)l->network_tpm ? (double)l->network_tpm
                                                                      : e->level + (double)tokens;
    }
    b->global_level += (double)tokens;
    if (b->global_level > (double)l->global_tpm) b->global_level = (double)l->global_tpm;
    pthread_mutex_unlock(&b->mu);
}

void sg_demo_budget_counts(sg_demo_budget *b, int *sessions, int *networks) {
    pthread_mutex_lock(&b->mu);
    *sessions = b->sessions.used;
    *networks = b->networks.used;
    pthread_mutex_unlock(&b->mu);
}
