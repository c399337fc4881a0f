/* completion_run.c — a completion while its job runs and when it ends: the
 * generated tokens taken into each choice's text with stop strings applied,
 * the output filter, waiting for the job, the final record (refund, audit)
 * and the answer's JSON (see completion.h). */
#include "server/completion.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/audit.h"
#include "base/log.h"
#include "base/utf8.h"
#include "server/guard.h"
#include "server/openai.h"

sg_completion *sg_completion_new(const sg_api_call *call) {
    sg_completion *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->srv = call->srv;
    c->t0 = call->t0;
    c->pref = sg_policy_ref_retain(call->pref);
    c->fd = sg_http_request_fd(call->req);
    if (call->who) c->who = *call->who;
    if (call->caller) c->caller = *call->caller, c->has_caller = 1;
    sg_buf_init(&c->out, 0);
    return c;
}

void sg_completion_refund(sg_completion *c, long tokens) {
    if (tokens <= 0) return;
    if (c->has_caller)
        c->caller.refund(c->caller.ctx, c->caller.keys, tokens);
    else
        sg_ratelimit_refund(c->srv->ratelimit, c->who.key_id, tokens);
}

void sg_completion_free(sg_completion *c) {
    if (!c) return;
    for (int i = 0; c->choices && i < c->n_choices; i++) {
        sg_buf_free(&c->choices[i].text);
        sg_buf_free(&c->choices[i].shown);
        free(c->choices[i].offsets);
        sg_filter_stream_free(c->choices[i].fs);
    }
    for (int i = 0; i < SG_REQ_MAX_PROMPTS; i++) free(c->redacted[i]);
    free(c->choices);
    for (int i = 0; i < c->req.n_prompts; i++)
        if (c->prompt_ids) free(c->prompt_ids[i]);
    free(c->prompt_ids);
    free(c->prompt_n);
    sg_job_release(c->job);
    sg_completion_request_clear(&c->req);
    json_decref(c->body);
    sg_buf_free(&c->out);
    if (c->pref) sg_policy_ref_release(c->pref);
    free(c);
}

void sg_completion_new_id(sg_completion *c) {
    c->created = (long long)time(NULL);
    unsigned char rnd[12];
    randombytes_buf(rnd, sizeof rnd);
    memcpy(c->id, "cmpl-", 5);
    sodium_bin2hex(c->id + 5, sizeof c->id - 5, rnd, sizeof rnd);
}

/* Ends a choice whose text cannot grow (its buffer refused): fail closed. */
static void choice_overflow(sg_completion_choice *ch, sg_error *err, char *cancel) {
    sg_log(SG_LOG_ERROR, "completion text: %s", sg_error_message(err));
    sg_error_free(err);
    ch->stopped = 1;
    if (!ch->finish) ch->finish = "length";
    *cancel = 1;
}

void sg_completion_pump(sg_completion *c, char *cancel) {
    const sg_tokenizer *tok = c->model->tokenizer;
    for (int i = 0; i < c->n_choices; i++) {
        sg_completion_choice *ch = &c->choices[i];
        const sg_job_seq *seq = sg_job_seq_at(c->job, i);
        while (!ch->stopped && ch->consumed < seq->n) {
            int t = seq->tokens[ch->consumed];
            size_t start = ch->text.len;
            size_t *off = realloc(ch->offsets, (size_t)(ch->consumed + 1) * sizeof *off);
            if (!off) break;
            ch->offsets = off;
            ch->offsets[ch->consumed] = start;
            ch->consumed++;
            if (t != c->model->eot) {
                size_t n;
                const char *b = sg_tokenizer_token_bytes(tok, t, &n);
                sg_error *err = b ? sg_buf_append(&ch->text, b, n) : NULL;
                if (err) {
                    choice_overflow(ch, err, &cancel[i]);
                    break;
                }
            }
            for (int k = 0; k < c->req.n_stop && ch->text.len; k++) {
                size_t sl = c->req.stop_len[k];
                size_t from = start >= sl - 1 ? start - (sl - 1) : 0;
                if (ch->text.len - from < sl) continue;
                const char *hit = memmem(ch->text.data + from, ch->text.len - from, c->req.stop[k], sl);
                if (hit) {
                    ch->text.len = (size_t)(hit - ch->text.data);
                    ch->text.data[ch->text.len] = 0;
                    ch->stopped = 1;
                    ch->finish = "stop";
                    cancel[i] = 1;
                    break;
                }
            }
        }
        if (!ch->finish && seq->finish != SG_FINISH_NONE && ch->consumed == seq->n)
            ch->finish = seq->finish == SG_FINISH_STOP ? "stop" : "length";
    }
}

size_t sg_completion_sendable(const sg_completion *c, const sg_completion_choice *ch) {
    size_t len = ch->text.len;
    if (ch->finish) return len;
    size_t hold = 0;
    for (int k = 0; k < c->req.n_stop; k++) {
        size_t sl = c->req.stop_len[k];
        for (size_t l = sl - 1 < len ? sl - 1 : len; l > hold; l--)
            if (!memcmp(ch->text.data + len - l, c->req.stop[k], l)) {
                hold = l;
                break;
            }
    }
    return sg_utf8_complete_prefix(ch->text.data ? ch->text.data : "", len - hold);
}

/* Takes one chunk of the output filter into `piece` and ch->shown. */
static void filter_take(sg_completion *c, sg_completion_choice *ch, const sg_filter_chunk *fc, sg_buf *piece,
                        char *cancel) {
    const char *text = fc->text ? fc->text : "";
    sg_error *err = sg_buf_append(piece, text, fc->len);
    if (!err) err = sg_buf_append(&ch->shown, text, fc->len);
    int blocked = fc->blocked;
    if (err) { /* what cannot be shown is not shown: fail closed */
        sg_log(SG_LOG_ERROR, "output filter: %s", sg_error_message(err));
        sg_error_free(err);
        blocked = 1;
    }
    if (blocked) {
        ch->blocked = 1;
        snprintf(ch->category, sizeof ch->category, "%s",
                 fc->blocked && fc->category >= 0
                     ? sg_filter_category_name(sg_guard_filter(c->pref->guard), fc->category)
                     : "?");
        ch->finish = "content_filter";
        ch->stopped = 1;
        *cancel = 1;
    }
}

void sg_completion_filter(sg_completion *c, sg_completion_choice *ch, size_t upto, int final, sg_buf *piece,
                          char *cancel) {
    sg_filter_chunk fc;
    sg_error *err = sg_buf_append(piece, "", 0);
    if (!err && upto > ch->fed && !ch->blocked) {
        err = sg_filter_stream_push(ch->fs, ch->text.data + ch->fed, upto - ch->fed, &fc);
        ch->fed = upto;
        if (!err) filter_take(c, ch, &fc, piece, cancel);
    }
    if (!err && final && !ch->blocked) {
        err = sg_filter_stream_finish(ch->fs, &fc);
        if (!err) filter_take(c, ch, &fc, piece, cancel);
    }
    if (err) {
        sg_log(SG_LOG_ERROR, "output filter: %s", sg_error_message(err));
        sg_error_free(err);
        sg_filter_chunk none = {.text = "", .len = 0, .blocked = 1, .category = -1};
        filter_take(c, ch, &none, piece, cancel);
    }
}

sg_completion_wait_result sg_completion_wait(sg_completion *c) {
    char cancel[SG_COMPLETION_MAX_CHOICES];
    for (;;) {
        memset(cancel, 0, sizeof cancel);
        sg_job_lock(c->job);
        sg_completion_pump(c, cancel);
        int all = 1;
        for (int i = 0; i < c->n_choices; i++)
            if (!c->choices[i].finish) all = 0;
        if (!all && !sg_job_done(c->job)) sg_job_wait(c->job, 20);
        int timed_out = sg_job_timed_out(c->job);
        sg_job_unlock(c->job);
        for (int i = 0; i < c->n_choices; i++)
            if (cancel[i]) sg_job_cancel(c->job, i);
        if (all) return SG_COMPLETION_DONE;
        if (timed_out) return SG_COMPLETION_TIMED_OUT;
        if (sg_http_fd_gone(c->fd) || sg_api_stopping(c->srv)) return SG_COMPLETION_GONE;
    }
}

long sg_completion_tokens(const sg_completion *c) {
    long n = 0;
    for (int i = 0; i < c->n_choices; i++) n += c->choices[i].consumed;
    return n;
}

long sg_completion_prompt_tokens(const sg_completion *c) {
    return c->prompt_tokens / (c->req.n ? c->req.n : 1);
}

sg_error *sg_completion_prompt_text(const sg_completion *c, const sg_prompt *p, sg_buf *b) {
    if (p->text) return sg_buf_append(b, p->text, p->text_len);
    char *t;
    size_t n;
    sg_error *err = sg_tokenizer_decode(c->model->tokenizer, p->ids, p->n_ids, &t, &n);
    if (err) { /* ids outside the vocabulary were refused before: nothing to show */
        sg_error_free(err);
        return NULL;
    }
    err = sg_buf_append(b, t, n);
    free(t);
    return err;
}

/* Joins texts with blank lines into a malloc'd string (NULL on error, logged). */
static char *take_joined(sg_buf *b, sg_error *err) {
    char *out = NULL;
    if (!err) err = sg_buf_take(b, &out, NULL);
    if (err) {
        sg_log(SG_LOG_ERROR, "text for the audit log: %s", sg_error_message(err));
        sg_error_free(err);
    }
    sg_buf_free(b);
    return out;
}

char *sg_completion_joined_prompts(const sg_completion *c) {
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_error *err = NULL;
    for (int i = 0; i < c->req.n_prompts && !err; i++) {
        if (i) err = sg_buf_append(&b, "\n\n", 2);
        if (!err) err = sg_completion_prompt_text(c, &c->req.prompts[i], &b);
    }
    return take_joined(&b, err);
}

static char *joined_completions(const sg_completion *c) {
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_error *err = NULL;
    for (int i = 0; i < c->n_choices && !err; i++) {
        if (i) err = sg_buf_append(&b, "\n\n", 2);
        const sg_buf *t = c->output_filter && c->req.stream ? &c->choices[i].shown : &c->choices[i].text;
        if (!err) err = sg_buf_append(&b, t->data ? t->data : "", t->len);
    }
    return take_joined(&b, err);
}

void sg_completion_finalize(sg_completion *c, sg_audit_sink_decision decision, int status) {
    if (c->finalized) return;
    c->finalized = 1;
    sg_job_cancel(c->job, -1);
    sg_job_lock(c->job);
    while (!sg_job_done(c->job)) sg_job_wait(c->job, 50);
    sg_job_unlock(c->job);
    long used = c->prompt_tokens + sg_completion_tokens(c);
    if (c->reserved > used) sg_completion_refund(c, c->reserved - used);
    const sg_policy *p = c->pref->policy;
    char *pt = NULL, *ct = NULL;
    if (p->audit_text != SG_AUDIT_TEXT_NONE) {
        pt = sg_completion_joined_prompts(c);
        ct = joined_completions(c);
    }
    /* an output filter block turns the outcome into "filtered", naming the category */
    int blocked = -1;
    for (int i = 0; i < c->n_choices; i++)
        if (c->choices[i].blocked && blocked < 0) blocked = i;
    char reason[700];
    snprintf(reason, sizeof reason, "%s", c->reason);
    if (blocked >= 0 && decision == SG_AUDIT_ALLOWED) {
        decision = SG_AUDIT_FILTERED;
        size_t l = strlen(reason);
        snprintf(reason + l, sizeof reason - l, "%soutput blocked by the content filter (category '%s')",
                 l ? "; " : "", c->choices[blocked].category);
    }
    int64_t seq = 0;
    sg_audit_event e = {.key_id = c->who.key_id,
                        .audience = c->who.audience,
                        .model = c->req.model,
                        .stage = sg_policy_ref_stage_name(c->pref),
                        .decision = decision,
                        .reason = reason[0] ? reason : NULL,
                        .prompt_tokens = sg_completion_prompt_tokens(c),
                        .completion_tokens = sg_completion_tokens(c),
                        .text_mode = p->audit_text,
                        .prompt_text = pt,
                        .completion_text = ct,
                        .seq = &seq};
    sg_api_record(c->srv, &e, c->t0, status);
    if (seq && c->who.key_id && (decision == SG_AUDIT_ALLOWED || decision == SG_AUDIT_FILTERED))
        sg_guard_completion_served(c->srv->store, c->id, c->who.key_id, seq);
    free(pt);
    free(ct);
}

/* ---- the answer's JSON ---------------------------------------------------------- */

json_t *sg_completion_envelope(const sg_completion *c) {
    return sg_openai_envelope(SG_OPENAI_TEXT_COMPLETION, c->id, c->created, c->req.model,
                              c->model->fingerprint);
}

json_t *sg_completion_usage(const sg_completion *c) {
    return sg_openai_usage(sg_completion_prompt_tokens(c), sg_completion_tokens(c));
}

json_t *sg_completion_logprobs(const sg_completion *c, int i, int from, int to, size_t base) {
    const sg_completion_choice *ch = &c->choices[i];
    const sg_job_seq *seq = sg_job_seq_at(c->job, i);
    const sg_tokenizer *tok = c->model->tokenizer;
    json_t *o = sg_openai_logprobs_new();
    for (int k = from; k < to; k++) {
        if (ch->offsets[k] > ch->text.len || (ch->stopped && ch->offsets[k] == ch->text.len && k > 0)) break;
        size_t n;
        const char *b = sg_tokenizer_token_bytes(tok, seq->tokens[k], &n);
        json_t *top = sg_openai_top_new();
        for (int a = 0; a < c->req.logprobs; a++) {
            size_t tn;
            const char *tb = sg_tokenizer_token_bytes(tok, seq->top_tokens[k][a], &tn);
            if (tb) sg_openai_top_add(top, tb, tn, seq->top_logprobs[k][a]);
        }
        sg_openai_logprobs_add(o, b, n, seq->logprobs[k], top, base + ch->offsets[k]);
    }
    return o;
}

json_t *sg_completion_choices(const sg_completion *c) {
    json_t *arr = json_array();
    for (int i = 0; i < c->n_choices; i++) {
        const sg_completion_choice *ch = &c->choices[i];
        json_t *lp = NULL, *o;
        const char *finish = ch->finish ? ch->finish : "length";
        if (c->req.echo) { /* the prompt, then the completion */
            sg_buf b;
            sg_buf_init(&b, 0);
            sg_error *err = sg_completion_prompt_text(c, &c->req.prompts[i / c->req.n], &b);
            size_t base = b.len;
            if (!err) err = sg_buf_append(&b, ch->text.data ? ch->text.data : "", ch->text.len);
            if (err) {
                sg_log(SG_LOG_ERROR, "echo: %s", sg_error_message(err));
                sg_error_free(err);
            }
            if (c->req.logprobs >= 0) lp = sg_completion_logprobs(c, i, 0, ch->consumed, base);
            o = sg_openai_choice(b.data, b.len, i, lp, finish);
            sg_buf_free(&b);
        } else {
            if (c->req.logprobs >= 0) lp = sg_completion_logprobs(c, i, 0, ch->consumed, 0);
            o = sg_openai_choice(ch->text.data, ch->text.len, i, lp, finish);
        }
        json_array_append_new(arr, o);
    }
    return arr;
}
