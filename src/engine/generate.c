/* generate.c — continuous batching over sg_gpt2 (see generate.h).
 *
 * Each step: sequences cancelled since the last step leave with a CANCELLED
 * event; sequences added since the last step are prefilled (their whole
 * prompt) and sample their first token; every other running sequence feeds
 * its last token through one batched decode and samples its next. So every
 * running sequence gets exactly one event per step. A sequence ends on
 * end-of-text (token -1, STOP), a stop sequence (its last token is reported,
 * STOP), max_tokens or a full context (LENGTH). Not thread-safe: one thread
 * drives a batch. */
#include "engine/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/check.h"

typedef struct {
    int used, id, slot, prefilled, cancelled;
    int *tokens; /* prompt then generated */
    int n_tokens, n_prompt, cap;
    sg_generation_params params;
    sg_sampler sampler;
} seq;

struct sg_batch {
    sg_thread_owner owner; /* bound by the first add or step: every later call comes from it */
    sg_gpt2 *model;
    int cap, vocab, next_id, n_running;
    seq *seqs;     /* [cap] */
    float *logits; /* [cap][vocab] */
    float *raw;    /* [vocab]: logits before the sampler edits them */
    int *slots, *toks, *which;
};

sg_error *sg_batch_new(sg_gpt2 *model, sg_batch **out) {
    *out = NULL;
    sg_batch *b = calloc(1, sizeof *b);
    if (!b) return sg_error_new("batch: out of memory");
    b->model = model;
    b->cap = sg_gpt2_max_slots(model);
    b->vocab = sg_gpt2_config_of(model)->vocab_size;
    b->next_id = 1;
    size_t cap = b->cap, V = b->vocab;
    b->seqs = calloc(cap, sizeof(seq));
    b->logits = malloc(sizeof(float) * cap * V);
    b->raw = malloc(sizeof(float) * V);
    b->slots = malloc(sizeof(int) * cap);
    b->toks = malloc(sizeof(int) * cap);
    b->which = malloc(sizeof(int) * cap);
    if (!b->seqs || !b->logits || !b->raw || !b->slots || !b->toks || !b->which) {
        sg_batch_free(b);
        return sg_error_new("batch: out of memory for %d sequences", b->cap);
    }
    *out = b;
    return NULL;
}

static void seq_remove(sg_batch *b, seq *s) {
    sg_gpt2_slot_release(b->model, s->slot);
    sg_sampler_free(&s->sampler);
    free(s->tokens);
    memset(s, 0, sizeof *s);
    b->n_running--;
}

void sg_batch_free(sg_batch *b) {
    if (!b) return;
    if (b->seqs)
        for (int i = 0; i < b->cap; i++)
            if (b->seqs[i].used) seq_remove(b, &b->seqs[i]);
    free(b->seqs);
    free(b->logits);
    free(b->raw);
    free(b->slots);
    free(b->toks);
    free(b->which);
    free(b);
}

int sg_batch_running(const sg_batch *b) { return b->n_running; }
int sg_batch_capacity(const sg_batch *b) { return b->cap; }

static seq *find(sg_batch *b, int id) {
    for (int i = 0; i < b->cap; i++)
        if (b->seqs[i].used && b->seqs[i].id == id) return &b->seqs[i];
    return NULL;
}

sg_error *sg_batch_add(sg_batch *b, const int *prompt, int n_prompt, const sg_generation_params *p,
                       int *seq_id) {
    SG_ASSERT_THREAD(b->owner);
    SG_ASSERT(prompt && p && seq_id, "a prompt, its parameters and where to put the id");
    const sg_gpt2_config *c = sg_gpt2_config_of(b->model);
    if (n_prompt < 1) return sg_error_new("batch: the prompt is empty (GPT-2 needs at least one token)");
    if (n_prompt >= c->n_ctx)
        return sg_error_new("batch: a prompt of %d tokens leaves no room in the context of %d", n_prompt,
                            c->n_ctx);
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= c->vocab_size)
            return sg_error_new("batch: prompt token %d at position %d is out of range [0, %d)", prompt[i], i,
                                c->vocab_size);
    if (p->max_tokens < 0) return sg_error_new("batch: max_tokens must be >= 0, got %d", p->max_tokens);
    if (p->n_stop < 0 || p->n_stop > SG_MAX_STOP)
        return sg_error_new("batch: %d stop sequences (at most %d)", p->n_stop, SG_MAX_STOP);
    for (int i = 0; i < p->n_stop; i++)
        if (!p->stop[i] || p->stop_len[i] < 1) return sg_error_new("batch: stop sequence %d is empty", i);
    if (p->logprobs < 0 || p->logprobs > SG_MAX_LOGPROBS)
        return sg_error_new("batch: logprobs must be in 0..%d, got %d", SG_MAX_LOGPROBS, p->logprobs);
    seq *s = NULL;
    for (int i = 0; i < b->cap && !s; i++)
        if (!b->seqs[i].used) s = &b->seqs[i];
    int slot = s ? sg_gpt2_slot_acquire(b->model) : -1;
    if (slot < 0) return sg_error_new("batch: all %d slots are busy", b->cap);
    sg_error *err = sg_sampler_init(&s->sampler, &p->sampling, b->vocab);
    if (err) {
        sg_gpt2_slot_release(b->model, slot);
        return sg_error_wrap(err, "batch");
    }
    int cap = n_prompt + (p->max_tokens < c->n_ctx ? p->max_tokens : c->n_ctx) + 1;
    s->tokens = malloc(sizeof(int) * cap);
    if (!s->tokens) {
        sg_sampler_free(&s->sampler);
        sg_gpt2_slot_release(b->model, slot);
        return sg_error_new("batch: out of memory");
    }
    memcpy(s->tokens, prompt, sizeof(int) * n_prompt);
    s->used = 1;
    s->id = b->next_id++;
    s->slot = slot;
    s->n_tokens = s->n_prompt = n_prompt;
    s->cap = cap;
    s->params = *p;
    b->n_running++;
    *seq_id = s->id;
    return NULL;
}

void sg_batch_set_processor(sg_batch *b, int seq_id, sg_logits_processor processor) {
    SG_ASSERT_THREAD(b->owner);
    seq *s = find(b, seq_id);
    if (s) sg_sampler_add_processor(&s->sampler, processor);
}

void sg_batch_cancel(sg_batch *b, int seq_id) {
    SG_ASSERT_THREAD(b->owner);
    seq *s = find(b, seq_id);
    if (s) s->cancelled = 1;
}

static int ends_with_stop(const seq *s) {
    int n_gen = s->n_tokens - s->n_prompt;
    for (int i = 0; i < s->params.n_stop; i++) {
        int len = s->params.stop_len[i];
        if (len <= n_gen && !memcmp(s->tokens + s->n_tokens - len, s->params.stop[i], sizeof(int) * len))
            return 1;
    }
    return 0;
}

/* Samples from `logits` for s, fills the event, and removes s if it ended. */
static void sample_one(sg_batch *b, seq *s, float *logits, sg_batch_event *ev) {
    const sg_gpt2_config *c = sg_gpt2_config_of(b->model);
    memset(ev, 0, sizeof *ev);
    ev->seq_id = s->id;
    memcpy(b->raw, logits, sizeof(float) * b->vocab);
    int tok = sg_sampler_sample(&s->sampler, logits, s->tokens, s->n_tokens);
    ev->token = tok;
    sg_logprobs(b->raw, b->vocab, tok, s->params.logprobs, &ev->logprob, ev->top_tokens, ev->top_logprobs);
    if (tok < 0 || tok == s->params.eot_token) {
        ev->token = -1;
        ev->finish = SG_FINISH_STOP;
    } else {
        s->tokens[s->n_tokens++] = tok;
        if (ends_with_stop(s))
            ev->finish = SG_FINISH_STOP;
        else if (s->n_tokens - s->n_prompt >= s->params.max_tokens || s->n_tokens >= c->n_ctx)
            ev->finish = SG_FINISH_LENGTH;
    }
    if (ev->finish != SG_FINISH_NONE) seq_remove(b, s);
}

sg_error *sg_batch_step(sg_batch *b, sg_batch_event *events, int *n_events) {
    SG_ASSERT_THREAD(b->owner);
    SG_ASSERT(events && n_events, "room for one event per running sequence");
    int ne = 0;
    *n_events = 0;
    /* Cancelled, or nothing to generate at all. */
    for (int i = 0; i < b->cap; i++) {
        seq *s = &b->seqs[i];
        if (!s->used) continue;
        sg_finish_reason why = s->cancelled                ? SG_FINISH_CANCELLED
                               : s->params.max_tokens == 0 ? SG_FINISH_LENGTH
                                                           : SG_FINISH_NONE;
        if (why == SG_FINISH_NONE) continue;
        memset(&events[ne], 0, sizeof events[ne]);
        events[ne].seq_id = s->id;
        events[ne].token = -1;
        events[ne].finish = why;
        ne++;
        seq_remove(b, s);
    }
    /* Running sequences decode their last token together; collect them first
     * so the ones prefilled below wait for the next step. */
    int nd = 0;
    for (int i = 0; i < b->cap; i++)
        if (b->seqs[i].used && b->seqs[i].prefilled) {
            b->which[nd] = i;
            b->slots[nd] = b->seqs[i].slot;
            b->toks[nd] = b->seqs[i].tokens[b->seqs[i].n_tokens - 1];
            nd++;
        }
    for (int i = 0; i < b->cap; i++) {
        seq *s = &b->seqs[i];
        if (!s->used || s->prefilled) continue;
        sg_error *err = sg_gpt2_prefill(b->model, s->slot, s->tokens, s->n_prompt, b->logits);
        if (err) {
            *n_events = ne;
            return sg_error_wrap(err, "batch: prefill of sequence %d", s->id);
        }
        s->prefilled = 1;
        sample_one(b, s, b->logits, &events[ne++]);
    }
    if (nd > 0) {
        sg_error *err = sg_gpt2_decode(b->model, b->slots, b->toks, nd, b->logits);
        if (err) {
            *n_events = ne;
            return sg_error_wrap(err, "batch: decode");
        }
        for (int j = 0; j < nd; j++)
            sample_one(b, &b->seqs[b->which[j]], b->logits + (size_t)j * b->vocab, &events[ne++]);
    }
    *n_events = ne;
    return NULL;
}
