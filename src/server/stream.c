/* stream.c — a completion as server-sent events (see stream.h). */
#include "server/stream.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "server/openai.h"

sg_error *sg_stream_event(sg_buf *out, json_t *chunk) {
    char *s = json_dumps(chunk, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(chunk);
    if (!s) return sg_error_new("out of memory writing an event");
    sg_error *err = sg_buf_printf(out, "data: %s\n\n", s);
    free(s);
    return err;
}

sg_error *sg_stream_end(sg_buf *out) { return sg_buf_puts(out, "data: [DONE]\n\n"); }

/* The chunk of choice i with text[0..n) and, when logprobs were asked for,
 * those of the tokens whose bytes are fully sent (all of them once `finish`). */
static json_t *chunk_for(sg_completion *c, int i, const char *text, size_t n, const char *finish) {
    sg_completion_choice *ch = &c->choices[i];
    json_t *lp = NULL;
    if (c->req.logprobs >= 0) {
        int upto = ch->consumed;
        if (!finish)
            while (upto > ch->logprobs_sent && ch->offsets[upto - 1] >= ch->emitted) upto--;
        lp = sg_completion_logprobs(c, i, ch->logprobs_sent, upto, 0);
        ch->logprobs_sent = upto;
    }
    json_t *o = sg_completion_envelope(c), *arr = json_array();
    json_array_append_new(arr, sg_openai_choice(text, n, i, lp, finish));
    json_object_set_new(o, "choices", arr);
    if (c->req.include_usage) json_object_set_new(o, "usage", json_null());
    return o;
}

/* Emits what choice i has that may go out now: through the output filter
 * when it is on. `final`: the choice ends here. */
static sg_error *emit_choice(sg_completion *c, int i, size_t upto, int final, char *cancel) {
    sg_completion_choice *ch = &c->choices[i];
    sg_error *err = NULL;
    if (c->output_filter) {
        sg_buf piece;
        sg_buf_init(&piece, 0);
        sg_completion_filter(c, ch, upto, final, &piece, cancel);
        if (upto > ch->emitted) ch->emitted = upto;
        if (piece.len || ch->finish)
            err = sg_stream_event(&c->out, chunk_for(c, i, piece.data, piece.len, ch->finish));
        sg_buf_free(&piece);
    } else if (upto > ch->emitted || ch->finish) {
        size_t from = ch->emitted;
        if (upto > ch->emitted) ch->emitted = upto;
        err = sg_stream_event(&c->out, chunk_for(c, i, ch->text.data ? ch->text.data + from : "",
                                                 ch->emitted - from, ch->finish));
    }
    if (ch->finish && !err) ch->finish_sent = 1;
    return err;
}

/* Produces events for whatever is new; returns 1 once the stream is complete. */
static sg_error *produce(sg_completion *c, int *complete) {
    char cancel[SG_COMPLETION_MAX_CHOICES];
    memset(cancel, 0, sizeof cancel);
    sg_error *err = NULL;
    sg_job_lock(c->job);
    sg_completion_pump(c, cancel);
    int all = 1;
    for (int i = 0; i < c->n_choices && !err; i++) {
        sg_completion_choice *ch = &c->choices[i];
        if (ch->finish_sent) continue;
        err = emit_choice(c, i, sg_completion_sendable(c, ch), ch->finish != NULL, &cancel[i]);
        if (!ch->finish_sent) all = 0;
    }
    int timed_out = sg_job_timed_out(c->job);
    sg_job_unlock(c->job);
    for (int i = 0; i < c->n_choices; i++)
        if (cancel[i]) sg_job_cancel(c->job, i);
    if (err) return err;
    if (!all && timed_out) { /* the deadline: what there is goes out, finish_reason "length" */
        for (int i = 0; i < c->n_choices && !err; i++) {
            sg_completion_choice *ch = &c->choices[i];
            if (ch->finish_sent) continue;
            ch->finish = "length";
            char ignore = 0;
            err = emit_choice(c, i, ch->text.len, 1, &ignore);
            ch->emitted = ch->text.len;
            ch->finish_sent = 1;
        }
        all = 1;
    }
    if (err || !all) return err;
    sg_completion_finalize(c, SG_AUDIT_ALLOWED, 200);
    if (c->req.include_usage) {
        json_t *o = sg_completion_envelope(c);
        json_object_set_new(o, "choices", json_array());
        json_object_set_new(o, "usage", sg_completion_usage(c));
        err = sg_stream_event(&c->out, o);
    }
    if (!err) err = sg_stream_end(&c->out);
    *complete = 1;
    return err;
}

static ssize_t stream_read(void *ctx, char *buf, size_t max) {
    sg_completion *c = ctx;
    for (;;) {
        if (c->out_pos < c->out.len) {
            size_t n = c->out.len - c->out_pos;
            if (n > max) n = max;
            memcpy(buf, c->out.data + c->out_pos, n);
            c->out_pos += n;
            if (c->out_pos == c->out.len) {
                c->out_pos = 0;
                sg_buf_reset(&c->out);
            }
            return (ssize_t)n;
        }
        if (c->done_sent) return -1;
        int complete = 0;
        sg_error *err = produce(c, &complete);
        if (err) { /* an event that cannot be written ends the stream */
            sg_log(SG_LOG_ERROR, "stream %s: %s", c->id, sg_error_message(err));
            sg_error_free(err);
            return -2;
        }
        if (complete) {
            c->done_sent = 1;
            continue;
        }
        if (c->out.len) continue;
        if (sg_http_fd_gone(c->fd) || sg_api_stopping(c->srv)) return -2;
        sg_job_lock(c->job);
        sg_job_wait(c->job, 20);
        sg_job_unlock(c->job);
    }
}

static void stream_done(void *ctx) {
    sg_completion *c = ctx;
    if (!c->finalized)
        sg_completion_finalize(c, SG_AUDIT_CANCELLED, 499); /* the client went away mid-stream */
    sg_completion_free(c);
}

void sg_stream_respond(sg_completion *c, sg_http_request *req) {
    sg_http_respond_stream(req, 200, "text/event-stream", stream_read, stream_done, c);
}
